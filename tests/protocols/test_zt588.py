"""protocols.zt588: the reference's golden frames, every command and reply against the
layouts of its source (smartkiosk/smartware's ``sprintf`` formats), the stream decoder's
key presses and bad frames, and the clear-PIN mode '@' unreachable from the encoders.

Golden frames are marked as in the reference (§7 #37): [C] = built from the layout; their
checksums are recomputed here with an independent loop (`xor_chk`).
"""

from __future__ import annotations

import dataclasses
import inspect

import pytest

from protocols import zt588
from protocols.errors import ChecksumError, FramingError, HalError, ProtocolError, UnknownCodeError
from protocols.zt588 import (
    MAX_FRAME,
    Ack,
    AuthCode,
    Authenticate,
    AuthReply,
    BadFrame,
    BadFrameReason,
    ClearPinRefused,
    ClearPinRequest,
    CommandCode,
    Communication,
    Control,
    ControlCode,
    EraseKey,
    ErrorReply,
    Frame,
    GetPinBlock,
    Key,
    KeyLoaded,
    KeyPress,
    KeyType,
    LoadEncryptedKey,
    LoadPlainKey,
    LoadScancodes,
    Misc,
    PinBlockReply,
    PinFormat,
    QueryUserInfo,
    Settings,
    StartPinEntry,
    UserInfo,
    WriteUserInfo,
    Zt588Decoder,
    Zt588Error,
    build_command,
    build_frame,
    build_reply,
    decode_command,
    decode_reply,
    key_press,
    parse_command,
    parse_frame,
    parse_reply,
)

KEY16 = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
KEY24 = KEY16 + bytes.fromhex("89ABCDEF01234567")
PAN = "4761739001010010"


def xor_chk(covered: bytes) -> bytes:
    """The CHK by an independent loop: XOR, then two upper-case hex digits."""
    value = 0
    for byte in covered:
        value ^= byte
    return format(value, "02X").encode()


def frame_of(text: bytes) -> bytes:
    """A frame built by hand (no codec), for frames the codec refuses to build."""
    covered = str(len(text)).zfill(3).encode() + text + b"\x03"
    return b"\x02" + covered + xor_chk(covered)


# ----------------------------------------------------------------------------- golden


def test_golden_query_user_info() -> None:
    """§7 #37 [C]: 02 30 30 31 33 03 30 31 = TEXT "3"."""
    raw = bytes.fromhex("02 30 30 31 33 03 30 31")
    assert xor_chk(raw[1:-2]) == raw[-2:] == b"01"
    frame = parse_frame(raw)
    assert frame.text == b"3"
    assert decode_command(frame) == QueryUserInfo()
    assert build_command(QueryUserInfo()) == raw == frame_of(b"3")


def test_golden_control_frame_checks_but_is_not_hex_mode() -> None:
    """§7 #37 [C] "control: hex mode" is TEXT "5067": its CHK is right, but control
    values travel as hex (smartware ``control``: '5' + sub + hex(value)), so it is a MISC
    control with the value 67h; hex mode is "5637"."""
    raw = bytes.fromhex("02 30 30 34 35 30 36 37 03 33 33")
    assert xor_chk(raw[1:-2]) == raw[-2:] == b"33"
    command = decode_command(parse_frame(raw))
    assert command == Control(ControlCode.MISC, b"\x67")
    assert isinstance(command, Control)
    assert command.operation is None
    hex_mode = build_command(Control.communication(Communication.HEX))
    assert hex_mode == bytes.fromhex("02 30 30 34 35 36 33 37 03 33 30") == frame_of(b"5637")


# ----------------------------------------------------------------------------- commands

