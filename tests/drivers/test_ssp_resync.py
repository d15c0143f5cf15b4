"""The SSP link after an exchange that was never answered, and eSSP replies the host must
not trust, on the real pty emulator: the link SYNCs (and negotiates a new key) before
the next command, so a device that missed the last command never answers the next one
with its old reply; a stale or wrongly counted encrypted reply is refused as untrusted
(the payout may have happened: an error, not a "nothing paid" report)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from drivers.cash.ssp import PAYOUT
from drivers.cash.ssp_link import EsspRefused, EsspUntrusted, SspLink
from hal.devices.cash_model import CUSTOMER, Move
from hal.errors import ConnectionLost, HalTimeout
from protocols.ssp_commands import Cmd
from tests.ssp_rig import SspRig


async def test_a_command_after_an_unanswered_one_is_carried_out(tmp_path: Path) -> None:
    rig = SspRig(tmp_path)
    async with rig.wire() as emulator:
        link = SspLink(rig.transport(), reply_timeout=0.1, retries=1)
        await link.open()
        try:
            await link.sync()
            assert await link.command(bytes((Cmd.ENABLE,))) == b"\xf0"
            emulator.drop_next_replies(2)  # the POLL and its resend: both lost
            with pytest.raises(HalTimeout):
                await link.command(bytes((Cmd.POLL,)))
            assert not link.in_sync
            acted = len(rig.firmware.acted)
            assert await link.command(bytes((Cmd.DISABLE,))) == b"\xf0"
            assert link.in_sync
            assert link.resyncs == 1
            assert not rig.firmware.enabled  # DISABLE was carried out, not answered stale
            assert rig.firmware.acted[acted:] == [Cmd.DISABLE]
        finally:
            await link.close()


async def test_a_payout_after_a_lost_encrypted_poll_pays(tmp_path: Path) -> None:
    rig = SspRig(tmp_path, "nv11", payout=5)
    async with (
        rig.wire() as emulator,
        rig.core(poll_interval=1.0, reply_timeout=0.1, retries=1) as dev,
    ):
        assert dev.dispenser is not None
        emulator.drop_next_replies(2)
        with pytest.raises(HalTimeout):
            await dev.core.command(bytes((Cmd.POLL,)))
        exchanges = emulator.stats.exchanges
        report = await asyncio.wait_for(dev.dispenser.dispense({PAYOUT: 2}, 1), 5)
        assert report.moves == (Move(PAYOUT, CUSTOMER, "CNY:2000", 2),)
        assert rig.model.notes_at("payout") == 3
        assert emulator.stats.exchanges == exchanges + 1  # a new key after the SYNC
        assert emulator.stats.counter_refused == 0


@pytest.mark.parametrize("lie", ["counter", "replay"])
async def test_an_untrusted_payout_reply_is_an_error_not_nothing_paid(
    tmp_path: Path, lie: str
) -> None:
    rig = SspRig(tmp_path, "nv11", payout=5)
    async with rig.wire() as emulator, rig.core(poll_interval=1.0) as dev:
        assert dev.dispenser is not None
        if lie == "counter":
            emulator.wrong_reply_counter(Cmd.PAYOUT_BY_DENOMINATION)
        else:
            emulator.replay_old_reply(Cmd.PAYOUT_BY_DENOMINATION)
        with pytest.raises(ConnectionLost) as caught:
            await asyncio.wait_for(dev.dispenser.dispense({PAYOUT: 1}, 1), 5)
        assert isinstance(caught.value, EsspUntrusted)
        assert not isinstance(caught.value, EsspRefused)
        assert rig.model.notes_at("payout") == 4  # the device did pay: it must not be "failed"
        assert not dev.core.link.in_sync
        again = await asyncio.wait_for(dev.dispenser.dispense({PAYOUT: 1}, 2), 5)
        assert again.moves == (Move(PAYOUT, CUSTOMER, "CNY:2000", 1),)
        assert rig.model.notes_at("payout") == 3


async def test_an_untrusted_poll_reply_credits_nothing(tmp_path: Path) -> None:
    rig = SspRig(tmp_path, "nv11")
    async with rig.wire() as emulator, rig.core(encrypted=True, poll_interval=1.0) as dev:
        rig.model.insert_notes(["CNY:5000"])
        await dev.core.command(bytes((Cmd.ENABLE,)))
        await asyncio.sleep(0.05)  # the intake lands the note in the escrow
        emulator.wrong_reply_counter()
        async with dev.core.watch() as events:
            with pytest.raises(EsspUntrusted):
                await dev.core._poll_once()
            assert events.empty()  # the READ it carried is not believed
        assert dev.core.escrow is None
        # after the SYNC the device reports the held note again
        await dev.core._poll_once()
        assert dev.core.escrow == 5


async def test_concurrent_session_checks_make_one_key_exchange(tmp_path: Path) -> None:
    rig = SspRig(tmp_path, "nv11", payout=2)
    async with rig.wire() as emulator, rig.core() as dev:
        assert emulator.stats.exchanges == 1
        async with dev.core.link.lock:
            dev.core.link._key = None  # the session dropped (a refused packet)
            # the payout side and the polling task both find it so, at once
            waiting = [asyncio.ensure_future(dev.core.ensure_session()) for _ in range(3)]
            await asyncio.sleep(0.1)
        await asyncio.wait_for(asyncio.gather(*waiting), 5)
        await asyncio.sleep(0.1)
        assert emulator.stats.exchanges == 2
        assert dev.core.link.encrypted
        assert dev.dispenser is not None
        report = await asyncio.wait_for(dev.dispenser.dispense({PAYOUT: 1}, 1), 5)
        assert report.moves == (Move(PAYOUT, CUSTOMER, "CNY:2000", 1),)
