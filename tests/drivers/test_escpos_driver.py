"""The real ``escpos`` driver on a pty: the ESC/POS emulator (`simulator.wire.escpos`)
behind `PtyBridge`, reached through ``hal.open("escpos+serial://...")`` (the service on
top) or the bare driver with a listener. What the emulator printed is read back as its
text rendering, column for column.
"""

from __future__ import annotations

import asyncio
import logging
import re
from pathlib import Path

import pytest

import hal
from drivers.printer.escpos_masker import EscPosMasker
from hal.device import DeviceState
from hal.devices.printer import (
    Align,
    CodePage,
    Cut,
    Document,
    Line,
    MediaControl,
    MediaPresented,
    MediaTaken,
    PaperStatus,
    PaperThreshold,
    Printer,
    PrinterType,
    PrintMediaStatus,
    TextRun,
)
from hal.errors import CoverOpen, HalTimeout, MediaJam, NoMedia, PaperOut
from hal.transports.serial import SerialOptions, SerialTransport
from hal.transports.spy_maskers import RX, TX
from protocols import escpos_ops as ops
from protocols.escpos import encode
from protocols.escpos_decoder import decode
from simulator.printer_text import layout, text_lines
from tests.escpos_rig import Listener, PtyPrinter, escpos_registered, open_driver, receipt

pytestmark = pytest.mark.timeout(30)


def expected_text(document: Document, dots: int = 576, columns: int = 48) -> list[str]:
    """What a printer shows for ``document``: its plain stream (no process IDs) decoded
    and laid out."""
    stream = encode(document, columns=columns, dots=dots)
    return text_lines(layout(decode(stream), dots).rows, dots)


def printer(directory: Path, profile: str = "receipt") -> PtyPrinter:
    return PtyPrinter(directory, profile=profile)


def asked(received: bytes) -> list[ops.Operation]:
    """The requests among what the host sent."""
    wanted = (ops.StatusRequest, ops.ProcessIdRequest)
    return [op for op in decode(received) if isinstance(op, wanted)]


@pytest.mark.parametrize("progress", ["process_id", "status"])
async def test_a_receipt_prints_column_for_column(tmp_path: Path, progress: str) -> None:
    rig = printer(tmp_path)
    document = receipt(12)
    with escpos_registered():
        async with rig.wire() as emulator:
            device = hal.open(rig.address(progress=progress))
            assert isinstance(device, Printer)
            async with device:
                caps = await device.capabilities()
                assert caps.firmware == "TH-SIM80P 1.00"
                assert caps.dots_per_line == 576
                assert caps.columns == 48
                result = await device.print_document(document, timeout=10)
    assert result.complete
    assert (result.blocks, result.total_blocks) == (19, 19)
    lines = rig.lines()
    assert lines == expected_text(document)
    assert lines[1] == "item 00".ljust(30) + "      1.25 EUR"
    assert lines[13] == "-" * 48
    assert lines[14] == "Total: 12.34 €"
    assert "[CODE128: TX000123456]" in lines
    assert "[QR: https://example.invalid/r/000123]" in lines
    assert lines[-1] == "[CUT]"
    requests = asked(bytes(emulator.received))
    ids = [op for op in requests if isinstance(op, ops.ProcessIdRequest)]
    polls = [op for op in requests if isinstance(op, ops.StatusRequest) and op.n == 1]
    if progress == "process_id":
        assert [op.ident for op in ids] == [f"{i:04d}".encode() for i in range(19)]
    else:
        assert not ids
        assert len(polls) >= 19


