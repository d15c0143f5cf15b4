"""The simulated cash dispenser at the backend level: `CashDispenserModel` driven through
the `CashDispenserBackend` methods, with its ground truth checked after every step."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator, Awaitable

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from hal.device import DeviceState
from hal.devices.cash_dispenser import (
    CUSTOMER,
    EXIT,
    STACKER,
    TRANSPORT,
    CashDispenserBackend,
    CashDispenserStatus,
    Fault,
    ItemsTaken,
    Move,
    MoveReport,
    NoteErrorReason,
    RetractArea,
    ShutterState,
    StackerState,
    TransportState,
    UnitStatus,
)
from hal.errors import (
    ConfigurationError,
    ConnectionLost,
    DeviceNotReady,
    InvalidData,
    SequenceError,
    TooManyItems,
    UnsupportedOperation,
)
from hal.events import Event
from simulator.clock import SimClock
from simulator.models.cash_dispenser import LOG_SIZE, CashDispenserModel
from simulator.models.cash_profiles import CASH_PROFILES, CashProfile, cash_profile

SCALE = 0.001
TOTAL = 4 * 500  # notes in the default profile


class Listener:
    """What the service would get from the model."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.statuses: list[CashDispenserStatus] = []

    def event(self, event: Event) -> None:
        self.events.append(event)

    def status_changed(self, status: CashDispenserStatus) -> None:
        self.statuses.append(status)


def make(
    profile: str | CashProfile = "default", pick_time: float | None = None
) -> CashDispenserModel:
    built = cash_profile(profile) if isinstance(profile, str) else profile
    return CashDispenserModel(built, clock=SimClock(SCALE), pick_time=pick_time)


@pytest.fixture
def listener() -> Listener:
    return Listener()


@pytest.fixture
async def model(listener: Listener) -> AsyncIterator[CashDispenserModel]:
    m = make()
    await m.open(listener)
    yield m
    await m.close()
    assert sum(m.ground_truth().values()) == TOTAL + m.replenished


class Tokens:
    def __init__(self) -> None:
        self.last = 0

    def __call__(self) -> int:
        self.last += 1
        return self.last


@pytest.fixture
def token() -> Tokens:
    return Tokens()


def test_the_model_is_a_backend_and_the_profiles_are_sound() -> None:
    model: CashDispenserBackend = make()
    assert [u.id for u in model.units()] == [
        "unit1", "unit2", "unit3", "unit4", "reject", "retract",
    ]  # fmt: skip
    assert [u.item for u in model.units()][:4] == [
        "CNY:10000", "CNY:5000", "CNY:2000", "CNY:1000",
    ]  # fmt: skip
    assert set(CASH_PROFILES) == {"default", "lcdm1000", "lcdm2000", "lcdm4000"}
    for name, cassettes in (("lcdm1000", 1), ("lcdm2000", 2), ("lcdm4000", 4)):
        caps = cash_profile(name).capabilities
        assert caps.dispense_to == CUSTOMER
        assert not caps.knows_operations
        assert not caps.intermediate_stacker
        assert not caps.shutter
        assert not caps.retract_areas
        units = cash_profile(name).units
        assert sum(u.type.dispenses for u in units) == cassettes
    changed = cash_profile("lcdm2000", {"unit2": 7}, currency="EUR", values={"unit1": 2000})
    assert [(u.currency, u.value, u.count) for u in changed.units[:2]] == [
        ("EUR", 2000, 500),
        ("EUR", 5000, 7),
    ]
    with pytest.raises(ConfigurationError, match="known: default, lcdm1000"):
        cash_profile("lcdm9000")
    with pytest.raises(ConfigurationError, match="no unit 'unit3'"):
        cash_profile("lcdm2000", {"unit3": 1})
    with pytest.raises(ConfigurationError, match="do not fit"):
        cash_profile("default", {"unit1": 2501})
    from_name = CashDispenserModel.from_profile("lcdm4000", clock_scale=0.5)
    assert from_name.clock.scale == 0.5
    assert len(from_name.units()) == 5


