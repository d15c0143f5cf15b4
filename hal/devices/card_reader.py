"""The card reader: public interface, data model, events and backend contract.

Semantics follow XFS4IoT ``CardReader`` (ReadRawData, WriteRawData, Move, ChipPower,
ChipIO, Reset; InsertCardEvent, MediaInsertedEvent, MediaRemovedEvent, ...), in Python
style. Apps program against `CardReader`; drivers and simulator models implement
`CardReaderBackend`; `hal.devices.card_reader_service.CardReaderService` joins the two.

Track data and chip data are secrets: the dataclasses here never print them.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import ClassVar, Protocol

from hal.device import BackendListener, Device, DeviceState
from hal.events import Event

__all__ = [
    "DISPENSE_UNIT",
    "FEATURES",
    "RETAIN_UNIT",
    "CaptureTicket",
    "CardAction",
    "CardData",
    "CardReader",
    "CardReaderBackend",
    "CardReaderCapabilities",
    "CardReaderStatus",
    "CardStacker",
    "ChipPower",
    "ChipPowerAction",
    "DataStatus",
    "InsertCard",
    "InvalidMediaEvent",
    "MediaDetected",
    "MediaInserted",
    "MediaRemoved",
    "MediaStatus",
    "MoveTarget",
    "ReadResult",
    "ReaderType",
    "ReplenishmentStatus",
    "ResetAction",
    "RetainBin",
    "StorageError",
    "Track",
    "begin_capture",
]


#: The storage unit id of the card stacker an issuing reader dispenses from
#: (``move(to, from_unit=DISPENSE_UNIT)``, XFS4IoT ``Move{from: <unit>}``).
DISPENSE_UNIT = "stacker"
#: The storage unit id of the retain bin.
RETAIN_UNIT = "retain"

#: The capability features `CardReaderCapabilities.features` names, and what each means.
FEATURES: dict[str, str] = {
    "tracks": "reads magnetic tracks 1-3",
    "write_tracks": "writes magnetic tracks",
    "chip": "has chip contacts",
    "motor": "motorised: holds the card, has exit and transport positions, controls its gate",
    "retain": "has a retain bin",
    "taken_sensor": "tells when the customer takes the card",
    "issue": "issues cards from a card stacker",
}


class Track(StrEnum):
    """Data sources of ``read_raw_data`` (XFS4IoT names)."""

    TRACK1 = "track1"
    TRACK2 = "track2"
    TRACK3 = "track3"
    CHIP = "chip"


class MediaStatus(StrEnum):
    """Where the card is, as the reader sees it (XFS4IoT ``media``)."""

    UNKNOWN = "unknown"
    PRESENT = "present"
    NOT_PRESENT = "notPresent"
    JAMMED = "jammed"
    ENTERING = "entering"
    LATCHED = "latched"


class ChipPower(StrEnum):
    """State of the chip contacts (XFS4IoT ``chipPower``)."""

    UNKNOWN = "unknown"
    ONLINE = "online"
    BUSY = "busy"
    POWERED_OFF = "poweredOff"
    NO_DEVICE = "noDevice"
    HARDWARE_ERROR = "hardwareError"
    NO_CARD = "noCard"


class ChipPowerAction(StrEnum):
    """What ``chip_power`` does."""

    COLD = "cold"
    WARM = "warm"
    OFF = "off"


class MoveTarget(StrEnum):
    """Where ``move`` takes the card."""

    EXIT = "exit"
    TRANSPORT = "transport"
    RETAIN = "retain"


class ResetAction(StrEnum):
    """What ``reset`` does with a card inside (XFS4IoT ``Reset.to``)."""

    EXIT = "exit"
    RETAIN = "retain"
    CURRENT_POSITION = "currentPosition"
    AUTO = "auto"


class ReaderType(StrEnum):
    """XFS4IoT capability ``type``."""

    MOTOR = "motor"
    SWIPE = "swipe"
    DIP = "dip"
    LATCHED_DIP = "latchedDip"
    PERMANENT = "permanent"


class DataStatus(StrEnum):
    """Outcome for one data source of a read (XFS4IoT ``status`` of each card data)."""

    OK = "ok"
    MISSING = "dataMissing"
    INVALID = "dataInvalid"
    TOO_LONG = "dataTooLong"
    TOO_SHORT = "dataTooShort"
    SOURCE_NOT_SUPPORTED = "dataSourceNotSupported"
    SOURCE_MISSING = "dataSourceMissing"


class ReplenishmentStatus(StrEnum):
    """Fill state of a storage unit (XFS4IoT ``replenishmentStatus``)."""

    OK = "ok"
    FULL = "full"
    HIGH = "high"
    LOW = "low"
    EMPTY = "empty"


@dataclass(frozen=True, repr=False)
class CardData:
    """One data source of a read: its status and its bytes (never printed)."""

    status: DataStatus
    data: bytes = b""

    def __repr__(self) -> str:
        return f"CardData(status={self.status.value!r}, data=<{len(self.data)} bytes>)"


@dataclass(frozen=True, repr=False)
class ReadResult:
    """What ``read_raw_data`` returns: one `CardData` per source asked for.

    Track data is the track's characters as the reader returns them, without start
    sentinel, end sentinel and LRC. ``chip`` is the ATR of the chip's cold reset.
    """

    sources: Mapping[Track, CardData] = field(default_factory=dict)

    def __getitem__(self, track: Track) -> CardData:
        return self.sources[track]

    def get(self, track: Track) -> CardData | None:
        """The data for ``track``, or ``None`` if it was not asked for."""
        return self.sources.get(track)

    def __repr__(self) -> str:
        inner = ", ".join(f"{t.value}={d!r}" for t, d in self.sources.items())
        return f"ReadResult({inner})"


@dataclass(frozen=True)
class CardReaderStatus:
    """The reader's status (XFS4IoT common + CardReader status).

    Attributes:
        device: the common device state.
        media: where the card is.
        chip_power: state of the chip contacts.
        retain_bin: fill state of the retain bin (``ok`` when there is none).
        stacker: fill state of the card stacker as the device senses it (``ok``,
            ``low``, ``empty``; ``ok`` when there is none).
    """

    device: DeviceState = DeviceState.ONLINE
    media: MediaStatus = MediaStatus.NOT_PRESENT
    chip_power: ChipPower = ChipPower.NO_CARD
    retain_bin: ReplenishmentStatus = ReplenishmentStatus.OK
    stacker: ReplenishmentStatus = ReplenishmentStatus.OK


@dataclass(frozen=True)
class CardReaderCapabilities:
    """What the reader can do (XFS4IoT CardReader capabilities).

    Attributes:
        type: motorised, swipe, dip...
        read_tracks: sources ``read_raw_data`` accepts (``chip`` included if it has one).
        write_tracks: tracks ``write_raw_data`` accepts.
        chip_protocols: e.g. ``{"T0", "T1"}``; empty without chip contacts.
        retain_capacity: cards the retain bin holds; 0 when there is no retain bin.
        exit_position, transport_position: positions ``move`` can reach.
        card_taken_sensor: the reader tells when the customer takes the card.
        chip_power_actions: the ``chip_power`` actions it supports.
        dispense_capacity: cards its card stacker holds; 0 when it issues no cards.
        firmware: the firmware version the device reports (``""`` when it tells none);
            certification records it.
    """

    type: ReaderType = ReaderType.MOTOR
    read_tracks: frozenset[Track] = frozenset(Track)
    write_tracks: frozenset[Track] = frozenset()
    chip_protocols: frozenset[str] = frozenset({"T0", "T1"})
    retain_capacity: int = 0
    exit_position: bool = True
    transport_position: bool = True
    card_taken_sensor: bool = True
    chip_power_actions: frozenset[ChipPowerAction] = frozenset(ChipPowerAction)
    dispense_capacity: int = 0
    firmware: str = ""

    def features(self) -> frozenset[str]:
        """The capability features the reader has, named as in `FEATURES`.

        Drivers declare the features they promise (``DriverSpec.capabilities``); the
        conformance suite runs the cases those features call for.
        """
        have = {
            "tracks": bool(self.read_tracks - {Track.CHIP}),
            "write_tracks": bool(self.write_tracks - {Track.CHIP}),
            "chip": bool(self.chip_protocols),
            "motor": self.type is ReaderType.MOTOR,
            "retain": self.retain_capacity > 0,
            "taken_sensor": self.card_taken_sensor,
            "issue": self.dispense_capacity > 0,
        }
        return frozenset(name for name, present in have.items() if present)


@dataclass(frozen=True)
class RetainBin:
    """The retain bin's counts, derived from the ledger.

    Attributes:
        count: cards the ledger knows are in the bin.
        capacity: cards the bin holds.
        unknown: cards whose capture was interrupted and whose place cannot be known.
        pending: captures journalled but not yet settled.
        status: fill state.
    """

    count: int
    capacity: int
    unknown: int
    pending: int
    status: ReplenishmentStatus


@dataclass(frozen=True)
class CardStacker:
    """The card stacker's counts (XFS4IoT card storage unit of type ``dispense``).

    Attributes:
        count: cards the ledger says are in the stacker.
        initial: cards loaded at the last replenishment.
        capacity: cards the stacker holds.
        unknown: cards whose dispense was interrupted and whose place cannot be known.
        pending: dispenses journalled but not yet settled.
        status: fill state: what the device senses (``low``/``empty``) wins over the count.
    """

    count: int
    initial: int
    capacity: int
    unknown: int
    pending: int
    status: ReplenishmentStatus


# --- events ----------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class InsertCard(Event):
    """The reader is ready for the customer to insert a card."""

    xfs_name: ClassVar[str] = "CardReader.InsertCardEvent"


@dataclass(frozen=True, kw_only=True)
class MediaInserted(Event):
    """A card was inserted."""

    xfs_name: ClassVar[str] = "CardReader.MediaInsertedEvent"


@dataclass(frozen=True, kw_only=True)
class InvalidMediaEvent(Event):
    """An unreadable or wrong card was inserted (and returned)."""

    xfs_name: ClassVar[str] = "CardReader.InvalidMediaEvent"


@dataclass(frozen=True, kw_only=True)
class MediaRemoved(Event):
    """The customer took the card from the exit."""

    xfs_name: ClassVar[str] = "CardReader.MediaRemovedEvent"
    unsolicited: ClassVar[bool] = True


@dataclass(frozen=True, kw_only=True)
class MediaDetected(Event):
    """A card was found in the reader at start or reset.

    Attributes:
        position: where it was found (``exit``, ``transport``, ``jammed``...).
    """

    xfs_name: ClassVar[str] = "CardReader.MediaDetectedEvent"
    unsolicited: ClassVar[bool] = True
    position: str = ""


@dataclass(frozen=True, kw_only=True)
class CardAction(Event):
    """The device moved a card by itself (e.g. retained one the customer left).

    Attributes:
        source: where the card was (``exit``, ``transport``...).
        to: where it went (``retain``, ``exit``...).
    """

    xfs_name: ClassVar[str] = "CardReader.CardActionEvent"
    unsolicited: ClassVar[bool] = True
    source: str = ""
    to: str = ""


@dataclass(frozen=True, kw_only=True)
class StorageError(Event):
    """A storage unit failed a command (XFS4IoT ``Storage.StorageErrorEvent``).

    Attributes:
        failure: ``empty``, ``full``, ``error``...
        unit: the unit's id (`DISPENSE_UNIT`, `RETAIN_UNIT`).
    """

    xfs_name: ClassVar[str] = "Storage.StorageErrorEvent"
    failure: str = ""
    unit: str = ""


# --- the public interface --------------------------------------------------------------


class CardReader(Device[CardReaderStatus, CardReaderCapabilities]):
    """A motorised (or dip/swipe) card reader with optional chip contacts.

    Every operation is a command: queued FIFO behind the device's other commands, with
    a ``timeout`` in seconds counted from the call (``None`` waits for ever). Cancelling
    a command settles with the reader first: a card inserted meanwhile stays in the
    reader (``status().media`` tells) and a capture under way finishes.
    """

    interface = "CardReader"

    @abstractmethod
    async def read_raw_data(
        self, tracks: Iterable[Track], *, timeout: float | None = None
    ) -> ReadResult:
        """Wait for a card if none is inside, then read the sources asked for.

        Emits `InsertCard` when the reader is ready, `MediaInserted` when a card is in,
        and `InvalidMediaEvent` for a card it refuses.

        Raises:
            InvalidData: a source the reader cannot read was asked for.
            InvalidMedia: the card could not be read at all (it is returned).
            MediaJam: the card jammed.
            HalTimeout: no card came within ``timeout``.
        """

    @abstractmethod
    async def write_raw_data(
        self, data: Mapping[Track, bytes], *, timeout: float | None = None
    ) -> None:
        """Write magnetic tracks of the card inside.

        Raises:
            UnsupportedOperation: the reader writes no tracks.
            InvalidData: a track it cannot write, or characters the track cannot hold.
            NoMedia: no card inside.
        """

    @abstractmethod
    async def move(
        self, to: MoveTarget, *, from_unit: str | None = None, timeout: float | None = None
    ) -> None:
        """Move the card to the exit, into the transport, or into the retain bin.

        With ``from_unit`` (XFS4IoT ``Move{from: <unit>}``), a card issuer dispenses a new
        card from that storage unit (`DISPENSE_UNIT`) to ``to`` (the transport, where it
        can be read and written, or the exit). Captures and dispenses are journalled in
        the ledger before the reader moves and settled after.

        Raises:
            NoMedia: no card inside; or the stacker is empty (with `StorageError`).
            Occupied: a card is already inside (dispensing).
            RetainBinFull: the retain bin cannot take it.
            MediaJam: the card jammed on the way.
            UnsupportedOperation: the reader has no such position or unit.
            InvalidData: a unit that does not exist, or dispensing into the retain bin.
        """

    @abstractmethod
    async def chip_power(self, action: ChipPowerAction, *, timeout: float | None = None) -> bytes:
        """Power the chip (cold or warm reset) or power it off.

        Returns:
            The ATR for a reset; ``b""`` for ``off``.
        """

    @abstractmethod
    async def chip_io(self, apdu: bytes, *, timeout: float | None = None) -> bytes:
        """Send one command APDU to the powered chip and return the response APDU."""

    @abstractmethod
    async def reset(
        self, to: ResetAction = ResetAction.AUTO, *, timeout: float | None = None
    ) -> None:
        """Reset the reader; a card inside goes where ``to`` says.

        ``auto`` ejects a card that can be ejected and retains one that cannot.
        """

    @abstractmethod
    async def retain_bin(self) -> RetainBin:
        """The retain bin's counts (derived from the ledger; bypasses the queue)."""

    @abstractmethod
    async def empty_retain_bin(self, *, reason: str = "") -> None:
        """Record that an operator emptied the retain bin (count back to 0)."""

    @abstractmethod
    async def stacker(self) -> CardStacker:
        """The card stacker's counts (derived from the ledger; bypasses the queue).

        Raises:
            UnsupportedOperation: the reader issues no cards.
        """

    @abstractmethod
    async def load_stacker(self, count: int, *, reason: str = "") -> None:
        """Record that an operator loaded the stacker with ``count`` cards in all.

        Raises:
            UnsupportedOperation: the reader issues no cards.
            InvalidData: ``count`` is negative or more than the stacker holds.
        """


