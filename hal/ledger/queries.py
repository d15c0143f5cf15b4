"""The SQL behind `Ledger`, and the mapping between rows and dataclasses.

Each function takes a connection already inside a transaction (`Ledger` opens and closes
it) and lets `sqlite3.Error` through for `hal.ledger.database` to turn into a
`LedgerError`. Times are stored as ISO 8601 text in UTC, to the microsecond.
"""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from hal.ledger.model import (
    Counters,
    Location,
    LocationKind,
    Movement,
    MovementRecord,
    Outcome,
    Settlement,
)

__all__ = [
    "counters",
    "devices",
    "has_pending",
    "history",
    "insert_initial",
    "insert_location",
    "insert_movement",
    "insert_settlement",
    "location",
    "locations",
    "pending",
    "record",
    "unknown",
    "update_capacity",
]

_LOCATION = "SELECT device, name, kind, item, capacity FROM location"

_MOVEMENT = (
    "m.id, m.device, m.source, m.destination, m.item, m.count, m.command_id, m.reason, "
    "m.journalled_at"
)
_SETTLEMENT = "s.id, s.movement_id, s.outcome, s.moved, s.detail, s.settled_at"

_RECORDS = (
    f"SELECT {_MOVEMENT}, {_SETTLEMENT} FROM movement m "
    "LEFT JOIN settlement s ON s.movement_id = m.id"
)

_UNSETTLED = "NOT EXISTS (SELECT 1 FROM settlement s WHERE s.movement_id = m.id)"


def _flow(end: str, amount: str, outcome: Outcome) -> str:
    # Only movements after the location's latest initial count (movement id above its
    # movements_through) take part; the (device, end) index turns that into a range scan.
    return (
        f"(SELECT COALESCE(SUM({amount}), 0) FROM movement m "
        "JOIN settlement s ON s.movement_id = m.id "
        f"WHERE m.device = l.device AND m.{end} = l.name "
        "AND m.id > COALESCE(i.movements_through, 0) "
        f"AND s.outcome = '{outcome.value}')"
    )


_COUNTERS = (
    "SELECT l.device, l.name, l.kind, l.item, l.capacity, COALESCE(i.count, 0), "
    f"{_flow('destination', 's.moved', Outcome.DONE)}, "
    f"{_flow('source', 's.moved', Outcome.DONE)}, "
    f"{_flow('destination', 'm.count', Outcome.UNKNOWN)}, "
    f"{_flow('source', 'm.count', Outcome.UNKNOWN)} "
    "FROM location l LEFT JOIN initial i ON i.id = ("
    "SELECT MAX(id) FROM initial WHERE device = l.device AND location = l.name) "
    f"WHERE l.device = ? AND l.kind <> '{LocationKind.CUSTOMER.value}' ORDER BY l.name"
)


def _recounted(end: str) -> str:
    # An end is resolved when it has no count (the customer) or was counted after the
    # movement was journalled.
    return (
        f"(e_{end}.kind = '{LocationKind.CUSTOMER.value}' OR EXISTS ("
        "SELECT 1 FROM initial i WHERE i.device = m.device "
        f"AND i.location = m.{end} AND i.movements_through >= m.id))"
    )


_UNKNOWN = (
    # Unknown settlements are few: CROSS JOIN makes SQLite start from their partial index
    # rather than from the device's whole journal, which it picks without statistics.
    f"SELECT {_MOVEMENT} FROM settlement s "
    "CROSS JOIN movement m ON m.id = s.movement_id "
    "JOIN location e_source ON e_source.device = m.device AND e_source.name = m.source "
    "JOIN location e_destination ON e_destination.device = m.device "
    "AND e_destination.name = m.destination "
    f"WHERE s.outcome = '{Outcome.UNKNOWN.value}' AND m.device = ? "
    f"AND NOT ({_recounted('source')} AND {_recounted('destination')}) ORDER BY s.movement_id"
)


