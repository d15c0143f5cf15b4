"""The simulated cash acceptor at the backend level: `CashAcceptorModel` driven through
the `CashAcceptorBackend` methods (and its recycler's `CashDispenserBackend` facet), with
its ground truth checked after every step."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Awaitable, Iterator

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from hal.device import DeviceState
from hal.devices.cash_acceptor import CashAcceptorBackend, ItemsInserted
from hal.devices.cash_dispenser import CashDispenserBackend, ItemsTaken
from hal.devices.cash_in_model import (
    ESCROW,
    AcceptedNote,
    CashAcceptorStatus,
    CashInLimits,
    CashInReport,
    NoteLevel,
    RefuseReason,
)
from hal.devices.cash_model import (
    CUSTOMER,
    EXIT,
    STACKER,
    TRANSPORT,
    Move,
    MoveReport,
    RetractArea,
    StackerState,
    UnitStatus,
)
from hal.errors import (
    ConfigurationError,
    ConnectionLost,
    DeviceNotReady,
    InvalidData,
    SequenceError,
    UnsupportedOperation,
)
from hal.events import Event
from hal.money import Money
from hal.stimulus import NoteSample
from simulator.clock import SimClock
from simulator.models.cash_acceptor import CashAcceptorModel
from simulator.models.cash_in_profiles import CASH_IN_PROFILES, cash_in_profile

SCALE = 0.001
ALL = frozenset(n.item for n in CASH_IN_PROFILES["default"].note_types)
Y100, Y50, Y20, Y10 = "CNY:10000", "CNY:5000", "CNY:2000", "CNY:1000"


class Listener:
    """What the service would get from the model."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.statuses: list[CashAcceptorStatus] = []

    def event(self, event: Event) -> None:
        self.events.append(event)

    def status_changed(self, status: CashAcceptorStatus) -> None:
        self.statuses.append(status)


class Tokens:
    def __init__(self) -> None:
        self.last = 0

    def __call__(self) -> int:
        self.last += 1
        return self.last


def limits(n: int = 100, **kw: object) -> CashInLimits:
    return CashInLimits(max_items=n, enabled=kw.pop("enabled", ALL), **kw)  # type: ignore[arg-type]


def make(profile: str = "default", **counts: int) -> CashAcceptorModel:
    return CashAcceptorModel(
        cash_in_profile(profile, counts or None), clock=SimClock(SCALE), name="acc"
    )


@pytest.fixture
def tokens() -> Tokens:
    return Tokens()


@pytest.fixture
def model() -> Iterator[CashAcceptorModel]:
    return make()


def total(model: CashAcceptorModel) -> int:
    return sum(model.ground_truth().values())


def test_profiles_and_protocols() -> None:
    model = make()
    backend: CashAcceptorBackend = model  # (mypy checks the model in its module too)
    facet: CashDispenserBackend = model.dispenser()
    assert facet.units() == backend.units()
    assert [u.id for u in model.units()] == ["cashin", "recycle100", "recycle50", "retract"]
    assert {n.item for n in model.note_types()} == ALL
    id003 = make("id003")
    assert id003.capabilities().max_cash_in_items == 1
    assert [u.id for u in id003.units()] == ["cashbox"]
    with pytest.raises(UnsupportedOperation):
        id003.dispenser()
    assert [(u.id, u.item, u.capacity) for u in make("nv11").units()] == [
        ("cashbox", "*", 500),
        ("payout", Y20, 30),
    ]
    nv11 = CashAcceptorModel(cash_in_profile("nv11", values={"payout": 5000}))
    assert nv11.units()[1].item == Y50
    with pytest.raises(ConfigurationError):
        cash_in_profile("nope")
    with pytest.raises(ConfigurationError):  # a recycled note the reader does not know
        cash_in_profile("nv11", values={"payout": 7})


