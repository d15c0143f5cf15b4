"""``tellerhal sim``: the simulator as a service (serve + models + a control socket).

Builds a world from a scenario (default: one card reader with the default setup and no
customer), serves its devices over ZeroMQ (`simulator.server.SimServer`) and opens
the control socket that ``tellerhal sim-control`` and
`simulator.remote_control.RemoteCardReaderControl` drive. Plain TCP is allowed on
loopback only. ``--endpoint tcp://127.0.0.1:0 --ready-file F`` picks free ports and
writes them to ``F`` once everything is up, for parallel CI jobs.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import TYPE_CHECKING, Any

from hal.errors import ConfigurationError, HalError

if TYPE_CHECKING:
    from simulator.server import SimServer

__all__ = ["register", "run"]

_PROGRAM = "tellerhal sim"


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add the ``sim`` sub-command."""
    from tellerhal.cli.serving import add_common_options

    parser = sub.add_parser(
        "sim",
        help="run the simulator as a service: zmq:// devices and a control socket",
        description=(
            "Serve a simulated kiosk over ZeroMQ, with a control socket through which "
            "another process inserts cards, jams the reader, cuts the power... "
            "(tellerhal sim-control). SIGINT/SIGTERM stop it gracefully."
        ),
    )
    parser.add_argument(
        "scenario",
        nargs="?",
        metavar="SCENARIO",
        help="a scenario name (simulator/scenarios) or file (default: one card reader)",
    )
    parser.add_argument(
        "--endpoint",
        default="tcp://127.0.0.1:5740",
        metavar="E",
        help="where the devices are served (default tcp://127.0.0.1:5740; port 0: any)",
    )
    parser.add_argument(
        "--control",
        metavar="E",
        help="the control socket (default: the device port + 1, or NAME-control.sock "
        "next to an ipc socket; port 0 stays 0)",
    )
    parser.add_argument("--seed", type=int, metavar="N", help="the world's seed")
    parser.add_argument(
        "--clock-scale", type=float, metavar="X", help="real seconds per simulated second"
    )
    parser.add_argument("--ledger", metavar="PATH", help="the ledger file (default: in memory)")
    parser.add_argument(
        "--customer", action="store_true", help="run the scenario's scripted customer"
    )
    add_common_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Serve until a signal; 0 after a graceful stop, 1 on a bind failure, 2 on a bad
    scenario, endpoint or option."""
    from hal.remote.registration import remote_address
    from simulator.scenario import load_scenario
    from simulator.server import SimServer
    from tellerhal.cli.serving import absolute_ipc, setup_logging

    setup_logging(_PROGRAM, args.verbose)
    if args.clock_scale is not None and not args.clock_scale > 0:
        return _fail("--clock-scale must be > 0", 2)
    if not args.heartbeat > 0:
        return _fail("--heartbeat must be > 0", 2)
    if args.customer and args.scenario is None:
        return _fail("--customer needs a SCENARIO with a customer", 2)
    endpoint = absolute_ipc(args.endpoint)
    try:
        if not endpoint.startswith("tcp://"):
            remote_address(endpoint, "probe")  # an address must be able to reach it
        scenario = load_scenario(args.scenario) if args.scenario is not None else None
        sim = SimServer(
            scenario,
            endpoint,
            absolute_ipc(args.control) if args.control else None,
            seed=args.seed,
            clock_scale=args.clock_scale,
            ledger=args.ledger,
            heartbeat_interval=args.heartbeat,
            customer=args.customer,
        )
    except ConfigurationError as exc:
        return _fail(str(exc), 2)
    return asyncio.run(_serve(sim, args.ready_file))


async def _serve(sim: SimServer, ready_file: str | None) -> int:
    from tellerhal.cli.serving import remove_ready_file, stop_signals, write_ready_file

    with stop_signals() as stop:
        try:
            await sim.start()
        except ConfigurationError as exc:
            return _fail(str(exc), 2)
        except HalError as exc:
            return _fail(f"{type(exc).__name__}: {exc}", 1)
        try:
            addresses = sim.addresses
            for name, address in addresses.items():
                print(f"{name} {address}", flush=True)
            print(f"control {sim.control_endpoint}", flush=True)
            if ready_file is not None:
                write_ready_file(ready_file, sim.endpoint, addresses, sim.control_endpoint)
            await stop
        except (OSError, ConfigurationError) as exc:
            return _fail(str(exc), 1)
        finally:
            await sim.stop()
            if ready_file is not None:
                remove_ready_file(ready_file)
    return 0


def _fail(message: str, status: int) -> int:
    print(f"{_PROGRAM}: {message}", file=sys.stderr)
    return status
