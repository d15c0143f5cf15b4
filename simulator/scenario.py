"""Scenarios: versioned TOML files describing a simulated kiosk and a scripted customer.

A scenario (``simulator/scenarios/<name>.toml``, or any file) looks like::

    version = 1                      # required; other versions are refused
    description = "the demo customer"
    seed = 0                         # the world's seed (repeatable runs)
    clock_scale = 1.0                # real seconds per simulated second

    [devices.card_reader]            # the devices and how they are built
    retain_capacity = 50
    stacker_capacity = 100           # blank cards to issue (0: no card stacker)
    take_timeout = 30.0              # simulated s before a forgotten card is captured
                                     # (0: never)
    motion_time = 0.3
    variant = ""                     # a broken variant, for testing the suite

    [[customer]]                     # the customer's steps, in order
    wait_for = "gate_open"           # wait until the reader asks for a card
    after = 0.5                      # then 0.5 simulated seconds more
    action = "insert_card"
    profile = "visa"

    [[customer]]
    action = "take_card"             # waits for the card to reach the exit

Each step waits, then acts. Waits, in this order, all optional: ``at`` (simulated
seconds since the customer started), ``wait_for`` (a condition of
`simulator.control.CONDITIONS`, given up after ``timeout`` simulated seconds,
default 300), ``after`` (simulated seconds). Actions: ``insert_card`` (needs
``profile``), ``take_card``, ``jam``, ``clear_jam``, ``power_off``, ``power_on``,
``slow_replies`` (needs ``seconds``), ``empty_retain_bin``; a step without one only
waits. ``device`` names the device acted on (default ``card_reader``).

An unknown key, a bad value or an unsupported version is a `ConfigurationError` that
names the allowed keys or values.
"""

from __future__ import annotations

import logging
import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

from hal.errors import ConfigurationError
from simulator.control import CONDITIONS
from simulator.profiles import load_card_profile
from simulator.tomlcheck import check_keys, typed
from simulator.world import CardReaderSetup, World

__all__ = [
    "ACTIONS",
    "SCENARIO_VERSION",
    "Scenario",
    "Step",
    "build_world",
    "load_scenario",
    "parse_scenario",
    "run_customer",
    "scenario_names",
]

log = logging.getLogger(__name__)

SCENARIO_VERSION = 1

#: What a customer step can do.
ACTIONS = frozenset(
    {
        "insert_card",
        "take_card",
        "jam",
        "clear_jam",
        "power_off",
        "power_on",
        "slow_replies",
        "empty_retain_bin",
    }
)
_TOP_KEYS = frozenset({"version", "description", "seed", "clock_scale", "devices", "customer"})
_STEP_KEYS = frozenset(
    {"at", "wait_for", "timeout", "after", "action", "profile", "seconds", "device"}
)
_SETUP_KEYS = frozenset(f.name for f in fields(CardReaderSetup))
_DEVICES = frozenset({"card_reader"})
_NAME = re.compile(r"^[a-z0-9_]+$")
_DEFAULT_WAIT = 300.0


@dataclass(frozen=True)
class Step:
    """One step of the scripted customer: wait, then act.

    Attributes:
        action: what to do (one of `ACTIONS`), or ``None`` to only wait.
        at: simulated seconds since the customer started to wait until, or ``None``.
        wait_for: a condition to wait for (see `simulator.control.CONDITIONS`).
        timeout: simulated seconds to wait for ``wait_for`` (or for the card to reach
            the exit in ``take_card``).
        after: simulated seconds to wait before acting.
        profile: the card of ``insert_card``.
        seconds: the delay of ``slow_replies``.
        device: the device acted on.
    """

    action: str | None = None
    at: float | None = None
    wait_for: str | None = None
    timeout: float = _DEFAULT_WAIT
    after: float = 0.0
    profile: str | None = None
    seconds: float | None = None
    device: str = "card_reader"


@dataclass(frozen=True)
class Scenario:
    """A parsed scenario.

    Attributes:
        name: the file's name without ``.toml``.
        description: one line for people.
        seed: the world's seed.
        clock_scale: real seconds per simulated second.
        card_readers: how each card reader is built, by device name.
        customer: the customer's steps, in order.
    """

    name: str
    description: str
    seed: int
    clock_scale: float
    card_readers: Mapping[str, CardReaderSetup]
    customer: tuple[Step, ...]


def scenario_names() -> list[str]:
    """The scenarios shipped with the simulator."""
    root = resources.files("simulator.scenarios")
    return sorted(e.name.removesuffix(".toml") for e in root.iterdir() if e.name.endswith(".toml"))


