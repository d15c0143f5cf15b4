"""The bookkeeping half of `CashDispenserService`: `CashDispenserBase`.

Lifecycle (the ledger opened with the device, its locations defined), reconcile
(rules 4 and 5 of docs/cash.md), the counts (`cash_units`, fill states and their
`CashUnitThreshold` events), `ItemsTaken` booked before it is published (rule 6), and
the moving machinery every cash command goes through: `_prepare` (no exchange,
nothing pending), `_operate` (journal the plan, drive the backend passing a cancel on,
apply its report). The commands are in `hal.devices.cash_dispenser_service`.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from collections.abc import Awaitable, Callable, Mapping

from hal.device import finish
from hal.devices import cash_books, cash_checks
from hal.devices.cash_dispenser import (
    CUSTOMER,
    EXIT,
    STACKER,
    TRANSPORT,
    CashDispenser,
    CashDispenserBackend,
    CashDispenserCapabilities,
    CashDispenserStatus,
    CashUnit,
    CashUnitInfo,
    CashUnitThreshold,
    CashUnitType,
    ItemsTaken,
    Mix,
    MoveReport,
    NoteError,
    PresentStatus,
    ReplenishmentStatus,
    UnitSensor,
    UnitStatus,
)
from hal.devices.cash_journal import ALL, Plan, apply_report, describe, fault_error, journal_plans
from hal.devices.denominate import Cassette, denominate
from hal.errors import (
    ConfigurationError,
    ExchangeActive,
    HalError,
    LedgerError,
    UnsupportedOperation,
)
from hal.events import Event
from hal.ledger import ANY_ITEM, Ledger, LocationKind, Movement, MovementRecord, Outcome
from hal.ledger_service import LedgerService
from hal.money import Money

__all__ = ["CashDispenserBase"]

log = logging.getLogger(__name__)


class CashDispenserBase(
    LedgerService[CashDispenserStatus, CashDispenserCapabilities], CashDispenser
):
    """What every cash command of `CashDispenserService` stands on; not used alone.

    The constructor's arguments are `CashDispenserService`'s.
    """

    def __init__(
        self,
        backend: CashDispenserBackend,
        *,
        name: str = "cash_dispenser",
        ledger: Ledger | str | os.PathLike[str] | None = None,
        max_queue: int = 16,
        close_timeout: float = 30.0,
        thresholds: Mapping[str, tuple[int | None, int | None]] | None = None,
    ) -> None:
        super().__init__(
            name,
            backend=backend,
            ledger=ledger,
            max_queue=max_queue,
            close_timeout=close_timeout,
        )
        self._backend = backend
        self._caps: CashDispenserCapabilities | None = None
        self._units: dict[str, CashUnitInfo] = {}
        self._held: dict[str, str] = {}
        self._thresholds = {
            u: cash_checks.check_thresholds(t, u) for u, t in (thresholds or {}).items()
        }
        self._sensors: dict[str, UnitSensor] = {}
        self._levels: dict[str, ReplenishmentStatus] = {}
        self._exchange = False
        self._last_token = 0
        self._present: PresentStatus | None = None
        self._busy = False
        self._taken_later: list[ItemsTaken] = []

    # --- lifecycle ---------------------------------------------------------------------

    async def _start(self) -> None:
        """Define the ledger's locations, reconcile, learn the levels."""
        self._caps = self._backend.capabilities()
        self._units = {u.id: u for u in self._backend.units()}
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
                self.name,
                info.id,
                kind=cash_books.location_kind(info.type),
                item=info.item,
                capacity=info.capacity,
            )
            self._held[info.id] = info.item
        for position in (STACKER, TRANSPORT, EXIT):
            ledger.define_location(self.name, position, kind=LocationKind.POSITION, item=ANY_ITEM)
        ledger.define_location(self.name, CUSTOMER, kind=LocationKind.CUSTOMER, item=ANY_ITEM)
        tokens = [r.movement.command_id or 0 for r in ledger.history(self.name, 64)]
        self._last_token = max(tokens, default=0)
        self._exchange = False
        self._present = None
        self._opened = True
        self._last_status = await self._fetch_status()
        await self._reconcile()
        await self._read_sensors()
        self._levels = self._compute_levels()

    # --- reconcile (rules 4 and 5) ------------------------------------------------------

    async def _reconcile(self) -> None:
        """Settle what an earlier run (or a lost device) left pending, then compare
        the positions with what the device senses."""
        groups: dict[int | None, list[Movement]] = {}
        for movement in self.ledger.pending(self.name):
            groups.setdefault(movement.command_id, []).append(movement)
        for token, movements in groups.items():
            record = None
            if token is not None and self._capabilities().knows_operations:
                record = await self._backend.operation(token)
            if record is None:
                for m in movements:
                    self.ledger.settle(
                        m.id,
                        Outcome.UNKNOWN,
                        detail="in flight when the HAL stopped; the device cannot tell",
                    )
            elif not record.received:
                for m in movements:
                    self.ledger.settle(m.id, Outcome.FAILED, detail="the device never got it")
            else:
                apply_report(
                    self.ledger,
                    self.name,
                    record.report,
                    token or 0,
                    movements[0].reason.split(":")[0],
                    movements[0].id,
                    self._held,
                    "reconciled from the device's record",
                )
            log.warning(
                "%s: %d movement(s) of operation %s left pending were reconciled (%s)",
                self.name,
                len(movements),
                token,
                "unknown" if record is None else "received" if record.received else "not received",
            )
        self._present = None
        contents = await self._backend.contents()
        counts = self.ledger.counts(self.name)
        if counts.get(EXIT, 0) > 0 and contents.exit == 0 and contents.taken:
            self._journal_done(EXIT, CUSTOMER, counts[EXIT], "taken while the HAL was down")
            counts = self.ledger.counts(self.name)
        for position in (STACKER, TRANSPORT, EXIT):
            sensed = getattr(contents, position)
            if sensed is not None and sensed != counts.get(position, 0):
                log.warning(
                    "%s: the ledger counts %d notes in the %s, the device senses %d; "
                    "left as the ledger says (see 'tellerhal ledger')",
                    self.name,
                    counts.get(position, 0),
                    position,
                    sensed,
                )

    def _journal_done(self, source: str, destination: str, count: int, reason: str) -> None:
        """Journal a move the device already made and settle it done at once."""
        token = self._token()
        movement = self.ledger.journal(
            self.name,
            source=source,
            destination=destination,
            item=ANY_ITEM,
            count=count,
            command_id=token,
            reason=reason,
        )
        self.ledger.settle(movement.id, Outcome.DONE, moved=count, detail=reason)
        self._present = None

    # --- queries (no queue) ------------------------------------------------------------

    async def capabilities(self) -> CashDispenserCapabilities:
        self._require_open()
        return self._capabilities()

    def _capabilities(self) -> CashDispenserCapabilities:
        assert self._caps is not None  # set by open(), checked by _require_open()
        return self._caps

    async def _fetch_status(self) -> CashDispenserStatus:
        status = await self._backend.get_status()
        return dataclasses.replace(status, exchange_active=self._exchange)

    async def cash_units(self) -> tuple[CashUnit, ...]:
        self._require_open()
        await self._read_sensors()
        return self._cash_units()

    async def _read_sensors(self) -> None:
        self._sensors = {s.id: s for s in await self._backend.sensors()}

    def _cash_units(self) -> tuple[CashUnit, ...]:
        counters = {c.location.name: c for c in self.ledger.counters(self.name)}
        books = cash_books.replay(
            self.ledger.history(self.name, ALL), self._units.values(), counters
        )
        units = []
        for uid, info in self._units.items():
            c = counters[uid]
            low, high = self._thresholds.get(uid, (None, None))
            sensor = self._sensors.get(uid)
            units.append(
                CashUnit(
                    info=info,
                    status=sensor.status if sensor is not None else UnitStatus.OK,
                    initial=c.initial,
                    count=c.count,
                    out=books.out[uid],
                    in_=books.in_[uid],
                    replenishment=cash_books.replenishment(
                        info, c.count, self._thresholds.get(uid), sensor
                    ),
                    low_threshold=low,
                    high_threshold=high,
                )
            )
        return tuple(units)

    def _compute_levels(self) -> dict[str, ReplenishmentStatus]:
        counts = self.ledger.counts(self.name)
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

    # --- BackendListener ---------------------------------------------------------------

    def event(self, event: Event) -> None:
        if isinstance(event, ItemsTaken) and self._opened:
            if self._busy:  # a present still settling: take after it lands
                self._taken_later.append(event)
                return
            self._taken(event)
        super().event(event)

    def status_changed(self, status: CashDispenserStatus) -> None:
        # The exchange is the service's: a backend's report must not flip it back.
        super().status_changed(dataclasses.replace(status, exchange_active=self._exchange))

    def _taken(self, event: ItemsTaken) -> None:
        """Rule 6: the customer took what the ledger has at the exit.

        Not while a movement in or out of the exit is pending (a retract or reset whose
        answer was lost): the ledger's exit count is not what was there, and booking it
        here would count the notes that movement moved twice. The reconcile before the
        next command settles that movement, then books to the customer only what is
        left at the exit (the device senses it empty and taken).
        """
        try:
            if any(EXIT in (m.source, m.destination) for m in self.ledger.pending(self.name)):
                log.info(
                    "%s: notes taken while a movement of the exit is pending; the "
                    "reconcile before the next command books them",
                    self.name,
                )
                return
            at_exit = self.ledger.counts(self.name).get(EXIT, 0)
            if at_exit > 0:
                self._journal_done(EXIT, CUSTOMER, at_exit, "taken by the customer")
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
        if self.ledger.pending(self.name):
            await self._reconcile()
        await self._read_sensors()
        return self.ledger.counts(self.name)

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
        ``sensed`` (a reset): a planned movement out of a position that a report
        without fault does not cover is settled from what the device senses there
        (`_settle_sensed`).

        Returns:
            The report, and whether the caller was cancelled meanwhile (the caller
            raises `asyncio.CancelledError` once it has published what it must).
        """
        token = self._token()
        movements = journal_plans(self.ledger, self.name, plans, token, reason)
        since = movements[0].id if movements else None
        self._busy = True
        try:
            if start is not None:
                self.event(start)
            report, cancelled = await self._drive(call, token)
            if since is None and report.moves:
                since = ALL  # nothing planned: every move is journalled apart
            records = [MovementRecord(m, None) for m in movements]
            if sensed and report.fault is None:
                records = await self._settle_sensed(report, records)
            if since is not None:
                apply_report(
                    self.ledger,
                    self.name,
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
            self._present = None
            taken, self._taken_later = self._taken_later, []
            for event in taken:
                self.event(event)
        self._publish_levels()
        return report, cancelled

    async def _settle_sensed(
        self, report: MoveReport, records: list[MovementRecord]
    ) -> list[MovementRecord]:
        """Settle the planned movements out of a position that ``report`` (a reset
        without fault) does not cover, from what the device senses there now.

        XFS4IoT Reset moves the items in the positions to their target; a device whose
        report cannot say what it moved (an LCDM-1000/2000 PURGE after a reopen: the
        driver no longer knows what stopped in its transport) still senses the path.
        A position sensed empty (``0``, not ``None``): the movement is settled ``done``
        for the books' count; otherwise `apply_report` settles it from the report
        (``failed`` when nothing moved).
        """
        moved: dict[tuple[str, str], int] = {}
        for move in report.moves:
            pair = (move.source, move.destination)
            moved[pair] = moved.get(pair, 0) + move.count
        short = [
            r
            for r in records
            if r.movement.source in (STACKER, TRANSPORT, EXIT)
            and moved.get((r.movement.source, r.movement.destination), 0) < r.movement.count
        ]
        if not short:
            return records
        try:
            contents = await self._backend.contents()
        except HalError as exc:
            log.warning("%s: the positions after the reset cannot be read: %s", self.name, exc)
            return records
        out = []
        for record in records:
            m = record.movement
            if record in short and getattr(contents, m.source) == 0:
                detail = "the device reports the position empty after its reset; the books' count"
                log.warning(
                    "%s: the reset's report does not cover %d note(s) %s -> %s; %s",
                    self.name,
                    m.count,
                    m.source,
                    m.destination,
                    detail,
                )
                record = MovementRecord(
                    m, self.ledger.settle(m.id, Outcome.DONE, moved=m.count, detail=detail)
                )
            out.append(record)
        return out

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

    def _denominate(self, money: Money, mix: Mix, counts: Mapping[str, int]) -> dict[str, int]:
        cassettes = [
            Cassette(u.id, u.currency, u.value, max(counts.get(u.id, 0), 0), u.max_per_dispense)
            for u in self._units.values()
            if u.type.dispenses
            and u.currency is not None
            and self._sensors.get(u.id, UnitSensor(u.id)).status is UnitStatus.OK
        ]
        return denominate(cassettes, money, mix, max_items=self._capabilities().max_dispense_items)

    def _rejects(self) -> list[str]:
        return [u for u, i in self._units.items() if i.type is CashUnitType.REJECT]
