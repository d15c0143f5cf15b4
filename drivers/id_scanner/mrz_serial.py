"""The ``mrz-serial`` driver: an OCR reader (swipe or flat) that sends a document's MRZ
lines as ASCII over a serial line when it reads one, as an `IdScannerBackend`.

Address (entry point ``mrz-serial`` in group ``tellerhal.drivers``)::

    mrz-serial+serial:///dev/ttyUSB0?baud=9600[&framing=cr|crlf|lf|stx&prefix=HDR
        &idle=0.5&hold=0&ledger=PATH]
    mrz-serial+memory://NAME?...     (tests: a `hal.transports.memory` pair)

The reader needs no host commands: the driver listens. Framings and the decoder's rules
are `protocols.mrz_framing` (docs/mrz.md names the readers and sources); the MRZ
becomes an `IdentityDocument` through `hal.devices.id_mrz`, and the service runs the
check digits.

How a read goes: `accept_document` emits `InsertDocument` and waits for a block;
`DocumentInserted` when one came. `read_document` turns it into the document; a block
that is broken (truncated, an over-long line, a wrong line) or is not an MRZ emits
`InvalidDocument` and raises `InvalidMedia`.

Stale blocks: a block that completes while no read is waiting is dropped, unless
``hold`` > 0, then the newest one is kept for the next read if it completed at most
``hold`` seconds before that read began (for kiosks whose customers swipe before the
prompt). A cancelled read (timeout, close) forgets what is buffered and drops every
byte until the line has been silent for ``idle`` seconds (counted from the cancel, and
again from each byte dropped), so the rest of a document being swiped at that moment is
never taken for the next customer's. The reader task reads with an ``idle`` timeout, so
it notices the silence even when nothing comes.

The reader cannot tell when a document is taken away (``removal_sensor`` false), holds
nothing (no eject, no retain) and scans no images.
"""

from __future__ import annotations

import asyncio
import logging
import math
from dataclasses import dataclass

from drivers.id_scanner.mrz_masker import MrzMasker
from hal.address import DeviceAddress
from hal.device import BackendListener, DeviceState
from hal.devices.id_mrz import document_from_mrz
from hal.devices.id_scanner import (
    DocumentInserted,
    DocumentKind,
    DocumentStatus,
    IdentityDocument,
    IdScannerCapabilities,
    IdScannerStatus,
    ImageFormat,
    ImageSide,
    InsertDocument,
    InvalidDocument,
    ScannedImage,
)
from hal.devices.id_scanner_service import IdScannerService
from hal.errors import (
    ConfigurationError,
    ConnectionLost,
    HalTimeout,
    InvalidMedia,
    NoMedia,
    ProtocolError,
    UnsupportedOperation,
)
from hal.registry import DriverSpec, make_transport
from hal.transports.base import Transport
from protocols.mrz_framing import Framing, MrzBlock, MrzDecoder

__all__ = [
    "MRZ_KINDS",
    "MRZ_SERIAL_DRIVER",
    "MrzSerialDriver",
    "MrzSerialOptions",
    "open_mrz_serial",
]

log = logging.getLogger(__name__)

#: The kinds an MRZ reader reads.
MRZ_KINDS = frozenset(
    {DocumentKind.PASSPORT, DocumentKind.TRAVEL_DOCUMENT, DocumentKind.CN_TRAVEL_PERMIT}
)
_READ_SIZE = 256


