"""`SyncCashStorage`: what `SyncCashDispenser` and `SyncCashAcceptor` share (see `hal.sync`).

The cash units, the exchange, retract and reset, which `CashDispenser` and
`CashAcceptor` both declare with the same parameters; each method forwards to the
async one, as everywhere in the facade.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, ParamSpec, TypeVar

from hal.devices.cash_acceptor import CashAcceptor
from hal.devices.cash_dispenser import CashDispenser
from hal.devices.cash_model import CashUnit, RetractArea

__all__ = ["SyncCashStorage"]

P = ParamSpec("P")
T = TypeVar("T")


class SyncCashStorage:
    """The cash units, the exchange, retract and reset of a sync cash device.

    Listed before `hal.sync_base.SyncDevice` in a facade's bases, which gives `_call`.
    """

    _device: CashDispenser | CashAcceptor

    if TYPE_CHECKING:

        def _call(
            self, fn: Callable[P, Awaitable[T]], /, *args: P.args, **kwargs: P.kwargs
        ) -> T: ...

    def retract(
        self, area: RetractArea = RetractArea.RETRACT, *, timeout: float | None = None
    ) -> int:
        """See `CashDispenser.retract`, `CashAcceptor.retract`."""
        return self._call(self._device.retract, area, timeout=timeout)

    def cash_units(self) -> tuple[CashUnit, ...]:
        """See `CashDispenser.cash_units`, `CashAcceptor.cash_units`."""
        return self._call(self._device.cash_units)

    def start_exchange(self, *, timeout: float | None = None) -> tuple[CashUnit, ...]:
        """See `CashDispenser.start_exchange`, `CashAcceptor.start_exchange`."""
        return self._call(self._device.start_exchange, timeout=timeout)

    def set_cash_unit(
        self,
        unit: str,
        *,
        initial: int | None = None,
        thresholds: tuple[int | None, int | None] | None = None,
        timeout: float | None = None,
    ) -> CashUnit:
        """See `CashDispenser.set_cash_unit`, `CashAcceptor.set_cash_unit`."""
        return self._call(
            self._device.set_cash_unit,
            unit,
            initial=initial,
            thresholds=thresholds,
            timeout=timeout,
        )

    def end_exchange(self, *, timeout: float | None = None) -> tuple[CashUnit, ...]:
        """See `CashDispenser.end_exchange`, `CashAcceptor.end_exchange`."""
        return self._call(self._device.end_exchange, timeout=timeout)

    def reset(self, *, timeout: float | None = None) -> None:
        """See `CashDispenser.reset`, `CashAcceptor.reset`."""
        return self._call(self._device.reset, timeout=timeout)
