"""The CashAcceptor contract: what every cash acceptor implementation must do.

Each case drives the acceptor only through `hal.CashAcceptor` and makes the customer,
the operator and fate act only through `hal.stimulus.CashAcceptorStimulus`. Notes are
chosen from the note types the device reports, so a case runs on any set of notes.
Where the stimulus knows the ground truth (a simulator), every case ends by checking
that the units' counts and the escrow are where the notes physically are; on a bench
the cases check what the interface promises.

A case inserts only as many notes as the device takes in one `cash_in` (a bill
validator's escrow holds one), so nothing is left in the input for the next case.
The cases adapt to the capability features
(`hal.devices.cash_in_model.CashAcceptorCapabilities.features`); a case whose
behaviour cannot exist on the device raises `MissingCapability`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from hal.devices.cash_acceptor import (
    EXIT,
    CashAcceptor,
    CashInState,
    CashUnit,
    InputRefuse,
    InsertItems,
    NoteType,
    RefuseReason,
    SubCashIn,
)
from hal.errors import (
    CashInActive,
    ExchangeActive,
    MediaJam,
    NoCashInActive,
    NoItems,
    TooManyItems,
    UnsupportedOperation,
)
from hal.stimulus import CashAcceptorStimulus, NoteSample
from tellerhal.conformance.cash_steps import counts_of, drain, features_of, units_agree
from tellerhal.conformance.framework import (
    ContractCase,
    Harness,
    MissingCapability,
    check,
    expect_raises,
)

__all__ = ["CASH_ACCEPTOR_CASES", "CashAcceptorCase", "CashAcceptorHarness"]

CashAcceptorHarness = Harness[CashAcceptor, CashAcceptorStimulus]
CashAcceptorCase = ContractCase[CashAcceptor, CashAcceptorStimulus]

#: A note no reader knows.
FOREIGN_NOTE = "XTS:100"


# --- steps ---------------------------------------------------------------------------------


def total(units: Iterable[CashUnit]) -> int:
    return sum(u.count for u in units)


async def enabled_notes(device: CashAcceptor) -> list[NoteType]:
    """The accepted note types, smallest value first."""
    notes = [n for n in await device.note_types() if n.enabled]
    check(notes, "the acceptor accepts no note type")
    return sorted(notes, key=lambda n: n.value)


async def truth_agrees(device: CashAcceptor, stimulus: CashAcceptorStimulus, when: str) -> None:
    """Where the stimulus knows the ground truth, every unit's count must equal it
    (within what the device reported it could not count) and the escrow must hold
    what the transaction status says."""
    truth = await stimulus.ground_truth()
    if truth is None:
        return
    await units_agree(device, truth, when)
    status = await device.get_cash_in_status()
    check(
        status.escrow == truth.get("escrow", 0),
        f"{when}: the cash-in status says {status.escrow} notes in the escrow, "
        f"{truth.get('escrow', 0)} are in it",
    )


async def deposit_one(
    h: CashAcceptorHarness, device: CashAcceptor, note: NoteType
) -> dict[str, int]:
    """Insert one fit note and take it into the escrow; the result's accepted notes."""
    await h.stimulus.insert_notes([NoteSample(note.item)])
    result = await asyncio.wait_for(device.cash_in(), h.patience)
    check(
        dict(result.accepted) == {note.item: 1},
        f"one {note.item} inserted, cash_in accepted {dict(result.accepted)} "
        f"(refused {dict(result.refused)})",
    )
    check(result.escrow >= 1, f"the note is not in the escrow (escrow {result.escrow})")
    return dict(result.accepted)


async def take_back(h: CashAcceptorHarness, device: CashAcceptor, notes: int) -> None:
    """The customer takes notes given back, where they wait at the exit."""
    caps = await device.capabilities()
    if caps.return_to == EXIT:
        taken = await h.stimulus.take_returned(timeout=h.patience)
        check(taken == notes, f"the customer found {taken} notes at the exit, {notes} returned")


# --- cases ---------------------------------------------------------------------------------