def _location(row: Sequence[Any]) -> Location:
    device, name, kind, item, capacity = row
    return Location(
        device=str(device),
        name=str(name),
        kind=LocationKind(kind),
        item=str(item),
        capacity=None if capacity is None else int(capacity),
    )


def _movement(row: Sequence[Any]) -> Movement:
    mid, device, source, destination, item, count, command_id, reason, at = row[:9]
    return Movement(
        id=int(mid),
        device=str(device),
        source=str(source),
        destination=str(destination),
        item=str(item),
        count=int(count),
        command_id=None if command_id is None else int(command_id),
        reason=str(reason),
        journalled_at=datetime.fromisoformat(at),
    )


def _settlement(row: Sequence[Any]) -> Settlement | None:
    sid, movement_id, outcome, moved, detail, at = row
    if sid is None:
        return None
    return Settlement(
        id=int(sid),
        movement_id=int(movement_id),
        outcome=Outcome(outcome),
        moved=None if moved is None else int(moved),
        detail=str(detail),
        settled_at=datetime.fromisoformat(at),
    )


def _record(row: Sequence[Any]) -> MovementRecord:
    return MovementRecord(_movement(row[:9]), _settlement(row[9:]))


def devices(conn: sqlite3.Connection) -> list[str]:
    """The devices that have a location, by name."""
    rows = conn.execute("SELECT DISTINCT device FROM location ORDER BY device")
    return [str(row[0]) for row in rows]


def location(conn: sqlite3.Connection, device: str, name: str) -> Location | None:
    """One location, or ``None`` when it is not defined."""
    row = conn.execute(f"{_LOCATION} WHERE device = ? AND name = ?", (device, name)).fetchone()
    return None if row is None else _location(row)


def locations(conn: sqlite3.Connection, device: str) -> list[Location]:
    """A device's locations, by name."""
    rows = conn.execute(f"{_LOCATION} WHERE device = ? ORDER BY name", (device,))
    return [_location(row) for row in rows]


def has_pending(conn: sqlite3.Connection, device: str, name: str) -> bool:
    """Whether a movement from or to a location is still unsettled."""
    row = conn.execute(
        f"SELECT 1 FROM movement m WHERE m.device = ? AND m.source = ? AND {_UNSETTLED} "
        f"UNION ALL SELECT 1 FROM movement m WHERE m.device = ? AND m.destination = ? "
        f"AND {_UNSETTLED} LIMIT 1",
        (device, name, device, name),
    ).fetchone()
    return row is not None


def record(conn: sqlite3.Connection, movement_id: int) -> MovementRecord | None:
    """One movement with its settlement, or ``None`` when there is no such movement."""
    row = conn.execute(f"{_RECORDS} WHERE m.id = ?", (movement_id,)).fetchone()
    return None if row is None else _record(row)


def pending(conn: sqlite3.Connection, device: str | None) -> list[Movement]:
    """Unsettled movements, oldest first, of one device or of all."""
    if device is None:
        rows = conn.execute(f"SELECT {_MOVEMENT} FROM movement m WHERE {_UNSETTLED} ORDER BY m.id")
    else:
        rows = conn.execute(
            f"SELECT {_MOVEMENT} FROM movement m WHERE m.device = ? AND {_UNSETTLED} ORDER BY m.id",
            (device,),
        )
    return [_movement(row) for row in rows]


def counters(conn: sqlite3.Connection, device: str) -> list[Counters]:
    """The derived counters of a device's counted locations, by name."""
    result: list[Counters] = []
    for row in conn.execute(_COUNTERS, (device,)):
        initial, moved_in, moved_out, unknown_in, unknown_out = (int(v) for v in row[5:])
        result.append(
            Counters(
                location=_location(row[:5]),
                initial=initial,
                moved_in=moved_in,
                moved_out=moved_out,
                unknown_in=unknown_in,
                unknown_out=unknown_out,
            )
        )
    return result


