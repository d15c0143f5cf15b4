"""`IdScannerService`: the one implementation of `IdScanner` over a backend.

The service is the only place that validates arguments against the capabilities,
queues commands, applies timeouts and cancellation, stamps events, runs the checks on
every document read (`hal.devices.id_checks`), journals retains to the ledger and keeps
personal data out of logs and messages (masked forms only). Backends (drivers,
simulator models) only drive the device and return the document as read.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import os
from collections.abc import Callable
from typing import Any

from hal.devices.id_checks import validate
from hal.devices.id_scanner import (
    DocumentStatus,
    IdentityDocument,
    IdScanner,
    IdScannerBackend,
    IdScannerCapabilities,
    IdScannerStatus,
    ImageFormat,
    ImageSide,
    ReplenishmentStatus,
    RetainBin,
    ScannedImage,
)
from hal.devices.retain_bin import RETAIN, RetainBook
from hal.errors import LedgerError, MediaJam, NoMedia, SequenceError, UnsupportedOperation
from hal.ledger import Ledger, Movement, Outcome
from hal.ledger_service import LedgerService

__all__ = ["DOCUMENT", "SCANNER", "IdScannerService"]

log = logging.getLogger(__name__)

#: The ledger's item for an identity document.
DOCUMENT = "document"
#: The customer's side of the scanner in the ledger (not a counted position).
SCANNER = "scanner"

_INSIDE = (DocumentStatus.PRESENT, DocumentStatus.JAMMED)


class IdScannerService(LedgerService[IdScannerStatus, IdScannerCapabilities], IdScanner):
    """`IdScanner` over any `IdScannerBackend`.

    Args:
        backend: the driver or simulator model.
        name: the device's name (``id_scanner``); also its name in the ledger.
        ledger: where retains are journalled: an open `Ledger`, or the path of one to
            open (and close) with the device; an in-memory ledger if ``None``.
        max_queue: commands queued or running before ``TooManyRequests``.
        close_timeout: seconds `close` waits for cancelled commands to settle with the
            device before it closes the backend under them.
        today: gives today's date for the expiry check (tests pass a fixed one);
            ``None``: the local date.
    """

    def __init__(
        self,
        backend: IdScannerBackend,
        *,
        name: str = "id_scanner",
        ledger: Ledger | str | os.PathLike[str] | None = None,
        max_queue: int = 16,
        close_timeout: float = 30.0,
        today: Callable[[], dt.date] | None = None,
    ) -> None:
        super().__init__(
            name,
            backend=backend,
            ledger=ledger,
            max_queue=max_queue,
            close_timeout=close_timeout,
        )
        self._backend = backend
        self._today = today or dt.date.today
        self._caps: IdScannerCapabilities | None = None
        self._retain_book: RetainBook | None = None

    def __repr__(self) -> str:
        return f"IdScannerService({self.name!r}, open={self._opened})"

    # --- lifecycle ---------------------------------------------------------------------

    async def _start(self) -> None:
        caps = self._backend.capabilities()
        self._caps = caps
        self.ledger.define_location(self.name, SCANNER, kind="customer", item=DOCUMENT)
        self._retain_book = RetainBook(
            self.ledger, self.name, caps.retain_capacity, item=DOCUMENT, source=SCANNER
        )
        self._opened = True
        status = await self._fetch_status()
        self._last_status = status
        self._reconcile(status)

    def _forget_ledger(self) -> None:
        self._retain_book = None

    def _reconcile(self, status: IdScannerStatus) -> None:
        """Settle retains a crash left pending, from what the scanner reports now."""

        def resolve(movement: Movement) -> Outcome:
            return RetainBook.resolve_pending(status.media)

        self._settle_pending(resolve, self._book().invalidate)

    # --- queries (no queue) ------------------------------------------------------------

    async def capabilities(self) -> IdScannerCapabilities:
        self._require_open()
        return self._capabilities()

    def _capabilities(self) -> IdScannerCapabilities:
        assert self._caps is not None  # set by open(), checked by _require_open()
        return self._caps

    def _book(self) -> RetainBook:
        assert self._retain_book is not None  # made by open(), checked by _require_open()
        return self._retain_book

    def _retain_status(self) -> ReplenishmentStatus:
        book = self._retain_book
        return book.status() if book is not None else ReplenishmentStatus.OK

    async def _fetch_status(self) -> IdScannerStatus:
        status = await self._backend.get_status()
        return dataclasses.replace(status, retain_bin=self._retain_status())

    async def retain_bin(self) -> RetainBin:
        self._require_open()
        self._require_bin()
        return self._book().counts()

    async def empty_retain_bin(self, *, reason: str = "") -> None:
        self._require_open()
        self._require_bin()
        self._book().empty(reason)
        await self._refresh_if_open()

    def _require_bin(self) -> None:
        if not self._capabilities().retain_capacity:
            raise UnsupportedOperation(f"{self.name} has no retain bin")

    # --- BackendListener ---------------------------------------------------------------

    def status_changed(self, status: IdScannerStatus) -> None:
        # The retain bin's fill state is the ledger's, whoever reports the status.
        super().status_changed(dataclasses.replace(status, retain_bin=self._retain_status()))

    # --- commands ----------------------------------------------------------------------

    async def read_document(
        self,
        *,
        fingerprints: bool = False,
        newest_address: bool = False,
        timeout: float | None = None,
    ) -> IdentityDocument:
        self._require_open()
        caps = self._capabilities()
        lacking = []
        if fingerprints and not caps.fingerprints:
            lacking.append("fingerprints")
        if newest_address and not caps.newest_address:
            lacking.append("the newest address")
        if lacking:
            raise UnsupportedOperation(f"{self.name} cannot read {' or '.join(lacking)}")

        async def op(command_id: int) -> IdentityDocument:
            status = await self._backend.get_status()
            if status.media is DocumentStatus.JAMMED:
                raise MediaJam(f"{self.name}: a document is jammed; reset the scanner first")
            if status.media is not DocumentStatus.PRESENT:
                await self._backend.accept_document()
                self.status_changed(await self._backend.get_status())
            read = await self._backend.read_document(
                fingerprints=fingerprints, newest_address=newest_address
            )
            document = validate(read, self._today())
            failed = ",".join(check.name.value for check in document.failed_checks())
            log.info(
                "%s: read %s %s of %s%s",
                self.name,
                document.kind.value,
                document.masked_number,
                document.masked_name,
                f"; failed checks: {failed}" if failed else "",
            )
            return document

        return await self._command("ReadDocument", op, timeout=timeout)

    async def scan_image(
        self,
        side: ImageSide,
        *,
        format: ImageFormat = ImageFormat.JPEG,
        timeout: float | None = None,
    ) -> ScannedImage:
        self._require_open()
        side = ImageSide(side)
        format = ImageFormat(format)
        caps = self._capabilities()
        if side not in caps.images:
            scans = ", ".join(sorted(s.value for s in caps.images)) or "no side"
            raise UnsupportedOperation(
                f"{self.name} cannot scan the {side.value} side; it scans {scans}"
            )
        if format not in caps.image_formats:
            formats = ", ".join(sorted(f.value for f in caps.image_formats)) or "none"
            raise UnsupportedOperation(
                f"{self.name} cannot deliver {format.value} images; it delivers {formats}"
            )

        async def op(command_id: int) -> ScannedImage:
            self._require_document(await self._backend.get_status(), "to scan")
            return await self._backend.scan_image(side, format)

        return await self._command("ScanImage", op, timeout=timeout)

    async def eject(self, *, timeout: float | None = None) -> None:
        self._require_open()
        if not self._capabilities().eject:
            raise UnsupportedOperation(f"{self.name} does not hold documents: it cannot eject")

        async def op(command_id: int) -> None:
            status = await self._backend.get_status()
            if status.media in (DocumentStatus.NOT_PRESENT, DocumentStatus.ENTERING):
                raise NoMedia(f"{self.name}: no document inside (media {status.media.value})")
            await self._queue.uncancellable(self._backend.eject())
            self.status_changed(await self._backend.get_status())

        await self._command("Eject", op, timeout=timeout)

    async def retain(self, *, timeout: float | None = None) -> None:
        self._require_open()
        self._require_bin()

        async def op(command_id: int) -> None:
            status = await self._backend.get_status()
            if status.media in (DocumentStatus.NOT_PRESENT, DocumentStatus.ENTERING):
                # (unknown: the device may hold one; it is asked, and the books follow it)
                raise NoMedia(f"{self.name}: no document inside (media {status.media.value})")
            book = self._book()
            book.check_room()
            movement = book.journal("retain", command_id)

            async def act() -> bool:
                await self._backend.retain()
                return True

            # The move and its settlement are one step: a cancel waits for both.
            await self._queue.uncancellable(self._act_and_settle(book, movement.id, act))
            log.info("%s: document retained (%d in the bin)", self.name, book.count())
            self.status_changed(await self._backend.get_status())

        await self._command("Retain", op, timeout=timeout)

    async def reset(self, *, timeout: float | None = None) -> None:
        self._require_open()

        async def op(command_id: int) -> None:
            status = await self._backend.get_status()
            inside = status.media in _INSIDE
            book = self._book()
            if inside and book.capacity:
                # The device may keep it: journal first, whatever the bin's count (a
                # reset must not fail on the books; a full bin shows in the counts).
                movement = book.journal("reset", command_id)

                async def act() -> bool:
                    return await self._backend.reset() == RETAIN

                await self._queue.uncancellable(self._act_and_settle(book, movement.id, act))
            else:
                went = await self._queue.uncancellable(self._backend.reset())
                if went == RETAIN:
                    self._retained_unannounced(book)
            self.status_changed(await self._backend.get_status())

        await self._command("Reset", op, timeout=timeout)

    def _require_document(self, status: IdScannerStatus, purpose: str) -> None:
        if status.media is DocumentStatus.JAMMED:
            raise MediaJam(f"{self.name}: a document is jammed; reset the scanner first")
        if status.media in (DocumentStatus.NOT_PRESENT, DocumentStatus.ENTERING):
            raise NoMedia(f"{self.name}: no document {purpose} (media {status.media.value})")

    def _retained_unannounced(self, book: RetainBook) -> None:
        """A reset retained a document the status did not show: record the fact."""
        if not book.capacity:
            log.warning("%s: the reset reports a retain, but the scanner has no bin", self.name)
            return
        try:
            movement = book.journal("retained by a reset (no document was seen inside)")
            book.settle(movement.id, True)
        except LedgerError:
            log.exception("%s: the ledger could not record a retain the reset made", self.name)

    async def _act_and_settle(
        self, book: RetainBook, movement_id: int, act: Callable[[], Any]
    ) -> None:
        try:
            retained = await act()
        except Exception as exc:
            after = await self._retained_after_failure()
            self._late_safe(book.settle, movement_id, after, type(exc).__name__)
            raise
        detail = "" if retained else "the document was not retained"
        self._late_safe(book.settle, movement_id, bool(retained), detail)

    async def _retained_after_failure(self) -> bool | None:
        """A failed retain moved nothing if the document is still inside; else unknown."""
        if not self._opened:
            return None
        try:
            status = await self._backend.get_status()
        except Exception:
            log.warning("%s: no status after a failed retain; settled unknown", self.name)
            return None
        return False if status.media in _INSIDE else None

    def _late_safe(self, settle: Callable[..., None], *args: Any) -> None:
        """Settle a movement; after a close that did not wait for it, leave it to the
        next open's reconcile rather than raise into a command nobody awaits."""
        try:
            settle(*args)
        except (LedgerError, SequenceError) as exc:
            if self._opened:
                raise
            log.warning("%s: a retain the close cut short is left to reconcile: %s", self.name, exc)

    async def _refresh_if_open(self) -> None:
        if self._opened:
            self.status_changed(await self._backend.get_status())
