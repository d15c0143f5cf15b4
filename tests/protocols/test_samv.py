"""SAM_V frames (protocols.samv): every golden frame of reference §1.10 and §7 #1-#14,
checksums recomputed here with a plain loop, framing and checksum errors, the reply
bodies, the stream decoder (resync, the AA 00 quirk, bounded buffer, counters) and
properties: parse(build(x)) == x, junk + frame + junk in any chunking yields the frame,
feed never raises.

Provenance of each golden frame, as the reference marks it: "published" = [V] in the
reference (recomputed there and matching a published capture or two sources);
"constructed" = [C] (built from the documented layout, no capture).
"""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocols.cn_id import validate_id_number
from protocols.errors import ChecksumError, FramingError, ProtocolError
from protocols.samv import (
    FRAME,
    HEADER,
    MAX_LEN,
    PREAMBLE,
    BaseMessage,
    Command,
    CommandFrame,
    ReplyFrame,
    SamvDecoder,
    Sw3,
    build_command,
    build_reply,
    direction_of,
    parse_base_message,
    parse_command,
    parse_newest_address,
    parse_reply,
    sam_id_string,
    xor,
)
from protocols.samv_text import (
    ETHNICITIES,
    SEX_CODES,
    ResidentText,
    build_text_block,
    parse_text_block,
)


def h(text: str) -> bytes:
    return bytes.fromhex(text)


def loop_chk(frame: bytes) -> int:
    """CHK by the reference's definition, independently of the codec: XOR of every byte
    after the 5-byte preamble except CHK."""
    value = 0
    for byte in frame[5:-1]:
        value = value ^ byte
    return value


# (frame, what it is, provenance, reference)
GOLDEN_COMMANDS = [
    ("AA AA AA 96 69 00 03 10 FF EC", Command.RESET_SAM, "published", "§1.10"),
    ("AA AA AA 96 69 00 03 11 FF ED", Command.SAM_STATUS, "published", "§1.10, §7 #9"),
    ("AA AA AA 96 69 00 03 12 FF EE", Command.READ_SAM_ID, "published", "§1.10, §7 #10"),
    ("AA AA AA 96 69 00 03 20 01 22", Command.FIND_CARD, "published", "§1.10, §7 #1"),
    ("AA AA AA 96 69 00 03 20 02 21", Command.SELECT_CARD, "published", "§1.10"),
    ("AA AA AA 96 69 00 03 30 01 32", Command.READ_BASE, "published", "§1.10, §7 #7"),
    ("AA AA AA 96 69 00 03 30 03 30", Command.READ_NEWEST_ADDRESS, "published", "§1.10"),
    ("AA AA AA 96 69 00 03 30 10 23", Command.READ_BASE_FINGERPRINT, "published", "§1.10, §7 #8"),
]
GOLDEN_REPLIES = [
    ("AA AA AA 96 69 00 04 00 00 90 94", Sw3.SUCCESS, b"", "published", "§1.10, §7 #9"),
    (
        "AA AA AA 96 69 00 08 00 00 9F 00 00 00 00 97",
        Sw3.CARD_FOUND,
        bytes(4),
        "published",
        "§1.10, §7 #2",
    ),
    ("AA AA AA 96 69 00 04 00 00 80 84", Sw3.NO_CARD, b"", "published", "§1.10, §7 #3"),
    ("AA AA AA 96 69 00 04 00 00 81 85", Sw3.SELECT_FAILED, b"", "published", "§1.10, §7 #5"),
    ("AA AA AA 96 69 00 04 00 00 41 45", Sw3.READ_FAILED, b"", "published", "§1.10, §7 #4"),
    (
        "AA AA AA 96 69 00 0C 00 00 90 00 00 00 00 00 00 00 00 9C",
        Sw3.SUCCESS,
        bytes(8),
        "published",
        "§1.10, §7 #6",
    ),
]


@pytest.mark.parametrize(("frame", "command", "provenance", "ref"), GOLDEN_COMMANDS)
def test_golden_commands(frame: str, command: Command, provenance: str, ref: str) -> None:
    raw = h(frame)
    assert provenance == "published", ref
    assert loop_chk(raw) == raw[-1]
    assert raw[5:7] == (len(raw) - HEADER).to_bytes(2, "big")
    parsed = parse_command(raw)
    assert parsed == CommandFrame(command.cmd, command.para)
    assert parsed.command is command
    assert build_command(command.cmd, command.para) == raw
    assert command.frame() == raw
    assert direction_of(raw) == "command"


