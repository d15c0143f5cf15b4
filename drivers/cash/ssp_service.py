"""The services of an ``ssp`` device: one set of books for its two facets.

An NV11 is one device seen as a `CashAcceptor` and a `CashDispenser`. Its two services
must keep their books in ONE ledger under one device name, and a ledger file can be
open for writing once per process. `SharedBooks` (one per `drivers.cash.ssp.SspCore`)
opens the ledger (the ``ledger`` option's file, or in memory) when the first of the two
services opens and closes it after the last one has closed; `SspAcceptorService` and
`SspDispenserService` are the stock services taking it at open.
"""

from __future__ import annotations

import os
from typing import Any

from hal.devices.cash_acceptor import CashAcceptorBackend
from hal.devices.cash_acceptor_service import CashAcceptorService
from hal.devices.cash_books_service import CashBooksService
from hal.devices.cash_dispenser import CashDispenserBackend
from hal.devices.cash_dispenser_service import CashDispenserService
from hal.errors import ConfigurationError
from hal.ledger import Ledger

__all__ = ["SharedBooks", "SspAcceptorService", "SspDispenserService"]


class SharedBooks:
    """The ledger of one device's services: opened by the first user, closed by the last.

    Args:
        device: the device's name, for messages.
    """

    def __init__(self, device: str) -> None:
        self.device = device
        self._ledger: Ledger | None = None
        self._path = ""
        self._users = 0

    def acquire(self, path: str) -> Ledger:
        """The ledger at ``path`` (empty: in memory), opened by the first user.

        Raises:
            ConfigurationError: the other service has it open at another path.
        """
        wanted = os.path.realpath(path) if path else ""
        if self._ledger is None:
            self._ledger = Ledger.open(wanted or ":memory:")
            self._path = wanted
        elif wanted != self._path:
            raise ConfigurationError(
                f"{self.device}'s books are open in {self._path or 'memory'} by its other "
                f"service; both addresses must name the same ledger"
            )
        self._users += 1
        return self._ledger

    def release(self) -> None:
        """A user is done; the last one closes the ledger."""
        self._users = max(0, self._users - 1)
        if not self._users and self._ledger is not None:
            self._ledger.close()
            self._ledger = None
            self._path = ""


class _SharedLedger(CashBooksService[Any, Any]):
    """Takes the device's shared ledger at open and lets go of it after close; listed
    before the stock service in a service's bases."""

    _shared_books: SharedBooks
    _ledger_path: str
    _holding = False

    def _share(self, books: SharedBooks, path: str) -> None:
        self._shared_books, self._ledger_path, self._holding = books, path, False

    async def open(self) -> None:
        if self._opened:
            return
        if not self._holding:
            self._ledger_given = self._shared_books.acquire(self._ledger_path)
            self._holding = True
        try:
            await super().open()
        except BaseException:
            self._let_go()
            raise

    async def close(self) -> None:
        try:
            await super().close()
        finally:
            self._let_go()

    def _let_go(self) -> None:
        if self._holding:
            self._holding = False
            self._ledger_given = None
            self._shared_books.release()


class SspAcceptorService(_SharedLedger, CashAcceptorService):
    """The stock acceptor service on the device's shared books."""

    def __init__(
        self, backend: CashAcceptorBackend, *, name: str, books: SharedBooks, path: str
    ) -> None:
        super().__init__(backend, name=name, books=name)
        self._share(books, path)


class SspDispenserService(_SharedLedger, CashDispenserService):
    """The stock dispenser service (the NV11's payout) on the device's shared books."""

    def __init__(
        self, backend: CashDispenserBackend, *, name: str, books: SharedBooks, path: str
    ) -> None:
        super().__init__(backend, name=name, books=name)
        self._share(books, path)
