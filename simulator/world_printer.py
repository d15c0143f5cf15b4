"""The printers of a simulated `simulator.world.World`: their setup and accessors.

`PrinterSetup` says how a world's receipt or journal printer is built; `PrinterDevicesMixin`
gives `World` its printer accessors (the models by name, made on first use; their setups
and controls; the service over them). Both are re-exported by `simulator.world`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, TypeVar

from hal.errors import ConfigurationError
from simulator.clock import SimClock
from simulator.models.printer import PRINTER_PROFILES, PrinterModel
from simulator.printer_control import SimPrinterControl

if TYPE_CHECKING:
    from hal.devices.printer_service import PrinterService

SetupT = TypeVar("SetupT")
ModelT = TypeVar("ModelT")

__all__ = ["PrinterDevicesMixin", "PrinterSetup", "default_printer_profile"]


def default_printer_profile(name: str) -> str:
    """The profile a printer called ``name`` gets by default: ``journal`` for a name
    with ``journal`` in it, else ``receipt``."""
    return "journal" if "journal" in name else "receipt"


@dataclass(frozen=True)
class PrinterSetup:
    """How a world's printer is built.

    Attributes:
        profile: ``receipt`` (80 mm, cutter, presenter, retract bin), ``receipt58``
            (58 mm, cutter) or ``journal`` (80 mm, no cutter); see
            `simulator.models.printer.PRINTER_PROFILES`.
        paper_length: lines on a full roll.
        near_end_lines: lines left when the near-end sensor trips.
        line_time: simulated seconds a printed line takes (0: at once).
    """

    profile: str = "receipt"
    paper_length: int = 2000
    near_end_lines: int = 100
    line_time: float = 0.0

    def __post_init__(self) -> None:
        if self.profile not in PRINTER_PROFILES:
            raise ConfigurationError(
                f"no printer profile named {self.profile!r}; known: "
                f"{', '.join(sorted(PRINTER_PROFILES))}"
            )
        for what, value in (
            ("paper_length", self.paper_length),
            ("near_end_lines", self.near_end_lines),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 10**7:
                raise ConfigurationError(f"{what} is an integer from 0 to 10000000, got {value!r}")
        pace = self.line_time
        if isinstance(pace, bool) or not isinstance(pace, int | float) or not 0 <= pace <= 60:
            raise ConfigurationError(f"line_time is from 0 to 60 seconds, got {pace!r}")
        if not 0 <= self.near_end_lines < self.paper_length:
            raise ConfigurationError(
                f"near_end_lines ({self.near_end_lines}) must be below paper_length "
                f"({self.paper_length})"
            )


class PrinterDevicesMixin:
    """The printer accessors of `simulator.world.World` (which provides the table and the
    helpers declared here)."""

    name: str
    seed: int
    clock: SimClock
    _printers: dict[str, tuple[PrinterSetup, PrinterModel]]

    if TYPE_CHECKING:

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
    def printers(self) -> Mapping[str, PrinterModel]:
        """The printer models made so far, by device name."""
        return MappingProxyType({name: m for name, (_, m) in self._printers.items()})

    def printer(
        self, name: str = "receipt_printer", setup: PrinterSetup | None = None
    ) -> PrinterModel:
        """The printer called ``name``, made on first use (a ``journal`` profile by
        default for a name with ``journal`` in it).

        Raises:
            ConfigurationError: it exists and was built with a different setup, or
                ``name`` is another kind of device.
        """

        def build(setup: PrinterSetup) -> PrinterModel:
            model = PrinterModel(
                name=name,
                profile=setup.profile,
                clock=self.clock,
                paper_length=setup.paper_length,
                near_end_lines=setup.near_end_lines,
            )
            model.set_line_time(setup.line_time)
            return model

        def default() -> PrinterSetup:
            return PrinterSetup(profile=default_printer_profile(name))

        return self._made(self._printers, name, "printer", setup, default, build)

    def printer_setup(self, name: str = "receipt_printer") -> PrinterSetup | None:
        """How the printer ``name`` was built, or ``None`` if it is not made yet."""
        return self._setup_of(self._printers, name)

    def printer_control(self, name: str = "receipt_printer") -> SimPrinterControl:
        """The customer, the operator and fate at the printer ``name`` (made on first use)."""
        return SimPrinterControl(self.printer(name))

    def open_printer(self, name: str = "receipt_printer") -> PrinterService:
        """A new, unopened `PrinterService` over the model (use ``async with``)."""
        from hal.devices.printer_service import PrinterService

        return PrinterService(self.printer(name), name=name)
