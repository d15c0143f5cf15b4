"""The HAL process the crash suite kills (docs/crash.md).

Run as ``python -m tests.crash.child --address ADDRESS --control ENDPOINT --ledger FILE
--seed N [--setup]``. It opens the cash dispenser at ``ADDRESS`` over the ledger
``FILE`` (opening reconciles whatever a killed predecessor left pending), then:

- with ``--setup``: sets every unit's initial count to what the model holds (an
  exchange), prints ``setup`` and exits;
- else prints ``ready`` and waits for a line on stdin: ``go PHASE`` starts the loop
  (its random choices lead to ``PHASE`` 9 times in 10, so the parent's kill aimed at
  it comes sooner), ``quit`` closes the device and exits 0.

The loop, driven by the ledger's positions: notes in the transport are cleared by a
reset; notes in the stacker are presented (or, sometimes, rejected); notes at the exit
are taken by the customer (the model's control: ``take_notes``, then the `ItemsTaken`
event; when the parent aims its kill at the take, the parent is the customer) or, after
a short wait, retracted; with all positions empty a random amount is dispensed. Before
each phase it prints ``phase NAME`` (flushed), so the parent knows where its SIGKILL
landed. On a device that dispenses straight to the customer (the LCDM) the loop is
dispenses only.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
from decimal import Decimal

import hal
from hal.devices.cash_dispenser import CashDispenser, ItemsTaken
from hal.ledger import Ledger
from hal.money import Money
from simulator.model_link_client import LinkControl

DEVICE = "cash_dispenser"
POSITIONS = ("transport", "stacker", "exit")


def mark(phase: str) -> None:
    print(f"phase {phase}", flush=True)


def positions(ledger: str) -> dict[str, int]:
    """Notes at the positions, as the ledger (the HAL's books) has them."""
    with Ledger.open(ledger, read_only=True) as view:
        counts = view.counts(DEVICE)
    return {name: counts.get(name, 0) for name in POSITIONS}


async def setup(device: CashDispenser, control: LinkControl) -> None:
    """Initial counts = what the model holds (a fresh model: positions empty)."""
    truth = await control.ground_truth()
    await device.start_exchange(timeout=30)
    for unit in await device.cash_units():
        await device.set_cash_unit(unit.id, initial=truth[unit.id], timeout=30)
    await device.end_exchange(timeout=30)


async def take(device: CashDispenser, control: LinkControl, by_parent: bool) -> None:
    """The customer takes the notes; the service books them on `ItemsTaken`.

    With ``by_parent`` the customer is the parent process (so it can time its kill
    around the take); the child only waits for the event.
    """
    events = device.events(kinds=[ItemsTaken])
    try:
        if not by_parent:
            await control.call("take_notes")
        await events.wait_for(ItemsTaken, timeout=30)
    finally:
        events.close()


def chance(rng: random.Random, wanted: bool, usual: float) -> bool:
    """A random choice, made 9 times in 10 when it leads to the phase aimed at."""
    return rng.random() < (0.9 if wanted else usual)


async def cycle(
    device: CashDispenser,
    control: LinkControl,
    ledger: str,
    rng: random.Random,
    direct: bool,
    aim: str,
) -> None:
    """One step of the loop, chosen by where the ledger says notes are (and, at random
    forks, mostly the way to the phase ``aim``)."""
    at = positions(ledger)
    if at["transport"]:
        mark("reset")
        await device.reset(timeout=60)
    elif at["stacker"]:
        if chance(rng, aim == "reject", 0.15):
            mark("reject")
            await device.reject(timeout=60)
        else:
            mark("present")
            await device.present(timeout=60)
    elif at["exit"]:
        if chance(rng, aim == "take", 0.6 if aim not in ("retract", "exit_wait") else 0.1):
            mark("take")
            await take(device, control, by_parent=aim == "take")
        else:
            mark("exit_wait")
            await asyncio.sleep(rng.uniform(0.02, 0.2))
            mark("retract")
            await device.retract(timeout=60)
    else:
        amount = Money.of(Decimal(rng.randrange(10, 310, 10)), "CNY")
        mark("dispense")
        await device.dispense(amount, timeout=60)
        if direct:
            mark("idle")


async def main(args: argparse.Namespace) -> int:
    rng = random.Random(args.seed)
    control = LinkControl(args.control)
    mark("open")
    joint = "&" if "?" in args.address else "?"
    device = hal.open(f"{args.address}{joint}ledger={args.ledger}")
    assert isinstance(device, CashDispenser)
    async with device:
        if args.setup:
            await setup(device, control)
            print("setup", flush=True)
            return 0
        print("ready", flush=True)
        loop = asyncio.get_running_loop()
        command, _, aim = (await loop.run_in_executor(None, sys.stdin.readline)).partition(" ")
        if command.strip() != "go":
            return 0
        direct = (await device.capabilities()).dispense_to != "stacker"
        while True:
            await cycle(device, control, args.ledger, rng, direct, aim.strip())


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--address", required=True)
    parser.add_argument("--control", required=True)
    parser.add_argument("--ledger", required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--setup", action="store_true")
    raise SystemExit(asyncio.run(main(parser.parse_args())))
