"""Typed values to JSON and blobs and back, driven by type hints.

`codec_for(tp)` builds (once per type) a `Codec` that turns a value of ``tp`` into a JSON
value plus blob frames, and back. It understands what the device models are made of:

- ``None``, ``bool``, ``int``, ``float`` (finite), ``str``;
- `enum.Enum` subclasses, by value (``Track.TRACK2`` is ``"track2"``);
- ``bytes``: a ``{"$blob": N}`` reference to a raw frame, never base64;
- dataclasses: a JSON object with the fields' camelCase names (``chip_power`` is
  ``chipPower``), every field present, no other key;
- ``tuple[X, ...]``, ``frozenset[X]`` (a list without duplicates), ``Mapping[K, V]`` and
  ``dict[K, V]`` with ``str`` or string-enum keys (an object), ``X | None``.

Decoding is strict, since the bytes come from a socket: an unknown, missing or
ill-typed field is a `WireValueError` that names where it is (``sources.track2.data``);
it never builds a half-checked value. Encoding trusts the type (the value comes from our
own code or an app calling a typed API) but converts what a caller may pass loosely
(a ``str`` for an enum, a ``bytearray`` for bytes).
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import math
import re
import threading
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

__all__ = ["Codec", "WireValueError", "camel", "codec_for", "field_codecs"]

T = TypeVar("T")

_MAX_INT = 2**63


class WireValueError(ValueError):
    """A JSON value that does not fit the type expected; the message says where."""


@dataclass(frozen=True, slots=True)
class Codec(Generic[T]):
    """How one type travels.

    Attributes:
        encode: ``(value, blobs)`` to a JSON value; bytes are appended to ``blobs``.
        decode: ``(json, blobs, path)`` to a value; ``path`` names the place in messages.
    """

    encode: Callable[[T, list[bytes]], Any]
    decode: Callable[[Any, Sequence[bytes], str], T]


def camel(name: str) -> str:
    """``chip_power_actions`` -> ``chipPowerActions``; a trailing ``_`` (a field named
    after a keyword, ``in_``) is dropped: ``in``, as XFS4IoT spells it."""
    return re.sub(r"_([a-z0-9])", lambda m: m.group(1).upper(), name.rstrip("_") or name)


_lock = threading.Lock()
_cache: dict[Any, Codec[Any]] = {}


def codec_for(tp: Any) -> Codec[Any]:
    """The codec of ``tp`` (built on first use).

    Raises:
        TypeError: ``tp`` holds a type this module cannot carry.
    """
    with _lock:
        codec = _cache.get(tp)
    if codec is None:
        codec = _build(tp)
        with _lock:
            _cache.setdefault(tp, codec)
    return codec


def field_codecs(
    tp: type[Any], exclude: frozenset[str] = frozenset()
) -> dict[str, tuple[str, Codec[Any]]]:
    """Python field name -> (wire key, codec) for a dataclass, in field order."""
    if not (isinstance(tp, type) and dataclasses.is_dataclass(tp)):
        raise TypeError(f"{tp!r} is not a dataclass")
    hints = typing.get_type_hints(tp)
    return {
        f.name: (camel(f.name), codec_for(hints[f.name]))
        for f in dataclasses.fields(tp)
        if f.init and f.name not in exclude
    }


def _fail(path: str, expected: str, value: Any) -> WireValueError:
    shown = repr(value)
    if len(shown) > 40:
        shown = shown[:37] + "..."
    return WireValueError(f"{path or 'the payload'}: expected {expected}, got {shown}")


def _build(tp: Any) -> Codec[Any]:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is None or tp is type(None):
        return Codec(lambda v, b: None, _decode_none)
    if origin in (typing.Union, types.UnionType):
        return _optional(tp, args)
    if tp in _SCALARS:
        return _SCALARS[tp]
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return _enum(tp)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return dataclass_codec(tp)
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        return _sequence(codec_for(args[0]), tuple, f"a list of {_name(args[0])}")
    if origin is frozenset and len(args) == 1:
        return _set(codec_for(args[0]), f"a list of distinct {_name(args[0])}")
    if origin in (dict, Mapping, typing.Mapping) and len(args) == 2:
        return _mapping(args[0], codec_for(args[1]))
    raise TypeError(f"the remote cannot carry a value of type {tp!r}")


def _name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or repr(tp)


def _decode_none(value: Any, blobs: Sequence[bytes], path: str) -> None:
    if value is not None:
        raise _fail(path, "null", value)


def _optional(tp: Any, args: tuple[Any, ...]) -> Codec[Any]:
    inner = [a for a in args if a is not type(None)]
    if len(inner) != 1 or len(args) != 2:
        raise TypeError(f"the remote carries X | None unions only, not {tp!r}")
    codec = codec_for(inner[0])

    def encode(value: Any, blobs: list[bytes]) -> Any:
        return None if value is None else codec.encode(value, blobs)

    def decode(value: Any, blobs: Sequence[bytes], path: str) -> Any:
        return None if value is None else codec.decode(value, blobs, path)

    return Codec(encode, decode)


def _decode_bool(value: Any, blobs: Sequence[bytes], path: str) -> bool:
    if type(value) is not bool:
        raise _fail(path, "true or false", value)
    return value


def _decode_int(value: Any, blobs: Sequence[bytes], path: str) -> int:
    if type(value) is not int or not -_MAX_INT <= value < _MAX_INT:
        raise _fail(path, "an integer", value)
    return value


def _decode_float(value: Any, blobs: Sequence[bytes], path: str) -> float:
    if type(value) not in (int, float) or not math.isfinite(value):
        raise _fail(path, "a finite number", value)
    return float(value)


def _decode_str(value: Any, blobs: Sequence[bytes], path: str) -> str:
    if type(value) is not str:
        raise _fail(path, "a string", value)
    return value


def _encode_bytes(value: bytes, blobs: list[bytes]) -> Any:
    blobs.append(bytes(value))
    return {"$blob": len(blobs) - 1}


_KINDS = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}


def _kind(value: Any) -> str:
    return _KINDS.get(type(value), "a number")


def _decode_bytes(value: Any, blobs: Sequence[bytes], path: str) -> bytes:
    if type(value) is not dict or value.keys() != {"$blob"}:
        # Not quoted: what should have been a blob may be a key, a PAN or track data.
        raise WireValueError(
            f'{path or "the payload"}: expected bytes as {{"$blob": N}}, got {_kind(value)}'
        )
    index = value["$blob"]
    if type(index) is not int or not 0 <= index < len(blobs):
        raise _fail(path, f"a blob index below {len(blobs)}", index)
    return bytes(blobs[index])


_SCALARS: dict[Any, Codec[Any]] = {
    bool: Codec(lambda v, b: bool(v), _decode_bool),
    int: Codec(lambda v, b: int(v), _decode_int),
    float: Codec(lambda v, b: float(v), _decode_float),
    str: Codec(lambda v, b: str(v), _decode_str),
    bytes: Codec(_encode_bytes, _decode_bytes),
}


def _enum(tp: type[enum.Enum]) -> Codec[Any]:
    by_value = {m.value: m for m in tp}
    choices = ", ".join(repr(v) for v in by_value)

    def encode(value: Any, blobs: list[bytes]) -> Any:
        return tp(value).value

    def decode(value: Any, blobs: Sequence[bytes], path: str) -> Any:
        # type() first: True == 1 and 1.0 == 1 must not pick an integer member.
        member = by_value.get(value) if type(value) in (str, int) else None
        if member is None or type(member.value) is not type(value):
            raise _fail(path, f"one of {choices}", value)
        return member

    return Codec(encode, decode)


def dataclass_codec(tp: type[Any], exclude: frozenset[str] = frozenset()) -> Codec[Any]:
    """The codec of a dataclass, leaving out the fields named in ``exclude``.

    Those fields take their defaults when decoding (event base fields, for instance).
    """
    fields = field_codecs(tp, exclude)
    keys = frozenset(key for key, _ in fields.values())
    items = tuple((name, key, codec) for name, (key, codec) in fields.items())

    def encode(value: Any, blobs: list[bytes]) -> Any:
        return {key: codec.encode(getattr(value, name), blobs) for name, key, codec in items}

    def decode(value: Any, blobs: Sequence[bytes], path: str) -> Any:
        if type(value) is not dict:
            raise _fail(path, f"a {tp.__name__} object", value)
        if value.keys() != keys:
            extra = sorted(value.keys() - keys)
            missing = sorted(keys - value.keys())
            what = "; ".join(
                part
                for part in (
                    f"unknown {', '.join(extra)}" if extra else "",
                    f"missing {', '.join(missing)}" if missing else "",
                )
                if part
            )
            raise WireValueError(f"{path or 'the payload'}: {tp.__name__} fields: {what}")
        prefix = f"{path}." if path else ""
        kwargs = {name: codec.decode(value[key], blobs, prefix + key) for name, key, codec in items}
        try:
            return tp(**kwargs)
        except (TypeError, ValueError) as exc:
            raise WireValueError(f"{path or 'the payload'}: {exc}") from None

    return Codec(encode, decode)


def _sequence(item: Codec[Any], kind: Callable[[Any], Any], expected: str) -> Codec[Any]:
    def encode(value: Any, blobs: list[bytes]) -> Any:
        return [item.encode(v, blobs) for v in value]

    def decode(value: Any, blobs: Sequence[bytes], path: str) -> Any:
        if type(value) is not list:
            raise _fail(path, expected, value)
        return kind(item.decode(v, blobs, f"{path}[{i}]") for i, v in enumerate(value))

    return Codec(encode, decode)


def _set(item: Codec[Any], expected: str) -> Codec[Any]:
    listed = _sequence(item, list, expected)

    def encode(value: Any, blobs: list[bytes]) -> Any:
        out = [item.encode(v, blobs) for v in value]
        with contextlib.suppress(TypeError):  # unorderable items keep the set's order
            out.sort()
        return out

    def decode(value: Any, blobs: Sequence[bytes], path: str) -> Any:
        items = listed.decode(value, blobs, path)
        result = frozenset(items)
        if len(result) != len(items):
            raise _fail(path, expected, value)
        return result

    return Codec(encode, decode)


def _mapping(key_type: Any, value: Codec[Any]) -> Codec[Any]:
    if key_type is str:
        to_key: Callable[[str], Any] = str
        from_key: Callable[[Any], str] = str
        keys = "a string"
    elif isinstance(key_type, type) and issubclass(key_type, enum.Enum):
        if not all(isinstance(m.value, str) for m in key_type):
            raise TypeError(f"mapping keys of {key_type!r} are not strings")
        by_value = {m.value: m for m in key_type}
        keys = f"one of {', '.join(repr(v) for v in by_value)}"

        def to_key(text: str) -> Any:
            return by_value[text]

        def from_key(member: Any) -> str:
            return str(key_type(member).value)

    else:
        raise TypeError(f"the remote carries mappings with str or enum keys, not {key_type!r}")

    def encode(mapping: Any, blobs: list[bytes]) -> Any:
        return {from_key(k): value.encode(v, blobs) for k, v in mapping.items()}

    def decode(data: Any, blobs: Sequence[bytes], path: str) -> Any:
        if type(data) is not dict:
            raise _fail(path, "an object", data)
        prefix = f"{path}." if path else ""
        out = {}
        for k, v in data.items():
            try:
                key = to_key(k)
            except KeyError:
                raise _fail(f"{prefix}{k}", f"a key that is {keys}", k) from None
            out[key] = value.decode(v, blobs, prefix + k)
        return out

    return Codec(encode, decode)
