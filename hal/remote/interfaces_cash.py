"""The CashDispenser over the remote: its payloads, completions and `CASH_DISPENSER`.

XFS4IoT CashDispenser, the cash-out half of CashManagement and Storage, served as one
device (``interface`` ``CashDispenser``). Names follow XFS4IoT: ``CashDispenser.Dispense``,
``CashManagement.Retract``, ``Storage.GetStorage``... Each command calls one method of
`hal.devices.cash_dispenser.CashDispenser` on the server, whose service keeps the books.

Money travels as ``{"minor": int, "currency": "CNY"}`` (never a float); a mix as its
name (``fewestNotes``, ``equalEmptying``) or ``mixTable`` with the table as a JSON object
``{"currency", "values": [...], "rows": [{"amount", "counts": [...]}]}``. Counts per unit
are JSON objects ``{unit id: notes}``. Notes carry no secret: nothing here is hidden.

Every name here is also importable from `hal.remote.interfaces`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from hal.devices.cash_dispenser import (
    CashDispenserCapabilities,
    CashDispenserStatus,
    CashUnit,
    CashUnitThreshold,
    DelayedDispense,
    Denomination,
    Dispensed,
    IncompleteDispense,
    IncompleteRetract,
    ItemsPresented,
    ItemsTaken,
    NoteError,
    PresentStatus,
    RetractArea,
    StartDispense,
)
from hal.devices.denominate import Mix, MixTable
from hal.errors import InvalidData
from hal.money import Money
from hal.remote.interfaces import Command, build_interface

__all__ = [
    "CASH_DISPENSER",
    "RETRACT_COMMAND",
    "STORAGE_COMMANDS",
    "CashUnitsCompletion",
    "CountCompletion",
    "CountPayload",
    "CountsCompletion",
    "DenominatePayload",
    "DispensePayload",
    "MixRow",
    "MixTablePayload",
    "RetractPayload",
    "SetStoragePayload",
    "Thresholds",
    "mix_of",
    "mix_wire",
    "set_storage_route",
]

#: The mixes known by name; a table travels as ``mixTable`` with the table beside it.
NAMED_MIXES: Final = ("fewestNotes", "equalEmptying")
MIX_TABLE: Final = "mixTable"


@dataclass(frozen=True)
class MixRow:
    """One row of a mix table: an amount in minor units and a count per header value."""

    amount: int
    counts: tuple[int, ...]


@dataclass(frozen=True)
class MixTablePayload:
    """An XFS4IoT mix table as JSON (`hal.devices.denominate.MixTable`)."""

    currency: str
    values: tuple[int, ...]
    rows: tuple[MixRow, ...]

    @classmethod
    def of(cls, table: MixTable) -> MixTablePayload:
        rows = tuple(MixRow(amount, tuple(counts)) for amount, counts in table.rows)
        return cls(table.currency, tuple(table.values), rows)

    def table(self) -> MixTable:
        """The `MixTable` (checked by its own constructor: `InvalidData` if unsound)."""
        return MixTable(
            self.currency, self.values, tuple((row.amount, row.counts) for row in self.rows)
        )


def mix_wire(mix: Mix) -> tuple[str, MixTablePayload | None]:
    """The ``mix`` and ``mixTable`` fields for a mix.

    Raises:
        InvalidData: a mix name that is not one of the named mixes.
    """
    if isinstance(mix, MixTable):
        return MIX_TABLE, MixTablePayload.of(mix)
    if mix not in NAMED_MIXES:
        raise InvalidData(f"mix must be one of {', '.join(NAMED_MIXES)} or a MixTable, got {mix!r}")
    return str(mix), None


def mix_of(name: str, table: MixTablePayload | None) -> Mix:
    """The mix the ``mix`` and ``mixTable`` fields stand for (checked on decoding)."""
    if table is not None:
        return table.table()
    if name == "fewestNotes":
        return "fewestNotes"
    return "equalEmptying"


def _check_mix(name: str, table: MixTablePayload | None) -> None:
    if name == MIX_TABLE:
        if table is None:
            raise ValueError("mix 'mixTable' needs a mixTable")
        table.table()  # InvalidData (a ValueError) if the table is unsound
    elif name in NAMED_MIXES:
        if table is not None:
            raise ValueError(f"mix {name!r} takes no mixTable")
    else:
        raise ValueError(f"mix must be one of {', '.join(NAMED_MIXES)} or {MIX_TABLE!r}")


@dataclass(frozen=True)
class DenominatePayload:
    """``CashDispenser.Denominate``: the amount and the mix."""

    amount: Money
    mix: str
    mix_table: MixTablePayload | None

    def __post_init__(self) -> None:
        _check_mix(self.mix, self.mix_table)


def _denominate(payload: DenominatePayload) -> tuple[str, dict[str, Any]]:
    return "denominate", {
        "amount": payload.amount,
        "mix": mix_of(payload.mix, payload.mix_table),
    }


@dataclass(frozen=True)
class DispensePayload:
    """``CashDispenser.Dispense``: a denomination (notes per unit), or an amount to
    denominate by the mix; exactly one of the two."""

    denomination: Denomination | None
    amount: Money | None
    mix: str
    mix_table: MixTablePayload | None

    def __post_init__(self) -> None:
        if (self.denomination is None) == (self.amount is None):
            raise ValueError("give a denomination or an amount, not both nor neither")
        _check_mix(self.mix, self.mix_table)


def _dispense(payload: DispensePayload) -> tuple[str, dict[str, Any]]:
    what = payload.denomination if payload.denomination is not None else payload.amount
    return "dispense", {"what": what, "mix": mix_of(payload.mix, payload.mix_table)}


@dataclass(frozen=True)
class CountCompletion:
    """The notes a present, a retract or a reject moved."""

    count: int


@dataclass(frozen=True)
class RetractPayload:
    """``CashManagement.Retract``: where to (XFS4IoT ``retractArea``)."""

    area: RetractArea


@dataclass(frozen=True)
class CountPayload:
    """``CashDispenser.Count``: the units to count (``null``: every dispensing unit)."""

    units: tuple[str, ...] | None


@dataclass(frozen=True)
class CountsCompletion:
    """``{unit id: notes counted}``."""

    counts: Mapping[str, int]


@dataclass(frozen=True)
class CashUnitsCompletion:
    """Every cash unit with its counts (``Storage.GetStorage`` and the exchange)."""

    units: tuple[CashUnit, ...]


@dataclass(frozen=True)
class Thresholds:
    """A unit's ``(low, high)`` thresholds; ``null``: none."""

    low: int | None
    high: int | None


