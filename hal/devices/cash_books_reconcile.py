"""`CashBooksReconcile`: the books half of `hal.devices.cash_books_service.CashBooksService`.

`CashBooksService` (what both cash services stand on) is split in two; this is the
part that keeps the books and reconciles them:

- the books: a ledger device name (``books``, the service's name unless given, so a
  recycler's two services keep one set) and the lock of those books
  (`hal.devices.cash_shared.books_lock`), held around every queued command and every
  reconcile;
- the units: their ledger locations, thresholds, fill states and `CashUnitThreshold`;
- the reconcile of pending movements by operation record (rules 4-5 of docs/cash.md),
  and the hooks a subclass fills in for it (positions, unrecorded operations, the
  positions' check).

The moving machinery, `ItemsTaken` and the exchange are in
`hal.devices.cash_books_service`.
"""

from __future__ import annotations

import asyncio
import logging
from abc import abstractmethod
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol, TypeVar

from hal.device import CapsT, StatusT
from hal.devices import cash_books, cash_checks
from hal.devices.cash_dispenser import CashUnitThreshold, ItemsTaken
from hal.devices.cash_journal import ALL, apply_report
from hal.devices.cash_model import (
    CUSTOMER,
    EXIT,
    CashUnit,
    CashUnitInfo,
    MoveReport,
    OperationRecord,
    ReplenishmentStatus,
    UnitSensor,
)
from hal.devices.cash_shared import (
    ACCEPTOR_REASON,
    books_lock,
    in_flight,
    is_acceptor_reason,
)
from hal.errors import ConfigurationError, InvalidData, LedgerError
from hal.ledger import ANY_ITEM, LocationKind, Movement, Outcome
from hal.ledger_service import LedgerService

__all__ = ["CashBooksReconcile"]

# The logger of the service before the split, so log configuration keeps working.
log = logging.getLogger("hal.devices.cash_books_service")

T = TypeVar("T")


class _Backend(Protocol):
    async def open(self, listener: Any) -> None: ...
    async def close(self) -> None: ...
    def units(self) -> tuple[CashUnitInfo, ...]: ...
    async def sensors(self) -> tuple[UnitSensor, ...]: ...
    async def operation(self, token: int) -> OperationRecord | None: ...
    async def exchange(self, active: bool) -> None: ...