async def test_deposit_to_recyclers_and_cash_box(model: CashAcceptorModel, tokens: Tokens) -> None:
    listener = Listener()
    await model.open(listener)
    start = total(model)
    model.insert_notes(
        [Y100, Y100, NoteSample(Y50, "unfit"), NoteSample(Y10, "suspect"), "XXX:1", Y20]
    )
    assert any(isinstance(e, ItemsInserted) for e in listener.events)
    report = await model.cash_in(limits(), tokens())
    assert isinstance(report, CashInReport)
    assert report.fault is None
    assert report.refused == (RefuseReason.INVALID_BILL,)
    assert [n.level for n in report.notes] == [
        NoteLevel.FIT,
        NoteLevel.FIT,
        NoteLevel.UNFIT,
        NoteLevel.SUSPECT,
        NoteLevel.FIT,
    ]
    assert report.total(CUSTOMER, ESCROW) == 5
    truth = model.ground_truth()
    assert truth[ESCROW] == 5
    assert truth[CUSTOMER] == -5
    assert total(model) == start
    assert (await model.contents()).escrow == {Y100: 2, Y50: 1, Y10: 1, Y20: 1}
    assert listener.statuses[-1].escrow is StackerState.NOT_EMPTY

    stored = await model.cash_in_end(True, tokens())
    assert stored.fault is None
    assert set(stored.moves) == {
        Move(ESCROW, "recycle100", Y100, 2),
        Move(ESCROW, "cashin", Y50, 1),  # unfit: never recycled
        Move(ESCROW, "retract", Y10, 1),  # suspect: retained
        Move(ESCROW, "cashin", Y20, 1),  # no recycling unit of its value
    }
    truth = model.ground_truth()
    assert truth["recycle100"] == 2
    assert truth["cashin"] == 2
    assert truth["retract"] == 1
    assert truth[ESCROW] == 0
    assert total(model) == start
    assert model.operation_log[tokens.last][0] is True


async def test_no_recycling_and_full_recycler(tokens: Tokens) -> None:
    model = make(recycle100=499)
    await model.open(Listener())
    model.insert_notes([Y100, Y100, Y50])
    await model.cash_in(limits(), tokens())
    report = await model.cash_in_end(True, tokens())
    # two CNY 100 do not fit in a unit with room for one: both to the cash box
    assert report.total(ESCROW, "cashin") == 2
    assert report.total(ESCROW, "recycle50") == 1
    model.insert_notes([Y50])
    await model.cash_in(limits(), tokens())
    report = await model.cash_in_end(False, tokens())
    assert report.moves == (Move(ESCROW, "cashin", Y50, 1),)


async def test_limits(model: CashAcceptorModel, tokens: Tokens) -> None:
    await model.open(Listener())
    model.insert_notes([Y10, Y20, Y100, Y50, Y10, Y10])
    amount = {"CNY": Money(10000, "CNY")}
    report = await model.cash_in(
        limits(3, items_limited=True, max_amount=amount, enabled=ALL - {Y50}), tokens()
    )
    assert [n.item for n in report.notes] == [Y10, Y20, Y10]
    assert report.refused == (
        RefuseReason.LIMIT_OVER_AMOUNT,  # 10 + 20 + 100 > 100
        RefuseReason.INVALID_BILL,  # not enabled
        RefuseReason.LIMIT_OVER_TOTAL_ITEMS,  # the fourth note
    )
    assert model.input_notes == ()
    # escrow room (not the transaction's limit): the rest stays in the input
    model.insert_notes([Y10, Y10, Y10])
    report = await model.cash_in(limits(1), tokens())
    assert len(report.notes) == 1
    assert report.refused == ()
    assert len(model.input_notes) == 2
    await model.configure(frozenset({Y100}))
    assert [n.item for n in model.note_types() if n.enabled] == [Y100]
    report = await model.cash_in(limits(5), tokens())
    assert report.refused == (RefuseReason.INVALID_BILL,) * 2
    assert not report.notes
    with pytest.raises(InvalidData):
        await model.configure(frozenset({"USD:100"}))