@pytest.mark.parametrize(("frame", "sw3", "data", "provenance", "ref"), GOLDEN_REPLIES)
def test_golden_replies(frame: str, sw3: Sw3, data: bytes, provenance: str, ref: str) -> None:
    raw = h(frame)
    assert provenance == "published", ref
    assert loop_chk(raw) == raw[-1]
    parsed = parse_reply(raw)
    assert parsed == ReplyFrame(sw3, data)
    assert parsed.status is sw3
    assert (parsed.sw1, parsed.sw2) == (0, 0)
    assert build_reply(sw3, data) == raw
    assert direction_of(raw) == "reply"


def _base_reply(fingerprint: bytes | None) -> bytes:
    text = build_text_block(ResidentText(name="张三", sex="1", ethnicity="01"))
    photo = bytes(range(256)) * 4
    return build_reply(Sw3.SUCCESS, BaseMessage(text, photo, fingerprint).to_data())


def test_golden_base_message_header() -> None:
    # §1.10 / §7 #11 [published: length arithmetic]: 1295 bytes, LEN 05 08.
    raw = _base_reply(None)
    assert len(raw) == 1295
    assert raw[:14] == h("AA AA AA 96 69 05 08 00 00 90 01 00 04 00")
    assert loop_chk(raw) == raw[-1]
    reply = parse_reply(raw)
    body = parse_base_message(reply.data, fingerprint=False)
    assert (len(body.text), len(body.photo), body.fingerprint) == (256, 1024, None)
    assert body.text == raw[14 : 14 + 256]
    assert body.photo == raw[14 + 256 : -1]


def test_golden_fingerprint_header() -> None:
    # §1.10 / §7 #12 [published: length arithmetic]: 2321 bytes, LEN 09 0A.
    prints = bytes([0x41, 1, 0, 0, 0, 11]) + bytes(506) + bytes([0x41, 1, 0, 0, 0, 16]) + bytes(506)
    raw = _base_reply(prints)
    assert len(raw) == 2321
    assert raw[:16] == h("AA AA AA 96 69 09 0A 00 00 90 01 00 04 00 04 00")
    assert loop_chk(raw) == raw[-1]
    body = parse_base_message(parse_reply(raw).data, fingerprint=True)
    assert body.fingerprint == prints
    # §1.5 [published: arithmetic]: a card without fingerprint: length 00 00, LEN 05 0A.
    none = _base_reply(b"")
    assert len(none) == 1297
    assert none[5:7] == h("05 0A")
    assert none[14:16] == h("00 00")
    assert parse_base_message(parse_reply(none).data, fingerprint=True).fingerprint == b""


def test_golden_text_block_and_check_digit_vectors() -> None:
    # §7 #13 [constructed]: text-block bytes 30..35 = 31 00 30 00 31 00.
    text = bytearray(b" \x00" * 128)
    text[30:36] = h("31 00 30 00 31 00")
    body = parse_base_message(BaseMessage(bytes(text), bytes(1024)).to_data(), fingerprint=False)
    block = parse_text_block(body.text)
    assert isinstance(block, ResidentText)
    assert SEX_CODES[block.sex] == "male"
    assert ETHNICITIES[block.ethnicity] == "汉"
    # §7 #14 [published]: 110105194912310021 is invalid.
    assert not validate_id_number("110105194912310021").ok


def test_construct_layout_agrees() -> None:
    for frame, *_ in GOLDEN_COMMANDS + [(r[0],) for r in GOLDEN_REPLIES]:
        raw = h(frame)
        parsed = FRAME.parse(raw)
        assert parsed.length == len(raw) - HEADER
        assert parsed.chk == raw[-1:]
        assert FRAME.build(parsed) == raw


@pytest.mark.parametrize(
    ("frame", "error", "message"),
    [
        ("AA AA AA 96 69 00 03 20 01 23", ChecksumError, "CHK is 23, the XOR of LEN..DATA is 22"),
        ("AA AA AA 96 69 00 04 20 01 22", FramingError, "truncated: LEN says 4 bytes after it"),
        ("AA AA AA 96 69 00 03 20 01 22 00", FramingError, "too long: LEN says 3 bytes after"),
        ("AA AA AB 96 69 00 03 20 01 22", FramingError, "starts with AA AA AA 96 69, got AA AA AB"),
        ("AA AA AA 96 69 00 02 20 22", FramingError, "LEN 2 is below a command's minimum 3"),
        ("AA AA AA 96 69 00", FramingError, "truncated in LEN"),
        ("AA AA", FramingError, "at least 10 bytes, got 2"),
    ],
)  # fmt: skip
def test_command_errors_say_what_was_expected_and_what_came(
    frame: str, error: type[ProtocolError], message: str
) -> None:
    with pytest.raises(error, match=message):
        parse_command(h(frame))


