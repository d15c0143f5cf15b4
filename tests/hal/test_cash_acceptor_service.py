"""CashAcceptorService over the scripted acceptor (tests/cash_in_backend.py) on a real
SQLite ledger: the cash-in transaction and the bookkeeping rules of docs/cash_in.md,
checked against the backend's ground truth."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from hal.devices.cash_acceptor import (
    CUSTOMER,
    ESCROW,
    EXIT,
    TRANSPORT,
    CashAcceptorCapabilities,
    CashInState,
    CashUnitThreshold,
    InputRefuse,
    InsertItems,
    ItemsTaken,
    NoteLevel,
    RefuseReason,
    SubCashIn,
)
from hal.devices.cash_acceptor_service import CashAcceptorService
from hal.devices.cash_model import InCounts, RetractArea
from hal.devices.cash_shared import is_acceptor_reason
from hal.errors import (
    CashInActive,
    CashUnitError,
    ConfigurationError,
    ExchangeActive,
    HalTimeout,
    InvalidData,
    MediaJam,
    NoCashInActive,
    NoItems,
    SafeDoorOpen,
    TooManyItems,
    TransactionActive,
    UnsupportedOperation,
)
from hal.events import Event, Subscription
from hal.money import Money
from hal.stimulus import NoteSample
from tests.cash_in_backend import VALIDATOR, VALIDATOR_UNITS, ScriptedCashInBackend

A = "cash_acceptor"
Y100, Y50, Y20, Y10 = "CNY:10000", "CNY:5000", "CNY:2000", "CNY:1000"


def books_match(service: CashAcceptorService, backend: ScriptedCashInBackend) -> None:
    """The ledger says what is physically there, and its invariants hold."""
    books = service.books
    counts = service.ledger.counts(books)
    truth = backend.ground_truth()
    assert dict(counts) == {k: truth[k] for k in counts}
    assert service.ledger.check_invariants(books) == []
    assert service.ledger.pending(books) == []


async def drain(sub: Subscription) -> list[Event]:
    out = []
    while True:
        try:
            out.append(await asyncio.wait_for(sub.get(), 0.01))
        except TimeoutError:
            return out


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[tuple[CashAcceptorService, ScriptedCashInBackend]]:
    backend = ScriptedCashInBackend()
    async with CashAcceptorService(backend, ledger=tmp_path / "l.db") as service:
        yield service, backend


Rig = tuple[CashAcceptorService, ScriptedCashInBackend]


async def test_the_whole_transaction(rig: Rig) -> None:
    service, backend = rig
    sub = service.events()
    status = await service.cash_in_start()
    assert status.status is CashInState.ACTIVE
    assert (await service.status()).cash_in_active
    backend.insert(Y100, Y100, Y50, NoteSample(Y20, "unfit"))
    result = await service.cash_in()
    assert dict(result.accepted) == {Y100: 2, Y50: 1, Y20: 1}
    assert result.amounts == {"CNY": Money(27000, "CNY")}
    assert result.escrow == 4
    assert dict(result.levels) == {NoteLevel.FIT: 3, NoteLevel.UNFIT: 1}
    books_match(service, backend)
    events = await drain(sub)
    kinds = [type(e) for e in events]
    assert kinds.index(InsertItems) < kinds.index(SubCashIn)
    sub_in = next(e for e in events if isinstance(e, SubCashIn))
    assert dict(sub_in.accepted) == {Y100: 2, Y50: 1, Y20: 1}
    status = await service.get_cash_in_status()
    assert (status.status, dict(status.notes), status.escrow) == (
        CashInState.ACTIVE,
        {Y100: 2, Y50: 1, Y20: 1},
        4,
    )
    ended = await service.cash_in_end()
    # fit notes to their recycling units, the unfit one to the cash box
    assert {u: dict(c) for u, c in ended.stored.items()} == {
        "recycle100": {Y100: 2},
        "recycle50": {Y50: 1},
        "cashin": {Y20: 1},
    }
    assert dict(ended.credited) == {"CNY": Money(27000, "CNY")}
    books_match(service, backend)
    assert (await service.get_cash_in_status()).status is CashInState.OK
    assert not (await service.status()).cash_in_active
    units = {u.id: u for u in await service.cash_units()}
    assert units["recycle100"].count == 2
    assert units["recycle100"].in_ == InCounts(deposited=2)
    assert units["cashin"].in_ == InCounts(deposited=1)
    with pytest.raises(NoCashInActive):
        await service.cash_in_end()


async def test_no_recycling_when_asked_or_full(tmp_path: Path) -> None:
    backend = ScriptedCashInBackend()
    backend.fill("recycle50", Y50, 499)
    async with CashAcceptorService(backend, ledger=tmp_path / "l.db") as service:
        await service.start_exchange()
        await service.set_cash_unit("recycle50", initial=499)
        await service.end_exchange()
        await service.cash_in_start()
        backend.insert(Y50, Y50, Y100)
        await service.cash_in()
        ended = await service.cash_in_end()  # 2 fifties do not fit in recycle50
        assert {u: dict(c) for u, c in ended.stored.items()} == {
            "cashin": {Y50: 2},
            "recycle100": {Y100: 1},
        }
        await service.cash_in_start(use_recycle_units=False)
        backend.insert(Y100)
        await service.cash_in()
        ended = await service.cash_in_end()
        assert {u: dict(c) for u, c in ended.stored.items()} == {"cashin": {Y100: 1}}
        books_match(service, backend)


async def test_item_limit(rig: Rig) -> None:
    service, backend = rig
    sub = service.events(kinds=[InputRefuse])
    await service.cash_in_start(max_items=2)
    backend.insert(Y10, Y10, Y10)
    result = await service.cash_in()
    assert dict(result.accepted) == {Y10: 2}
    assert dict(result.refused) == {RefuseReason.LIMIT_OVER_TOTAL_ITEMS: 1}
    [refuse] = await drain(sub)
    assert isinstance(refuse, InputRefuse)
    assert (refuse.reason, refuse.count) == (RefuseReason.LIMIT_OVER_TOTAL_ITEMS, 1)
    calls = len(backend.calls)
    with pytest.raises(TooManyItems):
        await service.cash_in()
    assert len(backend.calls) == calls  # refused without asking the device
    assert (await service.get_cash_in_status()).refused == 1
    books_match(service, backend)


async def test_amount_limit(rig: Rig) -> None:
    service, backend = rig
    await service.cash_in_start(max_amount=15000, currency="CNY")
    backend.insert(Y100, Y100, Y50)
    result = await service.cash_in()
    assert dict(result.accepted) == {Y100: 1, Y50: 1}
    assert dict(result.refused) == {RefuseReason.LIMIT_OVER_AMOUNT: 1}
    backend.insert(Y10)
    result = await service.cash_in()  # 0 left of the amount: refused by the device
    assert dict(result.refused) == {RefuseReason.LIMIT_OVER_AMOUNT: 1}
    books_match(service, backend)


async def test_escrow_full_is_too_many_items(tmp_path: Path) -> None:
    backend = ScriptedCashInBackend(caps=CashAcceptorCapabilities(max_cash_in_items=2))
    async with CashAcceptorService(backend, ledger=tmp_path / "l.db") as service:
        await service.cash_in_start()
        backend.insert(Y10, Y10, Y10)
        result = await service.cash_in()
        assert dict(result.refused) == {RefuseReason.STACKER_FULL: 1}
        with pytest.raises(TooManyItems):
            await service.cash_in()
        await service.cash_in_end()
        books_match(service, backend)


async def test_argument_and_state_errors(rig: Rig) -> None:
    service, backend = rig
    with pytest.raises(NoCashInActive):
        await service.cash_in()
    with pytest.raises(NoCashInActive):
        await service.cash_in_rollback()
    with pytest.raises(TypeError):
        await service.cash_in_start(max_amount=1.5, currency="CNY")  # type: ignore[arg-type]
    with pytest.raises(InvalidData):
        await service.cash_in_start(max_items=-1)
    with pytest.raises(InvalidData):
        await service.cash_in_start(max_amount=100)
    await service.cash_in_start()
    with pytest.raises(CashInActive):
        await service.cash_in_start()
    with pytest.raises(CashInActive):
        await service.configure_note_types([Y100])
    with pytest.raises(CashInActive):
        await service.start_exchange()
    with pytest.raises(NoItems):
        await service.cash_in_end()  # nothing in the escrow: the transaction ends
    assert (await service.get_cash_in_status()).status is CashInState.OK
    backend.script.safe_door_open = True
    with pytest.raises(SafeDoorOpen):
        await service.cash_in_start()
    backend.script.safe_door_open = False
    with pytest.raises(UnsupportedOperation):
        await service.retract(RetractArea.STACKER)


async def test_note_types_and_refusals(rig: Rig) -> None:
    service, backend = rig
    assert all(t.enabled for t in await service.note_types())
    assert backend.enabled == {t.item for t in await service.note_types()}
    types = await service.configure_note_types([Y100, Y50])
    assert {t.item for t in types if t.enabled} == {Y100, Y50}
    assert backend.enabled == {Y100, Y50}
    with pytest.raises(InvalidData):
        await service.configure_note_types(["USD:100"])
    sub = service.events(kinds=[InputRefuse])
    await service.cash_in_start()
    backend.insert(Y10, Y100, "XXX:1", NoteSample(Y50, "unrecognized"))
    result = await service.cash_in()
    assert dict(result.accepted) == {Y100: 1}
    assert dict(result.refused) == {RefuseReason.INVALID_BILL: 3}
    [refuse] = await drain(sub)
    assert isinstance(refuse, InputRefuse)
    assert refuse.count == 3
    assert backend.ground_truth()[CUSTOMER] == -1  # the refused ones went straight back
    books_match(service, backend)


async def test_enabled_at_construction(tmp_path: Path) -> None:
    backend = ScriptedCashInBackend()
    async with CashAcceptorService(backend, enabled=[Y100], ledger=tmp_path / "l.db") as svc:
        assert [t.item for t in await svc.note_types() if t.enabled] == [Y100]
        assert backend.enabled == {Y100}
    with pytest.raises(ConfigurationError):
        async with CashAcceptorService(backend, enabled=["EUR:500"], ledger=tmp_path / "l.db"):
            pass


async def test_counterfeit_is_retained_not_credited(rig: Rig) -> None:
    service, backend = rig
    await service.cash_in_start()
    backend.insert(Y100, NoteSample(Y100, "counterfeit"), NoteSample(Y50, "suspect"))
    result = await service.cash_in()
    assert dict(result.accepted) == {Y100: 1}
    assert dict(result.retained) == {Y100: 1, Y50: 1}
    status = await service.get_cash_in_status()
    assert (dict(status.notes), dict(status.retained)) == ({Y100: 1}, {Y100: 1, Y50: 1})
    ended = await service.cash_in_end()
    assert {u: dict(c) for u, c in ended.stored.items()} == {
        "recycle100": {Y100: 1},
        "retract": {Y100: 1, Y50: 1},
    }
    assert dict(ended.credited) == {"CNY": Money(10000, "CNY")}
    units = {u.id: u for u in await service.cash_units()}
    assert units["retract"].in_ == InCounts(retracted=2)
    books_match(service, backend)


async def test_rollback_to_the_exit_taken_then_retract(rig: Rig) -> None:
    service, backend = rig
    sub = service.events(kinds=[ItemsTaken])
    await service.cash_in_start()
    backend.insert(Y100, Y50, NoteSample(Y10, "counterfeit"))
    await service.cash_in()
    ended = await service.cash_in_rollback()
    assert dict(ended.returned) == {Y100: 1, Y50: 1}
    assert {u: dict(c) for u, c in ended.stored.items()} == {"retract": {Y10: 1}}
    assert (await service.get_cash_in_status()).status is CashInState.ROLLBACK
    books_match(service, backend)
    assert service.ledger.counts(A)[EXIT] == 2
    backend.customer_takes()
    await asyncio.wait_for(sub.get(), 1)
    assert service.ledger.counts(A)[EXIT] == 0  # booked before it was published
    books_match(service, backend)
    # Booked as the acceptor's own: a kill between its journal and its settle leaves it
    # to the acceptor's reconcile (a recycler's dispenser side never settles it).
    taken = [
        r.movement
        for r in service.ledger.history(A, 100)
        if (r.movement.source, r.movement.destination) == (EXIT, "customer")
    ]
    assert len(taken) == 2  # one per note item
    assert all(is_acceptor_reason(m.reason) for m in taken), [m.reason for m in taken]
    # again, and this time the customer leaves them: retract
    await service.cash_in_start()
    backend.insert(Y20)
    await service.cash_in()
    await service.cash_in_rollback()
    assert await service.retract() == 1
    books_match(service, backend)
    with pytest.raises(NoItems):
        await service.retract()


async def test_rollback_to_the_customer_and_without_escrow(tmp_path: Path) -> None:
    backend = ScriptedCashInBackend(VALIDATOR_UNITS, VALIDATOR)
    async with CashAcceptorService(backend, ledger=tmp_path / "l.db") as service:
        await service.cash_in_start()
        backend.insert(Y100, NoteSample(Y10, "suspect"), Y50)
        result = await service.cash_in()  # one note of escrow; a validator refuses suspects
        assert dict(result.accepted) == {Y100: 1}
        assert dict(result.refused) == {
            RefuseReason.INVALID_BILL: 1,
            RefuseReason.STACKER_FULL: 1,
        }
        ended = await service.cash_in_rollback()
        assert dict(ended.returned) == {Y100: 1}
        assert service.ledger.counts(A)[ESCROW] == 0
        books_match(service, backend)
    caps = CashAcceptorCapabilities(escrow=False)
    async with CashAcceptorService(
        ScriptedCashInBackend(caps=caps), ledger=tmp_path / "m.db"
    ) as service:
        await service.cash_in_start()
        with pytest.raises(UnsupportedOperation):
            await service.cash_in_rollback()


async def test_fault_mid_cash_in_keeps_the_note_list(rig: Rig) -> None:
    service, backend = rig
    await service.cash_in_start()
    backend.insert(Y100, Y50)
    await service.cash_in()
    backend.script.jam_at = 1
    backend.insert(Y20, Y10, Y10)
    with pytest.raises(MediaJam, match="1 notes in"):
        await service.cash_in()
    status = await service.get_cash_in_status()
    assert status.status is CashInState.ACTIVE
    assert dict(status.notes) == {Y100: 1, Y50: 1, Y20: 1}
    assert service.ledger.counts(A)[TRANSPORT] == 1
    books_match(service, backend)
    await service.reset()  # escrow and transport to the retract unit
    assert (await service.get_cash_in_status()).status is CashInState.RESET
    counts = service.ledger.counts(A)
    assert (counts[ESCROW], counts[TRANSPORT], counts["retract"]) == (0, 0, 4)
    books_match(service, backend)


async def test_cash_box_full_at_end(rig: Rig) -> None:
    service, backend = rig
    await service.cash_in_start()
    backend.insert(Y100)
    await service.cash_in()
    backend.script.cashbox_full = True
    with pytest.raises(CashUnitError):
        await service.cash_in_end()
    status = await service.get_cash_in_status()
    assert (status.status, status.escrow) == (CashInState.OK, 1)  # ended; the note stays
    books_match(service, backend)
    with pytest.raises(TransactionActive):
        await service.start_exchange()
    await service.reset()
    books_match(service, backend)


async def test_cancel_waiting_for_notes_keeps_the_transaction(rig: Rig) -> None:
    service, backend = rig
    await service.cash_in_start()
    backend.insert(Y10)
    await service.cash_in()
    with pytest.raises(HalTimeout):
        await service.cash_in(timeout=0.05)  # nobody inserts anything
    status = await service.get_cash_in_status()
    assert (status.status, dict(status.notes)) == (CashInState.ACTIVE, {Y10: 1})
    books_match(service, backend)


async def test_exchange(rig: Rig) -> None:
    service, backend = rig
    await service.start_exchange()
    with pytest.raises(ExchangeActive):
        await service.cash_in_start()
    await service.set_cash_unit("cashin", initial=0, thresholds=(None, 3))
    units = await service.end_exchange()
    assert backend.exchanging is False
    assert {u.id for u in units} == {"cashin", "recycle100", "recycle50", "retract"}
    sub = service.events(kinds=[CashUnitThreshold])
    await service.cash_in_start()
    backend.insert(Y10, Y10, Y10)
    await service.cash_in()
    await service.cash_in_end()
    unit = next(u for u in await service.cash_units() if u.id == "cashin")
    assert unit.replenishment.value == "high"
    [level] = await drain(sub)
    assert isinstance(level, CashUnitThreshold)
    assert (level.unit, level.replenishment.value) == ("cashin", "high")
    await service.cash_in_start()
    backend.insert(Y100)
    await service.cash_in()
    await service.cash_in_rollback()
    with pytest.raises(TransactionActive):
        await service.start_exchange()  # notes at the exit


async def test_cancel_mid_cash_in_keeps_what_came_in(rig: Rig) -> None:
    service, backend = rig
    await service.cash_in_start()
    backend.script.note_delay = 0.02
    backend.insert(Y10, Y10, Y10, Y10, Y10, Y10, Y10, Y10, Y10, Y10)
    task = asyncio.create_task(service.cash_in())
    await asyncio.wait_for(backend.took.wait(), 5)  # a note is in the escrow
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    status = await service.get_cash_in_status()
    taken = status.notes.get(Y10, 0)
    assert 0 < taken < 10
    assert status.escrow == taken
    assert len(backend.input) == 10 - taken  # the rest still in the input
    books_match(service, backend)
