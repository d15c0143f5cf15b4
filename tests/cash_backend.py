"""A small scripted cash dispenser for the service tests: `ScriptedCashBackend`.

A real in-memory implementation of `CashDispenserBackend` (not a mock): it keeps the
notes in every unit and position, moves them note by note, reports what moved, keeps
an operation log by token, and fails where the test script says (a jam after n notes,
a double note, an empty unit, a lost connection before or after acting, a slow pick a
cancel can land in, a shutter jam, a short retract). `ground_truth()` is what is
physically there, to compare with the ledger.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from hal.device import BackendListener
from hal.devices.cash_dispenser import (
    CUSTOMER,
    EXIT,
    STACKER,
    TRANSPORT,
    CashDispenserCapabilities,
    CashDispenserStatus,
    CashUnitInfo,
    CashUnitType,
    Contents,
    DelayedDispense,
    Fault,
    ItemsTaken,
    Move,
    MoveReport,
    NoteErrorReason,
    OperationRecord,
    RetractArea,
    ShutterState,
    StackerState,
    TransportState,
    UnitSensor,
    UnitStatus,
)
from hal.errors import ConnectionLost
from hal.ledger import ANY_ITEM

CNY_UNITS = (
    CashUnitInfo("unit1", CashUnitType.CASH_OUT, "CNY", 10000, capacity=2000),
    CashUnitInfo("unit2", CashUnitType.CASH_OUT, "CNY", 5000, capacity=2000),
    CashUnitInfo("unit3", CashUnitType.CASH_OUT, "CNY", 2000, capacity=2000),
    CashUnitInfo("unit4", CashUnitType.CASH_OUT, "CNY", 1000, capacity=2000),
    CashUnitInfo("reject", CashUnitType.REJECT, capacity=500),
    CashUnitInfo("retract", CashUnitType.RETRACT, capacity=200),
)

#: A dispenser that hands notes straight to the customer (the LCDM kind).
DIRECT = CashDispenserCapabilities(
    intermediate_stacker=False,
    shutter=False,
    items_taken_sensor=False,
    retract_areas=frozenset(),
    reject=False,
    knows_operations=False,
    dispense_to=CUSTOMER,
)


@dataclass
class Script:
    """Faults armed for the next operations (each fires once, then clears)."""

    jam_after: int | None = None  # the note after this many lands in the transport
    double_at: set[int] = field(default_factory=set)  # pick ordinals that pull two notes
    lose: str | None = None  # "before" (never received) or "after" (acted, no answer)
    shutter_jam: bool = False
    retract_leaves: int = 0  # notes a retract leaves at the exit
    pick_delay: float = 0.0  # seconds per note (so a cancel lands mid-dispense)
    safe_door_open: bool = False
    take_during_present: bool = False  # the customer grabs the notes as they come out
    fail_unit: str | None = None  # the next pick from this unit fails (cashUnitError)
    reset_unreported: bool = False  # the next reset moves its notes but reports none
    blind: bool = False  # contents() cannot tell how many notes are in the positions
    delay: float | None = None  # the next dispense starts after this many seconds


class ScriptedCashBackend:
    """An in-memory cash dispenser with per-unit note counts and scripted faults."""

    def __init__(
        self,
        units: tuple[CashUnitInfo, ...] = CNY_UNITS,
        notes: Mapping[str, int] | None = None,
        caps: CashDispenserCapabilities | None = None,
    ) -> None:
        self._units = units
        self._caps = caps or CashDispenserCapabilities()
        self.notes: dict[str, int] = {u.id: 0 for u in units}
        self.notes.update({STACKER: 0, TRANSPORT: 0, EXIT: 0, CUSTOMER: 0})
        self.notes.update(notes or {})
        self.script = Script()
        self.calls: list[str] = []
        self.log: dict[int, MoveReport] = {}
        self.status: dict[str, UnitStatus] = {}
        self.taken: bool | None = None
        self.shutter = ShutterState.CLOSED  # as the status reports it
        self.exchanging = False
        self._listener: BackendListener[CashDispenserStatus] | None = None

    # --- the world --------------------------------------------------------------------

    def ground_truth(self) -> dict[str, int]:
        return dict(self.notes)

    def customer_takes(self) -> int:
        n = self.notes[EXIT]
        self.notes[EXIT], self.notes[CUSTOMER] = 0, self.notes[CUSTOMER] + n
        self.taken = True
        assert self._listener is not None
        self._listener.event(ItemsTaken(count=n))
        return n

    # --- the contract -----------------------------------------------------------------

    async def open(self, listener: BackendListener[CashDispenserStatus]) -> None:
        self._listener = listener

    async def close(self) -> None:
        self._listener = None

    def capabilities(self) -> CashDispenserCapabilities:
        return self._caps

    def units(self) -> tuple[CashUnitInfo, ...]:
        return self._units

    async def get_status(self) -> CashDispenserStatus:
        return CashDispenserStatus(
            stacker=StackerState.NOT_EMPTY if self.notes[STACKER] else StackerState.EMPTY,
            transport=TransportState.NOT_EMPTY if self.notes[TRANSPORT] else TransportState.EMPTY,
            exit_items=self.notes[EXIT] > 0,
            shutter=self.shutter,
            safe_door_open=self.script.safe_door_open,
        )

    async def sensors(self) -> tuple[UnitSensor, ...]:
        return tuple(UnitSensor(u.id, self.status.get(u.id, UnitStatus.OK)) for u in self._units)

    async def contents(self) -> Contents:
        n = self.notes
        if self.script.blind:
            return Contents(taken=self.taken)
        return Contents(stacker=n[STACKER], transport=n[TRANSPORT], exit=n[EXIT], taken=self.taken)

    async def exchange(self, active: bool) -> None:
        self.exchanging = active

    async def operation(self, token: int) -> OperationRecord | None:
        if not self._caps.knows_operations:
            return None
        report = self.log.get(token)
        if report is None:
            return OperationRecord(token, received=False)
        return OperationRecord(token, received=True, report=report)

    def _begin(self, name: str, token: int) -> list[Move]:
        self.calls.append(name)
        if self.script.lose == "before":
            self.script.lose = None
            raise ConnectionLost(f"scripted: the line dropped before {name}")
        moves: list[Move] = []
        self.log[token] = MoveReport()
        return moves

    def _end(
        self,
        token: int,
        moves: list[Move],
        fault: Fault | None = None,
        errors: Iterable[NoteErrorReason] = (),
    ) -> MoveReport:
        report = MoveReport(tuple(_merged(moves)), fault, tuple(errors))
        self.log[token] = report
        if self.script.lose == "after":
            self.script.lose = None
            raise ConnectionLost("scripted: the line dropped before the answer")
        return report

    def _move(self, moves: list[Move], src: str, dst: str, n: int = 1) -> None:
        item = next((u.item for u in self._units if u.id == src), ANY_ITEM)
        self.notes[src] -= n
        self.notes[dst] += n
        moves.append(Move(src, dst, item, n))

    def _reject_unit(self) -> str:
        return next(u.id for u in self._units if u.type is CashUnitType.REJECT)

    def _area(self, area: RetractArea) -> str:
        kind = {RetractArea.RETRACT: CashUnitType.RETRACT, RetractArea.REJECT: CashUnitType.REJECT}
        if area in kind:
            return next(u.id for u in self._units if u.type is kind[area])
        return area.value

    async def dispense(self, counts: Mapping[str, int], token: int) -> MoveReport:
        moves = self._begin("dispense", token)
        script, to, picks = self.script, self._caps.dispense_to, 0
        errors: list[NoteErrorReason] = []
        try:
            if script.delay is not None:
                delay, script.delay = script.delay, None
                assert self._listener is not None
                self._listener.event(DelayedDispense(delay=delay))
                await asyncio.sleep(delay)
            for unit, n in counts.items():
                for _ in range(n):
                    if script.pick_delay:
                        await asyncio.sleep(script.pick_delay)
                    while picks in script.double_at and self.notes[unit] > 1:
                        script.double_at.discard(picks)
                        self._move(moves, unit, self._reject_unit())
                        errors.append(NoteErrorReason.DOUBLE_NOTE)
                    if self.notes[unit] <= 0 or script.fail_unit == unit:
                        script.fail_unit = None
                        fault = Fault("cashUnitError", f"{unit}: the pick failed", unit)
                        return self._end(token, moves, fault, errors)
                    picks += 1
                    if script.jam_after is not None and picks > script.jam_after:
                        script.jam_after = None
                        self._move(moves, unit, TRANSPORT)
                        return self._end(token, moves, Fault("mediaJam", "note jammed"), errors)
                    self._move(moves, unit, to)
        except asyncio.CancelledError:
            return self._end(token, moves, Fault("canceled", "stopped on request"), errors)
        return self._end(token, moves, None, errors)

    async def present(self, token: int) -> MoveReport:
        moves = self._begin("present", token)
        if self.script.shutter_jam:
            self.script.shutter_jam = False
            return self._end(token, moves, Fault("shutterFail", "the shutter jammed"))
        if self.notes[STACKER]:
            self._move(moves, STACKER, EXIT, self.notes[STACKER])
            self.taken = False
        if self.script.take_during_present:
            self.script.take_during_present = False
            self.customer_takes()  # before the present's answer reaches the service
        return self._end(token, moves)

    async def retract(self, area: RetractArea, token: int) -> MoveReport:
        moves = self._begin("retract", token)
        source = EXIT if self.notes[EXIT] else STACKER
        n = self.notes[source] - self.script.retract_leaves
        self.script.retract_leaves = 0
        if n > 0:
            self._move(moves, source, self._area(area), n)
        return self._end(token, moves)

    async def reject(self, token: int) -> MoveReport:
        moves = self._begin("reject", token)
        if self.notes[STACKER]:
            self._move(moves, STACKER, self._reject_unit(), self.notes[STACKER])
        return self._end(token, moves)

    async def count(self, units: tuple[str, ...], token: int) -> MoveReport:
        moves = self._begin("count", token)
        for unit in units:
            if self.notes[unit]:
                self._move(moves, unit, self._reject_unit(), self.notes[unit])
        return self._end(token, moves)

    async def test_cash_units(self, token: int) -> MoveReport:
        moves = self._begin("test", token)
        for u in self._units:
            if u.type.dispenses and self.notes[u.id]:
                self._move(moves, u.id, self._reject_unit())
        return self._end(token, moves)

    async def reset(self, token: int) -> MoveReport:
        moves = self._begin("reset", token)
        reject = self._reject_unit()
        for source in (TRANSPORT, STACKER):
            if self.notes[source]:
                self._move(moves, source, reject, self.notes[source])
        if self.notes[EXIT]:
            retract = [u.id for u in self._units if u.type is CashUnitType.RETRACT]
            self._move(moves, EXIT, (retract or [reject])[0], self.notes[EXIT])
        if self.script.reset_unreported:
            self.script.reset_unreported = False
            moves.clear()  # a device that forgot what its purge moved
        return self._end(token, moves)


def _merged(moves: list[Move]) -> list[Move]:
    """Runs of the same (source, destination, item) as one move each."""
    out: list[Move] = []
    for m in moves:
        if out and (out[-1].source, out[-1].destination, out[-1].item) == (
            m.source,
            m.destination,
            m.item,
        ):
            out[-1] = replace(out[-1], count=out[-1].count + m.count)
        else:
            out.append(m)
    return out
