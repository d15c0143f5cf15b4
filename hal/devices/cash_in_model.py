"""The cash acceptor's data model: note types, note levels, the cash-in transaction,
what a backend reports, status and capabilities.

Names follow XFS4IoT CashAcceptor and CashManagement. The cash units, their counts
and the `Move` / `MoveReport` / `OperationRecord` of the cash-out side are shared
(`hal.devices.cash_model`): a recycler's units are one set of ledger locations seen by
both its `CashAcceptor` and its `CashDispenser`.

Where notes can be on the way in: the `CUSTOMER` (outside, before they are inserted
and after they are returned), `ESCROW` (the intermediate stacker: accepted, not yet
stored; a single-note validator's escrow holds one), `TRANSPORT` (a jam), `EXIT` (the
output position: notes returned and not yet taken) and the cash units.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

from hal.device import DeviceState
from hal.devices.cash_model import (
    CUSTOMER,
    EXIT,
    TRANSPORT,
    RetractArea,
    ShutterState,
    StackerState,
    TransportState,
    note_item,
    parse_note_item,
)
from hal.devices.cash_reports import MoveReport
from hal.errors import InvalidData
from hal.money import Money

__all__ = [
    "ACCEPTOR_POSITIONS",
    "BILL_VALIDATOR",
    "CASH_IN_FEATURES",
    "CUSTOMER",
    "ESCROW",
    "EXIT",
    "TRANSPORT",
    "AcceptedNote",
    "CashAcceptorCapabilities",
    "CashAcceptorStatus",
    "CashInContents",
    "CashInEnded",
    "CashInLimits",
    "CashInReport",
    "CashInResult",
    "CashInState",
    "CashInStatus",
    "NoteLevel",
    "NoteReaderState",
    "NoteType",
    "RefuseReason",
    "credited",
]

#: The escrow (XFS4IoT intermediate stacker of a cash-in): notes accepted and not yet
#: stored, which `cash_in_rollback` can still give back.
ESCROW = "escrow"
#: Every position of a cash acceptor; a cash unit id may not be one of them.
ACCEPTOR_POSITIONS: frozenset[str] = frozenset({ESCROW, TRANSPORT, EXIT, CUSTOMER})


class NoteLevel(StrEnum):
    """How the note reader classified a note (XFS4IoT note levels).

    ``unrecognized`` notes are refused and given back at once; ``counterfeit`` and
    ``suspect`` notes are taken in but never credited nor given back (they go to the
    retract unit, or the cash-in unit when there is none); ``fit`` and ``unfit`` notes
    are credited; only ``fit`` notes go to recycling units.
    """

    UNRECOGNIZED = "unrecognized"
    COUNTERFEIT = "counterfeit"
    SUSPECT = "suspect"
    UNFIT = "unfit"
    FIT = "fit"

    @property
    def credited(self) -> bool:
        """Whether a note of this level counts towards the customer's deposit."""
        return self in (NoteLevel.FIT, NoteLevel.UNFIT)

    @property
    def retained(self) -> bool:
        """Whether a note of this level is kept and never given back."""
        return self in (NoteLevel.COUNTERFEIT, NoteLevel.SUSPECT)


class RefuseReason(StrEnum):
    """Why items were refused (XFS4IoT ``InputRefuseEvent.reason``)."""

    CASH_IN_UNIT_FULL = "cashInUnitFull"
    INVALID_BILL = "invalidBill"
    NO_BILLS_TO_DEPOSIT = "noBillsToDeposit"
    DEPOSIT_FAILURE = "depositFailure"
    COMMON_INPUT_COMPONENT_FAILURE = "commonInputComponentFailure"
    STACKER_FULL = "stackerFull"
    FOREIGN_ITEMS_DETECTED = "foreignItemsDetected"
    INVALID_BUNCH = "invalidBunch"
    COUNTERFEIT = "counterfeit"
    LIMIT_OVER_TOTAL_ITEMS = "limitOverTotalItems"
    LIMIT_OVER_AMOUNT = "limitOverAmount"


class CashInState(StrEnum):
    """How the last cash-in transaction stands (XFS4IoT ``GetCashInStatus.status``)."""

    OK = "ok"
    ROLLBACK = "rollback"
    ACTIVE = "active"
    RETRACT = "retract"
    UNKNOWN = "unknown"
    RESET = "reset"


class NoteReaderState(StrEnum):
    """The banknote reader (XFS4IoT ``banknoteReader``)."""

    OK = "ok"
    INOPERABLE = "inoperable"
    UNKNOWN = "unknown"


