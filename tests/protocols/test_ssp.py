"""protocols.ssp*: golden vector #28, the CRC check value, stuffing, commands, setup,
events and payout layouts; hypothesis round trips and a fuzz of the stream decoder."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocols.errors import ChecksumError, FramingError, ProtocolError, UnknownCodeError
from protocols.ssp import (
    FRAME,
    BadFrame,
    BadFrameReason,
    Frame,
    SspStreamDecoder,
    build_frame,
    crc16,
    parse_frame,
    stuff,
    unstuff,
)
from protocols.ssp_commands import (
    Cmd,
    Setup,
    build_payout_amount,
    build_payout_by_denomination,
    build_set_inhibits,
    encode_setup,
    parse_payout_amount,
    parse_payout_by_denomination,
    parse_set_inhibits,
    parse_setup,
)
from protocols.ssp_events import (
    CHANNEL_EVENTS,
    VALUE_EVENTS,
    Ev,
    Event,
    encode_events,
    parse_events,
)

# reference/protocols.md §7 #28 (ITL GA138 packet example): sync and its OK.
SYNC = bytes.fromhex("7F 80 01 11 65 82")
SYNC_OK = bytes.fromhex("7F 80 01 F0 23 80")


def test_crc_is_crc16_cms() -> None:
    # The published check value of CRC-16/CMS (poly 8005, init FFFF, not reflected).
    assert crc16(b"123456789") == 0xAEE7
    assert crc16(b"") == 0xFFFF


def test_golden_28_decodes() -> None:
    sync = parse_frame(SYNC)
    assert (sync.seq, sync.address, sync.data) == (True, 0, bytes((Cmd.SYNC,)))
    ok = parse_frame(SYNC_OK)
    assert (ok.seq, ok.address, ok.data) == (True, 0, b"\xf0")


def test_golden_28_encodes() -> None:
    assert build_frame(True, 0, b"\x11") == SYNC
    assert Frame(True, 0, b"\xf0").to_bytes() == SYNC_OK


def test_construct_layout_matches() -> None:
    parsed = FRAME.parse(SYNC)
    assert (parsed.seq_id, parsed.length, parsed.data, parsed.crc) == (0x80, 1, b"\x11", 0x8265)
    assert FRAME.build({"seq_id": 0x80, "length": 1, "data": b"\xf0", "crc": 0x8023}) == SYNC_OK


@pytest.mark.parametrize("index", range(1, 6))
def test_any_corrupted_byte_is_refused(index: int) -> None:
    raw = bytearray(SYNC)
    raw[index] ^= 0x01
    with pytest.raises(ProtocolError):
        parse_frame(bytes(raw))
    items = SspStreamDecoder().feed(bytes(raw) + SYNC)
    assert items[-1] == parse_frame(SYNC)
    assert not any(isinstance(i, Frame) and i != parse_frame(SYNC) for i in items)


def test_bad_crc_is_a_checksum_error() -> None:
    with pytest.raises(ChecksumError):
        parse_frame(SYNC[:-1] + b"\x00")
    (item,) = SspStreamDecoder().feed(SYNC[:-1] + b"\x00")
    assert isinstance(item, BadFrame)
    assert item.reason is BadFrameReason.CRC


def test_stuffing_doubles_7f_after_the_stx() -> None:
    raw = build_frame(False, 0, b"\x7f\x01")
    assert raw.count(b"\x7f\x7f") >= 1
    assert parse_frame(raw).data == b"\x7f\x01"
    assert unstuff(stuff(b"\x7f\x00\x7f\x7f")) == b"\x7f\x00\x7f\x7f"
    with pytest.raises(FramingError):
        unstuff(b"\x00\x7f\x01")


def test_crc_is_computed_before_stuffing() -> None:
    # A CRC whose own bytes hold 7F is stuffed too: find one and check it survives.
    for n in range(2000):
        data = n.to_bytes(2, "big")
        crc = crc16(bytes((0x80, 2)) + data)
        if 0x7F in (crc & 0xFF, crc >> 8):
            raw = build_frame(True, 0, data)
            assert len(raw) == 1 + 6 + data.count(0x7F) + 1
            assert parse_frame(raw).data == data
            return
    pytest.fail("no CRC with a 7F byte found")


def test_lone_7f_restarts_the_frame() -> None:
    items = SspStreamDecoder().feed(b"\x7f\x80\x05\x01\x02" + SYNC)
    assert isinstance(items[0], BadFrame)
    assert items[0].reason is BadFrameReason.NOISE
    assert items[-1] == parse_frame(SYNC)


def test_encrypted_data_is_not_shown() -> None:
    frame = Frame(True, 0, b"\x7e" + bytes(16))
    assert frame.encrypted
    assert "00 00" not in repr(frame)


def test_setup_v6_note_values() -> None:
    setup = Setup(
        unit_type=0,
        firmware="0436",
        country="CNY",
        multiplier=1,
        values=(1, 5, 10),
        securities=(2, 2, 2),
        real_multiplier=100,
        protocol=6,
        currencies=("CNY", "CNY", "CNY"),
        expanded=(1, 5, 10),
    )
    data = encode_setup(setup)
    assert parse_setup(data) == setup
    assert setup.note_value(3) == ("CNY", 1000)
    with pytest.raises(UnknownCodeError):
        setup.note_value(4)
    with pytest.raises(FramingError):
        parse_setup(data[:10])
    with pytest.raises(FramingError):
        parse_setup(data + b"\x00")


def test_inhibits() -> None:
    data = build_set_inhibits(frozenset({1, 3, 9}))
    assert data == bytes((0x02, 0b101, 0b1))
    assert parse_set_inhibits(data) == frozenset({1, 3, 9})


def test_payout_layouts() -> None:
    data = build_payout_by_denomination({("CNY", 2000): 3})
    assert data[:2] == b"\x46\x01"
    assert data[-1] == 0x58
    assert data[2:4] == b"\x03\x00"
    assert data[4:8] == (2000).to_bytes(4, "little")
    assert parse_payout_by_denomination(data) == ({("CNY", 2000): 3}, False)
    amount = build_payout_amount("CNY", 6000, test=True)
    assert parse_payout_amount(amount) == ("CNY", 6000, True)
    with pytest.raises(FramingError):
        parse_payout_amount(amount[:-1] + b"\x00")


def test_poll_events() -> None:
    data = (
        bytes.fromhex("EF 00 EF 03 EE 03 CC 03 EB E7 DB DA 01")
        + (2000).to_bytes(4, "little")
        + b"CNY"
    )
    events = parse_events(data)
    assert [e.code for e in events] == [
        Ev.READ,
        Ev.READ,
        Ev.CREDIT,
        Ev.STACKING,
        Ev.STACKED,
        Ev.STACKER_FULL,
        Ev.NOTE_STORED_IN_PAYOUT,
        Ev.DISPENSING,
    ]
    assert events[1].channel == 3
    assert events[-1].values == ((2000, "CNY"),)
    assert encode_events(events) == data
    with pytest.raises(UnknownCodeError):
        parse_events(b"\x42")
    with pytest.raises(FramingError):
        parse_events(b"\xef")


# --- properties -------------------------------------------------------------------------

frames = st.builds(Frame, st.booleans(), st.integers(0, 127), st.binary(max_size=255))


@given(frames)
def test_frame_round_trip(frame: Frame) -> None:
    raw = frame.to_bytes()
    assert parse_frame(raw) == frame
    assert SspStreamDecoder().feed(raw) == [frame]


@given(st.lists(frames, min_size=1, max_size=5), st.data())
def test_stream_any_chunking(items: list[Frame], data: st.DataObject) -> None:
    stream = b"".join(f.to_bytes() for f in items)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=8)))
    decoder = SspStreamDecoder()
    out = []
    last = 0
    for cut in [*cuts, len(stream)]:
        out += decoder.feed(stream[last:cut])
        last = cut
    assert out == items


@given(st.binary(max_size=400))
@settings(max_examples=300)
def test_fuzz_decoder_never_raises(noise: bytes) -> None:
    decoder = SspStreamDecoder()
    items = decoder.feed(noise)
    # Whatever it makes of the noise, a good frame after it comes through (once the
    # decoder is back out of a frame the noise may have opened).
    items += decoder.feed(bytes(300) + SYNC)
    assert items[-1] == parse_frame(SYNC)


@given(frames, st.integers(0, 10_000), st.integers(0, 7))
def test_single_bit_flip_never_gives_another_frame(frame: Frame, at: int, bit: int) -> None:
    raw = bytearray(frame.to_bytes())
    index = 1 + at % (len(raw) - 1)
    raw[index] ^= 1 << bit
    for item in SspStreamDecoder().feed(bytes(raw)):
        assert not isinstance(item, Frame) or item == frame


event_st = st.one_of(
    st.builds(Event, st.sampled_from(sorted(CHANNEL_EVENTS)), st.integers(0, 255)),
    st.builds(
        Event,
        st.sampled_from(sorted(VALUE_EVENTS)),
        st.none(),
        st.lists(
            st.tuples(st.integers(0, 2**32 - 1), st.sampled_from(["CNY", "EUR", "GBP"])),
            max_size=3,
        ).map(tuple),
    ),
    st.builds(Event, st.sampled_from(sorted(set(Ev) - CHANNEL_EVENTS - VALUE_EVENTS))),
)


@given(st.lists(event_st, max_size=6))
def test_events_round_trip(events: list[Event]) -> None:
    assert parse_events(encode_events(events)) == tuple(events)


@given(
    st.dictionaries(
        st.tuples(st.sampled_from(["CNY", "EUR"]), st.integers(1, 2**32 - 1)),
        st.integers(0, 65535),
        min_size=1,
        max_size=20,
    ),
    st.booleans(),
)
@settings(max_examples=40)
def test_payout_by_denomination_round_trip(notes: dict[tuple[str, int], int], test: bool) -> None:
    assert parse_payout_by_denomination(build_payout_by_denomination(notes, test=test)) == (
        notes,
        test,
    )