def load_scenario(name_or_path: str | Path) -> Scenario:
    """A shipped scenario by name (``demo``), or a scenario file by path.

    Raises:
        ConfigurationError: no such scenario (the known ones are listed), an unreadable
            file, or a malformed scenario.
    """
    if isinstance(name_or_path, str) and _NAME.match(name_or_path):
        entry = resources.files("simulator.scenarios").joinpath(f"{name_or_path}.toml")
        if not entry.is_file():
            raise ConfigurationError(
                f"no scenario named {name_or_path!r}; known: {', '.join(scenario_names())}"
            )
        return parse_scenario(entry.read_text(encoding="utf-8"), name=name_or_path)
    path = Path(name_or_path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(f"cannot read scenario {str(path)!r}: {exc}") from exc
    return parse_scenario(text, name=path.stem)


def parse_scenario(text: str, *, name: str = "scenario") -> Scenario:
    """Parse a scenario's TOML text.

    Raises:
        ConfigurationError: not TOML, an unsupported version, an unknown key (the
            message lists the allowed ones) or a bad value.
    """
    where = f"scenario {name}"
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{where}: not valid TOML: {exc}") from exc
    check_keys(doc, _TOP_KEYS, where)
    if doc.get("version") != SCENARIO_VERSION:
        raise ConfigurationError(
            f"{where}: version {doc.get('version')!r} is not supported; this simulator "
            f"reads version {SCENARIO_VERSION}"
        )
    description = typed(doc, "description", str, where, "")
    seed = typed(doc, "seed", int, where, 0)
    clock_scale = _number(doc, "clock_scale", where, 1.0)
    if clock_scale <= 0:
        raise ConfigurationError(f"{where}: clock_scale must be > 0, got {clock_scale}")
    devices = typed(doc, "devices", dict, where, {})
    check_keys(devices, _DEVICES, f"{where} [devices]")
    readers: dict[str, CardReaderSetup] = {}
    for device, table in devices.items():
        at = f"{where} [devices.{device}]"
        if not isinstance(table, dict):
            raise ConfigurationError(f"{at}: expected a table")
        check_keys(table, _SETUP_KEYS, at)
        take_timeout = _number(table, "take_timeout", at, 30.0)
        readers[device] = CardReaderSetup(
            retain_capacity=typed(table, "retain_capacity", int, at, 50),
            take_timeout=take_timeout or None,
            motion_time=_number(table, "motion_time", at, 0.3),
            variant=typed(table, "variant", str, at, ""),
            stacker_capacity=typed(table, "stacker_capacity", int, at, 100),
        )
    steps_raw = typed(doc, "customer", list, where, [])
    steps = tuple(
        _parse_step(raw, f"{where} customer step {i + 1}") for i, raw in enumerate(steps_raw)
    )
    return Scenario(
        name=name,
        description=description,
        seed=seed,
        clock_scale=clock_scale,
        card_readers=MappingProxyType(readers),
        customer=steps,
    )


def _parse_step(raw: object, where: str) -> Step:
    if not isinstance(raw, dict):
        raise ConfigurationError(f"{where}: expected a table")
    check_keys(raw, _STEP_KEYS, where)
    action = typed(raw, "action", str, where, None)
    if action is not None and action not in ACTIONS:
        raise ConfigurationError(
            f"{where}: unknown action {action!r}; actions: {', '.join(sorted(ACTIONS))}"
        )
    wait_for = typed(raw, "wait_for", str, where, None)
    if wait_for is not None and wait_for not in CONDITIONS:
        raise ConfigurationError(
            f"{where}: unknown condition {wait_for!r}; conditions: {', '.join(sorted(CONDITIONS))}"
        )
    profile = typed(raw, "profile", str, where, None)
    if (profile is not None) != (action == "insert_card"):
        raise ConfigurationError(f"{where}: 'profile' goes with action insert_card, and only there")
    if profile is not None:
        load_card_profile(profile)
    seconds = _number(raw, "seconds", where, None)
    if (seconds is not None) != (action == "slow_replies"):
        raise ConfigurationError(
            f"{where}: 'seconds' goes with action slow_replies, and only there"
        )
    device = typed(raw, "device", str, where, "card_reader")
    if device not in _DEVICES:
        raise ConfigurationError(f"{where}: device {device!r}; devices: {', '.join(_DEVICES)}")
    step = Step(
        action=action,
        at=_number(raw, "at", where, None),
        wait_for=wait_for,
        timeout=_number(raw, "timeout", where, _DEFAULT_WAIT),
        after=_number(raw, "after", where, 0.0),
        profile=profile,
        seconds=seconds,
        device=device,
    )
    for key in ("at", "timeout", "after", "seconds"):
        value = getattr(step, key)
        if value is not None and value < 0:
            raise ConfigurationError(f"{where}: '{key}' must be >= 0, got {value}")
    return step


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
    for device, setup in scenario.card_readers.items():
        world.card_reader(device, setup)
    return world


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


def _number(table: Mapping[str, Any], key: str, where: str, default: Any) -> Any:
    if key not in table:
        return default
    value = table[key]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigurationError(f"{where}: '{key}' must be a finite number, got {value!r}")
    return float(value)
