"""Kill -9 between journal and settle (a capture, a card issue), and the ledger reconciles
on the next start.

The child process runs the real `CardReaderService` over the simulator and a ledger file
and is killed while a capture is journalled but the reader has not answered. The next
process to open the reader over the same ledger must settle that capture from what the
reader reports (an empty reader proves nothing: `unknown`, never guessed into the bin).
"""

from __future__ import annotations

import asyncio
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

from hal.devices.card_reader import DISPENSE_UNIT, MoveTarget, Track
from hal.ledger import Ledger, Outcome
from simulator.world import World

ROOT = Path(__file__).resolve().parents[2]


def _wait_for_pending(proc: subprocess.Popen[bytes], ledger: Path, deadline: float) -> None:
    """Wait for the child's "moving" line, then for the capture to be journalled."""
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.1)
        if ready:
            line = proc.stdout.readline().decode()
            assert line.strip() == "moving", line
            break
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
    else:
        raise AssertionError("the child never started the capture")
    while time.monotonic() < deadline:
        with Ledger.open(ledger, read_only=True) as view:
            if view.pending("card_reader"):
                return
        time.sleep(0.02)
    raise AssertionError("the capture was never journalled")


def _kill_mid_move(ledger: Path, mode: str) -> None:
    """Run the child in ``mode`` and SIGKILL it once its movement is journalled."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.hal.reader_crash_child", str(ledger), mode],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        _wait_for_pending(proc, ledger, time.monotonic() + 30)
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=10) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


def test_killed_mid_capture_reconciles_on_restart(tmp_path: Path) -> None:
    ledger = tmp_path / "kiosk.sqlite"
    _kill_mid_move(ledger, "capture")
    with Ledger.open(ledger, read_only=True) as view:
        (pending,) = view.pending("card_reader")
        assert (pending.source, pending.destination, pending.count) == ("reader", "retain", 1)

    asyncio.run(_restart(ledger, pending.id))


async def _restart(ledger: Path, pending_id: int) -> None:
    # The next start: a new process's reader is empty (the card's fate is unknown).
    world = World("restart", clock_scale=0.01)
    async with world.open_card_reader(ledger=str(ledger)) as reader:
        retain = await reader.retain_bin()
        assert retain.pending == 0
        assert retain.unknown == 1
        assert retain.count == 0  # never guessed into the bin
        # The ledger still works and counts the next capture.
        control = world.card_reader_control()
        read = reader.read_raw_data([Track.TRACK2], timeout=10)
        task = asyncio.create_task(read)
        await control.wait_for("gate_open", timeout=5)
        await control.insert_card("visa")
        await task
        await reader.move(MoveTarget.RETAIN)
        assert (await reader.retain_bin()).count == 1

    with Ledger.open(ledger, read_only=True) as view:
        settled = [r for r in view.history("card_reader") if r.movement.id == pending_id]
        assert settled[0].settlement is not None
        assert settled[0].settlement.outcome is Outcome.UNKNOWN
        assert not view.pending("card_reader")
        # A second start reconciles nothing more.
    async with World("again", clock_scale=0.01).open_card_reader(ledger=str(ledger)) as reader:
        again = await reader.retain_bin()
        assert (again.count, again.unknown, again.pending) == (1, 1, 0)


def test_killed_mid_dispense_reconciles_on_restart(tmp_path: Path) -> None:
    ledger = tmp_path / "kiosk.sqlite"
    _kill_mid_move(ledger, "dispense")
    with Ledger.open(ledger, read_only=True) as view:
        (pending,) = view.pending("card_reader")
        assert (pending.source, pending.destination, pending.count) == ("stacker", "reader", 1)
    asyncio.run(_restart_issuer(ledger, pending.id))


async def _restart_issuer(ledger: Path, pending_id: int) -> None:
    # A new process's reader is empty: the card may have been issued and taken, or
    # never picked. Reported apart as unknown, never guessed.
    world = World("restart", clock_scale=0.01)
    async with world.open_card_reader(ledger=str(ledger)) as reader:
        stacker = await reader.stacker()
        assert (stacker.count, stacker.unknown, stacker.pending) == (10, 1, 0)
        await reader.move(MoveTarget.TRANSPORT, from_unit=DISPENSE_UNIT)
        assert (await reader.stacker()).count == 9
    with Ledger.open(ledger, read_only=True) as view:
        settled = [r for r in view.history("card_reader") if r.movement.id == pending_id]
        assert settled[0].settlement is not None
        assert settled[0].settlement.outcome is Outcome.UNKNOWN
        assert not view.pending("card_reader")
