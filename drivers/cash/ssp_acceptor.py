"""The acceptor facet of the ``ssp`` driver (`drivers.cash.ssp`): `SspAcceptor`, a
`CashAcceptorBackend` over an `SspCore` (`drivers.cash.ssp_core`).

The acceptor (a single-note escrow, return to the customer through the bezel):
cash_in sets the inhibits, ENABLEs and waits for READ ch>0 (the note in escrow: one
``customer -> escrow`` move), then DISABLEs; REJECTED notes are refused (invalidBill);
a jam, stacker full or cash box removed ends it with a fault. cash_in_end stops the
HOLDs so the next POLL accepts the note: STACKED -> ``escrow -> cashbox``, NOTE STORED
IN PAYOUT -> ``escrow -> payout`` (NV11, routed with SET ROUTING before); rollback sends
REJECT: REJECTED -> ``escrow -> customer``. reset stacks a held note in the cash box.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
import time
from dataclasses import dataclass, field, replace

from drivers.cash.ssp_core import (
    _JAMS,
    CASHBOX,
    EVENT_TIMEOUT,
    PAYOUT,
    SET_ROUTING,
    SspCore,
    _event,
    _next_event,
    _to_end,
)
from hal.device import BackendListener
from hal.devices.cash_acceptor import ItemsInserted
from hal.devices.cash_in_model import (
    BILL_VALIDATOR,
    ESCROW,
    AcceptedNote,
    CashAcceptorCapabilities,
    CashAcceptorStatus,
    CashInContents,
    CashInLimits,
    CashInReport,
    NoteType,
    RefuseReason,
)
from hal.devices.cash_model import (
    CUSTOMER,
    TRANSPORT,
    CashUnitInfo,
    Fault,
    Move,
    MoveReport,
    OperationRecord,
    RetractArea,
    UnitSensor,
)
from hal.errors import HalError, HalTimeout, TooManyItems, UnsupportedOperation
from protocols.ssp_commands import Cmd, Generic
from protocols.ssp_events import Ev, Event

log = logging.getLogger("drivers.cash.ssp")  # the driver's logger (one for its modules)

# --- the acceptor --------------------------------------------------------------------------


@dataclass
class _Intake:
    """Where one cash_in's note flow stands."""

    limits: CashInLimits
    token: int
    refused: list[RefuseReason] = field(default_factory=list)
    own_rejects: int = 0  # notes the driver rejected whose REJECTED has not come
    reading: bool = False  # a note is being read (READ 0 seen, no outcome yet)
    inserted: bool = False  # ItemsInserted was sent
    ended: CashInReport | None = None  # the outcome, known before the closing DISABLE


async def _ended(core: SspCore, intake: _Intake, report: CashInReport) -> CashInReport:
    """The cash_in's outcome is ``report``: kept (a cancel during the DISABLE still
    reports it), then DISABLE."""
    intake.ended = report
    await _disable(core)
    return report


def _cancelled_report(report: CashInReport) -> CashInReport:
    moved = sum(m.count for m in report.moves)
    fault = report.fault or Fault("canceled", f"cancelled; {moved} note(s) moved")
    return CashInReport(report.moves, fault, notes=report.notes, refused=report.refused)


