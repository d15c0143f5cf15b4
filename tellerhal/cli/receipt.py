"""``tellerhal receipt render``: draw an ESC/POS stream as the paper a printer would give.

The stream is decoded (`protocols.escpos_decoder`) and rendered
(`simulator.printer_render`): a PNG at the printer's dot width and/or the text form
(docs/receipts.md).
"""

from __future__ import annotations

import argparse
import string
import sys
from pathlib import Path

__all__ = ["register", "run_render"]

EXIT_INPUT = 1
EXIT_STREAM = 2

DESCRIPTION = """\
Render an ESC/POS stream (a receipt or journal print job) as the printer would print it:
a 1-bit PNG at the printer's dot width (576 dots: 80 mm paper; 384: 58 mm) and 203 dpi,
and/or its text form (--text): one line per printed line, laid out at the printer's
columns (48 or 32; CJK characters two), barcodes, QR codes, images and cuts as marked
lines ([CODE128: data], [QR: payload], [image WxH], [CUT]).

INPUT is the stream, like `tellerhal decode`'s captures; several INPUTs are one stream
in order:
  hex digits, optionally separated by spaces or colons ("1b 40 48 69 0a"), or
  @FILE: a text file of hex lines (blank lines and lines starting with # skipped),
  @- reads such hex lines from standard input, or
  the path of a binary file holding the raw bytes (a capture, python-escpos output;
  an argument that reads as hex is hex, whatever files exist),
  - reads raw bytes from standard input.
"""

EPILOG = """\
exit status: 0 rendered; 1 unreadable input (not hex, no such file) or no CJK font
(install fonts-noto-cjk); 2 the stream is truncated or bad: what came before the bad
command is rendered and written, the error on one stderr line.

example:
  tellerhal receipt render "1b 40 1b 61 01 48 69 0a 1d 56 00" -o hi.png --text
  tellerhal receipt render job.bin -o job.png --width 384
"""


class _InputError(Exception):
    pass


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``receipt`` sub-command to the ``tellerhal`` parser."""
    parser = sub.add_parser(
        "receipt",
        help="render ESC/POS print jobs as PNG and text",
        description="Work with receipt and journal printer output.",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    render = actions.add_parser(
        "render",
        help="render an ESC/POS stream as a PNG and/or text",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    render.add_argument("inputs", metavar="INPUT", nargs="+", help="hex, @FILE, a file or -")
    render.add_argument("-o", "--output", metavar="PNG", help="write the paper as a PNG")
    render.add_argument(
        "--width",
        type=int,
        choices=(576, 384),
        default=576,
        help="the printer's dot width: 576 (80 mm, default) or 384 (58 mm)",
    )
    render.add_argument("--text", action="store_true", help="print the text form to stdout")
    render.add_argument(
        "--paper-out", action="store_true", help="mark the end as where the paper ran out"
    )
    render.set_defaults(func=run_render)


def _hex(value: str) -> bytes:
    digits = "".join(value.replace(":", " ").split())
    try:
        return bytes.fromhex(digits)
    except ValueError as exc:
        bad = next((i for i, c in enumerate(digits) if c not in string.hexdigits), None)
        problem = f"non-hex character at digit {bad}" if bad is not None else "odd digit count"
        raise _InputError(f"input is not hex: {problem}") from exc


def _is_file(name: str) -> bool:
    try:
        return Path(name).is_file()
    except (OSError, ValueError):
        return False


def read_stream(inputs: list[str]) -> bytes:
    """The bytes the INPUT arguments name, in order (see the command's help).

    Raises:
        _InputError: unreadable input.
    """
    stream = bytearray()
    for argument in inputs:
        if argument == "-":
            stream += sys.stdin.buffer.read()
        elif argument.startswith("@"):
            name = argument[1:]
            try:
                content = sys.stdin.read() if name == "-" else Path(name).read_text("utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise _InputError(f"cannot read {name}: {exc}") from exc
            for line in content.splitlines():
                line = line.strip()
                if line and not line.startswith("#"):
                    stream += _hex(line)
        else:
            try:
                stream += _hex(argument)
            except _InputError:
                if not _is_file(argument):
                    raise
                try:
                    stream += Path(argument).read_bytes()
                except OSError as exc:
                    raise _InputError(f"cannot read {argument}: {exc}") from exc
    return bytes(stream)


def run_render(args: argparse.Namespace) -> int:
    """Run ``tellerhal receipt render``."""
    if not args.output and not args.text:
        print("tellerhal receipt render: give -o PNG and/or --text", file=sys.stderr)
        return EXIT_INPUT
    try:
        data = read_stream(list(args.inputs))
    except _InputError as exc:
        print(f"tellerhal receipt render: {exc}", file=sys.stderr)
        return EXIT_INPUT
    # Imported here: Pillow, segno and the font are needed for this command only.
    try:
        from simulator.printer_fonts import PrinterFontError
        from simulator.printer_render import render_bytes
    except ImportError as exc:
        print(
            f"tellerhal receipt render: {exc.name or exc} is not installed: install the "
            "render extra (pip install 'tellerhal[render]')",
            file=sys.stderr,
        )
        return EXIT_INPUT

    try:
        rendering = render_bytes(data, args.width, paper_out=args.paper_out)
    except PrinterFontError as exc:
        print(f"tellerhal receipt render: {exc}", file=sys.stderr)
        return EXIT_INPUT
    if args.output:
        try:
            rendering.save_png(args.output)
        except OSError as exc:
            print(f"tellerhal receipt render: cannot write {args.output}: {exc}", file=sys.stderr)
            return EXIT_INPUT
    if args.text:
        sys.stdout.write(rendering.text)
        sys.stdout.flush()
    for problem in rendering.problems:
        print(f"tellerhal receipt render: warning: {problem}", file=sys.stderr)
    if rendering.missing_glyphs:
        chars = " ".join(f"U+{ord(ch):04X}" for ch in sorted(rendering.missing_glyphs))
        print(
            f"tellerhal receipt render: warning: no glyph in the font for {chars} (left blank)",
            file=sys.stderr,
        )
    if rendering.error is not None:
        print(
            f"tellerhal receipt render: {rendering.error} (rendered what came before it)",
            file=sys.stderr,
        )
        return EXIT_STREAM
    return 0
