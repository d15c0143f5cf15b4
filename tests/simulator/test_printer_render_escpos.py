"""The renderer on real streams: python-escpos (an independent client, its Dummy printer)
and our own encoder (protocols.escpos), decoded by protocols.escpos_decoder; truncated
streams render what came."""

from __future__ import annotations

import barcode
import cv2
import numpy as np
import pytest
from escpos.printer import Dummy
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from protocols import escpos
from protocols.escpos_ops import Underline as OpUnderline
from protocols.print_document import (
    Align,
    CodePage,
    Cut,
    Document,
    Feed,
    Line,
    QrCode,
    QrErrorCorrection,
    Rule,
    TextRun,
)
from simulator.printer_fonts import PrinterFont, load_printer_font
from simulator.printer_render import Rendering, render_bytes
from simulator.printer_text import TextRow, display_width, layout


@pytest.fixture(scope="module")
def font() -> PrinterFont:
    return load_printer_font()


def _printer() -> Dummy:
    return Dummy(profile="TM-T88III")


def _qr_text(result: Rendering, box: tuple[int, int, int, int]) -> str:
    left, top, right, bottom = box
    crop = result.image.crop((left, top, right, bottom))
    framed = Image.new("L", (crop.width + 40, crop.height + 40), 255)
    framed.paste(crop, (20, 20))
    framed = framed.resize((framed.width * 2, framed.height * 2), Image.Resampling.NEAREST)
    text, _, _ = cv2.QRCodeDetector().detectAndDecode(np.asarray(framed))
    return str(text)


