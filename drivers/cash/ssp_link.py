"""The host side of the SSP link: one command and its reply at a time, the sequence flag,
resends, and the eSSP session (key exchange, encryption, the packet counter).

- Every new command carries the other sequence flag than the last; SYNC carries 1 and
  the next command 0. A command whose reply does not come (or comes with a bad CRC)
  is sent again with the SAME flag and the same bytes (an encrypted packet is not
  encrypted again): the device then repeats its last reply instead of acting twice.
- When every send of a command went unanswered (or the exchange was cut short: a
  cancel, a port error), the link is OUT OF SYNC: the device may or may not have
  acted, and the next command under the next flag could meet a device that missed the
  last one and takes it for a repeat (answering with the old reply, eSSP counter and
  all). So before the next command the link sends SYNC and,
  if a session was set, negotiates a new key (`SspLink.in_sync` tells).
- With a session key, `SspLink.command` wraps the command in an eSSP packet with the
  host's counter; the reply must be encrypted with counter + 1, and the next counter
  is counter + 2. A CLEAR refusal of an encrypted command (F2-FA: no key, a counter
  it did not expect, a packet it could not decrypt) is `EsspRefused`: the device did
  not carry it out. An encrypted reply that does not decrypt or carries another
  counter (`protocols.essp.CounterError`: a replayed or stale reply), or a clear F0,
  is `EsspUntrusted` (a `ConnectionLost`): the device may have acted, the host cannot
  tell. Either drops the session; the latter also puts the link out of sync.
- The key exchange and `ensure_session` run under the link's lock, so no other
  command slips between the exchange's three commands or negotiates at the same time.

Nothing here logs a key or an encrypted payload.
"""

from __future__ import annotations

import asyncio
import struct
import time
from collections.abc import Callable

from hal.errors import ConnectionLost, HalTimeout, HardwareError
from hal.transports.base import Transport
from protocols.errors import ProtocolError
from protocols.essp import KeyExchange, SessionKey, decrypt_packet, encrypt_packet
from protocols.ssp import BadFrame, BadFrameReason, Frame, SspStreamDecoder, build_frame
from protocols.ssp_commands import Cmd, Generic

__all__ = ["EsspRefused", "EsspUntrusted", "SspLink"]

#: The generic replies that refuse a command (all but F0).
_REFUSALS = frozenset(int(g) for g in Generic if g is not Generic.OK)


class EsspRefused(HardwareError):
    """The device refused an encrypted command in clear (no key, a counter it did not
    expect, a packet it could not decrypt): it did not carry it out."""