# Each command against the text smartware's sprintf would send for it.
COMMAND_TEXTS = [
    (LoadPlainKey(0x80, KeyType.IMK, KEY24), b"18012" + KEY24.hex().upper().encode()),
    (LoadPlainKey(0x00, KeyType.IMK, KEY16), b"10011" + KEY16.hex().upper().encode()),
    (
        LoadEncryptedKey(zt588.tpk_slot(1), 0x00, KeyType.TPK, KEY16),
        b"200483" + b"2" + KEY16.hex().upper().encode(),
    ),
    (EraseKey(0x40), b"2004000"),
    (QueryUserInfo(), b"3"),
    (WriteUserInfo("BRANCH 12"), b"3BRANCH 12"),
    (LoadScancodes(), b"4" + zt588.DEFAULT_SCANCODES.hex().upper().encode()),
    (Control.misc(Misc.RESET), b"5030"),
    (Control.misc(Misc.BEEP), b"503D"),
    (Control.communication(Communication.BAUD_115200), b"564F"),
    (Control.number(ControlCode.INPUT_TIME_LIMIT, 30), b"521E"),
    (Control.pin_mask(0xFF), b"53FF"),
    (Control.number(ControlCode.MAX_PIN_LENGTH, 16), b"5510"),
    (Control.number(ControlCode.BEEP_TIME, 10), b"580A"),
    (StartPinEntry(0x40, PinFormat.ISO9564_0, 0, 6, "739001010010"), b"640 006739001010010"),
    (StartPinEntry(0x48, PinFormat.ISO9564_1, 0, 12, ""), b"648!012"),
    (StartPinEntry(0x30, PinFormat.ISO9564_3, 3, 4, PAN), b"630#304" + PAN.encode()),
    (StartPinEntry(0x30, PinFormat.IBM3624, 0, 4, "1"), b"6300004" + b"1"),
    (GetPinBlock(), b"7"),
    (Authenticate(AuthCode.GET_CHALLENGE, b"0" * 16), b":A0" + b"30" * 16),
    (Authenticate(0x20, bytes(range(8))), b":200001020304050607"),
]


@pytest.mark.parametrize(("command", "text"), COMMAND_TEXTS, ids=lambda c: type(c).__name__)
def test_commands_encode_as_the_source_sends_them_and_parse_back(
    command: zt588.Command, text: bytes
) -> None:
    assert command.encode() == text
    assert parse_command(text) == command
    assert build_command(command) == frame_of(text)
    assert command.command_code == CommandCode(chr(text[0]))


def test_control_operations_and_baud_table() -> None:
    assert Control.misc(Misc.WIPE).operation is Misc.WIPE
    assert Control.communication(Communication.HEX).operation is Communication.HEX
    assert Control.pin_mask(0x2A).operation is None
    bauds = [c.baud for c in Communication]
    assert bauds == [None, None, 1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200]


@pytest.mark.parametrize(
    ("text", "error", "words"),
    [
        (b"", FramingError, "empty"),
        (b"8", UnknownCodeError, "unknown command 0x38"),
        (b"18042" + b"00" * 24, UnknownCodeError, "key type 4"),
        (b"18013" + b"00" * 24, UnknownCodeError, "key length code"),
        (b"18012" + b"00" * 16, FramingError, "the key is 32 hex digits, expected 48"),
        (b"18012" + b"0g" * 24, ProtocolError, "not an upper-case hex digit"),
        (b"18012" + b"ab" * 24, ProtocolError, "not an upper-case hex digit"),
        (b"2004001" + b"00" * 8, UnknownCodeError, "key type 0"),
        (b"20040004", FramingError, "an erase-key TEXT is 8 bytes, expected 7"),
        (b"59FF", UnknownCodeError, "control sub-code '9'"),
        (b"53F", FramingError, "expected at least 4"),
        (b"640X006", UnknownCodeError, "PIN block format 'X'"),
        (b"640 0061234A", ProtocolError, "0..19 decimal digits"),
        (b"640 A06", ProtocolError, "the hint"),
        (b"77", FramingError, "get-PIN-block TEXT is 2 bytes, expected 1"),
        (b":A", FramingError, "authenticate"),
    ],
)
def test_malformed_commands_get_a_typed_error_saying_what_was_expected(
    text: bytes, error: type[ProtocolError], words: str
) -> None:
    with pytest.raises(error, match=words) as info:
        parse_command(text)
    assert "0123456789ABCDEF" not in str(info.value)


