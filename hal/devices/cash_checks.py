"""Argument checks of the cash dispenser service: amounts, denominations, thresholds.

Pure: each takes the units fitted (and the ledger's counts where a check needs them)
and either returns the checked value or raises the error XFS4IoT names for it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal

from hal.devices.cash_model import CashUnitInfo, Denomination
from hal.errors import InvalidCurrency, InvalidData, TooManyItems
from hal.money import Money

__all__ = ["check_denomination", "check_thresholds", "to_money"]


def to_money(amount: object, currency: str | None, units: Iterable[CashUnitInfo]) -> Money:
    """An amount as `Money`: `Money` as is, a `Decimal` of major units or an ``int`` of
    minor units with ``currency``.

    Raises:
        TypeError: a float, a bool or anything else.
        InvalidData: no currency for a bare number, a currency that contradicts the
            `Money`'s, a code not in ISO 4217, an amount not above zero.
        InvalidCurrency: no dispensing unit holds notes of that currency.
    """
    if isinstance(amount, Money):
        if currency is not None and currency != amount.currency:
            raise InvalidData(
                f"the amount is in {amount.currency} but currency {currency!r} was given"
            )
        money = amount
    elif isinstance(amount, bool) or not isinstance(amount, Decimal | int):
        raise TypeError(
            "amount must be Money, a Decimal of major units or an int of minor units "
            f"(never float), got {type(amount).__name__}"
        )
    elif currency is None:
        raise InvalidData(f"amount {amount} needs a currency (an ISO 4217 code)")
    elif isinstance(amount, int):
        money = Money(amount, currency)
    else:
        money = Money.of(amount, currency)
    if money.minor <= 0:
        raise InvalidData(f"the amount must be above zero, got {money}")
    held = sorted({u.currency for u in units if u.type.dispenses and u.currency})
    if money.currency not in held:
        raise InvalidCurrency(
            f"no cash unit dispenses {money.currency}; the units hold {', '.join(held) or '-'}"
        )
    return money


def check_denomination(
    what: Denomination,
    units: Mapping[str, CashUnitInfo],
    max_items: int,
) -> Mapping[str, int]:
    """The notes per unit of a `Denomination` the app built, checked.

    Returns:
        ``{unit id: notes}`` without the zero counts.

    Raises:
        InvalidData: a unit that is unknown or does not dispense, no notes at all,
            counts whose value is not the denomination's amount.
        InvalidCurrency: a unit of another currency than the amount.
        TooManyItems: more notes than one dispense (or a unit's per-dispense limit)
            allows.
    """
    counts = {u: n for u, n in what.counts.items() if n}
    if not counts:
        raise InvalidData("the denomination has no notes")
    total = 0
    for uid, n in counts.items():
        info = units.get(uid)
        if info is None:
            raise InvalidData(f"the denomination names unit {uid!r}, which is not fitted")
        if not info.type.dispenses:
            raise InvalidData(f"unit {uid} is a {info.type} unit: it dispenses no notes")
        if info.currency != what.amount.currency:
            raise InvalidCurrency(
                f"unit {uid} holds {info.currency}, the denomination is in {what.amount.currency}"
            )
        if info.max_per_dispense is not None and n > info.max_per_dispense:
            raise TooManyItems(
                f"unit {uid} gives at most {info.max_per_dispense} notes a dispense; {n} asked"
            )
        total += n * info.value
    if total != what.amount.minor:
        raise InvalidData(
            f"the denomination's notes make {Money(total, what.amount.currency)}, "
            f"not its amount {what.amount}"
        )
    notes = sum(counts.values())
    if notes > max_items:
        raise TooManyItems(f"{notes} notes asked; one dispense holds at most {max_items}")
    return counts


def check_thresholds(thresholds: object, unit: str) -> tuple[int | None, int | None]:
    """A ``(low, high)`` pair of counts >= 0 or ``None``, low not above high.

    Raises:
        TypeError: not a pair, or a count that is not an ``int``.
        InvalidData: a negative count, or low above high.
    """
    if not isinstance(thresholds, tuple) or len(thresholds) != 2:
        raise TypeError(f"thresholds of {unit} must be a (low, high) pair, got {thresholds!r}")
    for value in thresholds:
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"a threshold of {unit} must be an int or None, got {value!r}")
        if value < 0:
            raise InvalidData(f"a threshold of {unit} must be >= 0, got {value}")
    low, high = thresholds
    if low is not None and high is not None and low > high:
        raise InvalidData(f"unit {unit}: the low threshold {low} is above the high one {high}")
    return (low, high)
