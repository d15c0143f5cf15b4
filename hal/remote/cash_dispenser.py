"""`RemoteCashDispenser`: a `CashDispenser` served by another process, over ZeroMQ.

Every method is one command on the server's cash dispenser (its service keeps the
queue, the timeouts, the validation, the events and the ledger, where the notes are).
The results are the same typed values as in-process and the errors the same
`HalError` classes (`NotDispensable`, `MediaJam`, `ItemsLeft`, `ExchangeActive`...),
with the server's description.

Amounts travel as ``{minor, currency}`` integers: an amount is made a `Money` here,
before anything is sent, so a float is the same `TypeError` as in-process and never
reaches the wire. Cancelling a call cancels the command on the server, which settles
with the device first (the notes already picked are journalled and reported in an
`IncompleteDispense` event), then raises `asyncio.CancelledError` here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import ClassVar

from hal.devices.cash_dispenser import (
    CashDispenser,
    CashDispenserCapabilities,
    CashDispenserStatus,
    CashUnit,
    Denomination,
    Dispensed,
    Mix,
    PresentStatus,
)
from hal.money import Money
from hal.remote.cash_storage import RemoteCashStorage, as_money
from hal.remote.interfaces import Empty, InterfaceSpec
from hal.remote.interfaces_cash import (
    CASH_DISPENSER,
    CountPayload,
    DenominatePayload,
    DispensePayload,
    mix_wire,
)
from hal.remote.security import CurveClientKeys

__all__ = ["RemoteCashDispenser"]


class RemoteCashDispenser(
    RemoteCashStorage[CashDispenserStatus, CashDispenserCapabilities], CashDispenser
):
    """A cash dispenser on a `hal.remote.server.RemoteServer`.

    Usually made by ``hal.open("zmq://HOST:PORT/cash_dispenser")``. Opening it joins (or
    starts) this event loop's session to the endpoint and opens the device there.

    Args:
        endpoint: the server's ZeroMQ endpoint (``tcp://127.0.0.1:5740``).
        device: the device's name on the server.
        timeout: seconds for the handshake and for each acknowledge.
        heartbeat: seconds between heartbeats (``None``: the server's interval).
        curve: CURVE keys if the server requires them.

    Raises:
        ConfigurationError: a bad endpoint or device name.
    """

    spec: ClassVar[InterfaceSpec] = CASH_DISPENSER

    def __init__(
        self,
        endpoint: str,
        device: str = "cash_dispenser",
        *,
        timeout: float = 5.0,
        heartbeat: float | None = None,
        curve: CurveClientKeys | None = None,
    ) -> None:
        super().__init__(endpoint, device, timeout=timeout, heartbeat=heartbeat, curve=curve)

    async def denominate(
        self,
        amount: Money | Decimal | int,
        currency: str | None = None,
        *,
        mix: Mix = "fewestNotes",
        timeout: float | None = None,
    ) -> Denomination:
        name, table = mix_wire(mix)
        payload = DenominatePayload(as_money(amount, currency), name, table)
        result: Denomination = await self._call("CashDispenser.Denominate", payload, timeout)
        return result

    async def dispense(
        self,
        what: Denomination | Money,
        *,
        mix: Mix = "fewestNotes",
        timeout: float | None = None,
    ) -> Dispensed:
        name, table = mix_wire(mix)
        if isinstance(what, Denomination):
            payload = DispensePayload(what, None, name, table)
        elif isinstance(what, Money):
            payload = DispensePayload(None, what, name, table)
        else:
            raise TypeError(f"dispense takes a Denomination or Money, not {type(what).__name__}")
        result: Dispensed = await self._call("CashDispenser.Dispense", payload, timeout)
        return result

    async def present(self, *, timeout: float | None = None) -> int:
        count: int = await self._call("CashDispenser.Present", Empty(), timeout)
        return count

    async def reject(self, *, timeout: float | None = None) -> int:
        count: int = await self._call("CashDispenser.Reject", Empty(), timeout)
        return count

    async def get_present_status(self, *, timeout: float | None = None) -> PresentStatus:
        status: PresentStatus = await self._call("CashDispenser.GetPresentStatus", Empty(), timeout)
        return status

    async def count(
        self, units: Iterable[str] | None = None, *, timeout: float | None = None
    ) -> Mapping[str, int]:
        if isinstance(units, str):
            raise TypeError("units is an iterable of unit ids, not one str")
        payload = CountPayload(None if units is None else tuple(units))
        counts: Mapping[str, int] = await self._call("CashDispenser.Count", payload, timeout)
        return counts

    async def test_cash_units(self, *, timeout: float | None = None) -> tuple[CashUnit, ...]:
        units: tuple[CashUnit, ...] = await self._call(
            "CashDispenser.TestCashUnits", Empty(), timeout
        )
        return units
