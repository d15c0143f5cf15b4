"""Typed options for drivers and transports, as bleak does it: a dataclass per backend.

A driver or transport declares what an address (or a kiosk file) may say to it as a
dataclass: fields with types and defaults, ``__post_init__`` for cross-field checks.
`parse_options()` turns the strings of an address (or the typed values of a TOML table)
into an instance; `options_to_query()` turns an instance back into the strings of a
canonical address, leaving defaults out.

Field types understood: ``str``, ``int`` (decimal, or ``0x``/``0o``/``0b`` prefixed),
``float`` (finite), ``bool`` (``true/false``, ``1/0``, ``yes/no``, ``on/off``; any case),
``pathlib.Path``, `enum.Enum` subclasses (by value), ``Literal[...]`` of strings or
integers, and ``X | None`` of any of these (the empty string means ``None``).
"""

from __future__ import annotations

import dataclasses
import enum
import math
import types
import typing
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any, TypeVar

from hal.errors import ConfigurationError

__all__ = [
    "OptionInfo",
    "check_options_type",
    "describe_options",
    "format_option",
    "option_names",
    "options_to_query",
    "parse_options",
]

T = TypeVar("T")

_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})


@dataclass(frozen=True)
class OptionInfo:
    """One option as ``tellerhal devices`` shows it.

    Attributes:
        name: the key in an address or a kiosk table.
        type: the type, readable (``int``, ``bool``, ``Profile``, ``Path | None``).
        default: the default as an address would spell it; ``None`` if required.
        choices: for an enum or ``Literal``, the accepted values; empty otherwise.
    """

    name: str
    type: str
    default: str | None
    choices: tuple[str, ...] = ()


class _Field(typing.NamedTuple):
    name: str
    type: Any
    field: dataclasses.Field[Any]


_cache: weakref.WeakKeyDictionary[type[Any], dict[str, _Field]] = weakref.WeakKeyDictionary()


def _fields(options_type: type[Any]) -> dict[str, _Field]:
    """The settable fields of an options dataclass, with resolved types (cached)."""
    try:
        return _cache[options_type]
    except (KeyError, TypeError):
        pass
    if not (isinstance(options_type, type) and dataclasses.is_dataclass(options_type)):
        raise TypeError(f"an options type is a dataclass; got {options_type!r}")
    try:
        hints = typing.get_type_hints(options_type)
    except Exception as exc:
        raise TypeError(
            f"the field types of {options_type.__qualname__} cannot be resolved: {exc}"
        ) from exc
    out: dict[str, _Field] = {}
    for f in dataclasses.fields(options_type):
        if not f.init or f.name.startswith("_"):
            continue
        tp = hints[f.name]
        _describe(tp, f"{options_type.__qualname__}.{f.name}")  # fails on unsupported types
        out[f.name] = _Field(f.name, tp, f)
    _cache[options_type] = out
    return out


def check_options_type(options_type: type[Any]) -> None:
    """Check that ``options_type`` is a dataclass whose fields this module can parse.

    Raises:
        TypeError: it is not a dataclass, or a field has a type we cannot parse.
    """
    _fields(options_type)


def option_names(options_type: type[Any]) -> list[str]:
    """The keys ``options_type`` accepts, in field order."""
    return list(_fields(options_type))


def parse_options(options_type: type[T], given: Mapping[str, object], *, where: str) -> T:
    """Build ``options_type`` from the options of an address or a kiosk table.

    Args:
        options_type: the driver's or transport's options dataclass.
        given: key to value; strings are parsed, other values (from TOML) must already
            have the field's type (an ``int`` for a ``float`` field is fine).
        where: what the options belong to, for messages (``sim://card_reader``).

    Raises:
        ConfigurationError: an unknown key (the message lists the allowed ones), a
            value that does not convert (the message names the key, the type expected
            and the value), a missing required option, or a check in the dataclass's
            ``__post_init__`` that failed.
    """
    fields = _fields(options_type)
    for key in given:
        if key not in fields:
            allowed = ", ".join(sorted(fields)) or "none"
            raise ConfigurationError(f"{where}: unknown option {key!r}; allowed: {allowed}")
    kwargs: dict[str, Any] = {}
    for key, value in given.items():
        tp = fields[key].type
        try:
            kwargs[key] = _convert(tp, value)
        except ValueError as exc:
            raise ConfigurationError(
                f"{where}: option {key!r} expects {_describe(tp, key)[0]}, got {value!r}"
            ) from exc
    for f in fields.values():
        if f.name not in kwargs and _default(f) is dataclasses.MISSING:
            raise ConfigurationError(
                f"{where}: missing option {f.name!r} ({_describe(f.type, f.name)[0]})"
            )
    try:
        return options_type(**kwargs)
    except ConfigurationError as exc:
        raise ConfigurationError(f"{where}: {exc.message}") from exc
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(f"{where}: {exc}") from exc


