"""Review findings of the cash dispenser service (issue 6), each checked against the
ground truth of a real backend: the scripted one (tests/cash_backend.py), the
simulator model, or the LCDM driver on a pty."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from pathlib import Path

import pytest

import hal
from hal.devices.cash_dispenser import (
    CUSTOMER,
    EXIT,
    STACKER,
    TRANSPORT,
    CashDispenserCapabilities,
    DelayedDispense,
    Denomination,
    ItemsTaken,
    ShutterState,
    StartDispense,
)
from hal.devices.cash_dispenser_service import CashDispenserService
from hal.errors import ConnectionLost, ItemsLeft, MediaJam, ShutterFail, ShutterOpen
from hal.ledger import Ledger, Outcome
from hal.money import Money
from simulator.cash_control import CashDispenserControl
from simulator.models.cash_dispenser import CashDispenserModel
from simulator.models.cash_profiles import cash_profile
from tests.cash_backend import ScriptedCashBackend
from tests.hal.test_cash_dispenser_service import FULL, books_match, drain, load
from tests.lcdm_rig import LcdmRig, lcdm_registered

D = "cash_dispenser"
REJECT = "reject"


def to_customer(ledger: Ledger) -> int:
    """Notes the ledger has booked to the customer."""
    return sum(
        r.settlement.moved or 0
        for r in ledger.history(D, 1000)
        if r.movement.destination == CUSTOMER and r.settlement is not None
    )


@pytest.mark.parametrize("knows", [True, False])
async def test_items_taken_while_a_retract_is_pending(knows: bool) -> None:
    """A retract whose answer was lost moved 5 of 6 notes; the customer took the sixth
    before the next command reconciled it: the exit is booked once, not twice."""
    caps = replace(CashDispenserCapabilities(), knows_operations=knows)
    backend = ScriptedCashBackend(notes=FULL, caps=caps)
    with Ledger.open(":memory:") as ledger:
        async with CashDispenserService(backend, ledger=ledger) as service:
            await load(service, FULL)
            sub = service.events(kinds=[ItemsTaken])
            await service.dispense(Money(38000, "CNY"))
            await service.present()
            backend.script.retract_leaves, backend.script.lose = 1, "after"
            with pytest.raises(ConnectionLost):
                await service.retract()
            assert backend.customer_takes() == 1
            assert [type(e) for e in await drain(sub)] == [ItemsTaken]  # still published
            assert ledger.counts(D)[EXIT] == 6  # not booked while the retract is pending
            await service.denominate(Money(1000, "CNY"))  # reconciles first
            assert ledger.counts(D)[EXIT] == 0
            assert ledger.check_invariants(D) == []
            if knows:
                books_match(service, backend)
                assert to_customer(ledger) == backend.ground_truth()[CUSTOMER] == 1
            else:  # the retract is unknown: the exit's 6 go to the customer, once
                assert to_customer(ledger) == 6
                assert ledger.unknown(D)


async def test_lcdm_jam_then_reopen_then_reset(tmp_path: Path) -> None:
    """The driver forgets at a reopen what stopped in its transport; the reset's
    planned movement is settled from the device sensing the transport empty."""
    rig = LcdmRig(tmp_path, 2000, counts={"unit1": 40, "unit2": 30})
    path = tmp_path / "ledger.db"
    with lcdm_registered():
        async with rig.wire():
            device = hal.open(rig.address(f"ledger={path}"))
            async with device:
                await load(device, {"unit1": 40, "unit2": 30})  # type: ignore[arg-type]
                rig.model.jam_next_dispense(after_notes=2)
                with pytest.raises(MediaJam):
                    await device.dispense(Denomination(Money(25000, "CNY"), {"unit2": 5}))
            assert rig.model.ground_truth()[TRANSPORT] == 1
            device = hal.open(rig.address(f"ledger={path}"))  # the app restarts
            async with device:
                await device.reset()
                truth = rig.model.ground_truth()
                assert (truth[TRANSPORT], truth[REJECT]) == (0, 1)
                assert isinstance(device, CashDispenserService)
                books = device.ledger
                counts = books.counts(D)
                assert {k: counts[k] for k in ("unit1", "unit2", TRANSPORT, REJECT)} == {
                    k: truth[k] for k in ("unit1", "unit2", TRANSPORT, REJECT)
                }
                assert books.pending(D) == []
                assert books.check_invariants(D) == []
                last = books.history(D, 1)[0]
                assert last.movement.source == TRANSPORT
                assert last.settlement is not None
                assert "position empty after its reset" in last.settlement.detail
                done = await device.dispense(Denomination(Money(10000, "CNY"), {"unit1": 1}))
                assert dict(done.counts) == {"unit1": 1}


@pytest.mark.parametrize("blind", [False, True])
async def test_a_reset_that_reports_nothing(blind: bool) -> None:
    """Notes jammed in the transport and left in the stacker; the reset moves them all
    and reports none. Sensed empty: settled done for the books' count; the device
    cannot tell: failed, the books keep them (a difference, never a guess)."""
    backend = ScriptedCashBackend(notes=FULL)
    async with CashDispenserService(backend) as service:
        await load(service, FULL)
        backend.script.jam_after = 2
        with pytest.raises(MediaJam):
            await service.dispense(Money(38000, "CNY"))
        assert service.ledger.counts(D)[TRANSPORT] == 1
        backend.script.reset_unreported, backend.script.blind = True, blind
        await service.reset()
        truth = backend.ground_truth()
        assert (truth[TRANSPORT], truth[STACKER], truth[REJECT]) == (0, 0, 3)
        counts = service.ledger.counts(D)
        if blind:
            assert (counts[TRANSPORT], counts[STACKER], counts[REJECT]) == (1, 2, 0)
            assert [r.settlement.outcome for r in service.ledger.history(D, 2) if r.settlement] == [
                Outcome.FAILED,
                Outcome.FAILED,
            ]
        else:
            books_match(service, backend)
            await service.dispense(Money(1000, "CNY"))
            books_match(service, backend)


def _model_with_notes() -> CashDispenserModel:
    model = CashDispenserModel(cash_profile("default", FULL), pick_time=0)
    assert {u: model.ground_truth()[u] for u in FULL} == FULL
    return model


@pytest.mark.parametrize("kind", ["scripted", "model"])
async def test_delayed_dispense_reaches_the_app(kind: str) -> None:
    """The device says the dispense starts after a delay: the app hears
    DelayedDispense(delay), stamped with the dispense's command id, before any note
    moves (StartDispense, published as the device is asked, comes first)."""
    scripted = ScriptedCashBackend(notes=FULL)
    model = _model_with_notes()
    backend = scripted if kind == "scripted" else model
    truth = scripted.ground_truth if kind == "scripted" else model.ground_truth
    async with CashDispenserService(backend) as service:  # type: ignore[arg-type]
        await load(service, FULL)
        if kind == "scripted":
            scripted.script.delay = 0.05
        else:
            await CashDispenserControl(model).delay_next_dispense(0.05)
        sub = service.events(kinds=[StartDispense, DelayedDispense])
        task = asyncio.create_task(service.dispense(Money(38000, "CNY")))
        first = await asyncio.wait_for(sub.get(), 2)
        delayed = await asyncio.wait_for(sub.get(), 2)
        assert isinstance(first, StartDispense)
        assert isinstance(delayed, DelayedDispense)
        assert delayed.delay == pytest.approx(0.05)
        assert {u: truth()[u] for u in FULL} == FULL  # no note has moved yet
        done = await task
        assert sum(done.counts.values()) == 6
        assert delayed.command_id is not None
        assert delayed.command_id == first.command_id
        # a second dispense is not delayed: the fault is used up
        await service.present()
        (scripted.customer_takes if kind == "scripted" else model.customer_takes)()
        await service.dispense(Money(1000, "CNY"))
        assert not [e for e in await drain(sub) if isinstance(e, DelayedDispense)]


async def test_shutter_jammed_refuses_present() -> None:
    """A jammed shutter and no notes at the exit: present raises ShutterOpen before
    the device is asked (the model refuses with shutterFail); notes at the exit behind
    an open shutter are still ItemsLeft."""
    model = _model_with_notes()
    async with CashDispenserService(model) as service:
        await load(service, FULL)
        await service.dispense(Money(10000, "CNY"))
        model.jam_shutter()
        with pytest.raises(ShutterFail):
            await service.present()
        assert (await service.status()).shutter is ShutterState.JAMMED
        journalled = len(service.ledger.history(D, 1000))
        with pytest.raises(ShutterOpen):
            await service.present()  # the notes in the stacker, the shutter jammed
        assert len(service.ledger.history(D, 1000)) == journalled  # the device not asked
        await service.reset()  # the stacker to the reject unit; frees the shutter
        assert (await service.status()).shutter is ShutterState.CLOSED
        await service.dispense(Money(10000, "CNY"))
        assert await service.present() == 1
        assert (await service.status()).shutter is ShutterState.OPEN
        with pytest.raises(ItemsLeft):
            await service.dispense(Money(10000, "CNY"))  # the shutter open, notes at the exit
        model.customer_takes()
        await asyncio.sleep(0)
        assert service.ledger.counts(D)[EXIT] == 0
        assert sum(r.movement.count for r in service.ledger.history(D, 1)) == 1
        books_match(service, model)  # type: ignore[arg-type]


async def test_shutter_open_from_a_scripted_status() -> None:
    """The status says the shutter is open, no notes at the exit: dispense and present
    raise ShutterOpen and the device is not asked."""
    backend = ScriptedCashBackend(notes=FULL)
    async with CashDispenserService(backend) as service:
        await load(service, FULL)
        backend.shutter = ShutterState.OPEN
        with pytest.raises(ShutterOpen, match="shutter is open"):
            await service.dispense(Money(10000, "CNY"))
        assert backend.calls == []
        backend.shutter = ShutterState.CLOSED
        await service.dispense(Money(10000, "CNY"))
        backend.shutter = ShutterState.OPEN
        with pytest.raises(ShutterOpen):
            await service.present()
        assert backend.calls == ["dispense"]
        backend.shutter = ShutterState.CLOSED
        assert await service.present() == 1
        books_match(service, backend)


async def test_a_count_that_finds_fewer_notes_corrects_the_books_loudly(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The books say 20 in unit2, the unit holds 17: the count empties it, the books
    are set to what was counted (0 left) and a WARNING names the 3 notes and their
    value; the history keeps the correction and the difference."""
    backend = ScriptedCashBackend(notes=FULL)
    async with CashDispenserService(backend) as service:
        await load(service, FULL)
        backend.notes["unit2"] = 17  # three notes went missing (or were never there)
        backend.notes[CUSTOMER] += 3
        with caplog.at_level(logging.WARNING, logger="hal.devices.cash_dispenser_service"):
            assert await service.count(["unit2"]) == {"unit2": 17}
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1
        assert "unit2" in warnings[0]
        assert "3 notes" in warnings[0]
        assert "150.00 CNY" in warnings[0]
        assert "found 17 notes where the books had 20" in warnings[0]
        books_match(service, backend)
        assert service.ledger.counts(D)[REJECT] == 17
        unit2 = next(c for c in service.ledger.counters(D) if c.location.name == "unit2")
        assert unit2.initial == 0
        # a count that finds what the books say: no correction, no warning
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="hal.devices.cash_dispenser_service"):
            assert await service.count(["unit3"]) == {"unit3": 20}
        assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
        books_match(service, backend)
