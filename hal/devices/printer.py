"""The receipt or journal printer: public interface, events and backend contract (and,
re-exported from `hal.devices.printer_model`, its data model and the document model).

Semantics follow XFS4IoT ``Printer`` (``PrintRaw``, ``ControlMedia``, ``Reset``; events
``MediaPresentedEvent``, ``MediaTakenEvent``, ``PaperThresholdEvent``), in Python style;
``print_document`` stands for XFS4IoT's forms: a typed `Document` instead of a form
definition. Apps program against `Printer`; drivers and simulator models implement
`PrinterBackend`; `hal.devices.printer_service.PrinterService` joins the two. A kiosk's
journal printer is a second `Printer` under its own name (``journal_printer``).
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass
from typing import ClassVar, Protocol

from hal.device import BackendListener, Device, DeviceState
from hal.devices.printer_model import (
    PRINTER_FEATURES,
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
    MediaControl,
    PaperStatus,
    PrinterCapabilities,
    PrinterStatus,
    PrinterType,
    PrintMediaStatus,
    PrintResult,
    QrCode,
    QrErrorCorrection,
    Rule,
    Symbology,
    TextRun,
    Underline,
    ean13_check_digit,
)
from hal.events import Event

__all__ = [
    "PRINTER_FEATURES",
    "Align",
    "Barcode",
    "Block",
    "CodePage",
    "Cut",
    "DeviceState",
    "Document",
    "Feed",
    "HriPosition",
    "Image",
    "Line",
    "MediaControl",
    "MediaPresented",
    "MediaTaken",
    "PaperStatus",
    "PaperThreshold",
    "PrintMediaStatus",
    "PrintResult",
    "Printer",
    "PrinterBackend",
    "PrinterCapabilities",
    "PrinterStatus",
    "PrinterType",
    "QrCode",
    "QrErrorCorrection",
    "Rule",
    "Symbology",
    "TextRun",
    "Underline",
    "ean13_check_digit",
]


# --- events ----------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class MediaPresented(Event):
    """The cut receipt is at the exit for the customer to take (printers with a
    presenter)."""

    xfs_name: ClassVar[str] = "Printer.MediaPresentedEvent"


@dataclass(frozen=True, kw_only=True)
class MediaTaken(Event):
    """The customer took the receipt from the exit."""

    xfs_name: ClassVar[str] = "Printer.MediaTakenEvent"
    unsolicited: ClassVar[bool] = True


@dataclass(frozen=True, kw_only=True)
class PaperThreshold(Event):
    """The paper supply crossed a threshold (XFS4IoT ``PaperThresholdEvent``).

    Attributes:
        paper: the new state: ``full`` (replenished), ``low`` (near end) or ``out``.
    """

    xfs_name: ClassVar[str] = "Printer.PaperThresholdEvent"
    unsolicited: ClassVar[bool] = True
    paper: PaperStatus = PaperStatus.UNKNOWN


# --- the public interface --------------------------------------------------------------


class Printer(Device[PrinterStatus, PrinterCapabilities]):
    """A receipt or journal printer.

    Every operation is a command: queued FIFO behind the device's other commands, with
    a ``timeout`` in seconds counted from the call (``None`` waits for ever). Printing
    is not cancelled halfway: a cancelled job finishes the block under way, then stops
    and reports how far it got.
    """

    interface = "Printer"

    @abstractmethod
    async def print_document(
        self, document: Document, *, timeout: float | None = None
    ) -> PrintResult:
        """Print ``document`` top to bottom.

        Raises:
            UnsupportedOperation: the document uses what the printer lacks (a barcode
                symbology, QR codes, images, a cut, a code page).
            InvalidData: text the code page cannot encode, an image wider than the
                paper.
            PaperOut: the paper ran out; what was printed stays printed and the error
                tells how many blocks were (``printed_blocks`` of ``total_blocks``).
            CoverOpen: the cover is open; nothing was printed.
            MediaJam: the paper jammed.
        """

    @abstractmethod
    async def print_raw(self, data: bytes, *, timeout: float | None = None) -> PrintResult:
        """Send ``data`` to the printer as it is (its own command language: ESC/POS).

        Raises:
            PaperOut: the paper ran out (``bytes_sent`` says how much the printer took).
            CoverOpen, MediaJam: as `print_document`.
        """

    @abstractmethod
    async def control_media(self, action: MediaControl, *, timeout: float | None = None) -> None:
        """Cut the paper, eject the cut receipt to the customer, or retract it.

        Raises:
            UnsupportedOperation: the printer has no cutter, or no presenter for eject
                and retract.
            NoMedia: no receipt to eject or retract.
            MediaJam: it jammed.
        """

    @abstractmethod
    async def reset(self, *, timeout: float | None = None) -> None:
        """Reset the printer (clear its buffer, recover from a recoverable error)."""


# --- the backend contract --------------------------------------------------------------


class PrinterBackend(Protocol):
    """What a driver or a simulator model implements for a printer.

    The service calls one method at a time and does all validation (against the
    capabilities), queueing, timeouts and event stamping; the backend drives the
    printer. Cancellation arrives as `asyncio.CancelledError` inside the awaited
    method: the backend finishes the block under way and stops.

    Events go to the listener given to `open()`: `MediaPresented` when a receipt is
    presented; `MediaTaken` and `PaperThreshold` whenever they happen. Status changes
    go to ``listener.status_changed``.
    """

    async def open(self, listener: BackendListener[PrinterStatus]) -> None:
        """Connect and start reporting to ``listener``."""

    async def close(self) -> None:
        """Disconnect; stop reporting."""

    def capabilities(self) -> PrinterCapabilities:
        """What the printer can do (known after `open()`)."""

    async def get_status(self) -> PrinterStatus:
        """Ask the printer where things stand now."""

    async def print_document(self, document: Document) -> PrintResult:
        """Print a validated document; return how far it got (``complete`` False with
        the count of blocks printed when it stopped); raise ``PaperOut`` (with the
        counts), ``CoverOpen`` or ``MediaJam`` when the printer stopped for that."""

    async def print_raw(self, data: bytes) -> PrintResult:
        """Send raw bytes; as `print_document` for the errors."""

    async def control_media(self, action: MediaControl) -> None:
        """Cut, eject or retract; asked only for what the capabilities list."""

    async def reset(self) -> None:
        """Reset the printer."""