def unknown(conn: sqlite3.Connection, device: str) -> list[Movement]:
    """Movements settled unknown that a later count has not resolved, oldest first."""
    return [_movement(row) for row in conn.execute(_UNKNOWN, (device,))]


def history(conn: sqlite3.Connection, device: str, limit: int) -> list[MovementRecord]:
    """The latest ``limit`` movements of a device with their settlements, newest first."""
    rows = conn.execute(
        f"{_RECORDS} WHERE m.device = ? ORDER BY m.id DESC LIMIT ?", (device, limit)
    )
    return [_record(row) for row in rows]


def touching(
    conn: sqlite3.Connection, device: str, locations: Sequence[str], after: int
) -> list[MovementRecord]:
    """The movements of a device into or out of any of ``locations`` with an id above
    ``after``, with their settlements, newest first.

    Two range scans of the (device, source) and (device, destination) indexes: the
    movements of other locations are not read.
    """
    if not locations:
        return []
    marks = ", ".join("?" for _ in locations)
    rows = conn.execute(
        f"{_RECORDS} WHERE m.id IN ("
        f"SELECT id FROM movement WHERE device = ? AND source IN ({marks}) AND id > ? "
        f"UNION SELECT id FROM movement WHERE device = ? AND destination IN ({marks}) "
        "AND id > ?) ORDER BY m.id DESC",
        (device, *locations, after, device, *locations, after),
    )
    return [_record(row) for row in rows]


def _stamp(at: datetime) -> str:
    return at.isoformat(timespec="microseconds")


def insert_location(conn: sqlite3.Connection, loc: Location) -> None:
    """Define a location."""
    conn.execute(
        "INSERT INTO location (device, name, kind, item, capacity) VALUES (?, ?, ?, ?, ?)",
        (loc.device, loc.name, loc.kind.value, loc.item, loc.capacity),
    )


def update_capacity(conn: sqlite3.Connection, device: str, name: str, capacity: int | None) -> None:
    """Change a location's capacity, the one thing about it that may change."""
    conn.execute(
        "UPDATE location SET capacity = ? WHERE device = ? AND name = ?",
        (capacity, device, name),
    )


def insert_initial(
    conn: sqlite3.Connection, device: str, name: str, count: int, reason: str, at: datetime
) -> None:
    """Append an initial count, cutting the location's journal at the latest movement."""
    conn.execute(
        "INSERT INTO initial (device, location, count, movements_through, reason, set_at) "
        "VALUES (?, ?, ?, (SELECT COALESCE(MAX(id), 0) FROM movement), ?, ?)",
        (device, name, count, reason, _stamp(at)),
    )


def insert_movement(conn: sqlite3.Connection, m: Movement) -> Movement:
    """Append a movement; returns it with the id SQLite gave it."""
    cursor = conn.execute(
        "INSERT INTO movement (device, source, destination, item, count, command_id, reason, "
        "journalled_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            m.device,
            m.source,
            m.destination,
            m.item,
            m.count,
            m.command_id,
            m.reason,
            _stamp(m.journalled_at),
        ),
    )
    return dataclasses.replace(m, id=_rowid(cursor))


def insert_settlement(conn: sqlite3.Connection, s: Settlement) -> Settlement:
    """Append a settlement; returns it with the id SQLite gave it."""
    cursor = conn.execute(
        "INSERT INTO settlement (movement_id, outcome, moved, detail, settled_at) "
        "VALUES (?, ?, ?, ?, ?)",
        (s.movement_id, s.outcome.value, s.moved, s.detail, _stamp(s.settled_at)),
    )
    return dataclasses.replace(s, id=_rowid(cursor))


def _rowid(cursor: sqlite3.Cursor) -> int:
    if cursor.lastrowid is None:  # pragma: no cover - SQLite sets it for every rowid INSERT
        raise sqlite3.DatabaseError("INSERT returned no rowid")
    return cursor.lastrowid
