"""Counters derived from the journal: done moves count, partial moves count what moved,
unknown moves are reported apart, pending moves are listed, initial counts restart."""

from __future__ import annotations

import pytest

from hal.errors import InvalidData, SequenceError
from hal.ledger import (
    ANY_ITEM,
    MEMORY,
    Ledger,
    LocationKind,
    MovementRecord,
    Outcome,
    Resolution,
    Violation,
)

from .helpers import CR, RETAIN_CAPACITY, insert_card, retain


def test_new_locations_count_zero(ledger: Ledger) -> None:
    # The customer is where cards come from: it has no count.
    assert ledger.counts(CR) == {"dispense": 0, "retain": 0, "transport": 0}
    assert ledger.pending() == []
    assert ledger.unknown(CR) == []


def test_done_moves_count_in_and_out(ledger: Ledger) -> None:
    insert_card(ledger)
    assert ledger.counts(CR)["transport"] == 1
    movement = retain(ledger)
    # Pending: journalled, not yet moved, so not counted.
    assert ledger.counts(CR) == {"dispense": 0, "retain": 0, "transport": 1}
    assert ledger.pending(CR) == [movement]
    ledger.settle(movement.id, Outcome.DONE, detail="card retained")
    assert ledger.counts(CR) == {"dispense": 0, "retain": 1, "transport": 0}
    assert ledger.pending(CR) == []
    by_name = {c.location.name: c for c in ledger.counters(CR)}
    retain_bin = by_name["retain"]
    assert (retain_bin.initial, retain_bin.moved_in, retain_bin.moved_out) == (0, 1, 0)
    assert (by_name["transport"].moved_in, by_name["transport"].moved_out) == (1, 1)


def test_failed_moves_count_nothing(ledger: Ledger) -> None:
    insert_card(ledger)
    movement = retain(ledger)
    settlement = ledger.settle(movement.id, Outcome.FAILED, detail="retainBinFull")
    assert settlement.moved == 0
    assert ledger.counts(CR) == {"dispense": 0, "retain": 0, "transport": 1}


def test_partial_move_counts_what_moved() -> None:
    # A dispenser asked for 5 notes that picked 3: 3 left the cassette, 3 reached the stacker.
    with Ledger.open(MEMORY) as ledger:
        ledger.define_location("cdm", "unit1", kind=LocationKind.CASSETTE, item="EUR:20")
        ledger.define_location("cdm", "stacker", kind=LocationKind.POSITION, item=ANY_ITEM)
        ledger.set_initial("cdm", "unit1", 100, reason="replenished")
        movement = ledger.journal(
            "cdm", source="unit1", destination="stacker", item="EUR:20", count=5, command_id=7
        )
        settlement = ledger.settle(movement.id, Outcome.DONE, moved=3, detail="3 of 5 picked")
        assert settlement.moved == 3
        assert ledger.counts("cdm") == {"stacker": 3, "unit1": 97}
        assert movement.command_id == 7


def test_done_without_moved_means_all(ledger: Ledger) -> None:
    movement = ledger.journal(CR, source="dispense", destination="transport", item="card", count=1)
    assert ledger.settle(movement.id, Outcome.DONE).moved == 1


def test_unknown_is_reported_apart_never_guessed(ledger: Ledger) -> None:
    insert_card(ledger)
    movement = retain(ledger)
    settlement = ledger.settle(movement.id, Outcome.UNKNOWN, detail="power lost")
    assert settlement.moved is None
    # Neither taken from the transport nor put in the bin: we do not know which is true.
    assert ledger.counts(CR) == {"dispense": 0, "retain": 0, "transport": 1}
    assert ledger.unknown(CR) == [movement]
    by_name = {c.location.name: c for c in ledger.counters(CR)}
    assert (by_name["retain"].unknown_in, by_name["retain"].unknown_out) == (1, 0)
    assert (by_name["transport"].unknown_in, by_name["transport"].unknown_out) == (0, 1)


def test_initial_count_restarts_counters(ledger: Ledger) -> None:
    for _ in range(3):
        insert_card(ledger)
        ledger.settle(retain(ledger).id, Outcome.DONE)
    assert ledger.counts(CR)["retain"] == 3
    ledger.set_initial(CR, "retain", 0, reason="bin emptied by operator 42")
    assert ledger.counts(CR)["retain"] == 0
    insert_card(ledger)
    ledger.settle(retain(ledger).id, Outcome.DONE)
    retain_bin = {c.location.name: c for c in ledger.counters(CR)}["retain"]
    assert (retain_bin.initial, retain_bin.moved_in, retain_bin.count) == (0, 1, 1)
    # The transport's counters were not reset: only the retain bin was counted.
    assert {c.location.name: c for c in ledger.counters(CR)}["transport"].moved_in == 4


