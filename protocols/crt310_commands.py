"""Creator CRT-310 (protocol V3.0) card reader: the command set and the code tables.

Exchange: host sends a command frame (``protocols.crt310_frames``); the reader answers
ACK (06), or NAK (15) for a bad BCC; the host sends ENQ (05); the reader executes and
sends the reply frame (``protocols.crt310_replies``). EOT (04) cancels, and the reader
echoes it.

A command is a (CM, PM) pair; for a few (entry control, stop position, set baud,
Mifare, memory cards, blink) PM is the command's argument. DATA follows PM where the
command takes it: the track selection of 45 30/31, ``LEN_H LEN_L C-APDU`` of 37 31/32,
the rear-entry flag of 2F, the off time of 49.

The code tables are the spec's: the command table, then the bytes commands and replies
carry (error codes, P status, S1-S3 of the status reply, card types, track codes). They
sit here, below the replies, because commands and replies both use them.

Source of facts: reference/protocols.md §2.1 (Creator CRT-310 communication protocol
V3.0, 2007) and §7 vectors #16-#18.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum, IntEnum
from typing import TypeVar

from construct import ConstructError, GreedyBytes, Int16ub, Prefixed, Struct, Terminated

from protocols.creator_frames import CmPmCommand
from protocols.crt310_frames import MAX_DATA, Frame, _hide, build_frame
from protocols.errors import FramingError, UnknownCodeError

__all__ = [
    "BAUD_RATES",
    "CardPosition",
    "Command",
    "EntryMode",
    "ErrorCode",
    "FrontEntry",
    "IcCardType",
    "OperationStatus",
    "RearEntry",
    "Request",
    "TrackMode",
    "TrackReadError",
    "TrackSelector",
    "TrackStatus",
    "build_apdu_command",
    "build_blink",
    "build_command",
    "build_entry_control",
    "build_read_tracks",
    "build_set_baud",
    "decode_command",
    "parse_apdu_request",
    "parse_entry_control",
    "parse_track_request",
]

# DATA of the APDU command: a 2-byte length, then the C-APDU.
_APDU_DATA = Struct("apdu" / Prefixed(Int16ub, GreedyBytes), Terminated)

_E = TypeVar("_E", bound=IntEnum)


def _code(enum: type[_E], value: int, what: str) -> _E:
    try:
        return enum(value)
    except ValueError:
        raise UnknownCodeError(f"unknown {what} 0x{value:02X}") from None


def _exact_data(data: bytes, size: int, what: str) -> None:
    if len(data) != size:
        raise FramingError(f"{what}: DATA is {len(data)} bytes, expected {size}")


# ----------------------------------------------------------------------------- codes


class Command(CmPmCommand):
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


# ----------------------------------------------------------------------------- decoding


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


def parse_apdu_request(data: bytes) -> bytes:
    """The C-APDU inside 37 31 / 37 32 DATA (``LEN_H LEN_L C-APDU``)."""
    try:
        return bytes(_APDU_DATA.parse(data).apdu)
    except ConstructError as exc:
        raise FramingError(
            f"APDU command: {len(data)} DATA bytes are not a 2-byte length and its APDU"
        ) from exc


# ----------------------------------------------------------------------------- building


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
