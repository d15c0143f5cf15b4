"""The simulated printer (simulator.models.printer): documents and raw streams through
one ESC/POS path, the paper (roll, near end, paper out mid-job), cover, jam, the
presenter, thresholds, and the byte-level entry's answers (golden #44)."""

from __future__ import annotations

import asyncio

import pytest
from escpos.printer import Dummy
from hypothesis import given, settings
from hypothesis import strategies as st

from hal.device import DeviceState
from hal.devices.printer import (
    Align,
    Barcode,
    CodePage,
    Cut,
    Document,
    Feed,
    Line,
    MediaControl,
    MediaPresented,
    MediaTaken,
    PaperStatus,
    PaperThreshold,
    PrinterStatus,
    PrintMediaStatus,
    QrCode,
    Rule,
    Symbology,
    TextRun,
)
from hal.errors import CoverOpen, MediaJam, NoMedia, PaperOut, UnsupportedOperation
from hal.events import Event
from protocols.escpos import encode_blocks
from protocols.escpos_decoder import decode
from protocols.escpos_status import (
    build_process_id_reply,
    parse_full_status,
    parse_paper_sensor,
    parse_real_time,
)
from simulator.models.printer import PrinterModel
from simulator.printer_text import layout, text_lines


class Listener:
    """What a service would hear."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.statuses: list[PrinterStatus] = []

    def event(self, event: Event) -> None:
        self.events.append(event)

    def status_changed(self, status: PrinterStatus) -> None:
        self.statuses.append(status)

    def thresholds(self) -> list[PaperStatus]:
        return [e.paper for e in self.events if isinstance(e, PaperThreshold)]


async def _opened(model: PrinterModel) -> Listener:
    listener = Listener()
    await model.open(listener)
    return listener


RECEIPT = Document(
    (
        Line.of("SMART TELLER", align=Align.CENTER, bold=True, double_width=True),
        Line.of("取款 Withdrawal", align=Align.LEFT),
        Line((TextRun("Amount "), TextRun("¥100.00", bold=True)), Align.RIGHT),
        Rule("-"),
        Line.of("x" * 50),
        Barcode("123456789012", Symbology.EAN13),
        QrCode("https://bank.example/r/42"),
        Feed(2),
        Cut(),
    ),
    CodePage.GB18030,
)

# Column for column, as the printer lays it out at 48 columns: the double-width title
# (12 characters = 24 columns) centred in 12 columns of margin, each character followed
# by a space; CJK characters two columns; the right-aligned line padded to column 48.
RECEIPT_LINES = [
    " " * 12 + "S M A R T   T E L L E R ",
    "取款 Withdrawal",
    # In Chinese mode every non-ASCII character (here ¥) prints 24 dots wide.
    " " * (48 - 15) + "Amount ¥ 100.00",
    "-" * 48,
    "x" * 48,
    "xx",
    "[EAN13: 123456789012]",
    "[QR: https://bank.example/r/42]",
    "",
    "",
    "[CUT]",
]


async def test_a_document_prints_column_for_column() -> None:
    model = PrinterModel()
    listener = await _opened(model)
    result = await model.print_document(RECEIPT)
    assert (result.blocks, result.total_blocks, result.complete) == (9, 9, True)
    assert result.bytes_sent == sum(len(c) for c in encode_blocks(RECEIPT))
    assert model.take_printed_lines() == RECEIPT_LINES
    assert model.take_printed_lines() == []  # since the last call
    (receipt,) = model.receipts
    assert receipt.lines == RECEIPT_LINES
    assert model.paper_left == 2000 - 10  # the cut takes no paper
    assert [type(e) for e in listener.events] == [MediaPresented]
    assert (await model.get_status()).media is PrintMediaStatus.PRESENT


async def test_the_rendering_has_every_glyph_and_the_paper_width() -> None:
    model = PrinterModel(profile="receipt58")
    await model.print_document(RECEIPT)
    rendering = model.receipts[-1].render()
    assert rendering.image.width == 384
    assert not rendering.missing_glyphs
    assert {"取", "款", "¥"} <= rendering.drawn
    assert model.receipts[-1].png().startswith(b"\x89PNG")


async def test_python_escpos_raw_prints_the_same_as_the_document() -> None:
    doc = Document(
        (
            Line.of("RECEIPT", align=Align.CENTER, bold=True),
            Line.of("Cash 200.00"),
            Line.of("y" * 52),
            Cut(),
        ),
        CodePage.CP437,
    )
    p = Dummy(profile="TM-T88III")
    p.set(align="center", bold=True)
    p.text("RECEIPT\n")
    p.set(align="left", bold=False)
    p.text("Cash 200.00\n")
    p.text("y" * 52 + "\n")
    p.cut()
    from_doc, from_raw = PrinterModel(profile="receipt58"), PrinterModel(profile="receipt58")
    await from_doc.print_document(doc)
    result = await from_raw.print_raw(p.output)
    assert result.bytes_sent == len(p.output)
    expected = [" " * 12 + "RECEIPT", "Cash 200.00", "y" * 32, "y" * 20, "[CUT]"]
    assert from_doc.take_printed_lines() == expected
    raw_lines = from_raw.take_printed_lines()
    # python-escpos feeds before its cut (blank lines); the printed text is the same.
    assert [line for line in raw_lines if line] == expected


LINES = Document((*tuple(Line.of(f"line {i}") for i in range(8)), Cut()), CodePage.CP437)


@pytest.mark.parametrize("after", [0, 1, 3, 7])
async def test_paper_out_mid_job_keeps_what_printed_and_counts(after: int) -> None:
    model = PrinterModel()
    listener = await _opened(model)
    model.paper_runs_out(after)
    if after == 0:
        with pytest.raises(PaperOut) as refused:
            await model.print_document(LINES)
        assert (refused.value.printed_blocks, refused.value.bytes_sent) == (0, 0)
        return
    with pytest.raises(PaperOut) as stopped:
        await model.print_document(LINES)
    chunks = encode_blocks(LINES)
    assert stopped.value.printed_blocks == after
    assert stopped.value.total_blocks == 9
    # The printer took the prelude and every block up to the one it stopped in.
    assert stopped.value.bytes_sent == sum(len(c) for c in chunks[: after + 2])
    assert model.take_printed_lines() == [f"line {i}" for i in range(after)]
    piece = model.last_receipt()
    assert piece is not None
    assert piece.paper_out
    assert not piece.cut
    assert piece.lines == [f"line {i}" for i in range(after)]
    rendering = piece.render()
    assert [p.kind for p in rendering.placements][-1] == "paper_out"
    assert (await model.get_status()).paper is PaperStatus.OUT
    assert listener.thresholds()[-1] is PaperStatus.OUT
    assert model.status_byte(4) == b"\x7e"
    # Nothing prints until a new roll; then the torn-off piece is a receipt of its own.
    with pytest.raises(PaperOut):
        await model.print_document(LINES)
    model.replenish()
    assert model.receipts[-1].lines == [f"line {i}" for i in range(after)]
    assert (await model.print_document(LINES)).complete
    assert listener.thresholds()[-1] is PaperStatus.FULL


async def test_paper_out_inside_a_wrapped_line_and_a_feed() -> None:
    model = PrinterModel()
    model.paper_runs_out(2)
    doc = Document((Line.of("a" * 100), Feed(5)), CodePage.CP437)
    with pytest.raises(PaperOut) as stopped:
        await model.print_document(doc)
    assert stopped.value.printed_blocks == 0  # the long line did not print in full
    assert model.take_printed_lines() == ["a" * 48, "a" * 48]
    assert model.under_way().lines == ["a" * 48, "a" * 48]

    fed = PrinterModel()
    fed.paper_runs_out(3)
    with pytest.raises(PaperOut) as short:
        await fed.print_document(Document((Line.of("top"), Feed(5), Line.of("no")), CodePage.CP437))
    assert short.value.printed_blocks == 1
    assert fed.take_printed_lines() == ["top", "", ""]  # the feed cut short at the end


async def test_cover_open_prints_nothing() -> None:
    model = PrinterModel()
    await _opened(model)
    model.set_cover(True)
    with pytest.raises(CoverOpen):
        await model.print_document(LINES)
    with pytest.raises(CoverOpen):
        await model.print_raw(b"hello\n")
    assert model.take_printed_lines() == []
    assert model.paper_left == 2000
    status = await model.get_status()
    assert status.cover_open
    assert model.status_byte(2) == b"\x16"  # b2 cover open
    assert model.status_byte(1) == b"\x1a"  # offline
    model.set_cover(False)
    assert (await model.print_document(LINES)).complete


async def test_a_jam_stops_the_next_job_until_a_reset() -> None:
    model = PrinterModel()
    await _opened(model)
    model.jam_next(after_lines=2)
    with pytest.raises(MediaJam, match="after 2 of 9 blocks"):
        await model.print_document(LINES)
    assert model.take_printed_lines() == ["line 0", "line 1"]
    status = await model.get_status()
    assert (status.paper, status.media, status.device) == (
        PaperStatus.JAMMED,
        PrintMediaStatus.JAMMED,
        DeviceState.HARDWARE_ERROR,
    )
    assert parse_real_time(3, model.status_byte(3)).mechanical
    with pytest.raises(MediaJam):
        await model.print_document(LINES)
    await model.reset()
    assert (await model.print_document(LINES)).complete
    assert model.take_printed_lines()[0] == "line 0"


#: DLE ENQ n: the real-time request to recover from a recoverable error (n 1: printing
#: resumes at the line of the error; n 2: after the receive and print buffers are cleared).
ENQ_1, ENQ_2 = b"\x10\x05\x01", b"\x10\x05\x02"


@pytest.mark.parametrize("request_bytes", [ENQ_1, ENQ_2])
async def test_dle_enq_over_the_wire_recovers_a_jam_as_the_backend_reset_does(
    request_bytes: bytes,
) -> None:
    model = PrinterModel()
    listener = await _opened(model)
    model.jam_next(after_lines=1)
    model.feed(b"one\ntwo\nthree\n")
    assert model.take_printed_lines() == ["one"]
    assert model.jammed
    assert parse_real_time(3, model.feed(b"\x10\x04\x03")[0]).mechanical
    model.feed(b"lost while jammed\n")  # a stopped printer prints nothing
    assert model.take_printed_lines() == []
    assert model.feed(request_bytes) == []  # DLE ENQ has no answer
    assert not model.jammed
    assert model.feed(b"\x10\x04\x01\x10\x04\x03") == [b"\x12", b"\x12"]
    assert listener.statuses[-1].paper is PaperStatus.FULL
    assert listener.statuses[-1].device is DeviceState.ONLINE
    model.feed(b"\x1b@after\n")
    assert model.take_printed_lines() == ["after"]
    assert (await model.print_document(LINES)).complete


async def test_dle_enq_is_ignored_without_a_recoverable_error() -> None:
    model = PrinterModel()
    await _opened(model)
    # No error: the line under way is kept (DLE ENQ 2 clears buffers only to recover).
    model.feed(b"abc" + ENQ_2 + b"def\n")
    assert model.take_printed_lines() == ["abcdef"]
    # Paper end and an open cover are not what DLE ENQ recovers: a new roll, a closed cover.
    model.paper_runs_out(0)
    model.feed(ENQ_2 + ENQ_1)
    assert model.status_byte(1) == b"\x1a"
    with pytest.raises(PaperOut):
        await model.print_document(LINES)
    model.replenish()
    model.set_cover(True)
    model.feed(ENQ_2)
    with pytest.raises(CoverOpen):
        await model.print_document(LINES)


async def test_the_presenter_presents_the_customer_takes_and_retract_counts() -> None:
    model = PrinterModel()
    listener = await _opened(model)
    await model.print_document(LINES)
    assert model.presented is not None
    assert model.take()
    assert [type(e) for e in listener.events] == [MediaPresented, MediaTaken]
    assert (await model.get_status()).media is PrintMediaStatus.NOT_PRESENT
    with pytest.raises(NoMedia):
        await model.control_media(MediaControl.RETRACT)
    await model.print_document(LINES)
    await model.control_media(MediaControl.RETRACT)
    assert model.retracted == 1
    await model.print_document(LINES)
    await model.control_media(MediaControl.EJECT)
    assert (model.ejected, model.presented) == (1, None)
    # A receipt left at the exit is retracted when the next one is cut.
    await model.print_document(LINES)
    await model.control_media(MediaControl.CUT)
    assert model.retracted == 2
    assert model.receipts[-1].lines == ["[CUT]"]
    assert model.status_byte(20) == bytes.fromhex("100f20000000")  # ticket in the output


async def test_printers_without_a_presenter_or_a_cutter() -> None:
    small = PrinterModel(profile="receipt58")
    await small.print_document(LINES)
    assert small.presented is None
    assert small.receipt_waiting()
    with pytest.raises(UnsupportedOperation):
        await small.control_media(MediaControl.EJECT)
    journal = PrinterModel(name="journal_printer", profile="journal")
    assert not journal.capabilities().cut
    with pytest.raises(UnsupportedOperation):
        await journal.control_media(MediaControl.CUT)
    await journal.print_raw(b"audit 1\n\x1dV\x00audit 2\n")  # no cutter: the cut ignored
    assert journal.take_printed_lines() == ["audit 1", "audit 2"]
    assert journal.receipts == ()


async def test_thresholds_once_per_crossing() -> None:
    model = PrinterModel(paper_length=20, near_end_lines=5)
    listener = await _opened(model)
    doc = Document(tuple(Line.of("z") for i in range(7)), CodePage.CP437)
    await model.print_document(doc)  # 13 left
    assert listener.thresholds() == []
    await model.print_document(doc)  # 6 left
    assert listener.thresholds() == []
    await model.print_raw(b"z\n")  # 5 left: near end
    await model.print_raw(b"z\nz\n")
    assert listener.thresholds() == [PaperStatus.LOW]
    assert model.status_byte(4) == b"\x1e"
    assert model.feed(b"\x1dr\x01") == [b"\x03"]
    with pytest.raises(PaperOut):
        await model.print_document(doc)
    assert listener.thresholds() == [PaperStatus.LOW, PaperStatus.OUT]
    model.replenish()
    model.paper_low()
    model.paper_low()
    assert listener.thresholds() == [
        PaperStatus.LOW,
        PaperStatus.OUT,
        PaperStatus.FULL,
        PaperStatus.LOW,
    ]
    assert [s.paper for s in listener.statuses][-1] is PaperStatus.LOW


async def test_one_job_crossing_both_thresholds_announces_each() -> None:
    model = PrinterModel(paper_length=20, near_end_lines=5)
    listener = await _opened(model)
    with pytest.raises(PaperOut):
        await model.print_document(Document(tuple(Line.of("q") for i in range(30))))
    assert listener.thresholds() == [PaperStatus.LOW, PaperStatus.OUT]
    papers = [s.paper for s in listener.statuses]
    assert papers.index(PaperStatus.LOW) < papers.index(PaperStatus.OUT)


# DLE EOT 1, 2, 3, 4 and the Custom 10 04 14 full status per state (protocols.md 7 #44:
# normal 12/12/12, paper out 1A/32/7E, full status 10 0F 05 00 00 00).
STATUS_REQUESTS = b"\x10\x04\x01\x10\x04\x02\x10\x04\x03\x10\x04\x04\x10\x04\x14"


def test_feed_answers_dle_eot_per_golden_44() -> None:
    model = PrinterModel()
    normal = model.feed(STATUS_REQUESTS)
    assert normal == [b"\x12", b"\x12", b"\x12", b"\x12", bytes.fromhex("100f00000000")]
    assert model.feed(b"\x1dr\x01") == [b"\x00"]
    model.paper_runs_out(0)
    answers = model.feed(STATUS_REQUESTS)
    assert answers[:4] == [b"\x1a", b"\x32", b"\x12", b"\x7e"]
    assert answers[4] == bytes.fromhex("100f05000000")
    full = parse_full_status(answers[4])
    assert full.no_paper
    assert full.near_end
    assert parse_real_time(2, answers[1]).paper_end_stop
    assert parse_paper_sensor(model.feed(b"\x1dr\x01")[0]).paper_end
    assert model.feed(b"\x1dr\x01") == [b"\x0f"]
    model.set_power(False)
    assert model.feed(STATUS_REQUESTS) == []


def test_feed_answers_process_ids_once_printed_and_ids_the_printer() -> None:
    model = PrinterModel(paper_length=6, near_end_lines=2)
    data = b"".join(encode_blocks(LINES, process_ids=True))
    replies = model.feed(data[:40])
    replies += model.feed(data[40:])
    # The paper (6 lines) runs out in block 6: blocks 0-5 answered, nothing after.
    assert replies == [build_process_id_reply(f"{i:04d}".encode()) for i in range(6)]
    assert model.feed(b"\x1dI\x43") == [b"_TH-SIM80P\x00"]
    assert model.feed(b"\x1dI\x02") == [b"\x02"]


def test_feed_survives_a_bad_command() -> None:
    model = PrinterModel()
    bad = b"ok\n\x1dk\x02" + b"1" * 300 + b"\nafter\n"
    model.feed(bad)
    assert model.take_printed_lines()[0] == "ok"


# --- properties: the paper laid out line by line is the whole stream laid out at once ---

_TEXT = st.text(alphabet=st.sampled_from("abcXYZ 019.-:¥取款收据你好"), min_size=0, max_size=70)
_RUN = st.builds(
    TextRun,
    _TEXT,
    bold=st.booleans(),
    double_width=st.booleans(),
    double_height=st.booleans(),
)
_BLOCK = st.one_of(
    st.builds(Line, st.lists(_RUN, max_size=3).map(tuple), st.sampled_from(list(Align))),
    st.builds(Feed, st.integers(1, 4)),
    st.builds(Cut, st.booleans(), st.integers(0, 2)),
    st.builds(Rule, st.sampled_from("-=*")),
    st.builds(Barcode, st.text(alphabet="ABC123", min_size=1, max_size=10)),
    st.builds(QrCode, st.text(alphabet="abc:/.", min_size=1, max_size=20)),
)
_DOCS = st.lists(_BLOCK, max_size=12).map(lambda blocks: Document(tuple(blocks)))
_CUTS = ("[CUT]", "[PARTIAL CUT]")


@settings(max_examples=60, deadline=None)
@given(_DOCS, st.integers(0, 30))
async def test_any_document_prints_as_the_whole_stream_reads_and_paper_out_keeps_a_prefix(
    doc: Document, after: int
) -> None:
    whole = text_lines(layout(decode(b"".join(encode_blocks(doc))), 576).rows, 576)
    model = PrinterModel()
    await model.print_document(doc)
    full = model.take_printed_lines()
    assert full == whole
    limited = PrinterModel()
    limited.paper_runs_out(after)
    stopped: PaperOut | None = None
    try:
        await limited.print_document(doc)
    except PaperOut as exc:
        stopped = exc
    printed = limited.take_printed_lines()
    assert printed == full[: len(printed)]
    if stopped is None:
        assert printed == full
        assert sum(1 for line in full if line not in _CUTS) <= after
        return
    # Every line but a cut's took one line of paper: exactly the roll.
    assert sum(1 for line in printed if line not in _CUTS) == after
    blocks = stopped.printed_blocks
    assert blocks is not None
    assert blocks < len(doc.blocks) or blocks == after == 0
    # The blocks counted as printed are all on the paper.
    short = PrinterModel()
    await short.print_document(Document(doc.blocks[:blocks]))
    done = short.take_printed_lines()
    assert printed[: len(done)] == done


async def test_a_cancelled_job_finishes_its_block_and_says_how_far_it_got() -> None:
    model = PrinterModel()
    model.set_line_time(0.01)
    doc = Document(tuple(Line.of(f"row {i}") for i in range(40)), CodePage.CP437)
    job = asyncio.create_task(model.print_document(doc))
    await asyncio.sleep(0.08)
    job.cancel()
    result = await job
    assert not result.complete
    assert 1 <= result.blocks < 40
    assert result.total_blocks == 40
    assert model.take_printed_lines() == [f"row {i}" for i in range(result.blocks)]
    assert result.bytes_sent == sum(len(c) for c in encode_blocks(doc)[: result.blocks + 1])
