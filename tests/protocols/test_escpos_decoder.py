"""The ESC/POS stream decoder: golden byte dumps (ecosystem.md 7, protocols.md 5.1),
python-escpos 3.1 as an independent client, streaming equal to whole-buffer in any
chunking, truncation messages, and fuzzing (nothing but ProtocolError ever)."""

from __future__ import annotations

import contextlib
import io

import pytest
from escpos.printer import Dummy
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image as PilImage

from protocols.errors import ProtocolError
from protocols.escpos import encode
from protocols.escpos_decoder import EscPosDecoder, decode
from protocols.escpos_ops import (
    Align,
    Barcode,
    CarriageReturn,
    ChineseMode,
    CodePageSelect,
    Cut,
    CutCommand,
    Font,
    HriPosition,
    Initialize,
    LineFeed,
    LineSpacing,
    Operation,
    OtherCommand,
    Presenter,
    PrintAndFeed,
    ProcessIdRequest,
    QrCode,
    QrErrorCorrection,
    RasterImage,
    StatusKind,
    StatusRequest,
    Tab,
    Text,
    TextStyle,
    Underline,
    Unknown,
)
from protocols.print_document import Document, Line
from protocols.print_document import QrCode as DocQr

# ecosystem.md 7: python-escpos 3.1 Dummy output, quoted byte for byte [S].
RECEIPT_132 = bytes.fromhex(
    "1b2100 1b2100 1b2110 1b4501 1b6101 1b7400"
    + b"SMART TELLER".hex()
    + "0a 1b2100 1b2100 1b2100 1b6100"
    + b"Withdrawal  100.00 EUR".hex()
    + "0a 1d286b 0400 314132 00 1d286b 0300 314304 1d286b 0300 314530"
    + "1d286b 1600 3150 30"
    + b"TXN:0001;AMT:100.00".hex()
    + "1d286b 0300 315130 1b6406 1d5600"
)
EAN13_STREAM = bytes.fromhex(
    "1b6101 1d6840 1d7703 1d6600 1d4802 1d6b02" + b"4006381333931".hex() + "00 1b6406 1d5601"
)


def texts(decoded: list[Operation]) -> list[str]:
    return [op.text for op in decoded if isinstance(op, Text)]


def test_the_132_byte_receipt_of_ecosystem_7() -> None:
    assert len(RECEIPT_132) == 132
    decoded = decode(RECEIPT_132)
    title = TextStyle(bold=True, height=2, align=Align.CENTER)
    assert decoded == [
        CodePageSelect(0, "cp437"),
        Text("SMART TELLER", title),
        LineFeed(),
        # ESC ! 0 resets bold along with the sizes (Epson: ESC ! sets all its modes).
        Text("Withdrawal  100.00 EUR", TextStyle()),
        LineFeed(),
        QrCode(b"TXN:0001;AMT:100.00", 2, 4, QrErrorCorrection.L, Align.LEFT),
        PrintAndFeed(lines=6),
        Cut(partial=False),
    ]


def test_python_escpos_still_makes_the_132_byte_receipt() -> None:
    printer = Dummy()
    printer.set(align="center", bold=True, double_height=True)
    printer.text("SMART TELLER\n")
    printer.set(align="left", normal_textsize=True)
    printer.text("Withdrawal  100.00 EUR\n")
    printer.qr("TXN:0001;AMT:100.00", native=True, size=4)
    printer.cut()
    assert printer.output == RECEIPT_132


def test_the_ean13_stream_of_ecosystem_7() -> None:
    decoded = decode(EAN13_STREAM)
    barcode = Barcode("EAN13", b"4006381333931", 2, 64, 3, HriPosition.BELOW, 0, Align.CENTER)
    assert decoded == [barcode, PrintAndFeed(lines=6), Cut(partial=True)]
    assert barcode.text == "4006381333931"
    printer = Dummy()
    printer.barcode("4006381333931", "EAN13")
    printer.cut(mode="PART")
    assert printer.output == EAN13_STREAM


