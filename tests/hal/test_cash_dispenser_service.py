"""CashDispenserService over the scripted backend (tests/cash_backend.py): the
bookkeeping rules of docs/cash.md, checked against the backend's ground truth."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest

from hal.devices.cash_dispenser import (
    CUSTOMER,
    EXIT,
    STACKER,
    TRANSPORT,
    CashUnitThreshold,
    Denomination,
    IncompleteDispense,
    IncompleteRetract,
    ItemsPresented,
    ItemsTaken,
    MoveReport,
    NoteError,
    NoteErrorReason,
    PresentState,
    ReplenishmentStatus,
    RetractArea,
    StartDispense,
)
from hal.devices.cash_dispenser_service import CashDispenserService
from hal.devices.cash_model import Move, OutCounts
from hal.errors import (
    CashUnitError,
    ConfigurationError,
    ExchangeActive,
    HalTimeout,
    InvalidCurrency,
    InvalidData,
    ItemsLeft,
    LedgerError,
    MediaJam,
    NoExchangeActive,
    NoItems,
    SafeDoorOpen,
    ShutterFail,
    TransactionActive,
    UnsupportedOperation,
)
from hal.events import Event, StatusChanged, Subscription
from hal.ledger import Ledger, Outcome
from hal.money import Money
from tests.cash_backend import DIRECT, ScriptedCashBackend

D = "cash_dispenser"
FULL = {"unit1": 20, "unit2": 20, "unit3": 20, "unit4": 20}


async def load(service: CashDispenserService, notes: dict[str, int]) -> None:
    """Count the notes in at an exchange, as an operator does."""
    await service.start_exchange()
    for unit, n in notes.items():
        await service.set_cash_unit(unit, initial=n)
    await service.end_exchange()


def books_match(service: CashDispenserService, backend: ScriptedCashBackend) -> None:
    """The ledger says what is physically there, and its invariants hold."""
    counts = service.ledger.counts(D)
    truth = backend.ground_truth()
    assert dict(counts.items()) == {k: truth[k] for k in counts}
    assert service.ledger.check_invariants(D) == []
    assert service.ledger.pending(D) == []
    for c in service.ledger.counters(D):
        assert c.initial + c.moved_in - c.moved_out == counts[c.location.name]


async def drain(sub: Subscription) -> list[Event]:
    out = []
    while True:
        try:
            out.append(await asyncio.wait_for(sub.get(), 0.01))
        except TimeoutError:
            return out


@pytest.fixture
async def rig() -> AsyncIterator[tuple[CashDispenserService, ScriptedCashBackend]]:
    backend = ScriptedCashBackend(notes=FULL)
    async with CashDispenserService(backend) as service:
        await load(service, FULL)
        yield service, backend


async def test_dispense_present_take(rig: tuple[CashDispenserService, ScriptedCashBackend]) -> None:
    service, backend = rig
    sub = service.events()
    done = await service.dispense(Money(38000, "CNY"))
    assert dict(done.counts) == {"unit1": 3, "unit2": 1, "unit3": 1, "unit4": 1}
    assert done.amount == Money(38000, "CNY")
    books_match(service, backend)
    assert service.ledger.counts(D)[STACKER] == 6
    assert await service.present() == 6
    b = await service.get_present_status()
    assert (b.state, b.taken) == (PresentState.PRESENTED, False)
    backend.customer_takes()
    events = await drain(sub)
    kinds = [type(e) for e in events]
    assert kinds.index(StartDispense) < kinds.index(ItemsPresented) < kinds.index(ItemsTaken)
    assert next(e for e in events if isinstance(e, ItemsPresented)).count == 6
    assert service.ledger.counts(D)[EXIT] == 0
    books_match(service, backend)
    b = await service.get_present_status()
    assert (b.state, b.taken) == (PresentState.PRESENTED, True)
    assert b.denomination is not None
    assert b.denomination.amount == Money(38000, "CNY")
    units = {u.id: u for u in await service.cash_units()}
    assert units["unit1"].count == 17
    assert units["unit1"].initial == 20
    assert units["unit1"].out == OutCounts(presented=3, distributed=3)


async def test_items_taken_is_booked_before_it_is_published(
    rig: tuple[CashDispenserService, ScriptedCashBackend],
) -> None:
    service, backend = rig
    sub = service.events(kinds=[ItemsTaken])
    await service.dispense(Money(10000, "CNY"))
    await service.present()
    backend.customer_takes()
    await asyncio.wait_for(sub.get(), 1)
    assert service.ledger.counts(D)[EXIT] == 0  # already journalled when it was heard


async def test_items_taken_while_the_present_settles(
    rig: tuple[CashDispenserService, ScriptedCashBackend],
) -> None:
    service, backend = rig
    sub = service.events(kinds=[ItemsPresented, ItemsTaken])
    await service.dispense(Money(20000, "CNY"))
    backend.script.take_during_present = True
    assert await service.present() == 2
    events = await drain(sub)
    assert [type(e) for e in events] == [ItemsPresented, ItemsTaken]
    assert service.ledger.counts(D)[EXIT] == 0
    books_match(service, backend)
    status = await service.get_present_status()
    assert status.taken is True


async def test_amounts(rig: tuple[CashDispenserService, ScriptedCashBackend]) -> None:
    service, _ = rig
    by_decimal = await service.denominate(Decimal("170.00"), "CNY")
    by_minor = await service.denominate(17000, "CNY")
    by_money = await service.denominate(Money(17000, "CNY"))
    assert by_decimal == by_minor == by_money
    assert dict(by_money.counts) == {"unit1": 1, "unit2": 1, "unit3": 1}
    with pytest.raises(TypeError):
        await service.denominate(170.0, "CNY")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        await service.dispense(17000)  # type: ignore[arg-type]
    with pytest.raises(InvalidCurrency):
        await service.denominate(Decimal("10"), "USD")
    with pytest.raises(InvalidData):
        await service.denominate(Decimal("10"))
    with pytest.raises(InvalidData):
        await service.denominate(Money(100, "CNY"), "USD")
    eq = await service.denominate(Money(30000, "CNY"), mix="equalEmptying")
    assert sum(eq.counts.values()) >= 3


async def test_denomination_checks(rig: tuple[CashDispenserService, ScriptedCashBackend]) -> None:
    service, backend = rig
    cny = Money(10000, "CNY")
    with pytest.raises(InvalidData, match="not fitted"):
        await service.dispense(Denomination(cny, {"unit9": 1}))
    with pytest.raises(InvalidData, match="dispenses no notes"):
        await service.dispense(Denomination(cny, {"reject": 1}))
    with pytest.raises(InvalidData, match="make"):
        await service.dispense(Denomination(cny, {"unit2": 1}))
    assert backend.calls == []
    done = await service.dispense(Denomination(cny, {"unit2": 2}))
    assert dict(done.counts) == {"unit2": 2}


async def test_dispense_refusals(rig: tuple[CashDispenserService, ScriptedCashBackend]) -> None:
    service, backend = rig
    await service.dispense(Money(10000, "CNY"))
    with pytest.raises(ItemsLeft, match="stacker"):
        await service.dispense(Money(10000, "CNY"))
    await service.present()
    with pytest.raises(ItemsLeft, match="exit"):
        await service.dispense(Money(10000, "CNY"))
    backend.customer_takes()
    backend.script.safe_door_open = True
    with pytest.raises(SafeDoorOpen):
        await service.dispense(Money(10000, "CNY"))
    backend.script.safe_door_open = False
    await service.start_exchange()
    with pytest.raises(ExchangeActive):
        await service.dispense(Money(10000, "CNY"))
    with pytest.raises(ExchangeActive):
        await service.present()
    await service.end_exchange()
    assert backend.calls == ["dispense", "present"]


async def test_jam_mid_dispense(rig: tuple[CashDispenserService, ScriptedCashBackend]) -> None:
    service, backend = rig
    sub = service.events(kinds=[IncompleteDispense])
    backend.script.jam_after = 2
    with pytest.raises(MediaJam) as caught:
        await service.dispense(Denomination(Money(50000, "CNY"), {"unit1": 5}))
    assert "2 of 5 notes reached the stacker" in caught.value.message
    assert "unit1->transport 1" in caught.value.message
    event = await asyncio.wait_for(sub.get(), 1)
    assert isinstance(event, IncompleteDispense)
    assert dict(event.counts) == {"unit1": 2}
    assert event.error_code == "mediaJam"
    counts = service.ledger.counts(D)
    assert (counts["unit1"], counts[STACKER], counts[TRANSPORT]) == (17, 2, 1)
    books_match(service, backend)
    with pytest.raises(ItemsLeft, match="transport"):
        await service.dispense(Money(10000, "CNY"))
    await service.reset()
    counts = service.ledger.counts(D)
    assert (counts[STACKER], counts[TRANSPORT], counts["reject"]) == (0, 0, 3)
    books_match(service, backend)
    units = {u.id: u for u in await service.cash_units()}
    assert units["unit1"].out == OutCounts(rejected=3)


async def test_double_note_and_empty_unit(
    rig: tuple[CashDispenserService, ScriptedCashBackend],
) -> None:
    service, backend = rig
    sub = service.events(kinds=[NoteError, IncompleteDispense])
    backend.script.double_at = {1}
    done = await service.dispense(Denomination(Money(30000, "CNY"), {"unit1": 3}))
    assert dict(done.counts) == {"unit1": 3}
    assert dict(done.rejected) == {"unit1": 1}
    event = await asyncio.wait_for(sub.get(), 1)
    assert isinstance(event, NoteError)
    assert event.reason is NoteErrorReason.DOUBLE_NOTE
    assert service.ledger.counts(D)["reject"] == 1
    books_match(service, backend)
    await service.reject()
    backend.notes["unit4"] = 1  # the ledger says 20: one is really there
    with pytest.raises(CashUnitError, match="1 of 2 notes"):
        await service.dispense(Denomination(Money(2000, "CNY"), {"unit4": 2}))
    event = await asyncio.wait_for(sub.get(), 1)
    assert isinstance(event, IncompleteDispense)
    assert dict(event.counts) == {"unit4": 1}
    assert service.ledger.counts(D)["unit4"] == 19  # what moved, not what was asked


async def test_cancel_mid_dispense(rig: tuple[CashDispenserService, ScriptedCashBackend]) -> None:
    service, backend = rig
    sub = service.events(kinds=[IncompleteDispense])
    backend.script.pick_delay = 0.02
    task = asyncio.create_task(service.dispense(Denomination(Money(100000, "CNY"), {"unit1": 10})))
    while backend.notes[STACKER] < 3:  # noqa: ASYNC110 (the backend has no event for it)
        await asyncio.sleep(0.005)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    moved = backend.notes[STACKER]
    assert 3 <= moved < 10
    event = await asyncio.wait_for(sub.get(), 1)
    assert isinstance(event, IncompleteDispense)
    assert dict(event.counts) == {"unit1": moved}
    assert event.error_code == "canceled"
    assert service.ledger.counts(D)[STACKER] == moved
    books_match(service, backend)


async def test_timeout_mid_dispense(rig: tuple[CashDispenserService, ScriptedCashBackend]) -> None:
    service, backend = rig
    backend.script.pick_delay = 0.02
    with pytest.raises(HalTimeout):
        await service.dispense(Denomination(Money(100000, "CNY"), {"unit1": 10}), timeout=0.1)
    assert 0 < backend.notes[STACKER] < 10
    books_match(service, backend)


async def test_a_ledger_that_cannot_write_stops_the_device(tmp_path: Path) -> None:
    backend = ScriptedCashBackend(notes=FULL)
    path = tmp_path / "ledger.sqlite"
    with Ledger.open(path, busy_timeout=0.05) as ledger:
        async with CashDispenserService(backend, ledger=ledger) as service:
            await load(service, FULL)
            blocker = sqlite3.connect(path, isolation_level=None)
            try:
                blocker.execute("BEGIN IMMEDIATE")  # holds the write lock past the timeout
                with pytest.raises(LedgerError):
                    await service.dispense(Money(10000, "CNY"))
            finally:
                blocker.execute("ROLLBACK")
                blocker.close()
            assert ledger.pending(D) == []  # nothing half-written either
    assert backend.calls == []
    assert backend.ground_truth()[STACKER] == 0


async def test_connection_lost_mid_dispense_is_reconciled(
    rig: tuple[CashDispenserService, ScriptedCashBackend],
) -> None:
    service, backend = rig
    backend.script.lose = "after"
    with pytest.raises(Exception, match="line dropped"):
        await service.dispense(Money(30000, "CNY"))
    assert len(service.ledger.pending(D)) == 1  # 3 x unit1, still pending
    await service.present()  # reconciles first (rule 4), then presents what is there
    assert service.ledger.counts(D)[EXIT] == 3
    books_match(service, backend)
    backend.customer_takes()
    backend.script.lose = "before"
    with pytest.raises(Exception, match="line dropped"):
        await service.dispense(Money(30000, "CNY"))
    assert await service.denominate(Money(1000, "CNY"))  # settles it failed, moves nothing
    (last,) = service.ledger.history(D, 1)
    assert last.settlement is not None
    assert last.settlement.outcome is Outcome.FAILED
    books_match(service, backend)


async def _pending_group(ledger: Ledger, token: int) -> list[int]:
    ids = []
    for unit, n in (("unit1", 3), ("unit2", 2)):
        m = ledger.journal(
            D,
            source=unit,
            destination=STACKER,
            item=f"CNY:{ {'unit1': 10000, 'unit2': 5000}[unit] }",
            count=n,
            command_id=token,
            reason="dispense",
        )
        ids.append(m.id)
    return ids


@pytest.mark.parametrize("half", [False, True])
async def test_reconcile_at_open_from_the_device_record(half: bool) -> None:
    backend = ScriptedCashBackend(notes=FULL)
    with Ledger.open(":memory:") as ledger:
        async with CashDispenserService(backend, ledger=ledger) as service:
            await load(service, FULL)
        token = 777
        ids = await _pending_group(ledger, token)
        # What the device did (a double note on top, unplanned): applied at the next open.
        moves = (
            Move("unit1", STACKER, "CNY:10000", 3),
            Move("unit2", STACKER, "CNY:5000", 1),
            Move("unit2", "reject", "CNY:5000", 1),
        )
        for m in moves:
            backend.notes[m.source] -= m.count
            backend.notes[m.destination] += m.count
        backend.log[token] = MoveReport(moves)
        if half:  # the previous reconcile settled one, journalled the reject, then died
            ledger.settle(ids[0], Outcome.DONE, moved=3)
            ledger.journal(
                D,
                source="unit2",
                destination="reject",
                item="CNY:5000",
                count=1,
                command_id=token,
                reason="dispense: reported, not planned",
            )
        for _ in range(2):  # twice: the second finds nothing to do
            async with CashDispenserService(backend, ledger=ledger) as service:
                books_match(service, backend)
            rows = ledger.history(D, 10)
            assert len([r for r in rows if r.movement.command_id == token]) == 3


@pytest.mark.parametrize(
    ("knows", "received", "outcome"),
    [(True, False, Outcome.FAILED), (False, None, Outcome.UNKNOWN)],
)
async def test_reconcile_not_received_or_unknown(
    knows: bool, received: bool | None, outcome: Outcome
) -> None:
    caps = None if knows else DIRECT
    backend = ScriptedCashBackend(notes=FULL, caps=caps)
    with Ledger.open(":memory:") as ledger:
        async with CashDispenserService(backend, ledger=ledger) as service:
            await load(service, FULL)
        await _pending_group(ledger, 888)
        async with CashDispenserService(backend, ledger=ledger) as service:
            assert ledger.pending(D) == []
            outcomes = {r.settlement.outcome for r in ledger.history(D, 2) if r.settlement}
            assert outcomes == {outcome}
            if outcome is Outcome.UNKNOWN:
                units = {u.id: u for u in await service.cash_units()}
                assert units["unit1"].out.unknown == 3
                assert units["unit1"].count == 20


async def test_taken_while_the_hal_was_down() -> None:
    backend = ScriptedCashBackend(notes=FULL)
    with Ledger.open(":memory:") as ledger:
        async with CashDispenserService(backend, ledger=ledger) as service:
            await load(service, FULL)
            await service.dispense(Money(10000, "CNY"))
            await service.present()
        backend.notes[EXIT], backend.notes[CUSTOMER], backend.taken = 0, 1, True
        async with CashDispenserService(backend, ledger=ledger) as service:
            books_match(service, backend)
            status = await service.get_present_status()
            assert status.taken is True


async def test_present_status_survives_a_restart() -> None:
    backend = ScriptedCashBackend(notes=FULL)
    with Ledger.open(":memory:") as ledger:
        async with CashDispenserService(backend, ledger=ledger) as service:
            await load(service, FULL)
            await service.dispense(Money(25000, "CNY"))
            await service.present()
            before = await service.get_present_status()
        async with CashDispenserService(backend, ledger=ledger) as service:
            assert await service.get_present_status() == before
            assert before.state is PresentState.PRESENTED
            assert before.taken is False


async def test_present_and_retract(rig: tuple[CashDispenserService, ScriptedCashBackend]) -> None:
    service, backend = rig
    sub = service.events(kinds=[IncompleteRetract])
    with pytest.raises(NoItems):
        await service.present()
    with pytest.raises(NoItems):
        await service.retract()
    with pytest.raises(UnsupportedOperation):
        await service.retract(RetractArea.TRANSPORT)
    await service.dispense(Money(40000, "CNY"))
    backend.script.shutter_jam = True
    with pytest.raises(ShutterFail, match="0 of 4"):
        await service.present()
    assert await service.present() == 4
    backend.script.retract_leaves = 1
    assert await service.retract() == 3
    event = await asyncio.wait_for(sub.get(), 1)
    assert isinstance(event, IncompleteRetract)
    assert (event.retracted, event.left) == (3, 1)
    assert await service.retract(RetractArea.REJECT) == 1
    books_match(service, backend)
    units = {u.id: u for u in await service.cash_units()}
    assert units["unit1"].out == OutCounts(presented=4)
    assert units["retract"].in_.retracted == 3
    assert units["reject"].in_.retracted == 1
    status = await service.get_present_status()
    assert (status.state, status.taken) == (PresentState.PRESENTED, False)


async def test_reject_count_and_test(rig: tuple[CashDispenserService, ScriptedCashBackend]) -> None:
    service, backend = rig
    with pytest.raises(NoItems):
        await service.reject()
    await service.dispense(Money(20000, "CNY"))
    assert await service.reject() == 2
    units = await service.test_cash_units()
    assert {u.id: u.count for u in units}["unit2"] == 19
    backend.notes["unit3"] = 15  # five fewer than the ledger thinks
    counted = await service.count(["unit3", "unit4"])
    assert dict(counted) == {"unit3": 15, "unit4": 19}
    books_match(service, backend)  # the count corrected unit3 to what was there
    with pytest.raises(InvalidData):
        await service.count(["reject"])
    with pytest.raises(TypeError):
        await service.count("unit1")
    assert service.ledger.counts(D)["reject"] == 2 + 4 + 34


async def test_exchange(rig: tuple[CashDispenserService, ScriptedCashBackend]) -> None:
    service, backend = rig
    with pytest.raises(NoExchangeActive):
        await service.set_cash_unit("unit1", initial=5)
    with pytest.raises(NoExchangeActive):
        await service.end_exchange()
    await service.dispense(Money(10000, "CNY"))
    with pytest.raises(TransactionActive):
        await service.start_exchange()
    await service.reject()
    await service.start_exchange()
    assert (await service.status()).exchange_active
    assert backend.exchanging
    status_events = service.events(kinds=[StatusChanged])
    service.status_changed(await backend.get_status())  # as a backend reports it
    assert await drain(status_events) == []  # still active: nothing changed
    for call in (
        service.reject(),
        service.reset(),
        service.count(),
        service.denominate(Money(1, "CNY")),
    ):
        with pytest.raises(ExchangeActive):
            await call
    unit = await service.set_cash_unit("unit1", initial=30, thresholds=(5, 25))
    assert (unit.count, unit.initial, unit.replenishment) == (30, 30, ReplenishmentStatus.HIGH)
    with pytest.raises(InvalidData):
        await service.set_cash_unit("unit1", thresholds=(9, 3))
    with pytest.raises(InvalidData):
        await service.set_cash_unit("nope", initial=1)
    backend.notes["unit1"] = 30
    await service.end_exchange()
    assert not (await service.status()).exchange_active


async def test_threshold_events() -> None:
    backend = ScriptedCashBackend(notes=FULL)
    async with CashDispenserService(backend, thresholds={"unit1": (17, None)}) as service:
        await load(service, FULL)
        sub = service.events(kinds=[CashUnitThreshold])
        await service.dispense(Denomination(Money(20000, "CNY"), {"unit1": 2}))
        assert await drain(sub) == []
        await service.reject()
        await service.dispense(Denomination(Money(10000, "CNY"), {"unit1": 1}))
        events = await drain(sub)
        crossed = [(e.unit, e.replenishment) for e in events if isinstance(e, CashUnitThreshold)]
        assert crossed == [("unit1", ReplenishmentStatus.LOW)]
        assert len(events) == 1


async def test_thresholds_for_a_unit_not_fitted_refuse_the_open() -> None:
    backend = ScriptedCashBackend(notes=FULL)
    service = CashDispenserService(backend, thresholds={"unit9": (1, None)})
    with pytest.raises(ConfigurationError, match="unit9"):
        await service.open()
    assert not service.is_open
    with pytest.raises(TypeError):
        CashDispenserService(backend, thresholds={"unit1": (1.5, None)})  # type: ignore[dict-item]


async def test_a_dispenser_without_stacker() -> None:
    backend = ScriptedCashBackend(notes=FULL, caps=DIRECT)
    async with CashDispenserService(backend) as service:
        await load(service, FULL)
        done = await service.dispense(Money(30000, "CNY"))
        assert done.amount == Money(30000, "CNY")
        with pytest.raises(UnsupportedOperation):
            await service.present()
        with pytest.raises(UnsupportedOperation):
            await service.retract()
        books_match(service, backend)
        assert backend.notes[CUSTOMER] == 3
        units = {u.id: u for u in await service.cash_units()}
        assert units["unit1"].out == OutCounts(presented=3, distributed=3)
        status = await service.get_present_status()
        assert (status.state, status.taken) == (PresentState.PRESENTED, True)


async def test_a_path_ledger_is_opened_and_closed_with_the_device(tmp_path: Path) -> None:
    backend = ScriptedCashBackend(notes=FULL)
    path = tmp_path / "cash.sqlite"
    async with CashDispenserService(backend, ledger=path) as service:
        await load(service, FULL)
        await service.dispense(Money(10000, "CNY"))
    async with CashDispenserService(backend, ledger=path) as service:
        assert service.ledger.counts(D)[STACKER] == 1
        books_match(service, backend)
    with Ledger.open(path, read_only=True) as reader:
        assert reader.counts(D)["unit1"] == 19
