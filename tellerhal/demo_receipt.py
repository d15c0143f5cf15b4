"""The demo's last step: the session's receipt on the receipt printer, its lines on the
journal printer, and the receipt's picture saved as a PNG.

The app side uses only `hal.Printer` (``hal.open("sim://receipt_printer")``,
``hal.open("sim://journal_printer")``): a typical receipt (the bank's name, the date and
time, the card number masked, the amounts withdrawn and deposited, a Chinese line, a QR
code and a CODE128 barcode with the transaction reference, a cut), presented to the
customer, who takes it. The demo then shows the paper's text form line by line (the
card masked as printed) and draws the receipt once: a character the printer font has
no glyph for is named and fails the demo (exit 1); the PNG is that drawing at the
printer's dot width. On a kiosk there would be neither.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypeVar

from hal.devices.printer import (
    Align,
    Barcode,
    CodePage,
    Cut,
    Document,
    Feed,
    Line,
    MediaControl,
    MediaTaken,
    Printer,
    QrCode,
    Rule,
    TextRun,
)
from hal.events import StatusChanged, Subscription
from hal.money import Money
from simulator.world import World

if TYPE_CHECKING:
    from simulator.models.printer import Receipt
    from simulator.printer_render import Rendering

__all__ = ["BANK", "ReceiptResult", "journal_document", "print_receipt", "receipt_document"]

T = TypeVar("T")

#: The bank whose kiosk the demo is.
BANK = "TELLERHAL BANK"


class Step(Protocol):
    """Runs one of the app's steps, timing and printing it."""

    async def __call__(self, what: str, action: Awaitable[T]) -> T: ...


@dataclass
class ReceiptResult:
    """What the receipt step did.

    Attributes:
        reference: the transaction reference on the receipt (QR code and barcode).
        lines: the text of every line the app sent, in order.
        text: the receipt's text form as the paper shows it.
        missing_glyphs: characters on the receipt the printer font has no glyph for
            (drawn blank); empty when all were drawn, or when it was not drawn (no
            ``render`` extra or no CJK font).
        png: where its picture was saved (``None``: not saved).
        taken: the customer took it.
        journal_lines: the lines sent to the journal printer.
    """

    reference: str = ""
    lines: list[str] = field(default_factory=list)
    text: str = ""
    missing_glyphs: frozenset[str] = frozenset()
    png: Path | None = None
    taken: bool = False
    journal_lines: list[str] = field(default_factory=list)


def receipt_document(
    *,
    when: dt.datetime,
    reference: str,
    pan_masked: str,
    withdrawn: Money | None,
    deposited: Money | None,
) -> Document:
    """The session's receipt (GB18030: its Chinese line prints in the printer's Chinese
    mode)."""

    def amount(label: str, money: Money | None) -> Line:
        shown = str(money) if money is not None else "-"
        return Line.of(f"{label:<20}{shown:>28}")

    blocks = (
        Line.of(BANK, align=Align.CENTER, bold=True, double_height=True),
        Line.of("Smart teller receipt", align=Align.CENTER),
        Rule("-"),
        Line.of(f"Date {when:%Y-%m-%d}   Time {when:%H:%M:%S}"),
        Line.of(f"Card {pan_masked or 'none'}"),
        amount("Withdrawal", withdrawn),
        amount("Deposit", deposited),
        Line((TextRun("Reference ", bold=True), TextRun(reference))),
        Rule("-"),
        Line.of("谢谢惠顾，欢迎再次光临", align=Align.CENTER),
        Line.of("Thank you for banking with us", align=Align.CENTER),
        Feed(1),
        QrCode(f"https://bank.example/r/{reference}", module_size=5),
        Feed(1),
        Barcode(reference, height=60),
        Cut(feed=3),
    )
    return Document(blocks, code_page=CodePage.GB18030)


def journal_document(lines: list[str]) -> Document:
    """The journal's lines for the session (a journal has no cutter: no cut)."""
    return Document(tuple(Line.of(text) for text in lines), code_page=CodePage.CP437)


