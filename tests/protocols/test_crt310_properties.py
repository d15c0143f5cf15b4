"""Properties of protocols.crt310: the stream decoder in any chunking, round trips, fuzz."""

from __future__ import annotations

import contextlib
import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from protocols.crt310 import (
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
    ErrorCode,
    ErrorReply,
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
    build_apdu_reply,
    build_frame,
    decode_reply,
    encode_reply,
    parse_apdu_request,
    parse_entry_control,
    parse_frame,
    parse_track_request,
)
from protocols.errors import ProtocolError

STATUS_REPLY = "02 00 05 31 30 4E 4A 4A 03 4B"  # reference §7 #17, C


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
