"""The services of an ``ssp`` device: one set of books for its two facets.

An NV11 is one device seen as a `CashAcceptor` and a `CashDispenser`. Its two services
must keep their books in ONE ledger under one device name, and a ledger file can be
open for writing once per process. `SharedBooks` (one per `drivers.cash.ssp.SspCore`)
opens the ledger (the ``ledger`` option's file, or in memory) when the first of the two
services opens and closes it after the last one has closed; `SspAcceptorService` and
`SspDispenserService` are the stock services borrowing it while open
(`hal.devices.held_ledger.HeldLedger`).
"""

from __future__ import annotations

import os

from hal.devices.cash_acceptor import CashAcceptorBackend
from hal.devices.cash_acceptor_service import CashAcceptorService
from hal.devices.cash_dispenser import CashDispenserBackend
from hal.devices.cash_dispenser_service import CashDispenserService
from hal.devices.held_ledger import HeldLedger
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


class SspAcceptorService(HeldLedger, CashAcceptorService):
    """The stock acceptor service on the device's shared books."""

    def __init__(
        self, backend: CashAcceptorBackend, *, name: str, books: SharedBooks, path: str
    ) -> None:
        super().__init__(backend, name=name, books=name)
        self._lend_from(books, path)


class SspDispenserService(HeldLedger, CashDispenserService):
    """The stock dispenser service (the NV11's payout) on the device's shared books."""

    def __init__(
        self, backend: CashDispenserBackend, *, name: str, books: SharedBooks, path: str
    ) -> None:
        super().__init__(backend, name=name, books=name)
        self._lend_from(books, path)
