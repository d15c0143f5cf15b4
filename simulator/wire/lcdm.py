"""`LcdmEmulator`: a simulated Puloon LCDM speaking its protocol on the device side of a
wire.

The emulator is the dispenser's serial port and link layer; its firmware
(`simulator.wire.lcdm_firmware.LcdmFirmware`) carries each command out on a cash
dispenser model (`simulator.models.cash_dispenser.CashDispenserModel`, an LCDM profile).
The real driver (`drivers.cash.lcdm`), unmodified, runs against it over a pty
(`simulator.wire.pty.PtyBridge`) or a memory pair (`simulator.wire.link.MemoryLink`).

The exchange (reference/protocols.md §3.1): a command frame with a bad BCC gets NAK; a
good one with the model's ID gets ACK, is carried out (a dispense takes the model's pick
time per note) and answered with the reply frame; the host acknowledges it with ACK.
Where the reference is silent [assumptions]: a NAK from the host after a reply asks for
it again (the command is not run twice); a command frame for the other ID family, or a
reply frame, is ignored; a code the model does not have gets ACK and a reply of that
code carrying "undefined command". Bytes outside frames are counted and ignored.

Faults, for driver tests: garbage before the next transmission (or at once), a NAK
storm (the next N command frames get NAK), a corrupted reply (bad BCC), a reply whose
DATA is broken under a good BCC, a lost reply, slow replies, a muted dispenser (and a
model without power says nothing either). ``baud`` paces both directions like a UART.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from hal.devices.cash_dispenser import CashDispenserBackend
from hal.errors import ConnectionLost
from protocols.checksums import bcc_xor
from protocols.creator_frames import BadFrame
from protocols.errors import ProtocolError
from protocols.lcdm import Control, Direction, Frame, Item, LcdmStreamDecoder, Model
from protocols.lcdm_commands import Command, parse_command
from simulator.wire.emulator_base import AckNakEmulator
from simulator.wire.lcdm_firmware import LcdmFirmware, unknown_command_reply
from simulator.wire.link import WireLink, WirePacer

__all__ = ["LcdmEmulator", "LcdmStats"]

log = logging.getLogger(__name__)


@dataclass
class LcdmStats:
    """What crossed the wire, counted by the emulator.

    Attributes:
        bytes_in, bytes_out: bytes received from / sent to the host (garbage included).
        commands: command frames carried out.
        naks: NAKs sent (bad BCC and NAK storms).
        noise: bytes received outside any frame.
        resent: replies sent again at the host's NAK.
        acks: replies the host acknowledged.
        ignored: frames not for this dispenser (other ID, or a reply frame).
    """

    bytes_in: int = 0
    bytes_out: int = 0
    commands: int = 0
    naks: int = 0
    noise: int = 0
    resent: int = 0
    acks: int = 0
    ignored: int = 0


class LcdmEmulator(AckNakEmulator):
    """A cash dispenser model answering LCDM commands on a `WireLink`.

    Use it as an async context manager (or `start()` / `stop()`): it opens the model
    (its firmware is the model's listener) and serves the link in a task.

    Args:
        backend: the dispenser's mechanism and notes (an LCDM profile's model).
        link: the device side of the wire.
        model: the LCDM model it answers as.
        baud: pace both directions like a UART at this rate; ``None`` for no pacing.
    """

    def __init__(
        self,
        backend: CashDispenserBackend,
        link: WireLink,
        *,
        model: Model,
        baud: int | None = None,
    ) -> None:
        self.backend = backend
        self.model = model
        self.firmware = LcdmFirmware(backend, model)
        self.stats = LcdmStats()
        super().__init__(
            link,
            WirePacer(baud),
            task_name=f"lcdm{model.value} emulator",
            power=self.firmware,
            stats=self.stats,
            nak=Control.NAK,
        )
        self._decoder = LcdmStreamDecoder()
        self._corrupt = 0
        self._mangle = False

    @property
    def executed(self) -> list[Command]:
        """Every command carried out, in order."""
        return list(self.firmware.executed)

    # --- faults (more in `AckNakEmulator`) ----------------------------------------------

    def corrupt_next_replies(self, count: int = 1) -> None:
        """Send the next ``count`` reply frames (resends included) with a wrong BCC."""
        if count < 0:
            raise ValueError(f"count is >= 0, got {count}")
        self._corrupt = count

    def mangle_next_reply(self) -> None:
        """Send the next reply (and its resends) with DATA that does not decode, under a
        good BCC."""
        self._mangle = True

    # --- the link ------------------------------------------------------------------------

    async def _serve(self) -> None:
        while True:
            data = await self._receive()
            for item in self._decoder.feed(data):
                try:
                    await self._handle(item)
                except Exception:
                    log.exception("LCDM-%d emulator failed on %r", self.model.value, item)
                # The model runs an operation to its end through a cancellation and
                # returns normally: `stop` must not be swallowed by it.
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    raise asyncio.CancelledError

    def _replugged(self) -> None:
        self._decoder.reset()
        super()._replugged()

    def _powered(self) -> bool:
        return bool(getattr(self.backend, "powered", True))

    async def _handle(self, item: Item) -> None:
        if self._muted or not self._powered():
            return
        if isinstance(item, BadFrame):
            await self._bad_frame(item)
        elif item is Control.NAK:
            await self._resend()
        elif item is Control.ACK:
            if self._last_reply is not None:
                self.stats.acks += 1
            self._last_reply = None
        elif isinstance(item, Frame):
            await self._frame(item)

    async def _frame(self, frame: Frame) -> None:
        if frame.direction is not Direction.COMMAND or frame.frame_id != self.model.frame_id:
            self.stats.ignored += 1
            return
        self._last_reply = None
        if await self._storm():
            return
        await self._control(Control.ACK)
        try:
            command = parse_command(frame, self.model)
        except ProtocolError:
            reply: bytes | None = unknown_command_reply(self.model, frame.cmd)
        else:
            self.stats.commands += 1
            try:
                reply = await self.firmware.execute(command)
            except ConnectionLost:
                return  # the power went: no reply
        if reply is None:
            return
        if self._drop_next:
            self._drop_next = False
            return
        if self._mangle:
            self._mangle = False
            reply = _mangled(reply)
        if self._reply_delay:
            await asyncio.sleep(self._reply_delay)
        self._last_reply = reply
        await self._transmit(reply)

    async def _transmit(self, reply: bytes) -> None:
        if self._corrupt:
            self._corrupt -= 1
            reply = reply[:-1] + bytes((reply[-1] ^ 0xFF,))
        await self._send(reply)

    def __repr__(self) -> str:
        return f"LcdmEmulator(LCDM-{self.model.value}, running={self._task is not None})"


def _mangled(reply: bytes) -> bytes:
    """``reply`` with its DATA cut to one byte 7Fh, under a recomputed good BCC."""
    raw = reply[:4] + b"\x7f\x03"
    return raw + bytes((bcc_xor(raw),))
