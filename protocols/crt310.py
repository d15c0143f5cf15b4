"""Creator CRT-310 (protocol V3.0) motorised IC / magnetic card reader: frames and payloads.

Link: RS-232, 9600 bps by default (1200-38400 selectable with ``34 Pm``), 8N1, half duplex.
Exchange: host sends a command frame; the reader answers ACK (06), or NAK (15) for a bad
BCC; the host sends ENQ (05); the reader executes and sends the reply frame. EOT (04)
cancels, and the reader echoes it.

Frame (both directions)::

    02 | LEN_H LEN_L | CM | PM | DATA | 03 | BCC

LEN (big-endian) counts CM + PM + DATA; BCC is the XOR of STX through ETX inclusive.
A positive reply echoes CM PM; an error reply is ``02 00 03 4E CM E 03 BCC``.
DATA is at most 264 bytes (the spec's limit: 2 length bytes + a 262-byte C-APDU), so a
frame is at most 271 bytes; a LEN above 266 cannot be a frame and the stream decoder
skips it as noise. A "binary"-mode read of three full tracks would not fit; the spec
does not say how the reader handles that, so we keep the spec's limit.
Framing always uses LEN: reply data (ATRs, R-APDUs) contains 02 and 03 bytes.

Spec inconsistencies accepted (reference §2.1, flagged there):
- the reply to entry control (2F) says 'N' for success and 'Y' for failure
  (``PlainReply.succeeded`` applies the inversion);
- the reply to set-baud (34) echoes CM 33, which collides with IC power (33 30 / 33 31):
  pass the request to ``decode_reply`` to resolve it; without one, 33 30/31 decode as
  power replies and 33 32..35 as baud replies.

Assumptions where the spec is silent (ours, not the vendor's):
- a track-read reply is ``mode selector (1F status payload)*``, one block per selected
  track in track order; a failed track's payload is one error byte E0..E5;
- "binary" mode sends each character's data value (character minus the track's base)
  as two upper-case hex digits;
- a failed CPU reset or APDU reply (P = N/E/W) carries P only.

Hot path: ``parse_frame``, ``build_frame`` and the stream decoder use ``struct``, slices
and ``bcc_xor``. ``FRAME`` is the same layout in construct, compiled: the declarative
definition, checked against the fast path by the tests. Compiled construct measured
several times slower than ``struct`` (bench/bench_codecs.py prints both every run).

Source of facts: reference/protocols.md §2.1 (Creator CRT-310 communication protocol
V3.0, 2007) and §7 vectors #16-#18.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum, IntEnum
from typing import TypeVar

from construct import (
    Bytes,
    Const,
    ConstructError,
    GreedyBytes,
    Int8ub,
    Int16ub,
    Prefixed,
    Rebuild,
    Struct,
    Terminated,
    len_,
    this,
)

from protocols.checksums import bcc_xor
from protocols.errors import ChecksumError, FramingError, ProtocolError, UnknownCodeError

STX, ETX = 0x02, 0x03
ERROR_CM = 0x4E  # 'N': the CM of an error reply
MAX_DATA = 264  # DATA bytes in one frame (spec limit)
MAX_LEN = MAX_DATA + 2  # largest LEN (CM + PM + DATA)
MAX_FRAME = MAX_LEN + 5  # 271: STX, LEN_H, LEN_L, ..., ETX, BCC
_HEADER = struct.Struct(">BHBB")


class Control(IntEnum):
    """Single-byte control characters exchanged outside frames."""

    EOT = 0x04
    ENQ = 0x05
    ACK = 0x06
    NAK = 0x15


_CONTROLS = {c.value: c for c in Control}

FRAME = Struct(
    "stx" / Const(STX, Int8ub),
    "length" / Rebuild(Int16ub, len_(this.data) + 2),
    "cm" / Int8ub,
    "pm" / Int8ub,
    "data" / Bytes(this.length - 2),
    "etx" / Const(ETX, Int8ub),
    "bcc" / Int8ub,
).compile()
"""The frame layout in construct (compiled); the BCC is not checked by it."""

# DATA of the APDU command, and of the CPU-reset and APDU replies on success.
_APDU_DATA = Struct("apdu" / Prefixed(Int16ub, GreedyBytes), Terminated)
_STATUS_PREFIXED = Struct("status" / Int8ub, "payload" / Prefixed(Int16ub, GreedyBytes), Terminated)


def _hide(data: bytes) -> str:
    return f"<{len(data)} bytes>"


# ----------------------------------------------------------------------------- frames


@dataclass(frozen=True, slots=True, repr=False)
class Frame:
    """One frame with a good BCC. ``data`` may hold track data: ``repr`` hides it.

    Attributes:
        cm: command byte (``4E`` in an error reply).
        pm: parameter byte (the failing CM in an error reply).
        data: the bytes after PM.
    """

    cm: int
    pm: int
    data: bytes

    @property
    def wire_size(self) -> int:
        """The frame's size on the wire: 7 + len(data)."""
        return 7 + len(self.data)

    def to_bytes(self) -> bytes:
        """The encoded frame."""
        return build_frame(self.cm, self.pm, self.data)

    def __repr__(self) -> str:
        return f"Frame(cm=0x{self.cm:02X}, pm=0x{self.pm:02X}, data={_hide(self.data)})"


