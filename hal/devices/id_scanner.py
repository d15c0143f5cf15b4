"""The ID-document scanner: public interface, events and backend contract (and,
re-exported from `hal.devices.id_scanner_model`, its data model).

XFS4IoT has no ID-document interface; this one is our extension, named and shaped the
XFS4IoT way (commands ``IdScanner.ReadDocument``, ``IdScanner.ScanImage``,
``IdScanner.Eject``, ``IdScanner.Retain``, ``IdScanner.Reset``; events
``IdScanner.InsertDocumentEvent``, ``IdScanner.DocumentInsertedEvent``,
``IdScanner.InvalidDocumentEvent``, ``IdScanner.DocumentRemovedEvent``). Apps program
against `IdScanner`; drivers and simulator models implement `IdScannerBackend`;
`hal.devices.id_scanner_service.IdScannerService` joins the two.

Personal data (names, numbers, addresses, birth dates, MRZ lines, photos, fingerprints)
never reaches a log, an event, an exception message or a ``repr``; masked forms only.
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass
from typing import ClassVar, Protocol

from hal.device import BackendListener, Device, DeviceState
from hal.devices.card_reader_model import ReplenishmentStatus, RetainBin
from hal.devices.id_scanner_model import (
    ID_FEATURES,
    Check,
    CheckName,
    DocumentKind,
    DocumentStatus,
    Fingerprint,
    IdentityDocument,
    IdScannerCapabilities,
    IdScannerStatus,
    ImageFormat,
    ImageSide,
    Photo,
    ScannedImage,
    Sex,
    mask_name,
    mask_number,
)
from hal.events import Event

__all__ = [
    "ID_FEATURES",
    "Check",
    "CheckName",
    "DeviceState",
    "DocumentInserted",
    "DocumentKind",
    "DocumentRemoved",
    "DocumentStatus",
    "Fingerprint",
    "IdScanner",
    "IdScannerBackend",
    "IdScannerCapabilities",
    "IdScannerStatus",
    "IdentityDocument",
    "ImageFormat",
    "ImageSide",
    "InsertDocument",
    "InvalidDocument",
    "Photo",
    "ReplenishmentStatus",
    "RetainBin",
    "ScannedImage",
    "Sex",
    "mask_name",
    "mask_number",
]


# --- events ----------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class InsertDocument(Event):
    """The scanner is ready: the customer may present the document."""

    xfs_name: ClassVar[str] = "IdScanner.InsertDocumentEvent"


@dataclass(frozen=True, kw_only=True)
class DocumentInserted(Event):
    """A document was presented (placed on the reader's field or taken in).

    Attributes:
        kind: the kind the scanner already knows (``None`` before it is read).
    """

    xfs_name: ClassVar[str] = "IdScanner.DocumentInsertedEvent"
    kind: DocumentKind | None = None


@dataclass(frozen=True, kw_only=True)
class InvalidDocument(Event):
    """A document the scanner cannot read (unknown card type, read failure, failed
    authentication); a motorised scanner gives it back.

    Attributes:
        reason: what went wrong, in words without personal data.
    """

    xfs_name: ClassVar[str] = "IdScanner.InvalidDocumentEvent"
    reason: str = ""


@dataclass(frozen=True, kw_only=True)
class DocumentRemoved(Event):
    """The customer took the document away (scanners with a removal sensor)."""

    xfs_name: ClassVar[str] = "IdScanner.DocumentRemovedEvent"
    unsolicited: ClassVar[bool] = True


# --- the public interface --------------------------------------------------------------


class IdScanner(Device[IdScannerStatus, IdScannerCapabilities]):
    """An ID-document scanner: a SAM_V chip reader for China ID cards, an MRZ reader
    for passports and travel documents, or both; some scan images of the document and
    some are motorised (hand the document back, keep it in a retain bin).

    Every operation is a command: queued FIFO behind the device's other commands, with
    a ``timeout`` in seconds counted from the call (``None`` waits for ever).
    Cancelling a command settles with the scanner first: a document taken in stays in
    (``status().media`` tells), a retain under way finishes.
    """

    interface = "IdScanner"

    @abstractmethod
    async def read_document(
        self,
        *,
        fingerprints: bool = False,
        newest_address: bool = False,
        timeout: float | None = None,
    ) -> IdentityDocument:
        """Wait for a document if none is there, then read it.

        Emits `InsertDocument` when the scanner is ready, `DocumentInserted` when a
        document is there, and `InvalidDocument` for one it cannot read. The document
        comes back with the service's checks on it (`IdentityDocument.checks`: the ID
        number's check character, the birth date and sex agreeing with the number, MRZ
        check digits, expiry): a document that fails a check is still returned, with
        the failure on it, never silently dropped.

        Args:
            fingerprints: also read the fingerprint templates (chip readers that can).
            newest_address: also read the newest address appended on the chip.

        Raises:
            UnsupportedOperation: fingerprints or the newest address asked of a scanner
                that cannot read them.
            InvalidMedia: the document could not be read (unknown type, read failure).
            SecurityFail: the card and the security module failed to authenticate
                each other (a forged or damaged card, or an unauthorised module).
            MediaJam: the document jammed in a motorised scanner.
            HalTimeout: no document came within ``timeout``.
        """

    @abstractmethod
    async def scan_image(
        self,
        side: ImageSide,
        *,
        format: ImageFormat = ImageFormat.JPEG,
        timeout: float | None = None,
    ) -> ScannedImage:
        """Scan an image of one side of the document there.

        Raises:
            UnsupportedOperation: the scanner does not scan that side or that format.
            NoMedia: no document there.
        """

    @abstractmethod
    async def eject(self, *, timeout: float | None = None) -> None:
        """Hand the document back to the customer (motorised scanners).

        Raises:
            UnsupportedOperation: the scanner does not hold documents.
            NoMedia: no document inside.
            MediaJam: it jammed on the way.
        """

    @abstractmethod
    async def retain(self, *, timeout: float | None = None) -> None:
        """Keep the document inside in the retain bin; journalled in the ledger before
        the scanner moves it and settled after.

        Raises:
            UnsupportedOperation: the scanner has no retain bin.
            NoMedia: no document inside.
            RetainBinFull: the ledger counts the bin full.
            MediaJam: it jammed on the way.
        """

    @abstractmethod
    async def reset(self, *, timeout: float | None = None) -> None:
        """Reset the scanner (and its security module); a document inside is handed
        back if it can be, else retained (journalled)."""

    @abstractmethod
    async def retain_bin(self) -> RetainBin:
        """The retain bin's counts (derived from the ledger; bypasses the queue).

        Raises:
            UnsupportedOperation: the scanner has no retain bin.
        """

    @abstractmethod
    async def empty_retain_bin(self, *, reason: str = "") -> None:
        """Record that an operator emptied the retain bin (count back to 0).

        Raises:
            UnsupportedOperation: the scanner has no retain bin.
        """


# --- the backend contract --------------------------------------------------------------


class IdScannerBackend(Protocol):
    """What a driver or a simulator model implements for an ID-document scanner.

    The service calls one method at a time and does all validation, queueing, timeouts,
    event stamping, the document's checks and the ledger work; the backend drives the
    device and reports what it read. Cancellation arrives as `asyncio.CancelledError`
    inside the awaited method: the backend must leave the device in a defined state
    (entry closed, a document taken in stays in) before letting it propagate.

    Events go to the listener given to `open()`: `InsertDocument`, `DocumentInserted`
    and `InvalidDocument` while accepting and reading; `DocumentRemoved` whenever the
    device senses it. Status changes go to ``listener.status_changed``.
    """

    async def open(self, listener: BackendListener[IdScannerStatus]) -> None:
        """Connect and start reporting to ``listener``."""

    async def close(self) -> None:
        """Disconnect; stop reporting."""

    def capabilities(self) -> IdScannerCapabilities:
        """What the scanner can do (known after `open()`)."""

    async def get_status(self) -> IdScannerStatus:
        """Ask the device where things stand now."""

    async def accept_document(self) -> None:
        """Make the scanner ready and return once a document is there.

        Emits `InsertDocument` first and `DocumentInserted` when the document is there.
        A flat chip reader searches for a card (no more often than every 300 ms) and
        selects it. Raises ``InvalidMedia`` for a document it refuses (given back),
        ``MediaJam`` if it jams.
        """

    async def read_document(self, *, fingerprints: bool, newest_address: bool) -> IdentityDocument:
        """Read the document there and return it as read: fields parsed, photo and
        fingerprints as delivered, ``checks`` empty (the service runs them).

        Raises ``InvalidMedia`` (unknown type, read failure: emit `InvalidDocument`
        first), ``SecurityFail`` (authentication failed), ``NoMedia`` (it went away).
        """

    async def scan_image(self, side: ImageSide, format: ImageFormat) -> ScannedImage:
        """Scan one side of the document there; asked only for sides and formats the
        capabilities list."""

    async def eject(self) -> None:
        """Hand the document back; must not be interrupted halfway."""

    async def retain(self) -> None:
        """Move the document into the retain bin; must not be interrupted halfway."""

    async def reset(self) -> str | None:
        """Reset the device; return where a document inside went (``"exit"``,
        ``"retain"``), ``None`` when none moved."""
