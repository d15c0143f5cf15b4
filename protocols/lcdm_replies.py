"""Puloon LCDM replies: error codes with their meanings and typed reply layouts.

Layouts (reference/protocols.md §3.1; DATA = the bytes after CMD):

- PURGE (1000/2000): ``ERROR``.
- DISPENSE (1000) and [U] UPPER/LOWER DISPENSE (2000): ``CHK(2) EXIT(2) ERROR CASSETTE
  REJECT(2)``, counts as ASCII digits; CASSETTE 30h enough notes, 31h near end.
- STATUS (1000, [U] 2000): ``30 ERROR SENSOR0 SENSOR1``; the first byte is kept as
  given (the reference shows 30h and does not name it) [U]. Both sensor bytes have bit 7
  set, which is checked.
- ROM VERSION (1000/2000): 4 ASCII characters of version ("O16T", "T20T"...) then 4 of
  checksum.
- Anything else (2000 upper+lower and test dispenses, 1000 test dispense, every LCDM-4000
  reply): `RawReply`, DATA uninterpreted [U: the reference gives no layout].
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from protocols.errors import FramingError, ProtocolError, UnknownCodeError
from protocols.lcdm import ETX, MAX_BODY, Direction, Frame, Model, build_frame
from protocols.lcdm_commands import CODES, Op, op_of

__all__ = [
    "SENSOR0_NAMES",
    "SENSOR1_NAMES",
    "Cassette",
    "DispenseReply",
    "ErrorCode",
    "ErrorCode1000",
    "ErrorCode2000",
    "ErrorCode4000",
    "PurgeReply",
    "RawReply",
    "Reply",
    "RomReply",
    "StatusReply",
    "encode_reply",
    "error_code",
    "model_from_rom",
    "parse_reply",
]


class _Meaning(IntEnum):
    """An error code whose member carries its meaning."""

    _meaning_: str

    def __new__(cls, value: int, meaning: str) -> _Meaning:
        member = int.__new__(cls, value)
        member._value_ = value
        member._meaning_ = meaning
        return member

    @property
    def meaning(self) -> str:
        """What the code means, in words."""
        return self._meaning_


class ErrorCode1000(_Meaning):
    """LCDM-1000 ERROR byte."""

    GOOD = 0x30, "good"
    NORMAL_STOP = 0x31, "normal stop"
    PICKUP_ERROR = 0x32, "pickup error"
    JAM_CHK = 0x33, "jam at CHK1/2"
    OVERFLOW_BILL = 0x34, "overflow bill"
    JAM_EXIT = 0x35, "jam at EXIT/EJT"
    JAM_DIV = 0x36, "jam at DIV"
    UNDEFINED_COMMAND = 0x37, "undefined command"
    BILL_END = 0x38, "bill end"
    NOTE_REQUEST_ERROR = 0x3B, "note request error"
    COUNT_ERROR_DIV_EJT = 0x3C, "count error DIV-EJT"
    COUNT_ERROR_EJT_EXIT = 0x3D, "count error EJT-EXIT"
    REJECT_TRAY_MISSING = 0x3F, "reject tray not recognised"
    MOTOR_STOP = 0x41, "motor stop"
    JAM_DIV_2 = 0x42, "jam at DIV"
    TIMEOUT_DIV_EJT = 0x43, "timeout DIV to EJT"
    OVER_REJECT = 0x44, "over reject"
    CASSETTE_MISSING = 0x45, "cassette not recognised"
    DISPENSING_TIMEOUT = 0x47, "dispensing timeout"
    DIVERTER_SOLENOID = 0x49, "diverter solenoid / SOL sensor"
    SOL_SENSOR = 0x4A, "SOL sensor"
    PURGE_ERROR = 0x4E, "purge error"


class ErrorCode2000(_Meaning):
    """LCDM-2000 ERROR byte: the LCDM-1000 table with the reference's additions."""

    GOOD = 0x30, "good"
    NORMAL_STOP = 0x31, "normal stop"
    PICKUP_ERROR = 0x32, "pickup error"
    JAM_CHK = 0x33, "jam at CHK1/2"
    OVERFLOW_BILL = 0x34, "overflow bill"
    JAM_EXIT = 0x35, "jam at EXIT/EJT"
    JAM_DIV = 0x36, "jam at DIV"
    UNDEFINED_COMMAND = 0x37, "undefined command"
    UPPER_BILL_END = 0x38, "upper bill end"
    NOTE_REQUEST_ERROR = 0x3B, "note request error"
    COUNT_ERROR_DIV_EJT = 0x3C, "count error DIV-EJT"
    COUNT_ERROR_EJT_EXIT = 0x3D, "count error EJT-EXIT"
    REJECT_TRAY_MISSING = 0x3F, "reject tray not recognised"
    LOWER_BILL_END = 0x40, "lower bill end"
    MOTOR_STOP = 0x41, "motor stop"
    JAM_DIV_2 = 0x42, "jam at DIV"
    TIMEOUT_DIV_EJT = 0x43, "timeout DIV to EJT"
    OVER_REJECT = 0x44, "over reject"
    UPPER_CASSETTE_MISSING = 0x45, "upper cassette not recognised"
    LOWER_CASSETTE_MISSING = 0x46, "lower cassette not recognised"
    DISPENSING_TIMEOUT = 0x47, "dispensing timeout"
    JAM_EJT = 0x48, "jam at EJT"
    DIVERTER_SOLENOID = 0x49, "diverter solenoid / SOL sensor"
    SOL_SENSOR = 0x4A, "SOL sensor"
    JAM_CHK34 = 0x4C, "jam at CHK3/4"
    PURGE_ERROR = 0x4E, "purge error"


