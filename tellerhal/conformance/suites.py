"""The contract suites of the device classes, one `DeviceSuite` each, in `SUITES`.

A suite names its cases, the public interface a device must implement, how to read
the capability features and the firmware an opened device reports (`firmware_of`), and
the three ways to make its world act: the in-process simulator's control API for a
``sim://`` address, a ``tellerhal sim`` control socket, and a person at the bench.
`tellerhal.conformance.runner` runs them and re-exports every name here.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import hal
from hal.address import DeviceAddress
from hal.devices.camera import Camera
from hal.devices.card_reader import CardReader
from hal.devices.cash_acceptor import CashAcceptor
from hal.devices.cash_dispenser import CashDispenser
from hal.devices.id_scanner import IdScanner
from hal.devices.pin_pad import PinPad
from hal.devices.printer import Printer
from hal.errors import ConfigurationError
from tellerhal.conformance.camera import CAMERA_CASES
from tellerhal.conformance.card_reader import CARD_READER_CASES
from tellerhal.conformance.cash_acceptor import CASH_ACCEPTOR_CASES
from tellerhal.conformance.cash_dispenser import CASH_DISPENSER_CASES
from tellerhal.conformance.framework import ContractCase
from tellerhal.conformance.id_scanner import ID_SCANNER_CASES
from tellerhal.conformance.pin_pad import PIN_PAD_CASES
from tellerhal.conformance.printer import PRINTER_CASES

if TYPE_CHECKING:
    from simulator.world import World

__all__ = [
    "CAMERA_SUITE",
    "CARD_READER_SUITE",
    "CASH_ACCEPTOR_SUITE",
    "CASH_DISPENSER_SUITE",
    "ID_SCANNER_SUITE",
    "JOURNAL_PRINTER_SUITE",
    "PIN_PAD_SUITE",
    "RECEIPT_PRINTER_SUITE",
    "SUITES",
    "DeviceReport",
    "DeviceSuite",
    "firmware_of",
]


@dataclass(frozen=True)
class DeviceReport:
    """What an opened device says about itself.

    Attributes:
        features: its capability features (``CardReaderCapabilities.features()``).
        firmware: the firmware version it reports, if it reports one.
    """

    features: frozenset[str]
    firmware: str | None = None


@dataclass(frozen=True)
class DeviceSuite:
    """A device class's contract suite and how to run it.

    Attributes:
        device_class: the device name (``card_reader``), as in `hal.registry.DEVICE_NAMES`.
        interface: the public interface a device of the class implements.
        cases: the contract cases.
        describe: what an opened device reports (features, firmware).
        sim_stimulus: the in-process simulator's stimulus for a ``sim://`` address of
            one case's world, and the patience that world's clock calls for.
        remote_stimulus: the stimulus of a ``tellerhal sim`` control socket.
        bench_stimulus: the bench stimulus, from the bench's test cards file (``None``
            for a class that needs no test media).
        needs_cards: the bench needs test cards (``--cards``) for this class.
        uses_ledger: the class's simulated devices keep a ledger (a fresh file per case).
    """

    device_class: str
    interface: type[Any]
    cases: tuple[ContractCase[Any, Any], ...]
    describe: Callable[[Any], Awaitable[DeviceReport]]
    sim_stimulus: Callable[[DeviceAddress], tuple[Any, float]]
    remote_stimulus: Callable[[str], Any]
    bench_stimulus: Callable[[Path | None], Any]
    needs_cards: bool = True
    uses_ledger: bool = True


async def _describe(device: Any) -> DeviceReport:
    """What an opened device reports: its capability features and firmware."""
    caps = await device.capabilities()
    return DeviceReport(caps.features(), await firmware_of(device, caps))


async def firmware_of(device: object, capabilities: object) -> str | None:
    """The firmware version a device reports, if it has a way to.

    Looked for, in order: a ``firmware`` (or ``firmware_version``) attribute of its
    capabilities; a ``device_info()`` method (plain or async) returning a mapping with
    a ``firmware`` key. ``None`` when none is there.
    """
    for name in ("firmware", "firmware_version"):
        value = getattr(capabilities, name, None)
        if isinstance(value, str) and value:
            return value
    info_method = getattr(device, "device_info", None)
    if callable(info_method):
        info = info_method()
        if inspect.isawaitable(info):
            info = await info
        value = info.get("firmware") if isinstance(info, dict) else None
        if isinstance(value, str) and value:
            return value
    return None


def _sim_world(address: DeviceAddress) -> World:
    """The simulated world of a ``sim://`` address, made with the device and the model
    by opening the address."""
    from simulator.world import get_world

    hal.open(address)  # makes the world and the model as the address says
    return get_world(address.options["world"])


def _sim_card_reader(address: DeviceAddress) -> tuple[Any, float]:
    world = _sim_world(address)
    # Long enough for the reader's 30 s take timeout to pass within 12 patiences.
    patience = max(2.0, world.clock.to_real(5.0))
    return world.card_reader_control(address.authority or "card_reader"), patience


def _remote_card_reader(endpoint: str) -> Any:
    from simulator.remote_control import RemoteCardReaderControl

    return RemoteCardReaderControl(endpoint)


def _bench_card_reader(cards: Path | None) -> Any:
    from tellerhal.conformance.bench import BenchCardReaderStimulus, load_bench_cards

    assert cards is not None  # SuiteRun.check asks for them
    return BenchCardReaderStimulus(load_bench_cards(cards))


CARD_READER_SUITE = DeviceSuite(
    device_class="card_reader",
    interface=CardReader,
    cases=CARD_READER_CASES,
    describe=_describe,
    sim_stimulus=_sim_card_reader,
    remote_stimulus=_remote_card_reader,
    bench_stimulus=_bench_card_reader,
)


def _sim_pin_pad(address: DeviceAddress) -> tuple[Any, float]:
    world = _sim_world(address)
    return world.pin_pad_control(address.authority or "pin_pad"), 2.0


def _remote_pin_pad(endpoint: str) -> Any:
    from simulator.remote_control import RemotePinPadControl

    return RemotePinPadControl(endpoint)


def _bench_pin_pad(cards: Path | None) -> Any:
    from tellerhal.conformance.bench import BenchPinPadStimulus

    return BenchPinPadStimulus()


PIN_PAD_SUITE = DeviceSuite(
    device_class="pin_pad",
    interface=PinPad,
    cases=PIN_PAD_CASES,
    describe=_describe,
    sim_stimulus=_sim_pin_pad,
    remote_stimulus=_remote_pin_pad,
    bench_stimulus=_bench_pin_pad,
    needs_cards=False,
    uses_ledger=False,
)


def _sim_cash_dispenser(address: DeviceAddress) -> tuple[Any, float]:
    world = _sim_world(address)
    return world.cash_dispenser_control(address.authority or "cash_dispenser"), 2.0


def _remote_cash_dispenser(endpoint: str) -> Any:
    from simulator.remote_control import RemoteCashDispenserControl

    return RemoteCashDispenserControl(endpoint)


def _bench_cash_dispenser(cards: Path | None) -> Any:
    from tellerhal.conformance.bench import BenchCashDispenserStimulus

    return BenchCashDispenserStimulus()


CASH_DISPENSER_SUITE = DeviceSuite(
    device_class="cash_dispenser",
    interface=CashDispenser,
    cases=CASH_DISPENSER_CASES,
    describe=_describe,
    sim_stimulus=_sim_cash_dispenser,
    remote_stimulus=_remote_cash_dispenser,
    bench_stimulus=_bench_cash_dispenser,
    needs_cards=False,
    uses_ledger=True,
)


def _sim_cash_acceptor(address: DeviceAddress) -> tuple[Any, float]:
    world = _sim_world(address)
    return world.cash_acceptor_control(address.authority or "cash_acceptor"), 2.0


def _remote_cash_acceptor(endpoint: str) -> Any:
    from simulator.remote_control import RemoteCashAcceptorControl

    return RemoteCashAcceptorControl(endpoint)


def _bench_cash_acceptor(cards: Path | None) -> Any:
    from tellerhal.conformance.bench import BenchCashAcceptorStimulus

    return BenchCashAcceptorStimulus()


CASH_ACCEPTOR_SUITE = DeviceSuite(
    device_class="cash_acceptor",
    interface=CashAcceptor,
    cases=CASH_ACCEPTOR_CASES,
    describe=_describe,
    sim_stimulus=_sim_cash_acceptor,
    remote_stimulus=_remote_cash_acceptor,
    bench_stimulus=_bench_cash_acceptor,
    needs_cards=False,
    uses_ledger=True,
)


def _sim_id_scanner(address: DeviceAddress) -> tuple[Any, float]:
    world = _sim_world(address)
    return world.id_scanner_control(address.authority or "id_scanner"), 2.0


def _remote_id_scanner(endpoint: str) -> Any:
    from simulator.remote_control import RemoteIdScannerControl

    return RemoteIdScannerControl(endpoint)


def _bench_id_scanner(cards: Path | None) -> Any:
    raise ConfigurationError(
        "the ID scanner suite compares what is read with documents whose contents it "
        "knows: run it against a simulator (sim://, or --stimulus with a tellerhal sim "
        "control socket); there is no bench stimulus for it"
    )


ID_SCANNER_SUITE = DeviceSuite(
    device_class="id_scanner",
    interface=IdScanner,
    cases=ID_SCANNER_CASES,
    describe=_describe,
    sim_stimulus=_sim_id_scanner,
    remote_stimulus=_remote_id_scanner,
    bench_stimulus=_bench_id_scanner,
    needs_cards=False,
    uses_ledger=True,
)


def _sim_camera(address: DeviceAddress) -> tuple[Any, float]:
    world = _sim_world(address)
    # Patience in real seconds: a picture's face detection takes tens of milliseconds.
    return world.camera_control(address.authority or "camera"), 5.0


def _remote_camera(endpoint: str) -> Any:
    from simulator import remote_control

    control = getattr(remote_control, "RemoteCameraControl", None)
    if control is None:
        raise ConfigurationError("this simulator's control socket cannot act on a camera")
    return control(endpoint)


def _bench_camera(cards: Path | None) -> Any:
    from tellerhal.conformance.camera_bench import BenchCameraStimulus

    return BenchCameraStimulus()


CAMERA_SUITE = DeviceSuite(
    device_class="camera",
    interface=Camera,
    cases=CAMERA_CASES,
    describe=_describe,
    sim_stimulus=_sim_camera,
    remote_stimulus=_remote_camera,
    bench_stimulus=_bench_camera,
    needs_cards=False,
    uses_ledger=False,
)


def _printer_suite(device: str) -> DeviceSuite:
    """The Printer suite for the printer called ``device`` (a kiosk's receipt or
    journal printer: the same cases, each printer under its own name)."""

    def sim(address: DeviceAddress) -> tuple[Any, float]:
        world = _sim_world(address)
        return world.printer_control(address.authority or device), 2.0

    def remote(endpoint: str) -> Any:
        from simulator.remote_control import RemotePrinterControl

        return RemotePrinterControl(endpoint, device)

    def bench(cards: Path | None) -> Any:
        from tellerhal.conformance.printer_bench import BenchPrinterStimulus

        return BenchPrinterStimulus()

    return DeviceSuite(
        device_class=device,
        interface=Printer,
        cases=PRINTER_CASES,
        describe=_describe,
        sim_stimulus=sim,
        remote_stimulus=remote,
        bench_stimulus=bench,
        needs_cards=False,
        uses_ledger=False,
    )


RECEIPT_PRINTER_SUITE = _printer_suite("receipt_printer")
JOURNAL_PRINTER_SUITE = _printer_suite("journal_printer")

#: Every device class with a contract suite, by device name.
SUITES: dict[str, DeviceSuite] = {
    suite.device_class: suite
    for suite in (
        CARD_READER_SUITE,
        PIN_PAD_SUITE,
        CASH_DISPENSER_SUITE,
        CASH_ACCEPTOR_SUITE,
        ID_SCANNER_SUITE,
        CAMERA_SUITE,
        RECEIPT_PRINTER_SUITE,
        JOURNAL_PRINTER_SUITE,
    )
}
