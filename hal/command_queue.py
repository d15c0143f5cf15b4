"""The per-device FIFO command queue of `hal.device.DeviceService` (`hal.device`
re-exports every name here): timeouts, deadlines and tags set by a caller, and
cancellation that settles with the device before raising.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any, TypeVar

from hal.errors import HalTimeout, InvalidData, TooManyRequests

__all__ = [
    "COMMAND_DEADLINE",
    "COMMAND_TAG",
    "CommandQueue",
    "check_timeout",
    "finish",
    "run_to_end",
]

#: The queue logs as part of `hal.device`, where it was first (logging set up for that
#: logger keeps seeing its records).
log = logging.getLogger("hal.device")

T = TypeVar("T")

#: Set by a caller (the ZeroMQ server) around a device call to tag the command it
#: queues; `DeviceService.command_tag` maps the command id its events carry back to it.
COMMAND_TAG: ContextVar[object | None] = ContextVar("tellerhal_command_tag", default=None)

#: Set by a caller around a device call: a Unix time (`time.time()`) after which the
#: command must not start. One that reaches the head of its queue later is refused with
#: `HalTimeout` and never runs (a queued dispense must not happen minutes late). The
#: ZeroMQ remote carries it as the ``deadline`` of a command.
COMMAND_DEADLINE: ContextVar[float | None] = ContextVar("tellerhal_command_deadline", default=None)

_RECENT_TAGS = 256


def check_timeout(timeout: object, what: str) -> None:
    """Refuse a command timeout that is not ``None`` (no limit) nor a finite number of
    seconds >= 0: a negative one, NaN (which no clock ever passes), infinity (``None``
    says "for ever", and no wire carries infinity) or no number at all.

    Raises:
        InvalidData: naming ``what`` and the value.
    """
    if timeout is None:
        return
    if isinstance(timeout, bool) or not isinstance(timeout, int | float):
        raise InvalidData(
            f"{what}: timeout must be seconds (a number >= 0) or None, "
            f"got a {type(timeout).__name__}"
        )
    if math.isnan(timeout) or math.isinf(timeout) or timeout < 0:
        raise InvalidData(
            f"{what}: timeout must be a finite number of seconds >= 0, or None for no "
            f"limit; got {timeout}"
        )


async def finish(
    work: Awaitable[T],
    *,
    forward_cancel: bool = False,
    on_cancel: Callable[[], None] | None = None,
) -> tuple[T, bool]:
    """Await ``work`` to its end even if the caller is cancelled meanwhile.

    Args:
        work: what must not be dropped halfway (its result says what the device did).
        forward_cancel: pass the first cancellation on to ``work`` (which is then to
            stop early, e.g. at the next note, and return what it did).
        on_cancel: when given, called at the first cancellation instead of cancelling
            ``work`` (e.g. to set an event ``work`` watches, so that it stops at its own
            pace and returns what it did); implies forwarding.

    Returns:
        ``work``'s result, and whether a cancellation came meanwhile (the caller raises
        it once it has used the result).

    Raises:
        asyncio.CancelledError: ``work`` itself ended cancelled (it has no result).
    """
    task = asyncio.ensure_future(work)
    cancelled = False
    while True:
        try:
            return await asyncio.shield(task), cancelled
        except asyncio.CancelledError:
            if task.done():
                if task.cancelled():
                    raise
                return task.result(), True  # it ended as the cancellation came
            if not cancelled:
                if on_cancel is not None:
                    on_cancel()
                elif forward_cancel:
                    task.cancel()
            cancelled = True


async def run_to_end(coro: Awaitable[T]) -> T:
    """Await ``coro`` to its end even if the caller is cancelled meanwhile; a
    cancellation that came meanwhile is raised once it has ended (delayed, never lost).

    For what cannot stop halfway: a card being captured, a PIN pad being told to drop
    the PIN it holds.
    """
    result, cancelled = await finish(coro)
    if cancelled:
        raise asyncio.CancelledError()
    return result


class CommandQueue:
    """One FIFO queue of commands for one device.

    At most one command runs at a time; at most ``max_depth`` wait or run. A command's
    timeout counts from when it is queued (as in XFS4IoT). When a running command is
    cancelled (or times out), its ``settle`` step runs to completion, shielded, before
    the cancellation propagates, so the device is in a known state when the caller
    hears of it.
    """

    def __init__(self, device: str, max_depth: int = 16, settle_timeout: float = 30.0) -> None:
        if max_depth < 1:
            raise ValueError(f"max_depth must be at least 1, got {max_depth}")
        self.device = device
        self.max_depth = max_depth
        self.settle_timeout = settle_timeout
        self._lock = asyncio.Lock()
        self._depth = 0
        self._ids = itertools.count(1)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._idle = asyncio.Event()
        #: Id of the command running now, or None.
        self.current: int | None = None
        self._tags: OrderedDict[int, object] = OrderedDict()

    @property
    def depth(self) -> int:
        """Commands queued or running."""
        return self._depth

    async def run(
        self,
        name: str,
        op: Callable[[int], Awaitable[T]],
        *,
        timeout: float | None,
        settle: Callable[[], Awaitable[None]] | None = None,
    ) -> T:
        """Queue ``op`` and run it when its turn comes.

        Args:
            name: the command's name for errors and logs (``CardReader.ReadRawData``).
            op: called with the command id once the command reaches the head.
            timeout: seconds from now, queueing included; ``None`` for no limit.
            settle: run after ``op`` is cancelled or times out, before raising.

        Raises:
            InvalidData: ``timeout`` is not ``None`` nor a finite number >= 0.
            TooManyRequests: ``max_depth`` commands are already queued or running.
            HalTimeout: the command did not finish within ``timeout``, or reached the
                head of the queue after the caller's `COMMAND_DEADLINE`.
            asyncio.CancelledError: the caller cancelled; settle has run.
        """
        check_timeout(timeout, f"{self.device}: {name}")
        if self._depth >= self.max_depth:
            raise TooManyRequests(
                f"{self.device}: {self._depth} commands already queued (limit "
                f"{self.max_depth}); {name} refused"
            )
        self._depth += 1
        command_id = next(self._ids)
        deadline = COMMAND_DEADLINE.get()
        tag = COMMAND_TAG.get()
        if tag is not None:
            self._tags[command_id] = tag
            while len(self._tags) > _RECENT_TAGS:
                self._tags.popitem(last=False)
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            async with asyncio.timeout(timeout) as scope:
                async with self._lock:
                    if deadline is not None and time.time() > deadline:
                        raise HalTimeout(
                            f"{self.device}: {name} reached the head of the queue "
                            f"{time.time() - deadline:.3f} s past its deadline; refused"
                        )
                    self.current = command_id
                    try:
                        return await op(command_id)
                    except asyncio.CancelledError:
                        if settle is not None:
                            await self._settle(name, settle)
                        raise
                    finally:
                        self.current = None
        except TimeoutError as exc:
            if isinstance(exc, HalTimeout):
                raise
            if scope.expired():
                raise HalTimeout(
                    f"{self.device}: {name} did not finish within {timeout} s"
                ) from exc
            # A wait inside the command (a driver's read) timed out, not the command.
            raise HalTimeout(f"{self.device}: {name}: {exc or 'timed out'}") from exc
        finally:
            self._depth -= 1
            if not self._depth:
                self._idle.set()
            if task is not None:
                self._tasks.discard(task)

    def tag_of(self, command_id: int) -> object | None:
        """The `COMMAND_TAG` the caller of a recent command had set, if any."""
        return self._tags.get(command_id)

    async def cancel_all(self, wait: float = 30.0) -> None:
        """Cancel every queued and running command and wait until they have settled."""
        for task in list(self._tasks):
            task.cancel()
        if self._depth:
            self._idle.clear()
            async with asyncio.timeout(wait):
                await self._idle.wait()

    async def _settle(self, name: str, settle: Callable[[], Awaitable[None]]) -> None:
        """Run ``settle`` to the end even if the caller cancels again meanwhile."""

        async def bounded() -> None:
            async with asyncio.timeout(self.settle_timeout):
                await settle()

        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(bounded())
        while not task.done():
            try:
                await asyncio.shield(task)
            except asyncio.CancelledError:
                continue
            except Exception:
                log.exception("%s: settling %s after cancellation failed", self.device, name)
                return

    async def uncancellable(self, coro: Awaitable[T]) -> T:
        """Await ``coro`` to completion even if the caller is cancelled meanwhile.

        For device actions that cannot stop halfway (a card being captured): the caller's
        cancellation is delivered once the action has finished (`run_to_end`).
        """
        return await run_to_end(coro)
