"""The server's protocol, without sockets: sessions, commands, events, in order.

`Dispatcher` takes each message a client sent (`Dispatcher.handle`, routing id first)
and each event a device published (`Dispatcher.dispatch`), and hands the frames to send
to a ``send`` function (`hal.remote.server.RemoteServer` puts them on its ROUTER). All of
it runs on one event loop, synchronously between awaits, so what a session is sent
goes out in the order it happened: the acknowledge first, then the command's events,
then its completion, with the device's unsolicited events in between where they fell.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import secrets
import time
from collections.abc import Callable, Mapping
from typing import Any

from hal.device import COMMAND_DEADLINE, COMMAND_TAG, Device
from hal.errors import Completion
from hal.events import Event, EventsLost, Subscription
from hal.remote.codec import WireValueError, codec_for
from hal.remote.interfaces import (
    CANCEL,
    CLOSE,
    NO_MATCHING_REQUEST_IDS,
    OPEN,
    STATUS,
    CancelPayload,
    Command,
    Empty,
    InterfaceSpec,
    OpenCompletion,
    ServiceInfo,
)
from hal.remote.messages import (
    CLIENT_TYPES,
    HEARTBEAT,
    AckStatus,
    Header,
    Limits,
    Message,
    MessageError,
    MessageType,
    decode,
)
from hal.remote.sessions import (
    CANCELED,
    Outbox,
    Outcome,
    Request,
    SendFrames,
    ServerSession,
    outcome_of,
)

__all__ = ["Dispatcher"]

log = logging.getLogger(__name__)

_SUCCESS = Completion.SUCCESS.value


class Dispatcher:
    """Sessions and their commands over a set of devices.

    Args:
        devices: device name -> opened device.
        specs: device name -> its interface's remote description.
        send: puts a message's frames on the wire.
        heartbeat_interval: seconds; announced in the handshake.
        max_sessions: sessions at once.
        max_requests: live requests per session.
        limits: bounds on incoming messages.
        cork: makes a batch of sends go back to back (`Outbox`).
    """

    def __init__(
        self,
        devices: Mapping[str, Device[Any, Any]],
        specs: Mapping[str, InterfaceSpec],
        send: SendFrames,
        *,
        heartbeat_interval: float,
        max_sessions: int,
        max_requests: int,
        limits: Limits,
        cork: Callable[[], contextlib.AbstractContextManager[None]] = contextlib.nullcontext,
    ) -> None:
        self._devices = devices
        self._specs = specs
        self._out = Outbox(send, self._forget, cork)
        self._interval = heartbeat_interval
        self._max_sessions = max_sessions
        self._max_requests = max_requests
        self._limits = limits
        self._sessions: dict[bytes, ServerSession] = {}
        self._subscriptions: dict[str, Subscription] = {}
        #: Tasks running device calls.
        self.tasks: set[asyncio.Task[None]] = set()

    @property
    def sessions(self) -> Mapping[bytes, ServerSession]:
        """The sessions served now, by routing id."""
        return self._sessions

    def follow(self, device: str, sub: Subscription) -> None:
        """Take ``sub`` as the server's subscription to ``device`` (drained before completions)."""
        self._subscriptions[device] = sub

    def reap(self, now: float) -> None:
        """Forget the sessions silent for three heartbeat intervals (loop time ``now``)."""
        silent_since = now - 3 * self._interval
        for session in list(self._sessions.values()):
            if session.last_seen < silent_since:
                self._forget(session, f"silent for {3 * self._interval:g} s")

    def cancel_all(self) -> int:
        """Cancel every session's live commands (they still complete ``canceled``);
        returns how many were running."""
        return sum(
            request.cancel()
            for session in self._sessions.values()
            for request in list(session.requests.values())
        )

    def forget_all(self, reason: str) -> None:
        """Forget every session; nothing more is sent to any."""
        for session in list(self._sessions.values()):
            self._forget(session, reason)

    # --- events --------------------------------------------------------------------------

    def drain(self, device: str) -> None:
        """Dispatch every event the server's subscription to ``device`` holds."""
        sub = self._subscriptions.get(device)
        if sub is not None:
            for event in sub.drain():
                self.dispatch(device, event)

    def dispatch(self, device: str, event: Event) -> None:
        """Send ``event`` to its command's session, or to every session that opened its device."""
        if isinstance(event, EventsLost):
            # The server's own queue overflowed: every session sees a gap in seq.
            for session in self._sessions.values():
                if device in session.opened:
                    session.seq[device] = session.seq.get(device, 0) + event.count
            return
        blobs: list[bytes] = []
        try:
            name, payload = self._specs[device].encode_event(event, blobs)
        except Exception:
            log.exception("%s: cannot send a %s event", device, type(event).__name__)
            return
        if event.command_id is None:
            for session in list(self._sessions.values()):
                if device in session.opened:
                    self._out.event(session, device, name, payload, blobs, None)
            return
        tag_of = getattr(self._devices[device], "command_tag", None)
        request = tag_of(event.command_id) if tag_of is not None else None
        if not isinstance(request, Request) or not request.live:
            return  # a command of nobody we serve, or already completed
        if request.acked:
            self._out.event(request.session, device, name, payload, blobs, request.request_id)
        else:
            request.backlog.append((name, payload, blobs))

    # --- receiving -----------------------------------------------------------------------

    def handle(self, frames: list[bytes]) -> None:
        """Answer one message from a client (``frames[0]`` is its routing id)."""
        with self._out.batch():
            self._handle(frames)

    def _handle(self, frames: list[bytes]) -> None:
        routing_id = frames[0]
        try:
            message = decode(frames[1:], accept=CLIENT_TYPES, limits=self._limits)
        except MessageError as exc:
            self._out.ack(routing_id, exc.request_id, exc.name, exc.status, exc.description)
            return
        session = self._sessions.get(routing_id)
        if session is not None:
            session.last_seen = asyncio.get_running_loop().time()
        if message.header.type is MessageType.HEARTBEAT:
            reply = Header(
                MessageType.HEARTBEAT, HEARTBEAT, session=session.id if session else None
            )
            self._out.send(routing_id, reply)
            return
        self._command(routing_id, session, message)

    def _command(self, routing_id: bytes, session: ServerSession | None, message: Message) -> None:
        header = message.header
        name, request_id, device = header.name, header.request_id, header.device
        to: ServerSession | bytes = session if session is not None else routing_id

        def refuse(status: AckStatus, text: str) -> None:
            self._out.ack(to, request_id, name, status, text, device)

        def answer(code: Completion, text: str, error_code: str | None = None) -> None:
            self._out.complete_now(to, header, Outcome(code.value, None, error_code, text))

        if name == STATUS and device is None:
            self._handshake(routing_id, session, message)
            return
        if session is None:
            answer(Completion.SEQUENCE_ERROR, "no session: begin with Common.Status (no device)")
            return
        assert request_id is not None  # decode() refuses a command without one
        if request_id in session.requests:
            refuse(AckStatus.INVALID_REQUEST_ID, f"requestId {request_id} is still live")
            return
        if device is not None and device not in self._devices:
            offered = ", ".join(sorted(self._devices))
            refuse(AckStatus.INVALID_MESSAGE, f"no device named {device!r}; offered: {offered}")
            return
        if name == CANCEL:
            self._cancel(session, message)
            return
        if device is None:
            refuse(AckStatus.INVALID_MESSAGE, f"{name} needs a device")
            return
        spec = self._specs[device]
        if name in (OPEN, CLOSE):
            if not self._empty(message, refuse):
                return
            if name == OPEN:
                session.opened.add(device)
                session.seq.setdefault(device, 0)
                opened = OpenCompletion(spec.name)
                self._out.complete_now(session, header, Outcome(_SUCCESS), opened)
            else:
                session.opened.discard(device)
                for request in list(session.requests.values()):
                    if request.device == device:
                        request.cancel()
                self._out.complete_now(session, header, Outcome(_SUCCESS))
            return
        command = spec.commands.get(name)
        if command is None:
            refuse(AckStatus.INVALID_MESSAGE, f"{name} is not a command of {spec.name}")
            return
        try:
            payload = codec_for(command.payload).decode(message.payload, message.blobs, "")
        except WireValueError as exc:
            refuse(AckStatus.INVALID_MESSAGE, f"{name}: {exc}")
            return
        if device not in session.opened:
            answer(Completion.SEQUENCE_ERROR, f"{device} is not open in this session")
            return
        if len(session.requests) >= self._max_requests:
            refuse(
                AckStatus.TOO_MANY_REQUESTS,
                f"this session has {len(session.requests)} live requests (the limit)",
            )
            return
        if header.deadline is not None and time.time() > header.deadline:
            late = time.time() - header.deadline
            answer(Completion.TIME_OUT, f"{name} arrived {late:.3f} s past its deadline; refused")
            return
        self._start(session, header, command, payload)

    def _empty(self, message: Message, refuse: Callable[[AckStatus, str], None]) -> bool:
        try:
            codec_for(Empty).decode(message.payload, message.blobs, "")
        except WireValueError as exc:
            refuse(AckStatus.INVALID_MESSAGE, f"{message.header.name}: {exc}")
            return False
        return True

    def _handshake(
        self, routing_id: bytes, session: ServerSession | None, message: Message
    ) -> None:
        header = message.header
        to: ServerSession | bytes = session if session is not None else routing_id

        def refuse(status: AckStatus, text: str) -> None:
            self._out.ack(to, header.request_id, header.name, status, text)

        if not self._empty(message, refuse):
            return
        if session is None:
            if len(self._sessions) >= self._max_sessions:
                refuse(AckStatus.TOO_MANY_REQUESTS, f"the server has {self._max_sessions} sessions")
                return
            loop_time = asyncio.get_running_loop().time()
            session = ServerSession(routing_id, secrets.token_hex(8), loop_time)
            self._sessions[routing_id] = session
            log.info("session %s opened", session.id)
        elif header.request_id in session.requests:
            refuse(AckStatus.INVALID_REQUEST_ID, f"requestId {header.request_id} is still live")
            return
        info = ServiceInfo(
            devices={name: spec.name for name, spec in self._specs.items()},
            heartbeat_interval=max(1, round(self._interval * 1000)),
            max_requests=self._max_requests,
        )
        self._out.complete_now(session, header, Outcome(_SUCCESS), info)

    def _cancel(self, session: ServerSession, message: Message) -> None:
        header = message.header

        def refuse(status: AckStatus, text: str) -> None:
            self._out.ack(session, header.request_id, header.name, status, text, header.device)

        try:
            payload = codec_for(CancelPayload).decode(message.payload, message.blobs, "")
        except WireValueError as exc:
            refuse(AckStatus.INVALID_MESSAGE, f"{CANCEL}: {exc}")
            return
        ids = None if payload.request_ids is None else set(payload.request_ids)
        targets = [
            r
            for r in session.requests.values()
            if (ids is None or r.request_id in ids)
            and (header.device is None or r.device == header.device)
        ]
        for request in targets:
            request.cancel()
        if targets:
            self._out.complete_now(session, header, Outcome(_SUCCESS))
        else:
            wanted = "any" if ids is None else ", ".join(str(i) for i in sorted(ids))
            outcome = Outcome(
                Completion.COMMAND_ERROR_CODE.value,
                error_code=NO_MATCHING_REQUEST_IDS,
                description=f"no live request of this session matches {wanted}",
            )
            self._out.complete_now(session, header, outcome)

    # --- running a device command ----------------------------------------------------------

    def _start(
        self, session: ServerSession, header: Header, command: Command, payload: Any
    ) -> None:
        assert header.request_id is not None
        assert header.device is not None
        request = Request(session, header.request_id, header.name, header.device, command)
        session.requests[request.request_id] = request
        timeout = header.timeout / 1000 if header.timeout else None
        loop = asyncio.get_running_loop()
        coro = self._run(request, payload, timeout)
        if command.queued:
            context = contextvars.copy_context()
            context.run(COMMAND_TAG.set, request)
            context.run(COMMAND_DEADLINE.set, header.deadline)
            task = loop.create_task(coro, context=context)
            # Runs right after the task's first step: by then the device has queued the
            # command or refused it (TooManyRequests), so the ack can say which, and it
            # still goes out before any event of the command is dispatched.
            loop.call_soon(self._acknowledge, request)
            task.add_done_callback(self.tasks.discard)
        else:
            # Status, Capabilities, GetRetainBin: no queue can refuse them and they
            # cause no command events; _run acknowledges and completes them at once,
            # and leaves `tasks` itself (a done-callback would cost a loop pass).
            task = loop.create_task(coro)
        request.task = task
        self.tasks.add(task)

    async def _run(self, request: Request, payload: Any, timeout: float | None) -> None:
        request.started = True
        command = request.command
        method_name, arguments = command.call_of(payload)
        method = getattr(self._devices[request.device], method_name)
        try:
            if request.cancel_requested:
                raise asyncio.CancelledError  # cancelled before it began
            if command.queued:
                result = await method(**arguments, timeout=timeout)
            elif timeout is None:
                result = await method(**arguments)
            else:
                async with asyncio.timeout(timeout):
                    result = await method(**arguments)
        except BaseException as exc:  # CancelledError included: it ends this request only
            request.outcome = outcome_of(exc, request)
        else:
            request.outcome = Outcome(_SUCCESS, result)
        if request.acked:
            self._complete(request)
        elif not command.queued:
            assert request.task is not None
            self.tasks.discard(request.task)
            self._acknowledge(request)  # the ack and the completion, together

    def _acknowledge(self, request: Request) -> None:
        with self._out.batch():
            self._acknowledge_now(request)

    def _acknowledge_now(self, request: Request) -> None:
        session = request.session
        if request.outcome is None and request.task is not None and request.task.done():
            request.outcome = CANCELED  # cancelled before its first step
        outcome = request.outcome
        if outcome is not None and outcome.refused is not None:
            if session.requests.get(request.request_id) is request:
                del session.requests[request.request_id]
            self._out.ack(
                session,
                request.request_id,
                request.name,
                outcome.refused,
                outcome.description,
                request.device,
            )
            return
        request.acked = True
        self._out.ack(session, request.request_id, request.name, device=request.device)
        backlog, request.backlog = request.backlog, []
        for name, payload, blobs in backlog:
            self._out.event(session, request.device, name, payload, blobs, request.request_id)
        if outcome is not None:
            self._complete(request)

    def _complete(self, request: Request) -> None:
        with self._out.batch():
            self._complete_now(request)

    def _complete_now(self, request: Request) -> None:
        self.drain(request.device)  # the events the command caused go first
        session = request.session
        if session.requests.get(request.request_id) is request:
            del session.requests[request.request_id]
        outcome = request.outcome
        assert outcome is not None
        payload = None
        blobs: list[bytes] = []
        if outcome.code == _SUCCESS and request.command.completion is not None:
            try:
                completion = request.command.completion_of(outcome.result)
                payload = codec_for(request.command.completion).encode(completion, blobs)
            except Exception:
                log.exception("%s: cannot encode the result of %s", request.device, request.name)
                payload, blobs = None, []
                outcome = Outcome(
                    Completion.INTERNAL_ERROR.value,
                    description=f"the server cannot send the result of {request.name}",
                )
        self._out.completion(
            session, request.request_id, request.name, request.device, outcome, payload, blobs
        )

    def _forget(self, session: ServerSession, reason: str) -> None:
        if session.closed:
            return
        session.closed = True
        if self._sessions.get(session.routing_id) is session:
            del self._sessions[session.routing_id]
        cancelled = sum(request.cancel() for request in list(session.requests.values()))
        log.info("session %s forgotten: %s; %d commands cancelled", session.id, reason, cancelled)