def _counts(counts: Mapping[str, int], what: str) -> Mapping[str, int]:
    checked: dict[str, int] = {}
    for key, count in counts.items():
        if not isinstance(key, str) or not key:
            raise InvalidData(f"{what}: a key must be a non-empty string, got {key!r}")
        if isinstance(count, bool) or not isinstance(count, int):
            raise TypeError(f"{what}: the count of {key} must be an int, got {count!r}")
        if count < 0:
            raise InvalidData(f"{what}: the count of {key} is negative ({count})")
        if count:
            checked[key] = count
    return MappingProxyType(checked)


# --- note types ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NoteType:
    """A note the reader recognises (XFS4IoT ``GetBankNoteTypes`` item).

    Attributes:
        currency: ISO 4217 code.
        value: the note's value in minor units.
        enabled: the device accepts it now (`CashAcceptor.configure_note_types`).
    """

    currency: str
    value: int
    enabled: bool = True

    def __post_init__(self) -> None:
        if isinstance(self.value, bool) or not isinstance(self.value, int) or self.value <= 0:
            raise InvalidData(f"a note's value is a positive int of minor units: {self.value!r}")
        if len(self.currency) != 3 or not self.currency.isalpha() or not self.currency.isupper():
            raise InvalidData(f"a currency is an ISO 4217 code, got {self.currency!r}")

    @property
    def item(self) -> str:
        """The ledger item of this note (``CNY:10000``)."""
        return note_item(self.currency, self.value)

    @property
    def money(self) -> Money:
        """The note's value as `Money`."""
        return Money(self.value, self.currency)


def credited(notes: Mapping[str, int]) -> dict[str, Money]:
    """The value of ``{item: notes}`` by currency (``{"CNY": Money(...)}``)."""
    out: dict[str, Money] = {}
    for item, count in notes.items():
        currency, value = parse_note_item(item)
        amount = Money(value * count, currency)
        out[currency] = out[currency] + amount if currency in out else amount
    return out


# --- what the backend is asked and reports -------------------------------------------------


@dataclass(frozen=True, slots=True)
class CashInLimits:
    """What one `CashAcceptorBackend.cash_in` may accept into the escrow.

    Attributes:
        max_items: the most notes to accept (the escrow's room, or what is left of the
            transaction's item limit, whichever is smaller); further notes are refused
            (``stackerFull`` or ``limitOverTotalItems``).
        max_amount: the most credited value to accept, per currency, what is left of
            the transaction's amount limit (``None``: no limit); a note that would pass
            it is refused (``limitOverAmount``).
        enabled: the items (``CNY:10000``) accepted now; any other note is refused
            (``invalidBill``).
        items_limited: ``True`` when ``max_items`` comes from the transaction's limit
            (refusals say ``limitOverTotalItems``), ``False`` when from the escrow's
            room (``stackerFull``).
    """

    max_items: int
    enabled: frozenset[str]
    max_amount: Mapping[str, Money] | None = None
    items_limited: bool = False

    def refusal(
        self,
        item: str | None,
        taken: int = 0,
        credited: Mapping[str, int] | None = None,
        *,
        counts: bool = True,
    ) -> RefuseReason | None:
        """Why these limits refuse one more note (``None``: they take it).

        Args:
            item: the note's item (``None``: a note not recognised).
            taken: notes this `cash_in` already took into the escrow.
            credited: the value (minor units) by currency already credited by it.
            counts: the note would be credited (``False`` for a counterfeit or suspect
                note kept: no amount limit applies to it).

        Returns:
            ``invalidBill`` for a note not recognised or not enabled; past ``max_items``
            ``limitOverTotalItems`` when the limit is the transaction's
            (``items_limited``), else ``stackerFull`` (the escrow's room);
            ``limitOverAmount`` for a note that would pass its currency's amount limit.
        """
        if item is None or item not in self.enabled:
            return RefuseReason.INVALID_BILL
        if taken >= self.max_items:
            if self.items_limited:
                return RefuseReason.LIMIT_OVER_TOTAL_ITEMS
            return RefuseReason.STACKER_FULL
        if counts and self.max_amount is not None:
            currency, value = parse_note_item(item)
            most = self.max_amount.get(currency)
            so_far = credited.get(currency, 0) if credited is not None else 0
            if most is not None and so_far + value > most.minor:
                return RefuseReason.LIMIT_OVER_AMOUNT
        return None


@dataclass(frozen=True, slots=True)
class AcceptedNote:
    """One note taken into the escrow, with its classification."""

    item: str
    level: NoteLevel = NoteLevel.FIT


