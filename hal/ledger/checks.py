"""Checks of caller input shared by the ledger's methods: caller mistakes are `InvalidData`."""

from __future__ import annotations

from datetime import UTC, datetime

from hal.errors import InvalidData
from hal.ledger.model import Outcome

__all__ = ["moved_for", "name", "now", "positive", "text"]


def now() -> datetime:
    """The current time in UTC, as the journal stamps its rows."""
    return datetime.now(UTC)


def positive(what: str, value: object, *, zero: bool = False) -> int:
    """``value`` if it is an int above zero (or at least zero when ``zero``).

    Raises:
        InvalidData: it is not an int, or out of range.
    """
    # bool is an int in Python; a True count is a caller bug, not one item.
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidData(f"{what} must be an int, got {type(value).__name__}")
    if value < 0 or (value == 0 and not zero):
        floor = ">= 0" if zero else "> 0"
        raise InvalidData(f"{what} must be {floor}, got {value}")
    return value


def text(what: str, value: object) -> str:
    """``value`` if it is a str (it may be empty).

    Raises:
        InvalidData: it is not.
    """
    # Checked here: the STRICT table would refuse it too, but as a failed write that
    # puts the whole ledger out of service for a caller's typo.
    if not isinstance(value, str):
        raise InvalidData(f"{what} must be a str, got {type(value).__name__}")
    return value


def name(what: str, value: object) -> str:
    """``value`` if it is a non-empty str.

    Raises:
        InvalidData: it is not.
    """
    if not isinstance(value, str) or not value:
        raise InvalidData(f"{what} must be a non-empty str, got {value!r}")
    return value


def moved_for(outcome: Outcome, moved: int | None, count: int) -> int | None:
    """The ``moved`` value to store for an outcome, checked against the movement's count.

    Raises:
        InvalidData: ``moved`` does not fit the outcome or exceeds ``count``.
    """
    if outcome is Outcome.UNKNOWN:
        if moved is not None:
            raise InvalidData(f"an unknown outcome has no moved count, got {moved}")
        return None
    if outcome is Outcome.FAILED:
        if moved not in (None, 0):
            raise InvalidData(f"a failed movement moved nothing, got moved={moved}")
        return 0
    if moved is None:
        return count
    positive("moved", moved, zero=True)
    if moved > count:
        raise InvalidData(f"moved {moved} items of a movement of {count}")
    return moved