async def units_and_notes(h: CashAcceptorHarness) -> None:
    async with h.open() as device:
        units = await device.cash_units()
        check(units, "cash_units() reports no unit")
        ids = [u.id for u in units]
        check(len(ids) == len(set(ids)), f"unit ids repeat: {ids}")
        check(
            any(u.info.type.value in ("cashIn", "recycling") for u in units),
            f"no unit takes deposited notes among {ids}",
        )
        for unit in units:
            check(unit.count >= 0, f"{unit.id} counts {unit.count} notes")
            if unit.info.capacity is not None:
                check(unit.count <= unit.info.capacity, f"{unit.id} holds more than its capacity")
        notes = await device.note_types()
        check(notes, "note_types() is empty")
        items = [n.item for n in notes]
        check(len(items) == len(set(items)), f"note types repeat: {items}")
        status = await device.get_cash_in_status()
        check(
            status.status is not CashInState.ACTIVE or status.escrow > 0,
            "a transaction is active at open with nothing in the escrow",
        )
        await truth_agrees(device, h.stimulus, "at start")


async def transaction_rules(h: CashAcceptorHarness) -> None:
    async with h.open() as device:
        await expect_raises(NoCashInActive, device.cash_in(), "a cash_in with no transaction")
        await expect_raises(NoCashInActive, device.cash_in_end(), "an end with no transaction")
        started = await device.cash_in_start()
        check(started.status is CashInState.ACTIVE, f"status {started.status} after the start")
        await expect_raises(CashInActive, device.cash_in_start(), "a second cash_in_start")
        await expect_raises(
            CashInActive, device.configure_note_types([]), "configuring notes mid-transaction"
        )
        status = await device.get_cash_in_status()
        check(status.status is CashInState.ACTIVE, f"get_cash_in_status says {status.status}")
        check(not status.notes, f"a fresh transaction lists notes {dict(status.notes)}")
        check((await device.status()).cash_in_active, "the status does not say cash-in active")
        features = await features_of(device)
        if "rollback" in features:
            # Nothing was inserted: ending it says so and still ends it.
            await expect_raises(NoItems, device.cash_in_rollback(), "a rollback of nothing")
        else:
            await expect_raises(NoItems, device.cash_in_end(), "an end with nothing in escrow")
        check(
            (await device.get_cash_in_status()).status is not CashInState.ACTIVE,
            "the transaction is still active after its end",
        )
        check(not (await device.status()).cash_in_active, "the status still says cash-in active")


async def deposit_and_store(h: CashAcceptorHarness) -> None:
    async with h.open() as device:
        note = (await enabled_notes(device))[0]
        before = await device.cash_units()
        events = device.events()
        try:
            await device.cash_in_start()
            await deposit_one(h, device, note)
            seen = await drain(events)
            check(any(isinstance(e, InsertItems) for e in seen), "no InsertItems event")
            subs = [e for e in seen if isinstance(e, SubCashIn)]
            check(
                subs and dict(subs[-1].accepted) == {note.item: 1},
                f"no SubCashIn with the note: {subs}",
            )
            status = await device.get_cash_in_status()
            check(dict(status.notes) == {note.item: 1}, f"the note list is {dict(status.notes)}")
            check(status.escrow == 1, f"the escrow holds {status.escrow} notes, 1 was accepted")
            await truth_agrees(device, h.stimulus, "with a note in the escrow")
            check(
                total(await device.cash_units()) == total(before),
                "a note in the escrow is already counted in a unit",
            )
            ended = await device.cash_in_end()
        finally:
            events.close()
        check(ended.notes() == 1, f"cash_in_end stored {dict(ended.stored)}, 1 note was in escrow")
        check(
            dict(ended.credited) == {note.currency: note.money},
            f"credited {dict(ended.credited)}, the note is worth {note.money}",
        )
        (unit_id,) = ended.stored
        after = counts_of(await device.cash_units())
        check(
            after[unit_id] == counts_of(before)[unit_id] + 1,
            f"{unit_id} went from {counts_of(before)[unit_id]} to {after[unit_id]}",
        )
        status = await device.get_cash_in_status()
        check(status.status is CashInState.OK, f"status {status.status} after cash_in_end")
        check(dict(status.notes) == {note.item: 1}, f"the note list is {dict(status.notes)}")
        await truth_agrees(device, h.stimulus, "after a deposit")


