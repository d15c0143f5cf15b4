"""The real ``ssp`` driver against the SSP emulator on a real pty: sync, setup, note
types, deposits (stacked, stored in payout), returns, refused notes, jams, a full or
missing cash box, cancel, reopen with a note in escrow, a lost reply (same sequence
flag: no double credit), eSSP key negotiation and encrypted payout, and what the
emulator refuses: payouts in clear, replayed packets, counters out of sequence."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from drivers.cash.ssp import CASHBOX, PAYOUT, SspAcceptor, SspCore, SspDispenser
from drivers.cash.ssp_options import SspOptions
from hal.devices.cash_in_model import ESCROW, CashInLimits, RefuseReason
from hal.devices.cash_model import CUSTOMER, TRANSPORT, Move
from hal.money import Money
from hal.transports.spy import SpyTransport
from protocols.ssp_commands import Cmd, build_payout_by_denomination
from tests.ssp_rig import FAST, Listener, RawHost, SspRig, ssp_registered

ALL = frozenset(f"CNY:{v}" for v in (100, 500, 1000, 2000, 5000, 10000))


def limits(**kw: object) -> CashInLimits:
    given: dict[str, object] = {"max_items": 1, "enabled": ALL}
    given.update(kw)
    return CashInLimits(**given)  # type: ignore[arg-type]


async def test_open_reads_note_types(tmp_path: Path) -> None:
    rig = SspRig(tmp_path)
    async with rig.wire() as emulator, rig.core() as dev:
        types = dev.acceptor.note_types()
        assert [t.item for t in types] == sorted(ALL, key=lambda i: int(i.split(":")[1]))
        assert all(t.enabled for t in types)
        assert not dev.core.link.encrypted  # a validator: eSSP off by default
        assert Cmd.SETUP_REQUEST in rig.firmware.acted
        await dev.acceptor.configure(frozenset({"CNY:10000"}))
        assert rig.firmware.inhibits == {6}
        assert emulator.stats.frames >= 5


async def test_deposit_stacked(tmp_path: Path) -> None:
    rig = SspRig(tmp_path)
    async with rig.wire(), rig.core() as dev:
        rig.model.insert_notes(["CNY:5000"])
        report = await asyncio.wait_for(dev.acceptor.cash_in(limits(), 1), 5)
        assert report.moves == (Move(CUSTOMER, ESCROW, "CNY:5000", 1),)
        assert (await dev.acceptor.contents()).escrow == {"CNY:5000": 1}
        await asyncio.sleep(0.5)  # holds keep it in escrow meanwhile
        assert rig.model.ground_truth()["escrow"] == 1
        end = await asyncio.wait_for(dev.acceptor.cash_in_end(True, 2), 5)
        assert end.moves == (Move(ESCROW, CASHBOX, "CNY:5000", 1),)
        assert rig.model.ground_truth_items()["cashbox"] == {"CNY:5000": 1}
        assert (await dev.acceptor.contents()).escrow == {}


async def test_rollback_returns_the_note(tmp_path: Path) -> None:
    rig = SspRig(tmp_path)
    async with rig.wire(), rig.core() as dev:
        rig.model.insert_notes(["CNY:10000"])
        await asyncio.wait_for(dev.acceptor.cash_in(limits(), 1), 5)
        back = await asyncio.wait_for(dev.acceptor.rollback(2), 5)
        assert back.moves == (Move(ESCROW, CUSTOMER, "CNY:10000", 1),)
        truth = rig.model.ground_truth()
        assert (truth["escrow"], truth["cashbox"], truth["customer"]) == (0, 0, 0)


async def test_refused_notes_then_a_good_one(tmp_path: Path) -> None:
    rig = SspRig(tmp_path)
    async with rig.wire(), rig.core() as dev:
        rig.model.insert_notes(["USD:100", "CNY:100", "CNY:2000"])
        enabled = frozenset({"CNY:2000"})
        report = await asyncio.wait_for(dev.acceptor.cash_in(limits(enabled=enabled), 1), 5)
        assert report.refused == (RefuseReason.INVALID_BILL, RefuseReason.INVALID_BILL)
        assert report.moves == (Move(CUSTOMER, ESCROW, "CNY:2000", 1),)
        assert rig.model.ground_truth()["customer"] == -1  # two given back, one in escrow


async def test_over_the_amount_is_refused(tmp_path: Path) -> None:
    rig = SspRig(tmp_path)
    async with rig.wire(), rig.core() as dev:
        rig.model.insert_notes(["CNY:10000", "CNY:1000"])
        left = {"CNY": Money(5000, "CNY")}
        report = await asyncio.wait_for(dev.acceptor.cash_in(limits(max_amount=left), 1), 5)
        assert report.refused == (RefuseReason.LIMIT_OVER_AMOUNT,)
        assert report.moves == (Move(CUSTOMER, ESCROW, "CNY:1000", 1),)


async def test_jam(tmp_path: Path) -> None:
    rig = SspRig(tmp_path)
    async with rig.wire(), rig.core() as dev:
        rig.model.jam_next_note()
        rig.model.insert_notes(["CNY:2000"])
        report = await asyncio.wait_for(dev.acceptor.cash_in(limits(), 1), 5)
        assert report.fault is not None
        assert report.fault.error_code == "mediaJam"
        assert report.moves == (Move(CUSTOMER, TRANSPORT, "CNY:2000", 1),)
        assert rig.model.ground_truth()["transport"] == 1
        again = await asyncio.wait_for(dev.acceptor.cash_in(limits(), 2), 5)
        assert again.fault is not None
        assert again.fault.error_code == "mediaJam"
        assert (await dev.acceptor.contents()).transport == 1


async def test_cashbox_removed_and_full(tmp_path: Path) -> None:
    rig = SspRig(tmp_path)
    async with rig.wire(), rig.core() as dev:
        rig.model.remove_cash_box()
        rig.model.insert_notes(["CNY:100"])
        await asyncio.sleep(0.2)
        removed = await asyncio.wait_for(dev.acceptor.cash_in(limits(), 1), 5)
        assert removed.fault is not None
        assert removed.fault.unit == CASHBOX
        assert (await dev.acceptor.sensors())[0].status.value == "missing"
        rig.model.remove_cash_box(False)
        rig.model.set_cash_box_full()
        await asyncio.sleep(0.2)
        full = await asyncio.wait_for(dev.acceptor.cash_in(limits(), 2), 5)
        assert full.fault is not None
        assert full.fault.error_code == "cashUnitError"
        assert rig.model.input_notes  # nothing was taken
        rig.model.set_cash_box_full(False)
        await asyncio.sleep(0.2)
        ok = await asyncio.wait_for(dev.acceptor.cash_in(limits(), 3), 5)
        assert ok.moves == (Move(CUSTOMER, ESCROW, "CNY:100", 1),)


async def test_cash_in_end_with_the_cashbox_full_keeps_the_note(tmp_path: Path) -> None:
    rig = SspRig(tmp_path)
    async with rig.wire(), rig.core() as dev:
        rig.model.insert_notes(["CNY:500"])
        await asyncio.wait_for(dev.acceptor.cash_in(limits(), 1), 5)
        rig.model.set_cash_box_full()
        end = await asyncio.wait_for(dev.acceptor.cash_in_end(True, 2), 5)
        assert end.fault is not None
        assert end.moves == ()
        assert rig.model.ground_truth()["escrow"] == 1
        assert (await dev.acceptor.contents()).escrow == {"CNY:500": 1}


async def test_cancel_cash_in(tmp_path: Path) -> None:
    rig = SspRig(tmp_path)
    async with rig.wire(), rig.core() as dev:
        task = asyncio.ensure_future(dev.acceptor.cash_in(limits(), 1))
        await asyncio.sleep(0.2)
        task.cancel()
        report = await asyncio.wait_for(task, 5)
        assert report.fault is not None
        assert report.fault.error_code == "canceled"
        assert report.moves == ()
        assert not rig.firmware.enabled


async def test_cancel_cash_in_end_still_reports_the_stored_note(tmp_path: Path) -> None:
    rig = SspRig(tmp_path)
    async with rig.wire(), rig.core() as dev:
        rig.model.insert_notes(["CNY:1000"])
        await asyncio.wait_for(dev.acceptor.cash_in(limits(), 1), 5)
        task = asyncio.ensure_future(dev.acceptor.cash_in_end(True, 2))
        await asyncio.sleep(0)
        task.cancel()
        report = await asyncio.wait_for(task, 5)
        assert report.moves == (Move(ESCROW, CASHBOX, "CNY:1000", 1),)
        assert report.fault is not None
        assert report.fault.error_code == "canceled"
        assert rig.model.ground_truth()["cashbox"] == 1


async def test_lost_reply_is_asked_again_with_the_same_flag(tmp_path: Path) -> None:
    rig = SspRig(tmp_path)
    async with rig.wire() as emulator, rig.core() as dev:
        rig.model.insert_notes(["CNY:2000"])
        await asyncio.wait_for(dev.acceptor.cash_in(limits(), 1), 5)
        # while the note is held only HOLDs go out: the next POLL is the one storing it
        emulator.drop_reply_to(Cmd.POLL)
        end = await asyncio.wait_for(dev.acceptor.cash_in_end(True, 2), 5)
        assert end.moves == (Move(ESCROW, CASHBOX, "CNY:2000", 1),)
        assert emulator.stats.repeats == 1
        assert dev.core.link.resends == 1
        assert rig.model.ground_truth()["cashbox"] == 1  # stored once


async def test_corrupted_replies_and_noise_are_survived(tmp_path: Path) -> None:
    rig = SspRig(tmp_path)
    async with rig.wire() as emulator, rig.core() as dev:
        emulator.corrupt_next_replies(2)
        emulator.inject_garbage(b"\x00\x11\x7f")
        rig.model.insert_notes(["CNY:100"])
        report = await asyncio.wait_for(dev.acceptor.cash_in(limits(), 1), 5)
        assert report.moves == (Move(CUSTOMER, ESCROW, "CNY:100", 1),)
        assert rig.model.ground_truth()["escrow"] == 1


async def test_reopen_with_a_note_in_escrow(tmp_path: Path) -> None:
    rig = SspRig(tmp_path)
    async with rig.wire():
        async with rig.core() as dev:
            rig.model.insert_notes(["CNY:5000"])
            await asyncio.wait_for(dev.acceptor.cash_in(limits(), 1), 5)
        assert rig.model.ground_truth()["escrow"] == 1
        async with rig.core() as dev:
            assert (await dev.acceptor.contents()).escrow == {"CNY:5000": 1}
            await asyncio.sleep(0.3)
            assert rig.model.ground_truth()["escrow"] == 1  # held, not accepted
            end = await asyncio.wait_for(dev.acceptor.cash_in_end(False, 2), 5)
            assert end.moves == (Move(ESCROW, CASHBOX, "CNY:5000", 1),)


async def test_escrow_times_out_without_holds(tmp_path: Path) -> None:
    rig = SspRig(tmp_path, escrow_timeout=0.3)
    async with rig.wire(), rig.core(hold_interval=0.1) as dev:
        rig.model.insert_notes(["CNY:5000"])
        await asyncio.wait_for(dev.acceptor.cash_in(limits(), 1), 5)
        await asyncio.sleep(0.8)  # held well past the device's timeout
        assert rig.model.ground_truth()["escrow"] == 1


# --- NV11 and eSSP -------------------------------------------------------------------


async def test_nv11_negotiates_and_pays_out_encrypted(tmp_path: Path) -> None:
    rig = SspRig(tmp_path, "nv11", payout=5)
    async with rig.wire() as emulator, rig.core() as dev:
        assert dev.core.link.encrypted
        assert emulator.encrypted
        assert emulator.stats.exchanges == 1
        assert dev.dispenser is not None
        report = await asyncio.wait_for(dev.dispenser.dispense({PAYOUT: 3}, 1), 5)
        assert report.moves == (Move(PAYOUT, CUSTOMER, "CNY:2000", 3),)
        assert rig.model.notes_at("payout") == 2
        assert emulator.stats.clear_refused == 0
        short = await asyncio.wait_for(dev.dispenser.dispense({PAYOUT: 3}, 2), 5)
        assert short.fault is not None
        assert short.fault.error_code == "cashUnitError"
        assert rig.model.notes_at("payout") == 2


async def test_lost_reply_to_an_encrypted_payout_pays_once(tmp_path: Path) -> None:
    rig = SspRig(tmp_path, "nv11", payout=5)
    async with rig.wire() as emulator, rig.core() as dev:
        assert dev.dispenser is not None
        emulator.drop_reply_to(Cmd.PAYOUT_BY_DENOMINATION)
        report = await asyncio.wait_for(dev.dispenser.dispense({PAYOUT: 2}, 1), 5)
        assert report.moves == (Move(PAYOUT, CUSTOMER, "CNY:2000", 2),)
        assert rig.model.notes_at("payout") == 3  # paid once
        assert emulator.stats.repeats == 1
        assert dev.core.link.resends == 1
        assert emulator.stats.counter_refused == 0


async def test_nv11_payout_by_amount(tmp_path: Path) -> None:
    rig = SspRig(tmp_path, "nv11", payout=4)
    async with rig.wire(), rig.core(payout_by="amount") as dev:
        assert dev.dispenser is not None
        report = await asyncio.wait_for(dev.dispenser.dispense({PAYOUT: 2}, 1), 5)
        assert report.moves == (Move(PAYOUT, CUSTOMER, "CNY:2000", 2),)


async def test_nv11_deposit_goes_to_payout_or_cashbox(tmp_path: Path) -> None:
    rig = SspRig(tmp_path, "nv11")
    async with rig.wire(), rig.core() as dev:
        rig.model.insert_notes(["CNY:2000", "CNY:2000", "CNY:5000"])
        await asyncio.wait_for(dev.acceptor.cash_in(limits(), 1), 5)
        end = await asyncio.wait_for(dev.acceptor.cash_in_end(True, 2), 5)
        assert end.moves == (Move(ESCROW, PAYOUT, "CNY:2000", 1),)
        await asyncio.wait_for(dev.acceptor.cash_in(limits(), 3), 5)
        end = await asyncio.wait_for(dev.acceptor.cash_in_end(False, 4), 5)
        assert end.moves == (Move(ESCROW, CASHBOX, "CNY:2000", 1),)
        await asyncio.wait_for(dev.acceptor.cash_in(limits(), 5), 5)
        end = await asyncio.wait_for(dev.acceptor.cash_in_end(True, 6), 5)
        assert end.moves == (Move(ESCROW, CASHBOX, "CNY:5000", 1),)
        assert rig.model.notes_at("payout") == 1
        # the note deposited into the payout is paid out again
        assert dev.dispenser is not None
        paid = await asyncio.wait_for(dev.dispenser.dispense({PAYOUT: 1}, 7), 5)
        assert paid.moves == (Move(PAYOUT, CUSTOMER, "CNY:2000", 1),)


async def test_payout_in_clear_is_refused(tmp_path: Path) -> None:
    rig = SspRig(tmp_path, "nv11", payout=5)
    async with rig.wire() as emulator:
        host = RawHost(rig.transport())
        await host.transport.open()
        try:
            assert (await host.send(True, b"\x11")).data == b"\xf0"
            reply = await host.send(False, build_payout_by_denomination({("CNY", 2000): 1}))
            assert reply.data == b"\xf4"
            assert emulator.stats.clear_refused == 1
            assert rig.model.notes_at("payout") == 5
        finally:
            await host.transport.close()


async def test_replayed_and_out_of_sequence_packets_are_refused(tmp_path: Path) -> None:
    rig = SspRig(tmp_path, "nv11", payout=5)
    payout = build_payout_by_denomination({("CNY", 2000): 1})
    async with rig.wire() as emulator:
        host = RawHost(rig.transport())
        await host.transport.open()
        try:
            await host.send(True, b"\x11")
            seq = await host.negotiate(False)
            packet = host.packet(payout)
            reply = await host.send(seq, packet)
            assert host.open_reply(reply) == (1, b"\xf0")
            host.count = 2
            assert rig.model.notes_at("payout") == 4
            # the same packet again under the other flag: a replay
            replay = await host.send(not seq, packet)
            assert replay.data == b"\xf5"
            assert rig.model.notes_at("payout") == 4
            # a counter ahead of the one expected
            ahead = await host.send(seq, host.packet(payout, count=6))
            assert ahead.data == b"\xf5"
            assert rig.model.notes_at("payout") == 4
            assert emulator.stats.counter_refused == 2
            # the right counter still works
            ok = await host.send(not seq, host.packet(payout))
            assert host.open_reply(ok) == (3, b"\xf0")
            assert rig.model.notes_at("payout") == 3
        finally:
            await host.transport.close()


async def test_repeated_flag_repeats_the_encrypted_reply_without_acting(tmp_path: Path) -> None:
    rig = SspRig(tmp_path, "nv11", payout=5)
    payout = build_payout_by_denomination({("CNY", 2000): 2})
    async with rig.wire() as emulator:
        host = RawHost(rig.transport())
        await host.transport.open()
        try:
            await host.send(True, b"\x11")
            seq = await host.negotiate(False)
            packet = host.packet(payout)
            first = await host.send(seq, packet)
            second = await host.send(seq, packet)  # the reply was "lost": same flag
            assert first.data == second.data
            assert rig.model.notes_at("payout") == 3  # paid once
            assert emulator.stats.repeats == 1
        finally:
            await host.transport.close()


async def test_driver_renegotiates_after_a_refused_counter(tmp_path: Path) -> None:
    rig = SspRig(tmp_path, "nv11", payout=5)
    async with rig.wire() as emulator, rig.core() as dev:
        dev.core.link._count += 4  # the host's counter runs ahead (a lost packet)
        await asyncio.sleep(0.5)
        assert emulator.stats.counter_refused >= 1
        assert emulator.stats.exchanges >= 2
        assert dev.dispenser is not None
        report = await asyncio.wait_for(dev.dispenser.dispense({PAYOUT: 1}, 1), 5)
        assert report.moves == (Move(PAYOUT, CUSTOMER, "CNY:2000", 1),)


async def test_a_refused_payout_packet_pays_nothing_and_the_session_recovers(
    tmp_path: Path,
) -> None:
    rig = SspRig(tmp_path, "nv11", payout=5)
    async with rig.wire() as emulator, rig.core(poll_interval=0.5) as dev:
        assert dev.dispenser is not None
        dev.core.link._count += 2  # the host's counter is off: the device refuses
        refused = await asyncio.wait_for(dev.dispenser.dispense({PAYOUT: 1}, 1), 5)
        assert refused.moves == ()
        assert refused.fault is not None
        assert "refused" in refused.fault.description
        assert rig.model.notes_at("payout") == 5
        assert emulator.stats.counter_refused == 1
        paid = await asyncio.wait_for(dev.dispenser.dispense({PAYOUT: 1}, 2), 5)
        assert paid.moves == (Move(PAYOUT, CUSTOMER, "CNY:2000", 1),)
        assert emulator.stats.exchanges == 2
        assert emulator.stats.clear_refused == 0


async def test_keys_never_reach_the_log_or_the_spy_trace(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    key_file = tmp_path / "fixed.key"
    key_file.write_text("A1B2C3D4E5F60718")
    rig = SspRig(tmp_path, "nv11", payout=2)
    async with rig.wire() as emulator:
        emulator.fixed_key = 0xA1B2C3D4E5F60718
        with ssp_registered():
            # reveal=True: even then the key exchange and encrypted payloads stay hidden
            transport = SpyTransport(rig.transport(), protocol="ssp", reveal=True)
        options = SspOptions(profile="nv11", fixed_key_file=str(key_file), **FAST)  # type: ignore[arg-type]
        core = SspCore(transport, options, "spied")
        acceptor, dispenser = SspAcceptor(core), SspDispenser(core)
        await acceptor.open(Listener())
        await dispenser.open(Listener())  # type: ignore[arg-type]
        try:
            report = await asyncio.wait_for(dispenser.dispense({PAYOUT: 1}, 1), 5)
            assert report.moves == (Move(PAYOUT, CUSTOMER, "CNY:2000", 1),)
            assert "hidden" in repr(core.link._key)
            assert "A1B2" not in repr(options)
        finally:
            await dispenser.close()
            await acceptor.close()
    text = caplog.text
    assert "encrypted" in text
    assert " 4Ch: 4C ** ** ** ** ** ** ** **" in text
    for secret in ("A1B2C3D4E5F60718", "a1b2c3d4e5f60718", "18 07 F6 E5", "18 07 f6 e5"):
        assert secret not in text
