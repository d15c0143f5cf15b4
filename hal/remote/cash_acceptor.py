"""`RemoteCashAcceptor`: a `CashAcceptor` served by another process, over ZeroMQ.

Every method is one command on the server's cash acceptor (its service keeps the
queue, the timeouts, the validation, the cash-in transaction, the events and the
ledger, where the notes are). The results are the same typed values as in-process
and the errors the same `HalError` classes (`CashInActive`, `NoCashInActive`,
`TooManyItems`, `MediaJam`, `CashUnitError`...), with the server's description.

An amount limit travels as ``{minor, currency}`` integers: it is made a `Money` here,
before anything is sent, so a float is the same `TypeError` as in-process and never
reaches the wire. Cancelling a `cash_in` (or its timeout) cancels the command on the
server: the device stops taking notes, the notes already in the escrow are journalled
and stay in the transaction (``SubCashIn`` says which), then `asyncio.CancelledError`
(or `HalTimeout`) is raised here.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import ClassVar

from hal.devices.cash_acceptor import (
    CashAcceptor,
    CashAcceptorCapabilities,
    CashAcceptorStatus,
    CashInEnded,
    CashInResult,
    CashInStatus,
    NoteType,
)
from hal.money import Money
from hal.remote.cash_storage import RemoteCashStorage, as_money, whole
from hal.remote.interfaces import Empty, InterfaceSpec
from hal.remote.interfaces_cash_in import (
    CASH_ACCEPTOR,
    CashInStartPayload,
    ConfigureNoteTypesPayload,
)
from hal.remote.security import CurveClientKeys

__all__ = ["RemoteCashAcceptor"]


class RemoteCashAcceptor(
    RemoteCashStorage[CashAcceptorStatus, CashAcceptorCapabilities], CashAcceptor
):
    """A cash acceptor on a `hal.remote.server.RemoteServer`.

    Usually made by ``hal.open("zmq://HOST:PORT/cash_acceptor")``. Opening it joins (or
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

    spec: ClassVar[InterfaceSpec] = CASH_ACCEPTOR

    def __init__(
        self,
        endpoint: str,
        device: str = "cash_acceptor",
        *,
        timeout: float = 5.0,
        heartbeat: float | None = None,
        curve: CurveClientKeys | None = None,
    ) -> None:
        super().__init__(endpoint, device, timeout=timeout, heartbeat=heartbeat, curve=curve)

    async def note_types(self) -> tuple[NoteType, ...]:
        types: tuple[NoteType, ...] = await self._call("CashManagement.GetBankNoteTypes", Empty())
        return types

    async def configure_note_types(
        self, enabled: Iterable[str], *, timeout: float | None = None
    ) -> tuple[NoteType, ...]:
        if isinstance(enabled, str):
            raise TypeError("enabled is an iterable of note items, not one str")
        items = tuple(enabled)
        for item in items:
            if not isinstance(item, str):
                raise TypeError(f"a note item is a str (CNY:10000), got {item!r}")
        payload = ConfigureNoteTypesPayload(items)
        types: tuple[NoteType, ...] = await self._call(
            "CashAcceptor.ConfigureNoteTypes", payload, timeout
        )
        return types

    async def cash_in_start(
        self,
        *,
        max_items: int | None = None,
        max_amount: Money | Decimal | int | None = None,
        currency: str | None = None,
        use_recycle_units: bool = True,
        timeout: float | None = None,
    ) -> CashInStatus:
        amount = None if max_amount is None else as_money(max_amount, currency)
        if not isinstance(use_recycle_units, bool):
            raise TypeError(f"use_recycle_units must be a bool, got {use_recycle_units!r}")
        payload = CashInStartPayload(whole(max_items, "max_items"), amount, use_recycle_units)
        status: CashInStatus = await self._call("CashAcceptor.CashInStart", payload, timeout)
        return status

    async def cash_in(self, *, timeout: float | None = None) -> CashInResult:
        result: CashInResult = await self._call("CashAcceptor.CashIn", Empty(), timeout)
        return result

    async def cash_in_end(self, *, timeout: float | None = None) -> CashInEnded:
        ended: CashInEnded = await self._call("CashAcceptor.CashInEnd", Empty(), timeout)
        return ended

    async def cash_in_rollback(self, *, timeout: float | None = None) -> CashInEnded:
        ended: CashInEnded = await self._call("CashAcceptor.CashInRollback", Empty(), timeout)
        return ended

    async def get_cash_in_status(self, *, timeout: float | None = None) -> CashInStatus:
        status: CashInStatus = await self._call("CashAcceptor.GetCashInStatus", Empty(), timeout)
        return status
