"""The simulated cash dispenser as apps reach it: the world, ``sim://cash_dispenser`` (a
real `CashDispenserService` keeping a real ledger), scenarios, and the control socket
over real ZeroMQ (`RemoteCashDispenserControl`). After every story the ledger's books
are checked against the model's ground truth."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

import hal
from hal.devices.cash_dispenser import (
    STACKER,
    CashDispenser,
    Denomination,
    IncompleteDispense,
    ItemsTaken,
    RetractArea,
)
from hal.errors import (
    ConfigurationError,
    HalError,
    HalTimeout,
    InvalidData,
    MediaJam,
    ProtocolError,
    SequenceError,
    UnsupportedOperation,
)
from hal.ledger import Ledger
from hal.money import Money
from simulator.cash_control import CashDispenserControl
from simulator.registration import SIM_DRIVER
from simulator.remote_control import RemoteCashDispenserControl, control_call
from simulator.scenario import build_world, parse_scenario, run_customer
from simulator.server import ControlServer, SimServer
from simulator.world import CashDispenserSetup, World, get_world

SCALE = 0.001


def books(ledger: Ledger, device: str = "cash_dispenser") -> dict[str, int]:
    """The ledger's count of every counted location (units and positions)."""
    return dict(ledger.counts(device))


def assert_books_match(ledger: Ledger, truth: Mapping[str, int]) -> None:
    counted = books(ledger)
    for location, notes in truth.items():
        if location in counted:
            assert counted[location] == notes, (location, counted, dict(truth))
    assert not ledger.pending("cash_dispenser")


def test_the_sim_driver_promises_what_the_default_model_has() -> None:
    model = World("caps").cash_dispenser()
    assert SIM_DRIVER.capabilities["cash_dispenser"] == model.capabilities().features()


def test_world_setups_and_name_clashes() -> None:
    world = World("w", clock_scale=SCALE)
    setup = CashDispenserSetup(profile="lcdm2000", counts=(("unit2", 9),), pick_time=0.0)
    model = world.cash_dispenser("cash_dispenser", setup)
    assert model.ground_truth()["unit2"] == 9
    assert world.cash_dispenser() is model
    assert world.cash_dispenser_setup() == setup
    with pytest.raises(ConfigurationError, match="cannot rebuild"):
        world.cash_dispenser("cash_dispenser", CashDispenserSetup())
    with pytest.raises(ConfigurationError, match="cash_dispenser is a cash dispenser"):
        world.card_reader("cash_dispenser")
    world.pin_pad()
    with pytest.raises(ConfigurationError, match="pin_pad is a PIN pad"):
        world.cash_dispenser("pin_pad")
    with pytest.raises(ConfigurationError, match="no unit 'unit3'"):
        CashDispenserSetup(profile="lcdm2000", counts=(("unit3", 1),))
    with pytest.raises(ConfigurationError, match="no cash profile named 'atm'"):
        CashDispenserSetup(profile="atm")
    with pytest.raises(ConfigurationError, match="pick_time"):
        CashDispenserSetup(pick_time=-1.0)
    assert "cash_dispenser" in world.models


