"""Puloon LCDM: the pick replies in one shape, and the layouts the reference leaves out.

`protocols.lcdm_replies` types the replies reference/protocols.md §3.1 gives and keeps
the others as `RawReply`. A driver and an emulator need more: every reply to a command
that moves notes (dispense, test dispense, the LCDM-4000 purge) as *per-cassette counts
plus an error byte*, and the LCDM-4000 status. This module gives them, and says where
each layout comes from:

- LCDM-1000 DISPENSE 45h, LCDM-2000 UPPER 45h / LOWER 55h: the typed `DispenseReply`
  (reference §3.1; the 2000 is [U] in the codec).
- LCDM-1000 TEST_DISPENSE 76h, LCDM-2000 UPPER/LOWER TEST 76h/77h: the same 8 bytes,
  ``CHK(2) EXIT(2) ERROR CASSETTE REJECT(2)``. [S: the PyPI ``puloon`` 0.2.1
  ``lcdm2000.py`` (reference §3.2, GH#21470887278) gives it for the 2000's test
  dispenses; for the LCDM-1000 it is [U], by analogy.]
- LCDM-2000 UPPER_LOWER 56h, 15 bytes: ``CHK_U(2) CHK_L(2) EXIT_U(2) EXIT_L(2) ERROR
  CASSETTE_U CASSETTE_L REJECT_U(2) REJECT_L(2)``. [S: the same module. It is the only
  source, and the reference warns that module has bugs (in its command building and
  digit arithmetic, not in these field lists): check against a real unit.]
- LCDM-4000 DISPENSE 52h and PURGE 51h: ``ERROR 30h (EXIT REJECT TYPE) x 4``, counts
  + 20h, TYPE 30h = cassette removed, 30h + n = cassette n present; DISPENSE adds 9
  reserved 20h bytes. No CHK count: notes that stopped inside the dispenser are not
  counted. [S: the PyPI ``puloon`` 0.2.1 ``lcdm4000.py`` (reference §3.3,
  GH#21172343734).]
- LCDM-4000 STATUS 50h, 18 bytes: ``ERROR DISP (STAT TYPE OPAC LENG) x 4``; DISP bits
  0-4 are the DVTL, DVTR, EJT, EXIT and RJT sensors ("blocked"); TYPE as above; STAT is
  kept raw (its meaning is not given), OPAC and LENG are values + 20h. [S: the same
  module.] [U] DISP is read as bits 0-4 only and sent with bit 5 set (20h + bits): the
  source gives no encoding, and a raw 03h (DVTL and DVTR blocked) would end the frame.

The LCDM-4000 TEST_DISPENSE (53h) carries quantities in that module, but the codec
sends it without DATA (reference §3.3 lists no DATA): it has no layout here.
"""

from __future__ import annotations

from dataclasses import dataclass

from protocols.errors import ProtocolError, UnknownCodeError
from protocols.lcdm import Direction, Frame, Model, build_frame
from protocols.lcdm_commands import CODES, Op
from protocols.lcdm_replies import (
    Cassette,
    DispenseReply,
    ErrorCode,
    RawReply,
    Reply,
    error_code,
)

__all__ = [
    "PICK_OPS",
    "CassetteCounts",
    "PickReply",
    "Status4000",
    "cassettes_of",
    "encode_pick",
    "encode_status_4000",
    "parse_status_4000",
    "pick_reply",
]

#: The ops whose reply is a `PickReply`, per model.
PICK_OPS: dict[Model, frozenset[Op]] = {
    Model.LCDM1000: frozenset({Op.DISPENSE, Op.TEST_DISPENSE}),
    Model.LCDM2000: frozenset(
        {
            Op.UPPER_DISPENSE,
            Op.LOWER_DISPENSE,
            Op.UPPER_LOWER_DISPENSE,
            Op.UPPER_TEST_DISPENSE,
            Op.LOWER_TEST_DISPENSE,
        }
    ),
    Model.LCDM4000: frozenset({Op.DISPENSE, Op.PURGE}),
}

_ONE_CASSETTE = {
    Op.DISPENSE: 1,
    Op.TEST_DISPENSE: 1,
    Op.UPPER_DISPENSE: 1,
    Op.UPPER_TEST_DISPENSE: 1,
    Op.LOWER_DISPENSE: 2,
    Op.LOWER_TEST_DISPENSE: 2,
}
_TYPE_REMOVED = 0x30
_RESERVED = b"\x20" * 9


def cassettes_of(model: Model, op: Op) -> tuple[int, ...]:
    """The cassettes (numbered from 1) a pick reply of ``op`` reports, in order."""
    if model is Model.LCDM4000:
        return (1, 2, 3, 4)
    if op is Op.UPPER_LOWER_DISPENSE:
        return (1, 2)
    return (_ONE_CASSETTE[op],)


