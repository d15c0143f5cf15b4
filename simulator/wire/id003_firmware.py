"""A JCM ID-003 bill validator's firmware, simulated over the cash acceptor model.

`Id003Firmware` answers one decoded host command at a time (`handle`) and moves on at
each status poll, as a real validator does between the host's polls. The notes, the
cash box and the customer are the simulator's `CashAcceptorModel` (``id003`` profile:
escrow of one note, cash box ``cashbox``): the firmware runs the model's backend
operations in the background and reports their progress as ID-003 statuses. The link
around it (framing, faults, pacing) is `simulator.wire.id003.Id003Emulator`.

Behaviour (the validator's side of reference/protocols.md §3.5; [U] where assumed):

- power on: POWER_UP (40), or 41 when the model holds a note in its escrow (a note
  left in the acceptor), until the host sends RESET. RESET answers ACK and reports
  INITIALIZE while it runs: a note in escrow goes back to the customer (the model's
  ``rollback``) [U], then the model's ``reset`` clears a jam; the validator is left
  inhibited with every denomination enabled [U]; a FAILURE is cleared;
- inhibited (C3 01): DISABLED (1A). Enabled (C3 00) with notes in the model's input:
  the model's ``cash_in`` (one note into the escrow, limits = the C0-enabled notes)
  runs while polls answer ACCEPTING; then each note it refused is REJECTING (17 r) for
  one poll (with an ACCEPTING poll before each after the first), r = 79h (inhibit) for
  a note of the table that C0 disables, 77h (photo pattern) for any other [U]; then
  ESCROW (13 d) while the model's escrow holds it;
  nothing inserted: IDLING (11);
- STACK-1 / STACK-2 in escrow: ACK; the model's ``cash_in_end`` runs (STACKING); a note
  stored: VEND VALID until the host's ACK, then STACKED for one poll; the cash box
  full (the model's cashUnitError): STACKER FULL for one poll, the note still in
  escrow. RETURN in escrow: ACK; the model's ``rollback`` (RETURNING). HOLD and WAIT:
  ACK. STACK or RETURN with no note in escrow or while busy: INVALID COMMAND (4B) [U];
- the host's ACK gets no answer [U]; a setting command gets its echo (C3 and C0 also
  act), a setting-status request the setting, VERSION REQUEST ASCII text;
- what the model senses: a note jammed in the transport: JAM IN ACCEPTOR; the cash box
  missing: STACKER OPEN; its full sensor: STACKER FULL (when no note is in escrow);
  `fail` arms FAILURE f (until RESET). A model without power answers nothing.

[U] The model has no jam in the stacker: JAM IN STACKER is never sent here.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections import deque
from collections.abc import Mapping

from hal.device import DeviceState
from hal.devices.cash_in_model import CashAcceptorStatus, CashInLimits, CashInReport
from hal.devices.cash_model import MoveReport, TransportState, UnitStatus
from hal.events import Event
from hal.stimulus import NoteSample
from protocols.id003_messages import (
    CNY_DENOMINATIONS,
    SETTING_SIZES,
    Ack,
    Command,
    CommandCode,
    Echo,
    FailureCode,
    RejectReason,
    Reply,
    Status,
    StatusCode,
    TextReply,
    denomination_mask,
    enabled_denominations,
)
from simulator.models.cash_acceptor import CashAcceptorModel

__all__ = ["VERSION", "Id003Firmware"]

log = logging.getLogger(__name__)

#: The version text [U].
VERSION = b"ID003-SIM CNY V1.00"

_BUSY = {
    "accept": StatusCode.ACCEPTING,
    "stack": StatusCode.STACKING,
    "return": StatusCode.RETURNING,
    "reset": StatusCode.INITIALIZE,
}


class Id003Firmware:
    """The validator over ``model`` (see the module header); the emulator powers it up
    (which opens the model as its listener) and down.

    Args:
        model: the notes and the machine (an ``id003`` profile's model).
        table: denomination code -> (currency, value) of the notes it reports.
    """

    def __init__(
        self, model: CashAcceptorModel, table: Mapping[int, tuple[str, int]] | None = None
    ) -> None:
        self.model = model
        entries = CNY_DENOMINATIONS if table is None else table
        self.codes = {f"{cur}:{value}": code for code, (cur, value) in entries.items()}
        self.items = {code: item for item, code in self.codes.items()}
        self.inhibited = True
        self.enabled = set(self.items)
        self.settings: dict[int, bytes] = {
            code: bytes(size) for code, size in SETTING_SIZES.items()
        }
        self.settings[CommandCode.SET_INHIBIT] = b"\x01"
        self.settings[CommandCode.SET_DENOMINATION] = denomination_mask(self.items)
        #: Every command carried out, in order (status requests included).
        self.executed: list[Command] = []
        self._power: StatusCode | None = StatusCode.POWER_UP
        self._failure: Status | None = None
        self._script: deque[Status] = deque()
        self._vend = False
        self._op: asyncio.Task[MoveReport] | None = None
        self._op_kind = ""
        self._taken: list[NoteSample] = []
        self._tokens = itertools.count(1)

    # --- power (the emulator's PowerSwitch) ---------------------------------------------------

    async def power_up(self) -> None:
        """Open the model (this firmware is its listener); POWER UP, or 41 with a note
        left in the escrow."""
        await self.model.open(self)
        self._power_on()

    async def power_down(self) -> None:
        """Stop what runs and close the model (the notes stay where they are)."""
        op, self._op = self._op, None
        if op is not None:
            op.cancel()
            await asyncio.gather(op, return_exceptions=True)
        await self.model.close()

    def power_cycle(self) -> None:
        """The validator's power goes off and on (the model's notes stay)."""
        op, self._op = self._op, None
        if op is not None:
            op.cancel()
        self._power_on()

    def _power_on(self) -> None:
        self._script.clear()
        self._vend = False
        self.inhibited = True
        held = self.model.escrow_notes
        self._power = StatusCode.POWER_UP_BILL_IN_ACCEPTOR if held else StatusCode.POWER_UP

    def fail(self, code: FailureCode) -> None:
        """A hardware failure: FAILURE f until RESET."""
        self._failure = Status(StatusCode.FAILURE, failure=code)

    # --- the model's listener -------------------------------------------------------------------

    def event(self, event: Event) -> None:
        """The model's events (ItemsInserted): the validator has no way to say them."""

    def status_changed(self, status: CashAcceptorStatus) -> None:
        """The model's status: read at each poll instead."""

    # --- the host's commands ----------------------------------------------------------------------

    async def handle(self, command: Command) -> Reply | None:
        """The answer to one host command (``None``: none, for the host's ACK)."""
        self.executed.append(command)
        code = command.code
        if code is CommandCode.STATUS_REQUEST:
            return await self._poll()
        if code is CommandCode.ACK:
            self._vend = False
            return None
        if code is CommandCode.RESET:
            self._start("reset")
            return Ack()
        if code in (CommandCode.STACK_1, CommandCode.STACK_2, CommandCode.RETURN):
            if not self._can_move():
                return Status(StatusCode.INVALID_COMMAND)
            self._start("return" if code is CommandCode.RETURN else "stack")
            return Ack()
        if code in (CommandCode.HOLD, CommandCode.WAIT):
            return Ack()
        if code in SETTING_SIZES:
            self.settings[code] = command.data
            if code is CommandCode.SET_INHIBIT:
                self.inhibited = command.data != b"\x00"
            elif code is CommandCode.SET_DENOMINATION:
                self.enabled = set(enabled_denominations(command.data))
            return Echo(code, command.data)
        if code + 0x40 in SETTING_SIZES:
            return Echo(code, self.settings[code + 0x40])
        if code in (CommandCode.VERSION_REQUEST, CommandCode.BOOT_VERSION_REQUEST):
            return TextReply(code, VERSION)
        return Status(StatusCode.INVALID_COMMAND)

    def _can_move(self) -> bool:
        return (
            self._power is None
            and self._op is None
            and not self._script
            and not self._vend
            and bool(self.model.escrow_notes)
        )

    # --- the model's operations, in the background -----------------------------------------------

    def _start(self, kind: str) -> None:
        if self._op is not None and not self._op.done():
            return  # [U] a command while busy is taken and does nothing more
        self._op_kind = kind
        if kind == "reset":
            self._script.clear()
            self._vend = False
            self._failure = None
            self._power = None
            self.inhibited = True
            self.enabled = set(self.items)
        self._op = asyncio.get_running_loop().create_task(
            self._run(kind), name=f"id003 firmware {kind}"
        )

    async def _run(self, kind: str) -> MoveReport:
        model = self.model
        if kind == "accept":
            self._taken = list(model.input_notes)
            enabled = frozenset(self.items[c] for c in self.enabled if c in self.items)
            return await model.cash_in(CashInLimits(max_items=1, enabled=enabled), self._token())
        if kind == "stack":
            return await model.cash_in_end(False, self._token())
        if kind == "return":
            return await model.rollback(self._token())
        if model.escrow_notes:  # reset: a note held goes back first [U]
            await model.rollback(self._token())
        return await model.reset(self._token())

    def _token(self) -> int:
        return next(self._tokens)

    def _ended(self, report: MoveReport) -> None:
        """Queue the statuses an operation's end shows."""
        kind = self._op_kind
        if kind == "accept" and isinstance(report, CashInReport):
            for n, _reason in enumerate(report.refused):
                sample = self._taken[n] if n < len(self._taken) else None
                code = self.codes.get(sample.item) if sample is not None else None
                fit = sample is not None and sample.level in ("fit", "unfit")
                disabled = code is not None and code not in self.enabled
                why = RejectReason.INHIBIT if disabled and fit else RejectReason.PHOTO_PATTERN
                if n:  # the next note of the bunch is taken in before it is rejected
                    self._script.append(Status(StatusCode.ACCEPTING))
                self._script.append(Status(StatusCode.REJECTING, reason=why))
        elif kind == "stack":
            if report.moves:
                self._vend = True
                self._script.append(Status(StatusCode.STACKED))
            elif report.fault is not None and report.fault.error_code == "cashUnitError":
                self._script.append(Status(StatusCode.STACKER_FULL))
        if report.fault is not None:
            log.info("id003 firmware: %s ended with %s", kind, report.fault.error_code)

    # --- one poll ---------------------------------------------------------------------------------

    async def _poll(self) -> Status:
        if self._power is not None:
            return Status(self._power)
        if self._op is not None:
            if not self._op.done():
                return Status(_BUSY[self._op_kind])
            op, self._op = self._op, None
            try:
                self._ended(op.result())
            except Exception as exc:  # the model refused: nothing moved
                log.info("id003 firmware: %s failed: %r", self._op_kind, exc)
        if self._vend:
            return Status(StatusCode.VEND_VALID)
        if self._script:
            return self._script.popleft()
        if self._failure is not None:
            return self._failure
        status = await self.model.get_status()
        if status.device is DeviceState.HARDWARE_ERROR or status.transport not in (
            TransportState.EMPTY,
        ):
            return Status(StatusCode.JAM_IN_ACCEPTOR)
        sensors = {s.id: s for s in await self.model.sensors()}
        cashbox = sensors.get("cashbox")
        if cashbox is not None and cashbox.status is UnitStatus.MISSING:
            return Status(StatusCode.STACKER_OPEN)
        held = self.model.escrow_notes
        if held:
            return Status(StatusCode.ESCROW, denomination=self.codes.get(held[0].item, 0x7F))
        if cashbox is not None and cashbox.full:
            return Status(StatusCode.STACKER_FULL)
        if self.inhibited:
            return Status(StatusCode.DISABLED)
        if self.model.input_notes:
            self._start("accept")
            return Status(StatusCode.ACCEPTING)
        return Status(StatusCode.IDLING)
