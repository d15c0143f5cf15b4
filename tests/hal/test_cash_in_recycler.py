"""A recycler's two services on one set of books (docs/cash_in.md, "Recycler"): each
pending operation is reconciled by the service that made it, the dispenser's open
does not wait for the acceptor's customer; and the cash-in's end with notes it does
not credit (a refusal the validator could not give back, a retained note stored in
the retract unit)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from hal.devices.cash_acceptor import (
    CUSTOMER,
    ESCROW,
    CashInLimits,
    CashInReport,
    CashInState,
)
from hal.devices.cash_acceptor_service import CashAcceptorService
from hal.devices.cash_dispenser_service import CashDispenserService
from hal.devices.cash_model import Fault, MoveReport
from hal.errors import (
    CashUnitError,
    ConnectionLost,
    HardwareError,
    NotDispensable,
    PositionNotEmpty,
)
from hal.ledger import Ledger, Outcome
from hal.money import Money
from hal.stimulus import NoteSample
from simulator.models.cash_acceptor import CashAcceptorModel
from simulator.world import CashAcceptorSetup, World
from tests.cash_in_backend import VALIDATOR, VALIDATOR_UNITS, ScriptedCashInBackend
from tests.hal.test_cash_acceptor_service import Y10, Y100, books_match

Y20 = "CNY:2000"
BOOKS = "recycler"


def _lose_after(model: CashAcceptorModel) -> Callable[[], None]:
    """The model's next cash_in acts, then its answer is lost; returns the undo."""
    real = model.cash_in

    async def lost(limits: CashInLimits, token: int) -> CashInReport:
        await real(limits, token)
        raise ConnectionLost("the line dropped before the answer")

    model.cash_in = lost  # type: ignore[method-assign]

    def undo() -> None:
        model.cash_in = real  # type: ignore[method-assign]

    return undo


def _is_cash_in(ledger: Ledger) -> bool:
    return all(m.source == CUSTOMER and m.destination == ESCROW for m in ledger.pending(BOOKS))


@pytest.mark.parametrize(
    ("profile", "expect"),
    [
        # NV11: knows no operations, senses its escrow (one note): the escrow rule
        ("nv11", {Y10: 1}),
        # deposit recycler: knows its operations: the record, joined to the transaction
        ("default", {Y10: 1, Y20: 1}),
    ],
)
@pytest.mark.parametrize("restart", [False, True])
async def test_the_dispenser_leaves_an_interrupted_cash_in_to_the_acceptor(
    profile: str, expect: dict[str, int], restart: bool
) -> None:
    world = World("x", clock_scale=0.001)
    model = world.cash_acceptor(setup=CashAcceptorSetup(profile, note_time=0))
    control = world.cash_acceptor_control()
    ledger = Ledger.open(":memory:")
    acceptor = CashAcceptorService(model, name="acc", ledger=ledger, books=BOOKS)
    dispenser = CashDispenserService(model.dispenser(), name="disp", ledger=ledger, books=BOOKS)
    async with acceptor:
        await acceptor.cash_in_start()
        await control.insert_notes([Y10, Y20])
        undo = _lose_after(model)
        with pytest.raises(ConnectionLost):
            await acceptor.cash_in(timeout=5)
        undo()
        pending = ledger.pending(BOOKS)
        assert pending
        assert _is_cash_in(ledger)
        if not restart:
            # the dispenser opens and acts first: it cannot judge a cash-in
            async with dispenser:
                with pytest.raises(NotDispensable):
                    await dispenser.dispense(Money(5000, "CNY"), timeout=2)
            assert ledger.pending(BOOKS) == pending  # left for the acceptor
            ended = await acceptor.cash_in_end(timeout=5)
    if restart:
        # after a restart the dispenser opens first, then the acceptor
        async with dispenser:
            assert ledger.pending(BOOKS) == pending
            acceptor = CashAcceptorService(model, name="acc", ledger=ledger, books=BOOKS)
            async with acceptor:
                status = await acceptor.get_cash_in_status()
                assert status.status is CashInState.ACTIVE
                ended = await acceptor.cash_in_end(timeout=5)
    assert ledger.unknown(BOOKS) == []
    stored: dict[str, int] = {}
    for notes in ended.stored.values():
        for item, n in notes.items():
            stored[item] = stored.get(item, 0) + n
    assert stored == expect
    total = sum(int(i.split(":")[1]) * n for i, n in expect.items())
    assert dict(ended.credited) == {"CNY": Money(total, "CNY")}
    truth = model.ground_truth()
    counts = ledger.counts(BOOKS)
    assert {k: n for k, n in counts.items() if k in truth} == {
        k: truth[k] for k in counts if k in truth
    }
    assert all(n == 0 for k, n in counts.items() if k not in truth)  # the nv11's stacker
    ledger.close()


