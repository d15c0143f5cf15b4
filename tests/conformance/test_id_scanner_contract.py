"""The IdScanner contract suite, run against every implementation we ship.

Each implementation is reached the way an app reaches it (``hal.open(address)``), and the
customer is its `IdScannerStimulus`:

- ``sim-kiosk``, ``sim-chip``, ``sim-mrz``: ``sim://id_scanner`` with each ``id_profile``
  (the motorised kiosk scanner with every feature, a flat SAM_V reader, an OCR reader);
- ``zmq-kiosk``: the kiosk's service behind a `RemoteServer`, through ``zmq://``;
- ``samv-pty``, ``samv-usb``: the real ``samv`` driver over a pty and over the simulated
  USB bus (the real pyusb stack), against the SAM_V emulator whose field is the
  simulator's flat chip reader (`simulator.wire.samv_firmware.ModelField`), so the
  simulator's control is the customer;
- ``mrz-pty``: the real ``mrz-serial`` driver on a pty against the simulated OCR reader,
  the customer laying documents on its window (`MrzWindowStimulus`).

A run is accepted as `tellerhal.conformance.framework.acceptable` says: it passed, or it
was skipped for features none of which the implementation declares; never
``pytest.skip``. Deliberately broken scanners (`simulator.broken.ID_SCANNER_BROKEN_VARIANTS`)
must each fail the case written for them, while the rest pass.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import pytest

import hal
from drivers.id_scanner.mrz_serial import MRZ_SERIAL_DRIVER
from drivers.id_scanner.samv import SAMV_DRIVER
from hal.devices.id_scanner import ID_FEATURES, IdScanner, ImageFormat, ImageSide
from hal.devices.id_scanner_service import IdScannerService
from hal.errors import SequenceError
from hal.remote import RemoteServer
from hal.stimulus import DocumentSample, IdScannerStimulus
from hal.transports.serial import SERIAL_TRANSPORT
from simulator.broken import ID_SCANNER_BROKEN_VARIANTS
from simulator.id_control import IdScannerControl
from simulator.id_images import card_image, image_formats
from simulator.id_profiles import document_profile
from simulator.models.id_scanner import IdScannerModel
from simulator.registration import SIM_DRIVER
from simulator.wire.mrz_serial import MrzSerialEmulator
from simulator.wire.pty import PtyBridge
from simulator.wire.samv_firmware import ModelField, SamvFirmware
from simulator.world import IdScannerSetup, get_world, reset_worlds
from tellerhal.cli.main import main
from tellerhal.conformance.framework import Harness, Verdict, acceptable, run_case
from tellerhal.conformance.id_scanner import (
    ID_SCANNER_CASES,
    IdScannerCase,
    IdScannerHarness,
)
from tests import sim_process
from tests.samv_rig import SamvRig, SamvUsbRig, samv_registered
from tests.specs import registered

#: Opens one case's implementation: the harness, with whatever runs behind it.
Implementation = Callable[[Path], AbstractAsyncContextManager[IdScannerHarness]]

#: Real seconds per simulated second.
SCALE = 0.01
#: Faster still, where a case's wait is not the point (broken scanners, the CLI).
FAST = 0.002
_worlds = itertools.count()


@pytest.fixture(scope="module", autouse=True)
def _opencv_pool() -> None:
    """OpenCV starts its worker threads at its first encode and keeps them for the
    process: start them before the first test (the kiosk scans JPEG images with it),
    so the leak check does not blame whichever case encodes first."""
    if ImageFormat.JPEG in image_formats():
        card_image("resident", ImageSide.FRONT, ImageFormat.JPEG)


@pytest.fixture(autouse=True)
def _fresh_worlds() -> Iterator[None]:
    reset_worlds()
    yield
    reset_worlds()


def _opener(address: str) -> Callable[[], IdScanner]:
    def open_scanner() -> IdScanner:
        device = hal.open(address)
        assert isinstance(device, IdScanner)
        return device

    return open_scanner


def sim_harness(build: str) -> Implementation:
    """``sim://id_scanner?id_profile=<build>`` in a world of its own, with a file ledger
    (the retain case reopens the scanner and expects its count back)."""

    @asynccontextmanager
    async def harness(tmp_path: Path) -> AsyncIterator[IdScannerHarness]:
        world = f"id_contract{next(_worlds)}"
        address = (
            f"sim://id_scanner?world={world}&clock_scale={SCALE}&id_profile={build}"
            f"&ledger={tmp_path / 'ledger.sqlite'}"
        )
        open_scanner = _opener(address)
        open_scanner()  # makes the world's model as the address says
        stimulus = get_world(world).id_scanner_control()
        yield Harness(open=open_scanner, stimulus=stimulus, patience=2.0)

    return harness


@asynccontextmanager
async def zmq_harness(tmp_path: Path) -> AsyncIterator[IdScannerHarness]:
    """The simulated kiosk scanner's service behind a `RemoteServer` on loopback TCP,
    reached through ``zmq://127.0.0.1:PORT/id_scanner``."""
    world = get_world(f"id_zmq{next(_worlds)}", clock_scale=SCALE)
    served = world.open_id_scanner(ledger=tmp_path / "ledger.sqlite")
    async with RemoteServer(
        {"id_scanner": served}, "tcp://127.0.0.1:0", simulator=True, heartbeat_interval=0.5
    ) as server:
        address = "zmq://" + server.endpoint.removeprefix("tcp://") + "/id_scanner"
        yield Harness(open=_opener(address), stimulus=world.id_scanner_control(), patience=2.0)


