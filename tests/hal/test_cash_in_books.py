"""The cash-in books: item-exact apply (rule 1 of docs/cash_in.md) and its idempotence,
deposits in the XFS4IoT counts, a recycler's two services on one set of books, and a
property: random cash-in sequences keep the ledger equal to the device's notes."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hal.devices.cash_acceptor import CUSTOMER, ESCROW, EXIT, TRANSPORT
from hal.devices.cash_acceptor_service import CashAcceptorService
from hal.devices.cash_books import items_at, replay
from hal.devices.cash_dispenser_service import CashDispenserService
from hal.devices.cash_journal import ALL, Plan, apply_report, journal_plans
from hal.devices.cash_model import InCounts, Move, MoveReport, OutCounts
from hal.devices.cash_shared import books_key, books_lock
from hal.errors import HalError
from hal.ledger import ANY_ITEM, Ledger, LocationKind, Outcome
from hal.money import Money
from hal.stimulus import NoteSample
from tests.cash_in_backend import ScriptedCashInBackend
from tests.hal.test_cash_acceptor_service import Y10, Y50, Y100, books_match

D = "acceptor"


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    led = Ledger.open(tmp_path / "books.db")
    for name in (ESCROW, TRANSPORT, EXIT):
        led.define_location(D, name, kind=LocationKind.POSITION, item=ANY_ITEM)
    led.define_location(D, CUSTOMER, kind=LocationKind.CUSTOMER, item=ANY_ITEM)
    led.define_location(D, "cashin", kind=LocationKind.CASSETTE, item=ANY_ITEM)
    led.define_location(D, "recycle100", kind=LocationKind.CASSETTE, item=Y100)
    return led


def settled(ledger: Ledger) -> list[tuple[str, str, str, Outcome | None, int | None]]:
    rows = []
    for r in reversed(ledger.history(D, ALL)):
        s, m = r.settlement, r.movement
        rows.append(
            (m.source, m.destination, m.item, s.outcome if s else None, s.moved if s else None)
        )
    return rows


def test_apply_is_item_exact(ledger: Ledger) -> None:
    plans = [Plan(CUSTOMER, ESCROW, Y100, 5), Plan(CUSTOMER, ESCROW, Y50, 5)]
    first = journal_plans(ledger, D, plans, 7, "cash-in")
    report = MoveReport((Move(CUSTOMER, ESCROW, Y100, 2), Move(CUSTOMER, ESCROW, Y10, 1)))
    apply_report(ledger, D, report, 7, "cash-in", first[0].id, {})
    rows = settled(ledger)
    # the fifties' plan is not covered by notes of another item; the ten is journalled
    assert rows == [
        (CUSTOMER, ESCROW, Y100, Outcome.DONE, 2),
        (CUSTOMER, ESCROW, Y50, Outcome.FAILED, 0),
        (CUSTOMER, ESCROW, Y10, Outcome.DONE, 1),
    ]
    assert items_at(ledger.history(D, ALL), ESCROW) == {Y100: 2, Y10: 1}
    # applying the same report again (a reconcile run twice) books nothing twice
    apply_report(ledger, D, report, 7, "cash-in", first[0].id, {})
    assert settled(ledger) == rows
    assert ledger.counts(D)[ESCROW] == 3


def test_any_item_plan_takes_every_item_once(ledger: Ledger) -> None:
    for item, n in ((Y100, 2), (Y50, 1)):
        m = ledger.journal(D, source=CUSTOMER, destination=ESCROW, item=item, count=n)
        ledger.settle(m.id, Outcome.DONE, moved=n)
    first = journal_plans(ledger, D, [Plan(ESCROW, "cashin", ANY_ITEM, 2)], 9, "reset")
    report = MoveReport((Move(ESCROW, "cashin", Y100, 2), Move(ESCROW, "cashin", Y50, 1)))
    apply_report(ledger, D, report, 9, "reset", first[0].id, {"recycle100": Y100})
    apply_report(ledger, D, report, 9, "reset", first[0].id, {"recycle100": Y100})
    rows = settled(ledger)[2:]
    assert rows == [
        (ESCROW, "cashin", ANY_ITEM, Outcome.DONE, 2),
        (ESCROW, "cashin", Y50, Outcome.DONE, 1),  # the one the plan did not cover
    ]
    assert ledger.counts(D)["cashin"] == 3
    assert ledger.counts(D)[ESCROW] == 0
    assert items_at(ledger.history(D, ALL), ESCROW) == {}


def test_a_recount_of_the_escrow_cuts_its_content_by_item(ledger: Ledger) -> None:
    def move(src: str, dst: str, item: str, n: int, outcome: Outcome) -> None:
        m = ledger.journal(D, source=src, destination=dst, item=item, count=n)
        ledger.settle(m.id, outcome, moved=n if outcome is Outcome.DONE else None)

    move(CUSTOMER, ESCROW, Y100, 2, Outcome.DONE)
    move(CUSTOMER, ESCROW, Y50, 1, Outcome.DONE)
    move(ESCROW, "cashin", Y100, 1, Outcome.UNKNOWN)  # stacked or not: nobody knows
    ledger.set_initial(D, ESCROW, 2, reason="recount")  # the device senses two notes
    counters = {c.location.name: c for c in ledger.counters(D)}
    history = ledger.history(D, ALL)
    assert items_at(history, ESCROW) == {Y100: 2, Y50: 1}  # the whole history: no cut
    assert items_at(history, ESCROW, counters[ESCROW]) == {Y100: 1, Y50: 1}
    move(CUSTOMER, ESCROW, Y10, 1, Outcome.DONE)  # after the cut: replayed on it
    move(ESCROW, "cashin", Y50, 1, Outcome.DONE)
    counters = {c.location.name: c for c in ledger.counters(D)}
    history = ledger.history(D, ALL)
    assert items_at(history, ESCROW, counters[ESCROW]) == {Y100: 1, Y10: 1}
    assert ledger.counts(D)[ESCROW] == 2
    # the replay's positions start again at the cut too (2 recounted + 1 - 1)
    books = replay(history, (), counters)
    assert sum(books.positions[ESCROW].values()) == 2


async def test_books_lock_is_one_per_books(ledger: Ledger, tmp_path: Path) -> None:
    assert books_lock(ledger, "a") is books_lock(ledger, "a")
    assert books_lock(ledger, "a") is not books_lock(ledger, "b")
    with Ledger.open(":memory:") as other:
        assert books_lock(other, "a") is not books_lock(ledger, "a")
    assert books_key(ledger, "a")[0] == str((tmp_path / "books.db").resolve())


async def test_recycler_deposit_then_dispense(tmp_path: Path) -> None:
    device = ScriptedCashInBackend()
    facet = device.dispenser()
    with Ledger.open(tmp_path / "recycler.db") as ledger:
        acceptor = CashAcceptorService(device, name="acceptor", books="recycler", ledger=ledger)
        dispenser = CashDispenserService(facet, name="dispenser", books="recycler", ledger=ledger)
        async with acceptor, dispenser:
            await acceptor.cash_in_start()
            device.insert(Y100, Y100, Y100, Y50)
            await acceptor.cash_in()
            await acceptor.cash_in_end()
            # the dispenser counts the deposited notes: they are in its units
            units = {u.id: u for u in await dispenser.cash_units()}
            assert units["recycle100"].count == 3
            assert units["recycle100"].in_ == InCounts(deposited=3)
            done = await dispenser.dispense(Money(25000, "CNY"))
            assert dict(done.counts) == {"recycle100": 2, "recycle50": 1}
            assert ledger.counts("recycler")[EXIT] == 3
            device.customer_takes()  # both faces hear it; booked once
            await asyncio.sleep(0)
            units = {u.id: u for u in await acceptor.cash_units()}
            assert units["recycle100"].count == 1
            assert units["recycle100"].out == OutCounts(presented=2, distributed=2)
            books_match(acceptor, device)
            # one's moving command waits for the other's (the books' lock)
            device.script.note_delay = 0.05
            device.insert(Y10)
            await acceptor.cash_in_start()
            cash_in = asyncio.create_task(acceptor.cash_in())
            await asyncio.sleep(0.01)
            assert books_lock(ledger, "recycler").locked()
            await dispenser.dispense(Money(10000, "CNY"))
            assert cash_in.done()
            await cash_in
            await acceptor.cash_in_rollback()
            device.customer_takes()
            await asyncio.sleep(0)
            books_match(acceptor, device)


STEPS = st.lists(
    st.one_of(
        st.tuples(
            st.just("cash_in"),
            st.lists(
                st.tuples(
                    st.sampled_from([Y100, Y50, Y10, "XXX:1"]),
                    st.sampled_from(["fit", "fit", "unfit", "counterfeit", "unrecognized"]),
                ),
                min_size=1,
                max_size=4,
            ),
        ),
        st.tuples(
            st.sampled_from(
                ["start", "end", "rollback", "take", "retract", "reset", "jam", "lose"]
            ),
            st.just([]),
        ),
    ),
    max_size=14,
)


@settings(max_examples=40, deadline=None)
@given(STEPS)
def test_books_follow_the_device(steps: list[tuple[str, list[tuple[str, str]]]]) -> None:
    asyncio.run(_run(steps))


async def _run(steps: list[tuple[str, list[tuple[str, str]]]]) -> None:
    backend = ScriptedCashInBackend()
    async with CashAcceptorService(backend, max_queue=64) as service:
        for op, notes in [("start", []), *steps]:
            try:
                if op == "start":
                    await service.cash_in_start(max_items=6)
                elif op in ("cash_in", "jam", "lose"):
                    if op == "jam":
                        backend.script.jam_at = 0
                    if op == "lose":
                        backend.script.lose = "after"
                    backend.insert(*(NoteSample(i, lv) for i, lv in notes or [(Y10, "fit")]))
                    await service.cash_in()
                elif op == "end":
                    await service.cash_in_end()
                elif op == "rollback":
                    await service.cash_in_rollback()
                elif op == "take":
                    backend.customer_takes()
                elif op == "retract":
                    await service.retract()
                elif op == "reset":
                    await service.reset()
            except HalError:
                pass
            backend.input.clear()  # what the device did not take, the customer keeps
            backend.script.lose, backend.script.jam_at = None, None  # armed for this step only
            if not service.ledger.pending(service.books):
                books_match_named(service, backend)
        await service.reset()
        books_match_named(service, backend)
        truth = backend.ground_truth()
        assert sum(truth.values()) == 0  # nothing vanishes (the customer's are negative)
        assert truth[ESCROW] == truth[TRANSPORT] == truth[EXIT] == 0


def books_match_named(service: CashAcceptorService, backend: ScriptedCashInBackend) -> None:
    counts = service.ledger.counts(service.books)
    truth = backend.ground_truth()
    assert dict(counts) == {k: truth[k] for k in counts}
    assert service.ledger.check_invariants(service.books) == []


def test_a_position_is_read_without_the_other_locations_movements(ledger: Ledger) -> None:
    """`Ledger.touching` reads the movements into and out of a position only (and from
    an id on): thousands of settled movements of the units are not read, and
    `items_at` gives from them what it gives from the whole history."""

    def move(src: str, dst: str, item: str, n: int) -> int:
        m = ledger.journal(D, source=src, destination=dst, item=item, count=n)
        ledger.settle(m.id, Outcome.DONE, moved=n)
        return m.id

    early = [move(CUSTOMER, EXIT, Y100, 2), move(EXIT, CUSTOMER, Y100, 2)]  # long ago
    for _ in range(1000):  # the units' own traffic, settled
        move(CUSTOMER, "cashin", Y50, 1)
    late = [move(CUSTOMER, EXIT, Y10, 1), move(CUSTOMER, EXIT, Y100, 1)]
    read = ledger.touching(D, (EXIT,))
    assert [r.movement.id for r in read] == [*reversed(late), *reversed(early)]
    assert [r.movement.id for r in ledger.touching(D, (EXIT,), after=early[-1])] == late[::-1]
    assert ledger.touching(D, (TRANSPORT,)) == []
    counters = {c.location.name: c for c in ledger.counters(D)}
    whole = ledger.history(D, ALL)
    assert len(whole) == 1004
    assert items_at(read, EXIT, counters[EXIT]) == items_at(whole, EXIT, counters[EXIT])
    assert items_at(read, EXIT, counters[EXIT]) == {Y10: 1, Y100: 1}
    # two positions in one read: each one's movements, newest first
    both = ledger.touching(D, (EXIT, ESCROW))
    assert [r.movement.id for r in both] == [r.movement.id for r in read]
    with pytest.raises(HalError):
        ledger.touching(D, (EXIT,), after=-1)
