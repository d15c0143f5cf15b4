"""The cash dispenser: public interface, events and backend contract (and, re-exported
from `hal.devices.cash_model`, its data model).

One device class covers XFS4IoT CashDispenser (denominate, dispense, present, reject,
count, test), the cash-out half of CashManagement (retract, reset, present status) and
Storage (cash units and their exchange). Apps program against `CashDispenser`; drivers
and simulator models implement `CashDispenserBackend`;
`hal.devices.cash_dispenser_service.CashDispenserService` joins the two and keeps the
books: every note's move is journalled in the ledger before the device acts and settled
after it answers, and every count is derived from the ledger.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import ClassVar, Protocol

from hal.device import BackendListener, Device, DeviceState
from hal.devices.cash_model import (
    CUSTOMER,
    EXIT,
    POSITIONS,
    STACKER,
    TRANSPORT,
    CashDispenserCapabilities,
    CashDispenserStatus,
    CashUnit,
    CashUnitInfo,
    CashUnitType,
    Contents,
    Denomination,
    Dispensed,
    Fault,
    InCounts,
    Move,
    MoveReport,
    NoteErrorReason,
    OperationRecord,
    OutCounts,
    PresentState,
    PresentStatus,
    ReplenishmentStatus,
    RetractArea,
    ShutterState,
    StackerState,
    TransportState,
    UnitSensor,
    UnitStatus,
    note_item,
)
from hal.devices.denominate import Mix, MixTable
from hal.events import Event
from hal.money import Money

__all__ = [
    "CUSTOMER",
    "EXIT",
    "POSITIONS",
    "STACKER",
    "TRANSPORT",
    "CashDispenser",
    "CashDispenserBackend",
    "CashDispenserCapabilities",
    "CashDispenserStatus",
    "CashUnit",
    "CashUnitInfo",
    "CashUnitThreshold",
    "CashUnitType",
    "Contents",
    "DelayedDispense",
    "Denomination",
    "DeviceState",
    "Dispensed",
    "Fault",
    "InCounts",
    "IncompleteDispense",
    "IncompleteRetract",
    "ItemsPresented",
    "ItemsTaken",
    "Mix",
    "MixTable",
    "Move",
    "MoveReport",
    "NoteError",
    "NoteErrorReason",
    "OperationRecord",
    "OutCounts",
    "PresentState",
    "PresentStatus",
    "ReplenishmentStatus",
    "RetractArea",
    "ShutterState",
    "StackerState",
    "StartDispense",
    "TransportState",
    "UnitSensor",
    "UnitStatus",
    "note_item",
]


# --- events ----------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class StartDispense(Event):
    """The device started to pick notes (XFS4IoT ``StartDispenseEvent``)."""

    xfs_name: ClassVar[str] = "CashDispenser.StartDispenseEvent"


@dataclass(frozen=True, kw_only=True)
class DelayedDispense(Event):
    """The dispense will start after a delay (XFS4IoT ``DelayedDispenseEvent``).

    Attributes:
        delay: seconds until the device starts.
    """

    xfs_name: ClassVar[str] = "CashDispenser.DelayedDispenseEvent"
    delay: float = 0.0


@dataclass(frozen=True, kw_only=True)
class IncompleteDispense(Event):
    """A dispense stopped short (a jam, an empty unit, a cancel): what was dispensed
    (XFS4IoT ``IncompleteDispenseEvent``).

    Attributes:
        counts: ``{unit id: notes}`` that did reach the stacker (or exit).
        error_code: why it stopped (``mediaJam``, ``cashUnitError``, ``canceled``).
    """

    xfs_name: ClassVar[str] = "CashDispenser.IncompleteDispenseEvent"
    counts: Mapping[str, int] = field(default_factory=dict)
    error_code: str = ""


@dataclass(frozen=True, kw_only=True)
class NoteError(Event):
    """A note was rejected during a pick (XFS4IoT ``CashManagement.NoteErrorEvent``)."""

    xfs_name: ClassVar[str] = "CashManagement.NoteErrorEvent"
    reason: NoteErrorReason = NoteErrorReason.OTHER_NOTE_ERROR


@dataclass(frozen=True, kw_only=True)
class ItemsPresented(Event):
    """Notes are at the exit for the customer (XFS4IoT ``ItemsPresentedEvent``).

    Attributes:
        position: the output position (``exit``).
        count: how many notes.
    """

    xfs_name: ClassVar[str] = "CashManagement.ItemsPresentedEvent"
    unsolicited: ClassVar[bool] = True
    position: str = EXIT
    count: int = 0


@dataclass(frozen=True, kw_only=True)
class ItemsTaken(Event):
    """The customer took the notes at the exit (XFS4IoT ``ItemsTakenEvent``).

    A backend reports it when its sensor sees the exit emptied by the customer; the
    service journals the notes as gone to the customer before it publishes the event.

    Attributes:
        position: the output position (``exit``).
        count: how many notes were taken, when the device counts them (else ``0``).
    """

    xfs_name: ClassVar[str] = "CashManagement.ItemsTakenEvent"
    unsolicited: ClassVar[bool] = True
    position: str = EXIT
    count: int = 0


@dataclass(frozen=True, kw_only=True)
class IncompleteRetract(Event):
    """A retract moved fewer notes than were there (XFS4IoT ``IncompleteRetractEvent``).

    Attributes:
        reason: ``retractFailure``, ``retractAreaFull``, ``foreignItemsDetected`` or
            ``invalidBunch``.
        retracted: notes that did reach the retract area.
        left: notes the device reports left where they were (``None``: unknown).
    """

    xfs_name: ClassVar[str] = "CashManagement.IncompleteRetractEvent"
    reason: str = "retractFailure"
    retracted: int = 0
    left: int | None = None


@dataclass(frozen=True, kw_only=True)
class CashUnitThreshold(Event):
    """A unit crossed a threshold (XFS4IoT ``Storage.StorageThresholdEvent``).

    Attributes:
        unit: the unit's id.
        replenishment: its fill state now.
    """

    xfs_name: ClassVar[str] = "Storage.StorageThresholdEvent"
    unsolicited: ClassVar[bool] = True
    unit: str = ""
    replenishment: ReplenishmentStatus = ReplenishmentStatus.OK


# --- the public interface --------------------------------------------------------------


class CashDispenser(Device[CashDispenserStatus, CashDispenserCapabilities]):
    """A cash dispenser with its cash units.

    Every operation is a command: queued FIFO behind the device's other commands, with
    a ``timeout`` in seconds counted from the call (``None`` waits for ever). Cancelling
    a dispense first settles with the device: notes already picked are journalled and
    reported in an `IncompleteDispense` event, then `asyncio.CancelledError` is raised.

    Amounts are `hal.money.Money`, or a `decimal.Decimal` of major units with a
    currency, or an ``int`` of minor units with a currency; a float is a `TypeError`.

    The cash-out flow: `denominate` (optional), `dispense` (notes to the stacker),
    `present` (to the exit; `ItemsPresented`), then `ItemsTaken` when the customer takes
    them, or `retract` when they do not. `reject` sends the stacker's notes to the reject
    unit instead of presenting them. A device with no stacker dispenses straight to its
    exit (see `CashDispenserCapabilities.dispense_to`).
    """

    interface = "CashDispenser"

    @abstractmethod
    async def denominate(
        self,
        amount: Money | Decimal | int,
        currency: str | None = None,
        *,
        mix: Mix = "fewestNotes",
        timeout: float | None = None,
    ) -> Denomination:
        """Choose the notes that make ``amount``, without moving any.

        Args:
            amount: `Money`, or major units (`Decimal`) / minor units (``int``) with
                ``currency``.
            currency: the ISO 4217 code when ``amount`` is not `Money`.
            mix: ``"fewestNotes"``, ``"equalEmptying"`` or a `MixTable`.
            timeout: seconds.

        Raises:
            TypeError: a float amount.
            InvalidData: a bad amount or currency.
            NotDispensable: no notes make it; TooManyItems: more than one dispense holds.
            ExchangeActive: a replenishment is under way.
        """

    @abstractmethod
    async def dispense(
        self,
        what: Denomination | Money,
        *,
        mix: Mix = "fewestNotes",
        timeout: float | None = None,
    ) -> Dispensed:
        """Pick notes from the units into the stacker (or to the exit).

        Args:
            what: a `Denomination` (notes per unit) or an amount to denominate by ``mix``.
            mix: the mix for an amount.
            timeout: seconds.

        Returns:
            What was dispensed.

        Raises:
            ItemsLeft: notes are still in the stacker or at the exit.
            ExchangeActive, SafeDoorOpen, NotDispensable, TooManyItems.
            MediaJam, CashUnitError: the device stopped short; the error says how many
                notes were dispensed, and `IncompleteDispense` carries the counts.
        """

    @abstractmethod
    async def present(self, *, timeout: float | None = None) -> int:
        """Move the stacker's notes to the exit, opening the shutter.

        Returns:
            The notes presented.

        Raises:
            NoItems: the stacker is empty. ShutterFail, MediaJam.
        """

    @abstractmethod
    async def retract(
        self, area: RetractArea = RetractArea.RETRACT, *, timeout: float | None = None
    ) -> int:
        """Take back notes the customer left at the exit (or in the stacker).

        Returns:
            The notes retracted; an `IncompleteRetract` event if fewer than were there.

        Raises:
            NoItems: nothing to retract. UnsupportedOperation: the area is not one of
            the device's ``retract_areas``.
        """

    @abstractmethod
    async def reject(self, *, timeout: float | None = None) -> int:
        """Send the stacker's notes to the reject unit (instead of presenting them).

        Returns:
            The notes rejected.
        """

    @abstractmethod
    async def get_present_status(self, *, timeout: float | None = None) -> PresentStatus:
        """The last dispense and whether it was presented and taken (for disputes)."""

    @abstractmethod
    async def count(
        self, units: Iterable[str] | None = None, *, timeout: float | None = None
    ) -> Mapping[str, int]:
        """Count units by dispensing all their notes to the reject unit.

        Args:
            units: unit ids; ``None`` for every dispensing unit.

        Returns:
            ``{unit id: notes counted}``.
        """

    @abstractmethod
    async def test_cash_units(self, *, timeout: float | None = None) -> tuple[CashUnit, ...]:
        """Pick one note from each dispensing unit to the reject unit; the units after."""

    @abstractmethod
    async def cash_units(self) -> tuple[CashUnit, ...]:
        """Every cash unit with its counts from the ledger; bypasses the queue."""

    @abstractmethod
    async def start_exchange(self, *, timeout: float | None = None) -> tuple[CashUnit, ...]:
        """Start a replenishment: cash commands are refused until `end_exchange`.

        Raises:
            TransactionActive: notes are in the stacker, transport or exit.
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
        """Set a unit's counted notes and/or its ``(low, high)`` thresholds.

        Args:
            unit: the unit id.
            initial: the notes it holds now (resets its in/out counts); ``None``: keep.
            thresholds: ``(low, high)``, either ``None`` for none; ``None``: keep.

        Raises:
            NoExchangeActive: only during an exchange.
        """

    @abstractmethod
    async def end_exchange(self, *, timeout: float | None = None) -> tuple[CashUnit, ...]:
        """End the replenishment; the units as they are now."""

    @abstractmethod
    async def reset(self, *, timeout: float | None = None) -> None:
        """Reset the device: notes in the transport or stacker go to the reject unit,
        notes left at the exit are retracted; every move is journalled."""