async def test_a_withdrawal_end_to_end(
    model: CashDispenserModel, listener: Listener, token: Tokens
) -> None:
    report = await model.dispense({"unit1": 2, "unit3": 1}, token())
    assert report.moves == (
        Move("unit1", STACKER, "CNY:10000", 2),
        Move("unit3", STACKER, "CNY:2000", 1),
    )
    assert report.fault is None
    assert report.note_errors == ()
    assert model.ground_truth()["stacker"] == 3
    assert listener.statuses[-1].stacker is StackerState.NOT_EMPTY
    report = await model.present(token())
    assert report.total(STACKER, EXIT) == 3
    assert report.fault is None
    assert model.shutter is ShutterState.OPEN
    status = await model.get_status()
    assert status.exit_items
    assert status.stacker is StackerState.EMPTY
    assert (await model.contents()).taken is False
    assert model.customer_takes() == 3
    assert listener.events == [ItemsTaken(count=3)]
    assert model.shutter is ShutterState.CLOSED
    contents = await model.contents()
    assert (contents.stacker, contents.transport, contents.exit, contents.taken) == (0, 0, 0, True)
    truth = model.ground_truth()
    assert (truth["unit1"], truth["unit3"], truth[CUSTOMER]) == (498, 499, 3)
    assert model.ground_truth_items()[CUSTOMER] == {"CNY:10000": 2, "CNY:2000": 1}


async def test_notes_never_taken_are_retracted(model: CashDispenserModel, token: Tokens) -> None:
    await model.dispense({"unit2": 4}, token())
    await model.present(token())
    model.set_never_take()
    with pytest.raises(SequenceError, match="never takes"):
        model.customer_takes()
    report = await model.retract(RetractArea.RETRACT, token())
    assert report.moves == (Move(EXIT, "retract", "CNY:5000", 4),)
    assert model.ground_truth()["retract"] == 4
    assert model.shutter is ShutterState.CLOSED
    assert (await model.contents()).taken is False
    # nothing left to retract: the device says so and moves nothing
    report = await model.retract(RetractArea.REJECT, token())
    assert report.moves == ()
    assert report.fault is not None
    assert report.fault.error_code == "noItems"


async def test_a_partial_retract_leaves_notes_at_the_exit(
    model: CashDispenserModel, token: Tokens
) -> None:
    await model.dispense({"unit4": 5}, token())
    await model.present(token())
    model.partial_retract(leave=2)
    report = await model.retract(RetractArea.REJECT, token())
    assert report.total(EXIT, "reject") == 3
    assert report.fault is not None
    assert report.fault.error_code == "retractFailure"
    assert model.notes_at(EXIT) == 2
    assert model.shutter is ShutterState.OPEN
    assert model.customer_takes() == 2


async def test_retract_into_the_stacker_and_reject(listener: Listener, token: Tokens) -> None:
    default = cash_profile()
    areas = frozenset(RetractArea) - {RetractArea.TRANSPORT}
    caps = dataclasses.replace(default.capabilities, retract_areas=areas)
    model = make(dataclasses.replace(default, capabilities=caps))
    await model.open(listener)
    await model.dispense({"unit1": 1, "unit2": 1}, token())
    await model.present(token())
    report = await model.retract(RetractArea.STACKER, token())
    assert report.total(EXIT, STACKER) == 2
    report = await model.reject(token())
    assert report.moves == (
        Move(STACKER, "reject", "CNY:10000", 1),
        Move(STACKER, "reject", "CNY:5000", 1),
    )
    with pytest.raises(UnsupportedOperation, match="retract to transport"):
        await model.retract(RetractArea.TRANSPORT, token())
    assert (await model.reject(token())).fault == Fault("noItems", "the stacker is empty")


