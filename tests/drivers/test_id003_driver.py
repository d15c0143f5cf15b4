"""The real ``id003`` driver against the ID-003 emulator on a real pty (8E1): deposit,
return, refused notes, limits, jams, a full or missing cash box, failures, cancel,
reopen with a note in escrow, power up with a note, and a dirty line (lost answers,
lost commands, bad CRCs, garbage, silence) ending in retries or a typed error within a
bounded time, never a double stack.

The check behind the moving cases: the moves a report lists, applied to the emulator's
ground truth before, give its ground truth after.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterable
from pathlib import Path

import pytest

import hal
from drivers.cash.id003 import CASHBOX, ID003_DRIVER, Id003Driver, refuse_reason
from drivers.cash.id003_masker import Id003Masker
from drivers.cash.id003_options import Id003Options, parse_denominations
from hal.device import DeviceState
from hal.devices.cash_acceptor import CashAcceptor, ItemsInserted
from hal.devices.cash_in_model import (
    CUSTOMER,
    ESCROW,
    TRANSPORT,
    CashInLimits,
    RefuseReason,
    StackerState,
    TransportState,
)
from hal.devices.cash_model import Move, MoveReport, UnitStatus
from hal.errors import ConfigurationError, HalTimeout, InvalidData, UnsupportedOperation
from hal.money import Money
from hal.stimulus import NoteSample
from hal.transports.spy_maskers import RX, TX
from protocols.id003 import build_frame, parse_frame
from protocols.id003_messages import (
    Command,
    CommandCode,
    FailureCode,
    RejectReason,
    Status,
    StatusCode,
    parse_command,
)
from simulator.models.cash_in_profiles import cash_in_profile
from simulator.wire.id003 import Id003Emulator
from tests.id003_rig import Id003Rig, id003_registered

CNY100 = "CNY:10000"
CNY50 = "CNY:5000"
ALL = frozenset(f"CNY:{v}" for v in (100, 500, 1000, 2000, 5000, 10000))
LIMITS = CashInLimits(max_items=1, enabled=ALL)


def applied(before: dict[str, int], reports: Iterable[MoveReport]) -> dict[str, int]:
    """``before`` with every move of ``reports`` carried out (``customer`` net)."""
    after = Counter(before)
    for report in reports:
        for move in report.moves:
            after[move.source] -= move.count
            after[move.destination] += move.count
    return {location: after[location] for location in before}


def truth(rig: Id003Rig) -> dict[str, int]:
    """The model's ground truth where a validator's notes can be."""
    ground = rig.model.ground_truth()
    return {where: ground[where] for where in (CUSTOMER, ESCROW, TRANSPORT, CASHBOX)}


def sent(emulator: Id003Emulator, skip_polls: bool = True) -> list[Command]:
    commands = [parse_command(frame) for frame in emulator.received]
    if skip_polls:
        commands = [c for c in commands if c.code is not CommandCode.STATUS_REQUEST]
    return commands


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Id003Rig]:
    rig = Id003Rig(tmp_path)
    async with rig.wire():
        yield rig


async def _deposit(driver: Id003Driver, rig: Id003Rig, item: str = CNY100) -> MoveReport:
    rig.model.insert_notes([item])
    return await asyncio.wait_for(driver.cash_in(LIMITS, 1), 5)


# --- open, capabilities, wire --------------------------------------------------------------


async def test_open_resets_and_configures_on_the_wire(rig: Id003Rig) -> None:
    assert rig.emulator is not None
    async with rig.driver(parity="E") as driver:  # 8E1, as a validator's line is
        caps = driver.capabilities()
        # What the simulator's id003 profile says a JCM validator is.
        assert caps == cash_in_profile("id003").capabilities
        assert caps.features() == ID003_DRIVER.capabilities["cash_acceptor"]
        assert caps.max_cash_in_items == 1
        assert caps.escrow
        assert caps.senses_escrow
        assert not caps.knows_operations
        assert not caps.classifies
        assert not caps.shutter
        assert not caps.items_taken_sensor
        assert caps.return_to == CUSTOMER
        assert caps.retract_areas == frozenset()
        assert [u.id for u in driver.units()] == [CASHBOX]
        assert {n.item for n in driver.note_types()} == ALL
        assert driver.version == "ID003-SIM CNY V1.00"
        raw = [frame.to_bytes() for frame in rig.emulator.received]
        # The first frame is the status request of §7 #26, byte for byte.
        assert raw[0] == bytes.fromhex("FC 05 11 27 56")
        assert sent(rig.emulator)[:3] == [
            Command(CommandCode.RESET),
            Command.denominations(range(0x61, 0x67)),
            Command.inhibit(True),
        ]
        assert bytes.fromhex("FC 06 C3 01 8D C7") in raw
        assert rig.firmware.inhibited
        status = await driver.get_status()
        assert status.device is DeviceState.ONLINE
        assert status.escrow is StackerState.EMPTY


# --- deposit, stack, return ----------------------------------------------------------------------


async def test_deposit_then_stack(rig: Id003Rig) -> None:
    assert rig.emulator is not None
    async with rig.driver() as driver:
        before = truth(rig)
        report = await _deposit(driver, rig)
        assert report.moves == (Move(CUSTOMER, ESCROW, CNY100, 1),)
        assert [n.item for n in report.notes] == [CNY100]
        assert report.fault is None
        assert report.refused == ()
        assert any(isinstance(e, ItemsInserted) for e in rig.listener.events)
        assert rig.firmware.inhibited  # accepting stopped again
        assert applied(before, [report]) == truth(rig)
        contents = await driver.contents()
        assert dict(contents.escrow or {}) == {CNY100: 1}
        assert (await driver.get_status()).escrow is StackerState.NOT_EMPTY

        before = truth(rig)
        stacked = await driver.cash_in_end(True, 2)
        assert stacked.moves == (Move(ESCROW, CASHBOX, CNY100, 1),)
        assert stacked.fault is None
        assert applied(before, [stacked]) == truth(rig)
        assert rig.model.ground_truth()[CASHBOX] == 1
        commands = sent(rig.emulator)
        # Enable, inhibit, one stack, one ACK of VEND VALID.
        assert commands[-4:] == [
            Command.inhibit(False),
            Command.inhibit(True),
            Command(CommandCode.STACK_1),
            Command(CommandCode.ACK),
        ]
        assert dict((await driver.contents()).escrow or {}) == {}


async def test_rollback_gives_the_note_back(rig: Id003Rig) -> None:
    assert rig.emulator is not None
    async with rig.driver() as driver:
        before = truth(rig)
        first = await _deposit(driver, rig, CNY50)
        back = await driver.rollback(2)
        assert back.moves == (Move(ESCROW, CUSTOMER, CNY50, 1),)
        assert applied(before, [first, back]) == truth(rig)
        assert rig.model.ground_truth()[CUSTOMER] == 0
        assert sent(rig.emulator)[-1] == Command(CommandCode.RETURN)
        # Nothing in escrow: end and rollback report nothing moved.
        assert (await driver.rollback(3)).moves == ()
        assert (await driver.cash_in_end(True, 4)).moves == ()


# --- refusals and limits ---------------------------------------------------------------------


async def test_unknown_note_is_refused(rig: Id003Rig) -> None:
    async with rig.driver() as driver:
        before = truth(rig)
        rig.model.insert_notes([NoteSample("XXX:1")])
        report = await asyncio.wait_for(driver.cash_in(LIMITS, 1), 5)
        assert report.moves == ()
        assert report.refused == (RefuseReason.INVALID_BILL,)
        assert applied(before, [report]) == truth(rig)
        assert rig.model.ground_truth()[CUSTOMER] == 0
        assert rig.firmware.inhibited


async def test_disabled_denomination_is_rejected_by_the_validator(rig: Id003Rig) -> None:
    assert rig.emulator is not None
    async with rig.driver() as driver:
        await driver.configure(ALL - {CNY100})
        assert sent(rig.emulator)[-1] == Command.denominations(range(0x61, 0x66))
        assert not next(n for n in driver.note_types() if n.item == CNY100).enabled
        report = await _deposit(driver, rig, CNY100)
        assert report.refused == (RefuseReason.INVALID_BILL,)
        # The validator said REJECTING, reason 79h (inhibit), on the wire.
        assert build_frame(0x17, b"\x79") in rig.emulator.answers
        assert report.moves == ()
        with pytest.raises(InvalidData, match="CNY:7"):
            await driver.configure(frozenset({"CNY:7"}))


@pytest.mark.parametrize(
    ("limits", "reason"),
    [
        (CashInLimits(1, frozenset({CNY50})), RefuseReason.INVALID_BILL),
        (CashInLimits(0, ALL, items_limited=True), RefuseReason.LIMIT_OVER_TOTAL_ITEMS),
        (CashInLimits(0, ALL), RefuseReason.STACKER_FULL),
        (CashInLimits(1, ALL, {"CNY": Money(5000, "CNY")}), RefuseReason.LIMIT_OVER_AMOUNT),
    ],
)
async def test_note_over_the_limits_is_returned(
    rig: Id003Rig, limits: CashInLimits, reason: RefuseReason
) -> None:
    assert rig.emulator is not None
    async with rig.driver() as driver:
        before = truth(rig)
        rig.model.insert_notes([CNY100])
        report = await asyncio.wait_for(driver.cash_in(limits, 1), 5)
        assert report.moves == ()
        assert report.refused == (reason,)
        assert applied(before, [report]) == truth(rig)
        assert rig.model.ground_truth()[CUSTOMER] == 0
        assert Command(CommandCode.RETURN) in sent(rig.emulator)
        assert rig.firmware.inhibited


async def test_a_bunch_counts_each_refused_note_once(rig: Id003Rig) -> None:
    async with rig.driver() as driver:
        before = truth(rig)
        rig.model.insert_notes([NoteSample("XXX:1"), NoteSample("XXX:2"), CNY50, CNY100])
        report = await asyncio.wait_for(driver.cash_in(LIMITS, 1), 5)
        # Two unknown notes given back, then one note into the escrow of one note; the
        # last stays in the input for the next cash-in.
        assert report.refused == (RefuseReason.INVALID_BILL,) * 2
        assert report.moves == (Move(CUSTOMER, ESCROW, CNY50, 1),)
        assert applied(before, [report]) == truth(rig)
        assert len(rig.model.input_notes) == 1


async def test_amount_limit_lets_a_smaller_note_in(rig: Id003Rig) -> None:
    async with rig.driver() as driver:
        rig.model.insert_notes([CNY50])
        limits = CashInLimits(1, ALL, {"CNY": Money(5000, "CNY")})
        report = await asyncio.wait_for(driver.cash_in(limits, 1), 5)
        assert report.moves == (Move(CUSTOMER, ESCROW, CNY50, 1),)


def test_refuse_reason_mapping() -> None:
    assert refuse_reason(RejectReason.INSERTION) is RefuseReason.INVALID_BILL
    assert refuse_reason(RejectReason.INHIBIT) is RefuseReason.INVALID_BILL
    assert refuse_reason(RejectReason.CONVEYING) is RefuseReason.DEPOSIT_FAILURE
    assert refuse_reason(RejectReason.REMAINING_BILL) is RefuseReason.INVALID_BUNCH


# --- faults ---------------------------------------------------------------------------------


async def test_jam_in_acceptor(rig: Id003Rig) -> None:
    async with rig.driver() as driver:
        rig.model.jam_next_note()
        report = await _deposit(driver, rig)
        assert report.fault is not None
        assert report.fault.error_code == "mediaJam"
        # The validator does not say which note jammed: at most one, of no known item.
        assert report.moves == ()
        assert report.uncertain == (Move(CUSTOMER, TRANSPORT, "*", 1),)
        status = await driver.get_status()
        assert status.device is DeviceState.HARDWARE_ERROR
        assert status.transport is TransportState.NOT_EMPTY
        assert (await driver.contents()).transport is None
        cleared = await driver.reset(9)
        assert cleared.fault is None
        assert cleared.uncertain == (Move(TRANSPORT, CASHBOX, "*", 1),)
        assert (await driver.reset(10)).uncertain == ()  # said once
        assert (await driver.get_status()).device is DeviceState.ONLINE
        assert rig.firmware.inhibited


async def test_stacker_full(rig: Id003Rig) -> None:
    async with rig.driver() as driver:
        before = truth(rig)
        first = await _deposit(driver, rig)
        rig.model.set_cash_box_full()
        refused = await driver.cash_in_end(True, 2)
        assert refused.moves == ()
        assert refused.fault is not None
        assert refused.fault.error_code == "cashUnitError"
        assert dict((await driver.contents()).escrow or {}) == {CNY100: 1}  # still held
        rig.model.set_cash_box_full(False)
        stacked = await driver.cash_in_end(True, 3)
        assert stacked.moves == (Move(ESCROW, CASHBOX, CNY100, 1),)
        assert applied(before, [first, refused, stacked]) == truth(rig)
        rig.model.set_cash_box_full()
        (sensor,) = await driver.sensors()
        assert sensor.full is True
        assert sensor.status is UnitStatus.OK
        report = await _deposit(driver, rig)
        assert report.fault is not None
        assert report.fault.error_code == "cashUnitError"
        assert report.fault.unit == CASHBOX
        assert report.moves == ()
        rig.model.set_cash_box_full(False)
        (sensor,) = await driver.sensors()
        assert sensor.full is False


async def test_stacker_open_and_failure(rig: Id003Rig) -> None:
    async with rig.driver() as driver:
        rig.model.remove_cash_box()
        (sensor,) = await driver.sensors()
        assert sensor.status is UnitStatus.MISSING
        report = await _deposit(driver, rig)
        assert report.fault is not None
        assert report.fault.error_code == "cashUnitError"
        rig.model.remove_cash_box(False)
        rig.model.take_back_input()
        rig.firmware.fail(FailureCode.OPTICAL_SENSOR)
        status = await driver.get_status()
        assert status.device is DeviceState.HARDWARE_ERROR
        assert status.note_reader.value == "inoperable"
        report = await asyncio.wait_for(driver.cash_in(LIMITS, 3), 5)
        assert report.fault is not None
        assert report.fault.error_code == "hardwareError"
        assert "optical sensor" in report.fault.description
        await driver.reset(4)
        assert (await driver.get_status()).device is DeviceState.ONLINE


async def test_retract_is_unsupported(rig: Id003Rig) -> None:
    from hal.devices.cash_model import RetractArea

    async with rig.driver() as driver:
        with pytest.raises(UnsupportedOperation):
            await driver.retract(RetractArea.RETRACT, 1)
        assert await driver.operation(1) is None


# --- cancellation, reopen, power up -------------------------------------------------------------


async def test_cancel_cash_in_stops_between_polls_and_inhibits(rig: Id003Rig) -> None:
    assert rig.emulator is not None
    async with rig.driver() as driver:
        task = asyncio.ensure_future(driver.cash_in(LIMITS, 1))
        await asyncio.sleep(0.15)
        assert not rig.firmware.inhibited  # accepting, waiting for a note
        task.cancel()
        started = time.monotonic()
        report = await asyncio.wait_for(task, 5)
        assert time.monotonic() - started < 1.0
        assert report.moves == ()
        assert report.fault is not None
        assert report.fault.error_code == "canceled"
        assert rig.firmware.inhibited
        assert sent(rig.emulator)[-1] == Command.inhibit(True)


async def test_cancel_while_a_note_goes_in_keeps_the_note(rig: Id003Rig) -> None:
    rig.model.set_note_time(8.0)  # 0.4 s of real time
    async with rig.driver() as driver:
        before = truth(rig)
        rig.model.insert_notes([CNY100])
        task = asyncio.ensure_future(driver.cash_in(LIMITS, 1))
        await asyncio.wait_for(rig.listener.inserted.wait(), 5)
        task.cancel()
        report = await asyncio.wait_for(task, 5)
        assert report.moves == (Move(CUSTOMER, ESCROW, CNY100, 1),)
        assert report.fault is not None
        assert report.fault.error_code == "canceled"
        assert applied(before, [report]) == truth(rig)
        assert rig.firmware.inhibited


async def test_a_validator_stuck_out_of_idle_ends_the_cash_in_and_its_cancel(
    rig: Id003Rig,
) -> None:
    # REJECTING for ever (a note stuck in the bezel): neither the cash-in nor its cancel
    # may wait longer than the note timeout for the validator to come back to rest.
    stuck = [Status(StatusCode.REJECTING, reason=0x71)] * 100_000
    async with rig.driver(note_timeout=0.5) as driver:
        rig.firmware._script.extend(stuck)
        started = time.monotonic()
        report = await asyncio.wait_for(driver.cash_in(LIMITS, 1), 5)
        assert report.fault is not None
        assert "stayed" in report.fault.description
        assert report.moves == ()
        assert time.monotonic() - started < 3.0
        task = asyncio.ensure_future(driver.cash_in(LIMITS, 2))
        await asyncio.sleep(0.1)
        task.cancel()
        report = await asyncio.wait_for(task, 5)
        assert report.fault is not None
        assert report.moves == ()
        rig.firmware._script.clear()


async def test_reopen_with_a_note_in_escrow(rig: Id003Rig) -> None:
    async with rig.driver() as driver:
        await _deposit(driver, rig)
    async with rig.driver() as driver:  # a new HAL: the validator still holds the note
        contents = await driver.contents()
        assert dict(contents.escrow or {}) == {CNY100: 1}
        assert (await driver.get_status()).escrow is StackerState.NOT_EMPTY
        # A cash-in now takes nothing: the escrow is full.
        assert (await asyncio.wait_for(driver.cash_in(LIMITS, 2), 5)).moves == ()
        stacked = await driver.cash_in_end(True, 3)
        assert stacked.moves == (Move(ESCROW, CASHBOX, CNY100, 1),)


async def test_power_up_with_a_bill_in_the_acceptor(rig: Id003Rig) -> None:
    async with rig.driver() as driver:
        await _deposit(driver, rig)
    rig.firmware.power_cycle()
    async with rig.driver() as driver:
        assert driver.power_up is StatusCode.POWER_UP_BILL_IN_ACCEPTOR
        assert (await driver.contents()).escrow is None  # cannot tell which note
        status = await driver.get_status()
        assert status.escrow is StackerState.NOT_EMPTY_UNKNOWN
        assert status.device is DeviceState.HARDWARE_ERROR
        refused = await asyncio.wait_for(driver.cash_in(LIMITS, 2), 5)
        assert refused.fault is not None
        assert "reset" in refused.fault.description
        report = await driver.reset(3)
        assert report.moves == ()  # the validator never said which note it held
        assert rig.model.ground_truth()[CUSTOMER] == 0  # given back
        assert driver.power_up is None
        assert (await driver.get_status()).escrow is StackerState.EMPTY


async def test_reset_gives_a_note_in_escrow_back(rig: Id003Rig) -> None:
    async with rig.driver() as driver:
        before = truth(rig)
        first = await _deposit(driver, rig)
        report = await driver.reset(2)
        assert report.moves == (Move(ESCROW, CUSTOMER, CNY100, 1),)
        assert applied(before, [first, report]) == truth(rig)


# --- a dirty line ---------------------------------------------------------------------------------


async def test_lost_and_corrupted_answers_are_retried(rig: Id003Rig) -> None:
    assert rig.emulator is not None
    async with rig.driver() as driver:
        rig.emulator.drop_next_replies(2)
        assert (await driver.get_status()).device is DeviceState.ONLINE
        rig.emulator.corrupt_next_replies(2)
        assert (await driver.get_status()).device is DeviceState.ONLINE
        rig.emulator.inject_garbage(b"\x00\x13\x99")
        assert (await driver.get_status()).device is DeviceState.ONLINE
        assert driver.link.lost_replies == 2
        assert driver.link.garbled == 2
        assert driver.link.noise == 3


async def test_a_corrupted_host_frame_gets_communication_error_and_is_resent(
    rig: Id003Rig,
) -> None:
    assert rig.emulator is not None
    async with rig.driver() as driver:
        raw = bytearray(build_frame(0x11))
        raw[-1] ^= 0xFF
        await driver.link.transport.write(bytes(raw))
        await asyncio.sleep(0.05)
        assert rig.emulator.stats.bad_crc == 1
        # The 4A answer waiting on the line is dropped before the next exchange.
        assert (await driver.get_status()).device is DeviceState.ONLINE


@pytest.mark.parametrize("fault", ["drop", "lose"])
async def test_stack_with_a_lost_answer_or_command_stacks_once(rig: Id003Rig, fault: str) -> None:
    assert rig.emulator is not None
    async with rig.driver() as driver:
        before = truth(rig)
        first = await _deposit(driver, rig)
        if fault == "drop":
            rig.emulator.drop_next_replies(
                1, only=CommandCode.STACK_1
            )  # the STACK-1 ran, its ACK is lost
        else:
            rig.emulator.lose_next_commands(
                1, only=CommandCode.STACK_1
            )  # the STACK-1 never arrived
        report = await driver.cash_in_end(True, 2)
        assert report.moves == (Move(ESCROW, CASHBOX, CNY100, 1),)
        assert applied(before, [first, report]) == truth(rig)
        assert rig.model.ground_truth()[CASHBOX] == 1
        stacks = [c for c in rig.firmware.executed if c.code is CommandCode.STACK_1]
        assert len(stacks) == 1
        wire = [c for c in sent(rig.emulator) if c.code is CommandCode.STACK_1]
        # Sent again only when the status still said ESCROW (the frame was lost).
        assert len(wire) == (1 if fault == "drop" else 2)


async def test_commands_that_never_arrive_leave_the_note_in_escrow_and_booked(
    rig: Id003Rig,
) -> None:
    assert rig.emulator is not None
    async with rig.driver(reply_timeout=0.1) as driver:
        before = truth(rig)
        # Over the amount limit, and every RETURN is lost: the note stays in escrow.
        rig.emulator.lose_next_commands(4, only=CommandCode.RETURN)
        rig.model.insert_notes([CNY100])
        limits = CashInLimits(1, ALL, {"CNY": Money(5000, "CNY")})
        report = await asyncio.wait_for(driver.cash_in(limits, 1), 5)
        assert report.fault is not None
        assert "never took" in report.fault.description
        assert report.moves == (Move(CUSTOMER, ESCROW, CNY100, 1),)
        assert report.notes == ()  # not credited by the cash-in
        assert applied(before, [report]) == truth(rig)
        # Every STACK-1 lost: nothing moves, the note is still there.
        rig.emulator.lose_next_commands(4, only=CommandCode.STACK_1)
        stuck = await driver.cash_in_end(True, 2)
        assert stuck.moves == ()
        assert stuck.fault is not None
        assert "never took" in stuck.fault.description
        assert dict((await driver.contents()).escrow or {}) == {CNY100: 1}
        back = await driver.rollback(3)
        assert applied(before, [report, stuck, back]) == truth(rig)


async def test_a_validator_without_power_is_a_bounded_timeout(rig: Id003Rig) -> None:
    async with rig.driver(reply_timeout=0.1) as driver:
        await _deposit(driver, rig)
        rig.model.set_power(False)
        with pytest.raises(HalTimeout):
            await driver.get_status()
        rig.model.set_power(True)
        # The power came back without a power cycle of the firmware: the note is held.
        assert dict((await driver.contents()).escrow or {}) == {CNY100: 1}


async def test_a_muted_validator_is_a_bounded_timeout(rig: Id003Rig) -> None:
    assert rig.emulator is not None
    async with rig.driver(reply_timeout=0.1) as driver:
        rig.emulator.mute()
        started = time.monotonic()
        with pytest.raises(HalTimeout):
            await driver.get_status()
        assert time.monotonic() - started < 0.1 * 4 + 1.0
        rig.emulator.mute(False)
        assert (await driver.get_status()).device is DeviceState.ONLINE


# --- options, registration, masker ----------------------------------------------------------------


def test_options() -> None:
    options = Id003Options()
    assert options.table()[0x66] == CNY100
    assert parse_denominations("61=USD:100, 62=USD:500") == {0x61: ("USD", 100), 0x62: ("USD", 500)}
    for bad in ("", "61=USD", "60=USD:100", "61=USD:0", "61=USD:1,61=USD:2"):
        with pytest.raises(ConfigurationError):
            Id003Options(denominations=bad)
    with pytest.raises(ConfigurationError):
        Id003Options(poll_interval=0)
    with pytest.raises(ConfigurationError):
        Id003Options(retries=11)
    assert ID003_DRIVER.name == "id003"
    assert ID003_DRIVER.device_classes == frozenset({"cash_acceptor"})


def test_entry_point_is_registered() -> None:
    from importlib.metadata import entry_points

    (point,) = [p for p in entry_points(group="tellerhal.drivers") if p.name == "id003"]
    assert point.load() is ID003_DRIVER


def test_masker_lines() -> None:
    masker = Id003Masker()
    assert masker.lines(TX, bytes.fromhex("FC 05 11 27 56")) == [
        "  5 status request: FC 05 11 27 56"
    ]
    assert masker.lines(RX, bytes.fromhex("FC 06 13 61 B0 FB")) == [
        "  6 escrow, denomination 61: FC 06 13 61 B0 FB"
    ]
    (line,) = masker.lines(RX, bytes.fromhex("FC 05 16 98 23"))
    assert line.startswith("  5 crc:")
    assert "98" not in line
    assert parse_frame(bytes.fromhex("FC 05 11 27 56")).code == 0x11


# --- through hal.open, with the service and its ledger ------------------------------------


async def test_through_hal_open_deposit_rollback_and_refusal(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rig = Id003Rig(tmp_path)
    ledger = tmp_path / "ledger.db"
    with id003_registered(), caplog.at_level(logging.INFO, logger="hal.transports.spy"):
        async with rig.wire():
            device = hal.open("spy+" + rig.address(f"ledger={ledger}"))
            assert isinstance(device, CashAcceptor)
            async with device:
                await device.cash_in_start(max_amount=Money(15000, "CNY"))
                rig.model.insert_notes([CNY100])
                got = await device.cash_in(timeout=5)
                assert dict(got.accepted) == {CNY100: 1}
                ended = await device.cash_in_end(timeout=5)
                assert ended.notes(CASHBOX) == 1
                await device.cash_in_start()
                rig.model.insert_notes([CNY50])
                await device.cash_in(timeout=5)
                back = await device.cash_in_rollback(timeout=5)
                assert dict(back.returned) == {CNY50: 1}
                await device.cash_in_start(max_amount=Money(5000, "CNY"))
                rig.model.insert_notes([CNY100])
                refused = await device.cash_in(timeout=5)
                assert dict(refused.refused) == {RefuseReason.LIMIT_OVER_AMOUNT: 1}
                units = {unit.id: unit.count for unit in await device.cash_units()}
    assert units == {CASHBOX: rig.model.ground_truth()[CASHBOX]} == {CASHBOX: 1}
    lines = [r.getMessage() for r in caplog.records if r.name == "hal.transports.spy"]
    assert any("TX" in line and "stack 1: FC 05 41 A2 04" in line for line in lines)
    assert any("RX" in line and "escrow, denomination 66" in line for line in lines)
