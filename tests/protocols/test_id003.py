"""JCM ID-003 codec: the golden vectors of reference/protocols.md §7 #26-#27 (decode and
encode, both directions where a code has two meanings), the CRC's published check
value, corrupted frames refused with typed errors, construct agreeing with the hot
path, hypothesis round trips, and a fuzz test (random bytes raise only ProtocolError).
"""

from __future__ import annotations

import binascii
import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocols.errors import ChecksumError, FramingError, ProtocolError, UnknownCodeError
from protocols.id003 import (
    FRAME,
    BadFrame,
    BadFrameReason,
    Frame,
    Id003StreamDecoder,
    build_frame,
    crc16_kermit,
    parse_frame,
)
from protocols.id003_messages import (
    Ack,
    Command,
    CommandCode,
    Echo,
    FailureCode,
    RejectReason,
    Status,
    StatusCode,
    denomination_mask,
    enabled_denominations,
    parse_command,
    parse_reply,
)


def h(text: str) -> bytes:
    return bytes.fromhex(text)


# --- golden vectors (§7 #26, #27) ---------------------------------------------------------

#: (wire bytes, the host command they are, the validator reply they are)
GOLDEN_26 = [
    ("FC 05 11 27 56", Command(CommandCode.STATUS_REQUEST), Status(StatusCode.IDLING)),
    ("FC 05 50 AA 05", Command(CommandCode.ACK), Ack()),
    ("FC 05 40 2B 15", Command(CommandCode.RESET), Status(StatusCode.POWER_UP)),
    (
        "FC 05 41 A2 04",
        Command(CommandCode.STACK_1),
        Status(StatusCode.POWER_UP_BILL_IN_ACCEPTOR),
    ),
    ("FC 05 43 B0 27", Command(CommandCode.RETURN), Status(StatusCode.STACKER_FULL)),
    ("FC 06 C3 00 04 D6", Command.inhibit(False), Echo(CommandCode.SET_INHIBIT, b"\x00")),
    ("FC 06 C3 01 8D C7", Command.inhibit(True), Echo(CommandCode.SET_INHIBIT, b"\x01")),
]

GOLDEN_27 = [
    ("FC 06 13 61 B0 FB", Status(StatusCode.ESCROW, denomination=0x61)),
    ("FC 05 15 03 10", Status(StatusCode.VEND_VALID)),
    ("FC 05 16 98 22", Status(StatusCode.STACKED)),
    ("FC 06 17 71 51 8C", Status(StatusCode.REJECTING, reason=RejectReason.INSERTION)),
    ("FC 05 1A F4 E8", Status(StatusCode.DISABLED)),
]


def test_crc_check_value() -> None:
    # The CRC catalogue's check value of CRC-16/KERMIT.
    assert crc16_kermit(b"123456789") == 0x2189
    assert crc16_kermit(b"") == 0
    # Running over two halves gives the same as over the whole.
    assert crc16_kermit(b"56789", crc16_kermit(b"1234")) == 0x2189


def test_crc_against_bitwise_definition() -> None:
    def bitwise(data: bytes) -> int:
        crc = 0
        for byte in data:
            crc ^= byte
            for _ in range(8):
                crc = (crc >> 1) ^ 0x8408 if crc & 1 else crc >> 1
        return crc

    for data in (b"\xfc\x05\x11", b"\x00" * 7, bytes(range(256))):
        assert crc16_kermit(data) == bitwise(data)


def _reflect(value: int, bits: int) -> int:
    return int(f"{value:0{bits}b}"[::-1], 2)


@given(st.binary(max_size=64))
def test_crc_against_the_standard_library(data: bytes) -> None:
    # binascii.crc_hqx is CRC-16/XMODEM (1021h, init 0, not reflected); KERMIT is the
    # same CRC with every input byte and the result bit-reflected.
    mirrored = bytes(_reflect(byte, 8) for byte in data)
    assert crc16_kermit(data) == _reflect(binascii.crc_hqx(mirrored, 0), 16)


@pytest.mark.parametrize(("wire", "command", "reply"), GOLDEN_26)
def test_golden_26_both_directions(wire: str, command: Command, reply: object) -> None:
    raw = h(wire)
    frame = parse_frame(raw)
    assert parse_command(frame) == command
    assert parse_reply(frame) == reply
    assert command.to_bytes() == raw
    assert reply.to_bytes() == raw  # type: ignore[attr-defined]


