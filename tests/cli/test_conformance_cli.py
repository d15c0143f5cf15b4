"""``tellerhal conformance`` and the bench stimulus a person answers."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import io
import json
import os
import sys
import time
from pathlib import Path

import pytest

import hal
from hal.address import DeviceAddress
from hal.devices.card_reader import CardReader
from hal.errors import ConfigurationError, HalTimeout
from simulator.remote_control import RemoteCardReaderControl
from simulator.world import get_world, reset_worlds
from tellerhal.cli.conformance import device_class
from tellerhal.cli.main import main
from tellerhal.conformance.bench import BenchCardReaderStimulus, load_bench_cards
from tellerhal.conformance.card_reader import CARD_READER_CASES
from tellerhal.conformance.framework import Harness, Verdict, run_case
from tellerhal.conformance.pin_pad import PIN_PAD_CASES
from tests.escpos_rig import PtyPrinter
from tests.sim_process import sim

FAST = "sim://card_reader?clock_scale=0.01"


@pytest.fixture(autouse=True)
def _fresh_worlds() -> None:
    reset_worlds()


def test_the_simulator_passes_every_case(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["conformance", FAST]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[-1] == f"{len(CARD_READER_CASES)} passed, 0 failed"


def test_the_address_picks_the_suite_and_the_simulated_pad_passes_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["conformance", "sim://pin_pad?clock_scale=0.01"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1] == f"{len(PIN_PAD_CASES)} passed, 0 failed"
    assert all(" pin_pad." in line for line in lines[:-1])


@pytest.mark.parametrize(
    ("address", "given", "suite"),
    [
        ("sim://pin_pad", None, "pin_pad"),
        ("sim://card_reader", None, "card_reader"),
        ("zmq://127.0.0.1:5740/pin_pad", None, "pin_pad"),
        ("zmq+ipc:///run/th/kiosk.sock/card_reader", None, "card_reader"),
        ("zt588+serial:///dev/ttyS3", None, "pin_pad"),
        ("crt310+serial:///dev/ttyS0", None, "card_reader"),
        ("sim://card_reader", "pin_pad", "pin_pad"),
        # The escpos driver serves a receipt or a journal printer: the receipt printer
        # unless --device says journal.
        ("escpos+serial:///dev/ttyUSB0", None, "receipt_printer"),
        ("escpos+usb://0416:5011", None, "receipt_printer"),
        ("escpos+usb://0416:5011", "journal_printer", "journal_printer"),
    ],
)
def test_which_suite_an_address_gets(address: str, given: str | None, suite: str) -> None:
    assert device_class(DeviceAddress.parse(address), given) == suite


def test_a_driver_of_several_unrelated_classes_needs_device(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """ssp serves a note acceptor and a dispenser: no suite is guessed (the card
    reader's least of all); the one line names the choices."""
    with pytest.raises(ConfigurationError, match="cash_acceptor, cash_dispenser"):
        device_class(DeviceAddress.parse("ssp+serial:///dev/ttyUSB0"), None)
    assert main(["conformance", "ssp+serial:///dev/ttyUSB0"]) == 2
    err = capsys.readouterr().err
    assert "--device cash_acceptor or --device cash_dispenser" in err
    assert len(err.strip().splitlines()) == 1


def _run_cli(argv: list[str]) -> tuple[int, str]:
    """``tellerhal`` run with ``argv`` (it runs its own event loop: call it on a thread of
    its own while the caller's loop serves the emulator): exit code and stdout."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(argv)
    return code, out.getvalue()


@pytest.mark.parametrize("device", [None, "journal_printer"])
async def test_an_escpos_address_runs_the_printer_suite(tmp_path: Path, device: str | None) -> None:
    """On the escpos pty rig: without --device the receipt printer's suite runs (it
    ran the card reader's, which refused the printer's case names); --device
    journal_printer runs the journal printer's on a journal printer."""
    journal = device == "journal_printer"
    rig = PtyPrinter(tmp_path, profile="journal" if journal else "receipt")
    address = rig.address(**({"type": "journal"} if journal else {}))
    argv = ["conformance", address, "--json", "--patience", "2"]
    argv += ["--case", "printer.capabilities", "--case", "printer.styled_text"]
    if device is not None:
        argv += ["--device", device]
    loop = asyncio.get_running_loop()
    async with rig.wire():
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            code, out = await loop.run_in_executor(pool, _run_cli, argv)
    results = [json.loads(line) for line in out.splitlines()]
    assert [(r["case"], r["verdict"]) for r in results] == [
        ("printer.capabilities", "passed"),
        ("printer.styled_text", "passed"),
    ], out
    assert code == 0
    assert rig.lines(), "the styled_text case printed nothing on the emulator"


