"""`VirtualCard`: a simulated smart card in a vsmartcard ``vpcd`` reader slot of pcscd.

The real PC/SC stack runs unmodified: pcscd loads vpcd (Debian ``vsmartcard-vpcd``),
which offers two readers, ``Virtual PCD 00 00`` and ``Virtual PCD 00 01``, listening
on TCP 35963 and 35964 (on 0.0.0.0; reference/ecosystem.md §1). The card is the TCP
**client**: connecting is inserting the card, closing is the customer pulling it out.

The vpcd protocol: every message is a 2-byte big-endian length and a payload. A 1-byte
payload is a control byte: ``00`` power off, ``01`` power on, ``02`` reset, ``04``
get ATR (answered with the ATR, framed). Anything else is a command APDU, answered with
the response APDU. vpcd polls presence with ``04`` about 2.5 times a second, so that
answer is cheap (pre-built).

The answers come from the card profile (`simulator.profiles`): the ATR of the protocol
the card runs (``chip.protocol``, or the one of ``protocols`` the card offers), and the
APDUs from a fresh `simulator.emv.EmvChip` at every power on and reset, as the CRT-310
emulator's chip answers them.

A card without a chip: vpcd takes an **empty** ATR for "no card" (pcscd keeps the
slot empty and never notices the card), so a chipless card answers ``04`` with the
single byte ``00`` (`MUTE_ATR`): no valid TS, which pcscd shows as a card present whose
ATR it cannot use; connecting to it fails with ``SCARD_E_PROTO_MISMATCH``. That is how
a real reader with a chipless card in it looks to an application (present, unusable).

**TCP_QUICKACK**: bookworm's vpcd sends the length and the payload in two ``send()``
calls, so Nagle on its side meets delayed ACKs on ours: 40 ms per APDU. The card
re-arms ``TCP_QUICKACK`` after every receive (Linux clears it by itself), which brings
an APDU round trip down to well under a millisecond (``bench/bench_pcsc.py``).
``quickack=False`` leaves it off, for the benchmark.

**A card that freezes mid-APDU** (a fault switch, for the tests of a stuck PC/SC
call): with ``answers_apdus`` set to ``False`` the card takes every command APDU and
never replies (it still answers vpcd's control bytes). vpcd then waits for the answer
with no time limit, and so does the ``SCardTransmit`` behind it, until the card is
pulled (its connection closes) or pcscd stops.

The card is an asyncio protocol on the running loop: no thread, no polling.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
from dataclasses import dataclass
from typing import Any

from simulator.emv import EmvChip
from simulator.profiles import CardProfile

__all__ = [
    "CONTROL_ATR",
    "CONTROL_OFF",
    "CONTROL_ON",
    "CONTROL_RESET",
    "MUTE_ATR",
    "VPCD_HOST",
    "VPCD_PORTS",
    "CardStats",
    "VirtualCard",
    "card_atr",
    "frame",
    "take_frames",
]

log = logging.getLogger(__name__)

#: The loopback address the card connects to (vpcd listens on every address).
VPCD_HOST = "127.0.0.1"
#: The TCP ports of the two vpcd readers, ``Virtual PCD 00 00`` and ``... 00 01``.
VPCD_PORTS = (35963, 35964)

CONTROL_OFF, CONTROL_ON, CONTROL_RESET, CONTROL_ATR = 0x00, 0x01, 0x02, 0x04
#: What a card without a chip answers to "get ATR": no valid TS byte (see the header).
MUTE_ATR = b"\x00"

_LENGTH = struct.Struct(">H")
_NO_ANSWER = b"\x6f\x00"  # an APDU to an unpowered chip: "no precise diagnosis"
_QUICKACK = getattr(socket, "TCP_QUICKACK", None)


def card_atr(profile: CardProfile, protocols: frozenset[str]) -> tuple[bytes, str | None]:
    """The ATR the card gives in a reader offering ``protocols``, and the protocol."""
    chip = profile.chip
    protocol = chip.select_protocol(protocols) if chip is not None else None
    if chip is None or protocol is None:
        return MUTE_ATR, None
    return chip.atrs[protocol], protocol


def frame(payload: bytes) -> bytes:
    """One vpcd message: the 2-byte big-endian length, then the payload.

    Raises:
        ValueError: the payload is longer than a length field can say (65535 bytes).
    """
    if len(payload) > 0xFFFF:
        raise ValueError(f"a vpcd message holds at most 65535 bytes, got {len(payload)}")
    return _LENGTH.pack(len(payload)) + payload


def take_frames(buffer: bytearray) -> list[bytes]:
    """Remove every complete message from the front of ``buffer``; return their payloads.

    What is left is the start of a message still arriving (any chunking works).
    """
    out = []
    start = 0
    while len(buffer) - start >= 2:
        (size,) = _LENGTH.unpack_from(buffer, start)
        if len(buffer) - start < 2 + size:
            break
        out.append(bytes(buffer[start + 2 : start + 2 + size]))
        start += 2 + size
    del buffer[:start]
    return out


@dataclass
class CardStats:
    """What the card saw on the wire.

    Attributes:
        apdus: command APDUs received (answered or, with the fault switch, not).
        atr_polls: "get ATR" requests (vpcd's presence polls included).
        power_ons: power-on and reset requests.
        bytes_in: bytes received from vpcd.
        receives: receives that brought data.
        quickacks: times ``TCP_QUICKACK`` was armed (once per receive when enabled).
    """

    apdus: int = 0
    atr_polls: int = 0
    power_ons: int = 0
    bytes_in: int = 0
    receives: int = 0
    quickacks: int = 0


class _CardProtocol(asyncio.Protocol):
    """The card's end of the vpcd connection."""

    def __init__(self, card: VirtualCard) -> None:
        self.card = card
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._quickack()

    def _quickack(self) -> None:
        if self.card.quickack and _QUICKACK is not None and self.transport is not None:
            sock = self.transport.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.IPPROTO_TCP, _QUICKACK, 1)
                self.card.stats.quickacks += 1

    def data_received(self, data: bytes) -> None:
        # Linux clears TCP_QUICKACK after it acts: re-arm it after every receive.
        self._quickack()
        self.card.stats.receives += 1
        self.card.stats.bytes_in += len(data)
        self.buffer += data
        out = bytearray()
        for payload in take_frames(self.buffer):
            answer = self.card.answer(payload)
            if answer is not None:
                out += frame(answer)
        if out and self.transport is not None:
            self.transport.write(bytes(out))  # length and data in one segment

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if not self.closed.done():
            self.closed.set_result(None)


