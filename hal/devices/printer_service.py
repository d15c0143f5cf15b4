"""`PrinterService`: the one implementation of `Printer` over a backend.

The service checks every document against the printer's capabilities before it is
queued (a barcode symbology, QR codes, images, a cut or a code page the printer lacks:
`UnsupportedOperation` naming it; an image wider than the paper or a character the
document's code page cannot encode: `InvalidData` naming the block and the character,
never the text) and every raw job (one that ends inside an ESC/POS command: `InvalidData`
naming the command and the bytes missing, nothing sent), queues the commands (FIFO,
one at a time, ``max_queue`` at most), applies timeouts and cancellation, stamps the
backend's events with the running command's id, derives `StatusChanged` and
`PaperThreshold` (once per crossing, also for backends that only report status), and
refreshes the status after a job stopped.

Paper is not money: a printer has no ledger. A job that was cancelled or timed out
finishes the block under way (the backend's contract) before the caller hears of it;
what it printed is logged (blocks, bytes) and the status refreshed. Receipts carry
masked account data and names: logs say a document's size (blocks, characters, image
bytes), never its text.
"""

from __future__ import annotations

import asyncio
import logging
import unicodedata
from collections.abc import Awaitable

from hal.device import DeviceService, finish
from hal.devices.printer import (
    Barcode,
    CodePage,
    Cut,
    Document,
    Image,
    Line,
    MediaControl,
    PaperStatus,
    PaperThreshold,
    Printer,
    PrinterBackend,
    PrinterCapabilities,
    PrinterStatus,
    PrintResult,
    QrCode,
    Rule,
)
from hal.errors import (
    CoverOpen,
    InvalidData,
    MediaJam,
    PaperOut,
    ProtocolError,
    UnsupportedOperation,
)
from hal.events import Event
from protocols.escpos import encode_text
from protocols.escpos_decoder import EscPosDecoder

__all__ = ["PrinterService", "check_document", "document_summary"]

log = logging.getLogger(__name__)

#: The paper states a `PaperThreshold` announces; the others (jammed, unknown) are not
#: levels of the supply and leave the last level announced standing.
_LEVELS = frozenset({PaperStatus.FULL, PaperStatus.LOW, PaperStatus.OUT})


