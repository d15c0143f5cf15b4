"""``tellerhal ledger``: real ledger files read as tables and JSON, with exit codes."""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from hal.errors import LedgerError
from hal.ledger import SCHEMA_VERSION, Ledger, LocationKind, Movement, Outcome
from tellerhal.cli.main import build_parser, main

CR = "card_reader"
CASH = "cash_dispenser"


def _insert(ledger: Ledger, command_id: int) -> None:
    card = ledger.journal(
        CR, source="customer", destination="reader", item="card", count=1, command_id=command_id
    )
    ledger.settle(card.id, Outcome.DONE, detail="card inserted")


def _capture(ledger: Ledger, reason: str = "captured by the device from the exit") -> Movement:
    return ledger.journal(
        CR, source="reader", destination="retain", item="card", count=1, reason=reason
    )


def _write_ledger(ledger: Ledger) -> dict[str, int]:
    """A card reader with four captures (two done, one unknown, one pending) and a clean
    cash dispenser; returns the ids of the movements the tests look for."""
    # As CardReaderService defines them: an unbounded reader position and a retain bin.
    ledger.define_location(CR, "customer", kind=LocationKind.CUSTOMER, item="card")
    ledger.define_location(CR, "reader", kind=LocationKind.POSITION, item="card")
    ledger.define_location(CR, "retain", kind=LocationKind.RETAIN, item="card", capacity=5)
    for command_id in (1, 2):
        _insert(ledger, command_id)
        ledger.settle(_capture(ledger).id, Outcome.DONE, detail="card retained")
    _insert(ledger, 3)
    unknown = _capture(ledger, "retain: card expired")
    ledger.settle(unknown.id, Outcome.UNKNOWN, detail="power lost during the capture")
    _insert(ledger, 4)
    pending = _capture(ledger, "retain: too many PIN tries")

    ledger.define_location(CASH, "customer", kind=LocationKind.CUSTOMER, item="EUR:20")
    ledger.define_location(CASH, "unit1", kind=LocationKind.CASSETTE, item="EUR:20", capacity=2000)
    ledger.set_initial(CASH, "unit1", 100, reason="replenished")
    notes = ledger.journal(CASH, source="unit1", destination="customer", item="EUR:20", count=5)
    ledger.settle(notes.id, Outcome.DONE, moved=4, detail="4 of 5 notes picked")
    return {"unknown": unknown.id, "pending": pending.id, "last": notes.id}


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "ledger.sqlite"


@pytest.fixture
def ids(db_path: Path) -> dict[str, int]:
    """The ledger file written and closed; the ids of its notable movements."""
    with Ledger.open(db_path) as ledger:
        return _write_ledger(ledger)


def _run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    code = main(["ledger", *argv, "--json"])
    out, err = capsys.readouterr()
    assert err == ""
    return code, json.loads(out)


