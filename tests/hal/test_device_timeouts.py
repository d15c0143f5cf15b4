"""Command timeouts: ``None`` or a finite number of seconds >= 0; anything else is
`InvalidData` before the command is queued, through every device class."""

from __future__ import annotations

import asyncio
import math

import pytest

import hal
from hal.device import CommandQueue, check_timeout
from hal.devices.card_reader import Track
from hal.errors import HalTimeout, InvalidData

BAD = [-1, -0.001, math.nan, -math.inf, math.inf, "5", True]


@pytest.mark.parametrize("timeout", BAD, ids=repr)
def test_check_timeout_refuses_what_is_no_finite_time(timeout: object) -> None:
    with pytest.raises(InvalidData, match=r"^dev: X: timeout must be") as caught:
        check_timeout(timeout, "dev: X")
    assert isinstance(caught.value, ValueError)  # still what callers caught before


@pytest.mark.parametrize("timeout", [None, 0, 0.0, 0.5, 3600])
def test_check_timeout_takes_none_zero_and_finite_seconds(timeout: float | None) -> None:
    check_timeout(timeout, "dev: X")


async def test_the_queue_refuses_before_running_and_keeps_nothing_queued() -> None:
    queue = CommandQueue("dev")
    ran: list[int] = []

    async def op(cid: int) -> int:
        ran.append(cid)
        return cid

    for timeout in (-1.0, math.nan, math.inf):
        with pytest.raises(InvalidData, match=f"dev: Op: timeout .*got {timeout}"):
            await queue.run("Op", op, timeout=timeout)
    assert ran == []
    assert queue.depth == 0
    assert await queue.run("Op", op, timeout=1) == 1


async def test_a_pin_pad_refuses_a_negative_nan_or_infinite_timeout() -> None:
    async with hal.open("sim://pin_pad") as pad:
        assert isinstance(pad, hal.PinPad)
        for timeout in (-1.0, math.nan, math.inf, -math.inf):
            with pytest.raises(InvalidData, match="timeout must be a finite number"):
                await pad.keys(timeout=timeout)
            with pytest.raises(InvalidData, match="timeout must be a finite number"):
                await pad.generate_random(8, timeout=timeout)
        assert await pad.keys(timeout=None) == ()
        assert len(await pad.generate_random(8, timeout=2)) == 8


async def test_a_card_reader_refuses_a_negative_nan_or_infinite_timeout() -> None:
    async with hal.open("sim://card_reader") as reader:
        assert isinstance(reader, hal.CardReader)
        for timeout in (-5.0, math.nan, math.inf):
            with pytest.raises(InvalidData, match="timeout must be a finite number"):
                await reader.read_raw_data([Track.TRACK2], timeout=timeout)
            with pytest.raises(InvalidData, match="timeout must be a finite number"):
                await reader.reset(timeout=timeout)
        # zero is a valid timeout: no card comes in no time, so it times out at once
        with pytest.raises(HalTimeout, match="within 0 s"):
            await reader.read_raw_data([Track.TRACK2], timeout=0)
        await asyncio.wait_for(reader.reset(timeout=None), 5)
