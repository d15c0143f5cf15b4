"""The ID-003 validator's device side, all but the cash-in (`drivers.cash.id003`):
`Id003Core`, the base of `drivers.cash.id003_cash_in.Id003Driver`: open and close,
status, settings, the operations on the note in escrow, reset.

- configure(enabled): C0 with the codes of the enabled notes (the others inhibited).
- cash_in_end: STACK-1 -> STACKING -> VEND VALID (the host ACKs it; the note counts as
  in the cash box from then) -> STACKED: an ``escrow -> cashbox`` move.
- rollback: RETURN -> RETURNING -> idle: ``escrow -> customer``.
- reset: RESET -> INITIALIZE -> idle; the validator gives a note in its escrow back
  [U]: ``escrow -> customer``; the settings (C0, inhibit) are sent again.
- status, sensors, contents from a status request: ESCROW d -> escrow ``{item: 1}``;
  POWER UP WITH BILL (41/42) -> escrow not known until a reset; STACKER FULL / OPEN ->
  the cash box full / missing; JAM IN ACCEPTOR / STACKER, FAILURE f -> a `Fault`
  (``mediaJam`` / ``hardwareError``) in the report of the operation that met it and
  ``hardwareError`` device state.

Operation commands (stack, return, reset) are not resent blindly: when the answer is
lost the driver asks the status; while it still says ESCROW of the same note the
command is sent again (bounded), else the validator took it. So no note is stacked
twice, and nothing waits for ever: every wait is bounded by ``note_timeout``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from drivers.cash.id003_link import Id003Link
from drivers.cash.id003_options import Id003Options
from hal.device import BackendListener, DeviceState, finish
from hal.devices.cash_in_model import (
    BILL_VALIDATOR,
    CUSTOMER,
    ESCROW,
    TRANSPORT,
    CashAcceptorCapabilities,
    CashAcceptorStatus,
    CashInContents,
    NoteReaderState,
    NoteType,
)
from hal.devices.cash_model import (
    CashUnitInfo,
    CashUnitType,
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
from hal.errors import HalError, InvalidData, UnsupportedOperation
from hal.transports.base import Transport
from protocols.id003_messages import (
    Ack,
    Command,
    CommandCode,
    Echo,
    FailureCode,
    Status,
    StatusCode,
)

log = logging.getLogger("drivers.cash.id003")  # the driver's logger (one for its modules)
T = TypeVar("T")

#: The cash box's unit id.
CASHBOX = "cashbox"

_S = StatusCode
#: Statuses after which the validator needs a RESET before it takes notes again.
_POWER = frozenset({_S.POWER_UP, _S.POWER_UP_BILL_IN_ACCEPTOR, _S.POWER_UP_BILL_IN_STACKER})
_JAMS = frozenset({_S.JAM_IN_ACCEPTOR, _S.JAM_IN_STACKER})
_IDLE = frozenset({_S.IDLING, _S.DISABLED})
_SENSORS = frozenset(
    {FailureCode.OPTICAL_SENSOR, FailureCode.MAGNETIC_SENSOR, FailureCode.HEAD_REMOVED}
)


def _fault(status: Status) -> Fault | None:
    """The `Fault` a status stands for (``None``: not a fault)."""
    code = status.code
    if code is _S.JAM_IN_ACCEPTOR:
        return Fault("mediaJam", "jam in the acceptor")
    if code is _S.JAM_IN_STACKER:
        return Fault("mediaJam", "jam in the stacker", unit=CASHBOX)
    if code is _S.FAILURE:
        return Fault("hardwareError", f"failure: {status.meaning}")
    if code is _S.STACKER_FULL:
        return Fault("cashUnitError", "the cash box is full", unit=CASHBOX)
    if code is _S.STACKER_OPEN:
        return Fault("cashUnitError", "the cash box is out (stacker open)", unit=CASHBOX)
    if code is _S.CHEATED:
        return Fault("hardwareError", "the validator reports cheating")
    if code in _POWER:
        return Fault("hardwareError", f"{status.meaning}: the validator needs a reset")
    return None


class Id003Core:
    """An ID-003 validator behind a `hal.transports.base.Transport`, all but the
    cash-in (see the module header); `Id003Driver` adds it. Built by
    `Id003Driver.__init__`'s arguments."""

    def __init__(
        self, transport: Transport, options: Id003Options | None = None, *, name: str = ""
    ) -> None:
        self.options = options if options is not None else Id003Options()
        self.name = name or f"id003 {transport.name}"
        self.link = Id003Link(
            transport,
            name=self.name,
            retries=self.options.retries,
            reply_timeout=self.options.reply_timeout,
        )
        self._items = self.options.table()
        self._values = self.options.note_values()
        self._enabled = frozenset(self._items.values())
        self._listener: BackendListener[CashAcceptorStatus] | None = None
        self._last: CashAcceptorStatus | None = None
        self.last_status: Status | None = None
        self.version = ""
        #: The status the validator answered at open (41 / 42: a note was left in it).
        self.power_up: StatusCode | None = None
        #: The item of a note jammed in the transport (``*``: not known), until a reset.
        self._in_transport: str | None = None

    # --- lifecycle ------------------------------------------------------------------------

    async def open(self, listener: BackendListener[CashAcceptorStatus]) -> None:
        """Open the port, ask the status; a plain POWER UP is reset and configured. A
        power up with a note in the acceptor or stacker (41/42) is logged and kept for
        the service's `reset` (it is in the status and in `contents`)."""
        await self.link.open()
        try:
            status = await self._status()
            self.power_up = status.code if status.code in _POWER else None
            if status.code is _S.POWER_UP:
                await self._reset_device()
            elif status.code in _POWER:
                log.warning("%s: %s at open: reset it to clear", self.name, status.meaning)
            else:
                await self._ack_vend(status)
                await self._settings()
            try:
                reply = await self.link.exchange(Command(CommandCode.VERSION_REQUEST))
                data = getattr(reply, "data", b"")
                self.version = data.decode("ascii", "replace") if isinstance(data, bytes) else ""
            except HalError as exc:
                log.info("%s: no version: %s", self.name, exc.message)
        except BaseException:
            await self.link.close()
            raise
        self._listener = listener

    async def close(self) -> None:
        """Close the port (a note in escrow stays held by the validator)."""
        self._listener = None
        await self.link.close()

    def capabilities(self) -> CashAcceptorCapabilities:
        return BILL_VALIDATOR

    def units(self) -> tuple[CashUnitInfo, ...]:
        capacity = self.options.capacity or None
        return (
            CashUnitInfo(
                id=CASHBOX, type=CashUnitType.CASH_IN, capacity=capacity, position_name="cash box"
            ),
        )

    def note_types(self) -> tuple[NoteType, ...]:
        return tuple(
            NoteType(currency, value, enabled=self._items[code] in self._enabled)
            for code, (currency, value) in sorted(self._values.items())
        )

    async def configure(self, enabled: frozenset[str]) -> None:
        """C0 with the codes of ``enabled`` (items the table does not have: InvalidData)."""
        unknown = set(enabled) - set(self._items.values())
        if unknown:
            raise InvalidData(f"{self.name}: not in the denomination table: {sorted(unknown)}")
        self._enabled = frozenset(enabled)
        await self._setting(
            Command.denominations(c for c, item in self._items.items() if item in self._enabled)
        )

    async def exchange(self, active: bool) -> None:
        """Nothing to unlock: the cash box is not locked by the validator."""

    async def operation(self, token: int) -> OperationRecord | None:
        """The validator does not number or remember operations."""
        return None

    # --- status ------------------------------------------------------------------------------

    async def get_status(self) -> CashAcceptorStatus:
        return self._acceptor_status(await self._status())

    async def sensors(self) -> tuple[UnitSensor, ...]:
        status = await self._status()
        missing = status.code is _S.STACKER_OPEN
        return (
            UnitSensor(
                CASHBOX,
                status=UnitStatus.MISSING if missing else UnitStatus.OK,
                full=status.code is _S.STACKER_FULL,
            ),
        )

    async def contents(self) -> CashInContents:
        """From the status: ESCROW d -> ``{item: 1}`` (an unknown code or a power up
        with a note: ``None``, cannot tell); a jam -> transport not known."""
        status = await self._status()
        escrow: dict[str, int] | None = {}
        if status.code is _S.ESCROW:
            item = self._items.get(status.denomination or 0)
            escrow = {item: 1} if item is not None else None
        elif status.code in (_S.POWER_UP_BILL_IN_ACCEPTOR, _S.POWER_UP_BILL_IN_STACKER):
            escrow = None
        transport = None if status.code in _JAMS else 0
        return CashInContents(escrow=escrow, transport=transport, exit=0, taken=None)

    def _acceptor_status(self, status: Status) -> CashAcceptorStatus:
        code = status.code
        device = DeviceState.ONLINE
        if code in _JAMS or code is _S.FAILURE or code in _POWER - {_S.POWER_UP}:
            device = DeviceState.HARDWARE_ERROR
        elif code is _S.CHEATED:
            device = DeviceState.FRAUD_ATTEMPT
        escrow = StackerState.EMPTY
        if code is _S.ESCROW:
            escrow = StackerState.NOT_EMPTY
        elif code in (_S.POWER_UP_BILL_IN_ACCEPTOR, _S.POWER_UP_BILL_IN_STACKER):
            escrow = StackerState.NOT_EMPTY_UNKNOWN
        reader = NoteReaderState.OK
        if code is _S.FAILURE and status.failure in _SENSORS:
            reader = NoteReaderState.INOPERABLE
        return CashAcceptorStatus(
            device=device,
            escrow=escrow,
            note_reader=reader,
            transport=TransportState.NOT_EMPTY if code in _JAMS else TransportState.EMPTY,
            shutter=ShutterState.NOT_SUPPORTED,
            exit_items=None,
        )

    async def _status(self) -> Status:
        reply = await self.link.exchange(Command(CommandCode.STATUS_REQUEST))
        if not isinstance(reply, Status):
            raise HalError(f"{self.name}: a status request answered {reply.meaning}")
        self.last_status = reply
        derived = self._acceptor_status(reply)
        if derived != self._last:
            self._last = derived
            if self._listener is not None:
                self._listener.status_changed(derived)
        return reply

    # --- settings ----------------------------------------------------------------------------

    async def _setting(self, command: Command) -> None:
        reply = await self.link.exchange(command)
        if reply != Echo(command.code, command.data):
            raise HalError(f"{self.name}: {command.meaning} answered {reply.meaning}")

    async def _settings(self) -> None:
        await self._setting(
            Command.denominations(c for c, item in self._items.items() if item in self._enabled)
        )
        await self._setting(Command.inhibit(True))

    async def _inhibit(self) -> None:
        """C3 01, through a cancellation (the validator must not go on taking notes)."""
        try:
            await finish(self._setting(Command.inhibit(True)))
        except HalError as exc:
            log.warning("%s: could not inhibit: %s", self.name, exc.message)

    # --- operations on the note in escrow ----------------------------------------------------

    async def _operate(self, command: Command, item_code: int) -> Fault | None:
        """Send an operation command for the note ``item_code`` in escrow until the
        validator takes it (``None``), or say why not (a `Fault`; the note is still in
        escrow).

        A lost or garbled answer is settled by the status: still ESCROW of that note ->
        send again (at most ``retries`` more times); anything else -> taken. INVALID
        COMMAND after such a send means the first one was taken (the validator is busy
        with it); at the first send it means there is no note to act on.
        """
        unsure = False
        for _ in range(self.options.retries + 1):
            try:
                reply = await self.link.exchange(command, resend=False)
            except HalError as exc:
                log.info("%s: %s: %s; asking the status", self.name, command.meaning, exc.message)
                status = await self._status()
                if status.code is _S.ESCROW and status.denomination == item_code:
                    unsure = True
                    continue
                return None
            if isinstance(reply, Ack):
                return None
            if isinstance(reply, Status) and reply.code is _S.INVALID_COMMAND:
                if unsure:
                    return None
                return Fault("hardwareError", f"the validator refused {command.meaning}")
            return Fault("hardwareError", f"{command.meaning} answered {reply.meaning}")
        return Fault("hardwareError", f"the validator never took {command.meaning}")

    async def _ack_vend(self, status: Status) -> None:
        """A VEND VALID outside a stack of ours (a host that stopped mid-stack): the
        note is in the cash box; the validator repeats it until the host's ACK."""
        if status.code is _S.VEND_VALID:
            log.warning("%s: VEND VALID of a stack nobody waited for: acknowledged", self.name)
            await self.link.send_ack()

    async def _escrow_note(self) -> tuple[Status, str | None]:
        status = await self._status()
        if status.code is not _S.ESCROW:
            return status, None
        return status, self._items.get(status.denomination or 0, "*")

    async def cash_in_end(self, use_recycle_units: bool, token: int) -> MoveReport:
        """STACK-1 the note in escrow (see the module header)."""
        report, cancelled = await finish(self._stack())
        return _cancelled(report) if cancelled else report

    async def _stack(self) -> MoveReport:
        status, item = await self._escrow_note()
        if item is None:
            return MoveReport(fault=_fault(status))
        refused = await self._operate(Command(CommandCode.STACK_1), status.denomination or 0)
        if refused is not None:
            return MoveReport(fault=refused)
        stored = Move(ESCROW, CASHBOX, item, 1)
        vend = False

        def ended(status: Status) -> MoveReport | None:
            nonlocal vend
            code = status.code
            if code is _S.VEND_VALID:
                vend = True
                return None
            if code in (_S.STACKING, _S.PAUSE, _S.ESCROW):
                return None
            if code is _S.STACKED or code in _IDLE:
                if vend:
                    return MoveReport((stored,))
                return MoveReport(
                    uncertain=(stored,),
                    fault=Fault("hardwareError", "the note left the escrow without VEND VALID"),
                )
            fault = _fault(status) or Fault("hardwareError", f"stacking: {status.meaning}")
            if vend:
                return MoveReport((stored,), None if code is _S.STACKER_FULL else fault)
            if code is _S.JAM_IN_STACKER:
                self._in_transport = item
                return MoveReport((Move(ESCROW, TRANSPORT, item, 1),), fault)
            return MoveReport(fault=fault)

        async def on_status(status: Status) -> None:
            if status.code is _S.VEND_VALID:
                await self.link.send_ack()

        report = await self._until(ended, on_status)
        if report is None:
            if vend:
                return MoveReport((stored,))
            return MoveReport(
                uncertain=(stored,), fault=Fault("hardwareError", "stacking did not end in time")
            )
        return report

    async def rollback(self, token: int) -> MoveReport:
        """RETURN the note in escrow: ``escrow -> customer``."""
        status, item = await self._escrow_note()
        if item is None:
            return MoveReport(fault=_fault(status))
        report, cancelled = await finish(self._give_back(item, status.denomination))
        return _cancelled(report) if cancelled else report

    async def _give_back(self, item: str, code: int | None = None) -> MoveReport:
        if code is None:
            code = self.last_status.denomination if self.last_status else None
        refused = await self._operate(Command(CommandCode.RETURN), code or 0)
        if refused is not None:
            return MoveReport(fault=refused)
        back = Move(ESCROW, CUSTOMER, item, 1)

        def ended(status: Status) -> MoveReport | None:
            if status.code in (_S.RETURNING, _S.ESCROW, _S.PAUSE):
                return None
            if status.code in _IDLE:
                return MoveReport((back,))
            fault = _fault(status) or Fault("hardwareError", f"returning: {status.meaning}")
            if status.code is _S.JAM_IN_ACCEPTOR:
                self._in_transport = item
                return MoveReport((Move(ESCROW, TRANSPORT, item, 1),), fault)
            return MoveReport(fault=fault)

        report = await self._until(ended)
        if report is None:
            return MoveReport(
                uncertain=(back,), fault=Fault("hardwareError", "returning did not end in time")
            )
        return report

    async def reset(self, token: int) -> MoveReport:
        """RESET: the validator gives a note in escrow back [U]; settings sent again."""
        report, cancelled = await finish(self._reset_with_report())
        return _cancelled(report) if cancelled else report

    async def _reset_with_report(self) -> MoveReport:
        status, item = await self._escrow_note()
        if status.code in _JAMS and self._in_transport is None:
            self._in_transport = "*"  # a jam from before this driver opened
        jammed = self._in_transport
        fault = await self._reset_device()
        moves = (Move(ESCROW, CUSTOMER, item, 1),) if item is not None else ()
        uncertain: tuple[Move, ...] = ()
        if jammed is not None and fault is None:
            # [U] Where a jammed note went when the jam was cleared (the cash box, or an
            # engineer's hand) nobody says: at most one note, booked unknown.
            uncertain = (Move(TRANSPORT, CASHBOX, jammed, 1),)
            self._in_transport = None
        if status.code in (_S.POWER_UP_BILL_IN_ACCEPTOR, _S.POWER_UP_BILL_IN_STACKER):
            log.warning(
                "%s: reset after %s: where the note went is not known", self.name, status.meaning
            )
        return MoveReport(moves, fault, uncertain=uncertain)

    async def _reset_device(self) -> Fault | None:
        reply = await self.link.exchange(Command(CommandCode.RESET), resend=False)
        if not isinstance(reply, Ack):
            return Fault("hardwareError", f"reset answered {reply.meaning}")

        def ended(status: Status) -> MoveReport | None:
            if status.code is _S.INITIALIZE or status.code in _POWER:
                return None
            return MoveReport(fault=_fault(status))

        report = await self._until(ended)
        self.power_up = None
        if report is None:
            return Fault("hardwareError", "the validator did not finish its reset in time")
        await self._settings()
        return report.fault

    async def _until(
        self,
        ended: Callable[[Status], MoveReport | None],
        on_status: Callable[[Status], Awaitable[None]] | None = None,
    ) -> MoveReport | None:
        """Poll until ``ended`` says how it ended (``None`` at ``note_timeout``)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.options.note_timeout
        while loop.time() < deadline:
            status = await self._status()
            if on_status is not None:
                await on_status(status)
            report = ended(status)
            if report is not None:
                return report
            await asyncio.sleep(self.options.poll_interval)
        return None

    # --- what a validator does not do --------------------------------------------------------

    async def retract(self, area: RetractArea, token: int) -> MoveReport:
        raise UnsupportedOperation(f"{self.name}: a bill validator has no retract")


def _cancelled(report: MoveReport) -> MoveReport:
    if report.fault is not None:
        return report
    moved = sum(m.count for m in report.moves)
    return MoveReport(
        report.moves,
        Fault("canceled", f"cancelled; {moved} notes moved"),
        uncertain=report.uncertain,
    )
