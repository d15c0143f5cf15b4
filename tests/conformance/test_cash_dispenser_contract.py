"""The CashDispenser contract suite, run against every implementation we ship.

Each implementation is reached the way an app reaches it (``hal.open(address)``), and
the customer, operator and fate are the simulator's `CashDispenserControl`, which also
knows the ground truth every case checks the counts against:

- ``sim``: ``sim://cash_dispenser`` in this process, with a ledger file;
- ``zmq``: the same simulated dispenser's service behind a `RemoteServer` on a real TCP
  socket, reached through ``zmq://127.0.0.1:PORT/cash_dispenser``;
- ``lcdm1000``, ``lcdm2000``, ``lcdm4000``: the real LCDM driver
  (``lcdm+serial://<pty>``) against the LCDM wire emulator over the simulator's model of
  that dispenser. The LCDM does not know what its cassettes hold, so each case starts as
  a bank's operator would: an exchange that sets each unit's count.

A case's run is accepted as `tellerhal.conformance.framework.acceptable` says: it passed,
or it was skipped for missing features none of which the implementation declares; never
``pytest.skip``.
"""

from __future__ import annotations

import itertools
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

import hal
from drivers.cash.lcdm import LCDM_DRIVER
from hal.devices.cash_dispenser import CashDispenser, ItemsTaken, Move, MoveReport
from hal.remote import RemoteServer
from simulator.cash_control import CashDispenserControl
from simulator.registration import SIM_DRIVER
from simulator.sim_cash_service import SimCashDispenserService
from simulator.world import get_world, reset_worlds
from tellerhal.conformance.cash_dispenser import (
    CASH_DISPENSER_CASES,
    CashDispenserCase,
    CashDispenserHarness,
)
from tellerhal.conformance.framework import Harness, Verdict, acceptable, run_case
from tests.lcdm_rig import LcdmRig, lcdm_registered

_worlds = itertools.count()


@pytest.fixture(autouse=True)
def _fresh_worlds() -> Iterator[None]:
    reset_worlds()
    yield
    reset_worlds()


def _opener(address: str) -> Callable[[], CashDispenser]:
    def open_dispenser() -> CashDispenser:
        device = hal.open(address)
        assert isinstance(device, CashDispenser)
        return device

    return open_dispenser


@asynccontextmanager
async def sim_harness() -> AsyncIterator[CashDispenserHarness]:
    """The in-process simulator, opened through its address like any driver."""
    with tempfile.TemporaryDirectory() as directory:
        world = f"cash{next(_worlds)}"
        ledger = Path(directory) / "ledger.sqlite"
        address = f"sim://cash_dispenser?world={world}&ledger={ledger}"
        hal.open(address)  # builds the world's dispenser
        stimulus = get_world(world).cash_dispenser_control()
        yield Harness(open=_opener(address), stimulus=stimulus, patience=2.0)


@asynccontextmanager
async def zmq_harness() -> AsyncIterator[CashDispenserHarness]:
    """The simulated dispenser's service behind a `RemoteServer`, reached by ``zmq://``."""
    with tempfile.TemporaryDirectory() as directory:
        world = get_world(f"cash{next(_worlds)}")
        served = world.open_cash_dispenser(ledger=Path(directory) / "ledger.sqlite")
        async with RemoteServer(
            {"cash_dispenser": served},
            "tcp://127.0.0.1:0",
            simulator=True,
            heartbeat_interval=0.5,
        ) as server:
            address = "zmq://" + server.endpoint.removeprefix("tcp://") + "/cash_dispenser"
            stimulus = world.cash_dispenser_control()
            yield Harness(open=_opener(address), stimulus=stimulus, patience=2.0)


async def _operator_counts(address: str, control: CashDispenserControl) -> None:
    """What a bank's operator does on a new dispenser: count the cassettes in."""
    truth = await control.ground_truth()
    device = _opener(address)()
    async with device:
        await device.start_exchange()
        for unit in await device.cash_units():
            await device.set_cash_unit(unit.id, initial=truth[unit.id])
        await device.end_exchange()


def _lcdm_harness(model: int) -> Callable[[], Any]:
    @asynccontextmanager
    async def harness() -> AsyncIterator[CashDispenserHarness]:
        with tempfile.TemporaryDirectory() as directory, lcdm_registered():
            rig = LcdmRig(Path(directory), model, pick_time=0.001)
            async with rig.wire():
                address = rig.address(f"ledger={Path(directory) / 'ledger.sqlite'}")
                control = CashDispenserControl(rig.model)
                await _operator_counts(address, control)
                yield Harness(open=_opener(address), stimulus=control, patience=3.0)

    return harness


