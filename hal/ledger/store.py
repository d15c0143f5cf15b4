"""`Ledger`: the append-only movement journal of the devices one process owns.

The API the device services call (`Ledger.journal`, `Ledger.settle`, `Ledger.reconcile`)
and the views tools read (`Ledger.counts`, `Ledger.pending`, `Ledger.history`). How the
file is opened, owned, written durably and failed closed is in `hal.ledger.database`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from types import TracebackType

from hal.errors import InvalidData, SequenceError
from hal.ledger import queries
from hal.ledger.checks import moved_for, name, now, positive, text
from hal.ledger.database import Database
from hal.ledger.model import (
    ANY_ITEM,
    Counters,
    LedgerInfo,
    Location,
    LocationKind,
    Movement,
    MovementRecord,
    Outcome,
    Resolution,
    Settlement,
    Violation,
)

__all__ = ["Ledger"]


class Ledger:
    """The append-only movement journal of one process's devices, in SQLite.

    Every movement of an item (a card, a note) from one location of a device to another
    is journalled as pending before the device acts (`journal`) and settled once after it
    answers (`settle`). Counts are derived from the journal, never stored. On start,
    `reconcile` settles what a crash left pending from the devices' own reports.

    The ledger belongs to the thread that opened it (the devices' asyncio loop thread);
    a call from another thread raises `LedgerError`. Use it as a context manager, or
    call `close`.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        read_only: bool = False,
        busy_timeout: float = 5.0,
    ) -> None:
        """Open (and create or migrate) a ledger file.

        Args:
            path: the SQLite file, or `MEMORY` for a ledger that is not durable.
            read_only: look without writing: no lock, no migration, writes refused.
            busy_timeout: seconds to wait for another connection's write lock before
                failing with `LedgerError`.

        Raises:
            LedgerError: the file cannot be opened, locked (another process owns it),
                configured, checked or migrated, or its schema is newer than this code.
        """
        self._db = Database(os.fspath(path), read_only=read_only, busy_timeout=busy_timeout)
        self._read = self._db.read
        self._write = self._db.write

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        *,
        read_only: bool = False,
        busy_timeout: float = 5.0,
    ) -> Ledger:
        """Open a ledger; the same as ``Ledger(path, ...)``.

        Args:
            path: the SQLite file, or `MEMORY`.
            read_only: look without writing.
            busy_timeout: seconds to wait for a lock before failing.

        Returns:
            The open ledger.

        Raises:
            LedgerError: as for the constructor.
        """
        return cls(path, read_only=read_only, busy_timeout=busy_timeout)

    @property
    def path(self) -> str:
        """The ledger's file (or `MEMORY`)."""
        return self._db.path

    @property
    def closed(self) -> bool:
        """Whether `close` has been called."""
        return self._db.closed

    def close(self) -> None:
        """Close the file and release the ownership lock; closing twice is harmless.

        Raises:
            LedgerError: called from another thread than the one that opened it.
        """
        self._db.close()

    def info(self) -> LedgerInfo:
        """The SQLite settings in effect (WAL, ``synchronous=FULL``...) and the version.

        Returns:
            The settings, read back from SQLite.

        Raises:
            LedgerError: the ledger is closed or cannot be read.
        """
        return self._db.info()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else "read-only" if self._db.read_only else "open"
        return f"Ledger({self.path!r}, {state})"

    # -- locations and initial counts -------------------------------------------------

    def define_location(
        self,
        device: str,
        location: str,
        *,
        kind: LocationKind | str,
        item: str,
        capacity: int | None = None,
    ) -> None:
        """Declare a unit, bin or position of a device; safe to repeat on every start.

        A location keeps its kind and item for good (its history depends on them); its
        capacity follows the latest definition (a bigger bin was fitted).

        Args:
            device: the device name.
            location: the location's name within the device.
            kind: what the location is.
            item: the kind of item it holds, or `ANY_ITEM`.
            capacity: how many items fit; ``None`` when unbounded or unknown.

        Raises:
            InvalidData: a bad argument, or the location exists with another kind or item.
            LedgerError: the journal cannot be written.
        """
        for what, value in (("device", device), ("location", location), ("item", item)):
            name(what, value)
        try:
            kind = LocationKind(kind)
        except ValueError:
            known = ", ".join(k.value for k in LocationKind)
            raise InvalidData(f"location kind must be one of {known}, got {kind!r}") from None
        if capacity is not None:
            positive("capacity", capacity, zero=True)
        with self._write(f"define location {device}/{location}") as conn:
            found = queries.location(conn, device, location)
            if found is None:
                queries.insert_location(conn, Location(device, location, kind, item, capacity))
            elif (found.kind, found.item) != (kind, item):
                raise InvalidData(
                    f"location {device}/{location} is a {found.kind} of {found.item!r}; "
                    f"cannot redefine it as a {kind} of {item!r}"
                )
            elif found.capacity != capacity:
                queries.update_capacity(conn, device, location, capacity)

    def devices(self) -> list[str]:
        """The devices the ledger has locations for, by name.

        Every movement and count refers to a defined location, so these are all the
        devices the journal mentions.

        Returns:
            The device names.

        Raises:
            LedgerError: the journal cannot be read.
        """
        with self._read("list devices") as conn:
            return queries.devices(conn)

    def locations(self, device: str) -> list[Location]:
        """The locations defined for a device, by name.

        Args:
            device: the device name.

        Returns:
            Its locations.

        Raises:
            LedgerError: the journal cannot be read.
        """
        with self._read(f"list locations of {device}") as conn:
            return queries.locations(conn, device)

    def set_initial(self, device: str, location: str, count: int, *, reason: str = "") -> None:
        """Append a counted number of items for a location (replenished, emptied, recounted).

        The location's counters restart from ``count``, its unknown items included:
        a physical count resolves them.

        Args:
            device: the device name.
            location: a counted location of the device.
            count: how many items it holds now.
            reason: why (``retain bin emptied by operator 42``).

        Raises:
            InvalidData: unknown or uncounted location, or a bad or too large count.
            SequenceError: a movement of the location is still pending.
            LedgerError: the journal cannot be written.
        """
        name("device", device)
        name("location", location)
        positive("count", count, zero=True)
        text("reason", reason)
        with self._write(f"set initial count of {device}/{location}") as conn:
            found = queries.location(conn, device, location)
            if found is None:
                raise InvalidData(f"no location {device}/{location} in the ledger")
            if not found.kind.counted:
                raise InvalidData(f"location {device}/{location} ({found.kind}) has no count")
            if found.capacity is not None and count > found.capacity:
                raise InvalidData(
                    f"count {count} exceeds the capacity {found.capacity} of {device}/{location}"
                )
            if queries.has_pending(conn, device, location):
                raise SequenceError(
                    f"cannot set the count of {device}/{location} while a movement of it is "
                    "pending; settle or reconcile first"
                )
            queries.insert_initial(conn, device, location, count, reason, now())

    # -- movements --------------------------------------------------------------------

    def journal(
        self,
        device: str,
        *,
        source: str,
        destination: str,
        item: str,
        count: int,
        command_id: int | None = None,
        reason: str = "",
    ) -> Movement:
        """Journal a movement as pending, durably, before the device acts.

        Args:
            device: the device that will move the items.
            source: the location the items leave.
            destination: the location they go to.
            item: the kind of item; must match what both locations hold.
            count: how many items are asked for.
            command_id: the command that causes the movement.
            reason: why, in a few words.

        Returns:
            The pending movement, committed and fsynced.

        Raises:
            InvalidData: a bad count, an unknown location, or an item a location does
                not hold.
            LedgerError: the journal cannot be written: the device must not act.
        """
        positive("count", count)
        if command_id is not None:
            positive("command_id", command_id, zero=True)
        for what, value in (
            ("device", device),
            ("source", source),
            ("destination", destination),
            ("item", item),
        ):
            name(what, value)
        text("reason", reason)
        if source == destination:
            raise InvalidData(f"a movement needs two locations, got {source!r} twice")
        with self._write(f"journal a movement on {device}") as conn:
            for end in (source, destination):
                found = queries.location(conn, device, end)
                if found is None:
                    known = ", ".join(loc.name for loc in queries.locations(conn, device))
                    raise InvalidData(
                        f"no location {end!r} on {device} in the ledger (known: {known or '-'})"
                    )
                if found.item not in (ANY_ITEM, item):
                    raise InvalidData(f"{device}/{end} holds {found.item!r}, not {item!r}")
            movement = Movement(
                id=0,  # given by SQLite on insert
                device=device,
                source=source,
                destination=destination,
                item=item,
                count=count,
                command_id=command_id,
                reason=reason,
                journalled_at=now(),
            )
            movement = queries.insert_movement(conn, movement)
        return movement

    def settle(
        self,
        movement_id: int,
        outcome: Outcome,
        *,
        moved: int | None = None,
        detail: str = "",
    ) -> Settlement:
        """Append the outcome of a pending movement, once.

        Args:
            movement_id: the movement's id.
            outcome: what the device reported.
            moved: for ``done``, how many items moved (default: all asked); for
                ``failed``, ``0`` or ``None``; for ``unknown``, ``None``.
            detail: what the device said.

        Returns:
            The settlement, committed and fsynced.

        Raises:
            InvalidData: no such movement, or ``moved`` does not fit the outcome.
            SequenceError: the movement is already settled.
            LedgerError: the journal cannot be written.
        """
        try:
            outcome = Outcome(outcome)
        except ValueError:
            raise InvalidData(f"outcome must be done, failed or unknown, got {outcome!r}") from None
        positive("movement_id", movement_id)
        text("detail", detail)
        with self._write(f"settle movement {movement_id}") as conn:
            record = queries.record(conn, movement_id)
            if record is None:
                raise InvalidData(f"no movement {movement_id} in the ledger")
            if record.settlement is not None:
                raise SequenceError(
                    f"movement {movement_id} is already settled "
                    f"({record.settlement.outcome}, moved {record.settlement.moved})"
                )
            moved = moved_for(outcome, moved, record.movement.count)
            settlement = Settlement(
                id=0,  # given by SQLite on insert
                movement_id=movement_id,
                outcome=outcome,
                moved=moved,
                detail=detail,
                settled_at=now(),
            )
            settlement = queries.insert_settlement(conn, settlement)
        return settlement

    def reconcile(self, device: str, resolve: Callable[[Movement], Resolution]) -> list[Settlement]:
        """Settle every pending movement of a device from what the device reports now.

        Call on start, before the device acts. ``resolve`` looks at the device (is the
        card still in the transport? how many notes are in the stacker?) and answers
        ``FAILED`` when nothing moved, ``DONE`` or ``(DONE, moved)`` when items moved, and
        ``UNKNOWN`` when it cannot tell. Each settlement is committed on its own, so an
        exception from ``resolve`` leaves the rest pending for the next try.

        Args:
            device: the device name.
            resolve: the device's answer for one movement.

        Returns:
            The settlements appended, oldest movement first (empty when none was pending).

        Raises:
            InvalidData: ``resolve`` answered a count that does not fit the movement.
            LedgerError: the journal cannot be read or written.
        """
        settled: list[Settlement] = []
        for movement in self.pending(device):
            answer = resolve(movement)
            outcome, moved = answer if isinstance(answer, tuple) else (answer, None)
            settled.append(
                self.settle(
                    movement.id, outcome, moved=moved, detail="reconciled from the device report"
                )
            )
        return settled

    # -- derived views ----------------------------------------------------------------

    def pending(self, device: str | None = None) -> list[Movement]:
        """The movements journalled but not settled, oldest first.

        Args:
            device: only this device's; all devices' when ``None``.

        Returns:
            The pending movements.

        Raises:
            LedgerError: the journal cannot be read.
        """
        with self._read("list pending movements") as conn:
            return queries.pending(conn, device)

    def counters(self, device: str) -> list[Counters]:
        """The derived counters of each counted location of a device, by name.

        Args:
            device: the device name.

        Returns:
            One `Counters` per location, ``customer`` locations left out.

        Raises:
            LedgerError: the journal cannot be read.
        """
        with self._read(f"count {device}") as conn:
            return queries.counters(conn, device)

    def counts(self, device: str) -> dict[str, int]:
        """The derived count of each counted location: ``initial + in - out``.

        Args:
            device: the device name.

        Returns:
            Location name to count; movements settled ``unknown`` are not in it.

        Raises:
            LedgerError: the journal cannot be read.
        """
        return {c.location.name: c.count for c in self.counters(device)}

    def unknown(self, device: str) -> list[Movement]:
        """Movements settled ``unknown`` that no later count has resolved, oldest first.

        A movement stays here until each of its counted locations has had `set_initial`
        after it: only a physical count tells where its items went.

        Args:
            device: the device name.

        Returns:
            The unresolved unknown movements.

        Raises:
            LedgerError: the journal cannot be read.
        """
        with self._read(f"list unknown movements of {device}") as conn:
            return queries.unknown(conn, device)

    def history(self, device: str, limit: int = 100) -> list[MovementRecord]:
        """The latest movements of a device with their settlements, newest first.

        Args:
            device: the device name.
            limit: how many movements at most.

        Returns:
            The movements and their outcomes (``None`` while pending).

        Raises:
            InvalidData: ``limit`` is not a positive int.
            LedgerError: the journal cannot be read.
        """
        positive("limit", limit)
        with self._read(f"read the history of {device}") as conn:
            return queries.history(conn, device, limit)

    def touching(
        self, device: str, locations: Sequence[str], after: int = 0
    ) -> list[MovementRecord]:
        """The movements of a device into or out of any of ``locations``, newest first.

        What a position's content needs (`hal.devices.cash_books.items_at` looks at
        nothing else): the movements of the device's other locations are not read.

        Args:
            device: the device name.
            locations: the location names.
            after: only movements with an id above this (``0``: all).

        Returns:
            The movements and their outcomes (``None`` while pending).

        Raises:
            InvalidData: ``after`` is negative.
            LedgerError: the journal cannot be read.
        """
        if isinstance(after, bool) or not isinstance(after, int) or after < 0:
            raise InvalidData(f"after must be a non-negative int, got {after!r}")
        names = tuple(locations)
        with self._read(f"read the movements of {device} at {', '.join(names)}") as conn:
            return queries.touching(conn, device, names, after)

    def check_invariants(self, device: str) -> list[Violation]:
        """Check every counted location: count not below zero, capacity not exceeded.

        Args:
            device: the device name.

        Returns:
            The violations found; empty when the device's books are sound.

        Raises:
            LedgerError: the journal cannot be read.
        """
        violations: list[Violation] = []
        for counters in self.counters(device):
            loc = counters.location
            if counters.count < 0:
                violations.append(Violation(device, loc.name, "negative", counters.count, None))
            elif loc.capacity is not None and counters.count > loc.capacity:
                violations.append(
                    Violation(device, loc.name, "over_capacity", counters.count, loc.capacity)
                )
        return violations
