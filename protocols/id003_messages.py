"""JCM ID-003 messages: host commands, validator statuses and setting echoes.

The codes are reference/protocols.md §3.5. What a frame means depends on who sent it
(`parse_command` for host frames, `parse_reply` for the validator's). DATA lengths:

- host: C0 (denominations) 2 bytes; C1 (security) 2 bytes [U]; C2 (communication mode)
  1 byte [U]; C3 (inhibit) 1 byte, 00 accepting / 01 inhibited; C4 (direction) 1 byte
  [U]; C5 (optional function) 2 bytes [U]; 8A (currency assign) none from the host;
  every other command none.
- validator: 13 (escrow) 1 byte, the denomination code; 17 (rejecting) 1 byte, the
  reason; 49 (failure) 1 byte, the failure code; every other status none. An ACK frame
  (50) has no DATA. A setting is answered with its echo (the same code and DATA); the
  setting-status requests (80..85 [U]) are answered under the request's code with the
  setting's DATA. Version (88) and boot version (89) answers carry ASCII text [U].

Denominations in C0: bit n of the two bytes (first byte bits 0-7, second 8-15) stands
for denomination code 61h + n; a set bit inhibits that denomination [U: the usual JCM
convention, not in the reference].

Strict: a code the reference does not list, or DATA of the wrong length, is
`UnknownCodeError` / `FramingError`. Reject reasons and failure codes outside the
reference's lists are refused too [U: a real validator may send more].
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum
from typing import TypeVar

from protocols.errors import FramingError, UnknownCodeError
from protocols.id003 import Frame

__all__ = [
    "CNY_DENOMINATIONS",
    "DENOMINATIONS",
    "DENOMINATION_BASE",
    "Ack",
    "Command",
    "CommandCode",
    "Echo",
    "FailureCode",
    "RejectReason",
    "Reply",
    "Status",
    "StatusCode",
    "TextReply",
    "denomination_mask",
    "enabled_denominations",
    "parse_command",
    "parse_reply",
]

#: The first denomination code, bit 0 of the C0 mask [U].
DENOMINATION_BASE = 0x61
#: Denomination codes a C0 mask can name (16 bits) [U].
DENOMINATIONS = tuple(range(DENOMINATION_BASE, DENOMINATION_BASE + 16))
#: A default table of denomination codes for a CNY validator: code -> (currency, value
#: in minor units). [U: the codes a validator sends depend on its firmware's currency
#: table (the currency-assign request, 8A, reads it); this order, 1 to 100 yuan from
#: 61h, is an assumption. A driver takes its own table in its options.]
CNY_DENOMINATIONS: dict[int, tuple[str, int]] = {
    0x61: ("CNY", 100),
    0x62: ("CNY", 500),
    0x63: ("CNY", 1000),
    0x64: ("CNY", 2000),
    0x65: ("CNY", 5000),
    0x66: ("CNY", 10000),
}


E = TypeVar("E", bound=IntEnum)


class CommandCode(IntEnum):
    """Host command codes."""

    STATUS_REQUEST = 0x11
    ACK = 0x50
    RESET = 0x40
    STACK_1 = 0x41
    STACK_2 = 0x42
    RETURN = 0x43
    HOLD = 0x44
    WAIT = 0x45
    VERSION_REQUEST = 0x88
    BOOT_VERSION_REQUEST = 0x89
    CURRENCY_ASSIGN_REQUEST = 0x8A
    SET_DENOMINATION = 0xC0
    SET_SECURITY = 0xC1
    SET_COMMUNICATION_MODE = 0xC2
    SET_INHIBIT = 0xC3
    SET_DIRECTION = 0xC4
    SET_OPTIONAL_FUNCTION = 0xC5
    GET_DENOMINATION = 0x80
    GET_SECURITY = 0x81
    GET_COMMUNICATION_MODE = 0x82
    GET_INHIBIT = 0x83
    GET_DIRECTION = 0x84
    GET_OPTIONAL_FUNCTION = 0x85


#: DATA bytes of each setting (the set command, its echo and the get answer).
SETTING_SIZES: dict[int, int] = {
    CommandCode.SET_DENOMINATION: 2,
    CommandCode.SET_SECURITY: 2,
    CommandCode.SET_COMMUNICATION_MODE: 1,
    CommandCode.SET_INHIBIT: 1,
    CommandCode.SET_DIRECTION: 1,
    CommandCode.SET_OPTIONAL_FUNCTION: 2,
}
_GET_OFFSET = 0x40
_TEXT_CODES = frozenset(
    {
        CommandCode.VERSION_REQUEST,
        CommandCode.BOOT_VERSION_REQUEST,
        CommandCode.CURRENCY_ASSIGN_REQUEST,
    }
)


class StatusCode(IntEnum):
    """Validator status codes."""

    IDLING = 0x11
    ACCEPTING = 0x12
    ESCROW = 0x13
    STACKING = 0x14
    VEND_VALID = 0x15
    STACKED = 0x16
    REJECTING = 0x17
    RETURNING = 0x18
    HOLDING = 0x19
    DISABLED = 0x1A
    INITIALIZE = 0x1B
    POWER_UP = 0x40
    POWER_UP_BILL_IN_ACCEPTOR = 0x41
    POWER_UP_BILL_IN_STACKER = 0x42
    STACKER_FULL = 0x43
    STACKER_OPEN = 0x44
    JAM_IN_ACCEPTOR = 0x45
    JAM_IN_STACKER = 0x46
    PAUSE = 0x47
    CHEATED = 0x48
    FAILURE = 0x49
    COMMUNICATION_ERROR = 0x4A
    INVALID_COMMAND = 0x4B


class RejectReason(IntEnum):
    """Why the validator rejects a note (DATA of REJECTING)."""

    INSERTION = 0x71
    MAGNETIC = 0x72
    REMAINING_BILL = 0x73
    COMPENSATION = 0x74
    CONVEYING = 0x75
    DENOMINATION_ASSESSING = 0x76
    PHOTO_PATTERN = 0x77
    PHOTO_LEVEL = 0x78
    INHIBIT = 0x79
    UNKNOWN = 0x7A
    OPERATION = 0x7B
    REMAINING_BILL_2 = 0x7C
    LENGTH = 0x7D
    PHOTO_PATTERN_2 = 0x7E


class FailureCode(IntEnum):
    """What failed (DATA of FAILURE)."""

    STACK_MOTOR = 0xA2
    TRANSPORT_MOTOR_SPEED = 0xA5
    TRANSPORT_MOTOR = 0xA6
    ALIGNING_MOTOR = 0xA7
    CASHBOX_NOT_READY = 0xAB
    OPTICAL_SENSOR = 0xAC
    MAGNETIC_SENSOR = 0xAD
    HEAD_REMOVED = 0xAF
    BOOT_ROM = 0xB0
    EXTERNAL_ROM = 0xB1
    ROM = 0xB2
    EXTERNAL_ROM_WRITE = 0xB3


def _enum(kind: type[E], value: int, what: str) -> E:
    try:
        return kind(value)
    except ValueError:
        raise UnknownCodeError(f"unknown ID-003 {what} {value:02X}") from None


# --- host commands ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Command:
    """A host command: its code and DATA (checked against the code)."""

    code: CommandCode
    data: bytes = b""

    def __post_init__(self) -> None:
        want = SETTING_SIZES.get(self.code, 0)
        if len(self.data) != want:
            raise FramingError(
                f"ID-003 {self.code.name} carries {want} DATA bytes, got {len(self.data)}"
            )

    @classmethod
    def inhibit(cls, inhibited: bool) -> Command:
        """C3: ``True`` stops accepting notes, ``False`` accepts them."""
        return cls(CommandCode.SET_INHIBIT, b"\x01" if inhibited else b"\x00")

    @classmethod
    def denominations(cls, enabled: Iterable[int]) -> Command:
        """C0 enabling exactly the denomination codes ``enabled`` (the others inhibited)."""
        return cls(CommandCode.SET_DENOMINATION, denomination_mask(enabled))

    def frame(self) -> Frame:
        return Frame(int(self.code), self.data)

    def to_bytes(self) -> bytes:
        return self.frame().to_bytes()

    @property
    def meaning(self) -> str:
        """For people: the command's name and its setting."""
        if self.code is CommandCode.SET_INHIBIT:
            return "inhibit" if self.data != b"\x00" else "enable (accept notes)"
        if self.code is CommandCode.SET_DENOMINATION:
            codes = enabled_denominations(self.data)
            return "enable denominations " + (" ".join(f"{c:02X}" for c in codes) or "none")
        return self.code.name.lower().replace("_", " ")


