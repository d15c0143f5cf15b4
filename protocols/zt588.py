"""Zhengtong (SZZT) ZT588 EPP serial protocol: frames, key presses, the stream decoder.

The commands are ``protocols.zt588_commands``'s and the replies
``protocols.zt588_replies``'s; this module re-exports both and holds the link layer.

Frame (both directions; reference §4.1 [S])::

    STX(02) | LEN (3 ASCII decimal digits: len(TEXT)) | TEXT | ETX(03) | CHK (2 hex digits)

CHK is the XOR of LEN, TEXT and ETX (everything between STX and CHK), written as two
upper-case hex digits. The reference's golden frames (§7 #37) check out:
``02 30 30 31 33 03 30 31`` is TEXT "3" (XOR 01); ``02 30 30 34 35 30 36 37 03 33 33`` is
TEXT "5067" (XOR 33), but that is not the hex-mode command it is labelled as: control
values travel as hex [S smartware ``control``], so hex mode is TEXT "5637" (CHK "30")
and "5067" is a MISC control with the value 67h.

Key presses travel outside frames, one byte each, between them (`KeyPress`). With the
scancode table smartware loads (`DEFAULT_SCANCODES`): '0'..'9', ESC cancel, BS clear,
CR enter, '.', '#' for the "00" key, BEL the blank key, 'A'..'H' the side keys. In PIN
mode the pad sends its PIN mask character instead of the digit ('*' here; smartware
sets 0xFF in one version and '*' in another [S]); the decoder takes it as a parameter,
and such a press carries no digit. 0x80 also means cancel [S: smartware handles it
like ESC; where it comes from is not known].

`Zt588Decoder` turns a byte stream into `Frame`, `KeyPress` and `BadFrame` items and
never raises. A `BadFrame` says what was expected and what came (``detail``) and
carries the typed error (``error``: `ChecksumError` for a bad CHK, `FramingError` for
a bad LEN, a TEXT over ``MAX_TEXT``, a missing ETX, bytes that are no key); decoding
resumes at the next STX. It keeps at most one frame's bytes (``MAX_FRAME``) between
feeds. Caveat: a capture that starts inside a frame shows that frame's tail as key
presses and noise (the bytes are indistinguishable).

Limits that are ours [U]: TEXT is 1..256 bytes (the longest known, the '3' reply, is
147); CHK must be upper-case (smartware writes ``%02X``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, StrEnum

from construct import Bytes, Check, Const, ExprAdapter, Rebuild, Struct, len_, this

from protocols.checksums import bcc_xor
from protocols.errors import ChecksumError, FramingError, ProtocolError
from protocols.zt588_commands import (
    CLEAR_PIN_FORMAT,
    DEFAULT_SCANCODES,
    IMK_SLOT,
    TMK_SLOT,
    AuthCode,
    Authenticate,
    ClearPinRefused,
    ClearPinRequest,
    Command,
    CommandCode,
    Communication,
    Control,
    ControlCode,
    EraseKey,
    GetPinBlock,
    KeyLength,
    KeyType,
    LoadEncryptedKey,
    LoadPlainKey,
    LoadScancodes,
    Misc,
    PinFormat,
    QueryUserInfo,
    StartPinEntry,
    WriteUserInfo,
    check_not_clear_pin,
    parse_command,
    tpk_slot,
)
from protocols.zt588_replies import (
    USER_INFO_TEXT,
    Ack,
    AuthReply,
    ErrorReply,
    KeyLoaded,
    PinBlockReply,
    Reply,
    Settings,
    UserInfo,
    Zt588Error,
    echo,
    encode_reply,
    parse_reply,
)

__all__ = [
    "CLEAR_PIN_FORMAT",
    "DEFAULT_SCANCODES",
    "ETX",
    "FRAME",
    "IMK_SLOT",
    "MASK_CHAR",
    "MAX_FRAME",
    "MAX_TEXT",
    "STX",
    "TMK_SLOT",
    "USER_INFO_TEXT",
    "Ack",
    "AuthCode",
    "AuthReply",
    "Authenticate",
    "BadFrame",
    "BadFrameReason",
    "ClearPinRefused",
    "ClearPinRequest",
    "Command",
    "CommandCode",
    "Communication",
    "Control",
    "ControlCode",
    "EraseKey",
    "ErrorReply",
    "Frame",
    "GetPinBlock",
    "Item",
    "Key",
    "KeyLength",
    "KeyLoaded",
    "KeyPress",
    "KeyType",
    "LoadEncryptedKey",
    "LoadPlainKey",
    "LoadScancodes",
    "Misc",
    "PinBlockReply",
    "PinFormat",
    "QueryUserInfo",
    "Reply",
    "Settings",
    "StartPinEntry",
    "UserInfo",
    "WriteUserInfo",
    "Zt588Decoder",
    "Zt588Error",
    "build_command",
    "build_frame",
    "build_reply",
    "checksum",
    "decode_command",
    "decode_reply",
    "echo",
    "encode_reply",
    "key_press",
    "parse_command",
    "parse_frame",
    "parse_reply",
    "tpk_slot",
]

STX, ETX = 0x02, 0x03
MIN_TEXT = 1
MAX_TEXT = 256  # [U] the reference gives no limit
MAX_FRAME = MAX_TEXT + 7  # STX, LEN x3, TEXT, ETX, CHK x2
MASK_CHAR = 0x2A  # '*'
_DIGITS = b"0123456789"
_HEX_UPPER = b"0123456789ABCDEF"

_LEN: ExprAdapter[bytes, bytes, int, int] = ExprAdapter(
    Bytes(3),
    lambda raw, _ctx: int(raw) if raw.isdigit() else -1,
    lambda value, _ctx: b"%03d" % value,
)


def _buildable(text: bytes) -> bool:
    check_not_clear_pin(text)
    return True


FRAME = Struct(
    "stx" / Const(bytes((STX,))),
    "length" / Rebuild(_LEN, len_(this.text)),
    "text" / Bytes(this.length),
    # Building, as everywhere in this codec, refuses a clear-PIN request.
    Check(lambda ctx: ctx._parsing or _buildable(ctx.text)),
    "etx" / Const(bytes((ETX,))),
    "chk" / Bytes(2),
)
"""The frame layout in construct (a LEN that is no digits reads as -1; the CHK is not
checked by it; building a clear-PIN request raises `ClearPinRefused`); ``parse_frame``
and the decoder are the fast path, held equal to it by the property tests."""


def checksum(covered: bytes | bytearray) -> bytes:
    """The CHK of the bytes between STX and CHK (LEN, TEXT, ETX): two upper-case hex."""
    return b"%02X" % bcc_xor(covered)


@dataclass(frozen=True, slots=True, repr=False)
class Frame:
    """One frame with a good CHK. ``text`` may hold a key or a PIN block: ``repr`` hides
    it (the head, a command character or a reply's status, is shown)."""

    text: bytes

    @property
    def wire_size(self) -> int:
        """The frame's size on the wire: 7 + len(text)."""
        return 7 + len(self.text)

    def to_bytes(self) -> bytes:
        """The encoded frame (`build_frame`: a clear-PIN request is refused)."""
        return build_frame(self.text)

    def __repr__(self) -> str:
        head = f"0x{self.text[0]:02X}" if self.text else "--"
        return f"Frame(head={head}, text=<{len(self.text)} bytes>)"


def build_frame(text: bytes) -> bytes:
    """Frame ``text``.

    Raises:
        TypeError: ``text`` is not bytes or a bytearray (a ``str`` is not encoded
            here: encode it as ASCII first).
        ValueError: a TEXT outside 1..``MAX_TEXT`` bytes, or holding an STX (the
            decoder resynchronises on any STX, so a frame can hold none).
        ClearPinRefused: ``text`` is a clear-PIN ('@') request.
    """
    if not isinstance(text, bytes | bytearray):
        hint = " (encode a str as ASCII first)" if isinstance(text, str) else ""
        raise TypeError(f"a frame's TEXT is bytes or a bytearray, got {type(text).__name__}{hint}")
    text = bytes(text)
    if not MIN_TEXT <= len(text) <= MAX_TEXT:
        raise ValueError(f"TEXT is {len(text)} bytes, expected {MIN_TEXT}..{MAX_TEXT}")
    stx = text.find(STX)
    if stx >= 0:
        raise ValueError(f"TEXT byte {stx} is STX 0x02: a TEXT is ASCII and holds no STX")
    check_not_clear_pin(text)
    return _frame_bytes(text)


def _frame_bytes(text: bytes) -> bytes:
    covered = b"%03d" % len(text) + text + b"\x03"
    return b"\x02" + covered + checksum(covered)


def parse_frame(raw: bytes | bytearray) -> Frame:
    """Parse exactly one frame.

    Raises:
        FramingError: no STX, a LEN that is not 3 digits or out of range, a size that
            does not match LEN, no ETX where LEN puts it.
        ChecksumError: the CHK does not match (or is not two upper-case hex digits).
    """
    raw = bytes(raw)
    if not raw or raw[0] != STX:
        first = f"0x{raw[0]:02X}" if raw else "nothing"
        raise FramingError(f"a frame starts with STX 0x02, got {first}")
    item = _examine(raw, 0, len(raw), final=True)
    if isinstance(item, BadFrame):
        raise item.error
    if item is None:  # final=True always decides
        raise FramingError("frame truncated")
    frame, end = item
    if end != len(raw):
        raise FramingError(f"LEN {len(frame.text)} makes a {end}-byte frame, got {len(raw)} bytes")
    return frame


# ----------------------------------------------------------------------------- keys


class Key(StrEnum):
    """What a key press is (XFS4IoT key names where there is one)."""

    DIGIT = "digit"  # '0'..'9' outside PIN mode: KeyPress.digit says which
    MASKED = "masked"  # a digit in PIN mode: the mask character, no digit [U '*']
    ENTER = "enter"
    CANCEL = "cancel"
    CLEAR = "clear"
    DEC_POINT = "decPoint"
    DOUBLE_ZERO = "doubleZero"
    BLANK = "blank"  # the unlabelled key (BEL)
    FDK01 = "fdk01"
    FDK02 = "fdk02"
    FDK03 = "fdk03"
    FDK04 = "fdk04"
    FDK05 = "fdk05"
    FDK06 = "fdk06"
    FDK07 = "fdk07"
    FDK08 = "fdk08"


_KEY_BYTES: dict[int, Key] = {
    0x1B: Key.CANCEL,
    0x80: Key.CANCEL,  # [S] smartware treats it as cancel
    0x08: Key.CLEAR,
    0x0D: Key.ENTER,
    0x2E: Key.DEC_POINT,
    0x23: Key.DOUBLE_ZERO,
    0x07: Key.BLANK,
    **dict.fromkeys(_DIGITS, Key.DIGIT),
    **{0x41 + n: Key(f"fdk{n + 1:02d}") for n in range(8)},
}
_BYTE_OF_KEY = {key: byte for byte, key in _KEY_BYTES.items() if byte != 0x80}


@dataclass(frozen=True, slots=True, repr=False)
class KeyPress:
    """One key press between frames. ``repr`` never shows a digit."""

    key: Key
    raw: int

    @property
    def digit(self) -> str | None:
        """'0'..'9' for a DIGIT press; None for any other (a MASKED press included)."""
        return chr(self.raw) if self.key is Key.DIGIT else None

    @property
    def wire_size(self) -> int:
        return 1

    def to_bytes(self) -> bytes:
        return bytes((self.raw,))

    def __repr__(self) -> str:
        return f"KeyPress({self.key.value})"


def key_press(key: Key, digit: str | None = None, *, mask: int = MASK_CHAR) -> KeyPress:
    """The press the pad sends for ``key`` (``digit`` for a DIGIT; ``mask`` for MASKED).

    Raises:
        ValueError: a DIGIT without one digit, or a digit for another key.
    """
    if key is Key.DIGIT:
        if digit is None or len(digit) != 1 or digit not in "0123456789":
            raise ValueError("a DIGIT press needs one digit '0'..'9'")
        return KeyPress(key, ord(digit))
    if digit is not None:
        raise ValueError(f"a {key.value} press carries no digit")
    return KeyPress(key, mask if key is Key.MASKED else _BYTE_OF_KEY[key])


# ----------------------------------------------------------------------------- decoder


class BadFrameReason(Enum):
    """Why the decoder reported bytes as a `BadFrame`."""

    CHECKSUM = "checksum"  # a well-delimited frame whose CHK does not match
    LENGTH = "length"  # LEN is not three decimal digits, or is 000
    TOO_LONG = "too long"  # LEN over MAX_TEXT
    NO_ETX = "no etx"  # no ETX where LEN puts it (or an STX before it)
    NOISE = "noise"  # bytes outside frames that are no key
    TRUNCATED = "truncated"  # the stream ended inside a frame (Zt588Decoder.flush)


@dataclass(frozen=True, slots=True, repr=False)
class BadFrame:
    """Bytes the decoder could not accept; none vanish silently.

    Attributes:
        reason: what was wrong.
        raw: the bytes concerned.
        detail: what was expected and what came, without the payload.
    """

    reason: BadFrameReason
    raw: bytes
    detail: str

    @property
    def wire_size(self) -> int:
        return len(self.raw)

    @property
    def error(self) -> ProtocolError:
        """The typed error: `ChecksumError` for a bad CHK, `FramingError` otherwise."""
        if self.reason is BadFrameReason.CHECKSUM:
            return ChecksumError(self.detail)
        return FramingError(self.detail)

    def __repr__(self) -> str:
        return f"BadFrame({self.reason.value}, <{len(self.raw)} bytes>: {self.detail})"


Item = Frame | KeyPress | BadFrame
"""What ``Zt588Decoder.feed`` yields."""


def _skip_end(buf: bytes | bytearray, pos: int, size: int, final: bool) -> int | None:
    """Where the broken frame at ``pos`` ends: at the next STX, two bytes past the next
    ETX, or ``MAX_FRAME`` on; None if that has not arrived yet."""
    limit = min(size, pos + MAX_FRAME)
    for index in range(pos + 1, limit):
        byte = buf[index]
        if byte == STX:
            return index
        if byte == ETX:
            end = index + 3
            for after in range(index + 1, min(end, size)):
                if buf[after] == STX:
                    return after
            return end if end <= size or final else None
    if size >= pos + MAX_FRAME or final:
        return limit
    return None


def _examine(
    buf: bytes | bytearray, pos: int, size: int, *, final: bool = False
) -> tuple[Frame, int] | BadFrame | None:
    """The frame (and its end) or the bad frame at the STX at ``pos``; None: wait."""
    head = buf[pos + 1 : pos + 4]
    bad: tuple[BadFrameReason, str] | None = None
    length = 0
    if any(byte not in _DIGITS for byte in head):
        bad = (BadFrameReason.LENGTH, f"LEN is {head.hex(' ').upper()}, expected 3 digits")
    elif len(head) < 3:
        if not final:
            return None
        bad = (BadFrameReason.TRUNCATED, f"frame truncated: {size - pos} bytes, no whole LEN")
    else:
        length = int(head)
        if not MIN_TEXT <= length <= MAX_TEXT:
            reason = BadFrameReason.LENGTH if length < MIN_TEXT else BadFrameReason.TOO_LONG
            bad = (reason, f"LEN is {length:03d}, expected {MIN_TEXT:03d}..{MAX_TEXT}")
    if bad is None:
        etx_at = pos + 4 + length
        end = etx_at + 3
        if size > etx_at and buf[etx_at] != ETX:
            got = buf[etx_at]
            bad = (BadFrameReason.NO_ETX, f"byte {4 + length} is 0x{got:02X}, expected ETX 0x03")
        else:
            stray = buf.find(STX, pos + 1, min(end, size))
            if stray >= 0:
                detail = (
                    f"STX at byte {stray - pos}, inside the {end - pos} bytes LEN {length} makes"
                )
                return BadFrame(BadFrameReason.NO_ETX, bytes(buf[pos:stray]), detail)
            if size < end:
                if not final:
                    return None
                detail = f"frame truncated: {size - pos} of {end - pos} bytes"
                return BadFrame(BadFrameReason.TRUNCATED, bytes(buf[pos:size]), detail)
            got_chk = bytes(buf[end - 2 : end])
            expected = checksum(buf[pos + 1 : etx_at + 1])
            if got_chk == expected:
                return Frame(bytes(buf[pos + 4 : etx_at])), end
            shown = got_chk.hex(" ").upper()
            detail = f"CHK is {shown}, expected {expected.hex(' ').upper()} ({expected.decode()})"
            if any(byte not in _HEX_UPPER for byte in got_chk):
                detail += ": not two upper-case hex digits"
            return BadFrame(BadFrameReason.CHECKSUM, bytes(buf[pos:end]), detail)
    skip = _skip_end(buf, pos, size, final)
    if skip is None:
        return None
    return BadFrame(bad[0], bytes(buf[pos:skip]), bad[1])


class Zt588Decoder:
    """Turn the pad's byte stream into frames, key presses and bad frames; never raises.

    Every byte fed ends up in an item (``wire_size``) or in ``pending`` (the start of a
    frame, at most ``MAX_FRAME`` bytes). Use one decoder per direction: the host's
    stream holds only frames, and anything else in it decodes as keys or noise.

    Args:
        mask: the byte the pad sends for a digit in PIN mode (`MASK_CHAR` '*' by
            default; what ``Control.pin_mask`` set).

    Raises:
        ValueError: ``mask`` is STX, ETX or a byte another key sends.
    """

    def __init__(self, *, mask: int = MASK_CHAR) -> None:
        if not 0 <= mask <= 0xFF or mask in _KEY_BYTES or mask in (STX, ETX):
            raise ValueError(f"the mask byte 0x{mask:02X} is STX, ETX or another key's byte")
        self._keys = {byte: KeyPress(key, byte) for byte, key in _KEY_BYTES.items()}
        self._keys[mask] = KeyPress(Key.MASKED, mask)
        self._buf = bytearray()

    @property
    def pending(self) -> int:
        """Bytes held back as the start of an incomplete frame."""
        return len(self._buf)

    def reset(self) -> None:
        """Forget a partial frame (after a timeout or a port reopen)."""
        self._buf.clear()

    def flush(self) -> list[Item]:
        """The end of the stream: what is pending, as a truncated or broken frame, and
        the items after it (the decoder is empty afterwards)."""
        items: list[Item] = []
        while self._buf:
            rest = bytes(self._buf)
            self._buf.clear()
            found = _examine(rest, 0, len(rest), final=True)
            if isinstance(found, tuple):  # a whole frame is never left pending; be safe
                items.append(found[0])
                used = found[1]
            else:
                bad = found or BadFrame(BadFrameReason.TRUNCATED, rest, "frame truncated")
                items.append(bad)
                used = bad.wire_size
            items += self.feed(rest[used:])
        return items

    def feed(self, data: bytes | bytearray | memoryview) -> list[Item]:
        """Add bytes; return the items completed by them, in stream order."""
        buf = self._buf
        buf += data
        keys = self._keys
        items: list[Item] = []
        size = len(buf)
        pos = 0
        noise = -1
        while pos < size:
            byte = buf[pos]
            if byte == STX:
                found = _examine(buf, pos, size)
                if found is None:
                    break
                if noise >= 0:
                    items.append(_noise(buf[noise:pos]))
                    noise = -1
                if isinstance(found, BadFrame):
                    items.append(found)
                    pos += found.wire_size
                else:
                    items.append(found[0])
                    pos = found[1]
                continue
            press = keys.get(byte)
            if press is not None:
                if noise >= 0:
                    items.append(_noise(buf[noise:pos]))
                    noise = -1
                items.append(press)
            elif noise < 0:
                noise = pos
            pos += 1
        if noise >= 0:
            items.append(_noise(buf[noise:pos]))
        del buf[:pos]
        return items


def _noise(raw: bytes | bytearray) -> BadFrame:
    detail = f"{len(raw)} bytes outside any frame that are no key (first 0x{raw[0]:02X})"
    return BadFrame(BadFrameReason.NOISE, bytes(raw), detail)


# ----------------------------------------------------------------------------- helpers


def build_command(command: Command) -> bytes:
    """The frame of a host command (a clear-PIN request cannot be built)."""
    return build_frame(command.encode())


def build_reply(reply: Reply) -> bytes:
    """The frame of a pad reply (see ``protocols.zt588_replies``)."""
    return build_frame(encode_reply(reply))


def decode_command(frame: Frame) -> Command | ClearPinRequest:
    """The command a frame from the host carries (``parse_command``)."""
    return parse_command(frame.text)


def decode_reply(
    frame: Frame, command: Command | ClearPinRequest | CommandCode | None = None
) -> Reply:
    """The reply a frame from the pad carries, to ``command`` (``parse_reply``)."""
    return parse_reply(frame.text, command)
