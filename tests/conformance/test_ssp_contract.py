"""The CashAcceptor contract (tellerhal.conformance.cash_acceptor) on the real ``ssp``
driver: ``ssp+serial://<pty>`` through ``hal.open`` with a ledger file, against the
SSP emulator over the simulator's ``nv200`` / ``nv11`` acceptor model, the customer
and faults acting through `simulator.cash_in_control.CashAcceptorControl`.

A case's run is accepted as `tellerhal.conformance.framework.acceptable` says: it
passed, or it was skipped for missing features none of which the driver declares for
that profile (the NV200 all the driver declares but ``recycling``; the facets' own
features are checked against these in tests/drivers/test_ssp_acceptor_flow.py).
"""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import pytest

import hal
from drivers.cash.ssp import SSP_DRIVER
from hal.devices.cash_acceptor import CashAcceptor
from simulator.cash_in_control import CashAcceptorControl
from tellerhal.conformance.cash_acceptor import (
    CASH_ACCEPTOR_CASES,
    CashAcceptorCase,
    CashAcceptorHarness,
)
from tellerhal.conformance.framework import Harness, acceptable, run_case
from tests.ssp_rig import SspRig, ssp_registered

DECLARED = {
    "nv11": SSP_DRIVER.capabilities["cash_acceptor"],
    "nv200": SSP_DRIVER.capabilities["cash_acceptor"] - {"recycling"},
}


def _opener(address: str) -> Callable[[], CashAcceptor]:
    def open_acceptor() -> CashAcceptor:
        device = hal.open(address)
        assert isinstance(device, CashAcceptor)
        return device

    return open_acceptor


def _harness(profile: str) -> Callable[[], AbstractAsyncContextManager[CashAcceptorHarness]]:
    @asynccontextmanager
    async def harness() -> AsyncIterator[CashAcceptorHarness]:
        with tempfile.TemporaryDirectory() as directory, ssp_registered():
            rig = SspRig(Path(directory), profile)
            async with rig.wire():
                address = rig.address(f"ledger={Path(directory) / 'ledger.sqlite'}")
                yield Harness(
                    open=_opener(address), stimulus=CashAcceptorControl(rig.model), patience=3.0
                )

    return harness


IMPLEMENTATIONS = {"nv200": _harness("nv200"), "nv11": _harness("nv11")}


@pytest.mark.parametrize("case", CASH_ACCEPTOR_CASES, ids=lambda c: c.id.split(".")[-1])
@pytest.mark.parametrize("profile", sorted(IMPLEMENTATIONS))
async def test_contract(profile: str, case: CashAcceptorCase) -> None:
    async with IMPLEMENTATIONS[profile]() as harness:
        result = await run_case(case, harness)
    why = acceptable(result, DECLARED[profile])
    assert why is None, why
