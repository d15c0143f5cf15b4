"""What the remote cash dispenser and cash acceptor share.

`as_money` and `whole` check an amount and a count on the client, before anything is
sent (a float is the same `TypeError` as in-process and never reaches the wire).
`RemoteCashStorage` is the ``Storage``/``CashManagement`` half both remote cash
devices carry the same way: the cash units, the exchange, retract and reset.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TypeVar

from hal.devices.cash_model import CashUnit, RetractArea
from hal.errors import InvalidData
from hal.money import Money
from hal.remote.interfaces import Empty
from hal.remote.interfaces_cash import RetractPayload, SetStoragePayload, Thresholds
from hal.remote.proxy import RemoteDevice

__all__ = ["RemoteCashStorage", "as_money", "whole"]

S = TypeVar("S")
C = TypeVar("C")


def as_money(amount: Money | Decimal | int, currency: str | None) -> Money:
    """``amount`` (with ``currency`` unless it is `Money`) as `Money`.

    Raises:
        TypeError: a float (or any other type) amount.
        InvalidData: no currency, a currency that differs from the `Money`'s, an
            unknown currency, or more decimal places than the currency has.
    """
    if isinstance(amount, Money):
        if currency is not None and currency != amount.currency:
            raise InvalidData(f"amount is in {amount.currency}, currency says {currency}")
        return amount
    if isinstance(amount, bool) or not isinstance(amount, (int, Decimal)):
        raise TypeError(
            f"an amount is Money, a Decimal of major units or an int of minor units, "
            f"not {type(amount).__name__}"
        )
    if currency is None:
        raise InvalidData("an amount that is not Money needs its currency")
    if isinstance(amount, Decimal):
        return Money.of(amount, currency)
    return Money(amount, currency)


def whole(value: int | None, what: str) -> int | None:
    """``value`` if it is an int or ``None``; `TypeError` otherwise (a float too)."""
    # The codec writes int(value): a float would be cut short silently, so refuse it here.
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise TypeError(f"{what} must be an int or None, got {value!r}")
    return value


class RemoteCashStorage(RemoteDevice[S, C]):
    """The cash units, the exchange, retract and reset of a remote cash device.

    Listed before the device's ABC in a subclass's bases, so these implement its
    abstract methods; each is one ``Storage``/``CashManagement`` command.
    """

    async def retract(
        self, area: RetractArea = RetractArea.RETRACT, *, timeout: float | None = None
    ) -> int:
        payload = RetractPayload(RetractArea(area))
        count: int = await self._call("CashManagement.Retract", payload, timeout)
        return count

    async def cash_units(self) -> tuple[CashUnit, ...]:
        units: tuple[CashUnit, ...] = await self._call("Storage.GetStorage", Empty())
        return units

    async def start_exchange(self, *, timeout: float | None = None) -> tuple[CashUnit, ...]:
        units: tuple[CashUnit, ...] = await self._call("Storage.StartExchange", Empty(), timeout)
        return units

    async def set_cash_unit(
        self,
        unit: str,
        *,
        initial: int | None = None,
        thresholds: tuple[int | None, int | None] | None = None,
        timeout: float | None = None,
    ) -> CashUnit:
        wire = None
        if thresholds is not None:
            low, high = thresholds
            wire = Thresholds(whole(low, "the low threshold"), whole(high, "the high threshold"))
        payload = SetStoragePayload(unit, whole(initial, "initial"), wire)
        result: CashUnit = await self._call("Storage.SetStorage", payload, timeout)
        return result

    async def end_exchange(self, *, timeout: float | None = None) -> tuple[CashUnit, ...]:
        units: tuple[CashUnit, ...] = await self._call("Storage.EndExchange", Empty(), timeout)
        return units

    async def reset(self, *, timeout: float | None = None) -> None:
        await self._call("CashManagement.Reset", Empty(), timeout)
