"""The real ``lcdm`` driver against the LCDM emulator on a real pty, over the simulator's
cash dispenser model: exact counts per model, jams, empty cassettes, rejected notes,
purge, test dispense and count, and a dirty line (NAK storms, garbage, silence, broken
replies) ending in retries or a typed error within a bounded time.

The check behind every case: what the MoveReports say moved, applied to the model's
ground truth before, equals its ground truth after (except where the LCDM-4000's reply
cannot say: notes stopped in its transport, checked to the note).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterable
from pathlib import Path

import pytest

import hal
from drivers.cash.lcdm_options import LcdmOptions
from hal.devices.cash_dispenser import CashDispenser
from hal.devices.cash_model import CUSTOMER, TRANSPORT, Denomination, MoveReport, NoteErrorReason
from hal.errors import (
    ChecksumError,
    ConfigurationError,
    HalTimeout,
    MediaJam,
    ProtocolError,
    TooManyItems,
    UnsupportedOperation,
)
from hal.ledger import Ledger
from hal.money import Money
from protocols.lcdm_commands import Op
from tests.lcdm_rig import LcdmRig, lcdm_registered

MODELS = [1000, 2000, 4000]


def applied(before: dict[str, int], reports: Iterable[MoveReport]) -> dict[str, int]:
    """``before`` with every move of ``reports`` carried out."""
    after = Counter(before)
    for report in reports:
        for move in report.moves:
            after[move.source] -= move.count
            after[move.destination] += move.count
    return {location: after[location] for location in before}


@pytest.fixture
async def rig_1000(tmp_path: Path) -> AsyncIterator[LcdmRig]:
    rig = LcdmRig(tmp_path, 1000)
    async with rig.wire():
        yield rig


def _dispense_counts(model: int) -> list[dict[str, int]]:
    if model == 1000:
        return [{"unit1": 1}, {"unit1": 60}]
    if model == 2000:
        return [{"unit1": 7}, {"unit2": 5}, {"unit1": 3, "unit2": 60}]
    return [{"unit1": 2, "unit2": 0, "unit3": 9, "unit4": 1}, {"unit4": 60, "unit2": 40}]


@pytest.mark.parametrize("model", MODELS)
async def test_dispense_exact_counts_per_model(tmp_path: Path, model: int) -> None:
    rig = LcdmRig(tmp_path, model)
    async with rig.wire() as emulator, rig.driver() as driver:
        caps = driver.capabilities()
        assert caps.dispense_to == CUSTOMER
        assert not caps.intermediate_stacker
        assert not caps.shutter
        assert not caps.items_taken_sensor
        assert caps.retract_areas == frozenset()
        assert not caps.knows_operations
        for token, counts in enumerate(_dispense_counts(model), start=1):
            before = rig.model.ground_truth()
            report = await driver.dispense(counts, token)
            assert report.fault is None
            wanted = {unit: n for unit, n in counts.items() if n}
            assert {m.source: m.count for m in report.moves} == wanted
            assert {m.destination for m in report.moves} == {CUSTOMER}
            assert applied(before, [report]) == rig.model.ground_truth()
        ops = [c.op for c in emulator.executed if c.op not in (Op.STATUS, Op.ROM_VERSION)]
        expected = {
            1000: [Op.DISPENSE] * 2,
            2000: [Op.UPPER_DISPENSE, Op.LOWER_DISPENSE, Op.UPPER_LOWER_DISPENSE],
            4000: [Op.DISPENSE] * 2,
        }[model]
        assert ops == expected


@pytest.mark.parametrize("model", [1000, 2000])
async def test_a_jam_mid_dispense_reports_exact_partial_counts(tmp_path: Path, model: int) -> None:
    rig = LcdmRig(tmp_path, model)
    async with rig.wire(), rig.driver() as driver:
        unit = "unit1" if model == 1000 else "unit2"
        before = rig.model.ground_truth()
        rig.model.jam_next_dispense(after_notes=3)
        report = await driver.dispense({unit: 8}, 1)
        assert report.fault is not None
        assert report.fault.error_code == "mediaJam"
        assert "0x33" in report.fault.description
        assert "jam at CHK1/2" in report.fault.description
        assert report.total(unit, CUSTOMER) == 3
        assert report.total(unit, TRANSPORT) == 1
        assert report.total(unit, "reject") == 0
        assert applied(before, [report]) == rig.model.ground_truth()
        status = await driver.get_status()
        assert status.transport.value == "notEmpty"
        assert status.device.value == "hardwareError"  # STATUS carries the jam's code
        # The next dispense is refused by the jammed machine, nothing moves.
        refused = await driver.dispense({unit: 1}, 2)
        assert refused.moves == ()
        assert refused.fault is not None
        assert refused.fault.error_code == "mediaJam"
        # PURGE clears the transport to the reject tray, and the driver says so.
        purge = await driver.reset(3)
        assert purge.fault is None
        assert purge.total(TRANSPORT, "reject") == 1
        assert applied(before, [report, purge]) == rig.model.ground_truth()
        status = await driver.get_status()
        assert status.transport.value == "empty"
        assert status.device.value == "online"


async def test_the_4000_jam_leaves_its_transport_notes_uncounted_until_purge(
    tmp_path: Path,
) -> None:
    rig = LcdmRig(tmp_path, 4000)
    async with rig.wire(), rig.driver() as driver:
        before = rig.model.ground_truth()
        rig.model.jam_next_dispense(after_notes=4)
        report = await driver.dispense({"unit1": 2, "unit3": 5}, 1)
        assert report.fault is not None
        assert report.fault.error_code == "mediaJam"
        assert "does not count them" in report.fault.description
        assert report.total("unit1", CUSTOMER) == 2
        assert report.total("unit3", CUSTOMER) == 2
        assert report.total(destination=TRANSPORT) == 0  # the 4000 reply has no CHK
        truth = rig.model.ground_truth()
        assert truth[TRANSPORT] == 1
        said = applied(before, [report])
        assert said["unit3"] - truth["unit3"] == 1  # exactly the note the reply cannot see
        # What was asked and neither came out nor was rejected is booked as uncertain
        # (the service settles it unknown): up to 3 notes of unit3, of which 1 is there.
        assert [(m.source, m.destination, m.count) for m in report.uncertain] == [
            ("unit3", TRANSPORT, 3)
        ]
        purge = await driver.reset(2)
        # The 4000 purge reply counts it per cassette: booked from its cassette.
        assert purge.total("unit3", "reject") == 1
        assert purge.total(TRANSPORT) == 0
        assert applied(before, [report, purge]) == rig.model.ground_truth()


@pytest.mark.parametrize(("model", "unit", "code"), [(1000, "unit1", 0x38), (2000, "unit2", 0x40)])
async def test_an_empty_cassette_is_a_cash_unit_error_with_the_unit(
    tmp_path: Path, model: int, unit: str, code: int
) -> None:
    rig = LcdmRig(tmp_path, model, counts={unit: 2})
    async with rig.wire(), rig.driver() as driver:
        before = rig.model.ground_truth()
        report = await driver.dispense({unit: 5}, 1)
        assert report.fault is not None
        assert report.fault.error_code == "cashUnitError"
        assert report.fault.unit == unit
        assert f"0x{code:02X}" in report.fault.description
        assert report.total(unit, CUSTOMER) == 2
        assert applied(before, [report]) == rig.model.ground_truth()


@pytest.mark.parametrize("model", MODELS)
async def test_double_notes_go_to_reject_and_the_pick_goes_on(tmp_path: Path, model: int) -> None:
    rig = LcdmRig(tmp_path, model)
    async with rig.wire(), rig.driver() as driver:
        before = rig.model.ground_truth()
        rig.model.double_note_next_pick("unit1")
        report = await driver.dispense({"unit1": 5}, 1)
        assert report.fault is None
        assert report.total("unit1", CUSTOMER) == 5
        assert report.total("unit1", "reject") == 2
        assert report.note_errors == (NoteErrorReason.OTHER_NOTE_ERROR,) * 2
        assert applied(before, [report]) == rig.model.ground_truth()


async def test_test_dispense_and_count_move_notes_to_the_reject_tray(tmp_path: Path) -> None:
    rig = LcdmRig(tmp_path, 2000, counts={"unit1": 4, "unit2": 9})
    async with rig.wire(), rig.driver() as driver:
        before = rig.model.ground_truth()
        test = await driver.test_cash_units(1)
        assert test.fault is None
        assert sorted((m.source, m.destination, m.count) for m in test.moves) == [
            ("unit1", "reject", 1),
            ("unit2", "reject", 1),
        ]
        count = await driver.count(("unit1",), 2)
        assert count.fault is None
        assert count.total("unit1", "reject") == 3
        truth = rig.model.ground_truth()
        assert applied(before, [test, count]) == truth
        assert truth["unit1"] == 0
        assert truth["unit2"] == 8


async def test_the_4000_has_no_test_dispense_and_limits_refuse(tmp_path: Path) -> None:
    rig = LcdmRig(tmp_path, 4000)
    async with rig.wire(), rig.driver() as driver:
        caps = driver.capabilities()
        assert not caps.count
        assert not caps.test_cash_units
        assert caps.max_dispense_items == 100
        with pytest.raises(UnsupportedOperation):
            await driver.test_cash_units(1)
        with pytest.raises(TooManyItems):
            await driver.dispense({"unit1": 61}, 2)
        with pytest.raises(TooManyItems):
            await driver.dispense({"unit1": 60, "unit2": 41}, 3)
        with pytest.raises(UnsupportedOperation):
            await driver.present(4)


async def test_a_nak_storm_is_retried_then_a_typed_error(rig_1000: LcdmRig) -> None:
    emulator = rig_1000.emulator
    assert emulator is not None
    async with rig_1000.driver() as driver:
        emulator.nak_next(2)
        before = rig_1000.model.ground_truth()
        report = await driver.dispense({"unit1": 2}, 1)
        assert report.total("unit1", CUSTOMER) == 2
        assert driver.link.naks == 2
        assert applied(before, [report]) == rig_1000.model.ground_truth()
        emulator.nak_next(50)
        before = rig_1000.model.ground_truth()
        started = time.monotonic()
        with pytest.raises(ChecksumError):
            await driver.dispense({"unit1": 2}, 2)
        assert time.monotonic() - started < 2.0
        assert rig_1000.model.ground_truth() == before  # never carried out
        emulator.nak_next(0)
        assert (await driver.get_status()).device.value == "online"


async def test_garbage_on_the_line_is_skipped(rig_1000: LcdmRig) -> None:
    emulator = rig_1000.emulator
    assert emulator is not None
    async with rig_1000.driver() as driver:
        await emulator.send_garbage(b"\x00\xff\x55\x02\x03junk")
        emulator.inject_garbage(b"\x7f\x80\x99\x03")
        report = await driver.dispense({"unit1": 3}, 1)
        assert report.total("unit1", CUSTOMER) == 3
        emulator.inject_garbage(b"\x01\x50\x02\x45")  # half a reply frame, then the ACK
        assert (await driver.get_status()).device.value == "online"
        assert driver.link.noise > 0


async def test_silence_is_a_timeout_in_bounded_time(rig_1000: LcdmRig) -> None:
    emulator = rig_1000.emulator
    assert emulator is not None
    async with rig_1000.driver(ack_timeout=0.1) as driver:
        emulator.mute()
        started = time.monotonic()
        with pytest.raises(HalTimeout):
            await driver.get_status()
        assert time.monotonic() - started < 1.5  # 4 sends x 0.1 s
        emulator.mute(False)
        assert (await driver.get_status()).device.value == "online"


async def test_a_lost_reply_is_a_timeout_though_the_notes_moved(rig_1000: LcdmRig) -> None:
    emulator = rig_1000.emulator
    assert emulator is not None
    async with rig_1000.driver(reply_timeout=0.4) as driver:
        before = rig_1000.model.ground_truth()
        emulator.drop_next_reply()
        with pytest.raises(HalTimeout):
            await driver.dispense({"unit1": 4}, 1)
        # Nobody on the host side can tell what moved: the service settles it unknown.
        assert rig_1000.model.ground_truth()[CUSTOMER] == before[CUSTOMER] + 4
        report = await driver.dispense({"unit1": 1}, 2)
        assert report.total("unit1", CUSTOMER) == 1


async def test_corrupted_replies_are_nakked_then_refused(rig_1000: LcdmRig) -> None:
    emulator = rig_1000.emulator
    assert emulator is not None
    async with rig_1000.driver() as driver:
        emulator.corrupt_next_replies(2)
        report = await driver.dispense({"unit1": 2}, 1)
        assert report.total("unit1", CUSTOMER) == 2
        assert emulator.stats.resent == 2
        assert driver.link.bad_replies == 2
        emulator.corrupt_next_replies(10)
        with pytest.raises(ChecksumError):
            await driver.get_status()
        emulator.corrupt_next_replies(0)
        emulator.mangle_next_reply()
        with pytest.raises(ProtocolError) as caught:
            await driver.get_status()
        assert "did not decode 4 times" in caught.value.message
        assert (await driver.get_status()).device.value == "online"


async def test_slow_replies_within_the_timeout_are_fine(rig_1000: LcdmRig) -> None:
    emulator = rig_1000.emulator
    assert emulator is not None
    async with rig_1000.driver() as driver:
        emulator.set_reply_delay(0.2)
        report = await driver.dispense({"unit1": 2}, 1)
        assert report.total("unit1", CUSTOMER) == 2


async def test_a_cancelled_dispense_waits_for_the_reply_and_says_so(tmp_path: Path) -> None:
    rig = LcdmRig(tmp_path, 1000, pick_time=0.03)
    async with rig.wire(), rig.driver() as driver:
        before = rig.model.ground_truth()
        task = asyncio.ensure_future(driver.dispense({"unit1": 10}, 1))
        await asyncio.sleep(0.1)
        task.cancel()
        report = await task  # the LCDM cannot stop: the reply comes, with what moved
        assert report.fault is not None
        assert report.fault.error_code == "canceled"
        assert report.total("unit1", CUSTOMER) == 10
        assert applied(before, [report]) == rig.model.ground_truth()


def test_options_check_the_units_against_the_model() -> None:
    with pytest.raises(ConfigurationError, match="2 cassette"):
        LcdmOptions(units="CNY:10000:2000", model=2000)
    with pytest.raises(ConfigurationError, match="CURRENCY:VALUE:CAPACITY"):
        LcdmOptions(units="CNY:100.00:2000")
    infos = LcdmOptions(units="CNY:10000:2000,EUR:500:100", model=2000).unit_infos()
    assert [(u.id, u.item, u.capacity) for u in infos] == [
        ("unit1", "CNY:10000", 2000),
        ("unit2", "EUR:500", 100),
        ("reject", "*", None),
    ]


async def test_through_hal_open_the_ledger_matches_ground_truth(tmp_path: Path) -> None:
    rig = LcdmRig(tmp_path, 2000, counts={"unit1": 40, "unit2": 30})
    ledger = tmp_path / "ledger.db"
    with lcdm_registered():
        async with rig.wire():
            device = hal.open(rig.address(f"ledger={ledger}"))
            assert isinstance(device, CashDispenser)
            async with device:
                await device.start_exchange()
                await device.set_cash_unit("unit1", initial=40)
                await device.set_cash_unit("unit2", initial=30)
                await device.end_exchange()
                done = await device.dispense(
                    Denomination(Money(35000, "CNY"), {"unit1": 3, "unit2": 1})
                )
                assert dict(done.counts) == {"unit1": 3, "unit2": 1}
                rig.model.double_note_next_pick("unit2")
                rig.model.jam_next_dispense(after_notes=2)
                with pytest.raises(MediaJam):
                    await device.dispense(Denomination(Money(25000, "CNY"), {"unit2": 5}))
                await device.reset()
                units = {unit.id: unit.count for unit in await device.cash_units()}
            truth = rig.model.ground_truth()
            assert units == {unit: truth[unit] for unit in ("unit1", "unit2", "reject")}
            books = Ledger.open(ledger)
            try:
                counts = books.counts("cash_dispenser")
            finally:
                books.close()
            for location in ("unit1", "unit2", "reject", TRANSPORT):
                assert counts.get(location, 0) == truth[location], location
            assert truth == {
                "unit1": 37,
                "unit2": 30 - 1 - 2 - 2 - 1,  # 1 out, a double (2), 2 out, 1 jammed
                "reject": 3,  # the double and, purged, the jammed note
                "stacker": 0,
                TRANSPORT: 0,
                "exit": 0,
                CUSTOMER: 6,
            }


async def test_after_a_lost_answer_the_next_dispense_waits_for_the_busy_dispenser(
    tmp_path: Path,
) -> None:
    rig = LcdmRig(tmp_path, 1000, pick_time=0.05)
    async with rig.wire() as emulator, rig.driver(reply_timeout=0.6, ack_timeout=0.1) as driver:
        before = rig.model.ground_truth()
        with pytest.raises(HalTimeout):
            await driver.dispense({"unit1": 20}, 1)  # 1 s of picking, 0.6 s of patience
        # The dispenser is still picking and reads nothing: the driver polls STATUS
        # (harmless if repeated) before it sends the next dispense, which runs once.
        report = await driver.dispense({"unit1": 2}, 2)
        assert report.total("unit1", CUSTOMER) == 2
        assert rig.model.ground_truth()[CUSTOMER] == before[CUSTOMER] + 22
        assert [c.counts for c in emulator.executed if c.op is Op.DISPENSE] == [(20,), (2,)]


async def test_spy_shows_cash_frames_whole_and_noise_masked(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rig = LcdmRig(tmp_path, 1000)
    ledger = tmp_path / "ledger.db"
    with lcdm_registered(), caplog.at_level(logging.INFO, logger="hal.transports.spy"):
        async with rig.wire() as emulator:
            device = hal.open("spy+" + rig.address(f"ledger={ledger}"))
            assert isinstance(device, CashDispenser)
            async with device:
                emulator.inject_garbage(b"\x99\x98")
                await device.cash_units()
                await device.status()
    lines = [r.getMessage() for r in caplog.records if r.name == "hal.transports.spy"]
    assert any("TX" in line and "command 46h: 04 50 02 46 03 13" in line for line in lines)
    assert any("RX" in line and "reply 46h: 01 50 02 46 30 30" in line for line in lines)
    assert any("RX" in line and "NOISE: ** **" in line for line in lines)


async def test_a_dispenser_still_busy_gets_no_dispense_and_nothing_moves(tmp_path: Path) -> None:
    rig = LcdmRig(tmp_path, 1000, pick_time=0.1)
    async with rig.wire() as emulator, rig.driver(reply_timeout=0.3, ack_timeout=0.1) as driver:
        with pytest.raises(HalTimeout):
            await driver.dispense({"unit1": 20}, 1)  # 2 s of picking
        refused = await driver.dispense({"unit1": 1}, 2)  # polled 0.3 s: still busy
        assert refused.moves == ()
        assert refused.fault is not None
        assert refused.fault.error_code == "hardwareError"
        assert "dispense not sent" in refused.fault.description
        await rig.model.wait_until(lambda: not rig.model.busy)
        report = await driver.dispense({"unit1": 1}, 3)
        assert report.total("unit1", CUSTOMER) == 1
        assert rig.model.ground_truth()[CUSTOMER] == 21
        assert [c.counts for c in emulator.executed if c.op is Op.DISPENSE] == [(20,), (1,)]


async def test_an_upper_lower_jam_splits_the_counts_per_cassette(tmp_path: Path) -> None:
    rig = LcdmRig(tmp_path, 2000)
    async with rig.wire(), rig.driver() as driver:
        before = rig.model.ground_truth()
        rig.model.jam_next_dispense(after_notes=5)
        report = await driver.dispense({"unit1": 3, "unit2": 4}, 1)
        assert report.fault is not None
        assert report.fault.error_code == "mediaJam"
        assert report.total("unit1", CUSTOMER) == 3
        assert report.total("unit2", CUSTOMER) == 2
        assert report.total("unit2", TRANSPORT) == 1
        assert report.total("unit1", TRANSPORT) == 0
        assert applied(before, [report]) == rig.model.ground_truth()


async def test_a_4000_cassette_that_runs_empty_is_named(tmp_path: Path) -> None:
    rig = LcdmRig(tmp_path, 4000, counts={"unit3": 1})
    async with rig.wire(), rig.driver() as driver:
        before = rig.model.ground_truth()
        report = await driver.dispense({"unit1": 2, "unit3": 3, "unit4": 1}, 1)
        assert report.fault is not None
        assert report.fault.error_code == "cashUnitError"
        assert report.fault.unit == "unit3"
        assert "0x21" in report.fault.description
        assert report.total("unit1", CUSTOMER) == 2
        assert report.total("unit3", CUSTOMER) == 1
        assert report.total("unit4") == 0
        assert applied(before, [report]) == rig.model.ground_truth()


@pytest.mark.parametrize("seed", [3, 6, 9])
async def test_random_line_trouble_ends_in_success_or_a_typed_error_in_bounded_time(
    rig_1000: LcdmRig, seed: int
) -> None:
    # Seeds 3 and 9 inject a noise byte 15h (NAK) before the ACK, 6 a partial frame that
    # swallows it: each ran a dispense twice before the link knew better.
    emulator = rig_1000.emulator
    assert emulator is not None
    chaos = random.Random(seed)
    async with rig_1000.driver(ack_timeout=0.1, reply_timeout=0.5, status_timeout=0.3) as driver:
        truth = rig_1000.model.ground_truth()
        outcomes: Counter[str] = Counter()
        for token in range(1, 31):
            trouble = chaos.randrange(6)
            if trouble == 0:
                emulator.inject_garbage(bytes(chaos.randrange(256) for _ in range(12)))
            elif trouble == 1:
                emulator.nak_next(chaos.randrange(1, 6))
            elif trouble == 2:
                emulator.corrupt_next_replies(chaos.randrange(1, 6))
            elif trouble == 3:
                emulator.inject_garbage(bytes((0x01, 0x50, 0x02)) + b"\x45" * chaos.randrange(3))
            elif trouble == 4:
                emulator.mangle_next_reply()
            started = time.monotonic()
            try:
                report = await driver.dispense({"unit1": 1}, token)
            except (HalTimeout, ProtocolError) as exc:  # ChecksumError is a ProtocolError
                outcomes[type(exc).__name__] += 1
                truth = rig_1000.model.ground_truth()  # what moved is unknown to the host
            else:
                outcomes["ok"] += 1
                if report.moves:
                    truth = applied(truth, [report])
                assert truth == rig_1000.model.ground_truth()
            # Worst case: the STATUS polls after a lost answer, then 4 sends and 4 replies.
            assert time.monotonic() - started < 4.0
            emulator.nak_next(0)
            emulator.corrupt_next_replies(0)
        assert outcomes["ok"] >= 10, outcomes