class VirtualCard:
    """One card for one vpcd slot; `insert()` connects, `remove()` disconnects.

    Args:
        profile: what the card holds (its chip answers APDUs).
        port: the vpcd slot's TCP port (`VPCD_PORTS`).
        host: where vpcd listens.
        quickack: re-arm ``TCP_QUICKACK`` after every receive (see the header).
        protocols: the protocols the reader offers (the card picks its ATR from them).

    Attributes:
        answers_apdus: the fault switch: ``False`` makes the card swallow command APDUs
            without a reply (see the module header); control bytes are still answered.
    """

    def __init__(
        self,
        profile: CardProfile,
        *,
        port: int = VPCD_PORTS[0],
        host: str = VPCD_HOST,
        quickack: bool = True,
        protocols: frozenset[str] = frozenset({"T0", "T1"}),
    ) -> None:
        self.profile = profile
        self.port = port
        self.host = host
        self.quickack = quickack
        self.atr, self.protocol = card_atr(profile, protocols)
        self.chip: EmvChip | None = None
        self.stats = CardStats()
        self.answers_apdus = True
        self._protocol: _CardProtocol | None = None
        self._powered = False  # vpcd powered the chip since the card went in
        self._seen: asyncio.Event | None = None

    @property
    def inserted(self) -> bool:
        """The card is connected to vpcd (in the reader, as pcscd sees it)."""
        return self._protocol is not None and not self._protocol.closed.done()

    async def insert(self) -> None:
        """Connect to vpcd: the card is in the reader.

        Raises:
            OSError: vpcd does not listen (pcscd is not running).
        """
        if self.inserted:
            return
        loop = asyncio.get_running_loop()
        _, protocol = await loop.create_connection(
            lambda: _CardProtocol(self), self.host, self.port
        )
        self.chip = None
        self._powered = False
        self._seen = asyncio.Event()
        self._protocol = protocol

    async def wait_seen(self, timeout: float) -> bool:
        """Wait until pcscd has powered the card and read its ATR since `insert()`
        (then the reader shows it present); ``False`` if that took over ``timeout`` s.

        pcscd polls vpcd for a card about every 0.4 s, so this takes up to that long.
        """
        seen = self._seen
        if seen is None:
            return False
        try:
            await asyncio.wait_for(seen.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def remove(self) -> None:
        """Close the connection: the card is out (idempotent)."""
        protocol, self._protocol = self._protocol, None
        self.chip = None
        if protocol is None:
            return
        if protocol.transport is not None:
            protocol.transport.close()
        await protocol.closed

    async def wait_closed(self) -> None:
        """Return when the connection ends (vpcd or pcscd went away, or `remove()`)."""
        protocol = self._protocol
        if protocol is not None:
            await asyncio.shield(protocol.closed)  # a cancelled waiter must not cancel it

    def answer(self, payload: bytes) -> bytes | None:
        """What the card answers to one vpcd message (``None``: nothing)."""
        if len(payload) == 1:
            control = payload[0]
            if control == CONTROL_ATR:
                self.stats.atr_polls += 1
                if self._powered and self._seen is not None:
                    self._seen.set()
                return self.atr
            if control in (CONTROL_ON, CONTROL_RESET):
                self.stats.power_ons += 1
                self._powered = True
                self._power_on()
                return None
            if control == CONTROL_OFF:
                self.chip = None
                return None
            log.debug("vpcd card on port %d: unknown control byte %02X", self.port, control)
            return None
        self.stats.apdus += 1
        if not self.answers_apdus:
            return None  # frozen mid-APDU: vpcd waits for ever
        if self.chip is None:
            return _NO_ANSWER
        return self.chip.exchange(payload)

    def _power_on(self) -> None:
        chip = self.profile.chip
        self.chip = EmvChip(chip, self.protocol) if chip and self.protocol else None

    def __repr__(self) -> str:
        name = self.profile.name
        return f"VirtualCard(profile={name!r}, port={self.port}, inserted={self.inserted})"

    async def __aenter__(self) -> VirtualCard:
        await self.insert()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.remove()
