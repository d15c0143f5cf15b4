"""The CashAcceptor contract (tellerhal.conformance.cash_acceptor) on the simulator:
``sim://cash_acceptor`` through ``hal.open`` with a ledger file, for every cash-in
profile, the customer and faults acting through the world's `CashAcceptorControl`."""

from __future__ import annotations

import itertools
import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import pytest

import hal
from hal.devices.cash_acceptor import CashAcceptor
from simulator.models.cash_in_profiles import CASH_IN_PROFILES
from simulator.registration import SIM_DRIVER
from simulator.world import get_world
from tellerhal.conformance.cash_acceptor import (
    CASH_ACCEPTOR_CASES,
    CashAcceptorCase,
    CashAcceptorHarness,
)
from tellerhal.conformance.framework import Harness, acceptable, run_case

_worlds = itertools.count()


def _harness(profile: str) -> Callable[[], AbstractAsyncContextManager[CashAcceptorHarness]]:
    @asynccontextmanager
    async def harness() -> AsyncIterator[CashAcceptorHarness]:
        with tempfile.TemporaryDirectory() as directory:
            world = f"cash_in{next(_worlds)}"
            ledger = Path(directory) / "ledger.sqlite"
            address = (
                f"sim://cash_acceptor?world={world}&clock_scale=0.001&ledger={ledger}"
                f"&cash_in_profile={profile}"
            )

            def open_acceptor() -> CashAcceptor:
                device = hal.open(address)
                assert isinstance(device, CashAcceptor)
                return device

            open_acceptor()  # builds the world's acceptor
            stimulus = get_world(world).cash_acceptor_control()
            yield Harness(open=open_acceptor, stimulus=stimulus, patience=2.0)

    return harness


PROFILES = ("default", "id003", "nv200", "nv11")


@pytest.mark.parametrize("case", CASH_ACCEPTOR_CASES, ids=lambda c: c.id.split(".")[-1])
@pytest.mark.parametrize("profile", PROFILES)
async def test_contract(profile: str, case: CashAcceptorCase) -> None:
    async with _harness(profile)() as harness:
        result = await run_case(case, harness)
    # a skip is accepted only for features the profile's model does not have
    why = acceptable(result, CASH_IN_PROFILES[profile].capabilities.features())
    assert why is None, why


def test_the_driver_declares_the_default_profile() -> None:
    assert SIM_DRIVER.capabilities["cash_acceptor"] == (
        CASH_IN_PROFILES["default"].capabilities.features()
    )
