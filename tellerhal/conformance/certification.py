"""Certification: the verdict on a driver from its contract suite run, and the reports.

A driver is certified for a device class when all of these hold:

- it declares the capability features it promises (``DriverSpec.capabilities``); a
  driver declaring nothing cannot pass;
- the device reports (at least) every feature the driver declares;
- every case passed, or was skipped for missing features none of which the driver
  declares (`tellerhal.conformance.framework.acceptable`).

`Certification` holds the verdict with everything a report records: library, driver
and firmware versions, the features reported and declared, every case's result and the
features a skipped case missed. `Certification.json()` and `Certification.junit()` are
the two reports; neither holds card data, since case messages hold none.
"""

from __future__ import annotations

import platform
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from typing import Any

from hal.registry import DRIVER_GROUP, DriverSpec
from tellerhal.conformance.framework import CaseResult, Verdict, acceptable

__all__ = [
    "REPORT_FORMAT",
    "Certification",
    "DriverInfo",
    "driver_info",
    "library_version",
    "verdict_reasons",
]

#: The ``format`` of the JSON report.
REPORT_FORMAT = "tellerhal-certification/1"


def library_version() -> str:
    """The installed tellerhal's version (``unknown`` when it is not installed)."""
    try:
        return metadata.version("tellerhal")
    except metadata.PackageNotFoundError:
        return "unknown"


@dataclass(frozen=True)
class DriverInfo:
    """Which driver was certified.

    Attributes:
        name: its scheme (``crt310``).
        distribution: the distribution that provides it (its entry point's, or the one
            that installs its module; ``tellerhal`` for the built-in drivers).
        version: that distribution's version.
        declared: the features it declares for the device class.
    """

    name: str
    distribution: str
    version: str
    declared: frozenset[str]


def driver_info(spec: DriverSpec, device_class: str) -> DriverInfo:
    """What a report says of a driver: who ships it, which version, what it declares."""
    declared = frozenset(spec.capabilities.get(device_class, frozenset()))
    dist = _distribution_of(spec)
    if dist is None:
        return DriverInfo(spec.name, "tellerhal", library_version(), declared)
    return DriverInfo(spec.name, dist[0], dist[1], declared)


def _distribution_of(spec: DriverSpec) -> tuple[str, str] | None:
    for entry in metadata.entry_points(group=DRIVER_GROUP):
        if entry.name == spec.name and entry.dist is not None:
            return entry.dist.name, entry.dist.version
    # Registered by hand: the distribution that installs the factory's top package.
    top = getattr(spec.factory, "__module__", "").partition(".")[0]
    for name in metadata.packages_distributions().get(top, []):
        try:
            return name, metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return None


def verdict_reasons(
    declared: frozenset[str],
    reported: frozenset[str] | None,
    results: Sequence[CaseResult],
    device_class: str = "card_reader",
) -> list[str]:
    """Why certification fails; empty when it passes.

    Args:
        declared: the features the driver declares.
        reported: the features the device reports; ``None`` when it was not asked
            (a driver declaring nothing is refused before anything opens).
        results: every case's result.
    """
    reasons: list[str] = []
    if not declared:
        reasons.append(
            f"the driver declares no {device_class} capabilities (DriverSpec.capabilities); "
            "a driver declaring nothing cannot pass"
        )
        return reasons
    if reported is not None and not declared <= reported:
        missing = ", ".join(sorted(declared - reported))
        reasons.append(f"the device does not report features the driver declares: {missing}")
    for result in results:
        why = acceptable(result, declared)
        if why is not None:
            reasons.append(why)
    return reasons


