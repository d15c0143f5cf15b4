"""Crash safety of cash out (issue 6; docs/crash.md): the HAL process is SIGKILLed at
random instants during dispense, present, retract and the customer's take, restarted
(reconciling at open) and checked against the model's ground truth after every restart.

The model (`simulator.model_link`, the ``default`` profile: it remembers its operations)
runs in a process of its own and outlives every HAL process, so no movement may end
``unknown``. A few kills run in the default suite; the ``crash`` suite (``pytest -m
crash``, which ``.ci/run`` runs after the default suite) does 200.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.crash.harness import STACKER_PHASES, CrashRun, ModelProcess


def _run(tmp_path: Path, kills: int, seed: int, phases: tuple[str, ...]) -> CrashRun:
    with ModelProcess(tmp_path) as model:
        run = CrashRun(tmp_path, model.endpoint, model.address, phases=phases)
        run.run(kills, seed)
    print(run.summary())
    return run


def _checks_expected(run: CrashRun) -> int:
    """A check after every restart that got ready before its kill, and after the last."""
    return sum(run.kills.values()) + 1 - run.kills["open"] - run.kills["ready"]


def test_eight_kills_mid_cash_out_lose_no_note(tmp_path: Path) -> None:
    run = _run(tmp_path, 8, seed=6, phases=STACKER_PHASES)
    assert sum(run.kills.values()) == 8
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
    assert run.seconds < 1200
