"""``tellerhal conformance``: run a device class's contract suite against an address.

For a ``sim://`` address the simulator's control API is the customer; ``--stimulus``
names the control socket of a ``tellerhal sim`` for a device simulated in another
process; for any other address a person at the bench is asked to act (``--cards``
names the bench's test cards). One line per case; exit 0 when every case passed or
was skipped for a capability the device lacks, 1 otherwise. ``tellerhal certify`` runs
the same suite and decides certification against what the driver declares.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from hal import registry
from hal.address import DeviceAddress
from hal.errors import ConfigurationError, HalError
from tellerhal.conformance import runner
from tellerhal.conformance.framework import CaseResult, Verdict
from tellerhal.conformance.runner import SUITES, SuiteRun, select_cases


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add the ``conformance`` sub-command."""
    parser = sub.add_parser(
        "conformance",
        help="run a device class's contract suite (card reader, PIN pad, printer...) against an "
        "address",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("address", help="the device, e.g. sim://card_reader or crt310+serial://...")
    parser.add_argument(
        "--device",
        choices=sorted(SUITES),
        help="the device class (default: the one the address names, e.g. sim://pin_pad, "
        "or the only one its driver offers; receipt_printer for a printer driver)",
    )
    parser.add_argument("--cards", type=Path, help="the bench's test cards (TOML); not for sim://")
    parser.add_argument(
        "--stimulus",
        metavar="ENDPOINT",
        help="the control socket of a tellerhal sim whose world the device is (not for sim://)",
    )
    parser.add_argument("--case", action="append", default=[], help="run only this case id")
    parser.add_argument("--patience", type=float, default=None, help="seconds to wait for a step")
    parser.add_argument("--json", action="store_true", help="one JSON object per case")
    parser.set_defaults(func=run)


#: Device classes that are one kind of device under two names: a driver serving both
#: is tested as the first (the other with --device).
_KINDS: tuple[tuple[str, ...], ...] = (("receipt_printer", "journal_printer"),)


def device_class(address: DeviceAddress, given: str | None) -> str:
    """The suite to run: ``given``, else the device the address names (``sim://pin_pad``,
    ``zmq://host:port/pin_pad``), else the only class its driver offers (a printer
    driver's receipt and journal printers count as one: ``receipt_printer``), else the
    card reader (a driver not registered here).

    Raises:
        ConfigurationError: the driver serves several unrelated classes (``--device``
            must choose; the message names the choices).
    """
    if given:
        return given
    named = address.authority if address.driver == "sim" else address.path.rsplit("/", 1)[-1]
    if named in SUITES:
        return named
    try:
        spec = registry.driver(address.driver)
    except ConfigurationError:
        return "card_reader"
    offered = sorted(c for c in spec.device_classes if c in SUITES)
    if len(offered) == 1:
        return offered[0]
    for kind in _KINDS:
        if offered and set(offered) <= set(kind):
            return next(c for c in kind if c in offered)
    if not offered:
        return "card_reader"
    choices = " or ".join(f"--device {c}" for c in offered)
    raise ConfigurationError(
        f"the {address.driver!r} driver serves several device classes "
        f"({', '.join(offered)}): say which to test with {choices}"
    )


async def _run(args: argparse.Namespace, workdir: Path) -> int:
    address = DeviceAddress.parse(args.address)
    suite = SUITES[device_class(address, args.device)]
    plan = SuiteRun(
        suite=suite,
        address=address,
        cases=select_cases(suite, args.case),
        workdir=workdir,
        stimulus=args.stimulus,
        cards=args.cards,
        patience=args.patience,
    )

    def show(result: CaseResult) -> None:
        if args.json:
            line = {**result.__dict__, "verdict": result.verdict.value}
            line["missing"] = sorted(result.missing)
            print(json.dumps(line), flush=True)
        else:
            detail = f"  {result.detail}" if result.detail else ""
            print(f"{result.verdict.value:8} {result.seconds:6.2f} s  {result.case}{detail}")

    _, results = await runner.run(plan, show)
    passed = sum(r.verdict is Verdict.PASSED for r in results)
    # A case that cannot apply (the device lacks what it needs) is no failure here;
    # whether the driver promised it is for ``tellerhal certify`` to judge.
    skipped = sum(r.verdict is Verdict.SKIPPED and bool(r.missing) for r in results)
    failed = len(results) - passed - skipped
    if not args.json:
        print(f"{passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""))
    return 0 if failed == 0 else 1


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
