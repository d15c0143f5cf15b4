"""The durable ledger: an append-only journal of the items devices move.

Money and media are never lost: every movement of a card or a note is journalled before
the device acts and settled after it answers; counts are derived from the journal; on
start, what a crash left pending is reconciled with the device's own report, and what
cannot be known is reported as unknown, never guessed. If the journal cannot be
written, nothing moves. See ``docs/ledger.md``.
"""

from hal.ledger.database import MEMORY
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
from hal.ledger.schema import SCHEMA_VERSION
from hal.ledger.store import Ledger

__all__ = [
    "ANY_ITEM",
    "MEMORY",
    "SCHEMA_VERSION",
    "Counters",
    "Ledger",
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
