"""Kiosk files and `Kiosk`: the format, its errors, and opening devices together."""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest

import hal
from hal import registry
from hal.address import DeviceAddress
from hal.config import Kiosk, load_config, parse_config
from hal.devices.printer import (
    Document,
    MediaControl,
    Printer,
    PrinterCapabilities,
    PrinterStatus,
    PrintResult,
)
from hal.errors import ConfigurationError, DriverNotFound, HardwareError
from hal.events import Event, Subscription

pytestmark = pytest.mark.usefixtures("fake_driver")

WriteKiosk = Callable[[str], Path]


@pytest.fixture
def write_kiosk(tmp_path: Path) -> WriteKiosk:
    def write(text: str) -> Path:
        path = tmp_path / "kiosk.toml"
        path.write_text(textwrap.dedent(text))
        return path

    return write


def test_address_form(write_kiosk: WriteKiosk) -> None:
    path = write_kiosk(
        """
        [card_reader]
        address = "fake://card_reader?profile=mag_only"
        """
    )
    kiosk = Kiosk.from_config(path)
    assert kiosk.name == "kiosk"  # the file's stem
    reader: Any = kiosk.card_reader
    assert isinstance(reader, hal.CardReader)
    assert kiosk["card_reader"] is reader
    assert "card_reader" in kiosk
    assert list(kiosk.devices) == ["card_reader"]
    assert reader.options.profile == "mag_only"
    assert reader.calls == []  # built, not opened
    assert repr(kiosk) == "Kiosk('kiosk', devices=['card_reader'])"


def test_driver_form_with_typed_options_and_kiosk_ledger(write_kiosk: WriteKiosk) -> None:
    path = write_kiosk(
        """
        [kiosk]
        name = "branch-12"
        ledger = "data/ledger.db"

        [card_reader]
        driver = "fake"

        [card_reader.options]
        profile = "mag_only"
        retain_capacity = 0x10
        """
    )
    kiosk = Kiosk.from_config(path)
    assert kiosk.name == "branch-12"
    reader: Any = kiosk.card_reader
    assert reader.options.retain_capacity == 16
    assert reader.options.ledger == path.parent / "data" / "ledger.db"
    assert reader.address.authority == "card_reader"  # the table's name by default
    assert dict(reader.address.options) == {
        "profile": "mag_only",
        "retain_capacity": "16",
        "ledger": str(path.parent / "data" / "ledger.db"),
    }


def test_a_device_may_set_its_own_ledger(write_kiosk: WriteKiosk) -> None:
    path = write_kiosk(
        """
        [kiosk]
        ledger = "/kiosk.db"
        [card_reader]
        address = "fake://card_reader?ledger=/own.db"
        """
    )
    reader: Any = Kiosk.from_config(path).card_reader
    assert reader.options.ledger == Path("/own.db")


def test_driver_form_builds_the_address() -> None:
    config = parse_config(
        """
        [card_reader]
        driver = "crt310"
        transport = "serial"
        spy = true
        location = "/dev/ttyUSB0"
        """
    )
    (device,) = config.devices
    assert device.address == DeviceAddress.parse("spy+crt310+serial:///dev/ttyUSB0")
    assert config.ledger is None


async def test_async_with_opens_and_closes_every_device(write_kiosk: WriteKiosk) -> None:
    kiosk = Kiosk.from_config(write_kiosk('[card_reader]\naddress = "fake://card_reader"\n'))
    async with kiosk as opened:
        assert opened is kiosk
        assert kiosk.card_reader.is_open  # type: ignore[attr-defined]
    assert not kiosk.card_reader.is_open  # type: ignore[attr-defined]


def _reader(name: str, **options: Any) -> Any:
    spec = registry.driver("fake")
    return spec.factory(DeviceAddress.parse(f"fake://{name}"), spec.options(**options))


async def test_a_failed_open_closes_the_devices_already_open() -> None:
    good = _reader("card_reader")
    kiosk = Kiosk({"card_reader": good, "receipt_printer": _Broken(fail_open=True)}, name="lobby")
    with pytest.raises(HardwareError) as info:
        await kiosk.open()
    assert "while opening receipt_printer of kiosk 'lobby'" in info.value.__notes__
    assert good.calls == ["open", "close"]
    assert not good.is_open


class _Broken(Printer):
    """A printer whose open or close fails (it prints nothing)."""

    name = "broken"

    def __init__(self, *, fail_open: bool = False) -> None:
        self._fail_open = fail_open

    async def open(self) -> None:
        if self._fail_open:
            raise HardwareError("open failed")

    async def close(self) -> None:
        raise HardwareError("close failed")

    async def status(self) -> PrinterStatus:
        return PrinterStatus()

    async def capabilities(self) -> PrinterCapabilities:
        return PrinterCapabilities()

    def events(
        self, maxsize: int = 256, kinds: Iterable[type[Event]] | None = None
    ) -> Subscription:
        raise NotImplementedError

    async def print_document(
        self, document: Document, *, timeout: float | None = None
    ) -> PrintResult:
        raise NotImplementedError

    async def print_raw(self, data: bytes, *, timeout: float | None = None) -> PrintResult:
        raise NotImplementedError

    async def control_media(self, action: MediaControl, *, timeout: float | None = None) -> None:
        raise NotImplementedError

    async def reset(self, *, timeout: float | None = None) -> None:
        raise NotImplementedError


