"""What each command carries over the remote, per interface, and how events travel.

A `Command` names the wire command (``CardReader.ReadRawData``), the method of the
public interface it calls (``read_raw_data``), the dataclass of its payload (whose
fields are the method's arguments) and the dataclass of its completion payload. The
server decodes the payload, calls the method with the fields as keyword arguments and
encodes the result; the client does the reverse, so a remote caller gets the same
typed values as an in-process one.

Names follow XFS4IoT where it has the command (``Common.Status``,
``Common.Capabilities``, ``CardReader.Move``...).

Events travel by their ``xfs_name`` with the event's own fields as payload (the base
fields ``device``, ``command_id`` and ``timestamp`` live in the header or are local).
`StatusChanged` travels as the XFS4IoT delta: the changed fields of ``new`` only, plus
``old`` (the whole status before) so our client can rebuild both.

This module holds the machinery and the session-level (``Common``) payloads; each
interface's payloads and `InterfaceSpec` live in their own module
(`hal.remote.interfaces_card_reader`: `CARD_READER`, `hal.remote.interfaces_pin_pad`:
`PIN_PAD`, `hal.remote.interfaces_cash`: `CASH_DISPENSER`,
`hal.remote.interfaces_cash_in`: `CASH_ACCEPTOR`, `hal.remote.interfaces_id_scanner`:
`ID_SCANNER`, `hal.remote.interfaces_camera`: `CAMERA`, `hal.remote.interfaces_printer`:
`PRINTER`) and are re-exported here, with
`INTERFACES`, so every name is importable from this module (the cash payloads from
`hal.remote.interfaces_cash` and `hal.remote.interfaces_cash_in` themselves). Those
modules import the machinery from here: import them after it (``hal.remote`` does,
through this module).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from hal.events import Event, StatusChanged
from hal.remote.codec import Codec, WireValueError, dataclass_codec, field_codecs

__all__ = [
    "CAMERA",
    "CANCEL",
    "CARD_READER",
    "CASH_ACCEPTOR",
    "CASH_DISPENSER",
    "CLOSE",
    "ID_SCANNER",
    "INTERFACES",
    "OPEN",
    "PIN_PAD",
    "PRINTER",
    "STATUS",
    "ActivateKeyPayload",
    "BlockPayload",
    "CancelPayload",
    "ChipIOCompletion",
    "ChipIOPayload",
    "ChipPowerCompletion",
    "ChipPowerPayload",
    "Command",
    "ControlMediaPayload",
    "CryptoDataCompletion",
    "CryptoDataPayload",
    "DataEntryPayload",
    "Empty",
    "EmptyRetainBinPayload",
    "GenerateKcvPayload",
    "GenerateMacPayload",
    "GenerateRandomPayload",
    "GetPinBlockPayload",
    "ImportKeyBlockPayload",
    "ImportKeyComponentPayload",
    "ImportKeyPayload",
    "InterfaceSpec",
    "KcvCompletion",
    "KeyListCompletion",
    "KeyNamePayload",
    "LoadStackerPayload",
    "MacCompletion",
    "MovePayload",
    "OpenCompletion",
    "PinEntryPayload",
    "PrintDocumentPayload",
    "PrintRawPayload",
    "RandomCompletion",
    "ReadRawDataPayload",
    "ResetPayload",
    "ServiceInfo",
    "VerifyMacCompletion",
    "VerifyMacPayload",
    "WriteRawDataPayload",
    "build_interface",
    "size_only",
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
        route: for a payload whose fields are not the method's arguments one for one:
            the method's name and keyword arguments for a decoded payload
            (``Crypto.CryptoData`` calls ``encrypt`` or ``decrypt`` by its
            ``modeOfUse``; text that travels as a blob is turned back into ``str``).
            ``None``: `method` with the payload's fields.
    """

    name: str
    method: str
    payload: type[Any] = Empty
    completion: type[Any] | None = None
    result_field: str | None = None
    queued: bool = True
    route: Callable[[Any], tuple[str, dict[str, Any]]] | None = None

    def arguments(self, payload: Any) -> dict[str, Any]:
        """The keyword arguments of the method call, from a decoded payload."""
        return {name: getattr(payload, name) for name in _field_names(type(payload))}

    def call_of(self, payload: Any) -> tuple[str, dict[str, Any]]:
        """The method to call and its keyword arguments, for a decoded payload."""
        if self.route is not None:
            return self.route(payload)
        return self.method, self.arguments(payload)

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


def build_interface(
    name: str,
    status: type[Any],
    capabilities: type[Any],
    commands: Iterable[Command],
    events: Iterable[type[Event]],
) -> InterfaceSpec:
    """The spec of an interface: its commands plus ``Common.Status`` and
    ``Common.Capabilities``, every payload's codec built (and checked) now."""
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


def size_only(data: bytes) -> str:
    """How a repr shows a byte value that may be secret: its size only."""
    return f"<{len(data)} bytes>"


# --- the interfaces ----------------------------------------------------------------------
#
# Re-exported from their modules, which import the machinery above (so they come last).

from hal.remote.interfaces_camera import CAMERA  # noqa: E402
from hal.remote.interfaces_card_reader import (  # noqa: E402
    CARD_READER,
    ChipIOCompletion,
    ChipIOPayload,
    ChipPowerCompletion,
    ChipPowerPayload,
    EmptyRetainBinPayload,
    LoadStackerPayload,
    MovePayload,
    ReadRawDataPayload,
    ResetPayload,
    WriteRawDataPayload,
)
from hal.remote.interfaces_cash import CASH_DISPENSER  # noqa: E402
from hal.remote.interfaces_cash_in import CASH_ACCEPTOR  # noqa: E402
from hal.remote.interfaces_id_scanner import ID_SCANNER  # noqa: E402
from hal.remote.interfaces_pin_pad import (  # noqa: E402
    PIN_PAD,
    ActivateKeyPayload,
    CryptoDataCompletion,
    CryptoDataPayload,
    DataEntryPayload,
    GenerateKcvPayload,
    GenerateMacPayload,
    GenerateRandomPayload,
    GetPinBlockPayload,
    ImportKeyBlockPayload,
    ImportKeyComponentPayload,
    ImportKeyPayload,
    KcvCompletion,
    KeyListCompletion,
    KeyNamePayload,
    MacCompletion,
    PinEntryPayload,
    RandomCompletion,
    VerifyMacCompletion,
    VerifyMacPayload,
)
from hal.remote.interfaces_printer import (  # noqa: E402
    PRINTER,
    BlockPayload,
    ControlMediaPayload,
    PrintDocumentPayload,
    PrintRawPayload,
)

#: Every interface the remote carries, by XFS4IoT name.
INTERFACES: Final[Mapping[str, InterfaceSpec]] = {
    CARD_READER.name: CARD_READER,
    PIN_PAD.name: PIN_PAD,
    CASH_DISPENSER.name: CASH_DISPENSER,
    CASH_ACCEPTOR.name: CASH_ACCEPTOR,
    ID_SCANNER.name: ID_SCANNER,
    CAMERA.name: CAMERA,
    PRINTER.name: PRINTER,
}
