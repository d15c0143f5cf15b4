"""The ID scanners of a simulated `simulator.world.World`: their setup and accessors.

`IdScannerSetup` says how a world's ID scanner is built; `IdDevicesMixin` gives `World`
its ID-scanner accessors (the models by name, made on first use; their setups and
controls; the service over them). Both are re-exported by `simulator.world`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, TypeVar

from hal.errors import ConfigurationError
from hal.ledger import Ledger
from simulator.clock import SimClock
from simulator.id_control import IdScannerControl
from simulator.models.id_scanner import ID_BUILDS, IdScannerModel

if TYPE_CHECKING:
    import random

    from hal.devices.id_scanner_service import IdScannerService

SetupT = TypeVar("SetupT")
ModelT = TypeVar("ModelT")

__all__ = ["IdDevicesMixin", "IdScannerSetup"]


@dataclass(frozen=True)
class IdScannerSetup:
    """How a world's ID scanner is built.

    Attributes:
        build: ``kiosk`` (motorised, chip + MRZ + images, retain bin), ``chip`` (a flat
            SAM_V reader) or ``mrz`` (an OCR reader); see `simulator.models.id_scanner`.
        retain_capacity: documents the kiosk's retain bin holds.
        motion_time: simulated seconds a document movement takes.
        read_time: simulated seconds a read takes.
    """

    build: str = "kiosk"
    retain_capacity: int = 20
    motion_time: float = 0.3
    read_time: float = 0.5

    def __post_init__(self) -> None:
        if self.build not in ID_BUILDS:
            raise ConfigurationError(
                f"no ID scanner build named {self.build!r}; known: {', '.join(sorted(ID_BUILDS))}"
            )
        capacity = self.retain_capacity
        if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 0:
            raise ConfigurationError(f"retain_capacity is an integer >= 0, got {capacity!r}")
        for what in ("motion_time", "read_time"):
            value = getattr(self, what)
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not 0 <= value < 3600
            ):
                raise ConfigurationError(f"{what} is from 0 to 3600 seconds, got {value!r}")


class IdDevicesMixin:
    """The ID-scanner accessors of `simulator.world.World` (which provides the table and
    the helpers declared here)."""

    name: str
    clock: SimClock
    _id_scanners: dict[str, tuple[IdScannerSetup, IdScannerModel]]

    if TYPE_CHECKING:

        def random(self, stream: str) -> random.Random: ...

        def _made(
            self,
            table: dict[str, tuple[SetupT, ModelT]],
            name: str,
            kind: str,
            setup: SetupT | None,
            default: Callable[[], SetupT],
            build: Callable[[SetupT], ModelT],
        ) -> ModelT: ...

        @staticmethod
        def _setup_of(table: Mapping[str, tuple[SetupT, object]], name: str) -> SetupT | None: ...

    @property
    def id_scanners(self) -> Mapping[str, IdScannerModel]:
        """The ID scanner models made so far, by device name."""
        return MappingProxyType({name: m for name, (_, m) in self._id_scanners.items()})

    def id_scanner(
        self, name: str = "id_scanner", setup: IdScannerSetup | None = None
    ) -> IdScannerModel:
        """The ID scanner called ``name``, made on first use.

        Raises:
            ConfigurationError: it exists and was built with a different setup, or
                ``name`` is another kind of device.
        """

        def build(setup: IdScannerSetup) -> IdScannerModel:
            return IdScannerModel(
                name=name,
                build=setup.build,
                clock=self.clock,
                rng=self.random(name),
                retain_capacity=setup.retain_capacity,
                motion_time=setup.motion_time,
                read_time=setup.read_time,
            )

        return self._made(self._id_scanners, name, "ID scanner", setup, IdScannerSetup, build)

    def id_scanner_setup(self, name: str = "id_scanner") -> IdScannerSetup | None:
        """How the ID scanner ``name`` was built, or ``None`` if it is not made yet."""
        return self._setup_of(self._id_scanners, name)

    def id_scanner_control(self, name: str = "id_scanner") -> IdScannerControl:
        """The customer, operator and faults at the ID scanner ``name`` (made on first use)."""
        return IdScannerControl(self.id_scanner(name))

    def open_id_scanner(
        self,
        name: str = "id_scanner",
        *,
        ledger: Ledger | str | os.PathLike[str] | None = None,
    ) -> IdScannerService:
        """A new, unopened `IdScannerService` over the model (use ``async with``).

        Args:
            name: the device name.
            ledger: where retains are journalled: an open `hal.ledger.Ledger`, the path of
                one the service opens and closes with the device, or ``None`` for an
                in-memory ledger.
        """
        from hal.devices.id_scanner_service import IdScannerService

        return IdScannerService(self.id_scanner(name), name=name, ledger=ledger)