# --- the backend contract --------------------------------------------------------------


class CashDispenserBackend(Protocol):
    """What a driver or a simulator model implements for a cash dispenser.

    The service calls one method at a time and does all validation, denomination,
    queueing, timeouts, events and bookkeeping; the backend drives the device and
    reports, for every operation, each note it moved (`MoveReport`), including the
    notes of an operation that stopped short (with its `Fault`). A backend never
    raises for a fault of the device during an operation: it reports what moved and
    the fault. It raises only when it cannot tell what happened (`ConnectionLost`,
    `HalTimeout`): the service then settles the operation as unknown, or asks
    `operation` on the next open.

    Every moving operation carries a ``token``: a number unique to it in the ledger's
    life. A device that remembers its last operations (`knows_operations`) answers
    `operation(token)` after a restart with what that operation did.

    Cancellation arrives as `asyncio.CancelledError` inside the awaited method: the
    backend must bring the device to a stop and return normally with what moved (the
    `MoveReport` with ``Fault("canceled", ...)``); the service then re-raises.

    The events a backend sends (through the listener given to `open`) are ItemsTaken,
    and DelayedDispense before a dispense the device delays: `ItemsTaken` when the
    device senses the customer took the notes at the exit; `DelayedDispense(delay)`
    from inside `dispense`, before the first note moves, when the device starts it only
    after ``delay`` seconds (the service publishes it stamped with the dispense's
    command id).
    """

    async def open(self, listener: BackendListener[CashDispenserStatus]) -> None:
        """Connect and start reporting to ``listener``."""

    async def close(self) -> None:
        """Disconnect; stop reporting."""

    def capabilities(self) -> CashDispenserCapabilities:
        """What the device can do (known after `open()`)."""

    def units(self) -> tuple[CashUnitInfo, ...]:
        """The cash units fitted, reject and retract units included (after `open()`)."""

    async def get_status(self) -> CashDispenserStatus:
        """The device's status now (``exchange_active`` is the service's to set)."""

    async def sensors(self) -> tuple[UnitSensor, ...]:
        """What the device senses of each unit now."""

    async def dispense(self, counts: Mapping[str, int], token: int) -> MoveReport:
        """Pick ``{unit id: notes}`` (to the stacker, or where `dispense_to` says)."""

    async def present(self, token: int) -> MoveReport:
        """Move the stacker's notes to the exit (opening the shutter)."""

    async def retract(self, area: RetractArea, token: int) -> MoveReport:
        """Move the exit's (or the stacker's) notes to ``area``."""

    async def reject(self, token: int) -> MoveReport:
        """Move the stacker's notes to the reject unit."""

    async def count(self, units: tuple[str, ...], token: int) -> MoveReport:
        """Dispense every note of ``units`` to the reject unit, counting them."""

    async def test_cash_units(self, token: int) -> MoveReport:
        """Pick one note of each dispensing unit to the reject unit."""

    async def reset(self, token: int) -> MoveReport:
        """Clear the transport and stacker (to the reject unit) and the exit (retract)."""

    async def contents(self) -> Contents:
        """What the device senses in its positions now (for reconciling after a restart)."""

    async def operation(self, token: int) -> OperationRecord | None:
        """What the operation ``token`` did; ``None`` when the device cannot tell.

        Waits for an operation still under way to end.
        """

    async def exchange(self, active: bool) -> None:
        """An exchange starts (``True``) or ends (``False``): unlock or lock the units."""
