"""Property: whatever sequence of journal, settle and initial counts a device goes
through, every location's count is ``initial + in - out`` as an independent replay of
the same events computes it, and nothing is pending or unknown that should not be."""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import given, settings
from hypothesis import strategies as st

from hal.errors import SequenceError
from hal.ledger import ANY_ITEM, MEMORY, Ledger, LocationKind, Outcome

DEVICE = "cash_dispenser"
COUNTED = {
    "unit1": LocationKind.CASSETTE,
    "unit2": LocationKind.CASSETTE,
    "reject": LocationKind.REJECT,
    "stacker": LocationKind.POSITION,
}
PLACES = [*COUNTED, "customer"]


@dataclass(frozen=True)
class Journal:
    source: str
    destination: str
    count: int


@dataclass(frozen=True)
class Settle:
    pick: int  # which pending movement, modulo how many there are
    outcome: Outcome
    moved: int  # for done: taken modulo count + 1, so 0..count


@dataclass(frozen=True)
class SetInitial:
    location: str
    count: int


journals = st.builds(
    Journal,
    source=st.sampled_from(PLACES),
    destination=st.sampled_from(PLACES),
    count=st.integers(1, 40),
).filter(lambda j: j.source != j.destination)
settles = st.builds(
    Settle, pick=st.integers(0, 50), outcome=st.sampled_from(Outcome), moved=st.integers(0, 40)
)
initials = st.builds(
    SetInitial, location=st.sampled_from(sorted(COUNTED)), count=st.integers(0, 500)
)
operations = st.lists(st.one_of(journals, settles, initials), max_size=40)


@dataclass
class Replay:
    """What the test itself remembers, in order, to recompute everything from."""

    events: list[tuple[object, ...]] = field(default_factory=list)
    pending: dict[int, Journal] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(COUNTED, 0)
        for event in self.events:
            if event[0] == "initial":
                _, location, count = event
                counts[str(location)] = int(str(count))
            elif event[0] == "settled" and event[2] is Outcome.DONE:
                _, journal, _, moved = event
                assert isinstance(journal, Journal)
                moved = int(str(moved))
                if journal.source in counts:
                    counts[journal.source] -= moved
                if journal.destination in counts:
                    counts[journal.destination] += moved
        return counts

    def unresolved_unknown(self) -> list[int]:
        journalled_at: dict[int, int] = {}
        unknown: list[int] = []
        for index, event in enumerate(self.events):
            if event[0] == "journalled":
                journalled_at[int(str(event[1]))] = index
            elif event[0] == "settled" and event[2] is Outcome.UNKNOWN:
                movement_id = int(str(event[3]))
                journal = event[1]
                assert isinstance(journal, Journal)
                recounted = all(
                    any(
                        e[0] == "initial" and e[1] == end
                        for e in self.events[journalled_at[movement_id] :]
                    )
                    for end in (journal.source, journal.destination)
                    if end in COUNTED
                )
                if not recounted:
                    unknown.append(movement_id)
        return sorted(unknown)


def _apply(ledger: Ledger, replay: Replay, op: Journal | Settle | SetInitial) -> None:
    if isinstance(op, Journal):
        movement = ledger.journal(
            DEVICE, source=op.source, destination=op.destination, item="note", count=op.count
        )
        replay.pending[movement.id] = op
        replay.events.append(("journalled", movement.id))
    elif isinstance(op, Settle):
        if not replay.pending:
            return
        movement_id = sorted(replay.pending)[op.pick % len(replay.pending)]
        journal = replay.pending.pop(movement_id)
        moved = op.moved % (journal.count + 1) if op.outcome is Outcome.DONE else None
        settlement = ledger.settle(movement_id, op.outcome, moved=moved)
        assert settlement.moved == (0 if op.outcome is Outcome.FAILED else moved)
        if op.outcome is Outcome.UNKNOWN:
            replay.events.append(("settled", journal, op.outcome, movement_id))
        else:
            replay.events.append(("settled", journal, op.outcome, settlement.moved))
    else:
        busy = any(op.location in (j.source, j.destination) for j in replay.pending.values())
        try:
            ledger.set_initial(DEVICE, op.location, op.count)
        except SequenceError:
            assert busy
            return
        assert not busy
        replay.events.append(("initial", op.location, op.count))


@settings(max_examples=150, deadline=None)
@given(operations)
def test_counts_follow_the_journal(ops: list[Journal | Settle | SetInitial]) -> None:
    with Ledger.open(MEMORY) as ledger:
        for name, kind in COUNTED.items():
            ledger.define_location(DEVICE, name, kind=kind, item="note")
        ledger.define_location(DEVICE, "customer", kind=LocationKind.CUSTOMER, item=ANY_ITEM)
        replay = Replay()
        for op in ops:
            _apply(ledger, replay, op)
            assert ledger.counts(DEVICE) == replay.counts()
        for counters in ledger.counters(DEVICE):
            assert counters.initial + counters.moved_in - counters.moved_out == counters.count
        assert [m.id for m in ledger.pending(DEVICE)] == sorted(replay.pending)
        assert [m.id for m in ledger.unknown(DEVICE)] == replay.unresolved_unknown()
        # Reconciling whatever is left settles all of it, once.
        ledger.reconcile(DEVICE, lambda movement: Outcome.FAILED)
        assert ledger.pending(DEVICE) == []
        assert ledger.counts(DEVICE) == replay.counts()
