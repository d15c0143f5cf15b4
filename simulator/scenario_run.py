"""Running a scenario: building its world and performing its customer's steps.

`build_world` makes a world with a parsed `simulator.scenario.Scenario`'s seed, clock
scale and devices; `run_customer` performs its customer steps through the world's control
API. `simulator.scenario` parses scenario files and re-exports both. The log lines keep
the ``simulator.scenario`` logger; a PIN pad's PIN and keys are never logged.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from hal.errors import HalTimeout
from simulator.cash_control import CashDispenserControl
from simulator.cash_in_control import CashAcceptorControl
from simulator.scenario_camera import camera_step
from simulator.scenario_id import id_step
from simulator.scenario_printer import PRINTER_DEVICES, printer_step
from simulator.world import World

if TYPE_CHECKING:
    from simulator.scenario import Scenario, Step

__all__ = ["add_devices", "build_world", "run_customer"]

# The logger of simulator.scenario, where this code lived: log configurations name it.
log = logging.getLogger("simulator.scenario")


def build_world(
    scenario: Scenario, name: str | None = None, *, clock_scale: float | None = None
) -> World:
    """A new world with the scenario's seed, clock scale and devices.

    Args:
        scenario: the scenario.
        name: the world's name; the scenario's by default.
        clock_scale: overrides the scenario's (CI runs the demo a thousand times faster).
    """
    world = World(
        name or scenario.name,
        seed=scenario.seed,
        clock_scale=scenario.clock_scale if clock_scale is None else clock_scale,
    )
    add_devices(world, scenario)
    return world


def add_devices(world: World, scenario: Scenario) -> None:
    """Make the scenario's devices in ``world``, class by class in a fixed order (card
    readers first): the one place a new device class's scenario table is wired in."""
    for device, setup in scenario.card_readers.items():
        world.card_reader(device, setup)
    for device, pad_setup in scenario.pin_pads.items():
        world.pin_pad(device, pad_setup)
    for device, cash_setup in scenario.cash_dispensers.items():
        world.cash_dispenser(device, cash_setup)
    for device, in_setup in scenario.cash_acceptors.items():
        world.cash_acceptor(device, in_setup)
    for device, id_setup in scenario.id_scanners.items():
        world.id_scanner(device, id_setup)
    for device, camera in scenario.cameras.items():
        world.camera(device, camera)
    for device, printer in scenario.printers.items():
        world.printer(device, printer)


async def run_customer(world: World, scenario: Scenario) -> None:
    """Perform the scenario's customer steps through the world's control API.

    Raises:
        HalTimeout: a ``wait_for`` (or a ``take_card``) waited longer than its timeout.
        SequenceError: an action the world's state does not allow (a card inserted
            while another is in the reader, a ``never_taken`` card taken...).
    """
    clock = world.clock
    start = clock.now()
    for number, step in enumerate(scenario.customer, 1):
        if step.device == "pin_pad":
            await _pin_pad_step(world, scenario, number, step, start)
            continue
        if step.device == "cash_dispenser":
            await _cash_step(world, scenario, number, step, start)
            continue
        if step.device == "cash_acceptor":
            await _cash_in_step(world, scenario, number, step, start)
            continue
        if step.device == "id_scanner":
            await id_step(world, scenario, number, step, start)
            continue
        if step.device == "camera":
            await camera_step(world, scenario, number, step, start)
            continue
        if step.device in PRINTER_DEVICES:
            await printer_step(world, scenario, number, step, start)
            continue
        control = world.card_reader_control(step.device)
        if step.at is not None:
            await clock.sleep(max(0.0, start + step.at - clock.now()))
        if step.wait_for is not None:
            await control.wait_for(step.wait_for, timeout=clock.to_real(step.timeout))
        if step.after:
            await clock.sleep(step.after)
        log.debug("%s: customer step %d: %s", scenario.name, number, step.action or "wait")
        if step.action == "insert_card":
            assert step.profile is not None  # checked when parsed
            await control.insert_card(step.profile)
        elif step.action == "take_card":
            await control.take_card(timeout=clock.to_real(step.timeout))
        elif step.action == "jam":
            await control.jam()
        elif step.action == "clear_jam":
            await control.clear_jam()
        elif step.action in ("power_off", "power_on"):
            await control.power_loss(step.action == "power_off")
        elif step.action == "slow_replies":
            await control.slow_replies(step.seconds or 0.0)
        elif step.action == "empty_retain_bin":
            await control.empty_retain_bin()


