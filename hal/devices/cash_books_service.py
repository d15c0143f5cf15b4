"""`CashBooksService`: what every cash service that keeps its notes in a ledger shares.

The cash dispenser's service (`hal.devices.cash_base_service.CashDispenserBase`) and
the cash acceptor's (`hal.devices.cash_in_base.CashAcceptorBase`) both stand on it:

- the books: a ledger device name (``books``, the service's name unless given, so a
  recycler's two services keep one set) and the lock of those books
  (`hal.devices.cash_shared.books_lock`), held around every queued command and every
  reconcile;
- the units: their ledger locations, thresholds, fill states and `CashUnitThreshold`;
- the moving machinery: tokens, `_operate` (journal the plan, drive the backend
  passing a cancel on, apply its report item by item), `_raise_fault`;
- the reconcile of pending movements by operation record (rules 4-5 of docs/cash.md);
- `ItemsTaken` booked before it is published (exit -> customer);
- the exchange's `set_cash_unit` and `end_exchange`.

What differs (positions, the reconcile of positions, the commands) is in the
subclasses.

The books, the units and the reconcile are in `hal.devices.cash_books_reconcile`
(`CashBooksReconcile`, its base); the moving machinery, `ItemsTaken` and the
exchange are here.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping

from hal.device import CapsT, StatusT, finish
from hal.devices import cash_checks
from hal.devices.cash_books_reconcile import CashBooksReconcile
from hal.devices.cash_dispenser import ItemsTaken, NoteError
from hal.devices.cash_journal import ALL, Plan, apply_report, describe, fault_error, journal_plans
from hal.devices.cash_model import CUSTOMER, EXIT, CashUnit, CashUnitType, MoveReport
from hal.devices.cash_shared import in_flight
from hal.errors import (
    ExchangeActive,
    InvalidData,
    LedgerError,
    NoExchangeActive,
    TransactionActive,
    UnsupportedOperation,
)
from hal.events import Event
from hal.ledger import ANY_ITEM, MovementRecord, Outcome

__all__ = ["CashBooksService"]

log = logging.getLogger(__name__)


class CashBooksService(CashBooksReconcile[StatusT, CapsT]):
    """The shared half of the cash services; not used alone.

    Args:
        name: the device's name.
        backend: the driver or simulator model.
        ledger: an open `Ledger`, or its path (see `LedgerService`).
        books: the device name its movements carry in the ledger (``None``: ``name``).
        max_queue, close_timeout: see `LedgerService`.
        thresholds: ``{unit id: (low, high)}`` to start with.
    """

    def _journal_done(
        self, source: str, destination: str, count: int, reason: str, item: str = ANY_ITEM
    ) -> None:
        """Journal a move the device already made and settle it done at once (marked as
        this service's, so that a kill between the two leaves it to this service's
        reconcile, not to the other side of a recycler's)."""
        reason = self._own_reason(reason)
        token = self._token()
        movement = self.ledger.journal(
            self._books,
            source=source,
            destination=destination,
            item=item,
            count=count,
            command_id=token,
            reason=reason,
        )
        self.ledger.settle(movement.id, Outcome.DONE, moved=count, detail=reason)
        self._moved_aside()

    def _moved_aside(self) -> None:
        """A move was booked outside an operation (the customer took notes)."""

    # --- BackendListener ---------------------------------------------------------------

    def event(self, event: Event) -> None:
        if isinstance(event, ItemsTaken) and self._opened:
            if self._busy:  # an operation still settling: take after it lands
                self._taken_later.append(event)
                return
            self._taken(event)
        super().event(event)

    def _taken(self, event: ItemsTaken) -> None:
        """Rule 6: the customer took what the ledger has at the exit.

        Not while a movement in or out of the exit is pending (a retract or reset whose
        answer was lost): the ledger's exit count is not what was there, and booking it
        here would count the notes that movement moved twice. The reconcile before the
        next command settles that movement, then books to the customer only what is
        left at the exit (the device senses it empty and taken).
        """
        try:
            if any(EXIT in (m.source, m.destination) for m in self.ledger.pending(self._books)):
                log.info(
                    "%s: notes taken while a movement of the exit is pending; the "
                    "reconcile before the next command books them",
                    self.name,
                )
                return
            for item, n in self._exit_items().items():
                self._journal_done(EXIT, CUSTOMER, n, "taken by the customer", item)
        except LedgerError as exc:
            log.error(
                "%s: the customer took the notes at the exit but the ledger cannot say so "
                "(%s); the next open reconciles the exit",
                self.name,
                exc,
            )

    # --- the moving machinery ----------------------------------------------------------

    def _token(self) -> int:
        self._last_token = max(time.time_ns(), self._last_token + 1)
        return self._last_token

    async def _prepare(self) -> dict[str, int]:
        """Every moving command starts here: no exchange, nothing left pending, fresh
        sensors. Returns the ledger's counts."""
        if self._exchange:
            raise ExchangeActive(f"{self.name}: an exchange is active; end it first")
        if self._own_pending():
            await self._reconcile()
        await self._read_sensors()
        return self.ledger.counts(self._books)

    async def _settle_sensed(
        self, report: MoveReport, records: list[MovementRecord]
    ) -> list[MovementRecord]:
        """Settle planned movements a report without fault does not cover from what the
        device senses (the dispenser's reset); default: nothing."""
        return records

    async def _operate(
        self,
        reason: str,
        plans: list[Plan],
        call: Callable[[int], Awaitable[MoveReport]],
        start: Event | None = None,
        landed: Callable[[MoveReport], None] | None = None,
        sensed: bool = False,
    ) -> tuple[MoveReport, bool]:
        """Journal ``plans``, let the device act, apply its report (rules 2, 3, 4, 7).

        ``start`` is published before the device is asked; ``landed`` publishes what the
        report means once it is applied, before an `ItemsTaken` the device sent
        meanwhile (so the app hears ``ItemsPresented`` before ``ItemsTaken``).
        ``sensed``: see `_settle_sensed`.

        Returns:
            The report, and whether the caller was cancelled meanwhile (the caller
            raises `asyncio.CancelledError` once it has published what it must).
        """
        token = self._token()
        flying = in_flight(self.ledger, self._books)
        flying.add(token)
        try:
            return await self._operate_token(token, reason, plans, call, start, landed, sensed)
        finally:
            flying.discard(token)

    async def _operate_token(
        self,
        token: int,
        reason: str,
        plans: list[Plan],
        call: Callable[[int], Awaitable[MoveReport]],
        start: Event | None,
        landed: Callable[[MoveReport], None] | None,
        sensed: bool,
    ) -> tuple[MoveReport, bool]:
        movements = journal_plans(self.ledger, self._books, plans, token, reason)
        since = movements[0].id if movements else None
        self._busy = True
        try:
            if start is not None:
                self.event(start)
            report, cancelled = await self._drive(call, token)
            if since is None and (report.moves or report.uncertain):
                since = ALL  # nothing planned: every move is journalled apart
            records = [MovementRecord(m, None) for m in movements]
            if sensed and report.fault is None:
                records = await self._settle_sensed(report, records)
            if since is not None:
                apply_report(
                    self.ledger,
                    self._books,
                    report,
                    token,
                    reason,
                    since,
                    self._held,
                    report.fault.description if report.fault else "",
                    records,
                )
            for reason_ in report.note_errors:
                self.event(NoteError(reason=reason_))
            if landed is not None:
                landed(report)
        finally:
            self._busy = False
            self._moved_aside()
            taken, self._taken_later = self._taken_later, []
            for event in taken:
                self.event(event)
        self._publish_levels()
        return report, cancelled

    @staticmethod
    async def _drive(
        call: Callable[[int], Awaitable[MoveReport]], token: int
    ) -> tuple[MoveReport, bool]:
        """Await the backend; a cancel is passed on to it (it stops at the next note
        and returns what moved) and the report is awaited through further cancels."""
        # A backend that ends cancelled gave no report: reconciled later (rule 4).
        return await finish(call(token), forward_cancel=True)

    def _raise_fault(self, command: str, report: MoveReport, moved: str) -> None:
        if report.fault is not None and report.fault.error_code != "canceled":
            raise fault_error(self.name, command, report.fault, f"{moved} ({describe(report)})")

    def _unit_of(self, kind: CashUnitType) -> str:
        for uid, info in self._units.items():
            if info.type is kind:
                return uid
        raise UnsupportedOperation(f"{self.name} has no {kind} unit")

    # --- exchange ----------------------------------------------------------------------

    def _check_exchange_start(self, counts: Mapping[str, int]) -> None:
        """Refuse an exchange while notes of a transaction are in the device."""
        left = [p for p in self._positions if counts.get(p, 0) > 0]
        if left:
            raise TransactionActive(
                f"{self.name}: notes are in the {', '.join(left)}; clear them first"
            )

    async def start_exchange(self, *, timeout: float | None = None) -> tuple[CashUnit, ...]:
        self._require_open()

        async def op(command_id: int) -> tuple[CashUnit, ...]:
            if not self._exchange:
                if self._own_pending():
                    await self._reconcile()
                foreign = self._foreign_pending()
                if foreign:
                    raise TransactionActive(
                        f"{self.name}: {len(foreign)} movement(s) of the other service on "
                        f"the books {self._books!r} are pending; let it reconcile them first"
                    )
                self._check_exchange_start(self.ledger.counts(self._books))
                await self._cash_backend.exchange(True)
                self._exchange = True
                await self._refresh()
            await self._read_sensors()
            return self._cash_units()

        return await self._command("StartExchange", op, timeout=timeout)

    async def set_cash_unit(
        self,
        unit: str,
        *,
        initial: int | None = None,
        thresholds: tuple[int | None, int | None] | None = None,
        timeout: float | None = None,
    ) -> CashUnit:
        self._require_open()
        if unit not in self._units:
            raise InvalidData(f"{self.name} has no unit {unit!r} (units: {', '.join(self._units)})")
        checked = None if thresholds is None else cash_checks.check_thresholds(thresholds, unit)

        async def op(command_id: int) -> CashUnit:
            if not self._exchange:
                raise NoExchangeActive(f"{self.name}: set_cash_unit needs an active exchange")
            if initial is not None:
                self.ledger.set_initial(self._books, unit, initial, reason="exchange")
            if checked is not None:
                self._thresholds[unit] = checked
            self._publish_levels()
            return next(u for u in self._cash_units() if u.id == unit)

        return await self._command("SetCashUnit", op, timeout=timeout)

    async def end_exchange(self, *, timeout: float | None = None) -> tuple[CashUnit, ...]:
        self._require_open()

        async def op(command_id: int) -> tuple[CashUnit, ...]:
            if not self._exchange:
                raise NoExchangeActive(f"{self.name}: no exchange is active")
            await self._cash_backend.exchange(False)
            self._exchange = False
            await self._refresh()
            await self._read_sensors()
            self._publish_levels()
            return self._cash_units()

        return await self._command("EndExchange", op, timeout=timeout)
