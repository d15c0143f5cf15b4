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

    [devices.pin_pad]                # an encrypting PIN pad (no keys loaded at start)
    pin_max = 12                     # the longest PIN its keyboard takes
    max_keys = 64
    min_components = 2               # clear components a key-encryption key needs

    [devices.cash_dispenser]         # a cash dispenser (simulator.models.cash_profiles)
    profile = "default"              # default, lcdm1000, lcdm2000 or lcdm4000
    counts = { unit1 = 500 }         # notes in units at start (others: the profile's)
    pick_time = 0.05                 # simulated seconds a note (default: the profile's)

    [devices.cash_acceptor]          # a cash acceptor (simulator.models.cash_in_profiles)
    profile = "default"              # default, id003, nv200 or nv11
    counts = { recycle100 = 20 }     # notes in units at start (others: the profile's)
    note_time = 0.05                 # simulated seconds a note takes through the reader

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

On the ``pin_pad``: ``wait_for = "entry_active"`` waits for an entry, ``type_pin``
(needs ``pin``, 4-12 digits) types the PIN and ``enter``, ``press_keys`` (needs
``keys``, a list of key names) presses keys; ``power_off``, ``power_on`` and
``slow_replies`` work there too. A step's PIN and keys never appear in a log or a repr.

On the ``cash_dispenser``: ``wait_for = "notes_at_exit"`` waits for notes at the exit,
``take_notes`` takes them (waiting up to ``timeout`` for them); ``clear_jam``,
``power_off``, ``power_on`` and ``slow_replies`` work there too.

On the ``id_scanner``: ``[devices.id_scanner]`` and the steps ``present_document``
(needs ``profile``, a document profile), ``remove_document`` and the rest are in
`simulator.scenario_id`.

On the ``camera``: ``[devices.camera]`` (``scene``: what the person camera sees at
start) and the steps ``set_scene`` (needs ``scene``), ``unplug``, ``replug``, with
``wait_for = "picture_taken"``, are in `simulator.scenario_camera`.

On a printer (``receipt_printer``, ``journal_printer``): ``[devices.receipt_printer]``
(``profile``, ``paper_length``, ``near_end_lines``) and the steps ``take_receipt``,
``paper_out``, ``paper_low``, ``replenish_paper``, ``open_cover``, ``close_cover``,
``jam_printer``, with ``wait_for = "receipt_waiting"``, are in `simulator.scenario_printer`.

On the ``cash_acceptor``: ``insert_notes`` (needs ``notes``: a list of note items,
``"CNY:10000"``, or tables ``{ item = "CNY:5000", level = "unfit" }``) puts a bunch into
the input; ``wait_for = "input_empty"`` waits until the acceptor has taken (or refused)
them all, ``wait_for = "notes_at_exit"`` for notes given back, and ``take_returned``
takes them (waiting up to ``timeout``); ``jam_next_note``, ``clear_jam``, ``power_off``,
``power_on`` and ``slow_replies`` work there too.

An unknown key, a bad value or an unsupported version is a `ConfigurationError` that
names the allowed keys or values.

