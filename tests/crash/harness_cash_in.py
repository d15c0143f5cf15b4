"""The crash harness for cash in (docs/crash.md, "Cash in"): `CashInRun` is `CrashRun`
over a cash acceptor model (``python -m simulator.model_link --device cash_acceptor``)
with the child `tests.crash.child_cash_in`, and one check more after every restart:

(d) the notes in the model's escrow are in the ledger's escrow, by item (never counted
in a unit), and the service reopened over those books says so: `get_cash_in_status`
is ``active`` with ``escrow`` equal to the ledger's (the child prints it before
``ready``).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field

from hal.devices.cash_books import cut_after, items_at
from hal.ledger import Ledger, Outcome
from tests.crash.harness import WINDOWS, CrashRun, control_call

#: The phases a cash-in run must land kills in (the issue's).
CASH_IN_PHASES = ("cash_in", "cash_in_end", "rollback")
#: ... and the customer's and the HAL's moves after a rollback on a device with an exit.
EXIT_PHASES = ("take", "retract")

#: Real seconds into a phase a kill may land, at clock scale 1 (``default`` profile: a
#: note 0.05 s through the reader, 0.02 s into a unit, 0.5 s to give the escrow back; a
#: cash_in_end of a few notes is over in about 0.1 s).
CASH_IN_WINDOWS = {
    **WINDOWS,
    "cash_in": 0.4,
    "cash_in_end": 0.12,
    "rollback": 0.6,
    "start": 0.05,
}
#: The ``id003`` validator (a note 0.2 s, stored 0.3 s, given back 0.3 s) behind its
#: wire emulator and the real driver's polling.
VALIDATOR_WINDOWS = {**CASH_IN_WINDOWS, "cash_in": 0.6, "cash_in_end": 0.5, "rollback": 0.5}


@dataclass
class CashInRun(CrashRun):
    """`CrashRun` for cash in (see the module header).

    Attributes:
        escrow_restarts: restarts that found notes in the escrow (and checked (d)).
    """

    device: str = "cash_acceptor"
    child_module: str = "tests.crash.child_cash_in"
    take_call: str = "take_returned"
    phases: tuple[str, ...] = (*CASH_IN_PHASES, *EXIT_PHASES)
    windows: dict[str, float] = field(default_factory=lambda: dict(CASH_IN_WINDOWS))
    escrow_restarts: int = 0
    #: What the service said after its reopen, when no child is checked (tests of the
    #: checks set it); else the checked child's ``cashin`` line.
    said: dict[str, object] | None = None

    def check(self) -> None:
        super().check()
        self.check_escrow()

    def check_escrow(self) -> None:
        """(d): the model's escrow is the ledger's, by item, and the reopened service
        reports it as an open transaction's."""
        items = control_call(self.endpoint, "ground_truth_items")
        assert isinstance(items, dict)
        truth = {str(k): int(v) for k, v in dict(items.get("escrow", {})).items() if int(v)}
        books: Counter[str] = Counter()
        touched = False  # an unknown movement out of or into the escrow since its count
        with Ledger.open(self.ledger, read_only=True) as view:
            history = view.history(self.device, limit=10**9)
            counters = {c.location.name: c for c in view.counters(self.device)}
        # The done moves in and out of the escrow from its latest count on (a validator's
        # service recounts it from what it senses when an unknown move explains the
        # difference: rule 6 of docs/cash_in.md); by item as `items_at` gives it.
        escrow = counters["escrow"]
        cut = cut_after("escrow", history, escrow)
        if cut or escrow.initial:
            books.update(items_at(history, "escrow", escrow))
        for record in reversed(history):
            settlement, movement = record.settlement, record.movement
            if settlement is None or movement.id <= cut:
                continue
            if settlement.outcome is Outcome.UNKNOWN and "escrow" in (
                movement.source,
                movement.destination,
            ):
                touched = True
            if cut or escrow.initial:
                continue  # counted above
            if settlement.outcome is Outcome.DONE and settlement.moved:
                if movement.destination == "escrow":
                    books[movement.item] += settlement.moved
                if movement.source == "escrow":
                    books[movement.item] -= settlement.moved
        in_books = {item: n for item, n in books.items() if n}
        assert sum(in_books.values()) == escrow.count, (in_books, escrow)
        if not touched:
            assert in_books == truth, (
                f"escrow: the model holds {truth}, the ledger {in_books} (by item)"
            )
        said = self._said()
        if said is not None and sum(in_books.values()) > 0:
            self.escrow_restarts += 1
            assert said["status"] == "active", f"notes in the escrow, yet the service says {said}"
            assert said["escrow"] == sum(in_books.values()), (
                f"the service reports {said['escrow']} in the escrow, the ledger "
                f"{sum(in_books.values())}"
            )
            credited = sum(int(n) for n in dict(said.get("notes", {})).values())
            assert credited <= said["escrow"], said

    def _said(self) -> dict[str, object] | None:
        """What the child being checked printed of `get_cash_in_status` after its open."""
        if self.child is None:
            return self.said
        for line in reversed(self.child.lines):
            if line.startswith("cashin "):
                said = json.loads(line.removeprefix("cashin "))
                assert isinstance(said, dict)
                return said
        return None

    def summary(self) -> str:
        return f"{super().summary()}; {self.escrow_restarts} restarts with notes in the escrow"
