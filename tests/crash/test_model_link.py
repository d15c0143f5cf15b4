"""The model link (`simulator.model_link`): a cash dispenser model served at the backend
level over ZeroMQ, and `LinkBackend` forwarding to it.

In-process: the server and the client share the test's loop but talk over a real
loopback socket. The lost-link tests run the model in a process of its own and kill it.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import hal
from hal.devices.cash_dispenser import (
    CashDispenser,
    CashDispenserStatus,
    DelayedDispense,
    ItemsTaken,
    Move,
    RetractArea,
)
from hal.errors import ConfigurationError, ConnectionLost, InvalidData, ProtocolError
from hal.events import Event
from hal.ledger import Ledger
from simulator.model_link import ModelLinkServer, check_endpoint, link_address, make_model
from simulator.model_link_client import LinkBackend, LinkControl
from simulator.models.cash_dispenser import CashDispenserModel
from tests.crash.harness import ModelProcess


class Listener:
    def __init__(self) -> None:
        self.events: list[Event] = []
        self.statuses: list[CashDispenserStatus] = []
        self.arrived = asyncio.Event()

    def event(self, event: Event) -> None:
        self.events.append(event)
        self.arrived.set()

    def status_changed(self, status: CashDispenserStatus) -> None:
        self.statuses.append(status)


@pytest.fixture
async def served() -> AsyncIterator[tuple[ModelLinkServer, CashDispenserModel]]:
    model, targets = make_model("default", clock_scale=0.2, seed=0)
    assert isinstance(model, CashDispenserModel)
    server = ModelLinkServer(model, "tcp://127.0.0.1:0", targets)
    await server.start()
    try:
        yield server, model
    finally:
        await server.stop()


async def _client(server: ModelLinkServer, listener: Listener | None = None) -> LinkBackend:
    backend = LinkBackend(server.endpoint, timeout=2.0, heartbeat=0.1)
    await backend.open(listener or Listener())
    return backend


async def test_every_answer_is_the_models_own(
    served: tuple[ModelLinkServer, CashDispenserModel],
) -> None:
    server, model = served
    listener = Listener()
    backend = await _client(server, listener)
    try:
        assert backend.capabilities() == model.capabilities()
        assert backend.units() == model.units()
        report = await backend.dispense({"unit1": 3, "unit3": 2}, 11)
        assert report.moves == (
            Move("unit1", "stacker", "CNY:10000", 3),
            Move("unit3", "stacker", "CNY:2000", 2),
        )
        assert report.fault is None
        assert (await backend.present(12)).total("stacker", "exit") == 5
        assert (await backend.contents()).exit == 5
        control = LinkControl(server.endpoint)
        assert await control.call("take_notes", timeout=5) == 5  # the model's control
        await asyncio.wait_for(listener.arrived.wait(), 5)
        (taken,) = [e for e in listener.events if isinstance(e, ItemsTaken)]
        assert taken.count == 5
        truth = await control.ground_truth()
        assert truth == model.ground_truth()
        assert (truth["unit1"], truth["unit3"], truth["customer"]) == (497, 498, 5)
        record = await backend.operation(11)
        assert record is not None
        assert record.received
        assert record.report == report
        assert (await backend.get_status()) == await model.get_status()
        assert (await backend.sensors()) == await model.sensors()
    finally:
        await backend.close()


async def test_errors_travel_as_their_class(
    served: tuple[ModelLinkServer, CashDispenserModel],
) -> None:
    server, _ = served
    backend = await _client(server)
    try:
        with pytest.raises(InvalidData, match="nowhere"):
            await backend.dispense({"nowhere": 1}, 5)
        control = LinkControl(server.endpoint)
        with pytest.raises(InvalidData, match="no such target or method"):
            await control.call("_notes", target="model")
        with pytest.raises(InvalidData, match="no such target"):
            await control.call("ground_truth", target="elsewhere")
    finally:
        await backend.close()


async def test_a_cancelled_dispense_answers_what_moved(
    served: tuple[ModelLinkServer, CashDispenserModel],
) -> None:
    server, model = served
    backend = await _client(server)
    try:
        task = asyncio.create_task(backend.dispense({"unit2": 60}, 21))
        await asyncio.sleep(0.1)  # 0.01 s a note at this clock scale
        task.cancel()
        report = await task  # the backend contract: return what moved
        assert report.fault is not None
        assert report.fault.error_code == "canceled"
        moved = report.total("unit2", "stacker")
        assert 0 < moved < 60
        assert model.ground_truth()["stacker"] == moved
    finally:
        await backend.close()


async def test_an_operation_runs_to_its_end_when_its_client_goes(
    served: tuple[ModelLinkServer, CashDispenserModel],
) -> None:
    server, model = served
    first = await _client(server)
    task = asyncio.create_task(first.dispense({"unit4": 40}, 31))
    await asyncio.sleep(0.1)
    await first.close()  # the HAL goes away mid-dispense
    with pytest.raises(ConnectionLost):
        await task
    second = await _client(server)
    try:
        record = await second.operation(31)  # waits for the dispense to end
        assert record is not None
        assert record.received
        assert record.report.total("unit4", "stacker") == 40
        assert model.ground_truth()["stacker"] == 40
    finally:
        await second.close()


async def test_a_token_asked_about_before_it_arrives_is_refused(
    served: tuple[ModelLinkServer, CashDispenserModel],
) -> None:
    server, model = served
    backend = await _client(server)
    try:
        record = await backend.operation(41)
        assert record is not None
        assert not record.received
        with pytest.raises((ProtocolError, InvalidData)):
            await backend.dispense({"unit1": 1}, 41)
        assert model.ground_truth()["unit1"] == 500
    finally:
        await backend.close()


def test_the_endpoint_is_loopback_or_ipc() -> None:
    check_endpoint("tcp://127.0.0.1:0")
    check_endpoint("tcp://localhost:5000")
    check_endpoint("ipc:///tmp/model.sock")
    for bad in ("tcp://0.0.0.0:5000", "tcp://10.1.2.3:5000", "tcp://*:5000", "udp://x"):
        with pytest.raises(ConfigurationError, match="loopback"):
            check_endpoint(bad)
    assert link_address("tcp://127.0.0.1:41234") == "simlink://127.0.0.1:41234/cash_dispenser"


def test_a_simlink_address_names_the_cash_dispenser() -> None:
    with pytest.raises(ConfigurationError, match="cash_dispenser"):
        hal.open("simlink://127.0.0.1:1/card_reader")
    with pytest.raises(ConfigurationError, match="timeout"):
        hal.open("simlink://127.0.0.1:1/cash_dispenser?timeout=0")


async def test_the_service_opens_over_a_model_in_another_process(tmp_path: Path) -> None:
    ledger = tmp_path / "cash.sqlite"
    with ModelProcess(tmp_path) as model:
        device = hal.open(f"{model.address}?ledger={ledger}")
        assert isinstance(device, CashDispenser)
        async with device:
            units = {u.id: u for u in await device.cash_units()}
            assert set(units) >= {"unit1", "unit2", "unit3", "unit4", "reject", "retract"}
            await device.start_exchange(timeout=10)
            for unit in ("unit1", "unit2", "unit3", "unit4"):
                await device.set_cash_unit(unit, initial=500, timeout=10)
            await device.end_exchange(timeout=10)
            dispensed = await device.dispense(hal.money.Money(15000, "CNY"), timeout=10)
            assert dispensed.counts == {"unit1": 1, "unit2": 1}
            assert await device.retract(RetractArea.REJECT, timeout=10) == 2
            truth = await LinkControl(model.endpoint).ground_truth()
        with Ledger.open(ledger, read_only=True) as view:
            counts = view.counts("cash_dispenser")
        assert truth["unit1"] == counts["unit1"] == 499
        assert truth["unit2"] == counts["unit2"] == 499
        assert truth["reject"] == counts["reject"] == 2


async def test_a_model_killed_mid_dispense_is_a_lost_connection(tmp_path: Path) -> None:
    with ModelProcess(tmp_path) as model:
        backend = LinkBackend(model.endpoint, timeout=1.0, heartbeat=0.1)
        await backend.open(Listener())
        try:
            task = asyncio.create_task(backend.dispense({"unit1": 90}, 51))  # 4.5 s
            await asyncio.sleep(0.3)
            assert not task.done()
            assert model.proc is not None
            model.proc.send_signal(signal.SIGKILL)
            began = time.monotonic()
            with pytest.raises(ConnectionLost):
                await task
            assert time.monotonic() - began < 3
        finally:
            await backend.close()


async def test_a_restarted_model_fails_the_calls_in_flight(tmp_path: Path) -> None:
    # The old model dies mid-dispense and a new one takes its port: the call is lost
    # (its outcome is the dead model's), and the client notices before its timeout.
    with ModelProcess(tmp_path / "old") as old:
        port = old.endpoint.rpartition(":")[2]
        backend = LinkBackend(old.endpoint, timeout=5.0, heartbeat=0.1)
        await backend.open(Listener())
        try:
            task = asyncio.create_task(backend.dispense({"unit1": 90}, 61))
            await asyncio.sleep(0.3)
            assert old.proc is not None
            old.proc.send_signal(signal.SIGKILL)
            old.proc.wait()
            new = ModelProcess(tmp_path / "new")
            new.args[new.args.index("tcp://127.0.0.1:0")] = f"tcp://127.0.0.1:{port}"
            new.start()
            try:
                began = time.monotonic()
                with pytest.raises(ConnectionLost):
                    await task
                assert time.monotonic() - began < 4
                # New calls reach the new model.
                assert (await backend.contents()).stacker == 0
            finally:
                new.stop()
        finally:
            await backend.close()


async def test_a_delayed_dispense_is_announced_across_the_link(
    served: tuple[ModelLinkServer, CashDispenserModel],
) -> None:
    server, model = served
    listener = Listener()
    backend = await _client(server, listener)
    try:
        model.delay_next_dispense(0.01)
        report = await backend.dispense({"unit1": 1}, 1)
        assert report.total("unit1") == 1
        delayed = [e for e in listener.events if isinstance(e, DelayedDispense)]
        assert [e.delay for e in delayed] == [0.01]
    finally:
        await backend.close()
