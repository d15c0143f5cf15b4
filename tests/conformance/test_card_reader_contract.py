"""The CardReader contract suite, run against every implementation we ship.

Each implementation is reached the way an app reaches it (``hal.open(address)``), and
the customer is the implementation's `CardReaderStimulus`. A case's run is accepted as
`tellerhal.conformance.framework.acceptable` says (shared_api §5): it passed, or it was
skipped for missing features none of which the implementation declares (its
``DriverSpec.capabilities``); never ``pytest.skip``. The deliberately broken simulator
variants must each fail at least one case, or the suite is too weak to certify anything.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

import hal
from drivers.card_reader.crt310 import CRT310_DRIVER
from hal.devices.card_reader import CardReader
from simulator.broken import BROKEN_VARIANTS
from simulator.registration import SIM_DRIVER
from simulator.world import CardReaderSetup, get_world, reset_worlds
from tellerhal.conformance.card_reader import CARD_READER_CASES, CardReaderCase, CardReaderHarness
from tellerhal.conformance.framework import Harness, Verdict, acceptable, run_case
from tests.crt310_rig import PtyRig, crt310_registered
from tests.sim_process import zmq_harness

#: Real seconds per simulated second: the 30 s take timeout lasts 150 ms.
SCALE = 0.005
_worlds = itertools.count()


@pytest.fixture(autouse=True)
def _fresh_worlds() -> Iterator[None]:
    reset_worlds()
    yield
    reset_worlds()


def sim_harness(tmp_path: Path, variant: str = "", patience: float = 1.0) -> CardReaderHarness:
    """The in-process simulator, opened through its address like any driver."""
    world = f"contract{next(_worlds)}"
    # The reader is built first (as a variant, if asked); the address then reaches it.
    get_world(world, clock_scale=SCALE).card_reader(setup=CardReaderSetup(variant=variant))
    stimulus = get_world(world).card_reader_control()
    ledger = tmp_path / "ledger.sqlite"
    address = f"sim://card_reader?world={world}&clock_scale={SCALE}&ledger={ledger}"

    def open_reader() -> CardReader:
        device = hal.open(address)
        assert isinstance(device, CardReader)
        return device

    return Harness(open=open_reader, stimulus=stimulus, patience=patience)


@pytest.fixture(autouse=True)
def _crt310_registered() -> Iterator[None]:
    with crt310_registered():
        yield


def crt310_harness(tmp_path: Path, patience: float = 1.0) -> CardReaderHarness:
    """The crt310 driver on a pty (``crt310+serial://<symlink>``), against the CRT-310
    emulator bound to a world's reader; the stimulus is that world's control API."""
    rig = PtyRig(tmp_path / "pty", tmp_path / "ledger.sqlite")
    return Harness(open=rig.reader, stimulus=rig.control, patience=patience)


IMPLEMENTATIONS = {"sim": sim_harness, "crt310": crt310_harness, "zmq": zmq_harness}

#: What each implementation declares it can do (its driver's ``DriverSpec.capabilities``).
#: ``zmq`` is a proxy that declares nothing itself; here it serves the simulator.
DECLARED = {
    "sim": SIM_DRIVER.capabilities.get("card_reader", frozenset()),
    "crt310": CRT310_DRIVER.capabilities.get("card_reader", frozenset()),
    "zmq": SIM_DRIVER.capabilities.get("card_reader", frozenset()),
}


def test_every_implementation_declares_features() -> None:
    for implementation in IMPLEMENTATIONS:
        assert DECLARED[implementation], f"{implementation} declares no card reader features"


@pytest.mark.parametrize("case", CARD_READER_CASES, ids=lambda c: c.id.split(".")[-1])
@pytest.mark.parametrize("implementation", sorted(IMPLEMENTATIONS))
async def test_contract(implementation: str, case: CardReaderCase, tmp_path: Path) -> None:
    harness = IMPLEMENTATIONS[implementation](tmp_path)
    result = await run_case(case, harness)
    why = acceptable(result, DECLARED[implementation])
    assert why is None, why


def test_the_suite_lists_the_required_cases() -> None:
    ids = {case.id.split(".")[-1] for case in CARD_READER_CASES}
    required = {
        "insert_read_eject",
        "timeout_without_card",
        "cancel_mid_wait",
        "jam",
        "chip_power_apdu",
        "retain_counts_persist",
    }
    assert required <= ids
    assert len(ids) == len(CARD_READER_CASES), "case ids must be unique"


#: The case that must catch each broken variant (it may be caught by others too).
CAUGHT_BY = {
    "double_counts_retain": "card_reader.retain_counts_persist",
    "double_pick": "card_reader.issue_card",
    "issue_ignores_exit": "card_reader.issue_card",
    "events_out_of_order": "card_reader.insert_read_eject",
    "forgets_media_removed": "card_reader.insert_read_eject",
    "loses_card_on_cancel": "card_reader.cancel_mid_wait",
    "no_jam_error": "card_reader.jam",
    "reads_wrong_track": "card_reader.insert_read_eject",
    "retain_not_persisted": "card_reader.retain_counts_persist",
}


def test_every_broken_variant_has_an_expected_catch() -> None:
    assert set(CAUGHT_BY) == set(BROKEN_VARIANTS)


@pytest.mark.parametrize("variant", sorted(BROKEN_VARIANTS))
async def test_the_suite_fails_every_broken_variant(variant: str, tmp_path: Path) -> None:
    results = []
    for n, case in enumerate(CARD_READER_CASES):
        case_dir = tmp_path / str(n)
        case_dir.mkdir()
        # A broken reader makes cases wait out their patience: keep it short.
        results.append(await run_case(case, sim_harness(case_dir, variant, patience=0.25)))
    caught = [r for r in results if r.verdict is Verdict.FAILED]
    assert caught, f"the suite passed the broken variant {variant!r}"
    assert CAUGHT_BY[variant] in {r.case for r in caught}, [(r.case, r.detail) for r in caught]
    # The faithful parts of a broken reader still pass most cases: the suite pinpoints.
    assert len(caught) < len(results), [(r.case, r.detail) for r in caught]
