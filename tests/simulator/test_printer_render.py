"""The receipt renderer: font coverage, layout column for column, barcodes, QR codes and
images drawn at the right dots (simulator.printer_fonts, printer_text, printer_render)."""

from __future__ import annotations

from pathlib import Path

import barcode
import barcode.charsets.code128 as pb_code128
import cv2
import numpy as np
import pytest
import segno
from fontTools.ttLib import TTFont
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from protocols import escpos_ops as ops
from protocols.print_document import Align, HriPosition, QrErrorCorrection, Underline
from simulator.printer_fonts import (
    FONT_PACKAGE,
    PrinterFont,
    PrinterFontError,
    find_cjk_font,
    load_printer_font,
)
from simulator.printer_render import Rendering, render
from simulator.printer_render_codes import (
    CODE128_PATTERNS,
    code128_modules,
    code128_values,
    ean13_modules,
)
from simulator.printer_text import TextRow, display_width, layout, text_lines

CN = ops.TextStyle(chinese=True, encoding="gb18030")


@pytest.fixture(scope="module")
def font() -> PrinterFont:
    return load_printer_font()


@pytest.fixture(scope="module")
def font_cmap(font: PrinterFont) -> set[int]:
    """The face's cmap as fontTools reads it (the independent reader)."""
    tt = TTFont(str(font.path), fontNumber=font.face_index, lazy=True)
    try:
        return {cp for cp, glyph in tt.getBestCmap().items() if glyph != ".notdef"}
    finally:
        tt.close()


def _lines(*items: tuple[str, ops.TextStyle]) -> list[ops.Operation]:
    out: list[ops.Operation] = []
    for text, style in items:
        out += [ops.Text(text, style), ops.LineFeed()]
    return out


# --- fonts -----------------------------------------------------------------------------


def test_cmap_reader_matches_fonttools(font: PrinterFont, font_cmap: set[int]) -> None:
    assert font.family == "Noto Sans Mono CJK SC"
    assert set(font.charmap.codepoints()) == font_cmap
    assert font.covers("中")
    assert font.covers("A")
    assert not font.covers("\U0001f600")


def test_no_font_names_the_package() -> None:
    with pytest.raises(PrinterFontError, match=FONT_PACKAGE):
        find_cjk_font((Path("/nonexistent/NotoSansCJK-Regular.ttc"),), use_fc_match=False)


def test_found_font_is_the_cjk_collection() -> None:
    assert find_cjk_font().name == "NotoSansCJK-Regular.ttc"


def test_chinese_receipt_has_no_missing_glyph(font: PrinterFont, font_cmap: set[int]) -> None:
    text = "中国银行 自助回单 取款金额：人民币壹佰元整（￥100.00）交易成功，谢谢惠顾！"
    operations = _lines(
        ("银行回单", ops.TextStyle(chinese=True, width=2, height=2, align=Align.CENTER)),
        (text, CN),
        ("账号 6222 **** **** 1234", ops.TextStyle(chinese=True, bold=True)),
    )
    result = render(operations, font=font)
    assert result.missing_glyphs == frozenset()
    wanted = {ch for op in operations if isinstance(op, ops.Text) for ch in op.text if ch != " "}
    assert result.drawn == wanted
    assert all(ord(ch) in font_cmap for ch in result.drawn)
    # Every character left black dots in its cell.
    pixels = np.asarray(result.image)
    laid = layout(operations)
    top = 0
    for row in laid.rows:
        assert isinstance(row, TextRow)
        for cell in row.cells:
            if cell.char != " ":
                x0 = row.offset + cell.x
                y0 = top + row.height - cell.height
                assert (pixels[y0 : y0 + cell.height, x0 : x0 + cell.width] == 0).any(), cell
        top += row.advance


def test_character_without_glyph_is_blank_and_reported(font: PrinterFont) -> None:
    missing = "\U0001f600"  # an emoji: wide, not in the font
    assert not font.covers(missing)
    result = render(_lines(("A" + missing + "B", ops.TextStyle())), font=font)
    assert result.missing_glyphs == {missing}
    assert missing not in result.drawn
    pixels = np.asarray(result.image)
    assert (pixels[0:24, 12:36] == 255).all()  # its 24-dot cell is blank, not a box
    assert (pixels[0:24, 0:12] == 0).any()
    assert (pixels[0:24, 36:48] == 0).any()