async def test_chinese_and_a_58mm_printer(tmp_path: Path) -> None:
    rig = printer(tmp_path, "receipt58")
    title = Line((TextRun("存款凭条", double_width=True),), Align.CENTER)
    document = Document(
        (
            title,
            Line.of("金额: 1,000.00 元"),
            Line.of("一二三四五六七八九十一二三四五六七八"),  # 36 columns: wraps at 32
            Cut(partial=True),
        ),
        CodePage.GB18030,
    )
    with escpos_registered():
        async with rig.wire():
            device = hal.open(rig.address(profile="58mm"))
            assert isinstance(device, Printer)
            async with device:
                assert (await device.capabilities()).columns == 32
                await device.print_document(document, timeout=10)
    lines = rig.lines()
    assert lines == expected_text(document, 384, 32)
    assert lines[1] == "金额: 1,000.00 元"
    assert lines[2] == "一二三四五六七八九十一二三四五六"
    assert lines[3] == "七八"
    assert lines[-1] == "[PARTIAL CUT]"


@pytest.mark.parametrize("progress", ["process_id", "status"])
async def test_paper_out_mid_job_counts_and_keeps_what_printed(
    tmp_path: Path, progress: str
) -> None:
    rig = printer(tmp_path)
    document = receipt(12)
    rig.model.paper_runs_out(after_lines=5)
    with escpos_registered():
        async with rig.wire() as emulator:
            device = hal.open(rig.address(progress=progress))
            assert isinstance(device, Printer)
            async with device:
                before = emulator.stats.bytes_in
                with pytest.raises(PaperOut) as caught:
                    await device.print_document(document, timeout=10)
                took = bytes(emulator.received[before:])
                asked_at = emulator.stats.bytes_in
                assert (await device.status()).paper is PaperStatus.OUT
                status_read = bytes(emulator.received[asked_at:])
                # Nothing more prints, and the next job is refused before sending.
                sent = emulator.stats.bytes_in
                with pytest.raises(PaperOut) as again:
                    await device.print_document(document, timeout=10)
                assert again.value.printed_blocks == 0
                assert again.value.bytes_sent == 0
                after = decode(bytes(emulator.received[sent:]))
                assert after  # the printer was asked...
                assert all(isinstance(op, ops.StatusRequest) for op in after)  # ...only that
                rig.model.replenish()
                assert (await device.status()).paper is PaperStatus.FULL
                await device.print_document(Document((Line.of("after the new roll"),)))
    error = caught.value
    # By process ID the printer says block 5 printed; by status the paper end shows
    # right after block 5 was sent, and the driver counts the block under way as not
    # printed (it may have printed in part or in full: docs/escpos_driver.md).
    printed = 5 if progress == "process_id" else 4
    assert (error.printed_blocks, error.total_blocks) == (printed, 19)
    # What the printer took for the job: from its ESC @ (after the driver's ready check)
    # to the service's status read after the stop (the same bytes as a status() call).
    assert took.endswith(status_read)
    job = took[took.index(b"\x1b@") : len(took) - len(status_read)]
    assert job.startswith(encode(document, columns=48, dots=576)[:4])
    assert error.bytes_sent == len(job)
    assert f"{printed} of 19 blocks" in str(error)
    lines = rig.lines()
    assert lines[:5] == expected_text(document)[:5]
    assert lines[5:] == ["after the new roll"]


async def test_cover_open_refuses_before_sending(tmp_path: Path) -> None:
    rig = printer(tmp_path)
    rig.model.set_cover(True)
    with escpos_registered():
        async with rig.wire() as emulator:
            device = hal.open(rig.address())
            assert isinstance(device, Printer)
            async with device:
                assert (await device.status()).cover_open
                with pytest.raises(CoverOpen, match="cover is open"):
                    await device.print_document(receipt(2), timeout=5)
                assert b"item" not in emulator.received
                rig.model.set_cover(False)
                assert not (await device.status()).cover_open
                await device.print_document(receipt(2), timeout=5)
    assert rig.lines()[1].startswith("item 00")


async def test_a_jam_mid_job(tmp_path: Path) -> None:
    rig = printer(tmp_path)
    rig.model.jam_next(after_lines=3)
    with escpos_registered():
        async with rig.wire():
            device = hal.open(rig.address())
            assert isinstance(device, Printer)
            async with device:
                with pytest.raises(MediaJam, match="after 3 of 10 blocks"):
                    await device.print_document(receipt(3), timeout=5)
                assert (await device.status()).paper is PaperStatus.JAMMED
    assert len(rig.lines()) == 3


