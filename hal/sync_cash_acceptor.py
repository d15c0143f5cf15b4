"""`SyncCashAcceptor`: a `CashAcceptor` for threads (see `hal.sync`)."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

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
from hal.sync_base import SyncDevice
from hal.sync_cash_storage import SyncCashStorage

__all__ = ["SyncCashAcceptor"]


class SyncCashAcceptor(SyncCashStorage, SyncDevice[CashAcceptorStatus, CashAcceptorCapabilities]):
    """A `CashAcceptor` for threads; each method forwards to the async one.

    A ``KeyboardInterrupt`` during `cash_in` cancels it: the device stops taking
    notes, the notes already in the escrow stay in the open transaction.
    """

    _device: CashAcceptor

    def __init__(self, device: CashAcceptor) -> None:
        super().__init__(device)

    def note_types(self) -> tuple[NoteType, ...]:
        """See `CashAcceptor.note_types`."""
        return self._call(self._device.note_types)

    def configure_note_types(
        self, enabled: Iterable[str], *, timeout: float | None = None
    ) -> tuple[NoteType, ...]:
        """See `CashAcceptor.configure_note_types`."""
        return self._call(self._device.configure_note_types, enabled, timeout=timeout)

    def cash_in_start(
        self,
        *,
        max_items: int | None = None,
        max_amount: Money | Decimal | int | None = None,
        currency: str | None = None,
        use_recycle_units: bool = True,
        timeout: float | None = None,
    ) -> CashInStatus:
        """See `CashAcceptor.cash_in_start`."""
        return self._call(
            self._device.cash_in_start,
            max_items=max_items,
            max_amount=max_amount,
            currency=currency,
            use_recycle_units=use_recycle_units,
            timeout=timeout,
        )

    def cash_in(self, *, timeout: float | None = None) -> CashInResult:
        """See `CashAcceptor.cash_in`."""
        return self._call(self._device.cash_in, timeout=timeout)

    def cash_in_end(self, *, timeout: float | None = None) -> CashInEnded:
        """See `CashAcceptor.cash_in_end`."""
        return self._call(self._device.cash_in_end, timeout=timeout)

    def cash_in_rollback(self, *, timeout: float | None = None) -> CashInEnded:
        """See `CashAcceptor.cash_in_rollback`."""
        return self._call(self._device.cash_in_rollback, timeout=timeout)

    def get_cash_in_status(self, *, timeout: float | None = None) -> CashInStatus:
        """See `CashAcceptor.get_cash_in_status`."""
        return self._call(self._device.get_cash_in_status, timeout=timeout)
