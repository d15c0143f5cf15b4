"""`ScriptedCashDispenser`: a small, real `CashDispenser` for the remote's tests.

Not a mock: it keeps notes in cassettes, a stacker, an exit, a reject and a retract
unit; it denominates with `hal.devices.denominate`, picks note by note (with an optional
delay, so a cancel lands mid-pick), runs its commands through the `DeviceService` queue,
publishes the cash events as a device would, and refuses what the spec says it refuses
(`ItemsLeft`, `NoItems`, `ExchangeActive`, `NoExchangeActive`, `TransactionActive`,
`UnsupportedOperation`). Faults are set on it directly: ``jam_after`` (the pick stops with
`MediaJam` after that many notes), ``double_note_at`` (that note goes to reject with a
`NoteError`).

It has no ledger: the service with its books is tested in tests/hal/test_cash_*.py; here
only the wire is under test, so the same script run in-process and remote must give the
same values, events and errors.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from hal.device import DeviceService
from hal.devices.cash_dispenser import (
    CashDispenser,
    CashDispenserCapabilities,
    CashDispenserStatus,
    CashUnit,
    CashUnitInfo,
    CashUnitThreshold,
    CashUnitType,
    Denomination,
    Dispensed,
    IncompleteDispense,
    IncompleteRetract,
    InCounts,
    ItemsPresented,
    ItemsTaken,
    Mix,
    NoteError,
    NoteErrorReason,
    OutCounts,
    PresentState,
    PresentStatus,
    ReplenishmentStatus,
    RetractArea,
    ShutterState,
    StackerState,
    StartDispense,
    UnitStatus,
)
from hal.devices.denominate import Cassette, denominate
from hal.errors import (
    ExchangeActive,
    InvalidData,
    ItemsLeft,
    MediaJam,
    NoExchangeActive,
    NoItems,
    TransactionActive,
    UnsupportedOperation,
)
from hal.money import Money

CNY = "CNY"


@dataclass
class Unit:
    info: CashUnitInfo
    count: int
    initial: int
    low: int | None = None
    high: int | None = None
    out: int = 0
    rejected_out: int = 0
    in_: int = 0
    state: ReplenishmentStatus = ReplenishmentStatus.OK


@dataclass
class Books:
    """Where every note is: the cassettes' counts live in the units."""

    stacker: dict[str, int] = field(default_factory=dict)
    exit: int = 0
    customer: int = 0


def default_units() -> list[Unit]:
    return [
        Unit(
            CashUnitInfo("unit1", CashUnitType.CASH_OUT, CNY, 10000, 2000, None, "slot 1"), 50, 50
        ),
        Unit(CashUnitInfo("unit2", CashUnitType.CASH_OUT, CNY, 5000, 2000, None, "slot 2"), 40, 40),
        Unit(CashUnitInfo("unit3", CashUnitType.CASH_OUT, CNY, 2000, 2000, None, "slot 3"), 30, 30),
        Unit(CashUnitInfo("reject", CashUnitType.REJECT, capacity=500), 0, 0),
        Unit(CashUnitInfo("retract", CashUnitType.RETRACT, capacity=200), 0, 0),
    ]


