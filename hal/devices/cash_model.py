"""The cash dispenser's data model: cash units, their counts, moves, status, capabilities.

Names follow XFS4IoT CashDispenser, CashManagement and Storage. A *location* is where
notes can be: a cash unit (by its id: ``unit1``, ``reject``, ``retract``), a position
inside the device (`STACKER`, `TRANSPORT`, `EXIT`) or the `CUSTOMER`. Backends report
what they did as `Move` s between locations; the service journals them in the ledger,
from which every count is derived.

Amounts are `hal.money.Money`; a note's value is an ``int`` of minor units.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

from hal.device import DeviceState
from hal.devices.card_reader_model import ReplenishmentStatus
from hal.devices.cash_reports import (
    Contents,
    Fault,
    Move,
    MoveReport,
    NoteErrorReason,
    OperationRecord,
)
from hal.errors import InvalidData
from hal.money import Money

__all__ = [
    "CASH_FEATURES",
    "CUSTOMER",
    "EXIT",
    "POSITIONS",
    "STACKER",
    "TRANSPORT",
    "CashDispenserCapabilities",
    "CashDispenserStatus",
    "CashUnit",
    "CashUnitInfo",
    "CashUnitType",
    "Contents",
    "Denomination",
    "Dispensed",
    "Fault",
    "InCounts",
    "Move",
    "MoveReport",
    "NoteErrorReason",
    "OperationRecord",
    "OutCounts",
    "PresentState",
    "PresentStatus",
    "ReplenishmentStatus",
    "RetractArea",
    "ShutterState",
    "StackerState",
    "TransportState",
    "UnitSensor",
    "UnitStatus",
    "counts_mapping",
    "note_item",
    "parse_note_item",
]

#: The intermediate stacker: notes dispensed and not yet presented.
STACKER = "stacker"
#: The transport between the units, the stacker and the exit (a jam leaves notes here).
TRANSPORT = "transport"
#: The output position behind (or without) the shutter: notes presented, not yet taken.
EXIT = "exit"
#: The world outside the machine: notes the customer took.
CUSTOMER = "customer"
#: Every position name; a cash unit id may not be one of them.
POSITIONS: frozenset[str] = frozenset({STACKER, TRANSPORT, EXIT, CUSTOMER})


def note_item(currency: str, value: int) -> str:
    """The ledger item of a note: ``CNY:10000`` (currency, value in minor units)."""
    return f"{currency}:{value}"


def parse_note_item(item: str) -> tuple[str, int]:
    """The currency and value (minor units) of a note's ledger item, `note_item`'s
    inverse: ``CNY:10000`` is ``("CNY", 10000)``.

    Raises:
        InvalidData: not a note item (``*``, no currency, a value that is no number).
    """
    currency, sep, value = item.partition(":")
    if not sep or not currency or not (value.isascii() and value.isdigit()):
        raise InvalidData(f"not a note item: {item!r}")
    return currency, int(value)


def counts_mapping(counts: Mapping[str, int], what: str) -> Mapping[str, int]:
    """A read-only copy of ``{unit id: notes}``, refusing bad ids and counts.

    Raises:
        TypeError: a count that is not an ``int`` (a float or a bool).
        InvalidData: an empty id or a negative count.
    """
    checked: dict[str, int] = {}
    for unit, count in counts.items():
        if not isinstance(unit, str) or not unit:
            raise InvalidData(f"{what}: a unit id must be a non-empty string, got {unit!r}")
        if isinstance(count, bool) or not isinstance(count, int):
            raise TypeError(f"{what}: the count of {unit} must be an int, got {count!r}")
        if count < 0:
            raise InvalidData(f"{what}: the count of {unit} is negative ({count})")
        checked[unit] = count
    return MappingProxyType(checked)


# --- enums -------------------------------------------------------------------------------


class CashUnitType(StrEnum):
    """What a cash unit is for (XFS4IoT Storage ``types``)."""

    CASH_OUT = "cashOut"
    CASH_IN = "cashIn"
    RECYCLING = "recycling"
    REJECT = "reject"
    RETRACT = "retract"

    @property
    def dispenses(self) -> bool:
        """Whether notes are dispensed from units of this type."""
        return self in (CashUnitType.CASH_OUT, CashUnitType.RECYCLING)


class UnitStatus(StrEnum):
    """A unit's physical state (XFS4IoT Storage ``status``)."""

    OK = "ok"
    INOPERATIVE = "inoperative"
    MISSING = "missing"
    NOT_CONFIGURED = "notConfigured"
    MANIPULATED = "manipulated"


class ShutterState(StrEnum):
    """The output shutter (XFS4IoT ``shutter``); ``notSupported`` without one."""

    CLOSED = "closed"
    OPEN = "open"
    JAMMED = "jammed"
    UNKNOWN = "unknown"
    NOT_SUPPORTED = "notSupported"


