"""ESC/POS over a pty: a 40-line receipt with a QR code printed, against its wire time.

Run: ``python bench/bench_escpos_pty.py [--cycles N] [--bauds 115200]``

The real ``escpos`` driver (`EscPosDriver` on the ``serial`` transport, its link and
`protocols.escpos.encode_blocks`) prints `bench_escpos.receipt()` (the renderer bench's
typical receipt: 40 lines, Chinese included, a QR code, a cut) on the ESC/POS emulator
(`simulator.wire.escpos` over the simulator's `PrinterModel`) on a `PtyBridge`. The
driver sends block by block and waits for each block to print before the next: with
``progress=process_id`` a GS ( H process ID per block (11 bytes more each way 7), with
``progress=status`` a DLE EOT 1 per block (3 bytes, 1 back). The emulator paces both
directions like a UART (precise mode), so the wire time of the bytes that crossed is the
floor; the ratio is elapsed over wire time (goal: 1.2 at most). The unpaced row is the
same job with no pacing: the pty, asyncio, the decoder and the model alone.

Exit status 1 if a paced ratio misses the goal.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from bench_escpos import receipt
from pty_cycle import GOAL, Measure, report, run, timed_cycles

from drivers.printer.escpos import EscPosDriver
from drivers.printer.escpos_options import EscPosOptions
from hal.devices.printer import PrinterStatus
from hal.events import Event
from hal.transports.serial import SerialOptions, SerialTransport
from simulator.models.printer import PrinterModel
from simulator.wire.escpos import EscPosEmulator
from simulator.wire.pty import PtyBridge


class _Quiet:
    """A listener that drops what the driver reports."""

    def event(self, event: Event) -> None:
        pass

    def status_changed(self, status: PrinterStatus) -> None:
        pass


def measure_for(progress: str) -> Measure:
    async def measure(baud: int | None, cycles: int, line_baud: int) -> tuple[int, float, float]:
        """(bytes per job, wire seconds per job, elapsed seconds per job), medians."""
        document = receipt()
        with tempfile.TemporaryDirectory(prefix="bench-escpos-") as directory:
            model = PrinterModel(paper_length=100000, near_end_lines=10)
            async with (
                PtyBridge("escpos", directory=directory) as bridge,
                EscPosEmulator(bridge, model, baud=baud, precise=True) as emulator,
            ):
                transport = SerialTransport(
                    str(Path(directory) / "escpos"), SerialOptions(baud=line_baud)
                )
                # The poll stays out of the way (a job holds the line anyway).
                options = EscPosOptions(progress=progress, status_interval=5, reply_timeout=2)
                driver = EscPosDriver(transport, options)
                await driver.open(_Quiet())
                try:

                    async def cycle() -> None:
                        result = await driver.print_document(document)
                        assert result.complete

                    await cycle()  # warm-up
                    return await timed_cycles(
                        emulator.stats,  # type: ignore[arg-type]  # has bytes_in, bytes_out
                        cycles,
                        cycle,
                        line_baud,
                    )
                finally:
                    await driver.close()

    return measure


async def main(cycles: int, bauds: list[int]) -> int:
    status = 0
    for progress in ("process_id", "status"):
        title = (
            f"ESC/POS over a pty: a 40-line receipt with a QR code, progress={progress}, "
            f"median of {cycles} (goal: <= {GOAL}x wire)"
        )
        status |= await report(title, measure_for(progress), cycles, bauds)
        print()
    return status


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    run(__doc__, "115200", main)