def _flat_chip_model() -> IdScannerModel:
    """The simulator's flat chip reader, as the field of an emulated SAM_V module: the
    control presents and takes documents there; the module reads what lies on it."""
    world = get_world(f"id_samv{next(_worlds)}", clock_scale=SCALE)
    return world.id_scanner(setup=IdScannerSetup(build="chip"))


@asynccontextmanager
async def samv_pty_harness(tmp_path: Path) -> AsyncIterator[IdScannerHarness]:
    """The real ``samv`` driver over the serial transport on a pty, against the SAM_V
    emulator whose field is the simulator's chip reader."""
    model = _flat_chip_model()
    rig = SamvRig(tmp_path, SamvFirmware(ModelField(model)))
    with samv_registered():
        async with rig.wire():
            yield Harness(
                open=_opener(rig.address()), stimulus=IdScannerControl(model), patience=2.0
            )


@asynccontextmanager
async def samv_usb_harness(tmp_path: Path) -> AsyncIterator[IdScannerHarness]:
    """The real ``samv`` driver on the simulated USB bus through the real pyusb stack
    (four bulk pipes), against the same emulated module."""
    model = _flat_chip_model()
    rig = SamvUsbRig()
    rig.firmware = SamvFirmware(ModelField(model))
    with samv_registered():
        async with rig.wire():
            yield Harness(
                open=_opener(rig.address()), stimulus=IdScannerControl(model), patience=2.0
            )


class MrzWindowStimulus(IdScannerStimulus):
    """The customer at an OCR reader on a serial line: a document laid on the window is
    read once and its MRZ block sent; an unreadable one gives a TD3-shaped block that
    is no MRZ. The reader holds nothing, so the ground truth is where the customer left
    it.

    A person lays the document down ``delay`` seconds after being asked, no sooner: the
    driver drops every byte for ``idle`` seconds after a cancelled read (the tail of a
    document swiped at that moment is not the next customer's), so ``delay`` must
    exceed the address's ``idle``.
    """

    def __init__(self, emulator: MrzSerialEmulator, *, delay: float) -> None:
        self.emulator = emulator
        self.delay = delay
        self.position = "none"

    async def present_document(self, profile: str = "passport") -> DocumentSample:
        if self.position == "reader":
            raise SequenceError("a document already lies on the window")
        await asyncio.sleep(self.delay)
        if profile == "unreadable":
            sample = document_profile("unreadable").sample()
            await self.emulator.present(("P<UTO" + "?" * 39, "X" * 44))
        else:
            sample = await self.emulator.present_profile(profile)
        self.position = "reader"
        return sample

    async def remove_document(self, *, timeout: float = 10.0) -> None:
        if self.position != "reader":
            raise SequenceError(f"no document to take: it is at {self.position!r}")
        self.position = "customer"

    async def document_position(self) -> str:
        return self.position


@asynccontextmanager
async def mrz_pty_harness(tmp_path: Path) -> AsyncIterator[IdScannerHarness]:
    """The real ``mrz-serial`` driver over the serial transport on a pty (default options
    but a short ``idle``), against the simulated OCR reader."""
    with registered(MRZ_SERIAL_DRIVER, SERIAL_TRANSPORT):
        async with (
            PtyBridge("mrz", directory=tmp_path) as bridge,
            MrzSerialEmulator(bridge) as emulator,
        ):
            address = (
                f"mrz-serial+serial://{bridge.path}?baud=9600&idle=0.2"
                f"&ledger={tmp_path / 'ledger.sqlite'}"
            )
            yield Harness(
                open=_opener(address),
                stimulus=MrzWindowStimulus(emulator, delay=0.25),
                patience=2.0,
            )


