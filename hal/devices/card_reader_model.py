"""The card reader's data model: enums, statuses, capabilities, read results, counts.

Values and names follow XFS4IoT ``CardReader`` (``notPresent``, ``poweredOff``,
``dataMissing``...). `hal.devices.card_reader` re-exports all of it with the interface,
the events and the backend contract; import from there.

Track data and chip data are secrets: the dataclasses here never print them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from hal.device import DeviceState

__all__ = [
    "DISPENSE_UNIT",
    "FEATURES",
    "RETAIN_UNIT",
    "CardData",
    "CardReaderCapabilities",
    "CardReaderStatus",
    "CardStacker",
    "ChipPower",
    "ChipPowerAction",
    "DataStatus",
    "MediaStatus",
    "MoveTarget",
    "ReadResult",
    "ReaderType",
    "ReplenishmentStatus",
    "ResetAction",
    "RetainBin",
    "Track",
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
