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
from collections.abc import Callable, Iterable, Mapping, Sequence
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
from hal.devices.pin_pad import (
    CipherMode,
    DataEntryResult,
    EnterData,
    IllegalKeyAccess,
    Initialized,
    KcvMethod,
    KeyAlgorithm,
    KeyDetail,
    KeyEvent,
    KeyUsage,
    ModeOfUse,
    PinBlock,
    PinEntryResult,
    PinFormat,
    PinPadCapabilities,
    PinPadStatus,
)
from hal.events import Event, StatusChanged
from hal.remote.codec import Codec, WireValueError, dataclass_codec, field_codecs

__all__ = [
    "CANCEL",
    "CARD_READER",
    "CLOSE",
    "INTERFACES",
    "OPEN",
    "PIN_PAD",
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


# --- PinPad ------------------------------------------------------------------------------
#
# XFS4IoT Keyboard, PinPad, KeyManagement and Crypto, served as one device. Every byte
# value (key components, enciphered keys, TR-31 key blocks, data, MACs, PIN blocks,
# KSNs, KCVs) travels as a blob, and so does the PAN given to GetPinBlock: none of it
# is ever in a JSON frame, the frames people log, and the reprs below show lengths.
# XFS4IoT loads a key component with ImportKey{constructing: true}; here a component is
# KeyManagement.ImportKeyComponent and the combination KeyManagement.ActivateKey, one
# command per method. KeyManagement.ListKeys is ours (XFS4IoT's GetKeyDetail without
# a key name).


def _ascii(data: bytes, what: str) -> None:
    # The value is not named in the message: it is a PAN or a key block.
    if not data.isascii():
        raise ValueError(f"{what} must be ASCII text")


@dataclass(frozen=True)
class PinEntryPayload:
    """``Keyboard.PinEntry``: the entry's rules (``activeKeys`` null: every key)."""

    min_len: int
    max_len: int
    auto_end: bool
    active_keys: tuple[str, ...] | None
    terminate_keys: tuple[str, ...]


@dataclass(frozen=True)
class DataEntryPayload:
    """``Keyboard.DataEntry``: a clear entry's rules."""

    max_len: int
    auto_end: bool
    active_keys: tuple[str, ...] | None
    terminate_keys: tuple[str, ...]


@dataclass(frozen=True, repr=False)
class GetPinBlockPayload:
    """``PinPad.GetPinBlock`` and ``PinPad.SetPinBlockData``: the key, the format, and
    the PAN (a blob of ASCII digits, never printed)."""

    key: str
    format: PinFormat
    customer_data: bytes
    padding: int

    def __post_init__(self) -> None:
        _ascii(self.customer_data, "customerData")

    def __repr__(self) -> str:
        return (
            f"GetPinBlockPayload(key={self.key!r}, format={PinFormat(self.format).value!r}, "
            f"customer_data={_size(self.customer_data)}, padding={self.padding})"
        )


def _pin_block_arguments(payload: GetPinBlockPayload) -> dict[str, Any]:
    return {
        "key": payload.key,
        "format": payload.format,
        "customer_data": payload.customer_data.decode("ascii"),
        "padding": payload.padding,
    }


def _get_pin_block(payload: GetPinBlockPayload) -> tuple[str, dict[str, Any]]:
    return "get_pin_block", _pin_block_arguments(payload)


def _set_pin_block_data(payload: GetPinBlockPayload) -> tuple[str, dict[str, Any]]:
    return "set_pin_block_data", _pin_block_arguments(payload)


@dataclass(frozen=True, repr=False)
class ImportKeyComponentPayload:
    """``KeyManagement.ImportKeyComponent``: one clear component (never printed)."""

    name: str
    component: bytes
    algorithm: KeyAlgorithm
    kcv: bytes
    usage: KeyUsage
    mode_of_use: ModeOfUse

    def __repr__(self) -> str:
        return (
            f"ImportKeyComponentPayload(name={self.name!r}, component={_size(self.component)}, "
            f"algorithm={KeyAlgorithm(self.algorithm).value!r}, kcv={_size(self.kcv)}, "
            f"usage={KeyUsage(self.usage).value!r}, "
            f"mode_of_use={ModeOfUse(self.mode_of_use).value!r})"
        )


@dataclass(frozen=True, repr=False)
class ActivateKeyPayload:
    """``KeyManagement.ActivateKey``: combine the components of ``name``."""

    name: str
    kcv: bytes

    def __repr__(self) -> str:
        return f"ActivateKeyPayload(name={self.name!r}, kcv={_size(self.kcv)})"


@dataclass(frozen=True, repr=False)
class ImportKeyPayload:
    """``KeyManagement.ImportKey``: a key enciphered under ``kek`` (never printed)."""

    name: str
    value: bytes
    kek: str
    usage: KeyUsage
    algorithm: KeyAlgorithm
    mode_of_use: ModeOfUse
    kcv: bytes
    ksn: bytes

    def __repr__(self) -> str:
        return (
            f"ImportKeyPayload(name={self.name!r}, value={_size(self.value)}, "
            f"kek={self.kek!r}, usage={KeyUsage(self.usage).value!r}, "
            f"algorithm={KeyAlgorithm(self.algorithm).value!r}, "
            f"mode_of_use={ModeOfUse(self.mode_of_use).value!r}, kcv={_size(self.kcv)}, "
            f"ksn={_size(self.ksn)})"
        )


@dataclass(frozen=True, repr=False)
class ImportKeyBlockPayload:
    """``KeyManagement.ImportKeyBlock``: a TR-31 key block (ASCII, as a blob; never
    printed) and the key block protection key."""

    name: str
    key_block: bytes
    kbpk: str

    def __post_init__(self) -> None:
        _ascii(self.key_block, "keyBlock")

    def __repr__(self) -> str:
        return (
            f"ImportKeyBlockPayload(name={self.name!r}, key_block={_size(self.key_block)}, "
            f"kbpk={self.kbpk!r})"
        )


def _import_key_block(payload: ImportKeyBlockPayload) -> tuple[str, dict[str, Any]]:
    return "import_key_block", {
        "name": payload.name,
        "key_block": payload.key_block.decode("ascii"),
        "kbpk": payload.kbpk,
    }


@dataclass(frozen=True)
class KeyNamePayload:
    """``KeyManagement.DeleteKey`` and ``KeyManagement.GetKeyDetail``: the key's name."""

    name: str


@dataclass(frozen=True)
class KeyListCompletion:
    """``KeyManagement.ListKeys``: every key, sorted by name."""

    keys: tuple[KeyDetail, ...]


@dataclass(frozen=True)
class GenerateKcvPayload:
    """``KeyManagement.GenerateKCV``."""

    name: str
    method: KcvMethod


@dataclass(frozen=True, repr=False)
class KcvCompletion:
    """The check value."""

    kcv: bytes

    def __repr__(self) -> str:
        return f"KcvCompletion(kcv={_size(self.kcv)})"


@dataclass(frozen=True, repr=False)
class CryptoDataPayload:
    """``Crypto.CryptoData``: encipher (``modeOfUse`` ``E``) or decipher (``D``) ``data``
    under ``key`` with ``cryptoMethod`` (``ecb``, ``cbc``); data never printed."""

    key: str
    mode_of_use: ModeOfUse
    crypto_method: CipherMode
    data: bytes
    iv: bytes | None

    def __post_init__(self) -> None:
        if self.mode_of_use not in (ModeOfUse.ENCRYPT, ModeOfUse.DECRYPT):
            raise ValueError("modeOfUse is 'E' (encrypt) or 'D' (decrypt)")

    def __repr__(self) -> str:
        iv = "None" if self.iv is None else _size(self.iv)
        return (
            f"CryptoDataPayload(key={self.key!r}, "
            f"mode_of_use={ModeOfUse(self.mode_of_use).value!r}, "
            f"crypto_method={CipherMode(self.crypto_method).value!r}, "
            f"data={_size(self.data)}, iv={iv})"
        )


def _crypto_data(payload: CryptoDataPayload) -> tuple[str, dict[str, Any]]:
    method = "encrypt" if payload.mode_of_use == ModeOfUse.ENCRYPT else "decrypt"
    return method, {
        "key": payload.key,
        "data": payload.data,
        "mode": payload.crypto_method,
        "iv": payload.iv,
    }


@dataclass(frozen=True, repr=False)
class CryptoDataCompletion:
    """The enciphered or deciphered data (never printed)."""

    data: bytes

    def __repr__(self) -> str:
        return f"CryptoDataCompletion(data={_size(self.data)})"


@dataclass(frozen=True, repr=False)
class GenerateMacPayload:
    """``Crypto.GenerateAuthentication``: the MAC of ``data`` under ``key`` (the key's
    usage picks the algorithm; ``padding`` is the ISO/IEC 9797-1 method)."""

    key: str
    data: bytes
    padding: int

    def __repr__(self) -> str:
        return (
            f"GenerateMacPayload(key={self.key!r}, data={_size(self.data)}, padding={self.padding})"
        )


@dataclass(frozen=True, repr=False)
class MacCompletion:
    """The MAC."""

    mac: bytes

    def __repr__(self) -> str:
        return f"MacCompletion(mac={_size(self.mac)})"


@dataclass(frozen=True, repr=False)
class VerifyMacPayload:
    """``Crypto.VerifyAuthentication``: whether ``mac`` is the MAC of ``data``."""

    key: str
    data: bytes
    mac: bytes
    padding: int

    def __repr__(self) -> str:
        return (
            f"VerifyMacPayload(key={self.key!r}, data={_size(self.data)}, "
            f"mac={_size(self.mac)}, padding={self.padding})"
        )


@dataclass(frozen=True)
class VerifyMacCompletion:
    """Whether the MAC verified (XFS4IoT fails with ``macInvalid``; ours answers)."""

    valid: bool


@dataclass(frozen=True)
class GenerateRandomPayload:
    """``Crypto.GenerateRandom``: how many bytes."""

    length: int


@dataclass(frozen=True, repr=False)
class RandomCompletion:
    """The random bytes (they may become a nonce or a key: never printed)."""

    data: bytes

    def __repr__(self) -> str:
        return f"RandomCompletion(data={_size(self.data)})"


PIN_PAD: Final = _interface(
    "PinPad",
    PinPadStatus,
    PinPadCapabilities,
    (
        Command("Keyboard.PinEntry", "pin_entry", PinEntryPayload, PinEntryResult),
        Command("Keyboard.DataEntry", "data_entry", DataEntryPayload, DataEntryResult),
        Command(
            "PinPad.GetPinBlock",
            "get_pin_block",
            GetPinBlockPayload,
            PinBlock,
            route=_get_pin_block,
        ),
        Command(
            "PinPad.SetPinBlockData",
            "set_pin_block_data",
            GetPinBlockPayload,
            route=_set_pin_block_data,
        ),
        Command(
            "KeyManagement.ImportKeyComponent",
            "import_key_component",
            ImportKeyComponentPayload,
            KeyDetail,
        ),
        Command("KeyManagement.ActivateKey", "activate_key", ActivateKeyPayload, KeyDetail),
        Command("KeyManagement.ImportKey", "import_key", ImportKeyPayload, KeyDetail),
        Command(
            "KeyManagement.ImportKeyBlock",
            "import_key_block",
            ImportKeyBlockPayload,
            KeyDetail,
            route=_import_key_block,
        ),
        Command("KeyManagement.DeleteKey", "delete_key", KeyNamePayload),
        Command("KeyManagement.GetKeyDetail", "key_detail", KeyNamePayload, KeyDetail),
        Command(
            "KeyManagement.ListKeys", "keys", completion=KeyListCompletion, result_field="keys"
        ),
        Command(
            "KeyManagement.GenerateKCV", "generate_kcv", GenerateKcvPayload, KcvCompletion, "kcv"
        ),
        Command("KeyManagement.Initialization", "initialize"),
        Command(
            "Crypto.CryptoData",
            "encrypt",
            CryptoDataPayload,
            CryptoDataCompletion,
            "data",
            route=_crypto_data,
        ),
        Command(
            "Crypto.GenerateAuthentication",
            "generate_mac",
            GenerateMacPayload,
            MacCompletion,
            "mac",
        ),
        Command(
            "Crypto.VerifyAuthentication",
            "verify_mac",
            VerifyMacPayload,
            VerifyMacCompletion,
            "valid",
        ),
        Command(
            "Crypto.GenerateRandom",
            "generate_random",
            GenerateRandomPayload,
            RandomCompletion,
            "data",
        ),
        Command("PinPad.Reset", "reset"),
    ),
    (EnterData, KeyEvent, IllegalKeyAccess, Initialized),
)

#: Every interface the remote carries, by XFS4IoT name.
INTERFACES: Final[Mapping[str, InterfaceSpec]] = {
    CARD_READER.name: CARD_READER,
    PIN_PAD.name: PIN_PAD,
}