class StackerState(StrEnum):
    """The intermediate stacker (XFS4IoT ``intermediateStacker``)."""

    EMPTY = "empty"
    NOT_EMPTY = "notEmpty"
    NOT_EMPTY_CUSTOMER = "notEmptyCustomer"
    NOT_EMPTY_UNKNOWN = "notEmptyUnknown"
    UNKNOWN = "unknown"
    NOT_SUPPORTED = "notSupported"


class TransportState(StrEnum):
    """Notes in the transport (XFS4IoT ``transportStatus``)."""

    EMPTY = "empty"
    NOT_EMPTY = "notEmpty"
    NOT_EMPTY_CUSTOMER = "notEmptyCustomer"
    UNKNOWN = "unknown"


class PresentState(StrEnum):
    """XFS4IoT ``GetPresentStatus.presentState``."""

    PRESENTED = "presented"
    NOT_PRESENTED = "notPresented"
    UNKNOWN = "unknown"


class RetractArea(StrEnum):
    """Where `retract` puts notes (XFS4IoT ``retractArea``)."""

    RETRACT = "retract"
    REJECT = "reject"
    TRANSPORT = "transport"
    STACKER = "stacker"


# --- cash units --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CashUnitInfo:
    """A cash unit's configuration, as its device knows it.

    Attributes:
        id: the unit's id (``unit1``, ``reject``); never a position name.
        type: what the unit is for.
        currency: ISO 4217 code of its notes; ``None`` for a unit of mixed notes
            (reject, retract).
        value: the value of one note in minor units; ``0`` for mixed units.
        capacity: how many notes fit; ``None`` when unknown.
        max_per_dispense: the most notes one dispense may take from it; ``None``: no limit.
        position_name: where it sits (``slot 1``), for people.
    """

    id: str
    type: CashUnitType
    currency: str | None = None
    value: int = 0
    capacity: int | None = None
    max_per_dispense: int | None = None
    position_name: str = ""

    def __post_init__(self) -> None:
        if not self.id or self.id in POSITIONS:
            raise InvalidData(f"a cash unit id may not be empty or a position, got {self.id!r}")
        if (self.currency is None) != (self.value == 0):
            raise InvalidData(
                f"cash unit {self.id}: give both a currency and a note value, or neither"
            )
        if self.type.dispenses and self.currency is None:
            raise InvalidData(f"cash unit {self.id} ({self.type}) needs a currency and a value")

    @property
    def item(self) -> str:
        """The ledger item of its notes (``CNY:10000``), or ``*`` for mixed units."""
        return "*" if self.currency is None else note_item(self.currency, self.value)


@dataclass(frozen=True, slots=True)
class UnitSensor:
    """What the device senses of one unit now.

    Attributes:
        id: the unit.
        status: its physical state.
        low: the near-end sensor is on (``None``: the unit has no such sensor).
        full: the full sensor is on (``None``: no such sensor).
    """

    id: str
    status: UnitStatus = UnitStatus.OK
    low: bool | None = None
    full: bool | None = None


@dataclass(frozen=True, slots=True)
class OutCounts:
    """Notes that left a unit, by where they went (XFS4IoT ``count.out``).

    Derived from the ledger: ``stacked`` and ``transport`` are where they are now;
    ``presented`` counts notes that reached the exit (taken or retracted afterwards
    included), ``distributed`` those of them the customer took, ``rejected`` those sent
    to a reject unit, ``retracted`` those retracted from the stacker before any present,
    ``unknown`` those of movements settled unknown.
    """

    presented: int = 0
    rejected: int = 0
    distributed: int = 0
    unknown: int = 0
    stacked: int = 0
    transport: int = 0
    retracted: int = 0


@dataclass(frozen=True, slots=True)
class InCounts:
    """Notes that came into a unit (XFS4IoT ``count.in``)."""

    deposited: int = 0
    retracted: int = 0
    rejected: int = 0
    transport: int = 0
    unknown: int = 0


@dataclass(frozen=True, slots=True)
class CashUnit:
    """One cash unit with its counts, as `CashDispenser.cash_units` reports it.

    Attributes:
        info: its configuration.
        status: its physical state.
        initial: the count set at the last exchange (or recount).
        count: ``initial + in - out`` from the ledger; notes of unknown movements excluded.
        out: where its notes went.
        in_: what came in.
        replenishment: its fill state against ``low_threshold``/``high_threshold`` (or
            its sensors where no threshold is set).
        low_threshold: at or below this count the unit is ``low``; ``None``: none.
        high_threshold: at or above this count the unit is ``high``; ``None``: none.
    """

    info: CashUnitInfo
    status: UnitStatus
    initial: int
    count: int
    out: OutCounts
    in_: InCounts
    replenishment: ReplenishmentStatus
    low_threshold: int | None = None
    high_threshold: int | None = None

    @property
    def id(self) -> str:
        return self.info.id


