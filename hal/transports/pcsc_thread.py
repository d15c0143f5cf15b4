"""The thread a PC/SC reader runs its blocking pyscard calls on: `ReaderThread`.

A `concurrent.futures.Executor` with one **daemon** thread that runs the calls in the
order they were submitted (``loop.run_in_executor`` takes it). It is not a
`concurrent.futures.ThreadPoolExecutor` because a pyscard call can block for ever (a
reader or a card that froze in the middle of an APDU: ``SCardCancel`` interrupts only
status waits), and the pool's threads are joined when the interpreter exits, so one
stuck call would hang the program's exit. This thread can instead be **abandoned**
(`ReaderThread.abandon`): the callers of the stuck call and of those queued behind it
get an error at once, and the thread ends by itself if the call ever returns
(after running the calls marked to keep, such as the release of the PC/SC context).
"""

from __future__ import annotations

import concurrent.futures
import queue
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["ReaderThread"]

_STOP = object()


class _Job:
    __slots__ = ("args", "fn", "future")

    def __init__(
        self, future: concurrent.futures.Future[Any], fn: Callable[..., Any], args: tuple[Any, ...]
    ) -> None:
        self.future = future
        self.fn = fn
        self.args = args


class ReaderThread(concurrent.futures.Executor):
    """One daemon thread running submitted calls one after the other.

    Args:
        name: the thread's name.
    """

    def __init__(self, name: str) -> None:
        self._jobs: queue.SimpleQueue[_Job | object] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._pending: set[concurrent.futures.Future[Any]] = set()
        self._keep: set[concurrent.futures.Future[Any]] = set()
        self._shut = False
        self._abandoned = False
        self.thread = threading.Thread(target=self._work, name=name, daemon=True)
        self.thread.start()

    @property
    def abandoned(self) -> bool:
        """`abandon` was called: the thread runs nothing new and ends on its own."""
        return self._abandoned

    def submit(
        self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any
    ) -> concurrent.futures.Future[Any]:
        """Queue ``fn(*args)`` behind the calls already submitted."""
        if kwargs:
            raise TypeError("ReaderThread.submit takes positional arguments only")
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        with self._lock:
            if self._shut:
                raise RuntimeError("the reader's thread is shut down")
            self._pending.add(future)
            self._jobs.put(_Job(future, fn, args))
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Run what is queued, then end; with ``wait``, join the thread."""
        with self._lock:
            if not self._shut:
                self._shut = True
                self._jobs.put(_STOP)
        if wait and self.thread is not threading.current_thread():
            self.thread.join()

    def abandon(
        self,
        error: Callable[[], BaseException],
        keep: concurrent.futures.Future[Any] | None = None,
    ) -> None:
        """Give the thread up without waiting for it (its call is stuck).

        Every pending call but ``keep`` fails now with ``error()``, the one running as
        well as those queued (its result, if it ever comes, is dropped). The thread then
        runs only ``keep`` and ends.
        """
        with self._lock:
            self._abandoned = True
            if keep is not None:
                self._keep.add(keep)
            for future in self._pending:
                if future is not keep and not future.done():
                    future.set_exception(error())
            if not self._shut:
                self._shut = True
                self._jobs.put(_STOP)

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is _STOP:
                return
            assert isinstance(job, _Job)
            try:
                with self._lock:
                    if self._abandoned and job.future not in self._keep:
                        continue  # abandon() ended it already
                    if not job.future.set_running_or_notify_cancel():
                        continue  # its caller gave up before it ran
                try:
                    result = job.fn(*job.args)
                except BaseException as exc:
                    _settle(job.future, None, exc)
                else:
                    _settle(job.future, result, None)
            finally:
                with self._lock:
                    self._pending.discard(job.future)
                    self._keep.discard(job.future)
                del job  # drop the call's references before waiting for the next


def _settle(
    future: concurrent.futures.Future[Any], result: Any, error: BaseException | None
) -> None:
    """Hand a call's outcome over, unless `ReaderThread.abandon` already ended it."""
    try:
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)
    except concurrent.futures.InvalidStateError:
        pass
