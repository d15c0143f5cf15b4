"""`CashAcceptorService`: the one implementation of `CashAcceptor` over a backend.

It validates, queues, keeps the cash-in transaction (its limits, its note list), plans
every move by note item and journals it before the device acts, settles it from the
device's report, publishes the events and raises the typed errors; every count comes
from the ledger. The rules are in docs/cash_in.md ("The service"); the pieces:
`hal.devices.cash_in_base` (lifecycle, transaction, reconcile),
`hal.devices.cash_books_service` (what it shares with the dispenser's service),
`hal.devices.cash_journal` (plans and reports), `hal.devices.cash_books` (counts).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from decimal import Decimal

from hal.devices.cash_acceptor import (
    ESCROW,
    CashInEnded,
    CashInLimits,
    CashInReport,
    CashInResult,
    CashInState,
    CashInStatus,
    CashUnitType,
    InputRefuse,
    InsertItems,
    NoteLevel,
    NoteType,
    RefuseReason,
    SubCashIn,
    credited,
)
from hal.devices.cash_in_base import (
    CASH_IN,
    CashAcceptorBase,
    _add,
    _Transaction,
    uncredited_in,
)
from hal.devices.cash_journal import Plan
from hal.devices.cash_model import CUSTOMER, EXIT, TRANSPORT, MoveReport, RetractArea
from hal.errors import (
    CashInActive,
    ExchangeActive,
    HalError,
    InvalidData,
    NoCashInActive,
    NoItems,
    PositionNotEmpty,
    SafeDoorOpen,
    TooManyItems,
    UnsupportedOperation,
)
from hal.money import Money

__all__ = ["CashAcceptorService"]

log = logging.getLogger(__name__)


def _limit_items(max_items: object) -> int | None:
    if max_items is None:
        return None
    if isinstance(max_items, bool) or not isinstance(max_items, int):
        raise TypeError(f"max_items is an int or None, got {max_items!r}")
    if max_items < 0:
        raise InvalidData(f"max_items must be >= 0, got {max_items}")
    return max_items


def _limit_amount(amount: object, currency: str | None) -> Money | None:
    if amount is None:
        return None
    if isinstance(amount, Money):
        if currency is not None and currency != amount.currency:
            raise InvalidData(f"the limit is in {amount.currency} but currency {currency!r} given")
        money = amount
    elif isinstance(amount, bool) or not isinstance(amount, Decimal | int):
        raise TypeError(
            "max_amount must be Money, a Decimal of major units or an int of minor units "
            f"(never float), got {type(amount).__name__}"
        )
    elif currency is None:
        raise InvalidData(f"max_amount {amount} needs a currency (an ISO 4217 code)")
    else:
        money = Money(amount, currency) if isinstance(amount, int) else Money.of(amount, currency)
    if money.minor < 0:
        raise InvalidData(f"max_amount must be >= 0, got {money}")
    return money


class CashAcceptorService(CashAcceptorBase):
    """`CashAcceptor` over any `CashAcceptorBackend`, keeping its books in a ledger.

    Args:
        backend: the driver or simulator model.
        name: the device's name (``cash_acceptor``).
        ledger: an open `Ledger`, or the path of one to open (and close) with the
            device; in memory if ``None`` (counts then die with the process).
        books: the device name of its movements in the ledger (``None``: ``name``); a
            recycler's `CashAcceptorService` and `CashDispenserService` give the same
            one (and the same ledger), so each counts the notes the other moved.
        enabled: the note items accepted from the start (``None``: those the reader
            says are enabled); `configure_note_types` changes them.
        max_queue: commands queued or running before ``TooManyRequests``.
        close_timeout: seconds `close` waits for cancelled commands to settle.
        thresholds: ``{unit id: (low, high)}`` to start with.

    Beyond the `CashAcceptor` contract: a `cash_in_end` or `cash_in_rollback` that
    stops short raises its typed error with the `CashInEnded` it computed (what was
    stored, returned and credited before it stopped) as the error's ``ended``
    attribute; `cash_in_end` raises `PositionNotEmpty` (the transaction stays open)
    while the escrow holds notes the transaction did not credit (a refused note the
    validator could not give back): `cash_in_rollback` returns them. Only notes stored
    into a unit that is not a retract unit are credited (docs/cash_in.md, rule 3).
    """

    # --- note types (rule 10) ----------------------------------------------------------

    async def note_types(self) -> tuple[NoteType, ...]:
        self._require_open()
        return self._note_types()

    def _note_types(self) -> tuple[NoteType, ...]:
        return tuple(
            NoteType(t.currency, t.value, enabled=t.item in self._enabled) for t in self._types
        )

    async def configure_note_types(
        self, enabled: Iterable[str], *, timeout: float | None = None
    ) -> tuple[NoteType, ...]:
        self._require_open()
        if isinstance(enabled, str):
            raise TypeError(f"enabled takes note items (a list), not the string {enabled!r}")
        chosen = frozenset(enabled)
        known = {t.item for t in self._types}
        unknown = sorted(chosen - known)
        if unknown:
            raise InvalidData(
                f"{self.name}: the reader does not recognise {', '.join(unknown)} "
                f"(it knows {', '.join(sorted(known)) or '-'})"
            )

        async def op(command_id: int) -> tuple[NoteType, ...]:
            self._check_idle()
            await self._backend.configure(chosen)
            self._enabled = chosen
            return self._note_types()

        return await self._command("ConfigureNoteTypes", op, timeout=timeout)

    def _check_idle(self) -> None:
        self._check_no_exchange()
        if self._active():
            raise CashInActive(f"{self.name}: a cash-in transaction is open; end it first")

    def _check_no_exchange(self) -> None:
        if self._exchange:
            raise ExchangeActive(f"{self.name}: an exchange is active; end it first")

    # --- the transaction -----------------------------------------------------------------

    async def cash_in_start(
        self,
        *,
        max_items: int | None = None,
        max_amount: Money | Decimal | int | None = None,
        currency: str | None = None,
        use_recycle_units: bool = True,
        timeout: float | None = None,
    ) -> CashInStatus:
        self._require_open()
        items = _limit_items(max_items)
        amount = _limit_amount(max_amount, currency)
        caps = self._capabilities()
        if items is not None and not caps.limit_by_items:
            raise UnsupportedOperation(f"{self.name} cannot limit a cash-in by notes")
        if amount is not None and not caps.limit_by_amount:
            raise UnsupportedOperation(f"{self.name} cannot limit a cash-in by amount")

        async def op(command_id: int) -> CashInStatus:
            self._check_idle()
            await self._prepare()
            await self._safe_door()
            self._tx = _Transaction(
                max_items=items, max_amount=amount, use_recycle_units=bool(use_recycle_units)
            )
            await self._refresh()
            return self._cash_in_status()

        return await self._command("CashInStart", op, timeout=timeout)

    async def _safe_door(self) -> None:
        status = await self._fetch_status()
        if status.safe_door_open:
            raise SafeDoorOpen(f"{self.name}: the safe door is open")

    def _require_tx(self) -> _Transaction:
        tx = self._tx
        if tx is None or tx.status is not CashInState.ACTIVE:
            raise NoCashInActive(f"{self.name}: no cash-in transaction is open")
        return tx

    async def cash_in(self, *, timeout: float | None = None) -> CashInResult:
        self._require_open()

        async def op(command_id: int) -> CashInResult:
            self._check_no_exchange()
            tx = self._require_tx()
            counts = await self._prepare()
            await self._safe_door()
            limits = self._limits(tx, counts.get(ESCROW, 0))
            if limits.max_items <= 0:
                why = "the transaction's item limit" if limits.items_limited else "the escrow"
                raise TooManyItems(
                    f"{self.name}: {why} takes no more notes; end or roll back first"
                )
            plans = [
                Plan(CUSTOMER, ESCROW, item, limits.max_items) for item in sorted(limits.enabled)
            ]
            tokens: list[int] = []

            def call(token: int) -> Awaitable[MoveReport]:
                tokens.append(token)
                return self._backend.cash_in(limits, token)

            report, cancelled = await self._operate(CASH_IN, plans, call, InsertItems())
            left = uncredited_in(report)
            if left and tokens:
                self._mark_uncredited(tokens[0], left)
            result = self._took(tx, report)
            if cancelled:
                raise asyncio.CancelledError()
            moved = f"{sum(result.accepted.values()) + sum(result.retained.values())} notes in"
            self._raise_fault("CashIn", report, moved)
            return result

        return await self._command("CashIn", op, timeout=timeout)

    def _limits(self, tx: _Transaction, in_escrow: int) -> CashInLimits:
        room = self._capabilities().max_cash_in_items - max(in_escrow, 0)
        max_items, items_limited = room, False
        if tx.max_items is not None and tx.max_items - tx.taken < room:
            max_items, items_limited = tx.max_items - tx.taken, True
        max_amount = None
        if tx.max_amount is not None:
            so_far = credited(tx.notes).get(tx.max_amount.currency)
            left = tx.max_amount.minor - (so_far.minor if so_far is not None else 0)
            max_amount = {tx.max_amount.currency: Money(max(left, 0), tx.max_amount.currency)}
        return CashInLimits(max(max_items, 0), self._enabled, max_amount, items_limited)

    def _took(self, tx: _Transaction, report: MoveReport) -> CashInResult:
        """What one cash-in took: the note list grows, the events go out (rule 2)."""
        accepted: dict[str, int] = {}
        retained: dict[str, int] = {}
        levels: dict[NoteLevel, int] = {}
        refused: dict[RefuseReason, int] = {}
        if isinstance(report, CashInReport):
            notes = [(n.item, n.level) for n in report.notes]
            for reason in report.refused:
                refused[reason] = refused.get(reason, 0) + 1
        else:  # a plain report: every note that reached the escrow, credited
            notes = [
                (m.item, NoteLevel.FIT)
                for m in report.moves
                if m.destination == ESCROW
                for _ in range(m.count)
            ]
        for item, n in uncredited_in(report).items():
            _add(tx.uncredited, item, n)  # refused, not given back: never credited
        for item, level in notes:
            tx.add(item, level)
            _add(retained if level.retained else accepted, item, 1)
            levels[level] = levels.get(level, 0) + 1
        tx.refused += sum(refused.values())
        for reason, n in refused.items():
            self.event(InputRefuse(reason=reason, count=n))
        if accepted or retained:
            self.event(SubCashIn(accepted=accepted, retained=retained))
        escrow = max(self.ledger.counts(self._books).get(ESCROW, 0), 0)
        return CashInResult(accepted, retained, levels, refused, escrow)

    async def cash_in_end(self, *, timeout: float | None = None) -> CashInEnded:
        self._require_open()

        async def op(command_id: int) -> CashInEnded:
            self._check_no_exchange()
            tx = self._require_tx()
            counts = await self._prepare()
            escrow = self._items_at(ESCROW)
            if not escrow:
                tx.status = CashInState.OK
                raise NoItems(f"{self.name}: the escrow is empty; the transaction ends")
            stuck = {i: min(n, escrow.get(i, 0)) for i, n in tx.uncredited.items()}
            stuck = {i: n for i, n in stuck.items() if n > 0}
            if stuck:
                raise PositionNotEmpty(
                    f"{self.name}: the escrow holds {sum(stuck.values())} refused note(s) the "
                    f"device could not give back ({', '.join(sorted(stuck))}), which the "
                    "transaction does not credit; cash_in_rollback returns them (the "
                    "transaction stays open)"
                )
            plans = self._end_plans(tx, escrow, counts)
            try:
                report, cancelled = await self._operate(
                    "cash-in end",
                    plans,
                    lambda token: self._backend.cash_in_end(tx.use_recycle_units, token),
                )
            finally:
                tx.status = CashInState.OK  # the transaction ends whatever happens
                await self._refresh()
            stored = _stored(report, set(self._units))
            # only notes stored into a unit that is not a retract unit are credited: a
            # retained note stored in the retract unit is not the customer's (B4)
            kept = {u for u, i in self._units.items() if i.type is CashUnitType.RETRACT}
            counted = {u: notes for u, notes in stored.items() if u not in kept}
            credit = {i: min(n, tx.notes.get(i, 0)) for i, n in _by_item(counted).items()}
            ended = CashInEnded(stored, {}, credited({i: n for i, n in credit.items() if n}))
            if cancelled:
                raise asyncio.CancelledError()
            _with_ended(
                lambda: self._raise_fault("CashInEnd", report, f"{ended.notes()} notes stored"),
                ended,
            )
            return ended

        return await self._command("CashInEnd", op, timeout=timeout)

    def _end_plans(
        self, tx: _Transaction, escrow: Mapping[str, int], counts: Mapping[str, int]
    ) -> list[Plan]:
        """Rule 3: fit notes to a recycling unit of their item with room, other
        credited notes to the cash-in unit, retained notes to the retract unit."""
        to: dict[tuple[str, str], int] = {}
        planned: dict[str, int] = {}
        store, retain = self._store_unit(), self._retain_unit()
        for item, n in sorted(escrow.items()):
            kept = min(tx.retained.get(item, 0), n)
            unfit = min(tx.unfit.get(item, 0), n - kept)
            fit = n - kept - unfit
            _add_plan(to, retain, item, kept)
            _add_plan(to, store, item, unfit)
            unit = self._recycler_for(item, fit, counts, planned) if tx.use_recycle_units else None
            _add_plan(to, unit or store, item, fit)
            if unit is not None:
                planned[unit] = planned.get(unit, 0) + fit
        return [Plan(ESCROW, unit, item, n) for (unit, item), n in to.items()]

    def _recycler_for(
        self, item: str, n: int, counts: Mapping[str, int], planned: Mapping[str, int]
    ) -> str | None:
        if n <= 0:
            return None
        for uid, info in self._units.items():
            if info.type is not CashUnitType.RECYCLING or info.item != item:
                continue
            count = counts.get(uid, 0) + planned.get(uid, 0)
            if info.capacity is None or count + n <= info.capacity:
                return uid
        return None

    async def cash_in_rollback(self, *, timeout: float | None = None) -> CashInEnded:
        self._require_open()
        caps = self._capabilities()
        if not caps.escrow:
            raise UnsupportedOperation(f"{self.name} has no escrow: nothing to roll back")

        async def op(command_id: int) -> CashInEnded:
            self._check_no_exchange()
            tx = self._require_tx()
            await self._prepare()
            escrow = self._items_at(ESCROW)
            if not escrow:
                tx.status = CashInState.ROLLBACK
                raise NoItems(f"{self.name}: the escrow is empty; the transaction ends")
            back, retain = caps.return_to, self._retain_unit()
            to: dict[tuple[str, str], int] = {}
            for item, n in sorted(escrow.items()):
                kept = min(tx.retained.get(item, 0), n)
                _add_plan(to, retain, item, kept)
                _add_plan(to, back, item, n - kept)
            plans = [Plan(ESCROW, where, item, n) for (where, item), n in to.items()]
            try:
                report, cancelled = await self._operate(
                    "cash-in rollback", plans, self._backend.rollback
                )
            finally:
                tx.status = CashInState.ROLLBACK
                await self._refresh()
            returned: dict[str, int] = {}
            for m in report.moves:
                if m.source == ESCROW and m.destination == back:
                    _add(returned, m.item, m.count)
            ended = CashInEnded(_stored(report, set(self._units)), returned, {})
            if cancelled:
                raise asyncio.CancelledError()
            _with_ended(
                lambda: self._raise_fault(
                    "CashInRollback", report, f"{sum(returned.values())} notes back"
                ),
                ended,
            )
            return ended

        return await self._command("CashInRollback", op, timeout=timeout)

    async def get_cash_in_status(self, *, timeout: float | None = None) -> CashInStatus:
        self._require_open()

        async def op(command_id: int) -> CashInStatus:
            return self._cash_in_status()

        return await self._command("GetCashInStatus", op, timeout=timeout)

    # --- retract and reset (rule 5) -------------------------------------------------------

    async def retract(
        self, area: RetractArea = RetractArea.RETRACT, *, timeout: float | None = None
    ) -> int:
        self._require_open()
        area = RetractArea(area)
        if area not in self._capabilities().retract_areas:
            raise UnsupportedOperation(f"{self.name} cannot retract to {area.value}")
        kinds = {RetractArea.RETRACT: CashUnitType.RETRACT, RetractArea.REJECT: CashUnitType.REJECT}
        if area not in kinds:
            raise UnsupportedOperation(f"{self.name} retracts to a unit, not the {area.value}")
        destination = self._unit_of(kinds[area])

        async def op(command_id: int) -> int:
            await self._prepare()
            at_exit = self._items_at(EXIT)
            there = sum(at_exit.values())
            if there <= 0:
                raise NoItems(f"{self.name}: the ledger counts no note at the exit")
            plans = [Plan(EXIT, destination, item, n) for item, n in sorted(at_exit.items())]
            try:
                report, cancelled = await self._operate(
                    f"{CASH_IN} retract to {area.value}",
                    plans,
                    lambda t: self._backend.retract(area, t),
                )
            finally:
                if self._active():
                    assert self._tx is not None
                    self._tx.status = CashInState.RETRACT
                    await self._refresh()
            moved = report.total(EXIT, destination)
            if cancelled:
                raise asyncio.CancelledError()
            self._raise_fault("Retract", report, f"{moved} of {there} notes retracted")
            return moved

        return await self._command("Retract", op, timeout=timeout)

    async def reset(self, *, timeout: float | None = None) -> None:
        self._require_open()

        async def op(command_id: int) -> None:
            await self._prepare()
            retain = self._retain_unit()
            held = self._items_in((ESCROW, TRANSPORT, EXIT))  # one read
            plans = [
                Plan(position, retain, item, n)
                for position in (ESCROW, TRANSPORT, EXIT)
                for item, n in sorted(held[position].items())
            ]
            try:
                report, cancelled = await self._operate(
                    f"{CASH_IN} reset", plans, self._backend.reset
                )
            finally:
                if self._active():
                    assert self._tx is not None
                    self._tx.status = CashInState.RESET
                await self._refresh()
            if report.fault is None:
                self._clear_uncertain_transport("a reset emptied it", command_id)
            if cancelled:
                raise asyncio.CancelledError()
            self._raise_fault("Reset", report, "reset stopped")

        await self._command("Reset", op, timeout=timeout)

    # --- exchange (rule 9) -------------------------------------------------------------

    def _check_exchange_start(self, counts: Mapping[str, int]) -> None:
        if self._active():
            raise CashInActive(f"{self.name}: a cash-in transaction is open; end it first")
        super()._check_exchange_start(counts)


def _with_ended(check: Callable[[], None], ended: CashInEnded) -> None:
    """Run ``check``; the typed error it raises carries ``ended`` (its ``ended``
    attribute: what the end or rollback did before it stopped)."""
    try:
        check()
    except HalError as exc:
        setattr(exc, "ended", ended)  # noqa: B010 (HalError declares no such field)
        raise


def _add_plan(to: dict[tuple[str, str], int], where: str, item: str, n: int) -> None:
    if n > 0:
        to[(where, item)] = to.get((where, item), 0) + n


def _stored(report: MoveReport, units: set[str]) -> dict[str, dict[str, int]]:
    """``{unit: {item: notes}}`` the report moved from the escrow into units."""
    stored: dict[str, dict[str, int]] = {}
    for m in report.moves:
        if m.source == ESCROW and m.destination in units:
            _add(stored.setdefault(m.destination, {}), m.item, m.count)
    return stored


def _by_item(stored: Mapping[str, Mapping[str, int]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for notes in stored.values():
        for item, n in notes.items():
            _add(out, item, n)
    return out
