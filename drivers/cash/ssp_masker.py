"""The ``spy+ssp`` masker: SSP traffic as log lines, with the eSSP secrets hidden.

A clear frame is shown whole (commands, generic replies and poll events carry no
secrets) except the key exchange: the generator, modulus and both inter keys (64-bit
Diffie-Hellman is small enough to break from them) are hidden, and so is the DATA of
a SET FIXED KEY. An encrypted frame's payload (after 7E) is always hidden, ``reveal``
or not: the trace never holds what could lead to the key. Bad frames and noise are
masked whole, ``reveal`` or not: a key exchange frame with a damaged CRC would
otherwise show its Diffie-Hellman numbers.
"""

from __future__ import annotations

from hal.transports.spy_maskers import HIDDEN, RX, TX, hex_masked
from protocols.ssp import BadFrame, Frame, SspStreamDecoder
from protocols.ssp_commands import Cmd

__all__ = ["SspMasker"]

_SECRET_COMMANDS = frozenset(
    {Cmd.SET_GENERATOR, Cmd.SET_MODULUS, Cmd.REQUEST_KEY_EXCHANGE, Cmd.SET_FIXED_KEY}
)


class SspMasker:
    """SSP traffic, frame by frame (see the module header)."""

    def __init__(self, reveal: bool = False) -> None:
        self.reveal = reveal
        self._decoders = {TX: SspStreamDecoder(), RX: SspStreamDecoder()}
        self._last_command = 0

    def reset(self) -> None:
        """Forget partial frames (the port was reopened)."""
        for decoder in self._decoders.values():
            decoder.reset()

    def lines(self, direction: str, data: bytes) -> list[str]:
        out = []
        for item in self._decoders[direction].feed(data):
            if isinstance(item, Frame):
                out.append(self._frame(direction, item))
            else:
                out.append(_bad(item))
        return out

    def _frame(self, direction: str, frame: Frame) -> str:
        kind = "command" if direction == TX else "reply"
        head = f"{frame.data[0]:02X}h" if frame.data else "empty"
        seq = int(frame.seq)
        if frame.encrypted:
            body = f"7E {HIDDEN} x{len(frame.data) - 1}"
            return f"{len(frame.data) + 5:3d} {kind} seq={seq} encrypted: {body}"
        secret = False
        if direction == TX:
            self._last_command = frame.data[0] if frame.data else 0
            secret = self._last_command in _SECRET_COMMANDS
        else:
            secret = self._last_command == Cmd.REQUEST_KEY_EXCHANGE
        shown = hex_masked(frame.data, range(1, len(frame.data)) if secret else (), False)
        return f"{len(frame.data) + 5:3d} {kind} seq={seq} {head}: {shown}"


def _bad(item: BadFrame) -> str:
    raw = item.raw
    return f"{len(raw):3d} {item.reason.value}: {hex_masked(raw, range(len(raw)), False)}"