@dataclass(frozen=True, slots=True)
class CassetteCounts:
    """What a pick reply says of one cassette.

    Attributes:
        cassette: its number, from 1 (upper = 1, lower = 2 on the LCDM-2000).
        check: notes counted at the CHK sensor (picked); ``None`` on the LCDM-4000,
            whose reply has no such count.
        exit: notes counted out at the EXIT sensor (handed out).
        rejects: notes diverted to the reject tray.
        near_end: the cassette's near-end status (``None``: the layout has none).
        present: the cassette is fitted (``None``: the layout does not say).
    """

    cassette: int
    check: int | None
    exit: int
    rejects: int
    near_end: bool | None = None
    present: bool | None = None

    def __post_init__(self) -> None:
        if self.check is None:  # LCDM-4000: value + 20h in one byte
            if not (0 <= self.exit <= 0xDF and 0 <= self.rejects <= 0xDF):
                raise ValueError("the LCDM-4000 counts are 0..223")
        elif not all(0 <= n <= 99 for n in (self.check, self.exit, self.rejects)):
            raise ValueError("the 1000/2000 counts are 0..99")


@dataclass(frozen=True, slots=True)
class PickReply:
    """A reply to a command that moves notes, whatever the model.

    Attributes:
        model: the dispenser model.
        op: the command answered.
        error: the ERROR byte as sent.
        cassettes: the counts of each cassette the layout reports.
    """

    model: Model
    op: Op
    error: int
    cassettes: tuple[CassetteCounts, ...]

    @property
    def error_code(self) -> ErrorCode | None:
        """The error's table entry; ``None`` for a code the model's table lacks."""
        try:
            return error_code(self.model, self.error)
        except UnknownCodeError:
            return None

    def counts(self, cassette: int) -> CassetteCounts:
        """The counts of ``cassette`` (all 0 when the reply does not report it)."""
        for entry in self.cassettes:
            if entry.cassette == cassette:
                return entry
        return CassetteCounts(cassette, 0 if self.model is not Model.LCDM4000 else None, 0, 0)


def _digits(raw: bytes) -> int:
    if len(raw) != 2 or not all(0x30 <= b <= 0x39 for b in raw):
        raise ProtocolError(f"a count is 2 ASCII digits, got {raw.hex(' ').upper()}")
    return int(raw)


def _near(byte: int) -> bool:
    if byte not in (Cassette.ENOUGH, Cassette.NEAR_END):
        raise ProtocolError(f"cassette status 0x{byte:02X} is neither 30h nor 31h")
    return byte == Cassette.NEAR_END


def _check_error(model: Model, byte: int) -> int:
    # The byte must at least look like the model's codes (20h+ / 30h+); an unknown one
    # within that is kept (`PickReply.error_code` is then None).
    low = 0x20 if model is Model.LCDM4000 else 0x30
    if not low <= byte <= 0x7F:
        raise ProtocolError(f"ERROR byte 0x{byte:02X} is out of range")
    return byte


def pick_reply(reply: Reply) -> PickReply:
    """The counts and error of a dispense / test dispense / (4000) purge reply.

    Raises:
        ProtocolError: a reply of another command, or DATA that does not fit the layout.
    """
    model, op = reply.model, reply.op
    if op not in PICK_OPS[model]:
        raise ProtocolError(f"the LCDM-{model.value} {op.value} reply moves no notes")
    if isinstance(reply, DispenseReply):
        counts = CassetteCounts(
            _ONE_CASSETTE[op],
            reply.check,
            reply.exit,
            reply.rejects,
            near_end=reply.cassette is Cassette.NEAR_END,
        )
        return PickReply(model, op, int(reply.error), (counts,))
    if not isinstance(reply, RawReply):
        raise ProtocolError(f"an unexpected {type(reply).__name__} for {op.value}")
    data = reply.data
    if model is Model.LCDM4000:
        return _parse_4000(op, data)
    if op is Op.UPPER_LOWER_DISPENSE:
        if len(data) != 15:
            raise ProtocolError(f"an upper+lower dispense reply carries 15 bytes, got {len(data)}")
        both = tuple(
            CassetteCounts(
                n + 1,
                _digits(data[2 * n : 2 * n + 2]),
                _digits(data[4 + 2 * n : 6 + 2 * n]),
                _digits(data[11 + 2 * n : 13 + 2 * n]),
                near_end=_near(data[9 + n]),
            )
            for n in (0, 1)
        )
        return PickReply(model, op, _check_error(model, data[8]), both)
    if len(data) != 8:
        raise ProtocolError(f"a test dispense reply carries 8 bytes, got {len(data)}")
    one = CassetteCounts(
        _ONE_CASSETTE[op],
        _digits(data[0:2]),
        _digits(data[2:4]),
        _digits(data[6:8]),
        near_end=_near(data[5]),
    )
    return PickReply(model, op, _check_error(model, data[4]), (one,))


