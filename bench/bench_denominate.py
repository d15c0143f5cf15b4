"""Benchmark of denomination (hal.devices.denominate) against a plain greedy, same run.

Run from the repository root:  python bench/bench_denominate.py [--amounts N] [--repeat R]

Each row denominates the same N random amounts (seeded, so every run sees the same ones)
over one machine of 4 to 8 cassettes, with our mix and with the baseline: greedy, largest
note first, as many as the cassette's limit allows, no backtracking. Greedy is the floor
of what any denomination costs (one pass over the cassettes), and it is wrong where the
values are not canonical or stocks are short: the last column counts the amounts greedy
could not make although a way exists ("greedy misses"); ours misses none (checked).

Machines (counts per cassette, per-dispense limit 100 notes, at most 200 notes a dispense):
- CNY 4: 100/50/20/10 yuan, amounts 10..5000 yuan in tens.
- CNY 8: two cassettes each of 100/50/20/10 yuan, amounts 10..20000 yuan in tens.
- USD 6: two cassettes each of 100/50/20 dollars (no tens: greedy fails on 60, 80, 110...),
  amounts 20..3000 dollars in tens.
- CNY 4 low: CNY 4 with 3 notes of 50, 6 of 20 and no 10s left (greedy misses 60, 80...).

Each figure is the best of R repeats over the N amounts (``time.perf_counter``).
"""

from __future__ import annotations

import argparse
import platform
import random
import shlex
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from time import perf_counter

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hal.devices.denominate import Cassette, equal_emptying, fewest_notes
from hal.errors import NotDispensable, TooManyItems
from hal.money import Money

LIMIT = 100
MAX_ITEMS = 200

Solver = Callable[[Sequence[Cassette], Money], dict[str, int] | None]


def greedy(cassettes: Sequence[Cassette], amount: Money) -> dict[str, int] | None:
    """Largest value first, as many as fit; ``None`` when it is stuck."""
    rest = amount.minor
    result: dict[str, int] = {}
    used = 0
    for unit in sorted(cassettes, key=lambda c: -c.value):
        if unit.currency != amount.currency:
            continue
        take = min(unit.limit, rest // unit.value, MAX_ITEMS - used)
        if take:
            result[unit.id] = take
            rest -= take * unit.value
            used += take
    return result if rest == 0 else None


def ours(mix: Callable[..., dict[str, int]]) -> Solver:
    def run(cassettes: Sequence[Cassette], amount: Money) -> dict[str, int] | None:
        try:
            return mix(cassettes, amount, max_items=MAX_ITEMS)
        except (NotDispensable, TooManyItems):
            return None

    return run


def machine(currency: str, values: Sequence[int], counts: Sequence[int]) -> list[Cassette]:
    return [
        Cassette(f"c{i}", currency, value * 100, count, LIMIT)
        for i, (value, count) in enumerate(zip(values, counts, strict=True))
    ]


def amounts(currency: str, low: int, high: int, n: int, seed: int) -> list[Money]:
    rng = random.Random(seed)
    return [Money.of(rng.randrange(low, high + 1, 10), currency) for _ in range(n)]


def best_us(
    solver: Solver, cassettes: Sequence[Cassette], cases: Sequence[Money], repeat: int
) -> float:
    """Best time of ``repeat`` passes over ``cases``, in microseconds per amount."""
    best = float("inf")
    for _ in range(repeat):
        start = perf_counter()
        for amount in cases:
            solver(cassettes, amount)
        best = min(best, perf_counter() - start)
    return best / len(cases) * 1e6


def check(cassettes: Sequence[Cassette], cases: Sequence[Money], solver: Solver) -> tuple[int, int]:
    """(amounts greedy missed but ours made, amounts ours could not make); ours verified."""
    by_id = {c.id: c for c in cassettes}
    missed = unmade = 0
    for amount in cases:
        result = solver(cassettes, amount)
        if result is None:
            unmade += 1
            continue
        total = sum(by_id[k].value * n for k, n in result.items())
        assert total == amount.minor, (amount, result)
        assert all(n <= by_id[k].limit for k, n in result.items()), result
        if greedy(cassettes, amount) is None:
            missed += 1
    return missed, unmade


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--amounts", type=int, default=500, help="random amounts per row")
    parser.add_argument("--repeat", type=int, default=5, help="repeats (the best counts)")
    args = parser.parse_args(argv)
    n, repeat = args.amounts, args.repeat

    cny = (100, 50, 20, 10)
    machines = [
        ("CNY 4", machine("CNY", cny, (2000, 1000, 1000, 1000)), amounts("CNY", 10, 5000, n, 1)),
        (
            "CNY 8",
            machine("CNY", cny * 2, (2000, 1500, 1000, 800, 600, 900, 1000, 700)),
            amounts("CNY", 10, 20000, n, 2),
        ),
        (
            "USD 6",
            machine("USD", (100, 50, 20) * 2, (500, 300, 800, 400, 200, 900)),
            amounts("USD", 20, 3000, n, 3),
        ),
        ("CNY 4 low", machine("CNY", cny, (2000, 3, 6, 0)), amounts("CNY", 10, 5000, n, 4)),
    ]
    mixes = [("fewest_notes", ours(fewest_notes)), ("equal_emptying", ours(equal_emptying))]

    print("command:", shlex.join([sys.executable, *sys.argv]))
    print(
        f"python {platform.python_version()} ({platform.machine()}); best of {repeat} x {n} amounts"
    )
    print()
    header = (
        f"{'machine':<11}{'mix':<16}{'ours/s':>10}{'us':>8}{'greedy/s':>11}{'us':>7}"
        f"{'ratio':>8}{'greedy misses':>15}{'unmade':>8}"
    )
    print(header)
    print("-" * len(header))
    for name, cassettes, cases in machines:
        base_us = best_us(greedy, cassettes, cases, repeat)
        for label, solver in mixes:
            missed, unmade = check(cassettes, cases, solver)
            ours_us = best_us(solver, cassettes, cases, repeat)
            print(
                f"{name:<11}{label:<16}{1e6 / ours_us:>10,.0f}{ours_us:>8.1f}"
                f"{1e6 / base_us:>11,.0f}{base_us:>7.1f}{ours_us / base_us:>7.1f}x"
                f"{missed:>15}{unmade:>8}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
