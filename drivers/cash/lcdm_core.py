"""The LCDM driver's core: its state, one exchange, the busy-dispenser rule, picks.

`LcdmCore` is what `drivers.cash.lcdm.LcdmDriver` is built on: the link, the units, the
notes it saw stop in the transport, and the exchanges every operation shares (see the
driver's module header for what they do and why).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import TypeVar

from drivers.cash.lcdm_link import LcdmLink, LineNotQuiet
from drivers.cash.lcdm_options import REJECT, LcdmOptions
from drivers.cash.lcdm_report import pick_report
from hal.device import BackendListener
from hal.devices.cash_model import (
    TRANSPORT,
    CashDispenserStatus,
    CashUnitInfo,
    Fault,
    MoveReport,
)
from hal.errors import ConnectionLost, HalTimeout, ProtocolError, UnsupportedOperation
from hal.transports.base import Transport
from protocols.lcdm import Direction, Frame, Model
from protocols.lcdm_commands import CODES, Command, Op
from protocols.lcdm_layouts import Status4000, parse_status_4000, pick_reply
from protocols.lcdm_replies import RawReply, Reply, StatusReply

__all__ = ["LcdmCore", "cancelled_report"]

log = logging.getLogger("drivers.cash.lcdm")

T = TypeVar("T")

_TEST_OPS = {1: Op.UPPER_TEST_DISPENSE, 2: Op.LOWER_TEST_DISPENSE}


class LcdmCore:
    """The state and the shared exchanges of an LCDM driver.

    Args:
        transport: the link to the dispenser.
        options: the model, the cassettes' contents, retries and timeouts.
        name: the device name, for messages.
    """

    def __init__(
        self, transport: Transport, options: LcdmOptions, *, name: str = "cash_dispenser"
    ) -> None:
        self.options = options
        self.name = name
        self.model = options.lcdm_model
        self.link = LcdmLink(
            transport,
            model=self.model,
            name=name,
            retries=options.retries,
            ack_timeout=options.ack_timeout,
            reply_timeout=options.reply_timeout,
        )
        self._units = options.unit_infos()
        self._cassettes = self._units[:-1]
        self._listener: BackendListener[CashDispenserStatus] | None = None
        #: Notes the driver saw stop in the transport since open, by unit (for PURGE).
        self._in_transport: dict[str, int] = {}
        #: A moving command's answer was lost: the dispenser may still be at work.
        self._unsure = False
        self.firmware = ""

    def __repr__(self) -> str:
        return f"LcdmDriver({self.name!r}, LCDM-{self.model.value}, {self.link.transport.name})"

    # --- helpers ------------------------------------------------------------------------

    def _item(self, unit_id: str) -> str:
        return next(unit.item for unit in self._cassettes if unit.id == unit_id)

    def _need_tests(self, what: str) -> None:
        if self.model is Model.LCDM4000:
            raise UnsupportedOperation(
                f"{self.name}: {what} needs the LCDM-4000 test dispense, whose DATA the "
                "reference does not give"
            )

    async def _ask(self, command: Command, *, moving: bool = False) -> Reply:
        """One exchange. After a moving command whose answer was lost, the dispenser may
        still be at work and not reading: a command that moves notes goes out only once
        a STATUS has been answered (a busy LCDM does not ACK, and the resends of an
        un-ACKed command would wait in its input to run one after another)."""
        if not moving:
            return await self.link.exchange(command, reply_timeout=self.options.status_timeout)
        if self._unsure:
            await self._until_idle()
        try:
            return await self.link.exchange(command, reply_timeout=self.options.reply_timeout)
        except LineNotQuiet:
            raise  # not sent: nothing is at work
        except (HalTimeout, ConnectionLost, asyncio.CancelledError):
            self._unsure = True
            raise

    async def _ready(self, what: str) -> MoveReport | None:
        """``None`` when a moving command may go out; else the report of one that was
        not sent (nothing moved: the service settles it ``failed``, not ``unknown``)
        because the dispenser has not answered since a lost answer, or the line did
        not go quiet after an abnormal exchange."""
        try:
            if self._unsure:
                await self._until_idle()
            await self.link.settle_line()
        except (HalTimeout, ConnectionLost) as exc:
            log.warning("%s: %s not sent: %s", self.name, what, exc.message)
            return MoveReport(fault=Fault("hardwareError", f"{what} not sent: {exc.message}"))
        return None

    async def _until_idle(self) -> None:
        """Ask STATUS until the dispenser answers, for up to ``reply_timeout``.

        Raises:
            HalTimeout: it never answered (the moving command is not sent).
            ConnectionLost: the port went away.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.options.reply_timeout
        while True:
            try:
                await self.link.exchange(
                    Command(self.model, Op.STATUS), reply_timeout=self.options.status_timeout
                )
            except (HalTimeout, ProtocolError) as exc:
                if loop.time() >= deadline:
                    raise HalTimeout(
                        f"{self.name}: the dispenser has not answered since a command whose "
                        f"answer was lost ({exc.message})"
                    ) from exc
                continue
            self._unsure = False
            return

    async def _status_reply(self) -> StatusReply | Status4000:
        reply = await self._ask(Command(self.model, Op.STATUS))
        if isinstance(reply, StatusReply):
            return reply
        if isinstance(reply, RawReply):
            return parse_status_4000(_raw_frame(reply))
        raise ProtocolError(f"{self.name}: STATUS answered with {type(reply).__name__}")

    async def _pick(self, command: Command, asked: Mapping[str, int], to: str) -> MoveReport:
        try:
            reply = await self._ask(command, moving=True)
        except LineNotQuiet as exc:  # the line turned noisy since `_ready`: not sent
            log.warning("%s: %s not sent: %s", self.name, command.op.value, exc.message)
            return MoveReport(
                fault=Fault("hardwareError", f"{command.op.value} not sent: {exc.message}")
            )
        report = pick_report(pick_reply(reply), self._cassettes, asked, destination=to)
        for move in report.moves:
            if move.destination == TRANSPORT:
                self._in_transport[move.source] = self._in_transport.get(move.source, 0) + (
                    move.count
                )
        if report.fault is not None:
            log.warning(
                "%s: %s stopped short: %s", self.name, command.op.value, report.fault.description
            )
        return report

    async def _test(self, n: int, unit: CashUnitInfo) -> MoveReport:
        op = Op.TEST_DISPENSE if self.model is Model.LCDM1000 else _TEST_OPS[n]
        return await self._pick(Command(self.model, op), {unit.id: 1}, REJECT)


def _raw_frame(reply: RawReply) -> Frame:
    return Frame(Direction.REPLY, reply.model.frame_id, CODES[reply.model][reply.op], reply.data)


def cancelled_report(report: MoveReport) -> MoveReport:
    """``report`` with the fault a cancellation leaves (a device fault stays first)."""
    if report.fault is not None:
        return report
    moved = sum(m.count for m in report.moves)
    return MoveReport(
        report.moves, Fault("canceled", f"cancelled; {moved} notes moved"), report.note_errors
    )
