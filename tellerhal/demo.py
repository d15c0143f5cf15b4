"""``tellerhal demo``: a kiosk app and a scripted customer on the embedded simulator.

The app side uses only the public API (``hal.open("sim://card_reader")``,
``hal.open("sim://pin_pad")``), exactly as it would on real hardware. The customer is a
scenario file (`simulator/scenarios/demo.toml`) played through the simulator's control
API: when the scenario has an ID scanner and a camera, they first prove who they are
(their ID card is read and checked, their photo taken, retaken once when blurred); they
insert a card and, when the scenario has a PIN pad, type their PIN on it. The
app loads a test key-encryption key from two clear components and a PIN key under it,
as a bank's key custodians would, and gets an ISO-0 PIN block for the card's PAN. Every
step prints its time since the start and how long it took; PANs are masked, track data
and names never printed, the PIN never (only how many digits it has and the size of its
enciphered block), and no key (only check values); names and ID numbers only masked, birth dates and
addresses, the document's photo and the customer's picture never.

The steps live beside this module: `tellerhal.demo_steps` (timed lines, app steps, event
watchers), `tellerhal.demo_identity`, `tellerhal.demo_pin` (the test keys, re-exported
here, and the PIN entry), `tellerhal.demo_cash` (withdrawal, deposit) and
`tellerhal.demo_receipt`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import hal
from hal.devices.camera import Camera
from hal.devices.card_reader import (
    DISPENSE_UNIT,
    CardAction,
    CardData,
    CardReader,
    ChipPowerAction,
    DataStatus,
    MediaRemoved,
    MoveTarget,
    Track,
)
from hal.devices.cash_acceptor import CashAcceptor
from hal.devices.cash_dispenser import CashDispenser
from hal.devices.id_scanner import IdScanner
from hal.devices.pin_pad import PinPad
from hal.errors import ConfigurationError
from hal.money import Money
from protocols.errors import ProtocolError
from protocols.tracks import mask_pan, parse_track2
from simulator.scenario import Scenario, load_scenario, run_customer
from simulator.scenario_run import add_devices
from simulator.world import World, get_world
from tellerhal.demo_cash import deposit_notes, withdraw_cash
from tellerhal.demo_identity import IdentityResult, identity_check
from tellerhal.demo_pin import TEST_KEK_COMPONENTS, TEST_PIN_KEY, pin_entry
from tellerhal.demo_receipt import ReceiptResult, print_receipt
from tellerhal.demo_steps import StepPrinter, Steps, watch
from tellerhal.emv import read_application

__all__ = ["TEST_KEK_COMPONENTS", "TEST_PIN_KEY", "DemoResult", "run_demo"]

#: What the demo customer withdraws.
WITHDRAWAL = Money(38000, "CNY")  # 380.00 CNY
#: Simulated seconds the app gives the customer to hold still before a retake.
HOLD_STILL = 2.0
#: The most the demo's deposit may credit.
DEPOSIT_LIMIT = Money(100000, "CNY")  # 1,000.00 CNY


@dataclass
class DemoResult:
    """What the demo did, for tests and for the exit code."""

    steps: list[tuple[str, float]] = field(default_factory=list)
    events: list[str] = field(default_factory=list)
    pan_masked: str = ""
    chip_and_stripe_agree: bool = False
    cards_issued: int = 0
    pin_pad: bool = False
    pin_digits: int = 0
    pin_block: bytes = field(default=b"", repr=False)
    withdrawn: Money | None = None
    notes_taken: int = 0
    cash_books: dict[str, int] = field(default_factory=dict)
    deposited: Money | None = None
    deposit_refused: int = 0
    deposit_books: dict[str, int] = field(default_factory=dict)
    identity: IdentityResult | None = None
    receipt: ReceiptResult | None = None
    total_seconds: float = 0.0


def _world(scenario: Scenario, clock_scale: float | None) -> World:
    name = f"demo-{os.getpid()}-{time.monotonic_ns()}"
    world = get_world(
        name,
        seed=scenario.seed,
        clock_scale=scenario.clock_scale if clock_scale is None else clock_scale,
    )
    add_devices(world, scenario)
    return world


async def run_demo(
    *,
    scenario: str = "demo",
    clock_scale: float | None = None,
    out: TextIO | None = None,
    receipt_png: Path | None = None,
) -> DemoResult:
    """Run the demo and return what happened.

    Args:
        scenario: a scenario name (``simulator/scenarios``) or a path.
        clock_scale: overrides the scenario's clock scale (0.01 runs 100x faster).
        out: where the step lines go (standard output by default).
        receipt_png: where to save the picture of the receipt printed at the end
            (``None``: not saved).
    """
    printer = StepPrinter(out if out is not None else sys.stdout)
    result = DemoResult()
    plan = load_scenario(scenario)
    world = _world(plan, clock_scale)
    say = printer.line
    say("demo", f"scenario {plan.name!r}: {plan.description} (clock x{world.clock.scale:g})")
    customer = asyncio.create_task(run_customer(world, plan), name="demo customer")
    identity: tuple[IdScanner, Camera] | None = None
    if "id_scanner" in world.id_scanners and "camera" in world.cameras:
        scanner = hal.open(f"sim://id_scanner?world={world.name}")
        camera = hal.open(f"sim://camera?world={world.name}")
        assert isinstance(scanner, IdScanner)
        assert isinstance(camera, Camera)
        identity = scanner, camera
    reader = hal.open(f"sim://card_reader?world={world.name}")
    assert isinstance(reader, CardReader)
    pad: PinPad | None = None
    if "pin_pad" in world.pin_pads:
        device = hal.open(f"sim://pin_pad?world={world.name}")
        assert isinstance(device, PinPad)
        pad = device
        result.pin_pad = True
    cash: CashDispenser | None = None
    if "cash_dispenser" in world.cash_dispensers:
        dispenser = hal.open(f"sim://cash_dispenser?world={world.name}")
        assert isinstance(dispenser, CashDispenser)
        cash = dispenser
    acceptor: CashAcceptor | None = None
    if "cash_acceptor" in world.cash_acceptors:
        deposit = hal.open(f"sim://cash_acceptor?world={world.name}")
        assert isinstance(deposit, CashAcceptor)
        acceptor = deposit
    try:
        if identity is not None:
            result.identity = await _identity(
                *identity,
                printer,
                result,
                patience=world.clock.to_real(120),
                hold_still=world.clock.to_real(HOLD_STILL),
            )
        # Simulated minutes: long enough for a customer who forgets the card to be
        # overtaken by the reader's take timeout.
        await _app(
            reader, pad, (cash, acceptor), printer, result, patience=world.clock.to_real(120)
        )
        result.receipt = await print_receipt(
            world,
            Steps(printer, result),
            say,
            pan_masked=result.pan_masked,
            withdrawn=result.withdrawn,
            deposited=result.deposited,
            png=receipt_png,
            patience=world.clock.to_real(120),
        )
        await asyncio.wait_for(customer, timeout=max(5.0, world.clock.to_real(60)))
    finally:
        if not customer.done():
            customer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await customer
    result.total_seconds = time.perf_counter() - printer.start
    say("demo", f"done in {result.total_seconds:.3f} s; every step above ran through hal")
    return result


async def _identity(
    scanner: IdScanner,
    camera: Camera,
    printer: StepPrinter,
    result: DemoResult,
    *,
    patience: float,
    hold_still: float,
) -> IdentityResult | None:
    """The identity check a new card needs: the ID card read and checked, the customer
    photographed (one retake)."""
    say = printer.line
    step = Steps(printer, result)
    say(
        "app",
        "identity check: a new card is issued only to a customer whose ID and face were checked",
    )
    await step("open sim://id_scanner", scanner.open())
    try:
        await step("open sim://camera", camera.open())
    except ConfigurationError as exc:  # no OpenCV: pip install 'tellerhal[camera]'
        say("app", f"no camera: {exc}")
        await scanner.close()
        return None
    events = [scanner.events(), camera.events()]
    watchers = [
        asyncio.create_task(watch(events[0], say, result, who="id"), name="demo id events"),
        asyncio.create_task(watch(events[1], say, result, who="camera"), name="demo camera"),
    ]
    try:
        return await identity_check(
            scanner, camera, step, say, patience=patience, hold_still=hold_still
        )
    finally:
        for sub in events:
            sub.close()
        await asyncio.gather(*watchers)
        await step("close sim://camera", camera.close())
        await step("close sim://id_scanner", scanner.close())


async def _app(
    reader: CardReader,
    pad: PinPad | None,
    money: tuple[CashDispenser | None, CashAcceptor | None],
    printer: StepPrinter,
    result: DemoResult,
    *,
    patience: float,
) -> None:
    say = printer.line
    cash, acceptor = money
    step = Steps(printer, result)
    await step("open sim://card_reader", reader.open())
    events = reader.events()
    watcher = asyncio.create_task(watch(events, say, result), name="demo events")
    try:
        caps = await reader.capabilities()
        say("app", f"reader: {caps.type.value}, reads {', '.join(sorted(caps.read_tracks))}")
        say("app", "read_raw_data(track1, track2, track3): please insert your card")
        data = await step(
            "read_raw_data returned",
            reader.read_raw_data([Track.TRACK1, Track.TRACK2, Track.TRACK3], timeout=120),
        )
        stripe_pan = _show_track2(data[Track.TRACK2], say, result)
        atr = await step("chip_power(cold)", reader.chip_power(ChipPowerAction.COLD))
        say("app", f"ATR {atr.hex(' ').upper()}")
        chip = await step("EMV: PSE, SELECT AID, GPO, READ RECORD", read_application(reader))
        say(
            "app",
            f"chip application {chip.selected.aid.hex().upper()} {chip.selected.label!r}: "
            f"{chip.records} records in {chip.exchanges} APDUs, PAN "
            f"{mask_pan(chip.pan) if chip.pan else 'absent'}, expires {chip.expiry or '?'}",
        )
        result.chip_and_stripe_agree = bool(chip.pan) and chip.pan == stripe_pan
        agree = "agree" if result.chip_and_stripe_agree else "DISAGREE"
        say("app", f"chip and stripe {agree} on the PAN")
        await step("chip_power(off)", reader.chip_power(ChipPowerAction.OFF))
        pan = chip.pan or stripe_pan
        if pad is not None and pan:
            await pin_entry(pad, pan, printer, result, patience)
        with reader.events(kinds=[MediaRemoved, CardAction]) as gone:
            await step("move(exit): please take your card", reader.move(MoveTarget.EXIT))
            ending = await step("the card left the exit", gone.get(timeout=patience))
        if isinstance(ending, CardAction):
            say("app", f"the customer left the card: the reader moved it to {ending.to}")
        else:
            say("app", "the customer took the card")
            if cash is not None:
                await withdraw_cash(cash, WITHDRAWAL, printer, result, patience)
            if acceptor is not None:
                await deposit_notes(acceptor, DEPOSIT_LIMIT, printer, result, patience)
            if "issue" in caps.features():
                await _issue_new_card(reader, step, say, result, patience)
    finally:
        events.close()
        await watcher
        await step("close", reader.close())


async def _issue_new_card(
    reader: CardReader,
    step: Steps,
    say: Callable[[str, str], None],
    result: DemoResult,
    patience: float,
) -> None:
    """The customer asked for a new card: issue one from the stacker to the exit."""
    # The books start from what the operator counted in at replenishment.
    await step("load_stacker(100): the operator's count", reader.load_stacker(100))
    with reader.events(kinds=[MediaRemoved]) as taken:
        await step(
            "move(exit, from_unit='stacker'): here is your new card",
            reader.move(MoveTarget.EXIT, from_unit=DISPENSE_UNIT),
        )
        await step("the new card left the exit", taken.get(timeout=patience))
    stacker = await reader.stacker()
    result.cards_issued += 1
    say("app", f"new card issued; the stacker's books: {stacker.count} of {stacker.capacity}")


def _show_track2(track2: CardData, say: Callable[[str, str], None], result: DemoResult) -> str:
    """Print what track 2 says (PAN masked) and return the PAN."""
    if track2.status is not DataStatus.OK:
        say("app", f"track 2: {track2.status.value}")
        return ""
    try:
        parsed = parse_track2(track2.data)
    except ProtocolError as exc:
        say("app", f"track 2 does not parse: {exc}")
        return ""
    result.pan_masked = mask_pan(parsed.pan)
    chip = " (chip card: use the chip)" if parsed.service_code[:1] in "26" else ""
    say(
        "app",
        f"track 2: PAN {result.pan_masked}, expires {parsed.expiry[2:]}/{parsed.expiry[:2]}, "
        f"service code {parsed.service_code}{chip}",
    )
    return parsed.pan
