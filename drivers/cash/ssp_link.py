"""The host side of the SSP link: one command and its reply at a time, the sequence flag,
resends, and the eSSP session (key exchange, encryption, the packet counter).

- Every new command carries the other sequence flag than the last; SYNC carries 1 and
  the next command 0. A command whose reply does not come (or comes with a bad CRC)
  is sent again with the SAME flag and the same bytes (an encrypted packet is not
  encrypted again): the device then repeats its last reply instead of acting twice.
- With a session key, `SspLink.command` wraps the command in an eSSP packet with the
  host's counter; the reply must be encrypted with counter + 1, and the next counter
  is counter + 2. A clear reply to an encrypted command (F5: counter refused, FA: no
  key) is `EsspRefused`; the session is then dropped (the caller negotiates again).

Nothing here logs a key or an encrypted payload.
"""

from __future__ import annotations

import asyncio
import struct
import time

from hal.errors import HalTimeout, HardwareError
from hal.transports.base import Transport
from protocols.errors import ProtocolError
from protocols.essp import KeyExchange, SessionKey, decrypt_packet, encrypt_packet
from protocols.ssp import BadFrame, Frame, SspStreamDecoder, build_frame
from protocols.ssp_commands import Cmd, Generic

__all__ = ["EsspRefused", "SspLink"]


class EsspRefused(HardwareError):
    """The device refused an encrypted command (no key, a counter it did not expect,
    a packet it could not decrypt)."""


class SspLink:
    """SSP exchanges over ``transport`` with the device at ``slave``.

    Args:
        transport: the open-able byte stream.
        slave: the SSP address.
        reply_timeout: seconds to wait for a reply before sending again.
        retries: sends after the first.
    """

    def __init__(
        self, transport: Transport, *, slave: int = 0, reply_timeout: float, retries: int
    ) -> None:
        self.transport = transport
        self.slave = slave
        self.reply_timeout = reply_timeout
        self.retries = retries
        self.lock = asyncio.Lock()
        self._decoder = SspStreamDecoder()
        self._next_seq = True
        self._key: SessionKey | None = None
        self._count = 0
        self.resends = 0

    @property
    def encrypted(self) -> bool:
        """A session key is set."""
        return self._key is not None

    async def open(self) -> None:
        await self.transport.open()
        self._decoder.reset()
        self._key = None

    async def close(self) -> None:
        self._key = None
        await self.transport.close()

    async def sync(self) -> None:
        """SYNC (flag 1); the next command carries flag 0."""
        async with self.lock:
            self._next_seq = True
            reply = await self._exchange(bytes((Cmd.SYNC,)))
        if reply[:1] != bytes((Generic.OK,)):
            raise HardwareError(f"the device answered SYNC with {reply[:1].hex()}")

    async def negotiate(self, fixed_key: int) -> None:
        """The eSSP key exchange (4A, 4B, 4C in clear); the counter starts at 0."""
        exchange = KeyExchange.host()
        self._key = None
        for code, number in (
            (Cmd.SET_GENERATOR, exchange.generator),
            (Cmd.SET_MODULUS, exchange.modulus),
            (Cmd.REQUEST_KEY_EXCHANGE, exchange.inter_key),
        ):
            reply = await self.command(bytes((code,)) + struct.pack("<Q", number), clear=True)
            if reply[:1] != bytes((Generic.OK,)):
                raise EsspRefused(f"key exchange: command {code:02X}h answered {reply[:1].hex()}")
        if len(reply) != 9:
            raise EsspRefused("key exchange: the device's inter key is missing")
        (theirs,) = struct.unpack_from("<Q", reply, 1)
        try:
            negotiated = exchange.negotiated(theirs)
        except ProtocolError as exc:
            raise EsspRefused(f"key exchange: {exc}") from None
        self._key = SessionKey(fixed_key, negotiated)
        self._count = 0

    async def command(self, data: bytes, *, clear: bool = False) -> bytes:
        """Send ``data`` (encrypted when a session is set, unless ``clear``) and return
        the reply DATA (decrypted).

        Raises:
            HalTimeout: no good reply after every resend.
            EsspRefused: a clear reply to an encrypted command, or a reply that does not
                decrypt or carries the wrong counter.
        """
        async with self.lock:
            key = None if clear else self._key
            if key is None:
                return await self._exchange(data)
            count = self._count
            reply = await self._exchange(encrypt_packet(key, count, data))
            if not reply or reply[0] != 0x7E:
                self._key = None
                code = reply[:1].hex() or "nothing"
                raise EsspRefused(f"the device refused an encrypted command ({code})")
            try:
                got, inner = decrypt_packet(key, reply)
            except ProtocolError as exc:
                self._key = None
                raise EsspRefused(f"an encrypted reply did not decrypt: {exc}") from None
            if got != count + 1:
                self._key = None
                raise EsspRefused(f"an encrypted reply carries counter {got}, not {count + 1}")
            self._count = count + 2
            return inner

    async def _exchange(self, data: bytes) -> bytes:
        seq = self._next_seq
        raw = build_frame(seq, self.slave, data)
        for attempt in range(self.retries + 1):
            if attempt:
                self.resends += 1
            await self.transport.write(raw)
            reply = await self._reply(seq)
            if reply is not None:
                self._next_seq = not seq
                return reply.data
        raise HalTimeout(f"{self.transport.name}: no SSP reply after {self.retries + 1} sends")

    async def _reply(self, seq: bool) -> Frame | None:
        deadline = time.monotonic() + self.reply_timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            try:
                data = await self.transport.read(512, timeout=left)
            except HalTimeout:
                return None
            for item in self._decoder.feed(data):
                if isinstance(item, BadFrame):
                    if item.reason.value == "crc":
                        return None  # send again at once
                    continue
                if item.address == self.slave and item.seq == seq:
                    return item