@dataclass(frozen=True, slots=True)
class CashInReport(MoveReport):
    """What one `cash_in` did: the notes moved (``customer -> escrow``, by item; a jam
    leaves one in ``transport``), each accepted note's level, and the refusals.

    A report of the other acceptor operations is a plain `MoveReport`.

    Attributes:
        notes: every note that reached the escrow, in order, with its level
            (counterfeit and suspect notes included: they are in the escrow too).
        refused: one reason per refused item (given back to the customer at once, so
            never in the books).
    """

    notes: tuple[AcceptedNote, ...] = ()
    refused: tuple[RefuseReason, ...] = ()


@dataclass(frozen=True, slots=True)
class CashInContents:
    """What the device senses in its positions now (``None``: cannot tell).

    Attributes:
        escrow: ``{item: notes}`` in the escrow (a validator reports the denomination
            it holds); ``None`` when the device cannot tell.
        transport: notes in the transport.
        exit: notes at the output position.
        taken: the customer took the last notes given back (``None``: cannot tell).
    """

    escrow: Mapping[str, int] | None = None
    transport: int | None = None
    exit: int | None = None
    taken: bool | None = None


# --- what the app gets -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CashInResult:
    """What one `CashAcceptor.cash_in` took into the escrow.

    Attributes:
        accepted: ``{item: notes}`` credited (fit and unfit) by this cash-in.
        retained: ``{item: notes}`` taken as counterfeit or suspect (never credited,
            never given back).
        levels: ``{level: notes}`` of every note taken into the escrow.
        refused: ``{reason: items}`` given back at once.
        escrow: notes in the escrow now (this cash-in's and earlier ones').
    """

    accepted: Mapping[str, int] = field(default_factory=dict)
    retained: Mapping[str, int] = field(default_factory=dict)
    levels: Mapping[NoteLevel, int] = field(default_factory=dict)
    refused: Mapping[RefuseReason, int] = field(default_factory=dict)
    escrow: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "accepted", _counts(self.accepted, "accepted"))
        object.__setattr__(self, "retained", _counts(self.retained, "retained"))
        object.__setattr__(
            self, "levels", MappingProxyType({NoteLevel(k): v for k, v in self.levels.items()})
        )
        object.__setattr__(
            self, "refused", MappingProxyType({RefuseReason(k): v for k, v in self.refused.items()})
        )

    @property
    def amounts(self) -> dict[str, Money]:
        """The value credited, by currency."""
        return credited(self.accepted)


@dataclass(frozen=True, slots=True)
class CashInEnded:
    """How a cash-in transaction ended (`cash_in_end`, `cash_in_rollback`).

    Attributes:
        stored: ``{unit id: {item: notes}}`` stored in the units (for `cash_in_end`;
            for a rollback, the retained notes only).
        returned: ``{item: notes}`` given back to the customer (a rollback).
        credited: the value deposited, by currency (empty for a rollback).
    """

    stored: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    returned: Mapping[str, int] = field(default_factory=dict)
    credited: Mapping[str, Money] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(
            self,
            "stored",
            MappingProxyType({u: _counts(c, f"stored in {u}") for u, c in self.stored.items()}),
        )
        object.__setattr__(self, "returned", _counts(self.returned, "returned"))
        object.__setattr__(self, "credited", MappingProxyType(dict(self.credited)))

    def notes(self, unit: str | None = None) -> int:
        """Notes stored (in ``unit``, or in every unit)."""
        return sum(sum(c.values()) for u, c in self.stored.items() if unit is None or u == unit)


@dataclass(frozen=True, slots=True)
class CashInStatus:
    """XFS4IoT ``GetCashInStatus``: the last (or current) cash-in transaction.

    Attributes:
        status: how it stands.
        refused: items refused during it.
        notes: ``{item: notes}`` credited during it (its note number list; kept through
            a hardware failure and a restart of the HAL).
        retained: ``{item: notes}`` taken as counterfeit or suspect during it.
        escrow: notes in the escrow now.
    """

    status: CashInState = CashInState.UNKNOWN
    refused: int = 0
    notes: Mapping[str, int] = field(default_factory=dict)
    retained: Mapping[str, int] = field(default_factory=dict)
    escrow: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "notes", _counts(self.notes, "notes"))
        object.__setattr__(self, "retained", _counts(self.retained, "retained"))


