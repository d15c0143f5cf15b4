"""The messages of the model link (`simulator.model_link`): what travels between a
cash dispenser or cash acceptor model served in its own process and the backend that
forwards to it.

Every message is one ZeroMQ frame of JSON (the client's DEALER socket talks to the
server's ROUTER socket, which adds the routing frame):

- a request, client to server: ``{"id": N, "op": NAME, "args": {...}}``; ``id`` counts
  up from 1 per client;
- its answer: ``{"id": N, "result": VALUE}`` or ``{"id": N, "error": {"type": CLASS,
  "completion": CODE, "errorCode": CODE|null, "message": TEXT}}``;
- pushed by the server to every client that said ``hello``: ``{"event": CLASS, "data":
  {...}}`` (an event of the backend: `ItemsTaken`) and ``{"status": {...}}``.

`OPS` lists the dispenser's backend operations, `ACCEPTOR_OPS` the acceptor's: their
arguments and result, typed, so both sides encode and decode with `hal.remote.codec`
(strict: a value that does not fit is refused with the place it is in); `KINDS` gives
each device kind's operations, moving operations, ``hello`` contents and status type.
The link's own operations (``hello``, ``bye``, ``ping``, ``cancel``, ``control``)
are handled by the server and the client directly.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import hal.errors
from hal.devices.cash_acceptor import ItemsInserted
from hal.devices.cash_dispenser import (
    CashDispenserCapabilities,
    CashDispenserStatus,
    CashUnitInfo,
    Contents,
    DelayedDispense,
    IncompleteDispense,
    IncompleteRetract,
    ItemsPresented,
    ItemsTaken,
    MoveReport,
    OperationRecord,
    RetractArea,
    UnitSensor,
)
from hal.devices.cash_in_model import (
    CashAcceptorCapabilities,
    CashAcceptorStatus,
    CashInContents,
    CashInLimits,
    CashInReport,
    NoteType,
)
from hal.errors import Completion, HalError, ProtocolError
from hal.events import Event
from hal.remote.codec import Codec, WireValueError, codec_for, dataclass_codec

__all__ = [
    "ACCEPTOR_OPS",
    "EVENTS",
    "KINDS",
    "MOVING",
    "OPS",
    "Kind",
    "Op",
    "decode_error",
    "decode_event",
    "dumps",
    "encode_error",
    "encode_event",
    "loads",
]


@dataclass(frozen=True)
class Op:
    """A backend operation on the link.

    Attributes:
        args: ``(name, type)`` of each argument, in the order the backend method takes them.
        result: the type of what it returns.
    """

    args: tuple[tuple[str, Any], ...]
    result: Any

    def encode_args(self, values: tuple[Any, ...]) -> dict[str, Any]:
        blobs: list[bytes] = []
        out = {
            name: codec_for(tp).encode(value, blobs)
            for (name, tp), value in zip(self.args, values, strict=True)
        }
        assert not blobs  # nothing of a cash dispenser travels as bytes
        return out

    def decode_args(self, data: Any) -> tuple[Any, ...]:
        if type(data) is not dict or data.keys() != {name for name, _ in self.args}:
            raise WireValueError(f"args: expected {[name for name, _ in self.args]}, got {data!r}")
        return tuple(codec_for(tp).decode(data[name], (), f"args.{name}") for name, tp in self.args)

    def encode_result(self, value: Any) -> Any:
        blobs: list[bytes] = []
        out = codec_for(self.result).encode(value, blobs)
        assert not blobs
        return out

    def decode_result(self, data: Any) -> Any:
        return codec_for(self.result).decode(data, (), "result")


_TOKEN = ("token", int)

#: Every backend operation, by the name of its `CashDispenserBackend` method.
OPS: Mapping[str, Op] = {
    "get_status": Op((), CashDispenserStatus),
    "sensors": Op((), tuple[UnitSensor, ...]),
    "dispense": Op((("counts", dict[str, int]), _TOKEN), MoveReport),
    "present": Op((_TOKEN,), MoveReport),
    "retract": Op((("area", RetractArea), _TOKEN), MoveReport),
    "reject": Op((_TOKEN,), MoveReport),
    "count": Op((("units", tuple[str, ...]), _TOKEN), MoveReport),
    "test_cash_units": Op((_TOKEN,), MoveReport),
    "reset": Op((_TOKEN,), MoveReport),
    "contents": Op((), Contents),
    "operation": Op((_TOKEN,), OperationRecord | None),
    "exchange": Op((("active", bool),), type(None)),
}

#: The operations that move notes: a cancelled one still answers with what moved.
MOVING = frozenset(
    {"dispense", "present", "retract", "reject", "count", "test_cash_units", "reset"}
)

#: What ``hello`` answers: the device's fixed description.
HELLO: Mapping[str, Any] = {
    "capabilities": CashDispenserCapabilities,
    "units": tuple[CashUnitInfo, ...],
}


@dataclass(frozen=True)
class CashInRecord:
    """An acceptor's `OperationRecord` on the wire: a cash-in's report travels whole
    (its notes with their levels, its refusals) in ``cash_in``, the rest in ``report``."""

    token: int
    received: bool
    report: MoveReport
    cash_in: CashInReport | None = None


class _RecordOp(Op):
    """``operation`` of an acceptor: the record's report may be a `CashInReport`."""

    def encode_result(self, value: Any) -> Any:
        if value is None:
            return None
        assert isinstance(value, OperationRecord)
        report = value.report
        cash_in = report if isinstance(report, CashInReport) else None
        plain = MoveReport() if cash_in is not None else report
        return super().encode_result(CashInRecord(value.token, value.received, plain, cash_in))

    def decode_result(self, data: Any) -> Any:
        record = super().decode_result(data)
        if record is None:
            return None
        assert isinstance(record, CashInRecord)
        report = record.cash_in if record.cash_in is not None else record.report
        return OperationRecord(record.token, record.received, report)