@dataclass(frozen=True)
class MrzSerialOptions:
    """The options of an ``mrz-serial`` address (the line's are the transport's).

    Attributes:
        framing: how the reader marks lines and blocks: ``cr`` (default), ``crlf``,
            ``lf`` (lines; CR, LF and CR LF are all accepted) or ``stx`` (lines between
            STX and ETX).
        prefix: a header the reader puts before each block, removed when present.
        idle: seconds of silence that end a block in progress (an error: truncated).
        hold: seconds a block that came while no read was waiting stays usable by the
            next read; 0 (default) drops it.
        ledger: the ledger file the service journals in; empty: in memory.
    """

    framing: str = Framing.CR.value
    prefix: str = ""
    idle: float = 0.5
    hold: float = 0.0
    ledger: str = ""

    def __post_init__(self) -> None:
        try:
            Framing(self.framing)
        except ValueError:
            choices = ", ".join(framing.value for framing in Framing)
            raise ConfigurationError(f"framing={self.framing!r} is not one of {choices}") from None
        if not (math.isfinite(self.idle) and 0.01 <= self.idle <= 60):
            raise ConfigurationError(f"idle={self.idle!r}: give 0.01 to 60 seconds")
        if not (math.isfinite(self.hold) and 0 <= self.hold <= 600):
            raise ConfigurationError(f"hold={self.hold!r}: give 0 to 600 seconds")
        if len(self.prefix) > 16 or not self.prefix.isascii():
            raise ConfigurationError("prefix= is at most 16 ASCII characters")