async def test_validator_takes_one_note_at_a_time(tokens: Tokens) -> None:
    model = make("id003")
    await model.open(Listener())
    model.insert_notes([Y20, NoteSample(Y10, "counterfeit"), Y50])
    report = await model.cash_in(limits(), tokens())
    assert [n.item for n in report.notes] == [Y20]
    assert report.refused == ()
    assert len(model.input_notes) == 2  # the escrow holds one
    report = await model.cash_in(limits(), tokens())  # full escrow: takes nothing
    assert report.moves == ()
    assert (await model.rollback(tokens())).moves == (Move(ESCROW, CUSTOMER, Y20, 1),)
    assert model.ground_truth()[CUSTOMER] == 0
    report = await model.cash_in(limits(), tokens())
    # a validator does not classify: the counterfeit is refused, the next one escrowed
    assert report.refused == (RefuseReason.INVALID_BILL,)
    assert [n.item for n in report.notes] == [Y50]
    assert await model.operation(tokens.last) is None  # cannot tell
    report = await model.cash_in_end(True, tokens())
    assert report.moves == (Move(ESCROW, "cashbox", Y50, 1),)
    with pytest.raises(UnsupportedOperation):
        await model.retract(RetractArea.RETRACT, tokens())


async def test_rollback_to_exit_and_items_taken(model: CashAcceptorModel, tokens: Tokens) -> None:
    listener = Listener()
    await model.open(listener)
    model.insert_notes([Y100, NoteSample(Y50, "counterfeit")])
    await model.cash_in(limits(), tokens())
    report = await model.rollback(tokens())
    assert set(report.moves) == {Move(ESCROW, EXIT, Y100, 1), Move(ESCROW, "retract", Y50, 1)}
    assert (await model.contents()).taken is False
    assert model.customer_takes() == 1
    assert any(isinstance(e, ItemsTaken) and e.count == 1 for e in listener.events)
    assert (await model.contents()).taken is True
    truth = model.ground_truth()
    assert truth[CUSTOMER] == -1
    assert truth["retract"] == 1
    # notes left at the exit are retracted
    model.insert_notes([Y10])
    await model.cash_in(limits(), tokens())
    await model.rollback(tokens())
    report = await model.retract(RetractArea.RETRACT, tokens())
    assert report.moves == (Move(EXIT, "retract", Y10, 1),)
    assert (await model.retract(RetractArea.RETRACT, tokens())).fault.error_code == "noItems"  # type: ignore[union-attr]


async def test_a_full_retract_unit_refuses_and_nothing_moves(
    model: CashAcceptorModel, tokens: Tokens
) -> None:
    await model.open(Listener())
    capacity = next(u.capacity for u in model.units() if u.id == "retract")
    assert capacity is not None
    model.replenish("retract", capacity - 1)
    start = total(model)
    # a retract of three notes at the exit into a unit with room for one
    model.insert_notes([Y100, Y50, Y20])
    await model.cash_in(limits(), tokens())
    await model.rollback(tokens())
    report = await model.retract(RetractArea.RETRACT, tokens())
    assert report.fault is not None
    assert (report.fault.error_code, report.fault.unit) == ("cashUnitError", "retract")
    assert not report.moves
    # ... a reset cannot put them there either
    report = await model.reset(tokens())
    assert report.fault is not None
    assert (report.fault.error_code, report.fault.unit) == ("cashUnitError", "retract")
    assert not report.moves
    truth = model.ground_truth()
    assert (truth[EXIT], truth["retract"], total(model)) == (3, capacity - 1, start)
    assert model.customer_takes() == 3
    # a rollback retaining two counterfeit notes: refused, they stay in the escrow
    model.insert_notes([NoteSample(Y50, "counterfeit"), NoteSample(Y10, "counterfeit"), Y20])
    await model.cash_in(limits(), tokens())
    report = await model.rollback(tokens())
    assert report.fault is not None
    assert report.fault.error_code == "cashUnitError"
    assert not report.moves
    assert model.ground_truth()[ESCROW] == 3
    assert model.ground_truth()["retract"] == capacity - 1
    # an operator empties the unit (an exchange): the rollback goes through
    assert model.empty_unit("retract") == capacity - 1
    report = await model.rollback(tokens())
    assert report.fault is None
    assert set(report.moves) == {
        Move(ESCROW, EXIT, Y20, 1),
        Move(ESCROW, "retract", Y50, 1),
        Move(ESCROW, "retract", Y10, 1),
    }
    assert (await model.retract(RetractArea.RETRACT, tokens())).moves == (
        Move(EXIT, "retract", Y20, 1),
    )


