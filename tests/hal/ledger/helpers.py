"""Shared set-up for the ledger tests: a card reader's locations and small shortcuts."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from hal.ledger import Ledger, LocationKind, Movement, Outcome

CR = "card_reader"
"""The device every test journals for."""

RETAIN_CAPACITY = 5


def define_card_reader(ledger: Ledger) -> None:
    """The locations of a motorised card reader with a retain bin and an issuing bin."""
    ledger.define_location(CR, "customer", kind=LocationKind.CUSTOMER, item="card")
    ledger.define_location(CR, "transport", kind=LocationKind.POSITION, item="card", capacity=1)
    ledger.define_location(
        CR, "retain", kind=LocationKind.RETAIN, item="card", capacity=RETAIN_CAPACITY
    )
    ledger.define_location(CR, "dispense", kind=LocationKind.DISPENSE, item="card", capacity=100)


def insert_card(ledger: Ledger) -> Movement:
    """Journal and settle a card coming in from the customer."""
    movement = ledger.journal(CR, source="customer", destination="transport", item="card", count=1)
    ledger.settle(movement.id, Outcome.DONE)
    return movement


def retain(ledger: Ledger) -> Movement:
    """Journal (pending) the card in the transport going to the retain bin."""
    return ledger.journal(CR, source="transport", destination="retain", item="card", count=1)


def raw(path: Path) -> sqlite3.Connection:
    """A plain connection to a ledger file, as a bug or an intruder would open it."""
    return sqlite3.connect(path, isolation_level=None)
