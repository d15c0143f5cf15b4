"""The firmware of the simulated ITL validator (`simulator.wire.ssp.SspEmulator`): what
an NV200 or NV11 does with each SSP command, carried out on the shared cash acceptor
model (`simulator.models.cash_acceptor.CashAcceptorModel`, profile ``nv200`` or
``nv11``), which knows where every note is.

The channels are the model's note types in order (channel n = the n-th; value = minor
units / 100, real value multiplier 100). The note flow (reference/protocols.md §3.6,
GA138; [U] where marked):

- ENABLE starts an intake: the model's ``cash_in`` for one note (the escrow holds one)
  of the channels the inhibits enable. What it reports comes out at the next POLL: a
  note in escrow -> READ 0 then READ ch; a refused note -> READ 0, REJECTING, REJECTED;
  a jam -> UNSAFE JAM ch (on every POLL until the transport is clear). DISABLE stops an
  intake under way; a note already in escrow stays there [U];
- a note in escrow whose READ the host has seen: POLL stores it (the model's
  ``cash_in_end``: CREDIT ch, STACKING ch, then STACKED, or NOTE STORED IN PAYOUT when
  the NV11 put it in its payout unit; a full cash box -> STACKER FULL, it stays in
  escrow), HOLD keeps it, REJECT gives it back (the model's ``rollback``: REJECTING,
  REJECTED). With no HOLD for ``escrow_timeout`` seconds it is given back [U: the
  guide says a hold lasts about 5 s];
- [U] after a SYNC a note still in escrow is reported again (READ ch) before a POLL
  stores it, so a host that reconnects learns what it holds;
- the cash box missing (model status) -> CASHBOX REMOVED, full (its full sensor) ->
  STACKER FULL, on every POLL; no note is taken meanwhile;
- disabled: DISABLED in each POLL reply;
- NV11 payout (the emulator lets these through encrypted only): PAYOUT BY
  DENOMINATION and PAYOUT AMOUNT of the payout unit's value pay its notes out (the
  model's dispenser side: ``payout -> customer``; DISPENSING, DISPENSED); SET ROUTING
  (3B: route byte, 0 payout / 1 cash box, value 4 bytes LE, currency) chooses whether
  the next stored note of that value may go to the payout unit [U: layout].
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
import time
from collections.abc import Callable

from hal.devices.cash_in_model import ESCROW, CashInLimits, CashInReport
from hal.devices.cash_model import CUSTOMER, TRANSPORT, MoveReport, UnitStatus
from protocols.errors import ProtocolError
from protocols.ssp_commands import (
    Cmd,
    Generic,
    PayoutError,
    Setup,
    encode_setup,
    parse_payout_amount,
    parse_payout_by_denomination,
    parse_set_inhibits,
)
from protocols.ssp_events import Ev, Event, encode_events
from simulator.models.cash_acceptor import CashAcceptorModel

__all__ = ["SET_ROUTING", "SspFirmware"]

#: SET ROUTING (NV11 / SMART Payout) [U: not in the reference's table].
SET_ROUTING = 0x3B
OK = bytes((Generic.OK,))
_REAL_MULTIPLIER = 100
#: Unit types of the setup reply [U: as GA138 lists them].
_UNIT_TYPES = {"nv200": 0, "nv11": 7}


class _Listener:
    """The firmware listens to its model (nothing to forward: SSP reports by POLL)."""

    def event(self, event: object) -> None:
        """Events reach the host as poll events instead."""

    def status_changed(self, status: object) -> None:
        """Status reaches the host as poll events instead."""


class SspFirmware:
    """Carries SSP commands out on a `CashAcceptorModel` (see the module header).

    Args:
        model: the validator's notes and mechanism (profile ``nv200`` or ``nv11``).
        escrow_timeout: real seconds a note stays in escrow without a HOLD.
        clock: the time source of that timeout.

    Attributes:
        reading_polls: POLLs after a note reached the escrow that still report it being
            read (READ 0) before READ ch (0: the first POLL tells its channel; a real
            device reads for a few hundred ms).
    """

    def __init__(
        self,
        model: CashAcceptorModel,
        *,
        escrow_timeout: float = 5.0,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.model = model
        self.escrow_timeout = escrow_timeout
        self._now = clock or time.monotonic
        types = model.note_types()
        self.items = tuple(t.item for t in types)
        self.currency = types[0].currency if types else "CNY"
        self.payout_unit = next(
            (u for u in model.units() if u.type.value == "recycling" and u.currency), None
        )
        self.enabled = False
        self.inhibits: frozenset[int] = frozenset()
        self.route_payout = True
        self.acted: list[int] = []
        self._events: list[Event] = [Event(Ev.SLAVE_RESET)]
        self._escrow_reported = False
        self.reading_polls = 0
        self._reading = 0
        self._deadline = 0.0
        self._intake: asyncio.Task[CashInReport] | None = None
        self._token = 0
        self.protocol = 0

    # --- power (the emulator's) ---------------------------------------------------------

    async def power_up(self) -> None:
        """Open the model (the firmware is its listener)."""
        await self.model.open(_Listener())

    async def power_down(self) -> None:
        """Stop an intake and close the model (a note in escrow stays there)."""
        await self._stop_intake()
        await self.model.close()

    # --- what the tests look at -----------------------------------------------------------

    def ground_truth(self) -> dict[str, int]:
        """The model's notes by location."""
        return self.model.ground_truth()

    def channel_of(self, item: str) -> int | None:
        return self.items.index(item) + 1 if item in self.items else None

    def setup(self) -> Setup:
        values = tuple(int(i.split(":")[1]) // _REAL_MULTIPLIER for i in self.items)
        n = len(values)
        return Setup(
            unit_type=_UNIT_TYPES.get(self.model.profile.name, 0),
            firmware="0436",
            country=self.currency,
            multiplier=1,
            values=tuple(min(v, 255) for v in values),
            securities=(2,) * n,
            real_multiplier=_REAL_MULTIPLIER,
            protocol=6,
            currencies=(self.currency,) * n,
            expanded=values,
        )

    # --- the commands ----------------------------------------------------------------------

    def synced(self) -> None:
        """A SYNC came: a note held in escrow is reported again."""
        self._escrow_reported = False

    async def execute(self, data: bytes) -> bytes:
        """The reply DATA to the command ``data`` (code and parameters)."""
        code = data[0]
        await self._tick()
        handler = _HANDLERS.get(code)
        if handler is None:
            return bytes((Generic.UNKNOWN_COMMAND,))
        try:
            reply = await handler(self, data[1:])
        except ProtocolError:
            return bytes((Generic.WRONG_PARAMETERS,))
        if reply[:1] == OK:
            self.acted.append(code)
        return reply

    async def _reset(self, params: bytes) -> bytes:
        """RESET: the device restarts: disabled, the model's reset clears its transport
        and escrow (to the cash box), SLAVE RESET at the next POLL [U: no reboot time]."""
        self.enabled = False
        await self._stop_intake()
        await self.model.reset(self._next_token())
        self._escrow_reported = False
        self._events = [Event(Ev.SLAVE_RESET)]
        return OK

    async def _sync(self, params: bytes) -> bytes:
        self.synced()
        return OK

    async def _setup(self, params: bytes) -> bytes:
        return OK + encode_setup(self.setup())

    async def _protocol(self, params: bytes) -> bytes:
        if len(params) != 1:
            return bytes((Generic.WRONG_PARAMETERS,))
        if params[0] > 6:
            return bytes((Generic.FAIL,))
        self.protocol = params[0]
        return OK

    async def _inhibits(self, params: bytes) -> bytes:
        self.inhibits = parse_set_inhibits(bytes((Cmd.SET_INHIBITS,)) + params)
        return OK

    async def _enable(self, params: bytes) -> bytes:
        self.enabled = True
        await self._start_intake()
        return OK

    async def _disable(self, params: bytes) -> bytes:
        self.enabled = False
        await self._stop_intake()
        return OK

    async def _hold(self, params: bytes) -> bytes:
        if not self._in_escrow():
            return bytes((Generic.CANNOT_PROCESS,))
        self._deadline = self._now() + self.escrow_timeout
        return OK

    async def _reject(self, params: bytes) -> bytes:
        if not self._in_escrow():
            return bytes((Generic.CANNOT_PROCESS,))
        await self._give_back()
        return OK

    async def _poll(self, params: bytes) -> bytes:
        if self._in_escrow() and self._escrow_reported:
            await self._store()
        if self._in_escrow() and not self._escrow_reported and self._reading:
            self._reading -= 1
            if not any(e.code is Ev.READ for e in self._events):
                self._events.append(Event(Ev.READ, 0))
        elif self._in_escrow() and not self._escrow_reported:
            channel = self._escrow_channel()
            if channel:
                self._escrow_reported = True
                self._deadline = self._now() + self.escrow_timeout
                self._events.append(Event(Ev.READ, channel))
        sensors = {s.id: s for s in await self.model.sensors()}
        cashbox = next((s for s in sensors.values() if s.id != self._payout_id()), None)
        if self.model.notes_at(TRANSPORT):
            jammed = self.model.ground_truth_items().get(TRANSPORT, {})
            channel = next((self.channel_of(i) or 0 for i in jammed), 0)
            self._events.append(Event(Ev.UNSAFE_JAM, channel))
        elif cashbox is not None and cashbox.status is UnitStatus.MISSING:
            self._events.append(Event(Ev.CASHBOX_REMOVED))
        elif cashbox is not None and cashbox.full:
            self._events.append(Event(Ev.STACKER_FULL))
        if not self.enabled:
            self._events.append(Event(Ev.DISABLED))
        else:
            await self._start_intake()
        events, self._events = self._events, []
        return OK + encode_events(events)

    async def _set_routing(self, params: bytes) -> bytes:
        if len(params) != 8 or params[0] not in (0, 1):
            return bytes((Generic.WRONG_PARAMETERS,))
        (value,) = struct.unpack_from("<I", params, 1)
        if self.payout_unit is None or value != self.payout_unit.value:
            return bytes((Generic.PARAMETER_OUT_OF_RANGE,))
        self.route_payout = params[0] == 0
        return OK

    async def _payout_denomination(self, params: bytes) -> bytes:
        unit = self.payout_unit
        if unit is None:
            return bytes((Generic.UNKNOWN_COMMAND,))
        notes, test = parse_payout_by_denomination(bytes((Cmd.PAYOUT_BY_DENOMINATION,)) + params)
        wanted = 0
        for (currency, value), count in notes.items():
            if not count:
                continue
            if (currency, value) != (unit.currency, unit.value):
                return bytes((Generic.CANNOT_PROCESS, PayoutError.CANNOT_PAY_EXACT))
            wanted += count
        return await self._pay(wanted, test)

    async def _payout_amount(self, params: bytes) -> bytes:
        unit = self.payout_unit
        if unit is None:
            return bytes((Generic.UNKNOWN_COMMAND,))
        currency, value, test = parse_payout_amount(bytes((Cmd.PAYOUT_AMOUNT,)) + params)
        if currency != unit.currency or value % unit.value:
            return bytes((Generic.CANNOT_PROCESS, PayoutError.CANNOT_PAY_EXACT))
        return await self._pay(value // unit.value, test)

    async def _pay(self, notes: int, test: bool) -> bytes:
        unit = self.payout_unit
        assert unit is not None
        if self._in_escrow() or self._intake is not None or self.model.notes_at(TRANSPORT):
            return bytes((Generic.CANNOT_PROCESS, PayoutError.BUSY))
        if notes <= 0 or notes > self.model.notes_at(unit.id):
            return bytes((Generic.CANNOT_PROCESS, PayoutError.NOT_ENOUGH_VALUE))
        if test:
            return OK
        report = await self.model.dispenser().dispense({unit.id: notes}, self._next_token())
        paid = report.total(unit.id, CUSTOMER)
        amount = ((paid * unit.value, unit.currency or self.currency),)
        self._events.append(Event(Ev.DISPENSING, values=amount))
        if report.fault is not None:
            self._events.append(Event(Ev.PAYOUT_ERROR))
        if paid:
            self._events.append(Event(Ev.DISPENSED, values=amount))
        return OK

    # --- the mechanism ------------------------------------------------------------------

    def _next_token(self) -> int:
        self._token += 1
        return self._token

    def _payout_id(self) -> str | None:
        return None if self.payout_unit is None else self.payout_unit.id

    def _in_escrow(self) -> bool:
        return self.model.notes_at(ESCROW) > 0

    def _escrow_channel(self) -> int | None:
        notes = self.model.escrow_notes
        return self.channel_of(notes[0].item) if notes else None

    async def _tick(self) -> None:
        intake = self._intake
        if intake is not None and intake.done():
            self._intake = None
            self._report_intake(intake.result())
        if self._in_escrow() and self._escrow_reported and self._now() > self._deadline:
            await self._give_back()

    async def _start_intake(self) -> None:
        if self._intake is not None or self._in_escrow() or not self.enabled:
            return
        if self.model.notes_at(TRANSPORT) or not self.model.input_notes:
            return
        for sensor in await self.model.sensors():
            if sensor.id != self._payout_id() and (
                sensor.status is UnitStatus.MISSING or sensor.full
            ):
                return
        enabled = frozenset(self.items[n - 1] for n in self.inhibits if n <= len(self.items))
        limits = CashInLimits(max_items=1, enabled=enabled)
        self._intake = asyncio.get_running_loop().create_task(
            self.model.cash_in(limits, self._next_token()), name="ssp firmware intake"
        )

    async def _stop_intake(self) -> None:
        intake, self._intake = self._intake, None
        if intake is None:
            return
        intake.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            report = await intake
            self._report_intake(report)

    def _report_intake(self, report: CashInReport) -> None:
        for _ in report.refused:
            self._events += [Event(Ev.READ, 0), Event(Ev.REJECTING), Event(Ev.REJECTED)]
        if report.total(CUSTOMER, ESCROW):
            self._events.append(Event(Ev.READ, 0))
            self._escrow_reported = False
            self._reading = self.reading_polls

    async def _store(self) -> None:
        channel = self._escrow_channel() or 0
        payout = self._payout_id()
        report: MoveReport = await self.model.cash_in_end(self.route_payout, self._next_token())
        if payout is not None and report.total(ESCROW, payout):
            self._events += [
                Event(Ev.CREDIT, channel),
                Event(Ev.STACKING, channel),
                Event(Ev.NOTE_STORED_IN_PAYOUT),
            ]
        elif report.total(ESCROW):
            self._events += [Event(Ev.CREDIT, channel), Event(Ev.STACKING, channel)]
            self._events.append(Event(Ev.STACKED))
        # else: a full cash box: the note stays; STACKER FULL comes with this POLL
        self.route_payout = True

    async def _give_back(self) -> None:
        await self.model.rollback(self._next_token())
        self._escrow_reported = False
        self._events += [Event(Ev.REJECTING), Event(Ev.REJECTED)]


_HANDLERS = {
    Cmd.SYNC: SspFirmware._sync,
    Cmd.RESET: SspFirmware._reset,
    Cmd.SETUP_REQUEST: SspFirmware._setup,
    Cmd.HOST_PROTOCOL_VERSION: SspFirmware._protocol,
    Cmd.SET_INHIBITS: SspFirmware._inhibits,
    Cmd.ENABLE: SspFirmware._enable,
    Cmd.DISABLE: SspFirmware._disable,
    Cmd.HOLD: SspFirmware._hold,
    Cmd.REJECT: SspFirmware._reject,
    Cmd.POLL: SspFirmware._poll,
    SET_ROUTING: SspFirmware._set_routing,
    Cmd.PAYOUT_BY_DENOMINATION: SspFirmware._payout_denomination,
    Cmd.PAYOUT_AMOUNT: SspFirmware._payout_amount,
}