def test_python_escpos_text_and_styles(font: PrinterFont) -> None:
    p = _printer()
    p.set(align="center", bold=True, double_height=True, double_width=True)
    p.text("SMART TELLER\n")
    p.set(align="left", normal_textsize=True, underline=1)
    p.text("Withdrawal  100.00 EUR\n")
    p.set(align="right", underline=0, invert=True)
    p.text("THANK YOU\n")
    p.cut()
    result = render_bytes(p.output, font=font)
    assert result.error is None
    assert result.lines == (
        " " * 12 + "S M A R T   T E L L E R ",
        "Withdrawal  100.00 EUR",
        " " * 39 + "THANK YOU",
        *[""] * 6,  # python-escpos feeds 6 lines (ESC d 6) before the cut
        "[CUT]",
    )
    assert result.missing_glyphs == frozenset()
    first = next(p for p in result.placements if p.kind == "text")
    assert first.box == ((576 - 12 * 24) // 2, 0, (576 + 12 * 24) // 2, 48)
    rows = [row for row in layout(_decoded(p.output)).rows if isinstance(row, TextRow)]
    assert all(cell.style.bold and cell.height == 48 for cell in rows[0].cells)
    assert all(cell.style.underline is OpUnderline.SINGLE for cell in rows[1].cells)
    assert all(cell.style.invert for cell in rows[2].cells)


def _decoded(data: bytes) -> list[object]:
    from protocols.escpos_decoder import decode

    return list(decode(data))


@pytest.mark.parametrize("native", [True, False])
def test_python_escpos_qr_decodes_back(native: bool, font: PrinterFont) -> None:
    payload = "TXN:0001;AMT:100.00;CUR:EUR"
    p = _printer()
    p.text("Scan me\n")
    p.qr(payload, ec=1, size=5, native=native)
    p.cut(mode="PART")
    result = render_bytes(p.output, font=font)
    assert result.error is None
    kind = "qr" if native else "image"
    placement = next(pl for pl in result.placements if pl.kind == kind)
    assert _qr_text(result, placement.box) == payload
    if native:
        assert f"[QR: {payload}]" in result.lines
    assert result.lines[-1] == "[PARTIAL CUT]"


@pytest.mark.parametrize(
    ("code", "bc", "function_type", "reference"),
    [
        ("4006381333931", "EAN13", None, ("ean13", "400638133393")),
        ("{BHello-b7", "CODE128", "B", ("code128", "Hello-b7")),
    ],
)
def test_python_escpos_barcodes(
    code: str, bc: str, function_type: str | None, reference: tuple[str, str], font: PrinterFont
) -> None:
    p = _printer()
    p.barcode(code, bc, height=60, width=2, function_type=function_type)
    result = render_bytes(p.output, font=font)
    assert result.error is None
    (placement,) = [pl for pl in result.placements if pl.kind == "barcode"]
    left, top, right, _ = placement.box
    modules = barcode.get(*reference).build()[0]
    scan = np.asarray(result.image)[top + 10, left:right:2]
    assert "".join("1" if v == 0 else "0" for v in scan) == modules
    assert left == (576 - len(modules) * 2) // 2  # python-escpos centres barcodes
    shown = barcode.get(*reference).get_fullcode()
    assert result.lines[0] == f"[{bc}: {code.removeprefix('{B')}]"
    assert set(shown) <= result.drawn  # the HRI digits/characters are drawn


def test_python_escpos_image_at_its_dots(font: PrinterFont) -> None:
    source = Image.new("1", (40, 16), 1)
    for x in range(40):
        for y in range(16):
            if (x // 4 + y // 4) % 2 == 0:
                source.putpixel((x, y), 0)
    p = _printer()
    p.text("logo\n")
    p.image(source)
    result = render_bytes(p.output, font=font)
    assert result.error is None
    placement = next(pl for pl in result.placements if pl.kind == "image")
    left, top, _right, _bottom = placement.box
    assert (left, top) == (0, 30)
    pixels = np.asarray(result.image)
    for y in range(16):
        for x in range(40):
            assert (pixels[top + y, left + x] == 0) == (source.getpixel((x, y)) == 0)


def test_truncated_stream_renders_what_came(font: PrinterFont) -> None:
    p = _printer()
    p.text("Line one\n")
    p.text("Line two\n")
    p.qr("TXN:0001;AMT:100.00", native=True, size=4)
    data = p.output
    store = data.index(b"\x1d(k\x16\x00")  # the QR store command, 0x16 = 22 bytes after
    result = render_bytes(data[: store + 10], font=font)
    assert result.lines == ("Line one", "Line two")
    assert result.error is not None
    assert "GS ( k" in result.error
    assert "17 more bytes" in result.error  # 5 + 22 bytes, 10 came
    assert result.image.height == 60


# --- our encoder: a document with Chinese, column for column -----------------------------

_CN = st.sampled_from(list("ABCabc 0123.-:") + list("中国银行取款金额人民币元，：（）"))


@settings(max_examples=40, deadline=None)
@given(
    lines=st.lists(
        st.tuples(
            st.lists(st.tuples(st.text(_CN, max_size=30), st.booleans()), min_size=1, max_size=3),
            st.sampled_from(list(Align)),
        ),
        min_size=1,
        max_size=5,
    ),
    dots=st.sampled_from([576, 384]),
)
def test_encoded_chinese_document_renders_column_for_column(
    lines: list[tuple[list[tuple[str, bool]], Align]], dots: int
) -> None:
    font = load_printer_font()
    columns = dots // 12
    blocks = [
        Line(tuple(TextRun(text, double_width=wide) for text, wide in runs), align)
        for runs, align in lines
    ]
    doc = Document((*blocks, Rule("="), Feed(2), Cut()), CodePage.GB18030)
    result = render_bytes(escpos.encode(doc, columns=columns, dots=dots), dots, font=font)
    assert result.error is None
    assert result.missing_glyphs == frozenset()
    expected: list[str] = []
    for runs, align in lines:
        row: list[tuple[str, int]] = []
        used = 0
        rows = [row]
        for text, wide in runs:
            for ch in text:
                span = escpos.text_columns(ch, CodePage.GB18030) * (2 if wide else 1)
                if used + span > columns and row:
                    row = []
                    rows.append(row)
                    used = 0
                row.append((ch, span))
                used += span
        for row in rows:
            used = sum(span for _, span in row)
            pad = {Align.LEFT: 0, Align.CENTER: (columns - used) // 2, Align.RIGHT: columns - used}
            text = "".join(ch + " " * (span - display_width(ch)) for ch, span in row)
            expected.append(" " * (pad[align] if row else 0) + text)
    assert list(result.lines[: len(expected)]) == expected
    assert result.lines[len(expected)] == "=" * columns
    assert result.lines[-1] == "[CUT]"


def test_encoded_qr_document_decodes_back(font: PrinterFont) -> None:
    doc = Document(
        (
            Line.of("交易凭条 Receipt", align=Align.CENTER, bold=True),
            QrCode("https://bank.example/r/0001", 5, QrErrorCorrection.Q),
            Feed(1),
            Cut(partial=True),
        )
    )
    for dots in (576, 384):
        result = render_bytes(escpos.encode(doc, columns=dots // 12, dots=dots), dots, font=font)
        assert result.error is None
        placement = next(pl for pl in result.placements if pl.kind == "qr")
        assert _qr_text(result, placement.box) == "https://bank.example/r/0001"
        assert result.missing_glyphs == frozenset()
        assert "[QR: https://bank.example/r/0001]" in result.lines


# --- any bytes ---------------------------------------------------------------------------

_PIECES = st.sampled_from(
    [
        b"\x1b@",
        b"\x1c&",
        b"\x1c.",
        b"\x1b3\x00",
        b"\x1bJ\x50",
        b"\x1bd\x02",
        b"\x1d!\x77",
        b"\x1bE\x01",
        b"\x1b-\x02",
        b"\x1da\x01",
        b"\x1ba\x02",
        b"\x1dB\x01",
        b"\x1bM\x01",
        b"\t",
        b"\n",
        b"\r",
        "中文，°×".encode("gb18030"),
        b"Hello 0123",
        b"\x1dk\x49\x05{BAB\x00",
        b"\x1dk\x43\x0c400638133393",
        b"\x1dk\x02123\x00",
        b"\x1d(k\x03\x001C\x10",
        b"\x1d(k\x07\x001P0DATA",
        b"\x1d(k\x03\x001Q0",
        b"\x1dv0\x03\x50\x00\x02\x00" + b"\xaa" * 160,
        b"\x1dV\x42\x10",
        b"\x1b*\x00\x00\x00",  # an empty ESC * bit image (it crashed the renderer)
        b"\x1b*\x21\x00\x00",
    ]
)


@settings(max_examples=100, deadline=None)
@given(
    pieces=st.lists(st.one_of(_PIECES, st.binary(max_size=12)), max_size=25),
    dots=st.sampled_from([576, 384]),
)
def test_any_stream_renders_or_reports(pieces: list[bytes], dots: int) -> None:
    font = load_printer_font()
    data = b"".join(pieces)
    result = render_bytes(data, dots, font=font)  # never raises
    assert result.image.width == dots
    assert result.image.height >= 1
    assert result.missing_glyphs <= {ch for ch in result.missing_glyphs if not font.covers(ch)}
    assert all(box[0] >= 0 and box[2] <= dots for box in (p.box for p in result.placements))
    if result.error is not None:
        assert "ESC/POS" in result.error or "GS" in result.error


@pytest.mark.parametrize(
    "data",
    [
        bytes.fromhex("1b2a000000"),  # ESC * m=0 (double-width dots), nL = nH = 0
        bytes.fromhex("1b2a210000"),  # ESC * m=33 (24-dot, single width), empty
        bytes.fromhex("1d7630000000020000"),  # GS v 0, 0 bytes a row, 2 rows
    ],
)
def test_empty_image_draws_nothing_and_is_reported(data: bytes, font: PrinterFont) -> None:
    result = render_bytes(b"A\n" + data + b"B\n", 576, font=font)
    assert result.error is None
    assert [p.kind for p in result.placements] == ["text", "text"]
    assert any("empty image" in problem for problem in result.problems)
    # Nothing drawn and no paper fed for it: the page is as without the image.
    plain = render_bytes(b"A\nB\n", 576, font=font)
    assert [p.box for p in result.placements] == [p.box for p in plain.placements]
    assert result.image.size == plain.image.size


async def test_model_renders_a_raw_job_with_an_empty_image() -> None:
    from simulator.models.printer import PrinterModel

    model = PrinterModel()
    await model.print_raw(bytes.fromhex("1b2a0000000a1d5600"))
    piece = model.last_receipt()
    assert piece is not None
    assert piece.png().startswith(b"\x89PNG")
    assert any("empty image" in problem for problem in piece.render().problems)


def test_image_wider_than_the_paper_is_cut_at_the_edge(font: PrinterFont) -> None:
    # GS v 0, double width (m=1): 80 bytes a row = 640 dots, drawn 1280 dots wide.
    data = b"\x1dv0\x01\x50\x00\x02\x00" + b"\xff" * 160
    result = render_bytes(data, 384, font=font)
    (placement,) = result.placements
    assert placement.box == (0, 0, 384, 2)
    assert "cut at the right edge" in result.problems[0]
    assert (np.asarray(result.image)[0:2, :] == 0).all()
