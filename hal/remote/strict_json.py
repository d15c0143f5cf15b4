"""Strict JSON for bytes from a socket: the checks under `hal.remote.messages.decode`.

Everything here raises `ValueError` (or `RecursionError` for absurd nesting) with a
short description that is safe to send back in an acknowledgement; the message layer
turns that into a `MessageError` with the right status and request id.

- `loads`: UTF-8 JSON with no duplicate keys and no ``NaN``/``Infinity``;
- `check_payload`: nesting bounded, every ``{"$blob": N}`` names an existing blob frame,
  and each frame is used exactly once (one walk, no recursion);
- `checked`: a converter accepting a value only if a test on its exact type passes;
- `show`, `first_line`: values and errors cut short for messages.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

__all__ = ["check_payload", "checked", "first_line", "loads", "show"]


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {show(key)}")
        out[key] = value
    return out


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


_DECODER = json.JSONDecoder(object_pairs_hook=_no_duplicates, parse_constant=_no_constant)


def loads(frame: bytes) -> Any:
    """The JSON value of ``frame``.

    Raises:
        ValueError: not UTF-8, not JSON, a duplicate key, or ``NaN``/``Infinity``.
        RecursionError: nested deeper than the interpreter can parse.
    """
    return _DECODER.decode(bytes(frame).decode("utf-8"))


def show(value: object) -> str:
    """``repr(value)``, cut to 40 characters."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def first_line(exc: Exception) -> str:
    """The first line of an error's text, at most 120 characters."""
    return (str(exc).splitlines() or [type(exc).__name__])[0][:120]


def checked(test: Callable[[Any], bool]) -> Callable[[Any], Any]:
    """A converter that returns the value if ``test`` accepts it, else `ValueError`."""

    def check(value: Any) -> Any:
        if not test(value):
            raise ValueError(value)
        return value

    return check


def check_payload(payload: Any, count: int, max_depth: int) -> None:
    """Nesting is at most ``max_depth``; every ``{"$blob": N}`` names one of ``count``
    frames; each frame is used once.

    Raises:
        ValueError: what was wrong.
    """
    used: set[int] = set()
    stack = [(payload, 1)]
    while stack:
        item, level = stack.pop()
        if level > max_depth and isinstance(item, dict | list):
            raise ValueError(f"the payload nests deeper than {max_depth} levels")
        if isinstance(item, dict):
            if "$blob" in item:
                index = item["$blob"]
                if len(item) != 1 or type(index) is not int or not 0 <= index < count:
                    raise ValueError(f"{show(item)} is not a reference to one of {count} blobs")
                if index in used:
                    raise ValueError(f"blob {index} is referenced twice")
                used.add(index)
                continue
            stack.extend((child, level + 1) for child in item.values())
        elif isinstance(item, list):
            stack.extend((child, level + 1) for child in item)
    if len(used) != count:
        raise ValueError(f"{count - len(used)} of {count} blob frames are not referenced")
