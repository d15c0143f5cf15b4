"""`Ledger.devices`: every device with a location, by name, for tools that list a file."""

from __future__ import annotations

from pathlib import Path

from hal.ledger import MEMORY, Ledger, LocationKind

from .helpers import CR, insert_card


def test_an_empty_ledger_has_no_devices() -> None:
    with Ledger.open(MEMORY) as ledger:
        assert ledger.devices() == []


def test_devices_are_listed_once_by_name(ledger: Ledger) -> None:
    ledger.define_location("cash_dispenser", "unit1", kind=LocationKind.CASSETTE, item="EUR:20")
    ledger.define_location("cash_dispenser", "unit2", kind=LocationKind.CASSETTE, item="EUR:50")
    ledger.define_location("a_printer", "paper", kind=LocationKind.POSITION, item="receipt")
    insert_card(ledger)
    assert ledger.devices() == ["a_printer", CR, "cash_dispenser"]


def test_a_reader_sees_the_writers_devices(ledger: Ledger, db_path: Path) -> None:
    with Ledger.open(db_path, read_only=True) as reader:
        assert reader.devices() == [CR]
        ledger.define_location("cash_dispenser", "unit1", kind=LocationKind.CASSETTE, item="EUR:20")
        assert reader.devices() == [CR, "cash_dispenser"]
