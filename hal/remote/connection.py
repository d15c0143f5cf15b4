"""One client socket to a server: commands in flight, heartbeats.

A `Connection` is what a `hal.remote.client.Session` holds between a handshake and the
moment the server is found gone; then the session makes a new one. It sends commands
and matches acknowledges and completions to them by request id; events go to the
``on_event`` callback in the order they came; heartbeats go out every interval, and
three intervals without hearing from the server loses the connection: every pending
command fails with `ConnectionLost`.

The socket is a `hal.remote.loopsocket.LoopSocket`: each message is handled in the loop
pass it arrives in, and a completion resolves its caller's future right there.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import zmq

from hal.errors import (
    Completion,
    ConnectionLost,
    HalError,
    ProtocolError,
    TooManyRequests,
    error_class_for,
)
from hal.remote.codec import camel
from hal.remote.encoding import dump_json, encode, plain_header_json
from hal.remote.interfaces import CANCEL
from hal.remote.loopsocket import LoopSocket
from hal.remote.messages import (
    HEARTBEAT,
    SERVER_TYPES,
    AckStatus,
    Header,
    Limits,
    Message,
    MessageError,
    MessageType,
    decode,
)
from hal.remote.security import CurveClientKeys

__all__ = ["Connection", "raise_for"]

log = logging.getLogger(__name__)

_LIMITS = Limits(max_header=16 * 1024, max_payload=4 << 20, max_blobs=256, max_depth=32)
_MAX_MESSAGE = 64 << 20
_EMPTY = b"{}"


def _retrieve(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()  # nobody may await it; do not log "never retrieved"


@dataclass(eq=False)
class _Pending:
    """A command sent and not yet completed."""

    request_id: int
    name: str
    done: asyncio.Future[Message]
    #: Loop time it was sent; the acknowledge is due ``timeout`` seconds later.
    sent: float = 0.0
    acked: bool = False
    #: The end that came after the caller was cancelled, before it could look.
    late: Message | BaseException | None = None

    def ack(self) -> None:
        self.acked = True

    def finish(self, message: Message | BaseException) -> None:
        self.ack()
        if self.done.done():
            if self.done.cancelled():
                self.late = message  # the caller's cancel is on its way: tell it
            return
        if isinstance(message, BaseException):
            self.done.set_exception(message)
        else:
            self.done.set_result(message)


class Connection:
    """A DEALER socket connected to ``endpoint``, and its tasks.

    Args:
        context: the session's ZeroMQ context.
        endpoint: the server's endpoint.
        timeout: seconds to send a command and to get its acknowledge.
        curve: CURVE keys, if any.
        settle_timeout: seconds a cancelled command waits for its completion.
        on_event: called with each event and unsolicited event, in order.
        on_lost: called once when the connection is lost (with the reason, and
            whether the loss is expected and need not be reported).
    """

    def __init__(
        self,
        context: zmq.Context[Any],
        endpoint: str,
        *,
        timeout: float,
        curve: CurveClientKeys | None,
        settle_timeout: float,
        on_event: Callable[[Connection, Message], None],
        on_lost: Callable[[Connection, str, bool], None],
    ) -> None:
        self.endpoint = endpoint
        self._timeout = timeout
        self._settle_timeout = settle_timeout
        self._on_event = on_event
        self._on_lost = on_lost
        sock: zmq.Socket[bytes] = zmq.Socket(context, zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.IMMEDIATE, 1)  # queue nothing for a server not connected
        sock.setsockopt(zmq.MAXMSGSIZE, _MAX_MESSAGE)
        if curve is not None:
            sock.curve_secretkey = curve.secret
            sock.curve_publickey = curve.public
            sock.curve_serverkey = curve.server_public
        try:
            sock.connect(endpoint)
        except zmq.ZMQError as exc:
            sock.close(linger=0)
            raise ConnectionLost(f"cannot connect to {endpoint}: {exc}") from exc
        loop = self._loop = asyncio.get_running_loop()
        self.last_heard = loop.time()
        self._ids = itertools.count(1)
        self._pending: dict[int, _Pending] = {}
        #: Per device, the ``seq`` of the last event received.
        self.seq: dict[str, int] = {}
        #: Devices opened on the server over this connection.
        self.opened: set[str] = set()
        #: The server's id of this session (after the handshake).
        self.session_id: str | None = None
        self.interval = 1.0
        #: Why the connection was lost; ``None`` while it is alive.
        self.lost: str | None = None
        self.tasks: set[asyncio.Task[Any]] = set()
        #: One timer watches every acknowledge due (armed for the oldest).
        self._watch: asyncio.TimerHandle | None = None
        self.socket = LoopSocket(sock, self._receive)

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run ``coro`` as one of this connection's tasks (cancelled when it is lost)."""
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def start_heartbeats(self, interval: float) -> None:
        """Send a heartbeat every ``interval`` seconds from now on."""
        self.interval = interval
        self.spawn(self._beat())

    # --- commands ------------------------------------------------------------------------

    async def exchange(
        self,
        device: str | None,
        name: str,
        payload: Mapping[str, Any],
        blobs: Sequence[bytes] = (),
        timeout_ms: int = 0,
        deadline: float | None = None,
        *,
        settle: bool = True,
    ) -> Message:
        """Send a command; return its successful completion.

        Cancelling the caller cancels the command on the server and, with ``settle``,
        waits (at most ``settle_timeout``) for its completion before
        `asyncio.CancelledError` goes on (session commands, which move nothing, do not).

        Raises:
            HalError: a refusing acknowledge or a failed completion (see `raise_for`);
                `ConnectionLost` when the connection is or gets lost.
        """
        pending = await self._send(device, name, payload, blobs, timeout_ms, deadline)
        try:
            message = await pending.done
        except asyncio.CancelledError:
            pending.ack()  # what follows has its own bounds
            if not settle or self.lost is not None or pending.late is not None:
                # (A completion that came as the caller was cancelled: the command has
                # ended on the server, there is nothing left to settle.)
                self._pending.pop(pending.request_id, None)
                raise
            if pending.done.cancelled():  # our caller's cancel reached the future
                pending.done = asyncio.get_running_loop().create_future()
                pending.done.add_done_callback(_retrieve)
            await self._settle(pending, device)
            raise
        raise_for(message)
        return message

    def _arm(self, due: float) -> None:
        if self._watch is None and self.lost is None:
            self._watch = self._loop.call_at(due, self._check_acks)

    def _check_acks(self) -> None:
        """Lose the connection if an acknowledge is overdue; else watch the next one due."""
        self._watch = None
        unacked = [p for p in self._pending.values() if not p.acked]
        if not unacked:
            return
        first = min(unacked, key=lambda p: p.sent)
        if self._loop.time() >= first.sent + self._timeout:
            self.lose(f"no acknowledgement of {first.name} within {self._timeout:g} s")
        else:
            self._arm(first.sent + self._timeout)

    async def _send(
        self,
        device: str | None,
        name: str,
        payload: Mapping[str, Any],
        blobs: Sequence[bytes],
        timeout_ms: int,
        deadline: float | None,
    ) -> _Pending:
        if self.lost is not None:
            raise ConnectionLost(f"{self.endpoint}: {self.lost}")
        request_id = next(self._ids)
        pending = _Pending(request_id, name, self._loop.create_future())
        pending.done.add_done_callback(_retrieve)
        timeout = None if name == CANCEL else timeout_ms
        if deadline is None:
            head = plain_header_json(
                MessageType.COMMAND, name, request_id, timeout=timeout, device=device
            )
            frames = [head, dump_json(payload) if payload else _EMPTY, *blobs]
        else:
            header = Header(
                MessageType.COMMAND,
                name,
                request_id,
                timeout=timeout,
                deadline=deadline,
                device=device,
            )
            frames = encode(header, payload, blobs)
        self._pending[request_id] = pending
        try:
            try:
                self.socket.send_nowait(frames)
            except zmq.Again:  # not connected yet (ZMQ_IMMEDIATE) or the queue is full
                await self.socket.send(frames, self._timeout)
        except TimeoutError:
            self.lose(f"cannot send {name} within {self._timeout:g} s")
        except zmq.ZMQError as exc:
            self._pending.pop(request_id, None)
            if self.lost is None:  # not closed under us: the socket failed
                self.lose(f"cannot send {name}: {exc}")
            raise ConnectionLost(f"{self.endpoint}: {self.lost}") from None
        except BaseException:
            self._pending.pop(request_id, None)
            raise
        if self.lost is not None:
            raise ConnectionLost(f"{self.endpoint}: {self.lost}")
        if not pending.acked:  # an answer may have come while the send waited
            pending.sent = self._loop.time()
            self._arm(pending.sent + self._timeout)
        return pending

    async def _settle(self, pending: _Pending, device: str | None) -> None:
        """After the caller cancelled: cancel on the server and wait for the completion."""
        if pending.done.done() or self.lost is not None:
            return

        async def cancel_and_wait() -> None:
            try:
                ids = {"requestIds": [pending.request_id]}
                await self._send(device, CANCEL, ids, (), 0, None)
            except (HalError, asyncio.CancelledError):
                return
            await asyncio.wait({pending.done}, timeout=self._settle_timeout)

        task = asyncio.get_running_loop().create_task(cancel_and_wait())
        while not task.done():
            try:
                await asyncio.shield(task)
            except asyncio.CancelledError:
                continue  # cancelled again: the device still settles first

    # --- the connection ------------------------------------------------------------------

    def lose(self, reason: str, *, quiet: bool = False) -> None:
        """Give the connection up: fail its commands, stop its tasks, close its socket."""
        if self.lost is not None:
            return
        self.lost = reason
        if not quiet:
            log.warning("%s: connection lost: %s", self.endpoint, reason)
        error = ConnectionLost(f"{self.endpoint}: {reason}")
        pending, self._pending = self._pending, {}
        for p in pending.values():
            p.finish(error)
        current = asyncio.current_task()
        for task in self.tasks:
            if task is not current:
                task.cancel()
        if self._watch is not None:
            self._watch.cancel()
            self._watch = None
        self.socket.close(linger=0)
        self._on_lost(self, reason, quiet)

    async def wait_closed(self) -> None:
        """Wait until the tasks of a lost connection have ended."""
        while self.tasks:
            await asyncio.gather(*list(self.tasks), return_exceptions=True)

    def _receive(self, frames: list[bytes]) -> None:
        """A message from the server (called by the socket, in the loop's pass)."""
        if self.lost is not None:
            return
        try:
            message = decode(frames, accept=SERVER_TYPES, limits=_LIMITS)
        except MessageError as exc:
            log.warning("%s: ignored a malformed message: %s", self.endpoint, exc)
            return
        self.last_heard = self._loop.time()
        try:
            self._on_message(message)
        except Exception:
            log.exception("%s: failed to handle a %s", self.endpoint, message.header.name)

    def _on_message(self, message: Message) -> None:
        header = message.header
        kind = header.type
        if self._forgotten(header):
            # The server forgot us (it restarted, or found us silent). Every pending
            # call fails with ConnectionLost; the next one makes a new handshake.
            self.lose("the server no longer knows this session (restarted?)")
        elif kind is MessageType.HEARTBEAT:
            pass
        elif kind is MessageType.ACKNOWLEDGE:
            pending = self._pending.get(header.request_id or 0)
            if pending is not None:
                if header.status is not None:
                    del self._pending[pending.request_id]
                    pending.finish(message)
                pending.ack()
        elif kind is MessageType.COMPLETION:
            pending = self._pending.pop(header.request_id or 0, None)
            if pending is not None:
                pending.finish(message)
        else:
            self._on_event(self, message)

    def _forgotten(self, header: Header) -> bool:
        """The server answers as one that does not know our session."""
        if self.session_id is None or header.session == self.session_id:
            return False
        if header.session is not None or header.type is MessageType.HEARTBEAT:
            return True  # another session's id, or a heartbeat answered without ours
        # The server's answer to a command from a peer it has no session for (a
        # command sent before a heartbeat told us): sequenceError, without a session.
        return (
            header.type is MessageType.COMPLETION
            and header.completion_code == Completion.SEQUENCE_ERROR.value
        )

    async def _beat(self) -> None:
        loop = asyncio.get_running_loop()
        frames = encode(Header(MessageType.HEARTBEAT, HEARTBEAT))
        while self.lost is None:
            await asyncio.sleep(self.interval)
            silent = loop.time() - self.last_heard
            if silent > 3 * self.interval:
                self.lose(f"no answer for {silent:.1f} s (3 heartbeat intervals)")
                return
            try:
                self.socket.send_nowait(frames)
            except zmq.Again:
                pass  # not connected (ZMQ_IMMEDIATE): the silence will tell
            except zmq.ZMQError:
                return


