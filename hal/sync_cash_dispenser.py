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
    RetractArea,
)
from hal.money import Money
from hal.sync_base import SyncDevice

__all__ = ["SyncCashDispenser"]


class SyncCashDispenser(SyncDevice[CashDispenserStatus, CashDispenserCapabilities]):
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

    def retract(
        self, area: RetractArea = RetractArea.RETRACT, *, timeout: float | None = None
    ) -> int:
        """See `CashDispenser.retract`."""
        return self._call(self._device.retract, area, timeout=timeout)

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

    def cash_units(self) -> tuple[CashUnit, ...]:
        """See `CashDispenser.cash_units`."""
        return self._call(self._device.cash_units)

    def start_exchange(self, *, timeout: float | None = None) -> tuple[CashUnit, ...]:
        """See `CashDispenser.start_exchange`."""
        return self._call(self._device.start_exchange, timeout=timeout)

    def set_cash_unit(
        self,
        unit: str,
        *,
        initial: int | None = None,
        thresholds: tuple[int | None, int | None] | None = None,
        timeout: float | None = None,
    ) -> CashUnit:
        """See `CashDispenser.set_cash_unit`."""
        return self._call(
            self._device.set_cash_unit,
            unit,
            initial=initial,
            thresholds=thresholds,
            timeout=timeout,
        )

    def end_exchange(self, *, timeout: float | None = None) -> tuple[CashUnit, ...]:
        """See `CashDispenser.end_exchange`."""
        return self._call(self._device.end_exchange, timeout=timeout)

    def reset(self, *, timeout: float | None = None) -> None:
        """See `CashDispenser.reset`."""
        return self._call(self._device.reset, timeout=timeout)
