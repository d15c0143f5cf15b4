"""A small scripted cash acceptor for the service tests: `ScriptedCashInBackend`.

A real in-memory implementation of `CashAcceptorBackend` (not a mock), the way
tests/cash_backend.py serves the dispenser: it keeps the notes by item in every unit
and position, takes the customer's notes one at a time within the limits it is given,
classifies them as the test says, routes them at `cash_in_end` by the rule of
`CashAcceptor.cash_in_end`, reports every note it moved, keeps an operation log by
token, and fails where the test script says (a jam, a full cash box, a lost connection
before or after acting, a slow note a cancel can land in). `ground_truth()` is what is
physically there, to compare with the ledger. `dispenser()` is the recycler's other
face: a `CashDispenserBackend` over the same notes.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from hal.device import BackendListener
from hal.devices.cash_acceptor import (
    CUSTOMER,
    ESCROW,
    EXIT,
    TRANSPORT,
    AcceptedNote,
    CashAcceptorCapabilities,
    CashAcceptorStatus,
    CashInContents,
    CashInLimits,
    CashInReport,
    CashUnitInfo,
    CashUnitType,
    ItemsInserted,
    ItemsTaken,
    NoteLevel,
    NoteType,
    RefuseReason,
)
from hal.devices.cash_dispenser import (
    STACKER,
    CashDispenserCapabilities,
    CashDispenserStatus,
    Contents,
)
from hal.devices.cash_model import (
    Fault,
    Move,
    MoveReport,
    OperationRecord,
    RetractArea,
    StackerState,
    TransportState,
    UnitSensor,
    UnitStatus,
)
from hal.errors import ConnectionLost
from hal.stimulus import NoteSample

DEPOSIT_UNITS = (
    CashUnitInfo("cashin", CashUnitType.CASH_IN, capacity=2000),
    CashUnitInfo("recycle100", CashUnitType.RECYCLING, "CNY", 10000, capacity=500),
    CashUnitInfo("recycle50", CashUnitType.RECYCLING, "CNY", 5000, capacity=500),
    CashUnitInfo("retract", CashUnitType.RETRACT, capacity=200),
)
CNY_NOTES = tuple(NoteType("CNY", v) for v in (100, 500, 1000, 2000, 5000, 10000))

#: A bill validator (the JCM ID-003 kind): one note of escrow, no sensor at the exit.
VALIDATOR = CashAcceptorCapabilities(
    max_cash_in_items=1,
    items_taken_sensor=False,
    retract_areas=frozenset(),
    return_to=CUSTOMER,
    classifies=False,
    knows_operations=False,
    senses_escrow=True,
)
VALIDATOR_UNITS = (CashUnitInfo("cashbox", CashUnitType.CASH_IN, capacity=1000),)


@dataclass
class Script:
    """Faults armed for the next operations (each fires once, then clears)."""

    lose: str | None = None  # "before" (never received) or "after" (acted, no answer)
    jam_at: int | None = None  # the note with this ordinal (0-based) of a cash-in jams
    cashbox_full: bool = False  # the next cash_in_end stops with cashUnitError
    note_delay: float = 0.0  # seconds per note (so a cancel lands mid-cash-in)
    safe_door_open: bool = False
    blind: bool = False  # contents() cannot tell what is in the positions
    missing: set[str] = field(default_factory=set)  # units reported missing


def _item_value(item: str) -> tuple[str, int]:
    currency, _, value = item.partition(":")
    return currency, int(value)


class ScriptedCashInBackend:
    """An in-memory cash acceptor with notes by item and scripted faults."""

    def __init__(
        self,
        units: tuple[CashUnitInfo, ...] = DEPOSIT_UNITS,
        caps: CashAcceptorCapabilities | None = None,
        types: tuple[NoteType, ...] = CNY_NOTES,
    ) -> None:
        self._units = units
        self._caps = caps or CashAcceptorCapabilities(recycling=True)
        self._types = types
        self.notes: dict[str, Counter[str]] = {u.id: Counter() for u in units}
        for where in (ESCROW, TRANSPORT, EXIT, CUSTOMER, STACKER):
            self.notes[where] = Counter()
        self.levels: list[AcceptedNote] = []  # the escrow's notes, in order
        self.input: list[NoteSample] = []
        self._inserted = asyncio.Event()
        self.took = asyncio.Event()  # set when a note reaches the escrow
        self.enabled: frozenset[str] = frozenset(t.item for t in types if t.enabled)
        self.script = Script()
        self.calls: list[str] = []
        self.log: dict[int, MoveReport] = {}
        self.taken: bool | None = None
        self.exchanging = False
        self._listener: BackendListener[CashAcceptorStatus] | None = None
        self.facet: RecyclerDispenser | None = None

    # --- the world --------------------------------------------------------------------

    def ground_truth(self) -> dict[str, int]:
        return {where: sum(c.values()) for where, c in self.notes.items()}

    def insert(self, *notes: NoteSample | str) -> None:
        """The customer puts notes into the input."""
        self.input.extend(n if isinstance(n, NoteSample) else NoteSample(n) for n in notes)
        self._inserted.set()
        if self._listener is not None:
            self._listener.event(ItemsInserted())

    def customer_takes(self) -> int:
        n = sum(self.notes[EXIT].values())
        self.notes[CUSTOMER].update(self.notes[EXIT])
        self.notes[EXIT].clear()
        self.taken = True
        for listener in (self._listener, self.facet.listener if self.facet else None):
            if listener is not None:
                listener.event(ItemsTaken(count=n))
        return n

    def fill(self, unit: str, item: str, n: int) -> None:
        self.notes[unit][item] += n

    # --- the contract -----------------------------------------------------------------

    async def open(self, listener: BackendListener[CashAcceptorStatus]) -> None:
        self._listener = listener

    async def close(self) -> None:
        self._listener = None

    def capabilities(self) -> CashAcceptorCapabilities:
        return self._caps

    def units(self) -> tuple[CashUnitInfo, ...]:
        return self._units

    def note_types(self) -> tuple[NoteType, ...]:
        return self._types

    async def configure(self, enabled: frozenset[str]) -> None:
        self.calls.append("configure")
        self.enabled = enabled

    async def get_status(self) -> CashAcceptorStatus:
        return CashAcceptorStatus(
            escrow=StackerState.NOT_EMPTY if self.notes[ESCROW] else StackerState.EMPTY,
            transport=TransportState.NOT_EMPTY if self.notes[TRANSPORT] else TransportState.EMPTY,
            exit_items=bool(self.notes[EXIT]),
            safe_door_open=self.script.safe_door_open,
        )

    async def sensors(self) -> tuple[UnitSensor, ...]:
        return tuple(
            UnitSensor(u.id, UnitStatus.MISSING if u.id in self.script.missing else UnitStatus.OK)
            for u in self._units
        )

    async def contents(self) -> CashInContents:
        if self.script.blind:
            return CashInContents(taken=self.taken)
        n = self.notes
        return CashInContents(
            escrow=dict(+n[ESCROW]),
            transport=sum(n[TRANSPORT].values()),
            exit=sum(n[EXIT].values()),
            taken=self.taken,
        )

    async def exchange(self, active: bool) -> None:
        self.exchanging = active

    async def operation(self, token: int) -> OperationRecord | None:
        if not self._caps.knows_operations:
            return None
        report = self.log.get(token)
        if report is None:
            return OperationRecord(token, received=False)
        return OperationRecord(token, received=True, report=report)

    # --- moving -------------------------------------------------------------------------

    def _begin(self, name: str, token: int) -> list[Move]:
        self.calls.append(name)
        if self.script.lose == "before":
            self.script.lose = None
            raise ConnectionLost(f"scripted: the line dropped before {name}")
        self.log[token] = MoveReport()
        return []

    def _end(self, token: int, report: MoveReport) -> MoveReport:
        self.log[token] = report
        if self.script.lose == "after":
            self.script.lose = None
            raise ConnectionLost("scripted: the line dropped before the answer")
        return report

    def _move(self, moves: list[Move], src: str, dst: str, item: str, n: int = 1) -> None:
        self.notes[src][item] -= n
        if self.notes[src][item] == 0 and src != CUSTOMER:
            del self.notes[src][item]
        self.notes[dst][item] += n
        if moves and (moves[-1].source, moves[-1].destination, moves[-1].item) == (src, dst, item):
            moves[-1] = Move(src, dst, item, moves[-1].count + n)
        else:
            moves.append(Move(src, dst, item, n))

    def _refusal(
        self, note: NoteSample, limits: CashInLimits, taken: int, amount: Counter[str]
    ) -> RefuseReason | None:
        level = NoteLevel(note.level)
        if note.item not in limits.enabled or level is NoteLevel.UNRECOGNIZED:
            return RefuseReason.INVALID_BILL
        if level.retained and not self._caps.classifies:
            return RefuseReason.INVALID_BILL
        if taken >= limits.max_items:
            return (
                RefuseReason.LIMIT_OVER_TOTAL_ITEMS
                if limits.items_limited
                else RefuseReason.STACKER_FULL
            )
        currency, value = _item_value(note.item)
        cap = limits.max_amount.get(currency) if limits.max_amount else None
        if level.credited and cap is not None and amount[currency] + value > cap.minor:
            return RefuseReason.LIMIT_OVER_AMOUNT
        return None

    async def cash_in(self, limits: CashInLimits, token: int) -> CashInReport:
        moves = self._begin("cash_in", token)
        notes: list[AcceptedNote] = []
        refused: list[RefuseReason] = []
        amount: Counter[str] = Counter()
        fault = None
        try:
            while not self.input:
                self._inserted.clear()
                await self._inserted.wait()
            ordinal = 0
            while self.input:
                if self.script.note_delay:
                    await asyncio.sleep(self.script.note_delay)
                note = self.input.pop(0)
                why = self._refusal(note, limits, len(notes), amount)
                if why is not None:
                    refused.append(why)  # given back to the customer at once
                    continue
                if self.script.jam_at is not None and ordinal == self.script.jam_at:
                    self.script.jam_at = None
                    self._move(moves, CUSTOMER, TRANSPORT, note.item)
                    fault = Fault("mediaJam", "a note jammed in the transport")
                    break
                ordinal += 1
                accepted = AcceptedNote(note.item, NoteLevel(note.level))
                self._move(moves, CUSTOMER, ESCROW, note.item)
                self.levels.append(accepted)
                notes.append(accepted)
                self.took.set()
                if accepted.level.credited:
                    currency, value = _item_value(note.item)
                    amount[currency] += value
        except asyncio.CancelledError:
            fault = Fault("canceled", "stopped on request")
        report = CashInReport(tuple(moves), fault, notes=tuple(notes), refused=tuple(refused))
        return self._end(token, report)  # type: ignore[return-value]

    def _unit(self, kind: CashUnitType) -> str | None:
        return next((u.id for u in self._units if u.type is kind), None)

    def _route(self, note: AcceptedNote, use_recycle: bool, fit: Counter[str]) -> str:
        cashin = self._unit(CashUnitType.CASH_IN)
        assert cashin is not None
        if note.level.retained:
            return self._unit(CashUnitType.RETRACT) or cashin
        if note.level is NoteLevel.FIT and use_recycle:
            for u in self._units:
                if u.type is CashUnitType.RECYCLING and u.item == note.item:
                    there = sum(self.notes[u.id].values())
                    if u.capacity is None or there + fit[note.item] <= u.capacity:
                        return u.id
        return cashin

    async def cash_in_end(self, use_recycle_units: bool, token: int) -> MoveReport:
        moves = self._begin("cash_in_end", token)
        if self.script.cashbox_full:
            self.script.cashbox_full = False
            return self._end(token, MoveReport((), Fault("cashUnitError", "full", "cashin")))
        escrow = self._escrow_notes()
        fit = Counter(n.item for n in escrow if n.level is NoteLevel.FIT)
        for note in escrow:
            self._move(moves, ESCROW, self._route(note, use_recycle_units, fit), note.item)
        self.levels = []
        return self._end(token, MoveReport(tuple(moves)))

    def _escrow_notes(self) -> list[AcceptedNote]:
        """The escrow's notes with their levels (notes of unknown level count as fit)."""
        left = Counter(self.notes[ESCROW])
        out = []
        for note in self.levels:
            if left[note.item] > 0:
                left[note.item] -= 1
                out.append(note)
        out.extend(AcceptedNote(item) for item, n in left.items() for _ in range(n))
        return out

    async def rollback(self, token: int) -> MoveReport:
        moves = self._begin("rollback", token)
        back = self._caps.return_to
        retain = self._unit(CashUnitType.RETRACT) or self._unit(CashUnitType.CASH_IN)
        assert retain is not None
        for note in self._escrow_notes():
            self._move(moves, ESCROW, retain if note.level.retained else back, note.item)
        self.levels = []
        if back == EXIT and self.notes[EXIT]:
            self.taken = False
        return self._end(token, MoveReport(tuple(moves)))

    async def retract(self, area: RetractArea, token: int) -> MoveReport:
        moves = self._begin("retract", token)
        kind = CashUnitType.RETRACT if area is RetractArea.RETRACT else CashUnitType.REJECT
        dest = self._unit(kind)
        assert dest is not None
        for item, n in list(self.notes[EXIT].items()):
            self._move(moves, EXIT, dest, item, n)
        return self._end(token, MoveReport(tuple(moves)))

    async def reset(self, token: int) -> MoveReport:
        moves = self._begin("reset", token)
        dest = self._unit(CashUnitType.RETRACT) or self._unit(CashUnitType.CASH_IN)
        assert dest is not None
        for where in (ESCROW, TRANSPORT, EXIT):
            for item, n in list(self.notes[where].items()):
                self._move(moves, where, dest, item, n)
        self.levels = []
        return self._end(token, MoveReport(tuple(moves)))

    def dispenser(self) -> RecyclerDispenser:
        """The recycler's dispenser face over the same notes."""
        self.facet = RecyclerDispenser(self)
        return self.facet


