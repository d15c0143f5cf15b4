"""The HAL side of the model link: `LinkBackend`, a `CashDispenserBackend` that forwards
every call to a model served by ``python -m simulator.model_link``, `LinkControl` for
the model's control, and the ``simlink`` driver.

Addresses (entry point ``simlink`` in group ``tellerhal.drivers``)::

    simlink://127.0.0.1:PORT/cash_dispenser[?ledger=FILE&timeout=S&heartbeat=S]

open a `CashDispenserService` over a `LinkBackend` to ``tcp://127.0.0.1:PORT``, with
its ledger in ``FILE`` (in memory when empty).

A lost link is `ConnectionLost`: no answer to ``hello`` within ``timeout``; while calls
are in flight the backend pings every ``heartbeat`` seconds, and a call fails with
`ConnectionLost` when the server is silent for ``timeout`` seconds, answers from another
instance (the model process was restarted), or says the call is not running and no
answer came (it never arrived). The model may have done it all the same: the service
leaves its movements pending and reconciles them with ``operation(token)``.

Cancelling a moving call (a dispense) asks the model to stop and waits for what moved:
the backend returns that report, as the backend contract says.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import math
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import zmq
import zmq.asyncio

from hal.address import DeviceAddress
from hal.device import BackendListener
from hal.devices.cash_dispenser import (
    CashDispenserCapabilities,
    CashDispenserStatus,
    CashUnitInfo,
    Contents,
    MoveReport,
    OperationRecord,
    RetractArea,
    UnitSensor,
)
from hal.errors import ConfigurationError, ConnectionLost, HalError, ProtocolError
from hal.registry import DriverSpec
from hal.remote.codec import WireValueError, codec_for
from simulator.model_link_wire import KINDS, MOVING, decode_error, decode_event, dumps, loads

__all__ = [
    "SIMLINK_DRIVER",
    "LinkBackend",
    "LinkControl",
    "LinkOptions",
    "open_link_device",
]


class _Call:
    """One call in flight: its future and whether it may be lost."""

    __slots__ = ("future", "op")

    def __init__(self, op: str) -> None:
        self.op = op
        self.future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()


def _forget(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()


class _Link:
    """A DEALER socket to the server, its reader and its heartbeat."""

    def __init__(
        self,
        endpoint: str,
        *,
        timeout: float,
        heartbeat: float,
        moving: frozenset[str] = MOVING,
    ) -> None:
        self.endpoint = endpoint
        self.moving = moving
        self.timeout = timeout
        self.heartbeat = heartbeat
        self.instance: str | None = None
        self.on_message: Any = None  # (message) -> None for pushed events
        self._ids = itertools.count(1)
        self._calls: dict[int, _Call] = {}
        self._context = zmq.asyncio.Context()
        self._socket = self._context.socket(zmq.DEALER)
        self._socket.setsockopt(zmq.LINGER, 0)
        self._socket.setsockopt(zmq.ROUTING_ID, os.urandom(12))
        self._socket.connect(endpoint)
        self._heard = time.monotonic()
        self._tasks = [
            asyncio.create_task(self._receive(), name="model-link-client-receive"),
            asyncio.create_task(self._beat(), name="model-link-client-heartbeat"),
        ]
        self.closed = False

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._fail_all("the link is closed")
        self._socket.close(linger=0)
        self._context.term()

    def _fail_all(self, why: str) -> None:
        for call_id, call in list(self._calls.items()):
            if not call.future.done():
                call.future.set_exception(ConnectionLost(f"{self.endpoint}: {call.op}: {why}"))
            self._calls.pop(call_id, None)

    def send(self, op: str, args: Mapping[str, Any], *, forget: bool = False) -> tuple[int, _Call]:
        """Send a call; with ``forget``, nobody awaits its answer."""
        if self.closed:
            raise ConnectionLost(f"{self.endpoint}: the link is closed")
        call_id = next(self._ids)
        call = _Call(op)
        if not self._calls:
            self._heard = time.monotonic()  # silence counts from the first call out
        self._calls[call_id] = call
        if forget:
            call.future.add_done_callback(_forget)
        self._socket.send(dumps({"id": call_id, "op": op, "args": dict(args)}), zmq.NOBLOCK)
        return call_id, call

    async def call(self, op: str, args: Mapping[str, Any]) -> Any:
        """Send and wait for the answer's result (raising its error)."""
        call_id, call = self.send(op, args)
        try:
            answer = await asyncio.shield(call.future)
        except asyncio.CancelledError:
            if op in self.moving and not self.closed:
                return await self._finish_cancelled(call_id, call)
            self._calls.pop(call_id, None)
            if not self.closed:
                with contextlib.suppress(ConnectionLost):
                    self.send("cancel", {"target": call_id}, forget=True)
            raise
        return self._result(op, answer)

    async def _finish_cancelled(self, call_id: int, call: _Call) -> Any:
        """A moving call was cancelled: ask the model to stop, wait for what moved."""
        self.send("cancel", {"target": call_id}, forget=True)
        cancels = 0
        while True:
            try:
                answer = await asyncio.shield(call.future)
                break
            except asyncio.CancelledError:
                cancels += 1  # already stopping: wait for its report
        task = asyncio.current_task()
        if task is not None:
            for _ in range(cancels):
                task.uncancel()
        return self._result(call.op, answer)

    def _result(self, op: str, answer: dict[str, Any]) -> Any:
        if "error" in answer:
            error = answer["error"]
            if isinstance(error, dict) and error.get("type") == "CancelledError":
                raise asyncio.CancelledError()
            raise decode_error(error, self.endpoint)
        return answer.get("result")

    async def _receive(self) -> None:
        while True:
            frame = await self._socket.recv()
            self._heard = time.monotonic()
            try:
                message = loads(frame)
            except WireValueError:
                continue
            call_id = message.get("id")
            if call_id is None:
                if self.on_message is not None:
                    self.on_message(message)
                continue
            call = self._calls.pop(call_id, None) if isinstance(call_id, int) else None
            if call is None:
                continue
            if call.op in ("ping", "hello") and "result" in message:
                self._check_instance(message["result"], call)
            if not call.future.done():
                call.future.set_result(message)

    def _check_instance(self, result: Any, call: _Call) -> None:
        instance = result.get("instance") if isinstance(result, dict) else None
        if self.instance is None:  # the first answer that says which process it is
            self.instance = instance
        if instance != self.instance:
            self._fail_all("the model process was restarted; the call's outcome is its own")
            self.instance = instance
            if call.op == "ping" and self.on_message is not None:
                self.on_message({"restarted": True})
            return
        if call.op == "ping":
            running = set(result.get("running", ()))
            upto = result.get("upto", 0)
            upto = upto if isinstance(upto, int) else 0
            for call_id, other in list(self._calls.items()):
                if call_id <= upto and call_id not in running and other.op != "ping":
                    self._calls.pop(call_id, None)
                    if not other.future.done():
                        other.future.set_exception(
                            ConnectionLost(
                                f"{self.endpoint}: {other.op}: the model never got the call"
                            )
                        )

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat)
            waiting = [i for i, c in self._calls.items() if c.op != "ping"]
            if not waiting:
                self._heard = time.monotonic()
                continue
            if time.monotonic() - self._heard > self.timeout:
                self._fail_all(f"the model was silent for {self.timeout:g} s")
                continue
            # Nobody awaits a ping: its answer is read in _check_instance.
            self.send("ping", {"upto": max(waiting)}, forget=True)