def test_reply_minimum() -> None:
    with pytest.raises(FramingError, match="below a reply's minimum 4"):
        parse_reply(h("AA AA AA 96 69 00 03 20 01 22"))


def test_builders_refuse_bad_values() -> None:
    with pytest.raises(ValueError, match="CMD is one byte"):
        build_command(0x100, 1)
    with pytest.raises(ValueError, match="SW3 is one byte"):
        build_reply(-1)
    with pytest.raises(ValueError, match="LEN is two bytes"):
        build_reply(0x90, bytes(0xFFFF))


def test_unknown_codes_parse_with_no_name() -> None:
    vendor = parse_command(build_command(0x60, 0x03))
    assert vendor.command is None
    assert repr(vendor) == "CommandFrame(60 03)"
    odd = parse_reply(build_reply(0x55))
    assert odd.status is None
    assert odd.meaning == "unknown result 55"


def test_reprs_show_lengths_not_data() -> None:
    reply = parse_reply(_base_reply(None))
    assert repr(reply) == "ReplyFrame(SUCCESS, <1284 data bytes>)"
    body = parse_base_message(reply.data, fingerprint=False)
    assert repr(body) == "BaseMessage(<text 256, photo 1024, fingerprint not asked bytes>)"


@pytest.mark.parametrize(
    ("data", "fingerprint", "message"),
    [
        (b"\x01", False, "two-byte lengths, got 1 bytes"),
        (h("0101 0400") + bytes(1281), False, "text length 257, expected 256"),
        (h("0100 0300") + bytes(1024), False, "photo length 768, expected 1024"),
        (h("0100 0400 0200") + bytes(1792), True, "fingerprint length 512, expected 1024 or 0"),
        (h("0100 0400") + bytes(1279), False, "add up to 1284 bytes, the DATA has 1283"),
    ],
)
def test_base_message_errors(data: bytes, fingerprint: bool, message: str) -> None:
    with pytest.raises(ProtocolError, match=message):
        parse_base_message(data, fingerprint=fingerprint)


def test_newest_address_and_sam_id() -> None:
    address = "北京市东城区某某街2号".encode("utf-16-le").ljust(70, b"\x00")
    reply = parse_reply(build_reply(Sw3.SUCCESS, address))
    assert parse_newest_address(reply.data) == "北京市东城区某某街2号"
    with pytest.raises(ProtocolError, match="70 bytes, got 68"):
        parse_newest_address(address[:68])
    sam = (
        bytes([0x05, 0x00, 0x01, 0x00])
        + (20110708).to_bytes(4, "little")
        + (12345678).to_bytes(4, "little")
        + (1234567890).to_bytes(4, "little")
    )
    reply = parse_reply(build_reply(Sw3.SUCCESS, sam))
    assert reply.to_bytes()[5:7] == h("00 14")  # §1.5: LEN 00 14
    assert sam_id_string(reply.data) == "05.01-20110708-0012345678-1234567890"
    with pytest.raises(ProtocolError, match="16 bytes, got 15"):
        sam_id_string(sam[:15])


# --- the stream decoder ---------------------------------------------------------------


def test_decoder_golden_stream_byte_by_byte() -> None:
    stream = b"".join(h(r[0]) for r in GOLDEN_REPLIES) + _base_reply(b"")
    decoder = SamvDecoder("reply")
    frames = [f for byte in stream for f in decoder.feed(bytes([byte]))]
    assert [f.status for f in frames] == [r[1] for r in GOLDEN_REPLIES] + [Sw3.SUCCESS]
    assert (decoder.skipped, decoder.quirks, decoder.bad_frames, decoder.pending) == (0, 0, 0, 0)
    commands = SamvDecoder("command").feed(b"".join(h(c[0]) for c in GOLDEN_COMMANDS))
    assert [c.command for c in commands] == [c[1] for c in GOLDEN_COMMANDS]


def test_decoder_tolerates_the_aa00_quirk() -> None:
    decoder = SamvDecoder()
    select = h(GOLDEN_REPLIES[5][0])
    assert decoder.feed(b"\xaa\x00" + select) == [ReplyFrame(Sw3.SUCCESS, bytes(8))]
    assert (decoder.quirks, decoder.skipped) == (1, 0)
    # The form one project logged, with its first AA gone after the AA 00.
    assert decoder.feed(b"\xaa\x00" + select[1:]) == [ReplyFrame(Sw3.SUCCESS, bytes(8))]
    assert (decoder.quirks, decoder.skipped) == (2, 0)


