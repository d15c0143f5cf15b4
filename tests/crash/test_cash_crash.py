"""Crash safety of cash out (issue 6; docs/crash.md): the HAL process is SIGKILLed at
random instants during dispense, present, retract and the customer's take, restarted
(reconciling at open) and checked against the model's ground truth after every restart.

The model (`simulator.model_link`, the ``default`` profile: it remembers its operations)
runs in a process of its own and outlives every HAL process, so no movement may end
``unknown``. Behind the LCDM emulator on a pty (the ``lcdm4000`` profile, reached by the
``lcdm`` driver) the device cannot tell what an interrupted dispense did: those
movements end ``unknown``, and only those. A few kills run in the default suite; the
``crash`` suite (``pytest -m crash``, which ``.ci/run`` runs after the default suite)
does 210 over the link and 40 over the LCDM.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from hal.ledger import Ledger, Outcome
from tests.crash.harness import DEVICE, STACKER_PHASES, CrashRun, ModelProcess


def _run(
    tmp_path: Path, kills: int, seed: int, phases: tuple[str, ...], clock_scale: float = 1.0
) -> CrashRun:
    with ModelProcess(tmp_path, clock_scale=clock_scale) as model:
        run = CrashRun(
            tmp_path, model.endpoint, model.address, phases=phases, clock_scale=clock_scale
        )
        run.run(kills, seed)
    print(run.summary())
    return run


def _run_lcdm(tmp_path: Path, kills: int, seed: int, clock_scale: float = 1.0) -> CrashRun:
    with ModelProcess(tmp_path, "lcdm4000", lcdm=True, clock_scale=clock_scale) as model:
        assert model.address.startswith("lcdm+serial://")
        run = CrashRun(
            tmp_path,
            model.endpoint,
            model.address,
            allow_unknown=True,
            phases=("dispense",),
            clock_scale=clock_scale,
        )
        run.run(kills, seed)
    print(run.summary())
    return run


def _checks_expected(run: CrashRun) -> int:
    """A check after every restart that got ready before its kill, and after the last."""
    return sum(run.kills.values()) + 1 - run.kills["open"] - run.kills["ready"]


def test_seven_kills_mid_cash_out_lose_no_note(tmp_path: Path) -> None:
    run = _run(tmp_path, 7, seed=6, phases=STACKER_PHASES, clock_scale=0.5)
    assert sum(run.kills.values()) == 7
    assert run.checks == _checks_expected(run)
    assert run.unknowns == 0
    assert run.mid_movement >= 3  # kills that left a movement for the reconcile


@pytest.mark.crash
@pytest.mark.timeout(1200)
def test_two_hundred_kills_mid_cash_out_lose_no_note(tmp_path: Path) -> None:
    run = _run(tmp_path, 210, seed=2026, phases=(*STACKER_PHASES, "reject", "exit_wait"))
    assert sum(run.kills.values()) == 210
    assert run.checks == _checks_expected(run)
    missed = [phase for phase in STACKER_PHASES if run.kills[phase] == 0]
    assert not missed, f"no kill landed in {missed}: {run.summary()}"
    assert run.unknowns == 0
    assert run.mid_movement >= 100
    # The reconcile's paths: operations the model finished for a dead HAL, and notes the
    # customer took while it was down.
    assert run.reconciled["from the device's record"] >= 50
    assert run.reconciled["taken while the HAL was down"] > 0
    assert run.seconds < 1200


def test_three_kills_mid_lcdm_dispense_leave_unknown_only_what_was_in_flight(
    tmp_path: Path,
) -> None:
    run = _run_lcdm(tmp_path, 3, seed=7, clock_scale=0.5)
    assert sum(run.kills.values()) == 3
    assert run.checks == _checks_expected(run)
    # The harness checked each unknown against the movements pending at a kill.
    assert run.unknowns <= len(run.in_flight)


@pytest.mark.crash
@pytest.mark.timeout(600)
def test_forty_kills_mid_lcdm_dispense_lose_no_note(tmp_path: Path) -> None:
    run = _run_lcdm(tmp_path, 40, seed=4000)
    assert sum(run.kills.values()) == 40
    assert run.checks == _checks_expected(run)
    assert run.kills["dispense"] >= 20
    assert run.mid_movement >= 20
    assert 0 < run.unknowns <= len(run.in_flight)  # an LCDM cannot tell: unknown, bounded
    assert run.reconciled["unknown"] == run.unknowns
    assert run.reconciled["from the device's record"] == 0


def test_the_checks_catch_a_note_the_books_lost(tmp_path: Path) -> None:
    # The harness's checks must fail on books that disagree with the model: a note
    # booked as dispensed that never moved, and an unknown no kill explains.
    with ModelProcess(tmp_path, clock_scale=0.5) as model:
        run = CrashRun(tmp_path, model.endpoint, model.address, clock_scale=0.5)
        run.run(0, seed=1)  # set up, one restart, one check: all agree
        assert run.checks == 1
        with Ledger.open(run.ledger) as books:
            moved = books.journal(
                DEVICE, source="unit1", destination="customer", item="CNY:10000", count=1
            )
            books.settle(moved.id, Outcome.DONE, moved=1)
        with pytest.raises(AssertionError, match="customer: the model holds 0, the ledger 1 "):
            run.check()
        with Ledger.open(run.ledger) as books:
            back = books.journal(
                DEVICE, source="customer", destination="unit1", item="CNY:10000", count=1
            )
            books.settle(back.id, Outcome.DONE, moved=1)
        run.check()  # square again
        with Ledger.open(run.ledger) as books:
            lost = books.journal(
                DEVICE, source="unit2", destination="customer", item="CNY:5000", count=2
            )
            books.settle(lost.id, Outcome.UNKNOWN)
        with pytest.raises(AssertionError, match="settled unknown on a device that can tell"):
            run.check()
        run.allow_unknown = True
        with pytest.raises(AssertionError, match="not in flight at a kill"):
            run.check()
        run.in_flight.add(lost.id)
        run.check()  # an unknown that a kill explains, within its bounds
