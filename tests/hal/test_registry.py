"""The registry: registration rules, entry points, and opening addresses through it."""

from __future__ import annotations

import dataclasses
import importlib
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest

import hal
from hal import registry
from hal.address import DeviceAddress
from hal.errors import ConfigurationError, DriverNotFound

# --- a transport, the spy wrapper, and a driver that runs over them ------------------------


@dataclass(frozen=True)
class LineOptions:
    baud: int = 9600
    parity: str = "N"


@dataclass(frozen=True)
class Line:
    path: str
    options: LineOptions


@dataclass(frozen=True)
class SpyOptions:
    reveal: bool = False


@dataclass(frozen=True)
class Spy:
    inner: Any
    options: SpyOptions


@dataclass(frozen=True)
class SerialReaderOptions:
    profile: str = "visa"
    timeout: float = 1.0


LINE = registry.TransportSpec(
    name="fakeline",
    options=LineOptions,
    factory=lambda address, options: Line(address.path, options),
    description="A pretend serial line.",
)
SPY = registry.TransportSpec(
    name="spy",
    options=SpyOptions,
    factory=lambda address, options: Spy(
        registry.make_transport(dataclasses.replace(address, spy=False)), options
    ),
    description="Dumps traffic.",
)


@pytest.fixture
def serial_reader(fake_driver: registry.DriverSpec) -> registry.DriverSpec:
    """A driver over the ``fakeline`` transport, built on the fake card reader."""

    def factory(address: DeviceAddress, options: SerialReaderOptions) -> Any:
        reader: Any = fake_driver.factory(address, fake_driver.options(profile=options.profile))
        reader.transport = registry.make_transport(address)
        return reader

    return registry.DriverSpec(
        name="fakeserial",
        device_classes=frozenset({"card_reader"}),
        options=SerialReaderOptions,
        factory=factory,
        transports=frozenset({"fakeline"}),
    )


@pytest.fixture
def serial_stack(serial_reader: registry.DriverSpec) -> Iterator[None]:
    try:
        real_spy: registry.TransportSpec | None = registry.transport("spy")
    except DriverNotFound:
        real_spy = None
    try:
        registry.register(LINE)
        registry.register(SPY, replace=True)  # stands in for the real spy+ for these tests
        registry.register(serial_reader)
        yield
    finally:
        registry.unregister("fakeserial")
        registry.unregister("fakeline", transport=True)
        registry.unregister("spy", transport=True)
        if real_spy is not None:
            registry.register(real_spy)


# --- registration --------------------------------------------------------------------------


def test_register_and_open_a_driver(fake_driver: registry.DriverSpec) -> None:
    assert registry.driver("fake") is fake_driver
    assert fake_driver in registry.drivers()
    reader = hal.open("fake://card_reader?profile=mag_only&retain_capacity=3")
    assert isinstance(reader, hal.CardReader)
    assert reader.options.profile == "mag_only"  # type: ignore[attr-defined]
    assert reader.options.retain_capacity == 3  # type: ignore[attr-defined]
    assert reader.calls == []  # type: ignore[attr-defined]  # not opened by hal.open


async def test_opened_device_works_with_async_with(fake_driver: registry.DriverSpec) -> None:
    async with hal.open(DeviceAddress.parse("fake://card_reader")) as reader:
        result = await reader.read_raw_data([hal.Track.TRACK2])
        assert result[hal.Track.TRACK2].data == b"visa"
    assert reader.calls == ["open", "read_raw_data", "close"]


def test_duplicate_names_are_refused(fake_driver: registry.DriverSpec) -> None:
    registry.register(fake_driver)  # the same spec again is harmless
    other = dataclasses.replace(fake_driver, description="another")
    with pytest.raises(ConfigurationError, match="a driver named 'fake' is already registered"):
        registry.register(other)
    registry.register(other, replace=True)
    assert registry.driver("fake") is other