async def test_jam_clear_and_reset(model: CashAcceptorModel, tokens: Tokens) -> None:
    listener = Listener()
    await model.open(listener)
    model.insert_notes([Y100, Y50])
    model.jam_next_note()
    report = await model.cash_in(limits(), tokens())
    assert report.fault is not None
    assert report.fault.error_code == "mediaJam"
    assert report.moves == (Move(CUSTOMER, TRANSPORT, Y100, 1),)
    assert (await model.get_status()).device is DeviceState.HARDWARE_ERROR
    refused = await model.cash_in(limits(), tokens())
    assert refused.fault.error_code == "mediaJam"
    assert not refused.moves
    assert model.clear_jam() == 1  # by hand into the cash-in unit
    assert model.ground_truth()["cashin"] == 1
    report = await model.reset(tokens())
    assert report.moves == (Move(TRANSPORT, "cashin", Y100, 1),)  # told with the reset
    report = await model.cash_in(limits(), tokens())
    assert [n.item for n in report.notes] == [Y50]
    report = await model.reset(tokens())
    assert report.moves == (Move(ESCROW, "retract", Y50, 1),)
    assert model.ground_truth()[ESCROW] == 0


async def test_cash_box_full_removed_and_safe_door(tokens: Tokens) -> None:
    model = make()
    await model.open(Listener())
    model.insert_notes([Y20, Y20])
    await model.cash_in(limits(), tokens())
    model.set_cash_box_full()
    assert next(s for s in await model.sensors() if s.id == "cashin").full is True
    report = await model.cash_in_end(True, tokens())
    assert report.fault is not None
    assert report.fault.error_code == "cashUnitError"
    assert report.fault.unit == "cashin"
    assert report.moves == ()
    assert model.ground_truth()[ESCROW] == 2  # the notes stay in the escrow
    model.set_cash_box_full(False)
    assert (await model.cash_in_end(True, tokens())).total(ESCROW, "cashin") == 2
    model.remove_cash_box()
    model.insert_notes([Y20])
    report = await model.cash_in(limits(), tokens())
    assert report.fault.error_code == "cashUnitError"
    assert not report.moves
    model.remove_cash_box(False)
    model.set_safe_door(True)
    report = await model.cash_in(limits(), tokens())
    assert report.fault.error_code == "safeDoorOpen"  # type: ignore[union-attr]
    assert (await model.get_status()).safe_door_open


async def test_cancel_while_waiting_and_mid_cash_in(tokens: Tokens) -> None:
    model = make()
    await model.open(Listener())
    task = asyncio.create_task(model.cash_in(limits(), tokens()))
    await asyncio.sleep(0.05)
    assert not task.done()  # nothing inserted: it waits
    task.cancel()
    report = await task
    assert report.fault is not None
    assert report.fault.error_code == "canceled"
    assert report.moves == ()
    model.set_note_time(20)  # 20 ms a note at this scale
    model.insert_notes([Y10] * 10)
    task = asyncio.create_task(model.cash_in(limits(), tokens()))
    await model.wait_until(lambda: model.notes_at(ESCROW) >= 2)
    task.cancel()
    report = await task
    assert report.fault.error_code == "canceled"  # type: ignore[union-attr]
    escrowed = model.notes_at(ESCROW)
    assert 2 <= escrowed < 10
    assert report.total(CUSTOMER, ESCROW) == escrowed
    assert len(model.input_notes) == 10 - escrowed


