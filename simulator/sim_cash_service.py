"""The cash dispenser service of ``sim://cash_dispenser``: a `CashDispenserService` whose
fresh ledger starts from what the simulated cassettes hold.

A new ledger knows no note: every unit counts 0 until an operator's exchange sets it.
A real kiosk does that exchange when it is installed; the simulator does it for you the
first time a service opens over a ledger that has no movement and no count for the
device: `SimCashDispenserService.open` runs ``start_exchange``, ``set_cash_unit`` with
each unit's physical notes and ``end_exchange`` through the public interface (so the
ledger records it as an exchange, reason ``exchange``). A ledger that has the device's
history already is left alone: its counts are the books, whatever the model holds.
`SimCashDispenserService.count_in` does the same exchange on demand (``tellerhal sim``
does it for the new cassettes of a reset world).
"""

from __future__ import annotations

import logging
import os

from hal.devices.cash_dispenser_service import CashDispenserService
from hal.ledger import Ledger
from simulator.models.cash_dispenser import CashDispenserModel

__all__ = ["SimCashDispenserService"]

log = logging.getLogger(__name__)


class SimCashDispenserService(CashDispenserService):
    """`CashDispenserService` over a `CashDispenserModel`, seeding a fresh ledger.

    Args:
        model: the simulated dispenser.
        name: the device's name (also its name in the ledger).
        ledger: an open `Ledger`, its path, or ``None`` for one in memory.
    """

    def __init__(
        self,
        model: CashDispenserModel,
        *,
        name: str = "cash_dispenser",
        ledger: Ledger | str | os.PathLike[str] | None = None,
    ) -> None:
        super().__init__(model, name=name, ledger=ledger)
        self._model = model

    async def open(self) -> None:
        """Open; on a ledger that never saw this device, count the cassettes in."""
        await super().open()
        ledger = self.ledger
        if ledger.history(self.name, 1) or any(c.initial for c in ledger.counters(self.name)):
            return
        await self.count_in(every_unit=False)

    async def count_in(self, *, every_unit: bool = True) -> dict[str, int]:
        """An exchange setting the units' counts to the notes physically in them (every
        unit, or only those holding notes); returns what was set.

        Raises:
            TransactionActive: the books have notes in the stacker, transport or exit.
        """
        truth = self._model.ground_truth()
        counts = {
            info.id: truth[info.id] for info in self._model.units() if every_unit or truth[info.id]
        }
        if not counts:
            return counts
        await self.start_exchange()
        try:
            for unit, notes in counts.items():
                await self.set_cash_unit(unit, initial=notes)
        finally:
            await self.end_exchange()
        log.info("%s: the units are counted in from the simulated cassettes: %s", self.name, counts)
        return counts
