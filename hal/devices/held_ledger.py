"""`HeldLedger`: a cash service keeping its books in a ledger it borrows while open.

A recycler is one device seen as a `CashAcceptor` and a `CashDispenser`: its two
services keep their books in ONE `Ledger` object (a ledger file is opened by one
`Ledger` at a time). The object that owns that ledger (a `LedgerLender`, which the
layer that composes the device's two services provides) lends it: each service borrows
it before it opens and gives it back after it closes, or when it fails to open; the
lender opens it for the first borrower and closes it after the last.
"""

from __future__ import annotations

from typing import Any, Protocol

from hal.devices.cash_books_service import CashBooksService
from hal.ledger import Ledger

__all__ = ["HeldLedger", "LedgerLender"]


class LedgerLender(Protocol):
    """Lends one device's ledger to its services."""

    def acquire(self, path: Any) -> Ledger:
        """The ledger (opened at ``path`` by the first borrower)."""
        ...

    def release(self) -> None:
        """A borrower is done with it."""
        ...


class HeldLedger(CashBooksService[Any, Any]):
    """A cash service that borrows its ledger from `_lender` while open; listed before
    the stock service in a service's bases. With no lender it is the stock service.

    A subclass calls `_lend_from` in its ``__init__`` (after the base's).
    """

    _lender: LedgerLender | None = None
    _lent_path: Any = None
    _holding = False

    def _lend_from(self, lender: LedgerLender, path: Any) -> None:
        """Borrow the ledger from ``lender`` (at ``path``) at each open."""
        self._lender, self._lent_path, self._holding = lender, path, False

    async def open(self) -> None:
        """Open, on the borrowed ledger (given back if the open fails)."""
        if self._opened:
            return
        if self._lender is not None and not self._holding:
            self._ledger_given = self._lender.acquire(self._lent_path)
            self._holding = True
        try:
            await super().open()
        except BaseException:
            self._let_go()
            raise

    async def close(self) -> None:
        """Close, and give the ledger back."""
        try:
            await super().close()
        finally:
            self._let_go()

    def _let_go(self) -> None:
        if self._holding and self._lender is not None:
            self._holding = False
            self._ledger_given = None
            self._lender.release()