class ErrorCode4000(_Meaning):
    """LCDM-4000 error byte (20h + n). The reference groups some codes; each gets a
    member with the group's meaning [U: the exact per-code meanings are not given]."""

    NO_ERROR = 0x20, "no error"
    PICKUP_ERROR = 0x21, "pick-up error"
    JAM_22 = 0x22, "jam between sensors"
    JAM_23 = 0x23, "jam between sensors"
    JAM_24 = 0x24, "jam between sensors"
    NOTE_IN_EXIT = 0x25, "note staying in EXIT"
    TOO_MANY_NOTES = 0x2C, "too many notes (100)"
    TOO_MANY_REJECTS = 0x2D, "too many rejects (10)"
    PURGE_ABNORMAL = 0x2E, "purge abnormal"
    TROUBLE_40 = 0x40, "sensor/solenoid/motor trouble before start"
    TROUBLE_41 = 0x41, "sensor/solenoid/motor trouble before start"
    TROUBLE_42 = 0x42, "sensor/solenoid/motor trouble before start"
    TROUBLE_43 = 0x43, "sensor/solenoid/motor trouble before start"
    NO_CASSETTE = 0x44, "no cassette"
    NEAR_END = 0x45, "near end"
    NO_REJECT_TRAY = 0x46, "no reject tray"
    COMMAND_50 = 0x50, "command/download/EEPROM error"
    COMMAND_51 = 0x51, "command/download/EEPROM error"
    COMMAND_52 = 0x52, "command/download/EEPROM error"
    COMMAND_53 = 0x53, "command/download/EEPROM error"
    COMMAND_54 = 0x54, "command/download/EEPROM error"
    COMMAND_55 = 0x55, "command/download/EEPROM error"
    COMMAND_56 = 0x56, "command/download/EEPROM error"
    WRONG_CASSETTE_60 = 0x60, "note from the wrong cassette"
    WRONG_CASSETTE_61 = 0x61, "note from the wrong cassette"
    WRONG_CASSETTE_62 = 0x62, "note from the wrong cassette"
    WRONG_CASSETTE_63 = 0x63, "note from the wrong cassette"


ErrorCode = ErrorCode1000 | ErrorCode2000 | ErrorCode4000
_ERRORS: dict[Model, type[ErrorCode1000] | type[ErrorCode2000] | type[ErrorCode4000]] = {
    Model.LCDM1000: ErrorCode1000,
    Model.LCDM2000: ErrorCode2000,
    Model.LCDM4000: ErrorCode4000,
}
_ERROR_TABLES: dict[Model, dict[int, ErrorCode]] = {
    model: {member.value: member for member in table} for model, table in _ERRORS.items()
}


def error_code(model: Model, code: int) -> ErrorCode:
    """The error of ``code`` on ``model``.

    Raises:
        UnknownCodeError: a code the model's table does not have.
    """
    try:
        return _ERROR_TABLES[model][code]
    except KeyError:
        raise UnknownCodeError(f"LCDM-{model.value} has no error code 0x{code:02X}") from None


def _check_error(model: Model, error: ErrorCode) -> None:
    if not isinstance(error, _ERRORS[model]):
        raise ValueError(f"{error!r} is not an LCDM-{model.value} error code")


class Cassette(IntEnum):
    """The cassette byte of a dispense reply."""

    ENOUGH = 0x30
    NEAR_END = 0x31


