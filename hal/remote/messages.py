"""The wire format of the ZeroMQ remote: frames, the header, and the limits we enforce.

A message is a list of ZeroMQ frames::

    [header JSON] [payload JSON] [blob 0] [blob 1] ...

(the ROUTER side sees the peer's routing id in front). Both JSON frames are UTF-8
objects. Bytes inside a payload travel as raw blob frames, never base64: the JSON value
``{"$blob": N}`` stands for frame N of the blobs, and every blob frame is referenced
exactly once.

The header follows XFS4IoT (``name``, ``requestId``, ``type``, ``timeout``, ``status``,
``completionCode``, ``errorDescription``) with our additions: ``version`` of this
format, ``device``, ``session``, a per-device ``seq`` on events, a ``deadline`` on
commands, ``errorCode`` in the header rather than the payload, and the ``heartbeat``
type. `decode` is strict: an unknown key, a value of the wrong type, duplicate JSON
keys, ``NaN``, nesting deeper than `Limits.max_depth` or a frame larger than its limit
is a `MessageError` carrying the acknowledge status to answer with. Every byte from a
socket is untrusted; nothing here raises anything else on bad input.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from hal.remote.strict_json import check_payload, checked, first_line, loads, show

__all__ = [
    "CLIENT_TYPES",
    "HEARTBEAT",
    "LIMITS",
    "SERVER_TYPES",
    "SUPPORTED_VERSIONS",
    "VERSION",
    "AckStatus",
    "Header",
    "Limits",
    "Message",
    "MessageError",
    "MessageType",
    "decode",
    "valid_device_name",
]

#: The version of this wire format that we write.
VERSION: Final = "1"
#: The versions we read.
SUPPORTED_VERSIONS: Final = frozenset({VERSION})
#: The ``name`` of heartbeat messages (both ways).
HEARTBEAT: Final = "Common.Heartbeat"

_MAX_ID = 2**53  # a requestId or seq must survive a JavaScript client
_MAX_TIMEOUT_MS = 2**31
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]{0,63}\.[A-Za-z][A-Za-z0-9]{0,63}\Z")
_DEVICE = re.compile(r"[a-z][a-z0-9_-]{0,63}\Z")
_MAX_TEXT = 1024  # session ids, descriptions, codes


def valid_device_name(name: str) -> bool:
    """True for a device name the wire carries (``card_reader``): a-z, 0-9, ``_``, ``-``."""
    return _valid(name, _DEVICE, _GOOD_DEVICES)


def _valid_name(name: str) -> bool:
    return _valid(name, _NAME, _GOOD_NAMES)


_GOOD_NAMES: set[str] = set()
_GOOD_DEVICES: set[str] = set()
_GOOD_MAX = 1024  # names remembered as valid (every message has one; few are in use)


def _valid(text: str, pattern: re.Pattern[str], good: set[str]) -> bool:
    """``pattern`` matches ``text``; the matches are remembered (a set lookup is cheaper)."""
    if text in good:
        return True
    if not pattern.match(text):
        return False
    if len(good) < _GOOD_MAX:
        good.add(text)
    return True


class MessageType(StrEnum):
    """The header ``type``."""

    COMMAND = "command"
    ACKNOWLEDGE = "acknowledge"
    EVENT = "event"
    COMPLETION = "completion"
    UNSOLICITED = "unsolicited"
    HEARTBEAT = "heartbeat"


_TYPES: Final = {kind.value: kind for kind in MessageType}

#: What a server accepts from a client, and a client from a server.
CLIENT_TYPES: Final = frozenset({MessageType.COMMAND, MessageType.HEARTBEAT})
SERVER_TYPES: Final = frozenset(
    {
        MessageType.ACKNOWLEDGE,
        MessageType.EVENT,
        MessageType.COMPLETION,
        MessageType.UNSOLICITED,
        MessageType.HEARTBEAT,
    }
)


class AckStatus(StrEnum):
    """A refusing acknowledge's ``status`` (``null`` means accepted)."""

    INVALID_MESSAGE = "invalidMessage"
    INVALID_REQUEST_ID = "invalidRequestID"
    TOO_MANY_REQUESTS = "tooManyRequests"


@dataclass(frozen=True, slots=True)
class Header:
    """A message header, with Python names; `to_json` spells the wire names.

    Attributes:
        type: what kind of message this is.
        name: ``Interface.Command``, an event's XFS4IoT name or `HEARTBEAT`; ``""`` only
            on the acknowledge of an unreadable message.
        request_id: the client's id of the command (commands, acks, events, completions).
        version: the wire format's version.
        timeout: commands: milliseconds, ``0`` for none.
        deadline: commands: Unix time after which the command must not start.
        status: acknowledges: ``None`` when accepted.
        completion_code, error_code, error_description: completions (a refusing
            acknowledge carries a description too).
        device: the device a command is for, or an event is from.
        session: the session's id (server to client).
        seq: (unsolicited) events: per device and session, from 1, no gaps.
    """

    type: MessageType
    name: str
    request_id: int | None = None
    version: str = VERSION
    timeout: int | None = None
    deadline: float | None = None
    status: AckStatus | None = None
    completion_code: str | None = None
    error_code: str | None = None
    error_description: str | None = None
    device: str | None = None
    session: str | None = None
    seq: int | None = None

    def to_json(self) -> dict[str, Any]:
        """The header as a JSON object (absent fields left out; an ack's ``status`` kept)."""
        out: dict[str, Any] = {"version": self.version, "name": self.name, "type": self.type.value}
        for attr, key in OPTIONAL_KEYS:
            value = getattr(self, attr)
            if value is not None:
                out[key] = value.value if isinstance(value, StrEnum) else value
        if self.type is MessageType.ACKNOWLEDGE:
            out.setdefault("requestId", None)
            out.setdefault("status", None)
        return out


