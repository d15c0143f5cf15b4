"""The card reader: public interface, events and backend contract (and, re-exported
from `hal.devices.card_reader_model`, its data model).

Semantics follow XFS4IoT ``CardReader`` (ReadRawData, WriteRawData, Move, ChipPower,
ChipIO, Reset; InsertCardEvent, MediaInsertedEvent, MediaRemovedEvent, ...), in Python
style. Apps program against `CardReader`; drivers and simulator models implement
`CardReaderBackend`; `hal.devices.card_reader_service.CardReaderService` joins the two.

Track data and chip data are secrets: the dataclasses here never print them.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import ClassVar, Protocol

from hal.device import BackendListener, Device, DeviceState
from hal.devices.card_reader_model import (
    DISPENSE_UNIT,
    FEATURES,
    RETAIN_UNIT,
    CardData,
    CardReaderCapabilities,
    CardReaderStatus,
    CardStacker,
    ChipPower,
    ChipPowerAction,
    DataStatus,
    MediaStatus,
    MoveTarget,
    ReaderType,
    ReadResult,
    ReplenishmentStatus,
    ResetAction,
    RetainBin,
    Track,
)
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
    "DeviceState",
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
