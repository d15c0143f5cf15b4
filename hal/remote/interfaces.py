"""What each command carries over the remote, per interface, and how events travel.

A `Command` names the wire command (``CardReader.ReadRawData``), the method of the
public interface it calls (``read_raw_data``), the dataclass of its payload (whose
fields are the method's arguments) and the dataclass of its completion payload. The
server decodes the payload, calls the method with the fields as keyword arguments and
encodes the result; the client does the reverse, so a remote caller gets the same
typed values as an in-process one.

Names follow XFS4IoT where it has the command (``Common.Status``,
``Common.Capabilities``, ``CardReader.Move``...). ``CardReader.GetRetainBin``,
``CardReader.EmptyRetainBin``, ``CardReader.GetStacker`` and ``CardReader.LoadStacker``
are ours (XFS4IoT spreads the same over ``Storage``). ``CardReader.Move`` carries the
XFS4IoT ``from`` as ``from_unit`` (``null``: the card inside; ``"stacker"``: issue one).

Events travel by their ``xfs_name`` with the event's own fields as payload (the base
fields ``device``, ``command_id`` and ``timestamp`` live in the header or are local).
`StatusChanged` travels as the XFS4IoT delta: the changed fields of ``new`` only, plus
``old`` (the whole status before) so our client can rebuild both.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from hal.devices.card_reader import (
    CardAction,
    CardReaderCapabilities,
    CardReaderStatus,
    CardStacker,
    ChipPowerAction,
    InsertCard,
    InvalidMediaEvent,
    MediaDetected,
    MediaInserted,
    MediaRemoved,
    MoveTarget,
    ReadResult,
    ResetAction,
    RetainBin,
    StorageError,
    Track,
)
from hal.events import Event, StatusChanged
from hal.remote.codec import Codec, WireValueError, dataclass_codec, field_codecs

__all__ = [
    "CANCEL",
    "CARD_READER",
    "CLOSE",
    "INTERFACES",
    "OPEN",
    "STATUS",
    "CancelPayload",
    "Command",
    "Empty",
    "InterfaceSpec",
    "OpenCompletion",
    "ServiceInfo",
]

# --- Common: session-level commands ------------------------------------------------------

#: ``Common.Status`` with no device is the session handshake; with one, the status.
STATUS: Final = "Common.Status"
CAPABILITIES: Final = "Common.Capabilities"
#: Subscribe this session to a device's unsolicited events (and allow its commands).
OPEN: Final = "Common.Open"
CLOSE: Final = "Common.Close"
CANCEL: Final = "Common.Cancel"
#: The errorCode of a Cancel that matched nothing.
NO_MATCHING_REQUEST_IDS: Final = "noMatchingRequestIDs"


@dataclass(frozen=True)
class Empty:
    """A payload with nothing in it."""


@dataclass(frozen=True)
class ServiceInfo:
    """The completion of the handshake (``Common.Status`` with no device).

    Attributes:
        devices: device name -> XFS4IoT interface (``card_reader`` -> ``CardReader``).
        heartbeat_interval: milliseconds between the client's heartbeats; the server
            forgets a session silent for three intervals.
        max_requests: live requests a session may have.
    """

    devices: Mapping[str, str]
    heartbeat_interval: int
    max_requests: int


@dataclass(frozen=True)
class OpenCompletion:
    """The completion of ``Common.Open``: the device's interface."""

    interface: str


@dataclass(frozen=True)
class CancelPayload:
    """``Common.Cancel``: the request ids to cancel, or ``None`` for all of the session's."""

    request_ids: tuple[int, ...] | None = None


# --- per interface -----------------------------------------------------------------------


_FIELD_NAMES: dict[type[Any], tuple[str, ...]] = {}


def _field_names(tp: type[Any]) -> tuple[str, ...]:
    names = _FIELD_NAMES.get(tp)
    if names is None:
        names = _FIELD_NAMES[tp] = tuple(f.name for f in dataclasses.fields(tp))
    return names


