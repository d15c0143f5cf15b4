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
NAK storm (the next N command frames get NAK), a corrupted reply (bad BCC), a lost
reply (`drop_next_reply`), slow
replies, a muted reader (and a model without power says nothing either); unplug and
replug are the bridge's. ``baud`` paces both directions like a UART
(`simulator.wire.link.WirePacer`): a pty has no baud rate of its own. The link layer
(NAK at a bad BCC, resend at the host's NAK, faults, pacing, replug) is
`simulator.wire.creator_emulator.CreatorEmulator`, shared with the CRT-591.
"""

from __future__ import annotations

from protocols.crt310 import Command, Control, Crt310StreamDecoder, Frame
from simulator.models.card_reader import CardReaderModel
from simulator.wire.creator_emulator import CreatorEmulator, EmulatorStats
from simulator.wire.crt310_firmware import VERSION, Crt310Firmware
from simulator.wire.link import WireLink

__all__ = ["Crt310Emulator", "EmulatorStats"]


class Crt310Emulator(CreatorEmulator):
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
        self.firmware = Crt310Firmware(model, version=version)
        self.stats = EmulatorStats()
        super().__init__(
            model,
            link,
            firmware=self.firmware,
            decoder=Crt310StreamDecoder(),
            stats=self.stats,
            ack=Control.ACK,
            nak=Control.NAK,
            label="CRT-310",
            baud=baud,
            precise=precise,
        )
        self._pending: Frame | None = None

    @property
    def executed(self) -> list[Command]:
        """Every command executed, in order."""
        return list(self.firmware.executed)

    def _forget(self) -> None:
        self._pending = None

    async def _frame(self, frame: Frame) -> None:
        self._last_reply = None
        if await self._storm():
            self._pending = None
            return
        self._pending = frame
        await self._control(Control.ACK)

    async def _other_control(self, control: Control) -> None:
        if control is Control.ENQ:
            await self._answer()
        elif control is Control.EOT:
            self._pending = None
            self._last_reply = None
            await self._control(Control.EOT)

    async def _answer(self) -> None:
        frame, self._pending = self._pending, None
        if frame is None:
            return
        self.stats.commands += 1
        await self._reply(await self.firmware.execute(frame))
