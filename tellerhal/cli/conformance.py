"""``tellerhal conformance``: run a device class's contract suite against an address.

For a ``sim://`` address the simulator's control API is the customer; for any other
address a person at the bench is asked to act (``--cards`` names the bench's test
cards). One line per case; exit 0 when every case passed, 1 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import hal
from hal.address import DeviceAddress
from hal.devices.card_reader import CardReader
from hal.errors import ConfigurationError, HalError
from hal.stimulus import CardReaderStimulus
from tellerhal.conformance.card_reader import CARD_READER_CASES, CardReaderHarness
from tellerhal.conformance.framework import CaseResult, Harness, Verdict, run_suite


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add the ``conformance`` sub-command."""
    parser = sub.add_parser(
        "conformance",
        help="run the card reader contract suite against an address",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("address", help="the device, e.g. sim://card_reader or crt310+serial://...")
    parser.add_argument("--cards", type=Path, help="the bench's test cards (TOML); not for sim://")
    parser.add_argument("--case", action="append", default=[], help="run only this case id")
    parser.add_argument("--patience", type=float, default=None, help="seconds to wait for a step")
    parser.add_argument("--json", action="store_true", help="one JSON object per case")
    parser.set_defaults(func=run)


def _sim_world(address: DeviceAddress, case: int) -> DeviceAddress:
    """The address of a fresh simulated world for one case (cases must not share a jam)."""
    base = address.options.get("world", "default")
    return address.with_options({"world": f"{base}-case{case}"})


def _sim_stimulus(address: DeviceAddress) -> tuple[CardReaderStimulus, float]:
    from simulator.world import get_world

    hal.open(address)  # makes the world and the model as the address says
    world = get_world(address.options["world"])
    # Long enough for the reader's 30 s take timeout to pass within 12 patiences.
    patience = max(2.0, world.clock.to_real(5.0))
    return world.card_reader_control(address.authority or "card_reader"), patience


def _bench_stimulus(address: DeviceAddress, cards: Path | None) -> CardReaderStimulus:
    if cards is None:
        raise ConfigurationError(
            f"{address.location}: a real device needs a person and the bench's test cards: "
            "give --cards FILE"
        )
    from tellerhal.conformance.bench import BenchCardReaderStimulus, load_bench_cards

    return BenchCardReaderStimulus(load_bench_cards(cards))


def _reader(address: DeviceAddress) -> CardReader:
    device = hal.open(address)
    if not isinstance(device, CardReader):
        raise ConfigurationError(f"{address.location} is not a card reader")
    return device


async def _run(args: argparse.Namespace, workdir: Path) -> int:
    address = DeviceAddress.parse(args.address)
    simulated = address.driver == "sim"
    if simulated and args.cards is not None:
        raise ConfigurationError("--cards is for a real device; sim:// has its own customer")
    if not simulated:
        _reader(address)  # an unknown driver or bad option is a usage error, not 11 failures
    bench = None if simulated else _bench_stimulus(address, args.cards)
    cases = [c for c in CARD_READER_CASES if not args.case or c.id in args.case]
    if args.case and len(cases) != len(set(args.case)):
        known = ", ".join(c.id for c in CARD_READER_CASES)
        raise ConfigurationError(f"unknown case among {args.case}; the suite has {known}")
    numbers = iter(range(len(cases)))

    @asynccontextmanager
    async def harness() -> AsyncIterator[CardReaderHarness]:
        target = address
        if simulated:
            n = next(numbers)
            target = _sim_world(address, n)
            if "ledger" not in target.options:
                # The suite reopens the reader and expects its counts back: a file ledger.
                target = target.with_options({"ledger": str(workdir / f"case{n}.sqlite")})
            stimulus, patience = _sim_stimulus(target)
        else:
            assert bench is not None
            stimulus, patience = bench, 120.0
        if args.patience is not None:
            patience = args.patience
        yield Harness(open=lambda: _reader(target), stimulus=stimulus, patience=patience)

    results: list[CaseResult] = []
    async for result in run_suite(cases, harness):
        results.append(result)
        if args.json:
            print(json.dumps({**result.__dict__, "verdict": result.verdict.value}), flush=True)
        else:
            detail = f"  {result.detail}" if result.detail else ""
            print(f"{result.verdict.value:8} {result.seconds:6.2f} s  {result.case}{detail}")
    passed = sum(r.verdict is Verdict.PASSED for r in results)
    if not args.json:
        print(f"{passed} passed, {len(results) - passed} failed")
    return 0 if passed == len(results) else 1


def run(args: argparse.Namespace) -> int:
    """Run the suite; exit 0 if every case passed, 1 if any did not, 2 on a bad address."""
    try:
        with tempfile.TemporaryDirectory(prefix="tellerhal-conformance-") as workdir:
            return asyncio.run(_run(args, Path(workdir)))
    except ConfigurationError as exc:
        print(f"tellerhal conformance: {exc}", file=sys.stderr)
        return 2
    except HalError as exc:
        print(f"tellerhal conformance: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
