"""`SamvEmulator`: a simulated SAM_V ID-card module on the device side of a wire.

The emulator is the module's serial port (or, through `simulator.wire.samv_usb`, its
USB pipes): it cuts the host's bytes into command frames (`protocols.samv.SamvDecoder`),
hands each to the firmware (`simulator.wire.samv_firmware.SamvFirmware`) and sends its
answer. The real driver (`drivers.id_scanner.samv`), unmodified, runs against it over a
pty (`simulator.wire.pty.PtyBridge`) or a memory pair.

A host frame with a bad checksum or an impossible length is answered with SW3 10
(checksum error in what the module received) [U: which of 10/11 a module picks].

Faults, for driver tests (`FaultyEmulator`: garbage before the next answer or at once,
slow answers, a muted module): the next answers sent with a wrong checksum
(`corrupt_next_replies`), lost (`drop_next_replies`, the command still carried out),
or preceded by the stray ``AA 00`` some firmwares send (`stray_aa00`). ``baud`` paces
both directions like a UART.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from protocols.samv import CommandFrame, SamvDecoder, build_reply
from simulator.wire.emulator_base import FaultyEmulator
from simulator.wire.link import WireLink, WirePacer
from simulator.wire.samv_firmware import SamvFirmware

__all__ = ["SamvEmulator", "SamvStats"]

log = logging.getLogger(__name__)

_CHECKSUM_ERROR = 0x10


@dataclass
class SamvStats:
    """What crossed the wire, counted by the emulator.

    Attributes:
        bytes_in, bytes_out: bytes received from / sent to the host (garbage included).
        commands: command frames carried out.
        bad_frames: host frames with a bad checksum or length.
        dropped: answers not sent (`SamvEmulator.drop_next_replies`).
        corrupted: answers sent with a wrong checksum.
    """

    bytes_in: int = 0
    bytes_out: int = 0
    commands: int = 0
    bad_frames: int = 0
    dropped: int = 0
    corrupted: int = 0


class SamvEmulator(FaultyEmulator):
    """A SAM_V module answering on a `WireLink` (an async context manager).

    Args:
        link: the device side of the wire.
        firmware: the module's behaviour.
        baud: pace both directions like a UART at this rate; ``None``: no pacing.
        precise: pace with sub-millisecond precision (a bench).
    """

    def __init__(
        self,
        link: WireLink,
        firmware: SamvFirmware | None = None,
        *,
        baud: int | None = None,
        precise: bool = False,
    ) -> None:
        stats = SamvStats()
        super().__init__(
            link,
            WirePacer(baud, precise=precise),
            task_name="samv emulator",
            power=None,
            stats=stats,
        )
        self.firmware = firmware if firmware is not None else SamvFirmware()
        self.stats = stats
        #: Every good command frame received, in order.
        self.received: list[CommandFrame] = []
        self._decoder = SamvDecoder("command")
        self._drop = 0
        self._corrupt = 0
        self._stray = False

    # --- faults ----------------------------------------------------------------------

    def drop_next_replies(self, count: int = 1) -> None:
        """Carry out the next ``count`` commands but send no answer."""
        if count < 0:
            raise ValueError(f"count is >= 0, got {count}")
        self._drop = count

    def corrupt_next_replies(self, count: int = 1) -> None:
        """Send the next ``count`` answers with a wrong checksum."""
        if count < 0:
            raise ValueError(f"count is >= 0, got {count}")
        self._corrupt = count

    def stray_aa00(self, on: bool = True) -> None:
        """Send ``AA 00`` before every answer (a firmware quirk, reference §1.2)."""
        self._stray = on

    # --- the link --------------------------------------------------------------------

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
            bad = self._decoder.bad_frames
            frames = self._decoder.feed(data)
            if self._decoder.bad_frames != bad:
                self.stats.bad_frames += self._decoder.bad_frames - bad
                if not self._muted:
                    await self._answer(build_reply(_CHECKSUM_ERROR))
            for frame in frames:
                try:
                    await self._handle(frame)
                except Exception:
                    log.exception("samv emulator failed on %r", frame)

    async def _handle(self, frame: CommandFrame | object) -> None:
        if self._muted or not isinstance(frame, CommandFrame):
            return
        self.received.append(frame)
        self.stats.commands += 1
        sw3, data = self.firmware.handle(frame.cmd, frame.para, frame.data)
        await self._answer(build_reply(sw3, data))

    async def _answer(self, raw: bytes) -> None:
        if self._drop:
            self._drop -= 1
            self.stats.dropped += 1
            return
        if self._corrupt:
            self._corrupt -= 1
            self.stats.corrupted += 1
            raw = raw[:-1] + bytes((raw[-1] ^ 0x5A,))
        if self._stray:
            raw = b"\xaa\x00" + raw
        if self._reply_delay:
            await asyncio.sleep(self._reply_delay)
        await self._send(raw)

    def __repr__(self) -> str:
        return f"SamvEmulator(running={self._task is not None})"