async def _pin_pad_step(
    world: World, scenario: Scenario, number: int, step: Step, start: float
) -> None:
    """One customer step on a PIN pad (its PIN and keys are never logged)."""
    clock = world.clock
    control = world.pin_pad_control(step.device)
    if step.at is not None:
        await clock.sleep(max(0.0, start + step.at - clock.now()))
    if step.wait_for is not None:
        await control.wait_for_entry(clock.to_real(step.timeout))
    if step.after:
        await clock.sleep(step.after)
    log.debug("%s: customer step %d: %s", scenario.name, number, step.action or "wait")
    if step.action == "type_pin":
        assert step.pin is not None  # checked when parsed
        await control.type_pin(step.pin, timeout=clock.to_real(step.timeout))
    elif step.action == "press_keys":
        await control.press_keys(step.keys, timeout=clock.to_real(step.timeout))
    elif step.action in ("power_off", "power_on"):
        await control.power_loss(step.action == "power_off")
    elif step.action == "slow_replies":
        await control.slow_replies(step.seconds or 0.0)


async def _cash_step(
    world: World, scenario: Scenario, number: int, step: Step, start: float
) -> None:
    """One customer (or fate) step on a cash dispenser."""
    clock = world.clock
    control = world.cash_dispenser_control(step.device)
    model = control.model
    if step.at is not None:
        await clock.sleep(max(0.0, start + step.at - clock.now()))
    if step.wait_for is not None:
        await model.wait_for_notes_at_exit(clock.to_real(step.timeout))
    if step.after:
        await clock.sleep(step.after)
    log.debug("%s: customer step %d: %s", scenario.name, number, step.action or "wait")
    if step.action == "take_notes":
        await control.take_notes(timeout=clock.to_real(step.timeout))
    else:
        await _hands(control, step)


async def _cash_in_step(
    world: World, scenario: Scenario, number: int, step: Step, start: float
) -> None:
    """One customer (or fate) step on a cash acceptor."""
    clock = world.clock
    control = world.cash_acceptor_control(step.device)
    model = control.model
    if step.at is not None:
        await clock.sleep(max(0.0, start + step.at - clock.now()))
    if step.wait_for == "notes_at_exit":
        await model.wait_for_notes_at_exit(clock.to_real(step.timeout))
    elif step.wait_for == "input_empty":
        try:
            async with asyncio.timeout(clock.to_real(step.timeout)):
                await model.wait_until(lambda: not model.input_notes)
        except TimeoutError:
            raise HalTimeout(
                f"{step.device}: the notes were still in the input after {step.timeout} s"
            ) from None
    if step.after:
        await clock.sleep(step.after)
    log.debug("%s: customer step %d: %s", scenario.name, number, step.action or "wait")
    if step.action == "insert_notes":
        await control.insert_notes(step.notes)
    elif step.action == "take_returned":
        await control.take_returned(timeout=clock.to_real(step.timeout))
    elif step.action == "jam_next_note":
        await control.jam_next_note()
    else:
        await _hands(control, step)


async def _hands(control: CashDispenserControl | CashAcceptorControl, step: Step) -> None:
    """What an engineer or fate does the same way to either cash device."""
    if step.action == "clear_jam":
        await control.clear_jam()
    elif step.action in ("power_off", "power_on"):
        await control.power_loss(step.action == "power_off")
    elif step.action == "slow_replies":
        await control.slow_replies(step.seconds or 0.0)
