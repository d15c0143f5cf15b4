"""What the wire emulators share: their lifecycle, and the faults of an ACK/NAK link.

`WireEmulator` is the lifecycle of every emulator on a `WireLink` (`simulator.wire.
lcdm.LcdmEmulator`, `simulator.wire.creator_emulator.CreatorEmulator`, `simulator.wire.
zt588.Zt588Emulator`): an async context manager (or `start()` / `stop()`) that powers
its firmware up (where the firmware has power to switch), serves the link in a task,
and on stop cancels that task, waits for it and powers the firmware down.

`FaultyEmulator` adds the faults every protocol's driver tests inject: garbage before
the next transmission (or at once), slow replies and a muted device (`simulator.wire.
id003.Id003Emulator` stands on it). `AckNakEmulator` adds the faults of a link whose
device answers a command frame with ACK or NAK (LCDM, the Creator readers): a NAK storm
(the next N command frames get NAK) and a lost reply; and the link-layer steps both protocols take
alike: receiving (counted, paced, a new cable noticed), a NAK for a frame with a bad
BCC, noise counted, the last reply sent again at the host's NAK. Where each fault takes
effect (the order of delay, drop and corruption around a reply) is the protocol's and
stays in the subclass; so do the framing, the dispatch of what the decoder yields, and
the serving loop.
"""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import Protocol, Self

from protocols.creator_frames import BadFrame, BadFrameReason
from simulator.wire.link import WireLink, WirePacer

__all__ = [
    "AckNakEmulator",
    "FaultyEmulator",
    "PowerSwitch",
    "SentBytes",
    "WireEmulator",
    "WireStats",
]


class PowerSwitch(Protocol):
    """A firmware that is powered up before serving and down after it."""

    async def power_up(self) -> None: ...

    async def power_down(self) -> None: ...


class WireStats(Protocol):
    """The counters `AckNakEmulator` keeps up to date."""

    bytes_in: int
    bytes_out: int
    naks: int
    noise: int
    resent: int


class WireEmulator:
    """The lifecycle of an emulator serving a `WireLink` in a task.

    Args:
        link: the device side of the wire (a `PtyBridge`, a `MemoryLink`).
        pacer: paces both directions like a UART.
        task_name: the name of the serving task.
        power: powered up before the task starts and down after it ends; ``None`` for a
            firmware with nothing to switch.

    A subclass implements `_serve`, the task: it runs until it is cancelled.
    """

    def __init__(
        self,
        link: WireLink,
        pacer: WirePacer,
        *,
        task_name: str,
        power: PowerSwitch | None = None,
    ) -> None:
        self.link = link
        self.pacer = pacer
        self._task_name = task_name
        self._power = power
        self._generation = link.generation
        self._task: asyncio.Task[None] | None = None

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
        """Power the firmware up (which opens the model) and start serving the link."""
        if self._task is not None:
            return
        if self._power is not None:
            await self._power.power_up()
        self._task = asyncio.get_running_loop().create_task(self._serve(), name=self._task_name)

    async def stop(self) -> None:
        """Stop serving and power the firmware down (which closes the model)."""
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        if self._power is not None:
            await self._power.power_down()

    async def _serve(self) -> None:
        """Serve the link until cancelled."""
        raise NotImplementedError


class SentBytes(Protocol):
    """The counter `FaultyEmulator._send` keeps up to date."""

    bytes_out: int


