"""protocols.crt591: the reference vectors (§7 #19), the code tables, refusals.

Every golden frame's BCC is recomputed here by a plain loop, not by the codec.
"""

from __future__ import annotations

import pytest

from protocols.crt591 import (
    FRAME,
    MAX_TEXT,
    NEGATIVE_TEXT,
    POSITIVE_TEXT,
    BadFrame,
    BadFrameReason,
    BinStatus,
    CardStatus,
    Command,
    Control,
    CpuOperation,
    CpuResetData,
    Crt591StreamDecoder,
    ErrorCode,
    Frame,
    Head,
    InitMode,
    Position,
    Refusal,
    Reply,
    Request,
    StackerStatus,
    bin_counter_data,
    build_command,
    build_frame,
    build_negative,
    build_positive,
    cpu_reset_data,
    decode_frame,
    decode_text,
    encode_text,
    parse_bin_counter,
    parse_cpu_reset,
    parse_frame,
    parse_sensors,
    sensor_data,
)
from protocols.errors import ChecksumError, FramingError, ProtocolError, UnknownCodeError

# reference/protocols.md §7, CRT-591 (#19)
INITIALIZE_NO_MOVE = "F2 00 00 03 43 30 33 03 B2"
STATUS = "F2 00 00 03 43 31 30 03 B0"
DISPENSE_TO_RF = "F2 00 00 03 43 32 32 03 B1"
STATUS_REPLY = "F2 00 00 06 50 31 30 30 32 30 03 94"


def xor_loop(data: bytes) -> int:
    bcc = 0
    for byte in data:
        bcc ^= byte
    return bcc


def golden(text: str) -> bytes:
    raw = bytes.fromhex(text)
    assert xor_loop(raw[:-1]) == raw[-1], "the vector's BCC"
    return raw


# --- §7 #19 --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("vector", "command", "pm"),
    [
        (INITIALIZE_NO_MOVE, Command.INITIALIZE, InitMode.NO_MOVE),
        (STATUS, Command.STATUS, None),
        (DISPENSE_TO_RF, Command.MOVE, Position.RF),
    ],
)
def test_command_vectors_encode_and_decode(vector: str, command: Command, pm: int | None) -> None:
    raw = golden(vector)
    assert build_command(command, pm) == raw
    frame = parse_frame(raw)
    assert frame == Frame(0, raw[4:7])
    message = decode_frame(frame)
    assert isinstance(message, Request)
    assert message.command is command
    assert message.pm == raw[6]
    assert message.data == b""
    assert frame.to_bytes() == raw


def test_status_reply_vector() -> None:
    raw = golden(STATUS_REPLY)
    reply = decode_frame(parse_frame(raw))
    assert reply == Reply(
        0x31, 0x30, CardStatus.NO_CARD, StackerStatus.ENOUGH, BinStatus.NOT_FULL, b""
    )
    assert reply.card.meaning == "no card in the unit"
    assert reply.stacker.meaning == "enough cards in the stacker"
    assert reply.bin.meaning == "reject bin not full"
    built = build_positive(
        Command.STATUS, CardStatus.NO_CARD, StackerStatus.ENOUGH, BinStatus.NOT_FULL
    )
    assert built == raw


def test_the_construct_layouts_read_the_vectors() -> None:
    raw = golden(STATUS_REPLY)
    parsed = FRAME.parse(raw)
    assert (parsed.address, parsed.length, parsed.bcc) == (0, 6, 0x94)
    text = POSITIVE_TEXT.parse(parsed.text)
    assert (text.cm, text.pm, text.st0, text.st1, text.st2) == (0x31, 0x30, 0x30, 0x32, 0x30)


# --- negative replies: both heads ------------------------------------------------------------


