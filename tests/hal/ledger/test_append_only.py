"""Append-only is enforced by the file itself: a plain SQLite connection that tries to
rewrite history is refused by triggers and constraints, whatever its pragmas."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from hal.ledger import Ledger, Outcome

from .helpers import CR, insert_card, raw, retain


@pytest.fixture
def books(ledger: Ledger, db_path: Path) -> Iterator[sqlite3.Connection]:
    """A ledger with one of each row kind, and a raw connection to its file."""
    insert_card(ledger)
    retain(ledger)  # left pending
    ledger.set_initial(CR, "dispense", 10)
    conn = raw(db_path)
    try:
        yield conn
    finally:
        conn.close()


def _rows(conn: sqlite3.Connection, table: str) -> list[tuple[object, ...]]:
    return conn.execute(f"SELECT * FROM {table} ORDER BY rowid").fetchall()


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE movement SET count = 2",
        "UPDATE movement SET destination = 'retain' WHERE id = 1",
        "DELETE FROM movement WHERE id = 2",
        "UPDATE settlement SET outcome = 'failed', moved = 0",
        "DELETE FROM settlement",
        "UPDATE initial SET count = 0",
        "DELETE FROM initial",
        "INSERT OR REPLACE INTO movement (id, device, source, destination, item, count, "
        "journalled_at) VALUES (1, 'card_reader', 'transport', 'retain', 'card', 1, 'x')",
        "INSERT OR REPLACE INTO settlement (movement_id, outcome, moved, settled_at) "
        "VALUES (1, 'failed', 0, 'x')",
        "INSERT OR REPLACE INTO initial (id, device, location, count, movements_through, "
        "set_at) VALUES (1, 'card_reader', 'dispense', 99, 0, 'x')",
        "DELETE FROM location WHERE name = 'dispense'",
        "UPDATE location SET kind = 'reject' WHERE name = 'retain'",
        "INSERT OR REPLACE INTO location (device, name, kind, item) "
        "VALUES ('card_reader', 'retain', 'retain', 'passport')",
    ],
)
def test_history_cannot_be_rewritten(books: sqlite3.Connection, statement: str) -> None:
    # Neither foreign keys nor recursive triggers are on in this connection: the
    # triggers alone must hold.
    before = {t: _rows(books, t) for t in ("location", "movement", "settlement", "initial")}
    with pytest.raises(sqlite3.IntegrityError, match="ledger"):
        books.execute(statement)
    after = {t: _rows(books, t) for t in ("location", "movement", "settlement", "initial")}
    assert after == before


def test_capacity_may_change(books: sqlite3.Connection) -> None:
    books.execute("UPDATE location SET capacity = 9 WHERE name = 'retain'")
    assert books.execute("SELECT capacity FROM location WHERE name = 'retain'").fetchone() == (9,)


def test_a_movement_settles_at_most_once(books: sqlite3.Connection) -> None:
    unique = [
        books.execute(f"PRAGMA index_info({name!r})").fetchall()[0][2]
        for _, name, is_unique, origin, _ in books.execute("PRAGMA index_list(settlement)")
        if is_unique and origin == "u"
    ]
    assert unique == ["movement_id"]
    with pytest.raises(sqlite3.IntegrityError):
        books.execute(
            "INSERT INTO settlement (movement_id, outcome, moved, settled_at) "
            "VALUES (1, 'failed', 0, 'x')"
        )
    assert books.execute("SELECT COUNT(*) FROM settlement WHERE movement_id = 1").fetchone() == (1,)


def test_unique_constraint_holds_without_the_triggers(
    db_path: Path, books: sqlite3.Connection
) -> None:
    # Belt and braces: drop the trigger that says "already settled" in a scratch copy and
    # the UNIQUE constraint still refuses the second settlement.
    copy = sqlite3.connect(":memory:", isolation_level=None)
    books.backup(copy)
    copy.execute("DROP TRIGGER settlement_once")
    with pytest.raises(sqlite3.IntegrityError, match="UNIQUE"):
        copy.execute(
            "INSERT INTO settlement (movement_id, outcome, moved, settled_at) "
            "VALUES (1, 'failed', 0, 'x')"
        )
    copy.close()


@pytest.mark.parametrize(
    ("statement", "match"),
    [
        (
            "INSERT INTO settlement (movement_id, outcome, moved, settled_at) "
            "VALUES (2, 'done', 2, 'x')",
            "more items than its movement",
        ),
        (
            "INSERT INTO settlement (movement_id, outcome, moved, settled_at) "
            "VALUES (2, 'unknown', 1, 'x')",
            "CHECK",
        ),
        (
            "INSERT INTO settlement (movement_id, outcome, moved, settled_at) "
            "VALUES (2, 'failed', 1, 'x')",
            "CHECK",
        ),
        (
            "INSERT INTO movement (device, source, destination, item, count, journalled_at) "
            "VALUES ('card_reader', 'transport', 'retain', 'card', 0, 'x')",
            "CHECK",
        ),
        (
            "INSERT INTO initial (device, location, count, movements_through, set_at) "
            "VALUES ('card_reader', 'retain', 0, 2, 'x')",
            "pending",
        ),
    ],
)
def test_schema_refuses_nonsense(books: sqlite3.Connection, statement: str, match: str) -> None:
    with pytest.raises(sqlite3.IntegrityError, match=match):
        books.execute(statement)


def test_foreign_keys_hold_in_the_ledger(ledger: Ledger) -> None:
    # Through the ledger's own connection (foreign keys on), a settlement of a movement
    # that does not exist is refused by SQLite even past the code's own check.
    conn = ledger._db._conn
    assert conn is not None
    with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
        conn.execute(
            "INSERT INTO settlement (movement_id, outcome, moved, settled_at) "
            "VALUES (42, 'failed', 0, 'x')"
        )
    ledger.settle(retain(ledger).id, Outcome.FAILED)
