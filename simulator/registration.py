"""The simulator as a driver: ``sim://`` addresses, through the ``tellerhal.drivers``
entry point ``sim`` (see pyproject).

Address format::

    sim://DEVICE[?profile=NAME&world=NAME&seed=N&clock_scale=X&ledger=PATH
                  &retain_capacity=N&stacker_capacity=N&variant=NAME&cash_profile=NAME
                  &cash_in_profile=NAME&books=NAME&recycler=NAME&id_profile=NAME
                  &camera_profile=NAME&scene=NAME&camera_variant=NAME
                  &printer_profile=NAME&paper_length=N]

``DEVICE`` is the device name the simulator offers a model for (``card_reader``,
``pin_pad``, ``cash_dispenser``, ``cash_acceptor``, ``id_scanner``, ``camera``,
``receipt_printer``, ``journal_printer``). The device is an
in-process model in the named world (`simulator.world.get_world`): two addresses naming
the same world and device reach the same model, so a card inserted (or a key pressed)
through the control API is seen by every service opened over it, and keys loaded into a
PIN pad stay loaded. Options:

- ``profile``: a card (from `simulator.profiles`) waiting in the slot when the device is
  made, so the first read takes it; empty for none.
- ``world``, ``seed``, ``clock_scale``: which world, and (when it is made) its seed and
  clock scale; naming different ones for an existing world is an error.
- ``ledger``: the ledger file captures (or notes' moves) are journalled in; empty for an
  in-memory one. A cash dispenser's fresh ledger starts from the model's physical counts
  (`simulator.sim_cash_service`).
- ``retain_capacity``: cards the retain bin holds (0: no bin).
- ``stacker_capacity``: cards the card stacker holds, full at start (0: the reader
  issues no cards).
- ``variant``: a deliberately broken reader from `simulator.broken` (to test the
  conformance suite); empty for the faithful one.

- ``cash_profile``: the cash dispenser's build, from
  `simulator.models.cash_profiles.CASH_PROFILES` (``default``, ``lcdm1000``,
  ``lcdm2000``, ``lcdm4000``); it counts when the model is made (naming another for a
  dispenser already made is an error).

- ``cash_in_profile``: the cash acceptor's build, from
  `simulator.models.cash_in_profiles.CASH_IN_PROFILES` (``default``, ``id003``,
  ``nv200``, ``nv11``); it counts when the model is made.
- ``books``: the books' device name in the ledger (default: the device's name).
- ``recycler``: (a cash dispenser) the name of a recycling cash acceptor in the same
  world whose dispenser side this is: ``sim://cash_dispenser?recycler=cash_acceptor``
  pays out the notes deposited through ``sim://cash_acceptor``; both services keep one
  set of books (the acceptor's name unless ``books`` says) in one ledger, which the
  first of them to open opens (its ``ledger``, or in memory) and the last closes.

- ``id_profile``: the ID scanner's build (`simulator.models.id_scanner`): ``kiosk``
  (the default: a motorised combined scanner, chip + MRZ + images of both sides,
  eject, a retain bin of 20 documents, a removal sensor), ``chip`` (a flat SAM_V
  reader: chip, fingerprints, newest address) or ``mrz`` (an OCR reader); it counts
  when the model is made. Its ``ledger`` journals the retain bin.

- ``camera_profile``: the camera device's build (`simulator.models.camera.CAMERA_PROFILES`):
  ``kiosk`` (the default: a ``person`` camera facing the customer and a ``document``
  camera over the document tray) or ``person``; it counts when the model is made.
- ``scene``: what the person camera sees when the model is made (`simulator.scenes`:
  ``face``, the default, ``blurred``, ``dark``, ``bright``, ``no_face``, ``two_faces``,
  ``document``, or an image file ``file:PATH``); the control API changes it later.
- ``camera_variant``: a deliberately broken camera from `simulator.broken_camera`
  (``stale_frame``, ``ok_while_unplugged``); empty for the faithful one.

- ``printer_profile``: a printer's build (`simulator.models.printer.PRINTER_PROFILES`):
  ``receipt`` (80 mm, cutter, presenter with a retract bin; the default for
  ``receipt_printer``), ``receipt58`` (58 mm, cutter) or ``journal`` (80 mm, no cutter;
  the default for ``journal_printer``); it counts when the model is made.
- ``paper_length``: lines on a full paper roll (default 2000; when the model is made).

``printer_profile`` and ``paper_length`` are the printers';
``profile``, ``retain_capacity``, ``stacker_capacity`` and ``variant`` are the card
reader's, ``cash_profile`` and ``recycler`` the cash dispenser's, ``cash_in_profile``
the cash acceptor's, ``books`` either cash device's, ``id_profile`` the ID scanner's,
``camera_profile``, ``scene`` and ``camera_variant`` the camera's, ``ledger`` any's but
the PIN pad's and the camera's; an address naming one for another device is refused.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hal.address import DeviceAddress
from hal.devices.card_reader_service import CardReaderService
from hal.devices.pin_pad_service import PinPadService
from hal.errors import ConfigurationError
from hal.registry import DriverSpec
from simulator.broken import BROKEN_VARIANTS
from simulator.broken_camera import CAMERA_BROKEN_VARIANTS
from simulator.models.camera import CAMERA_PROFILES, check_scene
from simulator.models.card_reader import CardPosition
from simulator.models.cash_in_profiles import CASH_IN_PROFILES
from simulator.models.cash_profiles import CASH_PROFILES
from simulator.models.id_scanner import ID_BUILDS, IdScannerModel
from simulator.models.pin_pad import PinPadModel
from simulator.models.printer import PRINTER_PROFILES, PrinterModel
from simulator.profiles import load_card_profile, profile_names
from simulator.wire import usb as _usb  # noqa: F401  (registers the pyusb backend "sim")
from simulator.world import (
    CameraSetup,
    CardReaderSetup,
    CashAcceptorSetup,
    CashDispenserSetup,
    IdScannerSetup,
    PrinterSetup,
    World,
    get_world,
)
from simulator.world_printer import default_printer_profile

if TYPE_CHECKING:
    from hal.devices.camera_service import CameraService
    from hal.devices.id_scanner_service import IdScannerService
    from hal.devices.printer_service import PrinterService
    from simulator.sim_cash_in_service import SimCashAcceptorService
    from simulator.sim_cash_service import SimCashDispenserService

__all__ = ["SIM_DEVICES", "SIM_DRIVER", "SimOptions", "open_sim_device"]

#: The device names the simulator has models for.
SIM_DEVICES = frozenset(
    {
        "card_reader",
        "pin_pad",
        "cash_dispenser",
        "cash_acceptor",
        "id_scanner",
        "camera",
        "receipt_printer",
        "journal_printer",
    }
)

#: The options only a card reader takes.
_CARD_READER_OPTIONS = ("profile", "retain_capacity", "stacker_capacity", "variant")
#: The options each device takes beyond world, seed and clock_scale.
_DEVICE_OPTIONS = {
    "card_reader": frozenset({*_CARD_READER_OPTIONS, "ledger"}),
    "pin_pad": frozenset(),
    "cash_dispenser": frozenset({"cash_profile", "ledger", "books", "recycler"}),
    "cash_acceptor": frozenset({"cash_in_profile", "ledger", "books"}),
    "id_scanner": frozenset({"id_profile", "ledger"}),
    "camera": frozenset({"camera_profile", "scene", "camera_variant"}),
    "receipt_printer": frozenset({"printer_profile", "paper_length"}),
    "journal_printer": frozenset({"printer_profile", "paper_length"}),
}
_SPECIFIC_OPTIONS = frozenset().union(*_DEVICE_OPTIONS.values())
_LABELS = {
    "card_reader": "card reader",
    "pin_pad": "PIN pad",
    "cash_dispenser": "cash dispenser",
    "cash_acceptor": "cash acceptor",
    "id_scanner": "ID scanner",
    "camera": "camera",
    "receipt_printer": "printer",
    "journal_printer": "printer",
}

_WORLD_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
_EMPTY = (CardPosition.NONE, CardPosition.CUSTOMER, CardPosition.RETAINED)


@dataclass(frozen=True)
class SimOptions:
    """The options of a ``sim://`` address.

    Attributes:
        profile: a card profile waiting in the slot when the device is made; ``""``
            for none.
        world: the world the device lives in.
        seed: the world's seed (used when the world is made).
        clock_scale: real seconds per simulated second (used when the world is made).
        ledger: the ledger file's path; ``""`` for an in-memory ledger.
        retain_capacity: cards the retain bin holds; 0 for none.
        stacker_capacity: cards the card stacker holds (it starts full); 0 for a reader
            that issues no cards.
        variant: a broken variant's name from `simulator.broken.BROKEN_VARIANTS`.
        cash_profile: the cash dispenser's profile (when the model is made).
        cash_in_profile: the cash acceptor's profile (when the model is made).
        books: a cash device's books name in the ledger; ``""`` for its name.
        recycler: the recycling acceptor a cash dispenser is the dispenser side of;
            ``""`` for a dispenser of its own.
        id_profile: the ID scanner's build (``kiosk``, ``chip``, ``mrz``; when the model
            is made).
        camera_profile: the camera's build (``kiosk``, ``person``; when the model is made).
        scene: what the person camera sees when the model is made.
        camera_variant: a broken camera's name from
            `simulator.broken_camera.CAMERA_BROKEN_VARIANTS`.
        printer_profile: a printer's build (``receipt``, ``receipt58``, ``journal``;
            ``""``: by the device's name; when the model is made).
        paper_length: lines on a full roll (when the model is made).

    Raises:
        ConfigurationError: a value out of range or naming nothing known.
    """

    profile: str = ""
    world: str = "default"
    seed: int = 0
    clock_scale: float = 1.0
    ledger: str = ""
    retain_capacity: int = 50
    stacker_capacity: int = 100
    variant: str = ""
    cash_profile: str = "default"
    cash_in_profile: str = "default"
    books: str = ""
    recycler: str = ""
    id_profile: str = "kiosk"
    camera_profile: str = "kiosk"
    scene: str = "face"
    camera_variant: str = ""
    printer_profile: str = ""
    paper_length: int = 2000

    def __post_init__(self) -> None:
        if self.profile and self.profile not in profile_names():
            raise ConfigurationError(
                f"profile {self.profile!r} is not a card profile; known: "
                f"{', '.join(profile_names())}"
            )
        if not _WORLD_NAME.match(self.world):
            raise ConfigurationError(
                f"world is letters, digits, '_', '-' and '.'; got {self.world!r}"
            )
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise ConfigurationError(f"seed is an integer, got {self.seed!r}")
        scale = self.clock_scale
        if isinstance(scale, bool) or not isinstance(scale, int | float):
            raise ConfigurationError(f"clock_scale is a number, got {scale!r}")
        if not math.isfinite(scale) or scale <= 0:
            raise ConfigurationError(f"clock_scale must be finite and > 0, got {scale!r}")
        if not isinstance(self.ledger, str):
            raise ConfigurationError(f"ledger is a path, got {self.ledger!r}")
        for what in ("retain_capacity", "stacker_capacity"):
            capacity = getattr(self, what)
            if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 0:
                raise ConfigurationError(f"{what} is an integer >= 0, got {capacity!r}")
        if self.cash_profile not in CASH_PROFILES:
            raise ConfigurationError(
                f"cash_profile {self.cash_profile!r} is not a cash profile; known: "
                f"{', '.join(sorted(CASH_PROFILES))}"
            )
        if self.cash_in_profile not in CASH_IN_PROFILES:
            raise ConfigurationError(
                f"cash_in_profile {self.cash_in_profile!r} is not a cash-in profile; known: "
                f"{', '.join(sorted(CASH_IN_PROFILES))}"
            )
        for what in ("books", "recycler"):
            value = getattr(self, what)
            if not isinstance(value, str) or (value and not _WORLD_NAME.match(value)):
                raise ConfigurationError(
                    f"{what} is a device name (letters, digits, '_', '-', '.'), got {value!r}"
                )
        if self.id_profile not in ID_BUILDS:
            raise ConfigurationError(
                f"id_profile {self.id_profile!r} is not an ID scanner build; known: "
                f"{', '.join(sorted(ID_BUILDS))}"
            )
        if self.camera_profile not in CAMERA_PROFILES:
            raise ConfigurationError(
                f"camera_profile {self.camera_profile!r} is not a camera build; known: "
                f"{', '.join(sorted(CAMERA_PROFILES))}"
            )
        try:
            check_scene(self.scene)
        except ValueError as exc:
            raise ConfigurationError(f"scene: {exc}") from None
        if self.camera_variant and self.camera_variant not in CAMERA_BROKEN_VARIANTS:
            raise ConfigurationError(
                f"camera_variant {self.camera_variant!r} is not a broken camera; known: "
                f"{', '.join(sorted(CAMERA_BROKEN_VARIANTS))}"
            )
        if self.printer_profile and self.printer_profile not in PRINTER_PROFILES:
            raise ConfigurationError(
                f"printer_profile {self.printer_profile!r} is not a printer build; known: "
                f"{', '.join(sorted(PRINTER_PROFILES))}"
            )
        length = self.paper_length
        if isinstance(length, bool) or not isinstance(length, int) or not 1 <= length <= 10**7:
            raise ConfigurationError(
                f"paper_length is an integer from 1 to 10000000, got {length!r}"
            )
        if self.variant and self.variant not in BROKEN_VARIANTS:
            raise ConfigurationError(
                f"variant {self.variant!r} is not a broken variant; known: "
                f"{', '.join(sorted(BROKEN_VARIANTS))}"
            )


def open_sim_device(
    address: DeviceAddress, options: SimOptions
) -> (
    CardReaderService
    | PinPadService
    | SimCashDispenserService
    | SimCashAcceptorService
    | IdScannerService
    | CameraService
    | PrinterService
):
    """Build the unopened service over the model an address names (the driver factory).

    The world's seed and clock scale, and the reader's retain capacity and variant,
    count only where the address gives them: an address without them reaches whatever
    the existing world and model were made with.

    Raises:
        ConfigurationError: a device the simulator does not offer, or options that
            contradict the existing world or model.
    """
    device = address.authority or address.path.strip("/")
    if device not in SIM_DEVICES:
        raise ConfigurationError(
            f"{address.location}: the simulator offers {', '.join(sorted(SIM_DEVICES))}; "
            f"got {device or 'no device name'!r}"
        )
    given = address.options
    world = get_world(
        options.world,
        seed=options.seed if "seed" in given else None,
        clock_scale=options.clock_scale if "clock_scale" in given else None,
    )
    misplaced = sorted(k for k in given if k in _SPECIFIC_OPTIONS - _DEVICE_OPTIONS[device])
    if misplaced:
        owners = sorted(
            {kind for key in misplaced for kind, keys in _DEVICE_OPTIONS.items() if key in keys}
        )
        takes = ", ".join(["world", "seed", "clock_scale", *sorted(_DEVICE_OPTIONS[device])])
        labels = " or ".join(dict.fromkeys(_LABELS[o] for o in owners))  # printers share one
        raise ConfigurationError(
            f"{address.location}: {', '.join(misplaced)} is a "
            f"{labels} option; a {_LABELS[device]} takes "
            f"{takes}"
        )
    if device == "pin_pad":
        return world.open_pin_pad(device)
    if device == "cash_dispenser":
        if options.recycler:
            if "cash_profile" in given:
                raise ConfigurationError(
                    f"{address.location}: a recycler's dispenser side is built by its "
                    "acceptor (cash_in_profile on sim://<recycler>), not cash_profile"
                )
            return world.open_cash_dispenser(
                device,
                ledger=options.ledger or None,
                recycler=options.recycler,
                books=options.books or None,
            )
        cash_setup = None
        if "cash_profile" in given:
            cash_setup = CashDispenserSetup(profile=options.cash_profile)
            made = world.cash_dispenser_setup(device)
            if made is not None and made.profile == cash_setup.profile:
                cash_setup = None  # the same build (a scenario's counts stand)
        world.cash_dispenser(device, cash_setup)
        return world.open_cash_dispenser(
            device, ledger=options.ledger or None, books=options.books or None
        )
    if device == "id_scanner":
        id_setup = None
        if "id_profile" in given:
            id_setup = IdScannerSetup(build=options.id_profile)
            existing = world.id_scanner_setup(device)
            if existing is not None and existing.build == id_setup.build:
                id_setup = None  # the same build (a scenario's timings stand)
        world.id_scanner(device, id_setup)
        return world.open_id_scanner(device, ledger=options.ledger or None)
    if device == "camera":
        camera_setup = None
        wanted = {"camera_profile": "profile", "scene": "scene", "camera_variant": "variant"}
        camera_named = {
            field: getattr(options, key) for key, field in wanted.items() if key in given
        }
        camera_made = world.camera_setup(device)
        if camera_made is not None:
            camera_named.pop("scene", None)  # a scene counts when the model is made
        if camera_named:
            camera_setup = dataclasses.replace(camera_made or CameraSetup(), **camera_named)
        world.camera(device, camera_setup)
        return world.open_camera(device)
    if device in ("receipt_printer", "journal_printer"):
        return _open_printer(world, device, given, options)
    if device == "cash_acceptor":
        in_setup = None
        if "cash_in_profile" in given:
            in_setup = CashAcceptorSetup(profile=options.cash_in_profile)
            built = world.cash_acceptor_setup(device)
            if built is not None and built.profile == in_setup.profile:
                in_setup = None  # the same build (a scenario's counts stand)
        world.cash_acceptor(device, in_setup)
        return world.open_cash_acceptor(
            device, ledger=options.ledger or None, books=options.books or None
        )
    setup = None
    keys = ("retain_capacity", "stacker_capacity", "variant")
    named = {key: getattr(options, key) for key in keys if key in given}
    if named:
        # Only what the address names is checked against the model; the rest of its
        # setup (a scenario's motion time, an earlier address's variant) stands.
        setup = dataclasses.replace(world.card_reader_setup(device) or CardReaderSetup(), **named)
    model = world.card_reader(device, setup)
    if options.profile and model.position in _EMPTY:
        model.customer_inserts(load_card_profile(options.profile))
    return world.open_card_reader(device, ledger=options.ledger or None)


def _open_printer(
    world: World, device: str, given: Mapping[str, object], options: SimOptions
) -> PrinterService:
    """The service over the world's printer ``device``; ``printer_profile`` and
    ``paper_length`` count when the model is made (or must match the one made)."""
    made = world.printer_setup(device)
    base = made or PrinterSetup(profile=default_printer_profile(device))
    profile = options.printer_profile if "printer_profile" in given else ""
    length = options.paper_length if "paper_length" in given else base.paper_length
    setup = None
    if (profile and profile != base.profile) or length != base.paper_length:
        near = base.near_end_lines if base.near_end_lines < length else length // 20
        setup = PrinterSetup(profile or base.profile, length, near)
    world.printer(device, setup)
    return world.open_printer(device)


SIM_DRIVER = DriverSpec(
    name="sim",
    device_classes=SIM_DEVICES,
    options=SimOptions,
    factory=open_sim_device,
    description="the simulator: in-process device models driven by a control API",
    # The default reader; an address may take the bin away (retain_capacity=0).
    capabilities={
        "card_reader": frozenset(
            {"tracks", "write_tracks", "chip", "motor", "retain", "taken_sensor", "issue"}
        ),
        # Every PinPadCapabilities feature the model has (tests check it against the model).
        "pin_pad": PinPadModel().capabilities().features(),
        # The default dispenser's; an address may choose a smaller one (cash_profile=lcdm1000).
        "cash_dispenser": CASH_PROFILES["default"].capabilities.features(),
        # The default acceptor's (a recycler); an address may choose a validator.
        "cash_acceptor": CASH_IN_PROFILES["default"].capabilities.features(),
        # The default build's (kiosk: every feature); an address may choose chip or mrz.
        "id_scanner": IdScannerModel().capabilities().features(),
        # The default build's (kiosk: person and document); an address may choose person.
        "camera": frozenset(position.value for position in CAMERA_PROFILES["kiosk"].cameras),
        # The default builds' (receipt: cutter and presenter; journal: no cutter).
        "receipt_printer": PrinterModel(profile="receipt").capabilities().features(),
        "journal_printer": PrinterModel(profile="journal").capabilities().features(),
    },
)
"""The ``sim`` driver, registered through the ``tellerhal.drivers`` entry point."""
