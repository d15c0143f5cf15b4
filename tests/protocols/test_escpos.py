"""The ESC/POS encoder: exact bytes for each block (protocols.md 5.1 and the Epson
reference), errors for what a printer cannot print, and encode -> decode round trips
for hypothesis-generated documents."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocols import escpos_ops as ops
from protocols.escpos import block_ident, encode, encode_blocks, text_columns
from protocols.escpos_commands import CODE_PAGE_TABLE, TABLE_ENCODINGS, process_id_command
from protocols.escpos_decoder import EscPosDecoder, decode
from protocols.print_document import (
    Align,
    Barcode,
    Block,
    CodePage,
    Cut,
    Document,
    Feed,
    HriPosition,
    Image,
    Line,
    QrCode,
    QrErrorCorrection,
    Rule,
    Symbology,
    TextRun,
    Underline,
)

INIT_CP437 = bytes.fromhex("1b40 1b7400")


def body(*blocks: Block, page: CodePage = CodePage.CP437) -> bytes:
    """The stream after the prelude."""
    parts = encode_blocks(Document(blocks, page))
    return b"".join(parts[1:])


def test_prelude_selects_the_code_page() -> None:
    # ESC t n per Epson's table: PC437 0, WPC1252 16, PC858 19; FS & for GB18030.
    assert encode(Document((), CodePage.CP437)) == INIT_CP437
    assert encode(Document((), CodePage.CP1252)) == bytes.fromhex("1b40 1b7410")
    assert encode(Document((), CodePage.CP858)) == bytes.fromhex("1b40 1b7413")
    assert encode(Document((), CodePage.GB18030)) == bytes.fromhex("1b40 1c26")


def test_code_page_numbers_agree_with_python_escpos_profiles() -> None:
    # An independent table: python-escpos's capability database (escpos-printer-db).
    from escpos.capabilities import get_profile

    def norm(name: str) -> str:
        return name.replace("_", "").replace("-", "").lower()

    pages = get_profile("default").profile_data["codePages"]
    for number, codec in TABLE_ENCODINGS.items():
        assert norm(pages[str(number)]) == norm(codec), number
    for page, number in CODE_PAGE_TABLE.items():
        assert pages[str(number)].lower() == page.value


def test_line_styles_are_sent_on_change_only() -> None:
    line = Line(
        (
            TextRun("A", bold=True),
            TextRun("B", bold=True, underline=Underline.DOUBLE),
            TextRun("C", double_width=True, double_height=True),
        ),
        Align.CENTER,
    )
    assert body(line, Line.of("D")) == bytes.fromhex(
        "1b6101 1b4501 41 1b2d02 42 1b4500 1b2d00 1d2111 43 0a"  # ESC a 1, ESC E, ESC -, GS !
        "1b6100 1d2100 44 0a"
    )


def test_text_in_gb18030_and_the_code_pages() -> None:
    assert body(Line.of("取款 ¥"), page=CodePage.GB18030) == "取款 ¥".encode("gb18030") + b"\n"
    assert body(Line.of("Grüße €"), page=CodePage.CP858) == b"Gr\x81\xe1e \xd5\n"
    assert body(Line.of("Grüße €"), page=CodePage.CP1252) == b"Gr\xfc\xdfe \x80\n"


def test_unencodable_text_names_the_character_and_the_page() -> None:
    with pytest.raises(ValueError, match=r"U\+20AC is not in code page cp437"):
        encode(Document((Line.of("100 €"),), CodePage.CP437))
    with pytest.raises(ValueError, match="no code page gb18030"):
        encode(Document((), CodePage.GB18030), code_pages=frozenset({CodePage.CP437}))


def test_rule_fills_the_columns() -> None:
    assert body(Rule("-")) == b"-" * 48 + b"\n"
    assert encode_blocks(Document((Rule("="),), CodePage.CP437), columns=32)[1] == b"=" * 32 + b"\n"
    # In Chinese mode a non-ASCII character is drawn 24 dots wide: two columns.
    assert body(Rule("─"), page=CodePage.GB18030) == "─".encode("gb18030") * 24 + b"\n"
    assert text_columns("取款 OK", CodePage.GB18030) == 7
    # A rule resets the style and alignment first.
    assert (
        body(Line.of("x", bold=True, align=Align.RIGHT), Rule("*"))
        == bytes.fromhex("1b6102 1b4501 78 0a 1b6100 1b4500") + b"*" * 48 + b"\n"
    )


def test_barcodes_use_the_length_prefixed_form() -> None:
    # GS h, GS w, GS H, GS f, GS k m=73 "{B" (protocols.md 5.1).
    assert (
        body(Barcode("AB-12", height=60, module_width=3, hri=HriPosition.ABOVE))
        == bytes.fromhex("1b6101 1d683c 1d7703 1d4801 1d6600 1d6b49 07") + b"{BAB-12"
    )
    # All digits, even count: code set C, one byte per pair.
    assert body(Barcode("123456", align=Align.LEFT)).endswith(
        bytes.fromhex("1d6b49 05 7b43 0c2238")
    )
    assert body(Barcode("a{b", align=Align.LEFT)).endswith(b"\x1dkI\x06{Ba{{b")
    # EAN13: m=67 with the digits given.
    assert body(Barcode("400638133393", Symbology.EAN13, align=Align.LEFT)).endswith(
        bytes.fromhex("1d6b43 0c") + b"400638133393"
    )


def test_qr_bytes_follow_protocols_5_1() -> None:
    qr = QrCode("TXN:0001", module_size=6, error_correction=QrErrorCorrection.Q, align=Align.LEFT)
    assert body(qr) == (
        bytes.fromhex("1d286b 0400 3141 32 00")  # model 2
        + bytes.fromhex("1d286b 0300 3143 06")  # module size
        + bytes.fromhex("1d286b 0300 3145 32")  # ECC Q
        + bytes.fromhex("1d286b 0b00 3150 30")  # store: pL = 8 + 3
        + b"TXN:0001"
        + bytes.fromhex("1d286b 0300 3151 30")  # print
    )


def test_qr_store_length_counts_utf8_bytes() -> None:
    data = "取款" * 200  # 1200 bytes: pH non-zero
    stream = body(QrCode(data, align=Align.LEFT))
    assert bytes.fromhex("1d286b b304 3150 30") + data.encode() in stream


def test_raster_image_header() -> None:
    image = Image(10, 2, bytes([0xFF, 0xC0, 0x80, 0x40]), Align.RIGHT)
    assert body(image) == bytes.fromhex("1b6102 1d7630 00 0200 0200 ffc08040")
    with pytest.raises(ValueError, match="600 dots wide"):
        encode(Document((Image(600, 1, bytes(75)),)))


def test_feed_and_cuts() -> None:
    assert body(Feed(3), Cut(), Cut(partial=True, feed=4)) == bytes.fromhex(
        "1b6403 1d5600 1b6404 1d5601"
    )


def test_blocks_are_listed_one_by_one_with_process_ids() -> None:
    doc = Document((Line.of("A"), Cut()), CodePage.CP437)
    parts = encode_blocks(doc, process_ids=True)
    assert parts == [
        INIT_CP437,
        b"A\n" + bytes.fromhex("1d2848 0600 3030 30303030"),  # GS ( H fn 48 "0000"
        bytes.fromhex("1d5600 1d2848 0600 3030 30303031"),
    ]
    assert b"".join(encode_blocks(doc)) == encode(doc)
    assert block_ident(42) == b"0042"
    with pytest.raises(ValueError, match="4 bytes"):
        process_id_command(b"\x00abc")
    assert decode(parts[1])[-1] == ops.ProcessIdRequest(b"0000")


# ----------------------------------------------------------------------------- round trips

PAGES = [CodePage.CP437, CodePage.CP858, CodePage.CP1252, CodePage.GB18030]


def _text(page: CodePage) -> st.SearchStrategy[str]:
    chars = st.characters(codec=page.value, exclude_categories=("Cc", "Cs"))
    return st.text(chars, max_size=12)


@st.composite
def documents(draw: st.DrawFn) -> Document:
    page = draw(st.sampled_from(PAGES))
    runs = st.builds(
        TextRun,
        _text(page),
        st.booleans(),
        st.sampled_from(Underline),
        st.booleans(),
        st.booleans(),
    )
    lines = st.builds(Line, st.lists(runs, max_size=4).map(tuple), st.sampled_from(Align))
    code128 = st.text(
        st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=30
    )
    barcodes = st.builds(
        Barcode,
        code128,
        st.just(Symbology.CODE128),
        st.integers(1, 255),
        st.integers(2, 6),
        st.sampled_from(HriPosition),
        st.sampled_from(Align),
    ) | st.builds(
        Barcode,
        st.text("0123456789", min_size=12, max_size=12),
        st.just(Symbology.EAN13),
        align=st.sampled_from(Align),
    )
    qrs = st.builds(
        QrCode,
        st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=40),
        st.integers(1, 16),
        st.sampled_from(QrErrorCorrection),
        st.sampled_from(Align),
    )

    @st.composite
    def images(inner: st.DrawFn) -> Image:
        width = inner(st.integers(1, 64))
        height = inner(st.integers(1, 6))
        pixels = inner(
            st.binary(min_size=(width + 7) // 8 * height, max_size=(width + 7) // 8 * height)
        )
        return Image(width, height, pixels, inner(st.sampled_from(Align)))

    blocks = st.one_of(
        lines,
        barcodes,
        qrs,
        images(),
        st.builds(Rule, st.sampled_from("-=*")),
        st.builds(Feed, st.integers(1, 255)),
        st.builds(Cut, st.booleans(), st.integers(0, 255)),
    )
    return Document(tuple(draw(st.lists(blocks, max_size=8))), page)


def _merge(runs: list[TextRun]) -> tuple[TextRun, ...]:
    merged: list[TextRun] = []
    for run in runs:
        if not run.text:
            continue
        if merged and (
            merged[-1].bold,
            merged[-1].underline,
            merged[-1].double_width,
            merged[-1].double_height,
        ) == (
            run.bold,
            run.underline,
            run.double_width,
            run.double_height,
        ):
            last = merged.pop()
            run = TextRun(
                last.text + run.text, run.bold, run.underline, run.double_width, run.double_height
            )
        merged.append(run)
    return tuple(merged)


def expected_blocks(doc: Document, columns: int = 48) -> list[Block]:
    """What a decoded stream can show of ``doc``: rules as their text, a cut's feed as a
    feed, runs of one style merged, empty lines left aligned, images padded to bytes."""
    out: list[Block] = []
    for block in doc.blocks:
        if isinstance(block, Line):
            runs = _merge(list(block.runs))
            out.append(Line(runs, block.align if runs else Align.LEFT))
        elif isinstance(block, Rule):
            count = columns // text_columns(block.char, doc.code_page)
            out.append(Line((TextRun(block.char * count),), Align.LEFT))
        elif isinstance(block, Cut) and block.feed:
            out += [Feed(block.feed), Cut(block.partial)]
        elif isinstance(block, Image):
            out.append(Image(block.row_bytes * 8, block.height, block.pixels, block.align))
        else:
            out.append(block)
    return out


def blocks_from_ops(decoded: list[ops.Operation]) -> list[Block]:
    """The document blocks an operation list shows (the inverse of the encoder)."""
    out: list[Block] = []
    runs: list[TextRun] = []
    align = Align.LEFT
    for op in decoded:
        if isinstance(op, ops.Text):
            if not runs:
                align = op.style.align
            s = op.style
            runs.append(TextRun(op.text, s.bold, s.underline, s.double_width, s.double_height))
        elif isinstance(op, ops.LineFeed):
            merged = _merge(runs)
            out.append(Line(merged, align if merged else Align.LEFT))
            runs = []
        elif isinstance(op, ops.Barcode):
            symbology = Symbology.CODE128 if op.symbology == "CODE128" else Symbology.EAN13
            out.append(Barcode(op.text, symbology, op.height, op.module_width, op.hri, op.align))
        elif isinstance(op, ops.QrCode):
            out.append(QrCode(op.data.decode(), op.module_size, op.error_correction, op.align))
        elif isinstance(op, ops.RasterImage):
            out.append(Image(op.width, op.height, op.pixels, op.align))
        elif isinstance(op, ops.PrintAndFeed):
            out.append(Feed(op.lines))
        elif isinstance(op, ops.Cut):
            out.append(Cut(op.partial))
        else:
            assert isinstance(op, ops.Initialize | ops.CodePageSelect | ops.ChineseMode), op
    assert not runs, "text without its line feed"
    return out


@settings(max_examples=80, deadline=None)
@given(documents(), st.lists(st.integers(0, 2000), max_size=6))
def test_encode_then_decode_gives_the_document_back(doc: Document, cuts: list[int]) -> None:
    data = encode(doc)
    decoded = decode(data)
    assert blocks_from_ops(decoded) == expected_blocks(doc)
    # The same stream fed in pieces decodes the same.
    decoder = EscPosDecoder()
    streamed: list[ops.Operation] = []
    for start, end in itertools.pairwise([0, *sorted(cuts), len(data)]):
        streamed += decoder.feed(data[start:end])
    assert streamed + decoder.finish() == decoded
    texts = [op for op in decoded if isinstance(op, ops.Text)]
    assert all(t.style.chinese == (doc.code_page is CodePage.GB18030) for t in texts)