async def rollback_returns(h: CashAcceptorHarness) -> None:
    async with h.open() as device:
        await features_of(device, "rollback")
        note = (await enabled_notes(device))[-1]
        before = counts_of(await device.cash_units())
        await device.cash_in_start()
        await deposit_one(h, device, note)
        ended = await device.cash_in_rollback()
        check(dict(ended.returned) == {note.item: 1}, f"returned {dict(ended.returned)}")
        check(not ended.credited, f"a rollback credited {dict(ended.credited)}")
        await take_back(h, device, 1)
        check(counts_of(await device.cash_units()) == before, "a rollback changed unit counts")
        status = await device.get_cash_in_status()
        check(status.status is CashInState.ROLLBACK, f"status {status.status} after a rollback")
        check(status.escrow == 0, f"{status.escrow} notes still in the escrow after a rollback")
        await truth_agrees(device, h.stimulus, "after a rollback")


async def foreign_note_refused(h: CashAcceptorHarness) -> None:
    async with h.open() as device:
        before = counts_of(await device.cash_units())
        events = device.events()
        try:
            await device.cash_in_start()
            await h.stimulus.insert_notes([NoteSample(FOREIGN_NOTE)])
            result = await asyncio.wait_for(device.cash_in(), h.patience)
            seen = await drain(events)
        finally:
            events.close()
        check(not result.accepted, f"a foreign note was accepted: {dict(result.accepted)}")
        check(
            result.refused.get(RefuseReason.INVALID_BILL) == 1,
            f"refused {dict(result.refused)}, expected one invalidBill",
        )
        refusals = [e for e in seen if isinstance(e, InputRefuse)]
        check(
            any(e.reason is RefuseReason.INVALID_BILL for e in refusals),
            f"no InputRefuse(invalidBill) event: {refusals}",
        )
        status = await device.get_cash_in_status()
        check(status.refused == 1, f"the transaction counts {status.refused} refused items")
        await expect_raises(NoItems, device.cash_in_end(), "ending with nothing in escrow")
        check(counts_of(await device.cash_units()) == before, "a refused note changed the counts")
        await truth_agrees(device, h.stimulus, "after a refused note")


async def disabled_note_refused(h: CashAcceptorHarness) -> None:
    async with h.open() as device:
        notes = await enabled_notes(device)
        check(len(notes) >= 2, f"two note types are needed, the device accepts {len(notes)}")
        off, keep = notes[0], [n.item for n in notes[1:]]
        try:
            configured = await device.configure_note_types(keep)
            enabled = {n.item for n in configured if n.enabled}
            check(enabled == set(keep), f"enabled {sorted(enabled)} after configuring {keep}")
            await device.cash_in_start()
            await h.stimulus.insert_notes([NoteSample(off.item)])
            result = await asyncio.wait_for(device.cash_in(), h.patience)
            check(not result.accepted, f"a disabled {off.item} was accepted")
            check(
                result.refused.get(RefuseReason.INVALID_BILL) == 1,
                f"refused {dict(result.refused)}, expected one invalidBill",
            )
            await expect_raises(NoItems, device.cash_in_end(), "ending with nothing in escrow")
        finally:
            await device.configure_note_types([n.item for n in notes])
        await truth_agrees(device, h.stimulus, "after a disabled note")


async def limits_kept(h: CashAcceptorHarness) -> None:
    async with h.open() as device:
        features = await features_of(device, "limit_by_items")
        notes = await enabled_notes(device)
        await device.cash_in_start(max_items=1)
        await deposit_one(h, device, notes[0])
        await expect_raises(TooManyItems, device.cash_in(), "a cash_in past the item limit")
        await device.cash_in_end()
        if "limit_by_amount" in features and len(notes) >= 2:
            small, big = notes[0], notes[-1]
            await device.cash_in_start(max_amount=small.money)
            await h.stimulus.insert_notes([NoteSample(big.item)])
            result = await asyncio.wait_for(device.cash_in(), h.patience)
            check(not result.accepted, f"{big.item} passed an amount limit of {small.money}")
            check(
                result.refused.get(RefuseReason.LIMIT_OVER_AMOUNT) == 1,
                f"refused {dict(result.refused)}, expected one limitOverAmount",
            )
            await expect_raises(NoItems, device.cash_in_end(), "ending with nothing in escrow")
        await truth_agrees(device, h.stimulus, "after the limits")


