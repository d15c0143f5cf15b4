"""ESC/POS status replies: the golden vectors of protocols.md 7 #44, the bit rules of
5.1, builders and parsers inverse to each other."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocols.errors import ProtocolError
from protocols.escpos_status import (
    ErrorCause,
    FullStatus,
    OfflineCause,
    PaperSensor,
    PrinterState,
    RealTimeStatus,
    RollPaper,
    build_full_status,
    build_paper_sensor,
    build_process_id_reply,
    build_real_time,
    parse_full_status,
    parse_paper_sensor,
    parse_process_id_reply,
    parse_real_time,
)


def test_golden_44_normal() -> None:
    # protocols.md 7 #44 [S]: DLE EOT 1/2/4 answer 12 12 12: online, no errors, paper OK.
    assert parse_real_time(1, b"\x12") == PrinterState()
    assert parse_real_time(2, b"\x12") == OfflineCause()
    assert parse_real_time(4, b"\x12") == RollPaper()


def test_golden_44_paper_out() -> None:
    # 1A / 32 / 7E: offline, stopped on paper end, near end + end.
    assert parse_real_time(1, b"\x1a") == PrinterState(offline=True)
    assert parse_real_time(2, b"\x32") == OfflineCause(paper_end_stop=True)
    assert parse_real_time(4, b"\x7e") == RollPaper(near_end=True, paper_end=True)
    assert build_real_time(RollPaper(near_end=True, paper_end=True)) == b"\x7e"
    assert build_real_time(OfflineCause(paper_end_stop=True)) == b"\x32"
    assert build_real_time(PrinterState(offline=True)) == b"\x1a"


def test_golden_44_custom_full_status() -> None:
    # 10 0F 05 00 00 00: no paper + near end (C: from the bit table).
    assert parse_full_status(bytes.fromhex("100f05000000")) == FullStatus(
        no_paper=True, near_end=True
    )
    status = FullStatus(
        cover_open=True, ticket_present=True, voltage_error=True, unrecoverable=0x41
    )
    assert build_full_status(status) == bytes.fromhex("100f20020841")
    assert parse_full_status(build_full_status(status)) == status


def test_error_causes() -> None:
    assert parse_real_time(3, b"\x1e") == ErrorCause(autocutter=True, mechanical=True)
    assert parse_real_time(2, b"\x16") == OfflineCause(cover_open=True)


@pytest.mark.parametrize("byte", [0x00, 0x10, 0x02, 0x13, 0x92, 0xFF])
def test_fixed_bits_are_checked(byte: int) -> None:
    with pytest.raises(ProtocolError, match=f"{byte:02X} is not a status byte"):
        parse_real_time(4, bytes((byte,)))


def test_bad_lengths_and_requests() -> None:
    with pytest.raises(ProtocolError, match="1 byte, got 2"):
        parse_real_time(1, b"\x12\x12")
    with pytest.raises(ProtocolError, match="no such status"):
        parse_real_time(5, b"\x12")
    with pytest.raises(ProtocolError, match="6 bytes starting 10 0F, got 6 bytes starting 10 0E"):
        parse_full_status(bytes.fromhex("100e05000000"))
    with pytest.raises(ProtocolError, match="got 0 bytes"):
        parse_full_status(b"")


def test_gs_r_paper_sensor() -> None:
    assert parse_paper_sensor(b"\x00") == PaperSensor()
    assert parse_paper_sensor(b"\x03") == PaperSensor(near_end=True)
    assert parse_paper_sensor(b"\x0f") == PaperSensor(near_end=True, paper_end=True)
    assert build_paper_sensor(PaperSensor(paper_end=True)) == b"\x0c"
    with pytest.raises(ProtocolError, match="bits 4, 7"):
        parse_paper_sensor(b"\x10")


def test_process_id_reply() -> None:
    # GS ( H fn 48: the printer answers 37 22 d1 d2 d3 d4 00 [S Epson reference].
    assert parse_process_id_reply(bytes.fromhex("3722 30303432 00")) == b"0042"
    assert build_process_id_reply(b"0042") == bytes.fromhex("3722303034320 0".replace(" ", ""))
    for bad in ("3722303034", "3822303034320 0", "37223030343201", "3722300134320 0"):
        with pytest.raises(ProtocolError, match="expected 37 22"):
            parse_process_id_reply(bytes.fromhex(bad.replace(" ", "")))


STATUSES = st.one_of(
    st.builds(PrinterState, st.booleans(), st.booleans(), st.booleans(), st.booleans()),
    st.builds(OfflineCause, st.booleans(), st.booleans(), st.booleans(), st.booleans()),
    st.builds(ErrorCause, st.booleans(), st.booleans(), st.booleans(), st.booleans()),
    st.builds(RollPaper, st.booleans(), st.booleans()),
)


@given(STATUSES)
def test_real_time_round_trip(status: RealTimeStatus) -> None:
    n = {PrinterState: 1, OfflineCause: 2, ErrorCause: 3, RollPaper: 4}[type(status)]
    reply = build_real_time(status)
    assert reply[0] & 0x93 == 0x12
    assert parse_real_time(n, reply) == status


@given(st.integers(0, 255), st.integers(1, 4))
def test_any_byte_parses_or_is_refused(byte: int, n: int) -> None:
    valid = byte & 0x93 == 0x12
    try:
        status = parse_real_time(n, bytes((byte,)))
    except ProtocolError:
        assert not valid
    else:
        assert valid
        # Every meaningful bit is read back (near end / end set both of their bits).
        if n != 4:
            assert build_real_time(status) == bytes((byte,))


@given(st.lists(st.integers(0x20, 0x7E), min_size=4, max_size=4).map(bytes))
def test_process_id_round_trip(ident: bytes) -> None:
    assert parse_process_id_reply(build_process_id_reply(ident)) == ident
