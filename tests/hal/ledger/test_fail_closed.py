"""Fail closed: when the journal cannot be written, the caller gets a `LedgerError` (with
SQLite's error chained), nothing half-written is left behind, and the ledger refuses
further writes until it is reopened and reconciled."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from hal.errors import HalError, LedgerError
from hal.ledger import Ledger, Outcome

from .helpers import CR, define_card_reader, insert_card, raw, retain


def _movement_rows(path: Path) -> int:
    conn = raw(path)
    try:
        return int(conn.execute("SELECT COUNT(*) FROM movement").fetchone()[0])
    finally:
        conn.close()


def _fill_the_disk(ledger: Ledger) -> None:
    # A unit test cannot fill a real disk; capping the file at its current size makes
    # SQLite answer SQLITE_FULL ("database or disk is full") exactly as a full disk does.
    conn = ledger._db._conn
    assert conn is not None
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages}")


_BIG = "x" * 200_000  # needs new pages for sure


_CALLS: dict[str, Callable[[Ledger], object]] = {
    "journal": lambda ledger: retain(ledger),
    "settle": lambda ledger: ledger.settle(1, Outcome.DONE),
    "set_initial": lambda ledger: ledger.set_initial(CR, "retain", 0),
    "define_location": lambda ledger: ledger.define_location(
        CR, "bin2", kind="retain", item="card"
    ),
    "reconcile": lambda ledger: ledger.reconcile(CR, lambda movement: Outcome.UNKNOWN),
    "pending": lambda ledger: ledger.pending(),
    "counts": lambda ledger: ledger.counts(CR),
    "unknown": lambda ledger: ledger.unknown(CR),
    "history": lambda ledger: ledger.history(CR),
    "locations": lambda ledger: ledger.locations(CR),
    "check_invariants": lambda ledger: ledger.check_invariants(CR),
    "info": lambda ledger: ledger.info(),
}

_WRITES = ("journal", "settle", "set_initial", "define_location")


@pytest.mark.parametrize("call", sorted(_CALLS))
def test_a_closed_ledger_refuses_everything(db_path: Path, call: str) -> None:
    ledger = Ledger.open(db_path)
    define_card_reader(ledger)
    retain(ledger)
    ledger.close()
    assert ledger.closed
    ledger.close()  # twice is harmless
    with pytest.raises(LedgerError, match="closed"):
        _CALLS[call](ledger)


@pytest.mark.parametrize("call", _WRITES)
def test_a_read_only_ledger_refuses_writes(db_path: Path, call: str) -> None:
    with Ledger.open(db_path) as writer:
        define_card_reader(writer)
        movement = retain(writer)
        # A tool looks while the owner runs: no lock needed, committed rows visible.
        with Ledger.open(db_path, read_only=True) as reader:
            assert reader.pending() == [movement]
            with pytest.raises(LedgerError, match="read-only"):
                _CALLS[call](reader)
            assert reader.info().read_only
        assert writer.pending() == [movement]


def test_journal_returns_only_committed_rows(ledger: Ledger, db_path: Path) -> None:
    movement = retain(ledger)
    # Another connection sees it at once: it was committed before journal() returned.
    conn = raw(db_path)
    try:
        row = conn.execute(
            "SELECT id, source, destination FROM movement WHERE id = ?", (movement.id,)
        ).fetchone()
    finally:
        conn.close()
    assert row == (movement.id, "transport", "retain")


def test_locked_past_the_busy_timeout(db_path: Path) -> None:
    with Ledger.open(db_path, busy_timeout=0.1) as ledger:
        define_card_reader(ledger)
        intruder = raw(db_path)
        intruder.execute("BEGIN IMMEDIATE")  # holds the write lock
        try:
            started = time.monotonic()
            with pytest.raises(LedgerError, match="locked") as caught:
                retain(ledger)
            assert time.monotonic() - started >= 0.1
            assert isinstance(caught.value.__cause__, sqlite3.OperationalError)
        finally:
            intruder.execute("ROLLBACK")
            intruder.close()
        # Out of service even though the lock is gone: reopen and reconcile first.
        with pytest.raises(LedgerError, match="out of service") as refused:
            retain(ledger)
        assert refused.value.__cause__ is caught.value
        assert ledger.pending() == []  # reads still answer
    assert _movement_rows(db_path) == 0
    with Ledger.open(db_path) as reopened:
        assert reopened.pending() == []
        retain(reopened)


def test_disk_full_on_journal_leaves_nothing_half_written(ledger: Ledger, db_path: Path) -> None:
    insert_card(ledger)
    _fill_the_disk(ledger)
    with pytest.raises(LedgerError, match="full") as caught:
        ledger.journal(
            CR, source="transport", destination="retain", item="card", count=1, reason=_BIG
        )
    assert isinstance(caught.value.__cause__, sqlite3.Error)
    ledger.close()
    assert _movement_rows(db_path) == 1
    with Ledger.open(db_path) as reopened:
        assert reopened.pending() == []
        assert reopened.counts(CR)["transport"] == 1


def test_disk_full_on_settle_leaves_the_movement_pending(ledger: Ledger, db_path: Path) -> None:
    insert_card(ledger)
    movement = retain(ledger)
    _fill_the_disk(ledger)
    with pytest.raises(LedgerError, match="full"):
        ledger.settle(movement.id, Outcome.DONE, detail=_BIG)
    with pytest.raises(LedgerError, match="out of service"):
        retain(ledger)
    ledger.close()
    # The device did retain the card; after a restart, reconcile asks it again.
    with Ledger.open(db_path) as reopened:
        assert reopened.pending() == [movement]
        reopened.reconcile(CR, lambda m: Outcome.DONE)
        assert reopened.counts(CR) == {"dispense": 0, "retain": 1, "transport": 0}


def test_a_corrupt_file_is_refused(db_path: Path) -> None:
    db_path.write_bytes(b"this is not an SQLite file, it is a sad story" * 100)
    with pytest.raises(LedgerError, match="cannot open") as caught:
        Ledger.open(db_path)
    assert isinstance(caught.value.__cause__, sqlite3.DatabaseError)
    assert isinstance(caught.value, HalError)


def test_a_damaged_page_is_refused(db_path: Path) -> None:
    with Ledger.open(db_path) as ledger:
        define_card_reader(ledger)
        for _ in range(50):
            ledger.settle(retain(ledger).id, Outcome.FAILED)
    # The ledger checkpoints on close: the rows are in the main file now. Scribble over
    # the middle of it, as a failing disk would.
    data = bytearray(db_path.read_bytes())
    page = 4096
    middle = len(data) // page // 2 * page
    data[middle : middle + page] = b"\xa5" * page
    db_path.write_bytes(bytes(data))
    with pytest.raises(LedgerError):
        Ledger.open(db_path)


@pytest.mark.parametrize("where", ["missing/dir/ledger.sqlite", "a_file/ledger.sqlite"])
def test_an_unwritable_place_is_refused(tmp_path: Path, where: str) -> None:
    (tmp_path / "a_file").write_text("not a directory")
    with pytest.raises(LedgerError, match="cannot open") as caught:
        Ledger.open(tmp_path / where)
    assert isinstance(caught.value.__cause__, OSError | sqlite3.Error)


def _modes_enforced(tmp_path: Path) -> bool:
    # Root (CAP_DAC_OVERRIDE) writes through file modes; the probe asks the kernel.
    probe = tmp_path / "probe"
    probe.touch(mode=0o444)
    try:
        probe.open("w").close()
    except PermissionError:
        return True
    return False


def _make_read_only(path: Path, *, enforced: bool) -> None:
    """Make ``path`` unwritable: by its mode, or (for root, who writes through modes)
    by the immutable attribute, which binds root too."""
    if enforced:
        path.chmod(0o555 if path.is_dir() else 0o444)
    else:
        subprocess.run(["chattr", "+i", str(path)], check=True, capture_output=True)


def _make_writable(path: Path) -> None:
    if shutil.which("chattr"):
        subprocess.run(["chattr", "-i", str(path)], check=False, capture_output=True)
    path.chmod(0o755 if path.is_dir() else 0o644)


@pytest.mark.parametrize("directory_too", [False, True])
def test_a_read_only_file_is_refused_at_open(
    db_path: Path, tmp_path: Path, directory_too: bool
) -> None:
    enforced = _modes_enforced(tmp_path)
    if not enforced and not shutil.which("chattr"):
        pytest.skip("this process writes through file modes (root) and has no chattr")
    with Ledger.open(db_path) as ledger:
        define_card_reader(ledger)
    _make_read_only(db_path, enforced=enforced)
    try:
        if directory_too:
            _make_read_only(db_path.parent, enforced=enforced)
        # A read-only file, or one whose directory cannot take the WAL file.
        with pytest.raises(LedgerError, match=r"readonly|unable to open") as caught:
            Ledger.open(db_path)
        assert isinstance(caught.value.__cause__, sqlite3.OperationalError)
    finally:
        _make_writable(db_path.parent)
        _make_writable(db_path)
    assert _movement_rows(db_path) == 0


def test_one_writer_at_a_time(db_path: Path) -> None:
    owner = f"open for writing by pid {os.getpid()}"
    with Ledger.open(db_path), pytest.raises(LedgerError, match=owner):
        Ledger.open(db_path)
    with Ledger.open(db_path):  # released on close
        pass


def test_other_threads_are_refused(ledger: Ledger) -> None:
    # The ledger belongs to the thread that opened it (the device's event loop thread).
    errors: list[BaseException] = []

    def elsewhere() -> None:
        for call in (lambda: retain(ledger), ledger.pending, ledger.close):
            try:
                call()
            except BaseException as exc:
                errors.append(exc)

    worker = threading.Thread(target=elsewhere)
    worker.start()
    worker.join()
    assert len(errors) == 3
    assert all(isinstance(exc, LedgerError) and "thread" in str(exc) for exc in errors)
    assert ledger.pending() == []
    assert not ledger.closed
