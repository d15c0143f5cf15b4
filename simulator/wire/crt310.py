"""`Crt310Emulator`: a simulated card reader speaking CRT-310 on the device side of a wire.

The emulator is the reader's serial port and link layer; its firmware
(`simulator.wire.crt310_firmware.Crt310Firmware`) carries each command out on a
`simulator.models.card_reader.CardReaderModel`, whose state the replies report. The
real driver, unmodified, runs against it over a pty (`simulator.wire.pty.PtyBridge`)
or, in tests, a memory pair (`simulator.wire.link.MemoryLink`).

The exchange (reference/protocols.md §2.1): a command frame with a bad BCC gets NAK, a
good one ACK; the host's ENQ makes the reader execute the acknowledged command and
send the reply frame; a NAK from the host after a reply asks for it again (the
command is not run twice); EOT drops an acknowledged command and is echoed. An ENQ
with nothing acknowledged is ignored. Commands run one at a time, in order; bytes
outside any frame are counted and ignored, and decoding resumes at the next frame.

The CRT-310 sends nothing unsolicited: the host learns that a card went in, or was
taken from the exit, by polling status (31 30).

Faults, for driver tests: garbage bytes before the next transmission (or at once), a
NAK storm (the next N command frames get NAK), a corrupted reply (bad BCC), slow
replies, a muted reader (and a model without power says nothing either); unplug and
replug are the bridge's. ``baud`` paces both directions like a UART
(`simulator.wire.link.WirePacer`): a pty has no baud rate of its own.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from types import TracebackType
from typing import Self

from protocols.crt310 import (
    BadFrame,
    BadFrameReason,
    Command,
    Control,
    Crt310StreamDecoder,
    Frame,
)
from simulator.models.card_reader import CardReaderModel
from simulator.wire.crt310_firmware import VERSION, Crt310Firmware
from simulator.wire.link import WireLink, WirePacer

__all__ = ["Crt310Emulator", "EmulatorStats"]

log = logging.getLogger(__name__)


@dataclass
class EmulatorStats:
    """What crossed the wire, counted by the emulator.

    Attributes:
        bytes_in: bytes received from the host.
        bytes_out: bytes sent to the host (garbage included).
        commands: command frames executed.
        naks: NAKs sent (bad BCC and NAK storms).
        noise: bytes received outside any frame.
        resent: replies sent again at the host's NAK.
    """

    bytes_in: int = 0
    bytes_out: int = 0
    commands: int = 0
    naks: int = 0
    noise: int = 0
    resent: int = 0


class Crt310Emulator:
    """A `CardReaderModel` answering CRT-310 commands on a `WireLink`.

    Use it as an async context manager (or `start()` / `stop()`): it opens the model
    (its firmware is the model's listener) and serves the link in a task.

    Args:
        model: the reader's mechanism and state.
        link: the device side of the wire (a `PtyBridge`, a `MemoryLink`).
        baud: pace both directions like a UART at this rate; ``None`` for no pacing.
        precise: pace to the microsecond (blocks the loop for the last 2 ms of each
            wait; see `WirePacer`).
        version: the version string a reset answers.
    """

    def __init__(
        self,
        model: CardReaderModel,
        link: WireLink,
        *,
        baud: int | None = None,
        precise: bool = False,
        version: bytes = VERSION,
    ) -> None:
        self.model = model
        self.link = link
        self.firmware = Crt310Firmware(model, version=version)
        self.pacer = WirePacer(baud, precise=precise)
        self.stats = EmulatorStats()
        self._decoder = Crt310StreamDecoder()
        self._generation = link.generation
        self._pending: Frame | None = None
        self._last_reply: bytes | None = None
        self._task: asyncio.Task[None] | None = None
        self._garbage = b""
        self._naks = 0
        self._corrupt_next = False
        self._reply_delay = 0.0
        self._muted = False

    @property
    def executed(self) -> list[Command]:
        """Every command executed, in order."""
        return list(self.firmware.executed)

    # --- lifecycle -----------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def start(self) -> None:
        """Open the model and start serving the link."""
        if self._task is not None:
            return
        await self.firmware.power_up()
        self._task = asyncio.get_running_loop().create_task(
            self._serve(), name=f"crt310 emulator {self.model.name}"
        )

    async def stop(self) -> None:
        """Stop serving, stop any card entry and close the model."""
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await self.firmware.power_down()

    # --- faults --------------------------------------------------------------------------

    def inject_garbage(self, data: bytes) -> None:
        """Send ``data`` just before the next byte the reader sends."""
        self._garbage += bytes(data)

    async def send_garbage(self, data: bytes) -> None:
        """Send ``data`` now, unasked."""
        await self._send(bytes(data))

    def nak_next(self, count: int = 1) -> None:
        """Answer the next ``count`` command frames with NAK, whatever their BCC."""
        if count < 0:
            raise ValueError(f"count is >= 0, got {count}")
        self._naks = count

    def corrupt_next_reply(self) -> None:
        """Send the next reply frame with a wrong BCC (a resend at NAK is correct)."""
        self._corrupt_next = True

    def set_reply_delay(self, seconds: float) -> None:
        """Wait ``seconds`` (real time) before each reply frame."""
        if not seconds >= 0:
            raise ValueError(f"a delay is >= 0 seconds, got {seconds!r}")
        self._reply_delay = float(seconds)

    def mute(self, on: bool = True) -> None:
        """Stop answering anything (a hung reader); ``mute(False)`` answers again."""
        self._muted = on

    # --- the link ------------------------------------------------------------------------

    async def _serve(self) -> None:
        while True:
            data = await self.link.receive()
            if self.link.generation != self._generation:
                self._replugged()
            self.stats.bytes_in += len(data)
            await self.pacer.received(len(data))
            for item in self._decoder.feed(data):
                try:
                    await self._handle(item)
                except Exception:
                    log.exception("%s: the CRT-310 emulator failed on %r", self.model.name, item)

    def _replugged(self) -> None:
        """A new cable: half a frame from before it is noise, nothing is pending."""
        self._generation = self.link.generation
        self._decoder.reset()
        self._pending = None
        self._last_reply = None
        self.pacer.reset()

    async def _send(self, data: bytes) -> None:
        if self._garbage:
            data, self._garbage = self._garbage + data, b""
        await self.pacer.sending(len(data))
        self.stats.bytes_out += len(data)
        await self.link.send(data)

    async def _control(self, control: Control) -> None:
        await self._send(bytes((control,)))

    async def _handle(self, item: Control | Frame | BadFrame) -> None:
        if self._muted or not self.model.powered:
            return  # a reader that is off, or hung, says nothing
        if isinstance(item, Frame):
            self._last_reply = None
            if self._naks:
                self._naks -= 1
                self._pending = None
                self.stats.naks += 1
                await self._control(Control.NAK)
                return
            self._pending = item
            await self._control(Control.ACK)
        elif isinstance(item, BadFrame):
            if item.reason is BadFrameReason.BCC:
                self.stats.naks += 1
                await self._control(Control.NAK)
            else:
                self.stats.noise += len(item.raw)
        elif item is Control.ENQ:
            await self._answer()
        elif item is Control.NAK:
            if self._last_reply is not None:
                self.stats.resent += 1
                await self._send(self._last_reply)
        elif item is Control.EOT:
            self._pending = None
            self._last_reply = None
            await self._control(Control.EOT)

    async def _answer(self) -> None:
        frame, self._pending = self._pending, None
        if frame is None:
            return
        self.stats.commands += 1
        reply = await self.firmware.execute(frame)
        if reply is None:
            return
        if self._reply_delay:
            await asyncio.sleep(self._reply_delay)
        self._last_reply = reply
        if self._corrupt_next:
            self._corrupt_next = False
            reply = reply[:-1] + bytes((reply[-1] ^ 0xFF,))
        await self._send(reply)

    def __repr__(self) -> str:
        return f"Crt310Emulator({self.model.name!r}, running={self._task is not None})"