async def test_the_dispenser_opens_while_the_acceptor_waits_for_its_customer() -> None:
    world = World("x", clock_scale=0.001)
    model = world.cash_acceptor(setup=CashAcceptorSetup("default", note_time=0))
    control = world.cash_acceptor_control()
    ledger = Ledger.open(":memory:")
    acceptor = CashAcceptorService(model, name="acc", ledger=ledger, books=BOOKS)
    dispenser = CashDispenserService(model.dispenser(), name="disp", ledger=ledger, books=BOOKS)
    async with acceptor:
        await acceptor.cash_in_start()
        waiting = asyncio.create_task(acceptor.cash_in())  # no timeout: a customer
        await asyncio.sleep(0.05)
        in_flight = ledger.pending(BOOKS)
        assert in_flight
        await asyncio.wait_for(dispenser.open(), 3)  # does not wait for the customer
        try:
            assert ledger.pending(BOOKS) == in_flight  # nobody touched the cash-in
            # a moving command still waits for the device, within its own timeout
            dispense = asyncio.create_task(dispenser.dispense(Money(10000, "CNY"), timeout=5))
            await asyncio.sleep(0.05)
            assert not dispense.done()
            await control.insert_notes([Y100])
            result = await waiting
            assert dict(result.accepted) == {Y100: 1}
            with pytest.raises(NotDispensable):
                await dispense  # the deposit is in the escrow, not in a unit yet
            await acceptor.cash_in_end()
            done = await dispenser.dispense(Money(10000, "CNY"), timeout=5)
            assert dict(done.counts) == {"recycle100": 1}
        finally:
            await dispenser.close()
    ledger.close()


class _StuckRefusal(ScriptedCashInBackend):
    """A validator that refuses a note and cannot give it back: the note stays in its
    escrow, reported as a move into it without an `AcceptedNote` and with a fault
    (what drivers/cash/id003.py reports; docs/id003.md)."""

    def __init__(self) -> None:
        super().__init__(VALIDATOR_UNITS, VALIDATOR)
        self.stuck_next = False

    async def cash_in(self, limits: CashInLimits, token: int) -> CashInReport:
        if not self.stuck_next:
            return await super().cash_in(limits, token)
        self.stuck_next = False
        moves = self._begin("cash_in", token)
        note = self.input.pop(0)
        self._move(moves, CUSTOMER, ESCROW, note.item)
        fault = Fault("hardwareError", "the return was refused")
        return self._end(token, CashInReport(tuple(moves), fault))  # type: ignore[return-value]


async def test_a_refused_note_left_in_the_escrow_is_never_stored_uncredited(
    tmp_path: Path,
) -> None:
    backend = _StuckRefusal()
    db = tmp_path / "l.db"
    async with CashAcceptorService(backend, ledger=db) as service:
        await service.cash_in_start()
        backend.insert(Y100)
        backend.stuck_next = True
        with pytest.raises(HardwareError):  # the return was refused
            await service.cash_in()
        status = await service.get_cash_in_status()
        assert (dict(status.notes), status.escrow) == ({}, 1)
        with pytest.raises(PositionNotEmpty):
            await service.cash_in_end()
        assert (await service.get_cash_in_status()).status is CashInState.ACTIVE
        books_match(service, backend)
        assert backend.notes["cashbox"][Y100] == 0  # not stored
    # after a restart the note is still not credited (the refusal's marker)
    async with CashAcceptorService(backend, ledger=db) as service:
        status = await service.get_cash_in_status()
        assert status.status is CashInState.ACTIVE
        assert (dict(status.notes), status.escrow) == ({}, 1)
        with pytest.raises(PositionNotEmpty):
            await service.cash_in_end()
        ended = await service.cash_in_rollback()
        assert dict(ended.returned) == {Y100: 1}
        books_match(service, backend)
        marker = [r for r in service.ledger.history(service.books, 100) if r.movement.reason]
        assert any(
            r.settlement is not None and r.settlement.outcome is Outcome.FAILED
            for r in marker
            if r.movement.source == ESCROW and r.movement.destination == CUSTOMER
        )


class _RetainFirst(ScriptedCashInBackend):
    """A deposit module whose next cash_in_end stores the retained notes into the
    retract unit, then stops (its recycling unit fails)."""

    def __init__(self) -> None:
        super().__init__()
        self.stop_after_retain = False

    async def cash_in_end(self, use_recycle_units: bool, token: int) -> MoveReport:
        if not self.stop_after_retain:
            return await super().cash_in_end(use_recycle_units, token)
        self.stop_after_retain = False
        moves = self._begin("cash_in_end", token)
        kept = [n for n in self._escrow_notes() if n.level.retained]
        for note in kept:
            self._move(moves, ESCROW, "retract", note.item)
            self.levels.remove(note)
        fault = Fault("cashUnitError", "the recycling unit failed", "recycle100")
        return self._end(token, MoveReport(tuple(moves), fault))


async def test_a_retained_note_stored_in_the_retract_unit_is_not_credited() -> None:
    backend = _RetainFirst()
    async with CashAcceptorService(backend) as service:
        await service.cash_in_start()
        backend.insert(NoteSample(Y100, "counterfeit"), Y100)
        result = await service.cash_in()
        assert (dict(result.accepted), dict(result.retained)) == ({Y100: 1}, {Y100: 1})
        backend.stop_after_retain = True
        with pytest.raises(CashUnitError) as raised:
            await service.cash_in_end()
        ended = getattr(raised.value, "ended")  # noqa: B009 (the documented attribute)
        assert {u: dict(n) for u, n in ended.stored.items()} == {"retract": {Y100: 1}}
        assert dict(ended.credited) == {}  # the counterfeit is not the customer's money
        books_match(service, backend)
