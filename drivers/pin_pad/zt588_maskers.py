"""The Zhengtong ZT588 EPP ``spy+`` masker (see `hal.transports.spy_maskers`), which the
``zt588`` driver declares as its ``DriverSpec.masker``.

`Zt588Masker` cuts each direction with `protocols.zt588.Zt588Decoder` and shows every
frame as hex with ``**`` over what may be secret; a frame with a masked byte has its
CHK masked too (it is a parity of the data):

- host to pad: the key in load-key commands ('1', '2'); the PAN in start-PIN-entry
  ('6') beyond what `protocols.tracks.mask_pan` keeps (first 6 and last 4 of 15 or
  more digits, last 4 of 10 to 14, none of fewer); the data of authenticate (':'); all
  but the command character of a command that does not parse. A clear-PIN request
  ('@') is labelled so, its PAN masked the same way.
- pad to host: the PIN block of a '7' reply (its track and length stay visible), the
  data of an authenticate reply, any payload of a reply the masker cannot place (it
  reads a reply as the answer to the last command it saw), an error head's trailing
  bytes. Check values, the user-info reply and error codes stay visible.
- key presses: digits and the "00" key are always masked, since the spy cannot know
  whether the pad is in PIN mode (shown as ``KEY digit: **``); enter, cancel, clear,
  the decimal point, the blank and side keys, and the PIN mask character stay visible.
- bad frames and noise: masked whole.
"""

from __future__ import annotations

from hal.transports.spy_maskers import RX, TX, hex_masked
from protocols import zt588
from protocols.errors import ProtocolError
from protocols.tracks import mask_pan

__all__ = ["Zt588Masker"]

_TEXT = 4  # index of TEXT in a frame: STX LEN LEN LEN
_DIGIT_KEYS = frozenset({zt588.Key.DIGIT, zt588.Key.DOUBLE_ZERO})


class Zt588Masker:
    """ZT588 traffic, item by item (see the module header for what is masked)."""

    def __init__(self, reveal: bool = False) -> None:
        self.reveal = reveal
        self._decoders = {TX: zt588.Zt588Decoder(), RX: zt588.Zt588Decoder()}
        self._request: zt588.Command | zt588.ClearPinRequest | None = None

    def reset(self) -> None:
        """Forget partial frames and the last command (the port was reopened)."""
        for decoder in self._decoders.values():
            decoder.reset()
        self._request = None

    def lines(self, direction: str, data: bytes) -> list[str]:
        return [self._line(direction, item) for item in self._decoders[direction].feed(data)]

    def _line(self, direction: str, item: zt588.Item) -> str:
        if isinstance(item, zt588.KeyPress):
            if item.key in _DIGIT_KEYS:
                return f"{1:3d} KEY digit: {hex_masked(item.to_bytes(), [0], self.reveal)}"
            return f"{1:3d} KEY {item.key.value}: {item.raw:02X}"
        if isinstance(item, zt588.BadFrame):
            raw = item.raw
            label = item.reason.name.replace("_", " ")
            return f"{len(raw):3d} {label}: {hex_masked(raw, range(len(raw)), self.reveal)}"
        raw = _wire_bytes(item)
        etx = len(raw) - 3
        if direction == TX:
            label, hidden = self._command(item, etx)
        else:
            label, hidden = self._reply(item, etx)
        if hidden:
            hidden += [etx + 1, etx + 2]  # the CHK would leak a parity of the data
        return f"{len(raw):3d} {label}: {hex_masked(raw, hidden, self.reveal)}"

    def _command(self, frame: zt588.Frame, etx: int) -> tuple[str, list[int]]:
        try:
            command = zt588.decode_command(frame)
        except ProtocolError:
            self._request = None
            return "COMMAND ?", list(range(_TEXT + 1, etx))
        self._request = command
        label = type(command).__name__
        if isinstance(command, zt588.LoadPlainKey):
            return label, list(range(_TEXT + 5, etx))
        if isinstance(command, zt588.LoadEncryptedKey):
            return label, list(range(_TEXT + 7, etx))
        if isinstance(command, zt588.Authenticate):
            return label, list(range(_TEXT + 3, etx))
        if isinstance(command, zt588.StartPinEntry | zt588.ClearPinRequest):
            if isinstance(command, zt588.ClearPinRequest):
                label = "CLEAR-PIN REQUEST ('@')"
            pan_at = _TEXT + 7
            shown = mask_pan(command.pan)
            return label, [pan_at + i for i, char in enumerate(shown) if char == "*"]
        return label, []

    def _reply(self, frame: zt588.Frame, etx: int) -> tuple[str, list[int]]:
        everything = list(range(_TEXT + 1, etx))
        try:
            reply = zt588.decode_reply(frame, self._request)
        except ProtocolError:
            return "REPLY ?", everything
        label = type(reply).__name__
        if isinstance(reply, zt588.ErrorReply):
            return f"ERROR {reply.code:02X} {reply.message}", everything
        if isinstance(reply, zt588.PinBlockReply):
            return label, list(range(_TEXT + 5, etx))
        if isinstance(reply, zt588.KeyLoaded | zt588.UserInfo):
            return label, []
        if isinstance(reply, zt588.Ack) and not reply.payload:
            return label, []
        return label, everything  # AuthReply, an Ack with a payload


def _wire_bytes(frame: zt588.Frame) -> bytes:
    """A frame's bytes as they were on the wire, a clear-PIN request included (which
    `protocols.zt588.build_frame` refuses to build): the spy shows what came."""
    covered = b"%03d" % len(frame.text) + frame.text + b"\x03"
    return b"\x02" + covered + zt588.checksum(covered)
