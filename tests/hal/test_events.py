"""Subscriptions: start at once, bounded queue, EventsLost markers, StatusChanged."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest

from hal.events import Event, EventHub, EventsLost, StatusChanged, changed_fields


@dataclass(frozen=True, kw_only=True)
class Ping(Event):
    n: int = 0


@dataclass(frozen=True)
class State:
    a: int = 0
    b: str = ""


async def test_subscription_sees_events_published_right_after_subscribing() -> None:
    hub = EventHub("dev")
    sub = hub.subscribe()
    hub.publish(Ping(n=1))
    event = await sub.get(timeout=1)
    assert isinstance(event, Ping)
    assert event.n == 1
    assert event.device == "dev"
    assert event.timestamp > 0


async def test_events_before_subscribing_are_not_seen() -> None:
    hub = EventHub("dev")
    hub.publish(Ping(n=1))
    sub = hub.subscribe()
    assert sub.get_nowait() is None


async def test_full_queue_drops_and_marks_the_gap_in_order() -> None:
    hub = EventHub("dev")
    sub = hub.subscribe(maxsize=3)
    for n in range(10):
        hub.publish(Ping(n=n))
    # The first three fit; seven are lost; the marker comes after them.
    got = sub.drain()
    assert [e.n for e in got if isinstance(e, Ping)] == [0, 1, 2]
    assert isinstance(got[-1], EventsLost)
    assert got[-1].count == 7
    # After draining, later events flow again, preceded by no stale marker.
    hub.publish(Ping(n=99))
    assert [type(e) for e in sub.drain()] == [Ping]


async def test_marker_precedes_events_published_after_the_loss() -> None:
    hub = EventHub("dev")
    sub = hub.subscribe(maxsize=2)
    for n in range(5):
        hub.publish(Ping(n=n))  # 0, 1 kept; 2, 3, 4 lost
    first = await sub.get(timeout=1)
    assert isinstance(first, Ping)
    assert first.n == 0
    hub.publish(Ping(n=5))  # room again: the marker goes in before it
    rest = sub.drain()
    assert [type(e).__name__ for e in rest] == ["Ping", "EventsLost", "Ping"]
    assert isinstance(rest[1], EventsLost)
    assert rest[1].count == 3
    assert isinstance(rest[2], Ping)
    assert rest[2].n == 5


async def test_a_slow_reader_never_blocks_the_publisher() -> None:
    hub = EventHub("dev")
    hub.subscribe(maxsize=1)
    loop = asyncio.get_running_loop()
    start = loop.time()
    for n in range(10_000):
        hub.publish(Ping(n=n))
    assert loop.time() - start < 1.0


async def test_kinds_filter() -> None:
    hub = EventHub("dev")
    sub = hub.subscribe(kinds=[StatusChanged])
    hub.publish(Ping(n=1))
    hub.publish(StatusChanged(old=State(), new=State(a=1), changed=frozenset({"a"})))
    assert [type(e) for e in sub.drain()] == [StatusChanged]


async def test_get_times_out_and_close_ends_iteration() -> None:
    hub = EventHub("dev")
    sub = hub.subscribe()
    with pytest.raises(TimeoutError):
        await sub.get(timeout=0.01)
    hub.publish(Ping(n=1))
    sub.close()
    hub.publish(Ping(n=2))  # after close: not queued
    seen = [e async for e in sub]
    assert [e.n for e in seen if isinstance(e, Ping)] == [1]


async def test_waiting_reader_is_woken_by_publish() -> None:
    hub = EventHub("dev")
    sub = hub.subscribe()
    waiter = asyncio.create_task(sub.wait_for(Ping, timeout=1, predicate=lambda e: e.n == 2))
    await asyncio.sleep(0)
    hub.publish(Ping(n=1))
    hub.publish(Ping(n=2))
    event = await waiter
    assert event.n == 2


def test_changed_fields_names_only_the_differences() -> None:
    assert changed_fields(State(a=1, b="x"), State(a=1, b="y")) == {"b"}
    assert changed_fields(State(), State()) == frozenset()


async def test_two_readers_of_one_subscription_are_both_woken() -> None:
    hub = EventHub("dev")
    sub = hub.subscribe()
    first = asyncio.create_task(sub.get(timeout=1))
    second = asyncio.create_task(sub.get(timeout=1))
    await asyncio.sleep(0)  # both wait now
    hub.publish(Ping(n=1))
    hub.publish(Ping(n=2))
    got = await asyncio.gather(first, second)
    assert sorted(e.n for e in got if isinstance(e, Ping)) == [1, 2]


async def test_close_wakes_every_reader() -> None:
    hub = EventHub("dev")
    sub = hub.subscribe()
    readers = [asyncio.create_task(sub.get(timeout=1)) for _ in range(2)]
    await asyncio.sleep(0)
    sub.close()
    for reader in readers:
        with pytest.raises(EOFError):
            await reader


def test_a_marker_read_on_its_own_names_the_device() -> None:
    hub = EventHub("dev")
    sub = hub.subscribe(maxsize=1)
    for n in range(3):
        hub.publish(Ping(n=n))
    assert isinstance(sub.get_nowait(), Ping)
    marker = sub.get_nowait()
    assert isinstance(marker, EventsLost)
    assert (marker.count, marker.device) == (2, "dev")
