"""The Printer contract suite, run against every printer implementation we ship.

Each implementation is reached the way an app reaches it (``hal.open(address)``), and the
world around it is a `PrinterStimulus` over the simulator's printer model
(`simulator.printer_control.SimPrinterControl`), so what the paper shows is known:

- ``sim-receipt``, ``sim-receipt58``, ``sim-journal``: ``sim://receipt_printer`` with each
  printer profile (the 80 mm kiosk printer with cutter and presenter, a 58 mm printer
  with a cutter, the journal build), and ``sim://journal_printer`` (its own name, the
  journal build by default);
- ``served``, ``served-journal``: the simulated receipt (journal) printer's service behind
  a `RemoteServer`, reached through ``zmq://127.0.0.1:PORT/receipt_printer`` (or
  ``.../journal_printer``; documents as JSON, images as blobs);
- ``escpos-pty``, ``escpos-usb``: the real ``escpos`` driver over the serial transport on
  a pty and over the simulated USB bus (the real pyusb stack), against the ESC/POS wire
  emulator whose printer is the simulator's model (the bytes the driver sends go
  through `PrinterModel.feed`, the same path as a raw job).

A run is accepted as `tellerhal.conformance.framework.acceptable` says: passed, or
skipped for features none of which the implementation declares; never ``pytest.skip``.
A deliberately broken printer (`simulator.broken.PRINTER_BROKEN_VARIANTS`) must fail the
case written for it. python-escpos streams printed through `print_raw` decode to what
they were made from.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import pytest

import hal
from drivers.printer.escpos import ESCPOS_DRIVER
from hal.devices.printer import PRINTER_FEATURES, Document, Line, Printer, PrinterType
from hal.devices.printer_service import PrinterService
from hal.errors import PaperOut
from hal.remote import RemoteServer
from simulator.broken import PRINTER_BROKEN_VARIANTS
from simulator.models.printer import PRINTER_PROFILES, PrinterModel
from simulator.printer_control import SimPrinterControl
from simulator.world import get_world, reset_worlds
from tellerhal.cli.main import main
from tellerhal.conformance.framework import Harness, Verdict, acceptable, run_case
from tellerhal.conformance.printer import PRINTER_CASES, PrinterCase, PrinterHarness
from tests import sim_process
from tests.escpos_rig import PtyPrinter, UsbPrinter, escpos_registered

#: Opens one case's implementation: the harness, with whatever runs behind it.
Implementation = Callable[[Path], AbstractAsyncContextManager[PrinterHarness]]

#: Real seconds per simulated second.
SCALE = 0.01
PATIENCE = 3.0
_worlds = itertools.count()


@pytest.fixture(autouse=True)
def _fresh_worlds() -> Iterator[None]:
    reset_worlds()
    yield
    reset_worlds()


def _opener(address: str) -> Callable[[], Printer]:
    def open_printer() -> Printer:
        device = hal.open(address)
        assert isinstance(device, Printer)
        return device

    return open_printer


def sim_harness(device: str, profile: str = "") -> Implementation:
    """``sim://<device>[?printer_profile=<profile>]`` in a world of its own."""

    @asynccontextmanager
    async def harness(tmp_path: Path) -> AsyncIterator[PrinterHarness]:
        world = f"printer_contract{next(_worlds)}"
        address = f"sim://{device}?world={world}&clock_scale={SCALE}"
        if profile:
            address += f"&printer_profile={profile}"
        open_printer = _opener(address)
        open_printer()  # makes the world's model as the address says
        stimulus = get_world(world).printer_control(device)
        yield Harness(open=open_printer, stimulus=stimulus, patience=PATIENCE)

    return harness