def denomination_mask(enabled: Iterable[int]) -> bytes:
    """The two C0 bytes enabling ``enabled`` (set bit = inhibited) [U].

    Raises:
        ValueError: a code outside `DENOMINATIONS`.
    """
    mask = 0xFFFF
    for code in enabled:
        if code not in DENOMINATIONS:
            raise ValueError(f"denomination code {code:02X} is outside 61..70")
        mask &= ~(1 << (code - DENOMINATION_BASE))
    return bytes((mask & 0xFF, mask >> 8))


def enabled_denominations(mask: bytes) -> tuple[int, ...]:
    """The denomination codes two C0 bytes enable."""
    if len(mask) != 2:
        raise FramingError(f"a denomination mask is 2 bytes, got {len(mask)}")
    bits = mask[0] | mask[1] << 8
    return tuple(code for n, code in enumerate(DENOMINATIONS) if not bits >> n & 1)


def parse_command(frame: Frame) -> Command:
    """A host frame as a command.

    Raises:
        UnknownCodeError: not a command code. FramingError: wrong DATA length.
    """
    return Command(_enum(CommandCode, frame.code, "command"), frame.data)


# --- validator replies -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Status:
    """A status: its code and, for three of them, the DATA byte.

    Attributes:
        code: the status.
        denomination: ESCROW's denomination code.
        reason: REJECTING's reason.
        failure: FAILURE's code.
    """

    code: StatusCode
    denomination: int | None = None
    reason: RejectReason | None = None
    failure: FailureCode | None = None

    def __post_init__(self) -> None:
        code = self.code
        if (
            (code is StatusCode.ESCROW) is (self.denomination is None)
            or (code is StatusCode.REJECTING) is (self.reason is None)
            or (code is StatusCode.FAILURE) is (self.failure is None)
        ):
            raise FramingError(f"ID-003 {code.name}: DATA byte missing or unexpected")
        if self.denomination is not None and not 0 <= self.denomination <= 0xFF:
            raise ValueError(f"a denomination code is one byte, got {self.denomination!r}")

    @property
    def data(self) -> bytes:
        for value in (self.denomination, self.reason, self.failure):
            if value is not None:
                return bytes((int(value),))
        return b""

    def frame(self) -> Frame:
        return Frame(int(self.code), self.data)

    def to_bytes(self) -> bytes:
        return self.frame().to_bytes()

    @property
    def meaning(self) -> str:
        """For people: the status and its DATA."""
        name = self.code.name.lower().replace("_", " ")
        if self.denomination is not None:
            return f"{name}, denomination {self.denomination:02X}"
        if self.reason is not None:
            return f"{name}, {self.reason.name.lower().replace('_', ' ')}"
        if self.failure is not None:
            return f"{name}, {self.failure.name.lower().replace('_', ' ')}"
        return name


