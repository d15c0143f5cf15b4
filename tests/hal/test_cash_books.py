"""hal.devices.cash_books: XFS4IoT counts replayed from ledger rows, fill states, and
the present status, on a real (in-memory) ledger written by hand."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hal.devices.cash_books import (
    DISPENSE,
    PRESENT,
    cut_after,
    location_kind,
    present_status,
    replay,
    replenishment,
)
from hal.devices.cash_journal import ALL
from hal.devices.cash_model import (
    CUSTOMER,
    EXIT,
    STACKER,
    TRANSPORT,
    CashUnitInfo,
    CashUnitType,
    InCounts,
    OutCounts,
    PresentState,
    ReplenishmentStatus,
    UnitSensor,
)
from hal.ledger import ANY_ITEM, Ledger, LocationKind, Outcome
from hal.money import Money

D = "cash_dispenser"
U1 = CashUnitInfo("unit1", CashUnitType.CASH_OUT, "CNY", 10000, capacity=100)
U2 = CashUnitInfo("unit2", CashUnitType.CASH_OUT, "CNY", 5000, capacity=100)
REJ = CashUnitInfo("reject", CashUnitType.REJECT, capacity=50)
RET = CashUnitInfo("retract", CashUnitType.RETRACT, capacity=50)
UNITS = (U1, U2, REJ, RET)


def _define(ledger: Ledger) -> None:
    for u in UNITS:
        ledger.define_location(
            D, u.id, kind=location_kind(u.type), item=u.item, capacity=u.capacity
        )
    for p in (STACKER, TRANSPORT, EXIT):
        ledger.define_location(D, p, kind=LocationKind.POSITION, item=ANY_ITEM)
    ledger.define_location(D, CUSTOMER, kind=LocationKind.CUSTOMER, item=ANY_ITEM)
    ledger.set_initial(D, "unit1", 50)
    ledger.set_initial(D, "unit2", 50)


@pytest.fixture
def ledger() -> Iterator[Ledger]:
    with Ledger.open(":memory:") as opened:
        _define(opened)
        yield opened


_TOKEN = iter(range(1, 10**6))


def move(
    ledger: Ledger,
    src: str,
    dst: str,
    n: int,
    outcome: Outcome = Outcome.DONE,
    moved: int | None = None,
    *,
    reason: str = "",
    token: int | None = None,
) -> int:
    item = {u.id: u.item for u in UNITS}.get(src, ANY_ITEM)
    m = ledger.journal(
        D,
        source=src,
        destination=dst,
        item=item,
        count=n,
        command_id=token if token is not None else next(_TOKEN),
        reason=reason,
    )
    ledger.settle(m.id, outcome, moved=moved)
    return m.command_id or 0


def books(ledger: Ledger):  # type: ignore[no-untyped-def]
    counters = {c.location.name: c for c in ledger.counters(D)}
    return replay(ledger.history(D, ALL), UNITS, counters)


def test_dispense_present_take() -> None:
    with Ledger.open(":memory:") as ledger:
        _define(ledger)
        move(ledger, "unit1", STACKER, 3)
        move(ledger, "unit2", STACKER, 2)
        b = books(ledger)
        assert b.out["unit1"] == OutCounts(stacked=3)
        assert b.positions[STACKER] == {"unit1": 3, "unit2": 2}
        move(ledger, STACKER, EXIT, 5)
        assert books(ledger).out["unit2"] == OutCounts(presented=2)
        move(ledger, EXIT, CUSTOMER, 5)
        b = books(ledger)
        assert b.out["unit1"] == OutCounts(presented=3, distributed=3)
        assert b.out["unit2"] == OutCounts(presented=2, distributed=2)
        assert b.positions[EXIT] == {}


def test_notes_keep_their_origin_first_in_first_out(ledger: Ledger) -> None:
    move(ledger, "unit1", STACKER, 2)
    move(ledger, "unit2", STACKER, 3)
    move(ledger, STACKER, EXIT, 5)
    move(ledger, EXIT, CUSTOMER, 3, moved=3)  # the customer took three of five
    move(ledger, EXIT, "retract", 2)
    b = books(ledger)
    # The first two out of the stacker were unit1's: taken; unit2 gave one taken, two back.
    assert b.out["unit1"] == OutCounts(presented=2, distributed=2)
    assert b.out["unit2"] == OutCounts(presented=3, distributed=1)
    assert b.in_["retract"] == InCounts(retracted=2)


def test_reject_and_retract_from_the_stacker(ledger: Ledger) -> None:
    move(ledger, "unit1", STACKER, 4)
    move(ledger, STACKER, "reject", 3)
    move(ledger, STACKER, "retract", 1)
    b = books(ledger)
    assert b.out["unit1"] == OutCounts(rejected=3, retracted=1)
    assert b.in_["reject"] == InCounts(rejected=3)
    assert b.in_["retract"] == InCounts(retracted=1)


def test_count_and_double_notes_go_to_reject(ledger: Ledger) -> None:
    move(ledger, "unit2", "reject", 5)
    assert books(ledger).out["unit2"] == OutCounts(rejected=5)
    assert books(ledger).in_["reject"] == InCounts(rejected=5)


def test_jam_leaves_notes_in_the_transport(ledger: Ledger) -> None:
    move(ledger, "unit1", STACKER, 2)
    move(ledger, "unit1", TRANSPORT, 1)
    assert books(ledger).out["unit1"] == OutCounts(stacked=2, transport=1)
    move(ledger, TRANSPORT, "reject", 1)
    move(ledger, STACKER, "reject", 2)
    assert books(ledger).out["unit1"] == OutCounts(rejected=3)


def test_unknown_and_failed_movements(ledger: Ledger) -> None:
    move(ledger, "unit1", STACKER, 4, Outcome.UNKNOWN)
    move(ledger, "unit2", STACKER, 4, Outcome.FAILED)
    b = books(ledger)
    assert b.out["unit1"] == OutCounts(unknown=4)
    assert b.out["unit2"] == OutCounts()
    assert b.positions[STACKER] == {}


def test_a_new_initial_count_restarts_in_and_out_but_not_positions(ledger: Ledger) -> None:
    move(ledger, "unit1", STACKER, 2)
    move(ledger, STACKER, EXIT, 2)
    move(ledger, EXIT, CUSTOMER, 2)
    move(ledger, "unit1", "reject", 1)
    move(ledger, "unit1", STACKER, 1)
    ledger.set_initial(D, "unit1", 80, reason="exchange")
    b = books(ledger)
    assert b.out["unit1"] == OutCounts(stacked=1)  # stacked stays; the rest restarts
    assert b.out["unit2"] == OutCounts()
    assert b.in_["reject"] == InCounts(rejected=1)  # its own initial was never set
    move(ledger, STACKER, EXIT, 1)
    assert books(ledger).out["unit1"] == OutCounts(presented=1)


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["unit1", "unit2"]),
            st.integers(1, 4),
            st.sampled_from(list(Outcome)),
            st.booleans(),  # count again after it
        ),
        max_size=12,
    )
)
def test_cut_after_finds_the_latest_initial_count(
    steps: list[tuple[str, int, Outcome, bool]],
) -> None:
    with Ledger.open(":memory:") as ledger:
        _define(ledger)
        true_cut = {"unit1": 0, "unit2": 0}
        last = 0
        for unit, n, outcome, recount in steps:
            moved = n if outcome is Outcome.DONE else None
            move(ledger, unit, STACKER, n, outcome, moved)
            last = ledger.history(D, 1)[0].movement.id
            if recount:
                ledger.set_initial(D, unit, 40)
                true_cut[unit] = last
        history = ledger.history(D, ALL)
        for c in ledger.counters(D):
            unit = c.location.name
            if unit not in true_cut:
                continue
            found = cut_after(unit, history, c)
            lo, hi = sorted((found, true_cut[unit]))
            # Only movements that count for nothing may lie between the two cuts.
            between = [
                r
                for r in history
                if lo < r.movement.id <= hi
                and unit in (r.movement.source, r.movement.destination)
                and r.settlement is not None
                and r.settlement.outcome is not Outcome.FAILED
            ]
            assert between == []


def test_replenishment() -> None:
    ok, low, high, empty, full = (
        ReplenishmentStatus.OK,
        ReplenishmentStatus.LOW,
        ReplenishmentStatus.HIGH,
        ReplenishmentStatus.EMPTY,
        ReplenishmentStatus.FULL,
    )
    assert replenishment(U1, 50, None, None) is ok
    assert replenishment(U1, 0, None, None) is empty
    assert replenishment(U1, 100, None, None) is full
    assert replenishment(REJ, 0, None, None) is ok  # a bin is not "empty"
    assert replenishment(U1, 10, (10, 90), None) is low
    assert replenishment(U1, 11, (10, 90), None) is ok
    assert replenishment(U1, 90, (10, 90), None) is high
    assert replenishment(U1, 90, (10, None), None) is ok
    # No threshold: the sensors say.
    assert replenishment(U1, 50, None, UnitSensor("unit1", low=True)) is low
    assert replenishment(U1, 50, (None, None), UnitSensor("unit1", full=True)) is full
    # A threshold set: the sensor is not asked.
    assert replenishment(U1, 50, (5, None), UnitSensor("unit1", low=True)) is ok


def test_present_status_from_history(ledger: Ledger) -> None:
    assert present_status(ledger.history(D), UNITS, STACKER).state is PresentState.NOT_PRESENTED
    move(ledger, "unit1", STACKER, 2, reason=DISPENSE, token=1000)
    move(ledger, "unit2", STACKER, 1, reason=DISPENSE, token=1000)
    status = present_status(ledger.history(D), UNITS, STACKER)
    assert status.state is PresentState.NOT_PRESENTED
    assert status.denomination is not None
    assert status.denomination.amount == Money(25000, "CNY")
    assert dict(status.denomination.counts) == {"unit1": 2, "unit2": 1}
    move(ledger, STACKER, EXIT, 3, reason=PRESENT, token=1001)
    status = present_status(ledger.history(D), UNITS, STACKER)
    assert (status.state, status.taken) == (PresentState.PRESENTED, False)
    move(ledger, EXIT, CUSTOMER, 3, token=1002)
    status = present_status(ledger.history(D), UNITS, STACKER)
    assert (status.state, status.taken) == (PresentState.PRESENTED, True)


def test_present_status_unknown_and_rejected(ledger: Ledger) -> None:
    move(ledger, "unit1", STACKER, 2, reason=DISPENSE, token=2000)
    move(ledger, STACKER, EXIT, 2, Outcome.UNKNOWN, reason=PRESENT, token=2001)
    assert present_status(ledger.history(D), UNITS, STACKER).state is PresentState.UNKNOWN
    move(ledger, "unit2", STACKER, 1, reason=DISPENSE, token=2002)
    move(ledger, STACKER, "reject", 3, token=2003)
    move(ledger, STACKER, EXIT, 1, moved=0, reason=PRESENT, token=2004)  # nothing there
    status = present_status(ledger.history(D), UNITS, STACKER)
    assert (status.state, status.taken) == (PresentState.NOT_PRESENTED, False)


def test_present_status_of_a_dispenser_without_stacker(ledger: Ledger) -> None:
    move(ledger, "unit1", CUSTOMER, 2, reason=DISPENSE, token=3000)
    status = present_status(ledger.history(D), UNITS, CUSTOMER)
    assert (status.state, status.taken) == (PresentState.PRESENTED, True)
    assert status.denomination is not None
    assert status.denomination.notes == 2