def served_harness(device: str) -> Implementation:
    """The simulated printer's service behind a `RemoteServer` on loopback TCP, reached
    through ``zmq://127.0.0.1:PORT/<device>``."""

    @asynccontextmanager
    async def harness(tmp_path: Path) -> AsyncIterator[PrinterHarness]:
        world = get_world(f"printer_zmq{next(_worlds)}", clock_scale=SCALE)
        served = world.open_printer(device)
        async with RemoteServer(
            {device: served}, "tcp://127.0.0.1:0", simulator=True, heartbeat_interval=0.5
        ) as server:
            address = "zmq://" + server.endpoint.removeprefix("tcp://") + f"/{device}"
            yield Harness(
                open=_opener(address), stimulus=world.printer_control(device), patience=PATIENCE
            )

    return harness


@asynccontextmanager
async def escpos_pty_harness(tmp_path: Path) -> AsyncIterator[PrinterHarness]:
    """The real ``escpos`` driver over the serial transport on a pty (115200 bd), against
    the ESC/POS emulator whose printer is the simulator's receipt model."""
    rig = PtyPrinter(tmp_path)
    with escpos_registered():
        async with rig.wire():
            yield Harness(
                open=_opener(rig.address()),
                stimulus=SimPrinterControl(rig.model),
                patience=PATIENCE,
            )


@asynccontextmanager
async def escpos_usb_harness(tmp_path: Path) -> AsyncIterator[PrinterHarness]:
    """The real ``escpos`` driver on the simulated USB bus through the real pyusb stack
    (printer class, bulk OUT and IN), against the same emulated printer."""
    rig = UsbPrinter()
    with escpos_registered():
        async with rig.wire():
            yield Harness(
                open=_opener(rig.address()),
                stimulus=SimPrinterControl(rig.model),
                patience=PATIENCE,
            )


IMPLEMENTATIONS: dict[str, Implementation] = {
    "sim-receipt": sim_harness("receipt_printer", "receipt"),
    "sim-receipt58": sim_harness("receipt_printer", "receipt58"),
    "sim-journal": sim_harness("receipt_printer", "journal"),
    "sim-journal-printer": sim_harness("journal_printer"),
    "served": served_harness("receipt_printer"),
    "served-journal": served_harness("journal_printer"),
    "escpos-pty": escpos_pty_harness,
    "escpos-usb": escpos_usb_harness,
}


def _profile_features(name: str) -> frozenset[str]:
    assert name in PRINTER_PROFILES
    return PrinterModel(profile=name).capabilities().features()


#: What each implementation promises: each profile's features as its capabilities say.
DECLARED: dict[str, frozenset[str]] = {
    "sim-receipt": _profile_features("receipt"),
    "sim-receipt58": _profile_features("receipt58"),
    "sim-journal": _profile_features("journal"),
    "sim-journal-printer": _profile_features("journal"),
    "served": _profile_features("receipt"),
    "served-journal": _profile_features("journal"),
    "escpos-pty": ESCPOS_DRIVER.capabilities["receipt_printer"],
    "escpos-usb": ESCPOS_DRIVER.capabilities["receipt_printer"],
}


#: Known gaps, each failing its case today (strict: the day it passes, this must go).
KNOWN_GAPS: dict[tuple[str, str], str] = {}