OPTIONAL_KEYS = (
    ("request_id", "requestId"),
    ("timeout", "timeout"),
    ("deadline", "deadline"),
    ("status", "status"),
    ("completion_code", "completionCode"),
    ("error_code", "errorCode"),
    ("error_description", "errorDescription"),
    ("device", "device"),
    ("session", "session"),
    ("seq", "seq"),
)
_COMMON = frozenset({"version", "name", "type"})
#: The keys each type may carry, and those it must.
_ALLOWED: Mapping[MessageType, frozenset[str]] = {
    MessageType.COMMAND: _COMMON | {"requestId", "timeout", "deadline", "device"},
    MessageType.HEARTBEAT: _COMMON | {"session"},
    MessageType.ACKNOWLEDGE: _COMMON
    | {"requestId", "status", "errorDescription", "device", "session"},
    MessageType.EVENT: _COMMON | {"requestId", "device", "session", "seq"},
    MessageType.UNSOLICITED: _COMMON | {"device", "session", "seq"},
    MessageType.COMPLETION: _COMMON
    | {"requestId", "completionCode", "errorCode", "errorDescription", "device", "session"},
}
_REQUIRED: Mapping[MessageType, frozenset[str]] = {
    MessageType.COMMAND: _COMMON,  # requestId is checked apart: invalidRequestID
    MessageType.HEARTBEAT: _COMMON,
    MessageType.ACKNOWLEDGE: _COMMON | {"requestId", "status"},
    MessageType.EVENT: _COMMON | {"requestId", "device", "seq"},
    MessageType.UNSOLICITED: _COMMON | {"device", "seq"},
    MessageType.COMPLETION: _COMMON | {"requestId", "completionCode"},
}


@dataclass(frozen=True, slots=True, repr=False)
class Message:
    """A decoded message.

    Attributes:
        header: the header.
        payload: the payload object, blob references still in place (`hal.remote.codec`
            resolves them against ``blobs`` by type).
        blobs: the blob frames (track data, APDUs, images: ``repr`` shows their sizes).
    """

    header: Header
    payload: Mapping[str, Any]
    blobs: tuple[bytes, ...] = ()

    def __repr__(self) -> str:
        sizes = ", ".join(f"<{len(blob)} bytes>" for blob in self.blobs)
        return f"Message({self.header!r}, payload={self.payload!r}, blobs=({sizes}))"


class MessageError(Exception):
    """A message we refuse, and how to acknowledge it.

    Attributes:
        status: the acknowledge status to answer with.
        description: what was wrong, for ``errorDescription`` and logs.
        request_id: the message's ``requestId`` if one could be read, for the ack.
        name: the message's ``name`` if one could be read.
    """

    def __init__(
        self,
        status: AckStatus,
        description: str,
        *,
        request_id: int | None = None,
        name: str = "",
    ) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.request_id = request_id
        self.name = name


@dataclass(frozen=True)
class Limits:
    """Bounds on what `decode` accepts (the socket's ``ZMQ_MAXMSGSIZE`` bounds frames).

    Attributes:
        max_header: bytes of the header frame.
        max_payload: bytes of the payload frame.
        max_blobs: blob frames after the payload.
        max_depth: nesting of JSON arrays and objects in the payload.
    """

    max_header: int = 4096
    max_payload: int = 256 * 1024
    max_blobs: int = 64
    max_depth: int = 16


LIMITS: Final = Limits()


# --- decoding ----------------------------------------------------------------------------


