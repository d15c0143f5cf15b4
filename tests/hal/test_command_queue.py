"""The per-device command queue: FIFO, overflow, timeouts, settle-before-cancel."""

from __future__ import annotations

import asyncio

import pytest

from hal.device import CommandQueue
from hal.errors import HalTimeout, TooManyRequests


async def test_commands_run_one_at_a_time_in_fifo_order() -> None:
    queue = CommandQueue("dev")
    running: list[int] = []
    order: list[int] = []

    async def op(n: int) -> int:
        running.append(n)
        assert len(running) == 1, "two commands ran at once"
        await asyncio.sleep(0.005)
        order.append(n)
        running.remove(n)
        return n

    results = await asyncio.gather(
        *(queue.run(f"C{n}", lambda cid, n=n: op(n), timeout=None) for n in range(5))
    )
    assert results == [0, 1, 2, 3, 4]
    assert order == [0, 1, 2, 3, 4]


async def test_command_ids_are_unique_and_current_is_set_while_running() -> None:
    queue = CommandQueue("dev")
    seen: list[tuple[int, int | None]] = []

    async def op(cid: int) -> None:
        seen.append((cid, queue.current))

    await queue.run("A", op, timeout=None)
    await queue.run("B", op, timeout=None)
    assert seen[0][0] != seen[1][0]
    assert all(cid == current for cid, current in seen)
    assert queue.current is None


async def test_overflow_answers_too_many_requests() -> None:
    queue = CommandQueue("dev", max_depth=2)
    gate = asyncio.Event()

    async def op(cid: int) -> None:
        await gate.wait()

    first = asyncio.create_task(queue.run("A", op, timeout=None))
    second = asyncio.create_task(queue.run("B", op, timeout=None))
    await asyncio.sleep(0)
    with pytest.raises(TooManyRequests, match="limit 2"):
        await queue.run("C", op, timeout=None)
    gate.set()
    await asyncio.gather(first, second)
    assert queue.depth == 0


async def test_timeout_counts_time_in_the_queue() -> None:
    queue = CommandQueue("dev")
    gate = asyncio.Event()

    async def blocker(cid: int) -> None:
        await gate.wait()

    async def quick(cid: int) -> str:
        return "ran"

    first = asyncio.create_task(queue.run("Block", blocker, timeout=None))
    await asyncio.sleep(0)
    with pytest.raises(HalTimeout, match=r"Quick did not finish within 0\.05 s") as info:
        await queue.run("Quick", quick, timeout=0.05)
    assert info.value.completion == "timeOut"
    gate.set()
    await first


async def test_cancel_settles_before_raising() -> None:
    queue = CommandQueue("dev")
    log: list[str] = []

    async def op(cid: int) -> None:
        log.append("started")
        await asyncio.sleep(10)

    async def settle() -> None:
        await asyncio.sleep(0.02)
        log.append("settled")

    task = asyncio.create_task(queue.run("Wait", op, timeout=None, settle=settle))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert log == ["started", "settled"]
    assert queue.depth == 0


async def test_timeout_also_settles_and_next_command_waits_for_settle() -> None:
    queue = CommandQueue("dev")
    log: list[str] = []

    async def op(cid: int) -> None:
        await asyncio.sleep(10)

    async def settle() -> None:
        await asyncio.sleep(0.03)
        log.append("settled")

    async def after(cid: int) -> None:
        log.append("next")

    first = asyncio.create_task(queue.run("Wait", op, timeout=0.01, settle=settle))
    await asyncio.sleep(0)
    second = asyncio.create_task(queue.run("Next", after, timeout=None))
    with pytest.raises(HalTimeout):
        await first
    await second
    assert log == ["settled", "next"]


async def test_a_second_cancel_during_settle_does_not_cut_it_short() -> None:
    queue = CommandQueue("dev")
    log: list[str] = []

    async def op(cid: int) -> None:
        await asyncio.sleep(10)

    async def settle() -> None:
        await asyncio.sleep(0.05)
        log.append("settled")

    task = asyncio.create_task(queue.run("Wait", op, timeout=None, settle=settle))
    await asyncio.sleep(0.01)
    task.cancel()
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert log == ["settled"]


async def test_cancel_while_queued_does_not_run_the_command() -> None:
    queue = CommandQueue("dev")
    gate = asyncio.Event()
    ran: list[str] = []

    async def blocker(cid: int) -> None:
        await gate.wait()

    async def never(cid: int) -> None:
        ran.append("never")

    first = asyncio.create_task(queue.run("Block", blocker, timeout=None))
    second = asyncio.create_task(queue.run("Never", never, timeout=None))
    await asyncio.sleep(0)
    second.cancel()
    with pytest.raises(asyncio.CancelledError):
        await second
    gate.set()
    await first
    assert ran == []


async def test_uncancellable_finishes_the_action_then_delivers_the_cancel() -> None:
    queue = CommandQueue("dev")
    done: list[str] = []

    async def capture() -> str:
        await asyncio.sleep(0.03)
        done.append("captured")
        return "ok"

    async def op(cid: int) -> str:
        return await queue.uncancellable(capture())

    task = asyncio.create_task(queue.run("Capture", op, timeout=None))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert done == ["captured"]


async def test_cancel_all_stops_queued_and_running_commands() -> None:
    queue = CommandQueue("dev")

    async def op(cid: int) -> None:
        await asyncio.sleep(10)

    tasks = [asyncio.create_task(queue.run(f"C{n}", op, timeout=None)) for n in range(3)]
    await asyncio.sleep(0)
    await queue.cancel_all(wait=1)
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert all(isinstance(r, asyncio.CancelledError) for r in results)
    assert queue.depth == 0


async def test_command_tags_map_command_ids_back_to_their_callers() -> None:
    from hal.device import COMMAND_TAG

    queue = CommandQueue("dev")
    seen: dict[str, int] = {}

    async def call(tag: str) -> None:
        COMMAND_TAG.set(tag)

        async def op(cid: int) -> None:
            seen[tag] = cid

        await queue.run(tag, op, timeout=None)

    await asyncio.gather(asyncio.create_task(call("a")), asyncio.create_task(call("b")))
    assert queue.tag_of(seen["a"]) == "a"
    assert queue.tag_of(seen["b"]) == "b"

    async def untagged(cid: int) -> int:
        return cid

    assert queue.tag_of(await queue.run("c", untagged, timeout=None)) is None


async def test_a_timeout_inside_the_command_is_not_blamed_on_the_command_timeout() -> None:
    # A driver's own wait (a serial read) timing out is a HalTimeout too, but it must
    # not claim the command's timeout expired (here there is none).
    queue = CommandQueue("dev")

    async def op(cid: int) -> None:
        raise TimeoutError("no reply to ENQ within 2 s")

    with pytest.raises(HalTimeout) as caught:
        await queue.run("CardReader.ReadRawData", op, timeout=None)
    assert "None s" not in str(caught.value)
    assert "no reply to ENQ within 2 s" in str(caught.value)
    with pytest.raises(HalTimeout, match=r"did not finish within 0\.5 s"):
        await queue.run("CardReader.ReadRawData", lambda cid: asyncio.sleep(5), timeout=0.5)
