"""The cash devices of a simulated `simulator.world.World`: their setups and accessors.

`CashDispenserSetup` and `CashAcceptorSetup` say how a world's cash dispenser and cash
acceptor are built; `CashDevicesMixin` gives `World` its cash accessors (the models
by name, made on first use; their setups and controls; the services over them,
including a recycler's dispenser side and the books it shares with its acceptor).
Both are re-exported by `simulator.world`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, TypeVar

from hal.errors import ConfigurationError, UnsupportedOperation
from hal.ledger import Ledger
from simulator.cash_control import CashDispenserControl
from simulator.cash_in_control import CashAcceptorControl
from simulator.clock import SimClock
from simulator.models.cash_acceptor import CashAcceptorModel
from simulator.models.cash_dispenser import CashDispenserModel
from simulator.models.cash_in_profiles import CASH_IN_PROFILES, CashInProfile, cash_in_profile
from simulator.models.cash_profiles import CASH_PROFILES, CashProfile, cash_profile

if TYPE_CHECKING:
    from simulator.sim_cash_in_service import SimCashAcceptorService
    from simulator.sim_cash_service import SharedLedger, SimCashDispenserService

SetupT = TypeVar("SetupT")
ModelT = TypeVar("ModelT")

__all__ = ["CashAcceptorSetup", "CashDevicesMixin", "CashDispenserSetup"]


#: The kind of a device name that is a recycler's dispenser side.
_RECYCLER_SIDE = "recycler's dispenser side"


@dataclass(frozen=True)
class CashDispenserSetup:
    """How a world's cash dispenser is built.

    Attributes:
        profile: a name from `simulator.models.cash_profiles.CASH_PROFILES`.
        counts: ``(unit id, notes)`` pairs overriding the profile's starting counts.
        pick_time: simulated seconds per note; ``None`` takes the profile's.
    """

    profile: str = "default"
    counts: tuple[tuple[str, int], ...] = ()
    pick_time: float | None = None

    def __post_init__(self) -> None:
        if self.profile not in CASH_PROFILES:
            raise ConfigurationError(
                f"no cash profile named {self.profile!r}; known: {', '.join(sorted(CASH_PROFILES))}"
            )
        self.build()  # unknown units and bad counts are refused now
        pick = self.pick_time
        if pick is not None and (
            isinstance(pick, bool) or not isinstance(pick, int | float) or not 0 <= pick < 3600
        ):
            raise ConfigurationError(f"pick_time is from 0 to 3600 seconds, got {pick!r}")

    def build(self) -> CashProfile:
        """The profile with the counts applied.

        Raises:
            ConfigurationError: a unit the profile does not have, or a bad count.
        """
        return cash_profile(self.profile, dict(self.counts))


@dataclass(frozen=True)
class CashAcceptorSetup:
    """How a world's cash acceptor is built.

    Attributes:
        profile: a name from `simulator.models.cash_in_profiles.CASH_IN_PROFILES`.
        counts: ``(unit id, notes)`` pairs overriding the profile's starting counts.
        note_time: simulated seconds per note taken in; ``None`` takes the profile's.
    """

    profile: str = "default"
    counts: tuple[tuple[str, int], ...] = ()
    note_time: float | None = None

    def __post_init__(self) -> None:
        if self.profile not in CASH_IN_PROFILES:
            raise ConfigurationError(
                f"no cash-in profile named {self.profile!r}; known: "
                f"{', '.join(sorted(CASH_IN_PROFILES))}"
            )
        self.build()  # unknown units and bad counts are refused now
        note = self.note_time
        if note is not None and (
            isinstance(note, bool) or not isinstance(note, int | float) or not 0 <= note < 3600
        ):
            raise ConfigurationError(f"note_time is from 0 to 3600 seconds, got {note!r}")

    def build(self) -> CashInProfile:
        """The profile with the counts applied.

        Raises:
            ConfigurationError: a unit the profile does not have, or a bad count.
        """
        return cash_in_profile(self.profile, dict(self.counts))


class CashDevicesMixin:
    """The cash accessors of `simulator.world.World` (which provides the tables and the
    helpers declared here)."""

    name: str
    clock: SimClock
    _cash_dispensers: dict[str, tuple[CashDispenserSetup, CashDispenserModel]]
    _cash_acceptors: dict[str, tuple[CashAcceptorSetup, CashAcceptorModel]]
    _shared_books: dict[str, SharedLedger]
    _recycler_sides: dict[str, str]

    if TYPE_CHECKING:

        def _check_free(self, name: str, kind: str) -> None: ...

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
    def cash_dispensers(self) -> Mapping[str, CashDispenserModel]:
        """The cash dispenser models made so far, by device name."""
        return MappingProxyType({name: m for name, (_, m) in self._cash_dispensers.items()})

    @property
    def cash_acceptors(self) -> Mapping[str, CashAcceptorModel]:
        """The cash acceptor models made so far, by device name."""
        return MappingProxyType({name: m for name, (_, m) in self._cash_acceptors.items()})

    def cash_dispenser(
        self, name: str = "cash_dispenser", setup: CashDispenserSetup | None = None
    ) -> CashDispenserModel:
        """The cash dispenser called ``name``, made on first use (its cassettes filled as
        its profile says).

        Args:
            name: the device name.
            setup: how to build it; ``None`` takes the defaults (or whatever it was
                built with, if it exists).

        Raises:
            ConfigurationError: it exists and was built with a different setup, or
                ``name`` is another kind of device.
        """

        def build(setup: CashDispenserSetup) -> CashDispenserModel:
            return CashDispenserModel(
                setup.build(), name=name, clock=self.clock, pick_time=setup.pick_time
            )

        return self._made(
            self._cash_dispensers, name, "cash dispenser", setup, CashDispenserSetup, build
        )

    def cash_dispenser_setup(self, name: str = "cash_dispenser") -> CashDispenserSetup | None:
        """How the cash dispenser ``name`` was built, or ``None`` if it is not made yet."""
        return self._setup_of(self._cash_dispensers, name)

    def cash_dispenser_control(self, name: str = "cash_dispenser") -> CashDispenserControl:
        """The hands and faults acting on the cash dispenser ``name`` (made on first use)."""
        return CashDispenserControl(self.cash_dispenser(name))

    def open_cash_dispenser(
        self,
        name: str = "cash_dispenser",
        *,
        ledger: Ledger | str | os.PathLike[str] | None = None,
        recycler: str | None = None,
        books: str | None = None,
    ) -> SimCashDispenserService:
        """A new, unopened `CashDispenserService` over the model (use ``async with``).

        Args:
            name: the device name.
            ledger: where the notes' moves are journalled: an open `hal.ledger.Ledger`,
                the path of one the service opens and closes with the device, or
                ``None`` for an in-memory ledger. A ledger that never saw the device
                starts from the model's physical counts
                (`simulator.sim_cash_service.SimCashDispenserService`).
            recycler: the name of a cash acceptor (a recycler) whose dispenser side this
                is, instead of a dispenser model of its own: the service keeps its books
                with the acceptor's (its books name, default the acceptor's name, in
                the one ledger both services share while either is open; a path given
                by the first to open), so deposited notes are dispensable.
            books: the books' name in the ledger (``None``: ``name``, or the recycler's).

        Raises:
            ConfigurationError: the acceptor ``recycler`` (made on first use) is not
                a recycler; ``name`` is another kind of device, or ``recycler`` itself.
        """
        # Imported on first use: a simulator without a dispenser never loads the service.
        from simulator.sim_cash_service import SimCashDispenserService

        if recycler is None:
            return SimCashDispenserService(
                self.cash_dispenser(name), name=name, ledger=ledger, books=books
            )
        if name == recycler:
            raise ConfigurationError(f"the dispenser side of {recycler} needs a name of its own")
        self._check_free(name, _RECYCLER_SIDE)
        side_of = self._recycler_sides.get(name)
        if side_of is not None and side_of != recycler:
            raise ConfigurationError(
                f"world {self.name!r}: {name} is the dispenser side of {side_of}, not {recycler}"
            )
        acceptor = self.cash_acceptor(recycler)
        try:
            facet = acceptor.dispenser()
        except UnsupportedOperation as exc:
            raise ConfigurationError(f"world {self.name!r}: {exc}") from None
        self._recycler_sides[name] = recycler
        shared = None if isinstance(ledger, Ledger) else self.shared_books(recycler)
        return SimCashDispenserService(
            facet,
            name=name,
            ledger=ledger,
            books=books or recycler,
            shared=shared,
        )

    def cash_acceptor(
        self, name: str = "cash_acceptor", setup: CashAcceptorSetup | None = None
    ) -> CashAcceptorModel:
        """The cash acceptor called ``name``, made on first use (its units filled as its
        profile says).

        Raises:
            ConfigurationError: it exists and was built with a different setup, or
                ``name`` is another kind of device.
        """

        def build(setup: CashAcceptorSetup) -> CashAcceptorModel:
            return CashAcceptorModel(
                setup.build(), name=name, clock=self.clock, note_time=setup.note_time
            )

        return self._made(
            self._cash_acceptors, name, "cash acceptor", setup, CashAcceptorSetup, build
        )

    def cash_acceptor_setup(self, name: str = "cash_acceptor") -> CashAcceptorSetup | None:
        """How the cash acceptor ``name`` was built, or ``None`` if it is not made yet."""
        return self._setup_of(self._cash_acceptors, name)

    def cash_acceptor_control(self, name: str = "cash_acceptor") -> CashAcceptorControl:
        """The hands and faults acting on the cash acceptor ``name`` (made on first use)."""
        return CashAcceptorControl(self.cash_acceptor(name))

    def shared_books(self, name: str = "cash_acceptor") -> SharedLedger:
        """The ledger the acceptor ``name``'s service and its recycler's dispenser
        service share (`simulator.sim_cash_service.SharedLedger`)."""
        from simulator.sim_cash_service import SharedLedger

        shared = self._shared_books.get(name)
        if shared is None:
            shared = self._shared_books[name] = SharedLedger(name)
        return shared

    def open_cash_acceptor(
        self,
        name: str = "cash_acceptor",
        *,
        ledger: Ledger | str | os.PathLike[str] | None = None,
        books: str | None = None,
    ) -> SimCashAcceptorService:
        """A new, unopened `CashAcceptorService` over the model (use ``async with``).

        Args:
            name: the device name.
            ledger: an open `hal.ledger.Ledger` (used as given), or the path of the
                ledger file (``None``: in memory) the acceptor shares with its
                recycler's dispenser service (`shared_books`): opened when the first of
                them opens, closed when the last closes. A ledger that never saw the
                books starts from the model's physical counts.
            books: the books' name in the ledger (``None``: ``name``).
        """
        from simulator.sim_cash_in_service import SimCashAcceptorService

        shared = None if isinstance(ledger, Ledger) else self.shared_books(name)
        return SimCashAcceptorService(
            self.cash_acceptor(name), name=name, ledger=ledger, books=books, shared=shared
        )
