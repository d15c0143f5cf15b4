"""The SAM_V stream decoder (`protocols.samv.SamvDecoder`): cuts a byte stream into
checked frames, resynchronising on the preamble (see `protocols.samv`).
"""

from __future__ import annotations

from protocols.samv_frames import MAX_LEN, PREAMBLE, CommandFrame, ReplyFrame, _xor

__all__ = ["SamvDecoder"]

#: The preamble's last four bytes, which the decoder searches for.
_SYNC = PREAMBLE[1:]
#: The stray bytes some firmwares send before a preamble (§1.2 [S]).
_QUIRK = b"\xaa\x00"
#: Bytes kept when no preamble is in the buffer: 3 of a preamble's last four, and 3 before.
_KEEP = 6


class SamvDecoder:
    """Cuts a byte stream into checked frames of one direction.

    Args:
        direction: ``"reply"`` (what a host reads: `ReplyFrame`) or ``"command"`` (what
            a module reads: `CommandFrame`).

    ``feed`` returns the frames the new bytes complete and never raises. Counters (for a
    link's statistics): ``skipped`` garbage bytes, ``quirks`` stray ``AA 00`` pairs
    before a preamble, ``bad_frames`` frames dropped for a bad CHK or an impossible LEN.
    """

    def __init__(self, direction: str = "reply") -> None:
        if direction not in ("reply", "command"):
            raise ValueError(f"direction is 'reply' or 'command', got {direction!r}")
        self._replies = direction == "reply"
        self._minimum = 4 if self._replies else 3
        self._buffer = bytearray()
        self.skipped = 0
        self.quirks = 0
        self.bad_frames = 0

    @property
    def pending(self) -> int:
        """Bytes waiting for the rest of a frame (or for a preamble)."""
        return len(self._buffer)

    def reset(self) -> None:
        """Forget a partial frame (its bytes count as skipped)."""
        self.skipped += len(self._buffer)
        self._buffer.clear()

    def _drop(self, count: int) -> None:
        garbage = self._buffer[:count]
        if garbage.endswith(_QUIRK):
            self.quirks += 1
            count_garbage = count - 2
        else:
            count_garbage = count
        self.skipped += count_garbage
        del self._buffer[:count]

    def feed(self, data: bytes | bytearray | memoryview) -> list[CommandFrame | ReplyFrame]:
        """The frames completed by ``data``, in order."""
        buffer = self._buffer
        buffer += data
        out: list[CommandFrame | ReplyFrame] = []
        while True:
            sync = buffer.find(_SYNC)
            if sync < 0:
                # Keep the bytes that may still be a preamble's start and the 3 before it
                # (its first AA, or a stray AA 00): what is garbage does not depend on how
                # the stream was cut.
                if len(buffer) > _KEEP:
                    self.skipped += len(buffer) - _KEEP
                    del buffer[: len(buffer) - _KEEP]
                break
            # The preamble's first AA sits before the four bytes found; without it (a
            # lost byte, or the AA 00 quirk) the frame is still taken.
            start = sync - 1 if sync >= 1 and buffer[sync - 1] == 0xAA else sync
            if start:
                self._drop(start)
                sync -= start
            head = sync + 4
            if len(buffer) < head + 2:
                break
            length = buffer[head] << 8 | buffer[head + 1]
            if not self._minimum <= length <= MAX_LEN:
                self.bad_frames += 1
                self._drop(head)
                continue
            end = head + 2 + length
            if len(buffer) < end:
                break
            frame = bytes(buffer[head:end])  # LEN..CHK
            if _xor(frame[:-1]) != frame[-1]:
                self.bad_frames += 1
                self._drop(head)
                continue
            del buffer[:end]
            if self._replies:
                out.append(ReplyFrame(frame[4], frame[5:-1], frame[2], frame[3]))
            else:
                out.append(CommandFrame(frame[2], frame[3], frame[4:-1]))
        return out
