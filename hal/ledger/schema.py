"""The ledger's SQLite schema, its versions and the migrations between them.

The schema version lives in ``PRAGMA user_version``. `MIGRATIONS` lists the steps from an
empty file to the version this code knows; `migrate` applies the missing ones in one
transaction, so a file is either at its old version or fully at the new one. A file
written by newer code is refused rather than read with the wrong meaning.

Append-only is enforced by the database itself, not only by the code above it: triggers
abort any UPDATE or DELETE of a journal row, and any INSERT that would replace one.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from hal.errors import LedgerError

__all__ = [
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "Migration",
    "migrate",
    "schema_version",
    "transaction",
]


@dataclass(frozen=True, slots=True)
class Migration:
    """One step of the schema.

    Attributes:
        version: the ``user_version`` the file has after this step.
        description: what the step changes, for the record.
        statements: the SQL statements of the step, run in order in one transaction.
    """

    version: int
    description: str
    statements: tuple[str, ...]


def _append_only(table: str) -> tuple[str, ...]:
    # INSERT OR REPLACE deletes the row it conflicts with without firing DELETE triggers
    # unless recursive_triggers is on, so refusing the insert itself closes that door
    # for any connection, whatever its pragmas.
    return (
        f"""CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table}
        BEGIN SELECT RAISE(ABORT, 'ledger {table} rows are append-only: no UPDATE'); END""",
        f"""CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table}
        BEGIN SELECT RAISE(ABORT, 'ledger {table} rows are append-only: no DELETE'); END""",
        f"""CREATE TRIGGER {table}_no_replace BEFORE INSERT ON {table}
        WHEN EXISTS (SELECT 1 FROM {table} WHERE id = NEW.id)
        BEGIN SELECT RAISE(ABORT, 'ledger {table} rows are append-only: no REPLACE'); END""",
    )


_V1: tuple[str, ...] = (
    # Configuration, not money: a location may change its capacity, never its identity.
    """CREATE TABLE location (
        device   TEXT NOT NULL CHECK (device <> ''),
        name     TEXT NOT NULL CHECK (name <> ''),
        kind     TEXT NOT NULL CHECK (kind <> ''),
        item     TEXT NOT NULL CHECK (item <> ''),
        capacity INTEGER CHECK (capacity IS NULL OR capacity >= 0),
        PRIMARY KEY (device, name)
    ) STRICT""",
    """CREATE TRIGGER location_no_delete BEFORE DELETE ON location
    BEGIN SELECT RAISE(ABORT, 'ledger locations are never deleted'); END""",
    """CREATE TRIGGER location_fixed BEFORE UPDATE OF device, name, kind, item ON location
    BEGIN SELECT RAISE(ABORT, 'ledger locations keep their device, name, kind and item'); END""",
    """CREATE TRIGGER location_no_replace BEFORE INSERT ON location
    WHEN EXISTS (SELECT 1 FROM location WHERE device = NEW.device AND name = NEW.name)
    BEGIN SELECT RAISE(ABORT, 'ledger locations are defined once: no REPLACE'); END""",
    # AUTOINCREMENT: ids are never reused, so they order the journal for good.
    """CREATE TABLE movement (
        id            INTEGER PRIMARY KEY AUTOINCREMENT,
        device        TEXT NOT NULL,
        source        TEXT NOT NULL,
        destination   TEXT NOT NULL,
        item          TEXT NOT NULL CHECK (item <> ''),
        count         INTEGER NOT NULL CHECK (count > 0),
        command_id    INTEGER,
        reason        TEXT NOT NULL DEFAULT '',
        journalled_at TEXT NOT NULL,
        CHECK (source <> destination),
        FOREIGN KEY (device, source) REFERENCES location (device, name),
        FOREIGN KEY (device, destination) REFERENCES location (device, name)
    ) STRICT""",
    "CREATE INDEX movement_source ON movement (device, source)",
    "CREATE INDEX movement_destination ON movement (device, destination)",
    *_append_only("movement"),
    # One row per outcome; UNIQUE (movement_id) is what makes "settles at most once" hold.
    """CREATE TABLE settlement (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        movement_id INTEGER NOT NULL UNIQUE REFERENCES movement (id),
        outcome     TEXT NOT NULL CHECK (outcome IN ('done', 'failed', 'unknown')),
        moved       INTEGER,
        detail      TEXT NOT NULL DEFAULT '',
        settled_at  TEXT NOT NULL,
        CHECK (
            (outcome = 'done' AND moved IS NOT NULL AND moved >= 0)
            OR (outcome = 'failed' AND moved = 0)
            OR (outcome = 'unknown' AND moved IS NULL)
        )
    ) STRICT""",
    *_append_only("settlement"),
    """CREATE TRIGGER settlement_once BEFORE INSERT ON settlement
    WHEN EXISTS (SELECT 1 FROM settlement WHERE movement_id = NEW.movement_id)
    BEGIN SELECT RAISE(ABORT, 'ledger movement is already settled'); END""",
    # Unknown movements are few; this keeps listing them from scanning the journal.
    "CREATE INDEX settlement_unknown ON settlement (movement_id) WHERE outcome = 'unknown'",
    """CREATE TRIGGER settlement_moved_le_count BEFORE INSERT ON settlement
    WHEN NEW.moved > (SELECT count FROM movement WHERE id = NEW.movement_id)
    BEGIN SELECT RAISE(ABORT, 'ledger settlement moves more items than its movement'); END""",
    # An initial count replaces every movement of its location up to movements_through
    # (the highest movement id when it was written); later movements count on top of it.
    """CREATE TABLE initial (
        id                INTEGER PRIMARY KEY AUTOINCREMENT,
        device            TEXT NOT NULL,
        location          TEXT NOT NULL,
        count             INTEGER NOT NULL CHECK (count >= 0),
        movements_through INTEGER NOT NULL CHECK (movements_through >= 0),
        reason            TEXT NOT NULL DEFAULT '',
        set_at            TEXT NOT NULL,
        FOREIGN KEY (device, location) REFERENCES location (device, name)
    ) STRICT""",
    # The derivation relies on this: with no movement of the location in flight, every
    # movement up to movements_through is settled, so the cut between "before" and
    # "after" the initial count is exact.
    """CREATE TRIGGER initial_not_in_flight BEFORE INSERT ON initial
    WHEN EXISTS (
        SELECT 1 FROM movement m
        WHERE m.device = NEW.device
          AND (m.source = NEW.location OR m.destination = NEW.location)
          AND NOT EXISTS (SELECT 1 FROM settlement s WHERE s.movement_id = m.id)
    )
    BEGIN SELECT RAISE(ABORT, 'ledger initial count set while a movement is pending'); END""",
    "CREATE INDEX initial_location ON initial (device, location, id)",
    *_append_only("initial"),
)

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "locations, movements, settlements, initial counts", _V1),
)
"""Every schema step, oldest first; versions run 1, 2, 3... without gaps."""

SCHEMA_VERSION = MIGRATIONS[-1].version
"""The schema version this code writes and reads."""


@contextmanager
def transaction(conn: sqlite3.Connection, begin: str = "BEGIN") -> Iterator[sqlite3.Connection]:
    """``begin`` ... ``COMMIT`` around the block; any exception rolls it back and passes.

    Args:
        conn: a connection in autocommit mode, outside any transaction.
        begin: ``BEGIN`` (a read snapshot) or ``BEGIN IMMEDIATE`` (take the write lock).

    Yields:
        ``conn``, inside the transaction.
    """
    conn.execute(begin)
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:  # SQLite may have rolled back already
            conn.execute("ROLLBACK")
        raise


def schema_version(conn: sqlite3.Connection) -> int:
    """The schema version stored in a ledger file (``0`` for an empty file).

    Args:
        conn: an open connection to the file.

    Returns:
        The file's ``PRAGMA user_version``.
    """
    row = conn.execute("PRAGMA user_version").fetchone()
    return int(row[0])


def migrate(conn: sqlite3.Connection, migrations: tuple[Migration, ...] = MIGRATIONS) -> int:
    """Bring a ledger file to the newest version in ``migrations``.

    All missing steps run in one ``BEGIN IMMEDIATE`` transaction (SQLite's DDL and
    ``user_version`` are transactional), so a failure leaves the file as it was.

    Args:
        conn: a connection in autocommit mode (``isolation_level=None``), outside any
            transaction.
        migrations: the steps, oldest first, versions ``1..N`` without gaps.

    Returns:
        The version the file is at afterwards.

    Raises:
        LedgerError: the file is newer than ``migrations`` knows, or a step failed (the
            cause is chained).
        ValueError: ``migrations`` is empty or its versions are not ``1..N``.
    """
    versions = [step.version for step in migrations]
    if versions != list(range(1, len(migrations) + 1)):
        raise ValueError(f"migration versions must run 1..N without gaps, got {versions}")
    target = versions[-1]
    try:
        with transaction(conn, "BEGIN IMMEDIATE"):
            # Read inside the write transaction: another opener may just have migrated.
            current = schema_version(conn)
            if current > target:
                raise LedgerError(
                    f"ledger schema version {current} is newer than this code knows "
                    f"({target}); upgrade tellerhal before opening this ledger"
                )
            for step in migrations[current:]:
                for statement in step.statements:
                    conn.execute(statement)
                # PRAGMA takes no parameters; the version is an int we built.
                conn.execute(f"PRAGMA user_version = {int(step.version)}")
    except sqlite3.Error as exc:
        raise LedgerError(f"ledger schema migration to version {target} failed: {exc}") from exc
    return target
