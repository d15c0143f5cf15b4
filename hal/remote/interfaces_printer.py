"""The Printer over the remote: its payloads and `PRINTER`.

Commands follow XFS4IoT ``Printer``: ``Printer.PrintRaw`` (``data`` as a blob),
``Printer.ControlMedia`` (``action``: ``cut``, ``eject`` or ``retract``),
``Printer.Reset``; ``Printer.PrintDocument`` is ours (XFS4IoT prints forms; we print a
typed `Document`). Events ``Printer.MediaPresentedEvent``, ``Printer.MediaTakenEvent``
and ``Printer.PaperThresholdEvent`` (``paper``: ``full``, ``low`` or ``out``); status
and capabilities through ``Common.Status`` / ``Common.Capabilities``. Both print
commands complete with a `PrintResult` (``blocks``, ``totalBlocks``, ``bytesSent``,
``complete``); a job stopped by the paper fails with ``paperOut`` and its counts in the
completion's payload (``printedBlocks``, ``totalBlocks``, ``bytesSent``:
`hal.errors.PaperOut.wire_details`).

A document travels as JSON: its ``codePage`` and its ``blocks``, each block an object
with one key per block kind (``line``, ``barcode``, ``qrCode``, ``image``, ``rule``,
``feed``, ``cut``), exactly one of them not ``null``. Text is JSON text (UTF-8, any
script); an image's pixels are a blob (``{"$blob": N}``), never base64. Every name here
is also importable from `hal.remote.interfaces`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Final

from hal.devices.printer import (
    Barcode,
    Block,
    CodePage,
    Cut,
    Document,
    Feed,
    Image,
    Line,
    MediaControl,
    MediaPresented,
    MediaTaken,
    PaperThreshold,
    PrinterCapabilities,
    PrinterStatus,
    PrintResult,
    QrCode,
    Rule,
)
from hal.remote.interfaces import Command, InterfaceSpec, build_interface, size_only

__all__ = [
    "PRINTER",
    "BlockPayload",
    "ControlMediaPayload",
    "PrintDocumentPayload",
    "PrintRawPayload",
]


@dataclass(frozen=True)
class BlockPayload:
    """One block of a document as it travels: exactly one field is set."""

    line: Line | None = None
    barcode: Barcode | None = None
    qr_code: QrCode | None = None
    image: Image | None = None
    rule: Rule | None = None
    feed: Feed | None = None
    cut: Cut | None = None

    def __post_init__(self) -> None:
        # The codec turns this into a WireValueError naming the place.
        count = sum(getattr(self, f.name) is not None for f in fields(self))
        if count != 1:
            raise ValueError(f"a block has exactly one kind (line, barcode...), got {count}")

    @classmethod
    def of(cls, block: Block) -> BlockPayload:
        """The payload of ``block``."""
        if isinstance(block, Line):
            return cls(line=block)
        if isinstance(block, Barcode):
            return cls(barcode=block)
        if isinstance(block, QrCode):
            return cls(qr_code=block)
        if isinstance(block, Image):
            return cls(image=block)
        if isinstance(block, Rule):
            return cls(rule=block)
        if isinstance(block, Feed):
            return cls(feed=block)
        if isinstance(block, Cut):
            return cls(cut=block)
        raise TypeError(f"a {type(block).__name__} is not a block")

    def block(self) -> Block:
        """The block it carries."""
        block = next(v for f in fields(self) if (v := getattr(self, f.name)) is not None)
        assert isinstance(block, Line | Barcode | QrCode | Image | Rule | Feed | Cut)
        return block


@dataclass(frozen=True, repr=False)
class PrintDocumentPayload:
    """``Printer.PrintDocument``: the document (see the module's docstring)."""

    blocks: tuple[BlockPayload, ...]
    code_page: CodePage

    def __repr__(self) -> str:
        # The text may be a customer's receipt: its size only.
        return f"PrintDocumentPayload({len(self.blocks)} blocks, {self.code_page.value})"

    @classmethod
    def of(cls, document: Document) -> PrintDocumentPayload:
        """The payload that carries ``document``."""
        return cls(tuple(BlockPayload.of(b) for b in document.blocks), document.code_page)

    def document(self) -> Document:
        """The document it carries."""
        return Document(tuple(b.block() for b in self.blocks), self.code_page)


@dataclass(frozen=True, repr=False)
class PrintRawPayload:
    """``Printer.PrintRaw``: the bytes for the printer, as a blob."""

    data: bytes

    def __repr__(self) -> str:
        return f"PrintRawPayload(data={size_only(self.data)})"


@dataclass(frozen=True)
class ControlMediaPayload:
    """``Printer.ControlMedia``: cut, eject or retract."""

    action: MediaControl


def _print_document(payload: Any) -> tuple[str, dict[str, Any]]:
    return "print_document", {"document": payload.document()}


PRINTER: Final[InterfaceSpec] = build_interface(
    "Printer",
    PrinterStatus,
    PrinterCapabilities,
    (
        Command(
            "Printer.PrintDocument",
            "print_document",
            PrintDocumentPayload,
            PrintResult,
            route=_print_document,
        ),
        Command("Printer.PrintRaw", "print_raw", PrintRawPayload, PrintResult),
        Command("Printer.ControlMedia", "control_media", ControlMediaPayload),
        Command("Printer.Reset", "reset"),
    ),
    (MediaPresented, MediaTaken, PaperThreshold),
)
