"""`RemotePrinter` against a real `RemoteServer` on a real ZeroMQ socket.

The server serves two `PrinterService`s (receipt and journal) over the scripted printer
(tests/printer_backend.py). The same calls in-process and remote give the same results
and errors; a document with an image and Chinese text prints the same blocks; PaperOut
crosses the wire with its counts; the events (PaperThreshold, MediaPresented,
MediaTaken, StatusChanged) arrive; a tap shows the image's pixels travel as a blob and
the text as JSON text; the document codec is strict.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import hal
from hal.devices.printer import (
    Align,
    Barcode,
    CodePage,
    Cut,
    Document,
    Feed,
    Image,
    Line,
    MediaControl,
    MediaPresented,
    MediaTaken,
    PaperStatus,
    PaperThreshold,
    Printer,
    PrinterCapabilities,
    PrintResult,
    QrCode,
    Rule,
    TextRun,
    Underline,
)
from hal.devices.printer_service import PrinterService
from hal.errors import HalError, HalTimeout, InvalidData, PaperOut
from hal.events import StatusChanged
from hal.remote import RemotePrinter, RemoteServer
from hal.remote.codec import WireValueError, codec_for
from hal.remote.interfaces import INTERFACES, PrintDocumentPayload
from protocols.escpos import encode_blocks
from tests.printer_backend import ScriptedPrinter
from tests.remote_tap import FrameTap

# A 16x4 image whose pixel bytes are easy to find: 0xA5 0x5A ... (never valid UTF-8 text).
PIXELS = bytes([0xA5, 0x5A, 0xC3, 0x3C] * 2)
LOGO = Image(16, 4, PIXELS, Align.CENTER)
CHINESE = "交易凭条：取款 ¥500.00"


def chinese_receipt() -> Document:
    return Document(
        (
            LOGO,
            Line.of(CHINESE, align=Align.CENTER, bold=True),
            Line((TextRun("卡号 ", underline=Underline.SINGLE), TextRun("6222 **** 1234"))),
            Rule("="),
            Barcode("400638133393"),
            QrCode("https://bank.example/r/123"),
            Feed(3),
            Cut(partial=True),
        )
    )


@dataclass
class Rig:
    receipt: ScriptedPrinter
    journal: ScriptedPrinter
    service: PrinterService
    server: RemoteServer


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    receipt = ScriptedPrinter(PrinterCapabilities(presenter=True, retract_capacity=10))
    journal = ScriptedPrinter(PrinterCapabilities(cut=frozenset()))
    service = PrinterService(receipt)
    devices = {
        "receipt_printer": service,
        "journal_printer": PrinterService(journal, name="journal_printer"),
    }
    async with RemoteServer(
        devices, "tcp://127.0.0.1:0", simulator=True, heartbeat_interval=0.5
    ) as server:
        yield Rig(receipt, journal, service, server)


async def script(printer: Printer) -> list[object]:
    seen: list[object] = []

    async def step(name: str, call: object) -> None:
        try:
            seen.append((name, await call))  # type: ignore[misc]
        except HalError as exc:
            seen.append((name, type(exc).__name__, exc.error_code, str(exc)))

    await step("status", printer.status())
    await step("capabilities", printer.capabilities())
    await step("document", printer.print_document(chinese_receipt(), timeout=5))
    await step("raw", printer.print_raw(b"\x1b@Hello\n\x1dV\x00", timeout=5))
    await step("cut", printer.control_media(MediaControl.CUT))
    await step("eject", printer.control_media(MediaControl.EJECT))
    await step("euro in cp437", printer.print_document(Document((Line.of("€"),), CodePage.CP437)))
    await step("wide image", printer.print_document(Document((Image(640, 1, bytes(80)),))))
    await step("reset", printer.reset(timeout=5))
    return seen


async def test_same_results_and_errors_in_process_and_remote(rig: Rig) -> None:
    local = await script(rig.service)
    local_printed = list(rig.receipt.printed)
    rig.receipt.printed.clear()
    rig.receipt.take_receipt()  # the same start as the local run
    async with RemotePrinter(rig.server.endpoint, timeout=2.0) as remote:
        far = await script(remote)
    assert far == local
    assert rig.receipt.printed == local_printed == list(chinese_receipt().blocks)
    document = far[2][1]  # type: ignore[index]
    total = sum(len(c) for c in encode_blocks(chinese_receipt()))
    assert document == PrintResult(8, 8, total)
    assert far[6][1] == "InvalidData"  # type: ignore[index]
    assert "U+20AC" in far[6][3]  # type: ignore[index]
    assert far[7][1] == "InvalidData"  # type: ignore[index]
    assert "640 dots wide" in far[7][3]  # type: ignore[index]


async def test_paper_out_crosses_the_wire_with_its_counts(rig: Rig) -> None:
    rig.receipt.paper_left = 3
    document = chinese_receipt()
    async with hal.open(f"zmq://{rig.server.endpoint.removeprefix('tcp://')}/receipt_printer") as p:
        assert isinstance(p, RemotePrinter)
        events = p.events(kinds=[PaperThreshold, StatusChanged])
        with pytest.raises(PaperOut) as caught:
            await p.print_document(document, timeout=5)
        error = caught.value
        assert (error.printed_blocks, error.total_blocks) == (3, 8)
        assert error.bytes_sent == sum(len(c) for c in encode_blocks(document)[:4])
        assert error.error_code == "paperOut"
        assert "paper out after 3 of 8 blocks" in str(error)
        seen = [await asyncio.wait_for(events.get(), 2) for _ in range(2)]
        assert {type(e) for e in seen} == {PaperThreshold, StatusChanged}
        threshold = next(e for e in seen if isinstance(e, PaperThreshold))
        assert threshold.paper is PaperStatus.OUT
        assert threshold.device == "receipt_printer"
        # A raw job without paper: PaperOut with bytes_sent only.
        with pytest.raises(PaperOut) as raw:
            await p.print_raw(b"abc")
        assert (raw.value.printed_blocks, raw.value.bytes_sent) == (None, 0)
        rig.receipt.set_paper(PaperStatus.FULL)
        back = await asyncio.wait_for(events.get(), 2)
        back2 = await asyncio.wait_for(events.get(), 2)
        assert PaperStatus.FULL in {getattr(e, "paper", None) for e in (back, back2)}


async def test_media_events_and_a_timeout(rig: Rig) -> None:
    async with RemotePrinter(rig.server.endpoint, timeout=2.0) as p:
        events = p.events(kinds=[MediaPresented, MediaTaken])
        await p.print_document(chinese_receipt(), timeout=5)
        await p.control_media(MediaControl.CUT, timeout=5)
        presented = await asyncio.wait_for(events.get(), 2)
        assert isinstance(presented, MediaPresented)
        rig.receipt.take_receipt()
        taken = await asyncio.wait_for(events.get(), 2)
        assert isinstance(taken, MediaTaken)
        rig.receipt.block_delay = 0.05
        with pytest.raises(HalTimeout):
            await p.print_document(Document(tuple(Line.of("x") for _ in range(20))), timeout=0.12)
        rig.receipt.block_delay = 0.0
        with pytest.raises(InvalidData, match="not a media action"):
            await p.control_media("fold")  # type: ignore[arg-type]


async def test_the_journal_printer_under_its_own_name(rig: Rig) -> None:
    address = f"zmq://{rig.server.endpoint.removeprefix('tcp://')}/journal_printer"
    async with hal.open(address) as journal:
        assert isinstance(journal, RemotePrinter)
        assert journal.name == "journal_printer"
        assert not (await journal.capabilities()).cut
        result = await journal.print_document(Document((Line.of("journal line"),)))
        assert result.complete
    assert len(rig.journal.printed) == 1
    assert rig.receipt.printed == []


async def test_images_travel_as_blobs_and_text_as_json_text(rig: Rig) -> None:
    async with FrameTap(rig.server.endpoint) as tap, hal.open(tap.address("receipt_printer")) as p:
        await p.print_document(chinese_receipt(), timeout=5)
        await p.print_raw(PIXELS * 3, timeout=5)
        rig.receipt.paper_left = 1
        with pytest.raises(PaperOut):
            await p.print_document(chinese_receipt(), timeout=5)
    failed = next(
        m
        for m in tap.messages
        if m.header.get("type") == "completion" and m.header.get("errorCode") == "paperOut"
    )
    assert failed.payload == {
        "printedBlocks": 1,
        "totalBlocks": 8,
        "bytesSent": sum(len(c) for c in encode_blocks(chinese_receipt())[:2]),
    }
    commands = [
        m for m in tap.messages if m.direction == "to_server" and m.header.get("type") == "command"
    ]
    document = next(m for m in commands if m.header["name"] == "Printer.PrintDocument")
    assert document.blobs == (PIXELS,)
    payload = document.payload
    assert payload["codePage"] == "gb18030"
    assert payload["blocks"][0]["image"] == {
        "width": 16,
        "height": 4,
        "pixels": {"$blob": 0},
        "align": "center",
    }
    assert payload["blocks"][1]["line"]["runs"][0]["text"] == CHINESE
    assert CHINESE.encode() in document.frames[1]  # UTF-8 JSON text, not escaped
    assert payload["blocks"][7]["cut"] == {"partial": True, "feed": 0}
    assert sum(v is not None for v in payload["blocks"][4].values()) == 1
    raw = next(m for m in commands if m.header["name"] == "Printer.PrintRaw")
    assert raw.blobs == (PIXELS * 3,)
    assert raw.payload == {"data": {"$blob": 0}}
    # The pixels appear in no JSON frame, neither as bytes nor as base64 nor hex.
    for m in tap.messages:
        for frame in m.frames[:2]:
            assert PIXELS not in frame
            assert base64.b64encode(PIXELS) not in frame
            assert PIXELS.hex().encode() not in frame
    names = tap.names("to_server")
    assert "Printer.PrintDocument" in names
    assert "Printer.PrintRaw" in names


# --- the codec ---------------------------------------------------------------------------


def test_the_printer_interface_is_registered() -> None:
    spec = INTERFACES["Printer"]
    assert set(spec.commands) >= {
        "Printer.PrintDocument",
        "Printer.PrintRaw",
        "Printer.ControlMedia",
        "Printer.Reset",
    }
    assert {e.xfs_name for e in spec.events} == {
        "Printer.MediaPresentedEvent",
        "Printer.MediaTakenEvent",
        "Printer.PaperThresholdEvent",
    }


def test_a_block_with_two_kinds_or_none_is_refused() -> None:
    codec = codec_for(PrintDocumentPayload)
    blobs: list[bytes] = []
    good = codec.encode(PrintDocumentPayload.of(Document((Feed(2),))), blobs)
    bad = json.loads(json.dumps(good))
    bad["blocks"][0]["cut"] = {"partial": False, "feed": 0}
    with pytest.raises(WireValueError, match=r"blocks.*exactly one kind.*got 2"):
        codec.decode(bad, blobs, "")
    bad["blocks"][0] = dict.fromkeys(bad["blocks"][0])
    with pytest.raises(WireValueError, match="got 0"):
        codec.decode(bad, blobs, "")
    # A block the document model refuses (feed 0 lines) is refused on the way in.
    bad = json.loads(json.dumps(good))
    bad["blocks"][0]["feed"]["lines"] = 0
    with pytest.raises(WireValueError, match="feed 1-255 lines"):
        codec.decode(bad, blobs, "")
    # An image whose blob is not the size its width and height need.
    image = codec.encode(PrintDocumentPayload.of(Document((LOGO,))), blobs := [])
    with pytest.raises(WireValueError, match="needs 8 bytes of pixels"):
        codec.decode(image, [PIXELS[:5]], "")


_text = st.text(
    alphabet=st.characters(min_codepoint=0x20, exclude_categories=("Cs", "Cc")), max_size=12
)
_blocks = st.one_of(
    st.builds(
        lambda runs, align: Line(tuple(runs), align),
        st.lists(
            st.builds(
                TextRun,
                _text,
                st.booleans(),
                st.sampled_from(Underline),
                st.booleans(),
                st.booleans(),
            ),
            max_size=3,
        ),
        st.sampled_from(Align),
    ),
    st.builds(
        lambda w, h, data: Image(
            w, h, data.draw(st.binary(min_size=(w + 7) // 8 * h, max_size=(w + 7) // 8 * h))
        ),
        st.integers(1, 24),
        st.integers(1, 4),
        st.data(),
    ),
    st.builds(Feed, st.integers(1, 255)),
    st.builds(Cut, st.booleans(), st.integers(0, 255)),
    st.builds(Rule, st.sampled_from("-=*#")),
    st.builds(QrCode, st.text(min_size=1, max_size=30)),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(_blocks, max_size=6), st.sampled_from(CodePage))
def test_any_document_round_trips_through_the_codec(blocks: list[object], page: CodePage) -> None:
    document = Document(tuple(blocks), page)  # type: ignore[arg-type]
    codec = codec_for(PrintDocumentPayload)
    blobs: list[bytes] = []
    wire = json.loads(json.dumps(codec.encode(PrintDocumentPayload.of(document), blobs)))
    assert codec.decode(wire, blobs, "").document() == document
    images = [b for b in document.blocks if isinstance(b, Image)]
    assert blobs == [image.pixels for image in images]
    assert repr(PrintDocumentPayload.of(document)) == (
        f"PrintDocumentPayload({len(blocks)} blocks, {page.value})"
    )


async def test_a_remote_cancel_mid_job_stops_after_the_block_under_way(rig: Rig) -> None:
    rig.receipt.block_delay = 0.03
    async with RemotePrinter(rig.server.endpoint, timeout=2.0) as p:
        long_job = Document(tuple(Line.of("x") for _ in range(30)))
        job = asyncio.create_task(p.print_document(long_job))
        await asyncio.wait_for(rig.receipt.block_started.wait(), 2)
        await asyncio.sleep(0.05)
        job.cancel()
        with pytest.raises(asyncio.CancelledError):
            await job
        printed = len(rig.receipt.printed)
        await asyncio.sleep(0.1)
        assert len(rig.receipt.printed) == printed  # it had stopped when the caller heard
        assert 1 <= printed < 30
        rig.receipt.block_delay = 0.0
        assert (await p.print_document(Document((Line.of("next"),)), timeout=5)).complete


async def test_the_simulators_printer_over_the_wire() -> None:
    from simulator.world import World

    world = World("printer-remote-sim", clock_scale=0.01)
    control = world.printer_control()
    async with (
        RemoteServer(
            {"receipt_printer": world.open_printer()}, "tcp://127.0.0.1:0", simulator=True
        ) as server,
        RemotePrinter(server.endpoint, timeout=2.0) as p,
    ):
        result = await p.print_document(chinese_receipt(), timeout=10)
        assert (result.blocks, result.total_blocks, result.complete) == (8, 8, True)
        printed = await control.printed_lines()
        assert printed is not None
        assert printed[0] == "[image 16x4]"
        # Centred, every non-ASCII character two columns (¥ too, padded in the text form).
        assert printed[1].strip() == "交易凭条：取款 ¥ 500.00"
        assert printed[2:6] == [
            "卡号 6222 **** 1234",
            "=" * 48,
            "[CODE128: 400638133393]",
            "[QR: https://bank.example/r/123]",
        ]
        await control.paper_runs_out(after_lines=1)
        with pytest.raises(PaperOut) as caught:
            await p.print_document(chinese_receipt(), timeout=10)
        assert caught.value.total_blocks == 8
        assert caught.value.printed_blocks is not None
        assert caught.value.printed_blocks < 8
