"""The model link serving a cash acceptor (`simulator.model_link`, ``--device
cash_acceptor``): the `LinkAcceptorBackend` answers as the model does, a
`CashAcceptorService` opened at ``simlink://.../cash_acceptor`` keeps books equal to the
model's ground truth, the customer acts through the control, a cancelled cash-in
answers what moved, and a client of the wrong kind is refused."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import hal
from hal.devices.cash_acceptor import CashAcceptor
from hal.devices.cash_in_model import CashAcceptorStatus, CashInLimits, CashInState
from hal.errors import ConfigurationError
from hal.events import Event
from hal.ledger import Ledger
from simulator.model_link import ModelLinkServer, link_address, make_model
from simulator.model_link_acceptor import LinkAcceptorBackend
from simulator.model_link_client import LinkBackend, LinkControl
from simulator.models.cash_acceptor import CashAcceptorModel


class Listener:
    def __init__(self) -> None:
        self.events: list[Event] = []
        self.statuses: list[CashAcceptorStatus] = []

    def event(self, event: Event) -> None:
        self.events.append(event)

    def status_changed(self, status: CashAcceptorStatus) -> None:
        self.statuses.append(status)


@pytest.fixture
async def served() -> AsyncIterator[tuple[ModelLinkServer, CashAcceptorModel]]:
    model, targets = make_model("default", clock_scale=0.05, seed=0, device="cash_acceptor")
    assert isinstance(model, CashAcceptorModel)
    server = ModelLinkServer(model, "tcp://127.0.0.1:0", targets, device="cash_acceptor")
    await server.start()
    try:
        yield server, model
    finally:
        await server.stop()


async def test_every_answer_is_the_acceptors_own(
    served: tuple[ModelLinkServer, CashAcceptorModel],
) -> None:
    server, model = served
    listener = Listener()
    backend = LinkAcceptorBackend(server.endpoint, timeout=2.0, heartbeat=0.1)
    await backend.open(listener)
    control = LinkControl(server.endpoint)
    try:
        assert backend.capabilities() == model.capabilities()
        assert backend.units() == model.units()
        assert backend.note_types() == model.note_types()
        await control.call("insert", target="customer", notes=["CNY:10000", "CNY:5000@unfit"])
        limits = CashInLimits(max_items=10, enabled=frozenset({"CNY:10000", "CNY:5000"}))
        report = await backend.cash_in(limits, 21)
        assert sorted(n.item for n in report.notes) == ["CNY:10000", "CNY:5000"]
        assert await backend.contents() == await model.contents()
        assert (await backend.operation(21)) == await model.operation(21)
        stored = await backend.cash_in_end(True, 22)
        assert sum(m.count for m in stored.moves) == 2
        assert await backend.get_status() == await model.get_status()
        truth = await control.call("ground_truth", target="model")
        assert truth["customer"] == -2
        assert truth["escrow"] == 0
    finally:
        await backend.close()


async def test_a_cancelled_cash_in_answers_what_moved(
    served: tuple[ModelLinkServer, CashAcceptorModel],
) -> None:
    server, _ = served
    backend = LinkAcceptorBackend(server.endpoint, timeout=2.0, heartbeat=0.1)
    await backend.open(Listener())
    try:
        limits = CashInLimits(max_items=5, enabled=frozenset({"CNY:10000"}))
        waiting = asyncio.create_task(backend.cash_in(limits, 31))
        await asyncio.sleep(0.2)  # nothing inserted: the model waits for the customer
        waiting.cancel()
        report = await waiting
        assert report.moves == ()
        assert report.notes == ()
    finally:
        await backend.close()


async def test_a_client_of_another_kind_is_refused(
    served: tuple[ModelLinkServer, CashAcceptorModel],
) -> None:
    server, _ = served
    backend = LinkBackend(server.endpoint, timeout=2.0, heartbeat=0.1)
    with pytest.raises(ConfigurationError, match="serves a cash_acceptor"):
        await backend.open(Listener())  # type: ignore[arg-type]


async def test_the_service_over_the_link_books_what_the_model_did(
    served: tuple[ModelLinkServer, CashAcceptorModel], tmp_path: Path
) -> None:
    server, model = served
    ledger = tmp_path / "cash.sqlite"
    device = hal.open(f"{link_address(server.endpoint, 'cash_acceptor')}?ledger={ledger}")
    assert isinstance(device, CashAcceptor)
    control = LinkControl(server.endpoint)
    async with device:
        await device.cash_in_start()
        await control.call("insert", target="customer", notes=["CNY:10000"] * 3)
        result = await device.cash_in(timeout=10)
        assert dict(result.accepted) == {"CNY:10000": 3}
        status = await device.get_cash_in_status()
        assert status.status is CashInState.ACTIVE
        assert status.escrow == 3
        ended = await device.cash_in_rollback(timeout=10)
        assert dict(ended.returned) == {"CNY:10000": 3}
        assert await control.call("take_returned") == 3
        await asyncio.sleep(0.1)  # ItemsTaken travels to the service
    truth = model.ground_truth()
    with Ledger.open(ledger, read_only=True) as view:
        counts = view.counts("cash_acceptor")
    assert truth["customer"] == 0
    assert counts.get("customer", 0) == 0
    assert all(counts.get(where, 0) == n for where, n in truth.items()), (counts, truth)