def test_encoders_refuse_what_does_not_fit_the_wire() -> None:
    with pytest.raises(ValueError, match="8, 16 or 24 bytes"):
        LoadPlainKey(0x80, KeyType.IMK, bytes(12)).encode()
    with pytest.raises(ValueError, match="byte"):
        LoadEncryptedKey(0x100, 0, KeyType.TPK, KEY16).encode()
    with pytest.raises(ValueError, match="decimal digits"):
        StartPinEntry(0x40, PinFormat.ISO9564_0, 0, 4, "4761x").encode()
    with pytest.raises(ValueError, match="at most 19"):
        StartPinEntry(0x40, PinFormat.ISO9564_0, 0, 4, "1" * 20).encode()
    with pytest.raises(ValueError, match="one digit"):
        StartPinEntry(0x40, PinFormat.ISO9564_0, 10, 4, "").encode()
    with pytest.raises(ValueError, match=r"1\.\.50"):
        WriteUserInfo("x" * 51).encode()
    with pytest.raises(ValueError, match="STX"):
        build_frame(WriteUserInfo("a\x02b").encode())
    with pytest.raises(ValueError, match=r"1\.\.256"):
        build_frame(b"")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("A1", r"bytes or a bytearray, got str \(encode a str as ASCII first\)$"),
        (65, "bytes or a bytearray, got int$"),
        (None, "bytes or a bytearray, got NoneType$"),
        (memoryview(b"A1"), "bytes or a bytearray, got memoryview$"),
    ],
)
def test_build_frame_names_the_type_it_takes(text: object, message: str) -> None:
    with pytest.raises(TypeError, match=message):
        build_frame(text)  # type: ignore[arg-type]


def test_build_frame_takes_a_bytearray_as_bytes() -> None:
    assert build_frame(bytearray(b"A1")) == build_frame(b"A1")
    assert parse_frame(build_frame(bytearray(b"A1"))).text == b"A1"


# ----------------------------------------------------------------------------- '@'


def test_pin_format_has_no_clear_pin_member() -> None:
    assert "@" not in {f.value for f in PinFormat}
    with pytest.raises(ValueError, match="'@' is not a valid PinFormat"):
        PinFormat("@")


@pytest.mark.parametrize("fmt", ["@", 0x40, b"@"])
def test_the_encoder_refuses_a_clear_pin_request(fmt: object) -> None:
    command = StartPinEntry(0x40, fmt, 0, 4, "739001010010")  # type: ignore[arg-type]
    with pytest.raises(ClearPinRefused, match="clear-PIN format '@'") as info:
        command.encode()
    assert isinstance(info.value, HalError)
    assert isinstance(info.value, ValueError)
    with pytest.raises(ClearPinRefused):
        build_command(command)


def test_no_frame_builder_carries_a_clear_pin_request() -> None:
    text = b"640@006739001010010"
    with pytest.raises(ClearPinRefused):
        build_frame(text)
    with pytest.raises(ClearPinRefused):
        Frame(text).to_bytes()
    with pytest.raises(ClearPinRefused):
        zt588.FRAME.build({"text": text, "chk": b"00"})
    assert zt588.FRAME.parse(frame_of(text)).text == text  # parsing a capture still works
    # Every public name that builds bytes was tried above or takes a typed command.
    builders = {n for n, v in vars(zt588).items() if n.startswith("build") and callable(v)}
    assert builders == {"build_command", "build_frame", "build_reply"}


def test_a_captured_clear_pin_request_parses_flagged() -> None:
    raw = frame_of(b"640@006" + PAN.encode())
    items = Zt588Decoder().feed(raw)
    assert len(items) == 1
    frame = items[0]
    assert isinstance(frame, Frame)
    request = decode_command(frame)
    assert request == ClearPinRequest(0x40, 0, 6, PAN)
    assert isinstance(request, ClearPinRequest)
    assert request.clear_pin is True
    assert not hasattr(request, "encode")
    assert PAN not in repr(request)
    # The reply to it parses too (the device side refuses it; a capture may show either).
    assert decode_reply(Frame(b"\xeb"), request) == ErrorReply(0xEB)


# ----------------------------------------------------------------------------- replies


def _user_info() -> UserInfo:
    return UserInfo.make(
        user_info="LOBBY 1",
        scancodes=zt588.DEFAULT_SCANCODES,
        settings=Settings.make(sound=False, pin_mask=0xFF, min_pin_length=4, baud=115200),
        function_code="FC000001",
        model="ZT588",
        hardware_version="V10",
        software_version="V21",
        production_date="2312",
        serial="0042",
    )


