"""Creator CRT-591-M card dispenser/issuer (with IC read-write): frames, texts and codes.

The link layer (frames, control bytes, the stream decoder) is
``protocols.crt591_frames``; this module re-exports it and adds what a frame's TEXT
carries::

    command           'C' CM PM DATA
    positive reply    'P' CM PM st0 st1 st2 DATA
    negative reply    'N' CM PM e1 e0          (or 'E': see below)

Exchange (reference §2.2): the host sends a command frame; the reader answers ACK (NAK
for a bad BCC: the host sends it again), carries the command out and sends the reply
frame, which the host acknowledges with ACK. EOT clears the line.

Status bytes (ASCII) in every positive reply: st0 where the card is (``CardStatus``),
st1 how full the card stacker is (``StackerStatus``), st2 whether the reject bin is full
(``BinStatus``). A negative reply carries a two-character error code (``ErrorCode``).

Spec ambiguity accepted: the negative head is written 'N' (4E) in the vendor PDF and
tested as 'E' (45) by the public C# driver; both decode, and ``Refusal.head`` keeps
which one came. The emulator sends 'N'.

Assumptions where the reference is silent (ours, marked so in docs/crt591.md):

- a CPU cold/warm reset's reply DATA is one protocol byte ('0' T=0, '1' T=1) then the
  ATR (`CpuResetData`); the reset command takes no DATA (one optional byte, the
  supply-voltage choice of some firmware, is accepted and ignored by the emulator);
- an APDU command's DATA is the C-APDU itself, its reply's DATA the R-APDU (LEN gives
  their sizes: no inner length prefix);
- the CPU status (51 32) reply DATA is one byte: '0' inactive, '1' active T=0, '2'
  active T=1 (`CpuState`);
- the reject-bin counter (A5 30 reply, A5 31 command) is three ASCII digits, 000-999
  (the C# driver treats it as binary in two inconsistent ways);
- the sensor status (31 31) DATA is eight '0'/'1' bytes, S1..S8 (what each sensor
  watches is not documented; the emulator's choice is in ``SENSOR_NAMES``).

Hot path: ``decode_text`` / ``encode_text`` use slices and enum lookups. The
construct layouts (``COMMAND_TEXT``, ``POSITIVE_TEXT``, ``NEGATIVE_TEXT``) are the
declarative definition, checked equal to the fast path by the property tests.

Source of facts: reference/protocols.md §2.2 (Creator CRT-591 communication protocol,
2013, and ``CRT591_Com.cs``) and §7 vectors #19.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, IntEnum, StrEnum
from typing import TypeVar

from construct import Bytes, Const, GreedyBytes, Int8ub, OneOf, Struct, Terminated

from protocols.crt591_frames import (
    ETX,
    FRAME,
    MAX_ADDRESS,
    MAX_FRAME,
    MAX_TEXT,
    MIN_TEXT,
    STX,
    BadFrame,
    BadFrameReason,
    Control,
    Crt591StreamDecoder,
    Frame,
    Item,
    build_frame,
    hide,
    parse_frame,
)
from protocols.errors import FramingError, UnknownCodeError

__all__ = [
    "COMMAND_TEXT",
    "ETX",
    "FRAME",
    "MAX_ADDRESS",
    "MAX_DATA",
    "MAX_FRAME",
    "MAX_TEXT",
    "MIN_TEXT",
    "NEGATIVE_TEXT",
    "POSITIVE_TEXT",
    "SENSOR_NAMES",
    "STX",
    "BadFrame",
    "BadFrameReason",
    "BinStatus",
    "CardStatus",
    "Command",
    "Control",
    "CpuOperation",
    "CpuResetData",
    "CpuState",
    "Crt591StreamDecoder",
    "ErrorCode",
    "Frame",
    "Head",
    "InitMode",
    "Item",
    "Message",
    "Position",
    "Refusal",
    "Reply",
    "Request",
    "StackerStatus",
    "bin_counter_data",
    "build_command",
    "build_frame",
    "build_negative",
    "build_positive",
    "cpu_reset_data",
    "decode_frame",
    "decode_text",
    "encode_text",
    "hide",
    "parse_bin_counter",
    "parse_cpu_reset",
    "parse_frame",
    "parse_sensors",
    "sensor_data",
]

_E = TypeVar("_E", bound=IntEnum)

#: DATA bytes a reply can carry (TEXT less 'P' CM PM st0 st1 st2).
MAX_DATA = MAX_TEXT - 6


# ----------------------------------------------------------------------------- codes


class Head(IntEnum):
    """The first byte of TEXT."""

    COMMAND = 0x43  # 'C'
    POSITIVE = 0x50  # 'P'
    NEGATIVE = 0x4E  # 'N' (the vendor PDF)
    NEGATIVE_E = 0x45  # 'E' (the public C# driver)


class Command(Enum):
    """Commands as (CM, PM) pairs; PM None means PM is the command's parameter."""

    INITIALIZE = (0x30, None)  # PM = InitMode; reply DATA: the firmware version
    STATUS = (0x31, 0x30)
    SENSORS = (0x31, 0x31)  # reply DATA: S1..S8, '0'/'1'
    MOVE = (0x32, None)  # PM = Position
    ENTRY_ENABLE = (0x33, 0x30)  # accept a card at the gate
    ENTRY_DISABLE = (0x33, 0x31)
    IC_TYPE = (0x50, 0x30)  # auto-detect the contact card's type
    RF_TYPE = (0x50, 0x31)  # auto-detect the contactless card's type
    CPU = (0x51, None)  # PM = CpuOperation
    SAM = (0x52, None)
    SLE = (0x53, None)  # SLE4442 / SLE4428
    I2C = (0x54, None)  # 24Cxx
    RF = (0x60, None)
    CARD_SERIAL = (0xA2, 0x30)
    CONFIGURATION = (0xA3, 0x30)
    VERSION = (0xA4, 0x30)
    BIN_COUNTER_READ = (0xA5, 0x30)
    BIN_COUNTER_SET = (0xA5, 0x31)

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
            UnknownCodeError: no such command, or a parameter it does not take.
        """
        found = _EXACT.get((cm, pm)) or _BY_CM.get(cm)
        if found is None:
            raise UnknownCodeError(f"unknown command CM 0x{cm:02X} PM 0x{pm:02X}")
        kind = _PARAMETERS.get(found)
        if kind is not None:
            _code(kind, pm, f"{found.name} parameter")
        return found


class InitMode(IntEnum):
    """PM of Initialize (30): what happens to a card in the channel."""

    TO_GATE = 0x30
    CAPTURE = 0x31
    NO_MOVE = 0x33
    TO_GATE_COUNTED = 0x34
    CAPTURE_COUNTED = 0x35
    NO_MOVE_COUNTED = 0x37

    @property
    def counted(self) -> bool:
        """One of the variants "with the retract counter"."""
        return self >= InitMode.TO_GATE_COUNTED

    @property
    def base(self) -> InitMode:
        """The same card movement without the counter."""
        return {0x34: InitMode.TO_GATE, 0x35: InitMode.CAPTURE, 0x37: InitMode.NO_MOVE}.get(
            self.value, self
        )


class Position(IntEnum):
    """PM of Move (32). With no card in the channel, a move to HOLD, IC, RF or GATE
    first takes a card from the stacker (that is how the CRT-591 issues cards)."""

    HOLD = 0x30
    IC = 0x31
    RF = 0x32
    REJECT_BIN = 0x33
    GATE = 0x39


class CpuOperation(IntEnum):
    """PM of the CPU-card command (51)."""

    COLD_RESET = 0x30
    POWER_OFF = 0x31
    STATUS = 0x32
    APDU_T0 = 0x33
    APDU_T1 = 0x34
    WARM_RESET = 0x38
    APDU_AUTO = 0x39


class CardStatus(IntEnum):
    """st0: where the card is."""

    NO_CARD = 0x30
    AT_GATE = 0x31
    AT_POSITION = 0x32  # in the channel, at the RF/IC position

    @property
    def meaning(self) -> str:
        """The reference's words."""
        return _ST0[self]