@dataclass(frozen=True, slots=True)
class Ack:
    """The validator's ACK frame (50): an operation command was taken."""

    def to_bytes(self) -> bytes:
        return Frame(int(CommandCode.ACK)).to_bytes()

    @property
    def meaning(self) -> str:
        return "ack"


@dataclass(frozen=True, slots=True)
class Echo:
    """The echo of a setting command, or the answer to a setting-status request
    (``code`` is the request's, DATA the setting's)."""

    code: CommandCode
    data: bytes

    def to_bytes(self) -> bytes:
        return Frame(int(self.code), self.data).to_bytes()

    @property
    def meaning(self) -> str:
        return f"{self.code.name.lower().replace('_', ' ')} echo {self.data.hex(' ').upper()}"


@dataclass(frozen=True, slots=True)
class TextReply:
    """The answer to a version, boot version or currency-assign request (raw DATA;
    the version is ASCII) [U]."""

    code: CommandCode
    data: bytes

    def to_bytes(self) -> bytes:
        return Frame(int(self.code), self.data).to_bytes()

    @property
    def meaning(self) -> str:
        text = self.data.decode("ascii", "replace")
        return f"{self.code.name.lower().replace('_', ' ')}: {text!r}"


Reply = Status | Ack | Echo | TextReply


_SETTINGS: dict[int, tuple[CommandCode, int]] = {
    **{int(code): (CommandCode(code), size) for code, size in SETTING_SIZES.items()},
    **{
        code - _GET_OFFSET: (CommandCode(code - _GET_OFFSET), n)
        for code, n in SETTING_SIZES.items()
    },
}
_STATUSES = {int(code): code for code in StatusCode}
_WITH_DATA = frozenset({StatusCode.ESCROW, StatusCode.REJECTING, StatusCode.FAILURE})
#: The statuses without DATA, made once (they are immutable): the hot path reuses them.
_PLAIN = {int(code): Status(code) for code in StatusCode if code not in _WITH_DATA}
_REASONS = {int(reason): reason for reason in RejectReason}
_FAILURES = {int(failure): failure for failure in FailureCode}
_ACK = Ack()


def parse_reply(frame: Frame) -> Reply:
    """A validator frame as a status, ACK, setting echo or text answer.

    Raises:
        UnknownCodeError: not a status or answer code, or an unknown reject reason or
            failure code. FramingError: wrong DATA length.
    """
    code, data = frame.code, frame.data
    status = _STATUSES.get(code)
    if status is not None:
        plain = _PLAIN.get(code)
        if plain is not None:
            if data:
                raise FramingError(
                    f"ID-003 status {status.name} carries 0 DATA bytes, got {len(data)}"
                )
            return plain
        if len(data) != 1:
            raise FramingError(f"ID-003 status {status.name} carries 1 DATA bytes, got {len(data)}")
        value = data[0]
        if status is StatusCode.ESCROW:
            return Status(status, denomination=value)
        if status is StatusCode.REJECTING:
            reason = _REASONS.get(value)
            if reason is None:
                raise UnknownCodeError(f"unknown ID-003 reject reason {value:02X}")
            return Status(status, reason=reason)
        failure = _FAILURES.get(value)
        if failure is None:
            raise UnknownCodeError(f"unknown ID-003 failure code {value:02X}")
        return Status(status, failure=failure)
    if code == CommandCode.ACK:
        if data:
            raise FramingError(f"an ID-003 ACK carries no DATA, got {len(data)} bytes")
        return _ACK
    setting = _SETTINGS.get(code)
    if setting is not None:
        command, size = setting
        if len(data) != size:
            raise FramingError(f"ID-003 setting {code:02X} echoes {size} bytes, got {len(data)}")
        return Echo(command, data)
    if code in _TEXT_CODES:
        return TextReply(CommandCode(code), data)
    raise UnknownCodeError(f"unknown ID-003 status {code:02X}")