class LinkBackendBase:
    """What the link's backends share: the link, ``hello`` (the device's fixed
    description, kept), pushed events and status, and forwarding a call.

    Args:
        endpoint: the server's socket (``tcp://127.0.0.1:PORT`` or ``ipc://PATH``).
        timeout: seconds for ``hello``, and of silence while a call is in flight.
        heartbeat: seconds between pings while a call is in flight.
    """

    #: The kind of device (a key of `simulator.model_link_wire.KINDS`).
    device = "cash_dispenser"

    def __init__(self, endpoint: str, *, timeout: float = 5.0, heartbeat: float = 0.5) -> None:
        self.endpoint = endpoint
        self._kind = KINDS[self.device]
        self._timeout = timeout
        self._heartbeat = heartbeat
        self._link: _Link | None = None
        self._listener: BackendListener[Any] | None = None
        self._fixed: dict[str, Any] = {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.endpoint!r})"

    async def open(self, listener: BackendListener[Any]) -> None:
        if self._link is not None:
            return
        link = _Link(
            self.endpoint,
            timeout=self._timeout,
            heartbeat=self._heartbeat,
            moving=self._kind.moving,
        )
        link.on_message = self._pushed
        self._listener = listener
        try:
            async with asyncio.timeout(self._timeout):
                hello = await link.call("hello", {})
        except TimeoutError:
            await link.close()
            raise ConnectionLost(
                f"{self.endpoint}: no model answered within {self._timeout:g} s"
            ) from None
        except BaseException:
            await link.close()
            raise
        if hello.get("device", "cash_dispenser") != self.device:
            await link.close()
            raise ConfigurationError(
                f"{self.endpoint} serves a {hello.get('device')}, not a {self.device}"
            )
        try:
            self._fixed = {
                what: codec_for(tp).decode(hello[what], (), what)
                for what, tp in self._kind.hello.items()
            }
        except (WireValueError, KeyError, TypeError) as exc:
            await link.close()
            raise ProtocolError(f"{self.endpoint}: a hello that does not fit: {exc}") from None
        self._link = link

    async def close(self) -> None:
        link, self._link = self._link, None
        if link is None:
            return
        with contextlib.suppress(HalError, TimeoutError):
            link.send("bye", {}, forget=True)
            await asyncio.sleep(0)  # let the frame go out before the socket closes
        await link.close()

    def _pushed(self, message: dict[str, Any]) -> None:
        listener = self._listener
        if listener is None:
            return
        if "event" in message:
            with contextlib.suppress(WireValueError):
                listener.event(decode_event(message))
        elif "status" in message:
            with contextlib.suppress(WireValueError):
                status = codec_for(self._kind.status).decode(message["status"], (), "status")
                listener.status_changed(status)
        elif message.get("restarted") and self._link is not None:
            # A new model process: say hello again, so its events reach us.
            with contextlib.suppress(HalError):
                self._link.send("hello", {}, forget=True)

    def _hello(self, what: str) -> Any:
        if what not in self._fixed:
            raise ConnectionLost(f"{self.endpoint}: not open")
        return self._fixed[what]

    def units(self) -> tuple[CashUnitInfo, ...]:
        units: tuple[CashUnitInfo, ...] = self._fixed.get("units", ())
        return units

    async def _op(self, op: str, *args: Any) -> Any:
        if self._link is None:
            raise ConnectionLost(f"{self.endpoint}: not open")
        spec = self._kind.ops[op]
        result = await self._link.call(op, spec.encode_args(args))
        try:
            return spec.decode_result(result)
        except WireValueError as exc:
            raise ProtocolError(f"{self.endpoint}: {op} answered {exc}") from None

    # The calls both cash devices' backends make alike.

    async def reset(self, token: int) -> MoveReport:
        report: MoveReport = await self._op("reset", token)
        return report

    async def operation(self, token: int) -> OperationRecord | None:
        record: OperationRecord | None = await self._op("operation", token)
        return record

    async def exchange(self, active: bool) -> None:
        await self._op("exchange", active)