class ScriptedCashDispenser(
    DeviceService[CashDispenserStatus, CashDispenserCapabilities], CashDispenser
):
    """A cash dispenser with state (see the module docstring)."""

    def __init__(self, name: str = "cash_dispenser", *, note_delay: float = 0.0) -> None:
        super().__init__(name)
        self.units = {u.info.id: u for u in default_units()}
        self.books = Books()
        self.note_delay = note_delay
        self.jam_after: int | None = None
        self.double_note_at: int | None = None
        self.exchange = False
        self.last: Denomination | None = None
        self.presented = False
        self.taken: bool | None = None
        #: Every method the server (or a test) called, by name, in order.
        self.calls: list[str] = []

    # --- life ------------------------------------------------------------------------

    async def open(self) -> None:
        self._opened = True
        self.status_changed(await self._fetch_status())

    async def close(self) -> None:
        self._opened = False
        self._hub.close()

    async def _fetch_status(self) -> CashDispenserStatus:
        stacked = sum(self.books.stacker.values())
        return CashDispenserStatus(
            stacker=StackerState.NOT_EMPTY if stacked else StackerState.EMPTY,
            shutter=ShutterState.OPEN if self.books.exit else ShutterState.CLOSED,
            exit_items=bool(self.books.exit),
            exchange_active=self.exchange,
        )

    async def capabilities(self) -> CashDispenserCapabilities:
        self.calls.append("capabilities")
        return CashDispenserCapabilities(max_dispense_items=60)

    # --- the customer ------------------------------------------------------------------

    def take(self) -> int:
        """The customer takes the notes at the exit (an unsolicited ItemsTaken)."""
        taken, self.books.exit = self.books.exit, 0
        self.books.customer += taken
        self.taken = True
        self.event(ItemsTaken(count=taken))
        self.status_changed(self._status_now())
        return taken

    def _status_now(self) -> CashDispenserStatus:
        stacked = sum(self.books.stacker.values())
        return CashDispenserStatus(
            stacker=StackerState.NOT_EMPTY if stacked else StackerState.EMPTY,
            shutter=ShutterState.OPEN if self.books.exit else ShutterState.CLOSED,
            exit_items=bool(self.books.exit),
            exchange_active=self.exchange,
        )

    # --- helpers -----------------------------------------------------------------------

    def _no_exchange(self) -> None:
        if self.exchange:
            raise ExchangeActive(f"{self.name}: an exchange is active")

    def _cassettes(self) -> list[Cassette]:
        return [
            Cassette(u.info.id, u.info.currency, u.info.value, u.count, u.info.max_per_dispense)
            for u in self.units.values()
            if u.info.type.dispenses and u.info.currency is not None
        ]

    def _denominate(self, amount: Money, mix: Mix) -> Denomination:
        counts = denominate(self._cassettes(), amount, mix, max_items=60)
        return Denomination(amount, counts)

    def _unit_of(self, kind: CashUnitType) -> Unit:
        return next(u for u in self.units.values() if u.info.type is kind)

    def _thresholds(self) -> None:
        for unit in self.units.values():
            state = ReplenishmentStatus.OK
            if unit.low is not None and unit.count <= unit.low:
                state = ReplenishmentStatus.LOW
            if unit.high is not None and unit.count >= unit.high:
                state = ReplenishmentStatus.HIGH
            if state != unit.state:
                unit.state = state
                self.event(CashUnitThreshold(unit=unit.info.id, replenishment=state))

    def _cash_unit(self, unit: Unit) -> CashUnit:
        return CashUnit(
            info=unit.info,
            status=UnitStatus.OK,
            initial=unit.initial,
            count=unit.count,
            out=OutCounts(presented=unit.out, rejected=unit.rejected_out),
            in_=InCounts(rejected=unit.in_),
            replenishment=unit.state,
            low_threshold=unit.low,
            high_threshold=unit.high,
        )

    def _all(self) -> tuple[CashUnit, ...]:
        return tuple(self._cash_unit(u) for u in self.units.values())

    # --- CashDispenser ----------------------------------------------------------------

    async def denominate(
        self,
        amount: Money | Decimal | int,
        currency: str | None = None,
        *,
        mix: Mix = "fewestNotes",
        timeout: float | None = None,
    ) -> Denomination:
        self.calls.append("denominate")
        if not isinstance(amount, Money):
            if isinstance(amount, float):
                raise TypeError("a float amount")
            if currency is None:
                raise InvalidData("no currency")
            amount = (
                Money.of(amount, currency)
                if isinstance(amount, Decimal)
                else Money(amount, currency)
            )
        money = amount

        async def op(command_id: int) -> Denomination:
            self._no_exchange()
            return self._denominate(money, mix)

        return await self._command("Denominate", op, timeout=timeout)

    async def dispense(
        self,
        what: Denomination | Money,
        *,
        mix: Mix = "fewestNotes",
        timeout: float | None = None,
    ) -> Dispensed:
        self.calls.append("dispense")

        async def op(command_id: int) -> Dispensed:
            self._no_exchange()
            if self.books.stacker or self.books.exit:
                raise ItemsLeft(f"{self.name}: notes are still in the stacker or at the exit")
            plan = what if isinstance(what, Denomination) else self._denominate(what, mix)
            self.event(StartDispense())
            picked: dict[str, int] = {}
            rejected: dict[str, int] = {}
            reject = self._unit_of(CashUnitType.REJECT)
            number = 0
            try:
                for unit_id, wanted in plan.counts.items():
                    unit = self.units[unit_id]
                    done = 0
                    while done < wanted:
                        if self.jam_after is not None and sum(picked.values()) >= self.jam_after:
                            moved = sum(picked.values())
                            self.event(
                                IncompleteDispense(counts=dict(picked), error_code="mediaJam")
                            )
                            raise MediaJam(
                                f"{self.name}: jam in the transport after {moved} notes dispensed"
                            )
                        await asyncio.sleep(self.note_delay)
                        number += 1
                        unit.count -= 1
                        if self.double_note_at == number:
                            unit.rejected_out += 1
                            reject.count += 1
                            reject.in_ += 1
                            rejected[unit_id] = rejected.get(unit_id, 0) + 1
                            self.event(NoteError(reason=NoteErrorReason.DOUBLE_NOTE))
                            continue
                        unit.out += 1
                        done += 1
                        picked[unit_id] = picked.get(unit_id, 0) + 1
                        self.books.stacker[unit_id] = self.books.stacker.get(unit_id, 0) + 1
            except asyncio.CancelledError:
                self.event(IncompleteDispense(counts=dict(picked), error_code="canceled"))
                raise
            finally:
                self._thresholds()
            self.last = plan
            self.presented = False
            self.taken = None
            currency = plan.amount.currency
            value = sum(self.units[u].info.value * n for u, n in picked.items())
            return Dispensed(Money(value, currency), picked, rejected)

        return await self._command("Dispense", op, timeout=timeout)

    async def present(self, *, timeout: float | None = None) -> int:
        self.calls.append("present")

        async def op(command_id: int) -> int:
            self._no_exchange()
            count = sum(self.books.stacker.values())
            if not count:
                raise NoItems(f"{self.name}: the stacker is empty")
            self.books.stacker.clear()
            self.books.exit += count
            self.presented = True
            self.event(ItemsPresented(count=count))
            return count

        return await self._command("Present", op, timeout=timeout)

    async def retract(
        self, area: RetractArea = RetractArea.RETRACT, *, timeout: float | None = None
    ) -> int:
        self.calls.append("retract")

        async def op(command_id: int) -> int:
            self._no_exchange()
            if area not in (RetractArea.RETRACT, RetractArea.REJECT):
                raise UnsupportedOperation(f"{self.name}: cannot retract to {area}")
            count = self.books.exit
            if not count:
                raise NoItems(f"{self.name}: nothing at the exit to retract")
            target = self._unit_of(
                CashUnitType.RETRACT if area == RetractArea.RETRACT else CashUnitType.REJECT
            )
            room = (target.info.capacity or count) - target.count
            moved = min(count, room)
            target.count += moved
            target.in_ += moved
            self.books.exit -= moved
            self.taken = False
            if moved < count:
                self.event(
                    IncompleteRetract(reason="retractAreaFull", retracted=moved, left=count - moved)
                )
            return moved

        return await self._command("Retract", op, timeout=timeout)

    async def reject(self, *, timeout: float | None = None) -> int:
        self.calls.append("reject")

        async def op(command_id: int) -> int:
            self._no_exchange()
            count = sum(self.books.stacker.values())
            if not count:
                raise NoItems(f"{self.name}: the stacker is empty")
            reject = self._unit_of(CashUnitType.REJECT)
            for unit_id, n in self.books.stacker.items():
                self.units[unit_id].out -= n
                self.units[unit_id].rejected_out += n
            reject.count += count
            reject.in_ += count
            self.books.stacker.clear()
            return count

        return await self._command("Reject", op, timeout=timeout)

    async def get_present_status(self, *, timeout: float | None = None) -> PresentStatus:
        self.calls.append("get_present_status")

        async def op(command_id: int) -> PresentStatus:
            if self.last is None:
                return PresentStatus(PresentState.UNKNOWN)
            state = PresentState.PRESENTED if self.presented else PresentState.NOT_PRESENTED
            return PresentStatus(state, self.last, self.taken)

        return await self._command("GetPresentStatus", op, timeout=timeout)

    async def count(
        self, units: Iterable[str] | None = None, *, timeout: float | None = None
    ) -> Mapping[str, int]:
        self.calls.append("count")
        wanted = None if units is None else tuple(units)

        async def op(command_id: int) -> Mapping[str, int]:
            self._no_exchange()
            ids = wanted or tuple(u.info.id for u in self.units.values() if u.info.type.dispenses)
            reject = self._unit_of(CashUnitType.REJECT)
            counted: dict[str, int] = {}
            for unit_id in ids:
                unit = self.units.get(unit_id)
                if unit is None or not unit.info.type.dispenses:
                    raise InvalidData(f"{self.name}: {unit_id!r} is not a dispensing unit")
                counted[unit_id] = unit.count
                reject.count += unit.count
                reject.in_ += unit.count
                unit.rejected_out += unit.count
                unit.count = 0
            self._thresholds()
            return counted

        return await self._command("Count", op, timeout=timeout)

    async def test_cash_units(self, *, timeout: float | None = None) -> tuple[CashUnit, ...]:
        self.calls.append("test_cash_units")

        async def op(command_id: int) -> tuple[CashUnit, ...]:
            self._no_exchange()
            reject = self._unit_of(CashUnitType.REJECT)
            for unit in self.units.values():
                if unit.info.type.dispenses and unit.count:
                    unit.count -= 1
                    unit.rejected_out += 1
                    reject.count += 1
                    reject.in_ += 1
            return self._all()

        return await self._command("TestCashUnits", op, timeout=timeout)

    async def cash_units(self) -> tuple[CashUnit, ...]:
        self.calls.append("cash_units")
        self._require_open()
        return self._all()

    async def start_exchange(self, *, timeout: float | None = None) -> tuple[CashUnit, ...]:
        self.calls.append("start_exchange")

        async def op(command_id: int) -> tuple[CashUnit, ...]:
            self._no_exchange()
            if self.books.stacker or self.books.exit:
                raise TransactionActive(f"{self.name}: notes are in the stacker or at the exit")
            self.exchange = True
            self.status_changed(self._status_now())
            return self._all()

        return await self._command("StartExchange", op, timeout=timeout)

    async def set_cash_unit(
        self,
        unit: str,
        *,
        initial: int | None = None,
        thresholds: tuple[int | None, int | None] | None = None,
        timeout: float | None = None,
    ) -> CashUnit:
        self.calls.append("set_cash_unit")

        async def op(command_id: int) -> CashUnit:
            if not self.exchange:
                raise NoExchangeActive(f"{self.name}: start an exchange first")
            found = self.units.get(unit)
            if found is None:
                raise InvalidData(f"{self.name}: no cash unit {unit!r}")
            if initial is not None:
                found.initial = found.count = initial
                found.out = found.rejected_out = found.in_ = 0
            if thresholds is not None:
                found.low, found.high = thresholds
            self._thresholds()
            return self._cash_unit(found)

        return await self._command("SetStorage", op, timeout=timeout)

    async def end_exchange(self, *, timeout: float | None = None) -> tuple[CashUnit, ...]:
        self.calls.append("end_exchange")

        async def op(command_id: int) -> tuple[CashUnit, ...]:
            if not self.exchange:
                raise NoExchangeActive(f"{self.name}: no exchange is active")
            self.exchange = False
            self.status_changed(self._status_now())
            return self._all()

        return await self._command("EndExchange", op, timeout=timeout)

    async def reset(self, *, timeout: float | None = None) -> None:
        self.calls.append("reset")

        async def op(command_id: int) -> None:
            reject = self._unit_of(CashUnitType.REJECT)
            retract = self._unit_of(CashUnitType.RETRACT)
            stacked = sum(self.books.stacker.values())
            reject.count += stacked
            reject.in_ += stacked
            self.books.stacker.clear()
            retract.count += self.books.exit
            retract.in_ += self.books.exit
            self.books.exit = 0
            self.status_changed(self._status_now())

        await self._command("Reset", op, timeout=timeout)
