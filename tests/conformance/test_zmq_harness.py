"""The contract suite over the wire still catches a broken reader: the remote and the
control socket do not hide what the device does wrong."""

from __future__ import annotations

from pathlib import Path

import hal
from hal.devices.card_reader import CardReader
from simulator.remote_control import RemoteCardReaderControl
from tellerhal.conformance.card_reader import CARD_READER_CASES
from tellerhal.conformance.framework import Harness, Verdict, run_case
from tests.sim_process import sim


async def test_a_broken_reader_behind_tellerhal_sim_fails_its_case(tmp_path: Path) -> None:
    scenario = tmp_path / "broken.toml"
    scenario.write_text('version = 1\n[devices.card_reader]\nvariant = "no_jam_error"\n')
    (jam,) = [case for case in CARD_READER_CASES if case.id == "card_reader.jam"]
    with sim(tmp_path / "sim", str(scenario)) as proc:
        control = RemoteCardReaderControl(proc.control)

        def open_reader() -> CardReader:
            device = hal.open(proc.address())
            assert isinstance(device, CardReader)
            return device

        result = await run_case(jam, Harness(open=open_reader, stimulus=control, patience=0.5))
        assert proc.stop() == 0
    assert result.verdict is Verdict.FAILED, result
    assert "expected MediaJam" in result.detail