class FaultyEmulator(WireEmulator):
    """A `WireEmulator` with the faults every protocol's driver tests inject: garbage
    before the next bytes the device sends (or at once), slow replies and a muted
    device; `_send` sends (after any garbage), paced and counted.

    Args:
        link, pacer, task_name, power: as for `WireEmulator`.
        stats: the counters; `_send` adds to ``bytes_out``.

    Where a delay or muting takes effect is the protocol's: a subclass reads
    ``_reply_delay`` and ``_muted``.
    """

    def __init__(
        self,
        link: WireLink,
        pacer: WirePacer,
        *,
        task_name: str,
        power: PowerSwitch | None,
        stats: SentBytes,
    ) -> None:
        super().__init__(link, pacer, task_name=task_name, power=power)
        self._sent = stats
        self._garbage = b""
        self._reply_delay = 0.0
        self._muted = False

    def inject_garbage(self, data: bytes) -> None:
        """Send ``data`` just before the next bytes the device sends."""
        self._garbage += bytes(data)

    async def send_garbage(self, data: bytes) -> None:
        """Send ``data`` now, unasked."""
        await self._send(bytes(data))

    def set_reply_delay(self, seconds: float) -> None:
        """Wait ``seconds`` (real time) before each reply."""
        if not seconds >= 0:
            raise ValueError(f"a delay is >= 0 seconds, got {seconds!r}")
        self._reply_delay = float(seconds)

    def mute(self, on: bool = True) -> None:
        """Answer nothing at all (a hung device); ``mute(False)`` answers again."""
        self._muted = on

    async def _send(self, data: bytes) -> None:
        """Send ``data`` (after any injected garbage), paced and counted."""
        if self._garbage:
            data, self._garbage = self._garbage + data, b""
        await self.pacer.sending(len(data))
        self._sent.bytes_out += len(data)
        await self.link.send(data)


class AckNakEmulator(FaultyEmulator):
    """A `FaultyEmulator` for an ACK/NAK protocol, with the faults of its link.

    Args:
        link, pacer, task_name, power: as for `WireEmulator`.
        stats: the counters (bytes in and out, NAKs sent, noise, replies resent).
        nak: the protocol's NAK byte.

    A subclass's `_serve` takes the host's bytes from `_receive` and hands a bad frame
    to `_bad_frame` and the host's NAK to `_resend`; it extends `_replugged` to drop a
    half-received frame.
    """

    def __init__(
        self,
        link: WireLink,
        pacer: WirePacer,
        *,
        task_name: str,
        power: PowerSwitch | None,
        stats: WireStats,
        nak: int,
    ) -> None:
        super().__init__(link, pacer, task_name=task_name, power=power, stats=stats)
        self._wire_stats = stats
        self._nak = nak
        self._last_reply: bytes | None = None
        self._naks = 0
        self._drop_next = False

    # --- faults --------------------------------------------------------------------------

    def nak_next(self, count: int = 1) -> None:
        """Answer the next ``count`` command frames with NAK, whatever their BCC."""
        if count < 0:
            raise ValueError(f"count is >= 0, got {count}")
        self._naks = count

    def drop_next_reply(self) -> None:
        """Carry out the next command but lose its reply frame (a NAK gets nothing back)."""
        self._drop_next = True

    # --- sending -------------------------------------------------------------------------

    async def _control(self, control: int) -> None:
        """Send one control byte."""
        await self._send(bytes((control,)))

    async def _storm(self) -> bool:
        """In a NAK storm, NAK this command frame (and say so)."""
        if not self._naks:
            return False
        self._naks -= 1
        self._wire_stats.naks += 1
        await self._control(self._nak)
        return True

    # --- receiving -----------------------------------------------------------------------

    async def _receive(self) -> bytes:
        """The host's next bytes, counted and paced (after `_replugged` on a new cable)."""
        data = await self.link.receive()
        if self.link.generation != self._generation:
            self._generation = self.link.generation
            self._replugged()
        self._wire_stats.bytes_in += len(data)
        await self.pacer.received(len(data))
        return data

    def _replugged(self) -> None:
        """A new cable: no reply is pending and the pacing starts afresh."""
        self._last_reply = None
        self.pacer.reset()

    async def _bad_frame(self, item: BadFrame) -> None:
        """A frame with a bad BCC gets NAK; bytes outside any frame are noise."""
        if item.reason is BadFrameReason.BCC:
            self._wire_stats.naks += 1
            await self._control(self._nak)
        else:
            self._wire_stats.noise += len(item.raw)

    async def _resend(self) -> None:
        """The host's NAK: send the last reply again, if one is kept."""
        if self._last_reply is not None:
            self._wire_stats.resent += 1
            await self._transmit(self._last_reply)

    async def _transmit(self, reply: bytes) -> None:
        """Send a reply frame (a subclass may spoil it first)."""
        await self._send(reply)
