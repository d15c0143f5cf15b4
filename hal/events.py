"""Typed events and subscriptions.

A device publishes events to every open `Subscription`. `Device.events()` registers the
subscription synchronously, so whatever the next command does is seen: an app that
subscribes and then calls `read_raw_data` can never miss `InsertCard`.

Each subscription has a bounded queue. A device never waits for a slow reader: when the
queue is full, events are dropped and counted, and an `EventsLost` marker carrying the
count takes their place in the stream, so a reader always knows it missed something.

Command events carry the id of the command that caused them (``command_id``);
unsolicited events carry ``None``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, TypeVar

__all__ = [
    "Event",
    "EventHub",
    "EventsLost",
    "Notifier",
    "StatusChanged",
    "Subscription",
    "changed_fields",
]


@dataclass(frozen=True, kw_only=True)
class Event:
    """Base of every event.

    Attributes:
        device: the device name (``card_reader``...) or address that sent it.
        command_id: the command that caused it, or ``None`` for unsolicited events.
        timestamp: `time.monotonic()` when the event was published.
    """

    #: The XFS4IoT message name, e.g. ``CardReader.MediaInsertedEvent``.
    xfs_name: ClassVar[str] = ""
    #: True for XFS4IoT unsolicited events, which never carry a command id.
    unsolicited: ClassVar[bool] = False

    device: str = ""
    command_id: int | None = None
    timestamp: float = 0.0


@dataclass(frozen=True, kw_only=True)
class EventsLost(Event):
    """Marker put in a subscription's stream where events were dropped.

    Attributes:
        count: how many events were dropped at this point.
    """

    xfs_name: ClassVar[str] = "tellerhal.EventsLost"
    count: int = 0


S = TypeVar("S")


@dataclass(frozen=True, kw_only=True)
class StatusChanged(Event, Generic[S]):
    """The device status changed (XFS4IoT ``Common.StatusChangedEvent``).

    Attributes:
        old: the status before.
        new: the status after.
        changed: the names of the fields that differ (only these travel on the wire).
    """

    xfs_name: ClassVar[str] = "Common.StatusChangedEvent"
    unsolicited: ClassVar[bool] = True
    old: S
    new: S
    changed: frozenset[str] = frozenset()


def changed_fields(old: Any, new: Any) -> frozenset[str]:
    """Names of the dataclass fields whose values differ between two statuses."""
    return frozenset(
        f.name for f in dataclasses.fields(old) if getattr(old, f.name) != getattr(new, f.name)
    )


E = TypeVar("E", bound=Event)


class Notifier:
    """Wakes every task waiting for a condition whenever something changes; nobody polls.

    The owner calls `notify` after each change; each waiter re-checks its own predicate.
    """

    def __init__(self) -> None:
        self._waiters: set[asyncio.Future[None]] = set()

    def notify(self) -> None:
        """Something changed: wake every waiter to re-check its predicate."""
        waiters, self._waiters = self._waiters, set()
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def wait_until(self, predicate: Callable[[], bool]) -> None:
        """Return once ``predicate()`` is true, re-checking it at every `notify`."""
        while not predicate():
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.add(waiter)
            try:
                await waiter
            finally:
                self._waiters.discard(waiter)


class Subscription:
    """A bounded stream of a device's events; iterate it with ``async for``.

    Created by `Device.events()`. Close it (or use ``with``) when done, so the device
    stops queueing for it.
    """

    def __init__(
        self,
        hub: EventHub,
        maxsize: int,
        kinds: tuple[type[Event], ...] | None,
    ) -> None:
        if maxsize < 1:
            raise ValueError(f"maxsize must be at least 1, got {maxsize}")
        self._hub = hub
        self._maxsize = maxsize
        self._kinds = kinds
        self._queue: deque[Event] = deque()
        self._lost = 0
        # Wakes every task waiting in get(): a subscription may have more than one reader.
        self._changed = Notifier()
        self._closed = False

    @property
    def closed(self) -> bool:
        """True once the subscription or its device is closed."""
        return self._closed

    def _offer(self, event: Event) -> None:
        if self._closed or (self._kinds is not None and not isinstance(event, self._kinds)):
            return
        if len(self._queue) >= self._maxsize:
            self._lost += 1
            return
        if self._lost:
            # The marker may take one slot beyond maxsize, so it is never itself lost.
            self._queue.append(EventsLost(device=event.device, count=self._lost))
            self._lost = 0
        self._queue.append(event)
        self._wake()

    def _wake(self) -> None:
        self._changed.notify()

    def get_nowait(self) -> Event | None:
        """The next queued event, or ``None`` if none is queued."""
        if self._queue:
            return self._queue.popleft()
        if self._lost:
            lost, self._lost = self._lost, 0
            return EventsLost(device=self._hub.device, count=lost)
        return None

    async def get(self, timeout: float | None = None) -> Event:
        """Wait for the next event.

        Args:
            timeout: seconds to wait; ``None`` waits forever.

        Raises:
            TimeoutError: no event came within ``timeout``.
            EOFError: the subscription was closed and is drained.
        """
        async with asyncio.timeout(timeout):
            while True:
                event = self.get_nowait()
                if event is not None:
                    return event
                if self._closed:
                    raise EOFError("the subscription is closed")
                await self._changed.wait_until(
                    lambda: bool(self._queue) or bool(self._lost) or self._closed
                )

    async def wait_for(
        self,
        kind: type[E],
        timeout: float | None = None,
        predicate: Callable[[E], bool] | None = None,
    ) -> E:
        """Skip events until one of ``kind`` (matching ``predicate``) arrives."""
        async with asyncio.timeout(timeout):
            while True:
                event = await self.get()
                if isinstance(event, kind) and (predicate is None or predicate(event)):
                    return event

    def drain(self) -> list[Event]:
        """Every event queued now, without waiting."""
        out: list[Event] = []
        while (event := self.get_nowait()) is not None:
            out.append(event)
        return out

    def close(self) -> None:
        """Stop receiving; queued events can still be read."""
        if not self._closed:
            self._closed = True
            self._hub._remove(self)
            self._wake()

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __aiter__(self) -> AsyncIterator[Event]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Event]:
        while True:
            try:
                yield await self.get()
            except EOFError:
                return


@dataclass
class EventHub:
    """Fans a device's events out to its subscriptions, never blocking the publisher."""

    device: str = ""
    _subscriptions: list[Subscription] = field(default_factory=list)

    def subscribe(
        self, maxsize: int = 256, kinds: Iterable[type[Event]] | None = None
    ) -> Subscription:
        """A new subscription that sees every event published from now on."""
        sub = Subscription(self, maxsize, tuple(kinds) if kinds is not None else None)
        self._subscriptions.append(sub)
        return sub

    def publish(self, event: Event) -> Event:
        """Stamp the event with the device name and time, and queue it everywhere."""
        event = dataclasses.replace(
            event, device=event.device or self.device, timestamp=time.monotonic()
        )
        for sub in list(self._subscriptions):
            sub._offer(event)
        return event

    def close(self) -> None:
        """Close every subscription (the device is closing)."""
        for sub in list(self._subscriptions):
            sub.close()

    def _remove(self, sub: Subscription) -> None:
        if sub in self._subscriptions:
            self._subscriptions.remove(sub)