class BadFrameReason(Enum):
    """Why the stream decoder reported bytes as a ``BadFrame``."""

    BCC = "bcc"
    """A well-delimited frame whose BCC does not match: ask for it again (NAK)."""
    NOISE = "noise"
    """Bytes outside any frame: line noise, a bad length, a missing ETX."""


@dataclass(frozen=True, slots=True, repr=False)
class BadFrame:
    """Bytes the stream decoder could not accept, reported so none vanish silently.

    Attributes:
        reason: BCC mismatch, or noise between frames.
        raw: the bytes concerned (the whole frame for a BCC mismatch).
    """

    reason: BadFrameReason
    raw: bytes

    @property
    def wire_size(self) -> int:
        """How many stream bytes this item accounts for."""
        return len(self.raw)

    @property
    def detail(self) -> str:
        """A one-line description (no payload bytes in it)."""
        if self.reason is BadFrameReason.BCC:
            expected = bcc_xor(self.raw[:-1])
            return f"BCC is 0x{self.raw[-1]:02X}, expected 0x{expected:02X}"
        return f"{len(self.raw)} bytes outside any frame (first 0x{self.raw[0]:02X})"

    def __repr__(self) -> str:
        return f"BadFrame({self.reason.value}, {_hide(self.raw)})"


Item = Control | Frame | BadFrame
"""What ``Crt310StreamDecoder.feed`` yields."""


def build_frame(cm: int, pm: int, data: bytes = b"") -> bytes:
    """Encode a frame (command or reply).

    Raises:
        ValueError: a byte out of range or more than ``MAX_DATA`` data bytes.
    """
    if not (0 <= cm <= 0xFF and 0 <= pm <= 0xFF):
        raise ValueError(f"CM and PM must be bytes, got {cm!r}, {pm!r}")
    if len(data) > MAX_DATA:
        raise ValueError(f"DATA is {len(data)} bytes, at most {MAX_DATA} fit a frame")
    body = _HEADER.pack(STX, len(data) + 2, cm, pm) + data + b"\x03"
    return body + bytes((bcc_xor(body),))


def parse_frame(raw: bytes | bytearray) -> Frame:
    """Parse exactly one frame.

    Raises:
        FramingError: wrong size, LEN, STX or ETX.
        ChecksumError: the BCC does not match.
    """
    size = len(raw)
    if size < 7:
        raise FramingError(f"frame is {size} bytes, expected at least 7")
    stx, length, cm, pm = _HEADER.unpack_from(raw)
    if stx != STX:
        raise FramingError(f"frame starts with 0x{stx:02X}, expected STX 0x02")
    if not 2 <= length <= MAX_LEN:
        raise FramingError(f"LEN is {length}, expected 2..{MAX_LEN}")
    if size != length + 5:
        raise FramingError(f"LEN {length} needs a {length + 5}-byte frame, got {size} bytes")
    if raw[-2] != ETX:
        raise FramingError(f"byte {size - 2} is 0x{raw[-2]:02X}, expected ETX 0x03")
    expected = bcc_xor(raw[:-1])
    if raw[-1] != expected:
        raise ChecksumError(f"BCC is 0x{raw[-1]:02X}, expected 0x{expected:02X}")
    return Frame(cm, pm, bytes(raw[5:-2]))


class Crt310StreamDecoder:
    """Turn a byte stream into control bytes, frames and bad frames; never raises.

    Every byte fed is accounted for: it ends up in an item (``wire_size``) or in
    ``pending`` (an incomplete frame kept for the next ``feed``). The buffer never holds
    more than one frame's worth. An STX whose LEN is out of range or whose ETX is not
    where LEN puts it is noise, and decoding resumes at the next byte. Caveat: a frame
    whose BCC fails is consumed whole, so a corrupted header whose LEN happens to end
    on an 03 byte swallows what follows it; the NAK/retry exchange recovers from that.
    """

    def __init__(self) -> None:
        self._buf = bytearray()

    @property
    def pending(self) -> int:
        """Bytes held back as the start of an incomplete frame."""
        return len(self._buf)

    @property
    def pending_frame_size(self) -> int | None:
        """The size the pending frame will have, once its LEN has arrived."""
        if len(self._buf) < 3:
            return None
        return ((self._buf[1] << 8) | self._buf[2]) + 5

    def reset(self) -> None:
        """Forget any partial frame (after a timeout or a port reopen)."""
        self._buf.clear()

    def feed(self, data: bytes | bytearray | memoryview) -> list[Item]:
        """Add bytes; return the items completed by them, in stream order."""
        buf = self._buf
        buf += data
        items: list[Item] = []
        size = len(buf)
        pos = 0
        noise = -1
        while pos < size:
            byte = buf[pos]
            if byte == STX:
                if size - pos < 3:
                    break
                length = (buf[pos + 1] << 8) | buf[pos + 2]
                end = pos + length + 5
                if 2 <= length <= MAX_LEN:
                    if end > size:
                        break
                    if buf[end - 2] == ETX:
                        if noise >= 0:
                            items.append(BadFrame(BadFrameReason.NOISE, bytes(buf[noise:pos])))
                            noise = -1
                        frame = bytes(buf[pos:end])
                        if bcc_xor(frame[:-1]) == frame[-1]:
                            items.append(Frame(frame[3], frame[4], frame[5:-2]))
                        else:
                            items.append(BadFrame(BadFrameReason.BCC, frame))
                        pos = end
                        continue
            elif byte in _CONTROLS:
                if noise >= 0:
                    items.append(BadFrame(BadFrameReason.NOISE, bytes(buf[noise:pos])))
                    noise = -1
                items.append(_CONTROLS[byte])
                pos += 1
                continue
            if noise < 0:
                noise = pos
            pos += 1
        if noise >= 0:
            items.append(BadFrame(BadFrameReason.NOISE, bytes(buf[noise:pos])))
        del buf[:pos]
        return items


