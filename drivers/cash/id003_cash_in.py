"""The cash-in state machine of the ID-003 driver (`drivers.cash.id003`):
`Id003Driver`, which adds it to `drivers.cash.id003_core.Id003Core` (the rest of the
device side).

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
"""

from __future__ import annotations

import asyncio
import logging

from drivers.cash.id003_core import _IDLE, _S, Id003Core, _fault
from hal.device import finish
from hal.devices.cash_acceptor import ItemsInserted
from hal.devices.cash_in_model import (
    CUSTOMER,
    ESCROW,
    TRANSPORT,
    AcceptedNote,
    CashInLimits,
    CashInReport,
    RefuseReason,
)
from hal.devices.cash_model import Fault, Move
from protocols.id003_messages import Command, RejectReason, Status, StatusCode

log = logging.getLogger("drivers.cash.id003")  # the driver's logger (one for its modules)

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


class Id003Driver(Id003Core):
    """An ID-003 validator behind a `hal.transports.base.Transport` (see the module
    header).

    Args:
        transport: the line to the validator.
        options: denominations, cash box, retries and timeouts.
        name: the device name, for messages.
    """

    # --- cash in -----------------------------------------------------------------------------

    async def cash_in(self, limits: CashInLimits, token: int) -> CashInReport:
        """See the module header."""
        stop = asyncio.Event()
        report, cancelled = await finish(self._cash_in(limits, stop), on_cancel=stop.set)
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
        if item is not None and item not in self._enabled:
            return RefuseReason.INVALID_BILL
        return limits.refusal(item)
