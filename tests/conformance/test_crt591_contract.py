"""The CardReader contract suite against the crt591 driver on a pty.

Every case of `tellerhal.conformance.card_reader.CARD_READER_CASES` runs over
``crt591+serial://<symlink>`` (`tests.crt591_rig.PtyRig`): the real driver, through
``hal.open``, against the CRT-591 emulator bound to a world's card reader with a card
stacker; the customer (and the operator) is that world's control API. A run is accepted
as `tellerhal.conformance.framework.acceptable` says (shared_api §5): it passed, or it
was skipped for missing features none of which the driver declares
(``CRT591_DRIVER.capabilities``); never ``pytest.skip``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from drivers.card_reader.crt591 import CRT591_DRIVER
from simulator.server import ControlServer
from tellerhal.cli.main import main
from tellerhal.conformance.card_reader import CARD_READER_CASES, CardReaderCase, CardReaderHarness
from tellerhal.conformance.framework import Harness, Verdict, acceptable, run_case
from tests.crt591_rig import PtyRig, crt591_registered

DECLARED = CRT591_DRIVER.capabilities.get("card_reader", frozenset())


@pytest.fixture(autouse=True)
def _crt591_registered() -> Iterator[None]:
    with crt591_registered():
        yield


def crt591_harness(tmp_path: Path, patience: float = 1.0) -> CardReaderHarness:
    """The crt591 driver on a pty against the emulator; the stimulus is the world's."""
    rig = PtyRig(tmp_path / "pty", tmp_path / "ledger.sqlite")
    return Harness(open=rig.reader, stimulus=rig.control, patience=patience)


def test_the_driver_declares_what_an_issuer_promises() -> None:
    assert {"issue", "chip", "motor", "retain", "taken_sensor"} <= DECLARED
    assert "tracks" not in DECLARED  # the CRT-591 has no magnetic head


@pytest.mark.parametrize("case", CARD_READER_CASES, ids=lambda c: c.id.split(".")[-1])
async def test_contract(case: CardReaderCase, tmp_path: Path) -> None:
    result = await run_case(case, crt591_harness(tmp_path))
    why = acceptable(result, DECLARED)
    assert why is None, why


async def test_the_issuing_case_runs_and_passes(tmp_path: Path) -> None:
    """The issuing case is the point of this driver: it must pass, not be skipped."""
    (case,) = [c for c in CARD_READER_CASES if c.id == "card_reader.issue_card"]
    result = await run_case(case, crt591_harness(tmp_path))
    assert result.verdict is Verdict.PASSED, result.detail


async def test_tellerhal_certify_certifies_the_crt591(tmp_path: Path) -> None:
    """``tellerhal certify card_reader crt591+serial://...`` with the world's control
    socket as the customer: every case passes, nothing is skipped, it is certified."""
    rig = PtyRig(tmp_path / "pty", tmp_path / "ledger.sqlite")
    report = tmp_path / "report.json"
    control = ControlServer("tcp://127.0.0.1:0", lambda: rig.world)
    async with rig.wire():
        await control.start()
        try:
            argv = ["certify", "card_reader", rig.address(), "--stimulus", control.endpoint]
            argv += ["--patience", "1", "--json", str(report)]
            code = await _in_a_thread(main, argv)
        finally:
            await control.stop()
    data: dict[str, Any] = json.loads(report.read_text())
    assert code == 0, data["reasons"]
    verdicts = {c["id"]: c["verdict"] for c in data["cases"]}
    assert set(verdicts) == {c.id for c in CARD_READER_CASES}
    assert set(verdicts.values()) == {"passed"}, verdicts


async def _in_a_thread(func: Callable[..., Any], *args: Any) -> Any:
    """Run a blocking call (one with its own event loop) on a thread that ends with it."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return await asyncio.get_running_loop().run_in_executor(pool, func, *args)
