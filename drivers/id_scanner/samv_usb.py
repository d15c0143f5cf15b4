"""A USB SAM_V module's four bulk pipes joined into one byte stream.

The USB variant of the SAM_V module splits every frame over two pipes each way
(reference/protocols.md §1.1)::

    host -> module:  OUT 0x02  AA AA AA 96 69 LEN_H LEN_L     (preamble + LEN)
                     OUT 0x06  CMD PARA DATA... CHK
    module -> host:  IN  0x81  AA AA AA 96 69 LEN_H LEN_L
                     IN  0x85  SW1 SW2 SW3 DATA... CHK

`SamvUsbPipes` is a `hal.transports.base.Transport` over a `hal.transports.usb.
UsbTransport` (its named pipes, `UsbTransport.add_in_endpoint`): a frame written is
cut after LEN, its header going to 0x02 and the rest to 0x06 (both, even if the caller
is cancelled between them: a module must never see half a command); what is read is
the header pipe's bytes up to a frame's LEN, then LEN bytes of the body pipe, and so
on, so the link above sees exactly the byte stream of the serial module and decodes it
with the same stream decoder (noise, bad checksums and all). Bytes on the header pipe
that are no header (noise) pass through for the decoder to skip. The ``spy+`` wrapper
goes around this joined stream (the driver's factory puts it there), so a USB module's
traffic is logged and masked as a serial one's.
"""

from __future__ import annotations

import asyncio

from hal.errors import HalTimeout
from hal.transports.usb import UsbTransport
from protocols.samv import MAX_LEN, PREAMBLE

__all__ = ["BODY_IN", "BODY_OUT", "HEADER_IN", "HEADER_OUT", "HEADER_SIZE", "SamvUsbPipes"]

#: The pipes (bEndpointAddress) of the USB variant.
HEADER_OUT, BODY_OUT, HEADER_IN, BODY_IN = 0x02, 0x06, 0x81, 0x85
#: What goes on a header pipe: the preamble and LEN.
HEADER_SIZE = len(PREAMBLE) + 2


def _partial_preamble(data: bytes | bytearray) -> int:
    """How many bytes at the end of ``data`` may begin a preamble."""
    for size in range(min(len(PREAMBLE) - 1, len(data)), 0, -1):
        if data[-size:] == PREAMBLE[:size]:
            return size
    return 0