class StackerStatus(IntEnum):
    """st1: the card stacker's fill."""

    EMPTY = 0x30
    LOW = 0x31
    ENOUGH = 0x32

    @property
    def meaning(self) -> str:
        """The reference's words."""
        return _ST1[self]


class BinStatus(IntEnum):
    """st2: the reject bin's fill."""

    NOT_FULL = 0x30
    FULL = 0x31

    @property
    def meaning(self) -> str:
        """The reference's words."""
        return _ST2[self]


class ErrorCode(StrEnum):
    """e1 e0 of a negative reply: two ASCII characters."""

    UNDEFINED_COMMAND = "00"
    BAD_PARAMETER = "01"
    SEQUENCE_ERROR = "02"
    NOT_SUPPORTED = "03"
    BAD_DATA = "04"
    CONTACT_NOT_RELEASED = "05"
    JAM = "10"
    SENSOR_ERROR = "12"
    LONG_CARD = "13"
    SHORT_CARD = "14"
    RECYCLE_FAILED = "40"
    IC_MAGNET_ERROR = "41"
    CANNOT_MOVE_TO_IC = "43"
    MOVED_MANUALLY = "45"
    COUNTER_OVERFLOW = "50"
    MOTOR_ERROR = "51"
    IC_SHORT_CIRCUIT = "60"
    ACTIVATION_FAILED = "61"
    IC_COMMAND_NOT_SUPPORTED = "62"
    IC_DISABLED = "65"
    NOT_SUPPORTED_BY_CURRENT_IC = "66"
    IC_TRANSMISSION_ERROR = "67"
    IC_TIMEOUT = "68"
    NOT_EMV_COMPLIANT = "69"
    STACKER_EMPTY = "A0"
    BIN_FULL = "A1"
    NOT_INITIALISED = "B0"

    @property
    def meaning(self) -> str:
        """The reference's words."""
        return _ERRORS[self]


