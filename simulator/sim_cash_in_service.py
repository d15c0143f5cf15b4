"""The cash acceptor service of ``sim://cash_acceptor``: a `CashAcceptorService` whose
fresh ledger starts from what the simulated units hold, in a ledger it may share with
its recycler's dispenser service (`simulator.sim_cash_service`)."""

from __future__ import annotations

import os

from hal.devices.cash_acceptor_service import CashAcceptorService
from hal.ledger import Ledger
from simulator.models.cash_acceptor import CashAcceptorModel
from simulator.sim_cash_service import SharedLedger, SimCashBooks

__all__ = ["SimCashAcceptorService"]


class SimCashAcceptorService(SimCashBooks, CashAcceptorService):
    """`CashAcceptorService` over a `CashAcceptorModel`, seeding a fresh ledger.

    Args:
        model: the simulated acceptor.
        name: the device's name (also its books' name unless ``books`` is given).
        ledger: an open `Ledger`, its path, or ``None`` for one in memory.
        books: the books' name in the ledger.
        shared: the `SharedLedger` to keep the books in (with the recycler's dispenser
            service): opened at ``ledger`` (a path, or ``None``) if this one opens first.
    """

    def __init__(
        self,
        model: CashAcceptorModel,
        *,
        name: str = "cash_acceptor",
        ledger: Ledger | str | os.PathLike[str] | None = None,
        books: str | None = None,
        shared: SharedLedger | None = None,
    ) -> None:
        given = self._simulated(model, ledger, shared)
        super().__init__(model, name=name, ledger=given, books=books)
        self._model = model
