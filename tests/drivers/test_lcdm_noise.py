"""A line that never goes quiet: the real ``lcdm`` driver against the LCDM emulator on a
real pty, with a noise byte every 10 ms on the dispenser's side for longer than the
link's wait for quiet (``resync_timeout``: ``ack_timeout`` x (``retries`` + 1)).

Every exchange must end in a typed error within a bounded time and release the link (a
second caller gets its own answer), a dispense must come back "not sent" with nothing
moved, and the driver must work again once the noise stops. And the one loop that
waits on the dispenser's word rather than a clock (count, until bill end) is bounded
by the unit's capacity.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from drivers.cash.lcdm import LcdmDriver
from drivers.cash.lcdm_link import LineNotQuiet
from drivers.cash.lcdm_options import LcdmOptions
from hal.devices.cash_model import CUSTOMER
from hal.errors import HalTimeout
from hal.transports.serial import SerialOptions, SerialTransport
from protocols.lcdm_commands import Op
from simulator.wire.lcdm import LcdmEmulator
from tests.lcdm_rig import FAST, LcdmRig, Listener

#: 4 sends x 0.1 s: the wait for quiet gives up after 0.4 s (+ one 50 ms quiet wait).
ACK_TIMEOUT = 0.1
RETRIES = 3
BOUND = ACK_TIMEOUT * (RETRIES + 1) + 0.05
#: Slack for a loaded 2-core machine.
SLACK = 0.6


@pytest.fixture
async def rig_noise(tmp_path: Path) -> AsyncIterator[LcdmRig]:
    rig = LcdmRig(tmp_path, 1000)
    async with rig.wire():
        yield rig


@asynccontextmanager
async def babbling(emulator: LcdmEmulator, interval: float = 0.01) -> AsyncIterator[list[int]]:
    """The dispenser's side sends a noise byte (FFh) every ``interval`` s meanwhile."""
    sent = [0]

    async def babble() -> None:
        while True:
            await emulator.send_garbage(b"\xff")
            sent[0] += 1
            await asyncio.sleep(interval)

    task = asyncio.ensure_future(babble())
    try:
        yield sent
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_a_line_that_never_goes_quiet_ends_in_a_typed_error_then_recovers(
    rig_noise: LcdmRig,
) -> None:
    emulator = rig_noise.emulator
    assert emulator is not None
    async with rig_noise.driver(ack_timeout=ACK_TIMEOUT, retries=RETRIES) as driver:
        assert driver.link.resync_timeout == pytest.approx(ACK_TIMEOUT * (RETRIES + 1))
        # An abnormal exchange (silence) leaves the link waiting for quiet next time.
        emulator.mute()
        with pytest.raises(HalTimeout):
            await driver.get_status()
        emulator.mute(False)
        before = rig_noise.model.ground_truth()
        async with babbling(emulator) as sent:
            # Two callers at once: the first fails in bounded time and releases the
            # link, so the second gets its own (bounded) answer instead of hanging.
            started = time.monotonic()
            first, second = await asyncio.wait_for(
                asyncio.gather(driver.get_status(), driver.sensors(), return_exceptions=True),
                timeout=2 * BOUND + 3 * SLACK,
            )
            both = time.monotonic() - started
            assert isinstance(first, LineNotQuiet), first
            assert isinstance(second, LineNotQuiet), second
            assert isinstance(first, HalTimeout)  # what a remote client sees
            assert "did not go quiet" in first.message
            assert "nothing was sent" in first.message
            assert 2 * (BOUND - 0.05) <= both < 2 * (BOUND + SLACK)
            # A dispense on the noisy line is not sent: a report, nothing moved.
            started = time.monotonic()
            refused = await driver.dispense({"unit1": 2}, 1)
            assert time.monotonic() - started < BOUND + SLACK
            assert refused.moves == ()
            assert refused.fault is not None
            assert refused.fault.error_code == "hardwareError"
            assert "dispense not sent" in refused.fault.description
            assert "did not go quiet" in refused.fault.description
            assert sent[0] * 0.01 > 3 * BOUND - SLACK  # it babbled the whole time
        assert rig_noise.model.ground_truth() == before
        assert [c.op for c in emulator.executed if c.op is Op.DISPENSE] == []
        assert driver.link.noisy_resyncs == 3
        # The noise stopped: the next exchange waits for quiet and goes through.
        assert (await driver.get_status()).device.value == "online"
        report = await driver.dispense({"unit1": 2}, 2)
        assert report.fault is None
        assert report.total("unit1", CUSTOMER) == 2
        assert rig_noise.model.ground_truth()[CUSTOMER] == before[CUSTOMER] + 2


async def test_noise_shorter_than_the_deadline_is_waited_out(rig_noise: LcdmRig) -> None:
    emulator = rig_noise.emulator
    assert emulator is not None
    async with rig_noise.driver(ack_timeout=ACK_TIMEOUT, retries=RETRIES) as driver:
        emulator.mute()
        with pytest.raises(HalTimeout):
            await driver.get_status()
        emulator.mute(False)
        resyncs = driver.link.resyncs
        async with babbling(emulator):
            status = asyncio.ensure_future(driver.get_status())
            await asyncio.sleep(BOUND / 3)  # the noise stops well before the deadline
        assert (await status).device.value == "online"
        assert driver.link.resyncs == resyncs + 1
        assert driver.link.noisy_resyncs == 0


async def test_count_stops_at_the_units_capacity_without_bill_end(tmp_path: Path) -> None:
    # The address says the cassette holds 5 notes; the dispenser has 9 in it and so
    # gives a 6th without bill end: a dispenser that never says bill end cannot make
    # count run for ever.
    rig = LcdmRig(tmp_path, 1000, counts={"unit1": 9})
    options = LcdmOptions(units="CNY:10000:5", model=1000, **FAST)  # type: ignore[arg-type]
    async with rig.wire() as emulator:
        driver = LcdmDriver(SerialTransport(str(rig.symlink), SerialOptions(baud=115200)), options)
        await driver.open(Listener())
        try:
            report = await driver.count(("unit1",), 1)
        finally:
            await driver.close()
    assert report.fault is not None
    assert report.fault.error_code == "hardwareError"
    assert report.fault.unit == "unit1"
    assert "more than its capacity 5" in report.fault.description
    assert report.total("unit1", "reject") == 6
    assert rig.model.ground_truth()["unit1"] == 3
    assert [c.op for c in emulator.executed].count(Op.TEST_DISPENSE) == 6