IMPLEMENTATIONS: dict[str, Implementation] = {
    "sim-kiosk": sim_harness("kiosk"),
    "sim-chip": sim_harness("chip"),
    "sim-mrz": sim_harness("mrz"),
    "zmq-kiosk": zmq_harness,
    "samv-pty": samv_pty_harness,
    "samv-usb": samv_usb_harness,
    "mrz-pty": mrz_pty_harness,
}

#: What each implementation promises: the simulator's builds as written here (so a
#: build that loses a feature is caught by a skip for a declared one), the drivers
#: their ``DriverSpec.capabilities``; ``zmq-kiosk`` serves the kiosk and declares nothing
#: itself.
DECLARED: dict[str, frozenset[str]] = {
    "sim-kiosk": frozenset(ID_FEATURES),
    "sim-chip": frozenset({"chip", "fingerprints", "newest_address"}),
    "sim-mrz": frozenset({"mrz", "removal_sensor"}),
    "zmq-kiosk": frozenset(ID_FEATURES),
    "samv-pty": SAMV_DRIVER.capabilities["id_scanner"],
    "samv-usb": SAMV_DRIVER.capabilities["id_scanner"],
    "mrz-pty": MRZ_SERIAL_DRIVER.capabilities["id_scanner"],
}


def test_every_implementation_declares_features() -> None:
    assert set(DECLARED) == set(IMPLEMENTATIONS)
    for implementation in IMPLEMENTATIONS:
        assert DECLARED[implementation], f"{implementation} declares no features"
    # The sim driver declares its default build's features: the kiosk's, all of them.
    assert SIM_DRIVER.capabilities["id_scanner"] == DECLARED["sim-kiosk"]


@pytest.mark.parametrize("case", ID_SCANNER_CASES, ids=lambda c: c.id.split(".")[-1])
@pytest.mark.parametrize("implementation", sorted(IMPLEMENTATIONS))
async def test_contract(implementation: str, case: IdScannerCase, tmp_path: Path) -> None:
    async with IMPLEMENTATIONS[implementation](tmp_path) as harness:
        result = await run_case(case, harness)
    why = acceptable(result, DECLARED[implementation])
    assert why is None, why


def test_the_suite_lists_the_required_cases() -> None:
    ids = [case.id.split(".")[-1] for case in ID_SCANNER_CASES]
    required = {
        "capabilities_status",
        "read_valid",
        "read_chip_documents",
        "read_mrz_documents",
        "bad_check",
        "bad_mrz",
        "unreadable",
        "forged",
        "command_event_ids",
        "timeout_without_document",
        "cancel_mid_wait",
        "fingerprints",
        "newest_address",
        "eject",
        "removal_sensor",
        "retain",
        "reset",
        "unsupported",
        "privacy",
    }
    assert required <= set(ids)
    assert len(ids) == len(set(ids)), "case ids must be unique"


def test_every_feature_has_a_case_that_needs_it() -> None:
    """Each feature of the vocabulary is exercised on the kiosk, and skipped (naming it)
    on a build without it: run on the kiosk, every case passes."""
    assert set(ID_FEATURES) == {
        "chip",
        "mrz",
        "fingerprints",
        "newest_address",
        "images",
        "eject",
        "retain",
        "removal_sensor",
    }


# --- broken scanners ---------------------------------------------------------------------

#: The case that must catch each broken scanner (others may catch it too).
CAUGHT_BY = {
    "forgets_document_inserted": "id_scanner.command_event_ids",
    "drops_fingerprints": "id_scanner.fingerprints",
    "changes_photo": "id_scanner.read_valid",
    "leaks_number": "id_scanner.privacy",
    "logs_number": "id_scanner.privacy",
}


def test_every_broken_scanner_has_an_expected_catch() -> None:
    assert set(CAUGHT_BY) == set(ID_SCANNER_BROKEN_VARIANTS)


def model_harness(model: IdScannerModel, tmp_path: Path) -> IdScannerHarness:
    """A model behind the real service (a file ledger), with its control."""
    ledger = tmp_path / "ledger.sqlite"

    def open_scanner() -> IdScanner:
        return IdScannerService(model, ledger=ledger)

    return Harness(open=open_scanner, stimulus=IdScannerControl(model), patience=0.5)


def broken_harness(variant: str, tmp_path: Path) -> IdScannerHarness:
    """The kiosk build of a broken model."""
    world = get_world(f"id_broken{next(_worlds)}", clock_scale=FAST)
    model = ID_SCANNER_BROKEN_VARIANTS[variant](
        name="id_scanner", clock=world.clock, rng=world.random("id_scanner")
    )
    return model_harness(model, tmp_path)