class CpuState(IntEnum):
    """DATA of the CPU status reply (51 32) [assumption]."""

    INACTIVE = 0x30
    ACTIVE_T0 = 0x31
    ACTIVE_T1 = 0x32


_ST0 = {
    CardStatus.NO_CARD: "no card in the unit",
    CardStatus.AT_GATE: "card at the gate",
    CardStatus.AT_POSITION: "card at the RF/IC position",
}
_ST1 = {
    StackerStatus.EMPTY: "card stacker empty",
    StackerStatus.LOW: "few cards in the stacker",
    StackerStatus.ENOUGH: "enough cards in the stacker",
}
_ST2 = {BinStatus.NOT_FULL: "reject bin not full", BinStatus.FULL: "reject bin full"}
_ERRORS = {
    ErrorCode.UNDEFINED_COMMAND: "undefined command",
    ErrorCode.BAD_PARAMETER: "bad parameter",
    ErrorCode.SEQUENCE_ERROR: "command sequence error",
    ErrorCode.NOT_SUPPORTED: "not supported by the hardware",
    ErrorCode.BAD_DATA: "bad command data",
    ErrorCode.CONTACT_NOT_RELEASED: "IC contact not released",
    ErrorCode.JAM: "card jam",
    ErrorCode.SENSOR_ERROR: "sensor error",
    ErrorCode.LONG_CARD: "long card",
    ErrorCode.SHORT_CARD: "short card",
    ErrorCode.RECYCLE_FAILED: "recycle (capture) failure",
    ErrorCode.IC_MAGNET_ERROR: "IC contact magnet error",
    ErrorCode.CANNOT_MOVE_TO_IC: "cannot move the card to the IC position",
    ErrorCode.MOVED_MANUALLY: "card moved by hand",
    ErrorCode.COUNTER_OVERFLOW: "counter overflow",
    ErrorCode.MOTOR_ERROR: "motor error",
    ErrorCode.IC_SHORT_CIRCUIT: "IC supply short-circuit",
    ErrorCode.ACTIVATION_FAILED: "card activation failed",
    ErrorCode.IC_COMMAND_NOT_SUPPORTED: "command not supported by the IC",
    ErrorCode.IC_DISABLED: "IC disabled",
    ErrorCode.NOT_SUPPORTED_BY_CURRENT_IC: "command not supported by the current IC",
    ErrorCode.IC_TRANSMISSION_ERROR: "IC transmission error",
    ErrorCode.IC_TIMEOUT: "IC timeout",
    ErrorCode.NOT_EMV_COMPLIANT: "CPU/SAM card not EMV-compliant",
    ErrorCode.STACKER_EMPTY: "card stacker empty",
    ErrorCode.BIN_FULL: "reject bin full",
    ErrorCode.NOT_INITIALISED: "not initialised",
}