def raise_for(message: Message) -> None:
    """Raise the error a refusing acknowledge or a failed completion stands for.

    A refused acknowledge is `TooManyRequests` (``tooManyRequests``) or `ProtocolError`
    (``invalidMessage``, ``invalidRequestID``: our message was wrong). A completion's
    code and ``errorCode`` pick the class with `hal.errors.error_class_for`; the
    server's description is the message.
    """
    header = message.header
    if header.type is MessageType.ACKNOWLEDGE:
        text = f"the server refused {header.name}: {header.error_description or header.status}"
        if header.status is AckStatus.TOO_MANY_REQUESTS:
            raise TooManyRequests(text)
        raise ProtocolError(text)
    code = str(header.completion_code)
    if code == Completion.SUCCESS.value:
        return
    try:
        completion = Completion(code)
    except ValueError:
        completion = Completion.INTERNAL_ERROR
    cls = error_class_for(code, header.error_code)
    text = header.error_description or f"{header.name} completed {code}"
    raise cls(text, completion=completion, error_code=header.error_code, **_details(cls, message))


def _details(cls: type[HalError], message: Message) -> dict[str, Any]:
    """The keyword arguments a failed completion's payload gives ``cls``: the names in
    its `HalError.wire_details` whose camelCase key holds ``null`` or a value of the
    type declared for it. A value of another type (a string or a boolean for a count)
    is left out and the drop logged (the key and the type, never the value): the error
    still comes, without that detail."""
    payload = message.payload
    if not cls.wire_details or type(payload) is not dict:
        return {}
    found: dict[str, Any] = {}
    for name, kind in cls.wire_details.items():
        key = camel(name)
        value = payload.get(key)
        if value is None or type(value) is kind:
            found[name] = value
        else:
            log.warning(
                "%s: the server's %s's %s has type %s, not %s: left out",
                message.header.name,
                cls.__name__,
                key,
                type(value).__name__,
                kind.__name__,
            )
    return found