async def test_reset_after_a_jam_recovers_with_dle_enq_2(tmp_path: Path) -> None:
    """A printer stopped by a recoverable error ignores ESC @; reset sends DLE ENQ 2
    (recover, buffers cleared) and then ESC @, and reads the status again."""
    rig = printer(tmp_path)
    rig.model.jam_next(after_lines=2)
    listener = Listener()
    with escpos_registered():
        async with rig.wire() as emulator, open_driver(rig.address(), listener) as driver:
            with pytest.raises(MediaJam):
                await driver.print_document(receipt(3))
            assert (await driver.get_status()).paper is PaperStatus.JAMMED
            sent_before = len(emulator.received)
            await driver.reset()
            sent = bytes(emulator.received[sent_before:])
            # (a status poll may have gone out first; reset's own bytes go out as one)
            assert b"\x10\x05\x02\x1b\x40\x10\x04\x01" in sent
            assert listener.statuses[-1].paper is PaperStatus.FULL
            assert (await driver.get_status()).device is DeviceState.ONLINE
            result = await driver.print_document(receipt(2))
            assert result.complete
    assert rig.lines()[2:] == expected_text(receipt(2))


async def test_dle_eot_golden_replies_on_the_wire(tmp_path: Path) -> None:
    """protocols.md 7 #44: 12/12/12 when all is well; 1A/32/7E out of paper."""
    rig = printer(tmp_path)
    async with rig.wire():
        line = SerialTransport(str(rig.symlink), SerialOptions(baud=115200))
        await line.open()
        try:

            async def ask(n: int) -> bytes:
                await line.write(bytes((0x10, 0x04, n)))
                return await line.read_exactly(1, timeout=2)

            assert [await ask(n) for n in (1, 2, 4)] == [b"\x12", b"\x12", b"\x12"]
            rig.model.paper_runs_out(after_lines=0)
            await line.write(b"one line\n")
            assert [await ask(n) for n in (1, 2, 4)] == [b"\x1a", b"\x32", b"\x7e"]
        finally:
            await line.close()


async def test_a_silent_printer_is_a_clear_timeout(tmp_path: Path) -> None:
    rig = printer(tmp_path)
    with escpos_registered():
        async with rig.wire() as emulator:
            emulator.mute()
            device = hal.open(rig.address(status_retries=0))
            with pytest.raises(HalTimeout, match=r"silent.*DLE EOT 1.*within 0.5 s"):
                await device.open()
            emulator.mute(False)
            async with device:
                emulator.mute()
                with pytest.raises(HalTimeout, match="did not answer"):
                    await device.print_document(receipt(2), timeout=5)


async def test_garbage_from_the_printer_is_skipped_and_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rig = printer(tmp_path)
    with escpos_registered():
        async with rig.wire() as emulator:
            device = hal.open(rig.address())
            assert isinstance(device, Printer)
            async with device:
                with caplog.at_level(logging.WARNING, logger="drivers.printer.escpos_link"):
                    emulator.inject_garbage(b"\xff\x00\x81\xa5")
                    result = await device.print_document(receipt(3), timeout=5)
                    await emulator.send_garbage(b"\x37\x22zz")
                    await asyncio.sleep(0.2)
                    assert (await device.status()).paper is PaperStatus.FULL
    assert result.complete
    assert rig.lines() == expected_text(receipt(3))
    assert "skipped 4 byte(s)" in caplog.text


async def test_garbled_status_bytes_are_skipped_and_asked_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rig = printer(tmp_path)
    document = receipt(4)
    with escpos_registered():
        async with rig.wire() as emulator:
            device = hal.open(rig.address(progress="status", reply_timeout=0.2))
            assert isinstance(device, Printer)
            async with device:
                with caplog.at_level(logging.INFO, logger="drivers.printer.escpos_link"):
                    emulator.corrupt_next_statuses(1)
                    assert (await device.status()).paper is PaperStatus.FULL
                    emulator.corrupt_next_statuses(1)
                    result = await device.print_document(document, timeout=10)
                # Twice in a row on one request: the driver gives up (status_retries=1).
                emulator.corrupt_next_statuses(2)
                with pytest.raises(HalTimeout, match="DLE EOT 1"):
                    await device.status()
    assert emulator.stats.corrupted == 4
    assert result.complete
    assert rig.lines() == expected_text(document)
    assert "asking again" in caplog.text
    assert "skipped 1 byte(s)" in caplog.text


