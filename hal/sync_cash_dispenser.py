"""`SyncCashDispenser`: a `CashDispenser` for threads (see `hal.sync`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal

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
from hal.sync_base import SyncDevice
from hal.sync_cash_storage import SyncCashStorage

__all__ = ["SyncCashDispenser"]


class SyncCashDispenser(
    SyncCashStorage, SyncDevice[CashDispenserStatus, CashDispenserCapabilities]
):
    """A `CashDispenser` for threads; each method forwards to the async one."""

    _device: CashDispenser

    def __init__(self, device: CashDispenser) -> None:
        super().__init__(device)

    def denominate(
        self,
        amount: Money | Decimal | int,
        currency: str | None = None,
        *,
        mix: Mix = "fewestNotes",
        timeout: float | None = None,
    ) -> Denomination:
        """See `CashDispenser.denominate`."""
        return self._call(self._device.denominate, amount, currency, mix=mix, timeout=timeout)

    def dispense(
        self,
        what: Denomination | Money,
        *,
        mix: Mix = "fewestNotes",
        timeout: float | None = None,
    ) -> Dispensed:
        """See `CashDispenser.dispense`."""
        return self._call(self._device.dispense, what, mix=mix, timeout=timeout)

    def present(self, *, timeout: float | None = None) -> int:
        """See `CashDispenser.present`."""
        return self._call(self._device.present, timeout=timeout)

    def reject(self, *, timeout: float | None = None) -> int:
        """See `CashDispenser.reject`."""
        return self._call(self._device.reject, timeout=timeout)

    def get_present_status(self, *, timeout: float | None = None) -> PresentStatus:
        """See `CashDispenser.get_present_status`."""
        return self._call(self._device.get_present_status, timeout=timeout)

    def count(
        self, units: Iterable[str] | None = None, *, timeout: float | None = None
    ) -> Mapping[str, int]:
        """See `CashDispenser.count`."""
        return self._call(self._device.count, units, timeout=timeout)

    def test_cash_units(self, *, timeout: float | None = None) -> tuple[CashUnit, ...]:
        """See `CashDispenser.test_cash_units`."""
        return self._call(self._device.test_cash_units, timeout=timeout)
