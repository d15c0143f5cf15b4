"""SAM_V over a pty: one base-message read, against the wire time of its bytes.

Run: ``python bench/bench_samv_pty.py [--cycles N] [--bauds 115200]``

The real ``samv`` driver (`SamvDriver` on the ``serial`` transport, through its link,
the SW3 mapping, `protocols.samv.parse_base_message` and `hal.devices.id_documents.
document_from_chip`) reads a resident ID card from the SAM_V emulator on a `PtyBridge`.
The card is found and selected once; one cycle is ``read_document`` without fingerprints
or the newest address: on the line the 10-byte 30 01 command and the 1295-byte reply
(text 256 + photo 1024), 1305 bytes, 113.3 ms at 115200 baud (10 bits a byte). The
emulator paces both directions like a UART (precise mode), so the wire time is the floor;
the ratio is elapsed over wire time (goal: 1.2 at most). The unpaced row is the same
cycle with no pacing: what the pty, asyncio and both sides' Python cost alone.

Exit status 1 if a paced ratio misses the goal.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from pty_cycle import GOAL, report, run, timed_cycles

from drivers.id_scanner.samv import SamvDriver
from drivers.id_scanner.samv_options import SamvOptions
from hal.devices.id_scanner import DocumentKind, IdScannerStatus
from hal.events import Event
from hal.transports.serial import SerialOptions, SerialTransport
from simulator.id_profiles import document_profile
from simulator.wire.pty import PtyBridge
from simulator.wire.samv import SamvEmulator
from simulator.wire.samv_firmware import CardTable, SamvFirmware, chip_card

#: Bytes on the line per cycle: the 30 01 command and the base-message reply.
CYCLE_BYTES = 10 + 1295


class _Quiet:
    """A listener that drops what the driver reports."""

    def event(self, event: Event) -> None:
        pass

    def status_changed(self, status: IdScannerStatus) -> None:
        pass


async def measure(baud: int | None, cycles: int, line_baud: int) -> tuple[int, float, float]:
    """(bytes per cycle, wire seconds per cycle, elapsed seconds per cycle), medians."""
    table = CardTable()
    chip = chip_card(document_profile("resident"))
    assert chip is not None
    table.place(chip)
    with tempfile.TemporaryDirectory(prefix="bench-samv-") as directory:
        async with (
            PtyBridge("samv", directory=directory) as bridge,
            SamvEmulator(bridge, SamvFirmware(table), baud=baud, precise=True) as emulator,
        ):
            transport = SerialTransport(
                str(Path(directory) / "samv"), SerialOptions(baud=line_baud)
            )
            driver = SamvDriver(transport, SamvOptions(reply_timeout=5))
            await driver.open(_Quiet())
            try:
                await driver.accept_document()

                async def cycle() -> None:
                    document = await driver.read_document(fingerprints=False, newest_address=False)
                    assert document.kind is DocumentKind.CN_RESIDENT_ID

                await cycle()  # warm-up
                result = await timed_cycles(
                    emulator.stats,  # type: ignore[arg-type]  # has bytes_in, bytes_out
                    cycles,
                    cycle,
                    line_baud,
                )
            finally:
                await driver.close()
    if result[0] != CYCLE_BYTES:
        raise SystemExit(f"a cycle moved {result[0]} bytes, expected {CYCLE_BYTES}")
    return result


async def main(cycles: int, bauds: list[int]) -> int:
    title = (
        f"SAM_V over a pty: one base-message read (30 01, {CYCLE_BYTES} bytes), "
        f"median of {cycles} (goal: <= {GOAL}x wire)"
    )
    return await report(title, measure, cycles, bauds)


if __name__ == "__main__":
    run(__doc__, "115200", main)