@pytest.mark.parametrize("case", PRINTER_CASES, ids=lambda c: c.id.split(".")[-1])
@pytest.mark.parametrize("implementation", sorted(IMPLEMENTATIONS))
async def test_contract(
    implementation: str, case: PrinterCase, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    gap = KNOWN_GAPS.get((implementation, case.id))
    if gap is not None:
        request.applymarker(pytest.mark.xfail(reason=gap, strict=True))
    async with IMPLEMENTATIONS[implementation](tmp_path) as harness:
        result = await run_case(case, harness)
    why = acceptable(result, DECLARED[implementation])
    assert why is None, why


def test_every_printer_feature_is_exercised() -> None:
    """The receipt build has every feature but none the suite does not know, and a
    case needs each feature (run on a build without it, the case is skipped naming it)."""
    assert DECLARED["sim-receipt"] == frozenset(PRINTER_FEATURES)
    assert DECLARED["sim-journal"] < DECLARED["sim-receipt"]


def test_the_suite_lists_the_required_cases() -> None:
    ids = [case.id.split(".")[-1] for case in PRINTER_CASES]
    required = {
        "capabilities",
        "styled_text",
        "chinese",
        "barcodes",
        "qr",
        "images",
        "print_raw",
        "unsupported",
        "invalid_data",
        "paper_out",
        "paper_low",
        "cover_open",
        "jam",
        "presenter",
        "cut",
        "timeout",
    }
    assert required <= set(ids)
    assert len(ids) == len(set(ids)), "case ids must be unique"


# --- broken printers ---------------------------------------------------------------------

#: The case that must catch each broken printer (others may catch it too).
CAUGHT_BY = {
    "drops_line_before_cut": ("printer.styled_text", "expected 'after the feed'"),
    "paper_out_without_counts": ("printer.paper_out", "PaperOut says nothing of how far"),
    "cjk_one_column": ("printer.chinese", "printed line 1 is"),
}


def test_every_broken_printer_has_an_expected_catch() -> None:
    assert set(CAUGHT_BY) == set(PRINTER_BROKEN_VARIANTS)


def model_harness(model: PrinterModel) -> PrinterHarness:
    """A model behind the real service, with its control."""

    def open_printer() -> Printer:
        return PrinterService(model, name=model.name)

    return Harness(open=open_printer, stimulus=SimPrinterControl(model), patience=PATIENCE)


@pytest.mark.parametrize("variant", sorted(PRINTER_BROKEN_VARIANTS))
async def test_the_suite_fails_every_broken_printer(variant: str) -> None:
    results = []
    for case in PRINTER_CASES:
        clock = get_world(f"printer_broken{next(_worlds)}", clock_scale=SCALE).clock
        model = PRINTER_BROKEN_VARIANTS[variant](clock=clock)
        results.append(await run_case(case, model_harness(model)))
    failed = [r for r in results if r.verdict is not Verdict.PASSED]
    case_id, said = CAUGHT_BY[variant]
    caught = [r for r in failed if r.case == case_id]
    assert caught, f"{case_id} passed the broken printer {variant!r}"
    assert caught[0].verdict is Verdict.FAILED, caught[0]
    assert said in caught[0].detail, caught[0].detail
    assert all(r.verdict is Verdict.FAILED for r in failed), [(r.case, r.detail) for r in failed]
    # The faithful parts still pass: the suite pinpoints the defect.
    assert len(failed) <= len(results) // 2, [(r.case, r.detail) for r in failed]


async def test_an_honest_printer_passes_the_cases_the_broken_ones_fail() -> None:
    for case_id, _ in CAUGHT_BY.values():
        (case,) = [c for c in PRINTER_CASES if c.id == case_id]
        clock = get_world(f"printer_honest{next(_worlds)}", clock_scale=SCALE).clock
        result = await run_case(case, model_harness(PrinterModel(clock=clock)))
        assert result.verdict is Verdict.PASSED, result


# --- the journal printer: a second Printer under its own name ------------------------------


async def test_the_journal_printer_is_a_second_printer() -> None:
    world = f"printer_two{next(_worlds)}"
    receipt = hal.open(f"sim://receipt_printer?world={world}")
    journal = hal.open(f"sim://journal_printer?world={world}")
    assert isinstance(receipt, Printer)
    assert isinstance(journal, Printer)
    on_receipt = get_world(world).printer_control("receipt_printer")
    on_journal = get_world(world).printer_control("journal_printer")
    async with receipt, journal:
        assert receipt.name == "receipt_printer"
        assert journal.name == "journal_printer"
        assert (await receipt.capabilities()).type is PrinterType.RECEIPT
        assert (await journal.capabilities()).type is PrinterType.JOURNAL
        await journal.print_document(Document((Line.of("J 0001 withdrawal 380.00"),)))
        await receipt.print_document(Document((Line.of("receipt only"),)))
        assert await on_journal.printed_lines() == ["J 0001 withdrawal 380.00"]
        assert await on_receipt.printed_lines() == ["receipt only"]
        # The journal's paper running out stops the journal only.
        await on_journal.paper_runs_out()
        with pytest.raises(PaperOut):
            await journal.print_document(Document((Line.of("J 0002"),)))
        result = await receipt.print_document(Document((Line.of("still printing"),)))
        assert result.complete


# --- an independent client: python-escpos ------------------------------------------------


@pytest.mark.parametrize("implementation", ["sim-receipt", "served", "escpos-pty", "escpos-usb"])
async def test_python_escpos_streams_print_through_print_raw(
    implementation: str, tmp_path: Path
) -> None:
    """Streams python-escpos makes (its Dummy printer) printed through `print_raw` (in
    process, over ``zmq://``, through the escpos driver on a pty and on USB) show the
    text, QR payloads and barcode data they were made from."""
    from escpos.printer import Dummy

    p = Dummy(profile="TM-T88III")
    p.set(align="center", bold=True)
    p.text("TELLERHAL BANK\n")
    p.set(align="left", bold=False, underline=1)
    p.text("Withdrawal   380.00 CNY\n")
    p.set(underline=0)
    p.qr("TXN:20261129-0001;AMT:380.00", native=True, size=4)
    p.barcode("{BTXN-0001", "CODE128", height=60, width=2, function_type="B")
    p.barcode("4006381333931", "EAN13", height=60, width=2)
    p.cut()
    async with IMPLEMENTATIONS[implementation](tmp_path) as harness:
        async with harness.open() as printer:
            result = await printer.print_raw(p.output, timeout=PATIENCE)
        lines = await harness.stimulus.printed_lines()
    assert result.complete
    assert result.bytes_sent == len(p.output)
    assert lines is not None
    shown = [line.rstrip() for line in lines]
    assert shown[0] == " " * 17 + "TELLERHAL BANK"
    assert shown[1] == "Withdrawal   380.00 CNY"
    assert "[QR: TXN:20261129-0001;AMT:380.00]" in shown
    assert "[CODE128: TXN-0001]" in shown
    assert "[EAN13: 4006381333931]" in shown
    assert shown[-1] == "[CUT]"


# --- the command line ----------------------------------------------------------------------


@pytest.mark.parametrize("device", ["receipt_printer", "journal_printer"])
def test_tellerhal_conformance_runs_the_printer_suite(
    device: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["conformance", "--json", f"sim://{device}?clock_scale=0.01"])
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.startswith("{")]
    assert status == 0, out
    assert len(lines) == len(PRINTER_CASES)
    skipped = [line for line in lines if '"skipped"' in line]
    assert all('"passed"' in line for line in lines if line not in skipped), out
    # The journal build has no cutter and no presenter: those cases are skipped for it.
    assert len(skipped) == (2 if device == "journal_printer" else 0), out


