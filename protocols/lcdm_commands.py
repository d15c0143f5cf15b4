"""Puloon LCDM host commands: the codes of each model and typed encode/parse.

Codes overlap between models with different meanings (44h is PURGE on the LCDM-1000 and
2000 but RESET on the 4000), so a command is an `Op` plus its `Model`, and ``CODES``
maps each model's ops to its bytes. Framing is `protocols.lcdm`'s.

DATA by command (reference/protocols.md §3.1-3.3):

- LCDM-1000 DISPENSE 45h, LCDM-2000 UPPER 45h / LOWER 55h: the count as 2 ASCII digits,
  tens then units, 1..60.
- LCDM-2000 UPPER_LOWER 56h: 4 ASCII digits (upper tens/units, lower tens/units); each
  count 0..60, not both 0 [U: the reference gives no range for this command].
- LCDM-4000 DISPENSE 52h: QTY1..QTY4 each + 20h, TO1, TO2, then 9 reserved 20h bytes.
  Quantities 0..100, not all 0 [U]; TO1/TO2 kept as given, default 20h 20h [U: their
  meaning is not given].
- LCDM-4000 SET_OPACITIES 5Ah, SET_ORDER 5Ch, SET_LENGTHS 5Eh: DATA kept raw [U].
- Every other command: no DATA.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from protocols.errors import FramingError, ProtocolError, UnknownCodeError
from protocols.lcdm import ETX, MAX_BODY, Direction, Frame, Model, build_frame

__all__ = [
    "CODES",
    "MAX_COUNT",
    "MAX_COUNT_4000",
    "Command",
    "Op",
    "op_of",
    "parse_command",
]

MAX_COUNT = 60
MAX_COUNT_4000 = 100  # [U]
RESERVED_4000 = b"\x20" * 9


class Op(Enum):
    """What a command asks for (its code depends on the model: see ``CODES``)."""

    PURGE = "purge"
    DISPENSE = "dispense"
    UPPER_DISPENSE = "upper dispense"
    LOWER_DISPENSE = "lower dispense"
    UPPER_LOWER_DISPENSE = "upper + lower dispense"
    STATUS = "status"
    ROM_VERSION = "ROM version"
    TEST_DISPENSE = "test dispense"
    UPPER_TEST_DISPENSE = "upper test dispense"
    LOWER_TEST_DISPENSE = "lower test dispense"
    RESET = "reset (no reply; allow about 2 s)"
    LAST_STATUS = "last status"
    SENSOR_DIAGNOSTICS = "sensor diagnostics"
    SET_OPACITIES = "set bill opacities"
    GET_OPACITIES = "get bill opacities"
    SET_ORDER = "set dispense order"
    GET_ORDER = "get dispense order"
    SET_LENGTHS = "set bill lengths"
    GET_LENGTHS = "get bill lengths"


CODES: dict[Model, dict[Op, int]] = {
    Model.LCDM1000: {
        Op.PURGE: 0x44,
        Op.DISPENSE: 0x45,
        Op.STATUS: 0x46,
        Op.ROM_VERSION: 0x47,
        Op.TEST_DISPENSE: 0x76,
    },
    Model.LCDM2000: {
        Op.PURGE: 0x44,
        Op.UPPER_DISPENSE: 0x45,
        Op.STATUS: 0x46,
        Op.ROM_VERSION: 0x47,
        Op.LOWER_DISPENSE: 0x55,
        Op.UPPER_LOWER_DISPENSE: 0x56,
        Op.UPPER_TEST_DISPENSE: 0x76,
        Op.LOWER_TEST_DISPENSE: 0x77,
    },
    Model.LCDM4000: {
        Op.RESET: 0x44,
        Op.STATUS: 0x50,
        Op.PURGE: 0x51,
        Op.DISPENSE: 0x52,
        Op.TEST_DISPENSE: 0x53,
        Op.LAST_STATUS: 0x55,
        Op.SENSOR_DIAGNOSTICS: 0x58,
        Op.SET_OPACITIES: 0x5A,
        Op.GET_OPACITIES: 0x5B,
        Op.SET_ORDER: 0x5C,
        Op.GET_ORDER: 0x5D,
        Op.SET_LENGTHS: 0x5E,
        Op.GET_LENGTHS: 0x5F,
    },
}
_BY_CODE = {model: {code: op for op, code in ops.items()} for model, ops in CODES.items()}
_ONE_COUNT = {Op.DISPENSE, Op.UPPER_DISPENSE, Op.LOWER_DISPENSE}
_RAW_DATA = {Op.SET_OPACITIES, Op.SET_ORDER, Op.SET_LENGTHS}


def op_of(model: Model, code: int) -> Op:
    """The op of ``code`` on ``model``.

    Raises:
        UnknownCodeError: the model has no such command.
    """
    try:
        return _BY_CODE[model][code]
    except KeyError:
        raise UnknownCodeError(f"LCDM-{model.value} has no command 0x{code:02X}") from None


def _digits(count: int) -> bytes:
    return f"{count:02d}".encode("ascii")


def _undigits(raw: bytes) -> int:
    if len(raw) != 2 or not all(0x30 <= b <= 0x39 for b in raw):
        raise ProtocolError(f"a count is 2 ASCII digits, got {raw.hex(' ').upper()}")
    return int(raw)


@dataclass(frozen=True, slots=True)
class Command:
    """One host command, typed.

    Attributes:
        model: the dispenser model.
        op: what it asks for; must be one of ``CODES[model]``.
        counts: notes per cassette for the dispense commands (1 value for a one-cassette
            dispense, 2 for UPPER_LOWER, 4 for the LCDM-4000), empty otherwise.
        to: the LCDM-4000 dispense's TO1 TO2 bytes [U].
        data: the raw DATA of the LCDM-4000 set commands [U].
    """

    model: Model
    op: Op
    counts: tuple[int, ...] = ()
    to: bytes = b"\x20\x20"
    data: bytes = b""

    def __post_init__(self) -> None:
        if self.op not in CODES[self.model]:
            raise ValueError(f"LCDM-{self.model.value} has no {self.op.value} command")
        if self.op in _ONE_COUNT and self.model is not Model.LCDM4000:
            self._check_counts(1, 1, MAX_COUNT)
        elif self.op is Op.UPPER_LOWER_DISPENSE:
            self._check_counts(2, 0, MAX_COUNT)
        elif self.op is Op.DISPENSE:
            self._check_counts(4, 0, MAX_COUNT_4000)
            if len(self.to) != 2 or ETX in self.to:
                raise ValueError("TO1 TO2 is 2 bytes, neither 03h")
        elif self.counts:
            raise ValueError(f"{self.op.value} takes no counts")
        if self.data and self.op not in _RAW_DATA:
            raise ValueError(f"{self.op.value} takes no DATA")
        if ETX in self.data or len(self.data) >= MAX_BODY:
            raise ValueError(f"DATA is under {MAX_BODY} bytes, none 03h")
        four = self.op is Op.DISPENSE and self.model is Model.LCDM4000
        if not four and self.to != b"\x20\x20":
            raise ValueError("TO1 TO2 belong to the LCDM-4000 dispense only")

    def _check_counts(self, number: int, low: int, high: int) -> None:
        if len(self.counts) != number:
            raise ValueError(f"{self.op.value} takes {number} counts, got {len(self.counts)}")
        if not all(low <= count <= high for count in self.counts):
            raise ValueError(f"counts are {low}..{high}, got {self.counts}")
        if not any(self.counts):
            raise ValueError("at least one note must be asked for")

    @property
    def code(self) -> int:
        """The command byte."""
        return CODES[self.model][self.op]

    def payload(self) -> bytes:
        """DATA: the bytes between CMD and ETX."""
        if self.op is Op.DISPENSE and self.model is Model.LCDM4000:
            return bytes(c + 0x20 for c in self.counts) + self.to + RESERVED_4000
        return b"".join(_digits(c) for c in self.counts) + self.data

    def frame(self) -> Frame:
        """The command as a frame."""
        return Frame(Direction.COMMAND, self.model.frame_id, self.code, self.payload())

    def encode(self) -> bytes:
        """The command's bytes on the wire."""
        return build_frame(Direction.COMMAND, self.model.frame_id, self.code, self.payload())


