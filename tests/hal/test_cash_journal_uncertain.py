"""hal.devices.cash_journal: moves a device may have made but cannot count (an LCDM-4000
jam) are booked ``unknown`` once, never counted, and survive a second application."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hal.devices.cash_books import location_kind
from hal.devices.cash_journal import Plan, apply_report, journal_plans
from hal.devices.cash_model import (
    CUSTOMER,
    EXIT,
    STACKER,
    TRANSPORT,
    CashUnitInfo,
    CashUnitType,
    Fault,
    Move,
    MoveReport,
)
from hal.ledger import ANY_ITEM, Ledger, LocationKind, Outcome

D = "cash_dispenser"
U1 = CashUnitInfo("unit1", CashUnitType.CASH_OUT, "CNY", 10000, capacity=100)
REJ = CashUnitInfo("reject", CashUnitType.REJECT, capacity=50)
HELD = {U1.id: U1.item, REJ.id: REJ.item}


@pytest.fixture
def ledger() -> Iterator[Ledger]:
    with Ledger.open(":memory:") as opened:
        for u in (U1, REJ):
            opened.define_location(
                D, u.id, kind=location_kind(u.type), item=u.item, capacity=u.capacity
            )
        for p in (STACKER, TRANSPORT, EXIT):
            opened.define_location(D, p, kind=LocationKind.POSITION, item=ANY_ITEM)
        opened.define_location(D, CUSTOMER, kind=LocationKind.CUSTOMER, item=ANY_ITEM)
        opened.set_initial(D, "unit1", 50)
        yield opened


def _jam_report() -> MoveReport:
    return MoveReport(
        moves=(Move("unit1", CUSTOMER, U1.item, 2),),
        fault=Fault("mediaJam", "jam between sensors", "unit1"),
        uncertain=(Move("unit1", TRANSPORT, U1.item, 3),),
    )


def test_uncertain_moves_are_unknown_and_never_counted(ledger: Ledger) -> None:
    planned = journal_plans(ledger, D, [Plan("unit1", CUSTOMER, U1.item, 5)], 7, "dispense")
    apply_report(ledger, D, _jam_report(), 7, "dispense", planned[0].id, HELD)
    counts = ledger.counts(D)
    assert counts["unit1"] == 48  # only the 2 counted out
    assert counts[TRANSPORT] == 0
    unknown = ledger.unknown(D)
    assert [(m.source, m.destination, m.count) for m in unknown] == [("unit1", TRANSPORT, 3)]
    assert not ledger.pending(D)
    assert ledger.check_invariants(D) == []


def test_applying_the_same_report_again_books_nothing_twice(ledger: Ledger) -> None:
    planned = journal_plans(ledger, D, [Plan("unit1", CUSTOMER, U1.item, 5)], 9, "dispense")
    apply_report(ledger, D, _jam_report(), 9, "dispense", planned[0].id, HELD)
    rows = len(ledger.history(D, 1000))
    apply_report(ledger, D, _jam_report(), 9, "dispense", planned[0].id, HELD)
    assert len(ledger.history(D, 1000)) == rows
    assert len(ledger.unknown(D)) == 1


def test_an_uncertain_movement_left_pending_by_a_crash_is_settled_unknown(
    ledger: Ledger,
) -> None:
    planned = journal_plans(ledger, D, [Plan("unit1", CUSTOMER, U1.item, 5)], 11, "dispense")
    # A crash after the uncertain movement was journalled, before it was settled.
    ledger.journal(
        D,
        source="unit1",
        destination=TRANSPORT,
        item=U1.item,
        count=3,
        command_id=11,
        reason="dispense: may have moved, uncounted",
    )
    apply_report(ledger, D, _jam_report(), 11, "dispense", planned[0].id, HELD)
    records = [r for r in ledger.history(D, 1000) if r.movement.command_id == 11]
    outcomes = sorted(
        (r.movement.destination, r.settlement.outcome if r.settlement else None) for r in records
    )
    assert outcomes == [(CUSTOMER, Outcome.DONE), (TRANSPORT, Outcome.UNKNOWN)]
