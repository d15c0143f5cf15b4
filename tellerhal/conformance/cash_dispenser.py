"""The CashDispenser contract: what every cash dispenser implementation must do.

Each case drives the dispenser only through `hal.CashDispenser` and makes the customer,
the operator and fate act only through `hal.stimulus.CashDispenserStimulus`. Amounts are
made from the units the device reports, so a case runs on any set of cassettes. Where
the stimulus knows the ground truth (a simulator), every case ends by checking that the
counts the device reports are where the notes physically are; on a bench the stimulus
knows nothing, and the cases check what the interface promises.

The cases adapt to the dispenser's capability features
(`hal.devices.cash_model.CashDispenserCapabilities.features`); a case whose behaviour
cannot exist on the device raises `MissingCapability` naming the features it needs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping

from hal.devices.cash_dispenser import (
    CashDispenser,
    CashUnit,
    Denomination,
    IncompleteDispense,
    ItemsPresented,
    ItemsTaken,
    PresentState,
    StartDispense,
)
from hal.errors import (
    ExchangeActive,
    InvalidCurrency,
    ItemsLeft,
    MediaJam,
    NotDispensable,
    UnsupportedOperation,
)
from hal.events import Event, Subscription
from hal.money import Money
from hal.stimulus import CashDispenserStimulus
from tellerhal.conformance.cash_steps import counts_of, drain, features_of, units_agree
from tellerhal.conformance.framework import (
    ContractCase,
    ContractFailure,
    Harness,
    MissingCapability,
    check,
    expect_raises,
)

__all__ = ["CASH_DISPENSER_CASES", "CashDispenserCase", "CashDispenserHarness"]

CashDispenserHarness = Harness[CashDispenser, CashDispenserStimulus]
CashDispenserCase = ContractCase[CashDispenser, CashDispenserStimulus]


# --- steps ---------------------------------------------------------------------------------


def _dispensing(units: Iterable[CashUnit]) -> list[CashUnit]:
    return [u for u in units if u.info.type.dispenses and u.info.currency is not None]


async def an_amount(device: CashDispenser, notes: int = 3) -> Money:
    """An amount of about ``notes`` notes that the device's units can make: notes of
    the smallest value the unit with the most notes holds, so any mix can make it."""
    units = sorted(_dispensing(await device.cash_units()), key=lambda u: -u.count)
    check(units, "the dispenser reports no dispensing cash unit")
    best = units[0]
    check(best.count >= notes, f"no unit holds {notes} notes to dispense: {counts_of(units)}")
    currency = best.info.currency
    assert currency is not None
    return Money(best.info.value * notes, currency)


def value_of(units: Iterable[CashUnit], counts: Mapping[str, int]) -> int:
    by_id = {u.id: u for u in units}
    return sum(by_id[unit].info.value * n for unit, n in counts.items())


def unit_of_type(units: Iterable[CashUnit], type_: str) -> CashUnit | None:
    for unit in units:
        if unit.info.type.value == type_:
            return unit
    return None


async def wait_event(events: Subscription, kind: type[Event], patience: float) -> Event:
    async def find() -> Event:
        while True:
            event = await events.get()
            if isinstance(event, kind):
                return event

    try:
        return await asyncio.wait_for(find(), patience)
    except TimeoutError:
        raise ContractFailure(f"no {kind.__name__} event within {patience} s") from None


async def truth_agrees(device: CashDispenser, stimulus: CashDispenserStimulus, when: str) -> None:
    """Where the stimulus knows the ground truth, every unit's count must equal it,
    except for notes the device reported it could not count (``unknown``): the truth
    must then lie within them, never outside."""
    truth = await stimulus.ground_truth()
    if truth is None:
        return
    await units_agree(device, truth, when)


# --- cases ---------------------------------------------------------------------------------


async def units_reported(h: CashDispenserHarness) -> None:
    async with h.open() as device:
        units = await device.cash_units()
        check(units, "cash_units() reports no unit")
        ids = [u.id for u in units]
        check(len(ids) == len(set(ids)), f"unit ids repeat: {ids}")
        dispensing = _dispensing(units)
        check(dispensing, f"no dispensing unit among {ids}")
        for unit in dispensing:
            check(unit.info.value > 0, f"{unit.id} dispenses notes of value {unit.info.value}")
            check(unit.count >= 0, f"{unit.id} counts {unit.count} notes")
            if unit.info.capacity is not None:
                check(unit.count <= unit.info.capacity, f"{unit.id} holds more than its capacity")
        check(
            unit_of_type(units, "reject") is not None,
            f"no reject unit among {ids}: rejected notes must go somewhere counted",
        )
        await truth_agrees(device, h.stimulus, "at start")


async def denominate_moves_nothing(h: CashDispenserHarness) -> None:
    async with h.open() as device:
        amount = await an_amount(device, 4)
        before = await device.cash_units()
        denomination = await device.denominate(amount)
        check(denomination.amount == amount, f"denominated {denomination.amount}, asked {amount}")
        made = value_of(before, denomination.counts)
        check(made == amount.minor, f"the notes make {made} minor units, not {amount.minor}")
        check(
            counts_of(await device.cash_units()) == counts_of(before),
            "denominate moved notes",
        )


async def bad_amounts_refused(h: CashDispenserHarness) -> None:
    async with h.open() as device:
        amount = await an_amount(device, 1)
        before = counts_of(await device.cash_units())
        try:
            await device.denominate(1.5, amount.currency)  # type: ignore[arg-type]
        except TypeError:
            pass
        else:
            check(False, "a float amount was taken")
        await expect_raises(
            NotDispensable,
            device.dispense(Money(1, amount.currency)),
            "one minor unit (less than any note)",
        )
        held = {u.info.currency for u in _dispensing(await device.cash_units())}
        foreign = next(c for c in ("JPY", "USD", "EUR", "GBP") if c not in held)
        await expect_raises(
            (InvalidCurrency, NotDispensable),
            device.dispense(Money.of(100, foreign)),
            f"an amount in {foreign}, which no unit holds",
        )
        check(counts_of(await device.cash_units()) == before, "a refused dispense moved notes")
        await truth_agrees(device, h.stimulus, "after refused dispenses")


async def dispense_present_take(h: CashDispenserHarness) -> None:
    async with h.open() as device:
        features = await features_of(device)
        amount = await an_amount(device, 3)
        before = await device.cash_units()
        events = device.events()
        try:
            dispensed = await device.dispense(amount)
            check(dispensed.amount == amount, f"dispensed {dispensed.amount}, asked {amount}")
            check(
                value_of(before, dispensed.counts) == amount.minor,
                f"the counts {dict(dispensed.counts)} do not make {amount}",
            )
            seen = await drain(events)
            starts = [e for e in seen if isinstance(e, StartDispense)]
            check(starts and starts[0].command_id is not None, "no StartDispense with its command")
            after = counts_of(await device.cash_units())
            for unit in before:
                taken = dispensed.counts.get(unit.id, 0) + dispensed.rejected.get(unit.id, 0)
                if unit.info.type.dispenses:
                    check(
                        after[unit.id] == unit.count - taken,
                        f"{unit.id}: {unit.count} before, {taken} left it, counts {after[unit.id]}",
                    )
            notes = sum(dispensed.counts.values())
            if "present" in features:
                presented = await device.present()
                check(presented == notes, f"presented {presented} notes of {notes} dispensed")
                event = await wait_event(events, ItemsPresented, h.patience)
                assert isinstance(event, ItemsPresented)
                check(event.count == notes, f"ItemsPresented says {event.count} notes")
                status = await device.get_present_status()
                check(status.state is PresentState.PRESENTED, f"present state {status.state}")
                check(
                    status.denomination is not None
                    and dict(status.denomination.counts) == dict(dispensed.counts),
                    f"present status names {status.denomination}, dispensed {dispensed.counts}",
                )
                taken = await h.stimulus.take_notes(timeout=h.patience)
                check(taken == notes, f"the customer took {taken} notes of {notes}")
                if "items_taken_sensor" in features:
                    await wait_event(events, ItemsTaken, h.patience)
                    status = await device.get_present_status()
                    check(status.taken is not False, "taken notes reported as not taken")
        finally:
            events.close()
        await truth_agrees(device, h.stimulus, "after a dispense taken")
        truth = await h.stimulus.ground_truth()
        if truth is not None:
            check(truth.get("exit", 0) == 0, "notes are still at the exit")


async def items_left_then_reject(h: CashDispenserHarness) -> None:
    async with h.open() as device:
        await features_of(device, "stacker", "reject")
        amount = await an_amount(device, 2)
        dispensed = await device.dispense(amount)
        notes = sum(dispensed.counts.values())
        await expect_raises(ItemsLeft, device.dispense(amount), "a dispense onto a full stacker")
        reject_before = unit_of_type(await device.cash_units(), "reject")
        assert reject_before is not None
        rejected = await device.reject()
        check(rejected == notes, f"rejected {rejected} notes, {notes} were in the stacker")
        reject_after = unit_of_type(await device.cash_units(), "reject")
        assert reject_after is not None
        check(
            reject_after.count == reject_before.count + notes,
            f"the reject unit went from {reject_before.count} to {reject_after.count}",
        )
        await truth_agrees(device, h.stimulus, "after a reject")


async def retract_not_taken(h: CashDispenserHarness) -> None:
    async with h.open() as device:
        await features_of(device, "present", "retract")
        amount = await an_amount(device, 2)
        dispensed = await device.dispense(amount)
        notes = sum(dispensed.counts.values())
        await device.present()
        check(await h.stimulus.notes_at_exit() == notes, "the notes are not at the exit")
        units = await device.cash_units()
        retract = unit_of_type(units, "retract") or unit_of_type(units, "reject")
        assert retract is not None
        retracted = await device.retract()
        check(retracted == notes, f"retracted {retracted} of {notes} notes left at the exit")
        after = {u.id: u for u in await device.cash_units()}
        check(
            after[retract.id].count == retract.count + notes,
            f"{retract.id} went from {retract.count} to {after[retract.id].count}",
        )
        check(await h.stimulus.notes_at_exit() == 0, "notes still at the exit after retract")
        await truth_agrees(device, h.stimulus, "after a retract")


async def jam_leaves_exact_counts(h: CashDispenserHarness) -> None:
    async with h.open() as device:
        amount = await an_amount(device, 5)
        try:
            await h.stimulus.jam_next_dispense(after_notes=2)
        except UnsupportedOperation as exc:
            raise MissingCapability({"jam"}, "the stimulus cannot jam this device") from exc
        before = await device.cash_units()
        events = device.events()
        try:
            error = await expect_raises(MediaJam, device.dispense(amount), "a jammed dispense")
            incomplete = await wait_event(events, IncompleteDispense, h.patience)
        finally:
            events.close()
        assert isinstance(incomplete, IncompleteDispense)
        reached = sum(incomplete.counts.values())
        check(
            reached == 2, f"IncompleteDispense says {reached} notes dispensed before a jam after 2"
        )
        check(str(reached) in str(error), f"the jam error does not say how many moved: {error}")
        after = counts_of(await device.cash_units())
        left = sum(u.count for u in _dispensing(before)) - sum(
            after[u.id] for u in _dispensing(before)
        )
        check(left >= 2, f"{left} notes left the units before a jam after 2")
        await truth_agrees(device, h.stimulus, "after a jam")
        await h.stimulus.clear_jam()
        await device.reset()
        await truth_agrees(device, h.stimulus, "after the jam was cleared and the device reset")
        amount = await an_amount(device, 1)
        dispensed = await device.dispense(amount)
        check(dispensed.amount == amount, "the dispenser does not work after a jam and reset")


async def exchange(h: CashDispenserHarness) -> None:
    async with h.open() as device:
        units = _dispensing(await device.cash_units())
        unit = units[0]
        await device.start_exchange()
        check((await device.status()).exchange_active, "status does not say exchange active")
        await expect_raises(
            ExchangeActive, device.dispense(await _a_note(unit)), "a dispense during an exchange"
        )
        target = unit.count + 5
        if unit.info.capacity is not None:
            target = min(target, unit.info.capacity)
        try:
            await h.stimulus.replenish(unit.id, target)
        except UnsupportedOperation:
            target = unit.count  # a bench: the person counted what is there
        updated = await device.set_cash_unit(unit.id, initial=target)
        check(updated.count == target, f"{unit.id} counts {updated.count} after set to {target}")
        check(updated.initial == target, f"{unit.id} initial {updated.initial}, set {target}")
        await device.end_exchange()
        check(not (await device.status()).exchange_active, "exchange still active after its end")
        again = {u.id: u for u in await device.cash_units()}
        check(again[unit.id].count == target, f"{unit.id} counts {again[unit.id].count}")
        await truth_agrees(device, h.stimulus, "after an exchange")


async def _a_note(unit: CashUnit) -> Denomination:
    assert unit.info.currency is not None
    return Denomination(Money(unit.info.value, unit.info.currency), {unit.id: 1})


async def counts_survive_reopen(h: CashDispenserHarness) -> None:
    async with h.open() as device:
        amount = await an_amount(device, 2)
        await device.dispense(amount)
        features = (await device.capabilities()).features()
        if "present" in features:
            await device.present()
            await h.stimulus.take_notes(timeout=h.patience)
        before = counts_of(await device.cash_units())
    async with h.open() as device:
        after = counts_of(await device.cash_units())
        check(after == before, f"counts changed across a reopen: {before} then {after}")
        await truth_agrees(device, h.stimulus, "after a reopen")


async def test_units(h: CashDispenserHarness) -> None:
    async with h.open() as device:
        await features_of(device, "test_cash_units")
        before = await device.cash_units()
        after = {u.id: u for u in await device.test_cash_units()}
        reject_before = unit_of_type(before, "reject")
        assert reject_before is not None
        picked = 0
        for unit in _dispensing(before):
            if unit.count > 0:
                check(
                    after[unit.id].count == unit.count - 1,
                    f"{unit.id}: {unit.count} before a test, {after[unit.id].count} after",
                )
                picked += 1
        check(
            after[reject_before.id].count == reject_before.count + picked,
            f"the reject unit got {after[reject_before.id].count - reject_before.count} notes "
            f"of {picked} picked",
        )
        await truth_agrees(device, h.stimulus, "after a test of the units")


CASH_DISPENSER_CASES: tuple[CashDispenserCase, ...] = (
    ContractCase(
        "cash_dispenser.units",
        "cash_units reports distinct units, dispensing ones with a value, and a reject unit",
        units_reported,
    ),
    ContractCase(
        "cash_dispenser.denominate",
        "denominate makes the amount exactly from the units and moves nothing",
        denominate_moves_nothing,
    ),
    ContractCase(
        "cash_dispenser.bad_amounts",
        "a float, an amount no notes make and a currency no unit holds are refused",
        bad_amounts_refused,
    ),
    ContractCase(
        "cash_dispenser.dispense_present_take",
        "a dispense takes exactly its notes from the units; present and take are reported",
        dispense_present_take,
    ),
    ContractCase(
        "cash_dispenser.items_left_reject",
        "a second dispense onto a full stacker is itemsLeft; reject counts into the reject unit",
        items_left_then_reject,
    ),
    ContractCase(
        "cash_dispenser.retract",
        "notes left at the exit are retracted and counted into the retract unit",
        retract_not_taken,
    ),
    ContractCase(
        "cash_dispenser.jam",
        "a jam mid-dispense is mediaJam with IncompleteDispense and exact counts; reset recovers",
        jam_leaves_exact_counts,
    ),
    ContractCase(
        "cash_dispenser.exchange",
        "during an exchange cash commands are exchangeActive; set counts hold after its end",
        exchange,
    ),
    ContractCase(
        "cash_dispenser.reopen",
        "counts are the same after the device is closed and opened again",
        counts_survive_reopen,
    ),
    ContractCase(
        "cash_dispenser.test_units",
        "test_cash_units picks one note of each unit into the reject unit",
        test_units,
    ),
)
