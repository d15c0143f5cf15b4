"""`CashDispenserService`: the one implementation of `CashDispenser` over a backend.

It validates, queues, denominates from the ledger's counts, journals every planned
move before the device acts, settles it from the device's `MoveReport`, publishes the
events and raises the typed errors; every count comes from the ledger. The rules are
in docs/cash.md ("The service"); the pieces: `hal.devices.cash_journal` (plans and
reports), `hal.devices.cash_books` (XFS4IoT counts), `hal.devices.cash_checks`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from decimal import Decimal

from hal.devices import cash_books, cash_checks
from hal.devices.cash_base_service import CashDispenserBase
from hal.devices.cash_dispenser import (
    EXIT,
    STACKER,
    TRANSPORT,
    CashDispenserStatus,
    CashUnit,
    CashUnitType,
    Denomination,
    Dispensed,
    IncompleteDispense,
    IncompleteRetract,
    ItemsPresented,
    Mix,
    MoveReport,
    PresentStatus,
    RetractArea,
    ShutterState,
    StartDispense,
    UnitSensor,
    UnitStatus,
)
from hal.devices.cash_journal import ALL, Plan
from hal.errors import (
    InvalidData,
    ItemsLeft,
    NoItems,
    SafeDoorOpen,
    ShutterOpen,
    UnsupportedOperation,
)
from hal.ledger import ANY_ITEM
from hal.money import Money

__all__ = ["CashDispenserService"]

log = logging.getLogger(__name__)

_INCOMPLETE_RETRACT = {"retractFailure", "retractAreaFull", "foreignItemsDetected", "invalidBunch"}


class CashDispenserService(CashDispenserBase):
    """`CashDispenser` over any `CashDispenserBackend`, keeping its books in a ledger.

    Args:
        backend: the driver or simulator model.
        name: the device's name (``cash_dispenser``); also its name in the ledger.
        ledger: an open `Ledger`, or the path of one to open (and close) with the
            device, in the thread that opens it; in memory if ``None`` (counts then
            die with the process: give a file for a real kiosk).
        max_queue: commands queued or running before ``TooManyRequests``.
        close_timeout: seconds `close` waits for cancelled commands to settle.
        thresholds: ``{unit id: (low, high)}`` to start with (`set_cash_unit` changes
            them; they are the service's, not the ledger's).
        books: the device name of its movements in the ledger (``None``: ``name``); a
            recycler's `CashAcceptorService` and `CashDispenserService` give the same
            one, so each counts the notes the other moved (docs/cash_in.md).
    """

    # --- commands ----------------------------------------------------------------------

    async def denominate(
        self,
        amount: Money | Decimal | int,
        currency: str | None = None,
        *,
        mix: Mix = "fewestNotes",
        timeout: float | None = None,
    ) -> Denomination:
        self._require_open()
        money = cash_checks.to_money(amount, currency, self._units.values())

        async def op(command_id: int) -> Denomination:
            counts = await self._prepare()
            return Denomination(money, self._denominate(money, mix, counts))

        return await self._command("Denominate", op, timeout=timeout)

    async def dispense(
        self,
        what: Denomination | Money,
        *,
        mix: Mix = "fewestNotes",
        timeout: float | None = None,
    ) -> Dispensed:
        self._require_open()
        caps = self._capabilities()
        asked: Mapping[str, int] | None = None
        if isinstance(what, Denomination):
            asked = cash_checks.check_denomination(what, self._units, caps.max_dispense_items)
            money = what.amount
        elif isinstance(what, Money):
            money = cash_checks.to_money(what, None, self._units.values())
        else:
            raise TypeError(f"dispense takes a Denomination or Money, got {type(what).__name__}")

        async def op(command_id: int) -> Dispensed:
            counts = await self._prepare()
            left = {p: counts.get(p, 0) for p in (STACKER, TRANSPORT, EXIT) if counts.get(p, 0)}
            if left:
                where = ", ".join(f"{n} in the {p}" for p, n in left.items())
                raise ItemsLeft(
                    f"{self.name}: the ledger has notes left ({where}); present, retract, "
                    "reject or reset first"
                )
            status = await self._shutter_closed()
            if status.safe_door_open:
                raise SafeDoorOpen(f"{self.name}: the safe door is open")
            notes = dict(asked) if asked is not None else self._denominate(money, mix, counts)
            to = caps.dispense_to
            plans = [Plan(u, to, self._held[u], n) for u, n in notes.items()]
            report, cancelled = await self._operate(
                cash_books.DISPENSE,
                plans,
                lambda token: self._backend.dispense(notes, token),
                StartDispense(),
            )
            got = {u: report.total(u, to) for u in self._units if report.total(u, to)}
            rejected = {u: report.total(u, r) for u in self._units for r in self._rejects()}
            done = Dispensed(
                Money(sum(self._units[u].value * n for u, n in got.items()), money.currency),
                got,
                {u: n for u, n in rejected.items() if n},
            )
            if report.fault is not None or cancelled:
                code = report.fault.error_code if report.fault else "canceled"
                self.event(IncompleteDispense(counts=got, error_code=code))
            if cancelled:
                raise asyncio.CancelledError()
            moved = f"{sum(got.values())} of {sum(notes.values())} notes reached the {to}"
            self._raise_fault("Dispense", report, moved)
            return done

        return await self._command("Dispense", op, timeout=timeout)

    async def _shutter_closed(self) -> CashDispenserStatus:
        """The status, when its shutter is not open or jammed; else `ShutterOpen` (no
        notes at the exit: nothing the customer could take closes it) or `ItemsLeft`
        (the device senses notes at the exit)."""
        status = await self._fetch_status()
        if status.shutter in (ShutterState.OPEN, ShutterState.JAMMED):
            if status.exit_items:
                raise ItemsLeft(
                    f"{self.name}: the device senses notes at the exit (the shutter is "
                    f"{status.shutter.value}); retract or reset first"
                )
            raise ShutterOpen(
                f"{self.name}: the shutter is {status.shutter.value} with no notes at the "
                "exit; reset the device (or free the shutter) first"
            )
        return status

    async def present(self, *, timeout: float | None = None) -> int:
        self._require_open()
        caps = self._capabilities()
        if caps.dispense_to != STACKER or not caps.intermediate_stacker:
            raise UnsupportedOperation(
                f"{self.name} dispenses to the {caps.dispense_to}: nothing to present"
            )

        async def op(command_id: int) -> int:
            counts = await self._prepare()
            stacked = counts.get(STACKER, 0)
            if stacked <= 0:
                raise NoItems(f"{self.name}: the ledger counts no note in the stacker")
            await self._shutter_closed()
            plans = [Plan(STACKER, EXIT, ANY_ITEM, stacked)]

            def presented(report: MoveReport) -> None:
                if report.total(STACKER, EXIT):
                    self.event(ItemsPresented(position=EXIT, count=report.total(STACKER, EXIT)))

            report, cancelled = await self._operate(
                cash_books.PRESENT, plans, self._backend.present, landed=presented
            )
            moved = report.total(STACKER, EXIT)
            if cancelled:
                raise asyncio.CancelledError()
            self._raise_fault("Present", report, f"{moved} of {stacked} notes reached the exit")
            return moved

        return await self._command("Present", op, timeout=timeout)

    async def retract(
        self, area: RetractArea = RetractArea.RETRACT, *, timeout: float | None = None
    ) -> int:
        self._require_open()
        area = RetractArea(area)
        if area not in self._capabilities().retract_areas:
            raise UnsupportedOperation(f"{self.name} cannot retract to {area.value}")
        if area is RetractArea.RETRACT:
            destination = self._unit_of(CashUnitType.RETRACT)
        elif area is RetractArea.REJECT:
            destination = self._unit_of(CashUnitType.REJECT)
        else:
            destination = area.value

        async def op(command_id: int) -> int:
            counts = await self._prepare()
            source = EXIT if counts.get(EXIT, 0) > 0 else STACKER
            there = counts.get(source, 0)
            if there <= 0:
                raise NoItems(f"{self.name}: the ledger counts no note at the exit or stacker")
            if source == destination:
                raise InvalidData(f"{self.name}: the notes are already in the {source}")
            plans = [Plan(source, destination, self._held.get(destination, ANY_ITEM), there)]
            report, cancelled = await self._operate(
                f"retract to {area.value}", plans, lambda t: self._backend.retract(area, t)
            )
            moved = report.total(source, destination)
            if moved < there:
                code = report.fault.error_code if report.fault else ""
                self.event(
                    IncompleteRetract(
                        reason=code if code in _INCOMPLETE_RETRACT else "retractFailure",
                        retracted=moved,
                        left=there - report.total(source=source),
                    )
                )
            if cancelled:
                raise asyncio.CancelledError()
            self._raise_fault("Retract", report, f"{moved} of {there} notes retracted")
            return moved

        return await self._command("Retract", op, timeout=timeout)

    async def reject(self, *, timeout: float | None = None) -> int:
        self._require_open()
        if not self._capabilities().reject:
            raise UnsupportedOperation(f"{self.name} cannot reject the stacker's notes")
        unit = self._unit_of(CashUnitType.REJECT)

        async def op(command_id: int) -> int:
            counts = await self._prepare()
            stacked = counts.get(STACKER, 0)
            if stacked <= 0:
                raise NoItems(f"{self.name}: the ledger counts no note in the stacker")
            plans = [Plan(STACKER, unit, self._held[unit], stacked)]
            report, cancelled = await self._operate("reject", plans, self._backend.reject)
            moved = report.total(STACKER, unit)
            if cancelled:
                raise asyncio.CancelledError()
            self._raise_fault("Reject", report, f"{moved} of {stacked} notes rejected")
            return moved

        return await self._command("Reject", op, timeout=timeout)

    async def count(
        self, units: Iterable[str] | None = None, *, timeout: float | None = None
    ) -> Mapping[str, int]:
        self._require_open()
        if not self._capabilities().count:
            raise UnsupportedOperation(f"{self.name} cannot count its units")
        if isinstance(units, str):
            raise TypeError(f"count takes unit ids (a list), not the string {units!r}")
        dispensing = [u for u, i in self._units.items() if i.type.dispenses]
        chosen = tuple(dispensing if units is None else units)
        for uid in chosen:
            if uid not in dispensing:
                raise InvalidData(f"{self.name}: {uid!r} is not a dispensing unit")
        if not chosen:
            raise InvalidData(f"{self.name}: no unit to count")
        reject = self._unit_of(CashUnitType.REJECT)

        async def op(command_id: int) -> Mapping[str, int]:
            counts = await self._prepare()
            plans = [
                Plan(u, reject, self._held[u], counts[u]) for u in chosen if counts.get(u, 0) > 0
            ]
            report, cancelled = await self._operate(
                "count", plans, lambda t: self._backend.count(chosen, t)
            )
            if cancelled:
                raise asyncio.CancelledError()
            self._raise_fault("Count", report, "count stopped")
            # A count empties the units and a physical count is authoritative: what the
            # ledger still has there was never there. The books are corrected to it,
            # loudly, and the correction stays in the ledger's history.
            after = self.ledger.counts(self._books)
            for uid in chosen:
                if after.get(uid, 0) != 0:
                    self._count_corrects(uid, report.total(uid), after[uid])
            self._publish_levels()
            return {u: report.total(u) for u in chosen}

        return await self._command("Count", op, timeout=timeout)

    def _count_corrects(self, uid: str, counted: int, left: int) -> None:
        """After a count emptied ``uid`` (``counted`` notes out) the books still hold
        ``left`` there (negative: the device counted more than the books had): set the
        unit to 0 and say by how much the books were wrong."""
        info = self._units[uid]
        value = (
            str(Money(abs(left) * info.value, info.currency))
            if info.currency is not None
            else "value unknown"
        )
        way = "more" if left > 0 else "fewer"
        log.warning(
            "%s: the count of %s found %d notes where the books had %d: the books had %d "
            "notes (%s) %s than the unit held; corrected to the count (a physical count "
            "is authoritative; the correction is in the ledger's history)",
            self.name,
            uid,
            counted,
            counted + left,
            abs(left),
            value,
            way,
        )
        self.ledger.set_initial(
            self._books,
            uid,
            0,
            reason=f"count: emptied; the books had {abs(left)} notes {way} than counted",
        )

    async def test_cash_units(self, *, timeout: float | None = None) -> tuple[CashUnit, ...]:
        self._require_open()
        if not self._capabilities().test_cash_units:
            raise UnsupportedOperation(f"{self.name} cannot test its units")
        reject = self._unit_of(CashUnitType.REJECT)

        async def op(command_id: int) -> tuple[CashUnit, ...]:
            counts = await self._prepare()
            plans = [
                Plan(u, reject, i.item, 1)
                for u, i in self._units.items()
                if i.type.dispenses
                and counts.get(u, 0) > 0
                and self._sensors.get(u, UnitSensor(u)).status is UnitStatus.OK
            ]
            report, cancelled = await self._operate("test", plans, self._backend.test_cash_units)
            if cancelled:
                raise asyncio.CancelledError()
            self._raise_fault("TestCashUnits", report, "test stopped")
            return self._cash_units()

        return await self._command("TestCashUnits", op, timeout=timeout)

    async def reset(self, *, timeout: float | None = None) -> None:
        self._require_open()

        async def op(command_id: int) -> None:
            counts = await self._prepare()
            plans = []
            rejects = self._rejects()
            retracts = [u for u, i in self._units.items() if i.type is CashUnitType.RETRACT]
            for source, targets in ((TRANSPORT, rejects), (STACKER, rejects), (EXIT, retracts)):
                there = counts.get(source, 0)
                targets = targets or rejects
                if there > 0 and targets:
                    plans.append(Plan(source, targets[0], self._held[targets[0]], there))
            report, cancelled = await self._operate(
                "reset", plans, self._backend.reset, sensed=True
            )
            if cancelled:
                raise asyncio.CancelledError()
            self._raise_fault("Reset", report, "reset stopped")
            await self._refresh()

        await self._command("Reset", op, timeout=timeout)

    async def get_present_status(self, *, timeout: float | None = None) -> PresentStatus:
        self._require_open()

        async def op(command_id: int) -> PresentStatus:
            if self._present is None:
                self._present = cash_books.present_status(
                    self.ledger.history(self._books, ALL),
                    self._units.values(),
                    self._capabilities().dispense_to,
                )
            return self._present

        return await self._command("GetPresentStatus", op, timeout=timeout)
