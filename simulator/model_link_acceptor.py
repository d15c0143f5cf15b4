"""`LinkAcceptorBackend`: a `CashAcceptorBackend` that forwards every call to a cash
acceptor model served by ``python -m simulator.model_link --device cash_acceptor``
(the address ``simlink://127.0.0.1:PORT/cash_acceptor[?ledger=FILE...]`` opens a
`CashAcceptorService` over it). The link's behaviour (heartbeat, lost calls, a
cancelled moving call that still answers what moved, fenced tokens) is the dispenser's:
see `simulator.model_link_client`.
"""

from __future__ import annotations

from hal.devices.cash_dispenser import (
    MoveReport,
    RetractArea,
    UnitSensor,
)
from hal.devices.cash_in_model import (
    CashAcceptorCapabilities,
    CashAcceptorStatus,
    CashInContents,
    CashInLimits,
    CashInReport,
    NoteType,
)
from simulator.model_link_client import LinkBackendBase

__all__ = ["LinkAcceptorBackend"]


class LinkAcceptorBackend(LinkBackendBase):
    """A `CashAcceptorBackend` over the model link (arguments: `LinkBackendBase`'s)."""

    device = "cash_acceptor"

    def capabilities(self) -> CashAcceptorCapabilities:
        capabilities: CashAcceptorCapabilities = self._hello("capabilities")
        return capabilities

    def note_types(self) -> tuple[NoteType, ...]:
        types: tuple[NoteType, ...] = self._hello("note_types")
        return types

    async def configure(self, enabled: frozenset[str]) -> None:
        await self._op("configure", frozenset(enabled))

    async def get_status(self) -> CashAcceptorStatus:
        status: CashAcceptorStatus = await self._op("get_status")
        return status

    async def sensors(self) -> tuple[UnitSensor, ...]:
        sensors: tuple[UnitSensor, ...] = await self._op("sensors")
        return sensors

    async def cash_in(self, limits: CashInLimits, token: int) -> CashInReport:
        report: CashInReport = await self._op("cash_in", limits, token)
        return report

    async def cash_in_end(self, use_recycle_units: bool, token: int) -> MoveReport:
        report: MoveReport = await self._op("cash_in_end", use_recycle_units, token)
        return report

    async def rollback(self, token: int) -> MoveReport:
        report: MoveReport = await self._op("rollback", token)
        return report

    async def retract(self, area: RetractArea, token: int) -> MoveReport:
        report: MoveReport = await self._op("retract", area, token)
        return report

    async def contents(self) -> CashInContents:
        contents: CashInContents = await self._op("contents")
        return contents
