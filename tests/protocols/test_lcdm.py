"""protocols.lcdm*: the reference's Puloon golden frames (§7 #22-24), corrupted frames
refused with a clear message, the stream decoder, and the typed commands and replies."""

from __future__ import annotations

import pytest

from protocols.errors import ChecksumError, FramingError, ProtocolError, UnknownCodeError
from protocols.lcdm import (
    BadFrame,
    BadFrameReason,
    Control,
    Direction,
    Frame,
    LcdmStreamDecoder,
    Model,
    build_frame,
    parse_frame,
)
from protocols.lcdm_commands import Command, Op, op_of, parse_command
from protocols.lcdm_replies import (
    Cassette,
    DispenseReply,
    ErrorCode1000,
    ErrorCode2000,
    ErrorCode4000,
    PurgeReply,
    RawReply,
    RomReply,
    StatusReply,
    encode_reply,
    error_code,
    model_from_rom,
    parse_reply,
)

M1, M2, M4 = Model.LCDM1000, Model.LCDM2000, Model.LCDM4000

GOLDEN_COMMANDS = [
    ("04 50 02 44 03 11", Command(M1, Op.PURGE)),
    ("04 50 02 45 31 30 03 11", Command(M1, Op.DISPENSE, (10,))),
    ("04 50 02 46 03 13", Command(M1, Op.STATUS)),
    ("04 50 02 76 03 23", Command(M1, Op.TEST_DISPENSE)),
    ("04 50 02 56 30 33 30 37 03 07", Command(M2, Op.UPPER_LOWER_DISPENSE, (3, 7))),
    ("04 30 02 50 03 65", Command(M4, Op.STATUS)),
]
GOLDEN_REPLIES = [
    ("01 50 02 44 30 03 24", PurgeReply(M1, ErrorCode1000.GOOD)),
    (
        "01 50 02 45 31 30 31 30 30 30 30 30 03 15",
        DispenseReply(M1, Op.DISPENSE, 10, 10, ErrorCode1000.GOOD, Cassette.ENOUGH, 0),
    ),
]


@pytest.mark.parametrize(("hex_", "command"), GOLDEN_COMMANDS)
def test_golden_commands_decode_and_encode_byte_for_byte(hex_: str, command: Command) -> None:
    raw = bytes.fromhex(hex_)
    frame = parse_frame(raw)
    assert frame.direction is Direction.COMMAND
    assert parse_command(frame, command.model) == command
    assert command.encode() == raw
    assert command.frame().to_bytes() == raw


@pytest.mark.parametrize(("hex_", "reply"), GOLDEN_REPLIES)
def test_golden_replies_decode_and_encode_byte_for_byte(
    hex_: str, reply: PurgeReply | DispenseReply
) -> None:
    raw = bytes.fromhex(hex_)
    frame = parse_frame(raw)
    assert frame.direction is Direction.REPLY
    assert parse_reply(frame, M1) == reply
    assert encode_reply(reply) == raw


def test_the_golden_stream_decodes_in_order() -> None:
    stream = b"".join(bytes.fromhex(h) + b"\x06" for h, _ in GOLDEN_COMMANDS + GOLDEN_REPLIES)
    items = LcdmStreamDecoder().feed(stream)
    assert len(items) == 2 * 8
    assert all(item is Control.ACK for item in items[1::2])
    assert [it.to_bytes() for it in items[::2] if isinstance(it, Frame)] == [
        bytes.fromhex(h) for h, _ in GOLDEN_COMMANDS + GOLDEN_REPLIES
    ]


@pytest.mark.parametrize(
    ("hex_", "error", "message"),
    [
        ("04 50 02 44 03 12", ChecksumError, "BCC is 0x12, expected 0x11"),
        ("04 50 02 44 03", FramingError, "5 bytes, expected at least 6"),
        ("05 50 02 44 03 16", FramingError, "expected EOT 0x04 or SOH 0x01"),
        ("04 51 02 44 03 10", FramingError, "ID is 0x51"),
        ("04 50 12 44 03 01", FramingError, "expected STX 0x02"),
        ("04 50 02 44 30 04 25", FramingError, "expected ETX 0x03"),
        ("04 50 02 45 03 30 03 22", FramingError, "ends the frame early"),
    ],
)
def test_corrupted_frames_are_refused_clearly(
    hex_: str, error: type[ProtocolError], message: str
) -> None:
    with pytest.raises(error, match=message):
        parse_frame(bytes.fromhex(hex_))


def test_the_decoder_reports_noise_and_bad_bcc_and_resynchronises() -> None:
    decoder = LcdmStreamDecoder()
    items = decoder.feed(bytes.fromhex("FF 04 99 01 50 02 44 30 03 25 15 04 50 02"))
    assert items[0] == BadFrame(BadFrameReason.NOISE, bytes.fromhex("FF 04 99"))
    assert items[1] == BadFrame(BadFrameReason.BCC, bytes.fromhex("01 50 02 44 30 03 25"))
    assert items[1].detail == "BCC is 0x25, expected 0x24"
    assert items[2] is Control.NAK
    assert len(items) == 3
    assert decoder.pending == 3
    assert decoder.feed(bytes.fromhex("46 03 13")) == [Frame(Direction.COMMAND, 0x50, 0x46)]
    assert decoder.pending == 0


