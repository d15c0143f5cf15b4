"""`RemoteServer`: serve devices over ZeroMQ to `zmq://` clients.

One ROUTER socket, one asyncio loop. The server holds each device (a service: queue,
ledger, events) once and runs every client's commands on it, so bookkeeping happens
where the device is. For each client session:

- the session begins with the Status handshake (``Common.Status`` without a device),
  which answers the devices offered and the heartbeat interval;
- ``Common.Open``/``Common.Close`` a device subscribe the session to its unsolicited
  events and allow its commands;
- each command gets exactly one ``acknowledge`` (``status`` null, or why it is refused,
  and then nothing more), then the events it causes, then one ``completion``;
- unsolicited events go to every session that opened the device; everything a session
  is sent goes out in the order it happened, from one writer (this loop), with a
  per-device ``seq`` on events;
- ``Common.Cancel`` cancels the session's own queued or running commands, which
  complete ``canceled`` once the device has settled;
- a session silent for three heartbeat intervals is forgotten and its commands are
  cancelled (ROUTER sockets report no disconnects).

See ``docs/remote.md`` for the wire format and `hal.remote.security` for the endpoint
policy applied before binding.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from types import TracebackType
from typing import Any, Self

import zmq
import zmq.asyncio
from zmq.auth.asyncio import AsyncioAuthenticator

from hal.device import Device
from hal.errors import ConfigurationError, TransportError
from hal.events import Subscription
from hal.remote.dispatch import Dispatcher
from hal.remote.interfaces import INTERFACES, InterfaceSpec
from hal.remote.loopsocket import LoopSocket
from hal.remote.messages import LIMITS, Limits, valid_device_name
from hal.remote.security import (
    ANY,
    AnyClient,
    CurveServerKeys,
    check_endpoint_security,
    remove_ipc_socket,
)

__all__ = ["RemoteServer"]

log = logging.getLogger(__name__)

_EVENT_QUEUE = 4096  # events the server's own subscription to a device holds
_CLOSE_GRACE = 0.2  # seconds clients get to read their last completions before we close


class _AllowedKeys:
    """The CURVE credentials callback: a fixed set of client public keys."""

    def __init__(self, keys: frozenset[bytes]) -> None:
        self._keys = keys

    def callback(self, domain: str, key: bytes) -> bool:
        if key in self._keys:
            return True
        log.warning("refused a CURVE client whose key is not allowed: %s...", key[:8].decode())
        return False


class RemoteServer:
    """Serve ``devices`` on a ZeroMQ endpoint.

    Args:
        devices: device name -> device (unopened, or opened if ``open_devices`` is
            False). Names are those of a kiosk (``card_reader``); command events reach
            their session only from devices that tag commands (`hal.device.DeviceService`).
        endpoint: ``tcp://HOST:PORT`` (port 0 picks a free one; read `endpoint` after
            `start()`), ``ipc://PATH`` or ``inproc://NAME``.
        curve: CURVE keys; required for TCP except for the simulator on loopback.
        simulator: the devices are simulated (loopback TCP without keys is allowed).
        heartbeat_interval: seconds between a client's heartbeats; a session silent for
            three intervals is forgotten and its commands cancelled.
        max_sessions: sessions at once; a handshake beyond is refused.
        max_requests: live requests per session; more are refused ``tooManyRequests``.
        max_message_size: ``ZMQ_MAXMSGSIZE``: a peer sending a larger frame is
            disconnected by ZeroMQ itself.
        limits: bounds on headers and payloads (answered ``invalidMessage``).
        open_devices: open the devices on `start()` and close them on `stop()`.
        settle_timeout: seconds `stop()` waits for cancelled commands to settle.

    Raises:
        ConfigurationError: a bad device name, a device whose interface the remote does
            not carry, or bad numbers.
    """

    def __init__(
        self,
        devices: Mapping[str, Device[Any, Any]],
        endpoint: str,
        *,
        curve: CurveServerKeys | None = None,
        simulator: bool = False,
        heartbeat_interval: float = 1.0,
        max_sessions: int = 64,
        max_requests: int = 32,
        max_message_size: int = 1 << 20,
        limits: Limits = LIMITS,
        open_devices: bool = True,
        settle_timeout: float = 30.0,
    ) -> None:
        if not devices:
            raise ConfigurationError("a server needs at least one device")
        self._specs: dict[str, InterfaceSpec] = {}
        for name, device in devices.items():
            if not valid_device_name(name):
                raise ConfigurationError(f"device name {name!r} is not a-z, 0-9, '_' or '-'")
            spec = INTERFACES.get(device.interface)
            if spec is None:
                raise ConfigurationError(
                    f"device {name}: the remote does not carry {device.interface or 'its'} "
                    f"interface; it carries {', '.join(sorted(INTERFACES))}"
                )
            self._specs[name] = spec
        if not heartbeat_interval > 0:
            raise ConfigurationError(f"heartbeat_interval must be > 0, got {heartbeat_interval}")
        if max_sessions < 1 or max_requests < 1 or max_message_size < 1024:
            raise ConfigurationError("max_sessions, max_requests and max_message_size too small")
        self._devices = dict(devices)
        self._configured = endpoint
        self._curve = curve
        self._simulator = simulator
        self._interval = heartbeat_interval
        self._max_message_size = max_message_size
        self._open_devices = open_devices
        self._settle_timeout = settle_timeout
        self._bound: str | None = None
        self._context: zmq.asyncio.Context | None = None
        self._raw: zmq.Socket[bytes] | None = None
        self._socket: LoopSocket | None = None
        self._auth: AsyncioAuthenticator | None = None
        self._subscriptions: dict[str, Subscription] = {}
        self._loops: list[asyncio.Task[None]] = []
        self._lock = asyncio.Lock()
        self._dispatcher = Dispatcher(
            self._devices,
            self._specs,
            self._send_frames,
            heartbeat_interval=heartbeat_interval,
            max_sessions=max_sessions,
            max_requests=max_requests,
            limits=limits,
            cork=self._cork,
        )

    # --- lifecycle -----------------------------------------------------------------------

    @property
    def endpoint(self) -> str:
        """The bound endpoint once started (``tcp://127.0.0.1:41234``), else the one given."""
        return self._bound or self._configured

    @property
    def running(self) -> bool:
        """Between `start()` and `stop()`."""
        return self._socket is not None

    @property
    def devices(self) -> Mapping[str, str]:
        """Device name -> interface name, as the handshake reports them."""
        return {name: spec.name for name, spec in self._specs.items()}

    @property
    def session_count(self) -> int:
        """Sessions the server is serving now."""
        return len(self._dispatcher.sessions)

    async def start(self) -> None:
        """Check the endpoint policy, open the devices, bind and start serving.

        Raises:
            ConfigurationError: the policy refuses the endpoint.
            TransportError: the endpoint cannot be bound (in use, bad address).
            HalError: a device failed to open (those opened are closed again).
        """
        async with self._lock:
            if self.running:
                return
            check_endpoint_security(self._configured, self._curve, simulator=self._simulator)
            opened: list[Device[Any, Any]] = []
            try:
                if self._open_devices:
                    for device in self._devices.values():
                        await device.open()
                        opened.append(device)
                self._bind()
            except BaseException:
                await self._close_zmq()
                for device in opened:
                    await device.close()
                raise
            loop = asyncio.get_running_loop()
            for name, device in self._devices.items():
                sub = device.events(maxsize=_EVENT_QUEUE)
                self._subscriptions[name] = sub
                self._dispatcher.follow(name, sub)
                self._loops.append(loop.create_task(self._pump(name, sub)))
            assert self._raw is not None
            self._socket = LoopSocket(self._raw, self._dispatcher.handle)
            self._loops.append(loop.create_task(self._reap()))
            log.info("serving %s on %s", ", ".join(self._devices), self._bound)

    def _bind(self) -> None:
        context = self._context = zmq.asyncio.Context()
        if self._curve is not None:
            auth = self._auth = AsyncioAuthenticator(context)
            auth.start()
            allowed = self._curve.allowed_clients
            if isinstance(allowed, AnyClient) and allowed is ANY:
                auth.configure_curve(domain="*", location=zmq.auth.CURVE_ALLOW_ANY)
            else:
                assert not isinstance(allowed, AnyClient)
                auth.configure_curve_callback(
                    domain="*", credentials_provider=_AllowedKeys(allowed)
                )
        sock = self._raw = zmq.Socket(context, zmq.ROUTER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.ROUTER_MANDATORY, 1)
        sock.setsockopt(zmq.MAXMSGSIZE, self._max_message_size)
        sock.setsockopt(zmq.SNDHWM, 10_000)
        if self._curve is not None:
            sock.curve_secretkey = self._curve.secret
            sock.curve_publickey = self._curve.public
            sock.curve_server = True
        try:
            sock.bind(self._configured)
        except zmq.ZMQError as exc:
            raise TransportError(f"cannot bind {self._configured}: {exc}") from exc
        self._bound = sock.getsockopt_string(zmq.LAST_ENDPOINT)

    async def stop(self) -> None:
        """Stop serving: cancel every session's commands, let them settle, close.

        Cancelled commands still complete ``canceled`` to their clients before the
        socket closes. The devices are closed if `start()` opened them.
        """
        async with self._lock:
            if not self.running:
                return
            if self._socket is not None:
                self._socket.pause()  # no new commands while the running ones settle
            loops, self._loops = self._loops, []
            for task in loops:
                task.cancel()
            await asyncio.gather(*loops, return_exceptions=True)
            cancelled = self._dispatcher.cancel_all()
            if self._dispatcher.tasks:
                await asyncio.wait(set(self._dispatcher.tasks), timeout=self._settle_timeout)
            self._dispatcher.forget_all("the server is stopping")
            if cancelled:
                # A client (ZMQ_IMMEDIATE) drops what it has not read yet when the
                # connection goes: give it time to read the 'canceled' completions.
                await asyncio.sleep(_CLOSE_GRACE)
            for sub in self._subscriptions.values():
                sub.close()
            self._subscriptions.clear()
            try:
                if self._open_devices:
                    for device in self._devices.values():
                        await device.close()
            finally:
                await self._close_zmq()
            log.info("stopped serving on %s", self._bound)

    async def _close_zmq(self) -> None:
        if self._socket is not None:
            self._socket.close(linger=100)  # let the last completions out
        elif self._raw is not None:
            self._raw.close(linger=0)  # never served
        if self._raw is not None:
            self._socket = self._raw = None
            if self._bound is not None:
                remove_ipc_socket(self._bound)
        if self._auth is not None:
            self._auth.stop()
            self._auth = None
            await asyncio.sleep(0)  # the authenticator's cancelled task ends
            await asyncio.sleep(0)
        if self._context is not None:
            self._context.term()
            self._context = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # --- the loops -----------------------------------------------------------------------

    async def _reap(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self._interval / 2)
            self._dispatcher.reap(loop.time())

    async def _pump(self, device: str, sub: Subscription) -> None:
        while True:
            try:
                event = await sub.get()
            except EOFError:
                return
            self._dispatcher.dispatch(device, event)
            self._dispatcher.drain(device)

    def _cork(self) -> contextlib.AbstractContextManager[None]:
        return self._socket.corked() if self._socket is not None else contextlib.nullcontext()

    def _send_frames(self, frames: list[bytes]) -> BaseException | None:
        if self._socket is None:
            return None  # stopping: the socket is closed
        try:
            self._socket.send_nowait(frames)
        except zmq.ZMQError as exc:  # the peer is gone (ROUTER_MANDATORY), or not reading
            return exc
        return None