_EXACT = {(c.cm, c.pm): c for c in Command if c.pm is not None}
_BY_CM = {c.cm: c for c in Command if c.pm is None}
_PARAMETERS: dict[Command, type[IntEnum]] = {
    Command.INITIALIZE: InitMode,
    Command.MOVE: Position,
    Command.CPU: CpuOperation,
}
_NEGATIVE_HEADS = frozenset({Head.NEGATIVE.value, Head.NEGATIVE_E.value})
_ERROR_BY_BYTES = {code.value.encode("ascii"): code for code in ErrorCode}

#: What the emulator's eight sensors (31 31, S1..S8) watch [assumption: undocumented].
SENSOR_NAMES = (
    "gate",
    "ic_position",
    "stacker_has_cards",
    "stacker_above_low",
    "bin_full",
    "s6",
    "s7",
    "s8",
)


def _code(enum: type[_E], value: int, what: str) -> _E:
    try:
        return enum(value)
    except ValueError:
        raise UnknownCodeError(f"unknown {what} 0x{value:02X}") from None


# ----------------------------------------------------------------------------- layouts

COMMAND_TEXT = Struct(
    "head" / Const(Head.COMMAND.value, Int8ub),
    "cm" / Int8ub,
    "pm" / Int8ub,
    "data" / GreedyBytes,
).compile()
"""A command's TEXT in construct."""

POSITIVE_TEXT = Struct(
    "head" / Const(Head.POSITIVE.value, Int8ub),
    "cm" / Int8ub,
    "pm" / Int8ub,
    "st0" / Int8ub,
    "st1" / Int8ub,
    "st2" / Int8ub,
    "data" / GreedyBytes,
).compile()
"""A positive reply's TEXT in construct (status codes not checked by it)."""

NEGATIVE_TEXT = Struct(
    "head" / OneOf(Int8ub, sorted(_NEGATIVE_HEADS)),
    "cm" / Int8ub,
    "pm" / Int8ub,
    "error" / Bytes(2),
    Terminated,
)
"""A negative reply's TEXT in construct (the error code not checked by it)."""


# ----------------------------------------------------------------------------- messages


@dataclass(frozen=True, slots=True, repr=False)
class Request:
    """A command: ``'C' CM PM DATA``. DATA may hold a C-APDU with a PIN: hidden.

    Attributes:
        cm, pm: the command and its parameter.
        data: the bytes after PM.
    """

    cm: int
    pm: int
    data: bytes = b""

    @property
    def command(self) -> Command:
        """The command this is.

        Raises:
            UnknownCodeError: no such command.
        """
        return Command.lookup(self.cm, self.pm)

    def __repr__(self) -> str:
        return f"Request(0x{self.cm:02X} 0x{self.pm:02X}, data={hide(self.data)})"


@dataclass(frozen=True, slots=True, repr=False)
class Reply:
    """A positive reply: ``'P' CM PM st0 st1 st2 DATA``; DATA may hold an R-APDU.

    Attributes:
        cm, pm: the command answered (echoed).
        card: st0.
        stacker: st1.
        bin: st2.
        data: the bytes after st2.
    """

    cm: int
    pm: int
    card: CardStatus
    stacker: StackerStatus
    bin: BinStatus
    data: bytes = b""

    def __repr__(self) -> str:
        return (
            f"Reply(0x{self.cm:02X} 0x{self.pm:02X}, {self.card.name}, {self.stacker.name}, "
            f"bin {self.bin.name}, data={hide(self.data)})"
        )