@pytest.mark.parametrize(("wire", "status"), GOLDEN_27)
def test_golden_27_statuses(wire: str, status: Status) -> None:
    raw = h(wire)
    assert parse_reply(parse_frame(raw)) == status
    assert status.to_bytes() == raw
    assert build_frame(status.code, status.data) == raw


def test_lng_counts_the_whole_frame() -> None:
    raw = build_frame(0xC0, b"\x00\x00")
    assert raw[1] == len(raw) == 7


def test_construct_layout_agrees() -> None:
    for wire, *_ in GOLDEN_26 + GOLDEN_27:
        raw = h(wire)
        parsed = FRAME.parse(raw)
        frame = parse_frame(raw)
        assert (parsed.code, parsed.data) == (frame.code, frame.data)
        assert parsed.crc == crc16_kermit(raw[:-2])
        built = FRAME.build(
            {"length": len(raw), "code": frame.code, "data": frame.data, "crc": parsed.crc}
        )
        assert built == raw


# --- corrupted frames -----------------------------------------------------------------------


def test_bad_crc_is_a_checksum_error() -> None:
    raw = bytearray(h("FC 06 13 61 B0 FB"))
    raw[-1] ^= 0x01
    with pytest.raises(ChecksumError, match="CRC"):
        parse_frame(bytes(raw))
    raw = bytearray(h("FC 06 13 61 B0 FB"))
    raw[3] = 0x62  # another denomination under the old CRC
    with pytest.raises(ChecksumError):
        parse_frame(bytes(raw))


@pytest.mark.parametrize(
    ("wire", "match"),
    [
        ("FC 05 11 27", "at least 5"),
        ("FD 05 11 27 56", "starts with FC"),
        ("FC 04 11 27 56", "minimum"),
        ("FC 06 11 27 56", "truncated"),
        ("FC 05 11 27 56 00", "too long"),
    ],
)
def test_framing_errors(wire: str, match: str) -> None:
    with pytest.raises(FramingError, match=match):
        parse_frame(h(wire))


def test_unknown_codes_and_wrong_data() -> None:
    with pytest.raises(UnknownCodeError, match="status 20"):
        parse_reply(Frame(0x20))
    with pytest.raises(UnknownCodeError, match="command 12"):
        parse_command(Frame(0x12))
    with pytest.raises(UnknownCodeError, match="reject reason 70"):
        parse_reply(Frame(0x17, b"\x70"))
    with pytest.raises(UnknownCodeError, match="failure code 00"):
        parse_reply(Frame(0x49, b"\x00"))
    with pytest.raises(FramingError):
        parse_reply(Frame(0x13))  # escrow without its denomination
    with pytest.raises(FramingError):
        parse_reply(Frame(0x11, b"\x00"))
    with pytest.raises(FramingError):
        parse_reply(Frame(0xC3))
    with pytest.raises(FramingError):
        parse_reply(Frame(0x50, b"\x00"))
    with pytest.raises(FramingError):
        parse_command(Frame(0xC0, b"\x00"))
    with pytest.raises(FramingError):
        parse_command(Frame(0x41, b"\x00"))


def test_failure_and_reject_meanings() -> None:
    status = parse_reply(Frame(0x49, b"\xa2"))
    assert status == Status(StatusCode.FAILURE, failure=FailureCode.STACK_MOTOR)
    assert status.meaning == "failure, stack motor"  # type: ignore[union-attr]
    assert Status(StatusCode.ESCROW, denomination=0x63).meaning == "escrow, denomination 63"


def test_denomination_mask() -> None:
    assert denomination_mask([]) == b"\xff\xff"
    assert denomination_mask(range(0x61, 0x71)) == b"\x00\x00"
    assert denomination_mask([0x61, 0x63]) == b"\xfa\xff"
    assert enabled_denominations(b"\xfa\xff") == (0x61, 0x63)
    with pytest.raises(ValueError, match="outside"):
        denomination_mask([0x60])
    assert Command.denominations([0x62]).meaning == "enable denominations 62"


def test_get_setting_answer() -> None:
    assert parse_reply(Frame(0x83, b"\x01")) == Echo(CommandCode.GET_INHIBIT, b"\x01")
    assert parse_command(Frame(0x83)) == Command(CommandCode.GET_INHIBIT)