def test_a_start_byte_without_etx_in_reach_is_noise() -> None:
    items = LcdmStreamDecoder().feed(b"\x04\x50\x02" + b"\x30" * 70)
    assert all(isinstance(i, BadFrame) and i.reason is BadFrameReason.NOISE for i in items)
    assert sum(i.wire_size for i in items if isinstance(i, BadFrame)) == 73


def test_lcdm4000_dispense_sends_values_plus_20h() -> None:
    command = Command(M4, Op.DISPENSE, (1, 0, 100, 5))
    raw = command.encode()
    assert raw[:4] == bytes.fromhex("04 30 02 52")
    assert raw[4:8] == bytes((0x21, 0x20, 0x84, 0x25))
    assert raw[8:19] == b"\x20" * 11
    assert raw[19] == 0x03
    assert parse_command(parse_frame(raw), M4) == command


def test_model_specific_codes() -> None:
    assert op_of(M1, 0x44) is Op.PURGE
    assert op_of(M4, 0x44) is Op.RESET
    assert op_of(M2, 0x55) is Op.LOWER_DISPENSE
    assert op_of(M4, 0x55) is Op.LAST_STATUS
    with pytest.raises(UnknownCodeError, match="LCDM-1000 has no command 0x55"):
        op_of(M1, 0x55)
    frame = parse_frame(bytes.fromhex("04 50 02 56 30 33 30 37 03 07"))
    with pytest.raises(UnknownCodeError):
        parse_command(frame, M1)
    with pytest.raises(FramingError, match="not the LCDM-4000's 0x30"):
        parse_command(frame, M4)
    with pytest.raises(FramingError, match="not a reply"):
        parse_reply(frame, M2)


@pytest.mark.parametrize(
    ("model", "op", "counts", "message"),
    [
        (M1, Op.DISPENSE, (0,), "counts are 1..60"),
        (M1, Op.DISPENSE, (61,), "counts are 1..60"),
        (M1, Op.DISPENSE, (1, 2), "takes 1 counts, got 2"),
        (M2, Op.UPPER_LOWER_DISPENSE, (0, 0), "at least one note"),
        (M4, Op.DISPENSE, (101, 0, 0, 0), "counts are 0..100"),
        (M1, Op.STATUS, (1,), "takes no counts"),
        (M1, Op.LOWER_DISPENSE, (1,), "LCDM-1000 has no lower dispense"),
    ],
)
def test_bad_commands_are_not_built(
    model: Model, op: Op, counts: tuple[int, ...], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        Command(model, op, counts)


@pytest.mark.parametrize(
    ("hex_data", "message"),
    [
        ("31", "2 ASCII digits, got 1"),
        ("36 31", "counts are 1..60"),
        ("3A 30", "a count is 2 ASCII digits"),
    ],
)
def test_bad_dispense_data_is_refused(hex_data: str, message: str) -> None:
    frame = parse_frame(build_frame(Direction.COMMAND, 0x50, 0x45, bytes.fromhex(hex_data)))
    with pytest.raises(ProtocolError, match=message):
        parse_command(frame, M1)


def test_status_reply_sensors() -> None:
    raw = build_frame(Direction.REPLY, 0x50, 0x46, bytes((0x30, 0x30, 0b1100_0001, 0x81)))
    reply = parse_reply(parse_frame(raw), M1)
    assert isinstance(reply, StatusReply)
    assert reply.error is ErrorCode1000.GOOD
    sensors = reply.sensors
    assert sensors["CHK1"]
    assert sensors["NEAREND"]
    assert sensors["REJECT_TRAY"]
    assert not sensors["EXIT"]
    assert not sensors["CASSETTE"]
    assert encode_reply(reply) == raw
    bad = build_frame(Direction.REPLY, 0x50, 0x46, bytes((0x30, 0x30, 0x41, 0x81)))
    with pytest.raises(ProtocolError, match="bit 7 set"):
        parse_reply(parse_frame(bad), M1)


def test_rom_reply_names_the_model() -> None:
    raw = build_frame(Direction.REPLY, 0x50, 0x47, b"T20TAB12")
    reply = parse_reply(parse_frame(raw), M2)
    assert reply == RomReply(M2, "T20T", "AB12")
    assert reply.named_model is M2
    assert model_from_rom("O16T") is M1
    assert model_from_rom("X99X") is None


def test_error_tables_differ_by_model() -> None:
    assert error_code(M1, 0x45).meaning == "cassette not recognised"
    assert error_code(M2, 0x46) is ErrorCode2000.LOWER_CASSETTE_MISSING
    assert error_code(M4, 0x2C) is ErrorCode4000.TOO_MANY_NOTES
    with pytest.raises(UnknownCodeError, match="LCDM-1000 has no error code 0x46"):
        error_code(M1, 0x46)
    raw = bytes.fromhex("01 50 02 44 39 03 2D")
    with pytest.raises(UnknownCodeError, match="0x39"):
        parse_reply(parse_frame(raw), M1)
    with pytest.raises(ValueError, match="not an LCDM-2000 error code"):
        PurgeReply(M2, ErrorCode1000.GOOD)


def test_replies_without_a_known_layout_stay_raw() -> None:
    raw = build_frame(Direction.REPLY, 0x30, 0x52, b"\x21\x20\x20\x20")
    assert parse_reply(parse_frame(raw), M4) == RawReply(M4, Op.DISPENSE, b"\x21\x20\x20\x20")
    assert encode_reply(RawReply(M4, Op.DISPENSE, b"\x21\x20\x20\x20")) == raw