#: The recycler's dispenser face: straight to the exit, retract to the retract unit.
FACET_CAPS = CashDispenserCapabilities(
    intermediate_stacker=False,
    shutter=False,
    retract_areas=frozenset({RetractArea.RETRACT}),
    reject=False,
    count=False,
    test_cash_units=False,
    dispense_to=EXIT,
)


class RecyclerDispenser:
    """`CashDispenserBackend` over a `ScriptedCashInBackend`'s notes and log."""

    def __init__(self, device: ScriptedCashInBackend) -> None:
        self.device = device
        self.listener: BackendListener[CashDispenserStatus] | None = None

    async def open(self, listener: BackendListener[CashDispenserStatus]) -> None:
        self.listener = listener

    async def close(self) -> None:
        self.listener = None

    def capabilities(self) -> CashDispenserCapabilities:
        return FACET_CAPS

    def units(self) -> tuple[CashUnitInfo, ...]:
        return self.device.units()

    async def get_status(self) -> CashDispenserStatus:
        return CashDispenserStatus(exit_items=bool(self.device.notes[EXIT]))

    async def sensors(self) -> tuple[UnitSensor, ...]:
        return await self.device.sensors()

    async def contents(self) -> Contents:
        n = self.device.notes
        return Contents(
            stacker=0,
            transport=sum(n[TRANSPORT].values()),
            exit=sum(n[EXIT].values()),
            taken=self.device.taken,
        )

    async def exchange(self, active: bool) -> None:
        await self.device.exchange(active)

    async def operation(self, token: int) -> OperationRecord | None:
        return await self.device.operation(token)

    async def dispense(self, counts: dict[str, int], token: int) -> MoveReport:
        moves = self.device._begin("dispense", token)
        items = {u.id: u.item for u in self.device.units()}
        for unit, n in counts.items():
            self.device._move(moves, unit, EXIT, items[unit], n)
        self.device.taken = False
        return self.device._end(token, MoveReport(tuple(moves)))

    async def retract(self, area: RetractArea, token: int) -> MoveReport:
        return await self.device.retract(area, token)

    async def reset(self, token: int) -> MoveReport:
        return await self.device.reset(token)

    async def present(self, token: int) -> MoveReport:
        raise AssertionError("the facet has no stacker")

    async def reject(self, token: int) -> MoveReport:
        raise AssertionError("the facet has no reject")

    async def count(self, units: Iterable[str], token: int) -> MoveReport:
        raise AssertionError("the facet cannot count")

    async def test_cash_units(self, token: int) -> MoveReport:
        raise AssertionError("the facet cannot test")