def test_decoder_skips_a_bad_frame_and_finds_the_next() -> None:
    good = h("AA AA AA 96 69 00 04 00 00 90 94")
    bad_chk = h("AA AA AA 96 69 00 04 00 00 90 95")
    false_start = h("AA AA AA 96 69 00 05 01 02")  # LEN 5 swallows part of what follows
    huge = PREAMBLE + (MAX_LEN + 1).to_bytes(2, "big")
    decoder = SamvDecoder()
    frames = decoder.feed(bad_chk + false_start + good + huge + good)
    assert frames == [ReplyFrame(Sw3.SUCCESS)] * 2
    assert decoder.bad_frames == 3
    assert decoder.pending == 0


def test_decoder_buffer_is_bounded() -> None:
    decoder = SamvDecoder()
    for _ in range(100):
        decoder.feed(bytes(range(0x00, 0x90)) * 8)
        assert decoder.pending <= 6
    decoder.feed(PREAMBLE + MAX_LEN.to_bytes(2, "big") + bytes(MAX_LEN - 1))
    assert decoder.pending == HEADER + MAX_LEN - 1
    decoder.feed(b"\x00")  # completes a frame with a bad CHK: dropped, then rescanned
    assert decoder.pending <= HEADER + MAX_LEN
    assert decoder.bad_frames == 1
    decoder.reset()
    assert decoder.pending == 0


def test_xor_matches_the_loop() -> None:
    for size in (0, 1, 2, 3, 7, 8, 255, 1288, 2314):
        data = bytes((i * 37 + size) & 0xFF for i in range(size))
        assert xor(data) == loop_chk(b"\x00" * 5 + data + b"\x00")


# --- properties -----------------------------------------------------------------------

commands = st.builds(
    CommandFrame, st.integers(1, 0xFF), st.integers(0, 0xFF), st.binary(max_size=40)
)
replies = st.builds(
    ReplyFrame,
    st.integers(0, 0xFF),
    st.binary(max_size=40) | st.binary(min_size=1280, max_size=1300),
    st.just(0),
    st.integers(0, 0xFF),
)
# Junk that cannot hold or end in part of a preamble (no AA, no 96).
junk = st.binary(max_size=30).map(lambda b: bytes(x for x in b if x not in (0xAA, 0x96)))


@given(commands)
def test_command_round_trip(frame: CommandFrame) -> None:
    raw = frame.to_bytes()
    assert loop_chk(raw) == raw[-1]
    assert parse_command(raw) == frame
    assert direction_of(raw) == "command"


@given(replies)
def test_reply_round_trip(frame: ReplyFrame) -> None:
    raw = frame.to_bytes()
    assert loop_chk(raw) == raw[-1]
    assert parse_reply(raw) == frame


@given(junk, replies, junk, st.lists(st.integers(1, 64), min_size=1, max_size=50))
def test_decoder_finds_the_frame_in_junk_in_any_chunking(
    before: bytes, frame: ReplyFrame, after: bytes, cuts: list[int]
) -> None:
    stream = before + frame.to_bytes() + after
    decoder = SamvDecoder()
    found: list[CommandFrame | ReplyFrame] = []
    position = 0
    index = 0
    while position < len(stream):
        size = cuts[index % len(cuts)]
        found += decoder.feed(stream[position : position + size])
        position += size
        index += 1
    assert found == [frame]
    assert decoder.skipped + decoder.pending == len(before) + len(after)
    assert decoder.bad_frames == 0


@given(
    st.lists(
        st.binary(max_size=64)
        | st.sampled_from([PREAMBLE, b"\xaa\x00", PREAMBLE + b"\x00", PREAMBLE + b"\xff\xff"])
        | replies.map(ReplyFrame.to_bytes),
        max_size=20,
    ),
    st.sampled_from(["reply", "command"]),
)
def test_feed_never_raises_and_stays_bounded(chunks: list[bytes], direction: str) -> None:
    decoder = SamvDecoder(direction)
    for chunk in chunks:
        for frame in decoder.feed(chunk):
            assert isinstance(frame, CommandFrame | ReplyFrame)
        assert decoder.pending <= HEADER + MAX_LEN


@given(st.binary(max_size=2400))
def test_parsers_raise_only_protocol_error(raw: bytes) -> None:
    for parse in (parse_command, parse_reply, sam_id_string, parse_newest_address):
        with contextlib.suppress(ProtocolError):
            parse(raw)
    for fingerprint in (False, True):
        with contextlib.suppress(ProtocolError):
            parse_base_message(raw, fingerprint=fingerprint)