@dataclass(frozen=True)
class Command:
    """One command of an interface, as the remote carries it.

    Attributes:
        name: the wire name.
        method: the public interface's method it calls.
        payload: dataclass of the command payload: the method's keyword arguments.
        completion: dataclass of the completion payload; ``None`` for an empty one.
        result_field: the completion field the method returns; ``None`` when the method
            returns the completion itself (or nothing).
        queued: the method takes ``timeout=`` (it goes through the device's queue); for
            the others the server applies the command's timeout around the call.
    """

    name: str
    method: str
    payload: type[Any] = Empty
    completion: type[Any] | None = None
    result_field: str | None = None
    queued: bool = True

    def arguments(self, payload: Any) -> dict[str, Any]:
        """The keyword arguments of the method call, from a decoded payload."""
        return {name: getattr(payload, name) for name in _field_names(type(payload))}

    def completion_of(self, result: Any) -> Any:
        """The completion payload object for what the method returned."""
        if self.completion is None:
            return None
        if self.result_field is None:
            return result
        return self.completion(**{self.result_field: result})

    def result_of(self, completion: Any) -> Any:
        """What the client method returns, from the decoded completion payload."""
        if completion is None or self.result_field is None:
            return completion
        return getattr(completion, self.result_field)


@dataclass(frozen=True)
class InterfaceSpec:
    """Everything the remote knows of one public interface.

    Attributes:
        name: the XFS4IoT interface name (``CardReader``), a device's ``interface``.
        status: the status dataclass.
        commands: by wire name (``Common.Status`` and ``Common.Capabilities`` included).
        events: the interface's event classes; `StatusChanged` is added.
    """

    name: str
    status: type[Any]
    commands: Mapping[str, Command]
    events: Sequence[type[Event]]
    _by_name: dict[str, type[Event]] = field(init=False, repr=False, compare=False)
    _codecs: dict[type[Event], Codec[Any]] = field(init=False, repr=False, compare=False)
    _status_fields: dict[str, tuple[str, Codec[Any]]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if "old" in {f.name for f in dataclasses.fields(self.status)}:
            raise TypeError(f"{self.status.__name__} has a field 'old', which StatusChanged uses")
        object.__setattr__(self, "_by_name", {e.xfs_name: e for e in self.events})
        object.__setattr__(self, "_codecs", {e: event_codec(e) for e in self.events})
        object.__setattr__(self, "_status_fields", field_codecs(self.status))

    def encode_event(self, event: Event, blobs: list[bytes]) -> tuple[str, dict[str, Any]]:
        """The wire name and payload of an event (`StatusChanged` as a delta).

        Raises:
            TypeError: an event class the interface does not list.
        """
        if isinstance(event, StatusChanged):
            fields = self._status_fields
            old, new = event.old, event.new
            payload = {
                key: codec.encode(getattr(new, name), blobs)
                for name, (key, codec) in fields.items()
                if name in event.changed
            }
            payload["old"] = {
                key: codec.encode(getattr(old, name), blobs)
                for name, (key, codec) in fields.items()
            }
            return StatusChanged.xfs_name, payload
        codec = self._codecs.get(type(event))
        if codec is None:
            raise TypeError(f"{type(event).__name__} is not an event of {self.name}")
        return event.xfs_name, codec.encode(event, blobs)

    def decode_event(self, name: str, payload: Any, blobs: Sequence[bytes]) -> Event:
        """The event a wire name and payload stand for (base fields left default).

        Raises:
            WireValueError: an unknown name, or a payload that does not fit.
        """
        if name == StatusChanged.xfs_name:
            return self._decode_status_changed(payload, blobs)
        cls = self._by_name.get(name)
        if cls is None:
            raise WireValueError(f"{name} is not an event of {self.name}")
        event: Event = self._codecs[cls].decode(payload, blobs, "")
        return event

    def _decode_status_changed(self, payload: Any, blobs: Sequence[bytes]) -> Event:
        if type(payload) is not dict or "old" not in payload:
            raise WireValueError("a StatusChangedEvent carries the status before as 'old'")
        fields = self._status_fields
        old = dataclass_codec(self.status).decode(payload["old"], blobs, "old")
        by_key = {key: (name, codec) for name, (key, codec) in fields.items()}
        changes = {}
        for key, value in payload.items():
            if key == "old":
                continue
            if key not in by_key:
                raise WireValueError(f"{key} is not a field of {self.status.__name__}")
            name, codec = by_key[key]
            changes[name] = codec.decode(value, blobs, key)
        new = dataclasses.replace(old, **changes)
        return StatusChanged(old=old, new=new, changed=frozenset(changes))


_BASE_FIELDS = frozenset(f.name for f in dataclasses.fields(Event))


def event_codec(cls: type[Event]) -> Codec[Any]:
    """The codec of an event class's own fields."""
    return dataclass_codec(cls, _BASE_FIELDS)


def _interface(
    name: str,
    status: type[Any],
    capabilities: type[Any],
    commands: Iterable[Command],
    events: Iterable[type[Event]],
) -> InterfaceSpec:
    common = (
        Command(STATUS, "status", completion=status, queued=False),
        Command(CAPABILITIES, "capabilities", completion=capabilities, queued=False),
    )
    table = {c.name: c for c in (*common, *commands)}
    for command in table.values():
        dataclass_codec(command.payload)  # fails now, not on the first call
        if command.completion is not None:
            dataclass_codec(command.completion)
    return InterfaceSpec(name, status, table, tuple(events))


# --- CardReader --------------------------------------------------------------------------


def _size(data: bytes) -> str:
    # Track data, APDUs and R-APDUs are cardholder data: a repr shows their size only.
    return f"<{len(data)} bytes>"


@dataclass(frozen=True)
class ReadRawDataPayload:
    """``CardReader.ReadRawData``: the sources to read."""

    tracks: tuple[Track, ...]


@dataclass(frozen=True, repr=False)
class WriteRawDataPayload:
    """``CardReader.WriteRawData``: the characters to write, per track (never printed)."""

    data: Mapping[Track, bytes]

    def __repr__(self) -> str:
        tracks = ", ".join(f"{Track(t).value}={_size(v)}" for t, v in self.data.items())
        return f"WriteRawDataPayload({tracks})"


@dataclass(frozen=True)
class MovePayload:
    """``CardReader.Move``: where to, and from which storage unit (``None``: the card
    inside)."""

    to: MoveTarget
    from_unit: str | None = None


@dataclass(frozen=True)
class ChipPowerPayload:
    """``CardReader.ChipPower``."""

    action: ChipPowerAction


@dataclass(frozen=True)
class ChipPowerCompletion:
    """The ATR of a reset (``b""`` for off)."""

    atr: bytes


@dataclass(frozen=True, repr=False)
class ChipIOPayload:
    """``CardReader.ChipIO``: one command APDU (an offline PIN VERIFY: never printed)."""

    apdu: bytes

    def __repr__(self) -> str:
        return f"ChipIOPayload(apdu={_size(self.apdu)})"


@dataclass(frozen=True, repr=False)
class ChipIOCompletion:
    """The response APDU (a READ RECORD holds the PAN: never printed)."""

    response: bytes

    def __repr__(self) -> str:
        return f"ChipIOCompletion(response={_size(self.response)})"


@dataclass(frozen=True)
class ResetPayload:
    """``CardReader.Reset``."""

    to: ResetAction


@dataclass(frozen=True)
class EmptyRetainBinPayload:
    """``CardReader.EmptyRetainBin``: why (for the ledger)."""

    reason: str


@dataclass(frozen=True)
class LoadStackerPayload:
    """``CardReader.LoadStacker``: the cards counted into the stacker, and why."""

    count: int
    reason: str


CARD_READER: Final = _interface(
    "CardReader",
    CardReaderStatus,
    CardReaderCapabilities,
    (
        Command("CardReader.ReadRawData", "read_raw_data", ReadRawDataPayload, ReadResult),
        Command("CardReader.WriteRawData", "write_raw_data", WriteRawDataPayload),
        Command("CardReader.Move", "move", MovePayload),
        Command("CardReader.ChipPower", "chip_power", ChipPowerPayload, ChipPowerCompletion, "atr"),
        Command("CardReader.ChipIO", "chip_io", ChipIOPayload, ChipIOCompletion, "response"),
        Command("CardReader.Reset", "reset", ResetPayload),
        Command("CardReader.GetRetainBin", "retain_bin", completion=RetainBin, queued=False),
        Command(
            "CardReader.EmptyRetainBin", "empty_retain_bin", EmptyRetainBinPayload, queued=False
        ),
        Command("CardReader.GetStacker", "stacker", completion=CardStacker, queued=False),
        Command("CardReader.LoadStacker", "load_stacker", LoadStackerPayload, queued=False),
    ),
    (
        InsertCard,
        MediaInserted,
        InvalidMediaEvent,
        MediaRemoved,
        MediaDetected,
        CardAction,
        StorageError,
    ),
)

#: Every interface the remote carries, by XFS4IoT name.
INTERFACES: Final[Mapping[str, InterfaceSpec]] = {CARD_READER.name: CARD_READER}
