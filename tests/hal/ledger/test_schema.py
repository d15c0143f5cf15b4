"""The file is opened as promised (WAL, synchronous=FULL, foreign keys, busy timeout) and
its schema version moves only forward, in one transaction."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from hal.errors import LedgerError
from hal.ledger import MEMORY, SCHEMA_VERSION, Ledger, Outcome
from hal.ledger.schema import MIGRATIONS, Migration, migrate, schema_version

from .helpers import CR, define_card_reader, insert_card, raw


def test_pragmas_in_effect(db_path: Path) -> None:
    with Ledger.open(db_path, busy_timeout=2.5) as ledger:
        info = ledger.info()
        assert info.journal_mode == "wal"
        assert info.synchronous == "full"
        assert info.foreign_keys is True
        assert info.busy_timeout_ms == 2500
        assert info.schema_version == SCHEMA_VERSION
        assert info.read_only is False
    # WAL is a property of the file: a fresh connection sees it too.
    conn = raw(db_path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    finally:
        conn.close()


def test_memory_ledger_is_not_wal() -> None:
    with Ledger.open(MEMORY) as ledger:
        assert ledger.info().journal_mode == "memory"
        assert ledger.info().synchronous == "full"


def test_migrations_run_one_to_n() -> None:
    assert [step.version for step in MIGRATIONS] == list(range(1, SCHEMA_VERSION + 1))
    conn = sqlite3.connect(MEMORY, isolation_level=None)
    try:
        with pytest.raises(ValueError, match="without gaps"):
            migrate(conn, (*MIGRATIONS[:1], MIGRATIONS[0]))
    finally:
        conn.close()


def test_reopening_does_not_migrate_again(db_path: Path) -> None:
    with Ledger.open(db_path) as ledger:
        define_card_reader(ledger)
        insert_card(ledger)
    with Ledger.open(db_path) as ledger:
        assert ledger.info().schema_version == SCHEMA_VERSION
        assert ledger.counts(CR)["transport"] == 1


_FAKE_V2 = Migration(
    SCHEMA_VERSION + 1,
    "a later version: settlements carry the operator who settled them",
    (
        "ALTER TABLE settlement ADD COLUMN operator TEXT NOT NULL DEFAULT ''",
        "CREATE TABLE operator (id TEXT PRIMARY KEY) STRICT",
    ),
)


def test_a_current_file_migrates_forward_keeping_its_rows(db_path: Path) -> None:
    with Ledger.open(db_path) as ledger:
        define_card_reader(ledger)
        insert_card(ledger)
    conn = raw(db_path)
    try:
        assert migrate(conn, (*MIGRATIONS, _FAKE_V2)) == SCHEMA_VERSION + 1
        assert schema_version(conn) == SCHEMA_VERSION + 1
        assert conn.execute("SELECT outcome, moved, operator FROM settlement").fetchall() == [
            ("done", 1, "")
        ]
        # Already there: migrating again changes nothing.
        assert migrate(conn, (*MIGRATIONS, _FAKE_V2)) == SCHEMA_VERSION + 1
    finally:
        conn.close()


def test_a_failed_step_leaves_the_file_as_it_was(db_path: Path) -> None:
    with Ledger.open(db_path) as ledger:
        define_card_reader(ledger)
    broken = Migration(
        SCHEMA_VERSION + 1,
        "first statement fine, second one fails",
        (_FAKE_V2.statements[0], "CREATE TABLE location (oops TEXT)"),
    )
    conn = raw(db_path)
    try:
        with pytest.raises(LedgerError, match="migration") as caught:
            migrate(conn, (*MIGRATIONS, broken))
        assert isinstance(caught.value.__cause__, sqlite3.OperationalError)
        assert schema_version(conn) == SCHEMA_VERSION
        columns = [row[1] for row in conn.execute("PRAGMA table_info(settlement)")]
        assert "operator" not in columns
        assert not conn.in_transaction
    finally:
        conn.close()


def test_a_newer_file_is_refused_naming_both_versions(db_path: Path) -> None:
    with Ledger.open(db_path) as ledger:
        define_card_reader(ledger)
    conn = raw(db_path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 6}")
    conn.close()
    with pytest.raises(LedgerError) as caught:
        Ledger.open(db_path)
    message = str(caught.value)
    assert f"version {SCHEMA_VERSION + 6}" in message
    assert f"({SCHEMA_VERSION})" in message
    conn = raw(db_path)
    try:
        assert schema_version(conn) == SCHEMA_VERSION + 6  # left alone
    finally:
        conn.close()
    # The refused open released its ownership lock: nothing is left holding the file.
    with pytest.raises(LedgerError, match="newer"):
        Ledger.open(db_path)


def test_read_only_refuses_an_unmigrated_file(db_path: Path) -> None:
    sqlite3.connect(db_path).close()  # an empty file: version 0
    with pytest.raises(LedgerError, match="schema version 0"):
        Ledger.open(db_path, read_only=True)


def test_settled_rows_survive_reopen(db_path: Path) -> None:
    with Ledger.open(db_path) as ledger:
        define_card_reader(ledger)
        movement = ledger.journal(
            CR, source="transport", destination="retain", item="card", count=1, reason="expired"
        )
        settlement = ledger.settle(movement.id, Outcome.DONE, detail="retained")
    with Ledger.open(db_path, read_only=True) as ledger:
        [record] = ledger.history(CR)
        assert record.movement == movement
        assert record.settlement == settlement