class CashBooksReconcile(LedgerService[StatusT, CapsT]):
    """The books half of `CashBooksService` (see there for the arguments); not used
    alone."""

    def __init__(
        self,
        name: str,
        *,
        backend: _Backend,
        ledger: Any,
        books: str | None,
        max_queue: int,
        close_timeout: float,
        thresholds: Mapping[str, tuple[int | None, int | None]] | None,
    ) -> None:
        super().__init__(
            name,
            backend=backend,
            ledger=ledger,
            max_queue=max_queue,
            close_timeout=close_timeout,
        )
        if books is not None and (not isinstance(books, str) or not books):
            raise InvalidData(f"books is a non-empty ledger device name, got {books!r}")
        self._books = books or name
        self._cash_backend = backend
        self._units: dict[str, CashUnitInfo] = {}
        self._held: dict[str, str] = {}
        self._thresholds = {
            u: cash_checks.check_thresholds(t, u) for u, t in (thresholds or {}).items()
        }
        self._sensors: dict[str, UnitSensor] = {}
        self._levels: dict[str, ReplenishmentStatus] = {}
        self._exchange = False
        self._last_token = 0
        self._busy = False
        self._taken_later: list[ItemsTaken] = []

    @property
    def books(self) -> str:
        """The device name this service's movements carry in the ledger."""
        return self._books

    # --- for subclasses ----------------------------------------------------------------

    @property
    @abstractmethod
    def _positions(self) -> tuple[str, ...]:
        """The device's positions inside the machine (kind ``position``)."""

    @abstractmethod
    def _knows_operations(self) -> bool:
        """Whether the backend can tell what an interrupted operation did."""

    #: Whether this service is a cash acceptor's (its movements' reasons start with
    #: `hal.devices.cash_shared.ACCEPTOR_REASON`); each service reconciles only the
    #: pending operations of its own kind (docs/cash_in.md, "Recycler").
    _ACCEPTOR = False

    def _owns(self, movement: Movement) -> bool:
        """Whether ``movement`` is an operation of this service's kind."""
        return is_acceptor_reason(movement.reason) == self._ACCEPTOR

    def _own_reason(self, reason: str) -> str:
        """``reason`` marked as this service's kind (what `_owns` reads back)."""
        if self._ACCEPTOR and not is_acceptor_reason(reason):
            return f"{ACCEPTOR_REASON}: {reason}"
        return reason

    def _own_pending(self) -> list[Movement]:
        """The pending movements this service reconciles (not those in flight here)."""
        flying = in_flight(self.ledger, self._books)
        return [
            m
            for m in self.ledger.pending(self._books)
            if self._owns(m) and (m.command_id is None or m.command_id not in flying)
        ]

    def _foreign_pending(self) -> list[Movement]:
        """The pending movements of the other service on these books."""
        return [m for m in self.ledger.pending(self._books) if not self._owns(m)]

    async def _start_reconcile(self) -> bool:
        """The reconcile at open. Under the lock when it is free; when the other
        service on these books holds it (a cash-in waiting for its customer), open does
        not wait: its own pending operations are reconciled all the same (the other's
        are never touched, nor any token in flight) and the positions are compared at
        the next command. Returns whether it held the lock."""
        lock = self._lock()
        if not lock.locked():
            async with lock:
                await self._reconcile()
            return True
        log.info(
            "%s: the books %r are busy with the other service's command; open reconciles "
            "its own operations only",
            self.name,
            self._books,
        )
        await self._reconcile(positions=False)
        return False

    async def _resolve_unrecorded(self, token: int | None, movements: list[Movement]) -> str:
        """Settle a token's pending movements no operation record answers for
        (default: ``unknown``); returns how, for the log."""
        for m in movements:
            self.ledger.settle(
                m.id,
                Outcome.UNKNOWN,
                detail="in flight when the HAL stopped; the device cannot tell",
            )
        return "unknown"

    def _reconciled(self, reason: str, report: MoveReport) -> None:
        """An operation left pending was settled from the device's record (``reason``
        of its movements); the subclass may learn from the report."""

    async def _check_positions(self) -> None:
        """After the pending movements are settled: compare the positions with what
        the device senses (the subclass's)."""

    def _exit_items(self) -> dict[str, int]:
        """What the ledger has at the exit, by item (default: the count, item ``*``)."""
        at_exit = self.ledger.counts(self._books).get(EXIT, 0)
        return {ANY_ITEM: at_exit} if at_exit > 0 else {}

    # --- lifecycle ---------------------------------------------------------------------

    def _lock(self) -> asyncio.Lock:
        return books_lock(self.ledger, self._books)

    def _define_locations(self) -> None:
        """The units, the positions and the customer, in the books."""
        self._units = {u.id: u for u in self._cash_backend.units()}
        unknown = sorted(set(self._thresholds) - set(self._units))
        if unknown:
            raise ConfigurationError(
                f"{self.name}: thresholds for {', '.join(unknown)}, which the device does "
                f"not have (its units: {', '.join(self._units)})"
            )
        ledger = self.ledger
        self._held = {}
        for info in self._units.values():
            ledger.define_location(
                self._books,
                info.id,
                kind=cash_books.location_kind(info.type),
                item=info.item,
                capacity=info.capacity,
            )
            self._held[info.id] = info.item
        for position in self._positions:
            ledger.define_location(self._books, position, kind=LocationKind.POSITION, item=ANY_ITEM)
        ledger.define_location(self._books, CUSTOMER, kind=LocationKind.CUSTOMER, item=ANY_ITEM)
        tokens = [r.movement.command_id or 0 for r in ledger.history(self._books, 64)]
        self._last_token = max(tokens, default=0)
        self._exchange = False

    async def _command(
        self,
        name: str,
        op: Callable[[int], Awaitable[T]],
        *,
        timeout: float | None,
        settle: Callable[[], Awaitable[None]] | None = None,
    ) -> T:
        """Every queued command holds the books' lock (rule 8 of docs/cash_in.md)."""

        async def locked(command_id: int) -> T:
            async with self._lock():
                return await op(command_id)

        return await super()._command(name, locked, timeout=timeout, settle=settle)

    # --- reconcile (rules 4 and 5) ------------------------------------------------------

    async def _reconcile(self, positions: bool = True) -> None:
        """Settle what an earlier run (or a lost device) left pending, then compare
        the positions with what the device senses. The caller holds the lock (or, at
        open, see `_start_reconcile`).

        Only this service's kind of operations: a recycler's other service's pending
        operations are left for it (it alone can judge them: the acceptor senses its
        escrow and joins a cash-in's notes to its open transaction)."""
        groups: dict[int | None, list[Movement]] = {}
        for movement in self._own_pending():
            groups.setdefault(movement.command_id, []).append(movement)
        for token, movements in groups.items():
            record, how = None, ""
            if token is not None and self._knows_operations():
                record = await self._cash_backend.operation(token)
            if record is None:
                how = await self._resolve_unrecorded(token, movements)
            elif not record.received:
                for m in movements:
                    self.ledger.settle(m.id, Outcome.FAILED, detail="the device never got it")
            else:
                apply_report(
                    self.ledger,
                    self._books,
                    record.report,
                    token or 0,
                    movements[0].reason.split(":")[0],
                    movements[0].id,
                    self._held,
                    "reconciled from the device's record",
                )
                self._reconciled(movements[0].reason, record.report)
            log.warning(
                "%s: %d movement(s) of operation %s left pending were reconciled (%s)",
                self.name,
                len(movements),
                token,
                how if record is None else "received" if record.received else "not received",
            )
        foreign = self._foreign_pending()
        if foreign:
            log.info(
                "%s: %d pending movement(s) of the other service on the books %r are left "
                "for it to reconcile",
                self.name,
                len(foreign),
                self._books,
            )
        if positions:
            await self._check_positions()

    # --- counts ------------------------------------------------------------------------

    async def cash_units(self) -> tuple[CashUnit, ...]:
        self._require_open()
        await self._read_sensors()
        return self._cash_units()

    async def _read_sensors(self) -> None:
        self._sensors = {s.id: s for s in await self._cash_backend.sensors()}

    def _cash_units(self) -> tuple[CashUnit, ...]:
        return cash_books.cash_units(
            self.ledger.history(self._books, ALL),
            self.ledger.counters(self._books),
            self._units.values(),
            self._thresholds,
            self._sensors,
        )

    def _compute_levels(self) -> dict[str, ReplenishmentStatus]:
        counts = self.ledger.counts(self._books)
        return {
            uid: cash_books.replenishment(
                info, counts.get(uid, 0), self._thresholds.get(uid), self._sensors.get(uid)
            )
            for uid, info in self._units.items()
        }

    def _publish_levels(self) -> None:
        """`CashUnitThreshold` for every unit whose fill state changed (rule 9)."""
        try:
            levels = self._compute_levels()
        except LedgerError as exc:
            log.warning("%s: fill states not checked: %s", self.name, exc)
            return
        for uid, level in levels.items():
            if self._levels.get(uid) not in (None, level):
                self.event(CashUnitThreshold(unit=uid, replenishment=level))
        self._levels = levels