class EsspUntrusted(ConnectionLost):
    """The reply to an encrypted command cannot be trusted (it does not decrypt, carries
    another counter than expected, or came in clear with F0): the device may have
    carried the command out."""


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
        # how to make the session key again (holds the fixed key in a closure, never shown)
        self._rekey: Callable[[int], SessionKey] | None = None
        self._count = 0
        self._in_sync = True
        self.resends = 0
        self.resyncs = 0

    @property
    def encrypted(self) -> bool:
        """A session key is set."""
        return self._key is not None

    @property
    def in_sync(self) -> bool:
        """False after an exchange none of whose sends was answered: the next command
        goes after a SYNC (and a new key exchange when a session was set)."""
        return self._in_sync

    async def open(self) -> None:
        await self.transport.open()
        self._decoder.reset()
        self._key = None
        self._rekey = None
        self._in_sync = True

    async def close(self) -> None:
        self._key = None
        self._rekey = None
        await self.transport.close()

    async def sync(self) -> None:
        """SYNC (flag 1); the next command carries flag 0."""
        async with self.lock:
            await self._sync()

    async def negotiate(self, fixed_key: int) -> None:
        """The eSSP key exchange (4A, 4B, 4C in clear, under the lock); the counter
        starts at 0."""
        async with self.lock:
            await self._resync()
            await self._negotiate(lambda negotiated: SessionKey(fixed_key, negotiated))

    async def ensure_session(self, fixed_key: int) -> None:
        """Negotiate a key unless one is set (checked and done under the lock: two
        callers at once make one exchange)."""
        async with self.lock:
            await self._resync()
            if self._key is None:
                await self._negotiate(lambda negotiated: SessionKey(fixed_key, negotiated))

    async def command(self, data: bytes, *, clear: bool = False) -> bytes:
        """Send ``data`` (encrypted when a session is set, unless ``clear``) and return
        the reply DATA (decrypted). Out of sync, SYNC (and a new key) go first.

        Raises:
            HalTimeout: no good reply after every resend (the link is then out of sync).
            EsspRefused: the device refused the encrypted command in clear (not done).
            EsspUntrusted: a reply that does not decrypt, carries the wrong counter, or a
                clear F0 to an encrypted command (done or not: unknown).
        """
        async with self.lock:
            await self._resync()
            return await self._command(data, clear)

    async def _sync(self) -> None:
        self._next_seq = True
        reply = await self._exchange(bytes((Cmd.SYNC,)))
        if reply[:1] != bytes((Generic.OK,)):
            raise HardwareError(f"the device answered SYNC with {reply[:1].hex()}")
        self._in_sync = True

    async def _resync(self) -> None:
        if self._in_sync:
            return
        self._key = None
        await self._sync()
        self.resyncs += 1
        if self._rekey is not None:
            await self._negotiate(self._rekey)

    async def _negotiate(self, make_key: Callable[[int], SessionKey]) -> None:
        exchange = KeyExchange.host()
        self._key = None
        reply = b""
        for code, number in (
            (Cmd.SET_GENERATOR, exchange.generator),
            (Cmd.SET_MODULUS, exchange.modulus),
            (Cmd.REQUEST_KEY_EXCHANGE, exchange.inter_key),
        ):
            reply = await self._command(bytes((code,)) + struct.pack("<Q", number), True)
            if reply[:1] != bytes((Generic.OK,)):
                raise EsspRefused(f"key exchange: command {code:02X}h answered {reply[:1].hex()}")
        if len(reply) != 9:
            raise EsspRefused("key exchange: the device's inter key is missing")
        (theirs,) = struct.unpack_from("<Q", reply, 1)
        try:
            negotiated = exchange.negotiated(theirs)
        except ProtocolError as exc:
            raise EsspRefused(f"key exchange: {exc}") from None
        self._key = make_key(negotiated)
        self._rekey = make_key
        self._count = 0

    async def _command(self, data: bytes, clear: bool) -> bytes:
        key = None if clear else self._key
        if key is None:
            return await self._exchange(data)
        count = self._count
        reply = await self._exchange(encrypt_packet(key, count, data))
        if not reply or reply[0] != 0x7E:
            self._key = None
            code = reply[:1].hex() or "nothing"
            if reply[:1] and reply[0] in _REFUSALS:
                raise EsspRefused(f"the device refused an encrypted command ({code})")
            self._in_sync = False
            raise EsspUntrusted(f"an encrypted command answered in clear with {code}")
        try:
            _, inner = decrypt_packet(key, reply, expect=count + 1)
        except ProtocolError as exc:
            # a stale or replayed reply, or one that does not open: the device may have
            # acted on the command; the host cannot tell
            self._key = None
            self._in_sync = False
            raise EsspUntrusted(f"an encrypted reply was refused: {exc}") from None
        self._count = count + 2
        return inner

    async def _exchange(self, data: bytes) -> bytes:
        """One command and its reply; an exchange that does not end with its reply (every
        send unanswered, a cancel, a port error) leaves the link out of sync."""
        seq = self._next_seq
        raw = build_frame(seq, self.slave, data)
        try:
            for attempt in range(self.retries + 1):
                if attempt:
                    self.resends += 1
                await self.transport.write(raw)
                reply = await self._reply(seq)
                if reply is not None:
                    self._next_seq = not seq
                    return reply.data
        except BaseException:
            self._in_sync = False
            raise
        self._in_sync = False
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
                    if item.reason is BadFrameReason.CRC:
                        return None  # send again at once
                    continue
                if item.address == self.slave and item.seq == seq:
                    return item