SENSOR0_NAMES = ("CHK1", "CHK2", "DIV1", "DIV2", "EJT", "EXIT", "NEAREND")
"""SENSOR0 bits 0-6 (bit 7 is always 1)."""
SENSOR1_NAMES = ("REJECT_TRAY", "CASSETTE", "SOL")
"""SENSOR1 bits 0-2 (bit 7 is always 1; bit 0 is 0 when the reject tray is present)."""

_ROM_MODELS = {"O16T": Model.LCDM1000, "O30T": Model.LCDM1000}
_ROM_MODELS.update({"T20T": Model.LCDM2000, "T30T": Model.LCDM2000})


def model_from_rom(version: str) -> Model | None:
    """The model a ROM version string names, or None for one the reference does not list."""
    return _ROM_MODELS.get(version)


def _check_model(model: Model, *allowed: Model) -> None:
    if model not in allowed:
        raise ValueError(f"this reply layout is not the LCDM-{model.value}'s")


@dataclass(frozen=True, slots=True)
class PurgeReply:
    """PURGE's reply on the LCDM-1000/2000: the ERROR byte."""

    model: Model
    error: ErrorCode

    def __post_init__(self) -> None:
        _check_model(self.model, Model.LCDM1000, Model.LCDM2000)
        _check_error(self.model, self.error)

    @property
    def op(self) -> Op:
        """The command answered."""
        return Op.PURGE

    def payload(self) -> bytes:
        """DATA."""
        return bytes((self.error,))


@dataclass(frozen=True, slots=True)
class DispenseReply:
    """A one-cassette dispense's reply (LCDM-1000 DISPENSE, [U] LCDM-2000 UPPER/LOWER).

    Attributes:
        check: notes counted at the CHK sensor (0..99).
        exit: notes counted at the EXIT sensor (0..99).
        error: the ERROR byte.
        cassette: enough notes or near end.
        rejects: notes sent to the reject tray (0..99).
    """

    model: Model
    op: Op
    check: int
    exit: int
    error: ErrorCode
    cassette: Cassette
    rejects: int

    def __post_init__(self) -> None:
        _check_model(self.model, Model.LCDM1000, Model.LCDM2000)
        if self.op not in (Op.DISPENSE, Op.UPPER_DISPENSE, Op.LOWER_DISPENSE):
            raise ValueError(f"{self.op.value} has no dispense reply")
        op_of(self.model, _code(self.model, self.op))
        _check_error(self.model, self.error)
        if not all(0 <= n <= 99 for n in (self.check, self.exit, self.rejects)):
            raise ValueError("the CHK, EXIT and reject counts are 0..99")

    def payload(self) -> bytes:
        """DATA."""
        counts = f"{self.check:02d}{self.exit:02d}".encode("ascii")
        return counts + bytes((self.error, self.cassette)) + f"{self.rejects:02d}".encode()


@dataclass(frozen=True, slots=True)
class StatusReply:
    """STATUS's reply on the LCDM-1000 ([U] and 2000).

    Attributes:
        head: the first DATA byte (30h in the reference; its meaning is not given) [U].
        error: the ERROR byte.
        sensor0, sensor1: the sensor bytes (bit 7 set).
    """

    model: Model
    head: int
    error: ErrorCode
    sensor0: int
    sensor1: int

    def __post_init__(self) -> None:
        _check_model(self.model, Model.LCDM1000, Model.LCDM2000)
        _check_error(self.model, self.error)
        if not (0x30 <= self.head <= 0x7F):
            raise ValueError(f"the status head byte is ASCII, got 0x{self.head:02X}")
        if not (0x80 <= self.sensor0 <= 0xFF and 0x80 <= self.sensor1 <= 0xFF):
            raise ValueError("SENSOR0 and SENSOR1 have bit 7 set")

    @property
    def op(self) -> Op:
        """The command answered."""
        return Op.STATUS

    @property
    def sensors(self) -> dict[str, bool]:
        """Each named sensor bit (True = bit set)."""
        bits = {n: bool(self.sensor0 >> i & 1) for i, n in enumerate(SENSOR0_NAMES)}
        bits.update({n: bool(self.sensor1 >> i & 1) for i, n in enumerate(SENSOR1_NAMES)})
        return bits

    def payload(self) -> bytes:
        """DATA."""
        return bytes((self.head, self.error, self.sensor0, self.sensor1))