# --- layout, column for column -----------------------------------------------------------

_CHARS = st.sampled_from(list("ABCxyz019 -.:/*") + list("中文银行取款￥，。°×"))
_RUN = st.tuples(st.text(_CHARS, min_size=0, max_size=40), st.sampled_from([1, 2]))
_LINE = st.tuples(st.lists(_RUN, min_size=1, max_size=4), st.sampled_from(list(Align)))


def _expected_rows(runs: list[tuple[str, int]], columns: int) -> list[list[tuple[str, int]]]:
    """How a printer fills its rows: characters left to right; one that does not fit in
    the columns left starts the next row. (char, columns) per character."""
    rows: list[list[tuple[str, int]]] = [[]]
    used = 0
    for text, width in runs:
        for ch in text:
            span = (2 if ord(ch) >= 0x80 else 1) * width  # Chinese mode: GB18030 2-byte
            if used + span > columns and rows[-1]:
                rows.append([])
                used = 0
            rows[-1].append((ch, span))
            used += span
    return rows


@settings(max_examples=60, deadline=None)
@given(lines=st.lists(_LINE, min_size=1, max_size=4), dots=st.sampled_from([576, 384]))
def test_text_rendering_column_for_column(
    lines: list[tuple[list[tuple[str, int]], Align]], dots: int
) -> None:
    columns = dots // 12
    operations: list[ops.Operation] = []
    expected: list[str] = []
    for runs, align in lines:
        for text, width in runs:
            operations.append(ops.Text(text, ops.TextStyle(width=width, align=align, chinese=True)))
        operations.append(ops.LineFeed())
        for row in _expected_rows(runs, columns):
            used = sum(span for _, span in row)
            assert used <= columns
            pad = {Align.LEFT: 0, Align.CENTER: (columns - used) // 2, Align.RIGHT: columns - used}
            shown = "".join(ch + " " * (span - display_width(ch)) for ch, span in row)
            expected.append(" " * (pad[align] if row else 0) + shown)
    laid = layout(operations, dots)
    assert laid.pending is None
    got = text_lines(laid.rows, dots)
    assert got == expected
    for line in got:
        assert display_width(line) <= columns
    # What was sent is what the rows hold, in order.
    sent = "".join(op.text for op in operations if isinstance(op, ops.Text))
    assert "".join(row.text for row in laid.rows if isinstance(row, TextRow)) == sent


def test_full_line_then_lf_is_one_line() -> None:
    laid = layout(_lines(("-" * 48, ops.TextStyle()), ("x" * 49, ops.TextStyle())))
    assert text_lines(laid.rows) == ["-" * 48, "x" * 48, "x"]
    laid = layout(_lines(("-" * 32, ops.TextStyle())), 384)
    assert text_lines(laid.rows, 384) == ["-" * 32]


def test_wide_character_never_split_across_the_edge() -> None:
    laid = layout(_lines(("x" * 47 + "中", CN)))
    assert text_lines(laid.rows) == ["x" * 47, "中"]
    laid = layout(_lines(("x" * 31 + "中", CN)), 384)
    assert text_lines(laid.rows, 384) == ["x" * 31, "中"]


def test_marks_feeds_cut_and_pending_line() -> None:
    operations: list[ops.Operation] = [
        ops.Text("TOTAL", ops.TextStyle()),
        ops.PrintAndFeed(lines=3),
        ops.Barcode("CODE128", b"{BAB-12", 73, hri=HriPosition.BELOW),
        ops.QrCode(b"TXN:0001", module_size=3),
        ops.RasterImage(8, 2, b"\xff\x81"),
        ops.PrintAndFeed(lines=2),
        ops.Cut(partial=True),
        ops.Cut(),
        ops.Text("half a li", ops.TextStyle()),
    ]
    result = render(operations, paper_out=True)
    assert result.lines == (
        "TOTAL",
        "",
        "",
        "[CODE128: AB-12]",
        "[QR: TXN:0001]",
        "[image 8x2]",
        "",
        "",
        "[PARTIAL CUT]",
        "[CUT]",
        "half a li",
        "[PAPER OUT]",
    )
    assert result.pending
    kinds = [p.kind for p in result.placements]
    assert kinds == [
        "text",
        "barcode",
        "qr",
        "image",
        "feed",
        "cut",
        "cut",
        "pending",
        "paper_out",
    ]
    assert [result.lines[p.line] for p in result.placements][-2:] == ["half a li", "[PAPER OUT]"]


# --- barcodes ---------------------------------------------------------------------------


def test_code128_table_matches_python_barcode() -> None:
    stop = "".join(
        ("1" if i % 2 == 0 else "0") * int(w) for i, w in enumerate(CODE128_PATTERNS[106])
    )
    ours = [
        "".join(("1" if i % 2 == 0 else "0") * int(w) for i, w in enumerate(p))
        for p in CODE128_PATTERNS[:106]
    ]
    assert ours == list(pb_code128.CODES)
    assert stop.startswith(pb_code128.STOP)


@settings(max_examples=80, deadline=None)
@given(
    text=st.text(
        st.characters(min_codepoint=0x20, max_codepoint=0x7E, exclude_characters="0123456789{"),
        min_size=1,
        max_size=30,
    )
)
def test_code128_set_b_symbol_matches_python_barcode(text: str) -> None:
    reference = barcode.get("code128", text).build()[0]
    assert code128_modules(b"{B" + text.encode()) == reference


def test_code128_code_set_c_matches_python_barcode() -> None:
    # python-barcode switches "A1234B" to code set C for the digits; the ESC/POS stream
    # says so itself.
    reference = barcode.get("code128", "A1234B").build()[0]
    assert code128_modules(b"{BA{C\x0c\x22{BB") == reference
    assert code128_values(b"{C\x0c\x22")[:3] == [105, 12, 34]


@settings(max_examples=60, deadline=None)
@given(digits=st.text(st.sampled_from("0123456789"), min_size=12, max_size=12))
def test_ean13_matches_python_barcode(digits: str) -> None:
    reference = barcode.get("ean13", digits)
    modules, full = ean13_modules(digits.encode())
    assert full == reference.get_fullcode()
    assert modules == reference.build()[0]


@pytest.mark.parametrize("dots", [576, 384])
@pytest.mark.parametrize(
    ("symbology", "data", "expected_hri"),
    [("CODE128", b"{BATM-b7", "ATM-b7"), ("EAN13", b"400638133393", "4006381333931")],
)
def test_barcode_bars_in_the_png(
    dots: int, symbology: str, data: bytes, expected_hri: str, font: PrinterFont
) -> None:
    module_width = 2
    op = ops.Barcode(
        symbology,
        data,
        73,
        height=50,
        module_width=module_width,
        hri=HriPosition.BELOW,
        align=Align.CENTER,
    )
    result = render([op], dots, font=font)
    (placement,) = result.placements
    left, top, right, bottom = placement.box
    if symbology == "CODE128":
        reference = barcode.get("code128", expected_hri).build()[0]
    else:
        reference = barcode.get("ean13", expected_hri[:12]).build()[0]
    assert right - left == len(reference) * module_width
    assert left == (dots - (right - left)) // 2
    pixels = np.asarray(result.image)
    for y in (top, (top + bottom) // 2, bottom - 1):
        scan = "".join("1" if v == 0 else "0" for v in pixels[y, left:right:module_width])
        assert scan == reference
    assert (pixels[top:bottom, :left] == 255).all()
    assert (pixels[top:bottom, right:] == 255).all()
    # The HRI text is drawn under the bars.
    assert set(expected_hri) <= result.drawn
    assert (pixels[bottom:, left:right] == 0).any()


def test_barcode_wider_than_the_paper_is_not_printed() -> None:
    op = ops.Barcode("CODE128", b"{B" + b"W" * 40, 73, module_width=6)
    result = render([op], 384)
    assert result.placements == ()
    assert "wide" in result.problems[0]


# --- QR codes ---------------------------------------------------------------------------


def _decode_qr(result: Rendering, box: tuple[int, int, int, int]) -> str:
    left, top, right, bottom = box
    crop = result.image.crop((left, top, right, bottom))
    border = 4 * ((right - left) // 25 or 1)
    framed = Image.new("L", (crop.width + 2 * border, crop.height + 2 * border), 255)
    framed.paste(crop, (border, border))
    framed = framed.resize((framed.width * 2, framed.height * 2), Image.Resampling.NEAREST)
    text, _, _ = cv2.QRCodeDetector().detectAndDecode(np.asarray(framed))
    return str(text)


@pytest.mark.parametrize("dots", [576, 384])
@pytest.mark.parametrize(("ecc", "size"), [(QrErrorCorrection.L, 3), (QrErrorCorrection.H, 6)])
def test_qr_decodes_back_to_its_payload(dots: int, ecc: QrErrorCorrection, size: int) -> None:
    payload = "TXN:20261129-0001;AMT:100.00;CUR:CNY"
    op = ops.QrCode(payload.encode(), module_size=size, error_correction=ecc, align=Align.RIGHT)
    result = render([ops.Text("QR", ops.TextStyle()), ops.LineFeed(), op], dots)
    placement = next(p for p in result.placements if p.kind == "qr")
    left, top, right, _bottom = placement.box
    expected = segno.make(payload, error=ecc.value, boost_error=False)
    assert right - left == expected.symbol_size(border=0)[0] * size
    assert right == dots  # right-aligned
    assert _decode_qr(result, placement.box) == payload
    # Module for module the same matrix as segno's at that ECC level.
    pixels = np.asarray(result.image)
    matrix = [
        [pixels[top + r * size, left + c * size] == 0 for c in range(len(row))]
        for r, row in enumerate(expected.matrix)
    ]
    assert matrix == [[bool(v) for v in row] for row in expected.matrix]


# --- images -----------------------------------------------------------------------------


@pytest.mark.parametrize("dots", [576, 384])
@pytest.mark.parametrize("align", list(Align))
@pytest.mark.parametrize(("sx", "sy"), [(1, 1), (2, 2)])
def test_image_placed_at_its_dots(dots: int, align: Align, sx: int, sy: int) -> None:
    width, height = 21, 7
    rows = []
    for y in range(height):
        bits = [(x * 7 + y * 3) % 5 == 0 for x in range(width)]
        row = bytearray((width + 7) // 8)
        for x, bit in enumerate(bits):
            if bit:
                row[x // 8] |= 0x80 >> (x % 8)
        rows.append(bytes(row))
    image = ops.RasterImage(width, height, b"".join(rows), scale_x=sx, scale_y=sy, align=align)
    result = render([ops.Text("top", ops.TextStyle()), ops.LineFeed(), image], dots)
    placement = next(p for p in result.placements if p.kind == "image")
    left, top, right, bottom = placement.box
    expected_left = {
        Align.LEFT: 0,
        Align.CENTER: (dots - width * sx) // 2,
        Align.RIGHT: dots - width * sx,
    }
    assert (left, top, right, bottom) == (
        expected_left[align],
        30,
        expected_left[align] + width * sx,
        30 + height * sy,
    )
    pixels = np.asarray(result.image)
    for y in range(height * sy):
        for x in range(width * sx):
            assert (pixels[top + y, left + x] == 0) == image.dot(x // sx, y // sy)
    assert result.lines[-1] == f"[image {width * sx}x{height * sy}]"


def test_png_out_is_one_bit_at_203_dpi(tmp_path: Path) -> None:
    result = render(_lines(("Receipt 回单", CN)), 384)
    path = tmp_path / "r.png"
    result.save_png(path)
    with Image.open(path) as png:
        assert png.mode == "1"
        assert png.width == 384
        assert round(png.info["dpi"][0]) == 203


def test_styles_draw_as_a_printer_does(font: PrinterFont) -> None:
    plain = render(_lines(("H", ops.TextStyle())), font=font)
    bold = render(_lines(("H", ops.TextStyle(bold=True))), font=font)
    under = render(_lines(("H", ops.TextStyle(underline=Underline.DOUBLE))), font=font)
    big = render(_lines(("H", ops.TextStyle(width=2, height=2))), font=font)
    inverted = render(_lines(("H", ops.TextStyle(invert=True))), font=font)
    p = np.asarray(plain.image)[:24, :12] == 0
    b = np.asarray(bold.image)[:24, :12] == 0
    assert b.sum() > p.sum()
    assert (b | p).sum() == b.sum()
    u = np.asarray(under.image)[:24, :12] == 0
    assert u[22:24].all()
    assert not p[22:24].all()
    g = np.asarray(big.image)[:48, :24] == 0
    assert (g[::2, ::2] == p).all()  # each dot doubled both ways
    assert big.placements[0].box == (0, 0, 24, 48)
    i = np.asarray(inverted.image)[:24, :12] == 0
    assert (i == ~p).all()


def test_unknown_width_is_refused() -> None:
    with pytest.raises(ValueError, match="576 or 384"):
        render([], 512)