async def test_a_withdrawal_through_hal_open_keeps_exact_books(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    device = hal.open(f"sim://cash_dispenser?world=cash&clock_scale={SCALE}&ledger={path}")
    assert isinstance(device, CashDispenser)
    control = get_world("cash").cash_dispenser_control()
    async with device as cash:
        units = {u.id: u for u in await cash.cash_units()}
        assert units["unit1"].count == 500  # a fresh ledger counts the cassettes in
        with cash.events() as events:
            dispensed = await cash.dispense(Money.of(380, "CNY"), timeout=5)
            assert dispensed.amount == Money.of(380, "CNY")
            assert await cash.present(timeout=5) == sum(dispensed.counts.values())
            assert await control.take_notes(timeout=2) == sum(dispensed.counts.values())
            taken = await asyncio.wait_for(_next(events, ItemsTaken), 2)
            assert taken.count == sum(dispensed.counts.values())
        truth = await control.ground_truth()
        assert truth["customer"] == sum(dispensed.counts.values())
    with Ledger.open(path, read_only=True) as ledger:
        assert_books_match(ledger, truth)
    # the model outlives the service: a second one over the same file carries on
    again = hal.open(f"sim://cash_dispenser?world=cash&ledger={path}")
    async with again as cash:
        assert {u.id: u.count for u in await cash.cash_units()}["unit1"] == truth["unit1"]
    with pytest.raises(ConfigurationError, match="cannot rebuild"):
        hal.open("sim://cash_dispenser?world=cash&cash_profile=lcdm1000")


async def test_a_jam_through_the_service_leaves_exact_partial_counts() -> None:
    world = World("jam", clock_scale=SCALE)
    control = world.cash_dispenser_control()
    async with world.open_cash_dispenser() as cash:
        await control.jam_next_dispense(after_notes=2)
        with cash.events() as events, pytest.raises(MediaJam, match="2"):
            await cash.dispense(Denomination(Money.of(250, "CNY"), {"unit1": 2, "unit2": 1}))
        incomplete = await asyncio.wait_for(_next(events, IncompleteDispense), 2)
        assert dict(incomplete.counts) == {"unit1": 2}
        truth = await control.ground_truth()
        assert (truth["stacker"], truth["transport"], truth["unit2"]) == (2, 1, 499)
        assert_books_match(cash.ledger, truth)
        await cash.reset(timeout=5)
        assert_books_match(cash.ledger, await control.ground_truth())


@pytest.mark.parametrize("profile", ["lcdm1000", "lcdm4000"])
async def test_sim_lcdm_profiles_hand_notes_out(profile: str) -> None:
    device = hal.open(f"sim://cash_dispenser?world={profile}&cash_profile={profile}")
    assert isinstance(device, CashDispenser)
    control = get_world(profile).cash_dispenser_control()
    async with device as cash:
        caps = await cash.capabilities()
        assert caps.dispense_to == "customer"
        await cash.dispense(Denomination(Money.of(300, "CNY"), {"unit1": 3}), timeout=5)
        with pytest.raises(UnsupportedOperation):
            await cash.present(timeout=5)
        truth = await control.ground_truth()
        assert truth["customer"] == 3
        assert_books_match(cash.ledger, truth)


def test_sim_cash_options_are_checked() -> None:
    with pytest.raises(ConfigurationError, match="'atm' is not a cash profile"):
        hal.open("sim://cash_dispenser?cash_profile=atm")
    with pytest.raises(ConfigurationError, match="profile is a card reader option; a cash"):
        hal.open("sim://cash_dispenser?profile=visa")
    with pytest.raises(ConfigurationError, match="cash_profile is a cash dispenser option"):
        hal.open("sim://pin_pad?cash_profile=lcdm1000")
    with pytest.raises(
        ConfigurationError, match="ledger is a card reader or cash acceptor or cash dispenser"
    ):
        hal.open("sim://pin_pad?ledger=x")


SCENARIO = """
version = 1
clock_scale = 0.001

[devices.cash_dispenser]
profile = "lcdm2000"
pick_time = 0.5
counts = { unit1 = 40, unit2 = 7 }

[[customer]]
device = "cash_dispenser"
wait_for = "notes_at_exit"
action = "take_notes"
"""


async def test_a_scripted_customer_takes_the_notes() -> None:
    scenario = parse_scenario(SCENARIO.replace("lcdm2000", "default"), name="cash")
    world = build_world(scenario)
    model = world.cash_dispenser()
    assert (model.notes_at("unit1"), model.notes_at("unit2"), model.pick_time) == (40, 7, 0.5)
    customer = asyncio.create_task(run_customer(world, scenario))
    async with world.open_cash_dispenser() as cash:
        await cash.dispense(Denomination(Money.of(150, "CNY"), {"unit1": 1, "unit2": 1}))
        await cash.present(timeout=5)
        await asyncio.wait_for(customer, 5)
        assert model.notes_at("customer") == 2
    lcdm = build_world(parse_scenario(SCENARIO, name="lcdm")).cash_dispenser()
    assert lcdm.profile.name == "lcdm2000"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[devices.cash_dispenser]\nprofile = "atm"\n', "no cash profile named 'atm'"),
        ("[devices.cash_dispenser]\ncounts = { unit9 = 1 }\n", "no unit 'unit9'"),
        ("[devices.cash_dispenser]\ncounts = { unit1 = -1 }\n", "count is an integer >= 0"),
        ("[devices.cash_dispenser]\ncolour = 1\n", "unknown key"),
        ('[[customer]]\ndevice = "cash_dispenser"\naction = "insert_card"\n', "has no action"),
        ('[[customer]]\ndevice = "cash_dispenser"\nwait_for = "gate_open"\n', "unknown cond"),
    ],
)
def test_bad_cash_scenarios(text: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        parse_scenario("version = 1\n" + text)


async def _next(events: AsyncIterator[object], kind: type[object]) -> object:
    async for event in events:
        if isinstance(event, kind):
            return event
    raise AssertionError(f"no {kind.__name__}")


# --- the control socket over ZeroMQ ------------------------------------------------------


@pytest.fixture
async def controlled() -> AsyncIterator[tuple[World, RemoteCashDispenserControl]]:
    world = World("remote", clock_scale=SCALE)
    world.cash_dispenser()
    world.card_reader()
    server = ControlServer("tcp://127.0.0.1:0", lambda: world)
    await server.start()
    try:
        yield world, RemoteCashDispenserControl(server.endpoint, timeout=2.0)
    finally:
        await server.stop()


async def test_every_cash_control_command_over_zeromq(
    controlled: tuple[World, RemoteCashDispenserControl],
) -> None:
    world, remote = controlled
    model = world.cash_dispenser()
    local = CashDispenserControl(model)
    async with world.open_cash_dispenser() as cash:
        assert (await remote.ground_truth())["unit1"] == 500
        await remote.replenish("unit1", 20)
        assert model.notes_at("unit1") == 20
        await cash.start_exchange()  # the operator tells the books
        await cash.set_cash_unit("unit1", initial=20)
        await cash.end_exchange()
        await remote.pick_time(0.0)
        assert model.pick_time == 0.0
        await remote.double_note_next_pick("unit1")
        await cash.dispense(Denomination(Money.of(100, "CNY"), {"unit1": 1}), timeout=5)
        assert model.notes_at("reject") == 2
        await cash.present(timeout=5)
        assert await remote.notes_at_exit() == 1
        await remote.never_take()
        with pytest.raises(SequenceError, match="never takes"):
            await remote.take_notes(timeout=1)
        await remote.never_take(False)
        assert await remote.take_notes(timeout=1) == 1
        with pytest.raises(HalTimeout, match="no notes reached the exit"):
            await remote.take_notes(timeout=0.05)
        await remote.jam_next_dispense(after_notes=0)
        with pytest.raises(MediaJam):
            await cash.dispense(Denomination(Money.of(100, "CNY"), {"unit1": 1}), timeout=5)
        await remote.clear_jam()
        assert (await cash.status()).device.value == "online"
        await cash.reset(timeout=5)
        assert model.notes_at("transport") == 0
        assert_books_match(cash.ledger, await remote.ground_truth())
        await remote.fail_next_pick("unit2")
        await remote.set_unit_status("unit3", "inoperative")
        await remote.set_unit_status("unit3", "ok")
        await remote.jam_shutter()
        await remote.partial_retract(leave=1)
        await remote.safe_door(True)
        assert (await cash.status()).safe_door_open
        await remote.safe_door(False)
        await remote.slow_replies(0.0)
        await remote.power_loss()
        assert not model.powered
        await remote.power_loss(on=False)
        # the faults armed remotely are the model's: a local look confirms them
        assert await local.ground_truth() == await remote.ground_truth()
        with pytest.raises(InvalidData, match="no dispensing unit 'retract'"):
            await remote.double_note_next_pick("retract")
        with pytest.raises(InvalidData, match="'sideways' is not a valid UnitStatus"):
            await remote.set_unit_status("unit1", "sideways")
    with pytest.raises(InvalidData, match="at most 2500"):
        await remote.replenish("unit1", 99999)
    await remote.partial_retract(leave=0)
    assert sum(model.ground_truth().values()) == 2000 + model.replenished


async def test_cash_commands_need_a_cash_dispenser(
    controlled: tuple[World, RemoteCashDispenserControl],
) -> None:
    _, remote = controlled
    wrong = RemoteCashDispenserControl(remote.endpoint, "card_reader", timeout=2.0)
    with pytest.raises(ProtocolError, match="no device 'card_reader'; offered: cash_dispenser"):
        await wrong.ground_truth()
    # ClearJam acts on either kind; a reader with no jam clears nothing
    await wrong.clear_jam()
    assert repr(remote) == f"RemoteCashDispenserControl({remote.endpoint!r}, 'cash_dispenser')"


async def test_a_retract_of_notes_left(tmp_path: Path) -> None:
    world = World("left", clock_scale=SCALE)
    control = world.cash_dispenser_control()
    async with world.open_cash_dispenser(ledger=tmp_path / "l.sqlite") as cash:
        await cash.dispense(Denomination(Money.of(50, "CNY"), {"unit4": 5}), timeout=5)
        await cash.present(timeout=5)
        await control.never_take()
        assert await cash.retract(RetractArea.RETRACT, timeout=5) == 5
        truth = await control.ground_truth()
        assert truth["retract"] == 5
        assert_books_match(cash.ledger, truth)


async def test_tellerhal_sim_serves_the_dispenser_and_its_control(tmp_path: Path) -> None:
    scenario = parse_scenario(
        "version = 1\nclock_scale = 0.001\n[devices.card_reader]\n[devices.cash_dispenser]\n",
        name="served",
    )
    path = tmp_path / "ledger.sqlite"
    async with SimServer(scenario, "tcp://127.0.0.1:0", ledger=path) as sim:
        assert set(sim.addresses) == {"card_reader", "cash_dispenser"}
        customer = RemoteCashDispenserControl(sim.control_endpoint, timeout=2.0)
        device = hal.open(sim.addresses["cash_dispenser"])
        assert isinstance(device, CashDispenser)
        async with device as cash:
            await cash.dispense(Denomination(Money.of(70, "CNY"), {"unit3": 3, "unit4": 1}))
            await cash.present(timeout=5)
            assert await customer.take_notes(timeout=2) == 4
            truth = await customer.ground_truth()
    with Ledger.open(path, read_only=True) as ledger:
        assert_books_match(ledger, truth)
        assert set(ledger.devices()) >= {"card_reader", "cash_dispenser"}  # one shared file


def test_the_documented_example_runs(tmp_path: Path) -> None:
    doc = (Path(__file__).parents[2] / "docs" / "simulator.md").read_text(encoding="utf-8")
    blocks = [b.split("```", 1)[0] for b in doc.split("```python\n")[1:]]
    (example,) = [b for b in blocks if "sim://cash_dispenser?world=doc" in b]
    script = tmp_path / "example.py"
    script.write_text(example, encoding="utf-8")
    root = str(Path(__file__).parents[2])
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=60, cwd=root,
        env={**os.environ, "PYTHONPATH": root},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "2 of 3 notes reached the stacker (unit1->stacker 2, unit1->transport 1)" in lines[0]
    assert "'stacker': 2, 'transport': 1" in lines[1]
    assert lines[2:] == ["3 notes presented", "3 taken"]


async def test_a_reset_world_counts_its_new_cassettes_in(tmp_path: Path) -> None:
    scenario = parse_scenario(
        "version = 1\nclock_scale = 0.001\n[devices.cash_dispenser]\n", name="fresh"
    )
    path = tmp_path / "ledger.sqlite"
    async with SimServer(scenario, "tcp://127.0.0.1:0", ledger=path) as sim:
        customer = RemoteCashDispenserControl(sim.control_endpoint, timeout=2.0)
        async with hal.open(sim.addresses["cash_dispenser"]) as cash:
            assert isinstance(cash, CashDispenser)
            await cash.dispense(Denomination(Money.of(100, "CNY"), {"unit1": 1}))
            await cash.reject()
        await control_call(sim.control_endpoint, "Control.Reset", wait=10.0)
        assert (await customer.ground_truth())["reject"] == 0  # a new machine
        async with hal.open(sim.addresses["cash_dispenser"]) as cash:
            assert isinstance(cash, CashDispenser)
            counts = {u.id: u.count for u in await cash.cash_units()}
        assert counts == {**dict.fromkeys(("unit1", "unit2", "unit3", "unit4"), 500),
                          "reject": 0, "retract": 0}  # fmt: skip


# --- the books follow the notes: a state machine through the service ---------------------

CASSETTES = ("unit1", "unit2", "unit3", "unit4")
VALUES = {"unit1": 10000, "unit2": 5000, "unit3": 2000, "unit4": 1000}


class BooksMachine(RuleBasedStateMachine):
    """Random withdrawals, faults and hands through a real `CashDispenserService` over
    the model: whenever nothing is pending and no hand has moved notes unreported, the
    ledger's count of every unit and position is what is physically there."""

    def __init__(self) -> None:
        super().__init__()
        self.runner = asyncio.Runner()
        world = World("books", clock_scale=SCALE)
        setup = CashDispenserSetup(counts=tuple((u, 15) for u in CASSETTES), pick_time=0.0)
        self.model = world.cash_dispenser("cash_dispenser", setup)
        self.control = world.cash_dispenser_control()
        self.world = world
        self.ledger = Ledger.open(":memory:")
        self.cash = world.open_cash_dispenser(ledger=self.ledger)
        self.runner.run(self.cash.open())

    def teardown(self) -> None:
        self.runner.run(self.cash.close())
        self.runner.close()
        self.ledger.close()

    async def _interrupted_dispense(
        self, counts: dict[str, int], after: int
    ) -> asyncio.Task[object]:
        """A dispense picking 1 ms a note, once ``after`` notes have landed (or it ended)."""
        model = self.model
        amount = Money(sum(VALUES[u] * n for u, n in counts.items()), "CNY")
        model.set_pick_time(1.0)
        task: asyncio.Task[object] = asyncio.create_task(
            self.cash.dispense(Denomination(amount, counts), timeout=5)
        )
        landed = asyncio.create_task(model.wait_until(lambda: model.notes_at(STACKER) >= after))
        await asyncio.wait({task, landed}, return_when=asyncio.FIRST_COMPLETED)
        landed.cancel()
        await asyncio.gather(landed, return_exceptions=True)
        return task

    @rule(counts=st.dictionaries(st.sampled_from(CASSETTES), st.integers(1, 6), min_size=1),
          after=st.integers(0, 5))  # fmt: skip
    def cancelled_dispense(self, counts: dict[str, int], after: int) -> None:
        async def go() -> None:
            task = await self._interrupted_dispense(counts, after)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, HalError):
                await task
            self.model.set_pick_time(0.0)

        self.runner.run(go())

    @rule(counts=st.dictionaries(st.sampled_from(CASSETTES), st.integers(1, 6), min_size=1),
          after=st.integers(0, 5), reopen=st.booleans())  # fmt: skip
    def power_cut_mid_dispense(self, counts: dict[str, int], after: int, reopen: bool) -> None:
        async def go() -> None:
            task = await self._interrupted_dispense(counts, after)
            self.model.set_power(False)
            with contextlib.suppress(HalError):
                await task
            self.model.set_power(True)
            self.model.set_pick_time(0.0)
            if reopen:  # the HAL restarts: its open reconciles by token
                await self.cash.close()
                self.cash = self.world.open_cash_dispenser(ledger=self.ledger)
                await self.cash.open()

        self.runner.run(go())

    def act(self, call: Callable[[], Awaitable[object]]) -> None:
        async def go() -> None:
            with contextlib.suppress(HalError):
                await call()

        self.runner.run(go())

    @rule(counts=st.dictionaries(st.sampled_from(CASSETTES), st.integers(1, 4), min_size=1))
    def dispense(self, counts: dict[str, int]) -> None:
        amount = Money(sum(VALUES[u] * n for u, n in counts.items()), "CNY")
        self.act(lambda: self.cash.dispense(Denomination(amount, counts), timeout=5))

    @rule()
    def present(self) -> None:
        self.act(lambda: self.cash.present(timeout=5))

    @rule()
    def take(self) -> None:
        async def take() -> None:
            if await self.control.notes_at_exit():
                await self.control.take_notes(timeout=1)
                await asyncio.sleep(0)  # the service books ItemsTaken

        self.act(take)

    @rule(area=st.sampled_from([RetractArea.RETRACT, RetractArea.REJECT]))
    def retract(self, area: RetractArea) -> None:
        self.act(lambda: self.cash.retract(area, timeout=5))

    @rule()
    def reject(self) -> None:
        self.act(lambda: self.cash.reject(timeout=5))

    @rule()
    def reset(self) -> None:
        self.act(lambda: self.cash.reset(timeout=5))

    @rule()
    def test_units(self) -> None:
        self.act(lambda: self.cash.test_cash_units(timeout=5))

    @rule(after=st.integers(0, 4))
    def jam(self, after: int) -> None:
        self.act(lambda: self.control.jam_next_dispense(after))

    @rule(unit=st.sampled_from(CASSETTES))
    def double_note(self, unit: str) -> None:
        self.act(lambda: self.control.double_note_next_pick(unit))

    @rule(unit=st.sampled_from(CASSETTES))
    def fail_pick(self, unit: str) -> None:
        self.act(lambda: self.control.fail_next_pick(unit))

    @rule()
    def jam_shutter(self) -> None:
        self.act(self.control.jam_shutter)

    @rule(leave=st.integers(0, 2))
    def partial_retract(self, leave: int) -> None:
        self.act(lambda: self.control.partial_retract(leave))

    @rule()
    def clear_jam(self) -> None:
        self.act(self.control.clear_jam)

    @invariant()
    def the_books_are_the_notes(self) -> None:
        if self.model.cleared_unreported or self.ledger.pending("cash_dispenser"):
            return  # an engineer's hands, or a lost answer: the next command settles them
        assert_books_match(self.ledger, self.model.ground_truth())
        assert not self.ledger.unknown("cash_dispenser")  # the model can always tell


BooksMachine.TestCase.settings = settings(
    max_examples=25, stateful_step_count=25, suppress_health_check=[HealthCheck.too_slow]
)
test_the_books_follow_the_notes = BooksMachine.TestCase