@dataclass(frozen=True, slots=True)
class RomReply:
    """ROM VERSION's reply: 4 characters of version, 4 of checksum (printable ASCII)."""

    model: Model
    version: str
    checksum: str

    def __post_init__(self) -> None:
        _check_model(self.model, Model.LCDM1000, Model.LCDM2000)
        for text in (self.version, self.checksum):
            if len(text) != 4 or not all(0x20 < ord(c) < 0x7F for c in text):
                raise ValueError(f"{text!r} is not 4 printable ASCII characters")

    @property
    def op(self) -> Op:
        """The command answered."""
        return Op.ROM_VERSION

    @property
    def named_model(self) -> Model | None:
        """The model the version names (see `model_from_rom`)."""
        return model_from_rom(self.version)

    def payload(self) -> bytes:
        """DATA."""
        return (self.version + self.checksum).encode("ascii")


@dataclass(frozen=True, slots=True)
class RawReply:
    """A reply whose layout the reference does not give: its DATA, uninterpreted [U]."""

    model: Model
    op: Op
    data: bytes

    def __post_init__(self) -> None:
        _code(self.model, self.op)
        if self.model is not Model.LCDM4000 and self.op in _TYPED:
            raise ValueError(f"the {self.op.value} reply has a typed layout")
        if ETX in self.data or len(self.data) >= MAX_BODY:
            raise ValueError(f"DATA is under {MAX_BODY} bytes, none 03h")

    def payload(self) -> bytes:
        """DATA."""
        return self.data


_TYPED = {Op.PURGE, Op.DISPENSE, Op.UPPER_DISPENSE, Op.LOWER_DISPENSE, Op.STATUS, Op.ROM_VERSION}
"""The ops whose LCDM-1000/2000 replies have a typed layout (not `RawReply`)."""

Reply = PurgeReply | DispenseReply | StatusReply | RomReply | RawReply


def _code(model: Model, op: Op) -> int:
    try:
        return CODES[model][op]
    except KeyError:
        raise ValueError(f"LCDM-{model.value} has no {op.value} command") from None


def encode_reply(reply: Reply) -> bytes:
    """A reply's bytes on the wire."""
    code = _code(reply.model, reply.op)
    return build_frame(Direction.REPLY, reply.model.frame_id, code, reply.payload())


def _count(raw: bytes) -> int:
    if len(raw) != 2 or not all(0x30 <= b <= 0x39 for b in raw):
        raise ProtocolError(f"a count is 2 ASCII digits, got {raw.hex(' ').upper()}")
    return int(raw)


def parse_reply(frame: Frame, model: Model) -> Reply:
    """The typed reply in ``frame``.

    Raises:
        FramingError: a command frame, or an ID that is not ``model``'s.
        UnknownCodeError: a command or error code ``model`` does not have.
        ProtocolError: DATA that does not fit the reply.
    """
    if frame.direction is not Direction.REPLY:
        raise FramingError("a command frame (EOT), not a reply (SOH)")
    if frame.frame_id != model.frame_id:
        raise FramingError(
            f"ID 0x{frame.frame_id:02X} is not the LCDM-{model.value}'s 0x{model.frame_id:02X}"
        )
    op = op_of(model, frame.cmd)
    data = frame.data
    if model is Model.LCDM4000:
        return RawReply(model, op, data)
    if op is Op.PURGE:
        if len(data) != 1:
            raise ProtocolError(f"a purge reply carries 1 byte (ERROR), got {len(data)}")
        return PurgeReply(model, error_code(model, data[0]))
    if op in (Op.DISPENSE, Op.UPPER_DISPENSE, Op.LOWER_DISPENSE):
        if len(data) != 8:
            raise ProtocolError(f"a dispense reply carries 8 bytes, got {len(data)}")
        if data[5] not in (Cassette.ENOUGH, Cassette.NEAR_END):
            raise ProtocolError(f"cassette status 0x{data[5]:02X} is neither 30h nor 31h")
        return DispenseReply(
            model,
            op,
            check=_count(data[0:2]),
            exit=_count(data[2:4]),
            error=error_code(model, data[4]),
            cassette=Cassette(data[5]),
            rejects=_count(data[6:]),
        )
    if op is Op.STATUS:
        if len(data) != 4:
            raise ProtocolError(f"a status reply carries 4 bytes, got {len(data)}")
        if data[0] < 0x30 or data[0] > 0x7F or data[2] < 0x80 or data[3] < 0x80:
            raise ProtocolError("a status reply is 30h ERROR SENSOR0 SENSOR1 (bit 7 set)")
        return StatusReply(model, data[0], error_code(model, data[1]), data[2], data[3])
    if op is Op.ROM_VERSION:
        if len(data) != 8 or not all(0x20 < b < 0x7F for b in data):
            raise ProtocolError("a ROM reply carries 8 printable ASCII characters")
        text = data.decode("ascii")
        return RomReply(model, text[:4], text[4:])
    return RawReply(model, op, data)
