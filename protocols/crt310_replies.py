"""Creator CRT-310 (protocol V3.0) card reader: replies the reader sends.

A positive reply echoes the command's CM PM, then DATA; an error reply is
``02 00 03 4E CM E 03 BCC``. ``decode_reply`` turns a reply frame into one of the
``Reply`` dataclasses and ``encode_reply`` is its inverse; the ``build_*_reply``
helpers are what the simulator's wire emulator sends.

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

Source of facts: reference/protocols.md §2.1 (Creator CRT-310 communication protocol
V3.0, 2007) and §7 vectors #16-#18.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from construct import ConstructError, GreedyBytes, Int8ub, Int16ub, Prefixed, Struct, Terminated

from protocols.crt310_commands import (
    BAUD_RATES,
    CardPosition,
    Command,
    ErrorCode,
    FrontEntry,
    IcCardType,
    OperationStatus,
    RearEntry,
    TrackMode,
    TrackReadError,
    TrackSelector,
    TrackStatus,
    _code,
    _exact_data,
    build_command,
    parse_track_request,
)
from protocols.crt310_frames import ERROR_CM, Frame, _hide, build_frame
from protocols.errors import FramingError, ProtocolError, UnknownCodeError
from protocols.tracks import charset

__all__ = [
    "ApduReply",
    "CardTypeReply",
    "CpuResetReply",
    "ErrorReply",
    "PlainReply",
    "Reply",
    "SensorReply",
    "StatusReply",
    "TrackReadReply",
    "TrackRecord",
    "build_apdu_reply",
    "build_card_type_reply",
    "build_cpu_reset_reply",
    "build_error_reply",
    "build_reply",
    "build_status_reply",
    "build_track_reply",
    "decode_reply",
    "encode_reply",
]

# DATA of the CPU-reset and APDU replies on success: P, a 2-byte length, the payload.
_STATUS_PREFIXED = Struct("status" / Int8ub, "payload" / Prefixed(Int16ub, GreedyBytes), Terminated)

_CARD_EXACT = {t.value: t for t in IcCardType if t.value[1] is not None}
_CARD_BY_S1 = {t.value[0]: t for t in IcCardType if t.value[1] is None}

# The characters each track may hold (ISO 7811): track 1 six-bit, tracks 2 and 3 BCD.
_TRACK_BASE = {track: charset(track) for track in (1, 2, 3)}


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


# ----------------------------------------------------------------------------- decoding


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
    low, high = _TRACK_BASE[track]
    values = bytes.fromhex(payload.decode("ascii"))
    for index, value in enumerate(values):
        # Checked here: a value past the track's set can also run past a byte (0x20 + 0xFF).
        if low + value > high:
            raise ProtocolError(
                f"track {track}: character 0x{low + value:02X} at position {index} "
                f"is outside 0x{low:02X}-0x{high:02X}"
            )
    return bytes(low + value for value in values)


def _status_payload(data: bytes, what: str) -> tuple[int, bytes]:
    try:
        parsed = _STATUS_PREFIXED.parse(data)
    except ConstructError as exc:
        raise FramingError(f"{what}: 2-byte length does not match the bytes after it") from exc
    return int(parsed.status), bytes(parsed.payload)


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


# ----------------------------------------------------------------------------- encoding


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


# ----------------------------------------------------------------------------- builders


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
