"""The builds of the simulated printer and the paper it hands out
(`simulator.models.printer`).

`PrinterProfile` is a printer's build (width, cutter, presenter, retract bin, near-end
sensor, the model name GS I answers), `PRINTER_PROFILES` the builds by name, and
`Receipt` a piece of paper: the operations printed on it, with its text form and its
picture.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hal.devices.printer import PrinterType
from protocols import escpos_ops as ops
from simulator.printer_text import layout, text_lines

if TYPE_CHECKING:
    from simulator.printer_render import Rendering

__all__ = ["MAX_RECEIPTS", "PRINTER_PROFILES", "PrinterProfile", "Receipt"]

#: Receipts cut that the model keeps (the newest).
MAX_RECEIPTS = 50


@dataclass(frozen=True)
class PrinterProfile:
    """A printer's build.

    Attributes:
        name: the profile's name.
        type: receipt or journal.
        dots: printable dots per line (576: 80 mm, 384: 58 mm).
        cutter: it has an autocutter (full and partial cuts).
        presenter: it holds the cut receipt at the exit (eject, retract, taken sensor).
        retract_capacity: receipts the retract bin holds (0: no bin).
        near_end_sensor: it senses the roll near its end.
        model_name: what GS I 67 answers.
        description: one line for the docs.
    """

    name: str
    type: PrinterType
    dots: int
    cutter: bool
    presenter: bool
    retract_capacity: int
    near_end_sensor: bool
    model_name: str
    description: str

    @property
    def columns(self) -> int:
        """Font A characters per line (12 dots each)."""
        return self.dots // 12


#: The builds by name.
PRINTER_PROFILES: Mapping[str, PrinterProfile] = {
    p.name: p
    for p in (
        PrinterProfile(
            "receipt",
            PrinterType.RECEIPT,
            576,
            cutter=True,
            presenter=True,
            retract_capacity=20,
            near_end_sensor=True,
            model_name="TH-SIM80P",
            description="80 mm kiosk receipt printer: cutter, presenter, retract bin of 20",
        ),
        PrinterProfile(
            "receipt58",
            PrinterType.RECEIPT,
            384,
            cutter=True,
            presenter=False,
            retract_capacity=0,
            near_end_sensor=True,
            model_name="TH-SIM58",
            description="58 mm receipt printer: cutter, no presenter",
        ),
        PrinterProfile(
            "journal",
            PrinterType.JOURNAL,
            576,
            cutter=False,
            presenter=False,
            retract_capacity=0,
            near_end_sensor=True,
            model_name="TH-SIM80J",
            description="80 mm journal printer: no cutter (the roll winds onto a spool)",
        ),
    )
}


@dataclass(frozen=True)
class Receipt:
    """A piece of paper: the operations printed on it, in order.

    Attributes:
        operations: what printed (every row of it fitted on the paper).
        dots: the paper's width in dots.
        paper_out: the paper ran out at its end.
        cut: it was cut off (``False``: torn off with a new roll, or still under way).
    """

    operations: tuple[ops.Operation, ...]
    dots: int = 576
    paper_out: bool = False
    cut: bool = True

    @property
    def lines(self) -> list[str]:
        """The text form (`simulator.printer_text`), one string per printed line."""
        laid = layout(self.operations, self.dots)
        return text_lines(laid.rows, self.dots)

    @property
    def text(self) -> str:
        """The text form as one string, a newline after each line."""
        return "".join(line + "\n" for line in self.lines)

    def render(self) -> Rendering:
        """The paper drawn (`simulator.printer_render.render`; needs the ``render``
        extra and a CJK font); where the paper ran out is marked."""
        from simulator.printer_render import render

        return render(self.operations, self.dots, paper_out=self.paper_out)

    def png(self) -> bytes:
        """The paper as a 1-bit PNG at 203 dpi."""
        import io

        from PIL import Image

        from simulator.printer_render import DPI

        out = io.BytesIO()
        image = self.render().image.convert("1", dither=Image.Dither.NONE)
        image.save(out, format="PNG", dpi=(DPI, DPI))
        return out.getvalue()