async def test_cancel_finishes_the_block_under_way(tmp_path: Path) -> None:
    rig = printer(tmp_path)
    document = receipt(30)
    listener = Listener()
    async with rig.wire() as emulator, open_driver(rig.address(), listener) as driver:
        emulator.set_reply_delay(0.03)
        job = asyncio.create_task(driver.print_document(document))
        await asyncio.sleep(0.3)
        job.cancel()
        result = await job
    assert not result.complete
    assert 0 < result.blocks < result.total_blocks == 37
    lines = rig.lines()
    # Exactly the blocks it reports, each whole.
    assert lines == expected_text(document)[: result.blocks]


async def test_cancel_through_the_service(tmp_path: Path) -> None:
    rig = printer(tmp_path)
    with escpos_registered():
        async with rig.wire() as emulator:
            device = hal.open(rig.address())
            assert isinstance(device, Printer)
            async with device:
                emulator.set_reply_delay(0.03)
                job = asyncio.create_task(device.print_document(receipt(30), timeout=20))
                await asyncio.sleep(0.3)
                job.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await job
                emulator.set_reply_delay(0)
                printed = len(rig.lines())
                assert 0 < printed < 37
                await device.print_document(Document((Line.of("next"),)), timeout=5)
    assert rig.lines()[-1] == "next"


async def test_presenter_present_take_eject_retract(tmp_path: Path) -> None:
    """The kiosk printer holds each cut receipt at its exit: MediaPresented; the customer
    takes it: MediaTaken (from the poll); eject (1D 65 05) and retract (1D 65 02) move it
    on without a MediaTaken; nothing at the exit: NoMedia."""
    rig = printer(tmp_path)
    listener = Listener()
    async with (
        rig.wire(),
        open_driver(rig.address(), listener, presenter=True, retract_capacity=20) as driver,
    ):
        assert driver.capabilities().presenter
        with pytest.raises(NoMedia):
            await driver.control_media(MediaControl.EJECT)
        await driver.print_document(receipt(2))
        assert listener.kinds().count("MediaPresented") == 1
        assert (await driver.get_status()).media is PrintMediaStatus.PRESENT
        assert rig.model.take()
        taken = await listener.wait_for("MediaTaken")
        assert isinstance(taken, MediaTaken)
        assert (await driver.get_status()).media is PrintMediaStatus.NOT_PRESENT
        await driver.print_document(receipt(1))
        await driver.control_media(MediaControl.EJECT)
        assert rig.model.ejected == 1
        assert (await driver.get_status()).media is PrintMediaStatus.NOT_PRESENT
        await driver.print_document(receipt(1))
        await driver.control_media(MediaControl.RETRACT)
        assert rig.model.retracted == 1
        assert (await driver.get_status()).media is PrintMediaStatus.RETRACTED
        with pytest.raises(NoMedia):
            await driver.control_media(MediaControl.RETRACT)
        await asyncio.sleep(0.15)  # polls: no MediaTaken for what the printer moved
    assert [type(e) for e in listener.events].count(MediaPresented) == 3
    assert listener.kinds().count("MediaTaken") == 1


async def test_paper_thresholds_from_the_poll(tmp_path: Path) -> None:
    rig = printer(tmp_path)
    listener = Listener()
    async with rig.wire(), open_driver(rig.address(), listener):
        rig.model.paper_low()
        low = await listener.wait_for("PaperThreshold")
        assert isinstance(low, PaperThreshold)
        assert low.paper is PaperStatus.LOW
        await asyncio.sleep(0.2)  # several polls: still one event
        assert listener.kinds().count("PaperThreshold") == 1
        rig.model.replenish()
        async with asyncio.timeout(3):
            while listener.kinds().count("PaperThreshold") < 2:
                listener.changed.clear()
                await listener.changed.wait()
    last = listener.events[-1]
    assert isinstance(last, PaperThreshold)
    assert last.paper is PaperStatus.FULL
    assert [s.paper for s in listener.statuses] == [
        PaperStatus.FULL,
        PaperStatus.LOW,
        PaperStatus.FULL,
    ]