@dataclass(frozen=True)
class Certification:
    """A certification run and its verdict.

    Attributes:
        device_class: the device class certified for (``card_reader``).
        address: the device's address as given.
        driver: the driver certified.
        library: the tellerhal version the suite came from.
        firmware: the firmware version the device reported, if any.
        reported: the features the device reported (``None``: not asked).
        results: every case's result, in order.
        titles: the one-line title of every case of the suite, by id; a run that left
            some out (``--case``) is not certified.
        started: when the run started (UTC).
        seconds: how long it took.
        problems: what stopped the run before the cases (the device could not be
            opened...); each is a reason it is not certified.
    """

    device_class: str
    address: str
    driver: DriverInfo
    library: str
    firmware: str | None
    reported: frozenset[str] | None
    results: Sequence[CaseResult]
    titles: Mapping[str, str] = field(default_factory=dict)
    started: datetime = field(default_factory=lambda: datetime.now(UTC))
    seconds: float = 0.0
    problems: Sequence[str] = ()

    @property
    def reasons(self) -> list[str]:
        """Why it is not certified (empty when it is)."""
        reasons = [*self.problems]
        reasons += verdict_reasons(
            self.driver.declared, self.reported, self.results, self.device_class
        )
        ran = {r.case for r in self.results}
        left_out = [case for case in self.titles if case not in ran]
        if self.reported is not None and left_out:
            reasons.append(
                f"only {len(ran)} of {len(self.titles)} cases ran (--case): a partial run "
                f"certifies nothing; not run: {', '.join(left_out)}"
            )
        return reasons

    @property
    def certified(self) -> bool:
        """The driver passed."""
        return not self.reasons

    def counts(self) -> dict[str, int]:
        """Cases by verdict."""
        return {v.value: sum(r.verdict is v for r in self.results) for v in Verdict}

    def json(self) -> dict[str, Any]:
        """The JSON report (a plain dict)."""
        return {
            "format": REPORT_FORMAT,
            "certified": self.certified,
            "reasons": self.reasons,
            "device_class": self.device_class,
            "address": self.address,
            "library": {"name": "tellerhal", "version": self.library},
            "driver": {
                "name": self.driver.name,
                "distribution": self.driver.distribution,
                "version": self.driver.version,
                "declared_features": sorted(self.driver.declared),
            },
            "device": {
                "firmware": self.firmware,
                "features": None if self.reported is None else sorted(self.reported),
            },
            "started": self.started.isoformat(timespec="seconds"),
            "seconds": round(self.seconds, 3),
            "counts": self.counts(),
            "cases": [
                {
                    "id": r.case,
                    "title": self.titles.get(r.case, ""),
                    "verdict": r.verdict.value,
                    "seconds": round(r.seconds, 3),
                    "detail": r.detail,
                    "missing": sorted(r.missing),
                }
                for r in self.results
            ],
        }

    def properties(self) -> list[tuple[str, str]]:
        """The facts a JUnit report records as ``<property>`` elements, in order."""
        reported = "" if self.reported is None else ",".join(sorted(self.reported))
        props = [
            ("tellerhal.version", self.library),
            ("device.class", self.device_class),
            ("device.address", self.address),
            ("driver.name", self.driver.name),
            ("driver.distribution", self.driver.distribution),
            ("driver.version", self.driver.version),
            ("driver.declared_features", ",".join(sorted(self.driver.declared))),
            ("device.firmware", self.firmware or "unknown"),
            ("device.features", reported),
            ("certified", "true" if self.certified else "false"),
        ]
        for r in self.results:
            if r.verdict is Verdict.SKIPPED:
                props.append((f"skipped.{r.case}", ",".join(sorted(r.missing))))
        return props

    def junit(self) -> ET.ElementTree[ET.Element]:
        """The JUnit XML report: one ``testsuite`` of the cases, plus a testcase
        ``certification`` (classname ``<device_class>.<driver>``) that fails with the
        reasons when the driver is not certified, so a CI system sees the verdict."""
        classname = f"{self.device_class}.{self.driver.name}"
        counts = self.counts()
        verdict_failed = not self.certified
        failures = counts[Verdict.FAILED.value] + int(verdict_failed)
        tests = len(self.results) + 1
        root = ET.Element("testsuites", name="tellerhal certify")
        suite = ET.SubElement(
            root,
            "testsuite",
            name=f"tellerhal certify {self.device_class} {self.driver.name}",
            tests=str(tests),
            failures=str(failures),
            errors=str(counts[Verdict.ERROR.value]),
            skipped=str(counts[Verdict.SKIPPED.value]),
            time=f"{self.seconds:.3f}",
            timestamp=self.started.replace(tzinfo=None).isoformat(timespec="seconds"),
            hostname=platform.node() or "localhost",
        )
        for key in ("tests", "failures", "errors", "skipped", "time"):
            root.set(key, suite.get(key, ""))
        properties = ET.SubElement(suite, "properties")
        for name, value in self.properties():
            ET.SubElement(properties, "property", name=name, value=value)
        for r in self.results:
            case = ET.SubElement(
                suite, "testcase", classname=classname, name=r.case, time=f"{r.seconds:.3f}"
            )
            if r.verdict is Verdict.FAILED:
                ET.SubElement(
                    case, "failure", message=r.detail, type="ContractFailure"
                ).text = r.detail
            elif r.verdict is Verdict.ERROR:
                kind = r.detail.partition(":")[0] or "Error"
                ET.SubElement(case, "error", message=r.detail, type=kind).text = r.detail
            elif r.verdict is Verdict.SKIPPED:
                why = acceptable(r, self.driver.declared)
                message = r.detail if why is None else f"{r.detail} (not acceptable: {why})"
                ET.SubElement(case, "skipped", message=message)
        verdict = ET.SubElement(suite, "testcase", classname=classname, name="certification")
        verdict.set("time", "0.000")
        if verdict_failed:
            text = "\n".join(self.reasons)
            ET.SubElement(
                verdict, "failure", message="not certified", type="NotCertified"
            ).text = text
        for element in root.iter():  # firmware strings and device errors are not XML-safe
            for key, value in element.attrib.items():
                element.set(key, xml_safe(value))
            if element.text:
                element.text = xml_safe(element.text)
        ET.indent(root)
        return ET.ElementTree(root)


#: Characters XML 1.0 forbids (C0 controls but tab, LF, CR; surrogates; U+FFFE/U+FFFF).
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_safe(text: str) -> str:
    """``text`` with every character XML 1.0 forbids written as ``\\xNN`` (a NUL-padded
    firmware string, a control byte in a device's error), so the report still parses."""
    return _NOT_XML.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