IMPLEMENTATIONS: dict[str, Callable[[], Any]] = {
    "sim": sim_harness,
    "zmq": zmq_harness,
    "lcdm1000": _lcdm_harness(1000),
    "lcdm2000": _lcdm_harness(2000),
    "lcdm4000": _lcdm_harness(4000),
}

#: What each implementation declares it can do (its driver's ``DriverSpec.capabilities``).
#: ``zmq`` is a proxy that declares nothing itself; here it serves the simulator.
_SIM = SIM_DRIVER.capabilities.get("cash_dispenser", frozenset())
_LCDM = LCDM_DRIVER.capabilities.get("cash_dispenser", frozenset())
DECLARED = {
    "sim": _SIM,
    "zmq": _SIM,
    "lcdm1000": _LCDM,
    "lcdm2000": _LCDM,
    "lcdm4000": _LCDM,
}


def test_the_simulator_declares_features() -> None:
    assert {"stacker", "present", "retract", "reject", "knows_operations"} <= _SIM


@pytest.mark.parametrize("case", CASH_DISPENSER_CASES, ids=lambda c: c.id.split(".")[-1])
@pytest.mark.parametrize("cash_impl", sorted(IMPLEMENTATIONS))
async def test_contract(cash_impl: str, case: CashDispenserCase) -> None:
    async with IMPLEMENTATIONS[cash_impl]() as harness:
        result = await run_case(case, harness)
    why = acceptable(result, DECLARED[cash_impl])
    assert why is None, why


def test_the_suite_lists_the_required_cases() -> None:
    ids = {case.id.split(".")[-1] for case in CASH_DISPENSER_CASES}
    assert {
        "units",
        "denominate",
        "bad_amounts",
        "dispense_present_take",
        "items_left_reject",
        "retract",
        "jam",
        "exchange",
        "reopen",
        "test_units",
    } <= ids


# --- the suite catches broken dispensers ---------------------------------------------------


class _Broken:
    """A backend over the model that lies in one way (what a buggy driver would do)."""

    def __init__(self, model: Any) -> None:
        self._model = model

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)


class _Undercounts(_Broken):
    """Reports one note fewer than it dispensed from the first unit it names."""

    async def dispense(self, counts: Any, token: int) -> MoveReport:
        report: MoveReport = await self._model.dispense(counts, token)
        first = report.moves[0]
        moves = list(report.moves[1:])
        if first.count > 1:
            moves.insert(0, Move(first.source, first.destination, first.item, first.count - 1))
        return MoveReport(tuple(moves), report.fault, report.note_errors)


class _NoTakenSensor(_Broken):
    """Declares an items-taken sensor but never reports the customer taking the notes."""

    async def open(self, listener: Any) -> None:
        class Deaf:
            def event(self, event: Any) -> None:
                if not isinstance(event, ItemsTaken):
                    listener.event(event)

            def status_changed(self, status: Any) -> None:
                listener.status_changed(status)

        await self._model.open(Deaf())


@asynccontextmanager
async def _broken_harness(wrap: Callable[[Any], Any]) -> AsyncIterator[CashDispenserHarness]:
    with tempfile.TemporaryDirectory() as directory:
        world = get_world(f"cash{next(_worlds)}")
        model = world.cash_dispenser()
        ledger = Path(directory) / "ledger.sqlite"

        def open_broken() -> CashDispenser:
            return SimCashDispenserService(wrap(model), ledger=ledger)

        yield Harness(open=open_broken, stimulus=world.cash_dispenser_control(), patience=0.5)


@pytest.mark.parametrize(
    ("wrap", "caught_by"),
    [(_Undercounts, "dispense_present_take"), (_NoTakenSensor, "dispense_present_take")],
    ids=["undercounts", "no_taken_sensor"],
)
async def test_a_broken_dispenser_fails_the_case_written_for_it(
    wrap: Callable[[Any], Any], caught_by: str
) -> None:
    case = next(c for c in CASH_DISPENSER_CASES if c.id.endswith(caught_by))
    async with _broken_harness(wrap) as harness:
        result = await run_case(case, harness)
    assert result.verdict is Verdict.FAILED, result