# --- what the app gets ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Denomination:
    """Notes per unit that make an amount (XFS4IoT ``denomination``).

    Attributes:
        amount: the total.
        counts: ``{unit id: notes}``; units that give nothing are left out.
    """

    amount: Money
    counts: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "counts", counts_mapping(self.counts, "denomination"))

    @property
    def notes(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True, slots=True)
class Dispensed:
    """What a dispense did.

    Attributes:
        amount: the value of the notes dispensed (to the stacker, or to the exit on a
            device with no stacker).
        counts: ``{unit id: notes}`` dispensed.
        rejected: ``{unit id: notes}`` diverted to the reject unit during the pick.
    """

    amount: Money
    counts: Mapping[str, int]
    rejected: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "counts", counts_mapping(self.counts, "dispensed"))
        object.__setattr__(self, "rejected", counts_mapping(self.rejected, "rejected"))


@dataclass(frozen=True, slots=True)
class PresentStatus:
    """XFS4IoT ``GetPresentStatus``: the last dispense, for disputes.

    Attributes:
        state: whether its notes were presented.
        denomination: the notes of the last dispense (``None`` before any).
        taken: the customer took them (``None`` when the device cannot tell).
    """

    state: PresentState
    denomination: Denomination | None = None
    taken: bool | None = None


@dataclass(frozen=True, slots=True)
class CashDispenserStatus:
    """The dispenser's status (XFS4IoT common + CashDispenser + CashManagement).

    Attributes:
        device: the common device state.
        stacker: the intermediate stacker.
        shutter: the output shutter.
        transport: notes in the transport.
        exit_items: notes at the exit (``None``: the device cannot tell).
        safe_door_open: the safe door is open (cash commands refused).
        exchange_active: an exchange (replenishment) is under way; set by the service.
    """

    device: DeviceState = DeviceState.ONLINE
    stacker: StackerState = StackerState.EMPTY
    shutter: ShutterState = ShutterState.CLOSED
    transport: TransportState = TransportState.EMPTY
    exit_items: bool | None = False
    safe_door_open: bool = False
    exchange_active: bool = False


@dataclass(frozen=True, slots=True)
class CashDispenserCapabilities:
    """What the dispenser can do.

    Attributes:
        max_dispense_items: the most notes one dispense may hold.
        intermediate_stacker: dispensed notes wait in a stacker until presented; without
            one they go straight to the exit.
        shutter: it has a shutter it opens to present.
        items_taken_sensor: it senses the customer taking the notes (`ItemsTaken`).
        retract_areas: where `retract` may put notes; empty: no retract.
        reject: it can move the stacker's notes to the reject unit.
        count: it can count a unit by dispensing it to the reject unit.
        test_cash_units: it can test its units by picking a note from each.
        knows_operations: after a restart it can tell what an interrupted operation did
            (`CashDispenserBackend.operation`), so nothing is left ``unknown``.
        dispense_to: where dispensed notes go: `STACKER`, `EXIT` or `CUSTOMER` (a
            dispenser that hands notes straight out, like the LCDM family).
    """

    max_dispense_items: int = 100
    intermediate_stacker: bool = True
    shutter: bool = True
    items_taken_sensor: bool = True
    retract_areas: frozenset[RetractArea] = frozenset({RetractArea.RETRACT, RetractArea.REJECT})
    reject: bool = True
    count: bool = True
    test_cash_units: bool = True
    knows_operations: bool = True
    dispense_to: str = STACKER

    def features(self) -> frozenset[str]:
        """The capability features the dispenser has, named as in `CASH_FEATURES`."""
        has = {
            "dispense": True,
            "stacker": self.intermediate_stacker,
            "present": self.dispense_to == STACKER,
            "shutter": self.shutter,
            "items_taken_sensor": self.items_taken_sensor,
            "retract": bool(self.retract_areas),
            "reject": self.reject,
            "count": self.count,
            "test_cash_units": self.test_cash_units,
            "knows_operations": self.knows_operations,
        }
        return frozenset(name for name, present in has.items() if present)


#: The CashDispenser capability features (see `CashDispenserCapabilities.features`):
#: ``dispense`` (every dispenser), ``stacker`` (an intermediate stacker), ``present``
#: (notes wait for `present`), ``shutter``, ``items_taken_sensor``, ``retract``,
#: ``reject``, ``count``, ``test_cash_units``, ``knows_operations`` (reconciles every
#: interrupted operation).
CASH_FEATURES: frozenset[str] = frozenset(
    {
        "dispense",
        "stacker",
        "present",
        "shutter",
        "items_taken_sensor",
        "retract",
        "reject",
        "count",
        "test_cash_units",
        "knows_operations",
    }
)
