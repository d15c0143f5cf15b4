"""Crash safety of cash in (issue 7; docs/crash.md, "Cash in"): the HAL process is
SIGKILLed at random instants during cash_in, cash_in_end, rollback and the customer's
take of returned notes, restarted (reconciling at open, the transaction opened again
when notes are in the escrow) and checked against the acceptor model's ground truth
after every restart: no note unaccounted for, and notes in the escrow at a crash are in
the books' escrow and reported by the reopened service, never as deposited.

Over the link (the ``default`` profile: it remembers its operations) no movement may
end ``unknown``. Behind the ID-003 emulator on a pty (the ``id003`` profile, the real
``id003`` driver; it senses its escrow but has no operation memory) only movements in
flight at a kill may, within their counts. A validator's books cannot move on after a
note left its escrow unknown (docs/crash.md): a run there is made of episodes, each
ending at such a kill, each with a fresh model and ledger.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from hal.ledger import Ledger, Outcome
from tests.crash.harness import ModelProcess
from tests.crash.harness_cash_in import CASH_IN_PHASES, VALIDATOR_WINDOWS, CashInRun


def _run(tmp_path: Path, kills: int, seed: int, clock_scale: float = 1.0) -> CashInRun:
    with ModelProcess(tmp_path, device="cash_acceptor", clock_scale=clock_scale) as model:
        run = CashInRun(tmp_path, model.endpoint, model.address, clock_scale=clock_scale)
        run.run(kills, seed)
    print(run.summary())
    return run


def _run_validator(
    tmp_path: Path, kills: int, seed: int, clock_scale: float = 1.0
) -> list[CashInRun]:
    """``kills`` kills over the ID-003 validator, in as many episodes as it takes."""
    runs: list[CashInRun] = []
    done = 0
    while done < kills:
        directory = tmp_path / f"episode{len(runs)}"
        with ModelProcess(
            directory, "id003", device="cash_acceptor", clock_scale=clock_scale, wire="id003"
        ) as model:
            assert model.address.startswith("id003+serial://")
            run = CashInRun(
                directory,
                model.endpoint,
                model.address,
                allow_unknown=True,
                device="id003",
                phases=CASH_IN_PHASES,
                windows=dict(VALIDATOR_WINDOWS),
                clock_scale=clock_scale,
            )
            run.run(kills - done, seed + len(runs))
        print(run.summary())
        runs.append(run)
        done += sum(run.kills.values())
        assert run.stuck or done == kills
    return runs


def _checks_expected(run: CashInRun) -> int:
    """A check after every restart that got ready before its kill, and after the last."""
    return sum(run.kills.values()) + 1 - run.kills["open"] - run.kills["ready"]


def test_four_kills_mid_cash_in_lose_no_note(tmp_path: Path) -> None:
    run = _run(tmp_path, 4, seed=11, clock_scale=0.5)
    assert sum(run.kills.values()) == 4
    assert run.checks == _checks_expected(run)
    assert run.unknowns == 0
    assert run.mid_movement >= 1  # kills that left a movement for the reconcile


def test_two_kills_mid_validator_cash_in_leave_unknown_only_what_was_in_flight(
    tmp_path: Path,
) -> None:
    runs = _run_validator(tmp_path, 2, seed=3, clock_scale=0.5)
    assert sum(sum(r.kills.values()) for r in runs) == 2
    for run in runs:
        # A run that ended stuck checked the child that got stuck too, unless the kill
        # landed on it (then counted in the phase ``stuck``).
        extra = 1 if run.stuck and not run.kills["stuck"] else 0
        assert run.checks == _checks_expected(run) + extra
        assert run.unknowns <= len(run.in_flight)


@pytest.mark.crash
@pytest.mark.timeout(900)
def test_a_hundred_kills_mid_cash_in_lose_no_note(tmp_path: Path) -> None:
    run = _run(tmp_path, 100, seed=2027)
    assert sum(run.kills.values()) == 100
    assert run.checks == _checks_expected(run)
    missed = [phase for phase in (*CASH_IN_PHASES, "take") if run.kills[phase] == 0]
    assert not missed, f"no kill landed in {missed}: {run.summary()}"
    assert run.unknowns == 0
    assert run.mid_movement >= 40
    assert run.reconciled["from the device's record"] >= 30
    assert run.escrow_restarts >= 5  # restarts that found notes in the escrow: (d) bit


@pytest.mark.crash
@pytest.mark.timeout(900)
def test_thirty_kills_mid_validator_cash_in_lose_no_note(tmp_path: Path) -> None:
    runs = _run_validator(tmp_path, 30, seed=3000)
    kills = sum(sum(r.kills.values()) for r in runs)
    assert kills == 30
    by_phase = {p: sum(r.kills[p] for r in runs) for p in CASH_IN_PHASES}
    assert by_phase["cash_in"] > 0
    assert by_phase["cash_in_end"] + by_phase["rollback"] > 0
    for run in runs:
        assert run.unknowns <= len(run.in_flight)
        assert run.reconciled["from the device's record"] == 0  # it has no record
    # the escrow is recounted from what the validator senses: the books never get stuck
    assert not any(r.stuck for r in runs), [r.summary() for r in runs]
    assert len(runs) == 1
    assert sum(r.reconciled["from the escrow sensed"] for r in runs) > 0


def test_the_checks_catch_a_note_booked_deposited_while_in_the_escrow(tmp_path: Path) -> None:
    from tests.crash.harness import control_call
    from tests.crash.harness_cash_in import CashInRun as Run

    with ModelProcess(tmp_path, device="cash_acceptor", clock_scale=0.2) as model:
        run: Run = CashInRun(tmp_path, model.endpoint, model.address, clock_scale=0.2)
        run.run(0, seed=1)  # set up, one restart, one check: all agree
        assert run.checks == 1
        run.child = None
        # Two notes reach the model's escrow (a cash_in over a link client of its own),
        # and the books say so: the checks agree.
        control_call(model.endpoint, "insert", "customer", notes=["CNY:10000", "CNY:5000"])
        control_call(model.endpoint, "wait_idle", "link")
        _cash_in_directly(model.endpoint)
        with Ledger.open(run.ledger) as books:
            for item in ("CNY:10000", "CNY:5000"):
                m = books.journal(
                    run.device, source="customer", destination="escrow", item=item, count=1
                )
                books.settle(m.id, Outcome.DONE, moved=1)
        run.said = {"status": "active", "escrow": 2, "notes": {"CNY:10000": 1, "CNY:5000": 1}}
        run.check()
        # The service forgetting them after a restart is caught.
        run.said = {"status": "unknown", "escrow": 0, "notes": {}}
        with pytest.raises(AssertionError, match="notes in the escrow, yet the service says"):
            run.check()
        run.said = None
        # A note booked as deposited while it is still in the escrow is caught.
        with Ledger.open(run.ledger) as books:
            m = books.journal(
                run.device, source="escrow", destination="cashin", item="CNY:10000", count=1
            )
            books.settle(m.id, Outcome.DONE, moved=1)
        with pytest.raises(AssertionError, match="cashin: the model holds 0, the ledger 1 "):
            run.check()
        with pytest.raises(AssertionError, match="escrow: the model holds"):
            run.check_escrow()


def _cash_in_directly(endpoint: str) -> None:
    import asyncio

    from hal.devices.cash_in_model import CashInLimits
    from simulator.model_link_acceptor import LinkAcceptorBackend

    class _Quiet:
        def event(self, event: object) -> None: ...

        def status_changed(self, status: object) -> None: ...

    async def go() -> None:
        backend = LinkAcceptorBackend(endpoint)
        await backend.open(_Quiet())  # type: ignore[arg-type]
        try:
            enabled = frozenset({"CNY:10000", "CNY:5000"})
            report = await backend.cash_in(CashInLimits(max_items=10, enabled=enabled), 77)
            assert len(report.notes) == 2
        finally:
            await backend.close()

    asyncio.run(go())
