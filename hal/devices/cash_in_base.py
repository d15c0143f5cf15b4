"""The bookkeeping half of `CashAcceptorService`: `CashAcceptorBase`.

It stands on `hal.devices.cash_books_service.CashBooksService` (the books and their
lock, units, tokens, `_operate`, the reconcile by operation record, `ItemsTaken`, the
exchange) and adds the acceptor's own: its positions (escrow, transport, exit), the
note types and the enabled set (rule 10 of docs/cash_in.md), the cash-in transaction
(`_Transaction`), the reconcile of an interrupted cash-in from what the device senses
in its escrow (rule 6) and the transaction brought back after a restart (rule 7).
The commands are in `hal.devices.cash_acceptor_service`.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from hal.devices import cash_books
from hal.devices.cash_acceptor import (
    ESCROW,
    CashAcceptor,
    CashAcceptorBackend,
    CashAcceptorCapabilities,
    CashAcceptorStatus,
    CashInReport,
    CashInState,
    CashInStatus,
    NoteLevel,
    NoteType,
)
from hal.devices.cash_books_service import CashBooksService
from hal.devices.cash_journal import _UNCERTAIN as UNCERTAIN
from hal.devices.cash_model import CUSTOMER, EXIT, TRANSPORT, CashUnitType, MoveReport
from hal.devices.cash_shared import ACCEPTOR_REASON
from hal.errors import ConfigurationError, SequenceError
from hal.ledger import ANY_ITEM, Counters, Ledger, Movement, Outcome
from hal.money import Money

__all__ = ["CashAcceptorBase"]

log = logging.getLogger(__name__)

#: The ``reason`` of a cash-in's movements (the restart looks for it). Every reason
#: the acceptor's service journals starts with it (`cash_shared.ACCEPTOR_REASON`).
CASH_IN = ACCEPTOR_REASON

#: The reason of the marker of notes a refusal left in the escrow: a return to the
#: customer that failed (settled ``failed``, so it counts nothing), journalled when a
#: cash-in's report moved notes into the escrow that it did not credit (a refused
#: note the validator could not give back). `_restore` looks for it after a restart.
NOT_RETURNED = f"{CASH_IN}: refused, not returned"


def uncredited_in(report: MoveReport) -> dict[str, int]:
    """Notes a cash-in report moved into the escrow beyond the notes it lists (a
    `CashInReport`'s notes are what it took; a plain report's moves are all taken)."""
    if not isinstance(report, CashInReport):
        return {}
    out: dict[str, int] = {}
    for m in report.moves:
        if m.destination == ESCROW:
            _add(out, m.item, m.count)
    for note in report.notes:
        if out.get(note.item, 0) > 0:
            out[note.item] -= 1
    return {i: n for i, n in out.items() if n > 0 and i != ANY_ITEM}


def _add(into: dict[str, int], item: str, n: int) -> None:
    if n:
        into[item] = into.get(item, 0) + n


def _uncredit(tx: _Transaction, notes: Mapping[str, int]) -> None:
    """Rule 7: notes of the escrow brought back as fit that a refusal left there."""
    for item, n in notes.items():
        n = min(n, tx.fit.get(item, 0))
        if n > 0:
            tx.fit[item] -= n
            _add(tx.uncredited, item, n)


@dataclass
class _Transaction:
    """The open (or last) cash-in transaction, as the service keeps it."""

    status: CashInState = CashInState.ACTIVE
    max_items: int | None = None
    max_amount: Money | None = None
    use_recycle_units: bool = True
    fit: dict[str, int] = field(default_factory=dict)
    unfit: dict[str, int] = field(default_factory=dict)
    retained: dict[str, int] = field(default_factory=dict)
    #: notes in the escrow the transaction took but never credited (a refused note
    #: the device could not give back): `cash_in_end` refuses to store them.
    uncredited: dict[str, int] = field(default_factory=dict)
    refused: int = 0

    @property
    def notes(self) -> dict[str, int]:
        """The credited notes by item."""
        out = dict(self.fit)
        for item, n in self.unfit.items():
            _add(out, item, n)
        return out

    @property
    def taken(self) -> int:
        """Notes taken into the escrow (retained ones included)."""
        return sum(self.fit.values()) + sum(self.unfit.values()) + sum(self.retained.values())

    def add(self, item: str, level: NoteLevel, n: int = 1) -> None:
        if level.retained:
            _add(self.retained, item, n)
        elif level is NoteLevel.UNFIT:
            _add(self.unfit, item, n)
        else:
            _add(self.fit, item, n)


class CashAcceptorBase(
    CashBooksService[CashAcceptorStatus, CashAcceptorCapabilities], CashAcceptor
):
    """What every command of `CashAcceptorService` stands on; not used alone.

    The constructor's arguments are `CashAcceptorService`'s.
    """

    def __init__(
        self,
        backend: CashAcceptorBackend,
        *,
        name: str = "cash_acceptor",
        ledger: Ledger | str | os.PathLike[str] | None = None,
        books: str | None = None,
        enabled: Iterable[str] | None = None,
        max_queue: int = 16,
        close_timeout: float = 30.0,
        thresholds: Mapping[str, tuple[int | None, int | None]] | None = None,
    ) -> None:
        super().__init__(
            name,
            backend=backend,
            ledger=ledger,
            books=books,
            max_queue=max_queue,
            close_timeout=close_timeout,
            thresholds=thresholds,
        )
        if isinstance(enabled, str):
            raise TypeError(f"enabled takes note items (a list), not the string {enabled!r}")
        self._backend = backend
        self._caps: CashAcceptorCapabilities | None = None
        self._asked_enabled = None if enabled is None else frozenset(enabled)
        self._enabled: frozenset[str] = frozenset()
        self._types: tuple[NoteType, ...] = ()
        self._tx: _Transaction | None = None

    _ACCEPTOR = True

    @property
    def _positions(self) -> tuple[str, ...]:
        return (ESCROW, TRANSPORT, EXIT)

    def _knows_operations(self) -> bool:
        return self._capabilities().knows_operations

    # --- lifecycle ---------------------------------------------------------------------

    async def _start(self) -> None:
        """Define the locations, configure the note types, reconcile, bring back a
        transaction whose notes are still in the escrow."""
        self._caps = self._backend.capabilities()
        self._define_locations()
        self._types = self._backend.note_types()
        known = {t.item for t in self._types}
        if self._asked_enabled is None:
            self._enabled = frozenset(t.item for t in self._types if t.enabled)
        else:
            unknown = sorted(self._asked_enabled - known)
            if unknown:
                raise ConfigurationError(
                    f"{self.name}: enabled names {', '.join(unknown)}, which the reader does "
                    f"not recognise (it knows {', '.join(sorted(known)) or '-'})"
                )
            self._enabled = self._asked_enabled
        await self._backend.configure(self._enabled)
        self._tx = None
        self._opened = True
        await self._start_reconcile()  # never waits for the dispenser's command (H1)
        await self._restore()
        self._last_status = await self._fetch_status()
        await self._read_sensors()
        self._levels = self._compute_levels()

    async def _restore(self) -> None:
        """Rule 7: notes in the escrow at open are an open transaction's.

        Its note list is the escrow's content by item, every note credited unless the
        device's record of the cash-ins that brought them (``knows_operations``) says
        it was retained (counterfeit, suspect) or unfit.
        """
        history = self.ledger.touching(self._books, (ESCROW,))
        escrow, cut = cash_books.items_and_cut(history, ESCROW, self._counters(ESCROW))
        if sum(escrow.values()) <= 0:
            return
        tx = _Transaction()
        for item, n in escrow.items():
            if item != ANY_ITEM and n > 0:
                tx.fit[item] = n
        tokens: list[int] = []
        marked: set[int | None] = set()  # cash-ins whose refusals left notes (markers)
        for record in history:
            m = record.movement
            s = record.settlement
            if m.source == ESCROW and s is not None and s.outcome is Outcome.DONE:
                break  # the escrow was emptied (or stored from) before this
            if m.id <= cut:
                break  # the escrow was recounted after this (rule 6)
            if m.reason == NOT_RETURNED:
                _uncredit(tx, {m.item: m.count})
                marked.add(m.command_id)
            token = m.command_id
            if m.destination == ESCROW and token is not None and token not in tokens:
                tokens.append(token)
        if self._knows_operations():
            for known in tokens:
                found = await self._backend.operation(known)
                if found is None or not isinstance(found.report, CashInReport):
                    continue
                if known not in marked:  # no marker (reconciled by record): the record
                    _uncredit(tx, uncredited_in(found.report))
                for note in found.report.notes:
                    if note.level is NoteLevel.FIT or tx.fit.get(note.item, 0) <= 0:
                        continue
                    tx.fit[note.item] -= 1
                    tx.add(note.item, note.level)
            tx.fit = {i: n for i, n in tx.fit.items() if n}
        self._tx = tx
        log.warning(
            "%s: %d note(s) in the escrow at open: the cash-in transaction is open again "
            "(end or roll it back)",
            self.name,
            sum(escrow.values()),
        )

    # --- reconcile (rule 6) -------------------------------------------------------------

    async def _resolve_unrecorded(self, token: int | None, movements: list[Movement]) -> str:
        """No operation record: settle a cash-in from what the escrow holds now."""
        sensed = None
        if self._capabilities().senses_escrow:
            sensed = (await self._backend.contents()).escrow
        if sensed is None:
            return await super()._resolve_unrecorded(token, movements)
        books = self._items_at(ESCROW)
        for m in movements:
            there = sum(sensed.values()) if m.item == ANY_ITEM else sensed.get(m.item, 0)
            booked = sum(books.values()) if m.item == ANY_ITEM else books.get(m.item, 0)
            if m.source == CUSTOMER and m.destination == ESCROW:
                n = min(max(there - booked, 0), m.count)
                if n:
                    detail = f"{n} found in the escrow after the HAL stopped"
                    self.ledger.settle(m.id, Outcome.DONE, moved=n, detail=detail)
                    books[m.item] = books.get(m.item, 0) + n
                    if self._tx is not None and self._active() and m.item != ANY_ITEM:
                        self._tx.add(m.item, NoteLevel.FIT, n)
                else:
                    detail = "none found in the escrow after the HAL stopped"
                    self.ledger.settle(m.id, Outcome.FAILED, detail=detail)
            elif m.source == ESCROW and there >= booked:
                detail = "the escrow still holds the notes after the HAL stopped"
                self.ledger.settle(m.id, Outcome.FAILED, detail=detail)
            else:
                detail = "in flight when the HAL stopped; the device cannot tell"
                self.ledger.settle(m.id, Outcome.UNKNOWN, detail=detail)
        return "from what the escrow holds"

    def _mark_uncredited(self, token: int, notes: Mapping[str, int]) -> None:
        """The durable marker of notes a refusal left in the escrow (`NOT_RETURNED`)."""
        for item, n in sorted(notes.items()):
            movement = self.ledger.journal(
                self._books,
                source=ESCROW,
                destination=CUSTOMER,
                item=item,
                count=n,
                command_id=token,
                reason=NOT_RETURNED,
            )
            detail = "refused, but the device could not give it back: in the escrow"
            self.ledger.settle(movement.id, Outcome.FAILED, detail=detail)

    def _reconciled(self, reason: str, report: MoveReport) -> None:
        """A cash-in of the open transaction, reconciled from the device's record:
        its notes join the transaction's note list."""
        if reason != CASH_IN or not self._active():
            return
        assert self._tx is not None
        if isinstance(report, CashInReport):
            for note in report.notes:
                self._tx.add(note.item, note.level)
            for item, n in uncredited_in(report).items():
                _add(self._tx.uncredited, item, n)
        else:
            for m in report.moves:
                if m.destination == ESCROW:
                    self._tx.add(m.item, NoteLevel.FIT, m.count)

    async def _check_positions(self) -> None:
        """Book notes given back and taken while the HAL was down; log the rest."""
        contents = await self._backend.contents()
        counts = self.ledger.counts(self._books)
        if counts.get(EXIT, 0) > 0 and contents.exit == 0 and contents.taken:
            for item, n in self._exit_items().items():
                self._journal_done(EXIT, CUSTOMER, n, "taken while the HAL was down", item)
            counts = self.ledger.counts(self._books)
        if contents.escrow is not None and self._recount_escrow(contents.escrow):
            counts = self.ledger.counts(self._books)
        if contents.transport == 0:
            self._clear_uncertain_transport("the device senses it empty", None)
        sensed: dict[str, int | None] = {
            ESCROW: None if contents.escrow is None else sum(contents.escrow.values()),
            TRANSPORT: contents.transport,
            EXIT: contents.exit,
        }
        for position, there in sensed.items():
            if there is not None and there != counts.get(position, 0):
                log.warning(
                    "%s: the ledger counts %d notes in the %s, the device senses %d; "
                    "left as the ledger says (see 'tellerhal ledger')",
                    self.name,
                    counts.get(position, 0),
                    position,
                    there,
                )

    def _clear_uncertain_transport(self, why: str, command_id: int | None) -> None:
        """Notes the device once said may have gone into the transport (an
        ``X -> transport`` it reported uncertain, settled ``unknown``) with no ``unknown``
        move out of the transport after it, while the transport is now empty (``why``:
        a reset emptied it, or the device senses it empty): they went where a reset, or
        an engineer clearing a jam, puts them. ``transport -> `` the retain unit is
        booked ``unknown`` for them (rule 5). The driver says so itself when it saw the
        jam and reset it; a driver opened after a restart, the jam cleared by hand
        meanwhile, cannot: the books can."""
        maybe = 0
        for record in reversed(self.ledger.touching(self._books, (TRANSPORT,))):
            m, s = record.movement, record.settlement
            if s is None or s.outcome is not Outcome.UNKNOWN:
                continue
            if m.source == TRANSPORT:
                maybe = 0
            elif m.destination == TRANSPORT and m.reason.endswith(UNCERTAIN):
                maybe += m.count
        if maybe <= 0:
            return
        movement = self.ledger.journal(
            self._books,
            source=TRANSPORT,
            destination=self._retain_unit(),
            item=ANY_ITEM,
            count=maybe,
            command_id=command_id,
            reason=f"{CASH_IN}: the transport, once uncertain, is empty: {UNCERTAIN}",
        )
        detail = f"up to {maybe} notes ({why}); the device cannot count them"
        self.ledger.settle(movement.id, Outcome.UNKNOWN, detail=detail)

    def _recount_escrow(self, sensed: Mapping[str, int]) -> bool:
        """Rule 6: the books hold notes in the escrow the device does not sense there,
        and movements out of it settled ``unknown`` since its last count explain the
        difference by item: the device's reading is a recount of the escrow
        (`Ledger.set_initial`). The unknown movements stay listed (their other end is
        not counted again), so the units' and the customer's counts stay honest. Never
        when the device senses more than the books (nothing is invented). Returns
        whether it recounted."""
        there = {i: n for i, n in sensed.items() if n > 0}
        counters = self._counters(ESCROW)
        if counters is None:
            return False
        history = self.ledger.touching(self._books, (ESCROW,))
        held, cut = cash_books.items_and_cut(history, ESCROW, counters)
        booked = {i: n for i, n in held.items() if n > 0}
        if sum(there.values()) >= sum(booked.values()):
            return False
        if any(n > booked.get(i, 0) for i, n in there.items()):
            return False  # the device senses a note the books do not have there
        unknown = [m for m in self.ledger.unknown(self._books) if m.source == ESCROW and m.id > cut]
        oldest_first = list(reversed(history))
        if not unknown or cash_books.at_recount(oldest_first, ESCROW, sum(there.values())) != there:
            return False  # not what unknown movements out of the escrow explain
        ids = ", ".join(str(m.id) for m in unknown)
        reason = (
            f"{CASH_IN}: recount: the device senses {sum(there.values())} note(s) in the "
            f"escrow, the books had {sum(booked.values())}; movement(s) {ids} out of it "
            "settled unknown"
        )
        try:
            self.ledger.set_initial(self._books, ESCROW, sum(there.values()), reason=reason)
        except SequenceError:  # a movement of the escrow is pending (in flight)
            return False
        log.warning("%s: the escrow recounted from the device: %s", self.name, reason)
        return True

    def _exit_items(self) -> dict[str, int]:
        return self._items_at(EXIT)

    def _counters(self, position: str) -> Counters | None:
        for c in self.ledger.counters(self._books):
            if c.location.name == position:
                return c
        return None

    def _items_at(self, position: str) -> dict[str, int]:
        """What the books have in ``position``, by item (from its last count on)."""
        return self._items_in((position,))[position]

    def _items_in(self, positions: Sequence[str]) -> dict[str, dict[str, int]]:
        """What the books have in each of ``positions``, by item, from one read of the
        movements into and out of them (those of the units are not read)."""
        history = self.ledger.touching(self._books, tuple(positions))
        counters = {c.location.name: c for c in self.ledger.counters(self._books)}
        result = {}
        for position in positions:
            held = cash_books.items_at(history, position, counters.get(position))
            result[position] = {i: n for i, n in held.items() if n > 0}
        return result

    # --- queries -------------------------------------------------------------------------

    async def capabilities(self) -> CashAcceptorCapabilities:
        self._require_open()
        return self._capabilities()

    def _capabilities(self) -> CashAcceptorCapabilities:
        assert self._caps is not None  # set by open(), checked by _require_open()
        return self._caps

    def _active(self) -> bool:
        return self._tx is not None and self._tx.status is CashInState.ACTIVE

    async def _fetch_status(self) -> CashAcceptorStatus:
        status = await self._backend.get_status()
        return dataclasses.replace(
            status, exchange_active=self._exchange, cash_in_active=self._active()
        )

    def status_changed(self, status: CashAcceptorStatus) -> None:
        # The exchange and the transaction are the service's.
        super().status_changed(
            dataclasses.replace(
                status, exchange_active=self._exchange, cash_in_active=self._active()
            )
        )

    def _cash_in_status(self) -> CashInStatus:
        escrow = self.ledger.counts(self._books).get(ESCROW, 0)
        tx = self._tx
        if tx is None:
            return CashInStatus(CashInState.UNKNOWN, escrow=max(escrow, 0))
        return CashInStatus(
            tx.status,
            refused=tx.refused,
            notes={i: n for i, n in tx.notes.items() if n > 0},
            retained={i: n for i, n in tx.retained.items() if n > 0},
            escrow=max(escrow, 0),
        )

    def _store_unit(self) -> str:
        """The cash-in unit (the cash box)."""
        return self._unit_of(CashUnitType.CASH_IN)

    def _retain_unit(self) -> str:
        """Where retained notes go: the retract unit, else the cash-in unit."""
        for uid, info in self._units.items():
            if info.type is CashUnitType.RETRACT:
                return uid
        return self._store_unit()
