"""`ScriptedPrinter`: a small `PrinterBackend` for the printer service and remote tests.

It "prints" a block at a time (keeping the blocks it printed, in order), counts the
bytes of each block as the ESC/POS encoder makes them (protocols.escpos, so
``bytes_sent`` is real), and can be scripted: the paper runs out after N more blocks
(PaperOut with the counts; the status goes to ``out``), the paper gets low, the cover
opens (CoverOpen before anything prints), a jam, a delay per block (for queue, timeout
and cancellation tests). A cancelled job finishes the block under way and returns how
far it got (the backend contract). ``thresholds`` makes it emit `PaperThreshold` itself
as well as report the status, as a driver with a near-end sensor interrupt would; by
default it only reports status and the service derives the events.
"""

from __future__ import annotations

import asyncio

from hal.device import BackendListener
from hal.devices.printer import (
    Document,
    MediaControl,
    MediaPresented,
    MediaTaken,
    PaperStatus,
    PaperThreshold,
    PrinterCapabilities,
    PrinterStatus,
    PrintMediaStatus,
    PrintResult,
)
from hal.errors import CoverOpen, MediaJam, NoMedia, PaperOut
from protocols.escpos import encode_blocks

__all__ = ["ScriptedPrinter"]


class ScriptedPrinter:
    """A printer whose paper, cover and timing a test sets.

    Args:
        caps: the capabilities it reports.
        block_delay: seconds each block takes.
        thresholds: also emit `PaperThreshold` itself on every paper change.
    """

    def __init__(
        self,
        caps: PrinterCapabilities | None = None,
        *,
        block_delay: float = 0.0,
        thresholds: bool = False,
    ) -> None:
        self.caps = caps or PrinterCapabilities()
        self.block_delay = block_delay
        self.thresholds = thresholds
        self.status = PrinterStatus()
        self.printed: list[object] = []  # blocks printed, across jobs
        self.raw: list[bytes] = []
        self.jobs: list[str] = []  # one entry per call, in the order the calls came
        self.media_actions: list[MediaControl] = []
        self.paper_left: int | None = None  # blocks until the paper runs out
        self.jam_next = False
        self.opened = 0
        self.closed = 0
        self.block_started = asyncio.Event()
        self._listener: BackendListener[PrinterStatus] | None = None

    # --- the test's side ---------------------------------------------------------------

    def set_paper(self, paper: PaperStatus) -> None:
        """The paper sensor now reads ``paper`` (reported at once)."""
        self._set(paper=paper)

    def open_cover(self, is_open: bool = True) -> None:
        self._set(cover_open=is_open)

    def take_receipt(self) -> None:
        """The customer takes the presented receipt."""
        self._set(media=PrintMediaStatus.NOT_PRESENT)
        self._emit(MediaTaken())

    def _set(self, **changes: object) -> None:
        old = self.status
        self.status = PrinterStatus(
            device=changes.get("device", old.device),  # type: ignore[arg-type]
            media=changes.get("media", old.media),  # type: ignore[arg-type]
            paper=changes.get("paper", old.paper),  # type: ignore[arg-type]
            cover_open=changes.get("cover_open", old.cover_open),  # type: ignore[arg-type]
        )
        if self._listener is not None and self.status != old:
            if self.thresholds and self.status.paper != old.paper:
                self._listener.event(PaperThreshold(paper=self.status.paper))
            self._listener.status_changed(self.status)

    def _emit(self, event: object) -> None:
        if self._listener is not None:
            self._listener.event(event)  # type: ignore[arg-type]

    # --- PrinterBackend ------------------------------------------------------------------

    async def open(self, listener: BackendListener[PrinterStatus]) -> None:
        self._listener = listener
        self.opened += 1

    async def close(self) -> None:
        self._listener = None
        self.closed += 1

    def capabilities(self) -> PrinterCapabilities:
        return self.caps

    async def get_status(self) -> PrinterStatus:
        return self.status

    async def print_document(self, document: Document) -> PrintResult:
        self.jobs.append(f"document:{len(document.blocks)}")
        chunks = encode_blocks(
            document,
            columns=self.caps.columns,
            dots=self.caps.dots_per_line,
            code_pages=self.caps.code_pages,
        )
        total = len(document.blocks)
        if self.status.cover_open:
            raise CoverOpen("the cover is open; nothing printed")
        if self.status.paper is PaperStatus.OUT:
            raise PaperOut("no paper", printed_blocks=0, total_blocks=total, bytes_sent=0)
        sent = len(chunks[0])
        done = 0
        for block, chunk in zip(document.blocks, chunks[1:], strict=True):
            if self.jam_next:
                self.jam_next = False
                self._set(paper=PaperStatus.JAMMED)
                raise MediaJam(f"the paper jammed after {done} of {total} blocks")
            if self.paper_left is not None and self.paper_left <= 0:
                self._set(paper=PaperStatus.OUT)
                raise PaperOut(
                    f"paper out after {done} of {total} blocks",
                    printed_blocks=done,
                    total_blocks=total,
                    bytes_sent=sent,
                )
            try:
                await self._one_block()
            except asyncio.CancelledError:
                # Finish the block under way, then stop and say how far the job got.
                await asyncio.shield(self._one_block_rest())
                self.printed.append(block)
                return PrintResult(done + 1, total, sent + len(chunk), complete=False)
            self.printed.append(block)
            done += 1
            sent += len(chunk)
            if self.paper_left is not None:
                self.paper_left -= 1
        return PrintResult(done, total, sent)

    async def _one_block(self) -> None:
        self.block_started.set()
        if self.block_delay:
            await asyncio.sleep(self.block_delay)

    async def _one_block_rest(self) -> None:
        if self.block_delay:
            await asyncio.sleep(self.block_delay / 2)

    async def print_raw(self, data: bytes) -> PrintResult:
        self.jobs.append(f"raw:{len(data)}")
        if self.status.cover_open:
            raise CoverOpen("the cover is open; nothing printed")
        if self.status.paper is PaperStatus.OUT:
            raise PaperOut("no paper", bytes_sent=0)
        await self._one_block()
        self.raw.append(data)
        return PrintResult(0, 0, len(data))

    async def control_media(self, action: MediaControl) -> None:
        self.jobs.append(f"media:{action.value}")
        self.media_actions.append(action)
        if action is MediaControl.CUT and self.caps.presenter:
            self._set(media=PrintMediaStatus.PRESENT)
            self._emit(MediaPresented())
        elif action is MediaControl.EJECT:
            if self.status.media is not PrintMediaStatus.PRESENT:
                raise NoMedia("no receipt to eject")
        elif action is MediaControl.RETRACT:
            if self.status.media is not PrintMediaStatus.PRESENT:
                raise NoMedia("no receipt to retract")
            self._set(media=PrintMediaStatus.RETRACTED)

    async def reset(self) -> None:
        self.jobs.append("reset")
        if self.status.paper is PaperStatus.JAMMED:
            self._set(paper=PaperStatus.FULL)
