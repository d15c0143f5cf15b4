"""``tellerhal ledger`` on a cash acceptor's ledger: deposits by unit and note, the
escrow's notes, cash-in operations pending or unknown.

The files are written by the real `CashAcceptorService` over the simulator's model
(deposits, a rollback, a transaction left open with notes in the escrow, a cash-in cut
by a power loss), so the report is checked against the model's ground truth; the
``unknown`` case and the naming of every kind of operation are journalled through
`hal.ledger` the way the service's rules say (notes/cashin_api.md).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from hal.devices.cash_acceptor import ESCROW, NoteLevel
from hal.devices.cash_acceptor_service import CashAcceptorService
from hal.devices.cash_dispenser_service import CashDispenserService
from hal.devices.cash_model import MoveReport, RetractArea
from hal.errors import ConnectionLost
from hal.ledger import Ledger, LocationKind, Outcome
from hal.money import Money
from hal.stimulus import NoteSample
from simulator.world import CashAcceptorSetup, World
from tellerhal.cli.main import main
from tests.cash_in_backend import VALIDATOR, VALIDATOR_UNITS, ScriptedCashInBackend
from tests.hal.test_cash_acceptor_service import Y50
from tests.hal.test_cash_in_restart import _end_lost_after_the_note_moved

DEVICE = "cash_acceptor"


def report(
    path: Path, capsys: pytest.CaptureFixture[str], status: int = 0
) -> tuple[dict[str, Any], str]:
    """The device's JSON report and the text report; ``status`` 1: needs attention."""
    assert main(["ledger", str(path), "--json"]) == status
    data = json.loads(capsys.readouterr().out)
    [device] = [d for d in data["devices"] if d["device"] == DEVICE]
    assert main(["ledger", str(path)]) == status
    return device, capsys.readouterr().out


async def test_deposits_by_unit_and_note_and_the_escrow_s_notes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "ledger.sqlite"
    world = World("ledger_cash_in", seed=2, clock_scale=0.001)
    control = world.cash_acceptor_control()
    async with world.open_cash_acceptor(ledger=path) as acceptor:
        await acceptor.cash_in_start()
        await control.insert_notes(
            [
                "CNY:10000",
                "CNY:10000",
                NoteSample("CNY:5000", NoteLevel.UNFIT),
                NoteSample("CNY:100", NoteLevel.COUNTERFEIT),
            ]
        )
        await acceptor.cash_in(timeout=5)
        await acceptor.cash_in_end(timeout=5)
        # Given back: nothing deposited.
        await acceptor.cash_in_start()
        await control.insert_notes(["CNY:1000"])
        await acceptor.cash_in(timeout=5)
        await acceptor.cash_in_rollback(timeout=5)
        assert await control.take_returned(timeout=5) == 1
        # Left open: notes in the escrow.
        await acceptor.cash_in_start()
        await control.insert_notes(["CNY:2000", "CNY:10000"])
        await acceptor.cash_in(timeout=5)
        truth = await control.ground_truth()
    device, text = report(path, capsys)
    cash_in = device["cash"]["cash_in"]
    deposits = {row["name"]: row for row in cash_in["deposits"]}
    assert deposits["recycle100"]["deposited"] == {"CNY:10000": 2}
    assert deposits["recycle100"]["value"] == [{"minor": 20000, "currency": "CNY"}]
    assert deposits["cashin"]["deposited"] == {"CNY:5000": 1}
    assert deposits["retract"]["retained"] == {"CNY:100": 1}
    assert deposits["retract"]["deposited"] == {}
    assert all(row["retracted"] == {} for row in deposits.values())
    for unit, row in deposits.items():
        assert sum(row["deposited"].values()) + sum(row["retained"].values()) == truth[unit]
    assert cash_in["escrow"] == {
        "holds": {"CNY:2000": 1, "CNY:10000": 1},
        "notes": truth["escrow"],
        "value": [{"minor": 12000, "currency": "CNY"}],
    }
    assert cash_in["pending"] == []
    assert cash_in["unknown"] == []
    assert "  cash in:" in text
    [escrow] = [ln for ln in text.splitlines() if "escrow holds" in ln]
    assert escrow.strip().startswith("escrow holds 2 note(s): ")
    assert escrow.endswith(" (120.00 CNY)")
    assert "1 x 20.00 CNY" in escrow
    assert "1 x 100.00 CNY" in escrow
    [line] = [ln for ln in text.splitlines() if ln.strip().startswith("recycle100  cassette  2 x")]
    assert "200.00 CNY" in line
    assert "cash-in operations pending: none" in text


