"""``tellerhal sim-control`` on a simulated cash acceptor, over its control socket.

The whole deposit runs against a real ``tellerhal sim`` process serving a scenario's
``[devices.cash_acceptor]``; the refusals against the simulator's real `ControlServer`
and a `RemoteServer` in the test's loop (no process to start). ``sim-control`` runs in
a thread with its own loop, as a second process would. An app deposits over
``zmq://.../cash_acceptor`` while ``sim-control`` plays the customer, the engineer, the
operator and fate: ``insert-notes`` puts notes with their levels into the input (the
app's cash_in takes them), ``take-returned`` takes back what a rollback gave back (the
app sees ItemsTaken), ``jam-next-note`` makes the next cash_in stop with MediaJam,
``clear-jam --device cash_acceptor`` frees it, ``empty-unit`` empties a unit, and
``ground-truth --device cash_acceptor`` says where every note is, which matches what
the app reads over the wire and what ``tellerhal ledger`` reads in the process's file.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import hal
from hal.devices.cash_acceptor import CashAcceptor, CashInState, ItemsTaken, RefuseReason
from hal.errors import MediaJam
from hal.remote import RemoteServer
from hal.remote.registration import remote_address
from simulator.server_control import ControlServer
from simulator.world import World
from tellerhal.cli.main import main
from tests.sim_process import ServerProcess, sim

SCENARIO = 'version = 1\nclock_scale = 0.01\n\n[devices.cash_acceptor]\nprofile = "default"\n'


@dataclass
class Sim:
    """The served acceptor and its control socket."""

    server: RemoteServer
    control: ControlServer

    def address(self, device: str) -> str:
        return remote_address(self.server.endpoint, device)


def control(
    capsys: pytest.CaptureFixture[str], server: Sim | ServerProcess, *args: str
) -> tuple[int, dict[str, Any], str]:
    endpoint = server.control if isinstance(server, ServerProcess) else server.control.endpoint
    status = main(["sim-control", "--control", endpoint, *args])
    captured = capsys.readouterr()
    result = json.loads(captured.out) if captured.out else {}
    return status, result, captured.err


@pytest.fixture
async def server() -> AsyncIterator[Sim]:
    world = World("sim_control_cash_in", seed=4, clock_scale=0.01)
    world.card_reader()
    acceptor = world.open_cash_acceptor()
    async with RemoteServer(
        {"cash_acceptor": acceptor}, "tcp://127.0.0.1:0", simulator=True, heartbeat_interval=0.5
    ) as served:
        socket = ControlServer("tcp://127.0.0.1:0", lambda: world)
        await socket.start()
        try:
            yield Sim(served, socket)
        finally:
            await socket.stop()


@pytest.fixture
def process(tmp_path: Path) -> Iterator[ServerProcess]:
    scenario = tmp_path / "cash_in.toml"
    scenario.write_text(SCENARIO)
    with sim(tmp_path / "sim", str(scenario)) as running:
        yield running


async def run_in_thread(func: Any, *args: Any) -> Any:
    # The CLI runs its own event loop: give it a thread, as a second process would.
    return await asyncio.get_running_loop().run_in_executor(None, func, *args)


async def test_the_depositing_customer_and_fate_from_the_command_line(
    process: ServerProcess, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    server = process

    def act(*args: str) -> tuple[int, dict[str, Any], str]:
        return control(capsys, server, *args)

    async def units(acceptor: CashAcceptor) -> dict[str, int]:
        return {u.info.id: u.count for u in await acceptor.cash_units()}

    async with hal.open(server.address("cash_acceptor")) as acceptor:
        assert isinstance(acceptor, CashAcceptor)
        sub = acceptor.events(kinds=[ItemsTaken])
        await acceptor.cash_in_start()
        notes = ("2xCNY:10000", "CNY:5000@unfit", "CNY:100@counterfeit", "XXX:100")
        assert await run_in_thread(act, "insert-notes", *notes) == (
            0,
            {"ok": True, "inserted": 5, "waiting": 5},
            "",
        )
        result = await acceptor.cash_in(timeout=5)
        assert dict(result.accepted) == {"CNY:10000": 2, "CNY:5000": 1}
        assert dict(result.retained) == {"CNY:100": 1}
        assert dict(result.refused) == {RefuseReason.INVALID_BILL: 1}
        status, truth, _ = await run_in_thread(act, "--device", "cash_acceptor", "ground-truth")
        assert status == 0
        assert truth["notes"]["escrow"] == 4
        assert truth["notes"]["customer"] == -4

        # Given back: the customer takes the notes at the exit; the app sees ItemsTaken.
        ended = await acceptor.cash_in_rollback(timeout=5)
        assert dict(ended.returned) == {"CNY:10000": 2, "CNY:5000": 1}
        assert await run_in_thread(act, "take-returned", "--timeout", "5") == (
            0,
            {"ok": True, "taken": 3},
            "",
        )
        taken = await asyncio.wait_for(sub.get(), 5)
        assert isinstance(taken, ItemsTaken)
        assert taken.count == 3

        # A jam: MediaJam, the engineer clears it, the app's reset books the note.
        assert await run_in_thread(act, "jam-next-note") == (0, {"ok": True}, "")
        await acceptor.cash_in_start()
        assert (await run_in_thread(act, "insert-notes", "3xCNY:5000"))[0] == 0
        with pytest.raises(MediaJam):
            await acceptor.cash_in(timeout=5)
        status, truth, _ = await run_in_thread(act, "--device", "cash_acceptor", "ground-truth")
        assert truth["notes"]["transport"] == 1
        status, _, err = await run_in_thread(act, "--device", "cash_acceptor", "clear-jam")
        assert (status, err) == (0, "")
        await acceptor.reset(timeout=5)
        assert (await acceptor.get_cash_in_status()).status is CashInState.RESET
        status, truth, _ = await run_in_thread(act, "--device", "cash_acceptor", "ground-truth")
        notes = truth["notes"]
        assert (notes["escrow"], notes["transport"]) == (0, 0)
        books = await units(acceptor)
        assert books == {unit: notes[unit] for unit in books}
        assert sum(books.values()) > 0  # the retained note, and the ones the jam stopped

        # The operator empties the cash box: the notes leave the machine, not the books.
        before = notes["cashin"]
        assert await run_in_thread(act, "empty-unit", "cashin") == (
            0,
            {"ok": True, "emptied": before},
            "",
        )
        status, truth, _ = await run_in_thread(act, "--device", "cash_acceptor", "ground-truth")
        assert truth["notes"]["cashin"] == 0
        sub.close()
    # The process's ledger: what each unit took in, read while the process holds it.
    assert main(["ledger", str(tmp_path / "sim" / "ledger.sqlite"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    [device] = [d for d in report["devices"] if d["device"] == "cash_acceptor"]
    deposits = {row["name"]: row for row in device["cash"]["cash_in"]["deposits"]}
    assert deposits["retract"]["retained"] == {"CNY:100": 1}
    assert device["cash"]["cash_in"]["escrow"]["notes"] == 0


async def test_bad_notes_and_refusals_are_reported(
    server: Sim, capsys: pytest.CaptureFixture[str]
) -> None:
    def act(*args: str) -> tuple[int, dict[str, Any], str]:
        return control(capsys, server, *args)

    def bad_note(note: str) -> tuple[object, str]:
        with pytest.raises(SystemExit) as exit_:
            main(["sim-control", "--control", server.control.endpoint, "insert-notes", note])
        return exit_.value.code, capsys.readouterr().err

    for bad in ("CNY", "CNY:100@shiny", "0xCNY:100", "501xCNY:100", "cny:100"):
        code, err = await run_in_thread(bad_note, bad)
        assert code == 2
        assert "NOTE" in err or "insert-notes" in err
    status, _, err = await run_in_thread(act, "insert-notes", "300xCNY:100", "300xCNY:500")
    assert status == 2
    assert "at most 500" in err
    status, _, err = await run_in_thread(act, "take-returned", "--timeout", "0.2")
    assert status == 1
    assert err.startswith("tellerhal sim-control: HalTimeout")
    status, _, err = await run_in_thread(act, "empty-unit", "nowhere")
    assert status == 1
    assert "nowhere" in err
    # An acceptor action on a device that is not an acceptor is refused by the simulator.
    status, _, err = await run_in_thread(act, "--device", "card_reader", "jam-next-note")
    assert status == 1
    assert "card_reader" in err
