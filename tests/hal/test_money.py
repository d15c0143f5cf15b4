"""Money: exact minor units, ISO 4217 exponents, floats refused, one currency at a time."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hal.errors import InvalidData
from hal.money import CURRENCY_EXPONENTS, Amount, CurrencyMismatch, Money, minor_exponent


def test_exponents_of_common_currencies() -> None:
    assert [minor_exponent(c) for c in ("CNY", "USD", "EUR", "GBP", "HKD", "JPY", "KWD")] == [
        2,
        2,
        2,
        2,
        2,
        0,
        3,
    ]


def test_of_decimal_and_int() -> None:
    assert Money.of(Decimal("12.34"), "CNY") == Money(1234, "CNY")
    assert Money.of(Decimal("12.3"), "USD").minor == 1230
    assert Money.of(100, "CNY").minor == 10000
    assert Money.of(500, "JPY").minor == 500
    assert Money.of(Decimal("1.234"), "KWD").minor == 1234
    assert Money.of(Decimal("-0.01"), "EUR").minor == -1


def test_amount_and_text() -> None:
    money = Money(1234, "CNY")
    assert money.amount == Decimal("12.34")
    assert str(money) == "12.34 CNY"
    assert str(Money(500, "JPY")) == "500 JPY"
    assert repr(money) == "Money.of(Decimal('12.34'), 'CNY')"
    assert Amount is Money


@pytest.mark.parametrize("bad", [12.34, 1.0, float("nan")])
def test_float_amounts_are_type_errors(bad: float) -> None:
    with pytest.raises(TypeError, match="float"):
        Money.of(bad, "CNY")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Money(bad, "CNY")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Money(100, "CNY") * bad


@pytest.mark.parametrize("bad", ["12.34", True, None])
def test_other_amount_types_are_type_errors(bad: object) -> None:
    with pytest.raises(TypeError):
        Money.of(bad, "CNY")  # type: ignore[arg-type]


def test_more_places_than_the_currency_is_refused_not_rounded() -> None:
    with pytest.raises(InvalidData, match="2 decimal places"):
        Money.of(Decimal("1.005"), "CNY")
    with pytest.raises(InvalidData, match="0 decimal places"):
        Money.of(Decimal("1.5"), "JPY")
    with pytest.raises(InvalidData, match="finite"):
        Money.of(Decimal("Infinity"), "USD")
    assert Money.of(Decimal("1.500"), "USD").minor == 150  # trailing zeros are exact
    assert Money.of(Decimal("1E+3"), "USD").minor == 100000
    big = Decimal("123456789012345678901234567890.12")  # more digits than the context
    assert Money.of(big, "CNY").minor == 12345678901234567890123456789012
    assert Money.of(big, "CNY").amount == big
    with pytest.raises(InvalidData):
        Money.of(Decimal("123456789012345678901234567890.125"), "CNY")


@pytest.mark.parametrize("code", ["XYZ", "usd", "US", "USDD", "ＵＳＤ"])
def test_unknown_or_malformed_currency_is_refused(code: str) -> None:
    with pytest.raises(InvalidData, match="currency"):
        Money(1, code)
    with pytest.raises(InvalidData):
        Money.of(1, code)


def test_currency_must_be_a_string() -> None:
    with pytest.raises(TypeError):
        Money(1, 840)  # type: ignore[arg-type]


def test_arithmetic_within_one_currency() -> None:
    a, b = Money(1000, "USD"), Money(250, "USD")
    assert a + b == Money(1250, "USD")
    assert a - b == Money(750, "USD")
    assert b * 3 == Money(750, "USD") == 3 * b
    assert -b == Money(-250, "USD")
    assert b < a <= a
    assert a > b >= b
    assert not Money(0, "USD")
    assert a


def test_mixing_currencies_is_refused() -> None:
    usd, eur = Money(100, "USD"), Money(100, "EUR")
    with pytest.raises(CurrencyMismatch, match="USD and EUR"):
        usd + eur
    with pytest.raises(CurrencyMismatch):
        usd - eur
    with pytest.raises(CurrencyMismatch):
        assert usd < eur
    with pytest.raises(TypeError):
        usd + 1
    assert usd != eur
    assert isinstance(CurrencyMismatch("x"), InvalidData)


def test_hashable_and_frozen() -> None:
    assert len({Money(1, "USD"), Money(1, "USD"), Money(1, "EUR")}) == 2
    with pytest.raises(AttributeError):
        Money(1, "USD").minor = 2  # type: ignore[misc]


@given(
    minor=st.integers(min_value=-(10**40), max_value=10**40),
    currency=st.sampled_from(sorted(CURRENCY_EXPONENTS)),
)
def test_decimal_round_trip(minor: int, currency: str) -> None:
    money = Money(minor, currency)
    assert Money.of(money.amount, currency) == money
    assert Money.of(Decimal(str(money).split()[0]), currency) == money


@given(
    a=st.integers(min_value=-(10**12), max_value=10**12),
    b=st.integers(min_value=-(10**12), max_value=10**12),
)
def test_arithmetic_matches_integers(a: int, b: int) -> None:
    x, y = Money(a, "CNY"), Money(b, "CNY")
    assert (x + y).minor == a + b
    assert (x - y).minor == a - b
    assert (x < y) == (a < b)
    assert (x + y).amount == x.amount + y.amount