async def test_a_jam_mid_dispense_leaves_exact_counts(
    model: CashDispenserModel, listener: Listener, token: Tokens
) -> None:
    model.jam_next_dispense(after_notes=3)
    report = await model.dispense({"unit1": 2, "unit2": 5}, token())
    assert report.moves == (
        Move("unit1", STACKER, "CNY:10000", 2),
        Move("unit2", STACKER, "CNY:5000", 1),
        Move("unit2", TRANSPORT, "CNY:5000", 1),
    )
    assert report.fault is not None
    assert report.fault.error_code == "mediaJam"
    assert "after 3 notes" in report.fault.description
    truth = model.ground_truth()
    assert (truth["unit1"], truth["unit2"], truth[STACKER], truth[TRANSPORT]) == (498, 498, 3, 1)
    status = listener.statuses[-1]
    assert status.device is DeviceState.HARDWARE_ERROR
    assert status.transport is TransportState.NOT_EMPTY
    # the machine refuses to move notes while they are in the transport, and says so
    refused = await model.present(token())
    assert refused.moves == ()
    assert refused.fault is not None
    assert refused.fault.error_code == "mediaJam"
    # the engineer clears it by hand into the reject unit: online again, but the
    # device wants a reset (which reports the notes) before anything else
    assert model.clear_jam() == 1
    assert (await model.get_status()).device is DeviceState.ONLINE
    assert (model.notes_at(TRANSPORT), model.notes_at("reject")) == (0, 1)
    assert model.cleared_unreported == 1
    assert (await model.present(token())).fault == Fault(
        "mediaJam", "the transport was cleared by hand; reset first"
    )
    # the reset takes it (and the stacker) to the reject unit and says so
    report = await model.reset(token())
    assert report.moves == (
        Move(TRANSPORT, "reject", "CNY:5000", 1),
        Move(STACKER, "reject", "CNY:10000", 2),
        Move(STACKER, "reject", "CNY:5000", 1),
    )
    assert (await model.get_status()).transport is TransportState.EMPTY
    assert model.cleared_unreported == 0
    # the jam was used up
    assert (await model.dispense({"unit1": 4}, token())).fault is None


async def test_reset_clears_transport_stacker_and_exit(
    model: CashDispenserModel, token: Tokens
) -> None:
    model.jam_next_dispense(after_notes=0)
    await model.dispense({"unit3": 3}, token())
    assert model.ground_truth()[TRANSPORT] == 1
    report = await model.reset(token())
    assert report.moves == (Move(TRANSPORT, "reject", "CNY:2000", 1),)
    await model.dispense({"unit3": 3}, token())
    await model.present(token())
    report = await model.reset(token())
    assert report.moves == (Move(EXIT, "retract", "CNY:2000", 3),)
    truth = model.ground_truth()
    assert (truth["reject"], truth["retract"], truth[EXIT]) == (1, 3, 0)


async def test_a_double_note_goes_to_reject_and_the_pick_goes_on(
    model: CashDispenserModel, token: Tokens
) -> None:
    model.double_note_next_pick("unit2")
    report = await model.dispense({"unit2": 3}, token())
    assert report.moves == (
        Move("unit2", "reject", "CNY:5000", 2),
        Move("unit2", STACKER, "CNY:5000", 3),
    )
    assert report.note_errors == (NoteErrorReason.DOUBLE_NOTE,)
    assert report.fault is None
    assert model.ground_truth()["unit2"] == 495
    with pytest.raises(ValueError, match="no dispensing unit 'reject'"):
        model.double_note_next_pick("reject")