def _by_device(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {device["device"]: device for device in report["devices"]}


def _stderr_line(capsys: pytest.CaptureFixture[str]) -> str:
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith("tellerhal ledger: ")
    return err


def test_the_sub_command_is_registered(db_path: Path) -> None:
    args = build_parser().parse_args(["ledger", str(db_path), "--device", CR, "--history", "3"])
    assert (args.path, args.devices, args.history, args.json) == (db_path, [CR], 3, False)
    assert args.func.__module__ == "tellerhal.cli.ledger"


def test_table_shows_counters_pending_and_unknown(
    db_path: Path, ids: dict[str, int], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["ledger", str(db_path)]) == 1
    out, err = capsys.readouterr()
    assert err == ""
    lines = out.splitlines()
    assert lines[0] == f"Ledger {db_path} (schema {SCHEMA_VERSION}, opened read-only)"
    start = lines.index(CR)
    header, customer, reader, retain = (line.split() for line in lines[start + 1 : start + 5])
    assert header == [
        "LOCATION", "KIND", "ITEM", "CAPACITY", "INITIAL", "IN", "OUT",
        "UNKNOWN-IN", "UNKNOWN-OUT", "COUNT",
    ]  # fmt: skip
    assert customer == ["customer", "customer", "card"] + ["-"] * 7
    # Four cards in, two captured for sure, one maybe (unknown), one capture pending.
    assert reader == ["reader", "position", "card", "-", "0", "4", "2", "0", "1", "2"]
    assert retain == ["retain", "retain", "card", "5", "0", "2", "0", "1", "0", "2"]
    assert lines[start + 5] == "  pending movements: 1"
    assert lines[start + 6].split() == [
        "ID", "JOURNALLED", "SOURCE", "DESTINATION", "ITEM", "COUNT", "COMMAND", "REASON",
    ]  # fmt: skip
    pending = lines[start + 7].split(maxsplit=7)
    assert pending[0] == str(ids["pending"])
    assert pending[1].endswith("Z")
    assert pending[2:] == ["reader", "retain", "card", "1", "-", "retain: too many PIN tries"]
    assert lines[start + 8] == "  unknown movements: 1"
    unknown = lines[start + 10].split(maxsplit=7)
    assert unknown[0] == str(ids["unknown"])
    assert unknown[7] == "retain: card expired"
    assert lines[start + 11] == "  violations: none"
    assert "history" not in out
    cash = lines.index(CASH)
    assert lines[cash + 3].split() == [
        "unit1", "cassette", "EUR:20", "2000", "100", "0", "4", "0", "0", "96",
    ]  # fmt: skip
    assert lines[-1] == "Summary: 1 pending, 1 unknown, 0 violations: needs attention"


def test_json_shows_the_same(
    db_path: Path, ids: dict[str, int], capsys: pytest.CaptureFixture[str]
) -> None:
    code, report = _run_json(capsys, str(db_path))
    assert code == 1
    assert report["path"] == str(db_path)
    assert report["schema_version"] == SCHEMA_VERSION
    assert [device["device"] for device in report["devices"]] == [CR, CASH]
    reader = _by_device(report)[CR]
    assert reader["locations"] == [
        {
            "name": "customer",
            "kind": "customer",
            "item": "card",
            "capacity": None,
            "counters": None,
        },
        {
            "name": "reader",
            "kind": "position",
            "item": "card",
            "capacity": None,
            "counters": {
                "initial": 0,
                "in": 4,
                "out": 2,
                "unknown_in": 0,
                "unknown_out": 1,
                "count": 2,
            },
        },
        {
            "name": "retain",
            "kind": "retain",
            "item": "card",
            "capacity": 5,
            "counters": {
                "initial": 0,
                "in": 2,
                "out": 0,
                "unknown_in": 1,
                "unknown_out": 0,
                "count": 2,
            },
        },
    ]
    [pending] = reader["pending"]
    assert pending == {
        "id": ids["pending"],
        "source": "reader",
        "destination": "retain",
        "item": "card",
        "count": 1,
        "command_id": None,
        "reason": "retain: too many PIN tries",
        "journalled_at": pending["journalled_at"],
    }
    assert pending["journalled_at"].endswith("+00:00")
    assert [m["id"] for m in reader["unknown"]] == [ids["unknown"]]
    assert reader["violations"] == []
    assert reader["history"] is None
    assert report["summary"] == {
        "pending": 1,
        "unknown": 1,
        "violations": 0,
        "needs_attention": True,
    }


def test_a_clean_device_exits_0(
    db_path: Path, ids: dict[str, int], capsys: pytest.CaptureFixture[str]
) -> None:
    code, report = _run_json(capsys, str(db_path), "--device", CASH)
    assert code == 0
    [cash] = report["devices"]
    assert cash["device"] == CASH
    assert (cash["pending"], cash["unknown"], cash["violations"]) == ([], [], [])
    assert report["summary"]["needs_attention"] is False
    assert main(["ledger", str(db_path), "--device", CASH]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == (
        "Summary: 0 pending, 0 unknown, 0 violations: ok"
    )


def test_history_lists_the_last_movements_with_their_outcome(
    db_path: Path, ids: dict[str, int], capsys: pytest.CaptureFixture[str]
) -> None:
    code, report = _run_json(capsys, str(db_path), "--device", CR, "--history", "3")
    assert code == 1
    history = _by_device(report)[CR]["history"]
    assert [(m["id"], m["source"], m["destination"]) for m in history] == [
        (ids["pending"], "reader", "retain"),
        (ids["pending"] - 1, "customer", "reader"),
        (ids["unknown"], "reader", "retain"),
    ]
    assert history[0]["settlement"] is None
    assert history[1]["command_id"] == 4
    assert history[1]["settlement"]["outcome"] == "done"
    assert history[1]["settlement"]["moved"] == 1
    unknown = history[2]["settlement"]
    assert (unknown["outcome"], unknown["moved"]) == ("unknown", None)
    assert unknown["detail"] == "power lost during the capture"

    assert main(["ledger", str(db_path), "--device", CR, "--history", "3"]) == 1
    lines = capsys.readouterr().out.splitlines()
    at = lines.index("  history: last 3 movements, newest first")
    assert lines[at + 1].split() == [
        "ID", "JOURNALLED", "SOURCE", "DESTINATION", "ITEM", "COUNT", "COMMAND",
        "OUTCOME", "MOVED", "SETTLED", "REASON", "DETAIL",
    ]  # fmt: skip
    newest, middle, oldest = (line.split() for line in lines[at + 2 : at + 5])
    assert newest[0] == str(ids["pending"])
    assert newest[7:10] == ["pending", "-", "-"]
    assert middle[6:9] == ["4", "done", "1"]
    assert oldest[7:9] == ["unknown", "-"]
    # Columns are two spaces apart at least; reason and detail hold single spaces.
    assert re.split(r"\s{2,}", lines[at + 4].strip())[-2:] == [
        "retain: card expired",
        "power lost during the capture",
    ]


def test_a_broken_invariant_exits_1(db_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with Ledger.open(db_path) as ledger:
        ledger.define_location(CR, "customer", kind=LocationKind.CUSTOMER, item="card")
        ledger.define_location(CR, "reader", kind=LocationKind.POSITION, item="card")
        ledger.define_location(CR, "retain", kind=LocationKind.RETAIN, item="card", capacity=5)
        ledger.set_initial(CR, "retain", 5, reason="bin found full")
        _insert(ledger, 1)
        ledger.settle(_capture(ledger).id, Outcome.DONE)
    code, report = _run_json(capsys, str(db_path))
    assert code == 1
    assert _by_device(report)[CR]["violations"] == [
        {
            "location": "retain",
            "rule": "over_capacity",
            "count": 6,
            "capacity": 5,
            "message": "card_reader/retain: count 6 exceeds capacity 5",
        }
    ]
    assert report["summary"] == {
        "pending": 0,
        "unknown": 0,
        "violations": 1,
        "needs_attention": True,
    }
    assert main(["ledger", str(db_path)]) == 1
    lines = capsys.readouterr().out.splitlines()
    at = lines.index("  violations: 1")
    assert lines[at + 1] == "    card_reader/retain: count 6 exceeds capacity 5"
    assert lines[-1] == "Summary: 0 pending, 0 unknown, 1 violation: needs attention"


def test_reads_while_the_device_process_has_the_file_open(
    db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with Ledger.open(db_path) as writer:
        ids = _write_ledger(writer)
        # The writer holds the owner lock: a second writable open is refused...
        with pytest.raises(LedgerError, match="already open for writing"):
            Ledger.open(db_path)
        # ...but the tool takes no lock, so it reads.
        code, report = _run_json(capsys, str(db_path), "--device", CR)
        assert code == 1
        assert [m["id"] for m in _by_device(report)[CR]["pending"]] == [ids["pending"]]
        # The writer is undisturbed and the tool sees what it commits next.
        writer.settle(ids["pending"], Outcome.DONE, detail="card retained")
        code, report = _run_json(capsys, str(db_path), "--device", CR)
        assert _by_device(report)[CR]["pending"] == []
        assert code == 1  # the unknown capture still needs an operator
        assert writer.counts(CR)["retain"] == 3


def test_never_writes_the_file_nor_takes_the_lock(
    db_path: Path, ids: dict[str, int], capsys: pytest.CaptureFixture[str]
) -> None:
    lock = db_path.with_name(db_path.name + ".lock")
    lock.unlink()
    before = hashlib.sha256(db_path.read_bytes()).hexdigest()
    mtime = db_path.stat().st_mtime_ns
    assert main(["ledger", str(db_path), "--history", "10"]) == 1
    capsys.readouterr()
    assert hashlib.sha256(db_path.read_bytes()).hexdigest() == before
    assert db_path.stat().st_mtime_ns == mtime
    assert not lock.exists()


def test_an_empty_ledger_has_nothing_to_report(
    db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    Ledger.open(db_path).close()
    assert main(["ledger", str(db_path)]) == 0
    out = capsys.readouterr().out
    assert "No devices in this ledger." in out
    code, report = _run_json(capsys, str(db_path))
    assert (code, report["devices"]) == (0, [])


def test_text_from_the_file_cannot_drive_the_terminal(
    db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with Ledger.open(db_path) as ledger:
        ledger.define_location(CR, "customer", kind=LocationKind.CUSTOMER, item="card")
        ledger.define_location(CR, "reader", kind=LocationKind.POSITION, item="card")
        ledger.define_location(CR, "retain", kind=LocationKind.RETAIN, item="card")
        _insert(ledger, 1)
        _capture(ledger, "retain\x1b[2J\x1b[Hall clear\nfake line")
    assert main(["ledger", str(db_path)]) == 1
    out = capsys.readouterr().out
    assert "\x1b" not in out
    assert "retain\\x1b[2J\\x1b[Hall clear\\nfake line" in out
    _, report = _run_json(capsys, str(db_path))
    assert (
        _by_device(report)[CR]["pending"][0]["reason"] == "retain\x1b[2J\x1b[Hall clear\nfake line"
    )


def test_a_missing_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nowhere.sqlite"
    assert main(["ledger", str(missing)]) == 2
    assert _stderr_line(capsys) == f"tellerhal ledger: {missing}: no such file\n"
    assert not missing.exists()
    assert main(["ledger", str(tmp_path)]) == 2
    assert _stderr_line(capsys) == f"tellerhal ledger: {tmp_path}: not a file\n"


def test_a_file_that_is_no_ledger_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    junk = tmp_path / "notes.txt"
    junk.write_bytes(b"this is not a SQLite database, just some text\n" * 100)
    assert main(["ledger", str(junk), "--json"]) == 2
    assert str(junk) in _stderr_line(capsys)
    assert junk.read_bytes() == b"this is not a SQLite database, just some text\n" * 100


def test_a_newer_schema_exits_2(
    db_path: Path, ids: dict[str, int], capsys: pytest.CaptureFixture[str]
) -> None:
    raw = sqlite3.connect(db_path, isolation_level=None)
    try:
        raw.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    finally:
        raw.close()
    assert main(["ledger", str(db_path)]) == 2
    assert f"schema version {SCHEMA_VERSION + 1}" in _stderr_line(capsys)


def test_an_unknown_device_exits_2(
    db_path: Path, ids: dict[str, int], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["ledger", str(db_path), "--device", CR, "--device", "printer"]) == 2
    assert _stderr_line(capsys) == (
        f"tellerhal ledger: {db_path}: no device 'printer' in this ledger (devices: {CR}, {CASH})\n"
    )


@pytest.mark.parametrize("value", ["0", "-1", "many"])
def test_history_needs_a_positive_count(
    db_path: Path, value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["ledger", str(db_path), "--history", value])
    assert exited.value.code == 2
    assert "--history" in capsys.readouterr().err