# ----------------------------------------------------------------------------- codes

_E = TypeVar("_E", bound=IntEnum)


def _code(enum: type[_E], value: int, what: str) -> _E:
    try:
        return enum(value)
    except ValueError:
        raise UnknownCodeError(f"unknown {what} 0x{value:02X}") from None


class Command(Enum):
    """Commands as (CM, PM) pairs; PM None means PM is the command's parameter."""

    RESET = (0x30, 0x30)
    RESET_EJECT_FRONT = (0x30, 0x31)
    RESET_EJECT_REAR = (0x30, 0x32)
    READ_SERIAL = (0x30, 0x3A)
    WRITE_SERIAL = (0x30, 0x3B)
    ENTRY_CONTROL = (0x2F, None)  # PM = EntryMode, DATA = rear (30 allowed, 31 not)
    STOP_POSITION = (0x2E, None)  # PM 30 (front, no hold) .. 35 (rear, no hold)
    STATUS = (0x31, 0x30)
    CARD_TYPE = (0x31, 0x31)
    SENSORS_V2 = (0x31, 0x2F)
    SENSORS_V3 = (0x31, 0x2E)
    MOVE_TO_RF = (0x32, 0x2E)
    MOVE_TO_IC = (0x32, 0x2F)
    MOVE_FRONT_NO_HOLD = (0x32, 0x30)
    MOVE_FRONT_HOLD = (0x32, 0x31)
    MOVE_REAR_HOLD = (0x32, 0x32)
    CAPTURE = (0x32, 0x33)  # rear, no hold
    CLEAR_REAR = (0x32, 0x34)  # push an abnormal card out of the rear
    IC_POWER_ON = (0x33, 0x30)
    IC_POWER_OFF = (0x33, 0x31)
    SET_BAUD = (0x34, None)  # PM 30..35 = 1200..38400; the reply echoes CM 33
    MIFARE = (0x35, None)
    CPU_COLD_RESET = (0x37, 0x30)
    CPU_WARM_RESET = (0x37, 0x2F)
    APDU_T0 = (0x37, 0x31)
    APDU_T1 = (0x37, 0x32)
    SLE4442 = (0x38, None)
    SLE4428 = (0x39, None)
    AT88 = (0x3A, None)
    READ_TRACKS = (0x45, 0x30)
    REREAD_TRACKS = (0x45, 0x31)
    LIGHT_ON = (0x46, 0x30)
    LIGHT_OFF = (0x46, 0x31)
    LIGHT_BLINK = (0x49, None)  # PM = on time, DATA = off time, in 0.25 s units
    PASS_THROUGH_ON = (0xFA, 0x30)
    PASS_THROUGH_OFF = (0xFA, 0x31)

    @property
    def cm(self) -> int:
        """The command byte."""
        return int(self.value[0])

    @property
    def pm(self) -> int | None:
        """The fixed parameter byte, or None when PM is the command's argument."""
        pm = self.value[1]
        return None if pm is None else int(pm)

    @classmethod
    def lookup(cls, cm: int, pm: int) -> Command:
        """The command a (CM, PM) pair names.

        Raises:
            UnknownCodeError: no such command.
        """
        found = _EXACT.get((cm, pm)) or _BY_CM.get(cm)
        if found is None:
            raise UnknownCodeError(f"unknown command CM 0x{cm:02X} PM 0x{pm:02X}")
        return found


_EXACT = {(c.cm, c.pm): c for c in Command if c.pm is not None}
_BY_CM = {c.cm: c for c in Command if c.pm is None}
BAUD_RATES = {0x30: 1200, 0x31: 2400, 0x32: 4800, 0x33: 9600, 0x34: 19200, 0x35: 38400}