async def jam_keeps_books(h: CashAcceptorHarness) -> None:
    async with h.open() as device:
        note = (await enabled_notes(device))[0]
        try:
            await h.stimulus.jam_next_note()
        except UnsupportedOperation as exc:
            raise MissingCapability({"jam"}, "the stimulus cannot jam this device") from exc
        await device.cash_in_start()
        await h.stimulus.insert_notes([NoteSample(note.item)])
        await expect_raises(
            MediaJam, asyncio.wait_for(device.cash_in(), h.patience), "a jammed cash_in"
        )
        await truth_agrees(device, h.stimulus, "after a jam")
        await h.stimulus.clear_jam()
        await device.reset()
        status = await device.get_cash_in_status()
        check(status.status is CashInState.RESET, f"status {status.status} after the reset")
        await truth_agrees(device, h.stimulus, "after the jam was cleared and the device reset")
        await device.cash_in_start()
        await deposit_one(h, device, note)
        await device.cash_in_end()
        await truth_agrees(device, h.stimulus, "after a deposit following a jam")


async def escrow_survives_reopen(h: CashAcceptorHarness) -> None:
    async with h.open() as device:
        note = (await enabled_notes(device))[0]
        before = counts_of(await device.cash_units())
        await device.cash_in_start()
        await deposit_one(h, device, note)
    async with h.open() as device:
        status = await device.get_cash_in_status()
        check(
            status.status is CashInState.ACTIVE and status.escrow == 1,
            f"after a reopen the status is {status.status} with {status.escrow} notes in escrow; "
            "the note taken in before must still be there, in an open transaction",
        )
        check(
            counts_of(await device.cash_units()) == before,
            "a note left in the escrow was counted into a unit across a reopen",
        )
        await truth_agrees(device, h.stimulus, "after a reopen with a note in the escrow")
        ended = await device.cash_in_end()
        check(ended.notes() == 1, f"stored {dict(ended.stored)} after the reopen")
        await truth_agrees(device, h.stimulus, "after storing it")


async def exchange(h: CashAcceptorHarness) -> None:
    async with h.open() as device:
        units = await device.cash_units()
        unit = next(u for u in units if u.info.type.value in ("cashIn", "recycling"))
        await device.start_exchange()
        check((await device.status()).exchange_active, "status does not say exchange active")
        await expect_raises(
            ExchangeActive, device.cash_in_start(), "a cash_in_start during an exchange"
        )
        try:
            emptied = await h.stimulus.empty_unit(unit.id)
            target = 0
        except UnsupportedOperation:
            emptied, target = 0, unit.count  # a bench: the person counted what is there
        updated = await device.set_cash_unit(unit.id, initial=target)
        check(updated.count == target, f"{unit.id} counts {updated.count} after set to {target}")
        await device.end_exchange()
        check(not (await device.status()).exchange_active, "exchange still active after its end")
        check(emptied >= 0, "emptying a unit took a negative number of notes")
        await truth_agrees(device, h.stimulus, "after an exchange")


CASH_ACCEPTOR_CASES: tuple[CashAcceptorCase, ...] = (
    ContractCase(
        "cash_acceptor.units",
        "cash_units reports distinct units with one that takes deposits; note types are listed",
        units_and_notes,
    ),
    ContractCase(
        "cash_acceptor.transaction",
        "noCashInActive without a transaction, cashInActive on a second start; an end ends it",
        transaction_rules,
    ),
    ContractCase(
        "cash_acceptor.deposit",
        "a note goes to the escrow (not yet counted), then cash_in_end stores and credits it",
        deposit_and_store,
    ),
    ContractCase(
        "cash_acceptor.rollback",
        "a rollback gives the escrow's note back and changes no count",
        rollback_returns,
    ),
    ContractCase(
        "cash_acceptor.refused",
        "a note no reader knows is refused (invalidBill, InputRefuse) and never counted",
        foreign_note_refused,
    ),
    ContractCase(
        "cash_acceptor.disabled",
        "a note type configured off is refused",
        disabled_note_refused,
    ),
    ContractCase(
        "cash_acceptor.limits",
        "the transaction's item and amount limits are kept",
        limits_kept,
    ),
    ContractCase(
        "cash_acceptor.jam",
        "a jam mid cash-in is mediaJam with exact books; reset recovers",
        jam_keeps_books,
    ),
    ContractCase(
        "cash_acceptor.reopen",
        "a note in the escrow is still there, in an open transaction, after a reopen",
        escrow_survives_reopen,
    ),
    ContractCase(
        "cash_acceptor.exchange",
        "during an exchange cash-in is exchangeActive; set counts hold after its end",
        exchange,
    ),
)
