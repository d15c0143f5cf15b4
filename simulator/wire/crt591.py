"""`Crt591Emulator`: a simulated card issuer speaking CRT-591 on the device side of a wire.

The emulator is the issuer's serial port and link layer; its firmware
(`simulator.wire.crt591_firmware.Crt591Firmware`) carries each command out on a
`simulator.models.card_reader.CardReaderModel` with a card stacker, whose state the
replies report. The real driver, unmodified, runs against it over a pty
(`simulator.wire.pty.PtyBridge`) or, in tests, a memory pair
(`simulator.wire.link.MemoryLink`).

The exchange (reference/protocols.md §2.2): a command frame with a bad BCC gets NAK; a
good one addressed to this reader gets ACK, is carried out at once and answered with
the reply frame; the host acknowledges the reply with ACK. Where the reference is
silent [assumptions]: a NAK from the host after a reply asks for it again (the command
is not run twice); EOT forgets the last reply and is not echoed; a frame for another
address is ignored (no ACK, no NAK: the other reader answers); a frame whose TEXT is no
command gets ACK and the negative reply ``00`` (undefined command). Bytes outside any
frame are counted and ignored, and decoding resumes at the next frame.

The CRT-591 sends nothing unsolicited: the host learns that a card came in at the
gate, or was taken from it, by polling status (31 30).

Faults, for driver tests: garbage bytes before the next transmission (or at once), a
NAK storm (the next N command frames get NAK), a corrupted reply (bad BCC), slow
replies, a muted reader (and a model without power says nothing either); unplug and
replug are the bridge's. ``baud`` paces both directions like a UART.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from types import TracebackType
from typing import Self

from protocols.crt591 import (
    BadFrame,
    BadFrameReason,
    Control,
    Crt591StreamDecoder,
    ErrorCode,
    Frame,
    Request,
    build_negative,
    decode_frame,
)
from protocols.errors import ProtocolError
from simulator.models.card_reader import CardReaderModel
from simulator.wire.crt591_firmware import VERSION, Crt591Firmware
from simulator.wire.link import WireLink, WirePacer

__all__ = ["Crt591Emulator", "Crt591Stats"]

log = logging.getLogger(__name__)


@dataclass
class Crt591Stats:
    """What crossed the wire, counted by the emulator.

    Attributes:
        bytes_in: bytes received from the host.
        bytes_out: bytes sent to the host (garbage included).
        commands: command frames executed.
        naks: NAKs sent (bad BCC and NAK storms).
        noise: bytes received outside any frame.
        resent: replies sent again at the host's NAK.
        acks: replies the host acknowledged.
        foreign: frames for another address, ignored.
    """

    bytes_in: int = 0
    bytes_out: int = 0
    commands: int = 0
    naks: int = 0
    noise: int = 0
    resent: int = 0
    acks: int = 0
    foreign: int = 0


class Crt591Emulator:
    """A `CardReaderModel` with a stacker answering CRT-591 commands on a `WireLink`.

    Use it as an async context manager (or `start()` / `stop()`): it opens the model
    (its firmware is the model's listener) and serves the link in a task.

    Args:
        model: the issuer's mechanism and state (``stacker_capacity`` > 0).
        link: the device side of the wire (a `PtyBridge`, a `MemoryLink`).
        address: the bus address its DIP switches set, 0..15.
        baud: pace both directions like a UART at this rate; ``None`` for no pacing.
        precise: pace to the microsecond (see `WirePacer`).
        version: the firmware version Initialize and A4 answer.
        negative_head: the head of negative replies, ``0x4E`` ('N') or ``0x45`` ('E').
    """

    def __init__(
        self,
        model: CardReaderModel,
        link: WireLink,
        *,
        address: int = 0,
        baud: int | None = None,
        precise: bool = False,
        version: bytes = VERSION,
        negative_head: int = 0x4E,
    ) -> None:
        if not 0 <= address <= 0x0F:
            raise ValueError(f"a CRT-591 address is 0..15, got {address!r}")
        self.model = model
        self.link = link
        self.address = address
        self.firmware = Crt591Firmware(
            model, version=version, address=address, negative_head=negative_head
        )
        self.pacer = WirePacer(baud, precise=precise)
        self.stats = Crt591Stats()
        self._decoder = Crt591StreamDecoder()
        self._generation = link.generation
        self._last_reply: bytes | None = None
        self._task: asyncio.Task[None] | None = None
        self._garbage = b""
        self._naks = 0
        self._corrupt_next = False
        self._reply_delay = 0.0
        self._muted = False

    @property
    def executed(self) -> list[tuple[int, int]]:
        """Every command executed, as (CM, PM), in order."""
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
            self._serve(), name=f"crt591 emulator {self.model.name}"
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
        """Wait ``seconds`` (real time) between the ACK and each reply frame."""
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
                    log.exception("%s: the CRT-591 emulator failed on %r", self.model.name, item)

    def _replugged(self) -> None:
        """A new cable: half a frame from before it is noise, no reply is pending."""
        self._generation = self.link.generation
        self._decoder.reset()
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
            await self._frame(item)
        elif isinstance(item, BadFrame):
            if item.reason is BadFrameReason.BCC:
                self.stats.naks += 1
                await self._control(Control.NAK)
            else:
                self.stats.noise += len(item.raw)
        elif item is Control.ACK:
            if self._last_reply is not None:
                self.stats.acks += 1
            self._last_reply = None
        elif item is Control.NAK:
            if self._last_reply is not None:
                self.stats.resent += 1
                await self._send(self._last_reply)
        elif item is Control.EOT:
            self._last_reply = None

    async def _frame(self, frame: Frame) -> None:
        if frame.address != self.address:
            self.stats.foreign += 1
            return
        self._last_reply = None
        if self._naks:
            self._naks -= 1
            self.stats.naks += 1
            await self._control(Control.NAK)
            return
        await self._control(Control.ACK)
        try:
            message = decode_frame(frame)
        except ProtocolError:
            message = None
        if not isinstance(message, Request):
            text = frame.text
            reply: bytes | None = build_negative(
                Request(text[1], text[2]),
                ErrorCode.UNDEFINED_COMMAND,
                head=self.firmware.negative_head,
                address=self.address,
            )
        else:
            self.stats.commands += 1
            reply = await self.firmware.execute(message)
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
        return f"Crt591Emulator({self.model.name!r}, running={self._task is not None})"