def decode(
    frames: Sequence[bytes],
    *,
    accept: frozenset[MessageType],
    limits: Limits = LIMITS,
) -> Message:
    """Parse and check a message's frames (without the routing id).

    Args:
        frames: header, payload, blobs.
        accept: the message types this side may receive (`CLIENT_TYPES` on a server).
        limits: size and nesting bounds.

    Raises:
        MessageError: anything malformed; its ``status`` is the ack status to send
            (``invalidRequestID`` for a command whose ``requestId`` is missing, not an
            integer or not positive; ``invalidMessage`` for everything else).
    """
    if len(frames) < 2:
        raise MessageError(
            AckStatus.INVALID_MESSAGE,
            f"a message is at least 2 frames (header, payload); got {len(frames)}",
        )
    if len(frames) - 2 > limits.max_blobs:
        raise MessageError(
            AckStatus.INVALID_MESSAGE,
            f"at most {limits.max_blobs} blob frames; got {len(frames) - 2}",
        )
    raw = _load(frames[0], limits.max_header, "header")  # values are checked one by one
    if not isinstance(raw, dict):
        raise MessageError(AckStatus.INVALID_MESSAGE, "the header is not a JSON object")
    request_id = _maybe_id(raw.get("requestId"))
    name = raw.get("name")
    if not (isinstance(name, str) and len(name) <= 129):
        name = ""
    kind_value = raw.get("type")
    kind = _TYPES.get(kind_value) if type(kind_value) is str else None
    if kind is None:
        raise _bad(
            f"header type {show(kind_value)} is not one of {_names(accept)}", request_id, name
        )
    if kind not in accept:
        raise _bad(
            f"a {kind.value} message is not accepted here; expected {_names(accept)}",
            request_id,
            name,
        )
    keys = raw.keys()
    if not keys <= _ALLOWED[kind]:
        unknown = ", ".join(sorted(keys - _ALLOWED[kind]))
        raise _bad(f"unknown header keys for a {kind.value}: {unknown}", request_id, name)
    if not _REQUIRED[kind] <= keys:
        missing = ", ".join(sorted(_REQUIRED[kind] - keys))
        raise _bad(f"missing header keys for a {kind.value}: {missing}", request_id, name)
    version = raw["version"]
    if type(version) is not str or version not in SUPPORTED_VERSIONS:
        raise _bad(
            f"version {show(version)} is not supported; this side speaks "
            f"{', '.join(sorted(SUPPORTED_VERSIONS))}",
            request_id,
            name,
        )
    # ``name`` is "" unless the header's name is a short enough string.
    if not (_valid_name(name) or (kind is MessageType.ACKNOWLEDGE and raw["name"] == "")):
        raise _bad(f"name {show(raw['name'])} is not Interface.Name", request_id, name)
    if kind is MessageType.COMMAND:
        if request_id is None:
            raise _bad(
                f"requestId {show(raw.get('requestId'))} is not an integer from 1 to {_MAX_ID}",
                request_id,
                name,
                AckStatus.INVALID_REQUEST_ID,
            )
    elif request_id is None and raw.get("requestId") is not None:
        raise _bad(f"requestId {show(raw['requestId'])} is not a positive integer", None, name)
    fields: dict[str, Any] = {}
    for key, value in raw.items():
        if value is None:
            continue
        converter = _CONVERTERS.get(key)
        if converter is None:
            continue
        attr, convert = converter
        try:
            fields[attr] = convert(value)
        except (TypeError, ValueError):
            raise _bad(f"header {key} {show(value)} is not valid", request_id, name) from None
    header = Header(kind, raw["name"], request_id, version, **fields)
    if frames[1] == b"{}" and len(frames) == 2:
        return Message(header, {})
    payload = _load(frames[1], limits.max_payload, "payload")
    if not isinstance(payload, dict):
        raise _bad("the payload is not a JSON object", request_id, name)
    blobs = tuple(bytes(f) for f in frames[2:])
    try:
        check_payload(payload, len(blobs), limits.max_depth)
    except ValueError as exc:
        raise _bad(str(exc), request_id, name) from None
    return Message(header, payload, blobs)


def _bad(
    text: str,
    request_id: int | None,
    name: str,
    status: AckStatus = AckStatus.INVALID_MESSAGE,
) -> MessageError:
    return MessageError(status, text, request_id=request_id, name=name)


def _names(types: Iterable[MessageType]) -> str:
    return ", ".join(sorted(t.value for t in types))


def _maybe_id(value: object) -> int | None:
    if type(value) is int and 0 < value <= _MAX_ID:
        return value
    return None


_timeout = checked(lambda v: type(v) is int and 0 <= v <= _MAX_TIMEOUT_MS)
_deadline = checked(lambda v: type(v) in (int, float) and math.isfinite(v) and v > 0)
_text = checked(lambda v: type(v) is str and len(v) <= _MAX_TEXT)
_device = checked(lambda v: type(v) is str and valid_device_name(v))
_seq = checked(lambda v: type(v) is int and 0 < v <= _MAX_ID)

#: Header key -> (Header attribute, converter) for the optional fields.
_CONVERTERS: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "timeout": ("timeout", _timeout),
    "deadline": ("deadline", lambda v: float(_deadline(v))),
    "status": ("status", AckStatus),
    "completionCode": ("completion_code", _text),
    "errorCode": ("error_code", _text),
    "errorDescription": ("error_description", _text),
    "device": ("device", _device),
    "session": ("session", _text),
    "seq": ("seq", _seq),
}


def _load(frame: bytes, limit: int, what: str) -> Any:
    if len(frame) > limit:
        raise MessageError(
            AckStatus.INVALID_MESSAGE, f"the {what} is {len(frame)} bytes; the limit is {limit}"
        )
    try:
        return loads(frame)
    except RecursionError:
        raise MessageError(AckStatus.INVALID_MESSAGE, f"the {what} nests too deeply") from None
    except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise MessageError(
            AckStatus.INVALID_MESSAGE, f"the {what} is not UTF-8 JSON: {first_line(exc)}"
        ) from None
