"""The client side of the remote: one `Session` per server, shared by its devices.

A `Session` keeps a `hal.remote.connection.Connection` (one DEALER socket with
``ZMQ_IMMEDIATE``, its reader task and heartbeats). It begins with the Status
handshake; a handshake without an answer within the timeout (server down, or our CURVE
key refused, which ZeroMQ does not report) is a `ConnectionLost` saying so.

Each call sends one command and waits for its acknowledge (within the timeout) and its
completion; the command's events and the device's unsolicited events are handed, in
the order they came, to the listeners of the device (the `RemoteCardReader` objects
opened over this session), with their ``seq`` checked: a gap becomes `EventsLost`.

Cancelling a call (asyncio) sends ``Common.Cancel`` for it and waits (bounded) for its
``canceled`` completion, so the device has settled when `CancelledError` is raised.
When the server stops answering (no heartbeat answer for three intervals, no
acknowledge within the timeout, or it no longer knows the session), every pending call
fails with `ConnectionLost`, the listeners get an `EventsLost` (count 0: unknown), and
the next call connects again with a new handshake, so a restarted server is reached.

`session_for()` gives every device opened in one event loop on the same endpoint (with
the same keys and timeouts) the same session; the last `Session.release()` closes it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import zmq

from hal.device import COMMAND_DEADLINE
from hal.errors import ConnectionLost, DeviceNotReady, HalError, ProtocolError
from hal.events import Event, EventsLost
from hal.remote.codec import WireValueError, codec_for
from hal.remote.connection import Connection
from hal.remote.interfaces import (
    CLOSE,
    INTERFACES,
    OPEN,
    STATUS,
    Command,
    OpenCompletion,
    ServiceInfo,
)
from hal.remote.messages import Message, MessageType
from hal.remote.security import CurveClientKeys, endpoint_scheme

__all__ = ["Listener", "Session", "session_for"]

log = logging.getLogger(__name__)

#: Receives a device's events (command and unsolicited), in order.
Listener = Callable[[Event], None]


class Session:
    """A connection to one server, shared by the devices opened over it.

    Args:
        endpoint: ``tcp://HOST:PORT``, ``ipc://PATH`` or ``inproc://NAME``.
        timeout: seconds for the handshake and for each acknowledge.
        heartbeat: seconds between heartbeats, at most the server's interval; ``None``
            for the server's.
        curve: CURVE keys when the server requires them.
        settle_timeout: seconds a cancelled call waits for its ``canceled`` completion.

    Raises:
        ConfigurationError: an endpoint that is not tcp, ipc or inproc.
        ValueError: a timeout or heartbeat not > 0.
    """

    def __init__(
        self,
        endpoint: str,
        *,
        timeout: float = 5.0,
        heartbeat: float | None = None,
        curve: CurveClientKeys | None = None,
        settle_timeout: float = 30.0,
    ) -> None:
        endpoint_scheme(endpoint)
        if not timeout > 0 or (heartbeat is not None and not heartbeat > 0):
            raise ValueError(f"timeout and heartbeat must be > 0, got {timeout}, {heartbeat}")
        self.endpoint = endpoint
        self._timeout = timeout
        self._heartbeat = heartbeat
        self._curve = curve
        self._settle_timeout = settle_timeout
        self._context: zmq.Context[Any] | None = None
        self._conn: Connection | None = None
        self._lost: list[Connection] = []
        self._connect_lock = asyncio.Lock()
        self._listeners: dict[str, list[Listener]] = {}
        self._interfaces: dict[str, str] = {}
        self._users = 0
        self._key: tuple[Any, ...] | None = None
        #: True once `close()` has run; a closed session cannot be used again.
        self.closed = False

    @property
    def devices(self) -> Mapping[str, str]:
        """Device name -> interface, as the server offered them at the last handshake."""
        return dict(self._interfaces)

    @property
    def session_id(self) -> str | None:
        """The server's id of the current session, if connected."""
        return self._conn.session_id if self._conn is not None else None

    # --- devices -------------------------------------------------------------------------

    async def open_device(self, device: str, listener: Listener) -> str:
        """Register ``listener`` for ``device``'s events and open it on the server.

        Returns:
            The device's interface name (``CardReader``).

        Raises:
            ConnectionLost: no server answered the handshake in time.
            HalError: the server refused (an unknown device is `ProtocolError`).
        """
        self._listeners.setdefault(device, []).append(listener)
        try:
            conn = await self._connected()
            if device not in conn.opened:
                await self._open_on(conn, device)
        except BaseException:
            self._remove_listener(device, listener)
            raise
        return self._interfaces.get(device, "")

    async def close_device(self, device: str, listener: Listener) -> None:
        """Unregister ``listener``; the last one for ``device`` closes it on the server."""
        self._remove_listener(device, listener)
        conn = self._conn
        if device in self._listeners or conn is None or conn.lost is not None:
            return
        conn.opened.discard(device)
        try:
            async with asyncio.timeout(self._timeout):
                await conn.exchange(device, CLOSE, {}, settle=False)
        except (HalError, TimeoutError) as exc:
            log.info("%s: closing %s on the server failed: %s", self.endpoint, device, exc)

    def _remove_listener(self, device: str, listener: Listener) -> None:
        listeners = self._listeners.get(device, [])
        if listener in listeners:
            listeners.remove(listener)
        if not listeners:
            self._listeners.pop(device, None)

    # --- calls ---------------------------------------------------------------------------

    async def call(
        self, device: str, command: Command, payload: Any, *, timeout: float | None = None
    ) -> Any:
        """Run a typed command on ``device`` and return what its method returns.

        The caller's `hal.device.COMMAND_DEADLINE`, if set, travels as the deadline.

        Args:
            device: the device's name on the server.
            command: the command (from `hal.remote.interfaces`).
            payload: an instance of ``command.payload``.
            timeout: seconds (``None`` for none), as the method's ``timeout``.

        Raises:
            HalError: the class the completion's code and errorCode name, with the
                server's description; `ConnectionLost` if the server went away.
        """
        if timeout is not None and timeout < 0:
            raise ValueError(f"timeout must be >= 0 or None, got {timeout}")
        blobs: list[bytes] = []
        data = codec_for(command.payload).encode(payload, blobs)
        timeout_ms = 0 if timeout is None else max(1, math.ceil(timeout * 1000))
        deadline = COMMAND_DEADLINE.get()
        conn = self._conn
        if conn is None or conn.lost is not None:
            conn = await self._connected()
        message = await conn.exchange(device, command.name, data, blobs, timeout_ms, deadline)
        if command.completion is None:
            return None
        try:
            completion = codec_for(command.completion).decode(message.payload, message.blobs, "")
        except WireValueError as exc:
            raise ProtocolError(f"the server's completion of {command.name}: {exc}") from None
        return command.result_of(completion)

    async def request(
        self,
        device: str | None,
        name: str,
        payload: Mapping[str, Any],
        blobs: Sequence[bytes] = (),
        *,
        timeout_ms: int = 0,
        deadline: float | None = None,
    ) -> Message:
        """Send any command and return its successful completion (the raw message).

        Raises:
            HalError: a refusing acknowledge or a failed completion, as the right class.
        """
        conn = await self._connected()
        return await conn.exchange(device, name, payload, blobs, timeout_ms, deadline)

    # --- connection ----------------------------------------------------------------------

    async def connect(self) -> None:
        """Do the handshake now if not connected (calls do it themselves when needed).

        Raises:
            ConnectionLost: no answer within the timeout.
        """
        await self._connected()

    async def _connected(self) -> Connection:
        conn = self._conn
        if conn is not None and conn.lost is None:
            return conn
        async with self._connect_lock:
            if self.closed:
                raise DeviceNotReady(f"the session to {self.endpoint} is closed")
            if self._conn is None or self._conn.lost is not None:
                self._conn = await self._connect()
            return self._conn

    async def _connect(self) -> Connection:
        if self._context is None:
            self._context = zmq.Context()
        conn = Connection(
            self._context,
            self.endpoint,
            timeout=self._timeout,
            curve=self._curve,
            settle_timeout=self._settle_timeout,
            on_event=self._deliver,
            on_lost=self._on_lost,
        )
        try:
            async with asyncio.timeout(self._timeout):
                message = await conn.exchange(None, STATUS, {}, settle=False)
                info = codec_for(ServiceInfo).decode(message.payload, message.blobs, "")
                conn.session_id = message.header.session
                self._interfaces = dict(info.devices)
                for device in list(self._listeners):
                    await self._open_on(conn, device)
        except (TimeoutError, ConnectionLost):
            conn.lose("no answer to the handshake", quiet=True)
            raise ConnectionLost(
                f"no answer from {self.endpoint} within {self._timeout:g} s: the server is "
                "down or refused our CURVE key"
            ) from None
        except WireValueError as exc:
            conn.lose("a bad handshake", quiet=True)
            raise ProtocolError(f"{self.endpoint} answered the handshake with {exc}") from None
        except BaseException:
            conn.lose("the handshake failed", quiet=True)
            raise
        server_interval = info.heartbeat_interval / 1000
        conn.start_heartbeats(min(self._heartbeat or server_interval, server_interval))
        log.debug("%s: session %s", self.endpoint, conn.session_id)
        return conn

    async def _open_on(self, conn: Connection, device: str) -> None:
        message = await conn.exchange(device, OPEN, {}, settle=False)
        try:
            opened = codec_for(OpenCompletion).decode(message.payload, message.blobs, "")
        except WireValueError as exc:
            raise ProtocolError(f"{self.endpoint} answered Common.Open with {exc}") from None
        self._interfaces[device] = opened.interface
        conn.opened.add(device)

    def _on_lost(self, conn: Connection, reason: str, quiet: bool) -> None:
        if self._conn is conn:
            self._conn = None
        self._lost = [c for c in self._lost if c.tasks]  # those still ending
        self._lost.append(conn)
        if quiet or self.closed:
            return
        for device, listeners in self._listeners.items():
            marker = EventsLost(device=device, count=0)
            for listener in list(listeners):
                listener(marker)

    def _deliver(self, conn: Connection, message: Message) -> None:
        header = message.header
        device, seq = header.device, header.seq
        assert device is not None  # decode() requires both on events
        assert seq is not None
        last = conn.seq.get(device, 0)
        lost = max(0, seq - last - 1)
        conn.seq[device] = max(seq, last)
        listeners = self._listeners.get(device)
        if not listeners:
            return
        spec = INTERFACES.get(self._interfaces.get(device, ""))
        event: Event | None = None
        try:
            if spec is None:
                raise WireValueError(f"{device} has an interface this client does not know")
            event = spec.decode_event(header.name, message.payload, message.blobs)
        except WireValueError as exc:
            log.warning("%s: ignored a %s from %s: %s", self.endpoint, header.name, device, exc)
            lost += 1
        if lost:
            for listener in list(listeners):
                listener(EventsLost(device=device, count=lost))
        if event is not None:
            command_id = header.request_id if header.type is MessageType.EVENT else None
            event = dataclasses.replace(event, device=device, command_id=command_id)
            for listener in list(listeners):
                listener(event)

    # --- lifetime ------------------------------------------------------------------------

    async def close(self) -> None:
        """Close the socket and stop the tasks; pending calls fail with `ConnectionLost`."""
        if self.closed:
            return
        self.closed = True
        if self._key is not None and _sessions.get(self._key) is self:
            del _sessions[self._key]
        async with self._connect_lock:
            if self._conn is not None:
                self._conn.lose("the session was closed", quiet=True)
        lost, self._lost = self._lost, []
        for conn in lost:
            await conn.wait_closed()
        if self._context is not None:
            self._context.destroy(linger=0)
            self._context = None

    async def release(self) -> None:
        """One user fewer (see `session_for`); the last one closes the session."""
        self._users -= 1
        if self._users <= 0:
            await self.close()


_sessions: dict[tuple[Any, ...], Session] = {}


def session_for(
    endpoint: str,
    *,
    timeout: float = 5.0,
    heartbeat: float | None = None,
    curve: CurveClientKeys | None = None,
) -> Session:
    """The session of this event loop to ``endpoint`` (made on first use), one user more.

    Devices opened in the same loop on the same endpoint with the same keys and timing
    share it; each calls `Session.release()` when it closes.
    """
    key = (asyncio.get_running_loop(), endpoint, timeout, heartbeat, curve)
    session = _sessions.get(key)
    if session is None or session.closed:
        session = Session(endpoint, timeout=timeout, heartbeat=heartbeat, curve=curve)
        session._key = key
        _sessions[key] = session
    session._users += 1
    return session
