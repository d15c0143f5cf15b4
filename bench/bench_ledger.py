"""Ledger cost per movement: journal (durable) + settle, against SQLite without fsync;
and the cash books of a dispense, against raw SQLite with the same durability.

Run: ``python bench/bench_ledger.py [--movements N] [--dispenses N] [--dir PATH]``

The ledger commits every journal entry and every settlement with ``synchronous=FULL``
(an fsync each), so a card or note never moves on an entry a crash could lose. The
baseline is the same two inserts per movement on a plain SQLite connection with
``synchronous=OFF`` in the same directory, measured in the same run: the ratio is the
price of durability on this disk.

The second table is what a cash dispense costs the books: the service journals one
pending movement per cassette (two here) before the device acts and settles each from
the device's report afterwards (`hal.devices.cash_journal`, as the service calls it). Its
baseline is
the same number of plain INSERTs (movement rows, then settlement rows), each its own
transaction, on a raw SQLite connection with the ledger's durability settings
(``journal_mode=WAL``, ``synchronous=FULL``) in the same directory, same run: the
ratio is what our bookkeeping adds over the fsyncs it cannot avoid.
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

from hal.devices.cash_journal import Plan, apply_report, journal_plans
from hal.devices.cash_model import Move, MoveReport
from hal.ledger import Ledger, MovementRecord, Outcome

_CASH = "cash_dispenser"
_PLANS = [Plan("unit1", "stacker", "CNY:10000", 3), Plan("unit2", "stacker", "CNY:5000", 1)]
_REPORT = MoveReport(tuple(Move(p.source, p.destination, p.item, p.count) for p in _PLANS))


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


def cash_times(path: Path, dispenses: int) -> list[float]:
    """Seconds per dispense's books: journal two planned movements, apply the report."""
    times = []
    with Ledger.open(path) as ledger:
        for unit, item in (("unit1", "CNY:10000"), ("unit2", "CNY:5000")):
            ledger.define_location(_CASH, unit, kind="cassette", item=item)
            ledger.set_initial(_CASH, unit, 10 * dispenses)
        ledger.define_location(_CASH, "stacker", kind="position", item="*")
        held = {"unit1": "CNY:10000", "unit2": "CNY:5000", "stacker": "*"}
        for token in range(1, dispenses + 1):
            start = time.perf_counter()
            moved = journal_plans(ledger, _CASH, _PLANS, token, "dispense")
            records = [MovementRecord(m, None) for m in moved]  # as the service does
            apply_report(ledger, _CASH, _REPORT, token, "dispense", moved[0].id, held, "", records)
            times.append(time.perf_counter() - start)
        counts = ledger.counts(_CASH)
        # Checked before the figures are believed: every note booked, nothing pending.
        assert counts["stacker"] == 4 * dispenses, counts
        assert not ledger.pending(_CASH)
    return times


def durable_baseline_times(path: Path, dispenses: int) -> list[float]:
    """Seconds per dispense's worth of raw inserts (two movements, two settlements), each
    its own transaction, WAL and synchronous=FULL as the ledger."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute(
        "CREATE TABLE m (id INTEGER PRIMARY KEY, src TEXT, dst TEXT, item TEXT, n INTEGER, "
        "token INTEGER)"
    )
    conn.execute("CREATE TABLE s (id INTEGER PRIMARY KEY, m INTEGER, outcome TEXT, moved INTEGER)")
    times = []
    for token in range(1, dispenses + 1):
        start = time.perf_counter()
        ids = [
            conn.execute(
                "INSERT INTO m (src, dst, item, n, token) VALUES (?, ?, ?, ?, ?)",
                (p.source, p.destination, p.item, p.count, token),
            ).lastrowid
            for p in _PLANS
        ]
        for movement_id, p in zip(ids, _PLANS, strict=True):
            conn.execute(
                "INSERT INTO s (m, outcome, moved) VALUES (?, 'done', ?)", (movement_id, p.count)
            )
        times.append(time.perf_counter() - start)
    conn.close()
    return times


def main() -> int:
    """Measure and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--movements", type=int, default=1000)
    parser.add_argument("--dispenses", type=int, default=300)
    parser.add_argument(
        "--dir", type=Path, default=None, help="where the files go (default: a temp dir)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        ours = ledger_times(Path(tmp) / "ledger.sqlite", args.movements)
        base = baseline_times(Path(tmp) / "plain.sqlite", args.movements)
        cash = cash_times(Path(tmp) / "cash.sqlite", args.dispenses)
        durable = durable_baseline_times(Path(tmp) / "durable.sqlite", args.dispenses)
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
    print()
    movements = len(_PLANS)
    print(f"# {args.dispenses} dispenses, {movements} movements each (journal + settle)")
    print(f"{'':34} {'mean ms':>8} {'p99 ms':>8} {'moves/s':>8}")
    for name, times in (
        ("cash books of a dispense (ledger)", cash),
        ("raw SQLite (WAL, sync FULL)", durable),
    ):
        ms = sorted(t * 1000 for t in times)
        p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
        rate = movements / statistics.fmean(times)
        print(f"{name:34} {statistics.fmean(ms):8.3f} {p99:8.3f} {rate:8.0f}")
    print(f"ratio (mean): {statistics.fmean(cash) / statistics.fmean(durable):.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
