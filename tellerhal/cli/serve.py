"""``tellerhal serve``: a kiosk's devices for other processes, over ZeroMQ.

Opens every device of a kiosk file (`hal.Kiosk.from_config`) and serves them with
`hal.remote.RemoteServer`; apps reach them with the printed ``zmq://`` addresses. The
default endpoint is ``ipc://`` in a private directory (see
`tellerhal.cli.serving.default_ipc_dir`), named after the kiosk file
(``kiosk.toml`` -> ``kiosk.sock``). A TCP endpoint needs CurveZMQ keys
(``--curve-secret`` with ``--curve-clients`` or ``--curve-allow-any``; make them with
``tellerhal keys generate``). ``serve`` never opens a control socket.

SIGINT or SIGTERM stops it gracefully: the clients' commands are cancelled and settle
with the devices, the devices close, and the exit status is 0.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hal.errors import ConfigurationError, HalError

if TYPE_CHECKING:
    from hal.remote import RemoteServer

__all__ = ["register", "run"]

_PROGRAM = "tellerhal serve"


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add the ``serve`` sub-command."""
    from tellerhal.cli.serving import add_common_options

    parser = sub.add_parser(
        "serve",
        help="serve a kiosk's devices over ZeroMQ (zmq:// addresses)",
        description=(
            "Open the devices of a kiosk file and serve them to other processes. The "
            "default endpoint is ipc:// in a private 0700 directory; TCP needs CurveZMQ "
            "keys (tellerhal keys generate). SIGINT/SIGTERM stop it gracefully."
        ),
    )
    parser.add_argument("kiosk", metavar="KIOSK.toml", help="the kiosk file")
    parser.add_argument(
        "--endpoint",
        metavar="E",
        help="ipc://PATH or tcp://HOST:PORT (default: ipc://RUNTIME_DIR/tellerhal/KIOSK.sock)",
    )
    parser.add_argument(
        "--curve-secret", metavar="FILE", help="the server's .key_secret certificate (CurveZMQ)"
    )
    clients = parser.add_mutually_exclusive_group()
    clients.add_argument(
        "--curve-clients", metavar="DIR", help="a directory of the allowed clients' .key files"
    )
    clients.add_argument(
        "--curve-allow-any",
        action="store_true",
        help="allow any client key (the server key still authenticates the server)",
    )
    add_common_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Serve until a signal; 0 after a graceful stop, 1 on a device or bind failure,
    2 on a bad kiosk file, endpoint or key."""
    from hal.config import Kiosk
    from hal.remote import ANY, CurveServerKeys, RemoteServer
    from hal.remote.registration import remote_address
    from tellerhal.cli.serving import absolute_ipc, default_ipc_dir, setup_logging

    setup_logging(_PROGRAM, args.verbose)
    if (args.curve_secret is None) != (args.curve_clients is None and not args.curve_allow_any):
        return _fail("give --curve-secret with --curve-clients DIR or --curve-allow-any", 2)
    if not args.heartbeat > 0:
        return _fail("--heartbeat must be > 0", 2)
    try:
        curve = None
        if args.curve_secret is not None:
            allowed = ANY if args.curve_allow_any else args.curve_clients
            curve = CurveServerKeys.from_files(args.curve_secret, allowed)
        kiosk = Kiosk.from_config(args.kiosk)
        endpoint = absolute_ipc(
            args.endpoint or f"ipc://{default_ipc_dir() / Path(args.kiosk).stem}.sock"
        )
        if not endpoint.startswith("tcp://"):
            remote_address(endpoint, "probe")  # an address must be able to reach it
        server = RemoteServer(
            kiosk.devices, endpoint, curve=curve, heartbeat_interval=args.heartbeat
        )
    except ConfigurationError as exc:
        return _fail(str(exc), 2)
    return asyncio.run(_serve(server, args.ready_file))


async def _serve(server: RemoteServer, ready_file: str | None) -> int:
    from hal.remote.registration import remote_address
    from tellerhal.cli.serving import remove_ready_file, stop_signals, write_ready_file

    with stop_signals() as stop:
        try:
            await server.start()
        except ConfigurationError as exc:
            return _fail(str(exc), 2)
        except HalError as exc:
            return _fail(f"{type(exc).__name__}: {exc}", 1)
        try:
            addresses = {name: remote_address(server.endpoint, name) for name in server.devices}
            for name, address in addresses.items():
                print(f"{name} {address}", flush=True)
            if ready_file is not None:
                write_ready_file(ready_file, server.endpoint, addresses)
            await stop
        except (OSError, ConfigurationError) as exc:
            return _fail(str(exc), 1)
        finally:
            await server.stop()
            if ready_file is not None:
                remove_ready_file(ready_file)
    return 0


def _fail(message: str, status: int) -> int:
    print(f"{_PROGRAM}: {message}", file=sys.stderr)
    return status
