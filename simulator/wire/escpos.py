"""`EscPosEmulator`: a simulated ESC/POS printer on the device side of a wire.

The emulator is the printer's serial port (a pty through `simulator.wire.pty.
PtyBridge`) or, through `simulator.wire.escpos_usb`, its USB printer interface's bulk
pipes: what the host sends goes to the firmware (`simulator.wire.escpos_firmware.
EscPosFirmware`), what the firmware answers is sent back. The real ``escpos`` driver,
unmodified, runs against it.

Faults, for driver tests: the paper, cover and jam faults are the firmware's
(`EscPosFirmware.paper_runs_out`, ``open_cover``, ``jam_next``); the line's are
`FaultyEmulator`'s: a silent printer (`mute`), garbage before the next answer
(`inject_garbage`) or at once (`send_garbage`), slow answers (`set_reply_delay`).
``baud`` paces both directions like a UART (a bench).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from simulator.wire.emulator_base import FaultyEmulator
from simulator.wire.escpos_firmware import EscPosFirmware
from simulator.wire.link import WireLink, WirePacer

__all__ = ["EscPosEmulator", "EscPosStats"]

log = logging.getLogger(__name__)


@dataclass
class EscPosStats:
    """What crossed the wire, counted by the emulator."""

    bytes_in: int = 0
    bytes_out: int = 0
    answers: int = 0
    unanswered: int = 0


class EscPosEmulator(FaultyEmulator):
    """An ESC/POS printer answering on a `WireLink` (an async context manager).

    Args:
        link: the device side of the wire.
        firmware: the printer (a default 80 mm one when ``None``).
        baud: pace both directions like a UART at this rate; ``None``: no pacing.
        precise: pace with sub-millisecond precision (a bench).
    """

    def __init__(
        self,
        link: WireLink,
        firmware: EscPosFirmware | None = None,
        *,
        baud: int | None = None,
        precise: bool = False,
    ) -> None:
        stats = EscPosStats()
        super().__init__(
            link,
            WirePacer(baud, precise=precise),
            task_name="escpos emulator",
            power=None,
            stats=stats,
        )
        self.firmware = firmware if firmware is not None else EscPosFirmware()
        self.stats = stats
        #: Every byte the host sent, in order.
        self.received = bytearray()

    async def _serve(self) -> None:
        generation = self.link.generation
        while True:
            data = await self.link.receive()
            if self.link.generation != generation:
                generation = self.link.generation
                self.pacer.reset()
            self.stats.bytes_in += len(data)
            self.received += data
            await self.pacer.received(len(data))
            try:
                answer = self.firmware.feed(data)
            except Exception:
                log.exception("escpos emulator failed on %d bytes", len(data))
                continue
            if not answer:
                continue
            if self._muted:
                self.stats.unanswered += 1
                continue
            if self._reply_delay:
                await asyncio.sleep(self._reply_delay)
            self.stats.answers += 1
            await self._send(answer)

    def __repr__(self) -> str:
        return f"EscPosEmulator(running={self._task is not None})"
