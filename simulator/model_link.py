"""A cash dispenser (or cash acceptor) model served in its own process, at the backend
level, over ZeroMQ.

A cash acceptor (``--device cash_acceptor``: a `CashAcceptorModel`, the address
``simlink://HOST:PORT/cash_acceptor``, `simulator.model_link_acceptor.LinkAcceptorBackend`)
is served the same way with its own operations (`simulator.model_link_wire.KINDS`); the
command and the models it builds are in `simulator.model_link_cli`. What follows says
"dispenser"; the acceptor's calls behave alike.

The crash-safety suite (docs/crash.md) needs the device to outlive the HAL: a real
dispenser is a machine of its own, and an operation it started runs to its end when the
PC driving it dies. Here the simulator's `CashDispenserModel` runs in one process
(``python -m simulator.model_link``) and the HAL process reaches it through
`simulator.model_link_client.LinkBackend`, a `CashDispenserBackend` that forwards every
call; the address ``simlink://HOST:PORT/cash_dispenser?ledger=FILE`` opens a
`CashDispenserService` over it (`simulator.model_link_client.SIMLINK_DRIVER`).

`ModelLinkServer` binds a ROUTER socket. Each backend call that comes in runs as a task
of this process, so it finishes even if the client dies on the way (its answer then goes
nowhere, and the model's `operation(token)` tells the next client what it did). Events
of the model (`ItemsTaken`) and status changes are pushed to every client that said
``hello``. Messages are in `simulator.model_link_wire`. The link's own operations:

- ``hello``: register for events; answers the model's capabilities, units and this
  server's ``instance`` (random per process: a client that sees it change knows the
  model was restarted and every call in flight is lost);
- ``bye``: unregister;
- ``ping`` ``{"upto": N}``: answers ``instance`` and ``running``, the ids up to ``N`` of
  this client's calls still running, so a client knows a call is lost when it is not
  running and got no answer;
- ``cancel`` ``{"target": N}``: cancel call ``N`` (a dispense stops at the next note and
  answers with what moved);
- ``control`` ``{"target": "control"|"model"|"link", "name": NAME, "args": {...}}``:
  call a public method of the model's control
  (`simulator.cash_control.CashDispenserControl`), of the model (``ground_truth``,
  ``customer_takes``) or of the link (``wait_idle``: until the calls of other clients,
  a killed one's included, have ended) with JSON arguments; the answer is its result as
  JSON (dataclasses as objects, enums as their values).

A token the server never saw, once asked about with ``operation``, is *fenced*: a
moving call carrying it that arrives later (from a client killed just after sending it)
is refused, so the model never does what a reconcile already settled as not received.

Run it::

    python -m simulator.model_link --profile default --endpoint tcp://127.0.0.1:0 \\
        --ready-file F [--clock-scale X] [--seed N]

The ready file is one JSON object, written atomically once the socket is bound:
``{"endpoint": "tcp://127.0.0.1:PORT", "address": "simlink://127.0.0.1:PORT/
cash_dispenser", "pid": N, "profile": NAME}``. SIGTERM or SIGINT stops it. The
endpoint is loopback TCP or ``ipc://`` only: whoever reaches it can dispense.

With ``--lcdm-pty DIR`` (and an ``lcdm1000/2000/4000`` profile) the model is served
behind the LCDM wire emulator (`simulator.wire.lcdm.LcdmEmulator`) on a pty whose
symlink is ``DIR/lcdm``: the HAL reaches it with the ``lcdm+serial://`` driver, and the
link serves only the control targets (backend calls are refused: the emulator's
firmware is the model's one client). The ready file then says ``"serial": PATH`` and
``"lcdm_model": N``, and ``"address"`` is null.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import enum
import ipaddress
import logging
import os
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import zmq
import zmq.asyncio

from hal.errors import ConfigurationError, InvalidData, ProtocolError
from hal.events import Event
from hal.remote.codec import WireValueError, codec_for
from simulator.model_link_wire import KINDS, dumps, encode_error, encode_event, loads

__all__ = ["ModelLinkServer", "check_endpoint", "jsonable", "link_address", "main", "make_model"]

log = logging.getLogger(__name__)

#: Tokens remembered (started, fenced); a token older than the last this many is forgotten.
_REMEMBERED = 10_000


def check_endpoint(endpoint: str) -> None:
    """Refuse an endpoint that is not loopback TCP or ``ipc://``.

    Raises:
        ConfigurationError: another scheme or a non-loopback host.
    """
    scheme, sep, rest = endpoint.partition("://")
    if sep and scheme == "ipc" and rest:
        return
    if sep and scheme == "tcp":
        host = rest.rpartition(":")[0].strip("[]")
        if host == "localhost":
            return
        with contextlib.suppress(ValueError):
            if ipaddress.ip_address(host).is_loopback:
                return
    raise ConfigurationError(
        f"endpoint {endpoint!r}: the model link listens on loopback TCP "
        "(tcp://127.0.0.1:PORT) or ipc://PATH only: whoever reaches it can dispense"
    )


def jsonable(value: Any) -> Any:
    """A control method's result as JSON: dataclasses as objects, enums as values,
    mappings with their keys as text, sequences and sets as lists."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, enum.Enum):
        return jsonable(value.value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(jsonable(k)): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset | deque):
        return [jsonable(v) for v in value]
    return repr(value)


