"""The demo's cash steps: a withdrawal on the cash dispenser, a deposit on the acceptor."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from hal.devices.cash_acceptor import CashAcceptor
from hal.devices.cash_dispenser import CashDispenser, CashUnit, ItemsTaken
from hal.money import Money
from tellerhal.demo_steps import StepPrinter, Steps, watch

if TYPE_CHECKING:
    from tellerhal.demo import DemoResult

__all__ = ["deposit_notes", "units_text", "withdraw_cash"]


async def withdraw_cash(
    cash: CashDispenser, amount: Money, printer: StepPrinter, result: DemoResult, patience: float
) -> None:
    """Denominate, dispense and present ``amount``; wait for the customer to take it."""
    say = printer.line
    step = Steps(printer, result)
    await step("open sim://cash_dispenser", cash.open())
    events = cash.events()
    watcher = asyncio.create_task(watch(events, say, result, who="cash"), name="demo cash")
    try:
        units = await cash.cash_units()
        say("app", "cash units: " + units_text(units))
        denomination = await step(f"denominate({amount}, fewestNotes)", cash.denominate(amount))
        notes = ", ".join(f"{n} from {unit}" for unit, n in denomination.counts.items())
        say("app", f"{amount} as {denomination.notes} notes: {notes}")
        with cash.events(kinds=[ItemsTaken]) as taken:
            dispensed = await step("dispense", cash.dispense(denomination))
            presented = await step("present: please take your cash", cash.present())
            await step("the customer took the cash", taken.get(timeout=patience))
        result.withdrawn = dispensed.amount
        result.notes_taken = presented
        units = await cash.cash_units()
        result.cash_books = {u.id: u.count for u in units}
        say("app", f"{dispensed.amount} paid out in {presented} notes; units: {units_text(units)}")
    finally:
        events.close()
        await watcher
        await step("close sim://cash_dispenser", cash.close())


async def deposit_notes(
    acceptor: CashAcceptor, limit: Money, printer: StepPrinter, result: DemoResult, patience: float
) -> None:
    """Take the customer's notes into the escrow, then store them; say what was refused."""
    say = printer.line
    step = Steps(printer, result)
    await step("open sim://cash_acceptor", acceptor.open())
    events = acceptor.events()
    watcher = asyncio.create_task(watch(events, say, result, who="deposit"), name="demo deposit")
    try:
        notes = ", ".join(str(n.money) for n in await acceptor.note_types() if n.enabled)
        say("app", f"the acceptor takes {notes}")
        await step(f"cash_in_start(max_amount={limit})", acceptor.cash_in_start(max_amount=limit))
        taken = await step("cash_in: please insert your notes", acceptor.cash_in(timeout=patience))
        result.deposit_refused = sum(taken.refused.values())
        refused = ", ".join(f"{n} {reason.value}" for reason, n in taken.refused.items())
        escrowed = ", ".join(f"{n} x {item}" for item, n in taken.accepted.items())
        say("app", f"in the escrow: {escrowed or 'nothing'}; given back: {refused or 'nothing'}")
        ended = await step("cash_in_end: store the notes", acceptor.cash_in_end())
        result.deposited = ended.credited.get("CNY")
        stored = "; ".join(
            f"{unit}: " + ", ".join(f"{n} x {item}" for item, n in by_item.items())
            for unit, by_item in ended.stored.items()
        )
        units = await acceptor.cash_units()
        result.deposit_books = {u.id: u.count for u in units}
        say("app", f"{result.deposited} deposited ({stored}); units: {units_text(units)}")
    finally:
        events.close()
        await watcher
        await step("close sim://cash_acceptor", acceptor.close())


def units_text(units: tuple[CashUnit, ...]) -> str:
    """The cash units and their counts, as the demo prints them."""

    def one(unit: CashUnit) -> str:
        if unit.info.currency is None:
            return f"{unit.id} {unit.count}"
        value = Money(unit.info.value, unit.info.currency)
        return f"{unit.id} {unit.count} x {value}"

    return ", ".join(one(u) for u in units)