def parse_command(frame: Frame, model: Model) -> Command:
    """The typed command in ``frame``.

    Raises:
        FramingError: a reply frame, or an ID that is not ``model``'s.
        UnknownCodeError: a command code ``model`` does not have.
        ProtocolError: DATA that does not fit the command.
    """
    if frame.direction is not Direction.COMMAND:
        raise FramingError("a reply frame (SOH), not a command (EOT)")
    if frame.frame_id != model.frame_id:
        raise FramingError(
            f"ID 0x{frame.frame_id:02X} is not the LCDM-{model.value}'s 0x{model.frame_id:02X}"
        )
    op = op_of(model, frame.cmd)
    data = frame.data
    try:
        if op is Op.DISPENSE and model is Model.LCDM4000:
            if len(data) != 15 or data[6:] != RESERVED_4000:
                raise ProtocolError(
                    "an LCDM-4000 dispense carries QTY1..4, TO1, TO2 and 9 bytes 20h"
                )
            if any(b < 0x20 for b in data[:4]):
                raise ProtocolError("an LCDM-4000 quantity is sent + 20h")
            counts = tuple(b - 0x20 for b in data[:4])
            return Command(model, op, counts, to=bytes(data[4:6]))
        if op in _ONE_COUNT or op is Op.UPPER_LOWER_DISPENSE:
            width = 4 if op is Op.UPPER_LOWER_DISPENSE else 2
            if len(data) != width:
                raise ProtocolError(f"{op.value} carries {width} ASCII digits, got {len(data)}")
            return Command(
                model, op, tuple(_undigits(data[i : i + 2]) for i in (0, 2)[: width // 2])
            )
        if op in _RAW_DATA:
            return Command(model, op, data=data)
        if data:
            raise ProtocolError(f"{op.value} carries no DATA, got {len(data)} bytes")
        return Command(model, op)
    except ValueError as exc:  # a count out of range
        raise ProtocolError(str(exc)) from None
