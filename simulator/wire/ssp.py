"""`SspEmulator`: a simulated ITL NV200 / NV11 speaking SSP and eSSP on the device side of
a wire (a pty for the real driver, `drivers.cash.ssp`). Its firmware
(`simulator.wire.ssp_firmware.SspFirmware`) carries each command out on the shared
`CashAcceptorModel` (profile ``nv200`` or ``nv11``), which it powers up and down.

The link (reference/protocols.md §3.6): every frame for the device's address gets one
reply frame echoing its SEQ/ID. A frame whose sequence flag equals the last one's is a
repeat: the last reply goes out again and nothing is carried out a second time (SYNC is
always carried out, and resets the flag). A bad CRC gets no reply (the host resends).

eSSP: SET GENERATOR / SET MODULUS (8 bytes LE each, both must be prime, else F4) and
REQUEST KEY EXCHANGE (the host's inter key) make the session key (the device's inter
key in the reply). An encrypted frame (DATA 7E...) is decrypted with it: no key -> FA;
a bad inner CRC -> F8; a counter other than the one expected (a replay, a packet out of
sequence) -> F5, in clear, and nothing is carried out [U: the reply to a bad counter].
The reply to a good one is encrypted with counter + 1. Payout commands that come in
clear get F4 and are not carried out.

Faults for tests: those of `FaultyEmulator` (garbage before the next reply or at once,
slow replies, a muted device), a lost reply (the command is carried out), replies with a
bad CRC, and a lying eSSP reply (the command is
carried out; its reply is an earlier encrypted reply replayed, or carries a counter
other than count + 1). ``baud`` paces the wire like a UART.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import struct
from dataclasses import dataclass

from protocols.errors import ProtocolError
from protocols.essp import (
    DEFAULT_FIXED_KEY,
    CounterError,
    KeyExchange,
    SessionKey,
    decrypt_packet,
    encrypt_packet,
    is_probable_prime,
)
from protocols.ssp import BadFrame, BadFrameReason, Frame, SspStreamDecoder, build_frame
from protocols.ssp_commands import ENCRYPTED_ONLY, Cmd, Generic
from simulator.wire.emulator_base import FaultyEmulator
from simulator.wire.link import WireLink, WirePacer
from simulator.wire.ssp_firmware import SET_ROUTING, SspFirmware

__all__ = ["SspEmulator", "SspStats"]

log = logging.getLogger(__name__)

_PAYOUT_SIDE = ENCRYPTED_ONLY | {SET_ROUTING}


@dataclass
class SspStats:
    """What the emulator counted.

    Attributes:
        bytes_in, bytes_out: bytes received / sent.
        frames: frames for this device.
        repeats: repeated sequence flags answered with the last reply.
        bad_crc: frames with a bad CRC (no reply).
        noise: bytes outside frames.
        counter_refused: encrypted packets refused for their counter.
        clear_refused: payout commands refused because they came in clear.
        exchanges: key exchanges made.
    """

    bytes_in: int = 0
    bytes_out: int = 0
    frames: int = 0
    repeats: int = 0
    bad_crc: int = 0
    noise: int = 0
    counter_refused: int = 0
    clear_refused: int = 0
    exchanges: int = 0


class SspEmulator(FaultyEmulator):
    """An ITL device answering SSP on a `WireLink` (see the module header).

    Args:
        firmware: what carries the commands out.
        link: the device side of the wire.
        address: the slave address (0: validator).
        baud: pace the wire at this rate; ``None``: no pacing.
    """

    def __init__(
        self,
        firmware: SspFirmware,
        link: WireLink,
        *,
        address: int = 0,
        baud: int | None = None,
    ) -> None:
        self.stats = SspStats()
        super().__init__(
            link,
            WirePacer(baud),
            task_name=f"ssp {firmware.model.profile.name} emulator",
            power=firmware,
            stats=self.stats,
        )
        self.firmware = firmware
        self.address = address
        self._decoder = SspStreamDecoder()
        self._last_seq: bool | None = None
        self._last_reply: bytes | None = None
        self.fixed_key = DEFAULT_FIXED_KEY  # the device's fixed half (tests may set it)
        self._generator = 0
        self._modulus = 0
        self._key: SessionKey | None = None
        self._count = 0
        self._drop = 0
        self._corrupt = 0
        self._drop_code: int | None = None
        self._code = 0  # the code of the command being answered
        self._tamper: str | None = None  # "replay" or "counter": the next encrypted reply
        self._tamper_code: int | None = None  # ... to this command only
        self._old_reply: bytes | None = None  # the last encrypted reply DATA sent
        self.last_encrypted: bytes | None = None  # the DATA of the last encrypted command

    # --- faults ----------------------------------------------------------------------

    def drop_next_replies(self, count: int = 1) -> None:
        """Carry the next ``count`` commands out (or repeat) but send no reply."""
        self._drop = count

    def drop_reply_to(self, code: int) -> None:
        """Carry out the next command ``code`` (clear or encrypted) but lose its reply."""
        self._drop_code = code

    def corrupt_next_replies(self, count: int = 1) -> None:
        """Send the next ``count`` replies with a wrong CRC."""
        self._corrupt = count

    def replay_old_reply(self, code: int | None = None) -> None:
        """Carry the next encrypted command (of ``code``, if given) out but answer it
        with the encrypted reply DATA of the one before (a stale packet: its counter is
        two behind)."""
        self._tamper, self._tamper_code = "replay", code

    def wrong_reply_counter(self, code: int | None = None) -> None:
        """Carry the next encrypted command (of ``code``, if given) out but encrypt its
        reply with a counter two ahead of count + 1."""
        self._tamper, self._tamper_code = "counter", code

    @property
    def encrypted(self) -> bool:
        """A session key is set."""
        return self._key is not None

    # --- the link ----------------------------------------------------------------------

    async def _serve(self) -> None:
        generation = self.link.generation
        while True:
            data = await self.link.receive()
            if self.link.generation != generation:
                generation = self.link.generation
                self._decoder.reset()
            self.stats.bytes_in += len(data)
            await self.pacer.received(len(data))
            for item in self._decoder.feed(data):
                if isinstance(item, BadFrame):
                    if item.reason is BadFrameReason.CRC:
                        self.stats.bad_crc += 1
                    else:
                        self.stats.noise += len(item.raw)
                    continue
                try:
                    await self._frame(item)
                except Exception:
                    log.exception("ssp emulator failed on a frame")
                # The model runs an operation to its end through a cancellation and
                # returns normally: `stop` must not be swallowed by it.
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    raise asyncio.CancelledError

    async def _frame(self, frame: Frame) -> None:
        if frame.address != self.address or self._muted:
            return
        self.stats.frames += 1
        is_sync = frame.data == bytes((Cmd.SYNC,))
        if not is_sync and frame.seq == self._last_seq and self._last_reply is not None:
            self.stats.repeats += 1
            await self._reply(self._last_reply)
            return
        self._last_seq = frame.seq
        self._code = frame.data[0] if frame.data else 0
        data = await self._answer(frame)
        self._last_reply = build_frame(frame.seq, self.address, data)
        if self._drop_code is not None and self._code == self._drop_code:
            self._drop_code = None
            return
        await self._reply(self._last_reply)

    async def _answer(self, frame: Frame) -> bytes:
        if not frame.data:
            return bytes((Generic.WRONG_PARAMETERS,))
        if frame.encrypted:
            return await self._encrypted(frame.data)
        code = frame.data[0]
        if code in _PAYOUT_SIDE:
            self.stats.clear_refused += 1
            return bytes((Generic.PARAMETER_OUT_OF_RANGE,))
        if code == Cmd.SYNC:
            self.firmware.synced()
            return bytes((Generic.OK,))
        if code in (Cmd.SET_GENERATOR, Cmd.SET_MODULUS, Cmd.REQUEST_KEY_EXCHANGE):
            return self._key_exchange(code, frame.data[1:])
        return await self.firmware.execute(frame.data)

    def _key_exchange(self, code: int, params: bytes) -> bytes:
        if len(params) != 8:
            return bytes((Generic.WRONG_PARAMETERS,))
        (number,) = struct.unpack("<Q", params)
        if code == Cmd.SET_GENERATOR or code == Cmd.SET_MODULUS:
            if not is_probable_prime(number):
                return bytes((Generic.PARAMETER_OUT_OF_RANGE,))
            if code == Cmd.SET_GENERATOR:
                self._generator = number
            else:
                self._modulus = number
            self._key = None
            return bytes((Generic.OK,))
        if not (self._generator > 2 and self._modulus > 2 and 0 < number < self._modulus):
            return bytes((Generic.CANNOT_PROCESS,))
        mine = KeyExchange(self._generator, self._modulus, secrets.randbelow(2**63) + 2)
        self._key = SessionKey(self.fixed_key, mine.negotiated(number))
        self._count = 0
        self.stats.exchanges += 1
        return bytes((Generic.OK,)) + struct.pack("<Q", mine.inter_key)

    async def _encrypted(self, data: bytes) -> bytes:
        if self._key is None:
            return bytes((Generic.KEY_NOT_SET,))
        try:
            count, payload = decrypt_packet(self._key, data)
        except ProtocolError:
            return bytes((Generic.FAIL,))
        if count != self._count:
            self.stats.counter_refused += 1
            log.info("ssp emulator: encrypted packet refused: %s", CounterError.__name__)
            return bytes((Generic.CANNOT_PROCESS,))
        self.last_encrypted = data
        self._code = payload[0] if payload else 0
        if payload[:1] == bytes((Cmd.SYNC,)):
            self.firmware.synced()
            reply = bytes((Generic.OK,))
        elif not payload:
            reply = bytes((Generic.WRONG_PARAMETERS,))
        else:
            reply = await self.firmware.execute(payload)
        self._count = count + 2
        tamper = self._tamper
        if tamper is not None and self._tamper_code in (None, self._code):
            self._tamper = None
        else:
            tamper = None
        packet = encrypt_packet(self._key, count + (3 if tamper == "counter" else 1), reply)
        old, self._old_reply = self._old_reply, packet
        if tamper == "replay" and old is not None:
            return old
        return packet

    async def _reply(self, raw: bytes) -> None:
        if self._drop:
            self._drop -= 1
            return
        if self._corrupt:
            self._corrupt -= 1
            raw = raw[:-1] + bytes((raw[-1] ^ 0x5A,))
        if self._reply_delay:
            await asyncio.sleep(self._reply_delay)
        await self._send(raw)

    def __repr__(self) -> str:
        return f"SspEmulator({self.firmware.model.profile.name}, running={self._task is not None})"