@dataclass(frozen=True, slots=True)
class Refusal:
    """A negative reply: ``head CM PM e1 e0``.

    Attributes:
        cm, pm: the command refused (echoed).
        error: why.
        head: 'N' (4E) or 'E' (45), as it came.
    """

    cm: int
    pm: int
    error: ErrorCode
    head: int = Head.NEGATIVE.value


Message = Request | Reply | Refusal


def decode_text(text: bytes | bytearray) -> Message:
    """Decode a frame's TEXT.

    Raises:
        FramingError: too short for its head.
        UnknownCodeError: an unknown head, status byte or error code.
    """
    size = len(text)
    if size < MIN_TEXT:
        raise FramingError(f"TEXT is {size} bytes, expected at least {MIN_TEXT}")
    head = text[0]
    if head == Head.COMMAND:
        return Request(text[1], text[2], bytes(text[3:]))
    if head == Head.POSITIVE:
        if size < 6:
            raise FramingError(f"a positive reply is at least 6 bytes, got {size}")
        return Reply(
            text[1],
            text[2],
            _code(CardStatus, text[3], "st0 (card status)"),
            _code(StackerStatus, text[4], "st1 (stacker status)"),
            _code(BinStatus, text[5], "st2 (reject bin status)"),
            bytes(text[6:]),
        )
    if head in _NEGATIVE_HEADS:
        if size != 5:
            raise FramingError(f"a negative reply is 5 bytes, got {size}")
        error = _ERROR_BY_BYTES.get(bytes(text[3:5]))
        if error is None:
            raise UnknownCodeError(f"unknown error code {bytes(text[3:5])!r}")
        return Refusal(text[1], text[2], error, head)
    raise UnknownCodeError(f"unknown TEXT head 0x{head:02X}")


def encode_text(message: Message) -> bytes:
    """The TEXT of a message (``decode_text`` inverse).

    Raises:
        ValueError: a byte out of range, a head that is no negative head, or too much data.
    """
    if not (0 <= message.cm <= 0xFF and 0 <= message.pm <= 0xFF):
        raise ValueError(f"CM and PM are bytes, got {message.cm!r}, {message.pm!r}")
    if isinstance(message, Request):
        text = bytes((Head.COMMAND, message.cm, message.pm)) + message.data
    elif isinstance(message, Reply):
        status = (message.card, message.stacker, message.bin)
        text = bytes((Head.POSITIVE, message.cm, message.pm, *status)) + message.data
    else:
        if message.head not in _NEGATIVE_HEADS:
            raise ValueError(f"a negative head is 4E or 45, got {message.head!r}")
        text = bytes((message.head, message.cm, message.pm)) + message.error.value.encode()
    if len(text) > MAX_TEXT:
        raise ValueError(f"TEXT is {len(text)} bytes, at most {MAX_TEXT} fit a frame")
    return text


def decode_frame(frame: Frame) -> Message:
    """The message a frame carries (see ``decode_text``)."""
    return decode_text(frame.text)


# ----------------------------------------------------------------------------- builders


def build_command(
    command: Command, pm: int | None = None, data: bytes = b"", *, address: int = 0
) -> bytes:
    """Encode a command frame.

    Args:
        command: the command.
        pm: its parameter (an ``InitMode``, ``Position``, ``CpuOperation``, or any byte
            for SAM/SLE/I2C/RF); must match, or be omitted for, a fixed PM.
        data: DATA after PM.
        address: the reader's bus address, 0..15.

    Raises:
        ValueError: a missing, wrong or unknown PM, a bad address, or too much data.
    """
    if not 0 <= address <= MAX_ADDRESS:
        raise ValueError(f"the address is 0..{MAX_ADDRESS}, got {address!r}")
    if command.pm is not None:
        if pm not in (None, command.pm):
            raise ValueError(f"{command.name} has PM 0x{command.pm:02X}, got {pm!r}")
        pm = command.pm
    if pm is None:
        raise ValueError(f"{command.name} needs a PM byte")
    Command.lookup(command.cm, pm)
    return build_frame(encode_text(Request(command.cm, int(pm), data)), address)


