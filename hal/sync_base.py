"""The machinery under `hal.sync`: the background loop thread and the generic wrappers.

`SyncDevice` (any `Device`, blocking) and `SyncSubscription` live here so that the
per-device wrappers (`hal.sync_card_reader`, `hal.sync_pin_pad`) can build on them
without importing `hal.sync`, which imports those wrappers for `wrap()`. Import
everything from `hal.sync`; it re-exports what is public here.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import logging
import os
import signal
import threading
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Iterable, Iterator
from typing import Any, Generic, ParamSpec, Self, TypeVar

from hal.config import Kiosk
from hal.device import CapsT, Device, StatusT
from hal.events import E, Event, Subscription

__all__ = [
    "LOOP_THREAD_ERROR",
    "SyncDevice",
    "SyncSubscription",
    "run",
    "shutdown",
]

# Named for the facade, as before the split: shutdown()'s records come from "hal.sync".
log = logging.getLogger("hal.sync")

P = ParamSpec("P")
T = TypeVar("T")

LOOP_THREAD_ERROR = "hal.sync called from the event loop thread; await the async API instead"
_SETTLE_TIMEOUT = 60.0  # how long an interrupted call waits for its command to settle


class _LoopThread:
    """One event loop running in a daemon thread, and the devices opened on it."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.pid = os.getpid()  # a forked child needs a loop thread of its own
        self.stopped = False
        #: What was opened through the facade and not closed yet, by id().
        self.opened: dict[int, Device[Any, Any] | Kiosk] = {}
        self._ready = threading.Event()
        self.thread = threading.Thread(target=self._run, name="hal.sync", daemon=True)
        self.thread.start()
        self._ready.wait()

    def _run(self) -> None:
        if hasattr(signal, "pthread_sigmask"):
            # Ctrl-C must reach a thread waiting on us, not this one.
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        asyncio.set_event_loop(self.loop)
        self.loop.call_soon(self._ready.set)
        try:
            self.loop.run_forever()
        finally:
            self._finish()

    def _finish(self) -> None:
        loop = self.loop
        try:
            tasks = asyncio.all_tasks(loop)
            for task in tasks:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
        finally:
            asyncio.set_event_loop(None)
            loop.close()

    def check_caller(self) -> None:
        if threading.current_thread() is self.thread:
            raise RuntimeError(LOOP_THREAD_ERROR)
        if self.stopped:
            raise RuntimeError("hal.sync was shut down; open the device again")

    def call(self, fn: Callable[P, Awaitable[T]], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``fn(*args, **kwargs)`` on the loop and wait for its result."""
        self.check_caller()
        result: concurrent.futures.Future[T] = concurrent.futures.Future()
        tasks: list[asyncio.Task[T]] = []

        def start() -> None:
            if not result.set_running_or_notify_cancel():
                return  # the caller gave up before the loop got to it
            try:
                task = self.loop.create_task(_awaited(fn(*args, **kwargs)))
            except BaseException as exc:
                result.set_exception(exc)
                return
            tasks.append(task)
            task.add_done_callback(lambda done: _copy_outcome(done, result))

        self.loop.call_soon_threadsafe(start)
        try:
            return result.result()
        except BaseException:
            if not result.done() and not result.cancel():
                # Interrupted while the command runs: cancel it and let it settle.
                self.loop.call_soon_threadsafe(lambda: [t.cancel() for t in tasks])
                concurrent.futures.wait([result], timeout=_SETTLE_TIMEOUT)
            raise

    def call_soon(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Run a plain function on the loop thread (objects there are not thread-safe)."""

        async def run() -> T:
            return fn(*args, **kwargs)

        return self.call(run)

    def open(self, thing: Device[Any, Any] | Kiosk) -> None:
        """Open a device or kiosk, remembering it for `shutdown()`."""
        self.call(thing.open)
        self.opened[id(thing)] = thing

    def close(self, thing: Device[Any, Any] | Kiosk) -> None:
        """Close a device or kiosk, forgetting it even if closing fails."""
        try:
            self.call(thing.close)
        finally:
            self.opened.pop(id(thing), None)

    def stop(self) -> None:
        self.stopped = True
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join()


async def _awaited(awaitable: Awaitable[T]) -> T:
    return await awaitable


def _copy_outcome(task: asyncio.Task[T], result: concurrent.futures.Future[T]) -> None:
    if task.cancelled():
        result.set_exception(asyncio.CancelledError())
    elif (exc := task.exception()) is not None:
        result.set_exception(exc)
    else:
        result.set_result(task.result())


_lock = threading.Lock()
_current: _LoopThread | None = None


def _loop() -> _LoopThread:
    global _current
    with _lock:
        if _current is None or _current.pid != os.getpid():
            _current = _LoopThread()
        return _current


def shutdown() -> None:
    """Close the devices still open through the facade and stop its loop thread.

    Errors closing devices are logged. Safe to call when nothing runs.

    Raises:
        RuntimeError: called from the loop's own thread.
    """
    global _current
    with _lock:
        runner = _current
        if runner is None:
            return
        runner.check_caller()
        _current = None
    if runner.pid == os.getpid():
        for thing in list(runner.opened.values()):
            try:
                runner.close(thing)
            except Exception:
                log.exception("hal.sync.shutdown: closing %r failed", thing)
        runner.stop()


atexit.register(shutdown)


def run(fn: Callable[P, Awaitable[T]], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """Run an async function on the facade's loop and wait for its result.

    For what the wrappers do not cover, such as the simulator's control API, whose
    objects live on the same loop as the devices::

        hal.sync.run(control.insert_card, "visa")

    Raises:
        RuntimeError: called from the loop's own thread.
    """
    return _loop().call(fn, *args, **kwargs)


class _OpenedByWith(ABC):
    """``with`` calls `open()` and `close()`."""

    @abstractmethod
    def open(self) -> None: ...
    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> Self:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SyncSubscription:
    """A device's event stream for threads: `Subscription` with blocking calls.

    Iterate it (``for event in events``) until it is closed, or call `get()`.
    """

    def __init__(self, subscription: Subscription, runner: _LoopThread) -> None:
        self._subscription = subscription
        self._runner = runner

    @property
    def closed(self) -> bool:
        """True once the subscription or its device is closed."""
        return self._subscription.closed

    def get(self, timeout: float | None = None) -> Event:
        """Wait for the next event (see `Subscription.get`)."""
        return self._runner.call(self._subscription.get, timeout)

    def wait_for(
        self,
        kind: type[E],
        timeout: float | None = None,
        predicate: Callable[[E], bool] | None = None,
    ) -> E:
        """Skip events until one of ``kind`` (matching ``predicate``) arrives."""
        return self._runner.call(self._subscription.wait_for, kind, timeout, predicate)

    def get_nowait(self) -> Event | None:
        """The next queued event, or ``None`` if none is queued."""
        return self._runner.call_soon(self._subscription.get_nowait)

    def drain(self) -> list[Event]:
        """Every event queued now, without waiting."""
        return self._runner.call_soon(self._subscription.drain)

    def close(self) -> None:
        """Stop receiving; queued events can still be read."""
        self._runner.call_soon(self._subscription.close)

    def __iter__(self) -> Iterator[Event]:
        while True:
            try:
                yield self.get()
            except EOFError:
                return

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SyncDevice(_OpenedByWith, Generic[StatusT, CapsT]):
    """A `Device` for threads: the same methods, blocking; ``with`` opens and closes.

    Args:
        device: the async device (not yet opened, or opened through the facade).
    """

    def __init__(self, device: Device[StatusT, CapsT]) -> None:
        self._device = device
        self._runner = _loop()

    @property
    def device(self) -> Device[StatusT, CapsT]:
        """The async device this wraps (use it only on the facade's loop)."""
        return self._device

    @property
    def name(self) -> str:
        """The device's name."""
        return self._device.name

    def _call(self, fn: Callable[P, Awaitable[T]], /, *args: P.args, **kwargs: P.kwargs) -> T:
        return self._runner.call(fn, *args, **kwargs)

    def open(self) -> None:
        """Connect to the device (see `Device.open`)."""
        self._runner.open(self._device)

    def close(self) -> None:
        """Disconnect (see `Device.close`)."""
        self._runner.close(self._device)

    def status(self) -> StatusT:
        """The current status (see `Device.status`)."""
        return self._call(self._device.status)

    def capabilities(self) -> CapsT:
        """What the device can do (see `Device.capabilities`)."""
        return self._call(self._device.capabilities)

    def events(
        self, maxsize: int = 256, kinds: Iterable[type[Event]] | None = None
    ) -> SyncSubscription:
        """Subscribe to the device's events from this moment on (see `Device.events`)."""
        subscription = self._runner.call_soon(self._device.events, maxsize, kinds)
        return SyncSubscription(subscription, self._runner)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._device!r})"
