"""Tests for protocols.crt310: frames, the stream decoder, commands and replies."""

from __future__ import annotations

import contextlib
import itertools

import pytest
from hypothesis import given, settings
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
    Control,
    CpuResetReply,
    Crt310StreamDecoder,
    EntryMode,
    ErrorCode,
    ErrorReply,
    Frame,
    FrontEntry,
    IcCardType,
    Item,
    OperationStatus,
    PlainReply,
    RearEntry,
    Reply,
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


# ----------------------------------------------------------------------------- stream decoder


def test_decoder_sees_controls_frames_and_noise() -> None:
    status = bytes.fromhex(STATUS_REPLY)
    decoder = Crt310StreamDecoder()
    items = decoder.feed(b"\x06" + b"zz" + status + b"\x05\x15\x04")
    assert items == [
        Control.ACK,
        BadFrame(BadFrameReason.NOISE, b"zz"),
        parse_frame(status),
        Control.ENQ,
        Control.NAK,
        Control.EOT,
    ]
    assert decoder.pending == 0


def test_decoder_keeps_partial_frames() -> None:
    status = bytes.fromhex(STATUS_REPLY)
    decoder = Crt310StreamDecoder()
    assert decoder.feed(status[:2]) == []
    assert decoder.pending == 2
    assert decoder.pending_frame_size is None
    assert decoder.feed(status[2:6]) == []
    assert decoder.pending_frame_size == len(status)
    assert decoder.feed(status[6:]) == [parse_frame(status)]
    decoder.feed(status[:4])
    decoder.reset()
    assert decoder.pending == 0
    assert decoder.feed(status) == [parse_frame(status)]


def test_decoder_reports_bad_bcc_and_resyncs() -> None:
    good = bytes.fromhex("02 00 02 31 30 03 02")
    bad = bytes.fromhex("02 00 02 31 30 03 1F")
    items = Crt310StreamDecoder().feed(bad + good)
    assert items == [BadFrame(BadFrameReason.BCC, bad), parse_frame(good)]
    assert isinstance(items[0], BadFrame)
    assert items[0].detail == "BCC is 0x1F, expected 0x02"


def test_decoder_treats_a_huge_len_as_noise() -> None:
    good = bytes.fromhex("02 00 02 31 30 03 02")
    items = Crt310StreamDecoder().feed(b"\x02\xff\xff" + good)
    assert items == [BadFrame(BadFrameReason.NOISE, b"\x02\xff\xff"), parse_frame(good)]


def test_decoder_skips_a_false_stx_without_etx() -> None:
    good = bytes.fromhex("02 00 02 31 30 03 02")
    # 02 00 03 claims a 8-byte frame ending in "31 30 03 02" + one more byte: its ETX
    # position holds 02, so it is noise, and the real frame inside is found.
    items = Crt310StreamDecoder().feed(b"\x02\x00\x03" + good)
    assert items == [BadFrame(BadFrameReason.NOISE, b"\x02\x00\x03"), parse_frame(good)]


def test_decoder_frames_by_len_not_by_etx() -> None:
    raw = build_apdu_reply(OperationStatus.SUCCESS, bytes.fromhex("03 02 03 03 90 00"))
    assert Crt310StreamDecoder().feed(raw) == [parse_frame(raw)]


frames = st.builds(
    lambda cm, pm, data: build_frame(cm, pm, data),
    st.integers(0, 0xFF),
    st.integers(0, 0xFF),
    st.binary(max_size=MAX_DATA),
)
noise = st.binary(max_size=40).map(lambda b: b.replace(b"\x02", b""))


def chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    edges = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(edges)]


def feed_all(pieces: list[bytes]) -> tuple[list[Item], Crt310StreamDecoder]:
    decoder = Crt310StreamDecoder()
    items: list[Item] = []
    for piece in pieces:
        items += decoder.feed(piece)
        assert decoder.pending < MAX_FRAME
    return items, decoder


def merge_noise(items: list[Item]) -> list[Item]:
    merged: list[Item] = []
    for item in items:
        last = merged[-1] if merged else None
        if (
            isinstance(item, BadFrame)
            and item.reason is BadFrameReason.NOISE
            and isinstance(last, BadFrame)
            and last.reason is BadFrameReason.NOISE
        ):
            merged[-1] = BadFrame(BadFrameReason.NOISE, last.raw + item.raw)
        else:
            merged.append(item)
    return merged


def size(item: Item) -> int:
    return 1 if isinstance(item, Control) else item.wire_size


