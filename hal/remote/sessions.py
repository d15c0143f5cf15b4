"""The server's bookkeeping: sessions, their live requests, and how a call ended.

A `ServerSession` is one client connection (one ROUTER routing id) that has done the
Status handshake. A `Request` is one of its live commands: from the acknowledge until
the completion is sent. The `Request` object is also the `hal.device.COMMAND_TAG` of
the device call, so the events the command causes map back to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from hal.errors import Completion, HalError, TooManyRequests
from hal.remote.codec import camel, codec_for
from hal.remote.encoding import dump_json, encode, plain_header_json
from hal.remote.interfaces import Command
from hal.remote.messages import (
    AckStatus,
    Header,
    MessageType,
)

__all__ = ["Outbox", "Outcome", "Request", "SendFrames", "ServerSession", "outcome_of"]

#: Puts frames (routing id first) on the wire; returns why it could not, or None.
SendFrames = Callable[[list[bytes]], BaseException | None]

log = logging.getLogger(__name__)

_EMPTY = b"{}"


@dataclass(frozen=True, slots=True, repr=False)
class Outcome:
    """How a request ended.

    Attributes:
        code: the completion code.
        result: what the device method returned (``success`` only).
        error_code: the command's ``errorCode``, if any.
        description: ``errorDescription``: the `HalError`'s message (free of secrets,
            as every `HalError` message is) or our own text.
        refused: the request is refused at its acknowledge with this status instead
            (the device's queue was full when it was queued).
        details: the error's `HalError.wire_details` (camelCase keys), the payload of
            a failed completion; ``None``: none.
    """

    code: str
    result: Any = None
    error_code: str | None = None
    description: str | None = None
    refused: AckStatus | None = None
    details: dict[str, Any] | None = None

    def __repr__(self) -> str:
        # The result can be an R-APDU with the PAN in it (ChipIO): its type and size only.
        result = self.result
        shown = "None" if result is None else f"<{type(result).__name__}>"
        if isinstance(result, bytes | bytearray):
            shown = f"<{len(result)} bytes>"
        return (
            f"Outcome({self.code!r}, result={shown}, error_code={self.error_code!r}, "
            f"refused={self.refused!r})"
        )


@dataclass(eq=False, repr=False)
class ServerSession:
    """One client that has done the handshake.

    Attributes:
        routing_id: the ROUTER's identity of the peer.
        id: the session id the client is told (in every header we send it).
        last_seen: loop time of the last message from it.
        opened: devices it opened (it gets their unsolicited events).
        requests: its live requests by request id.
        seq: per device, the ``seq`` of the last event sent to it.
        closed: forgotten by the server: nothing more is sent to it.
    """

    routing_id: bytes
    id: str
    last_seen: float
    opened: set[str] = field(default_factory=set)
    requests: dict[int, Request] = field(default_factory=dict)
    seq: dict[str, int] = field(default_factory=dict)
    closed: bool = False

    def __repr__(self) -> str:
        return (
            f"ServerSession({self.id!r}, opened={sorted(self.opened)}, "
            f"requests={sorted(self.requests)}, closed={self.closed})"
        )

    def next_seq(self, device: str) -> int:
        """Take the next ``seq`` for an event from ``device``."""
        seq = self.seq.get(device, 0) + 1
        self.seq[device] = seq
        return seq


@dataclass(eq=False, repr=False)
class Request:
    """A live command of a session (also the device call's `COMMAND_TAG`).

    Attributes:
        session: whose it is.
        request_id: the client's id.
        name: the command's wire name.
        device: the device it runs on.
        command: what it calls.
        acked: the (accepting) acknowledge is sent; events may follow.
        outcome: set when the device call has ended.
        task: the task running the device call.
        backlog: events that came before the acknowledge was sent (name, payload, blobs).
        started: the task's coroutine has begun.
        cancel_requested: cancelled before it began (a command the queue does not see
            checks this when it begins, rather than being cancelled unstarted: see
            `hal.remote.dispatch.Dispatcher`).
    """

    session: ServerSession
    request_id: int
    name: str
    device: str
    command: Command
    acked: bool = False
    outcome: Outcome | None = None
    task: asyncio.Task[None] | None = None
    backlog: list[tuple[str, dict[str, Any], list[bytes]]] = field(default_factory=list)
    started: bool = False
    cancel_requested: bool = False

    def __repr__(self) -> str:
        # Not the backlog's payloads and blobs, nor the command's arguments: card data.
        return (
            f"Request({self.name!r}, session={self.session.id!r}, "
            f"request_id={self.request_id}, device={self.device!r}, acked={self.acked}, "
            f"outcome={self.outcome!r})"
        )

    @property
    def live(self) -> bool:
        """Still awaiting its completion, in a session the server still serves."""
        return not self.session.closed and self.session.requests.get(self.request_id) is self

    def cancel(self) -> bool:
        """Cancel the device call (the service settles first); False if it has ended."""
        if self.task is None or self.task.done():
            return False
        if self.started or self.command.queued:
            self.task.cancel()
        else:
            self.cancel_requested = True
        return True


CANCELED = Outcome(Completion.CANCELED.value, description="the command was cancelled")


def outcome_of(exc: BaseException, request: Request) -> Outcome:
    """The outcome of a device call that raised ``exc``."""
    if isinstance(exc, asyncio.CancelledError):
        return CANCELED
    if isinstance(exc, TooManyRequests) and not request.acked:
        return Outcome(
            Completion.DEVICE_NOT_READY.value,
            description=exc.message,
            refused=AckStatus.TOO_MANY_REQUESTS,
        )
    if isinstance(exc, HalError):
        return Outcome(
            exc.completion.value,
            error_code=exc.error_code,
            description=exc.message,
            details=error_details(exc),
        )
    if isinstance(exc, TimeoutError):
        return Outcome(
            Completion.TIME_OUT.value, description=f"{request.name} did not finish in time"
        )
    # Not ours: its text may hold anything, so it stays in the server's log.
    log.error(
        "%s on %s failed unexpectedly",
        request.name,
        request.device,
        exc_info=(type(exc), exc, exc.__traceback__),
    )
    return Outcome(
        Completion.INTERNAL_ERROR.value,
        description=f"the server failed running {request.name}; see its log",
    )


def error_details(exc: HalError) -> dict[str, Any] | None:
    """The payload of the completion ``exc`` fails a command with: its
    `HalError.wire_details` as camelCase keys, each of its declared type or ``None``
    (a value of another type travels as ``None``); ``None`` when it has none."""
    if not exc.wire_details:
        return None
    details: dict[str, Any] = {}
    for name, kind in exc.wire_details.items():
        value = getattr(exc, name, None)
        details[camel(name)] = value if type(value) is kind else None
    return details


class Outbox:
    """Builds what the server sends and puts it on the wire.

    Args:
        send: puts frames on the wire.
        on_failure: called with a session whose message could not be sent (its queue
            is full because it stopped reading, or it is gone): its stream cannot stay
            in order any more, so the server forgets it.
        cork: makes the sends of a `batch` go back to back (see
            `hal.remote.loopsocket.LoopSocket.corked`).
    """

    def __init__(
        self,
        send: SendFrames,
        on_failure: Callable[[ServerSession, str], None],
        cork: Callable[[], contextlib.AbstractContextManager[None]] = contextlib.nullcontext,
    ):
        self._send_frames = send
        self._on_failure = on_failure
        self._cork = cork
        self._held: list[tuple[ServerSession | None, list[bytes]]] | None = None
        self._depth = 0
        self._batch = _Batch(self)

    def batch(self) -> contextlib.AbstractContextManager[None]:
        """Encode what is sent in the block, and send it all back to back at its end.

        An acknowledge and its completion then leave in one write of the socket's I/O
        thread, and reach the client together: one wake-up there instead of two.
        Batches nest; the outermost one sends.
        """
        return self._batch

    def _flush(self) -> None:
        held, self._held = self._held, None
        if held:
            with self._cork():
                for session, frames in held:
                    self._put(session, frames)

    def _put(self, session: ServerSession | None, frames: list[bytes]) -> None:
        if session is not None and session.closed:
            return  # forgotten since (a send before this one failed)
        problem = self._send_frames(frames)
        if problem is not None and session is not None:
            self._on_failure(session, f"cannot send to it ({problem})")

    def send(
        self,
        to: ServerSession | bytes,
        header: Header,
        payload: Mapping[str, Any] | None = None,
        blobs: list[bytes] | None = None,
    ) -> None:
        """Send one message to a session, or to a peer without one (by routing id)."""
        try:
            frames = encode(header, payload, blobs or ())
        except ValueError:
            log.exception("cannot encode %s %s", header.type.value, header.name)
            return
        self._send_encoded(to, frames)

    def _send_encoded(self, to: ServerSession | bytes, frames: list[bytes]) -> None:
        session = to if isinstance(to, ServerSession) else None
        if session is not None and session.closed:
            return
        routing_id = session.routing_id if session is not None else to
        assert isinstance(routing_id, bytes)
        frames.insert(0, routing_id)
        if self._held is not None:
            self._held.append((session, frames))
        else:
            self._put(session, frames)

    def ack(
        self,
        to: ServerSession | bytes,
        request_id: int | None,
        name: str,
        status: AckStatus | None = None,
        description: str | None = None,
        device: str | None = None,
    ) -> None:
        """Acknowledge a command: ``status`` None accepts it."""
        session = to.id if isinstance(to, ServerSession) else None
        if status is None and description is None and request_id is not None:
            head = plain_header_json(
                MessageType.ACKNOWLEDGE, name, request_id, device=device, session=session
            )
            self._send_encoded(to, [head, _EMPTY])
            return
        kind = MessageType.ACKNOWLEDGE
        header = Header(kind, name, request_id, status=status, device=device, session=session)
        if description is not None:
            header = dataclasses.replace(header, error_description=description)
        self.send(to, header)

    def complete_now(
        self, to: ServerSession | bytes, header: Header, outcome: Outcome, completion: Any = None
    ) -> None:
        """Accept and complete at once a command that needs no device call."""
        self.ack(to, header.request_id, header.name, device=header.device)
        blobs: list[bytes] = []
        payload = None
        if completion is not None:
            payload = codec_for(type(completion)).encode(completion, blobs)
        self.completion(to, header.request_id, header.name, header.device, outcome, payload, blobs)

    def completion(
        self,
        to: ServerSession | bytes,
        request_id: int | None,
        name: str,
        device: str | None,
        outcome: Outcome,
        payload: dict[str, Any] | None,
        blobs: list[bytes],
    ) -> None:
        """Send a completion (the payload already encoded; a failed one carries the
        error's details, if it has any, as its payload)."""
        session = to.id if isinstance(to, ServerSession) else None
        if payload is None and outcome.details:
            payload = outcome.details
        if outcome.error_code is None and outcome.description is None and request_id is not None:
            head = plain_header_json(
                MessageType.COMPLETION,
                name,
                request_id,
                device=device,
                session=session,
                completion_code=outcome.code,
            )
            try:
                frames = [head, dump_json(payload) if payload else _EMPTY, *blobs]
            except ValueError:
                log.exception("cannot encode the completion of %s", name)
                return
            self._send_encoded(to, frames)
            return
        header = Header(
            MessageType.COMPLETION,
            name,
            request_id,
            completion_code=outcome.code,
            error_code=outcome.error_code,
            error_description=outcome.description,
            device=device,
            session=session,
        )
        self.send(to, header, payload, blobs)

    def event(
        self,
        session: ServerSession,
        device: str,
        name: str,
        payload: dict[str, Any],
        blobs: list[bytes],
        request_id: int | None,
    ) -> None:
        """Send an event (with its command's id) or an unsolicited event (without)."""
        kind = MessageType.UNSOLICITED if request_id is None else MessageType.EVENT
        seq = session.next_seq(device)
        header = Header(kind, name, request_id, device=device, session=session.id, seq=seq)
        self.send(session, header, payload, blobs)


class _Batch(contextlib.AbstractContextManager[None]):
    """`Outbox.batch` (a class rather than a generator: it is on every message's path)."""

    __slots__ = ("_outbox",)

    def __init__(self, outbox: Outbox) -> None:
        self._outbox = outbox

    def __enter__(self) -> None:
        outbox = self._outbox
        outbox._depth += 1
        if outbox._held is None:
            outbox._held = []

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        outbox = self._outbox
        outbox._depth -= 1
        if not outbox._depth:
            outbox._flush()