class ErrorCode(IntEnum):
    """The E byte of an error reply ``4E CM E``."""

    BAD_COMMAND = 0x00
    BAD_PARAMETER = 0x01
    CANNOT_EXECUTE = 0x02
    BAD_DATA = 0x04
    VOLTAGE = 0x05  # supply outside 10.8-14.5 V
    ABNORMAL_CARD = 0x06  # long or short card inside
    ON_BACKUP_POWER = 0x07


class OperationStatus(IntEnum):
    """The P byte that starts the data of many replies."""

    SUCCESS = 0x59  # 'Y' (after a CPU reset: T=0)
    SUCCESS_T1 = 0x5A  # 'Z' (CPU reset only: T=1)
    FAILED = 0x4E  # 'N'
    NO_CARD = 0x45  # 'E'
    NOT_IN_POSITION = 0x57  # 'W'


class CardPosition(IntEnum):
    """S1 of the status reply."""

    LONG_CARD = 0x46
    SHORT_CARD = 0x47
    FRONT_NOT_HELD = 0x48
    FRONT_HELD = 0x49
    INSIDE = 0x4A
    INSIDE_IC_ENGAGED = 0x4B
    REAR_HELD = 0x4C
    REAR_NOT_HELD = 0x4D
    NO_CARD = 0x4E


class FrontEntry(IntEnum):
    """S2 of the status reply."""

    MAGNETIC = 0x49
    SWITCH = 0x4A
    MAGNETIC_SIGNAL = 0x4B
    PROHIBITED = 0x4E


class RearEntry(IntEnum):
    """S3 of the status reply."""

    ALLOWED = 0x4A
    PROHIBITED = 0x4E


class EntryMode(IntEnum):
    """Pm1 of entry control (2F)."""

    FRONT_PROHIBITED = 0x31
    MAGNETIC = 0x32
    SWITCH = 0x33
    MAGNETIC_SIGNAL = 0x34


class IcCardType(Enum):
    """The (S1, S2) reply to card-type detection (31 31); S2 None means any variant."""

    NO_CARD = (0x4E, 0x30)
    RF_MIFARE = (0x30, 0x30)
    CPU_T0 = (0x31, 0x30)
    CPU_T1 = (0x31, 0x31)
    I2C_24CXX = (0x32, None)
    SLE4442 = (0x33, 0x30)
    SLE4428 = (0x33, 0x31)
    AT88 = (0x34, None)


_CARD_EXACT = {t.value: t for t in IcCardType if t.value[1] is not None}
_CARD_BY_S1 = {t.value[0]: t for t in IcCardType if t.value[1] is None}


class TrackMode(IntEnum):
    """Read mode of 45 30 / 45 31."""

    ASCII = 0x30
    BINARY = 0x31


class TrackSelector(IntEnum):
    """Which tracks 45 30 / 45 31 read."""

    NONE = 0x30
    T1 = 0x31
    T2 = 0x32
    T3 = 0x33
    T1_T2 = 0x34
    T2_T3 = 0x35
    T1_T3 = 0x36
    ALL = 0x37

    @property
    def tracks(self) -> tuple[int, ...]:
        """The track numbers selected, in order."""
        return _SELECTED[self]

    @classmethod
    def for_tracks(cls, tracks: Iterable[int]) -> TrackSelector:
        """The selector for a set of track numbers.

        Raises:
            ValueError: not a subset of {1, 2, 3} in a combination the reader offers.
        """
        wanted = tuple(sorted(set(tracks)))
        for selector, selected in _SELECTED.items():
            if selected == wanted:
                return selector
        raise ValueError(f"no selector reads tracks {wanted}")


_SELECTED = {
    TrackSelector.NONE: (),
    TrackSelector.T1: (1,),
    TrackSelector.T2: (2,),
    TrackSelector.T3: (3,),
    TrackSelector.T1_T2: (1, 2),
    TrackSelector.T2_T3: (2, 3),
    TrackSelector.T1_T3: (1, 3),
    TrackSelector.ALL: (1, 2, 3),
}


class TrackStatus(IntEnum):
    """The status byte after 1F in a track block."""

    OK = 0x59
    READ_ERROR = 0x4E
    CANNOT_READ = 0x4F


class TrackReadError(IntEnum):
    """The error byte of a failed track."""

    CANNOT_READ = 0xE0
    NO_STX = 0xE1
    NO_ETX = 0xE2
    VRC = 0xE3
    LRC = 0xE4
    BLANK = 0xE5


_TRACK_BASE = {1: (0x20, 0x5F), 2: (0x30, 0x3F), 3: (0x30, 0x3F)}


# ----------------------------------------------------------------------------- commands


@dataclass(frozen=True, slots=True, repr=False)
class Request:
    """A decoded command frame.

    Attributes:
        command: what the frame asks for.
        pm: the PM byte (the argument of a parameterised command).
        data: the bytes after PM (may hold a C-APDU with a PIN: ``repr`` hides them).
    """

    command: Command
    pm: int
    data: bytes

    def __repr__(self) -> str:
        return f"Request({self.command.name}, pm=0x{self.pm:02X}, data={_hide(self.data)})"


