"""``python -m simulator.model_link``: the command that serves one model over the model
link (`simulator.model_link`), and the models and control targets it builds.

    python -m simulator.model_link [--device cash_dispenser|cash_acceptor] \\
        --profile NAME --endpoint tcp://127.0.0.1:0 --ready-file F \\
        [--clock-scale X] [--seed N] [--lcdm-pty DIR | --id003-pty DIR | --ssp-pty DIR]

A cash dispenser (the default device) is a `CashDispenserModel` of its profile; a cash
acceptor (``--device cash_acceptor``) a `CashAcceptorModel` of one of the acceptor
profiles (``default``, ``id003``, ``nv200``, ``nv11``). A wire option puts the model
behind its wire emulator on a pty whose symlink is ``DIR/lcdm``, ``DIR/id003`` or
``DIR/ssp``: the HAL then reaches it with the real driver, and the link serves only the
control targets. The ready file says ``"serial": PATH`` then, and ``"address"`` is null.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hal.errors import ConfigurationError
from simulator.model_link import ModelLinkServer, check_endpoint, link_address

__all__ = ["main", "make_model"]

LCDM_PROFILES = ("lcdm1000", "lcdm2000", "lcdm4000")
#: The wire emulators an acceptor profile may sit behind, by option.
ACCEPTOR_WIRES = {"id003_pty": ("id003",), "ssp_pty": ("nv200", "nv11")}


class AcceptorCustomer:
    """The control target ``customer`` of an acceptor: notes with their level as text."""

    def __init__(self, model: Any) -> None:
        self._model = model

    def insert(self, notes: list[str]) -> int:
        """The customer inserts ``notes``, each ``ITEM`` (fit) or ``ITEM@LEVEL``; returns
        the notes now in the input."""
        from hal.stimulus import NoteSample

        bunch = []
        for note in notes:
            item, _, level = str(note).partition("@")
            bunch.append(NoteSample(item, level or "fit"))
        count: int = self._model.insert_notes(bunch)
        return count


def make_model(
    profile: str, *, clock_scale: float, seed: int, device: str = "cash_dispenser"
) -> tuple[Any, dict[str, object]]:
    """The model of ``profile`` and the targets ``control`` calls reach: ``control``
    (`simulator.cash_control.CashDispenserControl`, or for an acceptor
    `simulator.cash_in_control.CashAcceptorControl`: the customer's hands, faults,
    ``ground_truth``), ``model`` (the model itself: ``ground_truth``,
    ``ground_truth_items``, ``customer_takes``...) and, for an acceptor, ``customer``
    (`AcceptorCustomer`)."""
    if device == "cash_acceptor":
        from simulator.cash_in_control import CashAcceptorControl
        from simulator.models.cash_acceptor import CashAcceptorModel

        acceptor = CashAcceptorModel.from_profile(profile, clock_scale=clock_scale)
        return acceptor, {
            "model": acceptor,
            "control": CashAcceptorControl(acceptor),
            "customer": AcceptorCustomer(acceptor),
        }
    if device != "cash_dispenser":
        raise ConfigurationError(f"no model of a {device!r}")
    from simulator.cash_control import CashDispenserControl
    from simulator.models.cash_dispenser import CashDispenserModel

    model = CashDispenserModel.from_profile(profile, clock_scale=clock_scale, seed=seed)
    return model, {"model": model, "control": CashDispenserControl(model)}


def _write_ready(path: str, content: Mapping[str, Any]) -> None:
    target = Path(path)
    fd, temporary = tempfile.mkstemp(prefix=".ready-", dir=target.parent or Path("."))
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(content, out)
    os.replace(temporary, target)


async def _wire(
    args: argparse.Namespace, model: Any, stack: contextlib.AsyncExitStack
) -> dict[str, Any] | None:
    """Put the model behind the wire emulator the options ask for; what the ready file
    says of it, or None for none."""
    from simulator.wire.pty import PtyBridge

    if args.lcdm_pty is not None:
        from protocols.lcdm import Model
        from simulator.wire.lcdm import LcdmEmulator

        number = int(args.profile.removeprefix("lcdm"))
        bridge = await stack.enter_async_context(PtyBridge("lcdm", directory=args.lcdm_pty))
        await stack.enter_async_context(LcdmEmulator(model, bridge, model=Model(number)))
        return {"serial": str(bridge.path), "lcdm_model": number}
    if args.id003_pty is not None:
        from simulator.wire.id003 import Id003Emulator
        from simulator.wire.id003_firmware import Id003Firmware

        bridge = await stack.enter_async_context(PtyBridge("id003", directory=args.id003_pty))
        await stack.enter_async_context(Id003Emulator(bridge, Id003Firmware(model)))
        return {"serial": str(bridge.path), "protocol": "id003"}
    if args.ssp_pty is not None:
        from simulator.wire.ssp import SspEmulator
        from simulator.wire.ssp_firmware import SspFirmware

        bridge = await stack.enter_async_context(PtyBridge("ssp", directory=args.ssp_pty))
        await stack.enter_async_context(SspEmulator(SspFirmware(model), bridge))
        return {"serial": str(bridge.path), "protocol": "ssp"}
    return None


async def _serve(args: argparse.Namespace) -> int:
    model, targets = make_model(
        args.profile, clock_scale=args.clock_scale, seed=args.seed, device=args.device
    )
    wired = any(getattr(args, w) is not None for w in ("lcdm_pty", *ACCEPTOR_WIRES))
    server = ModelLinkServer(
        model, args.endpoint, targets, serve_backend=not wired, device=args.device
    )
    async with contextlib.AsyncExitStack() as stack:
        ready: dict[str, Any] = {"pid": os.getpid(), "profile": args.profile}
        ready["device"] = args.device
        # The model behind a wire emulator on a pty: the HAL reaches it with the real
        # driver, the harness its control through the link.
        ready.update(await _wire(args, model, stack) or {})
        endpoint = await server.start()
        stack.push_async_callback(server.stop)
        ready["endpoint"] = endpoint
        ready["address"] = (
            None
            if wired or not endpoint.startswith("tcp:")
            else link_address(endpoint, args.device)
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        try:
            if args.ready_file:
                _write_ready(args.ready_file, ready)
            await stop.wait()
        finally:
            if args.ready_file:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(args.ready_file)
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m simulator.model_link``: serve one cash dispenser or acceptor model."""
    parser = argparse.ArgumentParser(
        prog="python -m simulator.model_link",
        description="Serve a simulated cash dispenser or acceptor at the backend level over "
        "ZeroMQ (for the crash-safety suite: the model outlives the HAL process).",
    )
    parser.add_argument(
        "--device",
        default="cash_dispenser",
        choices=("cash_dispenser", "cash_acceptor"),
        help="the kind of device modelled",
    )
    parser.add_argument("--profile", default="default", help="the model's profile")
    parser.add_argument(
        "--endpoint", default="tcp://127.0.0.1:0", help="loopback tcp:// or ipc:// to bind"
    )
    parser.add_argument("--ready-file", metavar="F", help="write a JSON file once serving")
    parser.add_argument(
        "--clock-scale", type=float, default=1.0, help="real seconds per simulated second"
    )
    parser.add_argument("--seed", type=int, default=0, help="the model's random seed")
    wires = parser.add_mutually_exclusive_group()
    wires.add_argument(
        "--lcdm-pty",
        metavar="DIR",
        help="serve the model (an lcdm1000/2000/4000 profile) behind the LCDM wire "
        "emulator on a pty whose symlink is DIR/lcdm; the link serves its control only",
    )
    wires.add_argument(
        "--id003-pty",
        metavar="DIR",
        help="serve the acceptor (the id003 profile) behind the ID-003 emulator on a pty "
        "whose symlink is DIR/id003; the link serves its control only",
    )
    wires.add_argument(
        "--ssp-pty",
        metavar="DIR",
        help="serve the acceptor (an nv200 or nv11 profile) behind the SSP emulator on a "
        "pty whose symlink is DIR/ssp; the link serves its control only",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log INFO to stderr")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        stream=sys.stderr,
        format="model_link: %(levelname)s %(name)s: %(message)s",
    )
    try:
        check_endpoint(args.endpoint)
    except ConfigurationError as exc:
        parser.error(str(exc))
    if args.lcdm_pty is not None and (
        args.device != "cash_dispenser" or args.profile not in LCDM_PROFILES
    ):
        parser.error("--lcdm-pty needs --profile lcdm1000, lcdm2000 or lcdm4000")
    for option, profiles in ACCEPTOR_WIRES.items():
        if getattr(args, option) is not None and (
            args.device != "cash_acceptor" or args.profile not in profiles
        ):
            flag = "--" + option.replace("_", "-")
            parser.error(f"{flag} needs --device cash_acceptor and --profile {'/'.join(profiles)}")
    return asyncio.run(_serve(args))
