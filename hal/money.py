"""Money: an exact amount in one ISO 4217 currency.

DESIGN.md: money is ``decimal.Decimal`` or integer minor units with an ISO 4217 currency;
a float amount is a ``TypeError``. `Money` keeps the amount as an ``int`` count of minor
units (fen, cents, yen) together with the currency code, whose minor-unit exponent comes
from the table below (``CNY`` 2, ``JPY`` 0, ``KWD`` 3...). An unknown code is refused
with `InvalidData` rather than guessed.

Arithmetic (``+``, ``-``, ``*`` by an ``int``) and ordering work only within one currency;
mixing currencies raises `CurrencyMismatch`. Two amounts in different currencies are
simply unequal.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Final

from hal.errors import InvalidData

__all__ = ["CURRENCY_EXPONENTS", "Amount", "CurrencyMismatch", "Money", "minor_exponent"]

# ISO 4217 minor-unit exponents of the currencies a teller machine is likely to hold.
CURRENCY_EXPONENTS: Final[dict[str, int]] = {
    "AUD": 2,
    "BHD": 3,
    "CAD": 2,
    "CHF": 2,
    "CNY": 2,
    "CZK": 2,
    "DKK": 2,
    "EUR": 2,
    "GBP": 2,
    "HKD": 2,
    "HUF": 2,
    "IDR": 2,
    "INR": 2,
    "JOD": 3,
    "JPY": 0,
    "KRW": 0,
    "KWD": 3,
    "MOP": 2,
    "MXN": 2,
    "MYR": 2,
    "NOK": 2,
    "NZD": 2,
    "OMR": 3,
    "PHP": 2,
    "PLN": 2,
    "RUB": 2,
    "SEK": 2,
    "SGD": 2,
    "THB": 2,
    "TRY": 2,
    "TWD": 2,
    "USD": 2,
    "VND": 0,
    "ZAR": 2,
}


class CurrencyMismatch(InvalidData):
    """Arithmetic or ordering between amounts of two different currencies."""


def minor_exponent(currency: object) -> int:
    """The ISO 4217 minor-unit exponent of ``currency``; `InvalidData` if unknown."""
    if not isinstance(currency, str):
        raise TypeError(f"currency must be an ISO 4217 code (str), got {type(currency).__name__}")
    if len(currency) != 3 or not currency.isascii() or not currency.isupper():
        raise InvalidData(
            f"currency must be three capital ASCII letters (ISO 4217), got {currency!r}"
        )
    try:
        return CURRENCY_EXPONENTS[currency]
    except KeyError:
        raise InvalidData(
            f"unknown currency {currency!r}: expected one of {', '.join(CURRENCY_EXPONENTS)}"
        ) from None


def _check_int(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be an int, got {type(value).__name__}")
    return value


@dataclass(frozen=True, slots=True)
class Money:
    """An exact amount: ``minor`` units of ``currency`` (``Money(1234, "CNY")`` is 12.34 CNY).

    Build from major units with `Money.of` (``Decimal`` or ``int``); a ``float`` anywhere
    raises ``TypeError``.
    """

    minor: int
    currency: str

    def __post_init__(self) -> None:
        _check_int(self.minor, "minor units")
        minor_exponent(self.currency)

    @classmethod
    def of(cls, amount: Decimal | int, currency: str) -> Money:
        """``amount`` in major units (``Decimal("12.34")`` or ``12``) of ``currency``.

        More decimal places than the currency has (``Decimal("1.005")`` CNY) is
        `InvalidData`; it is never rounded.
        """
        exponent = minor_exponent(currency)
        if isinstance(amount, bool) or not isinstance(amount, Decimal | int):
            raise TypeError(
                f"amount must be Decimal or int (never float), got {type(amount).__name__}"
            )
        if isinstance(amount, int):
            return cls(amount * 10**exponent, currency)
        if not amount.is_finite():
            raise InvalidData(f"amount must be finite, got {amount}")
        # Exact integer arithmetic: Decimal.scaleb would round to the context precision.
        sign, digits, places = amount.as_tuple()
        assert isinstance(places, int)  # finite
        whole = int("".join(map(str, digits)) or "0")
        shift = places + exponent
        if shift >= 0:
            minor = whole * 10**shift
        else:
            minor, dropped = divmod(whole, 10**-shift)
            if dropped:
                raise InvalidData(
                    f"{currency} has {exponent} decimal places; {amount} has more (not rounded)"
                )
        return cls(-minor if sign else minor, currency)

    @property
    def exponent(self) -> int:
        """Decimal places of the currency."""
        return CURRENCY_EXPONENTS[self.currency]

    @property
    def amount(self) -> Decimal:
        """The amount in major units, exact (``Decimal("12.34")``)."""
        return Decimal(f"{self.minor}e-{self.exponent}")  # exact, whatever the context

    def _same(self, other: object, op: str) -> Money:
        if not isinstance(other, Money):
            raise TypeError(f"cannot {op} Money and {type(other).__name__}")
        if other.currency != self.currency:
            raise CurrencyMismatch(f"cannot {op} {self.currency} and {other.currency}")
        return other

    def __add__(self, other: object) -> Money:
        return Money(self.minor + self._same(other, "add").minor, self.currency)

    def __sub__(self, other: object) -> Money:
        return Money(self.minor - self._same(other, "subtract").minor, self.currency)

    def __mul__(self, factor: object) -> Money:
        return Money(self.minor * _check_int(factor, "a Money factor"), self.currency)

    __rmul__ = __mul__

    def __neg__(self) -> Money:
        return Money(-self.minor, self.currency)

    def __lt__(self, other: object) -> bool:
        return self.minor < self._same(other, "compare").minor

    def __le__(self, other: object) -> bool:
        return self.minor <= self._same(other, "compare").minor

    def __gt__(self, other: object) -> bool:
        return self.minor > self._same(other, "compare").minor

    def __ge__(self, other: object) -> bool:
        return self.minor >= self._same(other, "compare").minor

    def __bool__(self) -> bool:
        return self.minor != 0

    def __str__(self) -> str:
        return f"{self.amount:f} {self.currency}"

    def __repr__(self) -> str:
        return f"Money.of(Decimal('{self.amount:f}'), {self.currency!r})"


Amount = Money
"""The same type under the name XFS4IoT uses in its payloads."""
