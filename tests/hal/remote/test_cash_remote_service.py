"""`RemoteCashDispenser` against the real cash service over the simulator's model.

A `RemoteServer` in the test's loop serves `SimCashDispenserService` (the
`CashDispenserService` that counts a fresh ledger's cassettes in) over a
`CashDispenserModel`, with its ledger in a file. Over real ZeroMQ sockets: a whole
cash-out with the customer taking the notes, a jam with its typed error and
IncompleteDispense before the completion, a double note, a cancelled dispense: and
after each, the books the remote reads agree with the model's ground truth, and
``tellerhal ledger`` (read-only, while the server holds the file) shows the notes where
they are.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from hal.devices.cash_dispenser import (
    Denomination,
    IncompleteDispense,
    ItemsPresented,
    ItemsTaken,
    NoteError,
    NoteErrorReason,
    StartDispense,
)
from hal.errors import MediaJam
from hal.events import StatusChanged, Subscription
from hal.money import Money
from hal.remote import RemoteCashDispenser, RemoteServer
from simulator.clock import SimClock
from simulator.models.cash_dispenser import CashDispenserModel
from simulator.models.cash_profiles import cash_profile
from simulator.sim_cash_service import SimCashDispenserService
from tellerhal.cli.main import main
from tests.hal.remote.test_cash_dispenser_remote import script

CNY = "CNY"
POSITIONS = ("stacker", "transport", "exit")


@dataclass
class Rig:
    model: CashDispenserModel
    server: RemoteServer
    ledger: Path


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    # 0.05 simulated s per note at scale 0.1: 5 ms a note, so a cancel lands mid-pick.
    model = CashDispenserModel.from_profile("default", clock_scale=0.1)
    path = tmp_path / "cash.sqlite"
    service = SimCashDispenserService(model, ledger=path)
    async with RemoteServer(
        {"cash_dispenser": service}, "tcp://127.0.0.1:0", simulator=True, heartbeat_interval=0.5
    ) as server:
        yield Rig(model, server, path)


@pytest.fixture
async def cash(rig: Rig) -> AsyncIterator[RemoteCashDispenser]:
    async with RemoteCashDispenser(rig.server.endpoint, timeout=2.0) as remote:
        yield remote


def events(sub: Subscription) -> list[object]:
    return [e for e in sub.drain() if not isinstance(e, StatusChanged)]


async def books_agree(cash: RemoteCashDispenser, model: CashDispenserModel) -> None:
    """Every unit's count, read over the wire, is what the model physically holds."""
    truth = model.ground_truth()
    units = await cash.cash_units()
    assert {u.id: u.count for u in units} == {u.id: truth[u.id] for u in units}


