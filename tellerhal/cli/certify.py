"""``tellerhal certify DEVICE ADDRESS``: certify a driver for a device class.

Runs the device class's contract suite (``card_reader``, ``pin_pad``) against the device
at ADDRESS and decides certification:

- the driver must declare the capability features it promises (its
  ``DriverSpec.capabilities``); a driver declaring nothing is refused at once;
- the device must report every feature the driver declares;
- every case must pass, or be skipped only for features the driver does not declare;
- every case must run (a ``--case`` run, to retry one, certifies nothing).

The customer: for a ``sim://`` address the simulator's control API (a fresh world per
case); with ``--stimulus ENDPOINT`` the control socket of a ``tellerhal sim`` whose
simulated device is at ADDRESS (e.g. behind a wire emulator); otherwise a person at the
bench, prompted on the terminal: with the bench's test cards (``--cards``) for a card
reader; a PIN pad needs none (the person presses the test PINs shown). Timeouts:
each step waits ``--patience`` seconds (default 120 at the bench), times
``--timeout-scale``.

Prints a table; ``--json FILE`` and ``--junit FILE`` write the reports (``-`` for
stdout). Exit 0 only when certified, 1 when not, 2 on a usage error.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hal import registry
from hal.address import DeviceAddress
from hal.errors import ConfigurationError, HalError
from tellerhal.conformance import runner
from tellerhal.conformance.certification import (
    Certification,
    driver_info,
    library_version,
)
from tellerhal.conformance.framework import CaseResult, Verdict, acceptable

__all__ = ["register", "run"]

_PROGRAM = "tellerhal certify"


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add the ``certify`` sub-command."""
    parser = sub.add_parser(
        "certify",
        help="certify a driver: the contract suite, the verdict, JSON and JUnit reports",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("device", metavar="DEVICE", help=f"one of {', '.join(runner.SUITES)}")
    parser.add_argument("address", metavar="ADDRESS", help="the device, e.g. crt310+serial://...")
    parser.add_argument("--cards", type=Path, help="the bench's test cards (TOML; card readers)")
    parser.add_argument(
        "--stimulus", metavar="ENDPOINT", help="a tellerhal sim control socket (simulated device)"
    )
    parser.add_argument("--json", metavar="FILE", help="write the JSON report here ('-': stdout)")
    parser.add_argument("--junit", metavar="FILE", help="write the JUnit XML report here")
    parser.add_argument("--patience", type=float, metavar="S", help="seconds to wait for a step")
    parser.add_argument(
        "--timeout-scale", type=float, default=1.0, metavar="X", help="multiply every wait by X"
    )
    parser.add_argument(
        "--case", action="append", default=[], metavar="ID", help="run only this case (repeat)"
    )
    parser.set_defaults(func=run)


def _write(target: str, text: str) -> None:
    if target == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        Path(target).write_text(text, encoding="utf-8")


def _row(result: CaseResult, declared: frozenset[str]) -> str:
    mark = result.verdict.value.upper()
    if result.verdict is Verdict.SKIPPED:
        mark = "SKIP" if acceptable(result, declared) is None else "SKIP!"
    detail = f"  {result.detail}" if result.detail else ""
    return f"  {mark:7} {result.seconds:7.2f} s  {result.case}{detail}"


async def _certify(args: argparse.Namespace, workdir: Path) -> Certification:
    suite = runner.SUITES.get(args.device)
    if suite is None:
        raise ConfigurationError(
            f"no contract suite for {args.device!r}; there are: {', '.join(runner.SUITES)}"
        )
    address = DeviceAddress.parse(args.address)
    spec = registry.driver(address.driver)
    if args.device not in spec.device_classes:
        raise ConfigurationError(
            f"driver {spec.name!r} opens {', '.join(sorted(spec.device_classes))}, "
            f"not {args.device}"
        )
    driver = driver_info(spec, args.device)
    cases = runner.select_cases(suite, args.case)
    titles = {c.id: c.title for c in suite.cases}
    plan = runner.SuiteRun(
        suite=suite,
        address=address,
        cases=cases,
        workdir=workdir,
        stimulus=args.stimulus,
        cards=args.cards,
        patience=args.patience,
        timeout_scale=args.timeout_scale,
    )
    if not plan.simulated:
        plan.open()  # an unknown option is a usage error before anything is printed
    plan.check()
    quiet = args.json == "-" or args.junit == "-"
    out = sys.stderr if quiet else sys.stdout

    def say(line: str) -> None:
        print(line, file=out, flush=True)

    say(f"Certifying {spec.name} ({driver.distribution} {driver.version}) as {args.device}")
    declared = ", ".join(sorted(driver.declared)) or "nothing"
    say(f"  declared features: {declared}")
    started = datetime.now(UTC)
    start = time.perf_counter()
    if not driver.declared:
        return Certification(
            args.device,
            args.address,
            driver,
            library_version(),
            firmware=None,
            reported=None,
            results=[],
            titles=titles,
            started=started,
        )
    try:
        report, results = await runner.run(plan, lambda result: say(_row(result, driver.declared)))
    except ConfigurationError:
        raise  # a usage error (a bad cards file, not a card reader...): exit 2
    except HalError as exc:
        # The device could not be opened or the customer reached: no case ran. The
        # reports still say so, for the CI system that reads them.
        return Certification(
            device_class=args.device,
            address=args.address,
            driver=driver,
            library=library_version(),
            firmware=None,
            reported=None,
            results=[],
            titles=titles,
            started=started,
            seconds=time.perf_counter() - start,
            problems=[f"the run could not start: {type(exc).__name__}: {exc}"],
        )
    return Certification(
        device_class=args.device,
        address=args.address,
        driver=driver,
        library=library_version(),
        firmware=report.firmware,
        reported=report.features,
        results=results,
        titles=titles,
        started=started,
        seconds=time.perf_counter() - start,
    )


def _summary(cert: Certification) -> list[str]:
    reported = "(not asked)" if cert.reported is None else ", ".join(sorted(cert.reported))
    counts = cert.counts()
    lines = [
        f"  reported features: {reported or 'none'}",
        f"  firmware: {cert.firmware or 'not reported'}",
        f"  {counts['passed']} passed, {counts['failed']} failed, {counts['skipped']} skipped, "
        f"{counts['error']} errors",
    ]
    if cert.certified:
        lines.append("CERTIFIED")
    else:
        lines.append("NOT CERTIFIED")
        lines += [f"  - {reason}" for reason in cert.reasons]
    return lines


def run(args: argparse.Namespace) -> int:
    """Certify; exit 0 when certified, 1 when not, 2 on a usage error."""
    try:
        if args.patience is not None and not args.patience > 0:
            raise ConfigurationError(f"--patience must be > 0, got {args.patience}")
        if args.json == "-" and args.junit == "-":
            raise ConfigurationError(
                "--json - and --junit - would both write to standard output; give one a file"
            )
        with tempfile.TemporaryDirectory(prefix="tellerhal-certify-") as workdir:
            cert = asyncio.run(_certify(args, Path(workdir)))
    except ConfigurationError as exc:
        print(f"{_PROGRAM}: {exc}", file=sys.stderr)
        return 2
    except HalError as exc:
        print(f"{_PROGRAM}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    quiet = args.json == "-" or args.junit == "-"
    for line in _summary(cert):
        print(line, file=sys.stderr if quiet else sys.stdout)
    if args.json:
        _write(args.json, json.dumps(cert.json(), indent=2) + "\n")
    if args.junit:
        tree = cert.junit()
        text = '<?xml version="1.0" encoding="UTF-8"?>\n' + _xml(tree) + "\n"
        _write(args.junit, text)
    return 0 if cert.certified else 1


def _xml(tree: ET.ElementTree[ET.Element]) -> str:
    return ET.tostring(tree.getroot(), encoding="unicode")
