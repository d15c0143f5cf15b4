"""Fixtures for the ledger tests: a card reader's locations on a fresh ledger file."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# The project is not installed into the venv; the tests import it from the tree.
_ROOT = str(Path(__file__).resolve().parents[3])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from hal.ledger import Ledger  # noqa: E402  (needs the path above)

from .helpers import define_card_reader  # noqa: E402


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """Where the test's ledger file lives."""
    return tmp_path / "ledger.sqlite"


@pytest.fixture
def ledger(db_path: Path) -> Iterator[Ledger]:
    """A ledger file with a card reader's locations defined, closed after the test."""
    with Ledger.open(db_path) as opened:
        define_card_reader(opened)
        yield opened
