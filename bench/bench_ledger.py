"""Ledger cost per movement: journal (durable) + settle, against SQLite without fsync.

Run: ``python bench/bench_ledger.py [--movements N] [--dir PATH]``

The ledger commits every journal entry and every settlement with ``synchronous=FULL``
(an fsync each), so a card or note never moves on an entry a crash could lose. The
baseline is the same two inserts per movement on a plain SQLite connection with
``synchronous=OFF`` in the same directory, measured in the same run: the ratio is the
price of durability on this disk.
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

from hal.ledger import Ledger, Outcome


def ledger_times(path: Path, movements: int) -> list[float]:
    """Seconds per journal+settle pair through the ledger."""
    times = []
    with Ledger.open(path) as ledger:
        ledger.define_location("bench", "reader", kind="position", item="card")
        ledger.define_location("bench", "retain", kind="retain", item="card")
        for _ in range(movements):
            start = time.perf_counter()
            moved = ledger.journal(
                "bench", source="reader", destination="retain", item="card", count=1
            )
            ledger.settle(moved.id, Outcome.DONE, moved=1)
            times.append(time.perf_counter() - start)
    return times


def baseline_times(path: Path, movements: int) -> list[float]:
    """Seconds per pair of plain inserts, each its own transaction, no fsync."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("CREATE TABLE m (id INTEGER PRIMARY KEY, src TEXT, dst TEXT, n INTEGER)")
    conn.execute("CREATE TABLE s (id INTEGER PRIMARY KEY, m INTEGER, outcome TEXT)")
    times = []
    for _ in range(movements):
        start = time.perf_counter()
        cur = conn.execute("INSERT INTO m (src, dst, n) VALUES ('reader', 'retain', 1)")
        conn.execute("INSERT INTO s (m, outcome) VALUES (?, 'done')", (cur.lastrowid,))
        times.append(time.perf_counter() - start)
    conn.close()
    return times


def main() -> int:
    """Measure and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--movements", type=int, default=1000)
    parser.add_argument(
        "--dir", type=Path, default=None, help="where the files go (default: a temp dir)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        ours = ledger_times(Path(tmp) / "ledger.sqlite", args.movements)
        base = baseline_times(Path(tmp) / "plain.sqlite", args.movements)
    print(f"# {' '.join([sys.executable, *sys.argv])}")
    print(f"# {args.movements} movements (journal + settle), files in {args.dir or 'a temp dir'}")
    print(f"{'':34} {'mean ms':>8} {'p50 ms':>8} {'p99 ms':>8}")
    for name, times in (
        ("ledger (WAL, synchronous=FULL)", ours),
        ("plain SQLite (WAL, sync OFF)", base),
    ):
        ms = sorted(t * 1000 for t in times)
        p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
        print(f"{name:34} {statistics.fmean(ms):8.3f} {statistics.median(ms):8.3f} {p99:8.3f}")
    print(f"ratio (mean): {statistics.fmean(ours) / statistics.fmean(base):.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
