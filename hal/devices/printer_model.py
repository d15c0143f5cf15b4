"""The printer's data model: statuses, capabilities, print results and media actions,
plus the document model (defined in `protocols.print_document`, re-exported here).

Semantics follow XFS4IoT ``Printer`` (PrintRaw, ControlMedia, Reset; status ``media``
and ``paper``; MediaTakenEvent, PaperThresholdEvent), in Python style. `hal.devices.
printer` re-exports all of it with the interface and the backend contract; import from
there.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from hal.device import DeviceState
from protocols.print_document import (
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
    QrCode,
    QrErrorCorrection,
    Rule,
    Symbology,
    TextRun,
    Underline,
    ean13_check_digit,
)

__all__ = [
    "PRINTER_FEATURES",
    "Align",
    "Barcode",
    "Block",
    "CodePage",
    "Cut",
    "Document",
    "Feed",
    "HriPosition",
    "Image",
    "Line",
    "MediaControl",
    "PaperStatus",
    "PrintMediaStatus",
    "PrintResult",
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

#: The capability features `PrinterCapabilities.features` names, and what each means.
PRINTER_FEATURES: dict[str, str] = {
    "cut": "cuts the paper (full or partial)",
    "barcodes": "prints 1-D barcodes (CODE128, EAN13)",
    "qr": "prints QR codes with its own QR engine",
    "images": "prints raster images",
    "chinese": "prints Chinese text (GB18030 code page)",
    "presenter": "holds the cut receipt at the exit: ejects it, retracts it, senses it taken",
    "near_end_sensor": "senses the paper roll near its end",
}


class PrinterType(StrEnum):
    """What the printer is for (XFS4IoT capability ``type``)."""

    RECEIPT = "receipt"
    JOURNAL = "journal"


class PaperStatus(StrEnum):
    """The paper supply (XFS4IoT ``paper``)."""

    FULL = "full"
    LOW = "low"
    OUT = "out"
    JAMMED = "jammed"
    UNKNOWN = "unknown"
    NOT_SUPPORTED = "notSupported"


class PrintMediaStatus(StrEnum):
    """Where the printed receipt is (XFS4IoT ``media``): ``present`` while a cut receipt
    waits at the exit of a printer with a presenter."""

    UNKNOWN = "unknown"
    PRESENT = "present"
    NOT_PRESENT = "notPresent"
    JAMMED = "jammed"
    ENTERING = "entering"
    RETRACTED = "retracted"


class MediaControl(StrEnum):
    """What `Printer.control_media` does (XFS4IoT ``ControlMedia`` actions)."""

    CUT = "cut"
    EJECT = "eject"
    RETRACT = "retract"


@dataclass(frozen=True)
class PrinterStatus:
    """The printer's status.

    Attributes:
        device: the common device state (``offline`` while the printer says it is).
        media: where the printed receipt is.
        paper: the paper supply.
        cover_open: the printer's cover is open (it prints nothing).
    """

    device: DeviceState = DeviceState.ONLINE
    media: PrintMediaStatus = PrintMediaStatus.NOT_PRESENT
    paper: PaperStatus = PaperStatus.FULL
    cover_open: bool = False


@dataclass(frozen=True)
class PrinterCapabilities:
    """What the printer can do.

    Attributes:
        type: receipt or journal.
        dots_per_line: the printable width in dots (576 for 80 mm paper at 203 dpi,
            384 for 58 mm).
        dpi: dots per inch.
        columns: characters per line in the normal font (48 at 576 dots with a 12-dot
            font); CJK characters take two.
        code_pages: the code pages it prints.
        symbologies: the barcodes it prints (empty: none).
        qr: prints QR codes.
        images: prints raster images.
        cut: full and partial cuts it makes (empty: no cutter).
        presenter: holds the cut receipt at the exit (eject, retract, taken sensor).
        retract_capacity: receipts its retract bin holds (0: none).
        near_end_sensor: senses the paper near its end (``paper == low``).
        firmware: what the printer reports of itself (``""`` when nothing).
    """

    type: PrinterType = PrinterType.RECEIPT
    dots_per_line: int = 576
    dpi: int = 203
    columns: int = 48
    code_pages: frozenset[CodePage] = frozenset(CodePage)
    symbologies: frozenset[Symbology] = frozenset(Symbology)
    qr: bool = True
    images: bool = True
    cut: frozenset[str] = frozenset({"full", "partial"})
    presenter: bool = False
    retract_capacity: int = 0
    near_end_sensor: bool = True
    firmware: str = ""

    def features(self) -> frozenset[str]:
        """The capability features it has, named as in `PRINTER_FEATURES`."""
        have = {
            "cut": bool(self.cut),
            "barcodes": bool(self.symbologies),
            "qr": self.qr,
            "images": self.images,
            "chinese": CodePage.GB18030 in self.code_pages,
            "presenter": self.presenter,
            "near_end_sensor": self.near_end_sensor,
        }
        return frozenset(name for name, present in have.items() if present)


@dataclass(frozen=True)
class PrintResult:
    """How a print job went.

    Attributes:
        blocks: blocks of the document printed in full (for `Printer.print_raw`: 0).
        total_blocks: blocks the document had.
        bytes_sent: bytes the printer took.
        complete: everything was printed.
    """

    blocks: int
    total_blocks: int
    bytes_sent: int
    complete: bool = True