class PrinterService(DeviceService[PrinterStatus, PrinterCapabilities], Printer):
    """`Printer` over any `PrinterBackend`.

    Args:
        backend: the driver or simulator model.
        name: the device's name: ``receipt_printer``, or ``journal_printer`` for a
            kiosk's second printer.
        max_queue: commands queued or running before ``TooManyRequests``.
        close_timeout: seconds `close` waits for cancelled jobs to settle with the
            printer before it closes the backend under them.
    """

    _log = log

    def __init__(
        self,
        backend: PrinterBackend,
        *,
        name: str = "receipt_printer",
        max_queue: int = 16,
        close_timeout: float = 30.0,
    ) -> None:
        super().__init__(name, max_queue=max_queue)
        self._backend = backend
        self._close_timeout = close_timeout
        self._caps: PrinterCapabilities | None = None
        #: The paper level last announced (or seen at open); None before open.
        self._paper_level: PaperStatus | None = None

    def __repr__(self) -> str:
        return f"PrinterService(name={self.name!r}, backend={type(self._backend).__name__})"

    # --- lifecycle ---------------------------------------------------------------------

    async def open(self) -> None:
        async def opened() -> None:
            self._caps = self._backend.capabilities()
            status = await self._fetch_status()
            self._last_status = status
            if status.paper in _LEVELS:
                self._paper_level = status.paper

        await self._open_backend(self._backend, opened)

    async def close(self) -> None:
        await self._close_backend(self._backend, timeout=self._close_timeout, what="printer")

    # --- BackendListener: thresholds once per crossing ---------------------------------

    def event(self, event: Event) -> None:
        """Publish a backend event. A `PaperThreshold` for the level already announced
        (the service derived it from a status report) is dropped, and so is one for a
        state that is no level of the supply (``jammed``, ``unknown``)."""
        if isinstance(event, PaperThreshold):
            if event.paper not in _LEVELS or event.paper == self._paper_level:
                return  # not a level of the supply, or already announced
            self._paper_level = event.paper
        super().event(event)

    def status_changed(self, status: PrinterStatus) -> None:
        """Publish `StatusChanged`, and `PaperThreshold` when the paper crossed to
        another level (full, low, out) than the one last announced."""
        super().status_changed(status)
        paper = status.paper
        if paper in _LEVELS and self._paper_level is not None and paper != self._paper_level:
            self._paper_level = paper
            super().event(PaperThreshold(paper=paper))
        elif paper in _LEVELS and self._paper_level is None:
            self._paper_level = paper

    # --- queries (no queue) ------------------------------------------------------------

    async def capabilities(self) -> PrinterCapabilities:
        self._require_open()
        return self._capabilities()

    def _capabilities(self) -> PrinterCapabilities:
        assert self._caps is not None  # set by open(), checked by _require_open()
        return self._caps

    async def _fetch_status(self) -> PrinterStatus:
        return await self._backend.get_status()

    # --- commands ----------------------------------------------------------------------

    async def print_document(
        self, document: Document, *, timeout: float | None = None
    ) -> PrintResult:
        self._require_open()
        check_document(document, self._capabilities(), self.name)
        summary = document_summary(document)
        total = len(document.blocks)

        async def op(command_id: int) -> PrintResult:
            result = await self._job(
                "PrintDocument", command_id, self._backend.print_document(document), total
            )
            log.debug(
                "%s: PrintDocument #%d printed %d of %d blocks, %d bytes%s",
                self.name,
                command_id,
                result.blocks,
                result.total_blocks,
                result.bytes_sent,
                "" if result.complete else " (incomplete)",
            )
            return result

        return await self._run("PrintDocument", summary, op, timeout)

    async def print_raw(self, data: bytes, *, timeout: float | None = None) -> PrintResult:
        self._require_open()
        if not isinstance(data, bytes | bytearray | memoryview):
            raise InvalidData(f"{self.name}: PrintRaw takes bytes, got a {type(data).__name__}")
        raw = bytes(data)
        _check_raw(raw, self.name)

        async def op(command_id: int) -> PrintResult:
            return await self._job("PrintRaw", command_id, self._backend.print_raw(raw), 0)

        return await self._run("PrintRaw", f"{len(raw)} bytes", op, timeout)

    async def control_media(self, action: MediaControl, *, timeout: float | None = None) -> None:
        self._require_open()
        caps = self._capabilities()
        try:
            media = MediaControl(action)
        except ValueError:
            raise InvalidData(
                f"{self.name}: {action!r} is not a media action; one of "
                f"{', '.join(a.value for a in MediaControl)}"
            ) from None
        if media is MediaControl.CUT and not caps.cut:
            raise UnsupportedOperation(f"{self.name} has no cutter; it cannot cut")
        if media in (MediaControl.EJECT, MediaControl.RETRACT) and not caps.presenter:
            raise UnsupportedOperation(
                f"{self.name} has no presenter; it cannot {media.value} a receipt"
            )

        async def op(command_id: int) -> None:
            try:
                await self._backend.control_media(media)
            finally:
                await self._refresh_quietly()

        await self._run("ControlMedia", media.value, op, timeout)

    async def reset(self, *, timeout: float | None = None) -> None:
        self._require_open()

        async def op(command_id: int) -> None:
            try:
                await self._backend.reset()
            finally:
                await self._refresh_quietly()

        await self._run("Reset", "", op, timeout)

    # --- helpers -----------------------------------------------------------------------

    async def _job(
        self, command: str, command_id: int, work: Awaitable[PrintResult], total: int
    ) -> PrintResult:
        """Run a print job to its end. A cancellation (or the command's timeout) is
        passed to the backend, which finishes the block under way and stops; what it
        printed is logged, then the cancellation raised. A job the printer stopped
        (paper out, cover open, jam) refreshes the status before its error is raised."""
        try:
            result, cancelled = await finish(work, forward_cancel=True)
        except asyncio.CancelledError:
            log.info(
                "%s: %s #%d cancelled; the backend did not say how far it got",
                self.name,
                command,
                command_id,
            )
            raise
        except (PaperOut, CoverOpen, MediaJam) as exc:
            log.info("%s: %s #%d stopped: %s", self.name, command, command_id, _progress(exc))
            await self._refresh_quietly()
            raise
        if not isinstance(result, PrintResult):
            raise ProtocolError(
                f"{self.name}: the backend's {command} gave a {type(result).__name__}, "
                "not a PrintResult"
            )
        if cancelled:
            log.info(
                "%s: %s #%d cancelled after %d of %d blocks, %d bytes sent",
                self.name,
                command,
                command_id,
                result.blocks,
                result.total_blocks if total else 0,
                result.bytes_sent,
            )
            raise asyncio.CancelledError()
        return result

    async def _refresh_quietly(self) -> None:
        """Learn the status after a job stopped; a failure here must not hide the job's
        own error (it is logged)."""
        try:
            await self._refresh()
        except Exception as exc:
            log.warning("%s: reading the status afterwards failed: %s", self.name, exc)