def _parse_4000(op: Op, data: bytes) -> PickReply:
    size = 14 + (9 if op is Op.DISPENSE else 0)
    if len(data) != size:
        raise ProtocolError(f"an LCDM-4000 {op.value} reply carries {size} bytes, got {len(data)}")
    if op is Op.DISPENSE and data[14:] != _RESERVED:
        raise ProtocolError("an LCDM-4000 dispense reply ends with 9 bytes 20h")
    entries = []
    for n in range(4):
        exit_, rejects, kind = data[2 + 3 * n : 5 + 3 * n]
        if exit_ < 0x20 or rejects < 0x20:
            raise ProtocolError("an LCDM-4000 count is sent + 20h")
        if kind not in (_TYPE_REMOVED, 0x31 + n):
            raise ProtocolError(f"cassette {n + 1} TYPE 0x{kind:02X} is neither 30h nor 3{n + 1}h")
        entries.append(
            CassetteCounts(n + 1, None, exit_ - 0x20, rejects - 0x20, present=kind != _TYPE_REMOVED)
        )
    return PickReply(Model.LCDM4000, op, _check_error(Model.LCDM4000, data[0]), tuple(entries))


def encode_pick(reply: PickReply) -> bytes:
    """The reply frame of a `PickReply` (the emulator's side).

    Raises:
        ValueError: a count that does not fit, or cassettes that are not the op's.
    """
    model, op = reply.model, reply.op
    if op not in PICK_OPS[model]:
        raise ValueError(f"the LCDM-{model.value} {op.value} reply moves no notes")
    wanted = cassettes_of(model, op)
    if tuple(c.cassette for c in reply.cassettes) != wanted:
        raise ValueError(f"the {op.value} reply reports cassettes {wanted}")
    if model is Model.LCDM4000:
        data = bytes((reply.error, 0x30))
        for c in reply.cassettes:
            kind = 0x30 + c.cassette if c.present is not False else _TYPE_REMOVED
            data += bytes((c.exit + 0x20, c.rejects + 0x20, kind))
        if op is Op.DISPENSE:
            data += _RESERVED
    else:

        def two(n: int | None) -> bytes:
            if n is None or not 0 <= n <= 99:
                raise ValueError(f"a 1000/2000 count is 0..99, got {n!r}")
            return f"{n:02d}".encode("ascii")

        def near(c: CassetteCounts) -> int:
            return Cassette.NEAR_END if c.near_end else Cassette.ENOUGH

        cs = reply.cassettes
        data = b"".join(two(c.check) for c in cs) + b"".join(two(c.exit) for c in cs)
        data += bytes((reply.error, *(near(c) for c in cs)))
        data += b"".join(two(c.rejects) for c in cs)
    return build_frame(Direction.REPLY, model.frame_id, CODES[model][op], data)


@dataclass(frozen=True, slots=True)
class Status4000:
    """The LCDM-4000 status reply [S] (see the module header).

    Attributes:
        error: the ERROR byte.
        disp: the dispenser's sensor byte (bits 0-4: DVTL, DVTR, EJT, EXIT, RJT).
        cassettes: per cassette (1..4): (STAT, present, OPAC, LENG), STAT raw, OPAC and
            LENG as values (sent + 20h).
    """

    error: int
    disp: int
    cassettes: tuple[tuple[int, bool, int, int], ...]

    SENSOR_NAMES = ("DVTL", "DVTR", "EJT", "EXIT", "RJT")

    @property
    def sensors(self) -> dict[str, bool]:
        """Each named DISP bit (True = set: the sensor is blocked)."""
        return {name: bool(self.disp >> i & 1) for i, name in enumerate(self.SENSOR_NAMES)}


def parse_status_4000(frame: Frame) -> Status4000:
    """The LCDM-4000 status in a reply frame.

    Raises:
        ProtocolError: not a 4000 status reply, or DATA that does not fit.
    """
    if (
        frame.direction is not Direction.REPLY
        or frame.frame_id != Model.LCDM4000.frame_id
        or frame.cmd != CODES[Model.LCDM4000][Op.STATUS]
    ):
        raise ProtocolError("not an LCDM-4000 status reply")
    data = frame.data
    if len(data) != 18:
        raise ProtocolError(f"an LCDM-4000 status reply carries 18 bytes, got {len(data)}")
    entries = []
    for n in range(4):
        stat, kind, opac, leng = data[2 + 4 * n : 6 + 4 * n]
        if kind not in (_TYPE_REMOVED, 0x31 + n) or opac < 0x20 or leng < 0x20:
            raise ProtocolError(f"cassette {n + 1} of an LCDM-4000 status does not fit")
        entries.append((stat, kind != _TYPE_REMOVED, opac - 0x20, leng - 0x20))
    return Status4000(_check_error(Model.LCDM4000, data[0]), data[1] & 0x1F, tuple(entries))


def encode_status_4000(status: Status4000) -> bytes:
    """The LCDM-4000 status reply frame (the emulator's side)."""
    data = bytes((status.error, 0x20 | (status.disp & 0x1F)))
    for n, (stat, present, opac, leng) in enumerate(status.cassettes):
        data += bytes((stat, 0x31 + n if present else _TYPE_REMOVED, opac + 0x20, leng + 0x20))
    code = CODES[Model.LCDM4000][Op.STATUS]
    return build_frame(Direction.REPLY, Model.LCDM4000.frame_id, code, data)
