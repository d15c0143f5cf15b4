"""A validator's note jams on its way in, the HAL stops before any reset, an engineer
clears the jam (into the cash box), and a new HAL opens: the real ID-003 driver behind
the emulator on a pty sees no jam any more, so only the books know a note may have left
the transport. The reopened service books ``transport -> cashbox`` unknown, so the
cash box's truth stays within its unknown in-count (check (b) of docs/crash.md; the
validator crash suite found the gap: a kill between the clearing and the reset)."""

from __future__ import annotations

from pathlib import Path

import hal
from hal.devices.cash_acceptor import CashAcceptor
from hal.errors import MediaJam
from hal.ledger import Ledger, Outcome
from simulator.model_link_client import LinkControl
from tests.crash.harness import ModelProcess

BOOKS = "id003"


async def test_a_jam_cleared_while_the_hal_was_down_is_covered_at_open(tmp_path: Path) -> None:
    with ModelProcess(tmp_path, "id003", device="cash_acceptor", wire="id003") as model:
        control = LinkControl(model.endpoint)
        joint = "&" if "?" in model.address else "?"
        address = f"{model.address}{joint}ledger={tmp_path / 'cash.sqlite'}"
        device = hal.open(address)
        assert isinstance(device, CashAcceptor)
        async with device:
            await device.cash_in_start(timeout=30)
            await control.call("insert", target="customer", notes=["CNY:10000"])
            await control.call("jam_next_note")
            try:
                await device.cash_in(timeout=60)
                raise AssertionError("the armed jam did not happen")
            except MediaJam:
                pass
        # the HAL is gone without a reset; the engineer clears the jam into the cash box
        await control.call("clear_jam")
        truth = await control.call("ground_truth", target="model")
        assert isinstance(truth, dict)
        assert (truth["cashbox"], truth["transport"]) == (1, 0)
        device = hal.open(address)
        async with device:
            pass
        with Ledger.open(tmp_path / "cash.sqlite", read_only=True) as books:
            counts = books.counts(BOOKS)
            moves = [
                (r.movement.source, r.movement.destination, r.movement.count, r.settlement.outcome)
                for r in reversed(books.touching(BOOKS, ("transport",)))
                if r.settlement is not None
            ]
        assert counts.get("cashbox", 0) == 0  # never counted: unknown
        assert moves == [
            ("customer", "transport", 1, Outcome.UNKNOWN),
            ("transport", "cashbox", 1, Outcome.UNKNOWN),
        ]
