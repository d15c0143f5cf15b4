"""The simulated cash acceptor as apps reach it: the world, ``sim://cash_acceptor`` (a
real `CashAcceptorService` keeping a real ledger), its control (`CashAcceptorControl`),
and the recycler: ``sim://cash_dispenser?recycler=cash_acceptor`` paying out the notes
deposited, with one set of books. After every story the ledger's books are checked
against the model's ground truth."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path

import pytest

import hal
from hal.devices.cash_acceptor import CashAcceptor, CashInState, InsertItems, SubCashIn
from hal.devices.cash_dispenser import CashDispenser
from hal.errors import ConfigurationError, MediaJam
from hal.ledger import Ledger
from hal.money import Money
from hal.stimulus import NoteSample
from simulator.registration import SIM_DRIVER
from simulator.scenario import build_world, parse_scenario, run_customer
from simulator.world import CashAcceptorSetup, World, get_world

SCALE = 0.001
Y100, Y50, Y20, Y10 = "CNY:10000", "CNY:5000", "CNY:2000", "CNY:1000"


def assert_books_match(ledger: Ledger, books: str, truth: Mapping[str, int]) -> None:
    """Every location the books count holds what the model physically has there."""
    counted = dict(ledger.counts(books))
    for location, notes in truth.items():
        if location in counted and location != "customer":
            assert counted[location] == notes, (location, counted, dict(truth))
    assert not ledger.pending(books)


def test_the_sim_driver_promises_what_the_default_model_has() -> None:
    model = World("caps").cash_acceptor()
    assert SIM_DRIVER.capabilities["cash_acceptor"] == model.capabilities().features()


def test_world_setups_and_name_clashes() -> None:
    world = World("w", clock_scale=SCALE)
    model = world.cash_acceptor("acc", CashAcceptorSetup("nv11", counts=(("payout", 5),)))
    assert model.ground_truth()["payout"] == 5
    assert world.cash_acceptor("acc") is model
    with pytest.raises(ConfigurationError, match="already has acc built"):
        world.cash_acceptor("acc", CashAcceptorSetup("default"))
    with pytest.raises(ConfigurationError, match="acc is a cash acceptor"):
        world.cash_dispenser("acc")
    with pytest.raises(ConfigurationError, match="no cash-in profile named 'coins'"):
        CashAcceptorSetup("coins")
    with pytest.raises(ConfigurationError, match="no unit"):
        CashAcceptorSetup("id003", counts=(("payout", 1),))
    world.open_cash_dispenser("payout_side", recycler="acc")
    with pytest.raises(ConfigurationError, match="dispenser side"):
        world.cash_dispenser("payout_side")
    world.cash_acceptor("val", CashAcceptorSetup("id003"))
    with pytest.raises(ConfigurationError, match="not a recycler"):
        world.open_cash_dispenser("d2", recycler="val")
    with pytest.raises(ConfigurationError, match="name of its own"):
        world.open_cash_dispenser("acc", recycler="acc")
    assert set(world.models) == {"acc", "val"}


def test_sim_cash_in_options_are_checked() -> None:
    with pytest.raises(ConfigurationError, match="cash_in_profile 'coins' is not"):
        hal.open("sim://cash_acceptor?cash_in_profile=coins")
    with pytest.raises(ConfigurationError, match="cash_in_profile is a cash acceptor option"):
        hal.open("sim://cash_dispenser?cash_in_profile=id003")
    with pytest.raises(ConfigurationError, match="recycler is a cash dispenser option"):
        hal.open("sim://cash_acceptor?recycler=x")
    with pytest.raises(ConfigurationError, match="built by its acceptor"):
        hal.open("sim://cash_dispenser?recycler=cash_acceptor&cash_profile=lcdm1000")
    with pytest.raises(ConfigurationError, match="books is a device name"):
        hal.open("sim://cash_acceptor?books=a%20b")


async def test_a_deposit_through_hal_open_keeps_exact_books(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    device = hal.open(f"sim://cash_acceptor?world=dep&clock_scale={SCALE}&ledger={path}")
    assert isinstance(device, CashAcceptor)
    world = get_world("dep")
    control = world.cash_acceptor_control()
    model = control.model
    async with device as acceptor:
        events = acceptor.events()
        await acceptor.cash_in_start()
        await control.insert_notes([Y100, Y100, Y50, NoteSample(Y20, "unfit"), "XXX:5"])
        result = await acceptor.cash_in(timeout=5)
        assert dict(result.accepted) == {Y100: 2, Y50: 1, Y20: 1}
        assert sum(result.refused.values()) == 1
        assert model.ground_truth()["escrow"] == 4
        assert_books_match(acceptor.ledger, "cash_acceptor", model.ground_truth())
        ended = await acceptor.cash_in_end(timeout=5)
        assert ended.credited == {"CNY": Money(27000, "CNY")}
        truth = model.ground_truth()
        assert (truth["recycle100"], truth["recycle50"], truth["cashin"]) == (2, 1, 1)
        assert_books_match(acceptor.ledger, "cash_acceptor", truth)
        kinds = set()
        while (event := events.get_nowait()) is not None:
            kinds.add(type(event))
        assert {InsertItems, SubCashIn} <= kinds
        events.close()
    # the books outlive the service: a new one finds them and does not count in again
    async with hal.open(f"sim://cash_acceptor?world=dep&ledger={path}") as again:
        units = {u.id: u.count for u in await again.cash_units()}
        assert units["recycle100"] == 2


async def test_a_jam_then_reset_and_the_cash_in_status(tmp_path: Path) -> None:
    world = World("jam", clock_scale=SCALE)
    control = world.cash_acceptor_control()
    async with world.open_cash_acceptor(ledger=tmp_path / "l.sqlite") as acceptor:
        await acceptor.cash_in_start()
        await control.insert_notes([Y10, Y10, Y10])
        await control.jam_next_note()
        with pytest.raises(MediaJam):
            await acceptor.cash_in(timeout=5)
        await control.clear_jam()
        await acceptor.reset(timeout=5)
        status = await acceptor.get_cash_in_status()
        assert status.status is CashInState.RESET
        assert_books_match(acceptor.ledger, "cash_acceptor", control.model.ground_truth())
        assert control.model.ground_truth()["cashin"] == 1  # cleared by hand


async def test_a_validator_rollback_hands_the_note_back() -> None:
    world = World("val", clock_scale=SCALE)
    world.cash_acceptor(setup=CashAcceptorSetup("id003"))
    control = world.cash_acceptor_control()
    async with world.open_cash_acceptor() as acceptor:
        await acceptor.cash_in_start()
        await control.insert_notes([Y50])
        await acceptor.cash_in(timeout=5)
        ended = await acceptor.cash_in_rollback(timeout=5)
        assert dict(ended.returned) == {Y50: 1}
        assert await control.take_returned(timeout=0.1) == 0  # handed back, no exit
        truth = control.model.ground_truth()
        assert truth["customer"] == 0
        assert_books_match(acceptor.ledger, "cash_acceptor", truth)


async def test_the_recycler_pays_out_deposited_notes(tmp_path: Path) -> None:
    path = tmp_path / "recycler.sqlite"
    base = f"world=rec&clock_scale={SCALE}"
    acceptor = hal.open(f"sim://cash_acceptor?{base}&ledger={path}")
    dispenser = hal.open(f"sim://cash_dispenser?{base}&recycler=cash_acceptor")
    assert isinstance(acceptor, CashAcceptor)
    assert isinstance(dispenser, CashDispenser)
    control = get_world("rec").cash_acceptor_control()
    model = control.model
    async with acceptor, dispenser:
        assert acceptor.ledger is dispenser.ledger  # one ledger, one set of books
        await acceptor.cash_in_start()
        await control.insert_notes([Y100] * 3 + [Y50] * 2)
        await acceptor.cash_in(timeout=5)
        await acceptor.cash_in_end(timeout=5)
        counts = {u.id: u.count for u in await dispenser.cash_units()}
        assert counts["recycle100"] == 3  # the dispenser counts the deposit
        dispensed = await dispenser.dispense(Money(25000, "CNY"), timeout=5)
        assert sum(dispensed.counts.values()) == 3
        await dispenser.present(timeout=5)
        assert await control.take_returned(timeout=1) == 3
        await asyncio.sleep(0.05)  # ItemsTaken reaches the dispenser's service
        truth = model.ground_truth()
        assert truth["recycle100"] == 1
        assert truth["recycle50"] == 1
        assert_books_match(acceptor.ledger, "cash_acceptor", truth)
    assert get_world("rec").shared_books("cash_acceptor").users == 0
    with Ledger(path) as ledger:  # closed by the last service: free to open
        assert dict(ledger.counts("cash_acceptor"))["recycle100"] == 1


async def test_the_nv11_payout_hands_notes_to_the_customer() -> None:
    world = World("nv11", clock_scale=SCALE)
    world.cash_acceptor(setup=CashAcceptorSetup("nv11", note_time=0))
    control = world.cash_acceptor_control()
    async with (
        world.open_cash_acceptor() as acceptor,
        world.open_cash_dispenser("payout", recycler="cash_acceptor") as dispenser,
    ):
        for _ in range(2):
            await acceptor.cash_in_start()
            await control.insert_notes([Y20])
            await acceptor.cash_in(timeout=5)
            ended = await acceptor.cash_in_end(timeout=5)
            assert ended.notes("payout") == 1
        await dispenser.dispense(Money(4000, "CNY"), timeout=5)
        truth = control.model.ground_truth()
        assert truth["payout"] == 0
        assert truth["customer"] == 0
        assert_books_match(acceptor.ledger, "cash_acceptor", truth)


CASH_IN_SCENARIO = """
version = 1
clock_scale = 0.001