def decode_command(frame: Frame) -> Request:
    """Name the command a frame carries.

    Raises:
        UnknownCodeError: the (CM, PM) pair is no CRT-310 command.
    """
    return Request(Command.lookup(frame.cm, frame.pm), frame.pm, frame.data)


def _exact_data(data: bytes, size: int, what: str) -> None:
    if len(data) != size:
        raise FramingError(f"{what}: DATA is {len(data)} bytes, expected {size}")


def parse_track_request(data: bytes) -> tuple[TrackMode, TrackSelector]:
    """The (mode, selector) DATA of 45 30 / 45 31."""
    _exact_data(data, 2, "read tracks")
    return _code(TrackMode, data[0], "track mode"), _code(TrackSelector, data[1], "track selector")


def parse_entry_control(pm: int, data: bytes) -> tuple[EntryMode, bool]:
    """The (front mode, rear allowed) of 2F Pm1 Pm2."""
    _exact_data(data, 1, "entry control")
    if data[0] not in (0x30, 0x31):
        raise UnknownCodeError(f"unknown rear-entry code 0x{data[0]:02X}")
    return _code(EntryMode, pm, "entry mode"), data[0] == 0x30


def _status_payload(data: bytes, what: str) -> tuple[int, bytes]:
    try:
        parsed = _STATUS_PREFIXED.parse(data)
    except ConstructError as exc:
        raise FramingError(f"{what}: 2-byte length does not match the bytes after it") from exc
    return int(parsed.status), bytes(parsed.payload)


def parse_apdu_request(data: bytes) -> bytes:
    """The C-APDU inside 37 31 / 37 32 DATA (``LEN_H LEN_L C-APDU``)."""
    try:
        return bytes(_APDU_DATA.parse(data).apdu)
    except ConstructError as exc:
        raise FramingError(
            f"APDU command: {len(data)} DATA bytes are not a 2-byte length and its APDU"
        ) from exc


def build_command(cm: int | Command, pm: int | None = None, data: bytes = b"") -> bytes:
    """Encode a command frame.

    Args:
        cm: a ``Command``, or a raw CM byte.
        pm: the PM byte; required for a raw CM or a parameterised ``Command``, and must
            match (or be omitted for) a fixed one.
        data: the DATA bytes, at most ``MAX_DATA``.

    Raises:
        ValueError: a missing or conflicting PM, or too much data.
    """
    if isinstance(cm, Command):
        if cm.pm is not None and pm not in (None, cm.pm):
            raise ValueError(f"{cm.name} has PM 0x{cm.pm:02X}, got 0x{pm:02X}")
        pm = cm.pm if cm.pm is not None else pm
        cm = cm.cm
    if pm is None:
        raise ValueError("this command needs a PM byte")
    return build_frame(cm, pm, data)


def build_read_tracks(mode: TrackMode, selector: TrackSelector, *, reread: bool = False) -> bytes:
    """45 30 (read) or 45 31 (re-read) for the selected tracks."""
    command = Command.REREAD_TRACKS if reread else Command.READ_TRACKS
    return build_command(command, data=bytes((mode, selector)))


def build_apdu_command(capdu: bytes, *, t1: bool = False) -> bytes:
    """37 31 (T=0) or 37 32 (T=1) carrying a C-APDU of at most 262 bytes."""
    if len(capdu) > MAX_DATA - 2:
        raise ValueError(f"C-APDU is {len(capdu)} bytes, at most {MAX_DATA - 2} fit")
    command = Command.APDU_T1 if t1 else Command.APDU_T0
    return build_command(command, data=len(capdu).to_bytes(2, "big") + capdu)


def build_entry_control(mode: EntryMode, *, rear_allowed: bool) -> bytes:
    """2F Pm1 Pm2: which cards may enter at the front, and whether at the rear."""
    return build_command(Command.ENTRY_CONTROL, mode, b"\x30" if rear_allowed else b"\x31")


def build_set_baud(bps: int) -> bytes:
    """34 Pm for 1200..38400 bps."""
    for pm, rate in BAUD_RATES.items():
        if rate == bps:
            return build_command(Command.SET_BAUD, pm)
    raise ValueError(f"baud rate must be one of {sorted(BAUD_RATES.values())}, got {bps!r}")


def build_blink(on_quarters: int, off_quarters: int) -> bytes:
    """49 Pm1 Pm2: blink the bezel light, times in units of 0.25 s."""
    return build_command(Command.LIGHT_BLINK, on_quarters, bytes((off_quarters,)))


# ----------------------------------------------------------------------------- replies


@dataclass(frozen=True, slots=True)
class ErrorReply:
    """``4E CM E``: the reader refused a command.

    Attributes:
        cm: the CM of the refused command.
        code: why.
    """

    cm: int
    code: ErrorCode


