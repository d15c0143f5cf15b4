"""``tellerhal ledger`` on a cash dispenser's ledger: units, positions, notes in flight.

The file is a real SQLite ledger written through `hal.ledger` the way the cash
service's bookkeeping rules say (notes/cash_api.md): locations from the units, tokens as
``command_id``, planned movements journalled before the device acts and settled from its
report, extra moves (a double note, a jam) journalled apart and settled at once, one
operation left pending (the process died) and one settled unknown.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from hal.ledger import Ledger, LocationKind, Outcome
from tellerhal.cli.ledger_cash import note_value
from tellerhal.cli.main import main

CASH = "cash_dispenser"
NOTES = {"unit1": "CNY:10000", "unit2": "CNY:5000", "unit3": "CNY:2000", "unit4": "CNY:1000"}


def define(ledger: Ledger) -> None:
    for unit, item in NOTES.items():
        ledger.define_location(CASH, unit, kind=LocationKind.CASSETTE, item=item, capacity=2000)
    ledger.define_location(CASH, "reject", kind=LocationKind.REJECT, item="*", capacity=500)
    ledger.define_location(CASH, "retract", kind=LocationKind.RETAIN, item="*", capacity=200)
    for position in ("stacker", "transport", "exit"):
        ledger.define_location(CASH, position, kind=LocationKind.POSITION, item="*")
    ledger.define_location(CASH, "customer", kind=LocationKind.CUSTOMER, item="*")
    for unit, count in (("unit1", 100), ("unit2", 100), ("unit3", 50), ("unit4", 50)):
        ledger.set_initial(CASH, unit, count, reason="replenished")


def move(
    ledger: Ledger,
    token: int,
    source: str,
    destination: str,
    item: str,
    count: int,
    moved: int | None = None,
    outcome: Outcome = Outcome.DONE,
) -> int:
    movement = ledger.journal(
        CASH,
        source=source,
        destination=destination,
        item=item,
        count=count,
        command_id=token,
        reason=f"op {token}",
    )
    settled: int | None = None  # unknown: nobody knows how many moved
    if outcome is Outcome.DONE:
        settled = count if moved is None else moved
    elif outcome is Outcome.FAILED:
        settled = 0
    ledger.settle(movement.id, outcome, moved=settled)
    return movement.id


def write(path: Path, *, pending: bool = True) -> None:
    with Ledger.open(path) as ledger:
        define(ledger)
        # 1: dispense 3 x 100 + 1 x 50; 2: present; then the customer took them.
        move(ledger, 1, "unit1", "stacker", NOTES["unit1"], 3)
        move(ledger, 1, "unit2", "stacker", NOTES["unit2"], 1)
        move(ledger, 2, "stacker", "exit", "*", 4)
        move(ledger, 3, "exit", "customer", "*", 4)
        # 4: dispense 2 x 100 with a double note to reject (journalled apart).
        move(ledger, 4, "unit1", "stacker", NOTES["unit1"], 2)
        move(ledger, 4, "unit1", "reject", NOTES["unit1"], 1)
        # 5: dispense 3 x 50 that jammed after one: one in the stacker, one in the transport.
        move(ledger, 5, "unit2", "stacker", NOTES["unit2"], 3, moved=1)
        move(ledger, 5, "unit2", "transport", NOTES["unit2"], 1)
        # 6: a dispense whose outcome nobody knows (the device could not tell).
        move(ledger, 6, "unit4", "stacker", NOTES["unit4"], 2, outcome=Outcome.UNKNOWN)
        if pending:
            # 7: in flight when the process died: planned, never settled.
            ledger.journal(
                CASH,
                source="unit3",
                destination="stacker",
                item=NOTES["unit3"],
                count=2,
                command_id=7,
                reason="dispense",
            )
            ledger.journal(
                CASH,
                source="unit4",
                destination="stacker",
                item=NOTES["unit4"],
                count=1,
                command_id=7,
                reason="dispense",
            )


def run_json(capsys: pytest.CaptureFixture[str], path: Path) -> tuple[int, dict[str, Any]]:
    code = main(["ledger", str(path), "--json"])
    out, err = capsys.readouterr()
    assert err == ""
    report = json.loads(out)
    [device] = report["devices"]
    return code, device


def position_line(lines: list[str], name: str) -> str:
    """The row of a position in the positions table (the locations table has one too)."""
    start = lines.index("  positions:")
    return next(line for line in lines[start:] if line.strip().startswith(f"{name} "))


def test_note_values() -> None:
    assert str(note_value("CNY:10000")) == "100.00 CNY"
    assert note_value("JPY:1000") is not None
    assert note_value("*") is None
    assert note_value("card") is None
    assert note_value("XXX:100") is None
    assert note_value("CNY:-5") is None


def test_json_shows_units_positions_and_what_is_in_flight(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "cash.sqlite"
    write(path)
    code, device = run_json(capsys, path)
    assert code == 1  # pending and unknown: an operator must look
    cash = device["cash"]
    units = {u["name"]: u for u in cash["units"]}
    assert list(units) == ["reject", "retract", "unit1", "unit2", "unit3", "unit4"]
    assert {k: units["unit1"][k] for k in ("initial", "in", "out", "unknown", "count")} == {
        "initial": 100,
        "in": 0,
        "out": 6,
        "unknown": 0,
        "count": 94,
    }
    assert units["unit1"]["note"] == {"minor": 10000, "currency": "CNY"}
    assert units["unit1"]["value"] == {"minor": 940000, "currency": "CNY"}
    assert (units["unit2"]["out"], units["unit2"]["count"]) == (3, 97)
    assert (units["unit4"]["unknown"], units["unit4"]["count"]) == (2, 50)
    assert (units["reject"]["in"], units["reject"]["count"], units["reject"]["value"]) == (
        1,
        1,
        None,
    )
    positions = {p["name"]: p for p in cash["positions"]}
    # The stacker: 2 x 100 of op 4 and the 50 of op 5 (op 1's notes went on to the exit).
    assert positions["stacker"] == {
        "name": "stacker",
        "count": 3,
        "holds": {"CNY:10000": 2, "CNY:5000": 1},
    }
    assert positions["transport"] == {"name": "transport", "count": 1, "holds": {"CNY:5000": 1}}
    assert positions["exit"] == {"name": "exit", "count": 0, "holds": {}}
    [flight] = cash["in_flight"]
    assert (flight["token"], flight["notes"], len(flight["movements"])) == (7, 3, 2)
    assert cash["unknown_notes"] == 2


def test_the_table_names_the_notes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "cash.sqlite"
    write(path)
    assert main(["ledger", str(path)]) == 1
    out = capsys.readouterr().out
    lines = out.splitlines()
    start = lines.index("  cash units:")
    assert lines[start + 1].split() == [
        "UNIT",
        "KIND",
        "NOTE",
        "INITIAL",
        "IN",
        "OUT",
        "UNKNOWN",
        "COUNT",
        "VALUE",
    ]
    row = next(line.split() for line in lines[start:] if line.strip().startswith("unit1 "))
    assert row == [
        "unit1",
        "cassette",
        "100.00",
        "CNY",
        "100",
        "0",
        "6",
        "0",
        "94",
        "9400.00",
        "CNY",
    ]
    assert "    notes counted in cassettes: 15750.00 CNY" in lines
    stacker = position_line(lines, "stacker")
    assert stacker.split(None, 2) == ["stacker", "3", "2 x 100.00 CNY, 1 x 50.00 CNY"]
    assert "  operations in flight: 1" in lines
    assert "    token 7: unit3->stacker 2 x CNY:2000, unit4->stacker 1 x CNY:1000" in lines
    assert "  notes of unknown movements: 2" in lines


def test_a_settled_device_and_a_card_reader_without_cash(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "cash.sqlite"
    with Ledger.open(path) as ledger:
        define(ledger)
        move(ledger, 1, "unit3", "stacker", NOTES["unit3"], 2)
        move(ledger, 2, "stacker", "exit", "*", 2)
        move(ledger, 3, "exit", "retract", "*", 2)
        ledger.define_location("card_reader", "reader", kind=LocationKind.POSITION, item="card")
    code = main(["ledger", str(path), "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0
    devices = {d["device"]: d for d in report["devices"]}
    assert devices["card_reader"]["cash"] is None
    cash = devices[CASH]["cash"]
    assert all(p["count"] == 0 and p["holds"] == {} for p in cash["positions"])
    assert cash["in_flight"] == []
    retract = next(u for u in cash["units"] if u["name"] == "retract")
    assert retract["count"] == 2


def test_notes_the_replay_cannot_name_are_shown_unnamed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "cash.sqlite"
    with Ledger.open(path) as ledger:
        define(ledger)
        # A position counted by hand (a jam cleared by an engineer who counted 3 notes).
        ledger.set_initial(CASH, "transport", 3, reason="counted after a jam")
        move(ledger, 1, "transport", "reject", "*", 1)
    assert main(["ledger", str(path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    transport = position_line(lines, "transport")
    assert transport.split(None, 2) == ["transport", "2", "2 x unnamed"]


async def test_a_ledger_the_service_wrote_shows_the_notes_where_they_are(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from hal.devices.cash_dispenser import Denomination
    from hal.errors import MediaJam
    from hal.money import Money
    from simulator.models.cash_dispenser import CashDispenserModel
    from simulator.sim_cash_service import SimCashDispenserService

    path = tmp_path / "service.sqlite"
    model = CashDispenserModel.from_profile("default", clock_scale=0.01)
    async with SimCashDispenserService(model, ledger=path) as cash:
        await cash.dispense(Denomination(Money(16000, "CNY"), {"unit1": 1, "unit3": 3}))
        await cash.present()  # at the exit, not taken
        model.customer_takes()
        model.double_note_next_pick("unit2")
        await cash.dispense(Denomination(Money(15000, "CNY"), {"unit1": 1, "unit2": 1}))
        await cash.reject()
        model.jam_next_dispense(after_notes=3)
        with pytest.raises(MediaJam):
            await cash.dispense(
                Denomination(Money(22000, "CNY"), {"unit1": 1, "unit2": 2, "unit4": 2})
            )
        truth = model.ground_truth_items()
        # Read while the service holds the file open.
        code, device = run_json(capsys, path)
    assert code == 0
    view = device["cash"]
    for position in view["positions"]:
        assert position["holds"] == truth[position["name"]], position["name"]
    assert sum(p["count"] for p in view["positions"]) == 4  # 3 stacked, 1 jammed
    for unit in view["units"]:
        assert unit["count"] == sum(truth[unit["name"]].values()), unit["name"]
    assert view["in_flight"] == []


def test_a_position_recounted_by_hand_keeps_the_names_that_fit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # As the services read it (hal.devices.cash_books.items_at): the recount is a cut;
    # what the position held then is its named notes, the excess taken off.
    path = tmp_path / "cash.sqlite"
    with Ledger.open(path) as ledger:
        define(ledger)
        move(ledger, 1, "unit1", "transport", NOTES["unit1"], 2)  # a jam
        move(ledger, 2, "unit2", "transport", NOTES["unit2"], 1)
        ledger.set_initial(CASH, "transport", 1, reason="engineer took two notes out")
        move(ledger, 3, "unit3", "transport", NOTES["unit3"], 1)
    assert main(["ledger", str(path), "--json"]) == 0
    [device] = json.loads(capsys.readouterr().out)["devices"]
    transport = next(p for p in device["cash"]["positions"] if p["name"] == "transport")
    # sorted item order: CNY:10000 is taken off before CNY:5000
    holds = {NOTES["unit2"]: 1, NOTES["unit3"]: 1}
    assert transport == {"name": "transport", "count": 2, "holds": holds}