async def test_an_empty_cassette_stops_the_dispense_with_what_was_picked(
    listener: Listener, token: Tokens
) -> None:
    model = make(cash_profile("default", {"unit2": 2}))
    await model.open(listener)
    report = await model.dispense({"unit1": 1, "unit2": 4, "unit3": 1}, token())
    assert report.moves == (
        Move("unit1", STACKER, "CNY:10000", 1),
        Move("unit2", STACKER, "CNY:5000", 2),
    )
    assert report.fault is not None
    assert (report.fault.error_code, report.fault.unit) == ("cashUnitError", "unit2")
    assert "unit2 is empty after 3 notes" in report.fault.description
    await model.reject(token())
    model.fail_next_pick("unit1")
    report = await model.dispense({"unit1": 2}, token())
    assert report.moves == ()
    assert report.fault is not None
    assert report.fault.unit == "unit1"
    model.set_unit_status("unit3", UnitStatus.MISSING)
    report = await model.dispense({"unit3": 1}, token())
    assert report.fault is not None
    assert "unit3 is missing" in report.fault.description
    sensors = {s.id: s for s in await model.sensors()}
    assert sensors["unit3"].status is UnitStatus.MISSING
    assert sensors["unit2"].low is True
    assert sensors["unit1"].low is False
    assert sensors["reject"].full is False
    model.set_unit_status("unit3", UnitStatus.OK)
    assert (await model.dispense({"unit3": 1}, token())).fault is None


async def test_a_jammed_shutter_keeps_the_notes_in_the_stacker(
    model: CashDispenserModel, listener: Listener, token: Tokens
) -> None:
    await model.dispense({"unit1": 2}, token())
    model.jam_shutter()
    report = await model.present(token())
    assert report.moves == ()
    assert report.fault is not None
    assert report.fault.error_code == "shutterFail"
    assert model.shutter is ShutterState.JAMMED
    assert model.notes_at(STACKER) == 2
    assert listener.statuses[-1].device is DeviceState.HARDWARE_ERROR
    assert (await model.present(token())).fault == Fault("shutterFail", "the shutter is jammed")
    report = await model.reset(token())
    assert report.total(STACKER, "reject") == 2
    assert model.shutter is ShutterState.CLOSED


async def test_refusals_move_nothing(model: CashDispenserModel, token: Tokens) -> None:
    assert (await model.present(token())).fault == Fault("noItems", "the stacker is empty")
    await model.dispense({"unit1": 1}, token())
    left = await model.dispense({"unit1": 1}, token())
    assert left.moves == ()
    assert left.fault is not None
    assert left.fault.error_code == "itemsLeft"
    model.set_safe_door(True)
    assert (await model.get_status()).safe_door_open
    door = await model.present(token())
    assert door.moves == ()
    assert door.fault is not None
    assert door.fault.error_code == "safeDoorOpen"
    model.set_safe_door(False)
    await model.present(token())
    with pytest.raises(InvalidData, match="no dispensing unit 'reject'"):
        await model.dispense({"reject": 1}, token())
    with pytest.raises(InvalidData, match="not an int"):
        await model.dispense({"unit1": -1}, token())
    with pytest.raises(TooManyItems, match="at most 100 notes"):
        await model.dispense({"unit1": 60, "unit2": 41}, token())
    with pytest.raises(InvalidData, match="positive int"):
        await model.dispense({"unit1": 1}, 0)
    with pytest.raises(InvalidData, match="used already"):
        await model.dispense({"unit1": 1}, 1)
    with pytest.raises(InvalidData, match="no dispensing unit 'unit9'"):
        await model.count(("unit9",), token())


async def test_count_and_test_pick_to_the_reject_unit(listener: Listener, token: Tokens) -> None:
    model = make(cash_profile("default", {"unit1": 7, "unit2": 3, "unit4": 0}))
    await model.open(listener)
    report = await model.test_cash_units(token())
    assert report.moves == (
        Move("unit1", "reject", "CNY:10000", 1),
        Move("unit2", "reject", "CNY:5000", 1),
        Move("unit3", "reject", "CNY:2000", 1),
    )
    report = await model.count(("unit2", "unit1"), token())
    assert report.moves == (
        Move("unit1", "reject", "CNY:10000", 6),
        Move("unit2", "reject", "CNY:5000", 2),
    )
    assert model.ground_truth()["reject"] == 11


