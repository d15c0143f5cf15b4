"""The ``spy+escpos`` masker: ESC/POS traffic as log lines, what is printed as sizes.

A receipt carries personal data (names, amounts, masked or not so masked card numbers),
so the host's stream is decoded (`protocols.escpos_decoder`, streaming) and shown as
its operations: text as ``<text N chars>``, barcode and QR payloads as their sizes,
images as their dimensions; commands (styles, feeds, cuts, status requests, process
IDs, presenter) by name. The printer's answers (status bytes, process IDs, GS I model
and firmware text) hold nothing personal and are shown in hex. ``reveal`` shows the
host's bytes in hex too (a bench).
"""

from __future__ import annotations

from hal.transports.spy_maskers import RX
from protocols import escpos_ops as ops
from protocols.errors import ProtocolError
from protocols.escpos_decoder import EscPosDecoder

__all__ = ["EscPosMasker", "describe"]


def _hex(raw: bytes) -> str:
    return " ".join(f"{b:02X}" for b in raw)


def describe(op: ops.Operation) -> str:
    """One operation, nothing printed shown."""
    if isinstance(op, ops.Text):
        return f"<text {len(op.text)} chars>"
    if isinstance(op, ops.LineFeed):
        return "LF"
    if isinstance(op, ops.Barcode):
        return f"{op.symbology} <{len(op.data)} bytes>"
    if isinstance(op, ops.QrCode):
        return f"QR <{len(op.data)} bytes>"
    if isinstance(op, ops.RasterImage):
        return f"image {op.width}x{op.height}"
    if isinstance(op, ops.StatusRequest):
        return f"{op.kind.value} {op.n}"
    if isinstance(op, ops.ProcessIdRequest):
        return f"GS ( H id {op.ident.decode('ascii', 'replace')}"
    if isinstance(op, ops.Cut):
        return "partial cut" if op.partial else "cut"
    if isinstance(op, ops.Presenter):
        return f"presenter {op.action}"
    if isinstance(op, ops.OtherCommand):
        return op.name
    if isinstance(op, ops.Unknown):
        return f"<unknown {len(op.raw)} bytes>"
    if isinstance(op, ops.PrintAndFeed):
        return f"feed {op.lines}" if op.lines else f"feed {op.dots} dots"
    return type(op).__name__


class EscPosMasker:
    """ESC/POS traffic (host: decoded operations, sizes only; printer: hex)."""

    def __init__(self, reveal: bool = False) -> None:
        self.reveal = reveal
        self._decoder = EscPosDecoder()

    def reset(self) -> None:
        self._decoder = EscPosDecoder()

    def lines(self, direction: str, data: bytes) -> list[str]:
        if direction == RX:
            return [f"{len(data):4d} printer: {_hex(data)}"]
        if self.reveal:
            return [f"{len(data):4d} host: {_hex(data)}"]
        try:
            operations = self._decoder.feed(data)
        except ProtocolError as exc:
            self.reset()
            return [f"{len(data):4d} host: undecodable ESC/POS ({type(exc).__name__}), not shown"]
        if not operations:
            return []
        return [f"{len(data):4d} host: " + " ".join(describe(op) for op in operations)]