# --- the backend contract --------------------------------------------------------------


class CaptureTicket(Protocol):
    """A capture a driver starts by itself, journalled before the card moves."""

    def settle(self, captured: bool | None) -> None:
        """How it ended: ``True`` the card is in the bin, ``False`` it did not move,
        ``None`` nobody can tell."""


class _NoTicket:
    def settle(self, captured: bool | None) -> None:
        """Nothing was journalled: a listener without a ledger."""


def begin_capture(listener: object, source: str) -> CaptureTicket:
    """Journal a capture a driver is about to make on its own (a card left at the exit).

    Call it before sending the capture command; it raises `RetainBinFull` when the
    ledger counts the bin full and `LedgerError` when the ledger cannot take the entry:
    then the card must not move. Settle the ticket once the device answered, then emit
    `CardAction` as usual (the service does not journal it a second time). A listener
    without a ledger (a test's) gets a ticket that records nothing.
    """
    starting = getattr(listener, "capture_starting", None)
    if starting is None:
        return _NoTicket()
    ticket: CaptureTicket = starting(source)
    return ticket


class CardReaderBackend(Protocol):
    """What a driver or a simulator model implements for a card reader.

    The service calls one method at a time (never two at once) and does all validation,
    queueing, timeouts, event stamping and ledger work; the backend just drives the
    device and reports raw results. Cancellation arrives as `asyncio.CancelledError`
    inside the awaited method: the backend must leave the device in a defined state
    (entry gate closed, a card already in stays in) before letting it propagate.

    Events go to the listener given to `open()`: `InsertCard`, `MediaInserted` and
    `InvalidMediaEvent` while accepting; `MediaRemoved`, `MediaDetected` and
    `CardAction` whenever they happen. Status changes go to
    ``listener.status_changed``.
    """

    async def open(self, listener: BackendListener[CardReaderStatus]) -> None:
        """Connect and start reporting to ``listener``."""

    async def close(self) -> None:
        """Disconnect; stop reporting."""

    def capabilities(self) -> CardReaderCapabilities:
        """What the reader can do (known after `open()`)."""

    async def get_status(self) -> CardReaderStatus:
        """Ask the device where things stand now."""

    async def accept_card(self, sources: frozenset[Track]) -> None:
        """Open the entry and return once a card is inside (``media == present``).

        Raises ``InvalidMedia`` if the card inserted cannot be accepted (it is given
        back), ``MediaJam`` if it jams.
        """

    async def read_card(self, sources: frozenset[Track]) -> ReadResult:
        """Read ``sources`` from the card inside (tracks without SS/ES/LRC; chip: ATR)."""

    async def write_tracks(self, data: Mapping[Track, bytes]) -> None:
        """Write tracks to the card inside."""

    async def move_card(self, to: MoveTarget) -> None:
        """Move the card inside to ``to``; must not be interrupted halfway."""

    async def dispense_card(self, to: MoveTarget) -> None:
        """Issue a card from the stacker to ``to`` (transport or exit); a reader with
        ``dispense_capacity == 0`` is never asked. Must not be interrupted halfway.

        Raises ``NoMedia`` if the stacker is empty, ``Occupied`` if a card is already
        inside, ``MediaJam`` if the card jams.
        """

    async def chip_power(self, action: ChipPowerAction) -> bytes:
        """Power the chip; return the ATR (``b""`` for off)."""

    async def chip_io(self, apdu: bytes) -> bytes:
        """Exchange one APDU with the powered chip."""

    async def reset(self, to: ResetAction) -> MoveTarget | None:
        """Reset the device; return where a card inside went (``None``: no card moved)."""