async def test_the_operation_log(model: CashDispenserModel, token: Tokens) -> None:
    first = token()
    report = await model.dispense({"unit1": 2}, first)
    record = await model.operation(first)
    assert record is not None
    assert record.received
    assert record.report == report
    assert model.operation_log[first] == (True, report)
    unseen = await model.operation(999)
    assert unseen is not None
    assert not unseen.received
    assert unseen.report.moves == ()
    with pytest.raises(InvalidData, match="never received"):
        await model.present(999)  # fenced: a reconcile settled it as not done
    # an operation under way: operation() waits for its end
    await model.reject(token())
    model.replenish("unit4", 20)
    model.set_pick_time(2.0)  # 2 ms a note at this scale
    running = token()
    task = asyncio.create_task(model.count(("unit4",), running))
    await model.wait_until(lambda: model.busy)
    with pytest.raises(SequenceError, match="busy with count"):
        await model.present(token())
    assert model.operation_log[running][0] is False
    record = await model.operation(running)
    assert model.operation_log[running][0] is True
    assert record is not None
    assert record.report.total("unit4", "reject") == 20
    assert await task == record.report


async def test_the_log_keeps_the_last_thousand(listener: Listener) -> None:
    model = make(cash_profile("default", {"unit1": 2500}), pick_time=0)
    await model.open(listener)
    for n in range(1, LOG_SIZE + 6):
        await model.test_cash_units(n)
    assert len(model.operation_log) == LOG_SIZE
    assert min(model.operation_log) == 6
    assert await model.operation(1) is None  # dropped: it cannot tell
    assert await model.operation(5) is None
    kept = await model.operation(6)
    assert kept is not None
    assert kept.received
    never = await model.operation(LOG_SIZE + 99)
    assert never is not None
    assert not never.received


async def test_cancelling_a_dispense_stops_at_the_next_note(
    model: CashDispenserModel, token: Tokens
) -> None:
    model.set_pick_time(5.0)  # 5 ms a note
    dispense = token()
    task = asyncio.create_task(model.dispense({"unit4": 80}, dispense))
    await model.wait_until(lambda: model.notes_at(STACKER) >= 3)
    started = time.monotonic()
    task.cancel()
    report = await task  # the backend returns what moved; the service re-raises
    assert time.monotonic() - started < 0.2
    assert report.fault is not None
    assert report.fault.error_code == "canceled"
    landed = report.total("unit4", STACKER)
    assert 3 <= landed < 80
    assert report.total() == landed
    assert model.notes_at(STACKER) == landed
    assert model.notes_at(TRANSPORT) == 0
    record = await model.operation(dispense)
    assert record is not None
    assert record.report == report


async def test_other_operations_run_to_their_end_when_cancelled(
    model: CashDispenserModel, token: Tokens
) -> None:
    model.replenish("unit4", 100)
    model.set_pick_time(1.0)
    count = token()
    task = asyncio.create_task(model.count(("unit4",), count))
    await model.wait_until(lambda: model.notes_at("reject") >= 2)
    task.cancel()
    report = await task
    assert report.fault is None
    assert report.total("unit4", "reject") == 100
    assert model.notes_at("unit4") == 0


async def test_a_dispense_takes_pick_time_per_note(listener: Listener, token: Tokens) -> None:
    model = make(pick_time=10.0)  # 10 ms a note at this scale
    await model.open(listener)
    started = time.monotonic()
    await model.dispense({"unit1": 10}, token())
    elapsed = time.monotonic() - started
    assert 0.1 <= elapsed < 1.0, elapsed


