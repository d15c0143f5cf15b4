"""The device core of the ``ssp`` driver (`drivers.cash.ssp`): one `SspCore` per port,
shared by the acceptor (`drivers.cash.ssp_acceptor`) and dispenser
(`drivers.cash.ssp_dispenser`) facets, and the helpers both wait on events with.

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

Neither the fixed nor the negotiated key is ever logged, raised or shown.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Coroutine
from typing import Any

from drivers.cash.ssp_link import EsspRefused, SspLink
from drivers.cash.ssp_options import SspOptions
from drivers.cash.ssp_service import SharedBooks
from hal.device import BackendListener, DeviceState, finish
from hal.devices.cash_in_model import CashAcceptorStatus, NoteType
from hal.devices.cash_model import (
    CashDispenserStatus,
    CashUnitInfo,
    CashUnitType,
    Fault,
    MoveReport,
    ShutterState,
    StackerState,
    TransportState,
    UnitSensor,
    UnitStatus,
)
from hal.errors import ConnectionLost, HalError, HalTimeout, HardwareError
from hal.transports.base import Transport
from protocols.errors import ProtocolError
from protocols.ssp_commands import Cmd, Generic, Setup, build_set_inhibits, parse_setup
from protocols.ssp_events import Ev, Event, parse_events

log = logging.getLogger("drivers.cash.ssp")  # the driver's logger (one for its modules)

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
            await self.command_ok(bytes((Cmd.HOST_PROTOCOL_VERSION, 6)), "host protocol version")
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
            await self.set_inhibits(self.enabled_items)
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

    async def command_ok(self, data: bytes, what: str) -> bytes:
        """One command that must be answered OK; returns the reply.

        Raises:
            HardwareError: another answer (``what`` names the command).
        """
        reply = await self.link.command(data)
        if reply[:1] != bytes((Generic.OK,)):
            raise HardwareError(f"{self.name}: {what} refused ({reply[:1].hex() or 'empty'})")
        return reply

    async def set_inhibits(self, items: frozenset[str]) -> None:
        """Enable the channels of ``items`` and inhibit the others."""
        channels = frozenset(n for n, t in self.channels.items() if t.item in items)
        await self.command_ok(build_set_inhibits(channels), "set inhibits")

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


# --- one core per port -------------------------------------------------------------------------

_CORES: dict[str, SspCore] = {}


def _forget(core: SspCore) -> None:
    if core.key is not None and _CORES.get(core.key) is core:
        del _CORES[core.key]
