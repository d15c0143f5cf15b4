"""Benchmark of the receipt renderer: a typical receipt decoded and rendered, receipts per
second, against two baselines measured in the same run.

Run from the repository root:  python bench/bench_escpos.py [--rounds N] [--repeat R]

The receipt: 40 lines of text (a centred double-size title, a Chinese bank name and
thanks, 30 item/amount lines, rules, totals in bold), a QR code (module size 4, ECC M)
and a cut, encoded by `protocols.escpos` from a `Document` (about 1.6 KB). Timed, best
of R runs of N receipts each:

- ``decode``: `protocols.escpos_decoder.decode` of the bytes alone;
- ``decode + render``: `simulator.printer_render.render_bytes`: decode, lay out, draw the
  576-dot PNG image and the text form (the PNG file is not written);
- ``decode + render + PNG``: the same and the 1-bit PNG encoded into memory;
- baseline (a) the wire: the receipt's bytes at 115200 bd 8N1 (10 bits a byte): how
  long a printer takes just to receive it;
- baseline (b) a plain Pillow draw: the same 40 lines of text drawn with
  ``ImageDraw.text`` in the same font on a 576-dot image of the same height, no
  decoding, no layout, no QR code.

Prints receipts/s for each and the ratios: how many receipts render in one receipt's
wire time, and how many times slower than the plain draw decode + render is.
"""

from __future__ import annotations

import argparse
import io
import platform
import sys
from pathlib import Path
from time import perf_counter

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PIL import Image, ImageDraw, ImageFont

from protocols import escpos
from protocols.escpos_decoder import decode
from protocols.print_document import (
    Align,
    CodePage,
    Cut,
    Document,
    Feed,
    Line,
    QrCode,
    QrErrorCorrection,
    Rule,
    TextRun,
)
from simulator.printer_fonts import load_printer_font
from simulator.printer_render import render_bytes


def receipt() -> Document:
    """A typical 40-line receipt with a QR code."""
    blocks: list[object] = [
        Line.of(
            "SMART TELLER", align=Align.CENTER, bold=True, double_width=True, double_height=True
        ),
        Line.of("中国示范银行 自助服务回单", align=Align.CENTER),
        Line.of("2026-11-29 03:30:00   Kiosk 0042", align=Align.CENTER),
        Rule("="),
    ]
    for i in range(30):
        name = f"Item {i + 1:02d} 服务费" if i % 5 == 0 else f"Item {i + 1:02d} withdrawal fee"
        amount = f"{(i + 1) * 1.25:8.2f}"
        blocks.append(Line.of(f"{name:<30}{amount:>14}"))
    blocks += [
        Rule("-"),
        Line((TextRun("TOTAL", bold=True), TextRun(" " * 31), TextRun("  581.25", bold=True))),
        Line.of("Card 6222 **** **** 1234"),
        Line.of(f"{'Balance':<30}{'12,345.67':>14}"),
        Line.of("谢谢惠顾，欢迎再次光临！", align=Align.CENTER),
        Line.of("Keep this receipt", align=Align.CENTER, underline=escpos.Underline.SINGLE),
        QrCode("https://bank.example/r/20261129-0042-000123", 4, QrErrorCorrection.M),
        Feed(3),
        Cut(),
    ]
    return Document(tuple(blocks), CodePage.GB18030)  # type: ignore[arg-type]


def best(fn: object, rounds: int, repeat: int) -> float:
    """Best seconds per call over ``repeat`` runs of ``rounds`` calls."""
    call = fn  # a callable taking no arguments
    times = []
    for _ in range(repeat):
        start = perf_counter()
        for _ in range(rounds):
            call()  # type: ignore[operator]
        times.append((perf_counter() - start) / rounds)
    return min(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=10, help="receipts per run")
    parser.add_argument("--repeat", type=int, default=3, help="runs (best taken)")
    args = parser.parse_args()

    doc = receipt()
    data = escpos.encode(doc)
    font = load_printer_font()
    first = render_bytes(data, font=font)
    assert first.error is None, first.error
    assert not first.missing_glyphs, first.missing_glyphs
    text_rows = [line for line in first.lines if line and not line.startswith("[")]
    height = first.image.height

    outline = ImageFont.truetype(str(font.path), 22, index=font.face_index)

    def plain_draw() -> None:
        image = Image.new("L", (576, height), 255)
        draw = ImageDraw.Draw(image)
        for n, line in enumerate(text_rows):
            draw.text((0, n * 30), line, fill=0, font=outline)

    def render_png() -> None:
        buffer = io.BytesIO()
        rendering = render_bytes(data, font=font)
        rendering.image.convert("1", dither=Image.Dither.NONE).save(buffer, format="PNG")

    t_decode = best(lambda: decode(data), args.rounds * 10, args.repeat)
    t_render = best(lambda: render_bytes(data, font=font), args.rounds, args.repeat)
    t_png = best(render_png, args.rounds, args.repeat)
    t_plain = best(plain_draw, args.rounds, args.repeat)
    t_wire = len(data) * 10 / 115200

    print(f"python {platform.python_version()}, {platform.machine()}")
    print(
        f"receipt: {len(data)} bytes, {len(text_rows)} text lines, QR + cut; "
        f"image 576x{height} dots"
    )
    print(f"decode                 {1 / t_decode:10.1f} receipts/s ({t_decode * 1e3:.2f} ms)")
    print(f"decode + render        {1 / t_render:10.1f} receipts/s ({t_render * 1e3:.2f} ms)")
    print(f"decode + render + PNG  {1 / t_png:10.1f} receipts/s ({t_png * 1e3:.2f} ms)")
    print(f"(a) wire at 115200 bd  {1 / t_wire:10.1f} receipts/s ({t_wire * 1e3:.2f} ms)")
    print(f"(b) plain Pillow draw  {1 / t_plain:10.1f} receipts/s ({t_plain * 1e3:.2f} ms)")
    print(f"decode + render vs the wire: {t_wire / t_render:.1f}x faster than it arrives")
    print(f"decode + render vs a plain draw: {t_render / t_plain:.2f}x the time")
    return 0


if __name__ == "__main__":
    sys.exit(main())
