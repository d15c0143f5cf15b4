"""The process `test_crash` kills: it journals on a ledger file until SIGKILL comes.

Run as ``python -m tests.hal.ledger.crash_child DB MODE [ARGS]`` from the repository root:

- ``pending DB``: insert a card, journal a retain, print ``journalled <id>``, then wait
  (reading stdin) with the retain pending, as a device process does while the reader
  moves the card.
- ``cycles DB SEED READY_AFTER``: forever, insert a card and retain or eject it, settling
  each movement with an outcome drawn from SEED, emptying the bin now and then; print
  ``ready`` after READY_AFTER cycles and keep going.
"""

from __future__ import annotations

import random
import sys

from hal.ledger import Ledger, Outcome

from .helpers import CR, RETAIN_CAPACITY, define_card_reader, insert_card, retain


def _pending(ledger: Ledger) -> None:
    insert_card(ledger)
    movement = retain(ledger)
    print(f"journalled {movement.id}", flush=True)
    sys.stdin.read()  # until killed (or the parent goes away)


def _cycles(ledger: Ledger, seed: int, ready_after: int) -> None:
    rng = random.Random(seed)
    outcomes = [Outcome.DONE] * 6 + [Outcome.FAILED, Outcome.UNKNOWN]
    cycle = 0
    while True:
        cycle += 1
        card_in = ledger.journal(
            CR, source="customer", destination="transport", item="card", count=1
        )
        outcome = rng.choice(outcomes)
        ledger.settle(card_in.id, outcome, detail=f"cycle {cycle}")
        if outcome is Outcome.DONE:
            destination = rng.choice(["retain", "customer"])
            card_out = ledger.journal(
                CR, source="transport", destination=destination, item="card", count=1
            )
            outcome = rng.choice(outcomes)
            ledger.settle(card_out.id, outcome, detail=f"cycle {cycle}")
        if outcome is not Outcome.DONE:
            # As after a reset: the reader reports the transport empty.
            ledger.set_initial(CR, "transport", 0, reason="device reports transport empty")
        if cycle % (RETAIN_CAPACITY - 1) == 0:
            ledger.set_initial(CR, "retain", 0, reason="bin emptied")
        if cycle == ready_after:
            print("ready", flush=True)


def main(argv: list[str]) -> None:
    """Run one of the modes above."""
    mode, path = argv[0], argv[1]
    ledger = Ledger.open(path)
    define_card_reader(ledger)
    if mode == "pending":
        _pending(ledger)
    elif mode == "cycles":
        _cycles(ledger, int(argv[2]), int(argv[3]))
    else:
        raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