def test_user_info_reply_round_trips_in_the_source_layout() -> None:
    info = _user_info()
    text = zt588.encode_reply(info)
    assert len(text) == 147
    assert text[:1] == b"3"
    assert text[1:51] == b"LOBBY 1".ljust(50)
    assert text[51:99] == zt588.DEFAULT_SCANCODES.hex().upper().encode()
    assert text[119:] == b"FC000001ZT588 V10V2123120042"
    assert parse_reply(text, QueryUserInfo()) == info
    assert parse_reply(text, CommandCode.USER_INFO) == info
    settings = info.settings
    assert (settings.blank, settings.input_enabled, settings.sound) == (False, False, False)
    assert (settings.pin_mask, settings.min_pin_length, settings.max_pin_length) == (0xFF, 4, 12)
    assert (settings.baud, settings.broken_hex, settings.beep_time_ms) == (115200, False, 100)
    assert settings.input_time_limit == 30
    with pytest.raises(FramingError, match="expected 147"):
        parse_reply(text[:-1], QueryUserInfo())


def test_replies_per_command() -> None:
    kcv = bytes.fromhex("D5D44F")
    assert parse_reply(b"1D5D44F", CommandCode.LOAD_PLAIN_KEY) == KeyLoaded(0x31, kcv)
    assert parse_reply(b"2D5D44F", EraseKey(0x40)) == KeyLoaded(0x32, kcv)
    block = bytes.fromhex("0412AC89ABCDEF67")
    reply = parse_reply(b"70206" + block.hex().upper().encode(), GetPinBlock())
    assert reply == PinBlockReply(0x37, 2, 6, block)
    assert block.hex().upper() not in repr(reply)
    assert parse_reply(b":" + b"AB" * 8, CommandCode.AUTHENTICATE) == AuthReply(0x3A, b"\xab" * 8)
    assert parse_reply(b"5", Control.misc(Misc.RESET)) == Ack(0x35)
    assert parse_reply(b"3", WriteUserInfo("x")) == Ack(0x33)
    assert parse_reply(b"3", None) == Ack(0x33)
    with pytest.raises(FramingError, match="at least 7"):
        parse_reply(b"702", GetPinBlock())
    with pytest.raises(ProtocolError, match="track"):
        parse_reply(b"7X206" + b"00" * 8, GetPinBlock())


@pytest.mark.parametrize("code", range(0xE0, 0xF0))
def test_an_error_head_is_one_raw_byte(code: int) -> None:
    reply = parse_reply(bytes((code,)), StartPinEntry(0x40, PinFormat.ISO9564_0, 0, 4, ""))
    assert isinstance(reply, ErrorReply)
    assert reply.code == code
    if code == 0xEA:
        assert reply.error is None
        assert reply.message == "unknown error 0xEA"
    else:
        assert reply.error is Zt588Error(code)
        assert reply.message == Zt588Error(code).message
    assert build_reply(reply) == frame_of(bytes((code,)))


def test_error_messages_are_the_reference_ones() -> None:
    assert [e.value for e in Zt588Error] == [*range(0xE0, 0xEA), *range(0xEB, 0xF0)]
    assert Zt588Error.INPUT_TIMEOUT.message == "input timed out"
    assert Zt588Error.KEY_PARITY.message == "key parity error"
    # "E0" as two hex characters is not an error head: it is a success whose head is 'E'.
    assert parse_reply(b"E0", None) == Ack(0x45, b"0")


def test_echo_is_the_command_character() -> None:
    assert zt588.echo(GetPinBlock()) == 0x37
    assert zt588.echo(CommandCode.AUTHENTICATE) == 0x3A
    with pytest.raises(ValueError, match="outside 0xE0"):
        zt588.encode_reply(Ack(0xE5))
    with pytest.raises(ValueError, match=r"0xE0\.\.0xEF"):
        zt588.encode_reply(ErrorReply(0x31))


# ----------------------------------------------------------------------------- keys


def test_key_presses_of_the_default_scancode_table() -> None:
    stream = b"0123456789\x1b\x08\r.#\x07ABCDEFGH*\x80"
    items = Zt588Decoder().feed(stream)
    assert all(isinstance(item, KeyPress) for item in items)
    keys = [item.key for item in items if isinstance(item, KeyPress)]
    assert keys == [
        *[Key.DIGIT] * 10,
        Key.CANCEL,
        Key.CLEAR,
        Key.ENTER,
        Key.DEC_POINT,
        Key.DOUBLE_ZERO,
        Key.BLANK,
        *[Key(f"fdk0{n}") for n in range(1, 9)],
        Key.MASKED,
        Key.CANCEL,
    ]
    digits = [item.digit for item in items if isinstance(item, KeyPress)]
    assert digits[:10] == list("0123456789")
    assert set(digits[10:]) == {None}
    assert "7" not in repr(items[7])
    assert b"".join(item.to_bytes() for item in items if isinstance(item, KeyPress)) == stream


