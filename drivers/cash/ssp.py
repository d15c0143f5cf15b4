"""The ``ssp`` driver: an ITL NV200 (validator) or NV11 (validator + payout store) over
SSP / eSSP, as a `CashAcceptorBackend` and (NV11) a `CashDispenserBackend`.

Addresses (entry point ``ssp`` in group ``tellerhal.drivers``; options:
`drivers.cash.ssp_options.SspOptions`)::

    ssp+serial:///dev/ttyUSB0?baud=9600&stopbits=2&profile=nv200
    ssp+serial:///dev/ttyUSB0?baud=9600&stopbits=2&profile=nv11                 (acceptor)
    ssp+serial:///dev/ttyUSB0?baud=9600&stopbits=2&profile=nv11&facet=dispenser (payout)

One device, one connection: every address of the same transport and path resolves to
ONE `SspCore` in the process (the port opened at the first facet's open, closed at
the last one's close); the acceptor and the dispenser are two facets over it. Their
services keep their books in one ledger (`drivers.cash.ssp_service.SharedBooks`: the
``ledger`` file, the same in both addresses, or one in memory) under one device name,
so a note stored in the payout is one the dispenser can pay out.

What the core does (reference/protocols.md §3.6; docs/ssp.md):

- open: SYNC, host protocol version 6, SETUP REQUEST (channels -> note types: value x
  real multiplier, currency), on a payout device (or ``encrypted=1``) the eSSP key
  exchange, HOLD (F0 says a note is still in escrow from before: one POLL then learns
  its channel [U]), SET INHIBITS;
- a polling task: POLL every ``poll_interval``; while a note waits in escrow for the
  app's decision, HOLD every ``hold_interval`` instead (a POLL would accept it);
- every command goes through `drivers.cash.ssp_link.SspLink`: a lost reply is asked
  again with the SAME sequence flag (the device repeats its reply, never acts twice);
  with eSSP on, every command is encrypted (the payout-side ones must be).

The acceptor (a single-note escrow, return to the customer through the bezel):
cash_in sets the inhibits, ENABLEs and waits for READ ch>0 (the note in escrow: one
``customer -> escrow`` move), then DISABLEs; REJECTED notes are refused (invalidBill);
a jam, stacker full or cash box removed ends it with a fault. cash_in_end stops the
HOLDs so the next POLL accepts the note: STACKED -> ``escrow -> cashbox``, NOTE STORED
IN PAYOUT -> ``escrow -> payout`` (NV11, routed with SET ROUTING before); rollback sends
REJECT: REJECTED -> ``escrow -> customer``. reset stacks a held note in the cash box.

The dispenser (NV11): dispense ``{"payout": n}`` by PAYOUT BY DENOMINATION (or PAYOUT
AMOUNT, ``payout_by=amount``), encrypted; DISPENSED -> ``payout -> customer``.

Neither the fixed nor the negotiated key is ever logged, raised or shown.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
import time
from collections.abc import AsyncIterator, Coroutine, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from drivers.cash.ssp_link import EsspRefused, SspLink
from drivers.cash.ssp_masker import SspMasker
from drivers.cash.ssp_options import SspOptions
from drivers.cash.ssp_service import SharedBooks, SspAcceptorService, SspDispenserService
from hal.address import DeviceAddress
from hal.device import BackendListener, Device, DeviceState, finish
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
    CashDispenserCapabilities,
    CashDispenserStatus,
    CashUnitInfo,
    CashUnitType,
    Contents,
    Fault,
    Move,
    MoveReport,
    OperationRecord,
    RetractArea,
    ShutterState,
    StackerState,
    TransportState,
    UnitSensor,
    UnitStatus,
)
from hal.errors import (
    ConfigurationError,
    ConnectionLost,
    HalError,
    HalTimeout,
    HardwareError,
    InvalidData,
    TooManyItems,
    UnsupportedOperation,
)
from hal.registry import DriverSpec, make_transport
from hal.transports.base import Transport
from protocols.errors import ProtocolError
from protocols.ssp_commands import (
    Cmd,
    Generic,
    PayoutError,
    Setup,
    build_payout_amount,
    build_payout_by_denomination,
    build_set_inhibits,
    parse_setup,
)
from protocols.ssp_events import Ev, Event, parse_events

__all__ = ["SSP_DRIVER", "SspAcceptor", "SspCore", "SspDispenser", "open_ssp"]

log = logging.getLogger(__name__)

CASHBOX = "cashbox"
PAYOUT = "payout"
SET_ROUTING = 0x3B
_JAMS = (Ev.SAFE_JAM, Ev.UNSAFE_JAM)
#: Seconds an operation waits for the device's event before it gives up.
EVENT_TIMEOUT = 10.0
#: Seconds the device may stay offline (its polls failing) before a waiting operation
#: gives up with `ConnectionLost`.
OFFLINE_LIMIT = 5.0
#: The longest pause between polls while the device does not answer.
MAX_BACKOFF = 2.0


class SspCore:
    """One ITL device on one port: the link, the polling task and the device's state,
    shared by the acceptor and dispenser facets (see the module header).

    Args:
        transport: the port.
        options: the address's options.
        name: the device's name (and its books' name in the ledger).
    """

    def __init__(self, transport: Transport, options: SspOptions, name: str) -> None:
        self.options = options
        self.name = name
        self.link = SspLink(
            transport,
            slave=options.slave,
            reply_timeout=options.reply_timeout,
            retries=options.retries,
        )
        self.setup: Setup | None = None
        self.channels: dict[int, NoteType] = {}
        self.enabled_items: frozenset[str] | None = None
        self.escrow: int | None = None  # channel in escrow (0: a note, channel unknown)
        self.hold = False
        self.jammed = False
        self.jam_item: str | None = None  # the note a jam left in the transport
        self.stacker_full = False
        self.cashbox_removed = False
        self.online = False
        self.offline_since = 0.0  # when the polls started failing
        self.offline_limit = OFFLINE_LIMIT
        self.acceptor_listener: BackendListener[CashAcceptorStatus] | None = None
        self.dispenser_listener: BackendListener[CashDispenserStatus] | None = None
        self._told: dict[str, object] = {}  # the status each listener heard last
        self._watchers: list[asyncio.Queue[Event]] = []
        self._task: asyncio.Task[None] | None = None
        self._users = 0
        self._open_lock = asyncio.Lock()
        self._last_hold = 0.0
        self.key: str | None = None  # set by the factory: where this core is shared
        self.books = SharedBooks(name)

    # --- lifecycle ---------------------------------------------------------------------

    async def attach(self) -> None:
        """A facet opens: the first one opens the port."""
        async with self._open_lock:
            if self._users == 0:
                await self._open()
            self._users += 1

    async def detach(self) -> None:
        """A facet closes: the last one stops polling and closes the port."""
        async with self._open_lock:
            if self._users == 0:
                return
            self._users -= 1
            if self._users == 0:
                await self._close()
                _forget(self)

    async def _open(self) -> None:
        await self.link.open()
        try:
            await self.link.sync()
            await self._ok(bytes((Cmd.HOST_PROTOCOL_VERSION, 6)), "host protocol version")
            reply = await self.link.command(bytes((Cmd.SETUP_REQUEST,)))
            if reply[:1] != bytes((Generic.OK,)):
                raise HardwareError(f"{self.name}: setup request refused ({reply[:1].hex()})")
            try:
                self.setup = parse_setup(reply[1:])
            except ProtocolError as exc:
                raise HardwareError(f"{self.name}: setup reply: {exc}") from exc
            self.channels = {}
            for n in range(1, len(self.setup.values) + 1):
                currency, value = self.setup.note_value(n)
                if value > 0:
                    self.channels[n] = NoteType(currency, value)
            if self.enabled_items is None:
                self.enabled_items = frozenset(t.item for t in self.channels.values())
            if self.options.use_encryption:
                await self.link.negotiate(self.options.fixed_key())
            held = await self.link.command(bytes((Cmd.HOLD,)))
            self.escrow, self.hold = None, False
            if held[:1] == bytes((Generic.OK,)):
                self.escrow, self.hold = 0, True
                await self._poll_once()  # [U] the device reports it again after SYNC
                self._last_hold = time.monotonic()
            await self._inhibits(self.enabled_items)
        except BaseException:
            await self.link.close()
            raise
        self._set_online(True)
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"{self.name} poll")

    async def _close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        self.online = False
        await self.link.close()

    # --- the polling task ----------------------------------------------------------------

    async def _run(self) -> None:
        """Poll (or HOLD) until cancelled; a failure of any kind marks the device offline
        and polling goes on, the pause doubling up to ``MAX_BACKOFF``."""
        backoff = self.options.poll_interval
        while True:
            await asyncio.sleep(self.options.poll_interval)
            try:
                await self.ensure_session()
                if self.hold and self.escrow is not None:
                    if time.monotonic() - self._last_hold >= self.options.hold_interval:
                        await self.link.command(bytes((Cmd.HOLD,)))
                        self._last_hold = time.monotonic()
                else:
                    await self._poll_once()
                self._set_online(True)
                backoff = self.options.poll_interval
            except EsspRefused as exc:
                log.warning("%s: %s; negotiating a new key", self.name, exc)
            except HalError as exc:
                if self.online:
                    log.warning("%s: poll failed: %s", self.name, exc)
                self._set_online(False)
                await asyncio.sleep(backoff)
                backoff = min(2 * backoff, max(MAX_BACKOFF, self.options.poll_interval))
            except Exception:
                log.exception("%s: the polling task failed; polling on", self.name)
                self._set_online(False)
                await asyncio.sleep(backoff)
                backoff = min(2 * backoff, max(MAX_BACKOFF, self.options.poll_interval))

    def _set_online(self, online: bool) -> None:
        if online != self.online:
            self.online = online
            if not online:
                self.offline_since = time.monotonic()
            log.info("%s: %s", self.name, "online" if online else "offline")
        self._notify()

    def offline_for(self) -> float:
        """Seconds the device has been offline (0 while online)."""
        return 0.0 if self.online else time.monotonic() - self.offline_since

    def _notify(self) -> None:
        """Tell each facet's listener the device's status when it changed."""
        if self.acceptor_listener is not None:
            status = self.acceptor_status()
            if self._told.get("acceptor") != status:
                self._told["acceptor"] = status
                self.acceptor_listener.status_changed(status)
        if self.dispenser_listener is not None:
            paying = self.dispenser_status()
            if self._told.get("dispenser") != paying:
                self._told["dispenser"] = paying
                self.dispenser_listener.status_changed(paying)

    async def ensure_session(self) -> None:
        """With eSSP on, negotiate a key again if the session was dropped (a refused or
        untrusted packet, a lost exchange); the link does it under its lock, so the
        polling task and a payout never negotiate at once."""
        if self.options.use_encryption and not self.link.encrypted:
            await self.link.ensure_session(self.options.fixed_key())

    async def _poll_once(self) -> None:
        reply = await self.link.command(bytes((Cmd.POLL,)))
        if reply[:1] != bytes((Generic.OK,)):
            return
        try:
            events = parse_events(reply[1:])
        except ProtocolError as exc:
            log.warning("%s: poll reply: %s", self.name, exc)
            return
        self._dispatch(events)

    def _dispatch(self, events: tuple[Event, ...]) -> None:
        self.jammed = any(e.code in _JAMS for e in events)
        self.stacker_full = any(e.code is Ev.STACKER_FULL for e in events)
        self.cashbox_removed = any(e.code is Ev.CASHBOX_REMOVED for e in events)
        for event in events:
            if event.code is Ev.READ and event.channel:
                if self.escrow != event.channel:  # a note newly in escrow: hold it
                    self.escrow, self.hold = event.channel, True
                    self._last_hold = 0.0
                # else the held note reported again (after a SYNC [U]): a store under
                # way (hold off) goes on
            elif event.code in (Ev.STACKED, Ev.NOTE_STORED_IN_PAYOUT, Ev.REJECTED):
                if self.escrow is not None and not self.hold:
                    self.escrow = None
                elif event.code is Ev.REJECTED and self.escrow is not None and self.hold:
                    self.escrow, self.hold = None, False  # given back at the timeout
            for watcher in self._watchers:
                watcher.put_nowait(event)
        self._notify()

    @contextlib.asynccontextmanager
    async def watch(self) -> AsyncIterator[asyncio.Queue[Event]]:
        """The events the polling task sees while the block runs."""
        queue: asyncio.Queue[Event] = asyncio.Queue()
        self._watchers.append(queue)
        try:
            yield queue
        finally:
            self._watchers.remove(queue)

    # --- commands ----------------------------------------------------------------------

    async def _ok(self, data: bytes, what: str) -> bytes:
        reply = await self.link.command(data)
        if reply[:1] != bytes((Generic.OK,)):
            raise HardwareError(f"{self.name}: {what} refused ({reply[:1].hex() or 'empty'})")
        return reply

    async def _inhibits(self, items: frozenset[str]) -> None:
        channels = frozenset(n for n, t in self.channels.items() if t.item in items)
        await self._ok(build_set_inhibits(channels), "set inhibits")

    async def command(self, data: bytes) -> bytes:
        """One command (encrypted when the session is)."""
        return await self.link.command(data)

    def item_of(self, channel: int | None) -> str | None:
        if not channel or channel not in self.channels:
            return None
        return self.channels[channel].item

    @property
    def currency(self) -> str:
        return self.setup.country if self.setup is not None else "CNY"

    @property
    def payout_item(self) -> str:
        return f"{self.currency}:{self.options.payout_value}"

    def cashbox_unit(self) -> CashUnitInfo:
        return CashUnitInfo(
            id=CASHBOX,
            type=CashUnitType.CASH_IN,
            capacity=self.options.cashbox_capacity,
            position_name="cash box",
        )

    def payout_unit(self) -> CashUnitInfo:
        return CashUnitInfo(
            id=PAYOUT,
            type=CashUnitType.RECYCLING,
            currency=self.currency,
            value=self.options.payout_value,
            capacity=self.options.payout_capacity,
            max_per_dispense=self.options.payout_capacity,
            position_name="payout store",
        )

    def sensors(self) -> tuple[UnitSensor, ...]:
        cashbox = UnitSensor(
            CASHBOX,
            UnitStatus.MISSING if self.cashbox_removed else UnitStatus.OK,
            full=self.stacker_full,
        )
        if not self.options.payout:
            return (cashbox,)
        return cashbox, UnitSensor(PAYOUT)

    def device_state(self) -> DeviceState:
        if not self.online:
            return DeviceState.OFFLINE
        if self.jammed or self.cashbox_removed:
            return DeviceState.HARDWARE_ERROR
        return DeviceState.ONLINE

    def acceptor_status(self) -> CashAcceptorStatus:
        return CashAcceptorStatus(
            device=self.device_state(),
            escrow=StackerState.NOT_EMPTY if self.escrow is not None else StackerState.EMPTY,
            transport=TransportState.NOT_EMPTY if self.jammed else TransportState.EMPTY,
            shutter=ShutterState.NOT_SUPPORTED,
            exit_items=None,
        )

    def dispenser_status(self) -> CashDispenserStatus:
        return CashDispenserStatus(
            device=self.device_state(),
            stacker=StackerState.NOT_SUPPORTED,
            shutter=ShutterState.NOT_SUPPORTED,
            transport=TransportState.NOT_EMPTY if self.jammed else TransportState.EMPTY,
            exit_items=None,
        )


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
        await self.core._inhibits(self.core.enabled_items)

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
            await core._inhibits(limits.enabled)
            await core._ok(bytes((Cmd.ENABLE,)), "enable")
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
            if item is None or _over_amount(item, intake.limits):
                intake.own_rejects += 1
                intake.reading = True  # until its REJECTED comes
                refused.append(
                    RefuseReason.INVALID_BILL if item is None else RefuseReason.LIMIT_OVER_AMOUNT
                )
                await core._ok(bytes((Cmd.REJECT,)), "reject")
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
            await core._ok(bytes((Cmd.RESET,)), "reset")
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


async def _event(
    core: SspCore, events: asyncio.Queue[Event], timeout: float | None
) -> Event | None:
    """The next event the polling task sees, ``None`` after ``timeout`` seconds (``None``:
    no limit); `ConnectionLost` once the device has been offline longer than
    ``core.offline_limit``."""
    deadline = None if timeout is None else time.monotonic() + timeout
    step = max(0.05, min(0.5, core.offline_limit / 4))
    while True:
        wait = step if deadline is None else min(step, deadline - time.monotonic())
        if wait <= 0:
            return None
        with contextlib.suppress(TimeoutError):
            return await asyncio.wait_for(events.get(), wait)
        if core.offline_for() > core.offline_limit:
            raise ConnectionLost(
                f"{core.name}: the device has not answered for {core.offline_for():.1f} s"
            )


async def _next_event(core: SspCore, events: asyncio.Queue[Event]) -> Event:
    """The next event the polling task sees; `HalTimeout` after ``EVENT_TIMEOUT``,
    `ConnectionLost` when the device is offline too long."""
    event = await _event(core, events, EVENT_TIMEOUT)
    if event is None:
        raise HalTimeout(f"no event from the device within {EVENT_TIMEOUT} s")
    return event


async def _to_end(work: Coroutine[Any, Any, MoveReport]) -> MoveReport:
    """``work`` carried to its end through a cancellation (a note on its way cannot be
    called back); its report then carries ``Fault("canceled")`` unless it has a fault."""
    report, cancelled = await finish(work)
    if not cancelled or report.fault is not None:
        return report
    moved = sum(m.count for m in report.moves)
    return MoveReport(report.moves, Fault("canceled", f"cancelled; {moved} notes moved"))


def _unit_fault(core: SspCore) -> Fault | None:
    if core.jammed:
        return Fault("mediaJam", "the note path is jammed")
    if core.cashbox_removed:
        return Fault("cashUnitError", "the cash box is removed", unit=CASHBOX)
    if core.stacker_full:
        return Fault("cashUnitError", "the cash box is full", unit=CASHBOX)
    return None


def _over_amount(item: str, limits: CashInLimits) -> bool:
    if limits.max_amount is None:
        return False
    currency, _, value = item.partition(":")
    left = limits.max_amount.get(currency)
    return left is not None and int(value) > left.minor


async def _disable(core: SspCore) -> None:
    await core._ok(bytes((Cmd.DISABLE,)), "disable")


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
        await core._ok(data + core.currency.encode("ascii"), "set routing")
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


# --- one core per port -------------------------------------------------------------------------

_CORES: dict[str, SspCore] = {}


def _forget(core: SspCore) -> None:
    if core.key is not None and _CORES.get(core.key) is core:
        del _CORES[core.key]


def core_for(address: DeviceAddress, options: SspOptions) -> SspCore:
    """The one `SspCore` of the port ``address`` names (made on first use)."""
    key = f"{address.transport}://{address.authority}{address.path}"
    core = _CORES.get(key)
    if core is not None:
        if core.options.profile != options.profile:
            raise ConfigurationError(
                f"{key} is open as an {core.options.profile}; this address says {options.profile}"
            )
        return core
    name = f"ssp:{address.authority}{address.path}"
    core = SspCore(make_transport(address), options, name)
    core.key = key
    _CORES[key] = core
    return core


def open_ssp(address: DeviceAddress, options: SspOptions) -> Device[Any, Any]:
    """Build the (unopened) acceptor or dispenser an address names (the registry factory):
    a service over a facet of the port's one `SspCore`, keeping its books in the core's
    shared ledger (`drivers.cash.ssp_service.SharedBooks`)."""
    core = core_for(address, options)
    if options.facet == "dispenser":
        return SspDispenserService(
            SspDispenser(core), name=core.name, books=core.books, path=options.ledger
        )
    return SspAcceptorService(
        SspAcceptor(core), name=core.name, books=core.books, path=options.ledger
    )


SSP_DRIVER = DriverSpec(
    name="ssp",
    device_classes=frozenset({"cash_acceptor", "cash_dispenser"}),
    options=SspOptions,
    factory=open_ssp,
    description="ITL NV200 / NV11 bill validator and payout over SSP / eSSP (serial)",
    transports=frozenset({"serial", "memory"}),
    capabilities={
        # what the NV11 does; the NV200 all but recycling (no payout store)
        "cash_acceptor": frozenset(
            {
                "cash_in",
                "escrow",
                "rollback",
                "limit_by_items",
                "limit_by_amount",
                "recycling",
                "senses_escrow",
            }
        ),
        "cash_dispenser": frozenset({"dispense"}),
    },
    masker=SspMasker,
)
"""The ``ssp`` driver, registered through the ``tellerhal.drivers`` entry point."""
