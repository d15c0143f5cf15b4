"""A simulated world: one clock, one seeded randomness, the device models by name.

Everything a simulated kiosk needs lives in a `World`: the `SimClock` all its models
and scripted customers share, a `random.Random` per device seeded from the world's
seed (so ``--seed`` repeats a run), and the models themselves, which outlive the
services opened over them (close a `CardReaderService` and open another: the card
inside and the cards in the bin are still there; close a `PinPadService` and open
another: the keys are still loaded).

Worlds are kept by name (`get_world`), so a ``sim://`` address opened twice reaches
the same model; tests start from scratch with `reset_worlds`.

The cash devices' setups and accessors are in `simulator.world_cash` (`World` takes
them from `CashDevicesMixin`; the setups are re-exported here), the ID scanners' in
`simulator.world_id` (`IdDevicesMixin`, `IdScannerSetup`), the cameras' in
`simulator.world_camera` (`CameraDevicesMixin`, `CameraSetup`), the printers' in
`simulator.world_printer` (`PrinterDevicesMixin`, `PrinterSetup`).
"""

from __future__ import annotations

import os
import random
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, TypeVar

from hal.devices.card_reader_service import CardReaderService
from hal.devices.pin_pad_service import PinPadService
from hal.errors import ConfigurationError
from hal.ledger import Ledger
from simulator.broken import BROKEN_VARIANTS
from simulator.clock import SimClock, seeded_random
from simulator.control import CardReaderControl
from simulator.models.camera import CameraModel
from simulator.models.card_reader import CardReaderModel
from simulator.models.cash_acceptor import CashAcceptorModel
from simulator.models.cash_dispenser import CashDispenserModel
from simulator.models.id_scanner import IdScannerModel
from simulator.models.pin_pad import PinPadModel
from simulator.models.printer import PrinterModel
from simulator.models.secure_element import SecureElement
from simulator.pin_pad_control import PinPadControl
from simulator.world_camera import CameraDevicesMixin, CameraSetup
from simulator.world_cash import (
    _RECYCLER_SIDE,
    CashAcceptorSetup,
    CashDevicesMixin,
    CashDispenserSetup,
)
from simulator.world_id import IdDevicesMixin, IdScannerSetup
from simulator.world_printer import PrinterDevicesMixin, PrinterSetup

if TYPE_CHECKING:
    from simulator.sim_cash_service import SharedLedger


SetupT = TypeVar("SetupT")
ModelT = TypeVar("ModelT")

__all__ = [
    "CameraSetup",
    "CardReaderSetup",
    "CashAcceptorSetup",
    "CashDispenserSetup",
    "IdScannerSetup",
    "PinPadSetup",
    "PrinterSetup",
    "World",
    "get_world",
    "reset_worlds",
]


@dataclass(frozen=True)
class CardReaderSetup:
    """How a world's card reader is built.

    Attributes:
        retain_capacity: cards the retain bin holds; 0 for none.
        take_timeout: simulated seconds before a card left at the exit is captured;
            ``None`` never captures.
        motion_time: simulated seconds a card movement takes.
        variant: a name from `simulator.broken.BROKEN_VARIANTS`, or ``""`` for the
            faithful model.
        stacker_capacity: cards the card stacker holds (a card issuer; 0 for none). It
            starts full of blank ``visa``-profile cards.
    """

    retain_capacity: int = 50
    take_timeout: float | None = 30.0
    motion_time: float = 0.3
    variant: str = ""
    stacker_capacity: int = 100

    def __post_init__(self) -> None:
        if self.variant and self.variant not in BROKEN_VARIANTS:
            raise ConfigurationError(
                f"no broken variant named {self.variant!r}; known: "
                f"{', '.join(sorted(BROKEN_VARIANTS))}"
            )