async def test_close_closes_everything_and_reports_failures() -> None:
    good = _reader("card_reader")
    kiosk = Kiosk({"card_reader": good, "receipt_printer": _Broken()})
    await kiosk.open()
    with pytest.raises(HardwareError, match="close failed"):
        await kiosk.close()
    assert good.calls == ["open", "close"]
    kiosk = Kiosk({"receipt_printer": _Broken(), "journal_printer": _Broken()})
    with pytest.raises(ExceptionGroup, match="closing kiosk 'kiosk' failed"):
        await kiosk.close()


def test_kiosk_checks_names_and_interfaces() -> None:
    with pytest.raises(ConfigurationError, match="unknown device name 'toaster'"):
        Kiosk({"toaster": _reader("card_reader")})
    with pytest.raises(ConfigurationError, match="card_reader must be a CardReader, got _Broken"):
        Kiosk({"card_reader": _Broken()})
    kiosk = Kiosk({})
    with pytest.raises(ConfigurationError, match="kiosk 'kiosk' has no card_reader; it has no"):
        kiosk.card_reader  # noqa: B018
    with pytest.raises(ConfigurationError, match="has no pin_pad"):
        kiosk["pin_pad"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '[card_reader]\nadress = "fake://x"',
            "kiosk.toml: [card_reader]: unknown key 'adress'; allowed: address, driver, "
            "location, options, spy, transport",
        ),
        (
            '[kiosk]\nnmae = "x"',
            "kiosk.toml: [kiosk]: unknown key 'nmae'; allowed: ledger, name",
        ),
        (
            '[cash_box]\ndriver = "fake"',
            "kiosk.toml: unknown device table [cash_box]; device tables are: camera, "
            "card_reader, cash_acceptor, cash_dispenser, id_scanner, journal_printer, pin_pad, "
            "receipt_printer (and [kiosk])",
        ),
        ("[card_reader]\nspy = true", "kiosk.toml: [card_reader]: missing 'driver' (or 'address')"),
        (
            '[card_reader]\naddress = "fake://x"\ndriver = "fake"',
            "kiosk.toml: [card_reader]: give 'address' or 'driver', not both",
        ),
        (
            '[card_reader]\naddress = "fake://x"\ntransport = "serial"',
            "kiosk.toml: [card_reader]: 'transport' goes with 'driver'",
        ),
        ("[card_reader]\naddress = 5", "kiosk.toml: [card_reader] address must be a string, got "
                                       "int 5"),
        ("[card_reader]\ndriver = true", "kiosk.toml: [card_reader] driver must be a string"),
        ('[card_reader]\ndriver = "fake"\nspy = "yes"', "[card_reader] spy must be true or false"),
        ('[card_reader]\ndriver = "fake"\noptions = 3', "[card_reader] options must be a table"),
        ("card_reader = 1", "kiosk.toml: 'card_reader' must be a table, got int 1"),
        ("kiosk = 1", "kiosk.toml: 'kiosk' must be a table"),
        ("[kiosk]\nname = 1", "kiosk.toml: [kiosk] name must be a string"),
        ("[kiosk]\nledger = false", "kiosk.toml: [kiosk] ledger must be a string"),
        (
            '[card_reader]\naddress = "fake:/x"',
            "kiosk.toml: [card_reader] address: \"fake:/x\": expected '://' after the scheme "
            "at column 5",
        ),
        (
            '[card_reader]\ndriver = "fake"\nlocation = "x?profile=visa"',
            "[card_reader] location: options go in [card_reader.options], not after '?'",
        ),
        ("[card_reader\n", "kiosk.toml: not valid TOML: "),
        (
            '[card_reader]\ndriver = "fake"\n[card_reader.options]\nprofle = "visa"',
            "kiosk.toml: [card_reader]: unknown option 'profle'; allowed: fail_open, ledger, "
            "profile, retain_capacity",
        ),
        (
            '[card_reader]\ndriver = "fake"\n[card_reader.options]\nretain_capacity = "many"',
            "kiosk.toml: [card_reader]: option 'retain_capacity' expects an integer (decimal or "
            "0x hex), got 'many'",
        ),
        (
            '[card_reader]\ndriver = "fake"\n[card_reader.options]\nretain_capacity = true',
            "option 'retain_capacity' expects an integer (decimal or 0x hex), got True",
        ),
        (
            '[card_reader]\naddress = "fake://x?profile=a"\n[card_reader.options]\nprofile = "b"',
            "kiosk.toml: [card_reader]: option 'profile' is given twice",
        ),
        (
            '[pin_pad]\ndriver = "fake"',
            "kiosk.toml: [pin_pad]: driver 'fake' cannot open a pin_pad; it opens card_reader",
        ),
    ],
)  # fmt: skip
def test_errors_name_the_file_the_table_and_the_key(
    write_kiosk: WriteKiosk, text: str, message: str
) -> None:
    path = write_kiosk(text)
    with pytest.raises(ConfigurationError) as info:
        Kiosk.from_config(path)
    assert str(info.value).startswith(str(path.parent) + "/")
    assert message in str(info.value)


def test_unknown_driver(write_kiosk: WriteKiosk) -> None:
    path = write_kiosk('[card_reader]\ndriver = "nope"')
    with pytest.raises(DriverNotFound, match=r"kiosk.toml: \[card_reader\]: no driver is regist"):
        Kiosk.from_config(path)


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"missing\.toml: cannot read the kiosk file"):
        load_config(tmp_path / "missing.toml")
    (tmp_path / "bad.toml").write_bytes(b"\xff\xfe")
    with pytest.raises(ConfigurationError, match=r"bad\.toml: cannot read the kiosk file"):
        load_config(tmp_path / "bad.toml")
