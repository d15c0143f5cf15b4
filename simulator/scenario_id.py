"""A scenario's ID scanner: its ``[devices.id_scanner]`` table and its customer's steps.

`simulator.scenario` parses the file and runs the customer; what is particular to an ID
scanner is here::

    [devices.id_scanner]             # all optional
    build = "kiosk"                  # kiosk, chip or mrz (simulator.models.id_scanner)
    retain_capacity = 20             # documents the kiosk's retain bin holds
    motion_time = 0.3                # simulated seconds a document movement takes
    read_time = 0.5                  # simulated seconds a read takes

    [[customer]]
    device = "id_scanner"
    wait_for = "accepting"           # the scanner waits for a document
    after = 1.0
    action = "present_document"
    profile = "resident"             # a document profile (simulator.id_profiles)

    [[customer]]
    device = "id_scanner"
    action = "remove_document"       # from the field, or from the exit once there

Actions: ``present_document`` (needs ``profile``), ``remove_document`` (waits up to the
step's ``timeout`` for the document at a motorised scanner's exit), ``jam``,
``clear_jam``, ``empty_retain_bin``, ``power_off``, ``power_on``, ``slow_replies``.
Conditions: `simulator.id_control.ID_CONDITIONS` (``accepting``, ``document_inside``,
``document_at_exit``, ``document_taken``, ...).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from hal.errors import ConfigurationError
from simulator.id_control import ID_CONDITIONS
from simulator.id_profiles import document_profile
from simulator.tomlcheck import check_keys, typed
from simulator.world import IdScannerSetup, World

if TYPE_CHECKING:
    from simulator.scenario import Scenario, Step

__all__ = [
    "ID_ONLY_ACTIONS",
    "ID_STEP_ACTIONS",
    "ID_STEP_CONDITIONS",
    "check_document_profile",
    "id_scanner_setup",
    "id_step",
]

log = logging.getLogger("simulator.scenario")

#: The actions only an ID scanner has.
ID_ONLY_ACTIONS = frozenset({"present_document", "remove_document"})
#: Everything an ID scanner step may do.
ID_STEP_ACTIONS = ID_ONLY_ACTIONS | frozenset(
    {"jam", "clear_jam", "empty_retain_bin", "power_off", "power_on", "slow_replies"}
)
#: What an ID scanner step may wait for.
ID_STEP_CONDITIONS = frozenset(ID_CONDITIONS)

_SETUP_KEYS = frozenset({"build", "retain_capacity", "motion_time", "read_time"})


def _seconds(table: Mapping[str, Any], key: str, at: str, default: float) -> float:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigurationError(f"{at}: '{key}' must be a finite number, got {value!r}")
    return float(value)


def id_scanner_setup(table: Mapping[str, Any], at: str) -> IdScannerSetup:
    """The setup a ``[devices.id_scanner]`` table describes.

    Raises:
        ConfigurationError: an unknown key or a bad value (named with ``at``).
    """
    check_keys(table, _SETUP_KEYS, at)
    try:
        return IdScannerSetup(
            build=typed(table, "build", str, at, "kiosk"),
            retain_capacity=typed(table, "retain_capacity", int, at, 20),
            motion_time=_seconds(table, "motion_time", at, 0.3),
            read_time=_seconds(table, "read_time", at, 0.5),
        )
    except ConfigurationError as exc:
        raise ConfigurationError(f"{at}: {exc}") from None


def check_document_profile(profile: str, where: str) -> None:
    """Refuse a step's document profile nobody ships.

    Raises:
        ConfigurationError: no such profile (the known ones are listed).
    """
    try:
        document_profile(profile)
    except ConfigurationError as exc:
        raise ConfigurationError(f"{where}: {exc}") from None


async def id_step(world: World, scenario: Scenario, number: int, step: Step, start: float) -> None:
    """One customer (or fate) step on an ID scanner."""
    clock = world.clock
    control = world.id_scanner_control(step.device)
    if step.at is not None:
        await clock.sleep(max(0.0, start + step.at - clock.now()))
    if step.wait_for is not None:
        await control.wait_for(step.wait_for, timeout=clock.to_real(step.timeout))
    if step.after:
        await clock.sleep(step.after)
    log.debug("%s: customer step %d: %s", scenario.name, number, step.action or "wait")
    if step.action == "present_document":
        assert step.profile is not None  # checked when parsed
        await control.present_document(step.profile)
    elif step.action == "remove_document":
        await control.remove_document(timeout=clock.to_real(step.timeout))
    elif step.action == "jam":
        await control.jam()
    elif step.action == "clear_jam":
        await control.clear_jam()
    elif step.action == "empty_retain_bin":
        await control.empty_retain_bin()
    elif step.action in ("power_off", "power_on"):
        await control.power_loss(step.action == "power_off")
    elif step.action == "slow_replies":
        await control.slow_replies(step.seconds or 0.0)
