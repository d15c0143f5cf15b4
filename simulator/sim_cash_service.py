"""The cash services of ``sim://cash_dispenser`` and ``sim://cash_acceptor``: the hal
services whose fresh ledger starts from what the simulated units hold, and the one
ledger a recycler's two services share.

A new ledger knows no note: every unit counts 0 until an operator's exchange sets it.
A real kiosk does that exchange when it is installed; the simulator does it for you the
first time a service opens over a ledger that has no movement and no count for its
books: `SimCashDispenserService.open` (and the acceptor's,
`simulator.sim_cash_in_service.SimCashAcceptorService.open`) run ``start_exchange``,
``set_cash_unit`` with each unit's physical notes and ``end_exchange`` through the
public interface (so the ledger records it as an exchange, reason ``exchange``). A
ledger that has the books' history already is left alone: its counts are the books,
whatever the model holds. ``count_in`` does the same exchange on demand (``tellerhal
sim`` does it for the new cassettes of a reset world).

A recycler's two services keep one set of books in ONE `Ledger` object (a ledger file
is opened by one `Ledger` at a time, and an in-memory one is one object): the world
hands both a `SharedLedger`, which opens the ledger when the first of them opens and
closes it when the last closes. Whichever opens first counts the units in; the other
finds the history and leaves it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any, Protocol

from hal.devices.cash_books_service import CashBooksService
from hal.devices.cash_dispenser_service import CashDispenserService
from hal.devices.cash_model import CashUnitInfo
from hal.devices.held_ledger import HeldLedger
from hal.errors import ConfigurationError
from hal.ledger import Ledger
from simulator.models.cash_dispenser import CashDispenserModel

__all__ = ["SharedLedger", "SimCashBooks", "SimCashDispenserService"]

log = logging.getLogger(__name__)


class _Counted(Protocol):
    """A model whose units can be counted in: what it physically holds."""

    def ground_truth(self) -> Mapping[str, int]: ...

    def units(self) -> tuple[CashUnitInfo, ...]: ...


class SharedLedger:
    """One ledger for the services of one simulated device (a recycler's acceptor and
    dispenser): opened by the first service that opens, closed when the last closes.

    Args:
        device: the device it keeps the books of (for messages).
    """

    def __init__(self, device: str) -> None:
        self.device = device
        self._ledger: Ledger | None = None
        self._path: str | None = None  # resolved; None: in memory
        self._users = 0

    @property
    def users(self) -> int:
        """Services holding the ledger now."""
        return self._users

    def acquire(self, path: str | os.PathLike[str] | None) -> Ledger:
        """The ledger, opened at ``path`` (``None``: in memory) by the first user; a
        later user naming no path joins it.

        Raises:
            ConfigurationError: it is open at another path (or in memory) already.
            LedgerError: the file cannot be opened.
        """
        wanted = None if path is None else os.path.realpath(os.fspath(path))
        if self._ledger is None:
            self._ledger = Ledger.open(wanted if wanted is not None else ":memory:")
            self._path = wanted
        elif wanted is not None and wanted != self._path:
            raise ConfigurationError(
                f"{self.device}'s books are open in {self._path or 'an in-memory ledger'} "
                f"by its other service; cannot open them in {wanted} too"
            )
        self._users += 1
        return self._ledger

    def release(self) -> None:
        """A user is done with it; the last one closes it."""
        if self._users <= 0:
            raise RuntimeError(f"{self.device}'s shared ledger released more than acquired")
        self._users -= 1
        if not self._users and self._ledger is not None:
            self._ledger.close()
            self._ledger = None
            self._path = None

    def __repr__(self) -> str:
        where = self._path or ("memory" if self._ledger is not None else "closed")
        return f"SharedLedger({self.device!r}, {where}, users={self._users})"


class SimCashBooks(HeldLedger):
    """What both simulated cash services add to theirs: counting a fresh ledger in from
    the model (`count_in`) and, optionally, a `SharedLedger` held while open. Each
    calls `_simulated` first in its ``__init__``."""

    _counted: _Counted

    def _simulated(
        self,
        counted: _Counted,
        ledger: Ledger | str | os.PathLike[str] | None,
        shared: SharedLedger | None,
    ) -> Ledger | str | os.PathLike[str] | None:
        """Remember the model and the ledger; returns what the service's base takes as
        its ``ledger`` (``None`` with a shared one: it is given at open).

        Raises:
            ConfigurationError: a `Ledger` object and a shared ledger both.
        """
        self._counted = counted
        if shared is None:
            return ledger
        if isinstance(ledger, Ledger):
            raise ConfigurationError("a shared ledger is opened by its path, not given open")
        self._lend_from(shared, ledger)
        return None

    async def open(self) -> None:
        """Open (taking the shared ledger, if any); on a ledger that never saw these
        books, count the units in."""
        if self._opened:
            return
        await super().open()
        await count_in_fresh(self, self._counted)

    async def count_in(self, *, every_unit: bool = True) -> dict[str, int]:
        """An exchange setting the units' counts to the notes physically in them (every
        unit, or only those holding notes); returns what was set.

        Raises:
            TransactionActive: the books have notes in a position; CashInActive: an
                acceptor's transaction is open.
        """
        return await count_in(self, self._counted, every_unit=every_unit)


async def count_in_fresh(service: CashBooksService[Any, Any], model: _Counted) -> None:
    """On a ledger that never saw the ``service``'s books, count ``model``'s units in."""
    ledger = service.ledger
    if ledger.history(service.books, 1) or any(c.initial for c in ledger.counters(service.books)):
        return
    await count_in(service, model, every_unit=False)


async def count_in(
    service: CashBooksService[Any, Any], model: _Counted, *, every_unit: bool
) -> dict[str, int]:
    """An exchange through ``service`` setting the units' counts to the notes physically
    in ``model``'s units (every unit, or only those holding notes); returns what was set."""
    truth = model.ground_truth()
    counts = {info.id: truth[info.id] for info in model.units() if every_unit or truth[info.id]}
    if not counts:
        return counts
    await service.start_exchange()
    try:
        for unit, notes in counts.items():
            await service.set_cash_unit(unit, initial=notes)
    finally:
        await service.end_exchange()
    log.info("%s: the units are counted in from the simulated units: %s", service.name, counts)
    return counts


class SimCashDispenserService(SimCashBooks, CashDispenserService):
    """`CashDispenserService` over a `CashDispenserModel` (or a recycler's dispenser
    side, `simulator.models.cash_acceptor.CashAcceptorModel.dispenser`), seeding a
    fresh ledger.

    Args:
        model: the simulated dispenser.
        name: the device's name (also its books' name unless ``books`` is given).
        ledger: an open `Ledger`, its path, or ``None`` for one in memory.
        books: the books' name in the ledger (a recycler's: its acceptor's).
        shared: the `SharedLedger` to keep the books in (a recycler's): opened at
            ``ledger`` (a path, or ``None`` for memory) if this service opens first.
    """

    def __init__(
        self,
        model: CashDispenserModel,
        *,
        name: str = "cash_dispenser",
        ledger: Ledger | str | os.PathLike[str] | None = None,
        books: str | None = None,
        shared: SharedLedger | None = None,
    ) -> None:
        given = self._simulated(model, ledger, shared)
        super().__init__(model, name=name, ledger=given, books=books)
        self._model = model
