"""`Zt588Emulator`: a simulated Zhengtong ZT588 PIN pad on the device side of a wire.

The emulator is the pad's serial port: it decodes the host's frames
(`protocols.zt588.Zt588Decoder`), has its firmware (`simulator.wire.zt588_firmware.
Zt588Firmware`: key slots, settings, keyboard) carry each command out and sends the
reply frame; key presses go out as bare bytes between frames, the mask character for a
digit in PIN mode, the digit itself in clear mode. The real ``zt588`` driver, unmodified,
runs against it over a pty (`simulator.wire.pty.PtyBridge`) or a memory pair
(`simulator.wire.link.MemoryLink`).

The ZT588 has no ACK/NAK: a frame with a bad CHK, or bytes outside frames, get no answer
(they are counted) [U: what a real pad does with them is not known]; a frame that
decodes to no command is answered E9 (bad data). A clear-PIN request ('@') is answered
EB and counted (``firmware.clear_pin_refused``).

`Zt588Keyboard` is the customer's hands: it implements `hal.stimulus.PinPadStimulus`
(``press_keys`` waits until the keyboard is enabled, then sends each key's byte).

Faults, for driver tests: garbage bytes (at once, or before the next reply), corrupted
replies (a bad CHK), lost replies (silence), slow replies. ``baud`` paces both
directions like a UART (`simulator.wire.link.WirePacer`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from hal.errors import HalTimeout
from hal.stimulus import PinPadStimulus
from protocols import zt588
from protocols.errors import ProtocolError
from simulator.wire.emulator_base import WireEmulator
from simulator.wire.link import WireLink, WirePacer
from simulator.wire.zt588_firmware import KEY_BYTES, Zt588Firmware

__all__ = ["Zt588Emulator", "Zt588Keyboard"]

log = logging.getLogger(__name__)


class Zt588Emulator(WireEmulator):
    """A `Zt588Firmware` answering ZT588 commands on a `WireLink`.

    Use it as an async context manager (or `start()` / `stop()`).

    Args:
        link: the device side of the wire (a `PtyBridge`, a `MemoryLink`).
        firmware: the pad's firmware; a fresh one if ``None``.
        baud: pace both directions like a UART at this rate; ``None`` for no pacing.
    """

    def __init__(
        self, link: WireLink, firmware: Zt588Firmware | None = None, *, baud: int | None = None
    ) -> None:
        super().__init__(link, WirePacer(baud), task_name="ZT588 pad")
        self.firmware = firmware if firmware is not None else Zt588Firmware()
        self.keyboard = Zt588Keyboard(self)
        #: Every byte the host sent, in order (a test's view of the traffic).
        self.received = bytearray()
        #: Frames with a bad CHK or framing, and noise bytes, from the host.
        self.bad_frames = 0
        self.noise = 0
        self._decoder = zt588.Zt588Decoder()
        self._send_lock = asyncio.Lock()
        self._changed = asyncio.Event()
        self._garbage_now = b""
        self._garbage_before = b""
        self._corrupt = 0
        self._drop = 0
        self._delay = 0.0

    # --- faults ------------------------------------------------------------------------

    async def send_garbage(self, data: bytes) -> None:
        """Put ``data`` on the line now (noise between frames)."""
        await self._send(data)

    def garbage_before_reply(self, data: bytes) -> None:
        """Send ``data`` just before the next reply."""
        self._garbage_before += data

    def corrupt_replies(self, count: int = 1) -> None:
        """The next ``count`` replies go out with a wrong CHK (0: none from now on)."""
        self._corrupt = count

    def drop_replies(self, count: int = 1) -> None:
        """The next ``count`` commands are carried out but get no reply (silence; 0: the
        replies come again)."""
        self._drop = count

    def slow_replies(self, seconds: float) -> None:
        """Wait ``seconds`` before each reply (0: none)."""
        self._delay = seconds

    # --- the wire ----------------------------------------------------------------------

    async def _serve(self) -> None:
        while True:
            data = await self.link.receive()
            if self.link.generation != self._generation:
                self._generation = self.link.generation
                self._decoder.reset()
                self.pacer.reset()
            self.received += data
            await self.pacer.received(len(data))
            for item in self._decoder.feed(data):
                if isinstance(item, zt588.Frame):
                    await self._command(item)
                elif isinstance(item, zt588.BadFrame):
                    if item.reason is zt588.BadFrameReason.NOISE:
                        self.noise += len(item.raw)
                    else:
                        self.bad_frames += 1
                        log.info("ZT588 emulator: %s", item.detail)
                else:  # a key byte from the host: noise to a pad
                    self.noise += 1

    async def _command(self, frame: zt588.Frame) -> None:
        try:
            command = zt588.decode_command(frame)
        except ProtocolError as exc:
            reply = self.firmware.refuse_bad_command(exc)
        else:
            reply = self.firmware.execute(command)
        self._notify()
        await self._reply(reply)

    async def _reply(self, reply: zt588.Reply) -> None:
        if self._delay:
            await asyncio.sleep(self._delay)
        if self._drop:
            self._drop -= 1
            return
        raw = zt588.build_reply(reply)
        if self._corrupt:
            self._corrupt -= 1
            wrong = b"00" if raw[-2:] != b"00" else b"11"
            raw = raw[:-2] + wrong
        garbage, self._garbage_before = self._garbage_before, b""
        await self._send(garbage + raw)

    async def _send(self, data: bytes) -> None:
        if not data:
            return
        async with self._send_lock:
            await self.pacer.sending(len(data))
            await self.link.send(data)

    # --- the keyboard --------------------------------------------------------------------

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_active(self, timeout: float | None) -> None:
        """Wait until the keyboard is enabled.

        Raises:
            HalTimeout: it was not within ``timeout`` seconds.
        """
        try:
            async with asyncio.timeout(timeout):
                while not self.firmware.entry_active:
                    await self._changed.wait()
        except TimeoutError:
            raise HalTimeout(f"the ZT588's keyboard was not enabled within {timeout} s") from None

    async def press(self, key: str) -> None:
        """Press one key: the firmware decides what (if anything) goes on the wire."""
        await self._send(self.firmware.press(key))


class Zt588Keyboard(PinPadStimulus):
    """The customer's hands on an emulated ZT588 (`PinPadStimulus`).

    A press is never logged with its key (a log line counts them).
    """

    def __init__(self, emulator: Zt588Emulator) -> None:
        self._emulator = emulator

    async def press_keys(self, keys: Sequence[str], *, timeout: float = 10.0) -> None:
        """Press ``keys`` in order, each once the keyboard is enabled.

        Raises:
            ValueError: a key the pad does not have (nothing is pressed).
            HalTimeout: the keyboard was not enabled for a key within ``timeout``.
        """
        if isinstance(keys, str):
            raise ValueError("keys is a sequence of key names, not one string")
        keys = list(keys)
        unknown = sorted({key for key in keys if key not in KEY_BYTES or key == "blank"})
        if unknown:
            raise ValueError(f"the ZT588 has no key {', '.join(map(repr, unknown))}")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        pressed = 0
        try:
            for key in keys:
                await self._emulator.wait_active(max(0.0, deadline - loop.time()))
                await self._emulator.press(key)
                pressed += 1
                # Let the host read each press before the next (a finger is not a burst).
                await asyncio.sleep(0)
        finally:
            log.debug("ZT588 emulator: the customer pressed %d key(s)", pressed)

    async def entry_active(self) -> bool:
        return self._emulator.firmware.entry_active