async def test_a_cash_in_cut_by_a_power_loss_is_pending_until_reconciled(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "ledger.sqlite"
    world = World("ledger_power", seed=2, clock_scale=0.001)
    control = world.cash_acceptor_control()
    async with world.open_cash_acceptor(ledger=path) as acceptor:
        await acceptor.cash_in_start(max_items=10)
        await control.note_time(20.0)  # 20 ms a note
        await control.insert_notes(["CNY:10000"] * 8)
        task = asyncio.create_task(acceptor.cash_in(timeout=5))
        await asyncio.sleep(0.07)
        await control.power_loss(True)
        with pytest.raises(ConnectionLost):
            await task
    device, text = report(path, capsys, status=1)
    [operation] = device["cash"]["cash_in"]["pending"]
    assert operation["what"] == "cash-in"
    assert operation["notes"] == 10  # the transaction's limit: what it may have taken
    assert "CNY:10000" in operation["items"]
    assert device["cash"]["cash_in"]["escrow"]["notes"] == 0  # nothing settled yet
    assert "cash-in operations pending: 1" in text
    assert f"token {operation['token']} (cash-in): customer->escrow up to 10 note(s)" in text
    # Power back, the service opens again: the device's record settles it.
    await control.power_loss(False)
    async with world.open_cash_acceptor(ledger=path) as acceptor:
        status = await acceptor.get_cash_in_status()
        truth = await control.ground_truth()
    device, text = report(path, capsys)
    cash_in = device["cash"]["cash_in"]
    assert cash_in["pending"] == []
    assert 0 < truth["escrow"] == cash_in["escrow"]["notes"] == status.escrow
    assert cash_in["escrow"]["holds"] == {"CNY:10000": truth["escrow"]}
    assert "cash-in operations pending: none" in text


def journal(
    ledger: Ledger,
    token: int,
    source: str,
    destination: str,
    item: str,
    count: int,
    reason: str = "cash-in",
) -> int:
    return ledger.journal(
        DEVICE,
        source=source,
        destination=destination,
        item=item,
        count=count,
        command_id=token,
        reason=f"{reason} {token}",
    ).id


def test_unknown_and_pending_operations_are_named_by_what_they_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "ledger.sqlite"
    with Ledger.open(path) as ledger:
        ledger.define_location(DEVICE, "cashbox", kind=LocationKind.CASSETTE, item="*")
        ledger.define_location(DEVICE, "retract", kind=LocationKind.RETAIN, item="*")
        for position in ("escrow", "transport", "exit", "stacker"):
            ledger.define_location(DEVICE, position, kind=LocationKind.POSITION, item="*")
        ledger.define_location(DEVICE, "customer", kind=LocationKind.CUSTOMER, item="*")
        # 1: a cash-in, done: one note in the escrow.
        ledger.settle(
            journal(ledger, 1, "customer", "escrow", "CNY:2000", 1), Outcome.DONE, moved=1
        )
        # 2: its end, cut off and reconciled without a record: unknown.
        ledger.settle(journal(ledger, 2, "escrow", "cashbox", "CNY:2000", 1), Outcome.UNKNOWN)
        # 3..6: still pending, one of each kind.
        journal(ledger, 3, "escrow", "exit", "CNY:5000", 2)
        journal(ledger, 4, "exit", "retract", "*", 2)
        journal(ledger, 5, "transport", "retract", "*", 1)
        journal(ledger, 5, "escrow", "retract", "CNY:100", 1)
        journal(ledger, 6, "exit", "customer", "*", 2)
        # 7: a recycler's dispenser side paying out: not a cash-in operation.
        journal(ledger, 7, "cashbox", "stacker", "CNY:2000", 1, reason="dispense")
    device, text = report(path, capsys, status=1)
    cash_in = device["cash"]["cash_in"]
    [unknown] = cash_in["unknown"]
    assert (unknown["token"], unknown["what"], unknown["notes"]) == (2, "cash-in end", 1)
    assert unknown["items"] == {"CNY:2000": 1}
    assert [(op["token"], op["what"], op["notes"]) for op in cash_in["pending"]] == [
        (3, "rollback", 2),
        (4, "retract", 2),
        (5, "reset", 2),
        (6, "items taken", 2),
    ]
    assert [op["token"] for op in device["cash"]["in_flight"]] == [3, 4, 5, 6, 7]
    # The unknown end: the note is still in the escrow by the books (rule 6).
    assert cash_in["escrow"]["holds"] == {"CNY:2000": 1}
    assert {row["name"]: row["deposited"] for row in cash_in["deposits"]} == {
        "cashbox": {},
        "retract": {},
    }
    assert "cash-in operations unknown: 1" in text
    assert "token 2 (cash-in end): escrow->cashbox 1 x CNY:2000" in text
    assert "token 5 (reset): transport->retract 1 x *, escrow->retract 1 x CNY:100" in text


def test_a_dispenser_has_no_cash_in_books(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "ledger.sqlite"
    with Ledger.open(path) as ledger:
        ledger.define_location("cash_dispenser", "unit1", kind=LocationKind.CASSETTE, item="*")
        ledger.define_location("cash_dispenser", "stacker", kind=LocationKind.POSITION, item="*")
    assert main(["ledger", str(path), "--json"]) == 0
    [device] = json.loads(capsys.readouterr().out)["devices"]
    assert device["cash"]["cash_in"] is None
    assert main(["ledger", str(path)]) == 0
    assert "cash in:" not in capsys.readouterr().out


async def test_a_recycler_s_pending_dispenser_retract_is_no_cash_in_operation(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A recycler's two services on one set of books: the dispenser side's retract (the
    # exit to the retract unit), its answer lost, stays pending; it is the
    # dispenser's (its reason says so), not a cash-in "retract" or "reset".
    path = tmp_path / "ledger.sqlite"
    world = World("ledger_recycler", seed=3, clock_scale=0.001)
    model = world.cash_acceptor(setup=CashAcceptorSetup("default", note_time=0))
    control = world.cash_acceptor_control()
    machine = model.dispenser()
    with Ledger.open(path) as ledger:
        acceptor = CashAcceptorService(model, name="acc", ledger=ledger, books=DEVICE)
        dispenser = CashDispenserService(machine, name="disp", ledger=ledger, books=DEVICE)
        async with acceptor, dispenser:
            await acceptor.cash_in_start()
            await control.insert_notes(["CNY:10000"])
            await acceptor.cash_in(timeout=5)
            await acceptor.cash_in_end(timeout=5)
            await dispenser.dispense(Money(10000, "CNY"), timeout=5)
            await dispenser.present(timeout=5)
            real = machine.retract

            async def cut(area: RetractArea, token: int) -> MoveReport:
                await real(area, token)
                raise ConnectionLost("the line dropped before the answer")

            machine.retract = cut  # type: ignore[method-assign]
            with pytest.raises(ConnectionLost):
                await dispenser.retract(timeout=5)
            machine.retract = real  # type: ignore[method-assign]
            assert ledger.pending(DEVICE)
    device, text = report(path, capsys, status=1)
    assert device["cash"]["cash_in"]["pending"] == []
    assert len(device["cash"]["in_flight"]) == 1
    assert "cash-in operations pending: none" in text


async def test_a_recounted_escrow_shows_what_the_service_finds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A validator's end lost after the note was stacked: on the next open rule 6
    # recounts the escrow (0, what it senses); a new note then comes in. The recount is
    # a cut: the escrow holds the new note only, by item, in the service's books and in
    # the report alike (not two notes' names for one note, nor a bare "*").
    path = tmp_path / "ledger.sqlite"
    backend = ScriptedCashInBackend(VALIDATOR_UNITS, VALIDATOR)
    await _end_lost_after_the_note_moved(backend, path)
    async with CashAcceptorService(backend, ledger=path) as service:
        await service.cash_in_start()
        backend.insert(Y50)
        await service.cash_in()
        status = await service.get_cash_in_status()
        books = service._items_at(ESCROW)
    assert books == dict(status.notes) == {Y50: 1}
    device, _ = report(path, capsys, status=1)
    escrow = device["cash"]["cash_in"]["escrow"]
    assert escrow["holds"] == books
    assert escrow["notes"] == status.escrow == 1
    [position] = [p for p in device["cash"]["positions"] if p["name"] == ESCROW]
    assert position["holds"] == books