@dataclass(frozen=True)
class PinPadSetup:
    """How a world's PIN pad is built.

    Attributes:
        pin_max: the longest PIN its keyboard takes (4-12).
        max_keys: keys its secure element holds.
        min_components: the fewest clear components a key is built from.
    """

    pin_max: int = 12
    max_keys: int = 64
    min_components: int = 2

    def __post_init__(self) -> None:
        for what, value, low, high in (
            ("pin_max", self.pin_max, 4, 12),
            ("max_keys", self.max_keys, 1, 1000),
            ("min_components", self.min_components, 1, 9),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise ConfigurationError(
                    f"{what} is an integer from {low} to {high}, got {value!r}"
                )


class World(CashDevicesMixin, IdDevicesMixin, CameraDevicesMixin, PrinterDevicesMixin):
    """A clock, a seed and the device models of one simulated kiosk.

    Args:
        name: the world's name (for messages and `get_world`).
        seed: the seed every device's randomness derives from.
        clock_scale: real seconds per simulated second.

    Raises:
        ConfigurationError: ``clock_scale`` is not finite and positive.
    """

    def __init__(self, name: str = "default", *, seed: int = 0, clock_scale: float = 1.0) -> None:
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ConfigurationError(f"a world's seed is an integer, got {seed!r}")
        self.name = name
        self.seed = seed
        self.clock = SimClock(clock_scale)
        #: The world's own randomness (devices draw from `World.random` streams).
        self.rng = seeded_random(seed)
        self._card_readers: dict[str, tuple[CardReaderSetup, CardReaderModel]] = {}
        self._pin_pads: dict[str, tuple[PinPadSetup, PinPadModel]] = {}
        self._cash_dispensers: dict[str, tuple[CashDispenserSetup, CashDispenserModel]] = {}
        self._cash_acceptors: dict[str, tuple[CashAcceptorSetup, CashAcceptorModel]] = {}
        self._shared_books: dict[str, SharedLedger] = {}
        self._recycler_sides: dict[str, str] = {}  # dispenser name -> its acceptor's
        self._id_scanners: dict[str, tuple[IdScannerSetup, IdScannerModel]] = {}
        self._cameras: dict[str, tuple[CameraSetup, CameraModel]] = {}
        self._printers: dict[str, tuple[PrinterSetup, PrinterModel]] = {}

    def random(self, stream: str) -> random.Random:
        """A randomness for ``stream`` (a device name) that depends only on the seed."""
        return seeded_random(self.seed, stream)

    @property
    def models(
        self,
    ) -> Mapping[
        str,
        CardReaderModel
        | PinPadModel
        | CashDispenserModel
        | CashAcceptorModel
        | IdScannerModel
        | CameraModel
        | PrinterModel,
    ]:
        """Every model made so far, by device name."""
        return MappingProxyType(
            {
                **self.card_readers,
                **self.pin_pads,
                **self.cash_dispensers,
                **self.cash_acceptors,
                **self.id_scanners,
                **self.cameras,
                **self.printers,
            }
        )

    @property
    def card_readers(self) -> Mapping[str, CardReaderModel]:
        """The card reader models made so far, by device name."""
        return MappingProxyType({name: m for name, (_, m) in self._card_readers.items()})

    @property
    def pin_pads(self) -> Mapping[str, PinPadModel]:
        """The PIN pad models made so far, by device name."""
        return MappingProxyType({name: m for name, (_, m) in self._pin_pads.items()})

    def _check_free(self, name: str, kind: str) -> None:
        tables: tuple[tuple[str, Mapping[str, object]], ...] = (
            ("card reader", self._card_readers),
            ("PIN pad", self._pin_pads),
            ("cash dispenser", self._cash_dispensers),
            ("cash acceptor", self._cash_acceptors),
            (_RECYCLER_SIDE, self._recycler_sides),
            ("ID scanner", self._id_scanners),
            ("camera", self._cameras),
            ("printer", self._printers),
        )
        for other, models in tables:
            if other != kind and name in models:
                raise ConfigurationError(f"world {self.name!r}: {name} is a {other}")

    def _made(
        self,
        table: dict[str, tuple[SetupT, ModelT]],
        name: str,
        kind: str,
        setup: SetupT | None,
        default: Callable[[], SetupT],
        build: Callable[[SetupT], ModelT],
    ) -> ModelT:
        """The ``kind`` called ``name`` in ``table``, built from ``setup`` on first use.

        Raises:
            ConfigurationError: it exists and was built with a different setup, or
                ``name`` is another kind of device.
        """
        self._check_free(name, kind)
        existing = table.get(name)
        if existing is not None:
            built, model = existing
            if setup is not None and setup != built:
                raise ConfigurationError(
                    f"world {self.name!r} already has {name} built with {built}; "
                    f"cannot rebuild it with {setup}"
                )
            return model
        chosen = setup if setup is not None else default()
        model = build(chosen)
        table[name] = (chosen, model)
        return model

    @staticmethod
    def _setup_of(table: Mapping[str, tuple[SetupT, object]], name: str) -> SetupT | None:
        existing = table.get(name)
        return existing[0] if existing is not None else None

    def card_reader(
        self, name: str = "card_reader", setup: CardReaderSetup | None = None
    ) -> CardReaderModel:
        """The card reader called ``name``, made on first use.

        Args:
            name: the device name.
            setup: how to build it; ``None`` takes the defaults (or whatever it was
                built with, if it exists).

        Raises:
            ConfigurationError: it exists and was built with a different setup.
        """

        def build(setup: CardReaderSetup) -> CardReaderModel:
            model_type = BROKEN_VARIANTS[setup.variant] if setup.variant else CardReaderModel
            return model_type(
                name=name,
                clock=self.clock,
                rng=self.random(name),
                retain_capacity=setup.retain_capacity,
                take_timeout=setup.take_timeout,
                motion_time=setup.motion_time,
                stacker_capacity=setup.stacker_capacity,
            )

        return self._made(self._card_readers, name, "card reader", setup, CardReaderSetup, build)

    def card_reader_setup(self, name: str = "card_reader") -> CardReaderSetup | None:
        """How the card reader ``name`` was built, or ``None`` if it is not made yet."""
        return self._setup_of(self._card_readers, name)

    def card_reader_control(self, name: str = "card_reader") -> CardReaderControl:
        """The control API of the card reader ``name`` (made on first use)."""
        return CardReaderControl(self.card_reader(name))

    def open_card_reader(
        self,
        name: str = "card_reader",
        *,
        ledger: Ledger | str | os.PathLike[str] | None = None,
    ) -> CardReaderService:
        """A new, unopened `CardReaderService` over the model (use ``async with``).

        Args:
            name: the device name.
            ledger: where captures are journalled: an open `hal.ledger.Ledger`, the path
                of one the service opens and closes with the device, or ``None`` for an
                in-memory ledger.
        """
        return CardReaderService(self.card_reader(name), name=name, ledger=ledger)

    def pin_pad(self, name: str = "pin_pad", setup: PinPadSetup | None = None) -> PinPadModel:
        """The PIN pad called ``name``, made on first use (with no keys loaded).

        Args:
            name: the device name.
            setup: how to build it; ``None`` takes the defaults (or whatever it was
                built with, if it exists).

        Raises:
            ConfigurationError: it exists and was built with a different setup, or
                ``name`` is a card reader.
        """

        def build(setup: PinPadSetup) -> PinPadModel:
            return PinPadModel(
                name=name,
                clock=self.clock,
                secure_element=SecureElement(
                    max_keys=setup.max_keys, min_components=setup.min_components
                ),
                pin_max=setup.pin_max,
            )

        return self._made(self._pin_pads, name, "PIN pad", setup, PinPadSetup, build)

    def pin_pad_setup(self, name: str = "pin_pad") -> PinPadSetup | None:
        """How the PIN pad ``name`` was built, or ``None`` if it is not made yet."""
        return self._setup_of(self._pin_pads, name)

    def pin_pad_control(self, name: str = "pin_pad") -> PinPadControl:
        """The customer's fingers on the PIN pad ``name`` (made on first use)."""
        return PinPadControl(self.pin_pad(name))

    def open_pin_pad(self, name: str = "pin_pad") -> PinPadService:
        """A new, unopened `PinPadService` over the model (use ``async with``)."""
        return PinPadService(self.pin_pad(name), name=name)

    def __repr__(self) -> str:
        return (
            f"World({self.name!r}, seed={self.seed}, clock_scale={self.clock.scale}, "
            f"devices={sorted(self.models)})"
        )


_lock = threading.Lock()
_worlds: dict[str, World] = {}


def get_world(
    name: str = "default", *, seed: int | None = None, clock_scale: float | None = None
) -> World:
    """The world called ``name``, made on first use.

    Args:
        name: the world's name.
        seed: its seed (default 0 when made).
        clock_scale: its clock scale (default 1.0 when made).

    Raises:
        ConfigurationError: it exists with a different seed or clock scale.
    """
    with _lock:
        world = _worlds.get(name)
        if world is None:
            world = World(
                name,
                seed=0 if seed is None else seed,
                clock_scale=1.0 if clock_scale is None else clock_scale,
            )
            _worlds[name] = world
            return world
    if seed is not None and seed != world.seed:
        raise ConfigurationError(f"world {name!r} already runs with seed {world.seed}, not {seed}")
    if clock_scale is not None and clock_scale != world.clock.scale:
        raise ConfigurationError(
            f"world {name!r} already runs with clock scale {world.clock.scale}, not {clock_scale}"
        )
    return world


def reset_worlds() -> None:
    """Forget every world (for tests): the next `get_world` starts afresh."""
    with _lock:
        _worlds.clear()