@dataclass(frozen=True, slots=True)
class CashAcceptorStatus:
    """The acceptor's status (XFS4IoT common + CashAcceptor + CashManagement).

    Attributes:
        device: the common device state.
        escrow: the intermediate stacker (``notSupported`` without an escrow).
        note_reader: the banknote reader.
        transport: notes in the transport.
        shutter: the input/output shutter (``notSupported`` without one).
        exit_items: notes at the output position (``None``: cannot tell).
        safe_door_open: the safe door is open (cash commands refused).
        cash_in_active: a cash-in transaction is open; set by the service.
        exchange_active: an exchange is under way; set by the service.
    """

    device: DeviceState = DeviceState.ONLINE
    escrow: StackerState = StackerState.EMPTY
    note_reader: NoteReaderState = NoteReaderState.OK
    transport: TransportState = TransportState.EMPTY
    shutter: ShutterState = ShutterState.NOT_SUPPORTED
    exit_items: bool | None = False
    safe_door_open: bool = False
    cash_in_active: bool = False
    exchange_active: bool = False


@dataclass(frozen=True, slots=True)
class CashAcceptorCapabilities:
    """What the acceptor can do.

    Attributes:
        max_cash_in_items: notes the escrow holds (XFS4IoT ``maxCashInItems``); a
            bill validator's escrow holds ``1``.
        escrow: notes wait in an escrow until `cash_in_end` or `cash_in_rollback`
            (without one, notes go straight to the units and rollback is unsupported).
        shutter: it has a shutter at its input/output.
        items_taken_sensor: it senses the customer taking notes given back (`ItemsTaken`).
        limit_by_items: it can stop a cash-in at a number of notes.
        limit_by_amount: it can stop a cash-in at an amount.
        recycling: it stores notes in recycling units its dispenser side pays out.
        retract_areas: where `retract` may put notes left at the exit; empty: none.
        return_to: where a rollback puts the escrow's notes: `EXIT` (they wait for the
            customer to take them) or `CUSTOMER` (a bezel the customer pulls them from,
            sensed by nobody).
        classifies: the reader sorts notes into counterfeit and suspect (a bill
            validator only accepts or refuses).
        knows_operations: after a restart it can tell what an interrupted operation did.
        senses_escrow: `CashInContents.escrow` tells what the escrow holds, so an
            interrupted cash-in is reconciled from it even without ``knows_operations``.
    """

    max_cash_in_items: int = 100
    escrow: bool = True
    shutter: bool = False
    items_taken_sensor: bool = True
    limit_by_items: bool = True
    limit_by_amount: bool = True
    recycling: bool = False
    retract_areas: frozenset[RetractArea] = frozenset({RetractArea.RETRACT})
    return_to: str = EXIT
    classifies: bool = True
    knows_operations: bool = True
    senses_escrow: bool = True

    def features(self) -> frozenset[str]:
        """The capability features the acceptor has, named as in `CASH_IN_FEATURES`."""
        has = {
            "cash_in": True,
            "escrow": self.escrow,
            "rollback": self.escrow,
            "shutter": self.shutter,
            "items_taken_sensor": self.items_taken_sensor,
            "limit_by_items": self.limit_by_items,
            "limit_by_amount": self.limit_by_amount,
            "recycling": self.recycling,
            "retract": bool(self.retract_areas),
            "classifies": self.classifies,
            "knows_operations": self.knows_operations,
            "senses_escrow": self.senses_escrow,
        }
        return frozenset(name for name, present in has.items() if present)


#: The CashAcceptor capability features (see `CashAcceptorCapabilities.features`).
CASH_IN_FEATURES: frozenset[str] = frozenset(
    {
        "cash_in",
        "escrow",
        "rollback",
        "shutter",
        "items_taken_sensor",
        "limit_by_items",
        "limit_by_amount",
        "recycling",
        "retract",
        "classifies",
        "knows_operations",
        "senses_escrow",
    }
)

#: What a single-note bill validator can do (the serial validators' usual protocols
#: allow no more, real or simulated): one note in its escrow, stacked or given back through the
#: bezel to the customer; no shutter, no sensor of notes taken, no retract, no sorting
#: into counterfeit and suspect, no record of operations. A recycler's is the same with
#: ``recycling`` (`dataclasses.replace`).
BILL_VALIDATOR: CashAcceptorCapabilities = CashAcceptorCapabilities(
    max_cash_in_items=1,
    escrow=True,
    shutter=False,
    items_taken_sensor=False,
    limit_by_items=True,
    limit_by_amount=True,
    recycling=False,
    retract_areas=frozenset(),
    return_to=CUSTOMER,
    classifies=False,
    knows_operations=False,
    senses_escrow=True,
)
