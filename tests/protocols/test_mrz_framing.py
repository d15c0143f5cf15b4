"""protocols.mrz_framing: the serial framings of OCR MRZ readers (decoder and encoder).

Lines are the ICAO 9303 (7th edition) specimens (fictional) and blocks built by
protocols.mrz.build.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocols.mrz_framing import (
    ETX,
    MAX_LINE,
    MAX_LINES,
    STX,
    Framing,
    MrzBlock,
    MrzDecoder,
    encode_block,
)

TD3 = (
    "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
    "L898902C36UTO7408122F1204159ZE184226B<<<<<10",
)
TD1 = (
    "I<UTOD231458907<<<<<<<<<<<<<<<",
    "7408122F1204159UTO<<<<<<<<<<<6",
    "ERIKSSON<<ANNA<MARIA<<<<<<<<<<",
)
TD2 = (
    "I<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<",
    "D231458907UTO7408122F1204159<<<<<<<6",
)


def test_encodings() -> None:
    assert encode_block(TD3, "cr") == (TD3[0] + "\r" + TD3[1] + "\r").encode()
    assert encode_block(TD3, "crlf") == (TD3[0] + "\r\n" + TD3[1] + "\r\n").encode()
    assert encode_block(TD3, "lf") == (TD3[0] + "\n" + TD3[1] + "\n").encode()
    assert encode_block(TD3, "stx") == b"\x02" + (TD3[0] + "\r" + TD3[1] + "\r").encode() + b"\x03"
    assert encode_block(TD1, "cr", prefix="]M").startswith(b"]MI<UTO")


@pytest.mark.parametrize("framing", list(Framing))
@pytest.mark.parametrize("lines", [TD3, TD1, TD2])
def test_round_trip_in_one_piece_and_byte_by_byte(framing: Framing, lines: tuple[str, ...]) -> None:
    data = encode_block(lines, framing, prefix="HDR") * 2
    decoder = MrzDecoder(framing, prefix="HDR")
    assert decoder.feed(data) == [MrzBlock(lines), MrzBlock(lines)]
    assert not decoder.busy
    one_by_one = MrzDecoder(framing, prefix="HDR")
    blocks = [block for byte in data for block in one_by_one.feed(bytes([byte]))]
    assert blocks == [MrzBlock(lines), MrzBlock(lines)]


def test_line_decoder_takes_any_line_ending_and_trailing_empty_lines() -> None:
    data = (TD3[0] + "\r\n" + TD3[1] + "\n\r\n\r").encode()
    decoder = MrzDecoder("cr")
    assert decoder.feed(data) == [MrzBlock(TD3)]
    assert decoder.expire() == []
    assert decoder.noise == 0


def test_noise_lines_before_a_block_are_dropped() -> None:
    decoder = MrzDecoder("cr")
    data = b"\x00\xff garbage\r\r" + encode_block(TD2, "cr")
    assert decoder.feed(data) == [MrzBlock(TD2)]
    assert decoder.noise == len(b"\x00\xff garbage")


def test_a_line_of_another_width_breaks_the_block() -> None:
    decoder = MrzDecoder("cr")
    blocks = decoder.feed((TD3[0] + "\r" + TD2[1] + "\r").encode())
    assert len(blocks) == 1
    assert blocks[0].error == "line 2 has 36 characters, line 1 had 44"
    assert "ERIKSSON" not in repr(blocks[0])
    assert repr(blocks[0]) == f"MrzBlock(lines=44x36, error={blocks[0].error!r})"


def test_an_empty_line_ends_an_incomplete_block() -> None:
    decoder = MrzDecoder("cr")
    blocks = decoder.feed((TD1[0] + "\r" + TD1[1] + "\r\r").encode())
    assert [b.error for b in blocks] == [
        "incomplete block: 2 line(s) of 30, 30 characters then an empty line"
    ]


def test_silence_ends_a_truncated_block() -> None:
    decoder = MrzDecoder("cr")
    assert decoder.feed(encode_block(TD3, "cr")[:60]) == []
    assert decoder.busy
    blocks = decoder.expire()
    assert len(blocks) == 1
    assert blocks[0].lines == (TD3[0], TD3[1][:15])
    assert blocks[0].error.startswith("incomplete block: 2 line(s) of 44, 15")
    assert not decoder.busy


def test_silence_after_a_short_bit_of_noise_is_noise() -> None:
    decoder = MrzDecoder("cr")
    decoder.feed(b"xyz")
    assert decoder.expire() == []
    assert decoder.noise == 3


def test_an_overlong_line_is_an_error_and_the_next_block_reads() -> None:
    decoder = MrzDecoder("cr")
    blocks = decoder.feed(b"A" * (MAX_LINE + 500) + b"\r" + encode_block(TD3, "cr"))
    assert [b.error for b in blocks] == [f"a line longer than {MAX_LINE} characters", ""]
    assert blocks[1].lines == TD3


def test_stx_noise_outside_and_incomplete_blocks() -> None:
    decoder = MrzDecoder("stx")
    good = encode_block(TD1, "stx")
    blocks = decoder.feed(b"noise" + good[:40] + good)
    assert blocks[0].error == "incomplete block: STX before the ETX"
    assert blocks[1] == MrzBlock(TD1)
    assert decoder.noise == 5
    decoder.feed(good[:50])
    expired = decoder.expire()
    assert [b.error for b in expired] == ["incomplete block: no ETX before the line went silent"]


def test_stx_too_many_or_too_long_lines() -> None:
    decoder = MrzDecoder("stx")
    four = bytes([STX]) + b"A\rB\rC\rD\r" + bytes([ETX])
    assert [b.error for b in decoder.feed(four)] == [f"more than {MAX_LINES} lines"]
    long = bytes([STX]) + b"A" * (MAX_LINE + 1) + b"\r" + bytes([ETX])
    assert [b.error for b in decoder.feed(long)] == [f"a line longer than {MAX_LINE} characters"]
    # a block the decoder frames well but that is no MRZ: the parser's business
    assert decoder.feed(bytes([STX]) + b"HELLO\r" + bytes([ETX])) == [MrzBlock(("HELLO",))]


def test_reset_forgets_a_partial_block() -> None:
    decoder = MrzDecoder("cr")
    decoder.feed(encode_block(TD3, "cr")[:50])
    decoder.reset()
    assert not decoder.busy
    assert decoder.feed(encode_block(TD3, "cr")) == [MrzBlock(TD3)]


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(list(Framing)),
    st.lists(
        st.one_of(
            st.binary(max_size=120),
            st.sampled_from([b"\r", b"\n", b"\x02", b"\x03", b"\r\n"]),
            st.sampled_from([encode_block(TD3, "cr"), encode_block(TD1, "stx")]),
        ),
        max_size=30,
    ),
)
def test_fuzz_never_raises_and_stays_bounded(framing: Framing, chunks: list[bytes]) -> None:
    decoder = MrzDecoder(framing)
    for chunk in chunks:
        for block in decoder.feed(chunk):
            assert len(block.lines) <= MAX_LINES + 1
            assert all(len(line) <= MAX_LINE for line in block.lines)
        assert len(decoder._line) <= MAX_LINE
        assert len(decoder._lines) <= MAX_LINES
    for block in decoder.expire():
        assert len(block.lines) <= MAX_LINES + 1
    assert not decoder.busy
