"""The bookkeeping half of `CashDispenserService`: `CashDispenserBase`.

It stands on `hal.devices.cash_books_service.CashBooksService` (the books and their
lock, the units, tokens, `_operate`, the reconcile by operation record, `ItemsTaken`,
the exchange's end) and adds what is the dispenser's own: its positions (stacker,
transport, exit), the reconcile of those positions (rule 5 of docs/cash.md), the
present status cache, a reset settled from what the device senses, denominating from
the ledger's counts. The commands are in `hal.devices.cash_dispenser_service`.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Mapping

from hal.devices.cash_books_service import CashBooksService
from hal.devices.cash_dispenser import (
    EXIT,
    STACKER,
    TRANSPORT,
    CashDispenser,
    CashDispenserBackend,
    CashDispenserCapabilities,
    CashDispenserStatus,
    CashUnitType,
    Mix,
    MoveReport,
    PresentStatus,
    UnitSensor,
    UnitStatus,
)
from hal.devices.denominate import Cassette, denominate
from hal.errors import HalError
from hal.ledger import Ledger, MovementRecord, Outcome
from hal.money import Money

__all__ = ["CashDispenserBase"]

log = logging.getLogger(__name__)


class CashDispenserBase(
    CashBooksService[CashDispenserStatus, CashDispenserCapabilities], CashDispenser
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
        books: str | None = None,
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
        self._backend = backend
        self._caps: CashDispenserCapabilities | None = None
        self._present: PresentStatus | None = None

    @property
    def _positions(self) -> tuple[str, ...]:
        return (STACKER, TRANSPORT, EXIT)

    def _knows_operations(self) -> bool:
        return self._capabilities().knows_operations

    # --- lifecycle ---------------------------------------------------------------------

    async def _start(self) -> None:
        """Define the ledger's locations, reconcile, learn the levels."""
        self._caps = self._backend.capabilities()
        self._define_locations()
        self._present = None
        self._opened = True
        self._last_status = await self._fetch_status()
        await self._start_reconcile()  # never waits for the acceptor's cash-in (H1)
        await self._read_sensors()
        self._levels = self._compute_levels()

    # --- reconcile of the positions (rule 5) ---------------------------------------------

    async def _check_positions(self) -> None:
        """Book notes taken while the HAL was down; log any other disagreement."""
        self._present = None
        contents = await self._backend.contents()
        counts = self.ledger.counts(self._books)
        if counts.get(EXIT, 0) > 0 and contents.exit == 0 and contents.taken:
            self._journal_done(EXIT, "customer", counts[EXIT], "taken while the HAL was down")
            counts = self.ledger.counts(self._books)
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

    def _moved_aside(self) -> None:
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

    def status_changed(self, status: CashDispenserStatus) -> None:
        # The exchange is the service's: a backend's report must not flip it back.
        super().status_changed(dataclasses.replace(status, exchange_active=self._exchange))

    # --- a reset settled from the sensors -----------------------------------------------

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

    # --- denominating ------------------------------------------------------------------

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
