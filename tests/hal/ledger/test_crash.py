"""Crash safety with a real ``kill -9``: a child process journals on a ledger file and is
SIGKILLed; the parent reopens the file and finds every journalled movement durable, the
books consistent, and at most the movement in flight left for `Ledger.reconcile`."""

from __future__ import annotations

import os
import random
import select
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from hal.ledger import Ledger, Movement, Outcome

from .helpers import CR, raw

_ROOT = Path(__file__).resolve().parents[3]
_STARTUP_TIMEOUT = 10.0  # seconds; a child normally answers in a fraction of one


@contextmanager
def _child(tmp_path: Path, *args: str) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``crash_child`` and make sure it is dead and reaped when the block ends."""
    stderr = (tmp_path / "child.stderr").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.hal.ledger.crash_child", *args],
        cwd=_ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=stderr,
    )
    try:
        yield proc
    finally:
        # Whatever happened in the test: no process is left behind, no zombie either.
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=_STARTUP_TIMEOUT)
        for pipe in (proc.stdin, proc.stdout):
            if pipe is not None:
                pipe.close()
        stderr.close()


def _read_line(proc: subprocess.Popen[bytes], tmp_path: Path) -> str:
    """The child's next line of output, failing (not hanging) if it never comes."""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    deadline = time.monotonic() + _STARTUP_TIMEOUT
    line = b""
    while not line.endswith(b"\n"):
        remaining = deadline - time.monotonic()
        ready, _, _ = select.select([fd], [], [], max(remaining, 0))
        if not ready:
            pytest.fail(f"the child said nothing within {_STARTUP_TIMEOUT} s")
        chunk = os.read(fd, 1)
        if not chunk:
            proc.wait()
            errors = (tmp_path / "child.stderr").read_text()
            pytest.fail(f"the child exited with {proc.returncode}: {errors}")
        line += chunk
    return line.decode().strip()


def _kill(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(timeout=_STARTUP_TIMEOUT) == -signal.SIGKILL


def _integrity(path: Path) -> None:
    conn = raw(path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        twice = conn.execute(
            "SELECT movement_id FROM settlement GROUP BY movement_id HAVING COUNT(*) > 1"
        ).fetchall()
        assert twice == []
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    finally:
        conn.close()


def _recount(path: Path) -> dict[str, int]:
    """The counts, recomputed from the raw rows by a loop of our own."""
    conn = raw(path)
    try:
        conn.row_factory = sqlite3.Row
        counts = {"dispense": 0, "retain": 0, "transport": 0}
        events: list[tuple[int, str, sqlite3.Row]] = [
            (row["movements_through"], "initial", row)
            for row in conn.execute("SELECT * FROM initial ORDER BY id")
        ]
        rows = conn.execute(
            "SELECT m.id, m.source, m.destination, s.outcome, s.moved FROM movement m "
            "JOIN settlement s ON s.movement_id = m.id ORDER BY m.id"
        )
        # An initial count cut at movement N replaces movements 1..N of its location.
        events += [(row["id"], "moved", row) for row in rows]
        for _, kind, row in sorted(events, key=lambda e: (e[0], e[1] == "initial")):
            if kind == "initial":
                counts[row["location"]] = row["count"]
            elif row["outcome"] == "done":
                if row["source"] in counts:
                    counts[row["source"]] -= row["moved"]
                if row["destination"] in counts:
                    counts[row["destination"]] += row["moved"]
        return counts
    finally:
        conn.close()


@pytest.mark.parametrize(
    ("card_present", "outcome"), [(True, Outcome.FAILED), (False, Outcome.UNKNOWN)]
)
def test_killed_while_a_retain_is_pending(
    tmp_path: Path, db_path: Path, card_present: bool, outcome: Outcome
) -> None:
    with _child(tmp_path, "pending", str(db_path)) as proc:
        line = _read_line(proc, tmp_path)
        assert line.startswith("journalled ")
        movement_id = int(line.split()[1])
        _kill(proc)

    def device_report(movement: Movement) -> Outcome:
        # The reader still holds the card: the retain never happened. No card and no
        # way to tell whether it went to the bin or the customer: unknown.
        assert movement.destination == "retain"
        return Outcome.FAILED if card_present else Outcome.UNKNOWN

    _integrity(db_path)
    with Ledger.open(db_path) as ledger:
        [pending] = ledger.pending()
        assert (pending.id, pending.source, pending.destination) == (
            movement_id,
            "transport",
            "retain",
        )
        [settlement] = ledger.reconcile(CR, device_report)
        assert (settlement.movement_id, settlement.outcome) == (movement_id, outcome)
        # Only what is known to have moved counts: the card came in; the retain did not.
        assert ledger.counts(CR) == {"dispense": 0, "retain": 0, "transport": 1}
        assert [m.id for m in ledger.unknown(CR)] == ([] if card_present else [movement_id])
        assert ledger.reconcile(CR, device_report) == []
        assert ledger.pending() == []
        assert ledger.counts(CR) == _recount(db_path)


@pytest.mark.parametrize("seed", range(6))
def test_killed_at_a_random_moment(tmp_path: Path, db_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    ready_after = rng.randint(3, 30)
    with _child(tmp_path, "cycles", str(db_path), str(seed), str(ready_after)) as proc:
        assert _read_line(proc, tmp_path) == "ready"
        time.sleep(rng.uniform(0, 0.03))
        _kill(proc)

    _integrity(db_path)
    with Ledger.open(db_path) as ledger:
        pending = ledger.pending()
        assert len(pending) <= 1, f"seed {seed}: {pending}"
        assert len(ledger.history(CR, limit=1000)) >= ready_after
        assert ledger.check_invariants(CR) == [], f"seed {seed}"
        assert ledger.counts(CR) == _recount(db_path), f"seed {seed}"
        settled = ledger.reconcile(CR, lambda movement: Outcome.UNKNOWN)
        assert len(settled) == len(pending)
        assert ledger.pending() == []
        assert ledger.reconcile(CR, lambda movement: Outcome.UNKNOWN) == []
        assert ledger.counts(CR) == _recount(db_path)
    _integrity(db_path)