async def test_power_loss_keeps_the_escrow(tokens: Tokens) -> None:
    profile = dataclasses.replace(cash_in_profile("nv200"), note_time=0, store_time=50)
    model = CashAcceptorModel(profile, clock=SimClock(SCALE))
    await model.open(Listener())
    model.insert_notes([Y50])
    await model.cash_in(limits(), tokens())
    model.set_power(False)
    assert (await model.get_status()).device is DeviceState.POWER_OFF
    with pytest.raises(DeviceNotReady):
        await model.contents()
    model.set_power(True)
    assert (await model.contents()).escrow == {Y50: 1}  # still held
    # the power fails mid-store: the note stays in the escrow, the caller cannot tell
    token = tokens()
    task = asyncio.create_task(model.cash_in_end(True, token))
    await asyncio.sleep(0.01)
    model.set_power(False)
    with pytest.raises(ConnectionLost):
        await task
    model.set_power(True)
    assert (await model.contents()).escrow == {Y50: 1}
    assert model.ground_truth()["cashbox"] == 0
    assert total(model) == 0
    # the power fails with a note in the reader: it stays in the transport while the
    # power is off; a validator hands it back to the customer at power-up
    model.set_note_time(50)
    await model.cash_in_end(True, tokens())
    model.insert_notes([Y10])
    task = asyncio.create_task(model.cash_in(limits(), tokens()))
    await model.wait_until(lambda: model.notes_at(TRANSPORT) == 1)
    model.set_power(False)
    with pytest.raises(ConnectionLost):
        await task
    assert model.ground_truth()[TRANSPORT] == 1
    assert model.operation_log[tokens.last][1].moves == (Move(CUSTOMER, TRANSPORT, Y10, 1),)
    model.set_power(True)
    assert model.ground_truth()[TRANSPORT] == 0
    assert model.ground_truth()[CUSTOMER] == -1  # the CNY 50 stored, the CNY 10 given back
    assert total(model) == 0


async def test_operation_log_and_fencing(model: CashAcceptorModel, tokens: Tokens) -> None:
    await model.open(Listener())
    model.insert_notes([Y100])
    token = tokens()
    report = await model.cash_in(limits(), token)
    record = await model.operation(token)
    assert record is not None
    assert record.received
    assert record.report == report
    assert isinstance(record.report, CashInReport)
    assert record.report.notes == (AcceptedNote(Y100, NoteLevel.FIT),)
    unseen = tokens()
    assert (await model.operation(unseen)).received is False  # type: ignore[union-attr]
    with pytest.raises(InvalidData):  # fenced
        await model.cash_in_end(True, unseen)
    with pytest.raises(InvalidData):  # used
        await model.cash_in_end(True, token)


async def test_one_operation_at_a_time_across_sides(tokens: Tokens) -> None:
    model = make()
    await model.open(Listener())
    task = asyncio.create_task(model.cash_in(limits(), tokens()))
    await asyncio.sleep(0.02)
    with pytest.raises(SequenceError):
        await model.dispenser().dispense({"recycle50": 1}, tokens())
    task.cancel()
    await task


async def test_recycler_dispenses_deposited_notes(tokens: Tokens) -> None:
    model = make()
    acceptor_listener, dispenser_listener = Listener(), Listener()
    await model.open(acceptor_listener)
    dispenser = model.dispenser()
    await dispenser.open(dispenser_listener)
    assert dispenser.units() == model.units()
    assert all(a is b for a, b in zip(dispenser.units(), model.units(), strict=True))
    model.insert_notes([Y100] * 3 + [Y50] * 2)
    await model.cash_in(limits(), tokens())
    await model.cash_in_end(True, tokens())
    token = tokens()
    report = await dispenser.dispense({"recycle100": 2, "recycle50": 1}, token)
    assert report.total("recycle100", STACKER) == 2
    assert report.fault is None
    # either side answers for the other's tokens
    record = await model.operation(token)
    assert record is not None
    assert record.report == report
    await dispenser.present(tokens())
    assert model.customer_takes() == 3
    # the dispenser's notes: its service hears ItemsTaken, the acceptor's does not
    assert any(isinstance(e, ItemsTaken) for e in dispenser_listener.events)
    assert not any(isinstance(e, ItemsTaken) for e in acceptor_listener.events)
    truth = model.ground_truth()
    assert truth["recycle100"] == 1
    assert truth["recycle50"] == 1
    assert truth[CUSTOMER] == -2
    assert total(model) == 0
    await dispenser.close()


