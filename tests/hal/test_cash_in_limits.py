"""`CashInLimits.refusal` (the one rule the ID-003 and SSP drivers and the simulated
acceptor apply to each note) and `parse_note_item`, `note_item`'s inverse."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hal.devices.cash_in_model import CashInLimits, RefuseReason
from hal.devices.cash_model import note_item, parse_note_item
from hal.errors import InvalidData
from hal.money import Money

Y10, Y20, Y100 = "CNY:1000", "CNY:2000", "CNY:10000"
ENABLED = frozenset({Y10, Y20, Y100, "EUR:500"})


def test_a_note_not_recognised_or_not_enabled_is_an_invalid_bill() -> None:
    limits = CashInLimits(5, frozenset({Y10}))
    assert limits.refusal(None) is RefuseReason.INVALID_BILL
    assert limits.refusal(Y20) is RefuseReason.INVALID_BILL
    assert limits.refusal(Y10) is None
    # even when the item limit is reached too: the note is refused for what it is
    assert CashInLimits(0, frozenset({Y10})).refusal(Y20) is RefuseReason.INVALID_BILL


def test_the_item_limit_says_whose_it_is() -> None:
    room = CashInLimits(2, ENABLED)
    transaction = CashInLimits(2, ENABLED, items_limited=True)
    for limits in (room, transaction):
        assert limits.refusal(Y10, taken=1) is None
    assert room.refusal(Y10, taken=2) is RefuseReason.STACKER_FULL
    assert transaction.refusal(Y10, taken=2) is RefuseReason.LIMIT_OVER_TOTAL_ITEMS
    assert CashInLimits(0, ENABLED).refusal(Y10) is RefuseReason.STACKER_FULL


def test_the_amount_limit_counts_what_is_credited_in_its_currency() -> None:
    limits = CashInLimits(9, ENABLED, max_amount={"CNY": Money(3000, "CNY")})
    assert limits.refusal(Y20) is None
    assert limits.refusal(Y100) is RefuseReason.LIMIT_OVER_AMOUNT
    assert limits.refusal(Y10, 1, {"CNY": 2000}) is None  # exactly the limit
    assert limits.refusal(Y20, 1, {"CNY": 2000}) is RefuseReason.LIMIT_OVER_AMOUNT
    assert limits.refusal(Y20, 1, {"EUR": 2000}) is None  # another currency's credit
    assert limits.refusal("EUR:500", 1, {"CNY": 3000}) is None  # no EUR limit
    # a note not credited (counterfeit, suspect) passes no amount limit
    assert limits.refusal(Y100, counts=False) is None


@given(st.from_regex(r"[A-Z]{3}", fullmatch=True), st.integers(0, 10**12))
def test_parse_note_item_inverts_note_item(currency: str, value: int) -> None:
    assert parse_note_item(note_item(currency, value)) == (currency, value)


@pytest.mark.parametrize(
    "item", ["*", "CNY", "CNY:", ":100", "CNY:-5", "CNY:1.5", "CNY:x", "CNY:\u00b2"]
)
def test_parse_note_item_refuses_what_is_no_note(item: str) -> None:
    with pytest.raises(InvalidData):
        parse_note_item(item)
