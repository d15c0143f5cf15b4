"""The conformance framework: contract cases, checks and a runner.

A contract case is an async function written against a public `hal` interface only,
given a harness: a way to open the device under test and a `Stimulus` that makes the
world act (the simulator's control API in CI, a person at the bench). The same cases
run from pytest (``tests/conformance``) and from the command line, so a vendor can
certify a driver on the bench exactly as CI certifies the simulator.
"""

from __future__ import annotations

import asyncio
import time
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Generic, TypeVar

__all__ = [
    "CaseResult",
    "CaseSkipped",
    "ContractCase",
    "ContractFailure",
    "Harness",
    "MissingCapability",
    "Verdict",
    "acceptable",
    "check",
    "run_case",
    "run_suite",
]

D = TypeVar("D")
S = TypeVar("S")


class ContractFailure(AssertionError):
    """The device under test broke the contract."""


class CaseSkipped(Exception):
    """The case could not run. A bare `CaseSkipped` is never an acceptable verdict: a
    case that cannot apply to a device raises `MissingCapability`, naming why."""


class MissingCapability(CaseSkipped):
    """The behaviour the case checks cannot exist on this device: it lacks ``features``.

    Args:
        features: the capability features (a device class's ``features()`` vocabulary)
            the case needs and the device lacks; at least one.
        why: an optional sentence for the report.
    """

    def __init__(self, features: Iterable[str], why: str = "") -> None:
        self.features: frozenset[str] = frozenset(features)
        if not self.features:
            raise ValueError("MissingCapability names at least one missing feature")
        names = ", ".join(sorted(self.features))
        super().__init__(f"the device lacks {names}" + (f": {why}" if why else ""))


def check(condition: object, message: str) -> None:
    """Fail the case with ``message`` unless ``condition`` holds.

    Unlike ``assert``, this also runs under ``python -O``.
    """
    if not condition:
        raise ContractFailure(message)


@dataclass(frozen=True)
class Harness(Generic[D, S]):
    """What a case gets.

    Attributes:
        open: opens a fresh instance of the device under test (over the same physical
            device and ledger each time) as an async context manager.
        stimulus: makes the customer and faults act.
        patience: seconds a case waits for something the stimulus causes (a card at
            the exit, an event); longer on a bench where a person acts.
    """

    open: Callable[[], AbstractAsyncContextManager[D]]
    stimulus: S
    patience: float = 5.0


@dataclass(frozen=True)
class ContractCase(Generic[D, S]):
    """One case of a contract suite.

    Attributes:
        id: stable identifier (``card_reader.insert_read_eject``).
        title: one line saying what the device must do.
        run: the case body.
    """

    id: str
    title: str
    run: Callable[[Harness[D, S]], Awaitable[None]]


class Verdict(StrEnum):
    """How a case ended."""

    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"
    ERROR = "error"


@dataclass(frozen=True)
class CaseResult:
    """The verdict for one case, with the reason and how long it took.

    Attributes:
        missing: for a case skipped with `MissingCapability`, the features it needed.
    """

    case: str
    verdict: Verdict
    seconds: float
    detail: str = ""
    missing: frozenset[str] = frozenset()


def acceptable(result: CaseResult, declared: Iterable[str]) -> str | None:
    """Whether a case's verdict is acceptable for an implementation that promises the
    capability features ``declared``; ``None`` if it is, else why not.

    A case passes; or it was skipped because the device lacks features (``missing``
    non-empty) none of which the implementation promised. Anything else is not
    acceptable: a failure, an error, a bare skip, or a skip for a promised feature.
    """
    if result.verdict is Verdict.PASSED:
        return None
    if result.verdict is Verdict.SKIPPED:
        if not result.missing:
            return f"{result.case} was skipped without naming a missing capability: {result.detail}"
        promised = sorted(result.missing & frozenset(declared))
        if promised:
            return (
                f"{result.case} was skipped for {', '.join(promised)}, which the driver "
                f"declares: {result.detail}"
            )
        return None
    return f"{result.case} {result.verdict.value}: {result.detail}"


async def run_case(case: ContractCase[D, S], harness: Harness[D, S]) -> CaseResult:
    """Run one case and turn its ending into a verdict."""
    start = time.perf_counter()
    try:
        await case.run(harness)
    except ContractFailure as exc:
        return CaseResult(case.id, Verdict.FAILED, time.perf_counter() - start, str(exc))
    except MissingCapability as exc:
        seconds = time.perf_counter() - start
        return CaseResult(case.id, Verdict.SKIPPED, seconds, str(exc), exc.features)
    except CaseSkipped as exc:
        return CaseResult(case.id, Verdict.SKIPPED, time.perf_counter() - start, str(exc))
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        detail = "".join(traceback.format_exception_only(exc)).strip()
        return CaseResult(case.id, Verdict.ERROR, time.perf_counter() - start, detail)
    return CaseResult(case.id, Verdict.PASSED, time.perf_counter() - start)


async def run_suite(
    cases: Sequence[ContractCase[D, S]],
    make_harness: Callable[[], AbstractAsyncContextManager[Harness[D, S]]],
) -> AsyncIterator[CaseResult]:
    """Run every case, each with a fresh harness, yielding results as they come."""
    for case in cases:
        async with make_harness() as harness:
            yield await run_case(case, harness)


async def expect_raises(
    kind: type[BaseException] | tuple[type[BaseException], ...],
    awaitable: Awaitable[Any],
    what: str,
) -> BaseException:
    """Await ``awaitable`` and fail the case unless it raises ``kind``."""
    try:
        result = await awaitable
    except kind as exc:
        return exc
    except Exception as exc:
        raise ContractFailure(f"{what}: expected {_names(kind)}, got {exc!r}") from exc
    raise ContractFailure(f"{what}: expected {_names(kind)}, but it returned {result!r}")


def _names(kind: type[BaseException] | tuple[type[BaseException], ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(k.__name__ for k in kinds)
