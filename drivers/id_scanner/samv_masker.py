"""The ``spy+samv`` masker: SAM_V traffic as log lines, personal data as sizes only.

Host commands carry no data and are shown whole with their meaning. A reply's frame
header (preamble, LEN, SW1 SW2 SW3) is shown; its DATA is shown only where it holds
nothing personal (the SAM ID, the find reply's four bytes); the base message shows its
length fields and then ``<text 256 bytes> <photo 1024 bytes> <fingerprints 1024
bytes>``, the newest address, the select's card serial and any DATA the masker does
not know are shown as ``<N bytes>``, and the checksum of a frame with hidden DATA as
``**`` (it is a parity of the data). Garbage and frames with a bad checksum are
counted, never shown (the decoder skips them). ``reveal`` shows every byte (a bench).
"""

from __future__ import annotations

from hal.transports.spy_maskers import HIDDEN, RX, TX
from protocols.samv import PREAMBLE, CommandFrame, ReplyFrame, SamvDecoder, Sw3

__all__ = ["SamvMasker"]

_TEXT_SIZES = ("text", "photo", "fingerprints")


def _hex(raw: bytes) -> str:
    return " ".join(f"{b:02X}" for b in raw)


class SamvMasker:
    """SAM_V traffic, frame by frame (host frames as commands, module frames as
    replies)."""

    def __init__(self, reveal: bool = False) -> None:
        self.reveal = reveal
        self._decoders = {TX: SamvDecoder("command"), RX: SamvDecoder("reply")}

    def reset(self) -> None:
        """Forget partial frames (the port was reopened)."""
        for decoder in self._decoders.values():
            decoder.reset()

    def lines(self, direction: str, data: bytes) -> list[str]:
        decoder = self._decoders[direction]
        skipped, bad = decoder.skipped, decoder.bad_frames
        frames = decoder.feed(data)
        lines: list[str] = []
        dropped = decoder.bad_frames - bad
        if dropped:
            lines.append(f"{dropped} frame(s) with a bad checksum or length (not shown)")
        noise = decoder.skipped - skipped
        if noise:
            lines.append(f"{noise} bytes of noise (not shown)")
        for frame in frames:
            if isinstance(frame, CommandFrame):
                lines.append(self._command(frame))
            else:
                lines.append(self._reply(frame))
        return lines

    def _command(self, frame: CommandFrame) -> str:
        raw = frame.to_bytes()
        known = frame.command
        meaning = known.meaning if known is not None else "unknown command"
        if frame.data and not self.reveal:
            shown = f"{_hex(raw[:9])} <{len(frame.data)} bytes> {HIDDEN}"
        else:
            shown = _hex(raw)
        return f"{len(raw):4d} {meaning}: {shown}"

    def _reply(self, frame: ReplyFrame) -> str:
        raw = frame.to_bytes()
        head = raw[: len(PREAMBLE) + 5]  # preamble, LEN, SW1 SW2 SW3
        data = frame.data
        line = f"{len(raw):4d} {frame.meaning}: "
        if self.reveal or not data or self._public(frame):
            return line + _hex(raw)
        return line + f"{_hex(head)} {self._sizes(frame)} {HIDDEN}"

    @staticmethod
    def _public(frame: ReplyFrame) -> bool:
        """DATA with nothing personal in it: the SAM ID (16 bytes), a find's 4 bytes."""
        if frame.sw3 == Sw3.CARD_FOUND:
            return len(frame.data) == 4
        return frame.sw3 == Sw3.SUCCESS and len(frame.data) == 16

    @staticmethod
    def _sizes(frame: ReplyFrame) -> str:
        data = frame.data
        if frame.sw3 == Sw3.SUCCESS and len(data) >= 4:
            for count in (3, 2):
                sizes = [int.from_bytes(data[2 * i : 2 * i + 2], "big") for i in range(count)]
                if sizes[0] == 256 and 2 * count + sum(sizes) == len(data):
                    names = _TEXT_SIZES[:count]
                    blocks = " ".join(f"<{n} {s} bytes>" for n, s in zip(names, sizes, strict=True))
                    return f"{_hex(data[: 2 * count])} {blocks}"
        return f"<{len(data)} bytes>"