def format_option(value: object) -> str:
    """Spell an option value as an address does (``true``, ``9600``, ``visa``, ``""``)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, enum.Enum):
        return format_option(value.value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, int | str | PurePath):
        return str(value)
    raise TypeError(f"cannot spell an option of type {type(value).__name__}: {value!r}")


def options_to_query(options: object) -> dict[str, str]:
    """The options that differ from their defaults, spelled for an address.

    Args:
        options: an instance of an options dataclass.

    Returns:
        Key to value, in field order; required options are always included.
    """
    out: dict[str, str] = {}
    for name, f in _fields(type(options)).items():
        value = getattr(options, name)
        if value != _default(f):
            out[name] = format_option(value)
    return out


def describe_options(options_type: type[Any]) -> list[OptionInfo]:
    """Every option of ``options_type``, in field order, for listings."""
    out = []
    for name, f in _fields(options_type).items():
        _, type_name, choices = _describe(f.type, name)
        default = _default(f)
        spelled = None if default is dataclasses.MISSING else format_option(default)
        out.append(OptionInfo(name, type_name, spelled, choices))
    return out


def _default(f: _Field) -> object:
    """The field's default (calling its factory), or `dataclasses.MISSING`."""
    if f.field.default is not dataclasses.MISSING:
        return f.field.default
    if f.field.default_factory is not dataclasses.MISSING:
        return f.field.default_factory()
    return dataclasses.MISSING


# --- conversion -------------------------------------------------------------------------


def _optional_inner(tp: Any) -> Any | None:
    """For ``X | None``, ``X``; ``None`` for any other type."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == len(typing.get_args(tp)) - 1 and len(args) == 1:
            return args[0]
    return None


def _describe(tp: Any, where: str) -> tuple[str, str, tuple[str, ...]]:
    """(phrase for messages, short type name, choices) of a supported field type.

    Raises:
        TypeError: the type is not one this module parses.
    """
    inner = _optional_inner(tp)
    if inner is not None:
        phrase, name, choices = _describe(inner, where)
        return f"{phrase} or empty for none", f"{name} | None", choices
    if typing.get_origin(tp) is typing.Literal:
        values = typing.get_args(tp)
        if not all(isinstance(v, str | int) and not isinstance(v, bool) for v in values):
            raise TypeError(f"{where}: Literal options hold str or int values; got {tp!r}")
        choices = tuple(str(v) for v in values)
        kinds = sorted({type(v).__name__ for v in values})
        return f"one of {', '.join(choices)}", " | ".join(kinds), choices
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        choices = tuple(format_option(m.value) for m in tp)
        return f"one of {', '.join(choices)}", tp.__name__, choices
    simple = {
        bool: "true or false",
        int: "an integer (decimal or 0x hex)",
        float: "a finite number",
        str: "text",
        Path: "a path",
    }
    if tp in simple:
        return simple[tp], tp.__name__, ()
    raise TypeError(f"{where}: an option of type {tp!r} is not supported")


def _convert(tp: Any, value: object) -> Any:
    """Convert ``value`` to ``tp``; `ValueError` if it does not fit."""
    inner = _optional_inner(tp)
    if inner is not None:
        return None if value is None or value == "" else _convert(inner, value)
    if isinstance(value, bool) and tp is not bool:
        raise ValueError(value)  # a TOML true is not the integer 1
    if typing.get_origin(tp) is typing.Literal:
        for choice in typing.get_args(tp):
            if value == choice or (isinstance(value, str) and value == str(choice)):
                return choice
        raise ValueError(value)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        for member in tp:
            if value == member.value or value == format_option(member.value):
                return member
        raise ValueError(value)
    if isinstance(value, str):
        return _from_text(tp, value)
    if tp is bool and isinstance(value, bool):
        return value
    if tp is int and isinstance(value, int):
        return value
    if tp is float and isinstance(value, int | float) and math.isfinite(value):
        return float(value)
    raise ValueError(value)


def _from_text(tp: Any, text: str) -> Any:
    if tp is str:
        return text
    if tp is Path:
        if not text:
            raise ValueError(text)
        return Path(text)
    if tp is bool:
        low = text.lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
        raise ValueError(text)
    if tp is int:
        stripped = text.strip()
        if stripped != text or not stripped:
            raise ValueError(text)
        try:
            return int(text, 0)
        except ValueError:
            return int(text, 10)  # leading zeros: "0042"
    if tp is float:
        if text.strip() != text:
            raise ValueError(text)
        number = float(text)
        if not math.isfinite(number):
            raise ValueError(text)
        return number
    raise ValueError(text)  # pragma: no cover - _fields() refused the type
