"""The ``ssp`` driver through ``hal.open`` and the services: an NV11 opened twice on one
port (acceptor and ``facet=dispenser``, one core, one ledger): a deposit stored in the
payout unit is paid out again by the dispenser; a refused and a returned note; the
books equal the model's ground truth."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

import hal
from drivers.cash import ssp as ssp_driver
from hal.devices.cash_acceptor import CashAcceptor
from hal.devices.cash_dispenser import CashDispenser
from hal.errors import ConfigurationError, HalError
from hal.money import Money
from protocols.ssp_commands import Cmd
from tests.ssp_rig import SspRig, ssp_registered


async def test_nv11_acceptor_and_dispenser_share_one_port(tmp_path: Path) -> None:
    rig = SspRig(tmp_path, "nv11")
    ledger = tmp_path / "cash.db"
    with ssp_registered():
        acceptor = hal.open(rig.address(f"ledger={ledger}"))
        dispenser = hal.open(rig.address(f"facet=dispenser&ledger={ledger}"))
        assert isinstance(acceptor, CashAcceptor)
        assert isinstance(dispenser, CashDispenser)
        async with rig.wire() as emulator, acceptor, dispenser:
            assert len(ssp_driver._CORES) == 1
            assert emulator.stats.exchanges == 1  # one connection, one key exchange
            await acceptor.cash_in_start(timeout=5)
            rig.model.insert_notes(["CNY:2000"])
            result = await acceptor.cash_in(timeout=5)
            assert dict(result.accepted) == {"CNY:2000": 1}
            ended = await acceptor.cash_in_end(timeout=5)
            assert dict(ended.stored) == {"payout": {"CNY:2000": 1}}
            assert rig.model.notes_at("payout") == 1
            units = {u.id: u for u in await dispenser.cash_units()}
            assert units["payout"].count == 1
            done = await dispenser.dispense(Money(2000, "CNY"), timeout=5)
            assert dict(done.counts) == {"payout": 1}
            assert rig.model.notes_at("payout") == 0
            # a refused note, then one given back
            await acceptor.cash_in_start(timeout=5)
            rig.model.insert_notes(["USD:100", "CNY:5000"])
            result = await acceptor.cash_in(timeout=5)
            assert dict(result.accepted) == {"CNY:5000": 1}
            assert sum(result.refused.values()) == 1
            back = await acceptor.cash_in_rollback(timeout=5)
            assert dict(back.returned) == {"CNY:5000": 1}
            truth = rig.model.ground_truth()
            assert (truth["escrow"], truth["payout"], truth["cashbox"]) == (0, 0, 0)
            units = {u.id: u for u in await acceptor.cash_units()}
            assert units["payout"].count == 0
            assert units["cashbox"].count == 0
        await asyncio.sleep(0)
        assert not ssp_driver._CORES  # the last facet closed the port


def test_profiles_must_agree_on_one_port(tmp_path: Path) -> None:
    rig = SspRig(tmp_path, "nv11")
    with ssp_registered():
        hal.open(rig.address())
        try:
            with pytest.raises(ConfigurationError):
                hal.open(rig.address("profile=nv200"))
            with pytest.raises(ConfigurationError):
                hal.open(rig.address("profile=nv200&facet=dispenser"))
        finally:
            ssp_driver._CORES.clear()


async def test_an_untrusted_payout_reply_leaves_the_payout_unknown_in_the_books(
    tmp_path: Path,
) -> None:
    rig = SspRig(tmp_path, "nv11")
    ledger = tmp_path / "cash.db"
    with ssp_registered():
        acceptor = hal.open(rig.address(f"ledger={ledger}"))
        dispenser = hal.open(rig.address(f"facet=dispenser&ledger={ledger}"))
        assert isinstance(acceptor, CashAcceptor)
        assert isinstance(dispenser, CashDispenser)
        async with rig.wire() as emulator, acceptor, dispenser:
            for _ in range(2):  # two notes into the payout store, through the books
                await acceptor.cash_in_start(timeout=5)
                rig.model.insert_notes(["CNY:2000"])
                await acceptor.cash_in(timeout=5)
                await acceptor.cash_in_end(timeout=5)
            assert rig.model.notes_at("payout") == 2
            # the device pays, but its reply cannot be trusted
            emulator.wrong_reply_counter(Cmd.PAYOUT_BY_DENOMINATION)
            with pytest.raises(HalError):
                await dispenser.dispense(Money(2000, "CNY"), timeout=5)
            assert rig.model.notes_at("payout") == 1
            books = dispenser.ledger  # type: ignore[attr-defined]
            pending = books.pending()
            assert [m.source for m in pending] == ["payout"]
            name = pending[0].device
            # the next command reconciles it: unknown, never "failed" (nothing paid)
            await dispenser.dispense(Money(2000, "CNY"), timeout=5)
            assert rig.model.notes_at("payout") == 0
            outcomes = [
                r.settlement.outcome.value
                for r in books.history(name)
                if r.settlement is not None and r.movement.source == "payout"
            ]
            assert outcomes == ["done", "unknown"]  # newest first