@pytest.mark.parametrize("head", [0x4E, 0x45])
def test_negative_replies_decode_with_either_head(head: int) -> None:
    body = bytes([0xF2, 0x00, 0x00, 0x05, head, 0x32, 0x31]) + b"A0" + b"\x03"
    raw = body + bytes((xor_loop(body),))
    refusal = decode_frame(parse_frame(raw))
    assert refusal == Refusal(0x32, 0x31, ErrorCode.STACKER_EMPTY, head)
    assert refusal.error.meaning == "card stacker empty"
    assert build_negative(Request(0x32, 0x31), ErrorCode.STACKER_EMPTY, head=head) == raw
    assert NEGATIVE_TEXT.parse(raw[4:-2]).error == b"A0"


def test_every_error_code_has_a_meaning_and_two_ascii_characters() -> None:
    assert len(ErrorCode) == 27
    for code in ErrorCode:
        assert len(code.value) == 2
        assert code.meaning
    assert ErrorCode("B0").meaning == "not initialised"
    assert ErrorCode("10") is ErrorCode.JAM


@pytest.mark.parametrize(
    ("text", "error"),
    [
        (b"N\x32\x31A9", UnknownCodeError),  # no error A9
        (b"N\x32\x31A", FramingError),  # one error character
        (b"N\x32\x31A0x", FramingError),  # a byte too many
        (b"P\x31\x30\x33\x32\x30", UnknownCodeError),  # st0 '3'
        (b"P\x31\x30\x30\x33\x30", UnknownCodeError),  # st1 '3'
        (b"P\x31\x30\x30\x32\x32", UnknownCodeError),  # st2 '2'
        (b"P\x31\x30\x30\x32", FramingError),  # no st2
        (b"X\x31\x30", UnknownCodeError),  # an unknown head
        (b"C\x31", FramingError),
    ],
)
def test_bad_texts_are_refused(text: bytes, error: type[ProtocolError]) -> None:
    with pytest.raises(error):
        decode_text(text)


# --- commands and their parameters -----------------------------------------------------------


def test_command_lookup_checks_parameters() -> None:
    assert Command.lookup(0x51, CpuOperation.APDU_T1) is Command.CPU
    assert Command.lookup(0x33, 0x31) is Command.ENTRY_DISABLE
    assert Command.lookup(0x52, 0x99) is Command.SAM  # SAM's sub-codes are not checked
    for cm, pm in [(0x30, 0x32), (0x32, 0x34), (0x51, 0x35), (0x31, 0x32), (0x99, 0x30)]:
        with pytest.raises(UnknownCodeError):
            Command.lookup(cm, pm)
    assert InitMode.CAPTURE_COUNTED.counted
    assert InitMode.CAPTURE_COUNTED.base is InitMode.CAPTURE
    assert InitMode.NO_MOVE.base is InitMode.NO_MOVE
    assert not InitMode.NO_MOVE.counted


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: build_command(Command.STATUS, 0x31), "PM 0x30"),
        (lambda: build_command(Command.MOVE), "needs a PM"),
        (lambda: build_command(Command.STATUS, address=16), "address"),
        (lambda: build_command(Command.CPU, 0x33, bytes(MAX_TEXT)), "at most"),
        (lambda: build_frame(b"C1"), "TEXT is 2 bytes"),
        (lambda: build_frame(b"C10", 256), "address"),
        (lambda: encode_text(Refusal(0x31, 0x30, ErrorCode.JAM, 0x41)), "negative head"),
        (lambda: encode_text(Request(0x131, 0x30)), "bytes"),
    ],
)
def test_builders_refuse_what_cannot_be_sent(call: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()  # type: ignore[operator]
    with pytest.raises(UnknownCodeError):
        build_command(Command.MOVE, 0x35)


def test_an_apdu_command_carries_the_c_apdu_as_its_data() -> None:
    capdu = bytes.fromhex("00A404000E") + b"1PAY.SYS.DDF01"
    raw = build_command(Command.CPU, CpuOperation.APDU_T0, capdu, address=5)
    assert raw[:4] == bytes((0xF2, 5, 0, 3 + len(capdu)))
    request = decode_frame(parse_frame(raw))
    assert request == Request(0x51, 0x33, capdu)
    assert "PAY" not in repr(request)  # data is hidden in reprs


# --- payloads --------------------------------------------------------------------------------


def test_payload_helpers() -> None:
    atr = bytes.fromhex("3B6800000073C84013009000")
    assert parse_cpu_reset(cpu_reset_data(atr, t1=True)) == CpuResetData(True, atr)
    assert parse_cpu_reset(b"0" + atr).t1 is False
    with pytest.raises(UnknownCodeError):
        parse_cpu_reset(b"2" + atr)
    with pytest.raises(FramingError):
        parse_cpu_reset(b"0\x3b")
    flags = (True, False, True, True, False, False, False, False)
    assert sensor_data(flags) == b"10110000"
    assert parse_sensors(b"10110000") == flags
    for bad in (b"1011000", b"1011000X"):
        with pytest.raises(ProtocolError):
            parse_sensors(bad)
    assert bin_counter_data(7) == b"007"
    assert parse_bin_counter(b"123") == 123
    with pytest.raises(FramingError):
        parse_bin_counter(b"12a")
    with pytest.raises(ValueError, match=r"0\.\.999"):
        bin_counter_data(1000)


# --- frames and the stream decoder -----------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        ("F2 00 00 03 43 31 30 03 B1", ChecksumError),
        ("F3 00 00 03 43 31 30 03 B0", FramingError),
        ("F2 00 00 04 43 31 30 03 B0", FramingError),
        ("F2 00 00 03 43 31 30 04 B0", FramingError),
        ("F2 00 00 02 43 31 03 B1", FramingError),
        ("F2 00 00 03 43 31", FramingError),
    ],
)
def test_corrupted_frames_are_refused(raw: str, error: type[ProtocolError]) -> None:
    with pytest.raises(error):
        parse_frame(bytes.fromhex(raw))