class SamvUsbPipes:
    """The four bulk pipes of a USB SAM_V module as one byte stream.

    Args:
        usb: the module's USB transport, not yet open (the pipes it reads are added).
    """

    def __init__(self, usb: UsbTransport) -> None:
        self.usb = usb
        usb.add_in_endpoint(HEADER_IN)
        usb.add_in_endpoint(BODY_IN)
        self._head = bytearray()  # header-pipe bytes not yet passed on
        self._body_left = 0  # body bytes still to come for the header passed on
        self._out = bytearray()  # joined bytes read and not consumed (read_exactly)

    @property
    def name(self) -> str:
        return self.usb.name

    @property
    def is_open(self) -> bool:
        return self.usb.is_open

    def _reset(self) -> None:
        self._head.clear()
        self._out.clear()
        self._body_left = 0

    async def open(self) -> None:
        if not self.usb.is_open:
            self._reset()
        await self.usb.open()

    async def close(self) -> None:
        await self.usb.close()
        self._reset()

    async def reopen(self) -> None:
        self._reset()
        await self.usb.reopen()

    # --- writing -------------------------------------------------------------------------

    async def write(self, data: bytes) -> None:
        """Send whole frames: each one's header on 0x02, the rest on 0x06.

        Raises:
            ValueError: ``data`` is not a sequence of whole frames (a caller's bug).
        """
        data = bytes(data)
        pieces: list[tuple[int, bytes]] = []
        at = 0
        while at < len(data):
            header = data[at : at + HEADER_SIZE]
            if len(header) < HEADER_SIZE or header[: len(PREAMBLE)] != PREAMBLE:
                raise ValueError("the SAM_V USB pipes carry whole frames only")
            length = int.from_bytes(header[len(PREAMBLE) :], "big")
            body = data[at + HEADER_SIZE : at + HEADER_SIZE + length]
            if len(body) != length:
                raise ValueError("the SAM_V USB pipes carry whole frames only")
            pieces += [(HEADER_OUT, header), (BODY_OUT, body)]
            at += HEADER_SIZE + length
        if pieces:
            # Both halves go, even if the caller is cancelled meanwhile.
            await asyncio.shield(self._write_pieces(pieces))

    async def _write_pieces(self, pieces: list[tuple[int, bytes]]) -> None:
        for endpoint, piece in pieces:
            await self.usb.write(piece, endpoint=endpoint)

    # --- reading -------------------------------------------------------------------------

    async def read(self, max_bytes: int = 4096, *, timeout: float | None = None) -> bytes:
        if max_bytes < 1:
            raise ValueError(f"max_bytes is at least 1, got {max_bytes}")
        if self._out:
            chunk = bytes(self._out[:max_bytes])
            del self._out[:max_bytes]
            return chunk
        deadline = self._deadline(timeout)
        while True:
            data = await self._pull(max_bytes, deadline, timeout)
            if data:
                return data

    async def read_exactly(self, size: int, *, timeout: float | None = None) -> bytes:
        if size < 0:
            raise ValueError(f"size is at least 0, got {size}")
        deadline = self._deadline(timeout)
        while len(self._out) < size:
            # A timeout keeps what came in _out: nothing is consumed.
            self._out += await self._pull(size - len(self._out), deadline, timeout)
        chunk = bytes(self._out[:size])
        del self._out[:size]
        return chunk

    def flush_input(self) -> int:
        dropped = len(self._head) + len(self._out)
        dropped += self.usb.flush_input(HEADER_IN) + self.usb.flush_input(BODY_IN)
        self._reset()
        return dropped

    @staticmethod
    def _deadline(timeout: float | None) -> float | None:
        if timeout is None:
            return None
        if timeout < 0:
            raise ValueError(f"a timeout is >= 0 seconds or None, got {timeout}")
        return asyncio.get_running_loop().time() + timeout

    async def _pull(self, most: int, deadline: float | None, timeout: float | None) -> bytes:
        """The next bytes of the joined stream (possibly none, on a partial header)."""
        remaining = None
        if deadline is not None:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise HalTimeout(f"{self.name}: nothing received within {timeout} s")
        if self._body_left:
            data = await self.usb.read(
                min(most, self._body_left), timeout=remaining, endpoint=BODY_IN
            )
            self._body_left -= len(data)
            return data
        out = self._scan()
        if out:
            return out
        self._head += await self.usb.read(4096, timeout=remaining, endpoint=HEADER_IN)
        return self._scan()

    def _scan(self) -> bytes:
        """Pass on header-pipe bytes: noise as it is, a header once whole (its LEN then
        says how much of the body pipe follows)."""
        head, out = self._head, bytearray()
        while head and not self._body_left:
            start = head.find(PREAMBLE)
            if start < 0:
                cut = len(head) - _partial_preamble(head)
                out += head[:cut]
                del head[:cut]
                break
            if start:
                out += head[:start]
                del head[:start]
                continue
            if len(head) < HEADER_SIZE:
                break  # the rest of the header is still on its way
            length = int.from_bytes(head[len(PREAMBLE) : HEADER_SIZE], "big")
            if not 1 <= length <= MAX_LEN:
                out += head[:1]  # a preamble with an impossible LEN: noise
                del head[:1]
                continue
            out += head[:HEADER_SIZE]
            del head[:HEADER_SIZE]
            self._body_left = length
        return bytes(out)

    def __repr__(self) -> str:
        return f"SamvUsbPipes({self.usb!r})"