# --- the stream decoder -----------------------------------------------------------------------


def test_stream_decoder_cuts_frames_noise_and_bad_crc() -> None:
    good = h("FC 06 13 61 B0 FB")
    bad = h("FC 05 16 98 23")
    stream = b"\x00\x01" + good + bad + b"\xfc\x02" + h("FC 05 1A F4 E8")
    decoder = Id003StreamDecoder()
    items = decoder.feed(stream)
    assert items == [
        BadFrame(BadFrameReason.NOISE, b"\x00\x01"),
        Frame(0x13, b"\x61"),
        BadFrame(BadFrameReason.CRC, bad),
        BadFrame(BadFrameReason.NOISE, b"\xfc\x02"),
        Frame(0x1A),
    ]
    assert decoder.pending == 0
    # Byte by byte: the same frames and the same noise bytes (in smaller pieces).
    pieces = []
    for byte in stream:
        pieces += decoder.feed(bytes((byte,)))
    noise = b"".join(
        i.raw for i in pieces if isinstance(i, BadFrame) and i.reason is BadFrameReason.NOISE
    )
    assert noise == b"\x00\x01\xfc\x02"
    assert [i for i in pieces if not isinstance(i, BadFrame) or i.reason is BadFrameReason.CRC] == [
        Frame(0x13, b"\x61"),
        BadFrame(BadFrameReason.CRC, bad),
        Frame(0x1A),
    ]


def test_stream_decoder_waits_and_resets() -> None:
    decoder = Id003StreamDecoder()
    assert decoder.feed(h("FC 06 13")) == []
    assert decoder.pending == 3
    decoder.reset()
    assert decoder.pending == 0
    assert decoder.feed(h("FC 05 11 27 56")) == [Frame(0x11)]


# --- properties ------------------------------------------------------------------------------

statuses = st.one_of(
    st.sampled_from(
        [
            Status(code)
            for code in StatusCode
            if code not in (StatusCode.ESCROW, StatusCode.REJECTING, StatusCode.FAILURE)
        ]
    ),
    st.integers(0, 255).map(lambda d: Status(StatusCode.ESCROW, denomination=d)),
    st.sampled_from(RejectReason).map(lambda r: Status(StatusCode.REJECTING, reason=r)),
    st.sampled_from(FailureCode).map(lambda f: Status(StatusCode.FAILURE, failure=f)),
)

commands = st.one_of(
    st.sampled_from([Command(c) for c in CommandCode if not 0xC0 <= c <= 0xC5]),
    st.booleans().map(Command.inhibit),
    st.sets(st.integers(0x61, 0x70)).map(Command.denominations),
    st.binary(min_size=2, max_size=2).map(lambda b: Command(CommandCode.SET_SECURITY, b)),
)


@given(st.integers(0, 255), st.binary(max_size=250))
def test_frame_round_trip(code: int, data: bytes) -> None:
    raw = build_frame(code, data)
    assert raw[1] == len(raw)
    assert parse_frame(raw) == Frame(code, data)
    assert Id003StreamDecoder().feed(raw) == [Frame(code, data)]


@given(statuses)
def test_status_round_trip(status: Status) -> None:
    assert parse_reply(parse_frame(status.to_bytes())) == status


@given(commands)
def test_command_round_trip(command: Command) -> None:
    assert parse_command(parse_frame(command.to_bytes())) == command


@given(st.integers(0, 255), st.binary(max_size=40), st.integers(0, 50), st.integers(1, 255))
def test_any_single_byte_change_is_caught(code: int, data: bytes, where: int, flip: int) -> None:
    raw = bytearray(build_frame(code, data))
    raw[where % len(raw)] ^= flip
    with pytest.raises(ProtocolError):
        parse_frame(bytes(raw))


@given(st.binary(max_size=300))
def test_fuzz_never_crashes(raw: bytes) -> None:
    try:
        frame = parse_frame(raw)
    except ProtocolError:
        pass
    else:
        for parse in (parse_reply, parse_command):
            with contextlib.suppress(ProtocolError):
                parse(frame)
    decoder = Id003StreamDecoder()
    items = decoder.feed(raw)
    consumed = (
        sum(len(i.raw) if isinstance(i, BadFrame) else len(i.data) + 5 for i in items)
        + decoder.pending
    )
    assert consumed == len(raw)
