"""The retain bin's books: captures journalled before the card moves, counted once."""

from __future__ import annotations

import pytest

from hal.devices.card_reader import CardAction, begin_capture
from hal.devices.card_stacker import CARD, READER
from hal.devices.retain_bin import RETAIN, RetainBook
from hal.errors import DeviceNotReady, RetainBinFull
from hal.ledger import Ledger, Outcome
from simulator.world import World


@pytest.fixture
def ledger() -> Ledger:
    book = Ledger.open(":memory:")
    book.define_location("r", READER, kind="customer", item=CARD)
    return book


def test_a_driver_capture_is_journalled_before_and_counted_once(ledger: Ledger) -> None:
    book = RetainBook(ledger, "r", 5)
    ticket = book.ticket("exit")
    (pending,) = ledger.pending("r")
    assert (pending.source, pending.destination) == (READER, RETAIN)
    assert book.count() == 0
    ticket.settle(True)
    ticket.settle(False)  # once only
    assert book.count() == 1
    # The driver's CardAction for it is not journalled a second time...
    book.device_captured("exit")
    assert book.count() == 1
    # ...but a capture the device makes on its own is.
    book.device_captured("exit")
    assert book.count() == 2
    assert ledger.pending("r") == []


@pytest.mark.parametrize(
    ("captured", "outcome"), [(False, Outcome.FAILED), (None, Outcome.UNKNOWN)]
)
def test_a_capture_that_did_not_happen_is_not_counted(
    ledger: Ledger, captured: bool | None, outcome: Outcome
) -> None:
    book = RetainBook(ledger, "r", 5)
    book.ticket("exit").settle(captured)
    (record,) = ledger.history("r")
    assert record.settlement is not None
    assert record.settlement.outcome is outcome
    assert book.count() == 0
    assert book.counts().unknown == (1 if captured is None else 0)
    # No CardAction is owed: the next one the device reports is counted.
    book.device_captured("exit")
    assert book.count() == 1


def test_no_ticket_for_a_full_bin(ledger: Ledger) -> None:
    book = RetainBook(ledger, "r", 1)
    book.ticket("exit").settle(True)
    with pytest.raises(RetainBinFull):
        book.ticket("exit")
    assert ledger.pending("r") == []


def test_a_listener_without_a_ledger_gets_a_ticket_that_records_nothing() -> None:
    class Plain:
        def event(self, event: object) -> None: ...

    begin_capture(Plain(), "exit").settle(True)  # no error, nothing to record


async def test_the_service_journals_a_driver_capture_and_its_card_action() -> None:
    world = World("tickets", clock_scale=0.005)
    service = world.open_card_reader()
    with pytest.raises(DeviceNotReady):
        begin_capture(service, "exit")
    async with service as reader:
        ticket = begin_capture(reader, "exit")
        assert len(reader.ledger.pending(reader.name)) == 1
        ticket.settle(True)
        reader.event(CardAction(source="exit", to="retain"))
        bin_ = await reader.retain_bin()
        assert (bin_.count, bin_.pending, bin_.unknown) == (1, 0, 0)
