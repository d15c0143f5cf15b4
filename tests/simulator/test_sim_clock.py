"""The scaled clock and the seeded randomness."""

from __future__ import annotations

import asyncio
import time

import pytest

from hal.errors import ConfigurationError
from simulator.clock import SimClock, seeded_random


async def test_a_scaled_sleep_takes_scale_times_as_long() -> None:
    clock = SimClock(scale=0.001)
    start = time.monotonic()
    await clock.sleep(30.0)  # a 30 s customer timeout
    elapsed = time.monotonic() - start
    assert 0.025 <= elapsed < 0.5


async def test_now_counts_simulated_seconds() -> None:
    clock = SimClock(scale=0.001)
    before = clock.now()
    await asyncio.sleep(0.02)
    assert clock.now() - before >= 19.0


async def test_timeout_is_in_simulated_seconds() -> None:
    clock = SimClock(scale=0.001)
    start = time.monotonic()
    with pytest.raises(TimeoutError):
        async with clock.timeout(20.0):
            await asyncio.sleep(5)
    assert time.monotonic() - start < 1.0


def test_conversions() -> None:
    clock = SimClock(scale=0.5)
    assert clock.to_real(10.0) == 5.0
    assert clock.to_simulated(5.0) == 10.0
    assert clock.scale == 0.5


@pytest.mark.parametrize("scale", [0, -1.0, float("nan"), float("inf"), "fast", True])
def test_bad_scales_are_refused(scale: object) -> None:
    with pytest.raises(ConfigurationError, match="clock scale"):
        SimClock(scale)  # type: ignore[arg-type]


async def test_negative_sleep_is_a_caller_mistake() -> None:
    with pytest.raises(ValueError, match="finite time"):
        await SimClock().sleep(-1.0)


def test_seeded_random_repeats_and_streams_differ() -> None:
    a = [seeded_random(7, "card_reader").random() for _ in range(1)]
    b = [seeded_random(7, "card_reader").random() for _ in range(1)]
    other_stream = seeded_random(7, "cash").random()
    other_seed = seeded_random(8, "card_reader").random()
    assert a == b
    assert other_stream != a[0]
    assert other_seed != a[0]
