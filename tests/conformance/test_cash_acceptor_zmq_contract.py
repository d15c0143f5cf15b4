"""The CashAcceptor contract over ZeroMQ, on acceptors that lie, and from the command line.

The in-process simulator's profiles run the contract in
tests/simulator/test_cash_acceptor_sim_contract.py and the drivers on their pty emulators in
test_id003_contract.py and test_ssp_contract.py. Here:

- ``zmq``: the simulated acceptor's service behind a `RemoteServer` on a real TCP socket,
  reached through ``zmq://127.0.0.1:PORT/cash_acceptor``;
- two broken acceptors (a model that books a deposit into the wrong unit, one that
  forgets to say it refused a note) each fail the case that exists to catch them, so the
  cases are known to bite;
- ``tellerhal conformance cash_acceptor sim://cash_acceptor`` runs the whole suite.
"""

from __future__ import annotations

import itertools
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import replace
from pathlib import Path

import pytest

import hal
from hal.devices.cash_acceptor import CashAcceptor, CashInLimits, CashInReport, MoveReport
from hal.remote import RemoteServer
from simulator.cash_in_control import CashAcceptorControl
from simulator.models.cash_acceptor import CashAcceptorModel
from simulator.models.cash_in_profiles import cash_in_profile
from simulator.registration import SIM_DRIVER
from simulator.sim_cash_in_service import SimCashAcceptorService
from simulator.world import get_world, reset_worlds
from tellerhal.cli.main import main
from tellerhal.conformance.cash_acceptor import (
    CASH_ACCEPTOR_CASES,
    CashAcceptorCase,
    CashAcceptorHarness,
)
from tellerhal.conformance.framework import Harness, Verdict, acceptable, run_case

_worlds = itertools.count()
_SIM = SIM_DRIVER.capabilities.get("cash_acceptor", frozenset())


@pytest.fixture(autouse=True)
def _fresh_worlds() -> Iterator[None]:
    reset_worlds()
    yield
    reset_worlds()


def _opener(address: str) -> Callable[[], CashAcceptor]:
    def open_acceptor() -> CashAcceptor:
        device = hal.open(address)
        assert isinstance(device, CashAcceptor)
        return device

    return open_acceptor


@asynccontextmanager
async def zmq_harness() -> AsyncIterator[CashAcceptorHarness]:
    """The simulated acceptor's service behind a `RemoteServer`, reached by ``zmq://``."""
    with tempfile.TemporaryDirectory() as directory:
        world = get_world(f"cash_in_zmq{next(_worlds)}")
        served = world.open_cash_acceptor(ledger=Path(directory) / "ledger.sqlite")
        async with RemoteServer(
            {"cash_acceptor": served},
            "tcp://127.0.0.1:0",
            simulator=True,
            heartbeat_interval=0.5,
        ) as server:
            address = "zmq://" + server.endpoint.removeprefix("tcp://") + "/cash_acceptor"
            yield Harness(
                open=_opener(address), stimulus=world.cash_acceptor_control(), patience=2.0
            )


@pytest.mark.parametrize("case", CASH_ACCEPTOR_CASES, ids=lambda c: c.id.split(".")[-1])
async def test_contract_over_zmq(case: CashAcceptorCase) -> None:
    async with zmq_harness() as harness:
        result = await run_case(case, harness)
    why = acceptable(result, _SIM)
    assert why is None, why


# --- acceptors that lie ----------------------------------------------------------------------


class MisroutingModel(CashAcceptorModel):
    """Stores notes where the profile says, but reports them in the retract unit."""

    async def cash_in_end(self, use_recycle_units: bool, token: int) -> MoveReport:
        report = await super().cash_in_end(use_recycle_units, token)
        moved = tuple(replace(m, destination="retract") for m in report.moves)
        return replace(report, moves=moved)


class DeafModel(CashAcceptorModel):
    """Refuses notes as it should, but never says so."""

    async def cash_in(self, limits: CashInLimits, token: int) -> CashInReport:
        report = await super().cash_in(limits, token)
        return replace(report, refused=())


def _liar_harness(
    model_class: type[CashAcceptorModel],
) -> Callable[[], AbstractAsyncContextManager[CashAcceptorHarness]]:
    @asynccontextmanager
    async def harness() -> AsyncIterator[CashAcceptorHarness]:
        with tempfile.TemporaryDirectory() as directory:
            model = model_class(cash_in_profile("default"))
            ledger = Path(directory) / "ledger.sqlite"

            def open_acceptor() -> CashAcceptor:
                return SimCashAcceptorService(model, ledger=ledger)

            yield Harness(open=open_acceptor, stimulus=CashAcceptorControl(model), patience=2.0)

    return harness


@pytest.mark.parametrize(
    ("model_class", "case_id", "said"),
    [
        # its report puts the notes in the retract unit: nothing credited (rule 3)
        (MisroutingModel, "cash_acceptor.deposit", "credited {}"),
        (DeafModel, "cash_acceptor.refused", "invalidBill"),
    ],
    ids=["misrouting", "deaf"],
)
async def test_a_lying_acceptor_fails_its_case(
    model_class: type[CashAcceptorModel], case_id: str, said: str
) -> None:
    (case,) = [c for c in CASH_ACCEPTOR_CASES if c.id == case_id]
    async with _liar_harness(model_class)() as harness:
        result = await run_case(case, harness)
    assert result.verdict is Verdict.FAILED, result
    assert said in result.detail


async def test_an_honest_model_passes_the_cases_the_liars_fail() -> None:
    for case_id in ("cash_acceptor.deposit", "cash_acceptor.refused"):
        (case,) = [c for c in CASH_ACCEPTOR_CASES if c.id == case_id]
        async with _liar_harness(CashAcceptorModel)() as harness:
            result = await run_case(case, harness)
        assert result.verdict is Verdict.PASSED, result


# --- the command line ----------------------------------------------------------------------


def test_tellerhal_conformance_runs_the_cash_acceptor_suite(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status = main(
        ["conformance", "--json", "sim://cash_acceptor?cash_in_profile=nv11&clock_scale=0.01"]
    )
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.startswith("{")]
    assert status == 0, out
    assert len(lines) == len(CASH_ACCEPTOR_CASES)
    assert all('"passed"' in line for line in lines), out