def test_unknown_resolved_only_when_every_counted_end_is_recounted(ledger: Ledger) -> None:
    insert_card(ledger)
    movement = retain(ledger)
    ledger.settle(movement.id, Outcome.UNKNOWN)
    ledger.set_initial(CR, "retain", 1, reason="operator found the card in the bin")
    assert ledger.unknown(CR) == [movement]  # the transport has not been looked at
    ledger.set_initial(CR, "transport", 0, reason="device reports the transport empty")
    assert ledger.unknown(CR) == []
    assert ledger.counts(CR) == {"dispense": 0, "retain": 1, "transport": 0}


def test_unknown_from_the_customer_needs_only_the_inner_end(ledger: Ledger) -> None:
    movement = ledger.journal(CR, source="customer", destination="transport", item="card", count=1)
    ledger.settle(movement.id, Outcome.UNKNOWN)
    ledger.set_initial(CR, "transport", 1)
    assert ledger.unknown(CR) == []


def test_set_initial_refused_while_a_movement_is_pending(ledger: Ledger) -> None:
    insert_card(ledger)
    movement = retain(ledger)
    with pytest.raises(SequenceError, match="pending"):
        ledger.set_initial(CR, "retain", 0)
    ledger.set_initial(CR, "dispense", 50)  # another location is free to be counted
    ledger.settle(movement.id, Outcome.DONE)
    ledger.set_initial(CR, "retain", 0)


def test_set_initial_checks_the_location(ledger: Ledger) -> None:
    with pytest.raises(InvalidData, match="no count"):
        ledger.set_initial(CR, "customer", 1)
    with pytest.raises(InvalidData, match="no location"):
        ledger.set_initial(CR, "safe", 1)
    with pytest.raises(InvalidData, match="capacity"):
        ledger.set_initial(CR, "retain", RETAIN_CAPACITY + 1)
    with pytest.raises(InvalidData, match=">= 0"):
        ledger.set_initial(CR, "retain", -1)


def test_history_newest_first_with_outcomes(ledger: Ledger) -> None:
    first = insert_card(ledger)
    second = retain(ledger)
    history = ledger.history(CR)
    assert [record.movement for record in history] == [second, first]
    assert history[0].pending
    assert history[1].settlement is not None
    assert history[1].settlement.outcome is Outcome.DONE
    assert ledger.history(CR, limit=1) == [MovementRecord(second, None)]
    with pytest.raises(InvalidData):
        ledger.history(CR, limit=0)


def test_pending_oldest_first_per_device(ledger: Ledger) -> None:
    ledger.define_location("printer", "paper", kind=LocationKind.DISPENSE, item="receipt")
    ledger.define_location("printer", "customer", kind=LocationKind.CUSTOMER, item="receipt")
    card = ledger.journal(CR, source="customer", destination="transport", item="card", count=1)
    receipt = ledger.journal(
        "printer", source="paper", destination="customer", item="receipt", count=1
    )
    assert ledger.pending() == [card, receipt]
    assert ledger.pending(CR) == [card]
    assert ledger.pending("printer") == [receipt]
    assert "printer" not in {c.location.device for c in ledger.counters(CR)}


def test_check_invariants(ledger: Ledger) -> None:
    assert ledger.check_invariants(CR) == []
    # A retain with no card journalled in: the books say the transport is at -1.
    ledger.settle(retain(ledger).id, Outcome.DONE)
    assert ledger.check_invariants(CR) == [Violation(CR, "transport", "negative", -1, None)]
    ledger.set_initial(CR, "transport", 0)
    ledger.set_initial(CR, "retain", RETAIN_CAPACITY)
    insert_card(ledger)
    ledger.settle(retain(ledger).id, Outcome.DONE)
    violations = ledger.check_invariants(CR)
    assert violations == [
        Violation(CR, "retain", "over_capacity", RETAIN_CAPACITY + 1, RETAIN_CAPACITY)
    ]
    assert "exceeds capacity" in str(violations[0])


def test_reconcile_settles_from_the_device_report(ledger: Ledger) -> None:
    ledger.set_initial(CR, "dispense", 10, reason="bin loaded")
    insert_card(ledger)
    stuck = retain(ledger)
    issue = ledger.journal(CR, source="dispense", destination="transport", item="card", count=1)
    reports: dict[int, Resolution] = {stuck.id: Outcome.FAILED, issue.id: (Outcome.DONE, 1)}
    settled = ledger.reconcile(CR, lambda movement: reports[movement.id])
    assert [(s.movement_id, s.outcome, s.moved) for s in settled] == [
        (stuck.id, Outcome.FAILED, 0),
        (issue.id, Outcome.DONE, 1),
    ]
    assert ledger.pending() == []
    assert ledger.counts(CR) == {"dispense": 9, "retain": 0, "transport": 2}
    assert ledger.reconcile(CR, lambda movement: Outcome.UNKNOWN) == []


