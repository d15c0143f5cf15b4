"""Creator CRT-591-M card issuer: the replies and what their DATA carries.

A positive reply (``'P' CM PM st0 st1 st2 DATA``) reports where the card is (st0,
`CardStatus`), how full the stacker is (st1, `StackerStatus`) and whether the reject
bin is full (st2, `BinStatus`); a negative one (``'N' CM PM e1 e0``, or 'E') carries a
two-character `ErrorCode`. The DATA of some replies has a layout of its own (the CPU
reset, the sensors, the reject-bin counter): the payload helpers here read and write
it. ``protocols.crt591`` gathers these and holds the TEXT codec.

Source of facts: reference/protocols.md §2.2 (Creator CRT-591 communication protocol,
2013, and ``CRT591_Com.cs``) and §7 vectors #19.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, StrEnum

from construct import Bytes, Const, GreedyBytes, Int8ub, OneOf, Struct, Terminated

from protocols.crt591_commands import Head
from protocols.crt591_frames import MAX_TEXT, hide
from protocols.errors import FramingError, UnknownCodeError

__all__ = [
    "MAX_DATA",
    "NEGATIVE_HEADS",
    "NEGATIVE_TEXT",
    "POSITIVE_TEXT",
    "SENSOR_NAMES",
    "BinStatus",
    "CardStatus",
    "CpuResetData",
    "CpuState",
    "ErrorCode",
    "Refusal",
    "Reply",
    "StackerStatus",
    "bin_counter_data",
    "cpu_reset_data",
    "error_of",
    "parse_bin_counter",
    "parse_cpu_reset",
    "parse_sensors",
    "sensor_data",
]

#: DATA bytes a reply can carry (TEXT less 'P' CM PM st0 st1 st2).
MAX_DATA = MAX_TEXT - 6


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

NEGATIVE_HEADS = frozenset({Head.NEGATIVE.value, Head.NEGATIVE_E.value})
_ERROR_BY_BYTES = {code.value.encode("ascii"): code for code in ErrorCode}


def error_of(raw: bytes) -> ErrorCode | None:
    """The error code two ASCII bytes spell, if any."""
    return _ERROR_BY_BYTES.get(raw)


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
    "head" / OneOf(Int8ub, sorted(NEGATIVE_HEADS)),
    "cm" / Int8ub,
    "pm" / Int8ub,
    "error" / Bytes(2),
    Terminated,
)
"""A negative reply's TEXT in construct (the error code not checked by it)."""


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
