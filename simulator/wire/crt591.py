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
NAK storm (the next N command frames get NAK), a corrupted reply (bad BCC), a lost
reply (`drop_next_reply`), slow
replies, a muted reader (and a model without power says nothing either); unplug and
replug are the bridge's. ``baud`` paces both directions like a UART. The link layer
(NAK at a bad BCC, resend at the host's NAK, faults, pacing, replug) is
`simulator.wire.creator_emulator.CreatorEmulator`, shared with the CRT-310.
"""

from __future__ import annotations

from dataclasses import dataclass

from protocols.crt591 import (
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
from simulator.wire.creator_emulator import CreatorEmulator, EmulatorStats
from simulator.wire.crt591_firmware import VERSION, Crt591Firmware
from simulator.wire.link import WireLink

__all__ = ["Crt591Emulator", "Crt591Stats"]


@dataclass
class Crt591Stats(EmulatorStats):
    """What crossed the wire, counted by the emulator (`EmulatorStats`, and:).

    Attributes:
        acks: replies the host acknowledged.
        foreign: frames for another address, ignored.
    """

    acks: int = 0
    foreign: int = 0


class Crt591Emulator(CreatorEmulator):
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
        self.address = address
        self.firmware = Crt591Firmware(
            model, version=version, address=address, negative_head=negative_head
        )
        self.stats = Crt591Stats()
        super().__init__(
            model,
            link,
            firmware=self.firmware,
            decoder=Crt591StreamDecoder(),
            stats=self.stats,
            ack=Control.ACK,
            nak=Control.NAK,
            label="CRT-591",
            baud=baud,
            precise=precise,
        )

    @property
    def executed(self) -> list[tuple[int, int]]:
        """Every command executed, as (CM, PM), in order."""
        return list(self.firmware.executed)

    async def _other_control(self, control: Control) -> None:
        if control is Control.ACK:
            if self._last_reply is not None:
                self.stats.acks += 1
            self._last_reply = None
        elif control is Control.EOT:
            self._last_reply = None

    async def _frame(self, frame: Frame) -> None:
        if frame.address != self.address:
            self.stats.foreign += 1
            return
        self._last_reply = None
        if await self._storm():
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
        await self._reply(reply)
