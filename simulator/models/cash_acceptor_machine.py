"""The machine under a `simulator.models.cash_acceptor.CashAcceptorModel`: the cash
dispenser's mechanism and firmware with an escrow, which is also a recycler's dispenser
side (`CashAcceptorModel.dispenser`): both sides move the same notes, run one operation
at a time between them and share one operation log.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from hal.devices.cash_in_model import ESCROW
from hal.devices.cash_model import EXIT, MoveReport
from hal.events import Event
from simulator.clock import SimClock, reply_delay
from simulator.models.cash_dispenser import CashDispenserModel
from simulator.models.cash_in_profiles import MachineProfile

if TYPE_CHECKING:
    from simulator.models.cash_acceptor import CashAcceptorModel


class _Machine(CashDispenserModel):
    """The acceptor's machine: the dispenser mechanism and firmware with an escrow,
    whose status changes and items-taken sensor also reach the acceptor side, and
    whose operation log both sides share."""

    def __init__(
        self, acceptor: CashAcceptorModel, profile: MachineProfile, clock: SimClock
    ) -> None:
        self._acceptor = acceptor
        super().__init__(profile, name=acceptor.name, clock=clock)
        self._notes[ESCROW] = Counter()
        #: whose notes wait at the exit: ``acceptor`` (a rollback) or ``dispenser``
        self.exit_owner = "dispenser"

    def _update_status(self) -> None:
        super()._update_status()
        self._acceptor._status_changed()

    def _taken_sensor(self) -> Callable[[Event], None] | None:
        if self.exit_owner == "acceptor":
            return self._acceptor._taken_sensor()
        return super()._taken_sensor()

    async def _reply_delay(self, *, opening: bool = False) -> None:
        acceptor = self._acceptor
        await reply_delay(
            self.clock,
            self._reply_delay_s,
            name=self.name,
            listener=lambda: self._listener or acceptor._listener,
            signal=self._signal,
            opening=opening,
        )

    async def present(self, token: int) -> MoveReport:
        """As the dispenser's; the notes presented are the dispenser side's."""
        if not self.notes_at(EXIT):
            self.exit_owner = "dispenser"
        return await super().present(token)

    async def dispense(self, counts: Mapping[str, int], token: int) -> MoveReport:
        """As the dispenser's (a recycler pays out of its recycling units)."""
        if not self.notes_at(EXIT):
            self.exit_owner = "dispenser"
        return await super().dispense(counts, token)

    def __repr__(self) -> str:
        return f"dispenser side of {self._acceptor!r}"