@dataclass(frozen=True, slots=True)
class StatusReply:
    """Reply to 31 30: S1 S2 S3."""

    position: CardPosition
    front: FrontEntry
    rear: RearEntry

    @property
    def command(self) -> Command:
        """Always ``Command.STATUS``."""
        return Command.STATUS


@dataclass(frozen=True, slots=True)
class SensorReply:
    """Reply to 31 2F (PSS1..5) or 31 2E (PSS0..5), then CTSW and KSW.

    Each value is True when the reader sent '1' (31) and False for '0' (30).
    """

    command: Command
    sensors: tuple[bool, ...]
    shutter: bool
    switch: bool


@dataclass(frozen=True, slots=True)
class CardTypeReply:
    """Reply to 31 31: the detected chip type and its S2 byte."""

    card_type: IcCardType
    variant: int

    @property
    def command(self) -> Command:
        """Always ``Command.CARD_TYPE``."""
        return Command.CARD_TYPE


@dataclass(frozen=True, slots=True, repr=False)
class TrackRecord:
    """One track block of a track-read reply.

    Attributes:
        track: 1, 2 or 3.
        status: OK, or why the track could not be read.
        data: the track characters (ASCII, in either read mode) when OK; else empty.
        error: the error byte when not OK; else None.
    """

    track: int
    status: TrackStatus
    data: bytes = b""
    error: TrackReadError | None = None

    def __post_init__(self) -> None:
        if self.track not in _TRACK_BASE:
            raise ValueError(f"track must be 1, 2 or 3, got {self.track!r}")
        if (self.status is TrackStatus.OK) != (self.error is None):
            raise ValueError("an OK track has no error code; a failed track needs one")
        if self.error is not None and self.data:
            raise ValueError("a failed track carries no data")
        low, high = _TRACK_BASE[self.track]
        if any(not low <= byte <= high for byte in self.data):
            raise ValueError(f"track {self.track} data outside 0x{low:02X}-0x{high:02X}")

    def __repr__(self) -> str:
        return (
            f"TrackRecord(track={self.track}, status={self.status.name}, "
            f"data={_hide(self.data)}, error={self.error.name if self.error else None})"
        )


@dataclass(frozen=True, slots=True)
class TrackReadReply:
    """Reply to 45 30 / 45 31."""

    command: Command
    mode: TrackMode
    selector: TrackSelector
    tracks: tuple[TrackRecord, ...]


@dataclass(frozen=True, slots=True, repr=False)
class CpuResetReply:
    """Reply to 37 30 / 37 2F: P, then (on success) the ATR."""

    command: Command
    status: OperationStatus
    atr: bytes = b""

    def __repr__(self) -> str:
        return f"CpuResetReply({self.command.name}, {self.status.name}, atr={_hide(self.atr)})"


@dataclass(frozen=True, slots=True, repr=False)
class ApduReply:
    """Reply to 37 31 / 37 32: P, then (on success) the R-APDU (may hold a PAN)."""

    command: Command
    status: OperationStatus
    response: bytes = b""

    def __repr__(self) -> str:
        return f"ApduReply({self.command.name}, {self.status.name}, {_hide(self.response)})"


@dataclass(frozen=True, slots=True, repr=False)
class PlainReply:
    """Any other positive reply: the echoed command and its DATA, undecoded."""

    command: Command
    pm: int
    data: bytes = b""

    @property
    def succeeded(self) -> bool | None:
        """'Y'/'N' in the first DATA byte as success (inverted for 2F); None if absent."""
        if not self.data or self.data[0] not in (0x59, 0x4E):
            return None
        yes = self.data[0] == 0x59
        return not yes if self.command is Command.ENTRY_CONTROL else yes

    def __repr__(self) -> str:
        return f"PlainReply({self.command.name}, pm=0x{self.pm:02X}, data={_hide(self.data)})"


Reply = (
    ErrorReply
    | StatusReply
    | SensorReply
    | CardTypeReply
    | TrackReadReply
    | CpuResetReply
    | ApduReply
    | PlainReply
)


def _reply_command(frame: Frame, request: Command | None) -> Command:
    if request is None:
        if frame.cm == 0x33 and frame.pm in BAUD_RATES and frame.pm > 0x31:
            return Command.SET_BAUD
        return Command.lookup(frame.cm, frame.pm)
    cm = 0x33 if request is Command.SET_BAUD else request.cm
    if frame.cm != cm or request.pm not in (None, frame.pm):
        raise ProtocolError(
            f"reply is CM 0x{frame.cm:02X} PM 0x{frame.pm:02X}, expected the echo of {request.name}"
        )
    return request


def _flags(data: bytes) -> tuple[bool, ...]:
    for byte in data:
        if byte not in (0x30, 0x31):
            raise UnknownCodeError(f"unknown sensor value 0x{byte:02X}")
    return tuple(byte == 0x31 for byte in data)


