"""Tests for protocols.apdu: ISO/IEC 7816-4 APDUs, EMV command builders, SWs."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocols.apdu import (
    CommandApdu,
    ResponseApdu,
    describe_sw,
    get_processing_options,
    get_response,
    parse_command,
    parse_response,
    read_record,
    select_by_name,
)
from protocols.errors import FramingError, ProtocolError

PSE = b"1PAY.SYS.DDF01"

# (hex, expected fields (cla, ins, p1, p2, data hex, le, extended), case, source)
COMMAND_VECTORS = [
    (
        "00 A4 04 00 0E" + PSE.hex(),
        (0, 0xA4, 4, 0, PSE.hex(), None, False),
        "3S",
        "reference §7 #18 (C-APDU inside the CRT-310 frame), C",
    ),
    (
        "00 A4 04 00 0E" + PSE.hex() + "00",
        (0, 0xA4, 4, 0, PSE.hex(), 256, False),
        "4S",
        "built: EMV SELECT PSE with Le 00",
    ),
    ("00 A4 04 00", (0, 0xA4, 4, 0, "", None, False), "1", "built: case 1"),
    ("00 84 00 00 08", (0, 0x84, 0, 0, "", 8, False), "2S", "built: GET CHALLENGE"),
    ("00 C0 00 00 00", (0, 0xC0, 0, 0, "", 256, False), "2S", "built: Le 00 = 256"),
    ("00 B0 00 00 00 01 00", (0, 0xB0, 0, 0, "", 256, True), "2E", "built: extended Le"),
    ("00 B0 00 00 00 00 00", (0, 0xB0, 0, 0, "", 65536, True), "2E", "built: Le 0000 = 65536"),
    ("00 D6 00 00 00 00 02 AA BB", (0, 0xD6, 0, 0, "aabb", None, True), "3E", "built: 3E"),
    ("00 88 00 00 00 00 02 AA BB 00 00", (0, 0x88, 0, 0, "aabb", 65536, True), "4E", "built: 4E"),
]


@pytest.mark.parametrize(("hex_in", "fields", "case", "source"), COMMAND_VECTORS)
def test_command_vectors(
    hex_in: str, fields: tuple[int, int, int, int, str, int | None, bool], case: str, source: str
) -> None:
    raw = bytes.fromhex(hex_in)
    apdu = parse_command(raw)
    cla, ins, p1, p2, data, le, extended = fields
    assert apdu == CommandApdu(cla, ins, p1, p2, bytes.fromhex(data), le, extended), source
    assert apdu.case == case
    assert apdu.to_bytes() == raw


@pytest.mark.parametrize(
    ("hex_in", "message"),
    [
        ("00 A4 04", "at least 4"),
        ("00 A4 04 00 05 01 02", "Lc=5 needs 10 or 11 bytes, got 7"),
        ("00 A4 04 00 00 01", "at least 7"),
        ("00 A4 04 00 00 00 00 01", "Lc is 0 but data follows"),
        ("00 A4 04 00 00 00 03 01 02", "Lc=3 needs 10 or 12 bytes, got 9"),
    ],
)
def test_malformed_commands(hex_in: str, message: str) -> None:
    with pytest.raises(FramingError, match=message):
        parse_command(bytes.fromhex(hex_in))


def test_builders() -> None:
    assert select_by_name(PSE, le=None).to_bytes() == bytes.fromhex("00A404000E") + PSE
    assert select_by_name(PSE).to_bytes()[-1] == 0x00
    assert select_by_name(b"\xa0\x00\x00\x00\x03", next_occurrence=True).p2 == 0x02
    assert get_processing_options().to_bytes() == bytes.fromhex("80 A8 00 00 02 83 00 00")
    gpo = get_processing_options(bytes.fromhex("0840"))
    assert gpo.to_bytes() == bytes.fromhex("80 A8 00 00 04 83 02 08 40 00")
    assert read_record(1, 1).to_bytes() == bytes.fromhex("00 B2 01 0C 00")
    assert read_record(3, 2).to_bytes() == bytes.fromhex("00 B2 03 14 00")
    assert get_response(0x1C).to_bytes() == bytes.fromhex("00 C0 00 00 1C")
    assert get_response(0).le == 256
    assert select_by_name(PSE).name == "SELECT"


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: select_by_name(b""), "1..16 bytes"),
        (lambda: read_record(0, 1), "record number"),
        (lambda: read_record(1, 31), "SFI"),
        (lambda: get_response(257), "0..256"),
        (lambda: CommandApdu(0x100, 0, 0, 0), "cla"),
        (lambda: CommandApdu(0, 0, 0, 0, le=0), "le must be"),
        (lambda: CommandApdu(0, 0, 0, 0, bytes(0x10000)), "at most 65535"),
        (lambda: ResponseApdu(b"", 0x90, 0x100), "sw2"),
    ],
)
def test_caller_mistakes_are_value_errors(call: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()  # type: ignore[operator]


def test_extended_is_forced_when_needed_and_dropped_for_case_1() -> None:
    assert CommandApdu(0, 0xD6, 0, 0, bytes(300)).extended
    assert CommandApdu(0, 0xB0, 0, 0, le=257).extended
    assert not CommandApdu(0, 0xA4, 0, 0, extended=True).extended


def test_response_parse_and_status() -> None:
    response = parse_response(bytes.fromhex("6F 00 90 00"))
    assert response == ResponseApdu(b"\x6f\x00", 0x90, 0x00)
    assert response.sw == 0x9000
    assert response.ok
    assert response.to_bytes() == bytes.fromhex("6F 00 90 00")
    assert parse_response(b"\x61\x1c").description.startswith("success, 28 more bytes")
    with pytest.raises(FramingError, match="at least 2"):
        parse_response(b"\x90")


@pytest.mark.parametrize(
    ("sw", "text"),
    [
        (0x9000, "success"),
        (0x6110, "16 more bytes available"),
        (0x6100, "256 more bytes available"),
        (0x6C10, "Le=16"),
        (0x6A82, "file or application not found"),
        (0x6985, "conditions of use not satisfied"),
        (0x6D00, "instruction code not supported"),
        (0x6E00, "class not supported"),
        (0x6700, "wrong length"),
        (0x6A86, "incorrect parameters P1-P2"),
        (0x6283, "application blocked"),
        (0x63C2, "2 tries left"),
        (0x6A99, "wrong parameters P1-P2 (SW2 99)"),
        (0x9999, "unknown status word"),
    ],
)
def test_describe_sw(sw: int, text: str) -> None:
    assert text in describe_sw(sw)


def test_describe_sw_range() -> None:
    with pytest.raises(ValueError, match=r"0\.\.0xFFFF"):
        describe_sw(0x10000)


def test_reprs_hide_data() -> None:
    verify = CommandApdu(0x00, 0x20, 0x00, 0x80, bytes.fromhex("241234FFFFFFFFFF"))
    assert "1234" not in repr(verify)
    record = ResponseApdu(bytes.fromhex("5A084111111111111111"), 0x90, 0x00)
    assert "41111111" not in repr(record)


# ----------------------------------------------------------------------------- properties

byte = st.integers(0, 0xFF)
commands = st.builds(
    CommandApdu,
    byte,
    byte,
    byte,
    byte,
    st.binary(max_size=300),
    st.none() | st.integers(1, 0x10000),
    st.booleans(),
)


@given(commands)
def test_command_round_trip(apdu: CommandApdu) -> None:
    raw = apdu.to_bytes()
    assert parse_command(raw) == apdu
    assert parse_command(raw).to_bytes() == raw


@given(st.binary(max_size=300), byte, byte)
def test_response_round_trip(data: bytes, sw1: int, sw2: int) -> None:
    response = ResponseApdu(data, sw1, sw2)
    assert parse_response(response.to_bytes()) == response


@settings(max_examples=400)
@given(
    st.binary(max_size=64) | st.binary(min_size=5, max_size=12).map(lambda b: b[:4] + b"\0" + b[5:])
)
def test_fuzz_commands_raise_only_protocol_errors(raw: bytes) -> None:
    try:
        apdu = parse_command(raw)
    except ProtocolError:
        return
    assert apdu.to_bytes() == raw


@settings(max_examples=400)
@given(commands.map(CommandApdu.to_bytes), st.integers(0, 9), st.integers(0, 0xFF))
def test_fuzz_commands_with_one_length_byte_changed(raw: bytes, at: int, value: int) -> None:
    # Lc and Le are in the first 9 bytes: change one and the lengths disagree.
    raw = raw[:at] + bytes([value]) + raw[at + 1 :]
    try:
        apdu = parse_command(raw)
    except ProtocolError:
        return
    assert apdu.to_bytes() == raw


@given(st.binary(max_size=20))
def test_fuzz_responses(raw: bytes) -> None:
    with contextlib.suppress(ProtocolError):
        assert parse_response(raw).to_bytes() == raw


@given(st.integers(0, 0xFFFF))
def test_describe_sw_total(sw: int) -> None:
    assert describe_sw(sw)
