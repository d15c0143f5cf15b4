"""The simulator as a service: a world's devices over ZeroMQ, and its control socket.

`SimServer` is what ``tellerhal sim`` runs: it builds a `simulator.world.World` from a
scenario, serves its devices with `hal.remote.RemoteServer` (``simulator=True``: plain
TCP is allowed on loopback only) and opens a `ControlServer`, through which another
process acts as the customer, the operator or fate (`simulator.remote_control`).

The control socket is a ROUTER speaking the envelope of the remote
(`hal.remote.messages`): each command is answered with one ``acknowledge`` and then one
``completion``; the commands are in `simulator.control_commands`. It is opened by the
simulator only; ``tellerhal serve`` never opens one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Awaitable, Callable, Mapping
from pathlib import PurePosixPath
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, Self

import zmq
import zmq.asyncio

from hal.devices.card_reader_service import CardReaderService
from hal.devices.pin_pad_service import PinPadService
from hal.errors import (
    Completion,
    ConfigurationError,
    HalError,
    TransactionActive,
    TransportError,
)
from hal.ledger import Ledger
from hal.remote import RemoteServer
from hal.remote.codec import WireValueError, codec_for
from hal.remote.messages import AckStatus, Limits, MessageError, MessageType, decode
from hal.remote.registration import remote_address
from hal.remote.security import check_endpoint_security, endpoint_scheme, remove_ipc_socket
from hal.remote.sessions import Outbox, Outcome
from simulator.cash_control import CashDispenserControl
from simulator.control import CardReaderControl
from simulator.control_commands import (
    CARD_READER,
    CASH_DISPENSER,
    COMMANDS,
    PIN_PAD,
    ControlCommand,
    CountCompletion,
    EntryActiveCompletion,
    GroundTruthCompletion,
    PositionCompletion,
)
from simulator.pin_pad_control import PinPadControl
from simulator.scenario import Scenario, run_customer
from simulator.world import CardReaderSetup, World

if TYPE_CHECKING:
    from hal.devices.cash_dispenser_service import CashDispenserService
    from simulator.sim_cash_service import SimCashDispenserService

__all__ = ["DEFAULT_ENDPOINT", "ControlServer", "SimServer", "default_control_endpoint"]

log = logging.getLogger(__name__)

#: Where ``tellerhal sim`` serves its devices unless told otherwise.
DEFAULT_ENDPOINT: Final = "tcp://127.0.0.1:5740"

_ACCEPT: Final = frozenset({MessageType.COMMAND})
_LIMITS: Final = Limits(max_header=2048, max_payload=4096, max_blobs=0, max_depth=4)
_SUCCESS: Final = Completion.SUCCESS.value


def default_control_endpoint(endpoint: str) -> str:
    """The control socket's endpoint next to the devices' ``endpoint``.

    ``tcp://HOST:PORT`` gives the next port (port 0 stays 0: both ephemeral);
    ``ipc:///dir/sim.sock`` gives ``ipc:///dir/sim-control.sock``; ``ipc://@name`` and
    ``inproc://name`` get ``-control`` appended.

    Raises:
        ConfigurationError: not a ZeroMQ endpoint, or port 65535.
    """
    scheme = endpoint_scheme(endpoint)
    rest = endpoint.partition("://")[2]
    if scheme == "tcp":
        host, _, port = rest.rpartition(":")
        if not port.isdigit() or int(port) >= 65535:
            raise ConfigurationError(f"{endpoint}: give --control (no port after {port!r})")
        return f"tcp://{host}:{int(port) + 1 if int(port) else 0}"
    if scheme == "ipc" and not rest.startswith("@"):
        path = PurePosixPath(rest)
        return f"ipc://{path.with_name(f'{path.stem}-control{path.suffix}')}"
    return f"{endpoint}-control"


# --- the control socket ------------------------------------------------------------------


async def _insert_card(control: CardReaderControl, payload: Any) -> Any:
    return await control.insert_card(payload.profile)


async def _take_card(control: CardReaderControl, payload: Any) -> Any:
    await control.take_card(timeout=payload.timeout)


async def _jam(control: CardReaderControl, payload: Any) -> Any:
    await control.jam()


async def _clear_jam(control: CardReaderControl, payload: Any) -> Any:
    await control.clear_jam()


async def _position(control: CardReaderControl, payload: Any) -> Any:
    return PositionCompletion(await control.card_position())


async def _retained(control: CardReaderControl, payload: Any) -> Any:
    return CountCompletion(await control.retained_count())


async def _empty_bin(control: CardReaderControl, payload: Any) -> Any:
    return CountCompletion(await control.empty_retain_bin())


async def _stacker(control: CardReaderControl, payload: Any) -> Any:
    return CountCompletion(await control.stacker_count())


async def _load_stacker(control: CardReaderControl, payload: Any) -> Any:
    await control.load_stacker(payload.count)


async def _power(control: CardReaderControl, payload: Any) -> Any:
    await control.power_loss(payload.on)


async def _slow(control: CardReaderControl, payload: Any) -> Any:
    await control.slow_replies(payload.seconds)


async def _wait_for(control: CardReaderControl, payload: Any) -> Any:
    await control.wait_for(payload.condition, timeout=payload.timeout)


_ACTIONS: Final[dict[str, Callable[[CardReaderControl, Any], Awaitable[Any]]]] = {
    "Control.InsertCard": _insert_card,
    "Control.TakeCard": _take_card,
    "Control.Jam": _jam,
    "Control.ClearJam": _clear_jam,
    "Control.CardPosition": _position,
    "Control.RetainedCount": _retained,
    "Control.EmptyRetainBin": _empty_bin,
    "Control.StackerCount": _stacker,
    "Control.LoadStacker": _load_stacker,
    "Control.PowerLoss": _power,
    "Control.SlowReplies": _slow,
    "Control.WaitFor": _wait_for,
}


async def _press_keys(control: PinPadControl, payload: Any) -> Any:
    await control.press_keys(payload.keys, timeout=payload.timeout)


async def _wait_for_entry(control: PinPadControl, payload: Any) -> Any:
    await control.wait_for_entry(payload.timeout)


async def _entry_active(control: PinPadControl, payload: Any) -> Any:
    return EntryActiveCompletion(await control.entry_active())


async def _pad_power(control: PinPadControl, payload: Any) -> Any:
    await control.power_loss(payload.on)


async def _pad_slow(control: PinPadControl, payload: Any) -> Any:
    await control.slow_replies(payload.seconds)


_PIN_PAD_ACTIONS: Final[dict[str, Callable[[PinPadControl, Any], Awaitable[Any]]]] = {
    "Control.PressKeys": _press_keys,
    "Control.WaitForEntry": _wait_for_entry,
    "Control.EntryActive": _entry_active,
    "Control.PowerLoss": _pad_power,
    "Control.SlowReplies": _pad_slow,
}


async def _take_notes(control: CashDispenserControl, payload: Any) -> Any:
    return CountCompletion(await control.take_notes(timeout=payload.timeout))


async def _notes_at_exit(control: CashDispenserControl, payload: Any) -> Any:
    return CountCompletion(await control.notes_at_exit())


async def _ground_truth(control: CashDispenserControl, payload: Any) -> Any:
    return GroundTruthCompletion(dict(await control.ground_truth()))


_CASH_ACTIONS: Final[dict[str, Callable[[CashDispenserControl, Any], Awaitable[Any]]]] = {
    "Control.TakeNotes": _take_notes,
    "Control.NotesAtExit": _notes_at_exit,
    "Control.GroundTruth": _ground_truth,
    "Control.Replenish": lambda c, p: c.replenish(p.unit, p.count),
    "Control.ClearJam": lambda c, p: c.clear_jam(),
    "Control.JamNextDispense": lambda c, p: c.jam_next_dispense(p.after_notes),
    "Control.DoubleNote": lambda c, p: c.double_note_next_pick(p.unit),
    "Control.FailPick": lambda c, p: c.fail_next_pick(p.unit),
    "Control.UnitStatus": lambda c, p: c.set_unit_status(p.unit, p.status),
    "Control.JamShutter": lambda c, p: c.jam_shutter(),
    "Control.PartialRetract": lambda c, p: c.partial_retract(p.leave),
    "Control.NeverTake": lambda c, p: c.never_take(p.never),
    "Control.SafeDoor": lambda c, p: c.safe_door(p.open),
    "Control.PickTime": lambda c, p: c.pick_time(p.seconds),
    "Control.PowerLoss": lambda c, p: c.power_loss(p.on),
    "Control.SlowReplies": lambda c, p: c.slow_replies(p.seconds),
}


def _outcome(exc: BaseException, name: str) -> Outcome:
    if isinstance(exc, asyncio.CancelledError):
        return Outcome(Completion.CANCELED.value, description="the simulator is stopping")
    if isinstance(exc, HalError):
        return Outcome(exc.completion.value, error_code=exc.error_code, description=exc.message)
    if isinstance(exc, ValueError):  # an unknown condition: the caller's mistake
        return Outcome(Completion.INVALID_DATA.value, description=str(exc)[:500])
    log.error("%s failed unexpectedly", name, exc_info=(type(exc), exc, exc.__traceback__))
    return Outcome(Completion.INTERNAL_ERROR.value, description=f"{name} failed; see the log")


class ControlServer:
    """The simulator's control socket: a ROUTER acting on a world's devices.

    Args:
        endpoint: where to bind (loopback TCP, ``ipc://`` in a 0700 directory, ...;
            the policy of `hal.remote.security.check_endpoint_security` for a simulator).
        world: gives the world acted on (it changes on ``Control.Reset``).
        reset: what ``Control.Reset`` runs; ``None`` refuses it.
        max_requests: live commands per peer; more are refused ``tooManyRequests``.
    """

    def __init__(
        self,
        endpoint: str,
        world: Callable[[], World],
        *,
        reset: Callable[[], Awaitable[None]] | None = None,
        max_requests: int = 32,
    ) -> None:
        self._configured = endpoint
        self._world = world
        self._reset = reset
        self._max_requests = max_requests
        self._bound: str | None = None
        self._context: zmq.asyncio.Context | None = None
        self._socket: zmq.asyncio.Socket | None = None
        self._receiver: asyncio.Task[None] | None = None
        self._live: dict[tuple[bytes, int], asyncio.Task[None]] = {}
        self._out = Outbox(self._send, lambda session, reason: None)

    @property
    def endpoint(self) -> str:
        """The bound endpoint once started, else the one given."""
        return self._bound or self._configured

    async def start(self) -> None:
        """Check the endpoint policy, bind and start answering.

        Raises:
            ConfigurationError: the policy refuses the endpoint.
            TransportError: it cannot be bound.
        """
        if self._socket is not None:
            return
        check_endpoint_security(self._configured, None, simulator=True)
        context = self._context = zmq.asyncio.Context()
        sock = self._socket = context.socket(zmq.ROUTER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.ROUTER_MANDATORY, 1)
        sock.setsockopt(zmq.MAXMSGSIZE, 64 * 1024)
        try:
            sock.bind(self._configured)
        except zmq.ZMQError as exc:
            await self.stop()
            raise TransportError(f"cannot bind {self._configured}: {exc}") from exc
        self._bound = sock.getsockopt_string(zmq.LAST_ENDPOINT)
        self._receiver = asyncio.get_running_loop().create_task(self._receive())

    async def stop(self) -> None:
        """Stop answering; commands still running complete ``canceled``."""
        receiver, self._receiver = self._receiver, None
        if receiver is not None:
            receiver.cancel()
            await asyncio.gather(receiver, return_exceptions=True)
        tasks = list(self._live.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._live.clear()  # commands cancelled before they started
        if self._socket is not None:
            self._socket.close(linger=100)  # let the last completions out
            self._socket = None
            if self._bound is not None:
                remove_ipc_socket(self._bound)
        if self._context is not None:
            self._context.term()
            self._context = None

    async def _receive(self) -> None:
        sock = self._socket
        assert sock is not None
        while True:
            frames = await sock.recv_multipart()
            try:
                self._handle(frames)
            except Exception:  # a bug must not stop the control socket
                log.exception("failed to handle a control message")

    def _send(self, frames: list[bytes]) -> BaseException | None:
        if self._socket is None:
            return None
        sent = self._socket.send_multipart(frames, flags=zmq.DONTWAIT)
        if isinstance(sent, asyncio.Future) and sent.done() and sent.exception() is not None:
            log.debug("a control answer was dropped: %s", sent.exception())
        return None  # a peer gone is no concern of the simulator's

    def _handle(self, frames: list[bytes]) -> None:
        peer = frames[0]
        try:
            message = decode(frames[1:], accept=_ACCEPT, limits=_LIMITS)
        except MessageError as exc:
            self._out.ack(peer, exc.request_id, exc.name, exc.status, exc.description)
            return
        header = message.header
        request_id, name, device = header.request_id, header.name, header.device
        assert request_id is not None  # decode() refuses a command without one

        def refuse(status: AckStatus, text: str) -> None:
            self._out.ack(peer, request_id, name, status, text, device)

        command = COMMANDS.get(name)
        if command is None:
            refuse(AckStatus.INVALID_MESSAGE, f"{name} is not one of {', '.join(COMMANDS)}")
            return
        if command.device:
            world = self._world()
            by_kind: Mapping[str, Mapping[str, object]] = {
                CARD_READER: world.card_readers,
                PIN_PAD: world.pin_pads,
                CASH_DISPENSER: world.cash_dispensers,
            }
            offered: dict[str, object] = {}
            for kind in command.kinds:
                offered.update(by_kind.get(kind, world.models))
            if device not in offered:
                wanted = "a device in the header" if device is None else f"no device {device!r}"
                refuse(AckStatus.INVALID_MESSAGE, f"{name}: {wanted}; offered: {_list(offered)}")
                return
        elif device is not None:
            refuse(AckStatus.INVALID_MESSAGE, f"{name} acts on no device")
            return
        try:
            payload = codec_for(command.payload).decode(message.payload, (), "")
        except WireValueError as exc:
            refuse(AckStatus.INVALID_MESSAGE, f"{name}: {exc}")
            return
        if (peer, request_id) in self._live:
            refuse(AckStatus.INVALID_REQUEST_ID, f"requestId {request_id} is still live")
            return
        if sum(1 for p, _ in self._live if p == peer) >= self._max_requests:
            refuse(AckStatus.TOO_MANY_REQUESTS, f"{self._max_requests} commands are running")
            return
        self._out.ack(peer, request_id, name, device=device)
        key = (peer, request_id)
        task = asyncio.get_running_loop().create_task(self._run(key, command, device, payload))
        self._live[key] = task

    async def _run(
        self, key: tuple[bytes, int], command: ControlCommand, device: str | None, payload: Any
    ) -> None:
        peer, request_id = key
        completion: dict[str, Any] | None = None
        blobs: list[bytes] = []
        try:
            result = await self._act(command, device, payload)
            if command.completion is not None:
                completion = codec_for(command.completion).encode(result, blobs)
            outcome = Outcome(_SUCCESS)
        except BaseException as exc:  # CancelledError included: it ends this command only
            outcome = _outcome(exc, command.name)
            blobs = []
        finally:
            del self._live[key]
        self._out.completion(peer, request_id, command.name, device, outcome, completion, blobs)

    async def _act(self, command: ControlCommand, device: str | None, payload: Any) -> Any:
        if command.name == "Control.Reset":
            if self._reset is None:
                raise ConfigurationError("this control socket cannot reset its world")
            await self._reset()
            return None
        assert device is not None
        world = self._world()
        if device in world.pin_pads:
            return await _PIN_PAD_ACTIONS[command.name](world.pin_pad_control(device), payload)
        if device in world.cash_dispensers:
            cash = world.cash_dispenser_control(device)
            return await _CASH_ACTIONS[command.name](cash, payload)
        control = world.card_reader_control(device)
        return await _ACTIONS[command.name](control, payload)


def _list(names: Mapping[str, object]) -> str:
    return ", ".join(sorted(names)) or "none"


# --- the simulator service ---------------------------------------------------------------


class SimServer:
    """A simulated kiosk served over ZeroMQ, with its control socket.

    Args:
        scenario: the devices (and the scripted customer) to simulate; ``None`` for one
            card reader with the default setup.
        endpoint: where the devices are served (port 0 picks one; see `endpoint`).
        control: the control socket's endpoint; by default `default_control_endpoint`.
        seed: the world's seed (the scenario's by default).
        clock_scale: real seconds per simulated second (the scenario's by default).
        ledger: the ledger file of the devices; ``None`` keeps counts in memory.
        heartbeat_interval: the remote's heartbeat interval, seconds.
        customer: run the scenario's scripted customer (again after each reset).
    """

    def __init__(
        self,
        scenario: Scenario | None = None,
        endpoint: str = DEFAULT_ENDPOINT,
        control: str | None = None,
        *,
        seed: int | None = None,
        clock_scale: float | None = None,
        ledger: str | os.PathLike[str] | None = None,
        heartbeat_interval: float = 1.0,
        customer: bool = False,
    ) -> None:
        if clock_scale is not None and not clock_scale > 0:
            raise ConfigurationError(f"clock_scale must be > 0, got {clock_scale}")
        self.scenario = scenario
        self._endpoint = endpoint
        self._control = ControlServer(
            control or default_control_endpoint(endpoint), lambda: self.world, reset=self.reset
        )
        self._seed = seed
        self._clock_scale = clock_scale
        self._ledger = os.fspath(ledger) if ledger is not None else None
        self._interval = heartbeat_interval
        self._customer = customer
        self.world = self._build_world()
        self._services: dict[str, CardReaderService | PinPadService | CashDispenserService] = {}
        self._shared_ledger: Ledger | None = None
        self._server: RemoteServer | None = None
        self._customer_task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    @property
    def endpoint(self) -> str:
        """Where the devices are served (the bound endpoint once started)."""
        return self._server.endpoint if self._server is not None else self._endpoint

    @property
    def control_endpoint(self) -> str:
        """The control socket's endpoint (bound once started)."""
        return self._control.endpoint

    @property
    def addresses(self) -> dict[str, str]:
        """Device name -> the ``zmq://`` address that reaches it."""
        return {name: remote_address(self.endpoint, name) for name in self.world.models}

    def _build_world(self) -> World:
        scenario = self.scenario
        world = World(
            scenario.name if scenario is not None else "sim",
            seed=self._seed if self._seed is not None else scenario.seed if scenario else 0,
            clock_scale=self._clock_scale or (scenario.clock_scale if scenario else 1.0),
        )
        setups = dict(scenario.card_readers) if scenario is not None else {}
        for name, setup in (setups or {"card_reader": CardReaderSetup()}).items():
            world.card_reader(name, setup)
        for name, pad_setup in (scenario.pin_pads if scenario is not None else {}).items():
            world.pin_pad(name, pad_setup)
        for name, cash_setup in (scenario.cash_dispensers if scenario is not None else {}).items():
            world.cash_dispenser(name, cash_setup)
        return world

    async def start(self) -> None:
        """Open the devices, serve them, open the control socket, start the customer.

        Raises:
            ConfigurationError: an endpoint the policy refuses.
            TransportError: an endpoint that cannot be bound.
        """
        async with self._lock:
            try:
                await self._serve()
                await self._control.start()
            except BaseException:
                await self._unserve()
                raise
            self._start_customer()

    async def stop(self) -> None:
        """Close the control socket, stop serving (commands settle) and close the devices."""
        async with self._lock:
            await self._control.stop()
            await self._unserve()

    async def reset(self) -> None:
        """A fresh world: new models from the scenario, served on the same endpoint.

        Sessions of clients still connected are dropped (their next call reconnects).
        With a ledger file, the journal stays and records the retain bins emptied, as
        an operator would when replacing the reader, and the new cash cassettes counted
        in (an exchange).
        """
        async with self._lock:
            await self._unserve()
            self.world = self._build_world()
            await self._serve(fresh_bins=True)
            self._start_customer()

    async def _serve(self, *, fresh_bins: bool = False) -> None:
        ledger: Ledger | str | None = self._ledger
        if self._ledger is not None and self.world.cash_dispensers:
            # One writer per ledger file: the devices share one open ledger.
            ledger = self._shared_ledger = Ledger.open(self._ledger)
        for name in self.world.card_readers:
            service = self.world.open_card_reader(name, ledger=ledger)
            await service.open()
            self._services[name] = service
            if fresh_bins and (await service.retain_bin()).count:
                await service.empty_retain_bin(reason="simulator reset: a fresh world")
        for name in self.world.pin_pads:
            pad = self.world.open_pin_pad(name)
            await pad.open()
            self._services[name] = pad
        for name in self.world.cash_dispensers:
            cash = self.world.open_cash_dispenser(name, ledger=ledger)
            await cash.open()
            self._services[name] = cash
            if fresh_bins:
                await _count_in_new_cassettes(cash)
        server = RemoteServer(
            self._services,
            self.endpoint,
            simulator=True,
            heartbeat_interval=self._interval,
            open_devices=False,
        )
        await server.start()
        self._server = server

    async def _unserve(self) -> None:
        task, self._customer_task = self._customer_task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        server, self._server = self._server, None
        if server is not None:
            self._endpoint = server.endpoint  # a restart binds the same port again
            await server.stop()
        services, self._services = self._services, {}
        for service in services.values():
            with contextlib.suppress(HalError):
                await service.close()
        shared, self._shared_ledger = self._shared_ledger, None
        if shared is not None:
            shared.close()

    def _start_customer(self) -> None:
        scenario = self.scenario
        if not self._customer or scenario is None or not scenario.customer:
            return
        task = asyncio.get_running_loop().create_task(run_customer(self.world, scenario))
        task.add_done_callback(_report_customer)
        self._customer_task = task

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


async def _count_in_new_cassettes(cash: SimCashDispenserService) -> None:
    """A reset world has new cassettes: the operator counts them in (an exchange)."""
    try:
        await cash.count_in()
    except TransactionActive as exc:
        log.warning(
            "%s: the new cassettes are not counted in; the books hold notes in the "
            "stacker, transport or exit (%s)",
            cash.name,
            exc.message,
        )


def _report_customer(task: asyncio.Task[None]) -> None:
    if task.cancelled():
        return
    exc = task.exception()
    if exc is not None:
        log.warning("the scripted customer stopped: %s: %s", type(exc).__name__, exc)
    else:
        log.info("the scripted customer is done")