def test_key_press_builder_for_the_device_side() -> None:
    assert key_press(Key.DIGIT, "7").to_bytes() == b"7"
    assert key_press(Key.MASKED).to_bytes() == b"*"
    assert key_press(Key.MASKED, mask=0xFF).to_bytes() == b"\xff"
    assert key_press(Key.CANCEL).to_bytes() == b"\x1b"
    assert key_press(Key.FDK08).to_bytes() == b"H"
    with pytest.raises(ValueError, match="one digit"):
        key_press(Key.DIGIT)
    with pytest.raises(ValueError, match="no digit"):
        key_press(Key.ENTER, "1")


def test_the_mask_byte_is_configurable_and_checked() -> None:
    items = Zt588Decoder(mask=0xFF).feed(b"\xff*")
    assert [type(i).__name__ for i in items] == ["KeyPress", "BadFrame"]
    assert isinstance(items[0], KeyPress)
    assert items[0].key is Key.MASKED
    for bad in (0x02, 0x03, 0x31, 0x1B):
        with pytest.raises(ValueError, match="mask byte"):
            Zt588Decoder(mask=bad)


# ----------------------------------------------------------------------------- decoder


def _bad(items: list[zt588.Item]) -> BadFrame:
    (bad,) = [item for item in items if isinstance(item, BadFrame)]
    return bad


def test_frames_and_keys_interleave() -> None:
    reply = build_reply(PinBlockReply(0x37, 2, 4, bytes(8)))
    stream = b"*" + reply + b"**\r" + build_command(GetPinBlock())
    items = Zt588Decoder().feed(stream)
    kinds = [type(i).__name__ for i in items]
    assert kinds == ["KeyPress", "Frame", "KeyPress", "KeyPress", "KeyPress", "Frame"]


def test_noise_is_a_typed_item() -> None:
    items = Zt588Decoder().feed(b"1\xfe\xfd2")
    bad = _bad(items)
    assert bad.reason is BadFrameReason.NOISE
    assert bad.raw == b"\xfe\xfd"
    assert isinstance(bad.error, FramingError)
    assert "2 bytes outside any frame that are no key (first 0xFE)" in bad.detail


def test_a_bad_checksum_is_a_checksum_error_and_the_stream_resynchronises() -> None:
    good = build_command(LoadPlainKey(0x80, KeyType.IMK, KEY16))
    broken = good[:-2] + b"00"
    items = Zt588Decoder().feed(broken + b"5" + build_command(GetPinBlock()))
    bad = items[0]
    assert isinstance(bad, BadFrame)
    assert bad.reason is BadFrameReason.CHECKSUM
    assert isinstance(bad.error, ChecksumError)
    expected = xor_chk(good[1:-2]).decode()
    assert f"CHK is 30 30, expected {bytes(expected, 'ascii').hex(' ').upper()}" in bad.detail
    assert KEY16.hex().upper() not in bad.detail + repr(bad)
    assert isinstance(items[1], KeyPress)
    assert isinstance(items[2], Frame)
    with pytest.raises(ChecksumError, match="CHK is 30 30"):
        parse_frame(broken)
    lower = good[:-2] + good[-2:].lower()
    if lower != good:
        with pytest.raises(ChecksumError, match="not two upper-case hex digits"):
            parse_frame(lower)


@pytest.mark.parametrize(
    ("raw", "reason", "words"),
    [
        (b"\x020x1" + b"3\x0301", BadFrameReason.LENGTH, "LEN is 30 78 31, expected 3 digits"),
        (b"\x02000\x0303", BadFrameReason.LENGTH, "LEN is 000, expected 001..256"),
        (b"\x02300" + b"1" * 300 + b"\x0300", BadFrameReason.TOO_LONG, "LEN is 300"),
        (b"\x020023\x0301", BadFrameReason.NO_ETX, "byte 6 is 0x30, expected ETX"),
    ],
)
def test_framing_errors_say_what_was_expected(
    raw: bytes, reason: BadFrameReason, words: str
) -> None:
    items = Zt588Decoder().feed(raw + build_command(GetPinBlock()))
    bad = items[0]
    assert isinstance(bad, BadFrame)
    assert (bad.reason, isinstance(bad.error, FramingError)) == (reason, True)
    assert words in bad.detail
    assert isinstance(items[-1], Frame)
    assert items[-1].text == b"7"
    with pytest.raises(FramingError, match=words.split(",")[0]):
        parse_frame(raw)