class LinkBackend(LinkBackendBase):
    """A `CashDispenserBackend` forwarding to a model served by `simulator.model_link`
    (the arguments are `LinkBackendBase`'s)."""

    device = "cash_dispenser"

    def capabilities(self) -> CashDispenserCapabilities:
        capabilities: CashDispenserCapabilities = self._hello("capabilities")
        return capabilities

    async def get_status(self) -> CashDispenserStatus:
        status: CashDispenserStatus = await self._op("get_status")
        return status

    async def sensors(self) -> tuple[UnitSensor, ...]:
        sensors: tuple[UnitSensor, ...] = await self._op("sensors")
        return sensors

    async def dispense(self, counts: Mapping[str, int], token: int) -> MoveReport:
        report: MoveReport = await self._op("dispense", dict(counts), token)
        return report

    async def present(self, token: int) -> MoveReport:
        report: MoveReport = await self._op("present", token)
        return report

    async def retract(self, area: RetractArea, token: int) -> MoveReport:
        report: MoveReport = await self._op("retract", area, token)
        return report

    async def reject(self, token: int) -> MoveReport:
        report: MoveReport = await self._op("reject", token)
        return report

    async def count(self, units: tuple[str, ...], token: int) -> MoveReport:
        report: MoveReport = await self._op("count", tuple(units), token)
        return report

    async def test_cash_units(self, token: int) -> MoveReport:
        report: MoveReport = await self._op("test_cash_units", token)
        return report

    async def contents(self) -> Contents:
        contents: Contents = await self._op("contents")
        return contents