@settings(max_examples=200)
@given(noise, frames, noise, st.lists(st.integers(0, 400), max_size=8))
def test_junk_frame_junk_in_any_chunking(
    before: bytes, frame: bytes, after: bytes, cuts: list[int]
) -> None:
    stream = before + frame + after
    items, decoder = feed_all(chunked(stream, cuts))
    assert parse_frame(frame) in items
    assert sum(size(i) for i in items) + decoder.pending == len(stream)


@settings(max_examples=200)
@given(st.lists(frames | st.binary(max_size=12), max_size=6), st.lists(st.integers(0, 2000)))
def test_any_bytes_any_chunking_same_items(parts: list[bytes], cuts: list[int]) -> None:
    stream = b"".join(parts)
    whole, whole_decoder = feed_all([stream])
    pieces, piece_decoder = feed_all(chunked(stream, cuts))
    assert merge_noise(pieces) == merge_noise(whole)
    assert piece_decoder.pending == whole_decoder.pending
    assert sum(size(i) for i in whole) + whole_decoder.pending == len(stream)


# ----------------------------------------------------------------------------- round trips


@given(st.integers(0, 0xFF), st.integers(0, 0xFF), st.binary(max_size=MAX_DATA))
def test_frame_round_trip_and_construct_layout_agree(cm: int, pm: int, data: bytes) -> None:
    raw = build_frame(cm, pm, data)
    assert raw == frame_bytes(cm, pm, data)
    assert parse_frame(raw) == Frame(cm, pm, data)
    parsed = FRAME.parse(raw)
    assert (parsed.cm, parsed.pm, parsed.data, parsed.bcc) == (cm, pm, data, raw[-1])
    assert FRAME.build({"cm": cm, "pm": pm, "data": data, "bcc": raw[-1]}) == raw


def track_records(track: int, mode: TrackMode) -> st.SearchStrategy[TrackRecord]:
    low, high = (0x20, 0x5F) if track == 1 else (0x30, 0x3F)
    chars = st.binary(max_size=30).map(lambda b: bytes(low + x % (high - low + 1) for x in b))
    good = st.builds(TrackRecord, st.just(track), st.just(TrackStatus.OK), chars)
    bad = st.builds(
        lambda status, error: TrackRecord(track, status, error=error),
        st.sampled_from([TrackStatus.READ_ERROR, TrackStatus.CANNOT_READ]),
        st.sampled_from(TrackReadError),
    )
    return good | bad


@st.composite
def track_replies(draw: st.DrawFn) -> TrackReadReply:
    mode = draw(st.sampled_from(TrackMode))
    selector = draw(st.sampled_from(TrackSelector))
    records = tuple(draw(track_records(t, mode)) for t in selector.tracks)
    command = draw(st.sampled_from([Command.READ_TRACKS, Command.REREAD_TRACKS]))
    return TrackReadReply(command, mode, selector, records)


SPECIAL = {
    Command.STATUS,
    Command.SENSORS_V2,
    Command.SENSORS_V3,
    Command.CARD_TYPE,
    Command.READ_TRACKS,
    Command.REREAD_TRACKS,
    Command.CPU_COLD_RESET,
    Command.CPU_WARM_RESET,
    Command.APDU_T0,
    Command.APDU_T1,
}
success = st.sampled_from([OperationStatus.SUCCESS, OperationStatus.SUCCESS_T1])
failure = st.sampled_from(
    [OperationStatus.FAILED, OperationStatus.NO_CARD, OperationStatus.NOT_IN_POSITION]
)


@st.composite
def plain_replies(draw: st.DrawFn) -> PlainReply:
    command = draw(st.sampled_from([c for c in Command if c not in SPECIAL]))
    pm = command.pm if command.pm is not None else draw(st.integers(0, 0xFF))
    return PlainReply(command, pm, draw(st.binary(max_size=MAX_DATA)))


@st.composite
def card_types(draw: st.DrawFn) -> CardTypeReply:
    card = draw(st.sampled_from(IcCardType))
    return CardTypeReply(card, card.value[1] or draw(st.integers(0, 0xFF)))


