"""``tellerhal certify``: the verdict rules and the reports a CI system reads.

The real driver is certified against the CRT-310 emulator on a pty, with the
simulator's control socket as the customer, the way a vendor's CI would run it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hal import registry
from simulator.profiles import load_card_profile
from simulator.registration import SIM_DRIVER
from simulator.server import ControlServer
from simulator.wire.crt310_firmware import VERSION
from simulator.world import reset_worlds
from tellerhal.cli.main import main
from tellerhal.conformance.card_reader import CARD_READER_CASES
from tellerhal.conformance.certification import (
    Certification,
    DriverInfo,
    library_version,
    xml_safe,
)
from tellerhal.conformance.framework import CaseResult, Verdict
from tellerhal.conformance.runner import firmware_of
from tests.crt310_rig import PtyRig, crt310_registered

FAST = "sim://card_reader?clock_scale=0.01"
CASE_IDS = [case.id for case in CARD_READER_CASES]


@pytest.fixture(autouse=True)
def _fresh_worlds() -> Iterator[None]:
    reset_worlds()
    yield
    reset_worlds()


# --- the JUnit report, as a CI system reads it ---------------------------------------------


def _junit(path: Path) -> tuple[ET.Element, ET.Element, dict[str, str], list[ET.Element]]:
    """Parse the report and check it has the JUnit schema's shape; return its parts."""
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites"
    (suite,) = root.findall("testsuite")
    for attribute in ("name", "tests", "failures", "errors", "skipped", "time", "timestamp"):
        assert suite.get(attribute) is not None, attribute
    float(suite.get("time", ""))
    children = [child.tag for child in suite]
    assert children[0] == "properties"
    assert set(children[1:]) == {"testcase"}
    properties = {p.get("name", ""): p.get("value", "") for p in suite.find("properties") or []}
    cases = suite.findall("testcase")
    for case in cases:
        assert case.get("classname"), case.attrib
        assert case.get("name"), case.attrib
        float(case.get("time", ""))
        outcomes = [child.tag for child in case]
        assert len(outcomes) <= 1
        assert set(outcomes) <= {"failure", "error", "skipped"}
        for outcome in case:
            assert outcome.get("message") is not None
    # The counts agree with the test cases, at both levels.
    kinds = [child.tag for case in cases for child in case]
    assert int(suite.get("tests", "")) == len(cases)
    assert int(suite.get("failures", "")) == kinds.count("failure")
    assert int(suite.get("errors", "")) == kinds.count("error")
    assert int(suite.get("skipped", "")) == kinds.count("skipped")
    for attribute in ("tests", "failures", "errors", "skipped"):
        assert root.get(attribute) == suite.get(attribute)
    return root, suite, properties, cases