def _decode_tracks(command: Command, data: bytes) -> TrackReadReply:
    if len(data) < 2:
        raise FramingError(f"track reply: DATA is {len(data)} bytes, expected at least 2")
    mode, selector = parse_track_request(data[:2])
    blocks = data[2:].split(b"\x1f")
    if blocks[0]:
        raise FramingError("track reply: bytes before the first 1F separator")
    if len(blocks) - 1 != len(selector.tracks):
        raise FramingError(
            f"track reply: {len(blocks) - 1} track blocks for selector {selector.name}"
        )
    records = []
    for track, block in zip(selector.tracks, blocks[1:], strict=True):
        if not block:
            raise FramingError(f"track reply: track {track} block has no status byte")
        status = _code(TrackStatus, block[0], "track status")
        if status is not TrackStatus.OK:
            _exact_data(block[1:], 1, f"track {track} error")
            records.append(
                TrackRecord(
                    track, status, error=_code(TrackReadError, block[1], "track error code")
                )
            )
            continue
        chars = _unhex_track(track, block[1:]) if mode is TrackMode.BINARY else block[1:]
        low, high = _TRACK_BASE[track]
        for index, byte in enumerate(chars):
            if not low <= byte <= high:
                raise ProtocolError(
                    f"track {track}: character 0x{byte:02X} at position {index} "
                    f"is outside 0x{low:02X}-0x{high:02X}"
                )
        records.append(TrackRecord(track, status, chars))
    return TrackReadReply(command, mode, selector, tuple(records))


def _unhex_track(track: int, payload: bytes) -> bytes:
    if len(payload) % 2 or any(b not in b"0123456789ABCDEF" for b in payload):
        raise ProtocolError(f"track {track}: binary-mode data is not upper-case hex pairs")
    low = _TRACK_BASE[track][0]
    return bytes(low + value for value in bytes.fromhex(payload.decode("ascii")))


def _decode_p_reply(command: Command, data: bytes, allowed: set[int]) -> tuple[int, bytes]:
    if not data:
        raise FramingError(f"{command.name} reply: no status byte")
    status = data[0]
    if status not in allowed:
        raise UnknownCodeError(f"unknown {command.name} status 0x{status:02X}")
    if status in (OperationStatus.SUCCESS, OperationStatus.SUCCESS_T1):
        return _status_payload(data, f"{command.name} reply")
    _exact_data(data, 1, f"{command.name} reply")
    return status, b""


_RESET_STATUSES = {s.value for s in OperationStatus}
_APDU_STATUSES = _RESET_STATUSES - {OperationStatus.SUCCESS_T1.value}


def decode_reply(frame: Frame, request: Command | None = None) -> Reply:
    """Decode a reply frame into its dataclass.

    Args:
        frame: a frame from the reader.
        request: the command it answers, when known: checks the echo and resolves the
            33 30 / 33 31 collision between IC power and baud-rate replies.

    Raises:
        UnknownCodeError: an unknown command, error code or status byte.
        FramingError: DATA of the wrong size for the reply.
        ProtocolError: the reply does not echo ``request``.
    """
    data = frame.data
    if frame.cm == ERROR_CM:
        _exact_data(data, 1, "error reply")
        return ErrorReply(frame.pm, _code(ErrorCode, data[0], "error code"))
    command = _reply_command(frame, request)
    if command is Command.STATUS:
        _exact_data(data, 3, "status reply")
        return StatusReply(
            _code(CardPosition, data[0], "card position"),
            _code(FrontEntry, data[1], "front entry status"),
            _code(RearEntry, data[2], "rear entry status"),
        )
    if command in (Command.SENSORS_V2, Command.SENSORS_V3):
        size = 7 if command is Command.SENSORS_V2 else 8
        _exact_data(data, size, "sensor reply")
        flags = _flags(data)
        return SensorReply(command, flags[:-2], flags[-2], flags[-1])
    if command is Command.CARD_TYPE:
        _exact_data(data, 2, "card type reply")
        card = _CARD_EXACT.get((data[0], data[1])) or _CARD_BY_S1.get(data[0])
        if card is None:
            raise UnknownCodeError(f"unknown card type 0x{data[0]:02X} 0x{data[1]:02X}")
        return CardTypeReply(card, data[1])
    if command in (Command.READ_TRACKS, Command.REREAD_TRACKS):
        return _decode_tracks(command, data)
    if command in (Command.CPU_COLD_RESET, Command.CPU_WARM_RESET):
        status, atr = _decode_p_reply(command, data, _RESET_STATUSES)
        return CpuResetReply(command, OperationStatus(status), atr)
    if command in (Command.APDU_T0, Command.APDU_T1):
        status, response = _decode_p_reply(command, data, _APDU_STATUSES)
        return ApduReply(command, OperationStatus(status), response)
    return PlainReply(command, frame.pm, data)


