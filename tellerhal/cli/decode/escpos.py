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
decode``, 13-19 digits that pass the Luhn check in text, a barcode or a QR payload are
masked unless ``--reveal``: unbroken, or in groups split by single spaces or dashes
(``4761 7390 0101 0010``, ``4761-7390-0101-0010``: the separators stay, the digits are
masked as `mask_pan` masks them); the text runs of one printed line (split by a style
change, a code page...) are joined before the search, so a number split across runs is
found; after a card number, ``=`` and what follows up to a space or ``?`` (track 2:
expiry, service code, discretionary data) become ``*``.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
from collections.abc import Iterator
from typing import cast

from protocols import escpos_ops as ops
from protocols.errors import ProtocolError
from protocols.escpos_decoder import EscPosDecoder
from protocols.tracks import luhn_valid, mask_pan
from tellerhal.cli.decode.fields import Entry, Failure, hex_text

__all__ = ["decode_escpos"]

_DIGITS = re.compile(r"\d{13,19}")
#: Digit groups joined by single spaces or dashes (a card number as people print it).
_GROUPED = re.compile(r"\d+(?:[ -]\d+)*")
_GROUP = re.compile(r"\d+")
_TRACK2_TAIL = re.compile(r"=[^\s?]*")
_DEFAULT = ops.TextStyle()
#: Operations that do not end the printed line (text runs either side are one line).
_IN_LINE = (
    ops.CodePageSelect,
    ops.ChineseMode,
    ops.OtherCommand,
    ops.LineSpacing,
    ops.StatusRequest,
    ops.ProcessIdRequest,
)


def _pan_masks(text: str) -> dict[int, str]:
    """Positions in ``text`` to show as another character: the digits of each card
    number found (see the module header) and a track-2 tail after it."""
    hidden: dict[int, str] = {}
    for run in _GROUPED.finditer(text):
        groups = [(g.start() + run.start(), g.end() + run.start()) for g in _GROUP.finditer(run[0])]
        if len(groups) == 1:
            for m in _DIGITS.finditer(text, *groups[0]):
                if luhn_valid(m[0]):
                    _hide(text, list(range(m.start(), m.end())), hidden)
            continue
        first = 0
        while first < len(groups):
            found = _grouped_pan(text, groups, first)
            if found is None:
                first += 1
                continue
            positions, first = found
            _hide(text, positions, hidden)
    return hidden


def _grouped_pan(
    text: str, groups: list[tuple[int, int]], first: int
) -> tuple[list[int], int] | None:
    """The longest Luhn-valid 13-19 digit number made of whole groups from ``first``:
    its digit positions and the group after it."""
    best: tuple[list[int], int] | None = None
    positions: list[int] = []
    for last in range(first, len(groups)):
        positions = positions + list(range(*groups[last]))
        if len(positions) > 19:
            break
        if len(positions) >= 13 and luhn_valid("".join(text[i] for i in positions)):
            best = (positions, last + 1)
    return best


def _hide(text: str, positions: list[int], hidden: dict[int, str]) -> None:
    masked = mask_pan("".join(text[i] for i in positions))
    for at, char in zip(positions, masked, strict=True):
        if char != text[at]:
            hidden[at] = char
    tail = _TRACK2_TAIL.match(text, positions[-1] + 1)
    if tail is not None:
        for at in range(tail.start() + 1, tail.end()):
            hidden[at] = "*"


def _masked(text: str, reveal: bool) -> str:
    if reveal:
        return text
    hidden = _pan_masks(text)
    return "".join(hidden.get(at, char) for at, char in enumerate(text))


def _masked_runs(decoded: list[ops.Operation], reveal: bool) -> dict[int, str]:
    """The masked text of every `ops.Text` (by index in ``decoded``), the runs of one
    printed line searched as one text."""
    out: dict[int, str] = {}
    line: list[int] = []

    def close() -> None:
        texts = [cast(ops.Text, decoded[i]).text for i in line]
        joined = _masked("".join(texts), reveal)
        at = 0
        for index, text in zip(line, texts, strict=True):
            out[index] = joined[at : at + len(text)]
            at += len(text)
        line.clear()

    for index, op in enumerate(decoded):
        if isinstance(op, ops.Text):
            line.append(index)
        elif not isinstance(op, _IN_LINE):
            close()
    close()
    return out


def _style(style: ops.TextStyle) -> Entry:
    return {
        f.name: getattr(style, f.name)
        for f in dataclasses.fields(style)
        if getattr(style, f.name) != getattr(_DEFAULT, f.name)
    }


def _entry(op: ops.Operation, reveal: bool, text: str | None = None) -> Entry:
    if isinstance(op, ops.Text):
        shown = _masked(op.text, reveal) if text is None else text
        return {"kind": "text", "text": shown, "style": _style(op.style)}
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
    texts = _masked_runs(decoded, reveal)
    for number, op in enumerate(decoded, start=1):
        yield {**_entry(op, reveal, texts.get(number - 1)), "op": number}
    if failure is not None:
        raise Failure(failure.message) from failure
