"""The simulator as a service: a world's devices over ZeroMQ, and its control socket.

`SimServer` is what ``tellerhal sim`` runs: it builds a `simulator.world.World` from a
scenario, serves its devices with `hal.remote.RemoteServer` (``simulator=True``: plain
TCP is allowed on loopback only) and opens a `ControlServer`, through which another
process acts as the customer, the operator or fate (`simulator.remote_control`).

The control socket is a ROUTER speaking the envelope of the remote
(`hal.remote.messages`): each command is answered with one ``acknowledge`` and then one
``completion``; the commands are in `simulator.control_commands` and the socket itself
(re-exported here) in `simulator.server_control`. It is opened by the simulator only;
``tellerhal serve`` never opens one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from pathlib import PurePosixPath
from types import TracebackType
from typing import TYPE_CHECKING, Final, Self

from hal.devices.card_reader_service import CardReaderService
from hal.devices.pin_pad_service import PinPadService
from hal.errors import CashInActive, ConfigurationError, HalError, TransactionActive
from hal.ledger import Ledger
from hal.remote import RemoteServer
from hal.remote.registration import remote_address
from hal.remote.security import endpoint_scheme
from simulator.scenario import Scenario, run_customer
from simulator.scenario_run import add_devices
from simulator.server_control import ControlServer
from simulator.world import CardReaderSetup, World

if TYPE_CHECKING:
    from hal.devices.camera_service import CameraService
    from hal.devices.cash_acceptor_service import CashAcceptorService
    from hal.devices.cash_dispenser_service import CashDispenserService
    from hal.devices.id_scanner_service import IdScannerService
    from hal.devices.printer_service import PrinterService
    from simulator.sim_cash_service import SimCashBooks

__all__ = ["DEFAULT_ENDPOINT", "ControlServer", "SimServer", "default_control_endpoint"]

log = logging.getLogger(__name__)

#: Where ``tellerhal sim`` serves its devices unless told otherwise.
DEFAULT_ENDPOINT: Final = "tcp://127.0.0.1:5740"


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
        self._services: dict[
            str,
            CardReaderService
            | PinPadService
            | CashDispenserService
            | CashAcceptorService
            | IdScannerService
            | CameraService
            | PrinterService,
        ] = {}
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
        if scenario is None or not scenario.card_readers:
            world.card_reader("card_reader", CardReaderSetup())  # a sim always has a reader
        if scenario is not None:
            add_devices(world, scenario)
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
        world = self.world
        if self._ledger is not None and (
            world.cash_dispensers or world.cash_acceptors or world.id_scanners
        ):
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
        for name in self.world.cash_acceptors:
            acceptor = self.world.open_cash_acceptor(name, ledger=ledger)
            await acceptor.open()
            self._services[name] = acceptor
            if fresh_bins:
                await _count_in_new_cassettes(acceptor)
        for name in self.world.id_scanners:
            scanner = self.world.open_id_scanner(name, ledger=ledger)
            await scanner.open()
            self._services[name] = scanner
            if fresh_bins and (await scanner.retain_bin()).count:
                await scanner.empty_retain_bin(reason="simulator reset: a fresh world")
        for name in self.world.cameras:
            camera = self.world.open_camera(name)
            await camera.open()
            self._services[name] = camera
        for name in self.world.printers:
            printer = self.world.open_printer(name)
            await printer.open()
            self._services[name] = printer
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


async def _count_in_new_cassettes(cash: SimCashBooks) -> None:
    """A reset world has new cassettes: the operator counts them in (an exchange)."""
    try:
        await cash.count_in()
    except (TransactionActive, CashInActive) as exc:
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