@dataclass(frozen=True)
class SetStoragePayload:
    """``Storage.SetStorage``: a unit's counted notes and/or thresholds (``null``: keep)."""

    unit: str
    initial: int | None
    thresholds: Thresholds | None


def set_storage_route(payload: SetStoragePayload) -> tuple[str, dict[str, Any]]:
    """The ``set_cash_unit`` call of a ``Storage.SetStorage`` payload (shared with the
    cash acceptor's interface)."""
    t = payload.thresholds
    return "set_cash_unit", {
        "unit": payload.unit,
        "initial": payload.initial,
        "thresholds": None if t is None else (t.low, t.high),
    }


#: ``CashManagement.Retract``, as the cash dispenser and the cash acceptor both carry it.
RETRACT_COMMAND: Final[Command] = Command(
    "CashManagement.Retract", "retract", RetractPayload, CountCompletion, "count"
)

#: The ``Storage`` commands and ``CashManagement.Reset``, the last commands of both the
#: cash dispenser's and the cash acceptor's interface.
STORAGE_COMMANDS: Final[tuple[Command, ...]] = (
    Command(
        "Storage.GetStorage",
        "cash_units",
        completion=CashUnitsCompletion,
        result_field="units",
        queued=False,
    ),
    Command(
        "Storage.StartExchange",
        "start_exchange",
        completion=CashUnitsCompletion,
        result_field="units",
    ),
    Command(
        "Storage.SetStorage",
        "set_cash_unit",
        SetStoragePayload,
        CashUnit,
        route=set_storage_route,
    ),
    Command(
        "Storage.EndExchange",
        "end_exchange",
        completion=CashUnitsCompletion,
        result_field="units",
    ),
    Command("CashManagement.Reset", "reset"),
)


CASH_DISPENSER: Final = build_interface(
    "CashDispenser",
    CashDispenserStatus,
    CashDispenserCapabilities,
    (
        Command(
            "CashDispenser.Denominate",
            "denominate",
            DenominatePayload,
            Denomination,
            route=_denominate,
        ),
        Command("CashDispenser.Dispense", "dispense", DispensePayload, Dispensed, route=_dispense),
        Command(
            "CashDispenser.Present", "present", completion=CountCompletion, result_field="count"
        ),
        RETRACT_COMMAND,
        Command("CashDispenser.Reject", "reject", completion=CountCompletion, result_field="count"),
        Command("CashDispenser.GetPresentStatus", "get_present_status", completion=PresentStatus),
        Command("CashDispenser.Count", "count", CountPayload, CountsCompletion, "counts"),
        Command(
            "CashDispenser.TestCashUnits",
            "test_cash_units",
            completion=CashUnitsCompletion,
            result_field="units",
        ),
        *STORAGE_COMMANDS,
    ),
    (
        StartDispense,
        DelayedDispense,
        IncompleteDispense,
        NoteError,
        ItemsPresented,
        ItemsTaken,
        IncompleteRetract,
        CashUnitThreshold,
    ),
)
