"""The dispenser facet of the ``ssp`` driver (`drivers.cash.ssp`): `SspDispenser`, a
`CashDispenserBackend` over an NV11's `SspCore` (`drivers.cash.ssp_core`).

The dispenser (NV11): dispense ``{"payout": n}`` by PAYOUT BY DENOMINATION (or PAYOUT
AMOUNT, ``payout_by=amount``), encrypted; DISPENSED -> ``payout -> customer``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from drivers.cash.ssp_core import _JAMS, PAYOUT, SspCore, _next_event, _to_end
from drivers.cash.ssp_link import EsspRefused
from hal.device import BackendListener
from hal.devices.cash_model import (
    CUSTOMER,
    CashDispenserCapabilities,
    CashDispenserStatus,
    CashUnitInfo,
    Contents,
    Fault,
    Move,
    MoveReport,
    OperationRecord,
    RetractArea,
    UnitSensor,
)
from hal.errors import InvalidData, UnsupportedOperation
from protocols.ssp_commands import (
    Generic,
    PayoutError,
    build_payout_amount,
    build_payout_by_denomination,
)
from protocols.ssp_events import Ev

log = logging.getLogger("drivers.cash.ssp")  # the driver's logger (one for its modules)

# --- the dispenser (NV11 payout) -------------------------------------------------------------


class SspDispenser:
    """The `CashDispenserBackend` facet of an NV11's `SspCore`: pays out the payout
    store's notes (see the module header)."""

    def __init__(self, core: SspCore) -> None:
        self.core = core
        self.name = core.name

    async def open(self, listener: BackendListener[CashDispenserStatus]) -> None:
        await self.core.attach()
        self.core.dispenser_listener = listener

    async def close(self) -> None:
        self.core.dispenser_listener = None
        await self.core.detach()

    def capabilities(self) -> CashDispenserCapabilities:
        return CashDispenserCapabilities(
            max_dispense_items=self.core.options.payout_capacity,
            intermediate_stacker=False,
            shutter=False,
            items_taken_sensor=False,
            retract_areas=frozenset(),
            reject=False,
            count=False,
            test_cash_units=False,
            knows_operations=False,
            dispense_to=CUSTOMER,
        )

    def units(self) -> tuple[CashUnitInfo, ...]:
        return (self.core.payout_unit(),)

    async def get_status(self) -> CashDispenserStatus:
        return self.core.dispenser_status()

    async def sensors(self) -> tuple[UnitSensor, ...]:
        return self.core.sensors()

    async def dispense(self, counts: Mapping[str, int], token: int) -> MoveReport:
        """PAYOUT BY DENOMINATION (or AMOUNT) of the payout store's notes, encrypted;
        a cancellation waits for the payout's end (the notes are on their way)."""
        return await _to_end(self._dispense(counts, token))

    async def _dispense(self, counts: Mapping[str, int], token: int) -> MoveReport:
        core = self.core
        for unit_id, n in counts.items():
            if unit_id != PAYOUT:
                raise InvalidData(f"{self.name}: {unit_id!r} is not the payout store")
            if isinstance(n, bool) or not isinstance(n, int) or n < 0:
                raise InvalidData(f"{self.name}: a count is an int >= 0, got {n!r}")
        notes = counts.get(PAYOUT, 0)
        if not notes:
            raise InvalidData(f"{self.name}: a dispense needs at least one note")
        value = core.options.payout_value
        if core.options.payout_by == "amount":
            data = build_payout_amount(core.currency, value * notes)
        else:
            data = build_payout_by_denomination({(core.currency, value): notes})
        log.info("%s: pay out %d note(s) of %d (token %d)", self.name, notes, value, token)
        async with core.watch() as events:
            try:
                await core.ensure_session()
                reply = await core.command(data)
            except EsspRefused as exc:
                # The device refused the packet itself: nothing was paid out.
                log.warning("%s: payout not carried out: %s", self.name, exc)
                return MoveReport(fault=Fault("hardwareError", f"payout refused: {exc}"))
            if reply[:1] != bytes((Generic.OK,)):
                return MoveReport(fault=_payout_fault(reply))
            while True:
                event = await _next_event(core, events)
                if event.code is Ev.DISPENSED:
                    paid = sum(v for v, _ in event.values) // value
                    moves = (Move(PAYOUT, CUSTOMER, core.payout_item, paid),) if paid else ()
                    fault = None
                    if paid != notes:
                        fault = Fault("hardwareError", f"{paid} of {notes} notes paid out")
                    return MoveReport(moves, fault)
                if event.code in (Ev.PAYOUT_ERROR, Ev.HOPPER_JAMMED, *_JAMS):
                    return MoveReport(
                        fault=Fault("mediaJam", f"payout stopped ({event.code.name})")
                    )

    async def contents(self) -> Contents:
        return Contents(stacker=0, transport=None if self.core.jammed else 0, exit=None, taken=None)

    async def operation(self, token: int) -> OperationRecord | None:
        return None

    async def exchange(self, active: bool) -> None:
        """Nothing to unlock."""

    async def reset(self, token: int) -> MoveReport:
        return MoveReport()

    async def present(self, token: int) -> MoveReport:
        raise UnsupportedOperation(f"{self.name}: the NV11 pays out through its bezel")

    async def retract(self, area: RetractArea, token: int) -> MoveReport:
        raise UnsupportedOperation(f"{self.name}: the NV11 cannot retract")

    async def reject(self, token: int) -> MoveReport:
        raise UnsupportedOperation(f"{self.name}: the NV11 has no stacker")

    async def count(self, units: tuple[str, ...], token: int) -> MoveReport:
        raise UnsupportedOperation(f"{self.name}: the NV11 cannot count its payout store")

    async def test_cash_units(self, token: int) -> MoveReport:
        raise UnsupportedOperation(f"{self.name}: the NV11 cannot test its payout store")


def _payout_fault(reply: bytes) -> Fault:
    if reply[:1] == bytes((Generic.CANNOT_PROCESS,)) and len(reply) > 1:
        code = reply[1]
        if code == PayoutError.NOT_ENOUGH_VALUE:
            return Fault("cashUnitError", "not enough notes in the payout store", unit=PAYOUT)
        if code == PayoutError.CANNOT_PAY_EXACT:
            return Fault("cashUnitError", "cannot pay that exact amount", unit=PAYOUT)
        if code == PayoutError.BUSY:
            return Fault("hardwareError", "the device is busy")
        if code == PayoutError.DISABLED:
            return Fault("hardwareError", "the payout is disabled")
    return Fault("hardwareError", f"payout refused ({reply[:1].hex() or 'empty'})")
