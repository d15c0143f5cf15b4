"""The ``spy+id003`` masker: ID-003 traffic as log lines.

A bill validator's frames carry statuses, denomination codes and settings, never
cardholder data or keys, so a good frame is shown whole with its meaning. What the
masker cannot decode (a bad CRC, noise) is masked whole, as for every protocol.
"""

from __future__ import annotations

from hal.transports.spy_maskers import RX, TX, hex_masked
from protocols.errors import ProtocolError
from protocols.id003 import BadFrame, Frame, Id003StreamDecoder
from protocols.id003_messages import parse_command, parse_reply

__all__ = ["Id003Masker"]


class Id003Masker:
    """ID-003 traffic, frame by frame (host frames as commands, device frames as
    statuses)."""

    def __init__(self, reveal: bool = False) -> None:
        self.reveal = reveal
        self._decoders = {TX: Id003StreamDecoder(), RX: Id003StreamDecoder()}

    def reset(self) -> None:
        """Forget partial frames (the port was reopened)."""
        for decoder in self._decoders.values():
            decoder.reset()

    def lines(self, direction: str, data: bytes) -> list[str]:
        return [
            _line(item, direction, self.reveal) for item in self._decoders[direction].feed(data)
        ]


def _line(item: Frame | BadFrame, direction: str, reveal: bool) -> str:
    if isinstance(item, BadFrame):
        raw = item.raw
        return f"{len(raw):3d} {item.reason.value}: {hex_masked(raw, range(len(raw)), reveal)}"
    raw = item.to_bytes()
    try:
        message = parse_command(item) if direction == TX else parse_reply(item)
        meaning = message.meaning
    except ProtocolError as exc:
        meaning = f"undecoded ({exc.message})"
    return f"{len(raw):3d} {meaning}: {hex_masked(raw, (), reveal)}"