class _Forward:
    """The model's listener: pushes its events and status to the server's clients."""

    def __init__(self, server: ModelLinkServer) -> None:
        self._server = server

    def event(self, event: Event) -> None:
        message = encode_event(event)
        if message is not None:
            self._server.push(message)

    def status_changed(self, status: Any) -> None:
        status_type = self._server.kind.status
        self._server.push({"status": codec_for(status_type).encode(status, [])})


class _LinkTarget:
    """The control target ``link``: the server itself."""

    def __init__(self, server: ModelLinkServer) -> None:
        self._server = server

    async def wait_idle(self, timeout: float = 30.0) -> int:
        """Wait until no call but this one runs (the calls of a killed client have
        ended) and the model has no operation under way (one a wire emulator started);
        returns the calls still running then (1: this one)."""
        server = self._server
        model = server.backend
        async with asyncio.timeout(timeout):
            while len(server._running) > 1:
                ended: asyncio.Future[None] = asyncio.get_running_loop().create_future()
                server._ended.append(ended)
                await ended
            # A model driven by a wire emulator: its operation under way, too.
            wait_until = getattr(model, "wait_until", None)
            if wait_until is not None and hasattr(model, "busy"):
                await wait_until(lambda: not model.busy)
        return len(server._running)


class ModelLinkServer:
    """Serve ``backend`` (a model, or any `CashDispenserBackend` or
    `CashAcceptorBackend`) on ``endpoint``.

    Args:
        backend: what the calls run on; opened by `start`, closed by `stop`.
        device: its kind (a key of `simulator.model_link_wire.KINDS`): which operations
            are served.
        endpoint: ``tcp://127.0.0.1:PORT`` (port 0: any free one) or ``ipc://PATH``.
        controls: the objects ``control`` calls reach, by target name (``control``,
            ``model``).

    Raises:
        ConfigurationError: an endpoint that is not loopback TCP or ``ipc://``.
    """

    def __init__(
        self,
        backend: Any,
        endpoint: str,
        controls: Mapping[str, object] | None = None,
        *,
        serve_backend: bool = True,
        device: str = "cash_dispenser",
    ) -> None:
        check_endpoint(endpoint)
        if device not in KINDS:
            raise ConfigurationError(f"the model link serves {sorted(KINDS)}, not {device!r}")
        self.device = device
        self.kind = KINDS[device]
        self.backend = backend
        self.serve_backend = serve_backend
        self.endpoint = endpoint
        self.instance = os.urandom(8).hex()
        self._controls: dict[str, object] = {"link": _LinkTarget(self), **(controls or {})}
        self._context: zmq.asyncio.Context | None = None
        self._socket: zmq.asyncio.Socket | None = None
        self._outbox: asyncio.Queue[list[bytes]] = asyncio.Queue()
        self._tasks: set[asyncio.Task[None]] = set()
        self._loops: list[asyncio.Task[None]] = []
        # (client, call id) -> its task, while it runs.
        self._running: dict[tuple[bytes, int], asyncio.Task[None]] = {}
        self._clients: dict[bytes, None] = {}  # said hello (ordered; the oldest dropped first)
        self._started: dict[int, None] = {}
        self._ended: list[asyncio.Future[None]] = []  # woken when a call ends
        self._fenced: dict[int, None] = {}

    async def start(self) -> str:
        """Open the backend (unless another part of the process drives it), bind and start
        serving; returns the bound endpoint."""
        if self.serve_backend:
            await self.backend.open(_Forward(self))
        self._context = zmq.asyncio.Context()
        socket = self._context.socket(zmq.ROUTER)
        socket.setsockopt(zmq.LINGER, 0)
        try:
            socket.bind(self.endpoint)
        except zmq.ZMQError as exc:
            socket.close()
            self._context.term()
            self._context = None
            if self.serve_backend:
                await self.backend.close()
            raise ConfigurationError(f"cannot bind {self.endpoint}: {exc}") from None
        self._socket = socket
        bound = socket.getsockopt(zmq.LAST_ENDPOINT)
        assert isinstance(bound, bytes)
        self.endpoint = bound.decode()
        self._loops = [
            asyncio.create_task(self._receive(), name="model-link-receive"),
            asyncio.create_task(self._send(), name="model-link-send"),
        ]
        return self.endpoint

    async def stop(self) -> None:
        """Cancel the calls still running (a dispense answers what moved), stop serving,
        close the backend."""
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=10)
        for task in self._loops:
            task.cancel()
        for task in self._loops:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._loops = []
        if self._socket is not None:
            self._socket.close(linger=0)
            self._socket = None
        if self._context is not None:
            self._context.term()
            self._context = None
        if self.serve_backend:
            await self.backend.close()

    def push(self, message: Mapping[str, Any]) -> None:
        """Send ``message`` to every client that said hello."""
        frame = dumps(message)
        for client in self._clients:
            self._outbox.put_nowait([client, frame])

    # --- the loops ------------------------------------------------------------------

    async def _send(self) -> None:
        assert self._socket is not None
        while True:
            frames = await self._outbox.get()
            try:
                await self._socket.send_multipart(frames)
            except zmq.ZMQError as exc:  # a client gone: its answer goes nowhere
                log.info("an answer was not sent: %s", exc)

    async def _receive(self) -> None:
        assert self._socket is not None
        while True:
            frames = await self._socket.recv_multipart()
            if len(frames) < 2:
                continue
            client, frame = frames[0], frames[-1]
            try:
                message = loads(frame)
            except WireValueError as exc:
                log.warning("a message that is not one was dropped: %s", exc)
                continue
            self._dispatch(client, message)

    def _answer(self, client: bytes, call: Any, key: str, value: Any) -> None:
        self._outbox.put_nowait([client, dumps({"id": call, key: value})])

    def _dispatch(self, client: bytes, message: dict[str, Any]) -> None:
        call = message.get("id")
        op = message.get("op")
        args = message.get("args", {})
        if isinstance(call, bool) or not isinstance(call, int) or not isinstance(op, str):
            log.warning("a request without an id or op was dropped")
            return
        if type(args) is not dict:
            self._answer(client, call, "error", encode_error(InvalidData("args: not an object")))
            return
        if op == "ping":
            upto = args.get("upto", call)
            running = sorted(
                i for (c, i) in self._running if c == client and isinstance(upto, int) and i <= upto
            )
            result = {"instance": self.instance, "running": running, "upto": upto}
            self._answer(client, call, "result", result)
        elif not self.serve_backend and op in (*self.kind.ops, "hello"):
            # The model is behind a wire emulator: only its control is served here.
            refused = ProtocolError(f"{op}: this model is reached through its wire emulator")
            self._answer(client, call, "error", encode_error(refused))
        elif op == "hello":
            self._clients.pop(client, None)
            self._clients[client] = None
            while len(self._clients) > 1000:  # killed clients never say bye
                del self._clients[next(iter(self._clients))]
            result = {"instance": self.instance, "device": self.device}
            for what, tp in self.kind.hello.items():
                result[what] = codec_for(tp).encode(getattr(self.backend, what)(), [])
            self._answer(client, call, "result", result)
        elif op == "bye":
            self._clients.pop(client, None)
            self._answer(client, call, "result", None)
        elif op == "cancel":
            task = self._running.get((client, args.get("target", -1)))
            if task is not None:
                task.cancel()
            self._answer(client, call, "result", task is not None)
        elif op == "control":
            self._start(client, call, self._control(args))
        elif op in self.kind.ops:
            self._start(client, call, self._operation(op, args))
        else:
            error = encode_error(ProtocolError(f"unknown operation {op!r}"))
            self._answer(client, call, "error", error)

    def _start(self, client: bytes, call: int, work: Awaitable[Any]) -> None:
        async def run() -> None:
            try:
                result = await work
            except asyncio.CancelledError:
                error = {"type": "CancelledError", "completion": "canceled"}
                self._answer(client, call, "error", {**error, "message": "cancelled"})
            except Exception as exc:
                if not isinstance(exc, ProtocolError | InvalidData | ConfigurationError):
                    log.exception("call %s failed", call)
                self._answer(client, call, "error", encode_error(exc))
            else:
                self._answer(client, call, "result", result)
            finally:
                self._running.pop((client, call), None)
                ended, self._ended = self._ended, []
                for future in ended:
                    if not future.done():
                        future.set_result(None)

        task = asyncio.create_task(run(), name=f"model-link-call-{call}")
        self._running[(client, call)] = task
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _remember(self, table: dict[int, None], token: int) -> None:
        table[token] = None
        while len(table) > _REMEMBERED:
            del table[next(iter(table))]

    async def _operation(self, op: str, data: Any) -> Any:
        spec = self.kind.ops[op]
        try:
            args = spec.decode_args(data)
        except WireValueError as exc:
            raise InvalidData(f"{op}: {exc}") from None
        if op in self.kind.moving:
            token = args[-1]
            if token in self._fenced:
                raise ProtocolError(
                    f"{op}: token {token} arrived after a reconcile asked for it; refused"
                )
            self._remember(self._started, token)
        elif op == "operation" and args[0] not in self._started:
            self._remember(self._fenced, args[0])
        method: Callable[..., Awaitable[Any]] = getattr(self.backend, op)
        return spec.encode_result(await method(*args))

    async def _control(self, data: dict[str, Any]) -> Any:
        target = self._controls.get(str(data.get("target", "control")))
        name = data.get("name")
        args = data.get("args", {})
        if target is None or not isinstance(name, str) or name.startswith("_"):
            raise InvalidData(f"control: no such target or method ({data.get('target')}, {name})")
        method = getattr(target, name, None)
        if not callable(method) or type(args) is not dict:
            raise InvalidData(f"control: {name} is not a method, or its args not an object")
        try:
            result = method(**args)
        except TypeError as exc:
            raise InvalidData(f"control: {name}: {exc}") from None
        if asyncio.iscoroutine(result) or isinstance(result, asyncio.Future):
            result = await result
        return jsonable(result)


# --- the model and the command (simulator.model_link_cli) ---------------------------------


def link_address(endpoint: str, device: str = "cash_dispenser") -> str:
    """The ``simlink://`` address of a bound endpoint."""
    scheme, _, rest = endpoint.partition("://")
    if scheme != "tcp":
        raise ConfigurationError(f"{endpoint}: a simlink address reaches tcp:// endpoints only")
    return f"simlink://{rest}/{device}"


def make_model(
    profile: str, *, clock_scale: float, seed: int, device: str = "cash_dispenser"
) -> tuple[Any, dict[str, object]]:
    """`simulator.model_link_cli.make_model`: the model of ``profile`` and its control
    targets."""
    from simulator.model_link_cli import make_model as make

    return make(profile, clock_scale=clock_scale, seed=seed, device=device)


def main(argv: list[str] | None = None) -> int:
    """``python -m simulator.model_link`` (`simulator.model_link_cli.main`)."""
    from simulator.model_link_cli import main as run

    return run(argv)


if __name__ == "__main__":
    raise SystemExit(main())
