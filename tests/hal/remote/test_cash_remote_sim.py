"""`RemoteCashDispenser` against a ``tellerhal sim`` in another process.

The app reaches ``zmq://.../cash_dispenser`` of a real simulator process; the test
plays fate through `RemoteCashDispenserControl` on its control socket. A dispense
cancelled mid-pick settles first (IncompleteDispense ``canceled`` before the
CancelledError), its notes are where the books say (ground truth, and ``tellerhal
ledger`` reading the process's ledger file while it runs), and a refusal keeps its class.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

import hal
from hal.devices.cash_dispenser import CashDispenser, IncompleteDispense, StartDispense
from hal.errors import ItemsLeft
from hal.money import Money
from simulator.remote_control import RemoteCashDispenserControl
from tellerhal.cli.main import main
from tests.sim_process import sim

SCENARIO = 'version = 1\nclock_scale = 0.01\n\n[devices.cash_dispenser]\nprofile = "default"\n'


async def test_a_cancelled_dispense_in_another_process(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = tmp_path / "cash.toml"
    scenario.write_text(SCENARIO)
    with sim(tmp_path / "sim", str(scenario), clock_scale=0.01) as server:
        fate = RemoteCashDispenserControl(server.control)
        await fate.pick_time(2.0)  # simulated seconds: 20 ms a note
        async with hal.open(server.address("cash_dispenser")) as cash:
            assert isinstance(cash, CashDispenser)
            sub = cash.events(kinds=[StartDispense, IncompleteDispense])
            task = asyncio.create_task(cash.dispense(Money(2000 * 20, "CNY"), mix="equalEmptying"))
            assert isinstance(await asyncio.wait_for(sub.get(), 5), StartDispense)
            await asyncio.sleep(0.1)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            [incomplete] = sub.drain()
            assert isinstance(incomplete, IncompleteDispense)
            assert incomplete.error_code == "canceled"
            picked = sum(incomplete.counts.values())
            truth = await fate.ground_truth()
            assert 0 < picked == truth["stacker"]
            units = {u.id: u.count for u in await cash.cash_units()}
            assert units == {unit: truth[unit] for unit in units}
            with pytest.raises(ItemsLeft) as left:
                await cash.dispense(Money(10000, "CNY"))
            assert left.value.error_code == "itemsLeft"
            # The process's ledger, read while it holds the file.
            assert main(["ledger", str(tmp_path / "sim" / "ledger.sqlite"), "--json"]) == 0
            report = json.loads(capsys.readouterr().out)
            [device] = [d for d in report["devices"] if d["device"] == "cash_dispenser"]
            stacker = next(p for p in device["cash"]["positions"] if p["name"] == "stacker")
            assert stacker["count"] == picked
            assert sum(stacker["holds"].values()) == picked
            await fate.pick_time(0.0)
            assert await cash.reject() == picked
            sub.close()
