"""What both cash views of ``tellerhal ledger`` share: the cash acceptor's position
names, the location kinds that are cash units, and notes as money and as text.

The cash-out view is `tellerhal.cli.ledger_cash`, the cash-in view
`tellerhal.cli.ledger_cash_in`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from hal.devices.cash_model import parse_note_item
from hal.errors import InvalidData
from hal.ledger import ANY_ITEM, LocationKind, Movement
from hal.money import Money

__all__ = [
    "CUSTOMER",
    "ESCROW",
    "EXIT",
    "TRANSPORT",
    "UNIT_KINDS",
    "by_token",
    "holds_text",
    "money_json",
    "note_value",
    "value_by_currency",
]

#: The cash acceptor's positions (as `hal.devices.cash_in_model` names them).
ESCROW = "escrow"
CUSTOMER = "customer"
EXIT = "exit"
TRANSPORT = "transport"

#: Location kinds that are cash units (counted in the unit table).
UNIT_KINDS = (LocationKind.CASSETTE, LocationKind.REJECT, LocationKind.RETAIN)


def note_value(item: str) -> Money | None:
    """The value of one note of ``item`` (``CNY:10000`` is 100.00 CNY); ``None`` for
    ``*`` or an item that is not a note."""
    try:
        currency, value = parse_note_item(item)
        return Money(value, currency)
    except (InvalidData, TypeError):
        return None


def money_json(money: Money | None) -> dict[str, Any] | None:
    """Money as ``{"minor": int, "currency": str}`` (never a float)."""
    return None if money is None else {"minor": money.minor, "currency": money.currency}


def value_by_currency(notes: Mapping[str, int]) -> list[Money]:
    """The face value of ``notes`` (by note item), by currency; unnamed notes left out."""
    by_currency: dict[str, Money] = {}
    for item, n in sorted(notes.items()):
        note = note_value(item)
        if note is None:
            continue
        total = by_currency.get(note.currency)
        by_currency[note.currency] = note * n if total is None else total + note * n
    return list(by_currency.values())


def holds_text(holds: Mapping[str, int], text: Any) -> str:
    """What a location holds, by note, as report text (``text`` escapes)."""
    if not holds:
        return "-"
    parts = []
    for item, n in holds.items():
        note = note_value(item)
        parts.append(f"{n} x {'unnamed' if item == ANY_ITEM else note or text(item)}")
    return ", ".join(parts)


def by_token(movements: Iterable[Movement]) -> dict[int | None, list[Movement]]:
    """``movements`` grouped by their token (``command_id``), in order."""
    groups: dict[int | None, list[Movement]] = {}
    for movement in movements:
        groups.setdefault(movement.command_id, []).append(movement)
    return groups
