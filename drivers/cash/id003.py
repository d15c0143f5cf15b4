"""The ``id003`` driver: a JCM ID-003 bill validator, as a `CashAcceptorBackend`.

Address (entry point ``id003`` in group ``tellerhal.drivers``)::

    id003+serial:///dev/ttyUSB0?parity=E[&denominations=61=CNY:100,..&capacity=1000
        &retries=3&reply_timeout=0.5&poll_interval=0.2&note_timeout=10&ledger=PATH]
    id003+memory://NAME?...          (tests: a `hal.transports.memory` pair)

The serial options are the transport's (give ``parity=E``: ID-003 is 8E1 [U]); the
driver's are `drivers.cash.id003_options.Id003Options`. Protocol: `protocols.id003`
and `protocols.id003_messages` (docs/id003.md); link: `drivers.cash.id003_link`.

What a bill validator is, and so what this driver declares: an escrow of ONE note; no
shutter, no exit, no items-taken sensor (a returned note goes straight back to the
customer: ``return_to`` `CUSTOMER`); no retract unit; it only accepts or rejects
(``classifies`` false); it cannot say after a restart what an interrupted operation did
(``knows_operations`` false) but it reports the note in its escrow and its code
(``senses_escrow`` true). One unit: the cash box ``cashbox`` (cashIn, mixed notes).

- configure(enabled): C0 with the codes of the enabled notes (the others inhibited).
- cash_in: C3 00 (accept), then status requests every ``poll_interval``: ACCEPTING
  (first time: `ItemsInserted`); ESCROW d -> C3 01 (inhibit) and the note is checked
  against the limits: a note of an item not enabled or of an unknown code (invalidBill),
  over the item limit (limitOverTotalItems, or stackerFull when the limit is the
  escrow's room) or over the amount (limitOverAmount) is returned (RETURN) and refused;
  else it is a ``customer -> escrow`` move of its item; REJECTING r -> refused (reason by
  `refuse_reason`). The cash-in ends at the first note's outcome (the escrow holds one
  note; a refused note ends it too, so the app hears of it at once), always with the
  validator inhibited again. A cancellation stops it between polls; a note already
  being taken in is waited for (``note_timeout``) and handled as above.
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
from drivers.cash.id003_masker import Id003Masker
from drivers.cash.id003_options import Id003Options
from hal.address import DeviceAddress
from hal.device import BackendListener, DeviceState, finish
from hal.devices.cash_acceptor import ItemsInserted
from hal.devices.cash_acceptor_service import CashAcceptorService
from hal.devices.cash_in_model import (
    BILL_VALIDATOR,
    CUSTOMER,
    ESCROW,
    TRANSPORT,
    AcceptedNote,
    CashAcceptorCapabilities,
    CashAcceptorStatus,
    CashInContents,
    CashInLimits,
    CashInReport,
    NoteReaderState,
    NoteType,
    RefuseReason,
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
from hal.registry import DriverSpec, make_transport
from hal.transports.base import Transport
from protocols.id003_messages import (
    Ack,
    Command,
    CommandCode,
    Echo,
    FailureCode,
    RejectReason,
    Status,
    StatusCode,
)

__all__ = ["CASHBOX", "ID003_DRIVER", "Id003Driver", "open_id003", "refuse_reason"]

log = logging.getLogger(__name__)
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

_REFUSE = {
    RejectReason.CONVEYING: RefuseReason.DEPOSIT_FAILURE,
    RejectReason.OPERATION: RefuseReason.DEPOSIT_FAILURE,
    RejectReason.REMAINING_BILL: RefuseReason.INVALID_BUNCH,
    RejectReason.REMAINING_BILL_2: RefuseReason.INVALID_BUNCH,
}


def refuse_reason(reason: RejectReason | None) -> RefuseReason:
    """The XFS4IoT refuse reason of a validator's reject reason [U: our mapping]:
    a conveying or operation error is ``depositFailure``, a remaining bill
    ``invalidBunch``, everything else (the note's checks, inhibit) ``invalidBill``."""
    if reason is None:
        return RefuseReason.INVALID_BILL
    return _REFUSE.get(reason, RefuseReason.INVALID_BILL)


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


class Id003Driver:
    """An ID-003 validator behind a `hal.transports.base.Transport` (see the module
    header).

    Args:
        transport: the line to the validator.
        options: denominations, cash box, retries and timeouts.
        name: the device name, for messages.
    """

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

    # --- cash in -----------------------------------------------------------------------------

    async def cash_in(self, limits: CashInLimits, token: int) -> CashInReport:
        """See the module header."""
        stop = asyncio.Event()
        task = asyncio.ensure_future(self._cash_in(limits, stop))
        cancelled = False
        while True:
            try:
                report = await asyncio.shield(task)
                break
            except asyncio.CancelledError:
                if task.done():
                    if task.cancelled():
                        raise
                    report = task.result()
                    cancelled = True
                    break
                stop.set()
                cancelled = True
        if cancelled and report.fault is None:
            moved = sum(m.count for m in report.moves)
            return CashInReport(
                report.moves,
                Fault("canceled", f"cancelled; {moved} notes moved"),
                notes=report.notes,
                refused=report.refused,
            )
        return report

    async def _cash_in(self, limits: CashInLimits, stop: asyncio.Event) -> CashInReport:
        status = await self._status()
        if (fault := _fault(status)) is not None:
            return CashInReport(fault=fault)
        if status.code is _S.ESCROW:
            return CashInReport()  # the escrow is full already: nothing more fits
        loop = asyncio.get_running_loop()
        refused: list[RefuseReason] = []
        inserted = False
        note_deadline: float | None = None
        enables = 0
        accepting = True
        previous: StatusCode | None = None
        busy_since: float | None = None  # since when the validator is out of idle
        try:
            await self._setting(Command.inhibit(False))
            while True:
                status = await self._status()
                await self._ack_vend(status)
                code, last, previous = status.code, previous, status.code
                if code in _IDLE:
                    busy_since = None
                elif busy_since is None:
                    busy_since = loop.time()
                elif loop.time() - busy_since > self.options.note_timeout and (
                    code is not _S.ACCEPTING or stop.is_set()
                ):
                    # Rejecting, returning, initialising...: whatever the state, a
                    # validator that does not come back to rest within a note's time
                    # ends the cash-in (a cancel waits no longer than this either).
                    return CashInReport(
                        fault=Fault(
                            "hardwareError",
                            f"the validator stayed {status.meaning} for more than "
                            f"{self.options.note_timeout:g} s",
                        ),
                        refused=tuple(refused),
                    )
                if code is _S.ESCROW:
                    accepting = False
                    await self._inhibit()
                    return await self._escrowed(status, limits, refused)
                if code is _S.REJECTING:
                    if last is not _S.REJECTING:  # one note rejects over several polls
                        refused.append(refuse_reason(status.reason))
                        log.info("%s: note rejected: %s", self.name, status.meaning)
                    note_deadline = None
                elif code is _S.ACCEPTING or code is _S.PAUSE or code is _S.RETURNING:
                    if not inserted:
                        inserted = True
                        if self._listener is not None:
                            self._listener.event(ItemsInserted())
                    if note_deadline is None:
                        note_deadline = loop.time() + self.options.note_timeout
                    elif loop.time() > note_deadline:
                        return CashInReport(
                            fault=Fault("hardwareError", "a note did not reach the escrow"),
                            refused=tuple(refused),
                        )
                elif code in _IDLE:
                    if refused or stop.is_set():
                        return CashInReport(refused=tuple(refused))
                    if code is _S.DISABLED:
                        enables += 1
                        if enables > self.options.retries:
                            return CashInReport(
                                fault=Fault("hardwareError", "the validator stays inhibited")
                            )
                        await self._setting(Command.inhibit(False))
                elif code is _S.JAM_IN_ACCEPTOR:
                    # The note jammed on its way in, before the validator named it: at
                    # most one note of an item nobody knows is in the transport.
                    self._in_transport = "*"
                    return CashInReport(
                        fault=_fault(status),
                        uncertain=(Move(CUSTOMER, TRANSPORT, "*", 1),),
                        refused=tuple(refused),
                    )
                elif (fault := _fault(status)) is not None:
                    return CashInReport(fault=fault, refused=tuple(refused))
                await asyncio.sleep(self.options.poll_interval)
        finally:
            if accepting:
                await self._inhibit()

    async def _escrowed(
        self, status: Status, limits: CashInLimits, refused: list[RefuseReason]
    ) -> CashInReport:
        item = self._items.get(status.denomination or 0)
        reason = self._check(item, limits)
        if reason is None and item is not None:
            log.info("%s: %s in escrow", self.name, item)
            return CashInReport(
                (Move(CUSTOMER, ESCROW, item, 1),),
                notes=(AcceptedNote(item),),
                refused=tuple(refused),
            )
        log.info("%s: returning %s (%s)", self.name, item or status.meaning, reason)
        note = item or "*"
        report = await self._give_back(note, status.denomination)
        if any(m.destination == CUSTOMER for m in report.moves):
            refused.append(reason or RefuseReason.INVALID_BILL)
            return CashInReport(fault=report.fault, refused=tuple(refused))
        # The note did not get back to the customer: say where it is (never credited:
        # no AcceptedNote), from the customer's side, as the books never had it.
        if report.moves:  # jammed on its way back
            where = report.moves[0].destination
        elif report.fault is not None and not report.uncertain:  # the return was refused
            where = ESCROW
        else:  # the return did not end in time: back out, or still in
            uncertain = (Move(CUSTOMER, ESCROW, note, 1),)
            return CashInReport(fault=report.fault, uncertain=uncertain, refused=tuple(refused))
        if item is None:
            uncertain = (Move(CUSTOMER, where, note, 1),)
            return CashInReport(fault=report.fault, uncertain=uncertain, refused=tuple(refused))
        moved = (Move(CUSTOMER, where, item, 1),)
        return CashInReport(moved, report.fault, refused=tuple(refused))

    def _check(self, item: str | None, limits: CashInLimits) -> RefuseReason | None:
        if item is None or item not in limits.enabled or item not in self._enabled:
            return RefuseReason.INVALID_BILL
        if limits.max_items < 1:
            if limits.items_limited:
                return RefuseReason.LIMIT_OVER_TOTAL_ITEMS
            return RefuseReason.STACKER_FULL
        currency, _, value = item.partition(":")
        most = limits.max_amount.get(currency) if limits.max_amount is not None else None
        if most is not None and int(value) > most.minor:
            return RefuseReason.LIMIT_OVER_AMOUNT
        return None

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


def open_id003(address: DeviceAddress, options: Id003Options) -> CashAcceptorService:
    """Build the (unopened) cash acceptor an address names (the registry factory)."""
    driver = Id003Driver(make_transport(address), options, name="id003")
    return CashAcceptorService(driver, name=driver.name, ledger=options.ledger or None)


ID003_DRIVER = DriverSpec(
    name="id003",
    device_classes=frozenset({"cash_acceptor"}),
    options=Id003Options,
    factory=open_id003,
    description="JCM ID-003 bill validator (serial, 8E1)",
    transports=frozenset({"serial", "memory"}),
    # Every feature of `Id003Driver.capabilities` (the CashAcceptor contract passes them).
    capabilities={
        "cash_acceptor": frozenset(
            {"cash_in", "escrow", "rollback", "limit_by_items", "limit_by_amount", "senses_escrow"}
        )
    },
    masker=Id003Masker,
)
"""The ``id003`` driver, registered through the ``tellerhal.drivers`` entry point."""