def build_positive(
    request: Request | Command,
    card: CardStatus,
    stacker: StackerStatus,
    bin_status: BinStatus,
    data: bytes = b"",
    *,
    pm: int | None = None,
    address: int = 0,
) -> bytes:
    """Encode a positive reply to ``request`` (its CM PM echoed)."""
    cm, pm = _echo(request, pm)
    return build_frame(encode_text(Reply(cm, pm, card, stacker, bin_status, data)), address)


def build_negative(
    request: Request | Command,
    error: ErrorCode,
    *,
    pm: int | None = None,
    head: int = Head.NEGATIVE.value,
    address: int = 0,
) -> bytes:
    """Encode a negative reply to ``request`` (its CM PM echoed)."""
    cm, pm = _echo(request, pm)
    return build_frame(encode_text(Refusal(cm, pm, error, head)), address)


def _echo(request: Request | Command, pm: int | None) -> tuple[int, int]:
    if isinstance(request, Request):
        return request.cm, request.pm
    chosen = request.pm if request.pm is not None else pm
    if chosen is None:
        raise ValueError(f"{request.name} needs a PM byte")
    return request.cm, chosen


# ----------------------------------------------------------------------------- payloads


@dataclass(frozen=True, slots=True, repr=False)
class CpuResetData:
    """DATA of a CPU reset reply [assumption]: protocol ('0' T=0, '1' T=1), then the ATR."""

    t1: bool
    atr: bytes

    def __repr__(self) -> str:
        return f"CpuResetData({'T=1' if self.t1 else 'T=0'}, atr={hide(self.atr)})"


def cpu_reset_data(atr: bytes, *, t1: bool) -> bytes:
    """The DATA of a cold/warm reset reply."""
    return (b"1" if t1 else b"0") + atr


def parse_cpu_reset(data: bytes) -> CpuResetData:
    """Read the DATA of a cold/warm reset reply.

    Raises:
        FramingError: no ATR after the protocol byte.
        UnknownCodeError: a protocol byte other than '0' or '1'.
    """
    if len(data) < 3:
        raise FramingError(f"a reset reply carries a protocol byte and an ATR, got {len(data)}")
    if data[0] not in b"01":
        raise UnknownCodeError(f"unknown protocol byte 0x{data[0]:02X} in a reset reply")
    return CpuResetData(data[0] == 0x31, bytes(data[1:]))


def sensor_data(sensors: tuple[bool, ...]) -> bytes:
    """DATA of a sensor reply: eight '0'/'1' bytes."""
    if len(sensors) != 8:
        raise ValueError(f"the CRT-591 has eight sensors, got {len(sensors)}")
    return bytes(0x31 if on else 0x30 for on in sensors)


def parse_sensors(data: bytes) -> tuple[bool, ...]:
    """Read the DATA of a sensor reply.

    Raises:
        FramingError: not eight bytes.
        UnknownCodeError: a byte other than '0' or '1'.
    """
    if len(data) != 8:
        raise FramingError(f"a sensor reply carries 8 bytes, got {len(data)}")
    for byte in data:
        if byte not in (0x30, 0x31):
            raise UnknownCodeError(f"unknown sensor value 0x{byte:02X}")
    return tuple(byte == 0x31 for byte in data)


def bin_counter_data(count: int) -> bytes:
    """The reject-bin counter as DATA: three ASCII digits [assumption]."""
    if not 0 <= count <= 999:
        raise ValueError(f"the reject-bin counter is 0..999, got {count!r}")
    return b"%03d" % count


def parse_bin_counter(data: bytes) -> int:
    """Read the reject-bin counter (three ASCII digits).

    Raises:
        FramingError: not three digits.
    """
    if len(data) != 3 or not all(0x30 <= b <= 0x39 for b in data):
        raise FramingError(f"the reject-bin counter is 3 ASCII digits, got {len(data)} bytes")
    return int(data)
