"""``tellerhal certify pin_pad``: the PinPad suite through the certification command, its
reports, and the bench's person (`BenchPinPadStimulus`) pressing the keys asked for."""

from __future__ import annotations

import asyncio
import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

import hal
from hal.address import DeviceAddress
from hal.devices.pin_pad import DIGIT_KEYS, PinPad
from hal.errors import ConfigurationError
from simulator.registration import SIM_DRIVER
from simulator.world import get_world, reset_worlds
from tellerhal.cli.main import main
from tellerhal.conformance import runner
from tellerhal.conformance.bench import BenchPinPadStimulus, key_label
from tellerhal.conformance.framework import Harness, Verdict, acceptable, run_case
from tellerhal.conformance.pin_pad import PIN_PAD_CASES
from tellerhal.conformance.pin_pad_steps import PIN, PIN_LONG
from tests.sim_process import sim

CASE_IDS = [case.id for case in PIN_PAD_CASES]


@pytest.fixture(autouse=True)
def _fresh_worlds() -> Iterator[None]:
    reset_worlds()
    yield
    reset_worlds()


def test_the_simulated_pin_pad_is_certified_and_the_reports_say_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report, junit = tmp_path / "report.json", tmp_path / "junit.xml"
    code = main(
        ["certify", "pin_pad", "sim://pin_pad", "--json", str(report), "--junit", str(junit)]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert out.splitlines()[-1] == "CERTIFIED"
    data = json.loads(report.read_text())
    assert data["certified"] is True
    assert data["device_class"] == "pin_pad"
    assert [c["id"] for c in data["cases"]] == CASE_IDS
    assert {c["verdict"] for c in data["cases"]} == {"passed"}
    declared = sorted(SIM_DRIVER.capabilities["pin_pad"])
    assert data["driver"]["declared_features"] == declared
    assert set(declared) <= set(data["device"]["features"])
    root = ET.parse(junit).getroot()
    (suite,) = root.findall("testsuite")
    assert suite.get("name") == "tellerhal certify pin_pad sim"
    assert suite.get("tests") == str(len(CASE_IDS) + 1)
    assert suite.get("failures") == "0"
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == [*CASE_IDS, "certification"]
    assert {c.get("classname") for c in cases} == {"pin_pad.sim"}
    props = {p.get("name"): p.get("value") for p in suite.find("properties") or []}
    assert props["device.class"] == "pin_pad"
    assert props["certified"] == "true"
    # The test PINs typed never show in a line or a report.
    text = out + report.read_text() + junit.read_text()
    assert PIN not in text
    assert PIN_LONG not in text


def test_a_pin_pad_needs_no_cards_and_a_card_reader_is_not_a_pin_pad(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cards = tmp_path / "cards.toml"
    cards.write_text("version = 1\n")
    assert main(["certify", "pin_pad", "sim://pin_pad", "--cards", str(cards)]) == 2
    assert "--cards is for card readers" in capsys.readouterr().err
    assert main(["certify", "pin_pad", "sim://card_reader"]) == 2
    assert "is a card reader" in capsys.readouterr().err
    assert main(["certify", "pin_pad", "sim://pin_pad", "--case", "pin_pad.random"]) == 1
    assert "a partial run certifies nothing" in capsys.readouterr().out


def test_key_labels_are_what_a_pin_pad_prints() -> None:
    assert [key_label(k) for k in ("four", "zero", "enter", "cancel", "decPoint")] == [
        "4",
        "0",
        "ENTER",
        "CANCEL",
        ".",
    ]
    assert key_label("fdk03") == "F3"


@pytest.mark.parametrize("case_id", ["pin_pad.pin_entry_iso0", "pin_pad.cancel"])
async def test_a_person_at_the_bench_passes_cases_by_pressing_what_is_shown(
    case_id: str,
) -> None:
    """The person is played by a thread that reads each prompt, presses the keys it
    lists on the simulated pad, and says whether the pad is waiting for keys."""
    world = get_world("bench")
    address = "sim://pin_pad?world=bench"
    hal.open(address)
    control = world.pin_pad_control()
    loop = asyncio.get_running_loop()
    labels = {key_label(k): k for k in (*DIGIT_KEYS, "enter", "cancel", "clear", "backspace")}
    prompts: list[str] = []

    def person(question: str) -> str:
        prompts.append(question)
        if "press these keys" in question:
            shown = question.split("in order:")[1].split("--")[0].split()
            keys = [labels[label] for label in shown]
            asyncio.run_coroutine_threadsafe(control.press_keys(keys, timeout=5), loop).result(5)
            return ""
        if "waiting for keys" in question:
            active = asyncio.run_coroutine_threadsafe(control.entry_active(), loop).result(5)
            return "yes" if active else "no"
        raise AssertionError(f"unexpected question {question!r}")

    def open_pad() -> PinPad:
        device = hal.open(address)
        assert isinstance(device, PinPad)
        return device

    stimulus = BenchPinPadStimulus(ask=person)
    (case,) = [c for c in PIN_PAD_CASES if c.id == case_id]
    result = await run_case(case, Harness(open=open_pad, stimulus=stimulus, patience=5.0))
    assert result.verdict is Verdict.PASSED, result
    assert any("press these keys" in p for p in prompts)
    if case_id == "pin_pad.cancel":
        assert any("waiting for keys" in p for p in prompts)


async def test_the_runner_drives_a_pin_pad_behind_tellerhal_sim_with_its_control_socket(
    tmp_path: Path,
) -> None:
    """The device over ``zmq://``, the customer the simulator's control socket (what
    ``--stimulus`` gives). ``zmq`` declares no features itself, so certify would refuse
    it; the runner's results are judged against the simulator's declared features."""
    scenario = tmp_path / "pad.toml"
    scenario.write_text("version = 1\n[devices.pin_pad]\n")
    with sim(tmp_path / "sim", str(scenario)) as proc:
        plan = runner.SuiteRun(
            suite=runner.PIN_PAD_SUITE,
            address=DeviceAddress.parse(proc.address("pin_pad")),
            cases=list(PIN_PAD_CASES),
            workdir=tmp_path,
            stimulus=proc.control,
            patience=2.0,
        )
        report, results = await runner.run(plan)
        assert proc.stop() == 0, proc.err
    declared = SIM_DRIVER.capabilities["pin_pad"]
    assert declared <= report.features
    assert [r.case for r in results] == CASE_IDS
    assert [acceptable(r, declared) for r in results] == [None] * len(CASE_IDS)
    assert {r.verdict for r in results} == {Verdict.PASSED}


def test_a_real_pin_pad_goes_to_the_bench_without_cards(tmp_path: Path) -> None:
    address = DeviceAddress.parse("zt588+serial:///dev/ttyUSB7")
    pin_pad = runner.SuiteRun(runner.PIN_PAD_SUITE, address, [], tmp_path)
    pin_pad.check()  # a person at the bench, no test cards needed
    assert isinstance(runner.PIN_PAD_SUITE.bench_stimulus(None), BenchPinPadStimulus)
    reader = runner.SuiteRun(runner.CARD_READER_SUITE, address, [], tmp_path)
    with pytest.raises(ConfigurationError, match="give --cards FILE"):
        reader.check()