class MrzSerialDriver:
    """An OCR MRZ reader on a serial line (see the module header).

    Args:
        transport: the line (serial, or a memory pair in tests).
        options: the address's options.
        name: the device's name in messages.

    Attributes:
        dropped: blocks dropped because no read was waiting (or too old to hold).
        skipped: bytes dropped after a cancelled read, until the line was silent.
    """

    def __init__(
        self, transport: Transport, options: MrzSerialOptions, *, name: str = "mrz-serial"
    ) -> None:
        self.name = name
        self._transport = transport
        self._options = options
        self._decoder = MrzDecoder(options.framing, prefix=options.prefix)
        self._listener: BackendListener[IdScannerStatus] | None = None
        self._reader: asyncio.Task[None] | None = None
        self._waiter: asyncio.Future[MrzBlock] | None = None
        self._held: tuple[MrzBlock, float] | None = None
        self._current: MrzBlock | None = None
        self._skip_until = 0.0
        self._lost: ConnectionLost | None = None
        self.dropped = 0
        self.skipped = 0

    def __repr__(self) -> str:
        return f"MrzSerialDriver({self.name!r}, {self._transport.name!r})"

    @property
    def noise(self) -> int:
        """Bytes dropped as noise by the decoder."""
        return self._decoder.noise

    # --- lifecycle ---------------------------------------------------------------------

    async def open(self, listener: BackendListener[IdScannerStatus]) -> None:
        self._listener = listener
        await self._transport.open()
        self._transport.flush_input()
        self._decoder.reset()
        self._lost = None
        self._start_reader()

    def _start_reader(self) -> None:
        self._reader = asyncio.get_running_loop().create_task(
            self._read_loop(), name=f"{self.name}-reader"
        )

    async def close(self) -> None:
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)
        self._fail_waiter(ConnectionLost(f"{self.name} is closed"))
        self._held = self._current = None
        await self._transport.close()

    def capabilities(self) -> IdScannerCapabilities:
        return IdScannerCapabilities(
            kinds=MRZ_KINDS,
            chip=False,
            mrz=True,
            fingerprints=False,
            newest_address=False,
            removal_sensor=False,
        )

    async def get_status(self) -> IdScannerStatus:
        return self._status()

    def _status(self) -> IdScannerStatus:
        return IdScannerStatus(
            device=DeviceState.OFFLINE if self._lost is not None else DeviceState.ONLINE,
            media=DocumentStatus.PRESENT
            if self._current is not None
            else DocumentStatus.NOT_PRESENT,
        )

    # --- reading -----------------------------------------------------------------------

    async def accept_document(self) -> None:
        if self._lost is not None:
            raise ConnectionLost(f"{self.name}: the line is gone")
        self._emit(InsertDocument())
        block = self._take_held()
        if block is None:
            waiter: asyncio.Future[MrzBlock] = asyncio.get_running_loop().create_future()
            self._waiter = waiter
            try:
                block = await waiter
            except asyncio.CancelledError:
                self._forget_line()
                raise
            finally:
                if self._waiter is waiter:
                    self._waiter = None
        self._current = block
        self._emit(DocumentInserted())

    async def read_document(self, *, fingerprints: bool, newest_address: bool) -> IdentityDocument:
        block, self._current = self._current, None
        if block is None:
            raise NoMedia(f"{self.name}: no document read")
        reason = block.error
        if not reason:
            try:
                return document_from_mrz(block.lines)
            except ProtocolError as error:
                reason = error.message
        self._emit(InvalidDocument(reason=reason))
        raise InvalidMedia(f"{self.name}: the MRZ read is unusable: {reason}")

    async def scan_image(self, side: ImageSide, format: ImageFormat) -> ScannedImage:
        raise UnsupportedOperation(f"{self.name} scans no images")

    async def eject(self) -> None:
        raise UnsupportedOperation(f"{self.name} holds no document")

    async def retain(self) -> None:
        raise UnsupportedOperation(f"{self.name} has no retain bin")

    async def reset(self) -> str | None:
        """Forget what is buffered; after the line was lost, open it again (the reader
        plugged back) and listen anew."""
        if self._lost is not None or self._reader is None or self._reader.done():
            await self._transport.reopen()
            self._lost = None
            self._decoder.reset()
            self._start_reader()
            if self._listener is not None:
                self._listener.status_changed(self._status())
        self._forget_line()
        return None

    # --- the line ----------------------------------------------------------------------

    def _forget_line(self) -> None:
        """Drop what is buffered or held, and the bytes until the line is silent."""
        self._held = self._current = None
        self._decoder.reset()
        self.skipped += self._transport.flush_input()
        self._skip_until = asyncio.get_running_loop().time() + self._options.idle

    def _take_held(self) -> MrzBlock | None:
        held, self._held = self._held, None
        if held is None:
            return None
        block, when = held
        if asyncio.get_running_loop().time() - when <= self._options.hold:
            return block
        self.dropped += 1
        log.info("%s: dropped a block held longer than hold=%s s", self.name, self._options.hold)
        return None

    async def _read_loop(self) -> None:
        loop = asyncio.get_running_loop()
        idle = self._options.idle
        while True:
            try:
                data = await self._transport.read(_READ_SIZE, timeout=idle)
            except HalTimeout:
                # `idle` seconds of silence: a skip after a cancel ends, a block in
                # progress is incomplete
                if self._skip_until and loop.time() >= self._skip_until:
                    self._skip_until = 0.0
                for block in self._decoder.expire() if self._decoder.busy else ():
                    self._deliver(block)
                continue
            except ConnectionLost as error:
                self._lost = error
                self._fail_waiter(ConnectionLost(f"{self.name}: the line is gone"))
                if self._listener is not None:
                    self._listener.status_changed(self._status())
                return
            if self._skip_until:
                now = loop.time()
                if now < self._skip_until:
                    self._skip_until = now + idle
                    self.skipped += len(data)
                    continue
                self._skip_until = 0.0
            for block in self._decoder.feed(data):
                self._deliver(block)

    def _deliver(self, block: MrzBlock) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            self._waiter = None
            waiter.set_result(block)
            return
        if self._options.hold > 0:
            if self._held is not None:
                self.dropped += 1
            self._held = (block, asyncio.get_running_loop().time())
            return
        self.dropped += 1
        log.info("%s: dropped a block that came while no read was waiting", self.name)

    def _fail_waiter(self, error: Exception) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(error)

    def _emit(self, event: InsertDocument | DocumentInserted | InvalidDocument) -> None:
        if self._listener is not None:
            self._listener.event(event)


def open_mrz_serial(address: DeviceAddress, options: MrzSerialOptions) -> IdScannerService:
    """Build the (unopened) ID scanner an address names (the registry factory)."""
    driver = MrzSerialDriver(make_transport(address), options, name="mrz-serial")
    return IdScannerService(driver, name="id_scanner", ledger=options.ledger or None)


MRZ_SERIAL_DRIVER = DriverSpec(
    name="mrz-serial",
    device_classes=frozenset({"id_scanner"}),
    options=MrzSerialOptions,
    factory=open_mrz_serial,
    description="OCR MRZ reader sending the lines over serial (passports, travel documents)",
    transports=frozenset({"serial", "memory"}),
    capabilities={"id_scanner": frozenset({"mrz"})},
    masker=MrzMasker,
)
"""The ``mrz-serial`` driver, registered through the ``tellerhal.drivers`` entry point."""
