"""``tellerhal decode escpos``: an ESC/POS printer stream, operation by operation.

Each operation of `protocols.escpos_decoder` is one JSON object: ``kind`` (``text``,
``line_feed``, ``feed``, ``cut``, ``barcode``, ``qr``, ``image``, ``status_request``...)
and its fields. A text shows the style in force where it differs from the power-on
default (bold, underline, width/height, font, invert, align, code page, Chinese mode);
barcodes their data (CODE128 code-set selectors resolved) and settings; QR codes their
payload and settings; images their size and a hash-free row count, never the pixels;
unknown and other commands their bytes in hex.

A stream that ends inside a command stops the run with one stderr line naming the
command, its byte offset and the bytes missing, and exit status 2, after the operations
decoded before it.

Receipts should carry masked card numbers already; as everywhere in ``tellerhal
decode``, a run of 13-19 digits that passes the Luhn check in text, a barcode or a QR
payload is masked unless ``--reveal``.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
from collections.abc import Iterator

from protocols import escpos_ops as ops
from protocols.errors import ProtocolError
from protocols.escpos_decoder import EscPosDecoder
from protocols.tracks import luhn_valid, mask_pan
from tellerhal.cli.decode.fields import Entry, Failure, hex_text

__all__ = ["decode_escpos"]

_DIGITS = re.compile(r"\d{13,19}")
_DEFAULT = ops.TextStyle()


def _masked(text: str, reveal: bool) -> str:
    if reveal:
        return text
    return _DIGITS.sub(lambda m: mask_pan(m[0]) if luhn_valid(m[0]) else m[0], text)


def _style(style: ops.TextStyle) -> Entry:
    return {
        f.name: getattr(style, f.name)
        for f in dataclasses.fields(style)
        if getattr(style, f.name) != getattr(_DEFAULT, f.name)
    }


def _entry(op: ops.Operation, reveal: bool) -> Entry:
    if isinstance(op, ops.Text):
        return {"kind": "text", "text": _masked(op.text, reveal), "style": _style(op.style)}
    if isinstance(op, ops.LineFeed):
        return {"kind": "line_feed"}
    if isinstance(op, ops.CarriageReturn):
        return {"kind": "carriage_return"}
    if isinstance(op, ops.Tab):
        return {"kind": "tab"}
    if isinstance(op, ops.PrintAndFeed):
        return {"kind": "feed", "lines": op.lines, "dots": op.dots}
    if isinstance(op, ops.LineSpacing):
        return {"kind": "line_spacing", "dots": op.dots}
    if isinstance(op, ops.Cut):
        return {"kind": "cut", "partial": op.partial, "feed": op.feed, "command": op.command}
    if isinstance(op, ops.Barcode):
        return {
            "kind": "barcode",
            "symbology": op.symbology,
            "text": _masked(op.text, reveal),
            "m": op.m,
            "height": op.height,
            "module_width": op.module_width,
            "hri": op.hri,
            "hri_font": op.hri_font,
            "align": op.align,
        }
    if isinstance(op, ops.QrCode):
        payload = op.data.decode("utf-8", "replace")
        return {
            "kind": "qr",
            "data": _masked(payload, reveal),
            "bytes": len(op.data),
            "model": op.model,
            "module_size": op.module_size,
            "error_correction": op.error_correction,
            "align": op.align,
        }
    if isinstance(op, ops.RasterImage):
        return {
            "kind": "image",
            "command": op.command,
            "width": op.width,
            "height": op.height,
            "scale_x": op.scale_x,
            "scale_y": op.scale_y,
            "black_dots": sum(byte.bit_count() for byte in op.pixels),
            "align": op.align,
        }
    if isinstance(op, ops.Initialize):
        return {"kind": "initialize"}
    if isinstance(op, ops.StatusRequest):
        return {"kind": "status_request", "command": op.kind, "n": op.n}
    if isinstance(op, ops.CodePageSelect):
        return {"kind": "code_page", "n": op.n, "encoding": op.encoding}
    if isinstance(op, ops.ChineseMode):
        return {"kind": "chinese_mode", "on": op.on}
    if isinstance(op, ops.Presenter):
        return {"kind": "presenter", "action": op.action, "params": hex_text(op.params)}
    if isinstance(op, ops.ProcessIdRequest):
        return {"kind": "process_id", "id": op.ident.decode("latin-1")}
    if isinstance(op, ops.OtherCommand):
        return {"kind": "command", "name": op.name, "bytes": hex_text(op.raw)}
    return {"kind": "unknown", "bytes": hex_text(op.raw)}


def decode_escpos(capture: bytes, args: argparse.Namespace) -> Iterator[Entry]:
    """One entry per operation of ``capture``, in stream order.

    Raises:
        Failure: the capture ends inside a command, or a NUL-terminated barcode has no
            NUL (after the entries before it).
    """
    reveal = bool(getattr(args, "reveal", False))
    decoder = EscPosDecoder()
    failure: ProtocolError | None = None
    decoded: list[ops.Operation] = []
    try:
        decoded += decoder.feed(capture)
        decoded += decoder.finish()
    except ProtocolError as exc:
        failure = exc
        decoded += decoder.take()
    for number, op in enumerate(decoded, start=1):
        yield {**_entry(op, reveal), "op": number}
    if failure is not None:
        raise Failure(failure.message) from failure
