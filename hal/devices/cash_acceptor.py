"""The cash acceptor: public interface, events and backend contract (and, re-exported
from `hal.devices.cash_in_model`, its data model).

One device class covers XFS4IoT CashAcceptor (note types, the cash-in transaction:
start, cash-in, end, rollback, status), the cash-in half of CashManagement (retract,
reset) and Storage (cash units and their exchange). Apps program against
`CashAcceptor`; drivers and simulator models implement `CashAcceptorBackend`;
`hal.devices.cash_acceptor_service.CashAcceptorService` joins the two and keeps the
books in the ledger, as the cash dispenser's service does: every note taken in is
journalled before the device acts and settled from its report after.

A recycler is one device seen through two interfaces: its `CashAcceptor` stores notes
in recycling units and its `CashDispenser` pays them out; both services keep their
books under one ledger device name, so a note deposited is at once a note the
dispenser counts (see docs/cash_in.md).
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import ClassVar, Protocol

from hal.device import BackendListener, Device
from hal.devices.cash_dispenser import CashUnitThreshold, ItemsTaken
from hal.devices.cash_in_model import (
    ACCEPTOR_POSITIONS,
    CASH_IN_FEATURES,
    ESCROW,
    AcceptedNote,
    CashAcceptorCapabilities,
    CashAcceptorStatus,
    CashInContents,
    CashInEnded,
    CashInLimits,
    CashInReport,
    CashInResult,
    CashInState,
    CashInStatus,
    NoteLevel,
    NoteReaderState,
    NoteType,
    RefuseReason,
    credited,
)
from hal.devices.cash_model import (
    CUSTOMER,
    EXIT,
    TRANSPORT,
    CashUnit,
    CashUnitInfo,
    CashUnitType,
    MoveReport,
    OperationRecord,
    RetractArea,
    UnitSensor,
)
from hal.events import Event
from hal.money import Money

__all__ = [
    "ACCEPTOR_POSITIONS",
    "CASH_IN_FEATURES",
    "CUSTOMER",
    "ESCROW",
    "EXIT",
    "TRANSPORT",
    "AcceptedNote",
    "CashAcceptor",
    "CashAcceptorBackend",
    "CashAcceptorCapabilities",
    "CashAcceptorStatus",
    "CashInContents",
    "CashInEnded",
    "CashInLimits",
    "CashInReport",
    "CashInResult",
    "CashInState",
    "CashInStatus",
    "CashUnit",
    "CashUnitInfo",
    "CashUnitThreshold",
    "CashUnitType",
    "InputRefuse",
    "InsertItems",
    "ItemsInserted",
    "ItemsTaken",
    "NoteLevel",
    "NoteReaderState",
    "NoteType",
    "RefuseReason",
    "SubCashIn",
    "credited",
]


# --- events ----------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class InsertItems(Event):
    """The device is ready: the customer may insert notes now (XFS4IoT
    ``CashAcceptor.InsertItemsEvent``), sent by `cash_in` before it waits."""

    xfs_name: ClassVar[str] = "CashAcceptor.InsertItemsEvent"


@dataclass(frozen=True, kw_only=True)
class ItemsInserted(Event):
    """The customer put notes into the input (XFS4IoT ``ItemsInsertedEvent``).

    Attributes:
        position: the input position.
    """

    xfs_name: ClassVar[str] = "CashManagement.ItemsInsertedEvent"
    unsolicited: ClassVar[bool] = True
    position: str = "input"


@dataclass(frozen=True, kw_only=True)
class InputRefuse(Event):
    """Items were refused and given back (XFS4IoT ``CashAcceptor.InputRefuseEvent``).

    Attributes:
        reason: why.
        count: how many items for that reason in this cash-in.
    """

    xfs_name: ClassVar[str] = "CashAcceptor.InputRefuseEvent"
    reason: RefuseReason = RefuseReason.INVALID_BILL
    count: int = 1


@dataclass(frozen=True, kw_only=True)
class SubCashIn(Event):
    """Notes reached the escrow during a `cash_in` (XFS4IoT
    ``CashAcceptor.SubCashInEvent``).

    Attributes:
        accepted: ``{item: notes}`` credited.
        retained: ``{item: notes}`` taken as counterfeit or suspect.
    """

    xfs_name: ClassVar[str] = "CashAcceptor.SubCashInEvent"
    accepted: Mapping[str, int] = field(default_factory=dict)
    retained: Mapping[str, int] = field(default_factory=dict)


# --- the public interface --------------------------------------------------------------


class CashAcceptor(Device[CashAcceptorStatus, CashAcceptorCapabilities]):
    """A cash acceptor (bill validator, deposit module or recycler) with its cash units.

    Every operation is a command: queued FIFO behind the device's other commands, with
    a ``timeout`` in seconds counted from the call (``None`` waits for ever). A cancel
    or a timeout during `cash_in` stops the device taking notes: the notes already in
    the escrow stay there, journalled, and the transaction stays open.

    The cash-in flow (XFS4IoT): `cash_in_start` opens a transaction (with optional
    limits); `cash_in` (any number of times) takes the customer's notes into the
    escrow, giving back at once what it refuses (`InputRefuse`); then `cash_in_end`
    stores the escrow's notes in the units, or `cash_in_rollback` gives them back
    (counterfeit and suspect notes excepted: they are retained). `retract` takes back
    notes given back that the customer left at the exit; `reset` clears the device.
    The transaction ends with `cash_in_end` (even when it fails), `cash_in_rollback`,
    `retract` or `reset`. The escrow's notes and the transaction's note list survive a
    hardware failure and a restart of the HAL: `get_cash_in_status` still reports them
    and `cash_in_end` / `cash_in_rollback` still settle them.
    """

    interface = "CashAcceptor"

    @abstractmethod
    async def note_types(self) -> tuple[NoteType, ...]:
        """The notes the reader recognises, each with whether it is accepted now;
        bypasses the queue."""

    @abstractmethod
    async def configure_note_types(
        self, enabled: Iterable[str], *, timeout: float | None = None
    ) -> tuple[NoteType, ...]:
        """Accept only these notes from now on.

        Args:
            enabled: note items (``CNY:10000``) of `note_types`; the others are refused.

        Raises:
            InvalidData: an item the reader does not recognise.
            CashInActive: a transaction is open. ExchangeActive.
        """

    @abstractmethod
    async def cash_in_start(
        self,
        *,
        max_items: int | None = None,
        max_amount: Money | Decimal | int | None = None,
        currency: str | None = None,
        use_recycle_units: bool = True,
        timeout: float | None = None,
    ) -> CashInStatus:
        """Open a cash-in transaction.

        Args:
            max_items: the most notes the whole transaction takes (``None``: no limit);
                more are refused (``limitOverTotalItems``).
            max_amount: the most it credits (`Money`, or major units `Decimal` /
                minor units ``int`` with ``currency``); a note that would pass it is
                refused (``limitOverAmount``).
            currency: the ISO 4217 code when ``max_amount`` is not `Money`.
            use_recycle_units: `cash_in_end` may store fit notes in recycling units.

        Raises:
            CashInActive: one is open already. ExchangeActive, SafeDoorOpen.
            UnsupportedOperation: a limit the device cannot keep.
            TypeError: a float amount. InvalidData: a negative limit.
        """

    @abstractmethod
    async def cash_in(self, *, timeout: float | None = None) -> CashInResult:
        """Take the customer's notes into the escrow.

        Publishes `InsertItems`, waits for notes, then takes what the escrow and the
        limits allow (`SubCashIn`), refusing the rest (`InputRefuse` per reason).

        Raises:
            NoCashInActive: no transaction is open. ExchangeActive, SafeDoorOpen.
            TooManyItems: the escrow is full or the transaction's item limit is reached:
                end or roll back first.
            MediaJam, CashUnitError: the device stopped short; notes already in the
                escrow stay in the transaction's note list.
        """

    @abstractmethod
    async def cash_in_end(self, *, timeout: float | None = None) -> CashInEnded:
        """Store the escrow's notes in the units and end the transaction.

        Fit notes go to a recycling unit of their value when the transaction allows
        it and the unit has room; other credited notes to the cash-in unit; retained
        notes to the retract unit (or the cash-in unit).

        Raises:
            NoCashInActive. NoItems: the escrow is empty (the transaction ends anyway).
            PositionNotEmpty: the escrow holds a note the device refused but could not
                give back (never credited); roll back to return it (the transaction
                stays open).
            MediaJam, CashUnitError: stopped short (the transaction ends; what was
                stored is in the books, the rest where the device left it); the error's
                ``ended`` attribute is the `CashInEnded` of what was stored and credited.
        """

    @abstractmethod
    async def cash_in_rollback(self, *, timeout: float | None = None) -> CashInEnded:
        """Give the escrow's notes back (retained notes excepted) and end the transaction.

        Raises:
            NoCashInActive. NoItems: the escrow is empty.
            UnsupportedOperation: the device has no escrow.
            MediaJam: stopped short; the error's ``ended`` attribute is the `CashInEnded`
                of what was given back.
        """

    @abstractmethod
    async def get_cash_in_status(self, *, timeout: float | None = None) -> CashInStatus:
        """The current or last cash-in transaction."""

    @abstractmethod
    async def retract(
        self, area: RetractArea = RetractArea.RETRACT, *, timeout: float | None = None
    ) -> int:
        """Take back notes given back that the customer left at the exit (ends an open
        transaction with status ``retract``).

        Returns:
            The notes retracted.

        Raises:
            NoItems: nothing at the exit. UnsupportedOperation: not one of the
            device's ``retract_areas``.
        """

    @abstractmethod
    async def cash_units(self) -> tuple[CashUnit, ...]:
        """Every cash unit with its counts from the ledger; bypasses the queue."""

    @abstractmethod
    async def start_exchange(self, *, timeout: float | None = None) -> tuple[CashUnit, ...]:
        """Start a replenishment: cash commands are refused until `end_exchange`.

        Raises:
            CashInActive: a transaction is open. TransactionActive: notes are in the
            escrow, transport or exit.
        """

    @abstractmethod
    async def set_cash_unit(
        self,
        unit: str,
        *,
        initial: int | None = None,
        thresholds: tuple[int | None, int | None] | None = None,
        timeout: float | None = None,
    ) -> CashUnit:
        """Set a unit's counted notes and/or its ``(low, high)`` thresholds (during an
        exchange; see `hal.devices.cash_dispenser.CashDispenser.set_cash_unit`)."""

    @abstractmethod
    async def end_exchange(self, *, timeout: float | None = None) -> tuple[CashUnit, ...]:
        """End the replenishment; the units as they are now."""

    @abstractmethod
    async def reset(self, *, timeout: float | None = None) -> None:
        """Reset the device: notes in the escrow and transport go to the retract unit
        (the cash-in unit when there is none), notes at the exit are retracted; an open
        transaction ends with status ``reset``; every move is journalled."""


# --- the backend contract --------------------------------------------------------------


class CashAcceptorBackend(Protocol):
    """What a driver or a simulator model implements for a cash acceptor.

    As for the dispenser (`hal.devices.cash_dispenser.CashDispenserBackend`): the
    service calls one method at a time and does validation, limits, the transaction's
    state, queueing, timeouts, events and bookkeeping; the backend drives the device
    and reports every note it moved, the notes of an operation that stopped short
    included (with its `Fault`). It raises only when it cannot tell what happened
    (`ConnectionLost`, `HalTimeout`). Every moving operation carries a ``token``.

    Cancellation arrives as `asyncio.CancelledError` inside the awaited method: the
    backend stops taking notes (or brings the move to an end) and returns normally
    with what moved; the service then re-raises.

    The events a backend sends through its listener: `ItemsInserted` when the
    customer puts notes into the input, `ItemsTaken` when it senses the customer took
    notes given back at the exit; and status changes.
    """

    async def open(self, listener: BackendListener[CashAcceptorStatus]) -> None:
        """Connect and start reporting to ``listener``."""

    async def close(self) -> None:
        """Disconnect; stop reporting. A note held in a validator's escrow stays held."""

    def capabilities(self) -> CashAcceptorCapabilities:
        """What the device can do (known after `open()`)."""

    def units(self) -> tuple[CashUnitInfo, ...]:
        """The cash units fitted (after `open()`): ``cashIn`` (the cash box),
        ``recycling``, ``retract``... Ids are never one of `ACCEPTOR_POSITIONS`."""

    def note_types(self) -> tuple[NoteType, ...]:
        """The notes the reader recognises, with the device's own enabled flags."""

    async def configure(self, enabled: frozenset[str]) -> None:
        """Accept only ``enabled`` items (the service calls this at open with its own
        configuration, and on `CashAcceptor.configure_note_types`)."""

    async def get_status(self) -> CashAcceptorStatus:
        """The device's status now (``cash_in_active`` and ``exchange_active`` are the
        service's to set)."""

    async def sensors(self) -> tuple[UnitSensor, ...]:
        """What the device senses of each unit now."""

    async def cash_in(self, limits: CashInLimits, token: int) -> CashInReport:
        """Open the input, wait for the customer's notes and take them into the escrow
        within ``limits``; refused notes go back to the customer at once.

        Returns once the customer's notes are in (the input is empty again after at
        least one note, or the escrow is full); a cancel stops it between notes.
        Each accepted note is a ``customer -> escrow`` move of its item (a jam: to
        ``transport``, with a `Fault`).
        """

    async def cash_in_end(self, use_recycle_units: bool, token: int) -> MoveReport:
        """Store the escrow's notes: ``escrow -> unit`` moves by item (the routing rule
        of `CashAcceptor.cash_in_end`)."""

    async def rollback(self, token: int) -> MoveReport:
        """Give the escrow's notes back: ``escrow -> exit`` (or ``-> customer``, per
        `CashAcceptorCapabilities.return_to`); retained notes ``escrow -> retract``."""

    async def retract(self, area: RetractArea, token: int) -> MoveReport:
        """Move the exit's notes to ``area``'s unit."""

    async def reset(self, token: int) -> MoveReport:
        """Clear the escrow and transport (to the retract or cash-in unit) and the exit."""

    async def contents(self) -> CashInContents:
        """What the device senses in its positions now (for reconciling)."""

    async def operation(self, token: int) -> OperationRecord | None:
        """What the operation ``token`` did (its report a `CashInReport` for a cash-in);
        ``None`` when the device cannot tell. Waits for one still under way to end."""

    async def exchange(self, active: bool) -> None:
        """An exchange starts (``True``) or ends (``False``)."""
