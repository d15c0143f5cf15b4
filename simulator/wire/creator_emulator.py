"""The device side of a Creator serial link (CRT-310, CRT-591): what both emulators share.

`CreatorEmulator` serves a `WireLink` for a firmware: it decodes the host's bytes,
answers a command frame with a bad BCC with NAK, counts noise, sends a reply again at
the host's NAK (the command is not run twice), paces both directions like a UART
(`WirePacer`), forgets a half-received frame when the wire is plugged again, and holds
the faults the driver tests inject: garbage before the next transmission (or at once),
a NAK storm, a corrupted reply, a lost reply (the command runs, its answer never
comes, and a NAK does not bring it back), slow replies, a muted reader. A model without
power says nothing either. The lifecycle, the faults and the link steps it shares with
the LCDM emulator are in its base, `simulator.wire.emulator_base.AckNakEmulator`.

`CreatorFirmware` is what the two firmwares share: powering the model up and down, a
listener that keeps the model's reports inside the reader (both are polled), the
card-entry task a command starts and others stop, and ``on_command``, a test's hook
called with each command just before the firmware carries it out (to look at what the
host did before that command reached the reader).

What differs stays in the subclasses (`simulator.wire.crt310.Crt310Emulator`,
`simulator.wire.crt591.Crt591Emulator`): what a good frame starts (ACK and wait for
ENQ, or ACK and answer at once), the other control bytes, the firmware and its stats.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from hal.devices.card_reader import CardReaderStatus, Track
from hal.errors import DeviceNotReady, InvalidMedia, MediaJam
from hal.events import Event
from protocols.creator_frames import BadFrame
from simulator.models.card_reader import CardReaderModel
from simulator.wire.emulator_base import AckNakEmulator
from simulator.wire.link import WireLink, WirePacer

__all__ = ["CreatorEmulator", "CreatorFirmware", "EmulatorStats"]

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


class CreatorFirmware:
    """The part of a Creator reader's firmware that is no protocol: power and card entry.

    Args:
        model: the reader's mechanism and state (this firmware becomes its listener).

    A subclass sets ``_entry_sources``, what a card taken in is read for.
    """

    _entry_sources: ClassVar[frozenset[Track]] = frozenset()

    def __init__(self, model: CardReaderModel) -> None:
        self.model = model
        self._accept_task: asyncio.Task[None] | None = None
        #: A test's hook: called with each command (as ``executed`` lists it) just
        #: before the firmware carries it out.
        self.on_command: Callable[[Any], None] | None = None

    def _heard(self, command: Any) -> None:
        """A command is about to run: tell the test's hook."""
        if self.on_command is not None:
            self.on_command(command)

    async def power_up(self) -> None:
        """Open the model (this firmware becomes its listener)."""
        await self.model.open(self)

    async def power_down(self) -> None:
        """Stop any card entry and close the model."""
        await self._stop_accepting()
        await self.model.close()

    # --- BackendListener: the model reports to us; the reader tells nobody -------------

    def event(self, event: Event) -> None:
        """The model's events stay inside the reader (it has no unsolicited messages:
        the host polls status)."""

    def status_changed(self, status: CardReaderStatus) -> None:
        """Likewise: the host learns the status by asking."""

    # --- card entry ----------------------------------------------------------------------

    async def _start_accepting(self) -> None:
        task = self._accept_task
        if task is not None and not task.done():
            return
        loop = asyncio.get_running_loop()
        task = loop.create_task(self._accept(), name=f"{self.model.name} card entry")
        self._accept_task = task
        # Answer once the gate is open (or the card already in): a status the host asks
        # for next must see the entry it just opened.
        gate = loop.create_task(self.model.wait_until(lambda: self.model.gate_open))
        try:
            await asyncio.wait({task, gate}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            gate.cancel()
            await asyncio.gather(gate, return_exceptions=True)

    async def _accept(self) -> None:
        try:
            await self.model.accept_card(self._entry_sources)
        except (InvalidMedia, MediaJam, DeviceNotReady) as exc:
            # The host sees the outcome by polling: a card back at the front (gate) with
            # the entry shut, a jammed card, a silent reader.
            log.info("%s: card entry ended: %s", self.model.name, exc)

    async def _stop_accepting(self) -> None:
        task, self._accept_task = self._accept_task, None
        if task is not None and not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


class _Decoder(Protocol):
    def reset(self) -> None: ...

    def feed(self, data: bytes) -> list[Any]: ...


class CreatorEmulator(AckNakEmulator):
    """A firmware answering a Creator protocol on a `WireLink` (the shared link layer).

    Use it as an async context manager (or `start()` / `stop()`): it powers the firmware
    up (which opens the model) and serves the link in a task.

    Args:
        model: the reader's mechanism and state.
        link: the device side of the wire (a `PtyBridge`, a `MemoryLink`).
        firmware: what carries the commands out.
        decoder: the protocol's stream decoder.
        stats: the counters (a subclass of `EmulatorStats` for more).
        ack, nak: the protocol's ACK and NAK control items.
        label: the protocol's name, for the task and the log ("CRT-310").
        baud: pace both directions like a UART at this rate; ``None`` for no pacing.
        precise: pace to the microsecond (blocks the loop for the last 2 ms of each
            wait; see `WirePacer`).
    """

    def __init__(
        self,
        model: CardReaderModel,
        link: WireLink,
        *,
        firmware: CreatorFirmware,
        decoder: _Decoder,
        stats: EmulatorStats,
        ack: int,
        nak: int,
        label: str,
        baud: int | None,
        precise: bool,
    ) -> None:
        self.model = model
        super().__init__(
            link,
            WirePacer(baud, precise=precise),
            task_name=f"{label.lower().replace('-', '')} emulator {model.name}",
            power=firmware,
            stats=stats,
            nak=nak,
        )
        self._firmware = firmware
        self._stats = stats
        self._decoder = decoder
        self._ack = ack
        self._label = label
        self._corrupt_next = False

    # --- faults (more in `AckNakEmulator`) ----------------------------------------------

    def corrupt_next_reply(self) -> None:
        """Send the next reply frame with a wrong BCC (a resend at NAK is correct)."""
        self._corrupt_next = True

    # --- what each protocol decides ------------------------------------------------------

    async def _frame(self, frame: Any) -> None:
        """A command frame with a good BCC arrived."""
        raise NotImplementedError

    async def _other_control(self, control: Any) -> None:
        """A control byte other than NAK arrived."""

    def _forget(self) -> None:
        """The wire was plugged again: drop what the protocol held."""

    # --- the link ------------------------------------------------------------------------

    async def _serve(self) -> None:
        while True:
            data = await self._receive()
            for item in self._decoder.feed(data):
                try:
                    await self._handle(item)
                except Exception:
                    log.exception(
                        "%s: the %s emulator failed on %r", self.model.name, self._label, item
                    )

    def _replugged(self) -> None:
        """A new cable: half a frame from before it is noise, nothing is pending."""
        self._decoder.reset()
        self._forget()
        super()._replugged()

    async def _handle(self, item: Any) -> None:
        if self._muted or not self.model.powered:
            return  # a reader that is off, or hung, says nothing
        if isinstance(item, BadFrame):
            await self._bad_frame(item)
        elif item is self._nak:
            await self._resend()
        elif isinstance(item, int):
            await self._other_control(item)
        else:
            await self._frame(item)

    async def _reply(self, reply: bytes | None) -> None:
        """Send a reply frame (after the set delay; corrupted if asked), kept for a NAK."""
        if reply is None:
            return
        if self._drop_next:
            self._drop_next = False
            self._last_reply = None
            return
        if self._reply_delay:
            await asyncio.sleep(self._reply_delay)
        self._last_reply = reply
        if self._corrupt_next:
            self._corrupt_next = False
            reply = reply[:-1] + bytes((reply[-1] ^ 0xFF,))
        await self._send(reply)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.model.name!r}, running={self._task is not None})"