#: Every backend operation of a cash acceptor, by the name of its `CashAcceptorBackend`
#: method.
ACCEPTOR_OPS: Mapping[str, Op] = {
    "configure": Op((("enabled", frozenset[str]),), type(None)),
    "get_status": Op((), CashAcceptorStatus),
    "sensors": Op((), tuple[UnitSensor, ...]),
    "cash_in": Op((("limits", CashInLimits), _TOKEN), CashInReport),
    "cash_in_end": Op((("use_recycle_units", bool), _TOKEN), MoveReport),
    "rollback": Op((_TOKEN,), MoveReport),
    "retract": Op((("area", RetractArea), _TOKEN), MoveReport),
    "reset": Op((_TOKEN,), MoveReport),
    "contents": Op((), CashInContents),
    "operation": _RecordOp((_TOKEN,), CashInRecord | None),
    "exchange": Op((("active", bool),), type(None)),
}


@dataclass(frozen=True)
class Kind:
    """What the link serves of one kind of device.

    Attributes:
        ops: its backend operations by name; ``moving``: those that move notes (they
            carry a token last; a cancelled one still answers what moved).
        hello: what ``hello`` answers of the device's fixed description, typed.
        status: the type of its pushed status.
    """

    ops: Mapping[str, Op]
    moving: frozenset[str]
    hello: Mapping[str, Any]
    status: type


#: The device kinds the link serves, by the device name of their ``simlink`` address.
KINDS: Mapping[str, Kind] = {
    "cash_dispenser": Kind(OPS, MOVING, HELLO, CashDispenserStatus),
    "cash_acceptor": Kind(
        ACCEPTOR_OPS,
        frozenset({"cash_in", "cash_in_end", "rollback", "retract", "reset"}),
        {
            "capabilities": CashAcceptorCapabilities,
            "units": tuple[CashUnitInfo, ...],
            "note_types": tuple[NoteType, ...],
        },
        CashAcceptorStatus,
    ),
}

#: The backend events that travel, by class name.
EVENTS: Mapping[str, type[Event]] = {
    cls.__name__: cls
    for cls in (
        ItemsTaken,
        DelayedDispense,
        ItemsPresented,
        IncompleteDispense,
        IncompleteRetract,
        ItemsInserted,
    )
}
_EVENT_BASE = frozenset({"device", "command_id", "timestamp"})  # the service sets these


def _event_codec(cls: type[Event]) -> Codec[Any]:
    return dataclass_codec(cls, _EVENT_BASE)


def encode_event(event: Event) -> dict[str, Any] | None:
    """``{"event": CLASS, "data": {...}}``, or ``None`` for an event that does not travel."""
    name = type(event).__name__
    if EVENTS.get(name) is not type(event):
        return None
    return {"event": name, "data": _event_codec(type(event)).encode(event, [])}


def decode_event(message: Mapping[str, Any]) -> Event:
    """The event of an ``{"event": ...}`` message.

    Raises:
        WireValueError: an unknown event or fields that do not fit.
    """
    cls = EVENTS.get(str(message.get("event")))
    if cls is None:
        raise WireValueError(f"event: unknown {message.get('event')!r}")
    event = _event_codec(cls).decode(message.get("data"), (), "data")
    assert isinstance(event, Event)
    return event


def encode_error(exc: BaseException) -> dict[str, Any]:
    """An exception as the ``error`` of an answer (a non-`HalError` is a hardware error)."""
    if isinstance(exc, HalError):
        return {
            "type": type(exc).__name__,
            "completion": exc.completion.value,
            "errorCode": exc.error_code,
            "message": exc.message,
        }
    return {
        "type": "HardwareError",
        "completion": Completion.HARDWARE_ERROR.value,
        "errorCode": None,
        "message": f"the model failed: {type(exc).__name__}: {exc}",
    }


def decode_error(data: Any, where: str) -> HalError:
    """The `HalError` an ``error`` stands for: the class it names if `hal.errors` has it,
    else the most specific class for its codes; ``where`` prefixes nothing (the message
    is the model's)."""
    if type(data) is not dict:
        return ProtocolError(f"{where}: an error that is not an object: {data!r}"[:200])
    message = str(data.get("message", ""))
    try:
        completion = Completion(str(data.get("completion")))
    except ValueError:
        completion = Completion.INTERNAL_ERROR
    code = data.get("errorCode")
    code = code if isinstance(code, str) else None
    cls = getattr(hal.errors, str(data.get("type")), None)
    if not (isinstance(cls, type) and issubclass(cls, HalError)):
        cls = hal.errors.error_class_for(completion.value, code)
    return cls(message, completion=completion, error_code=code)


def dumps(message: Mapping[str, Any]) -> bytes:
    """One message as its frame."""
    return json.dumps(message, separators=(",", ":"), allow_nan=False).encode()


def loads(frame: bytes) -> dict[str, Any]:
    """One frame as its message.

    Raises:
        WireValueError: not a JSON object.
    """
    try:
        message = json.loads(frame)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WireValueError(f"not JSON: {exc}") from None
    if type(message) is not dict:
        raise WireValueError("a message is a JSON object")
    return message