This module parses (the cash devices' tables and the notes in `simulator.scenario_cash`);
`simulator.scenario_run` builds the world and performs the customer, and this module
re-exports its `build_world` and `run_customer`.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from importlib import resources
from pathlib import Path
from types import MappingProxyType

from hal.errors import ConfigurationError
from hal.stimulus import NoteSample
from simulator.control import CONDITIONS
from simulator.models.pin_pad import KEYBOARD
from simulator.profiles import load_card_profile
from simulator.scenario_camera import (
    CAMERA_CONDITIONS,
    CAMERA_ONLY_ACTIONS,
    CAMERA_STEP_ACTIONS,
    camera_setup,
    check_step_scene,
)
from simulator.scenario_cash import cash_in_setup, cash_setup, finite_number, parse_notes
from simulator.scenario_id import (
    ID_ONLY_ACTIONS,
    ID_STEP_ACTIONS,
    ID_STEP_CONDITIONS,
    check_document_profile,
    id_scanner_setup,
)
from simulator.scenario_printer import (
    PRINTER_CONDITIONS,
    PRINTER_DEVICES,
    PRINTER_ONLY_ACTIONS,
    PRINTER_STEP_ACTIONS,
    printer_setup,
)
from simulator.scenario_run import build_world, run_customer
from simulator.tomlcheck import check_keys, typed
from simulator.world import (
    CameraSetup,
    CardReaderSetup,
    CashAcceptorSetup,
    CashDispenserSetup,
    IdScannerSetup,
    PinPadSetup,
    PrinterSetup,
)

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
        "type_pin",
        "press_keys",
        "take_notes",
        "insert_notes",
        "take_returned",
        "jam_next_note",
        *ID_ONLY_ACTIONS,
        *CAMERA_ONLY_ACTIONS,
        *PRINTER_ONLY_ACTIONS,
    }
)
#: What only cash acceptors do.
_CASH_IN_ACTIONS = frozenset({"insert_notes", "take_returned", "jam_next_note"})
#: The actions and ``wait_for`` conditions of each kind of device.
_DEVICE_ACTIONS = {
    "card_reader": ACTIONS
    - {"type_pin", "press_keys", "take_notes"}
    - _CASH_IN_ACTIONS
    - ID_ONLY_ACTIONS
    - CAMERA_ONLY_ACTIONS
    - PRINTER_ONLY_ACTIONS,
    "pin_pad": frozenset({"type_pin", "press_keys", "power_off", "power_on", "slow_replies"}),
    "cash_dispenser": frozenset(
        {"take_notes", "clear_jam", "power_off", "power_on", "slow_replies"}
    ),
    "cash_acceptor": _CASH_IN_ACTIONS
    | frozenset({"clear_jam", "power_off", "power_on", "slow_replies"}),
    "id_scanner": ID_STEP_ACTIONS,
    "camera": CAMERA_STEP_ACTIONS,
    **dict.fromkeys(PRINTER_DEVICES, PRINTER_STEP_ACTIONS),
}
_DEVICE_CONDITIONS = {
    "card_reader": frozenset(CONDITIONS),
    "pin_pad": frozenset({"entry_active"}),
    "cash_dispenser": frozenset({"notes_at_exit"}),
    "cash_acceptor": frozenset({"notes_at_exit", "input_empty"}),
    "id_scanner": ID_STEP_CONDITIONS,
    "camera": CAMERA_CONDITIONS,
    **dict.fromkeys(PRINTER_DEVICES, PRINTER_CONDITIONS),
}
_TOP_KEYS = frozenset({"version", "description", "seed", "clock_scale", "devices", "customer"})
_STEP_KEYS = frozenset(
    {
        "at",
        "wait_for",
        "timeout",
        "after",
        "action",
        "profile",
        "seconds",
        "device",
        "pin",
        "keys",
        "notes",
        "scene",
    }
)
_SETUP_KEYS = frozenset(f.name for f in fields(CardReaderSetup))
_PIN_PAD_KEYS = frozenset(f.name for f in fields(PinPadSetup))
_DEVICES = frozenset(
    {"card_reader", "pin_pad", "cash_dispenser", "cash_acceptor", "id_scanner", "camera"}
    | PRINTER_DEVICES
)
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
        pin: the PIN of ``type_pin`` (not in the repr).
        keys: the key names of ``press_keys`` (not in the repr).
        notes: the notes of ``insert_notes``.
        scene: the scene of ``set_scene``.
    """

    action: str | None = None
    at: float | None = None
    wait_for: str | None = None
    timeout: float = _DEFAULT_WAIT
    after: float = 0.0
    profile: str | None = None
    seconds: float | None = None
    device: str = "card_reader"
    pin: str | None = field(default=None, repr=False)
    keys: tuple[str, ...] = field(default=(), repr=False)
    notes: tuple[NoteSample, ...] = ()
    scene: str | None = None


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
        pin_pads: how each PIN pad is built, by device name.
        cash_dispensers: how each cash dispenser is built, by device name.
        cash_acceptors: how each cash acceptor is built, by device name.
        id_scanners: how each ID scanner is built, by device name.
        cameras: how each camera is built, by device name.
        printers: how each printer is built, by device name.
    """

    name: str
    description: str
    seed: int
    clock_scale: float
    card_readers: Mapping[str, CardReaderSetup]
    customer: tuple[Step, ...]
    pin_pads: Mapping[str, PinPadSetup] = field(default_factory=lambda: MappingProxyType({}))
    cash_dispensers: Mapping[str, CashDispenserSetup] = field(
        default_factory=lambda: MappingProxyType({})
    )
    cash_acceptors: Mapping[str, CashAcceptorSetup] = field(
        default_factory=lambda: MappingProxyType({})
    )
    id_scanners: Mapping[str, IdScannerSetup] = field(default_factory=lambda: MappingProxyType({}))
    cameras: Mapping[str, CameraSetup] = field(default_factory=lambda: MappingProxyType({}))
    printers: Mapping[str, PrinterSetup] = field(default_factory=lambda: MappingProxyType({}))


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
    clock_scale = finite_number(doc, "clock_scale", where, 1.0)
    if clock_scale <= 0:
        raise ConfigurationError(f"{where}: clock_scale must be > 0, got {clock_scale}")
    devices = typed(doc, "devices", dict, where, {})
    check_keys(devices, _DEVICES, f"{where} [devices]")
    readers: dict[str, CardReaderSetup] = {}
    pads: dict[str, PinPadSetup] = {}
    cash: dict[str, CashDispenserSetup] = {}
    cash_in: dict[str, CashAcceptorSetup] = {}
    id_scanners: dict[str, IdScannerSetup] = {}
    cameras: dict[str, CameraSetup] = {}
    printers: dict[str, PrinterSetup] = {}
    for device, table in devices.items():
        at = f"{where} [devices.{device}]"
        if not isinstance(table, dict):
            raise ConfigurationError(f"{at}: expected a table")
        if device == "pin_pad":
            check_keys(table, _PIN_PAD_KEYS, at)
            pads[device] = PinPadSetup(
                pin_max=typed(table, "pin_max", int, at, 12),
                max_keys=typed(table, "max_keys", int, at, 64),
                min_components=typed(table, "min_components", int, at, 2),
            )
            continue
        if device == "cash_dispenser":
            cash[device] = cash_setup(table, at)
            continue
        if device == "cash_acceptor":
            cash_in[device] = cash_in_setup(table, at)
            continue
        if device == "id_scanner":
            id_scanners[device] = id_scanner_setup(table, at)
            continue
        if device == "camera":
            cameras[device] = camera_setup(table, at)
            continue
        if device in PRINTER_DEVICES:
            printers[device] = printer_setup(device, table, at)
            continue
        check_keys(table, _SETUP_KEYS, at)
        take_timeout = finite_number(table, "take_timeout", at, 30.0)
        readers[device] = CardReaderSetup(
            retain_capacity=typed(table, "retain_capacity", int, at, 50),
            take_timeout=take_timeout or None,
            motion_time=finite_number(table, "motion_time", at, 0.3),
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
        pin_pads=MappingProxyType(pads),
        cash_dispensers=MappingProxyType(cash),
        cash_acceptors=MappingProxyType(cash_in),
        id_scanners=MappingProxyType(id_scanners),
        cameras=MappingProxyType(cameras),
        printers=MappingProxyType(printers),
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
    device = typed(raw, "device", str, where, "card_reader")
    if device not in _DEVICES:
        raise ConfigurationError(
            f"{where}: device {device!r}; devices: {', '.join(sorted(_DEVICES))}"
        )
    if action is not None and action not in _DEVICE_ACTIONS[device]:
        raise ConfigurationError(
            f"{where}: a {device} has no action {action!r}; its actions: "
            f"{', '.join(sorted(_DEVICE_ACTIONS[device]))}"
        )
    conditions = _DEVICE_CONDITIONS[device]
    wait_for = typed(raw, "wait_for", str, where, None)
    if wait_for is not None and wait_for not in conditions:
        raise ConfigurationError(
            f"{where}: unknown condition {wait_for!r}; conditions: {', '.join(sorted(conditions))}"
        )
    pin = typed(raw, "pin", str, where, None)
    if (pin is not None) != (action == "type_pin"):
        raise ConfigurationError(f"{where}: 'pin' goes with action type_pin, and only there")
    if pin is not None and not (pin.isascii() and pin.isdigit() and 4 <= len(pin) <= 12):
        raise ConfigurationError(f"{where}: 'pin' is 4 to 12 digits")  # never quoted
    keys = typed(raw, "keys", list, where, None)
    if (keys is not None) != (action == "press_keys"):
        raise ConfigurationError(f"{where}: 'keys' goes with action press_keys, and only there")
    if keys is not None and (not keys or not all(k in KEYBOARD for k in keys)):
        raise ConfigurationError(
            f"{where}: 'keys' is a non-empty list of key names: {', '.join(sorted(KEYBOARD))}"
        )
    profile = typed(raw, "profile", str, where, None)
    if (profile is not None) != (action in ("insert_card", "present_document")):
        raise ConfigurationError(
            f"{where}: 'profile' goes with action insert_card or present_document, and only there"
        )
    if profile is not None and action == "present_document":
        check_document_profile(profile, where)
    elif profile is not None:
        load_card_profile(profile)
    notes = raw.get("notes")
    if (notes is not None) != (action == "insert_notes"):
        raise ConfigurationError(f"{where}: 'notes' goes with action insert_notes, and only there")
    scene = typed(raw, "scene", str, where, None)
    if (scene is not None) != (action == "set_scene"):
        raise ConfigurationError(f"{where}: 'scene' goes with action set_scene, and only there")
    if scene is not None:
        check_step_scene(scene, where)
    seconds = finite_number(raw, "seconds", where, None)
    if (seconds is not None) != (action == "slow_replies"):
        raise ConfigurationError(
            f"{where}: 'seconds' goes with action slow_replies, and only there"
        )
    step = Step(
        action=action,
        at=finite_number(raw, "at", where, None),
        wait_for=wait_for,
        timeout=finite_number(raw, "timeout", where, _DEFAULT_WAIT),
        after=finite_number(raw, "after", where, 0.0),
        profile=profile,
        seconds=seconds,
        device=device,
        pin=pin,
        keys=tuple(keys or ()),
        notes=() if notes is None else parse_notes(notes, where),
        scene=scene,
    )
    for key in ("at", "timeout", "after", "seconds"):
        value = getattr(step, key)
        if value is not None and value < 0:
            raise ConfigurationError(f"{where}: '{key}' must be >= 0, got {value}")
    return step