class LinkControl:
    """The model's control (and ``ground_truth``) from another process.

    Each call connects, calls and disconnects (a control call is rare; no socket
    outlives it)::

        control = LinkControl("tcp://127.0.0.1:PORT")
        truth = await control.call("ground_truth", target="model")
        await control.call("take_notes")
    """

    def __init__(self, endpoint: str, *, timeout: float = 5.0) -> None:
        self.endpoint = endpoint
        self._timeout = timeout

    async def call(self, name: str, *, target: str = "control", **args: Any) -> Any:
        """Call ``target.name(**args)`` in the model process; its result as JSON.

        Raises:
            ConnectionLost: no answer within ``timeout`` (plus the call's own time, while
                the server answers pings).
            HalError: what the method raised, as its class.
        """
        link = _Link(self.endpoint, timeout=self._timeout, heartbeat=min(0.5, self._timeout))
        try:
            return await link.call("control", {"target": target, "name": name, "args": args})
        finally:
            await link.close()

    async def ground_truth(self) -> dict[str, int]:
        """Notes in every unit and position (and with the customer), as the model has them."""
        truth = await self.call("ground_truth", target="model")
        return {str(k): int(v) for k, v in truth.items()}


# --- the driver ---------------------------------------------------------------------------


@dataclass(frozen=True)
class LinkOptions:
    """The options of a ``simlink://`` address.

    Attributes:
        ledger: the ledger file; ``""`` for an in-memory ledger.
        timeout: seconds for ``hello`` and of silence while a call is in flight.
        heartbeat: seconds between pings while a call is in flight.

    Raises:
        ConfigurationError: a timeout or heartbeat not > 0.
    """

    ledger: str = ""
    timeout: float = 5.0
    heartbeat: float = 0.5

    def __post_init__(self) -> None:
        for what in ("timeout", "heartbeat"):
            value = getattr(self, what)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ConfigurationError(f"{what} is a number, got {value!r}")
            if not math.isfinite(value) or value <= 0:
                raise ConfigurationError(f"{what} must be finite and > 0, got {value!r}")


def link_endpoint(address: DeviceAddress) -> tuple[str, str]:
    """``(endpoint, device)`` of a ``simlink`` address.

    Raises:
        ConfigurationError: no device name, or a device other than ``cash_dispenser`` or
            ``cash_acceptor``.
    """
    device = address.path.strip("/")
    if device not in KINDS or not address.authority:
        raise ConfigurationError(
            f"{address}: expected simlink://HOST:PORT/cash_dispenser or .../cash_acceptor"
        )
    return f"tcp://{address.authority}", device


def open_link_device(address: DeviceAddress, options: LinkOptions) -> Any:
    """A `CashDispenserService` over a `LinkBackend`, or a `CashAcceptorService` over a
    `simulator.model_link_acceptor.LinkAcceptorBackend` (the driver factory; unopened)."""
    from hal.devices.cash_dispenser_service import CashDispenserService

    endpoint, device = link_endpoint(address)
    if device == "cash_acceptor":
        from hal.devices.cash_acceptor_service import CashAcceptorService
        from simulator.model_link_acceptor import LinkAcceptorBackend

        acceptor = LinkAcceptorBackend(
            endpoint, timeout=options.timeout, heartbeat=options.heartbeat
        )
        return CashAcceptorService(acceptor, ledger=options.ledger or None, name=device)
    backend = LinkBackend(endpoint, timeout=options.timeout, heartbeat=options.heartbeat)
    return CashDispenserService(backend, ledger=options.ledger or None, name=device)


SIMLINK_DRIVER = DriverSpec(
    name="simlink",
    device_classes=frozenset({"cash_dispenser", "cash_acceptor"}),
    options=LinkOptions,
    factory=open_link_device,
    description="a simulated cash dispenser or acceptor in another process "
    "(python -m simulator.model_link)",
)
"""The ``simlink`` driver, registered through the ``tellerhal.drivers`` entry point."""