def test_the_decoder_sees_controls_frames_noise_and_bad_bccs() -> None:
    status = golden(STATUS)
    bad = status[:-1] + bytes((status[-1] ^ 1,))
    decoder = Crt591StreamDecoder()
    items = decoder.feed(b"\x06zz" + status + b"\x15" + bad + b"\x04" + status[:5])
    assert items == [
        Control.ACK,
        BadFrame(BadFrameReason.NOISE, b"zz"),
        parse_frame(status),
        Control.NAK,
        BadFrame(BadFrameReason.BCC, bad),
        Control.EOT,
    ]
    assert decoder.pending == 5
    assert decoder.feed(status[5:]) == [parse_frame(status)]
    assert items[4].detail == "BCC is 0xB1, expected 0xB0"  # type: ignore[union-attr]


def test_an_stx_with_an_impossible_length_is_noise() -> None:
    status = golden(STATUS)
    decoder = Crt591StreamDecoder()
    # LEN 0x0300 is past MAX_TEXT: the F2 is noise, and the status frame after it is found.
    items = decoder.feed(b"\xf2\x00\x03\x00" + status)
    assert items == [BadFrame(BadFrameReason.NOISE, b"\xf2\x00\x03\x00"), parse_frame(status)]
    # An ETX missing where LEN puts it: noise up to the next frame.
    items = decoder.feed(b"\xf2\x00\x00\x03ABCDE" + status)
    assert items[-1] == parse_frame(status)
    assert all(isinstance(item, BadFrame) for item in items[:-1])
    assert decoder.pending == 0


def test_reprs_hide_payloads() -> None:
    frame = parse_frame(build_command(Command.CPU, CpuOperation.APDU_T0, b"\x00\x20PIN!"))
    assert "PIN" not in repr(frame)
    reply = Reply(0x51, 0x33, CardStatus.AT_POSITION, StackerStatus.LOW, BinStatus.FULL, b"PAN")
    assert "PAN" not in repr(reply)
    assert "PAN" not in repr(parse_cpu_reset(b"0PAN"))
    assert Head.NEGATIVE_E == 0x45
