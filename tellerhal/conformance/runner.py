"""Running a device class's contract suite against an address, with the right customer.

One runner serves ``tellerhal conformance`` and ``tellerhal certify``. A device class
plugs in as a `DeviceSuite` in `SUITES`: its cases, the public interface a device must
implement, how to read the capability features and the firmware an opened device
reports, and the three ways to make its world act:

- a ``sim://`` address: the in-process simulator's control API, a fresh simulated world
  per case (cases never share a jam or a card);
- ``stimulus`` given (a ``tellerhal sim`` control socket, ``tcp://127.0.0.1:5741``): the
  simulator in another process acts, e.g. behind a wire emulator; the runner asks it for
  a fresh world before each case when it can (``Control.Reset``) and goes on without
  when it refuses;
- anything else: a person at the bench, with the bench's test cards (``cards``) when
  the class needs test media (a card reader; a PIN pad needs none).

The suites themselves live in `tellerhal.conformance.suites`; this module re-exports
them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hal
from hal.address import DeviceAddress
from hal.errors import ConfigurationError, InvalidData
from tellerhal.conformance.framework import CaseResult, ContractCase, Harness, run_suite
from tellerhal.conformance.suites import (
    CAMERA_SUITE,
    CARD_READER_SUITE,
    CASH_ACCEPTOR_SUITE,
    CASH_DISPENSER_SUITE,
    ID_SCANNER_SUITE,
    JOURNAL_PRINTER_SUITE,
    PIN_PAD_SUITE,
    RECEIPT_PRINTER_SUITE,
    SUITES,
    DeviceReport,
    DeviceSuite,
    firmware_of,
)

__all__ = [
    "BENCH_PATIENCE",
    "CAMERA_SUITE",
    "CARD_READER_SUITE",
    "CASH_ACCEPTOR_SUITE",
    "CASH_DISPENSER_SUITE",
    "ID_SCANNER_SUITE",
    "JOURNAL_PRINTER_SUITE",
    "PIN_PAD_SUITE",
    "RECEIPT_PRINTER_SUITE",
    "REMOTE_PATIENCE",
    "SUITES",
    "DeviceReport",
    "DeviceSuite",
    "SuiteRun",
    "firmware_of",
    "run",
    "select_cases",
]

#: Seconds a case waits for a person at the bench to act (before ``--timeout-scale``).
BENCH_PATIENCE = 120.0
#: Seconds a case waits for a simulator in another process (before ``--timeout-scale``).
REMOTE_PATIENCE = 10.0


def select_cases(suite: DeviceSuite, wanted: Sequence[str]) -> list[ContractCase[Any, Any]]:
    """The suite's cases named in ``wanted`` (all when empty), in suite order.

    Raises:
        ConfigurationError: a name the suite does not have.
    """
    cases = [c for c in suite.cases if not wanted or c.id in wanted]
    if wanted and len(cases) != len(set(wanted)):
        known = ", ".join(c.id for c in suite.cases)
        raise ConfigurationError(f"unknown case among {list(wanted)}; the suite has {known}")
    return cases


@dataclass(frozen=True)
class SuiteRun:
    """How to run a suite: against what, with which customer, how patiently.

    Attributes:
        suite: the device class's suite.
        address: the device under test.
        cases: the cases to run.
        workdir: where in-process simulated worlds keep their ledgers.
        stimulus: a ``tellerhal sim`` control socket, if the world is simulated there.
        cards: the bench's test cards, for a person at the bench.
        patience: seconds a case waits for a step; ``None``: the customer's default.
        timeout_scale: multiplies the patience (a slow person, a slow device).
    """

    suite: DeviceSuite
    address: DeviceAddress
    cases: Sequence[ContractCase[Any, Any]]
    workdir: Path
    stimulus: str | None = None
    cards: Path | None = None
    patience: float | None = None
    timeout_scale: float = 1.0

    @property
    def simulated(self) -> bool:
        """The device is the in-process simulator (``sim://``)."""
        return self.address.driver == "sim"

    def check(self) -> None:
        """Refuse a contradictory run before anything opens.

        Raises:
            ConfigurationError: cards for a simulator, no customer for a real device,
                or a bad patience or scale.
        """
        where = self.address.location
        if self.cards is not None and not self.suite.needs_cards:
            raise ConfigurationError(
                f"--cards is for card readers; a {self.suite.device_class.replace('_', ' ')} "
                "needs no test cards"
            )
        if self.simulated and self.cards is not None:
            raise ConfigurationError("--cards is for a real device; sim:// has its own customer")
        if self.simulated and self.stimulus is not None:
            raise ConfigurationError("--stimulus is for a device outside this process")
        if self.cards is not None and self.stimulus is not None:
            raise ConfigurationError("give --cards (a person) or --stimulus (a simulator)")
        if (
            self.suite.needs_cards
            and not self.simulated
            and self.stimulus is None
            and self.cards is None
        ):
            raise ConfigurationError(
                f"{where}: a real device needs a person and the bench's test cards: "
                "give --cards FILE"
            )
        if self.patience is not None and not self.patience > 0:
            raise ConfigurationError(f"--patience must be > 0, got {self.patience}")
        if not self.timeout_scale > 0:
            raise ConfigurationError(f"--timeout-scale must be > 0, got {self.timeout_scale}")

    def open(self, address: DeviceAddress | None = None) -> Any:
        """The (unopened) device under test, checked to be of the suite's class."""
        target = address or self.address
        device = hal.open(target)
        if not isinstance(device, self.suite.interface):
            raise ConfigurationError(
                f"{target.location} is not a {self.suite.device_class.replace('_', ' ')}"
            )
        return device

    def _sim_address(self, tag: str) -> DeviceAddress:
        """A fresh simulated world's address for one case (cases must not share a jam)."""
        base = self.address.options.get("world", "default")
        target = self.address.with_options({"world": f"{base}-{tag}"})
        if self.suite.uses_ledger and "ledger" not in target.options:
            # The suite reopens the device and expects its counts back: a file ledger.
            target = target.with_options({"ledger": str(self.workdir / f"{tag}.sqlite")})
        return target


async def _try_reset(stimulus: Any) -> bool:
    """Ask a remote simulator for a fresh world; ``False`` if it cannot give one."""
    reset = getattr(stimulus, "reset", None)
    if reset is None:
        return False
    try:
        await reset()
    except (ConfigurationError, InvalidData):
        return False  # "this control socket cannot reset its world" (as it travels)
    return True


async def run(
    plan: SuiteRun, on_result: Callable[[CaseResult], None] | None = None
) -> tuple[DeviceReport, list[CaseResult]]:
    """Describe the device, then run the cases, each with a fresh harness.

    Returns:
        What the device reported and every case's result, in order.

    Raises:
        ConfigurationError: the run is contradictory, the address bad, or the device
            not of the suite's class.
        HalError: the device could not be opened to describe it.
    """
    if not plan.simulated:
        plan.open()  # an unknown driver or a bad option is a usage error, not failures
    plan.check()
    suite = plan.suite
    remote = None
    bench = None
    can_reset = False
    probe_address = plan.address
    if plan.simulated:
        probe_address = plan._sim_address("probe")
        suite.sim_stimulus(probe_address)
    elif plan.stimulus is not None:
        remote = suite.remote_stimulus(plan.stimulus)
        can_reset = await _try_reset(remote)
    else:
        bench = suite.bench_stimulus(plan.cards)
    async with plan.open(probe_address) as device:
        report = await suite.describe(device)
    numbers = iter(range(len(plan.cases)))

    @asynccontextmanager
    async def harness() -> AsyncIterator[Harness[Any, Any]]:
        n = next(numbers)
        target = plan.address
        if plan.simulated:
            target = plan._sim_address(f"case{n}")
            stimulus, patience = suite.sim_stimulus(target)
        elif remote is not None:
            if can_reset and n > 0:
                await remote.reset()
            stimulus, patience = remote, REMOTE_PATIENCE
        else:
            stimulus, patience = bench, BENCH_PATIENCE
        if plan.patience is not None:
            patience = plan.patience
        patience *= plan.timeout_scale
        yield Harness(open=lambda: plan.open(target), stimulus=stimulus, patience=patience)

    results: list[CaseResult] = []
    async for result in run_suite(plan.cases, harness):
        results.append(result)
        if on_result is not None:
            on_result(result)
    return report, results
