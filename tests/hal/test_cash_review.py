"""Review findings of the cash dispenser service (issue 6), each checked against the
ground truth of a real backend: the scripted one (tests/cash_backend.py), the
simulator model, or the LCDM driver on a pty."""

from __future__ import annotations

from dataclasses import replace

import pytest

from hal.devices.cash_dispenser import CUSTOMER, EXIT, CashDispenserCapabilities, ItemsTaken
from hal.devices.cash_dispenser_service import CashDispenserService
from hal.errors import ConnectionLost
from hal.ledger import Ledger
from hal.money import Money
from tests.cash_backend import ScriptedCashBackend
from tests.hal.test_cash_dispenser_service import FULL, books_match, drain, load

D = "cash_dispenser"


def to_customer(ledger: Ledger) -> int:
    """Notes the ledger has booked to the customer."""
    return sum(
        r.settlement.moved or 0
        for r in ledger.history(D, 1000)
        if r.movement.destination == CUSTOMER and r.settlement is not None
    )


@pytest.mark.parametrize("knows", [True, False])
async def test_items_taken_while_a_retract_is_pending(knows: bool) -> None:
    """A retract whose answer was lost moved 5 of 6 notes; the customer took the sixth
    before the next command reconciled it: the exit is booked once, not twice."""
    caps = replace(CashDispenserCapabilities(), knows_operations=knows)
    backend = ScriptedCashBackend(notes=FULL, caps=caps)
    with Ledger.open(":memory:") as ledger:
        async with CashDispenserService(backend, ledger=ledger) as service:
            await load(service, FULL)
            sub = service.events(kinds=[ItemsTaken])
            await service.dispense(Money(38000, "CNY"))
            await service.present()
            backend.script.retract_leaves, backend.script.lose = 1, "after"
            with pytest.raises(ConnectionLost):
                await service.retract()
            assert backend.customer_takes() == 1
            assert [type(e) for e in await drain(sub)] == [ItemsTaken]  # still published
            assert ledger.counts(D)[EXIT] == 6  # not booked while the retract is pending
            await service.denominate(Money(1000, "CNY"))  # reconciles first
            assert ledger.counts(D)[EXIT] == 0
            assert ledger.check_invariants(D) == []
            if knows:
                books_match(service, backend)
                assert to_customer(ledger) == backend.ground_truth()[CUSTOMER] == 1
            else:  # the retract is unknown: the exit's 6 go to the customer, once
                assert to_customer(ledger) == 6
                assert ledger.unknown(D)