async def test_the_journal_printer_is_a_second_device(tmp_path: Path) -> None:
    receipt_rig = PtyPrinter(tmp_path, name="receipt")
    journal_rig = PtyPrinter(tmp_path, name="journal")
    with escpos_registered():
        async with receipt_rig.wire(), journal_rig.wire():
            front = hal.open(receipt_rig.address())
            journal = hal.open(journal_rig.address(type="journal"))
            assert isinstance(front, Printer)
            assert isinstance(journal, Printer)
            async with front, journal:
                assert (await journal.capabilities()).type is PrinterType.JOURNAL
                await asyncio.gather(
                    front.print_document(receipt(2), timeout=5),
                    journal.print_document(Document((Line.of("TXN 0001 WDL 100.00"),))),
                )
    assert journal_rig.lines() == ["TXN 0001 WDL 100.00"]
    assert receipt_rig.lines()[1].startswith("item 00")


async def test_print_raw_in_chunks_and_paper_out(tmp_path: Path) -> None:
    rig = printer(tmp_path)
    data = b"\x1b\x40" + b"".join(f"raw line {i:02d}\n".encode() for i in range(20))
    with escpos_registered():
        async with rig.wire():
            device = hal.open(rig.address(chunk_size=64))
            assert isinstance(device, Printer)
            async with device:
                result = await device.print_raw(data, timeout=5)
                assert result.bytes_sent == len(data)
                rig.model.paper_runs_out(after_lines=4)
                with pytest.raises(PaperOut) as caught:
                    await device.print_raw(data, timeout=5)
    assert caught.value.bytes_sent is not None
    assert 64 <= caught.value.bytes_sent < len(data)
    lines = rig.lines()
    assert lines[:20] == [f"raw line {i:02d}" for i in range(20)]
    assert lines[20:] == [f"raw line {i:02d}" for i in range(4)]


async def test_the_spy_shows_sizes_not_text(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rig = printer(tmp_path)
    with escpos_registered():
        async with rig.wire():
            device = hal.open(rig.address(spy=True))
            assert isinstance(device, Printer)
            with caplog.at_level(logging.DEBUG):
                async with device:
                    await device.print_document(receipt(2), timeout=5)
    assert "<text 14 chars>" in caplog.text
    assert "QR <32 bytes>" in caplog.text
    assert "TELLERHAL" not in caplog.text
    assert "example.invalid" not in caplog.text
    assert "item 00" not in caplog.text


@pytest.mark.parametrize("step", [1, 7, 64])
def test_the_masker_counts_the_same_text_in_any_chunking(step: int) -> None:
    document = receipt(3)
    stream = encode(document, columns=48, dots=576)
    masker = EscPosMasker()
    lines = [
        line
        for at in range(0, len(stream), step)
        for line in masker.lines(TX, stream[at : at + step])
    ]
    shown = " ".join(lines)
    sizes = [int(n) for n in re.findall(r"<text (\d+) chars>", shown)]
    lines_text = [block.text for block in document.blocks if isinstance(block, Line)]
    rule = 48
    assert sum(sizes) == sum(map(len, lines_text)) + rule
    assert "CODE128 <13 bytes>" in shown  # "{B" and the 11 characters
    assert "QR <32 bytes>" in shown
    for secret in ("TELLERHAL", "item", "TX000123456", "example"):
        assert secret not in shown
    assert EscPosMasker().lines(RX, b"\x12") == ["   1 printer: 12"]
    assert EscPosMasker(reveal=True).lines(TX, b"AB") == ["   2 host: 41 42"]