async def test_power_loss_mid_dispense(model: CashDispenserModel, listener: Listener) -> None:
    model.set_pick_time(5.0)
    task = asyncio.create_task(model.dispense({"unit1": 50}, 7))
    await model.wait_until(lambda: model.notes_at(STACKER) >= 2)
    model.set_power(False)
    with pytest.raises(ConnectionLost, match="lost power during dispense 7"):
        await task
    assert listener.statuses[-1].device is DeviceState.POWER_OFF
    assert model.notes_at(TRANSPORT) == 1  # the note in flight
    with pytest.raises(DeviceNotReady, match="powered off"):
        await model.operation(7)
    with pytest.raises(DeviceNotReady):
        await model.present(8)
    model.set_power(True)
    record = await model.operation(7)
    assert record is not None
    assert record.received
    report = record.report
    assert report.fault is not None
    assert report.fault.error_code == "hardwareError"
    assert report.total("unit1", TRANSPORT) == 1
    assert report.total("unit1", STACKER) == model.notes_at(STACKER) >= 2
    never = await model.operation(8)  # refused while off: never received
    assert never is not None
    assert not never.received


async def test_one_service_at_a_time_and_slow_replies(model: CashDispenserModel) -> None:
    with pytest.raises(DeviceNotReady, match="already open"):
        await model.open(Listener())
    model.set_reply_delay(20.0)  # 20 ms
    started = time.monotonic()
    await model.get_status()
    assert time.monotonic() - started >= 0.02


@pytest.mark.parametrize("name", ["lcdm1000", "lcdm2000", "lcdm4000"])
async def test_lcdm_profiles_hand_notes_to_the_customer(
    name: str, listener: Listener, token: Tokens
) -> None:
    model = make(name)
    await model.open(listener)
    cassettes = [u.id for u in model.units() if u.type.dispenses]
    model.double_note_next_pick(cassettes[-1])
    report = await model.dispense(dict.fromkeys(cassettes, 2), token())
    assert report.total(destination=CUSTOMER) == 2 * len(cassettes)
    assert report.total(destination="reject") == 2
    assert model.notes_at(CUSTOMER) == 2 * len(cassettes)
    assert model.notes_at(EXIT) == 0
    status = await model.get_status()
    assert status.stacker is StackerState.NOT_SUPPORTED
    assert status.shutter is ShutterState.NOT_SUPPORTED
    contents = await model.contents()
    assert (contents.stacker, contents.exit, contents.taken) == (None, 0, None)
    assert await model.operation(1) is None
    for call in (model.present(token()), model.reject(token()), model.count((), token())):
        with pytest.raises(UnsupportedOperation):
            await call
    with pytest.raises(UnsupportedOperation):
        await model.retract(RetractArea.RETRACT, token())
    with pytest.raises(UnsupportedOperation, match="no shutter"):
        model.jam_shutter()
    limit = model.capabilities().max_dispense_items
    with pytest.raises(TooManyItems):
        await model.dispense({cassettes[0]: limit + 1}, token())
    test = await model.test_cash_units(token())
    assert test.total(destination="reject") == len(cassettes)
    model.jam_next_dispense(after_notes=1)
    jammed = await model.dispense({cassettes[0]: 3}, token())
    assert jammed.total(destination=TRANSPORT) == 1
    assert jammed.fault is not None
    assert jammed.fault.error_code == "mediaJam"
    purge = await model.reset(token())
    assert purge.moves == (Move(TRANSPORT, "reject", "CNY:10000", 1),)
    assert sum(model.ground_truth().values()) == 500 * len(cassettes)


async def test_replenish_changes_the_truth_by_what_it_says(model: CashDispenserModel) -> None:
    assert model.replenish("unit1", 2000) == 1500
    assert model.replenish("reject", 0) == 0
    assert model.notes_at("unit1") == 2000
    with pytest.raises(ValueError, match="at most 2500"):
        model.replenish("unit2", 3000)
    with pytest.raises(ValueError, match="no unit"):
        model.replenish("unit7", 1)