class SspAcceptor:
    """The `CashAcceptorBackend` facet of an `SspCore` (see the module header)."""

    def __init__(self, core: SspCore) -> None:
        self.core = core
        self.name = core.name

    async def open(self, listener: BackendListener[CashAcceptorStatus]) -> None:
        await self.core.attach()
        self.core.acceptor_listener = listener

    async def close(self) -> None:
        self.core.acceptor_listener = None
        await self.core.detach()

    def capabilities(self) -> CashAcceptorCapabilities:
        return replace(BILL_VALIDATOR, recycling=self.core.options.payout)

    def units(self) -> tuple[CashUnitInfo, ...]:
        core = self.core
        if core.options.payout:
            return core.cashbox_unit(), core.payout_unit()
        return (core.cashbox_unit(),)

    def note_types(self) -> tuple[NoteType, ...]:
        enabled = self.core.enabled_items or frozenset()
        return tuple(
            NoteType(t.currency, t.value, t.item in enabled) for t in self.core.channels.values()
        )

    async def configure(self, enabled: frozenset[str]) -> None:
        self.core.enabled_items = frozenset(enabled)
        await self.core.set_inhibits(self.core.enabled_items)

    async def get_status(self) -> CashAcceptorStatus:
        return self.core.acceptor_status()

    async def sensors(self) -> tuple[UnitSensor, ...]:
        return self.core.sensors()

    async def cash_in(self, limits: CashInLimits, token: int) -> CashInReport:
        """SET INHIBITS, ENABLE, the note flow until a note sits in escrow (or a fault, or
        refusals and an empty input), DISABLE. `ConnectionLost` when the device stays
        offline longer than ``core.offline_limit`` meanwhile."""
        core = self.core
        if (fault := _unit_fault(core)) is not None:
            return CashInReport(fault=fault)
        if core.escrow is not None:
            raise TooManyItems(f"{self.name}: a note is in escrow already")
        intake = _Intake(limits, token)
        settle = max(3 * core.options.poll_interval, 0.3)
        async with core.watch() as events:
            await core.set_inhibits(limits.enabled)
            await core.command_ok(bytes((Cmd.ENABLE,)), "enable")
            try:
                while True:
                    if intake.refused and not intake.reading:
                        # After a refusal: more notes come at once, or the input is empty.
                        event = await _event(core, events, settle)
                        if event is None:
                            await _disable(core)
                            return CashInReport(refused=tuple(intake.refused))
                    elif (event := await _event(core, events, None)) is None:
                        continue  # (no limit: never)
                    if (report := await self._on_event(event, intake)) is not None:
                        return report
            except asyncio.CancelledError:
                return await self._cancelled(events, intake)
            except HalError:
                with contextlib.suppress(HalError):
                    await asyncio.shield(_disable(core))
                raise

    async def _on_event(self, event: Event, intake: _Intake) -> CashInReport | None:
        """One event of a cash_in's note flow; its report when the cash_in ends."""
        core = self.core
        refused = intake.refused
        if event.code in (Ev.READ, *_JAMS) and not intake.inserted:
            intake.inserted = True  # the first sign of a note (a jammed one went in too)
            if core.acceptor_listener is not None:
                core.acceptor_listener.event(ItemsInserted())
        if event.code is Ev.READ and not event.channel:
            intake.reading = True
            return None
        if event.code is Ev.READ and event.channel:
            item = core.item_of(event.channel)
            reason = intake.limits.refusal(item)
            if item is None or reason is not None:
                intake.own_rejects += 1
                intake.reading = True  # until its REJECTED comes
                refused.append(reason or RefuseReason.INVALID_BILL)
                await core.command_ok(bytes((Cmd.REJECT,)), "reject")
                core.escrow, core.hold = None, False
                return None
            intake.reading = False
            log.info("%s: a %s note in escrow (token %d)", self.name, item, intake.token)
            return await _ended(
                core,
                intake,
                CashInReport(
                    moves=(Move(CUSTOMER, ESCROW, item, 1),),
                    notes=(AcceptedNote(item),),
                    refused=tuple(refused),
                ),
            )
        if event.code is Ev.REJECTED:
            intake.reading = False
            if intake.own_rejects:
                intake.own_rejects -= 1
            else:
                refused.append(RefuseReason.INVALID_BILL)
        elif event.code in _JAMS:
            intake.reading = False
            item = core.item_of(event.channel)
            core.jam_item = item
            moves = (Move(CUSTOMER, TRANSPORT, item, 1),) if item else ()
            fault = Fault("mediaJam", "a note jammed on its way in")
            return await _ended(
                core, intake, CashInReport(moves=moves, fault=fault, refused=tuple(refused))
            )
        elif event.code in (Ev.STACKER_FULL, Ev.CASHBOX_REMOVED):
            report = CashInReport(fault=_unit_fault(core), refused=tuple(refused))
            return await _ended(core, intake, report)
        return None

    async def _cancelled(self, events: asyncio.Queue[Event], intake: _Intake) -> CashInReport:
        """A cash_in cancelled: DISABLE; a note being read (READ 0 seen, or events not yet
        looked at) is followed to its end, up to ``EVENT_TIMEOUT``: in escrow (reported
        ``customer -> escrow``), given back, or jammed. A note that does not come to rest
        in time raises `HalTimeout` (the service then settles it from the escrow)."""
        core = self.core
        with contextlib.suppress(HalError):
            await asyncio.shield(_disable(core))
        if intake.ended is not None:  # cancelled in the DISABLE after the outcome
            return _cancelled_report(intake.ended)
        deadline = time.monotonic() + EVENT_TIMEOUT
        while intake.reading or not events.empty():
            left = deadline - time.monotonic()
            if left <= 0:
                raise HalTimeout(
                    f"{self.name}: cancelled while a note was being read; it did not come "
                    f"to rest within {EVENT_TIMEOUT} s"
                )
            event = await _event(core, events, left)
            if event is None:
                continue
            report = await self._on_event(event, intake)
            if report is not None:
                return _cancelled_report(report)
        return CashInReport(
            fault=Fault("canceled", "cancelled; no note reached the escrow"),
            refused=tuple(intake.refused),
        )

    async def cash_in_end(self, use_recycle_units: bool, token: int) -> MoveReport:
        return await _to_end(_stack(self.core, use_recycle_units))

    async def rollback(self, token: int) -> MoveReport:
        return await _to_end(self._rollback())

    async def _rollback(self) -> MoveReport:
        core = self.core
        item = core.item_of(core.escrow)
        if core.escrow is None or item is None:
            return MoveReport(fault=_no_escrow_note(core))
        async with core.watch() as events:
            reply = await core.command(bytes((Cmd.REJECT,)))
            if reply[:1] != bytes((Generic.OK,)):
                return MoveReport(fault=Fault("hardwareError", "the device refused REJECT"))
            core.hold = False
            while True:
                event = await _next_event(core, events)
                if event.code is Ev.REJECTED:
                    core.escrow = None
                    return MoveReport((Move(ESCROW, CUSTOMER, item, 1),))
                if event.code in _JAMS:
                    return MoveReport(
                        (Move(ESCROW, TRANSPORT, item, 1),),
                        Fault("mediaJam", "the note jammed on its way back"),
                    )

    async def retract(self, area: RetractArea, token: int) -> MoveReport:
        raise UnsupportedOperation(f"{self.name}: an ITL validator cannot retract")

    async def reset(self, token: int) -> MoveReport:
        """A note held in escrow is stacked into the cash box; after a jam, RESET: once
        the device polls without a jam, the jammed note is reported ``transport ->
        cashbox`` [U: where an engineer clears a jam to]."""
        return await _to_end(self._reset())

    async def _reset(self) -> MoveReport:
        core = self.core
        report = await _stack(core, False) if core.escrow is not None else MoveReport()
        if report.fault is not None or not (core.jammed or core.jam_item):
            return report
        async with core.watch() as events:
            await core.command_ok(bytes((Cmd.RESET,)), "reset")
            while True:
                event = await _next_event(core, events)
                if event.code is Ev.SLAVE_RESET:
                    break
        await asyncio.sleep(2 * core.options.poll_interval)  # the next polls' jam events
        if core.jammed:
            return MoveReport(report.moves, Fault("mediaJam", "still jammed after a reset"))
        moves = list(report.moves)
        if core.jam_item is not None:
            moves.append(Move(TRANSPORT, CASHBOX, core.jam_item, 1))
            core.jam_item = None
        return MoveReport(tuple(moves))

    async def contents(self) -> CashInContents:
        core = self.core
        if core.escrow is None:
            escrow: dict[str, int] | None = {}
        else:
            item = core.item_of(core.escrow)
            escrow = {item: 1} if item else None
        return CashInContents(
            escrow=escrow, transport=1 if core.jammed else 0, exit=None, taken=None
        )

    async def operation(self, token: int) -> OperationRecord | None:
        return None

    async def exchange(self, active: bool) -> None:
        """Nothing to unlock."""