def test_reconcile_stops_where_the_resolver_fails(ledger: Ledger) -> None:
    first = retain(ledger)
    second = ledger.journal(CR, source="dispense", destination="transport", item="card", count=1)

    def resolve(movement: object) -> Outcome:
        if movement == second:
            raise RuntimeError("device did not answer")
        return Outcome.UNKNOWN

    with pytest.raises(RuntimeError):
        ledger.reconcile(CR, resolve)
    assert ledger.pending() == [second]
    assert ledger.unknown(CR) == [first]


@pytest.mark.parametrize(
    ("outcome", "moved", "match"),
    [
        (Outcome.DONE, 2, "moved 2 items of a movement of 1"),
        (Outcome.DONE, -1, ">= 0"),
        (Outcome.FAILED, 1, "moved nothing"),
        (Outcome.UNKNOWN, 0, "no moved count"),
        ("lost", None, "done, failed or unknown"),
    ],
)
def test_settle_checks_moved(
    ledger: Ledger, outcome: Outcome, moved: int | None, match: str
) -> None:
    movement = retain(ledger)
    with pytest.raises(InvalidData, match=match):
        ledger.settle(movement.id, outcome, moved=moved)
    assert ledger.pending() == [movement]  # a refused settlement writes nothing


def test_settle_once(ledger: Ledger) -> None:
    movement = retain(ledger)
    ledger.settle(movement.id, Outcome.DONE)
    with pytest.raises(SequenceError, match="already settled"):
        ledger.settle(movement.id, Outcome.FAILED)
    with pytest.raises(InvalidData, match="no movement 999"):
        ledger.settle(999, Outcome.DONE)


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"count": 0}, "> 0"),
        ({"count": -2}, "> 0"),
        ({"count": True}, "must be an int"),
        ({"source": "safe"}, "no location 'safe'"),
        ({"destination": "transport", "source": "transport"}, "two locations"),
        ({"item": "EUR:20"}, "holds 'card'"),
        ({"item": ""}, "non-empty"),
        ({"command_id": -1}, ">= 0"),
    ],
)
def test_journal_checks_its_input(ledger: Ledger, changes: dict[str, object], match: str) -> None:
    args: dict[str, object] = {
        "source": "transport",
        "destination": "retain",
        "item": "card",
        "count": 1,
    } | changes
    with pytest.raises(InvalidData, match=match):
        ledger.journal(CR, **args)  # type: ignore[arg-type]
    assert ledger.history(CR) == []


def test_define_location_is_idempotent(ledger: Ledger) -> None:
    before = ledger.locations(CR)
    ledger.define_location(CR, "retain", kind="retain", item="card", capacity=RETAIN_CAPACITY)
    assert ledger.locations(CR) == before
    # A bigger bin fitted: capacity follows the configuration.
    ledger.define_location(CR, "retain", kind=LocationKind.RETAIN, item="card", capacity=50)
    retain_bin = {loc.name: loc for loc in ledger.locations(CR)}["retain"]
    assert retain_bin.capacity == 50
    with pytest.raises(InvalidData, match="cannot redefine"):
        ledger.define_location(CR, "retain", kind=LocationKind.REJECT, item="card")
    with pytest.raises(InvalidData, match="cannot redefine"):
        ledger.define_location(CR, "retain", kind=LocationKind.RETAIN, item="passport")
    with pytest.raises(InvalidData, match="kind must be one of"):
        ledger.define_location(CR, "bin2", kind="drawer", item="card")
    with pytest.raises(InvalidData, match=">= 0"):
        ledger.define_location(CR, "bin2", kind="retain", item="card", capacity=-1)


def test_a_caller_typo_does_not_put_the_ledger_out_of_service(ledger: Ledger) -> None:
    movement = retain(ledger)
    with pytest.raises(InvalidData, match="detail must be a str"):
        ledger.settle(movement.id, Outcome.DONE, detail=42)  # type: ignore[arg-type]
    with pytest.raises(InvalidData, match="reason must be a str"):
        ledger.set_initial(CR, "dispense", 1, reason=None)  # type: ignore[arg-type]
    with pytest.raises(InvalidData, match="device must be"):
        ledger.set_initial(["cr"], "dispense", 1)  # type: ignore[arg-type]
    with pytest.raises(InvalidData, match="movement_id must be an int"):
        ledger.settle("1", Outcome.DONE)  # type: ignore[arg-type]
    ledger.settle(movement.id, Outcome.DONE)  # still writes