@pytest.mark.parametrize("device", ["receipt_printer", "journal_printer"])
def test_tellerhal_certify_certifies_the_simulated_printers(
    device: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["certify", device, f"sim://{device}?clock_scale=0.01"])
    out = capsys.readouterr().out
    assert status == 0, out
    assert out.rstrip().endswith("CERTIFIED")


def test_the_suite_against_a_tellerhal_sim_process_with_its_control_socket(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``tellerhal conformance zmq://.../receipt_printer --stimulus CONTROL``: the receipt
    printer of a ``tellerhal sim`` in another process, its paper and cover worked through
    the control socket (`RemotePrinterControl`), a fresh world per case."""
    scenario = tmp_path / "printer.toml"
    scenario.write_text(
        'version = 1\n[devices.receipt_printer]\nprofile = "receipt"\n', encoding="utf-8"
    )
    cases = ["printer.chinese", "printer.paper_out", "printer.cover_open", "printer.presenter"]
    with sim_process.sim(tmp_path / "sim", str(scenario)) as proc:
        status = main(
            ["conformance", "--json"]
            + [arg for case in cases for arg in ("--case", case)]
            + [proc.address("receipt_printer"), "--stimulus", proc.control]
        )
        assert proc.stop() == 0, proc.err
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.startswith("{")]
    assert status == 0, out
    assert len(lines) == len(cases)
    assert all('"passed"' in line for line in lines), out
