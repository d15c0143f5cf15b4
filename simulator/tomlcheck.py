"""Checks shared by the simulator's TOML files (card profiles and scenarios).

Each raises `ConfigurationError` naming the file and table (``where``), the key, and
what was expected: never the value of a field that could hold card data.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hal.errors import ConfigurationError

__all__ = ["check_keys", "typed"]


def check_keys(table: Mapping[str, Any], allowed: frozenset[str], where: str) -> None:
    """Refuse keys outside ``allowed``, listing the allowed ones.

    Raises:
        ConfigurationError: ``table`` has a key not in ``allowed``.
    """
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise ConfigurationError(
            f"{where}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}"
        )


def typed(table: Mapping[str, Any], key: str, kind: type[Any], where: str, default: Any) -> Any:
    """``table[key]`` checked to be a ``kind`` (a bool is not an int), or ``default``.

    Raises:
        ConfigurationError: the value is of another type (the message names the type,
            not the value).
    """
    if key not in table:
        return default
    value = table[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ConfigurationError(
            f"{where}: '{key}' must be a {kind.__name__}, got {type(value).__name__}"
        )
    return value
