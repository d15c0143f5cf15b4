"""The values the ledger hands out: locations, movements, settlements, counters.

Everything here is a frozen dataclass or an enum built from journal rows; nothing in this
module touches SQLite. The vocabulary follows XFS4IoT's cash-unit accounting (``initial``,
``in``, ``out``, an ``unknown`` bucket that is never guessed into a unit), generalised to
any item a device moves: cards, notes, coins, documents.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Literal, TypeAlias

__all__ = [
    "ANY_ITEM",
    "Counters",
    "LedgerInfo",
    "Location",
    "LocationKind",
    "Movement",
    "MovementRecord",
    "Outcome",
    "Resolution",
    "Settlement",
    "Violation",
]

ANY_ITEM = "*"
"""The ``item`` of a location that holds items of any kind (a stacker, the customer)."""


class Outcome(StrEnum):
    """How a journalled movement ended, as the device reported it."""

    DONE = "done"
    """The device moved items: ``moved`` of them, possibly fewer than asked."""
    FAILED = "failed"
    """Nothing moved."""
    UNKNOWN = "unknown"
    """Nobody can tell what moved; the items are reported apart, never guessed."""


class LocationKind(StrEnum):
    """What a location is, in XFS4IoT terms where there is one."""

    CASSETTE = "cassette"
    """A cash unit that dispenses or takes notes (XFS4IoT ``cashOut``/``cashIn``)."""
    DISPENSE = "dispense"
    """A card dispense (issuing) bin."""
    RETAIN = "retain"
    """A bin that keeps cards or notes taken from the customer."""
    REJECT = "reject"
    """A unit that keeps rejected items."""
    POSITION = "position"
    """A place inside the device items pass through: transport, stacker, escrow, exit."""
    CUSTOMER = "customer"
    """The world outside the machine. It has no count: it is where items come from and go
    to, so it is left out of `Ledger.counts` and `Ledger.check_invariants`."""

    @property
    def counted(self) -> bool:
        """Whether the ledger keeps a count for locations of this kind."""
        return self is not LocationKind.CUSTOMER


@dataclass(frozen=True, slots=True)
class Location:
    """A unit, bin or position of one device that holds items.

    Attributes:
        device: the device name (``card_reader``, ``cash_dispenser``...).
        name: the location's name within the device (``retain``, ``transport``, ``unit1``).
        kind: what the location is.
        item: the kind of item it holds (``card``, ``EUR:20``), or `ANY_ITEM`.
        capacity: how many items it can hold; ``None`` when unbounded or unknown.
    """

    device: str
    name: str
    kind: LocationKind
    item: str
    capacity: int | None


@dataclass(frozen=True, slots=True)
class Movement:
    """A request to move items, journalled before the device acts.

    Attributes:
        id: the journal's id for the movement; settlements refer to it.
        device: the device that moves the items.
        source: the location the items leave.
        destination: the location the items go to.
        item: the kind of item moved.
        count: how many items were asked for.
        command_id: the id of the command that caused the movement, when there is one.
        reason: why, in a few words (``retain: card expired``).
        journalled_at: when the movement was journalled (UTC).
    """

    id: int
    device: str
    source: str
    destination: str
    item: str
    count: int
    command_id: int | None
    reason: str
    journalled_at: datetime


@dataclass(frozen=True, slots=True)
class Settlement:
    """The outcome of one movement, appended after the device answered.

    Attributes:
        id: the journal's id for the settlement; it orders settlements.
        movement_id: the movement settled.
        outcome: what happened.
        moved: how many items moved: ``0`` when failed, ``None`` when unknown.
        detail: what the device said (``retainBinFull``, ``3 of 5 notes picked``).
        settled_at: when the settlement was journalled (UTC).
    """

    id: int
    movement_id: int
    outcome: Outcome
    moved: int | None
    detail: str
    settled_at: datetime


@dataclass(frozen=True, slots=True)
class MovementRecord:
    """A movement with its settlement, as `Ledger.history` reports it.

    Attributes:
        movement: the journalled movement.
        settlement: its outcome, or ``None`` while the movement is pending.
    """

    movement: Movement
    settlement: Settlement | None

    @property
    def pending(self) -> bool:
        """Whether the movement still waits for its outcome."""
        return self.settlement is None


@dataclass(frozen=True, slots=True)
class Counters:
    """The counters of one location, derived from the journal (XFS4IoT ``initial/in/out``).

    Only movements settled after the latest initial count of the location take part.

    Attributes:
        location: the location counted.
        initial: the latest count set by `Ledger.set_initial` (``0`` if never set).
        moved_in: items that moved in (settled ``done``).
        moved_out: items that moved out (settled ``done``).
        unknown_in: items of movements into the location settled ``unknown``.
        unknown_out: items of movements out of the location settled ``unknown``.
    """

    location: Location
    initial: int
    moved_in: int
    moved_out: int
    unknown_in: int
    unknown_out: int

    @property
    def count(self) -> int:
        """The derived count: ``initial + moved_in - moved_out``, unknown items excluded."""
        return self.initial + self.moved_in - self.moved_out


@dataclass(frozen=True, slots=True)
class Violation:
    """A broken invariant of one location, found by `Ledger.check_invariants`.

    Attributes:
        device: the device.
        location: the location's name.
        rule: ``negative`` (count below zero) or ``over_capacity``.
        count: the derived count.
        capacity: the location's capacity, ``None`` when unbounded.
    """

    device: str
    location: str
    rule: Literal["negative", "over_capacity"]
    count: int
    capacity: int | None

    def __str__(self) -> str:
        if self.rule == "over_capacity":
            return (
                f"{self.device}/{self.location}: count {self.count} exceeds "
                f"capacity {self.capacity}"
            )
        return f"{self.device}/{self.location}: count {self.count} is below zero"


@dataclass(frozen=True, slots=True)
class LedgerInfo:
    """How a ledger file is opened, as SQLite reports it (for tools and tests).

    Attributes:
        path: the file, or ``:memory:``.
        schema_version: the file's ``user_version``.
        journal_mode: ``wal`` for a file (``memory`` in memory).
        synchronous: ``full`` when every commit is fsynced.
        foreign_keys: whether SQLite enforces the references between tables.
        busy_timeout_ms: how long a write waits for another connection's lock.
        read_only: whether writes are refused.
    """

    path: str
    schema_version: int
    journal_mode: str
    synchronous: str
    foreign_keys: bool
    busy_timeout_ms: int
    read_only: bool


Resolution: TypeAlias = Outcome | tuple[Outcome, int]
"""What a reconcile resolver answers: an outcome, or ``(Outcome.DONE, moved)``."""
