"""The ``zmq`` driver: devices served by ``tellerhal serve``, through the registry.

Addresses (entry point ``zmq`` in group ``tellerhal.drivers``)::

    zmq://HOST:PORT/DEVICE[?timeout=S&heartbeat=S&server_key=PATH&client_key=PATH]
    zmq+ipc:///PATH/TO/SOCKET/DEVICE[?...]

``zmq://`` reaches ``tcp://HOST:PORT``; ``zmq+ipc://`` the Unix socket ``ipc:///PATH/TO/
SOCKET``. ``DEVICE`` (the last path segment) is the device's name on the server, which
is its kind in a kiosk: ``card_reader`` (a `RemoteCardReader`), ``pin_pad`` (a
`RemotePinPad`), ``cash_dispenser`` (a `RemoteCashDispenser`), ``cash_acceptor`` (a
`RemoteCashAcceptor`), ``id_scanner`` (a `RemoteIdScanner`), ``camera`` (a
`RemoteCamera`) or ``receipt_printer`` / ``journal_printer`` (a `RemotePrinter`). Options:

- ``timeout``: seconds for the handshake and for each acknowledge (default 5);
- ``heartbeat``: seconds between heartbeats (default: the server's interval);
- ``server_key``, ``client_key``: CurveZMQ certificate files made by
  ``zmq.auth.create_certificates()``: the server's public ``.key`` and our own
  ``.key_secret``; both or neither.

The ``ipc`` transport is registered with the driver (by `hal.registry.register` when
this module loads); it only names the socket, the driver does the rest.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hal.address import DeviceAddress
from hal.device import Device
from hal.errors import ConfigurationError
from hal.registry import DriverSpec, TransportSpec, register, transports
from hal.remote.camera import RemoteCamera
from hal.remote.card_reader import RemoteCardReader
from hal.remote.cash_acceptor import RemoteCashAcceptor
from hal.remote.cash_dispenser import RemoteCashDispenser
from hal.remote.id_scanner import RemoteIdScanner
from hal.remote.pin_pad import RemotePinPad
from hal.remote.printer import RemotePrinter
from hal.remote.security import CurveClientKeys

__all__ = [
    "IPC_TRANSPORT",
    "ZMQ_DRIVER",
    "ZmqOptions",
    "open_remote_device",
    "remote_address",
    "remote_endpoint",
]


@dataclass(frozen=True)
class ZmqOptions:
    """The options of a ``zmq://`` address.

    Attributes:
        timeout: seconds for the handshake and for each acknowledge.
        heartbeat: seconds between heartbeats; ``None`` for the server's interval.
        server_key: the server's public CURVE certificate (``.key``).
        client_key: our CURVE certificate with its secret (``.key_secret``).

    Raises:
        ConfigurationError: a timeout or heartbeat not > 0, or one key without the other.
    """

    timeout: float = 5.0
    heartbeat: float | None = None
    server_key: Path | None = None
    client_key: Path | None = None

    def __post_init__(self) -> None:
        if not (math.isfinite(self.timeout) and self.timeout > 0):
            raise ConfigurationError(f"timeout must be > 0 seconds, got {self.timeout}")
        if self.heartbeat is not None and not (
            math.isfinite(self.heartbeat) and self.heartbeat > 0
        ):
            raise ConfigurationError(f"heartbeat must be > 0 seconds, got {self.heartbeat}")
        if (self.server_key is None) != (self.client_key is None):
            raise ConfigurationError("give both server_key and client_key for CurveZMQ, or neither")


@dataclass(frozen=True)
class IpcOptions:
    """The ``ipc`` transport has no options of its own."""


def remote_endpoint(address: DeviceAddress) -> tuple[str, str]:
    """The ZeroMQ endpoint and the device name a ``zmq`` address names.

    Raises:
        ConfigurationError: no device name, a TCP authority that is not HOST:PORT, or
            an ``ipc`` address with an authority.
    """
    head, _, device = address.path.rpartition("/")
    if not device:
        raise ConfigurationError(
            f"{address.location}: the device's name is the last path segment "
            "(zmq://HOST:PORT/card_reader)"
        )
    if address.transport == "ipc":
        if address.authority or not head:
            raise ConfigurationError(
                f"{address.location}: expected zmq+ipc:///PATH/TO/SOCKET/DEVICE"
            )
        return f"ipc://{head}", device
    host, _, port = address.authority.rpartition(":")
    if head or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigurationError(f"{address.location}: expected zmq://HOST:PORT/DEVICE")
    return f"tcp://{address.authority}", device


def remote_address(endpoint: str, device: str) -> str:
    """The ``zmq://`` address of ``device`` served on ``endpoint`` (what servers print).

    The inverse of `remote_endpoint`: ``tcp://127.0.0.1:5740`` gives
    ``zmq://127.0.0.1:5740/card_reader``, ``ipc:///run/tellerhal/kiosk.sock`` gives
    ``zmq+ipc:///run/tellerhal/kiosk.sock/card_reader``. A wildcard bind (``0.0.0.0``,
    ``[::]``, ``*``) is written with the loopback address of its family: the address
    works on this host, and a client elsewhere puts the server's name in its place.

    Raises:
        ConfigurationError: an ``inproc://`` endpoint, an abstract ``ipc://@`` socket or a
            relative ``ipc://`` path (no address reaches them), or a bad device name.
    """
    scheme, _, rest = endpoint.partition("://")
    if scheme == "tcp":
        host, _, port = rest.rpartition(":")
        host = {"0.0.0.0": "127.0.0.1", "*": "127.0.0.1", "[::]": "[::1]"}.get(host, host)
        address = DeviceAddress(driver="zmq", authority=f"{host}:{port}", path=f"/{device}")
    elif scheme == "ipc" and rest.startswith("/"):
        address = DeviceAddress(driver="zmq", transport="ipc", path=f"{rest}/{device}")
    else:
        raise ConfigurationError(
            f"{endpoint}: no zmq:// address reaches it (tcp://HOST:PORT or ipc:///PATH only)"
        )
    remote_endpoint(address)  # checks what we built: HOST:PORT and a device name
    return str(address)


def open_remote_device(address: DeviceAddress, options: ZmqOptions) -> Device[object, object]:
    """Build the (unopened) remote device an address names (the driver factory)."""
    endpoint, device = remote_endpoint(address)
    curve = None
    if options.client_key is not None and options.server_key is not None:
        curve = CurveClientKeys.from_files(options.client_key, options.server_key)
    client = _CLIENTS.get(device)
    if client is None:
        known = ", ".join(sorted(_CLIENTS))
        raise ConfigurationError(
            f"{address.location}: the remote client knows {known} devices; got {device!r}"
        )
    built: Device[object, object] = client(
        endpoint, device, timeout=options.timeout, heartbeat=options.heartbeat, curve=curve
    )
    return built


#: The client class of each device name a kiosk may serve (the name is the class).
_CLIENTS: dict[str, Callable[..., Device[Any, Any]]] = {
    "card_reader": RemoteCardReader,
    "pin_pad": RemotePinPad,
    "cash_dispenser": RemoteCashDispenser,
    "cash_acceptor": RemoteCashAcceptor,
    "id_scanner": RemoteIdScanner,
    "camera": RemoteCamera,
    "receipt_printer": RemotePrinter,
    "journal_printer": RemotePrinter,
}


ZMQ_DRIVER = DriverSpec(
    name="zmq",
    device_classes=frozenset(
        {
            "card_reader",
            "pin_pad",
            "cash_dispenser",
            "cash_acceptor",
            "id_scanner",
            "camera",
            "receipt_printer",
            "journal_printer",
        }
    ),
    options=ZmqOptions,
    factory=open_remote_device,
    description="a device served by tellerhal serve, over ZeroMQ (tcp, or ipc with zmq+ipc)",
    transports=frozenset({"ipc"}),
    transport_optional=True,
    # A proxy promises nothing of its own: certify the driver behind `tellerhal serve`.
    capabilities={},
)
"""The ``zmq`` driver, registered through the ``tellerhal.drivers`` entry point."""

IPC_TRANSPORT = TransportSpec(
    name="ipc",
    options=IpcOptions,
    factory=lambda address, options: remote_endpoint(address)[0],
    description="a Unix-domain socket for zmq+ipc:// (ZeroMQ ipc://)",
)
"""The ``ipc`` transport of ``zmq+ipc://`` addresses."""

if not any(t is IPC_TRANSPORT for t in transports()):
    register(IPC_TRANSPORT, replace=True)