def ledger_json(path: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    code = main(["ledger", str(path), "--json"])
    assert code in (0, 1)
    [device] = json.loads(capsys.readouterr().out)["devices"]
    cash: dict[str, object] = device["cash"]
    return cash


async def test_a_whole_cash_out_over_the_wire(
    cash: RemoteCashDispenser, rig: Rig, capsys: pytest.CaptureFixture[str]
) -> None:
    sub = cash.events()
    plan = await cash.denominate(Money(38000, CNY))
    assert plan.counts == {"unit1": 3, "unit2": 1, "unit3": 1, "unit4": 1}
    dispensed = await cash.dispense(plan)
    assert dispensed.amount == Money(38000, CNY)
    assert await cash.present() == 6
    seen = events(sub)
    assert [type(e) for e in seen] == [StartDispense, ItemsPresented]
    assert rig.model.ground_truth()["exit"] == 6
    positions = {p["name"]: p for p in ledger_json(rig.ledger, capsys)["positions"]}  # type: ignore[union-attr,index]
    assert positions["exit"]["holds"] == {
        "CNY:10000": 3,
        "CNY:5000": 1,
        "CNY:2000": 1,
        "CNY:1000": 1,
    }
    assert rig.model.customer_takes() == 6
    taken = await asyncio.wait_for(sub.get(), 2.0)
    while isinstance(taken, StatusChanged):
        taken = await asyncio.wait_for(sub.get(), 2.0)
    assert isinstance(taken, ItemsTaken)
    status = await cash.get_present_status()
    assert status.taken is True
    assert status.denomination == plan
    await books_agree(cash, rig.model)
    sub.close()


async def test_a_jam_keeps_its_class_and_the_notes_are_where_the_ledger_says(
    cash: RemoteCashDispenser, rig: Rig, capsys: pytest.CaptureFixture[str]
) -> None:
    sub = cash.events(kinds=[IncompleteDispense])
    rig.model.jam_next_dispense(after_notes=2)
    with pytest.raises(MediaJam) as jam:
        await cash.dispense(Money(50000, CNY))  # 5 x 100
    assert jam.value.error_code == "mediaJam"
    # The event came before the completion: it is here already.
    [incomplete] = sub.drain()
    assert isinstance(incomplete, IncompleteDispense)
    assert incomplete.error_code == "mediaJam"
    assert incomplete.counts == {"unit1": 2}
    truth = rig.model.ground_truth()
    assert (truth["stacker"], truth["transport"]) == (2, 1)
    await books_agree(cash, rig.model)
    view = ledger_json(rig.ledger, capsys)
    positions = {p["name"]: p for p in view["positions"]}  # type: ignore[union-attr,index]
    assert positions["stacker"]["holds"] == {"CNY:10000": 2}
    assert positions["transport"]["count"] == 1
    sub.close()


async def test_a_double_note_travels_as_note_error(cash: RemoteCashDispenser, rig: Rig) -> None:
    sub = cash.events(kinds=[NoteError])
    rig.model.double_note_next_pick("unit2")
    dispensed = await cash.dispense(Denomination(Money(10000, CNY), {"unit2": 2}))
    [note] = sub.drain()
    assert isinstance(note, NoteError)
    assert note.reason == NoteErrorReason.DOUBLE_NOTE
    assert dispensed.counts == {"unit2": 2}
    assert dispensed.rejected == {"unit2": 2}  # the two stuck together went to reject
    await books_agree(cash, rig.model)
    sub.close()


async def test_a_cancelled_remote_dispense_settles_with_the_books(
    cash: RemoteCashDispenser, rig: Rig
) -> None:
    sub = cash.events(kinds=[StartDispense, IncompleteDispense])
    task = asyncio.create_task(cash.dispense(Money(2000 * 40, CNY), mix="equalEmptying"))
    assert isinstance(await asyncio.wait_for(sub.get(), 2.0), StartDispense)
    await asyncio.sleep(0.03)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    [incomplete] = sub.drain()
    assert isinstance(incomplete, IncompleteDispense)
    assert incomplete.error_code == "canceled"
    picked = sum(incomplete.counts.values())
    truth = rig.model.ground_truth()
    assert 0 < picked == truth["stacker"]
    await books_agree(cash, rig.model)
    # The stacker's notes go to reject; the books follow.
    assert await cash.reject() == picked
    await books_agree(cash, rig.model)
    sub.close()


async def test_the_same_script_gives_the_same_values_and_errors_as_in_process(
    tmp_path: Path,
) -> None:
    """Every method of the interface, in-process and remote, over the real service."""

    def small() -> CashDispenserModel:
        # Few notes and a fast clock: the script counts whole cassettes.
        counts = {"unit1": 40, "unit2": 40, "unit3": 40, "unit4": 40}
        return CashDispenserModel(cash_profile("default", counts=counts), clock=SimClock(0.002))

    local_model = small()
    async with SimCashDispenserService(local_model, ledger=tmp_path / "local.sqlite") as local:
        expected = await script(local, local_model.customer_takes)
    model = small()
    service = SimCashDispenserService(model, ledger=tmp_path / "remote.sqlite")
    async with (
        RemoteServer({"cash_dispenser": service}, "tcp://127.0.0.1:0", simulator=True) as server,
        RemoteCashDispenser(server.endpoint, timeout=2.0) as remote,
    ):
        got = await script(remote, model.customer_takes)
    assert got == expected
    assert model.ground_truth() == local_model.ground_truth()
    # The script met refusals and faults of the real service, not only successes.
    failures = {step[0]: step[1] for step in got if len(step) == 4}
    assert failures["present empty"] == "NoItems"
    assert failures["dispense again"] == "ItemsLeft"
    assert failures["dispense in exchange"] == "ExchangeActive"
    assert failures["set outside exchange"] == "NoExchangeActive"
