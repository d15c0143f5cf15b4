"""`Id003Emulator`: a simulated JCM ID-003 bill validator on the device side of a wire.

The emulator is the validator's serial port: it cuts the host's bytes into frames
(`protocols.id003.Id003StreamDecoder`), hands each command to the firmware
(`simulator.wire.id003_firmware.Id003Firmware`, over the simulator's cash acceptor
model) and sends its answer; a model without power answers nothing. The real driver
(`drivers.cash.id003`), unmodified, runs against it over a pty
(`simulator.wire.pty.PtyBridge`) or a memory pair.

Where the reference is silent [U]: a frame with a bad CRC is answered with
COMMUNICATION ERROR (4A); a frame with a code that is no command, or the wrong DATA,
with INVALID COMMAND (4B); bytes outside frames are counted and ignored.

Faults, for driver tests: garbage before the next answer (or at once), the next answers
lost (the command still carried out), the next host frames lost (not carried out), both
optionally only for one command code, the next answers sent with a wrong CRC, slow
answers, a muted validator. ``baud`` paces both directions like a UART.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from protocols.errors import ProtocolError
from protocols.id003 import BadFrame, BadFrameReason, Frame, Id003StreamDecoder
from protocols.id003_messages import Command, CommandCode, Status, StatusCode, parse_command
from simulator.wire.emulator_base import FaultyEmulator
from simulator.wire.id003_firmware import Id003Firmware
from simulator.wire.link import WireLink, WirePacer

__all__ = ["Id003Emulator", "Id003Stats"]

log = logging.getLogger(__name__)


@dataclass
class Id003Stats:
    """What crossed the wire, counted by the emulator.

    Attributes:
        bytes_in, bytes_out: bytes received from / sent to the host (garbage included).
        commands: command frames carried out (polls included).
        bad_crc: frames received with a bad CRC.
        noise: bytes received outside any frame.
        dropped: answers not sent (`Id003Emulator.drop_next_replies`).
        lost: host frames lost (`Id003Emulator.lose_next_commands`).
    """

    bytes_in: int = 0
    bytes_out: int = 0
    commands: int = 0
    bad_crc: int = 0
    noise: int = 0
    dropped: int = 0
    lost: int = 0


class Id003Emulator(FaultyEmulator):
    """An ID-003 validator answering on a `WireLink` (an async context manager).

    Args:
        link: the device side of the wire.
        firmware: the validator (over its cash acceptor model); powered up at start
            (which opens the model) and down at stop.
        baud: pace both directions like a UART at this rate; ``None``: no pacing.
    """

    def __init__(self, link: WireLink, firmware: Id003Firmware, *, baud: int | None = None) -> None:
        stats = Id003Stats()
        super().__init__(
            link, WirePacer(baud), task_name="id003 emulator", power=firmware, stats=stats
        )
        self.firmware = firmware
        self.stats = stats
        #: Every answer sent (as built, before a fault spoils it), for wire-level checks.
        self.answers: list[bytes] = []
        #: Every good frame received, in order (lost ones too), for wire-level checks.
        self.received: list[Frame] = []
        self._decoder = Id003StreamDecoder()
        self._drop = 0
        self._drop_only: CommandCode | None = None
        self._lose = 0
        self._lose_only: CommandCode | None = None
        self._corrupt = 0

    @property
    def commands(self) -> list[Command]:
        """Every command carried out, in order (status requests included)."""
        return list(self.firmware.executed)

    # --- faults ----------------------------------------------------------------------------

    def drop_next_replies(self, count: int = 1, *, only: CommandCode | None = None) -> None:
        """Carry out the next ``count`` commands (of code ``only``, if given) but send no
        answer to them."""
        if count < 0:
            raise ValueError(f"count is >= 0, got {count}")
        self._drop, self._drop_only = count, only

    def lose_next_commands(self, count: int = 1, *, only: CommandCode | None = None) -> None:
        """The next ``count`` good frames from the host (of code ``only``, if given)
        vanish on the way: not carried out, not answered."""
        if count < 0:
            raise ValueError(f"count is >= 0, got {count}")
        self._lose, self._lose_only = count, only

    def corrupt_next_replies(self, count: int = 1) -> None:
        """Send the next ``count`` answers with a wrong CRC."""
        if count < 0:
            raise ValueError(f"count is >= 0, got {count}")
        self._corrupt = count

    # --- the link ----------------------------------------------------------------------------

    async def _serve(self) -> None:
        generation = self.link.generation
        while True:
            data = await self.link.receive()
            if self.link.generation != generation:
                generation = self.link.generation
                self._decoder.reset()
                self.pacer.reset()
            self.stats.bytes_in += len(data)
            await self.pacer.received(len(data))
            for item in self._decoder.feed(data):
                try:
                    await self._handle(item)
                except Exception:
                    log.exception("id003 emulator failed on %r", item)

    async def _handle(self, item: Frame | BadFrame) -> None:
        if self._muted or not self.firmware.model.powered:
            return
        if isinstance(item, BadFrame):
            if item.reason is BadFrameReason.NOISE:
                self.stats.noise += len(item.raw)
                return
            self.stats.bad_crc += 1
            await self._answer(Status(StatusCode.COMMUNICATION_ERROR).to_bytes())
            return
        self.received.append(item)
        if self._lose and self._lose_only in (None, item.code):
            self._lose -= 1
            self.stats.lost += 1
            return
        try:
            command = parse_command(item)
        except ProtocolError:
            await self._answer(Status(StatusCode.INVALID_COMMAND).to_bytes(), item.code)
            return
        self.stats.commands += 1
        reply = await self.firmware.handle(command)
        if reply is not None:
            await self._answer(reply.to_bytes(), item.code)

    async def _answer(self, raw: bytes, code: int | None = None) -> None:
        self.answers.append(raw)
        if self._drop and self._drop_only in (None, code):
            self._drop -= 1
            self.stats.dropped += 1
            return
        if self._corrupt:
            self._corrupt -= 1
            raw = raw[:-1] + bytes((raw[-1] ^ 0x5A,))
        if self._reply_delay:
            await asyncio.sleep(self._reply_delay)
        await self._send(raw)

    def __repr__(self) -> str:
        return f"Id003Emulator(running={self._task is not None})"