def test_unregister(fake_driver: registry.DriverSpec) -> None:
    registry.unregister("fake")
    registry.unregister("fake")  # unknown names are ignored
    with pytest.raises(DriverNotFound, match="no driver is registered as 'fake'"):
        registry.driver("fake")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"name": "Fake"}, "a driver name is a lower-case letter"),
        ({"name": "fa ke"}, "a driver name is a lower-case letter"),
        ({"name": "spy"}, "'spy' is the spy\\+ prefix"),
        ({"options": int}, "driver 'fake': an options type is a dataclass"),
        ({"device_classes": frozenset({"toaster"})}, "must open some of .*; got toaster"),
        ({"device_classes": frozenset()}, "got none"),
        ({"transports": frozenset({"spy"})}, "bad transport names"),
    ],
)
def test_malformed_specs_are_refused(
    fake_driver: registry.DriverSpec, changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        registry.register(dataclasses.replace(fake_driver, **changes))


def test_unknown_driver_lists_what_is_registered(fake_driver: registry.DriverSpec) -> None:
    with pytest.raises(DriverNotFound) as info:
        hal.open("nope://x")
    assert str(info.value).startswith("nope://x: no driver is registered as 'nope'; registered:")
    assert "fake" in str(info.value)


# --- entry points ----------------------------------------------------------------------------


def test_the_distribution_declares_the_simulator() -> None:
    names = {e.name: e.value for e in metadata.entry_points(group=registry.DRIVER_GROUP)}
    assert names["sim"] == "simulator.registration:SIM_DRIVER"


@pytest.fixture
def fresh_registry(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, fake_driver: registry.DriverSpec
) -> Iterator[registry.DriverSpec]:
    """An empty registry, and a plug-in module whose ``GOOD`` is a spec named ``plugged``."""
    monkeypatch.setattr(registry, "_drivers", {})
    monkeypatch.setattr(registry, "_transports", {})
    monkeypatch.setattr(registry, "_loaded", set())
    monkeypatch.setattr(
        registry, "_failures", {registry.DRIVER_GROUP: [], registry.TRANSPORT_GROUP: []}
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "tellerhal_plugin_for_tests.py").write_text("GOOD = None\nNOT_A_SPEC = 42\n")
    plugin = importlib.import_module("tellerhal_plugin_for_tests")
    plugged = dataclasses.replace(fake_driver, name="plugged")
    plugin.GOOD = plugged
    yield plugged
    sys.modules.pop("tellerhal_plugin_for_tests", None)


def test_entry_points_are_loaded_lazily_and_broken_ones_reported(
    fresh_registry: registry.DriverSpec, monkeypatch: pytest.MonkeyPatch
) -> None:
    group = registry.DRIVER_GROUP
    entries = [
        metadata.EntryPoint("plugged", "tellerhal_plugin_for_tests:GOOD", group),
        metadata.EntryPoint("missing", "tellerhal_no_such_module:SPEC", group),
        metadata.EntryPoint("wrong", "tellerhal_plugin_for_tests:NOT_A_SPEC", group),
        metadata.EntryPoint("misnamed", "tellerhal_plugin_for_tests:GOOD", group),
    ]
    calls: list[str] = []

    def entry_points(*, group: str) -> list[metadata.EntryPoint]:
        calls.append(group)
        return [e for e in entries if e.group == group]

    monkeypatch.setattr(registry.metadata, "entry_points", entry_points)
    assert calls == []  # nothing loaded until the first lookup
    assert [d.name for d in registry.drivers()] == ["plugged"]
    assert registry.driver("plugged") is fresh_registry
    assert calls == [group]  # loaded once
    reader = hal.open("plugged://card_reader?profile=x")
    assert isinstance(reader, hal.CardReader)
    with pytest.raises(DriverNotFound) as info:
        registry.driver("missing")
    message = str(info.value)
    assert "registered: plugged" in message
    assert "entry point missing = tellerhal_no_such_module:SPEC failed to load" in message
    assert (
        "entry point wrong = tellerhal_plugin_for_tests:NOT_A_SPEC is not a DriverSpec" in message
    )
    assert "entry point misnamed" in message


def test_register_wins_over_an_entry_point_of_the_same_name(
    fresh_registry: registry.DriverSpec, monkeypatch: pytest.MonkeyPatch
) -> None:
    mine = dataclasses.replace(fresh_registry, description="mine")
    registry.register(mine)
    entry = metadata.EntryPoint("plugged", "tellerhal_plugin_for_tests:GOOD", "x")
    monkeypatch.setattr(registry.metadata, "entry_points", lambda *, group: [entry])
    assert registry.driver("plugged") is mine


async def test_hal_open_the_simulator() -> None:
    """Through the real entry point: fails until simulator/registration.py lands."""
    async with hal.open("sim://card_reader") as reader:
        assert isinstance(reader, hal.CardReader)
        status = await reader.status()
        assert status.device == hal.DeviceState.ONLINE


# --- transports, spy+ and options --------------------------------------------------------------


def test_transport_and_options_are_split_between_parts(serial_stack: None) -> None:
    reader: Any = hal.open("fakeserial+fakeline:///dev/ttyS0?baud=19200&profile=mag_only")
    assert reader.options.profile == "mag_only"
    assert reader.transport == Line("/dev/ttyS0", LineOptions(baud=19200))


def test_spy_wraps_the_transport(serial_stack: None) -> None:
    reader: Any = hal.open("spy+fakeserial+fakeline:///dev/ttyS0?reveal=yes&baud=1")
    assert reader.transport == Spy(Line("/dev/ttyS0", LineOptions(baud=1)), SpyOptions(True))


@pytest.mark.parametrize(
    ("address", "message"),
    [
        (
            "fakeserial:///dev/ttyS0",
            "fakeserial:///dev/ttyS0: driver 'fakeserial' needs a transport (fakeline), "
            "e.g. fakeserial+fakeline://",
        ),
        (
            "fakeserial+usb:///x",
            "driver 'fakeserial' does not run over 'usb'; it runs over fakeline",
        ),
        ("fake+fakeline://x", "driver 'fake' does not run over 'fakeline'; it runs over no"),
        ("spy+fake://x", "spy+ dumps a transport's traffic, and 'fake' runs over none"),
        (
            "fakeserial+fakeline:///x?baudrate=1",
            "fakeserial+fakeline:///x: unknown option 'baudrate'; allowed: baud, parity, "
            "profile, timeout",
        ),
        ("fakeserial+fakeline:///x?baud=fast", "option 'baud' expects an integer"),
        ("fakeserial+fakeline:///x?reveal=1", "unknown option 'reveal'"),
    ],
)
def test_transport_errors(serial_stack: None, address: str, message: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        hal.open(address)
    assert message in str(info.value)


def test_missing_transport_registration(serial_reader: registry.DriverSpec) -> None:
    registry.register(serial_reader)
    try:
        with pytest.raises(DriverNotFound, match="no transport is registered as 'fakeline'"):
            hal.open("fakeserial+fakeline:///x")
    finally:
        registry.unregister("fakeserial")


def test_make_transport_needs_a_transport() -> None:
    with pytest.raises(ConfigurationError, match="the address names no transport"):
        registry.make_transport(DeviceAddress.parse("fake://x"))


def test_open_device_with_extra_and_default_options(fake_driver: registry.DriverSpec) -> None:
    address = DeviceAddress.parse("fake://card_reader?profile=mag_only")
    reader: Any = registry.open_device(
        address,
        extra={"retain_capacity": 4},
        defaults={"ledger": "/var/ledger.db", "undeclared": "ignored"},
    )
    assert reader.options.retain_capacity == 4
    assert reader.options.ledger == Path("/var/ledger.db")
    assert str(reader.address) == (
        "fake://card_reader?profile=mag_only&retain_capacity=4&ledger=/var/ledger.db"
    )
    with pytest.raises(ConfigurationError, match="option 'profile' is given twice"):
        registry.open_device(address, extra={"profile": "visa"})
    with pytest.raises(ConfigurationError, match=r"^here: driver 'fake' cannot open a pin_pad"):
        registry.open_device(address, where="here", device_class="pin_pad")