[devices.cash_acceptor]
profile = "default"
counts = { recycle100 = 20 }
note_time = 0.5

[[customer]]
device = "cash_acceptor"
action = "insert_notes"
notes = ["CNY:10000", { item = "CNY:5000", level = "unfit" }, "CNY:1000"]

[[customer]]
device = "cash_acceptor"
wait_for = "notes_at_exit"
action = "take_returned"
"""


async def test_a_scripted_customer_deposits_and_takes_back() -> None:
    scenario = parse_scenario(CASH_IN_SCENARIO, name="cash_in")
    world = build_world(scenario)
    model = world.cash_acceptor()
    assert (model.notes_at("recycle100"), model.note_time) == (20, 0.5)
    customer = asyncio.create_task(run_customer(world, scenario))
    async with world.open_cash_acceptor() as acceptor:
        await acceptor.cash_in_start()
        result = await acceptor.cash_in(timeout=5)
        assert dict(result.accepted) == {Y100: 1, Y50: 1, Y10: 1}
        await acceptor.cash_in_rollback(timeout=5)
        await asyncio.wait_for(customer, 5)
        assert model.ground_truth()["customer"] == 0  # all given back and taken
        assert_books_match(acceptor.ledger, "cash_acceptor", model.ground_truth())


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[devices.cash_acceptor]\nprofile = "atm"\n', "no cash-in profile named 'atm'"),
        ("[devices.cash_acceptor]\ncounts = { unit9 = 1 }\n", "no unit 'unit9'"),
        ("[devices.cash_acceptor]\npick_time = 1\n", "unknown key"),
        ('[[customer]]\ndevice = "cash_acceptor"\naction = "take_notes"\n', "has no action"),
        ('[[customer]]\ndevice = "cash_acceptor"\naction = "insert_notes"\n', "'notes' goes"),
        (
            '[[customer]]\ndevice = "cash_acceptor"\naction = "insert_notes"\n'
            'notes = [{ item = "CNY:100", level = "torn" }]\n',
            "unknown note level 'torn'",
        ),
        ('[[customer]]\ndevice = "cash_acceptor"\nnotes = ["CNY:100"]\n', "'notes' goes"),
        ('[[customer]]\ndevice = "cash_acceptor"\naction = "insert_notes"\nnotes = []\n', "non-e"),
        ('[[customer]]\ndevice = "cash_dispenser"\naction = "insert_notes"\n', "has no action"),
    ],
)
def test_bad_cash_in_scenarios(text: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        parse_scenario("version = 1\n" + text)


def test_the_documented_example_runs(capsys: pytest.CaptureFixture[str]) -> None:
    doc = (Path(__file__).parents[2] / "docs" / "simulator.md").read_text(encoding="utf-8")
    blocks = [b.split("```", 1)[0] for b in doc.split("```python\n")[1:]]
    (example,) = [b for b in blocks if "sim://cash_acceptor?{base}" in b]
    exec(compile(example, "docs/simulator.md", "exec"), {"__name__": "__main__"})
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        "{'CNY:10000': 2, 'CNY:5000': 1} {<RefuseReason.INVALID_BILL: 'invalidBill'>: 1}",
        "{'CNY': Money.of(Decimal('250.00'), 'CNY')}",
        "1 taken",
        "1",
    ]


@pytest.mark.parametrize("profile", ["default", "nv200"])
async def test_power_cut_mid_cash_in_then_a_reopen_reconciles(tmp_path: Path, profile: str) -> None:
    """The device knows its operations (default) or senses its escrow (nv200): either
    way, after a power cut mid-cash-in and a new service, the books hold the notes
    where they are (in the escrow, never deposited) and the transaction can end."""
    world = World("cut", clock_scale=SCALE)
    world.cash_acceptor(setup=CashAcceptorSetup(profile))
    control = world.cash_acceptor_control()
    model = control.model
    path = tmp_path / "ledger.sqlite"
    async with world.open_cash_acceptor(ledger=path) as acceptor:
        await acceptor.cash_in_start()
        await control.note_time(20)  # 20 ms a note
        await control.insert_notes([Y10, Y20, Y50])
        task = asyncio.create_task(acceptor.cash_in(timeout=5))
        await model.wait_until(lambda: model.notes_at("escrow") + model.notes_at("transport") >= 1)
        await control.power_loss()
        with pytest.raises(hal.errors.HalError):
            await task
        await control.power_loss(on=False)
        await control.take_back_input()
    async with world.open_cash_acceptor(ledger=path) as again:
        truth = model.ground_truth()
        # a note in the reader at the cut: still in the transport (reported by the
        # operation's record), or handed back at power-up (a validator)
        assert truth["transport"] == (1 if profile == "default" else 0)
        assert_books_match(again.ledger, "cash_acceptor", truth)
        assert not again.ledger.unknown("cash_acceptor") or profile == "nv200"
        status = await again.get_cash_in_status()
        if truth["escrow"]:
            assert status.status is CashInState.ACTIVE
            await control.note_time(0)
            if truth["transport"]:
                await again.reset(timeout=5)
            else:
                await again.cash_in_end(timeout=5)
            assert_books_match(again.ledger, "cash_acceptor", model.ground_truth())