def test_the_simulator_is_certified_and_the_reports_say_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report, junit = tmp_path / "report.json", tmp_path / "junit.xml"
    code = main(["certify", "card_reader", FAST, "--json", str(report), "--junit", str(junit)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert out.splitlines()[-1] == "CERTIFIED"
    data = json.loads(report.read_text())
    assert data["certified"] is True
    assert data["reasons"] == []
    assert [c["id"] for c in data["cases"]] == CASE_IDS
    assert {c["verdict"] for c in data["cases"]} == {"passed"}
    declared = sorted(SIM_DRIVER.capabilities["card_reader"])
    assert data["driver"] == {
        "name": "sim",
        "distribution": "tellerhal",
        "version": library_version(),
        "declared_features": declared,
    }
    assert set(declared) <= set(data["device"]["features"])
    _, suite, props, cases = _junit(junit)
    assert suite.get("tests") == str(len(CASE_IDS) + 1)  # and the verdict
    assert suite.get("failures") == "0"
    assert [c.get("name") for c in cases] == [*CASE_IDS, "certification"]
    assert props["tellerhal.version"] == library_version()
    assert props["driver.name"] == "sim"
    assert props["driver.declared_features"] == ",".join(declared)
    assert props["certified"] == "true"
    assert props["device.firmware"] == "unknown"


def test_a_broken_variant_is_not_certified(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    junit, report = tmp_path / "junit.xml", tmp_path / "report.json"
    argv = ["certify", "card_reader", f"{FAST}&variant=reads_wrong_track", "--patience", "0.3"]
    assert main([*argv, "--junit", str(junit), "--json", str(report)]) == 1
    out = capsys.readouterr().out
    assert "NOT CERTIFIED" in out
    assert "card_reader.insert_read_eject failed: track2 differs from the card" in out
    _, _, props, cases = _junit(junit)
    failed = {c.get("name"): c.find("failure") for c in cases if c.find("failure") is not None}
    assert "card_reader.insert_read_eject" in failed
    assert "certification" in failed
    assert props["certified"] == "false"
    # No card data in any report or line: the tracks of the card read, and its PAN.
    visa = load_card_profile("visa").sample()
    text = junit.read_text() + report.read_text() + out
    assert "track2 differs from the card" in report.read_text()
    for secret in (visa.track1, visa.track2, visa.track3):
        assert secret is not None
        assert secret.decode() not in text
    assert visa.pan is not None
    assert visa.pan not in text
    assert visa.pan[6:-4] not in text


@pytest.fixture
def bare_sim() -> Iterator[registry.DriverSpec]:
    """The simulator registered again as ``bare``, declaring no capabilities."""
    spec = dataclasses.replace(SIM_DRIVER, name="bare", capabilities={})
    registry.register(spec)
    try:
        yield spec
    finally:
        registry.unregister("bare")


@pytest.mark.usefixtures("bare_sim")
def test_a_driver_declaring_nothing_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report, junit = tmp_path / "report.json", tmp_path / "junit.xml"
    argv = ["certify", "card_reader", "bare://card_reader", "--cards", str(tmp_path / "c.toml")]
    assert main([*argv, "--json", str(report), "--junit", str(junit)]) == 1
    out = capsys.readouterr().out
    assert "declares no card_reader capabilities" in out
    data = json.loads(report.read_text())
    assert data["certified"] is False
    assert data["cases"] == []  # refused before a person is asked to do anything
    assert data["device"]["features"] is None
    _, suite, props, cases = _junit(junit)
    assert [c.get("name") for c in cases] == ["certification"]
    assert suite.get("failures") == "1"
    assert props["driver.declared_features"] == ""


def test_a_skip_for_a_declared_feature_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The simulator without a retain bin, yet declaring one: the device reports fewer
    features than declared, and the retain cases skip for a feature it promised."""
    junit = tmp_path / "junit.xml"
    argv = ["certify", "card_reader", f"{FAST}&retain_capacity=0", "--junit", str(junit)]
    assert main(argv) == 1
    out = capsys.readouterr().out
    assert "the device does not report features the driver declares: retain" in out
    assert "card_reader.retain_counts_persist was skipped for retain, which the driver" in out
    _, _, props, cases = _junit(junit)
    skipped = {c.get("name") for c in cases if c.find("skipped") is not None}
    assert skipped == {"card_reader.retain_counts_persist", "card_reader.card_left_at_exit"}
    assert props["skipped.card_reader.retain_counts_persist"] == "retain"
    assert "retain" not in props["device.features"].split(",")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["printer", FAST], "no contract suite for 'printer'"),
        (["card_reader", "nosuch://x"], "no driver is registered as 'nosuch'"),
        (["card_reader", FAST, "--case", "card_reader.nope"], "unknown case"),
        (["card_reader", FAST, "--timeout-scale", "0"], "--timeout-scale must be > 0"),
        (["card_reader", FAST, "--stimulus", "tcp://127.0.0.1:1"], "--stimulus is for a device"),
        (["card_reader", FAST, "--json", "-", "--junit", "-"], "both write to standard output"),
    ],
)
def test_usage_errors_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["certify", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert len(err.strip().splitlines()) == 1


# --- the CRT-310 driver on a pty, the customer through a control socket ------------------


async def test_the_crt310_driver_is_certified_over_a_pty(tmp_path: Path) -> None:
    rig = PtyRig(tmp_path / "pty", tmp_path / "ledger.sqlite")
    report, junit = tmp_path / "report.json", tmp_path / "junit.xml"
    control = ControlServer("tcp://127.0.0.1:0", lambda: rig.world)
    argv = [
        "certify",
        "card_reader",
        rig.address(),
        "--stimulus",
        "",
        "--patience",
        "1",
        "--json",
        str(report),
        "--junit",
        str(junit),
    ]
    with crt310_registered():
        async with rig.wire():
            await control.start()
            try:
                argv[4] = control.endpoint
                code = await _in_a_thread(main, argv)
            finally:
                await control.stop()
    data: dict[str, Any] = json.loads(report.read_text())
    assert code == 0, data["reasons"]
    verdicts = {c["id"]: c["verdict"] for c in data["cases"]}
    # The CRT-310 issues no cards: that case is skipped, for a feature not declared.
    assert verdicts.pop("card_reader.issue_card") == "skipped"
    assert set(verdicts.values()) == {"passed"}
    _, suite, props, _ = _junit(junit)
    assert suite.get("skipped") == "1"
    assert suite.get("failures") == "0"
    assert props["driver.name"] == "crt310"
    assert props["driver.declared_features"] == "chip,motor,taken_sensor,tracks"
    assert props["skipped.card_reader.issue_card"] == "issue"
    assert {"chip", "motor", "retain", "taken_sensor", "tracks"} <= set(
        props["device.features"].split(",")
    )
    assert props["certified"] == "true"
    # The firmware version is the one the emulated reader's reset answers.
    assert props["device.firmware"] == VERSION.decode() == data["device"]["firmware"]


async def _in_a_thread(func: Any, *args: Any) -> Any:
    """Run a blocking call (one with its own event loop) on a thread that ends with it."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return await asyncio.get_running_loop().run_in_executor(pool, func, *args)


async def test_the_firmware_a_device_reports_is_found() -> None:
    class Caps:
        firmware = "CRT-310-V3.0"

    class Plain:
        def device_info(self) -> dict[str, str]:
            return {"firmware": "2.1"}

    class Async:
        async def device_info(self) -> dict[str, str]:
            return {"firmware": "7"}

    assert await firmware_of(object(), Caps()) == "CRT-310-V3.0"
    assert await firmware_of(Plain(), object()) == "2.1"
    assert await firmware_of(Async(), object()) == "7"
    assert await firmware_of(object(), object()) is None


def test_a_partial_run_certifies_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["certify", "card_reader", FAST, "--case", "card_reader.jam"]) == 1
    out = capsys.readouterr().out
    assert "PASSED" in out
    assert f"only 1 of {len(CASE_IDS)} cases ran (--case)" in out
    assert out.splitlines()[-2] == "NOT CERTIFIED"


def test_a_device_that_cannot_be_opened_is_reported_not_certified(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cards = tmp_path / "cards.toml"
    cards.write_text('version = 1\n[cards.visa]\ntrack2 = "1234=56"\n')
    junit = tmp_path / "junit.xml"
    address = f"crt310+serial://{tmp_path}/no-such-tty"
    with crt310_registered():
        code = main(
            ["certify", "card_reader", address, "--cards", str(cards), "--junit", str(junit)]
        )
    assert code == 1
    out = capsys.readouterr().out
    assert "NOT CERTIFIED" in out
    assert "the run could not start" in out
    _, _, props, cases = _junit(junit)
    assert [c.get("name") for c in cases] == ["certification"]
    failure = cases[0].find("failure")
    assert failure is not None
    assert "the run could not start" in (failure.text or "")
    assert props["device.features"] == ""


def test_the_junit_report_parses_whatever_bytes_a_device_reports() -> None:
    # Real units pad their version strings with NULs; device errors carry control bytes.
    report = Certification(
        device_class="card_reader",
        address="crt310+serial:///dev/ttyS0",
        driver=DriverInfo("crt310", "tellerhal", "0", frozenset({"chip"})),
        library="0",
        firmware="CRT-310\x00\x00\x00",
        reported=frozenset({"chip"}),
        results=[CaseResult("card_reader.jam", Verdict.FAILED, 0.1, "reply \x02\x15 garbled")],
    )
    text = ET.tostring(report.junit().getroot(), encoding="unicode")
    root = ET.fromstring(text)  # would raise "not well-formed" on a raw NUL
    props = {p.get("name"): p.get("value") for p in root.iter("property")}
    assert props["device.firmware"] == "CRT-310\\x00\\x00\\x00"
    messages = [f.get("message") for f in root.iter("failure")]
    assert messages == ["reply \\x02\\x15 garbled", "not certified"]
    assert xml_safe("tab\tnewline\n ok") == "tab\tnewline\n ok"
