"""``tellerhal decode escpos``: the 132-byte receipt of ecosystem.md 7 as JSON lines, a
truncated stream ending in one stderr line and exit 2 after what decoded, card numbers
masked, and any input fuzzed.

``escpos_streams`` (near-valid ESC/POS captures) is also what the every-protocol fuzz
test (tests/cli/test_decode_fuzz.py) feeds the escpos decoder.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import strategies as st

from protocols.escpos import encode
from protocols.print_document import Barcode, Document, Line, QrCode
from tellerhal.cli.main import main
from tests.protocols.test_escpos_decoder import FRAGMENTS, RECEIPT_132

PAN = "4761739001010010"

escpos_streams = st.lists(
    st.sampled_from([*FRAGMENTS, b"\x1b!\x10", b"\x1dV\x00", b"\x1d(k\x03\x001Q0", b"TOTAL"])
    | st.binary(max_size=8),
    min_size=1,
    max_size=12,
).map(lambda parts: b"".join(parts).hex(" "))


def run(capsys: pytest.CaptureFixture[str], argv: Sequence[str]) -> tuple[int, list[Any], str]:
    try:
        status = main(["decode", *argv])
    except SystemExit as exit_:
        status = exit_.code if isinstance(exit_.code, int) else 2
    out, err = capsys.readouterr()
    return status, [json.loads(line) for line in out.splitlines()], err


def test_the_132_byte_receipt(capsys: pytest.CaptureFixture[str]) -> None:
    status, entries, err = run(capsys, ["escpos", RECEIPT_132.hex(" ")])
    assert (status, err) == (0, "")
    assert [e["kind"] for e in entries] == [
        "code_page",
        "text",
        "line_feed",
        "text",
        "line_feed",
        "qr",
        "feed",
        "cut",
    ]
    assert entries[1]["text"] == "SMART TELLER"
    assert entries[1]["style"] == {"bold": True, "height": 2, "align": "center"}
    assert entries[3]["style"] == {}
    assert entries[5]["data"] == "TXN:0001;AMT:100.00"
    assert entries[5]["module_size"] == 4
    assert [e["op"] for e in entries] == list(range(1, 9))
    assert all(e["protocol"] == "escpos" for e in entries)


def test_truncated_stream_exits_2_after_what_decoded(capsys: pytest.CaptureFixture[str]) -> None:
    status, entries, err = run(capsys, ["escpos", "41 0a 1d 28 6b 16 00 31 50 30 54 58"])
    assert status == 2
    assert [e["kind"] for e in entries] == ["text", "line_feed"]
    assert err == (
        "tellerhal decode: escpos: truncated ESC/POS stream: GS ( k at byte 2 needs 17 more bytes\n"
    )


def test_card_numbers_are_masked_unless_revealed(capsys: pytest.CaptureFixture[str]) -> None:
    doc = Document((Line.of(f"CARD {PAN}"), Barcode(PAN), QrCode(f"PAN={PAN}")))
    capture = encode(doc).hex()
    status, entries, _ = run(capsys, ["escpos", capture])
    assert status == 0
    shown = json.dumps(entries)
    assert PAN not in shown
    assert "476173******0010" in shown
    status, entries, _ = run(capsys, ["--reveal", "escpos", capture])
    assert PAN in entries[2]["text"]


def test_images_show_sizes_not_pixels(capsys: pytest.CaptureFixture[str]) -> None:
    status, entries, _ = run(capsys, ["escpos", "1d 76 30 00 01 00 02 00 f0 01"])
    assert status == 0
    assert entries == [
        {
            "protocol": "escpos",
            "kind": "image",
            "command": "GS v 0",
            "width": 8,
            "height": 2,
            "scale_x": 1,
            "scale_y": 1,
            "black_dots": 5,
            "align": "left",
            "op": 1,
        }
    ]