def test_protocols_5_1_cuts_and_status_requests() -> None:
    stream = bytes.fromhex(
        "1d5600 1d5630 1d5601 1d5631 1d564105 1d564207 1b69 1b6d"
        "100401 100402 100403 100404 100414 1d7201 1d4901 1b76"
        "1d6502 1d65030c 1d6505"
    )
    assert decode(stream) == [
        Cut(False),
        Cut(False),
        Cut(True),
        Cut(True),
        Cut(False, 5),
        Cut(True, 7),
        Cut(False, command=CutCommand.ESC_I),
        Cut(True, command=CutCommand.ESC_M),
        *(StatusRequest(StatusKind.REAL_TIME, n) for n in (1, 2, 3, 4, 0x14)),
        StatusRequest(StatusKind.TRANSMIT, 1),
        StatusRequest(StatusKind.PRINTER_ID, 1),
        StatusRequest(StatusKind.PAPER_LEGACY, 0),
        Presenter(2),
        Presenter(3, b"\x0c"),
        Presenter(5),
    ]


def test_raster_image_per_5_1() -> None:
    # GS v 0 m xL xH yL yH: x bytes per row, y rows, MSB the left-most dot.
    decoded = decode(bytes.fromhex("1b6102 1d7630 01 0200 0300 8001 0000 ffff"))
    assert len(decoded) == 1
    image = decoded[0]
    assert isinstance(image, RasterImage)
    assert (image.width, image.height, image.scale_x, image.scale_y) == (16, 3, 2, 1)
    assert image.align is Align.RIGHT
    assert [image.dot(x, 0) for x in (0, 1, 15)] == [True, False, True]
    assert not any(image.dot(x, 1) for x in range(16))


def test_styles_are_carried_on_text() -> None:
    stream = bytes.fromhex(
        "1b2d01 41 1b2d00 1b2189 42 1b4d00 1d2132 43 1d4201 1b7b01 44 1b40 45 1b5601 46"
    )
    assert decode(stream) == [
        Text("A", TextStyle(underline=Underline.SINGLE)),
        Text("B", TextStyle(bold=True, underline=Underline.SINGLE, font=Font.B)),
        Text("C", TextStyle(bold=True, underline=Underline.SINGLE, width=4, height=3)),
        Text("D", TextStyle(True, Underline.SINGLE, 4, 3, invert=True, upside_down=True)),
        Initialize(),
        Text("E", TextStyle()),
        Text("F", TextStyle(rotated=True)),
    ]


def test_one_style_is_one_run_and_controls_split_text() -> None:
    decoded = decode(b"ab\x1bE\x01\x1bE\x01cd\x1bE\x00\x1bE\x00ef\r\tg")
    assert decoded == [
        Text("ab"),
        Text("cd", TextStyle(bold=True)),
        Text("ef"),
        CarriageReturn(),
        Tab(),
        Text("g"),
    ]


def test_chinese_mode_and_code_pages() -> None:
    stream = (
        b"\x1c&"
        + "取款 100 元".encode("gb18030")
        + b"\n\x1c.\x1bt\x13"
        + "€ Grüße".encode("cp858")
        + b"\x1bt\x07\x80"
    )
    decoded = decode(stream)
    assert decoded[0] == ChineseMode(True)
    assert decoded[1] == Text("取款 100 元", TextStyle(chinese=True, encoding="gb18030"))
    assert decoded[3:6] == [
        ChineseMode(False),
        CodePageSelect(19, "cp858"),
        Text("€ Grüße", TextStyle(code_page=19, encoding="cp858")),
    ]
    # A table with no Python codec: kept as selected, text read as cp437.
    assert decoded[6:] == [CodePageSelect(7, None), Text("Ç", TextStyle(code_page=7))]


def test_barcodes_in_both_forms_with_the_settings_in_force() -> None:
    stream = bytes.fromhex("1d6850 1d7702 1d4833 1d6631 1b6102 1d6b49 07 7b42 41 7b43 0c22")
    stream += bytes.fromhex("1d6b04") + b"CODE39" + b"\x00"
    first, second = decode(stream)
    assert first == Barcode(
        "CODE128", b"{BA{C\x0c\x22", 73, 80, 2, HriPosition.BOTH, 1, Align.RIGHT
    )
    assert first.text == "A1234"
    assert isinstance(second, Barcode)
    assert (second.symbology, second.text, second.m) == ("CODE39", "CODE39", 4)


