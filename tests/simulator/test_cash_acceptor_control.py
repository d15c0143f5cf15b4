"""A cash acceptor's customer, operator and faults: `CashAcceptorControl` on the model
and `RemoteCashAcceptorControl` over the control socket (real ZeroMQ), against a real
`CashAcceptorService` and a recycler's dispenser service; the books are checked against
the ground truth."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import hal
from hal.device import DeviceState
from hal.devices.cash_acceptor import CashAcceptor
from hal.devices.cash_in_model import ESCROW
from hal.errors import (
    CashUnitError,
    HalTimeout,
    InvalidData,
    MediaJam,
    ProtocolError,
    SafeDoorOpen,
    SequenceError,
)
from hal.ledger import Ledger
from hal.money import Money
from hal.stimulus import NoteSample
from simulator.cash_in_control import CashAcceptorControl
from simulator.control_commands import InsertNotesPayload
from simulator.remote_control import RemoteCashAcceptorControl
from simulator.scenario import parse_scenario
from simulator.server import ControlServer, SimServer
from simulator.world import World
from tests.simulator.test_cash_acceptor_sim import assert_books_match

SCALE = 0.001
Y100, Y50, Y10 = "CNY:10000", "CNY:5000", "CNY:1000"


@pytest.fixture
async def controlled() -> AsyncIterator[tuple[World, RemoteCashAcceptorControl]]:
    world = World("remote-in", clock_scale=SCALE)
    world.cash_acceptor()
    world.cash_dispenser()
    server = ControlServer("tcp://127.0.0.1:0", lambda: world)
    await server.start()
    try:
        yield world, RemoteCashAcceptorControl(server.endpoint, timeout=2.0)
    finally:
        await server.stop()


async def test_every_cash_in_control_command_over_zeromq(
    controlled: tuple[World, RemoteCashAcceptorControl],
) -> None:
    world, remote = controlled
    model = world.cash_acceptor()
    local = CashAcceptorControl(model)
    async with world.open_cash_acceptor() as acceptor:
        await remote.pick_time(0.0)
        assert model.note_time == 0.0
        await acceptor.cash_in_start()
        waiting = await remote.insert_bunch([Y100, NoteSample(Y50, "counterfeit"), "XXX:1"])
        assert waiting == 3
        result = await acceptor.cash_in(timeout=5)
        assert dict(result.accepted) == {Y100: 1}
        assert dict(result.retained) == {Y50: 1}
        await acceptor.cash_in_rollback(timeout=5)
        assert await remote.notes_at_exit() == 1
        await remote.never_take()
        with pytest.raises(SequenceError, match="never takes"):
            await remote.take_returned(timeout=1)
        await remote.never_take(False)
        assert await remote.take_returned(timeout=1) == 1
        with pytest.raises(HalTimeout, match="no notes reached the exit"):
            await remote.take_returned(timeout=0.05)
        # a jam, cleared by an engineer; the reset reports the note
        await acceptor.cash_in_start()
        await remote.jam_next_note()
        await remote.insert_notes([Y10])
        with pytest.raises(MediaJam):
            await acceptor.cash_in(timeout=5)
        assert (await acceptor.status()).device is DeviceState.HARDWARE_ERROR
        await remote.clear_jam()
        await acceptor.reset(timeout=5)
        assert model.notes_at("transport") == 0
        assert_books_match(acceptor.ledger, "cash_acceptor", await remote.ground_truth())
        # the cash box: removed (cash-in refused), full (the notes stay in the escrow)
        await acceptor.cash_in_start()
        await remote.remove_cash_box()
        await remote.insert_notes([Y10, Y10])
        with pytest.raises(CashUnitError):
            await acceptor.cash_in(timeout=5)
        await remote.remove_cash_box(False)
        await acceptor.cash_in(timeout=5)
        await remote.cash_box_full()
        with pytest.raises(CashUnitError):
            await acceptor.cash_in_end(timeout=5)
        assert model.notes_at(ESCROW) == 2
        await remote.cash_box_full(False)
        await acceptor.reset(timeout=5)
        assert_books_match(acceptor.ledger, "cash_acceptor", await remote.ground_truth())
        await remote.safe_door(True)
        assert (await acceptor.status()).safe_door_open
        await remote.safe_door(False)
        await remote.set_unit_status("recycle50", "inoperative")
        await remote.set_unit_status("recycle50", "ok")
        await remote.slow_replies(0.0)
        await remote.power_loss()
        assert not model.powered
        await remote.power_loss(on=False)
        assert await local.ground_truth() == await remote.ground_truth()
    await remote.replenish("recycle100", 40)
    assert await remote.empty_unit("recycle100") == 40
    assert await remote.empty_unit("retract") == 3  # the counterfeit and the reset's two
    with pytest.raises(InvalidData, match="'sideways' is not a valid UnitStatus"):
        await remote.set_unit_status("cashin", "sideways")
    with pytest.raises(InvalidData, match="unknown note levels"):
        await remote.insert_notes([NoteSample(Y10, "torn")])
    with pytest.raises(InvalidData, match="has no unit 'nowhere'"):
        await remote.empty_unit("nowhere")
    assert sum(model.ground_truth().values()) == model.replenished


async def test_the_safe_door_refuses_a_cash_in(
    controlled: tuple[World, RemoteCashAcceptorControl],
) -> None:
    world, remote = controlled
    async with world.open_cash_acceptor() as acceptor:
        await remote.safe_door(True)
        with pytest.raises(SafeDoorOpen):
            await acceptor.cash_in_start()


async def test_cash_in_commands_need_a_cash_acceptor(
    controlled: tuple[World, RemoteCashAcceptorControl],
) -> None:
    _, remote = controlled
    wrong = RemoteCashAcceptorControl(remote.endpoint, "cash_dispenser", timeout=2.0)
    with pytest.raises(ProtocolError, match="no device 'cash_dispenser'; offered: cash_acceptor"):
        await wrong.insert_notes([Y10])
    # the commands both cash devices take reach the dispenser too
    assert (await wrong.ground_truth())["unit1"] == 500
    assert repr(remote) == f"RemoteCashAcceptorControl({remote.endpoint!r}, 'cash_acceptor')"
    with pytest.raises(ValueError, match="levels must be one per note"):
        InsertNotesPayload((Y10, Y10), ("fit",))


async def test_a_recycler_driven_remotely_keeps_one_set_of_books(
    controlled: tuple[World, RemoteCashAcceptorControl],
) -> None:
    world, remote = controlled
    async with (
        world.open_cash_acceptor() as acceptor,
        world.open_cash_dispenser("recycler_out", recycler="cash_acceptor") as dispenser,
    ):
        await acceptor.cash_in_start()
        await remote.insert_notes([Y50] * 4)
        await acceptor.cash_in(timeout=5)
        await acceptor.cash_in_end(timeout=5)
        await dispenser.dispense(Money(10000, "CNY"), timeout=5)
        await dispenser.present(timeout=5)
        assert await remote.take_returned(timeout=1) == 2  # the dispenser's notes
        truth = await remote.ground_truth()
        assert truth["recycle50"] == 2
        assert truth["customer"] == -2
        assert_books_match(acceptor.ledger, "cash_acceptor", truth)


async def test_tellerhal_sim_serves_the_acceptor_and_its_control(tmp_path: Path) -> None:
    scenario = parse_scenario(
        "version = 1\nclock_scale = 0.001\n[devices.card_reader]\n[devices.cash_acceptor]\n",
        name="served_in",
    )
    path = tmp_path / "ledger.sqlite"
    async with SimServer(scenario, "tcp://127.0.0.1:0", ledger=path) as sim:
        assert set(sim.addresses) == {"card_reader", "cash_acceptor"}
        customer = RemoteCashAcceptorControl(sim.control_endpoint, timeout=2.0)
        device = hal.open(sim.addresses["cash_acceptor"])
        assert isinstance(device, CashAcceptor)
        async with device as acceptor:
            await acceptor.cash_in_start()
            await customer.insert_notes([Y100, Y10])
            result = await acceptor.cash_in(timeout=5)
            assert dict(result.accepted) == {Y100: 1, Y10: 1}
            await acceptor.cash_in_end(timeout=5)
            truth = await customer.ground_truth()
        assert truth["recycle100"] == 1
    with Ledger.open(path, read_only=True) as ledger:
        assert_books_match(ledger, "cash_acceptor", truth)
        assert set(ledger.devices()) >= {"card_reader", "cash_acceptor"}  # one shared file