# --- conservation: a state machine over every operation, fault and hand -------------------

UNITS = ("unit1", "unit2", "unit3", "unit4")


class CashMachine(RuleBasedStateMachine):
    """Random sequences of operations, faults and hands on one model.

    Two invariants after every step: the notes are all somewhere (the sum of the ground
    truth changes only by replenish), and the reports tell exactly what moved: the
    ground truth equals the start replayed with every report's moves and every hand's.
    """

    def __init__(self) -> None:
        super().__init__()
        self.runner = asyncio.Runner()
        profile = cash_profile("default", dict.fromkeys(UNITS, 12))
        profile = dataclasses.replace(profile, present_time=0.0, retract_time=0.0)
        self.model = CashDispenserModel(profile, clock=SimClock(SCALE), pick_time=0.0)
        self.runner.run(self.model.open(Listener()))
        self.shadow = self.model.ground_truth()
        self.total = sum(self.shadow.values())
        self.token = Tokens()

    def teardown(self) -> None:
        self.runner.run(self.model.close())
        self.runner.close()

    def apply(self, report: MoveReport) -> None:
        for move in report.moves:
            self.shadow[move.source] -= move.count
            self.shadow[move.destination] += move.count

    def run(self, operation: Awaitable[MoveReport]) -> None:
        async def go() -> MoveReport:
            return await operation

        self.apply(self.runner.run(go()))

    @rule(counts=st.dictionaries(st.sampled_from(UNITS), st.integers(0, 6), max_size=4))
    def dispense(self, counts: dict[str, int]) -> None:
        self.run(self.model.dispense(counts, self.token()))

    @rule(counts=st.dictionaries(st.sampled_from(UNITS), st.integers(1, 8), min_size=1),
          after=st.integers(0, 6))  # fmt: skip
    def cancelled_dispense(self, counts: dict[str, int], after: int) -> None:
        model = self.model

        async def go() -> MoveReport:
            model.set_pick_time(1.0)
            task = asyncio.create_task(model.dispense(counts, self.token()))
            await asyncio.sleep(0)
            await model.wait_until(lambda: model.notes_at(STACKER) >= after or not model.busy)
            task.cancel()
            try:
                return await task
            finally:
                model.set_pick_time(0.0)

        self.apply(self.runner.run(go()))

    @rule(counts=st.dictionaries(st.sampled_from(UNITS), st.integers(1, 8), min_size=1),
          after=st.integers(0, 6))  # fmt: skip
    def power_cut_mid_dispense(self, counts: dict[str, int], after: int) -> None:
        model = self.model
        token = self.token()

        async def go() -> MoveReport | None:
            model.set_pick_time(1.0)
            task = asyncio.create_task(model.dispense(counts, token))
            await asyncio.sleep(0)
            await model.wait_until(lambda: model.notes_at(STACKER) >= after or not model.busy)
            model.set_power(False)
            try:
                report = await task
            except ConnectionLost:
                report = None
            except DeviceNotReady:
                report = None
            finally:
                model.set_power(True)
                model.set_pick_time(0.0)
            record = await model.operation(token)
            assert record is not None
            if report is not None:
                assert record.report == report
            return record.report if record.received else None

        report = self.runner.run(go())
        if report is not None:
            self.apply(report)

    @rule()
    def present(self) -> None:
        self.run(self.model.present(self.token()))

    @rule(area=st.sampled_from([RetractArea.RETRACT, RetractArea.REJECT]))
    def retract(self, area: RetractArea) -> None:
        self.run(self.model.retract(area, self.token()))

    @rule()
    def reject(self) -> None:
        self.run(self.model.reject(self.token()))

    @rule()
    def reset(self) -> None:
        self.run(self.model.reset(self.token()))

    @rule(units=st.lists(st.sampled_from(UNITS), max_size=2, unique=True))
    def count(self, units: list[str]) -> None:
        self.run(self.model.count(tuple(units), self.token()))

    @rule()
    def test_units(self) -> None:
        self.run(self.model.test_cash_units(self.token()))

    @rule()
    def take(self) -> None:
        try:
            taken = self.model.customer_takes()
        except SequenceError:
            return
        self.shadow[EXIT] -= taken
        self.shadow[CUSTOMER] += taken

    @rule()
    def clear_jam(self) -> None:
        # by hand: the model reports these with the next reset
        self.model.clear_jam()

    @rule(unit=st.sampled_from([*UNITS, "reject"]), notes=st.integers(0, 20))
    def replenish(self, unit: str, notes: int) -> None:
        change = self.model.replenish(unit, notes)
        self.shadow[unit] += change
        self.total += change

    @rule(after=st.integers(0, 5))
    def jam(self, after: int) -> None:
        self.model.jam_next_dispense(after)

    @rule(unit=st.sampled_from(UNITS), notes=st.integers(1, 6), after=st.integers(0, 5),
          by_hand=st.booleans())  # fmt: skip
    def jam_then_clear(self, unit: str, notes: int, after: int, by_hand: bool) -> None:
        self.model.jam_next_dispense(after)
        self.run(self.model.dispense({unit: notes}, self.token()))
        if by_hand:
            self.model.clear_jam()
        self.run(self.model.reset(self.token()))

    @rule(unit=st.sampled_from(UNITS))
    def double_note(self, unit: str) -> None:
        self.model.double_note_next_pick(unit)

    @rule(unit=st.sampled_from(UNITS))
    def fail_pick(self, unit: str) -> None:
        self.model.fail_next_pick(unit)

    @rule(unit=st.sampled_from(UNITS), status=st.sampled_from(list(UnitStatus)))
    def unit_status(self, unit: str, status: UnitStatus) -> None:
        self.model.set_unit_status(unit, status)

    @rule()
    def jam_shutter(self) -> None:
        self.model.jam_shutter()

    @rule(leave=st.integers(0, 3))
    def partial_retract(self, leave: int) -> None:
        self.model.partial_retract(leave)

    @rule(never=st.booleans())
    def never_take(self, never: bool) -> None:
        self.model.set_never_take(never)

    @rule(open_=st.booleans())
    def safe_door(self, open_: bool) -> None:
        self.model.set_safe_door(open_)

    @invariant()
    def every_note_is_somewhere(self) -> None:
        truth = self.model.ground_truth()
        assert sum(truth.values()) == self.total
        assert all(notes >= 0 for notes in truth.values())
        items = self.model.ground_truth_items()
        assert {loc: sum(per.values()) for loc, per in items.items()} == truth

    @invariant()
    def the_reports_tell_exactly_what_moved(self) -> None:
        expected = dict(self.shadow)
        cleared = self.model.cleared_unreported  # by hand, not reported before a reset
        expected[TRANSPORT] -= cleared
        expected["reject"] += cleared
        assert self.model.ground_truth() == expected


CashMachine.TestCase.settings = settings(
    max_examples=60, stateful_step_count=40, suppress_health_check=[HealthCheck.too_slow]
)
test_conservation_through_any_sequence = CashMachine.TestCase


async def test_notes_taken_while_the_retract_starts(listener: Listener, token: Tokens) -> None:
    slow = dataclasses.replace(cash_profile(), retract_time=100.0)  # 100 ms
    model = make(slow)
    await model.open(listener)
    await model.dispense({"unit1": 2}, token())
    await model.present(token())
    retract = asyncio.create_task(model.retract(RetractArea.RETRACT, token()))
    await model.wait_until(lambda: model.busy)
    await asyncio.sleep(0.02)  # the shutter is closing
    assert model.customer_takes() == 2  # just in time
    report = await retract
    assert report.moves == ()
    assert report.fault == Fault("noItems", "the notes left the exit before the retract")
    assert model.ground_truth()[CUSTOMER] == 2