def test_qr_settings_and_other_2d_codes() -> None:
    stream = bytes.fromhex(
        "1d286b 0400 314131 00 1d286b 0300 314310 1d286b 0300 314533"
        "1d286b 0500 315030 6869 1d286b 0300 315130"
        "1d286b 0300 305130"  # cn 48: PDF417 print
        "1d286b 0300 315230"  # QR fn 82: transmit size
    )
    qr, pdf, size = decode(stream)
    assert qr == QrCode(b"hi", 1, 16, QrErrorCorrection.H, Align.LEFT)
    assert pdf == OtherCommand("GS ( k", bytes.fromhex("1d286b 0300 305130"))
    assert isinstance(size, OtherCommand)
    # Print with nothing stored: an empty payload (a printer prints nothing).
    assert decode(bytes.fromhex("1d286b 0300 315130")) == [QrCode(b"")]


def test_process_id_line_spacing_feeds_and_others() -> None:
    stream = bytes.fromhex(
        "1d2848 0600 3030 41424344 1b33 18 1b32 1b4a 10 1b7000 19fa 1d4c 2000 1b52 03 0c 18"
    )
    assert decode(stream) == [
        ProcessIdRequest(b"ABCD"),
        LineSpacing(24),
        LineSpacing(None),
        PrintAndFeed(dots=16),
        OtherCommand("ESC p", bytes.fromhex("1b7000 19fa")),
        OtherCommand("GS L", bytes.fromhex("1d4c 2000")),
        OtherCommand("ESC R", bytes.fromhex("1b52 03")),
        OtherCommand("FF", b"\x0c"),
        OtherCommand("CAN", b"\x18"),
    ]


def test_unknown_commands_are_kept_with_their_bytes() -> None:
    assert decode(b"\x1b\x01A\x1d\xffB\x00\x10\x99") == [
        Unknown(b"\x1b\x01"),
        Text("A"),
        Unknown(b"\x1d\xff"),
        Text("B"),
        Unknown(b"\x00"),
        Unknown(b"\x10\x99"),
    ]


@pytest.mark.parametrize(
    ("stream", "message"),
    [
        (b"\x1b", "ESC at byte 0 needs 1 more byte"),
        (b"ab\x1b!", "ESC ! at byte 2 needs 1 more byte"),
        (bytes.fromhex("1d286b 1600 3150 30") + b"TXN", "GS ( k at byte 0 needs 16 more bytes"),
        (bytes.fromhex("1d7630 00 0200 0300 00"), "GS v 0 (raster image) at byte 0 needs 5 more"),
        (bytes.fromhex("1d6b02") + b"400638", "GS k (m=2) at byte 0 needs 1 more byte (its NUL"),
        (bytes.fromhex("0a 1d6b49 05") + b"{B", "GS k (m=73) at byte 1 needs 3 more bytes"),
        (bytes.fromhex("1d5641"), "GS V at byte 0 needs 1 more byte"),
        (bytes.fromhex("1004"), "DLE EOT at byte 0 needs 1 more byte"),
    ],
)
def test_truncation_names_the_command_and_the_missing_bytes(stream: bytes, message: str) -> None:
    with pytest.raises(ProtocolError, match=message.replace("(", r"\(").replace(")", r"\)")):
        decode(stream)
    decoder = EscPosDecoder()
    decoder.feed(stream)  # held, not an error yet
    assert decoder.pending > 0
    with pytest.raises(ProtocolError, match="truncated ESC/POS stream"):
        decoder.finish()


def test_nul_barcode_without_terminator_is_an_error_at_once() -> None:
    with pytest.raises(ProtocolError, match="no NUL terminator within 255"):
        EscPosDecoder().feed(bytes.fromhex("1d6b04") + b"A" * 300)


def test_streaming_holds_text_and_commands_until_complete() -> None:
    decoder = EscPosDecoder()
    assert decoder.feed(b"\x1c&" + "取".encode("gb18030")[:1]) == [ChineseMode(True)]
    assert decoder.feed("取".encode("gb18030")[1:] + b"\x1d(k\x05\x00") == []
    gb = TextStyle(chinese=True, encoding="gb18030")
    assert decoder.feed(b"1P0hi\n") == [Text("取", gb), LineFeed()]
    assert decoder.feed(bytes.fromhex("1d286b 0300 315130") + b"ab") == [QrCode(b"hi")]
    assert decoder.finish() == [Text("ab", gb)]


# ----------------------------------------------------------------------------- python-escpos