async def print_receipt(
    world: World,
    step: Step,
    say: Callable[[str, str], None],
    *,
    pan_masked: str,
    withdrawn: Money | None,
    deposited: Money | None,
    png: Path | None,
    patience: float,
) -> ReceiptResult:
    """Print the receipt and the journal lines; save the receipt's PNG to ``png``."""
    import hal

    result = ReceiptResult()
    when = dt.datetime.now().replace(microsecond=0)
    result.reference = f"TXN{when:%Y%m%d%H%M%S}"
    receipt = hal.open(f"sim://receipt_printer?world={world.name}")
    journal = hal.open(f"sim://journal_printer?world={world.name}")
    assert isinstance(receipt, Printer)
    assert isinstance(journal, Printer)
    document = receipt_document(
        when=when,
        reference=result.reference,
        pan_masked=pan_masked,
        withdrawn=withdrawn,
        deposited=deposited,
    )
    result.lines = [block.text for block in document.blocks if isinstance(block, Line)]
    await step("open sim://receipt_printer", receipt.open())
    events = receipt.events()
    watcher = asyncio.create_task(_watch(events, say), name="demo printer events")
    try:
        with receipt.events(kinds=[MediaTaken]) as taken:
            printed = await step(
                f"print_document(receipt {result.reference}): please take your receipt",
                receipt.print_document(document, timeout=patience),
            )
            say("app", f"receipt printed: {printed.blocks} blocks, {printed.bytes_sent} bytes")
            try:
                await step("the customer took the receipt", taken.get(timeout=patience))
                result.taken = True
            except TimeoutError:
                await step(
                    "control_media(retract): the receipt was left",
                    receipt.control_media(MediaControl.RETRACT, timeout=patience),
                )
    finally:
        events.close()
        await watcher
        await step("close sim://receipt_printer", receipt.close())
    control = world.printer_control("receipt_printer")
    result.text = control.last_receipt_text()
    for line in result.text.splitlines():
        say("receipt", f"| {line}")  # the paper's text form: the card masked as printed
    paper = world.printer("receipt_printer").last_receipt()
    if paper is not None:
        drawn = await _draw(paper, png, say)
        if drawn is not None:
            result.missing_glyphs, result.png = drawn
    result.journal_lines = [
        f"{when:%Y-%m-%d %H:%M:%S} {result.reference}",
        f"  card {pan_masked or 'none'}",
        f"  withdrawal {withdrawn if withdrawn is not None else '-'}",
        f"  deposit {deposited if deposited is not None else '-'}",
        f"  receipt {'taken' if result.taken else 'retracted'}",
    ]
    async with journal:
        await step(
            f"journal: print_document({len(result.journal_lines)} lines)",
            journal.print_document(journal_document(result.journal_lines), timeout=patience),
        )
    return result


async def _draw(
    paper: Receipt, path: Path | None, say: Callable[[str, str], None]
) -> tuple[frozenset[str], Path | None] | None:
    """Draw the receipt once: the characters the font lacks (said), and its picture
    saved to ``path``. ``None``: it cannot be drawn here (no Pillow or no CJK font)."""
    try:
        rendering = await asyncio.to_thread(paper.render)
    except (ImportError, RuntimeError) as exc:  # no Pillow, or no CJK font installed
        say("app", f"no receipt picture: {exc}")
        return None
    missing = rendering.missing_glyphs
    if missing:
        chars = " ".join(f"U+{ord(ch):04X}" for ch in sorted(missing))
        say("app", f"the receipt has characters the font has no glyph for: {chars}")
    if path is None:
        return missing, None
    size = await asyncio.to_thread(_write, path, rendering)
    say("app", f"receipt picture saved: {path} ({size} bytes)")
    return missing, path


async def _watch(events: Subscription, say: Callable[[str, str], None]) -> None:
    """Say each event of the receipt printer (MediaPresented, MediaTaken...)."""
    async for event in events:
        if isinstance(event, StatusChanged):
            changed = ", ".join(
                f"{name} {getattr(event.old, name)}->{getattr(event.new, name)}"
                for name in sorted(event.changed)
            )
            say("printer", f"StatusChanged ({changed})")
        else:
            command = f" (command {event.command_id})" if event.command_id is not None else ""
            say("printer", f"{type(event).__name__}{command}")


def _write(path: Path, rendering: Rendering) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    rendering.save_png(path)
    return path.stat().st_size