async def test_nv11_pays_out_to_the_customer(tokens: Tokens) -> None:
    model = make("nv11")
    model.set_note_time(0)
    await model.open(Listener())
    for _ in range(2):
        model.insert_notes([Y20])
        await model.cash_in(limits(), tokens())
        report = await model.cash_in_end(True, tokens())
        assert report.moves == (Move(ESCROW, "payout", Y20, 1),)
    dispenser = model.dispenser()
    assert dispenser.capabilities().dispense_to == CUSTOMER
    report = await dispenser.dispense({"payout": 2}, tokens())
    assert report.moves == (Move("payout", CUSTOMER, Y20, 2),)
    assert model.ground_truth()[CUSTOMER] == 0
    assert model.ground_truth()["payout"] == 0


async def test_empty_unit_and_second_service(model: CashAcceptorModel, tokens: Tokens) -> None:
    listener = Listener()
    await model.open(listener)
    with pytest.raises(DeviceNotReady):
        await model.open(Listener())
    model.insert_notes([Y10, Y10])
    await model.cash_in(limits(), tokens())
    await model.cash_in_end(True, tokens())
    assert model.empty_unit("cashin") == 2
    assert model.ground_truth()["cashin"] == 0
    assert model.replenished == -2
    model.set_unit_status("recycle50", UnitStatus.INOPERATIVE)
    assert next(s for s in await model.sensors() if s.id == "recycle50").status is (
        UnitStatus.INOPERATIVE
    )
    await model.close()
    assert not model.is_open


# --- random stories: every note is somewhere, every report tells what moved ---------------

NOTES = st.sampled_from(
    [
        NoteSample(Y100),
        NoteSample(Y50),
        NoteSample(Y10),
        NoteSample(Y50, "unfit"),
        NoteSample(Y100, "suspect"),
        NoteSample(Y10, "counterfeit"),
        NoteSample(Y20, "unrecognized"),
        NoteSample("XXX:1"),
    ]
)