def test_a_broken_reader_fails_and_the_failing_case_is_named(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["conformance", f"{FAST}&variant=no_jam_error", "--patience", "0.3"])
    assert code == 1
    failed = [line for line in capsys.readouterr().out.splitlines() if line.startswith("failed")]
    assert len(failed) == 1
    assert "card_reader.jam" in failed[0]
    assert "expected MediaJam" in failed[0]


def test_a_case_the_reader_cannot_have_is_skipped_not_failed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["conformance", f"{FAST}&retain_capacity=0&stacker_capacity=0"]) == 0
    lines = capsys.readouterr().out.splitlines()
    skipped = [line.split()[3] for line in lines if line.startswith("skipped")]
    assert skipped == [
        "card_reader.retain_counts_persist",
        "card_reader.card_left_at_exit",
        "card_reader.issue_card",
    ]
    assert lines[-1] == f"{len(CARD_READER_CASES) - 3} passed, 0 failed, 3 skipped"


def test_one_case_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["conformance", FAST, "--case", "card_reader.jam", "--json"]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    assert '"verdict": "passed"' in line
    assert '"case": "card_reader.jam"' in line


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["nosuchdriver+serial:///dev/ttyUSB0"], "no driver is registered as 'nosuchdriver'"),
        ([FAST, "--cards", "cards.toml"], "--cards is for a real device"),
        ([FAST, "--case", "card_reader.nope"], "unknown case"),
        (["sim:/card_reader"], "expected '://'"),
        ([FAST, "--stimulus", "tcp://127.0.0.1:1"], "--stimulus is for a device outside"),
    ],
)
def test_bad_requests_exit_2_with_one_line(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["conformance", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert len(err.strip().splitlines()) == 1


def test_bench_cards_file_is_checked(tmp_path: Path) -> None:
    good = tmp_path / "cards.toml"
    good.write_text('version = 1\n[cards.visa]\ntrack2 = "4761739001010010=2812201"\nchip = true\n')
    cards = load_bench_cards(good)
    assert cards["visa"].track2 == b"4761739001010010=2812201"
    assert cards["visa"].track1 is None
    assert cards["visa"].has_chip
    bad = tmp_path / "bad.toml"
    bad.write_text('version = 1\n[cards.visa]\ntrak2 = "1"\n')
    with pytest.raises(ConfigurationError, match="unknown keys \\['trak2'\\]"):
        load_bench_cards(bad)
    old = tmp_path / "old.toml"
    old.write_text("version = 2\n")
    with pytest.raises(ConfigurationError, match="'version = 1' expected"):
        load_bench_cards(old)


async def test_a_person_at_the_bench_drives_a_case(tmp_path: Path) -> None:
    """The bench stimulus's prompts, answered by a scripted person using the simulator."""
    world = get_world("bench", clock_scale=0.01)
    control = world.card_reader_control()
    visa = await control.insert_card("visa")  # learn the test card's contents...
    world.card_reader().customer_takes()  # ...and take it back out of the slot
    cards = tmp_path / "cards.toml"
    assert visa.track1 is not None
    assert visa.track2 is not None
    assert visa.track3 is not None
    cards.write_text(
        "version = 1\n[cards.visa]\n"
        f'track1 = "{visa.track1.decode()}"\ntrack2 = "{visa.track2.decode()}"\n'
        f'track3 = "{visa.track3.decode()}"\nchip = true\n'
    )
    loop = asyncio.get_running_loop()
    prompts: list[str] = []

    async def act(prompt: str) -> str:
        prompts.append(prompt)
        if "Insert" in prompt:
            await control.insert_card("visa")
        elif "Take" in prompt:
            await control.take_card(timeout=5)
        elif "Where is the card" in prompt:
            return await control.card_position()
        return ""

    def person(prompt: str) -> str:
        return asyncio.run_coroutine_threadsafe(act(prompt), loop).result(timeout=10)

    stimulus = BenchCardReaderStimulus(load_bench_cards(cards), ask=person)

    def open_reader() -> CardReader:
        device = hal.open("sim://card_reader?world=bench")
        assert isinstance(device, CardReader)
        return device

    case = next(c for c in CARD_READER_CASES if c.id == "card_reader.insert_read_eject")
    result = await run_case(case, Harness(open=open_reader, stimulus=stimulus, patience=5))
    assert result.verdict is Verdict.PASSED, result.detail
    assert any("Insert the 'visa' test card" in p for p in prompts)
    assert any("Take the card" in p for p in prompts)


@pytest.mark.usefixtures("fake_driver")
def test_a_real_device_needs_the_bench_cards(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["conformance", "fake://card_reader"]) == 2
    assert "give --cards FILE" in capsys.readouterr().err


def test_bench_cards_may_give_the_atr(tmp_path: Path) -> None:
    cards = tmp_path / "cards.toml"
    cards.write_text('version = 1\n[cards.visa]\nchip = true\natr = "3B 02 14 50"\n')
    assert load_bench_cards(cards)["visa"].atr == bytes.fromhex("3B021450")
    for bad, message in (
        ('chip = true\natr = "3B 0"', "atr is the ATR in hex"),
        ('chip = true\natr = ""', "atr is the ATR in hex"),
        ('atr = "3B021450"', "a card with an atr has chip = true"),
    ):
        cards.write_text(f"version = 1\n[cards.visa]\n{bad}\n")
        with pytest.raises(ConfigurationError, match=message):
            load_bench_cards(cards)


async def test_the_person_counts_the_bins_until_the_answer_is_a_number() -> None:
    answers = iter(["many", "3", "x", "12"])
    prompts: list[str] = []

    def person(prompt: str) -> str:
        prompts.append(prompt)
        return next(answers)

    out = io.StringIO()
    stimulus = BenchCardReaderStimulus({}, ask=person, out=out)
    assert await stimulus.retained_count() == 3
    assert await stimulus.stacker_count() == 12
    assert [p.strip() for p in prompts] == [
        ">>> How many cards are in the retain bin?",
        ">>> How many cards are in the retain bin?",
        ">>> How many cards are in the card stacker?",
        ">>> How many cards are in the card stacker?",
    ]
    assert out.getvalue() == "Please answer with a number.\n" * 2


def test_a_tellerhal_sim_is_the_customer_through_its_control_socket(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--stimulus``: the device is a ``tellerhal sim``'s reader over ``zmq://``; the
    runner asks that simulator for a fresh world before each case."""
    with sim(tmp_path / "sim") as proc:
        argv = ["conformance", proc.address(), "--stimulus", proc.control, "--patience", "1"]
        code = main(argv)
        # Two cases put a card in the bin; the last case (issuing) began with a fresh
        # world, so its bin is empty. One world for the whole run would hold both.
        retained = asyncio.run(RemoteCardReaderControl(proc.control).retained_count())
        assert proc.stop() == 0, proc.err
    out = capsys.readouterr().out
    assert code == 0, out
    assert out.splitlines()[-1] == f"{len(CARD_READER_CASES)} passed, 0 failed"
    assert CARD_READER_CASES[-1].id == "card_reader.issue_card"
    assert retained == 0


async def test_a_take_the_person_misses_times_out_and_says_so() -> None:
    def slow_person(prompt: str) -> str:
        time.sleep(0.3)
        return ""

    out = io.StringIO()
    stimulus = BenchCardReaderStimulus({}, ask=slow_person, out=out)
    with pytest.raises(HalTimeout, match=r"did not answer within 0\.05 s"):
        await stimulus.take_card(timeout=0.05)
    assert "time is up after 0.05 s" in out.getvalue()
    await asyncio.sleep(0.4)  # the person's thread ends


async def test_at_the_terminal_a_prompt_takes_only_lines_typed_after_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    read_end, write_end = os.pipe()
    with os.fdopen(read_end) as stdin, os.fdopen(write_end, "w") as keyboard:
        monkeypatch.setattr(sys, "stdin", stdin)
        out = io.StringIO()
        stimulus = BenchCardReaderStimulus({}, out=out)
        # Nobody answers the take in time...
        with pytest.raises(HalTimeout):
            await stimulus.take_card(timeout=0.1)
        # ...and the late Enter meant for it is not taken as the next answer.
        keyboard.write("\n")
        keyboard.flush()
        await asyncio.sleep(0.1)
        count = asyncio.create_task(stimulus.retained_count())
        await asyncio.sleep(0.1)
        keyboard.write("4\n")
        keyboard.flush()
        assert await asyncio.wait_for(count, 5) == 4
        assert out.getvalue().count(">>> How many cards are in the retain bin?") == 1
        keyboard.close()  # end of input: the reading thread ends
        with pytest.raises(ConfigurationError, match="standard input ended"):
            await stimulus.stacker_count()