def test_python_escpos_text_styles() -> None:
    printer = Dummy()
    printer.set(underline=2, double_width=True, font="b", invert=True, align="right")
    printer.text("Styled")
    printer.set(custom_size=True, width=3, height=4)
    printer.text("Big\n")
    printer.set(normal_textsize=True)
    printer.textln("Grüße €")
    decoded = decode(printer.output)
    assert texts(decoded) == ["Styled", "Big", "Grüße ", "€"]
    styled, big = (op for op in decoded if isinstance(op, Text) and op.text in ("Styled", "Big"))
    assert styled.style.underline is Underline.DOUBLE
    assert styled.style.width == 2
    assert styled.style.font is Font.B
    assert styled.style.invert
    assert styled.style.align is Align.RIGHT
    assert (big.style.width, big.style.height) == (3, 4)


@settings(max_examples=40, deadline=None)
@given(st.text(st.characters(codec="cp1252", exclude_categories=("Cc",)), min_size=1, max_size=30))
def test_python_escpos_text_in_its_chosen_code_pages(line: str) -> None:
    # python-escpos picks a code page per character (ESC t n from its own table);
    # our table must read each back to the same text.
    printer = Dummy()
    printer.textln(line)
    assert "".join(texts(decode(printer.output))) == line


@pytest.mark.parametrize("data", ["TXN:0001;AMT:100.00", "https://example.com/r?id=42", "取款 100"])
@pytest.mark.parametrize("size", [1, 3, 8, 16])
def test_python_escpos_native_qr_payloads(data: str, size: int) -> None:
    printer = Dummy()
    printer.qr(data, native=True, size=size, ec=3)
    (qr,) = (op for op in decode(printer.output) if isinstance(op, QrCode))
    assert qr.data.decode("utf-8") == data
    assert qr.module_size == size
    assert qr.error_correction is QrErrorCorrection.H


def test_python_escpos_image_qr_is_a_raster_image() -> None:
    printer = Dummy()
    printer.qr("TXN:0001", native=False)
    images = [op for op in decode(printer.output) if isinstance(op, RasterImage)]
    assert len(images) == 1
    assert images[0].command == "GS v 0"


def test_python_escpos_barcodes() -> None:
    printer = Dummy()
    printer.barcode("{BTELLER-42", "CODE128", function_type="B", height=100, width=4, pos="ABOVE")
    printer.barcode("4006381333931", "EAN13")
    printer.barcode("96385074", "EAN8", function_type="B")
    barcodes = [op for op in decode(printer.output) if isinstance(op, Barcode)]
    assert [(b.symbology, b.text) for b in barcodes] == [
        ("CODE128", "TELLER-42"),
        ("EAN13", "4006381333931"),
        ("EAN8", "96385074"),
    ]
    assert (barcodes[0].height, barcodes[0].module_width, barcodes[0].hri) == (
        100,
        4,
        HriPosition.ABOVE,
    )


def _checker(width: int, height: int) -> PilImage.Image:
    image = PilImage.new("1", (width, height), 1)
    for y in range(height):
        for x in range(width):
            if (x * 7 + y * 3) % 5 == 0:
                image.putpixel((x, y), 0)  # black
    return image


def _black(image: PilImage.Image, x: int, y: int) -> bool:
    return image.getpixel((x, y)) == 0