def _check_raw(raw: bytes, name: str) -> None:
    """Refuse a raw job that ends inside a command: sent, the printer would wait for the
    missing bytes and take them from the next job, which then prints nothing (or
    garbage). A bad command inside the job (GS k data with no end) is the printer's to
    drop, as it drops it from any stream: that job goes out.

    Raises:
        InvalidData: naming the command, where it starts and the bytes missing (the
            decoder's words; never the data).
    """
    decoder = EscPosDecoder()
    try:
        decoder.feed(raw)
    except ProtocolError:
        return  # a bad command: the decoder (and the printer) dropped it and the rest
    try:
        decoder.finish()
    except ProtocolError as exc:
        raise InvalidData(f"{name}: PrintRaw refused, nothing sent: {exc}") from None


def _progress(exc: PaperOut | CoverOpen | MediaJam) -> str:
    if isinstance(exc, PaperOut):
        return (
            f"paper out after {exc.printed_blocks} of {exc.total_blocks} blocks, "
            f"{exc.bytes_sent} bytes"
        )
    return type(exc).__name__


def document_summary(document: Document) -> str:
    """What a log may say of a document: its size, never its text."""
    chars = 0
    image_bytes = 0
    for block in document.blocks:
        if isinstance(block, Line):
            chars += sum(len(run.text) for run in block.runs)
        elif isinstance(block, Image):
            image_bytes += len(block.pixels)
    return (
        f"{len(document.blocks)} blocks, {chars} characters, {image_bytes} image bytes, "
        f"{document.code_page.value}"
    )


def check_document(document: Document, caps: PrinterCapabilities, name: str) -> None:
    """Refuse a document the printer cannot print, before it is queued.

    Raises:
        InvalidData: not a `Document`; an image wider than ``caps.dots_per_line``; a
            character the document's code page cannot encode (the message names the
            block and the character, never the text).
        UnsupportedOperation: a code page, barcode symbology, QR codes, images or a
            cut the printer lacks (named).
    """
    if not isinstance(document, Document):
        raise InvalidData(
            f"{name}: PrintDocument takes a Document, got a {type(document).__name__}"
        )
    page = document.code_page
    if page not in caps.code_pages:
        have = ", ".join(sorted(p.value for p in caps.code_pages)) or "none"
        raise UnsupportedOperation(f"{name} has no code page {page.value}; it has {have}")
    for index, block in enumerate(document.blocks):
        where = f"{name}: block {index}"
        if isinstance(block, Line):
            for run in block.runs:
                _check_text(run.text, page, f"{where} (a line)")
        elif isinstance(block, Rule):
            _check_text(block.char, page, f"{where} (a rule)")
        elif isinstance(block, Barcode):
            if block.symbology not in caps.symbologies:
                have = ", ".join(sorted(s.value for s in caps.symbologies)) or "none"
                raise UnsupportedOperation(
                    f"{where}: the printer has no {block.symbology.value} barcodes; it prints "
                    f"{have}"
                )
        elif isinstance(block, QrCode):
            if not caps.qr:
                raise UnsupportedOperation(f"{where}: the printer prints no QR codes")
        elif isinstance(block, Image):
            if not caps.images:
                raise UnsupportedOperation(f"{where}: the printer prints no images")
            if block.width > caps.dots_per_line:
                raise InvalidData(
                    f"{where}: the image is {block.width} dots wide; the paper has "
                    f"{caps.dots_per_line}"
                )
        elif isinstance(block, Cut):
            kind = "partial" if block.partial else "full"
            if kind not in caps.cut:
                have = ", ".join(sorted(caps.cut)) or "no cuts"
                raise UnsupportedOperation(
                    f"{where}: the printer makes no {kind} cut; it makes {have}"
                )


def _check_text(text: str, page: CodePage, where: str) -> None:
    """Refuse text ``page`` cannot encode, naming the first character it lacks (the
    encoder's own check, so the service and the driver agree)."""
    try:
        encode_text(text, page)
    except ValueError:
        bad = next(ch for ch in text if not _encodes(ch, page))
        label = unicodedata.name(bad, "")
        shown = f"{bad!r} (U+{ord(bad):04X}{' ' + label if label else ''})"
        raise InvalidData(f"{where}: character {shown} is not in code page {page.value}") from None


def _encodes(ch: str, page: CodePage) -> bool:
    try:
        encode_text(ch, page)
    except ValueError:
        return False
    return True
