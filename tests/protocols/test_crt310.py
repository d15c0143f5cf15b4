"""Tests for protocols.crt310: golden frames, commands and replies, field by field.

The stream decoder, reply round trips and fuzzing are in test_crt310_properties.py.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocols.apdu import parse_command, select_by_name
from protocols.crt310 import (
    FRAME,
    MAX_DATA,
    MAX_FRAME,
    ApduReply,
    BadFrame,
    BadFrameReason,
    CardPosition,
    CardTypeReply,
    Command,
    CpuResetReply,
    EntryMode,
    ErrorCode,
    ErrorReply,
    Frame,
    FrontEntry,
    IcCardType,
    OperationStatus,
    PlainReply,
    RearEntry,
    SensorReply,
    StatusReply,
    TrackMode,
    TrackReadError,
    TrackReadReply,
    TrackRecord,
    TrackSelector,
    TrackStatus,
    build_apdu_command,
    build_apdu_reply,
    build_blink,
    build_card_type_reply,
    build_command,
    build_cpu_reset_reply,
    build_entry_control,
    build_error_reply,
    build_frame,
    build_read_tracks,
    build_set_baud,
    build_status_reply,
    build_track_reply,
    decode_command,
    decode_reply,
    encode_reply,
    parse_apdu_request,
    parse_entry_control,
    parse_frame,
    parse_track_request,
)
from protocols.errors import ChecksumError, FramingError, ProtocolError, UnknownCodeError

PSE_SELECT = bytes.fromhex("00 A4 04 00 0E") + b"1PAY.SYS.DDF01"

# Golden frames. Source column: reference §7 row and its marking there (V = recomputed
# and matching the Creator spec, C = constructed from the layout). Every BCC is also
# recomputed below with an independent loop.
COMMAND_VECTORS = [
    ("02 00 02 30 30 03 03", Command.RESET, "reference §7 #16, V/C"),
    ("02 00 02 31 30 03 02", Command.STATUS, "reference §7 #16, V/C"),
    ("02 00 02 32 2F 03 1E", Command.MOVE_TO_IC, "reference §7 #16, V/C"),
    ("02 00 02 32 33 03 02", Command.CAPTURE, "reference §7 #16, V/C"),
    ("02 00 02 33 30 03 00", Command.IC_POWER_ON, "reference §7 #16, V/C"),
    ("02 00 02 37 30 03 04", Command.CPU_COLD_RESET, "reference §7 #16, V/C"),
    ("02 00 04 45 30 30 37 03 77", Command.READ_TRACKS, "reference §7 #16, V/C"),
    (
        "02 00 17 37 31 00 13" + PSE_SELECT.hex() + "03 CA",
        Command.APDU_T0,
        "reference §7 #18, C",
    ),
]
STATUS_REPLY = "02 00 05 31 30 4E 4A 4A 03 4B"  # reference §7 #17, C


def loop_bcc(frame_without_bcc: bytes) -> int:
    """The BCC recomputed with a plain loop, independent of protocols.checksums."""
    acc = 0
    for byte in frame_without_bcc:
        acc ^= byte
    return acc


def frame_bytes(cm: int, pm: int, data: bytes = b"") -> bytes:
    """A frame assembled by hand from the layout (not by the module under test)."""
    length = len(data) + 2
    body = bytes([0x02, length >> 8, length & 0xFF, cm, pm]) + data + b"\x03"
    return body + bytes([loop_bcc(body)])


@pytest.mark.parametrize(("hex_in", "command", "source"), COMMAND_VECTORS)
def test_command_vectors(hex_in: str, command: Command, source: str) -> None:
    raw = bytes.fromhex(hex_in)
    assert loop_bcc(raw[:-1]) == raw[-1], source
    frame = parse_frame(raw)
    assert decode_command(frame).command is command
    assert build_command(command, data=frame.data) == raw
    assert frame.to_bytes() == raw


def test_read_tracks_vector_parameters() -> None:
    frame = parse_frame(bytes.fromhex(COMMAND_VECTORS[6][0]))
    assert parse_track_request(frame.data) == (TrackMode.ASCII, TrackSelector.ALL)
    assert build_read_tracks(TrackMode.ASCII, TrackSelector.ALL) == frame.to_bytes()


def test_apdu_vector_carries_select_pse() -> None:
    raw = bytes.fromhex(COMMAND_VECTORS[7][0])
    assert build_apdu_command(select_by_name(b"1PAY.SYS.DDF01", le=None).to_bytes()) == raw
    capdu = parse_apdu_request(decode_command(parse_frame(raw)).data)
    assert parse_command(capdu) == select_by_name(b"1PAY.SYS.DDF01", le=None)


def test_status_reply_vector() -> None:
    raw = bytes.fromhex(STATUS_REPLY)
    assert loop_bcc(raw[:-1]) == raw[-1]
    expected = StatusReply(CardPosition.NO_CARD, FrontEntry.SWITCH, RearEntry.ALLOWED)
    assert decode_reply(parse_frame(raw)) == expected
    assert decode_reply(parse_frame(raw), Command.STATUS) == expected
    assert build_status_reply(*expected.__getstate__()) == raw  # type: ignore[misc]


def test_error_reply_layout() -> None:
    raw = build_error_reply(0x31, ErrorCode.BAD_PARAMETER)
    assert raw == frame_bytes(0x4E, 0x31, b"\x01")
    assert raw[:7] == bytes.fromhex("02 00 03 4E 31 01 03")
    reply = decode_reply(parse_frame(raw), Command.STATUS)
    assert reply == ErrorReply(0x31, ErrorCode.BAD_PARAMETER)
    with pytest.raises(UnknownCodeError, match="error code 0x03"):
        decode_reply(parse_frame(frame_bytes(0x4E, 0x31, b"\x03")))


@pytest.mark.parametrize(
    ("raw", "error", "message"),
    [
        ("02 00 02 30 30 03", FramingError, "at least 7"),
        ("03 00 02 30 30 03 03", FramingError, "expected STX"),
        ("02 00 01 30 30 03 03", FramingError, "LEN is 1"),
        ("02 01 0B 30 30 03 03", FramingError, "LEN is 267"),
        ("02 00 03 30 30 03 03", FramingError, "needs a 8-byte frame"),
        ("02 00 02 30 30 04 03", FramingError, "expected ETX"),
        ("02 00 02 30 30 03 04", ChecksumError, "BCC is 0x04, expected 0x03"),
    ],
)
def test_parse_frame_errors(raw: str, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        parse_frame(bytes.fromhex(raw))


def test_build_errors() -> None:
    with pytest.raises(ValueError, match="at most 264"):
        build_frame(0x37, 0x31, bytes(MAX_DATA + 1))
    with pytest.raises(ValueError, match="PM 0x30"):
        build_command(Command.STATUS, 0x31)
    with pytest.raises(ValueError, match="needs a PM"):
        build_command(0x31)
    with pytest.raises(ValueError, match="needs a PM"):
        build_command(Command.ENTRY_CONTROL)
    with pytest.raises(ValueError, match="at most 262"):
        build_apdu_command(bytes(263))
    with pytest.raises(ValueError, match="baud rate"):
        build_set_baud(115200)
    assert len(build_frame(0x37, 0x31, bytes(MAX_DATA))) == MAX_FRAME


def test_command_lookup() -> None:
    assert Command.lookup(0x2F, 0x33) is Command.ENTRY_CONTROL
    assert Command.lookup(0x45, 0x31) is Command.REREAD_TRACKS
    with pytest.raises(UnknownCodeError, match="CM 0x30 PM 0x39"):
        Command.lookup(0x30, 0x39)
    with pytest.raises(UnknownCodeError, match="CM 0x99"):
        decode_command(Frame(0x99, 0x30, b""))


def test_entry_control_and_its_inverted_reply() -> None:
    raw = build_entry_control(EntryMode.SWITCH, rear_allowed=True)
    assert raw == frame_bytes(0x2F, 0x33, b"\x30")
    request = decode_command(parse_frame(raw))
    assert parse_entry_control(request.pm, request.data) == (EntryMode.SWITCH, True)
    with pytest.raises(UnknownCodeError, match="rear-entry code 0x32"):
        parse_entry_control(0x33, b"\x32")
    ok = decode_reply(Frame(0x2F, 0x33, b"N"), Command.ENTRY_CONTROL)
    assert isinstance(ok, PlainReply)
    assert ok.succeeded is True
    failed = decode_reply(Frame(0x2F, 0x33, b"Y"))
    assert isinstance(failed, PlainReply)
    assert failed.succeeded is False
    moved = decode_reply(Frame(0x32, 0x30, b"N"))
    assert isinstance(moved, PlainReply)
    assert moved.succeeded is False
    assert PlainReply(Command.RESET, 0x30, b"V3.0").succeeded is None


def test_baud_reply_echoes_cm_33() -> None:
    assert build_set_baud(19200) == frame_bytes(0x34, 0x34)
    assert decode_reply(Frame(0x33, 0x34, b"")) == PlainReply(Command.SET_BAUD, 0x34)
    # 33 30 collides with IC power on: the request decides.
    assert decode_reply(Frame(0x33, 0x30, b"")).command is Command.IC_POWER_ON  # type: ignore[union-attr]
    assert decode_reply(Frame(0x33, 0x30, b""), Command.SET_BAUD) == PlainReply(
        Command.SET_BAUD, 0x30
    )
    assert encode_reply(PlainReply(Command.SET_BAUD, 0x30)) == frame_bytes(0x33, 0x30)


def test_reply_must_echo_the_request() -> None:
    with pytest.raises(ProtocolError, match="expected the echo of STATUS"):
        decode_reply(Frame(0x32, 0x30, b""), Command.STATUS)


def test_blink_and_parameterised_commands() -> None:
    assert build_blink(2, 4) == frame_bytes(0x49, 0x02, b"\x04")
    assert decode_command(Frame(0x2E, 0x35, b"")).command is Command.STOP_POSITION


PAN_T2 = b"4111111111111111=25121010000000000000"


def test_track_reply_ascii() -> None:
    records = [
        TrackRecord(1, TrackStatus.READ_ERROR, error=TrackReadError.BLANK),
        TrackRecord(2, TrackStatus.OK, PAN_T2),
        TrackRecord(3, TrackStatus.CANNOT_READ, error=TrackReadError.CANNOT_READ),
    ]
    raw = build_track_reply(records)
    data = b"\x30\x37\x1fN\xe5\x1fY" + PAN_T2 + b"\x1fO\xe0"
    assert raw == frame_bytes(0x45, 0x30, data)
    reply = decode_reply(parse_frame(raw), Command.READ_TRACKS)
    assert reply == TrackReadReply(
        Command.READ_TRACKS, TrackMode.ASCII, TrackSelector.ALL, tuple(records)
    )


def test_track_reply_binary_sends_values_as_hex() -> None:
    raw = build_track_reply([TrackRecord(2, TrackStatus.OK, b";41=?")], mode=TrackMode.BINARY)
    assert raw == frame_bytes(0x45, 0x30, b"\x31\x32\x1fY0B04010D0F")
    reply = decode_reply(parse_frame(raw))
    assert isinstance(reply, TrackReadReply)
    assert reply.tracks[0].data == b";41=?"
    t1 = build_track_reply([TrackRecord(1, TrackStatus.OK, b"%B^")], mode=TrackMode.BINARY)
    assert parse_frame(t1).data.endswith(b"Y05223E")


@pytest.mark.parametrize(
    ("data", "error", "message"),
    [
        (b"\x31\x32\x1fY0b04", ProtocolError, "upper-case hex"),
        (b"\x31\x32\x1fY0B0", ProtocolError, "upper-case hex"),
        (b"\x31\x32\x1fY1004", ProtocolError, "outside 0x30-0x3F"),
        # Values past a byte once the base is added (0x20 + 0xFF, 0x30 + 0xD0).
        (b"\x31\x31\x1fYFF", ProtocolError, "character 0x11F at position 0"),
        (b"\x31\x33\x1fY01D0", ProtocolError, "character 0x100 at position 1"),
        (b"\x30\x32\x1fY41A1", ProtocolError, "character 0x41 at position 2"),
        (b"\x30\x34\x1fY41", FramingError, "1 track blocks for selector T1_T2"),
        (b"\x30\x32Y\x1fY41", FramingError, "before the first 1F"),
        (b"\x30\x32\x1f", FramingError, "no status byte"),
        (b"\x30\x32\x1fN\xe5\xe5", FramingError, "expected 1"),
        (b"\x30\x32\x1fN\xe9", UnknownCodeError, "0xE9"),
        (b"\x30\x32\x1fX", UnknownCodeError, "track status 0x58"),
        (b"\x30\x38", UnknownCodeError, "track selector 0x38"),
        (b"\x30", FramingError, "at least 2"),
    ],
)
def test_track_reply_errors(data: bytes, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        decode_reply(Frame(0x45, 0x30, data))


def test_track_record_validation() -> None:
    with pytest.raises(ValueError, match="error code"):
        TrackRecord(2, TrackStatus.OK, b"1", TrackReadError.BLANK)
    with pytest.raises(ValueError, match="no data"):
        TrackRecord(2, TrackStatus.READ_ERROR, b"1", TrackReadError.BLANK)
    with pytest.raises(ValueError, match="outside"):
        TrackRecord(2, TrackStatus.OK, b"A")
    assert TrackSelector.for_tracks([3, 1]) is TrackSelector.T1_T3
    with pytest.raises(ValueError, match="no selector"):
        TrackSelector.for_tracks([4])


ATR = bytes.fromhex("3B 68 00 00 00 73 C8 40 12 00 90 00")


def test_cpu_reset_replies() -> None:
    raw = build_cpu_reset_reply(OperationStatus.SUCCESS_T1, ATR)
    assert raw == frame_bytes(0x37, 0x30, b"Z\x00\x0c" + ATR)
    assert decode_reply(parse_frame(raw)) == CpuResetReply(
        Command.CPU_COLD_RESET, OperationStatus.SUCCESS_T1, ATR
    )
    no_card = build_cpu_reset_reply(OperationStatus.NO_CARD, warm=True)
    assert no_card == frame_bytes(0x37, 0x2F, b"E")
    with pytest.raises(FramingError, match="2-byte length"):
        decode_reply(Frame(0x37, 0x30, b"Y\x00\x05" + ATR))
    with pytest.raises(FramingError, match="2-byte length"):
        decode_reply(Frame(0x37, 0x30, b"Y"))
    with pytest.raises(FramingError, match="expected 1"):
        decode_reply(Frame(0x37, 0x30, b"N\x00\x00"))
    with pytest.raises(UnknownCodeError, match="status 0x41"):
        decode_reply(Frame(0x37, 0x30, b"A"))
    with pytest.raises(FramingError, match="no status byte"):
        decode_reply(Frame(0x37, 0x30, b""))


def test_apdu_replies_keep_02_and_03_bytes() -> None:
    response = bytes.fromhex("6F 03 02 03 02 90 00")
    raw = build_apdu_reply(OperationStatus.SUCCESS, response)
    assert raw == frame_bytes(0x37, 0x31, b"Y\x00\x07" + response)
    assert decode_reply(parse_frame(raw)) == ApduReply(
        Command.APDU_T0, OperationStatus.SUCCESS, response
    )
    with pytest.raises(UnknownCodeError, match="status 0x5A"):
        decode_reply(Frame(0x37, 0x32, b"Z\x00\x00"))
    with pytest.raises(ValueError, match="carries no payload"):
        build_apdu_reply(OperationStatus.FAILED, b"\x90\x00")


def test_sensor_and_card_type_replies() -> None:
    v3 = decode_reply(Frame(0x31, 0x2E, b"01000011"))
    assert v3 == SensorReply(
        Command.SENSORS_V3, (False, True, False, False, False, False), True, True
    )
    assert encode_reply(v3) == frame_bytes(0x31, 0x2E, b"01000011")
    v2 = decode_reply(Frame(0x31, 0x2F, b"1111100"))
    assert isinstance(v2, SensorReply)
    assert len(v2.sensors) == 5
    with pytest.raises(UnknownCodeError, match="sensor value 0x32"):
        decode_reply(Frame(0x31, 0x2F, b"1111102"))
    with pytest.raises(FramingError, match="expected 8"):
        decode_reply(Frame(0x31, 0x2E, b"1111100"))
    assert decode_reply(Frame(0x31, 0x31, b"11")) == CardTypeReply(IcCardType.CPU_T1, 0x31)
    assert decode_reply(Frame(0x31, 0x31, b"27")) == CardTypeReply(IcCardType.I2C_24CXX, 0x37)
    assert build_card_type_reply(IcCardType.NO_CARD) == frame_bytes(0x31, 0x31, b"N0")
    with pytest.raises(UnknownCodeError, match="card type 0x31 0x35"):
        decode_reply(Frame(0x31, 0x31, b"15"))
    with pytest.raises(ValueError, match="variant"):
        build_card_type_reply(IcCardType.AT88)
    with pytest.raises(ValueError, match="S2"):
        encode_reply(CardTypeReply(IcCardType.CPU_T0, 0x31))


def test_reprs_hide_payloads() -> None:
    pan = b"4111111111111111"
    objects = [
        Frame(0x45, 0x30, b"07\x1fY" + pan),
        BadFrame(BadFrameReason.BCC, b"\x02" + pan),
        TrackRecord(2, TrackStatus.OK, pan),
        decode_command(parse_frame(build_apdu_command(b"\x00\x20\x00\x80\x08" + pan[:8]))),
        ApduReply(Command.APDU_T0, OperationStatus.SUCCESS, b"\x5a\x08" + pan),
        PlainReply(Command.READ_SERIAL, 0x3A, pan),
    ]
    for obj in objects:
        assert "4111" not in repr(obj)
        assert "\\x" not in repr(obj)


@given(st.integers(0, 0xFF), st.integers(0, 0xFF), st.binary(max_size=MAX_DATA))
def test_frame_round_trip_and_construct_layout_agree(cm: int, pm: int, data: bytes) -> None:
    raw = build_frame(cm, pm, data)
    assert raw == frame_bytes(cm, pm, data)
    assert parse_frame(raw) == Frame(cm, pm, data)
    parsed = FRAME.parse(raw)
    assert (parsed.cm, parsed.pm, parsed.data, parsed.bcc) == (cm, pm, data, raw[-1])
    assert FRAME.build({"cm": cm, "pm": pm, "data": data, "bcc": raw[-1]}) == raw