@pytest.mark.parametrize(("width", "height"), [(20, 5), (64, 30), (9, 1)])
def test_python_escpos_raster_images(width: int, height: int) -> None:
    picture = _checker(width, height)
    printer = Dummy()
    printer.image(picture)
    (image,) = (op for op in decode(printer.output) if isinstance(op, RasterImage))
    assert (image.width, image.height) == ((width + 7) // 8 * 8, height)
    assert all(
        image.dot(x, y) == _black(picture, x, y) for y in range(height) for x in range(width)
    )


def test_python_escpos_column_images_are_converted_to_rows() -> None:
    picture = _checker(20, 30)
    printer = Dummy()
    printer.image(picture, impl="bitImageColumn")
    stripes = [op for op in decode(printer.output) if isinstance(op, RasterImage)]
    assert [(s.command, s.width, s.height, s.mode) for s in stripes] == [("ESC *", 20, 24, 33)] * 2
    rows = [[s.dot(x, y) for x in range(20)] for s in stripes for y in range(24)]
    assert rows[:30] == [[_black(picture, x, y) for x in range(20)] for y in range(30)]


def test_python_escpos_graphics_and_cuts() -> None:
    printer = Dummy()
    printer.image(_checker(16, 4), impl="graphics")  # GS ( L: stored NV graphics
    printer.cut(mode="PART", feed=False)
    printer.cut()
    decoded = decode(printer.output)
    assert [op.name for op in decoded if isinstance(op, OtherCommand)] == ["GS ( L", "GS ( L"]
    cuts = [op for op in decoded if isinstance(op, Cut)]
    assert cuts == [Cut(partial=True, feed=0), Cut(partial=False)]


# ----------------------------------------------------------------------------- streaming, fuzz


def _chunks(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({min(c, len(data)) for c in cuts})
    pieces, start = [], 0
    for point in points:
        pieces.append(data[start:point])
        start = point
    pieces.append(data[start:])
    return pieces


def _stream(pieces: list[bytes]) -> list[Operation]:
    decoder = EscPosDecoder()
    out: list[Operation] = []
    for piece in pieces:
        out += decoder.feed(piece)
    return out + decoder.finish()


def _sample_stream() -> bytes:
    doc = Document(
        (
            Line.of("收据 RECEIPT", bold=True),
            Line.of("金额 100.00"),
            DocQr("TXN:0001;AMT:100.00"),
        )
    )
    return encode(doc) + RECEIPT_132 + EAN13_STREAM + bytes.fromhex("1b2a21 0200 ffffff 000000")


@settings(max_examples=120, deadline=None)
@given(st.lists(st.integers(0, 600), max_size=12))
def test_any_chunking_equals_the_whole_buffer(cuts: list[int]) -> None:
    data = _sample_stream()
    assert _stream(_chunks(data, cuts)) == decode(data)


def test_byte_by_byte_equals_the_whole_buffer() -> None:
    data = _sample_stream()
    assert _stream([bytes((b,)) for b in data]) == decode(data)


FRAGMENTS = [
    b"\x1b",
    b"\x1d",
    b"\x1c",
    b"\x10",
    b"\x1d(k",
    b"\x1dv0",
    b"\x1dk",
    b"\x1b*",
    b"\x1c&",
    b"\x1c.",
    b"\x1bt",
    b"\x1d(H",
    b"\x1b&",
    b"\x1bD",
    b"\x1d8L",
    b"\x03\x00",
    b"\x00",
    b"\n",
    "取".encode("gb18030"),
    b"\x81",
    b"A",
]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(FRAGMENTS) | st.binary(max_size=6), max_size=40))
def test_fuzz_only_protocol_errors_and_streaming_agrees(parts: list[bytes]) -> None:
    data = b"".join(parts)
    try:
        whole: list[Operation] | None = decode(data)
    except ProtocolError:
        whole = None
    try:
        streamed: list[Operation] | None = _stream(parts)
    except ProtocolError:
        streamed = None
    assert streamed == whole


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_fuzz_random_bytes(data: bytes) -> None:
    with contextlib.suppress(ProtocolError):
        decode(data)


def test_decoder_reads_a_big_stream_in_small_chunks_quickly() -> None:
    # A 64 KB image fed 64 bytes at a time must not re-copy the held bytes each time.
    data = bytes.fromhex("1d7630 00 4000 0004") + bytes(64 * 1024)
    stream = io.BytesIO(data)
    decoder = EscPosDecoder()
    out: list[Operation] = []
    while chunk := stream.read(64):
        out += decoder.feed(chunk)
    assert len(out) == 1
    assert isinstance(out[0], RasterImage)
    assert out[0].height == 1024


def test_del_is_not_text_and_code_pages_wait_for_chinese_mode_to_end() -> None:
    assert decode(b"a\x7fb") == [Text("a"), Unknown(b"\x7f"), Text("b")]
    assert decode(b"\x1c&\x1bt\x10" + "元".encode("gb18030") + b"\x1c.\x80") == [
        ChineseMode(True),
        CodePageSelect(16, "cp1252"),
        Text("元", TextStyle(code_page=16, chinese=True, encoding="gb18030")),
        ChineseMode(False),
        Text("€", TextStyle(code_page=16, encoding="cp1252")),
    ]
