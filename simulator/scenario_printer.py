"""A scenario's printers: their ``[devices.receipt_printer]`` / ``[devices.journal_printer]``
tables and their customer's (and fate's) steps.

`simulator.scenario` parses the file and runs the customer; what is particular to a
printer is here::

    [devices.receipt_printer]        # all optional
    profile = "receipt"              # receipt, receipt58, journal (the journal's default)
    paper_length = 2000              # lines on a full roll
    near_end_lines = 100             # lines left when the near-end sensor trips (default
                                     # 100; 5 % of a roll of 100 lines or less)
    line_time = 0.0                  # simulated seconds a printed line takes

    [[customer]]
    device = "receipt_printer"
    wait_for = "receipt_waiting"     # a cut receipt waits at the exit
    after = 1.0
    action = "take_receipt"

Actions: ``take_receipt``, ``paper_out`` (the roll ends now), ``paper_low``,
``replenish_paper``, ``open_cover``, ``close_cover``, ``jam_printer`` (the next job
jams), ``power_off``, ``power_on``, ``slow_replies``. Conditions
(`PRINTER_CONDITIONS`): ``receipt_waiting`` (a cut receipt waits for the customer),
``printer_open`` (a service has the printer open).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from hal.errors import ConfigurationError, HalTimeout
from simulator.tomlcheck import check_keys, typed
from simulator.world_printer import PrinterSetup, default_printer_profile

if TYPE_CHECKING:
    from simulator.scenario import Scenario, Step
    from simulator.world import World

__all__ = [
    "PRINTER_CONDITIONS",
    "PRINTER_DEVICES",
    "PRINTER_ONLY_ACTIONS",
    "PRINTER_STEP_ACTIONS",
    "printer_setup",
    "printer_step",
]

log = logging.getLogger("simulator.scenario")

#: The printers a scenario may build.
PRINTER_DEVICES = frozenset({"receipt_printer", "journal_printer"})
#: The actions only a printer has.
PRINTER_ONLY_ACTIONS = frozenset(
    {
        "take_receipt",
        "paper_out",
        "paper_low",
        "replenish_paper",
        "open_cover",
        "close_cover",
        "jam_printer",
    }
)
#: Everything a printer step may do.
PRINTER_STEP_ACTIONS = PRINTER_ONLY_ACTIONS | frozenset({"power_off", "power_on", "slow_replies"})
#: What a printer step may wait for.
PRINTER_CONDITIONS = frozenset({"receipt_waiting", "printer_open"})

_SETUP_KEYS = frozenset({"profile", "paper_length", "near_end_lines", "line_time"})


def printer_setup(device: str, table: Mapping[str, Any], at: str) -> PrinterSetup:
    """The setup a ``[devices.receipt_printer]`` (or journal) table describes.

    Raises:
        ConfigurationError: an unknown key or a bad value (named with ``at``).
    """
    check_keys(table, _SETUP_KEYS, at)
    length = typed(table, "paper_length", int, at, 2000)
    near_default = 100 if length > 100 else length // 20  # a short roll: 5 %
    try:
        return PrinterSetup(
            profile=typed(table, "profile", str, at, default_printer_profile(device)),
            paper_length=length,
            near_end_lines=typed(table, "near_end_lines", int, at, near_default),
            line_time=_seconds(table, "line_time", at),
        )
    except ConfigurationError as exc:
        raise ConfigurationError(f"{at}: {exc}") from None


def _seconds(table: Mapping[str, Any], key: str, at: str) -> float:
    value = table.get(key, 0.0)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigurationError(f"{at}: {key!r} must be a number of seconds")
    return float(value)


async def printer_step(
    world: World, scenario: Scenario, number: int, step: Step, start: float
) -> None:
    """One customer (or operator, or fate) step at a printer."""
    clock = world.clock
    control = world.printer_control(step.device)
    model = control.model
    if step.at is not None:
        await clock.sleep(max(0.0, start + step.at - clock.now()))
    if step.wait_for is not None:
        holds = (
            model.receipt_waiting if step.wait_for == "receipt_waiting" else lambda: model.is_open
        )
        try:
            async with asyncio.timeout(clock.to_real(step.timeout)):
                await model.wait_until(holds)
        except TimeoutError:
            raise HalTimeout(
                f"{scenario.name}: step {number}: {step.wait_for} did not hold within "
                f"{step.timeout} s"
            ) from None
    if step.after:
        await clock.sleep(step.after)
    log.debug("%s: customer step %d: %s", scenario.name, number, step.action or "wait")
    if step.action == "take_receipt":
        await control.take_receipt(timeout=clock.to_real(step.timeout))
    elif step.action == "paper_out":
        await control.paper_runs_out()
    elif step.action == "paper_low":
        await control.paper_low()
    elif step.action == "replenish_paper":
        await control.replenish()
    elif step.action == "open_cover":
        await control.open_cover()
    elif step.action == "close_cover":
        await control.close_cover()
    elif step.action == "jam_printer":
        await control.jam_next()
    elif step.action in ("power_off", "power_on"):
        await control.power_loss(step.action == "power_off")
    elif step.action == "slow_replies":
        await control.slow_replies(step.seconds or 0.0)