replies: st.SearchStrategy[Reply] = st.one_of(
    st.builds(ErrorReply, st.integers(0, 0xFF), st.sampled_from(ErrorCode)),
    st.builds(
        StatusReply,
        st.sampled_from(CardPosition),
        st.sampled_from(FrontEntry),
        st.sampled_from(RearEntry),
    ),
    st.builds(
        lambda v3, flags: SensorReply(
            Command.SENSORS_V3 if v3 else Command.SENSORS_V2,
            tuple(flags[: 6 if v3 else 5]),
            flags[6],
            flags[7],
        ),
        st.booleans(),
        st.lists(st.booleans(), min_size=8, max_size=8),
    ),
    card_types(),
    track_replies(),
    st.builds(
        CpuResetReply,
        st.sampled_from([Command.CPU_COLD_RESET, Command.CPU_WARM_RESET]),
        success,
        st.binary(max_size=33),
    ),
    st.builds(
        CpuResetReply, st.sampled_from([Command.CPU_COLD_RESET, Command.CPU_WARM_RESET]), failure
    ),
    st.builds(
        ApduReply,
        st.sampled_from([Command.APDU_T0, Command.APDU_T1]),
        st.just(OperationStatus.SUCCESS),
        st.binary(max_size=257),
    ),
    st.builds(ApduReply, st.sampled_from([Command.APDU_T0, Command.APDU_T1]), failure),
    plain_replies(),
)


@given(replies)
def test_reply_round_trip(reply: Reply) -> None:
    raw = encode_reply(reply)
    frame = parse_frame(raw)
    request = None if isinstance(reply, ErrorReply) else reply.command
    assert decode_reply(frame, request) == reply
    if not (isinstance(reply, PlainReply) and reply.command is Command.SET_BAUD):
        assert decode_reply(frame) == reply
    assert encode_reply(decode_reply(frame, request)) == raw


reply_cms = st.sampled_from([0x2F, 0x30, 0x31, 0x32, 0x33, 0x37, 0x45, 0x4E, 0x49, 0x99])
structured = st.lists(
    st.sampled_from([b"Y", b"N", b"Z", b"\x00", b"\x1f", b"0", b"7", b"\xe5", b"\x00\x02", b"AB"]),
    max_size=8,
).map(b"".join)


@settings(max_examples=500)
@given(reply_cms, st.integers(0x2E, 0x3B) | st.integers(0, 0xFF), structured | st.binary())
def test_accepted_replies_rebuild_and_bad_ones_raise_protocol_errors(
    cm: int, pm: int, data: bytes
) -> None:
    raw = build_frame(cm, pm, data[:MAX_DATA])
    try:
        reply = decode_reply(parse_frame(raw))
    except ProtocolError:
        return
    assert encode_reply(reply) == raw


track_block = st.tuples(
    st.sampled_from([b"Y", b"N", b"O"]) | st.just(b"Y") | st.binary(max_size=1),
    st.binary(max_size=6).map(lambda values: values.hex().upper().encode())  # binary mode
    | st.text("0123456789;=?%^B", max_size=8).map(str.encode)  # ASCII mode
    | st.sampled_from([b"\xe0", b"\xe5"])  # error codes
    | st.binary(max_size=4),
).map(lambda parts: b"\x1f" + parts[0] + parts[1])


@st.composite
def near_track_replies(draw: st.DrawFn) -> bytes:
    """Track-read reply DATA: mode, selector, then one block per track, mostly."""
    mode = draw(st.sampled_from([0x30, 0x31]) | st.sampled_from(list(range(0x2E, 0x34))))
    selector = draw(st.sampled_from(TrackSelector))
    count = len(selector.tracks) + draw(st.sampled_from([0] * 8 + [-1, 1]))
    blocks = b"".join(draw(track_block) for _ in range(max(count, 0)))
    junk = draw(st.sampled_from([b""] * 8) | st.binary(max_size=2))
    return bytes((mode, selector)) + blocks + junk


@settings(max_examples=500)
@given(st.sampled_from([0x30, 0x31]), near_track_replies())
def test_fuzz_track_replies_in_both_modes(pm: int, data: bytes) -> None:
    # Random frames almost never get past the BCC; these reach the track decoder.
    raw = build_frame(0x45, pm, data)
    try:
        reply = decode_reply(parse_frame(raw))
    except ProtocolError:
        return
    assert encode_reply(reply) == raw


@settings(max_examples=300)
@given(st.binary(max_size=80))
def test_fuzz_frame_parsers(raw: bytes) -> None:
    for call in (parse_frame, lambda r: decode_reply(parse_frame(r)), parse_apdu_request):
        with contextlib.suppress(ProtocolError):
            call(raw)
    for parse_data in (parse_track_request, lambda d: parse_entry_control(0x33, d)):
        with contextlib.suppress(ProtocolError):
            parse_data(raw)