@pytest.mark.parametrize("variant", sorted(ID_SCANNER_BROKEN_VARIANTS))
async def test_the_suite_fails_every_broken_scanner(variant: str, tmp_path: Path) -> None:
    results = []
    for n, case in enumerate(ID_SCANNER_CASES):
        case_dir = tmp_path / str(n)
        case_dir.mkdir()
        results.append(await run_case(case, broken_harness(variant, case_dir)))
    failed = [r for r in results if r.verdict is not Verdict.PASSED]
    assert failed, f"the suite passed the broken scanner {variant!r}"
    assert CAUGHT_BY[variant] in {r.case for r in failed}, [(r.case, r.detail) for r in failed]
    assert all(r.verdict is Verdict.FAILED for r in failed), [(r.case, r.detail) for r in failed]
    # The faithful parts still pass: the suite pinpoints the defect.
    assert len(failed) <= len(results) // 2, [(r.case, r.detail) for r in failed]


async def test_the_leak_names_the_field_not_the_number(tmp_path: Path) -> None:
    (case,) = [c for c in ID_SCANNER_CASES if c.id == "id_scanner.bad_check"]
    result = await run_case(case, broken_harness("leaks_number", tmp_path))
    assert result.verdict is Verdict.FAILED
    assert "'bad_check' document's document_number appears in full" in result.detail
    # The failure says which field leaked, never the value.
    sample = await IdScannerControl(
        get_world("id_leak_probe", clock_scale=SCALE).id_scanner()
    ).present_document("bad_check")
    assert sample.expected is not None
    assert sample.expected.document_number not in result.detail


async def test_the_privacy_case_reads_the_logs_and_leaves_logging_as_it_was(
    tmp_path: Path,
) -> None:
    (case,) = [c for c in ID_SCANNER_CASES if c.id == "id_scanner.privacy"]
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    result = await run_case(case, broken_harness("logs_number", tmp_path))
    assert result.verdict is Verdict.FAILED, result
    assert "document_number appears in full in a log record" in result.detail
    assert (list(root.handlers), root.level) == (handlers, level)


async def test_an_honest_kiosk_passes_the_cases_the_broken_ones_fail(tmp_path: Path) -> None:
    for n, case_id in enumerate(sorted(set(CAUGHT_BY.values()))):
        (case,) = [c for c in ID_SCANNER_CASES if c.id == case_id]
        model = get_world(f"id_honest{n}", clock_scale=FAST).id_scanner()
        (tmp_path / str(n)).mkdir()
        result = await run_case(case, model_harness(model, tmp_path / str(n)))
        assert result.verdict is Verdict.PASSED, result


# --- the command line ----------------------------------------------------------------------


def test_tellerhal_conformance_runs_the_id_scanner_suite(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Two cases here: the certify test below runs them all through the same runner.
    cases = ["id_scanner.read_valid", "id_scanner.privacy"]
    status = main(
        ["conformance", "--json", "sim://id_scanner?clock_scale=0.002"]
        + [arg for case in cases for arg in ("--case", case)]
    )
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.startswith("{")]
    assert status == 0, out
    assert len(lines) == len(cases)
    assert all('"passed"' in line for line in lines), out


def test_tellerhal_certify_certifies_the_simulated_scanner(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status = main(["certify", "id_scanner", "sim://id_scanner?clock_scale=0.002"])
    out = capsys.readouterr().out
    assert status == 0, out
    assert "CERTIFIED" in out
    assert "NOT CERTIFIED" not in out
    assert f"{len(ID_SCANNER_CASES)} passed, 0 failed" in out


def test_a_flat_reader_is_not_certified_for_the_kiosk_features(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The sim driver declares the kiosk's features; a chip build lacks most of them.
    status = main(["certify", "id_scanner", f"sim://id_scanner?clock_scale={FAST}&id_profile=chip"])
    out = capsys.readouterr().out
    assert status == 1, out
    assert "NOT CERTIFIED" in out
    assert "id_scanner.retain was skipped for retain, which the driver declares" in out


def test_tellerhal_conformance_drives_a_scanner_in_another_process(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--stimulus``: the kiosk scanner of a ``tellerhal sim`` process, reached through
    ``zmq://``, its customer that process's control socket (a fresh world per case)."""
    scenario = tmp_path / "id.toml"
    scenario.write_text('version = 1\n[devices.id_scanner]\nbuild = "kiosk"\n', encoding="utf-8")
    cases = ["id_scanner.read_valid", "id_scanner.retain", "id_scanner.unsupported"]
    with sim_process.sim(tmp_path / "sim", str(scenario), clock_scale=FAST) as server:
        status = main(
            ["conformance", "--device", "id_scanner", server.address("id_scanner")]
            + ["--stimulus", server.control]
            + [arg for case in cases for arg in ("--case", case)]
        )
        assert server.stop() == 0, server.err
    out = capsys.readouterr().out
    assert status == 0, out
    assert "3 passed, 0 failed" in out
