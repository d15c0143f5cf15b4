"""``tellerhal sim-control`` on the cash dispenser of a real ``tellerhal sim`` process.

An app dispenses over ``zmq://.../cash_dispenser`` while ``sim-control`` plays the
customer and fate: ``take-notes`` takes what was presented (the app sees ItemsTaken),
``jam-next-dispense`` makes the next dispense stop with MediaJam, ``clear-jam`` with
``--device cash_dispenser`` frees it (the app's reset books the jammed note),
``double-note`` sends a note to reject (NoteError), ``replenish`` fills a unit, and
``ground-truth`` says where every note is; its totals match what the app reads over the
wire.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

import hal
from hal.devices.cash_dispenser import CashDispenser, ItemsTaken, NoteError
from hal.errors import MediaJam
from hal.events import StatusChanged
from hal.money import Money
from tellerhal.cli.main import main
from tests.sim_process import ServerProcess, sim

SCENARIO = (
    "version = 1\nclock_scale = 0.01\n\n[devices.cash_dispenser]\n"
    'profile = "default"\ncounts = { unit1 = 100, unit2 = 100, unit3 = 100, unit4 = 100 }\n'
)
CNY = "CNY"


def control(
    capsys: pytest.CaptureFixture[str], server: ServerProcess, *args: str
) -> tuple[int, dict[str, Any], str]:
    status = main(["sim-control", "--ready-file", str(server.ready_file), *args])
    captured = capsys.readouterr()
    result = json.loads(captured.out) if captured.out else {}
    return status, result, captured.err


@pytest.fixture
def server(tmp_path: Path) -> Any:
    scenario = tmp_path / "cash.toml"
    scenario.write_text(SCENARIO)
    with sim(tmp_path / "sim", str(scenario)) as process:
        yield process


async def run_in_thread(func: Any, *args: Any) -> Any:
    # The CLI runs its own event loop: give it a thread, as a second process would.
    return await asyncio.get_running_loop().run_in_executor(None, func, *args)


async def test_the_customer_and_fate_from_the_command_line(
    server: ServerProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    def act(*args: str) -> tuple[int, dict[str, Any], str]:
        return control(capsys, server, *args)

    status, truth, _ = await run_in_thread(act, "ground-truth")
    assert status == 0
    assert truth["ok"] is True
    assert {k: truth["notes"][k] for k in ("unit1", "exit", "customer")} == {
        "unit1": 100,
        "exit": 0,
        "customer": 0,
    }
    async with hal.open(server.address("cash_dispenser")) as cash:
        assert isinstance(cash, CashDispenser)
        sub = cash.events()
        await cash.dispense(Money(30000, CNY))
        await cash.present()
        assert await run_in_thread(act, "notes-at-exit") == (0, {"ok": True, "notes": 3}, "")
        assert await run_in_thread(act, "take-notes", "--timeout", "5") == (
            0,
            {"ok": True, "taken": 3},
            "",
        )
        taken = await asyncio.wait_for(sub.get(), 5)
        while isinstance(taken, StatusChanged) or not isinstance(taken, ItemsTaken):
            taken = await asyncio.wait_for(sub.get(), 5)
        assert taken.count == 3

        assert (await run_in_thread(act, "double-note", "unit2"))[0] == 0
        sub.drain()
        await cash.dispense(Money(5000, CNY))
        assert any(isinstance(e, NoteError) for e in sub.drain())
        await cash.reject()

        assert await run_in_thread(act, "replenish", "unit4", "250") == (0, {"ok": True}, "")
        status, truth, _ = await run_in_thread(act, "ground-truth")
        assert truth["notes"]["unit4"] == 250
        # The books count every other unit as it physically is; unit4's 250 are the
        # operator's to count in at an exchange (the books still say 100).
        units = {u.id: u.count for u in await cash.cash_units()}
        notes = truth["notes"]
        assert units.pop("unit4") == 100
        assert units == {u: notes[u] for u in units}
        assert (await run_in_thread(act, "jam-next-dispense", "--after", "1"))[0] == 0
        with pytest.raises(MediaJam):
            await cash.dispense(Money(20000, CNY))
        status, truth, _ = await run_in_thread(act, "ground-truth")
        assert (truth["notes"]["stacker"], truth["notes"]["transport"]) == (1, 1)
        rejected = truth["notes"]["reject"]
        status, _, err = await run_in_thread(act, "--device", "cash_dispenser", "clear-jam")
        assert (status, err) == (0, "")
        # After the engineer, the app's reset: every jammed or stacked note is in the
        # reject unit, reported, so the books agree with the notes and cash flows again.
        await cash.reset()
        status, truth, _ = await run_in_thread(act, "ground-truth")
        notes = truth["notes"]
        assert (notes["stacker"], notes["transport"], notes["reject"]) == (0, 0, rejected + 2)
        units = {u.id: u.count for u in await cash.cash_units()}
        assert units.pop("unit4") == 100
        assert units == {u: notes[u] for u in units}
        await cash.dispense(Money(10000, CNY))
        sub.close()


def test_refusals_are_reported(server: ServerProcess, capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = control(capsys, server, "double-note", "unit9")
    assert status == 1
    assert "unit9" in err
    status, _, err = control(capsys, server, "take-notes", "--timeout", "0.2")
    assert status == 1
    assert err.startswith("tellerhal sim-control: HalTimeout")
    with pytest.raises(SystemExit):
        main(["sim-control", "replenish", "unit1", "-3"])
    capsys.readouterr()