def test_an_stx_inside_a_frame_resynchronises_there() -> None:
    good = build_command(GetPinBlock())
    items = Zt588Decoder().feed(b"\x02010ab" + good)
    bad = items[0]
    assert isinstance(bad, BadFrame)
    assert bad.reason is BadFrameReason.NO_ETX
    assert bad.raw == b"\x02010ab"
    assert items[1] == Frame(b"7")


def test_partial_frames_wait_and_memory_stays_bounded() -> None:
    decoder = Zt588Decoder()
    frame = build_command(StartPinEntry(0x40, PinFormat.ISO9564_0, 0, 4, "739001010010"))
    for byte in frame[:-1]:
        assert decoder.feed(bytes((byte,))) == []
    assert decoder.pending == len(frame) - 1
    assert decoder.feed(frame[-1:]) == [Frame(frame[1:-3][3:])]
    assert decoder.pending == 0
    # A header announcing 256 bytes that never come: kept until MAX_FRAME, never more.
    decoder.feed(b"\x02256" + b"1" * 1000)
    assert decoder.pending == 0
    decoder.feed(b"\x02256" + b"1" * 200)
    assert decoder.pending <= MAX_FRAME
    (truncated,) = decoder.flush()
    assert isinstance(truncated, BadFrame)
    assert truncated.reason is BadFrameReason.TRUNCATED
    assert "frame truncated: 204 of 263 bytes" in truncated.detail
    assert decoder.pending == 0
    decoder.feed(b"\x0212")
    decoder.reset()
    assert decoder.pending == 0


def test_flush_after_a_bad_header_reports_it_and_keeps_what_follows() -> None:
    decoder = Zt588Decoder()
    assert decoder.feed(b"\x02x") == []  # a broken LEN: where it ends is not known yet
    items = decoder.feed(b"9\x0312*")
    assert [type(i).__name__ for i in items] == ["BadFrame", "KeyPress"]
    assert decoder.feed(b"\x02x1") == []
    flushed = decoder.flush()
    assert [b.reason for b in flushed if isinstance(b, BadFrame)] == [BadFrameReason.LENGTH]


def test_parse_frame_wants_exactly_one_frame() -> None:
    raw = build_command(GetPinBlock())
    with pytest.raises(FramingError, match="starts with STX"):
        parse_frame(b"\x01" + raw[1:])
    with pytest.raises(FramingError, match="starts with STX 0x02, got nothing"):
        parse_frame(b"")
    with pytest.raises(FramingError, match="8-byte frame, got 9 bytes"):
        parse_frame(raw + b"1")
    with pytest.raises(FramingError, match="truncated"):
        parse_frame(raw[:-1])


# ----------------------------------------------------------------------------- reprs


def test_reprs_hide_keys_pans_and_blocks() -> None:
    shown = " ".join(
        repr(item)
        for item in (
            LoadPlainKey(0x80, KeyType.IMK, KEY16),
            LoadEncryptedKey(0x40, 0, KeyType.TPK, KEY16),
            StartPinEntry(0x40, PinFormat.ISO9564_0, 0, 4, PAN),
            Authenticate(0x91, KEY16),
            PinBlockReply(0x37, 2, 4, KEY16),
            AuthReply(0x3A, KEY16),
            Ack(0x35, KEY16),
            ErrorReply(0xE4, KEY16),
            Frame(LoadPlainKey(0x80, KeyType.IMK, KEY16).encode()),
        )
    )
    for secret in (KEY16.hex().upper(), KEY16.hex(), PAN, repr(KEY16)[2:-1]):
        assert secret not in shown


def test_every_command_class_is_covered_here() -> None:
    classes = {
        obj
        for obj in vars(zt588).values()
        if inspect.isclass(obj) and dataclasses.is_dataclass(obj) and hasattr(obj, "encode")
    }
    assert classes == {type(command) for command, _ in COMMAND_TEXTS}
