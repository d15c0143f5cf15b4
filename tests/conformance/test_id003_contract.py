"""The CashAcceptor contract (tellerhal.conformance.cash_acceptor) on the real ``id003``
driver: ``id003+serial://<pty>`` through ``hal.open`` with a ledger file, against the
ID-003 emulator over the simulator's ``id003`` acceptor model, the customer and faults
acting through `simulator.cash_in_control.CashAcceptorControl`.

A case's run is accepted as `tellerhal.conformance.framework.acceptable` says: it
passed, or it was skipped for missing features none of which the driver declares.
"""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

import hal
from drivers.cash.id003 import ID003_DRIVER
from hal.devices.cash_acceptor import CashAcceptor
from simulator.cash_in_control import CashAcceptorControl
from tellerhal.conformance.cash_acceptor import CASH_ACCEPTOR_CASES, CashAcceptorCase
from tellerhal.conformance.framework import Harness, acceptable, run_case
from tests.id003_rig import Id003Rig, id003_registered

DECLARED = ID003_DRIVER.capabilities["cash_acceptor"]


@asynccontextmanager
async def _harness() -> AsyncIterator[Harness[CashAcceptor, CashAcceptorControl]]:
    with tempfile.TemporaryDirectory() as directory, id003_registered():
        rig = Id003Rig(Path(directory))
        async with rig.wire():
            address = rig.address(f"ledger={Path(directory) / 'ledger.sqlite'}")

            def open_acceptor() -> CashAcceptor:
                device = hal.open(address)
                assert isinstance(device, CashAcceptor)
                return device

            yield Harness(open=open_acceptor, stimulus=CashAcceptorControl(rig.model), patience=3.0)


@pytest.mark.parametrize("case", CASH_ACCEPTOR_CASES, ids=lambda c: c.id.split(".")[-1])
async def test_contract(case: CashAcceptorCase) -> None:
    async with _harness() as harness:
        result = await run_case(case, harness)
    why = acceptable(result, DECLARED)
    assert why is None, why
