"""`LoopSocket`: a ZeroMQ socket driven straight by the asyncio loop, without futures.

`zmq.asyncio` makes a future for every send and receive and wakes a task for each
message; on the remote's hot path (one command, an acknowledge and a completion) that
bookkeeping costs more than the work. Here the socket is a plain non-blocking
`zmq.Socket`; the loop watches its file descriptor, and each message received is handed
to a callback right there: the client resolves its caller's future in the loop pass
the completion arrived in, and the server starts the command in the pass the command
arrived in.

ZeroMQ's descriptor is edge-triggered: it fires when the socket's state may have
changed, and any call on the socket (a send included) may consume that signal. So the
reader reads while ``ZMQ_EVENTS`` says a message is waiting (rescheduling itself after
a batch, to stay fair), and a send checks ``ZMQ_EVENTS`` afterwards: at once, or, for
sends made while the reader drains or inside `LoopSocket.corked`, once at the end.
Consecutive sends are then not slowed by checks between them, so an acknowledge and
its completion leave in one write.

It needs an event loop that can watch a file descriptor (``loop.add_reader``): the
default selector loop on Linux and macOS, not the proactor loop of Windows.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from types import TracebackType

import zmq

__all__ = ["LoopSocket"]

log = logging.getLogger(__name__)

_BATCH = 256  # messages handled per loop pass before others get their turn

# Plain integers: pyzmq's flag enums cost a microsecond per operation on this path.
_NOBLOCK = int(zmq.NOBLOCK)
_MORE_NOBLOCK = int(zmq.SNDMORE | zmq.NOBLOCK)
_EVENTS = int(zmq.EVENTS)
_POLLIN = int(zmq.POLLIN)
_POLLOUT = int(zmq.POLLOUT)


def _int(option: int | bytes | str) -> int:
    assert isinstance(option, int)  # ZMQ_FD and ZMQ_EVENTS are integers
    return option


class LoopSocket:
    """Watch ``socket`` in the running loop; call ``on_message`` with each message.

    Args:
        socket: a ZeroMQ socket (not a ``zmq.asyncio`` one); this object closes it.
        on_message: called with the frames of each message received, in the loop's
            thread, in order. Its exceptions are logged, not raised.
    """

    def __init__(self, socket: zmq.Socket[bytes], on_message: Callable[[list[bytes]], None]):
        self.socket = socket
        self._on_message = on_message
        self._loop = asyncio.get_running_loop()
        self._fd = _int(socket.getsockopt(zmq.FD))
        self._scheduled = False
        self._draining = False
        self._corked = 0
        self._cork = _Cork(self)
        self._writers: list[asyncio.Future[None]] = []
        self.closed = False
        self.paused = False
        self._loop.add_reader(self._fd, self._ready)
        self._schedule()  # messages may be waiting already

    def _schedule(self) -> None:
        if not self._scheduled and not self.paused:
            self._scheduled = True
            self._loop.call_soon(self._ready)

    def _ready(self) -> None:
        self._scheduled = False
        if self.paused:
            return
        sock = self.socket
        self._draining = True
        try:
            for _ in range(_BATCH):
                if self.closed or self.paused:
                    return
                events = _int(sock.getsockopt(_EVENTS))
                if self._writers and events & _POLLOUT:
                    self._wake_writers()
                if not events & _POLLIN:
                    return  # the descriptor will fire for the next one
                try:
                    # The parts of a message come together or not at all. Frames (not
                    # bytes) tell 'more' without a getsockopt per part.
                    frame = sock.recv(_NOBLOCK, copy=False)
                    frames = [frame.bytes]
                    while frame.more:
                        frame = sock.recv(_NOBLOCK, copy=False)
                        frames.append(frame.bytes)
                except zmq.ZMQError as exc:  # pragma: no cover - closed under us
                    log.debug("receive failed: %s", exc)
                    return
                try:
                    self._on_message(frames)
                except Exception:  # a bug must not stop the socket
                    log.exception("failed to handle a message")
            self._schedule()  # more may be waiting; the descriptor will not say so
        finally:
            self._draining = False

    def _wake_writers(self) -> None:
        writers, self._writers = self._writers, []
        for waiter in writers:
            if not waiter.done():
                waiter.set_result(None)

    def _check(self) -> None:
        """After sends: drain if a message is waiting (its signal may be consumed)."""
        if (
            not self._scheduled
            and not self.closed
            and _int(self.socket.getsockopt(_EVENTS)) & _POLLIN
        ):
            self._schedule()

    def send_nowait(self, frames: Sequence[bytes]) -> None:
        """Send one message now.

        Raises:
            zmq.Again: it cannot be queued now (not connected with ``ZMQ_IMMEDIATE``,
                or the peer's queue is full).
            zmq.ZMQError: anything else (``EHOSTUNREACH`` from a ROUTER, a closed socket).
        """
        sock = self.socket
        last = len(frames) - 1
        # Only the first part can fail with EAGAIN; once it is queued, the rest follow.
        for index, frame in enumerate(frames):
            sock.send(frame, _MORE_NOBLOCK if index < last else _NOBLOCK)
        if not (self._draining or self._corked):
            self._check()

    def corked(self) -> contextlib.AbstractContextManager[None]:
        """Sends in the block go back to back; the check for messages waiting follows."""
        return self._cork

    async def send(self, frames: Sequence[bytes], timeout: float) -> None:
        """Send one message, waiting up to ``timeout`` seconds for room.

        Raises:
            TimeoutError: no room within ``timeout``.
            zmq.ZMQError: the send failed otherwise.
        """
        async with asyncio.timeout(timeout):
            while True:
                try:
                    self.send_nowait(frames)
                    return
                except zmq.Again:
                    pass
                waiter = self._loop.create_future()
                self._writers.append(waiter)
                self._schedule()  # it may have become writable meanwhile
                try:
                    await waiter
                finally:
                    if waiter in self._writers:
                        self._writers.remove(waiter)

    def pause(self) -> None:
        """Receive nothing more (what arrives stays queued); `send_nowait` still works."""
        if not self.paused and not self.closed:
            self.paused = True
            self._loop.remove_reader(self._fd)

    def close(self, linger: int = 0) -> None:
        """Stop watching and close the socket (queued messages get ``linger`` ms)."""
        if self.closed:
            return
        self.closed = True
        if not self.paused:
            self._loop.remove_reader(self._fd)
        writers, self._writers = self._writers, []
        for waiter in writers:
            if not waiter.done():
                waiter.set_exception(zmq.ZMQError(zmq.ENOTSOCK, "the socket was closed"))
        self.socket.close(linger=linger)


class _Cork(contextlib.AbstractContextManager[None]):
    """`LoopSocket.corked` (a class rather than a generator: it is on the hot path)."""

    __slots__ = ("_socket",)

    def __init__(self, socket: LoopSocket) -> None:
        self._socket = socket

    def __enter__(self) -> None:
        self._socket._corked += 1

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        sock = self._socket
        sock._corked -= 1
        if not (sock._draining or sock._corked):
            sock._check()
