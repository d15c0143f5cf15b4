"""The ``escpos`` driver: an ESC/POS receipt or journal printer, as a `PrinterBackend`.

Address (entry point ``escpos`` in group ``tellerhal.drivers``)::

    escpos+usb://0416:5011[?serial=SN&backend=libusb1&profile=80mm&progress=process_id
                           &status_interval=0.5&presenter=false...]
    escpos+serial:///dev/ttyUSB0[?baud=115200&profile=58mm...]
    spy+escpos+usb://0416:5011       (the traffic in the log, text as sizes)

Over USB the printer-class interface's bulk OUT carries the stream and its bulk IN the
answers (`hal.transports.usb`); over a serial line the same bytes flow (115200 baud by
default). The options are `drivers.printer.escpos_options.EscPosOptions`; the line and
the sorting of the printer's answers `drivers.printer.escpos_link.EscPosLink`; the
stream `protocols.escpos` (the one encoder the simulator shares); the answers
`protocols.escpos_status`. docs/escpos_driver.md says it all for people.

What the Printer operations send:

- **open**: ESC @, then DLE EOT 1-4 (no answer: `HalTimeout` saying the printer is
  silent), then GS I 67 / 65 (model name, firmware version) for the capabilities'
  ``firmware``, each bounded by ``identify_timeout`` (a printer that ignores GS I gives
  ``""``). A status poll task starts.
- **print_document**: the status first (cover open: `CoverOpen`, paper out:
  `PaperOut` with 0 printed, jam: `MediaJam`; nothing sent). Then `encode_blocks`, block
  by block: with ``progress=process_id`` each block ends with GS ( H fn 48 and the next
  is sent once the printer answered its ID (it answers when the block has printed);
  while waiting, every ``status_interval`` a DLE EOT 1 (and 2-4 when offline) tells
  whether it stopped. With ``progress=status`` a DLE EOT 1 follows each block [U: a
  real-time status is answered at once, before a buffered block has printed; see the
  docs]. Paper end -> `PaperOut(printed_blocks, total_blocks, bytes_sent)`; cover ->
  `CoverOpen`; jam -> `MediaJam` with the counts in its text. A cancellation finishes the
  block under way and returns the result with ``complete`` false. A write the line does
  not take within the transport's ``write_timeout`` (serial flow control held by a busy
  or paper-out printer) asks DLE EOT: a stop is its error with the counts (paper end:
  `PaperOut`), else the `HalTimeout` stands [U: whether DLE EOT passes a held line].
- **print_raw**: the bytes in ``chunk_size`` pieces, a DLE EOT 1 after each.
- **reset**: DLE ENQ 2 (recover from a recoverable error such as a jam, the receive
  and print buffers cleared; ignored by a printer without one), ESC @, the status again.
- **control_media**: cut GS V 0 (full); on a printer with a presenter, which holds each
  cut receipt at its exit, eject ``1D 65 05`` (out to the customer) and retract ``1D 65
  02`` (into the bin) [S protocols.md 5.1: TerminalClient], the ticket sensor read with
  the Custom full status ``10 04 14`` (byte 3 bit 5) [S Custom VKP80 manual; U for other
  makes]. `MediaPresented` once a cut receipt is at the exit; no receipt there: NoMedia.
- **status poll**: every ``status_interval`` while idle: `StatusChanged` (through the
  listener), `PaperThreshold` on each crossing, `MediaTaken` when the ticket sensor
  clears after a present.

Where the code lives: the status machinery (DLE EOT, the ticket sensor, GS I, the poll,
the line found again) and `Stop` in `drivers.printer.escpos_core` (`EscPosCore`); this
module keeps the Printer operations and the registration, and `Stop` imports from here.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections import deque
from collections.abc import Awaitable

from drivers.printer.escpos_core import INIT as _INIT
from drivers.printer.escpos_core import EscPosCore, Stop
from drivers.printer.escpos_masker import EscPosMasker
from drivers.printer.escpos_options import ESCPOS_BAUD, EscPosOptions, Progress
from hal.address import DeviceAddress
from hal.device import BackendListener
from hal.devices.printer import (
    Cut,
    Document,
    MediaControl,
    MediaPresented,
    PrinterCapabilities,
    PrinterStatus,
    PrinterType,
    PrintResult,
)
from hal.devices.printer_service import PrinterService
from hal.errors import (
    HalError,
    HalTimeout,
    InvalidData,
    MediaJam,
    NoMedia,
)
from hal.registry import DriverSpec, make_transport
from hal.transports.serial import WriteTimeout
from protocols.escpos import block_ident, encode_blocks

__all__ = ["ESCPOS_DRIVER", "EscPosDriver", "Stop", "open_escpos"]

log = logging.getLogger(__name__)

#: DLE ENQ 2: recover from a recoverable error (a jam, an autocutter error) after clearing
#: the receive and print buffers; a printer with no such error ignores it.
_RECOVER = b"\x10\x05\x02"
_FULL_CUT = b"\x1d\x56\x00"
_EJECT = b"\x1d\x65\x05"
_RETRACT = b"\x1d\x65\x02"


@dataclasses.dataclass
class _Job:
    """A document job under way: its blocks, where its bytes start, how far it got."""

    total: int
    start: int
    printed: int = 0
    cancelled: bool = False


class EscPosDriver(EscPosCore):
    """An ESC/POS printer behind a `Transport` (see the module header).

    Args:
        transport: the line to the printer (usb, serial...).
        options: geometry, progress method, timings.
        name: the device name, for messages.
    """

    def __repr__(self) -> str:
        return f"EscPosDriver({self.link.transport.name!r})"

    # --- lifecycle -------------------------------------------------------------------

    async def open(self, listener: BackendListener[PrinterStatus]) -> None:
        """Open the line, initialise the printer, read its status and who it is.

        Raises:
            HalTimeout: the printer does not answer DLE EOT (the message says so).
        """
        self._listener = listener
        self._device_lost = False
        await self.link.open()
        try:
            async with self._lock:
                await self.link.write(_INIT)
                try:
                    status = await self._read_status()
                except HalTimeout:
                    count = self.options.status_retries + 1
                    tries = f"{count} {'try' if count == 1 else 'tries'}"
                    raise HalTimeout(
                        f"{self.name}: the ESC/POS printer on {self.link.transport.name} is "
                        f"silent: no answer to DLE EOT 1 (real-time status) within "
                        f"{self.options.reply_timeout} s ({tries}): is it connected "
                        f"and powered, and a serial line at its rate (115200 baud unless "
                        f"baud= says otherwise)?"
                    ) from None
                self._firmware = await self._identify()
                self._publish(status)
        except BaseException:
            await self.link.close()
            raise
        self._poller = asyncio.get_running_loop().create_task(
            self._poll(), name=f"escpos poll {self.name}"
        )
        log.info("%s: ESC/POS printer ready (%s)", self.name, self._firmware or "not identified")

    async def close(self) -> None:
        task, self._poller = self._poller, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        await self.link.close()

    def capabilities(self) -> PrinterCapabilities:
        dots, columns = self.options.geometry()
        presenter = self.options.presenter
        return PrinterCapabilities(
            type=PrinterType(self.options.type),
            dots_per_line=dots,
            columns=columns,
            code_pages=self.options.pages(),
            cut=frozenset({"full", "partial"}),
            presenter=presenter,
            retract_capacity=self.options.retract_capacity if presenter else 0,
            near_end_sensor=self.options.near_end_sensor,
            firmware=self._firmware,
        )

    async def get_status(self) -> PrinterStatus:
        async with self._lock:
            await self._ensure_line()
            status = await self._read_status()
            self._publish(status)
            return status

    # --- printing ----------------------------------------------------------------------

    async def print_document(self, document: Document) -> PrintResult:
        dots, columns = self.options.geometry()
        by_id = Progress(self.options.progress) is Progress.PROCESS_ID
        try:
            chunks = encode_blocks(
                document,
                columns=columns,
                dots=dots,
                code_pages=self.options.pages(),
                process_ids=by_id,
            )
        except ValueError as exc:
            raise InvalidData(f"{self.name}: {exc}") from None
        total = len(document.blocks)
        window = self.options.window if by_id else 1
        async with self._lock:
            await self._ensure_line()
            await self._check_ready(total)
            job = _Job(total, self.link.bytes_sent)
            in_flight: deque[int] = deque()
            try:
                await self._send(chunks[0], job, in_flight)
                for index, chunk in enumerate(chunks[1:]):
                    if job.cancelled:
                        break
                    ident = block_ident(index % 10000) if by_id else None
                    if ident is not None:
                        self.link.expect_pid(ident)
                    await self._whole(self._send(chunk, job, in_flight), job, index)
                    in_flight.append(index)
                    while len(in_flight) >= window or (job.cancelled and in_flight):
                        await self._printed(in_flight.popleft(), by_id, job, document)
                while in_flight:
                    await self._printed(in_flight.popleft(), by_id, job, document)
            finally:
                self.link.forget_pids()
            return PrintResult(
                blocks=job.printed,
                total_blocks=total,
                bytes_sent=self.link.bytes_sent - job.start,
                complete=job.printed == total,
            )

    async def _send(self, chunk: bytes, job: _Job, in_flight: deque[int]) -> None:
        """Write ``chunk``. A write the line did not take in time (flow control held it)
        is asked about with DLE EOT (a real-time request, which an Epson printer handles
        ahead of its buffer [S]; whether it passes a line held by flow control is [U]): a
        stopped printer is its stop error (paper end: `PaperOut` with the blocks whose
        process IDs came and the bytes the line took), else the timeout stands."""
        try:
            await self.link.write(chunk)
        except WriteTimeout as exc:
            stop = await self._stop_after(exc)
            while in_flight and self.link.pid_arrived(block_ident(in_flight[0] % 10000)):
                job.printed = in_flight.popleft() + 1
            sent = self.link.bytes_sent - job.start
            raise self._stopped_error(stop, job.printed, job.total, sent) from None

    async def _stop_after(self, timeout: WriteTimeout) -> Stop:
        """Why the printer stopped taking bytes (DLE EOT 1-3); ``timeout`` itself when
        it says it has not stopped or does not answer (the line held, busy, not a stop)."""
        try:
            stop = await self._stop_cause()
        except HalError:
            raise timeout from None
        if not stop.stopped:
            raise timeout
        log.info(
            "%s: a write stalled at %s of %s bytes: %s",
            self.name,
            timeout.written,
            timeout.total,
            stop,
        )
        return stop

    async def _printed(self, index: int, by_id: bool, job: _Job, document: Document) -> None:
        """Wait (through a cancellation) until block ``index`` has printed."""
        await self._whole(self._block_done(index, by_id, job), job, index)
        job.printed = index + 1
        if isinstance(document.blocks[index], Cut):
            await self._after_cut()

    async def _whole(self, work: Awaitable[None], job: _Job, index: int) -> None:
        """Run ``work`` to its end even if cancelled meanwhile (noted in ``job``: the job
        then stops once the blocks sent have printed)."""
        task = asyncio.ensure_future(work)
        while not task.done():
            try:
                await asyncio.shield(task)
            except asyncio.CancelledError:
                if not task.done() and not job.cancelled:
                    job.cancelled = True
                    log.info(
                        "%s: cancelled; finishing block %d of %d first",
                        self.name,
                        index + 1,
                        job.total,
                    )
        task.result()

    async def _block_done(self, index: int, by_id: bool, job: _Job) -> None:
        """Return once block ``index`` has printed; raise when the printer stopped."""
        ident = block_ident(index % 10000) if by_id else None
        deadline = time.monotonic() + self.options.block_timeout
        interval = self.options.status_interval
        while True:
            if ident is not None:
                left = deadline - time.monotonic()
                if await self.link.wait_pid(ident, max(0.0, min(interval, left))):
                    return
            stop = await self._stop_cause()
            if stop.stopped:
                if ident is not None and self.link.pid_arrived(ident):
                    # Its ID came after wait_pid gave up but before the status said
                    # stopped: the block printed (the stop is in a later one).
                    return
                sent = self.link.bytes_sent - job.start
                raise self._stopped_error(stop, job.printed, job.total, sent)
            if ident is None:
                return
            if time.monotonic() >= deadline:
                raise HalTimeout(
                    f"{self.name}: block {index + 1} of {job.total} did not print within "
                    f"{self.options.block_timeout} s (no GS ( H process-ID answer, "
                    f"the printer online): does it implement GS ( H fn 48? "
                    f"progress=status does without"
                )

    async def print_raw(self, data: bytes) -> PrintResult:
        size = self.options.chunk_size
        async with self._lock:
            await self._ensure_line()
            await self._check_ready(None)
            sent = 0
            for at in range(0, len(data), size):
                piece = data[at : at + size]
                before = self.link.bytes_sent
                try:
                    await self.link.write(piece)
                except WriteTimeout as exc:
                    stop = await self._stop_after(exc)
                    sent += self.link.bytes_sent - before
                    raise self._stopped_error(stop, None, None, sent) from None
                sent += len(piece)
                stop = await self._stop_cause()
                if stop.stopped:
                    raise self._stopped_error(stop, None, None, sent)
            return PrintResult(blocks=0, total_blocks=0, bytes_sent=sent)

    async def control_media(self, action: MediaControl) -> None:
        async with self._lock:
            await self._ensure_line()
            if action is MediaControl.CUT:
                await self._check_ready(None)
                await self.link.write(_FULL_CUT)
                stop = await self._stop_cause()
                if stop.stopped:
                    raise self._stopped_error(stop, None, None, None)
                await self._after_cut()
                return
            if not await self._ticket():
                raise NoMedia(f"{self.name}: no receipt at the exit to {action.value}")
            self._ticket_out = False  # leaving by the printer's doing, not taken
            await self.link.write(_EJECT if action is MediaControl.EJECT else _RETRACT)
            if not await self._ticket_becomes(False):
                raise MediaJam(f"{self.name}: the receipt did not leave the exit ({action.value})")
            self._retracted = action is MediaControl.RETRACT
            self._publish(await self._read_status())

    async def _after_cut(self) -> None:
        """A printer with a presenter holds the cut receipt at its exit: once its ticket
        sensor says so, `MediaPresented`."""
        if not self.options.presenter:
            return
        if await self._ticket_becomes(True, 2 * self.options.reply_timeout):
            self._ticket_out = True
            self._retracted = False
            self._emit(MediaPresented())
            self._publish(await self._read_status())

    async def reset(self) -> None:
        """DLE ENQ 2 (a printer stopped by a recoverable error, whose cause the operator
        removed, recovers; ESC @ alone it would ignore), ESC @, then the status again."""
        async with self._lock:
            await self._ensure_line()
            await self.link.write(_RECOVER + _INIT)
            self._publish(await self._read_status())


def open_escpos(address: DeviceAddress, options: EscPosOptions) -> PrinterService:
    """Build the (unopened) printer an address names (the registry factory)."""
    if address.transport == "serial" and "baud" not in address.options:
        address = dataclasses.replace(
            address, options={**address.options, "baud": str(ESCPOS_BAUD)}
        )
    name = "journal_printer" if options.type == "journal" else "receipt_printer"
    driver = EscPosDriver(make_transport(address), options, name=name)
    return PrinterService(driver, name=name)


ESCPOS_DRIVER = DriverSpec(
    name="escpos",
    device_classes=frozenset({"receipt_printer", "journal_printer"}),
    options=EscPosOptions,
    factory=open_escpos,
    description="ESC/POS receipt or journal printer (USB bulk OUT/IN, or serial)",
    transports=frozenset({"serial", "memory", "usb"}),
    capabilities={
        "receipt_printer": frozenset({"cut", "barcodes", "qr", "images"}),
        "journal_printer": frozenset({"cut", "barcodes", "qr", "images"}),
    },
    masker=EscPosMasker,
)
"""The ``escpos`` driver, registered through the ``tellerhal.drivers`` entry point."""