def _unit_fault(core: SspCore) -> Fault | None:
    if core.jammed:
        return Fault("mediaJam", "the note path is jammed")
    if core.cashbox_removed:
        return Fault("cashUnitError", "the cash box is removed", unit=CASHBOX)
    if core.stacker_full:
        return Fault("cashUnitError", "the cash box is full", unit=CASHBOX)
    return None


async def _disable(core: SspCore) -> None:
    await core.command_ok(bytes((Cmd.DISABLE,)), "disable")


def _no_escrow_note(core: SspCore) -> Fault:
    """Asked to store or give back a note the device does not hold (as the books say)."""
    if core.escrow is None:
        return Fault("hardwareError", "the device holds no note in its escrow")
    return Fault("hardwareError", "the note in the escrow is of a channel the device did not name")


async def _stack(core: SspCore, use_recycle_units: bool) -> MoveReport:
    item = core.item_of(core.escrow)
    if core.escrow is None or item is None:
        return MoveReport(fault=_no_escrow_note(core))
    if core.options.payout and item == core.payout_item:
        route = 0 if use_recycle_units else 1
        data = bytes((SET_ROUTING, route)) + struct.pack("<I", core.options.payout_value)
        await core.command_ok(data + core.currency.encode("ascii"), "set routing")
    async with core.watch() as events:
        core.hold = False  # the polling task's next POLL accepts the note
        while True:
            event = await _next_event(core, events)
            if event.code is Ev.STACKED:
                core.escrow = None
                return MoveReport((Move(ESCROW, CASHBOX, item, 1),))
            if event.code is Ev.NOTE_STORED_IN_PAYOUT:
                core.escrow = None
                return MoveReport((Move(ESCROW, PAYOUT, item, 1),))
            if event.code is Ev.REJECTED:
                core.escrow = None
                return MoveReport(
                    (Move(ESCROW, CUSTOMER, item, 1),),
                    Fault("hardwareError", "the device gave the note back"),
                )
            if event.code in _JAMS:
                return MoveReport(
                    (Move(ESCROW, TRANSPORT, item, 1),),
                    Fault("mediaJam", "the note jammed on its way to the cash box"),
                )
            if event.code in (Ev.STACKER_FULL, Ev.CASHBOX_REMOVED):
                core.hold = True  # it stays in escrow
                return MoveReport(fault=_unit_fault(core))
