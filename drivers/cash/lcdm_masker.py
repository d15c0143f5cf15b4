"""The ``spy+lcdm`` masker: LCDM traffic as log lines.

Cash-dispenser frames carry note counts, error codes and sensor bits, never cardholder
data or keys (docs/lcdm.md), so a good frame is shown whole, with its direction and the
command's code. What the masker cannot decode (a bad BCC, noise) is masked whole, as
for every protocol: it is not known to be an LCDM frame.
"""

from __future__ import annotations

from hal.transports.spy_maskers import RX, TX, hex_masked
from protocols.lcdm import BadFrame, Control, Frame, Item, LcdmStreamDecoder

__all__ = ["LcdmMasker"]


class LcdmMasker:
    """LCDM traffic, item by item (see the module header)."""

    def __init__(self, reveal: bool = False) -> None:
        self.reveal = reveal
        self._decoders = {TX: LcdmStreamDecoder(), RX: LcdmStreamDecoder()}

    def reset(self) -> None:
        """Forget partial frames (the port was reopened)."""
        for decoder in self._decoders.values():
            decoder.reset()

    def lines(self, direction: str, data: bytes) -> list[str]:
        return [_line(item, self.reveal) for item in self._decoders[direction].feed(data)]


def _line(item: Item, reveal: bool) -> str:
    if isinstance(item, Control):
        return f"{1:3d} {item.name}"
    if isinstance(item, Frame):
        raw = item.to_bytes()
        kind = "command" if raw[0] == 0x04 else "reply"
        return f"{len(raw):3d} {kind} {item.cmd:02X}h: {hex_masked(raw, (), reveal)}"
    assert isinstance(item, BadFrame)
    raw = item.raw
    label = item.reason.name.replace("_", " ")
    return f"{len(raw):3d} {label}: {hex_masked(raw, range(len(raw)), reveal)}"