class AcceptorMachine(RuleBasedStateMachine):
    """Random deposits, rollbacks, payouts, jams, power cuts and hands on one recycler
    (both sides). After every step: the notes are all somewhere (the sum changes only
    by an operator's hand), the escrow's levels are its notes, and the ground truth is
    the start replayed with every report's moves and every hand's."""

    def __init__(self) -> None:
        super().__init__()
        self.runner = asyncio.Runner()
        profile = dataclasses.replace(
            cash_in_profile("default", {"recycle100": 495}),
            note_time=0,
            store_time=0,
            return_time=0,
            pick_time=0,
            present_time=0,
        )
        self.model = CashAcceptorModel(profile, clock=SimClock(SCALE))
        self.facet = self.model.dispenser()
        self.runner.run(self.model.open(Listener()))
        self.shadow = self.model.ground_truth()
        self.total = sum(self.shadow.values())
        self.token = Tokens()

    def teardown(self) -> None:
        self.runner.run(self.model.close())
        self.runner.close()

    def run(self, operation: Awaitable[MoveReport]) -> MoveReport:
        async def go() -> MoveReport:
            return await operation

        report = self.runner.run(go())
        for move in report.moves:
            self.shadow[move.source] -= move.count
            self.shadow[move.destination] += move.count
        return report

    @rule(notes=st.lists(NOTES, min_size=1, max_size=8), room=st.integers(0, 10),
          limited=st.booleans())  # fmt: skip
    def deposit(self, notes: list[NoteSample], room: int, limited: bool) -> None:
        self.model.insert_notes(notes)
        report = self.run(self.model.cash_in(limits(room, items_limited=limited), self.token()))
        assert isinstance(report, CashInReport)
        assert len(report.notes) == report.total(CUSTOMER, ESCROW)  # each with its level
        assert report.total(CUSTOMER, ESCROW) <= room
        self.model.take_back_input()

    @rule(recycle=st.booleans())
    def end(self, recycle: bool) -> None:
        self.run(self.model.cash_in_end(recycle, self.token()))

    @rule()
    def rollback(self) -> None:
        self.run(self.model.rollback(self.token()))

    @rule()
    def retract(self) -> None:
        self.run(self.model.retract(RetractArea.RETRACT, self.token()))

    @rule()
    def reset(self) -> None:
        self.run(self.model.reset(self.token()))

    @rule(n100=st.integers(0, 3), n50=st.integers(0, 3))
    def payout(self, n100: int, n50: int) -> None:
        self.run(self.facet.dispense({"recycle100": n100, "recycle50": n50}, self.token()))

    @rule()
    def present(self) -> None:
        self.run(self.facet.present(self.token()))

    @rule()
    def payout_reset(self) -> None:
        self.run(self.facet.reset(self.token()))

    @rule()
    def take(self) -> None:
        taken = self.model.customer_takes()
        self.shadow[EXIT] -= taken
        self.shadow[CUSTOMER] += taken

    @rule()
    def jam(self) -> None:
        self.model.jam_next_note()

    @rule()
    def clear_jam(self) -> None:
        self.model.clear_jam()  # by hand: the next reset of either side reports it

    @rule(full=st.booleans())
    def cash_box_full(self, full: bool) -> None:
        self.model.set_cash_box_full(full)

    @rule(removed=st.booleans())
    def cash_box_removed(self, removed: bool) -> None:
        self.model.remove_cash_box(removed)

    @rule(notes=st.lists(NOTES, min_size=1, max_size=5))
    def power_cut_mid_deposit(self, notes: list[NoteSample]) -> None:
        model = self.model
        token = self.token()

        async def go() -> MoveReport:
            model.set_note_time(1.0)
            model.insert_notes(notes)
            task = asyncio.create_task(model.cash_in(limits(), token))
            await asyncio.sleep(0.002)
            model.set_power(False)
            with contextlib.suppress(ConnectionLost):
                await task
            model.set_power(True)
            model.set_note_time(0)
            model.take_back_input()
            record = await model.operation(token)
            assert record is not None
            assert record.received
            return record.report

        self.run(go())

    @rule(unit=st.sampled_from(["cashin", "retract"]))
    def empty(self, unit: str) -> None:
        taken = self.model.empty_unit(unit)
        self.shadow[unit] -= taken
        self.total -= taken

    @invariant()
    def every_note_is_somewhere(self) -> None:
        truth = self.model.ground_truth()
        assert sum(truth.values()) == self.total
        assert all(n >= 0 for location, n in truth.items() if location != CUSTOMER)
        assert len(self.model.escrow_notes) == truth[ESCROW]
        items = self.model.ground_truth_items()
        assert {loc: sum(per.values()) for loc, per in items.items()} == truth

    @invariant()
    def no_unit_over_its_capacity(self) -> None:
        truth = self.model.ground_truth()
        for unit in self.model.units():
            assert unit.capacity is None or truth[unit.id] <= unit.capacity

    @invariant()
    def the_reports_tell_exactly_what_moved(self) -> None:
        if self.model._m.cleared_unreported:
            return  # cleared by hand: told by the next reset
        assert self.model.ground_truth() == self.shadow


TestAcceptorMachine = AcceptorMachine.TestCase
TestAcceptorMachine.settings = settings(
    max_examples=40,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
