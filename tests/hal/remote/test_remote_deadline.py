"""`hal.device.COMMAND_DEADLINE`: a command must start by its deadline or not at all."""

from __future__ import annotations

import asyncio
import time

import pytest

from hal.device import COMMAND_DEADLINE, CommandQueue
from hal.errors import HalTimeout


async def test_a_command_reaching_the_head_past_its_deadline_is_refused() -> None:
    queue = CommandQueue("dev")
    release = asyncio.Event()
    ran: list[str] = []

    async def blocker(command_id: int) -> None:
        await release.wait()

    async def late(command_id: int) -> None:
        ran.append("late")

    first = asyncio.create_task(queue.run("Dev.Block", blocker, timeout=None))
    await asyncio.sleep(0)
    token = COMMAND_DEADLINE.set(time.time() + 0.05)
    try:
        second = asyncio.create_task(queue.run("Dev.Late", late, timeout=None))
    finally:
        COMMAND_DEADLINE.reset(token)
    await asyncio.sleep(0.1)
    release.set()
    await first
    with pytest.raises(HalTimeout, match="past its deadline"):
        await second
    assert ran == []
    assert queue.depth == 0


async def test_a_deadline_still_ahead_runs_the_command() -> None:
    queue = CommandQueue("dev")

    async def op(command_id: int) -> int:
        return command_id

    token = COMMAND_DEADLINE.set(time.time() + 10)
    try:
        assert await queue.run("Dev.Op", op, timeout=None) == 1
    finally:
        COMMAND_DEADLINE.reset(token)