def _p_payload(status: OperationStatus, payload: bytes) -> bytes:
    if status in (OperationStatus.SUCCESS, OperationStatus.SUCCESS_T1):
        return bytes((status,)) + len(payload).to_bytes(2, "big") + payload
    if payload:
        raise ValueError(f"a {status.name} reply carries no payload")
    return bytes((status,))


def _encode_track(record: TrackRecord, mode: TrackMode) -> bytes:
    if record.error is not None:
        return bytes((0x1F, record.status, record.error))
    payload = record.data
    if mode is TrackMode.BINARY:
        low = _TRACK_BASE[record.track][0]
        payload = bytes(byte - low for byte in payload).hex().upper().encode("ascii")
    return bytes((0x1F, record.status)) + payload


def encode_reply(reply: Reply) -> bytes:
    """Encode a reply dataclass as the frame the reader sends (``decode_reply`` inverse).

    Raises:
        ValueError: the reply is inconsistent or too long for a frame.
    """
    if isinstance(reply, ErrorReply):
        return build_frame(ERROR_CM, reply.cm, bytes((reply.code,)))
    if isinstance(reply, StatusReply):
        data = bytes((reply.position, reply.front, reply.rear))
        return build_command(Command.STATUS, data=data)
    if isinstance(reply, SensorReply):
        flags = (*reply.sensors, reply.shutter, reply.switch)
        if len(flags) != (7 if reply.command is Command.SENSORS_V2 else 8):
            raise ValueError(f"{reply.command.name} has the wrong number of sensors")
        return build_command(reply.command, data=bytes(0x31 if f else 0x30 for f in flags))
    if isinstance(reply, CardTypeReply):
        s1, s2 = reply.card_type.value
        if s2 is not None and s2 != reply.variant:
            raise ValueError(f"{reply.card_type.name} has S2 0x{s2:02X}")
        return build_command(Command.CARD_TYPE, data=bytes((s1, reply.variant)))
    if isinstance(reply, TrackReadReply):
        if tuple(r.track for r in reply.tracks) != reply.selector.tracks:
            raise ValueError(f"track records do not match selector {reply.selector.name}")
        blocks = b"".join(_encode_track(record, reply.mode) for record in reply.tracks)
        return build_command(reply.command, data=bytes((reply.mode, reply.selector)) + blocks)
    if isinstance(reply, CpuResetReply):
        return build_command(reply.command, data=_p_payload(reply.status, reply.atr))
    if isinstance(reply, ApduReply):
        return build_command(reply.command, data=_p_payload(reply.status, reply.response))
    cm = 0x33 if reply.command is Command.SET_BAUD else reply.command.cm
    if reply.command.pm not in (None, reply.pm):
        raise ValueError(f"{reply.command.name} has PM 0x{reply.command.pm:02X}")
    return build_frame(cm, reply.pm, reply.data)


def build_reply(cm: int, pm: int, data: bytes = b"") -> bytes:
    """Encode a positive reply frame from raw bytes (same layout as a command)."""
    return build_frame(cm, pm, data)


def build_error_reply(cm: int, code: ErrorCode) -> bytes:
    """``02 00 03 4E CM E 03 BCC``."""
    return encode_reply(ErrorReply(cm, code))


def build_status_reply(position: CardPosition, front: FrontEntry, rear: RearEntry) -> bytes:
    """Reply to 31 30."""
    return encode_reply(StatusReply(position, front, rear))


def build_track_reply(
    records: Iterable[TrackRecord], *, mode: TrackMode = TrackMode.ASCII, reread: bool = False
) -> bytes:
    """Reply to 45 30 / 45 31; the selector follows from the records' track numbers."""
    records = tuple(sorted(records, key=lambda record: record.track))
    selector = TrackSelector.for_tracks(record.track for record in records)
    command = Command.REREAD_TRACKS if reread else Command.READ_TRACKS
    return encode_reply(TrackReadReply(command, mode, selector, records))


def build_cpu_reset_reply(
    status: OperationStatus, atr: bytes = b"", *, warm: bool = False
) -> bytes:
    """Reply to 37 30 / 37 2F: Y (T=0) or Z (T=1) with the ATR, or N/E/W alone."""
    command = Command.CPU_WARM_RESET if warm else Command.CPU_COLD_RESET
    return encode_reply(CpuResetReply(command, status, atr))


def build_apdu_reply(status: OperationStatus, response: bytes = b"", *, t1: bool = False) -> bytes:
    """Reply to 37 31 / 37 32: Y with the R-APDU, or N/E/W alone."""
    command = Command.APDU_T1 if t1 else Command.APDU_T0
    return encode_reply(ApduReply(command, status, response))


def build_card_type_reply(card_type: IcCardType, variant: int | None = None) -> bytes:
    """Reply to 31 31; ``variant`` is S2, needed only for the types with any S2."""
    s2 = card_type.value[1]
    chosen = s2 if s2 is not None else variant
    if chosen is None:
        raise ValueError(f"{card_type.name} needs a variant byte")
    return encode_reply(CardTypeReply(card_type, chosen))
