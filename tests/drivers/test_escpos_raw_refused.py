"""A raw job that ends inside an ESC/POS command, over the escpos driver on a pty
(process IDs on): `PrinterService` refuses it before a byte goes out, and the next
document prints in full. Sent, the unfinished command took the next job's first bytes
and the driver waited for process IDs that never came (HalTimeout)."""

from __future__ import annotations

from pathlib import Path

import pytest

import hal
from hal.devices.printer import Document, Line, Printer
from hal.errors import InvalidData
from tests.escpos_rig import PtyPrinter, escpos_registered


async def test_a_truncated_raw_job_is_refused_and_the_next_document_prints(
    tmp_path: Path,
) -> None:
    rig = PtyPrinter(tmp_path)
    with escpos_registered():
        async with rig.wire() as emulator:
            device = hal.open(rig.address(progress="process_id"))
            assert isinstance(device, Printer)
            async with device:
                before = emulator.stats.bytes_in
                with pytest.raises(InvalidData, match="GS v 0") as refused:
                    # GS v 0, 1 byte a row, 2 rows: 1 of the 2 bytes of dots sent.
                    await device.print_raw(b"before\n\x1dv0\x00\x01\x00\x02\x00\xff", timeout=5)
                assert "needs 1 more byte" in str(refused.value)
                assert emulator.stats.bytes_in == before  # nothing went out
                document = Document((Line.of("after 1"), Line.of("after 2")))
                result = await device.print_document(document, timeout=10)
                assert result.complete
                assert result.blocks == 2
    assert rig.lines() == ["after 1", "after 2"]
