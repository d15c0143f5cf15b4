"""Kiosk files and `Kiosk`: every device of one machine, opened and closed together.

A kiosk file is TOML: an optional ``[kiosk]`` table and one table per device, named
after the device (``card_reader``, ``id_scanner``, ``cash_dispenser``,
``cash_acceptor``, ``pin_pad``, ``camera``, ``receipt_printer``, ``journal_printer``)::

    [kiosk]
    name = "branch-12-lobby"            # optional; the file's stem by default
    ledger = "ledger.db"                # optional; relative to this file

    [card_reader]                       # the address form
    address = "sim://card_reader?profile=visa"

    [receipt_printer]                   # the driver form
    driver = "escpos"
    transport = "usb"                   # optional
    location = ""                       # optional: AUTHORITY[/PATH]; the table's name
                                        # by default (sim://receipt_printer)
    spy = false                         # optional: the spy+ prefix

    [receipt_printer.options]           # optional, with either form: typed options
    vid = 0x0416
    pid = 0x5011

A device table holds ``address`` *or* ``driver`` (with ``transport``, ``location`` and
``spy``), plus an optional ``options`` table. Options are typed TOML values checked by
the options dataclass of the driver and transport (strings are parsed as in an
address); an option may be given in the address or in the table, not both. The kiosk's
``ledger`` is given to every device whose driver takes a ``ledger`` option and does not
set one. Errors name the file, the table and the key.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType, TracebackType
from typing import Any, Self, cast

from hal import registry
from hal.address import DeviceAddress
from hal.device import Device
from hal.devices.camera import Camera
from hal.devices.card_reader import CardReader
from hal.devices.cash_acceptor import CashAcceptor
from hal.devices.cash_dispenser import CashDispenser
from hal.devices.id_scanner import IdScanner
from hal.devices.pin_pad import PinPad
from hal.devices.printer import Printer
from hal.errors import ConfigurationError

__all__ = [
    "INTERFACES",
    "DeviceConfig",
    "Kiosk",
    "KioskConfig",
    "load_config",
    "parse_config",
]

#: The public interface each device name must implement (`Device` where none exists yet).
INTERFACES: Mapping[str, type[Device[Any, Any]]] = MappingProxyType(
    dict.fromkeys(registry.DEVICE_NAMES, Device)
    | cast(
        "dict[str, type[Device[Any, Any]]]",
        {
            "card_reader": CardReader,
            "pin_pad": PinPad,
            "cash_dispenser": CashDispenser,
            "cash_acceptor": CashAcceptor,
            "id_scanner": IdScanner,
            "camera": Camera,
            "receipt_printer": Printer,
            "journal_printer": Printer,
        },
    )
)

_KIOSK_KEYS = ("ledger", "name")
_DEVICE_KEYS = ("address", "driver", "location", "options", "spy", "transport")
_TOML_TYPES = {str: "a string", bool: "true or false", dict: "a table"}


@dataclass(frozen=True)
class DeviceConfig:
    """One device table of a kiosk file.

    Attributes:
        name: the table's name, one of `hal.registry.DEVICE_NAMES`.
        address: the address, as written or as built from ``driver`` and its keys.
        options: the typed values of the ``options`` table.
    """

    name: str
    address: DeviceAddress
    options: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class KioskConfig:
    """A parsed kiosk file.

    Attributes:
        name: the kiosk's name.
        ledger: the ledger file for devices that take one, or ``None``.
        devices: the device tables in file order.
        source: the file, for messages.
    """

    name: str
    ledger: Path | None
    devices: tuple[DeviceConfig, ...]
    source: str


def load_config(path: str | os.PathLike[str]) -> KioskConfig:
    """Read and check a kiosk file (no device is built).

    Raises:
        ConfigurationError: the file cannot be read, is not TOML, or breaks the format.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"{path}: cannot read the kiosk file: {exc}") from exc
    return parse_config(text, source=str(path), base=path.parent, default_name=path.stem)


def parse_config(
    text: str, *, source: str = "<kiosk>", base: Path | None = None, default_name: str = "kiosk"
) -> KioskConfig:
    """Check the text of a kiosk file.

    Args:
        text: the TOML text.
        source: how messages name it (the file's path).
        base: the directory a relative ``ledger`` is relative to; the current one if
            ``None``.
        default_name: the kiosk's name when ``[kiosk]`` gives none.

    Raises:
        ConfigurationError: not TOML, an unknown table or key, a value of the wrong
            type, a device table without ``address`` or ``driver``, a bad address.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{source}: not valid TOML: {exc}") from exc
    kiosk = data.pop("kiosk", {})
    _expect(kiosk, dict, f"{source}: 'kiosk'")
    _known_keys(kiosk, _KIOSK_KEYS, f"{source}: [kiosk]")
    name = _expect(kiosk.get("name", default_name), str, f"{source}: [kiosk] name")
    ledger = kiosk.get("ledger")
    if ledger is not None:
        ledger = (base or Path()) / _expect(ledger, str, f"{source}: [kiosk] ledger")
    devices = []
    for table, body in data.items():
        if table not in registry.DEVICE_NAMES:
            raise ConfigurationError(
                f"{source}: unknown device table [{table}]; device tables are: "
                f"{', '.join(sorted(registry.DEVICE_NAMES))} (and [kiosk])"
            )
        devices.append(_device(table, body, source))
    return KioskConfig(name=name, ledger=ledger, devices=tuple(devices), source=source)


def _expect(value: Any, kind: type, what: str) -> Any:
    if not isinstance(value, kind):
        got = type(value).__name__
        raise ConfigurationError(f"{what} must be {_TOML_TYPES[kind]}, got {got} {value!r}")
    return value


def _known_keys(table: Mapping[str, Any], allowed: tuple[str, ...], where: str) -> None:
    for key in table:
        if key not in allowed:
            raise ConfigurationError(
                f"{where}: unknown key {key!r}; allowed: {', '.join(sorted(allowed))}"
            )


def _device(name: str, body: Any, source: str) -> DeviceConfig:
    where = f"{source}: [{name}]"
    _expect(body, dict, f"{source}: '{name}'")
    _known_keys(body, _DEVICE_KEYS, where)
    options = _expect(body.get("options", {}), dict, f"{where} options")
    if "address" in body:
        if "driver" in body:
            raise ConfigurationError(f"{where}: give 'address' or 'driver', not both")
        for key in ("transport", "location", "spy"):
            if key in body:
                raise ConfigurationError(
                    f"{where}: {key!r} goes with 'driver'; with 'address', write it in the address"
                )
        text = _expect(body["address"], str, f"{where} address")
    elif "driver" in body:
        scheme = _expect(body["driver"], str, f"{where} driver")
        if "transport" in body:
            scheme += "+" + _expect(body["transport"], str, f"{where} transport")
        if _expect(body.get("spy", False), bool, f"{where} spy"):
            scheme = "spy+" + scheme
        location = _expect(body.get("location", name), str, f"{where} location")
        if "?" in location:
            raise ConfigurationError(
                f"{where} location: options go in [{name}.options], not after '?'"
            )
        text = f"{scheme}://{location}"
    else:
        raise ConfigurationError(f"{where}: missing 'driver' (or 'address')")
    try:
        address = DeviceAddress.parse(text)
    except ConfigurationError as exc:
        raise ConfigurationError(f"{where} address: {exc.message}") from exc
    return DeviceConfig(name=name, address=address, options=dict(options))


class Kiosk:
    """The devices of one kiosk, opened and closed together.

    ``async with kiosk:`` opens every device in file order; if one fails, those already
    open are closed and the error is raised. Devices are reached as typed attributes
    (``kiosk.card_reader``) or by name (``kiosk["card_reader"]``).

    Args:
        devices: device name (from `hal.registry.DEVICE_NAMES`) to unopened device.
        name: the kiosk's name.

    Raises:
        ConfigurationError: an unknown device name, or a device that does not implement
            the interface its name calls for.
    """

    def __init__(self, devices: Mapping[str, Device[Any, Any]], *, name: str = "kiosk") -> None:
        for key, device in devices.items():
            interface = INTERFACES.get(key)
            if interface is None:
                raise ConfigurationError(
                    f"kiosk {name!r}: unknown device name {key!r}; device names are: "
                    f"{', '.join(registry.DEVICE_NAMES)}"
                )
            if not isinstance(device, interface):
                raise ConfigurationError(
                    f"kiosk {name!r}: {key} must be a {interface.__name__}, got "
                    f"{type(device).__name__}"
                )
        self._devices: dict[str, Device[Any, Any]] = dict(devices)
        self.name = name

    @classmethod
    def from_config(cls, path: str | os.PathLike[str]) -> Kiosk:
        """Build (without opening) the devices a kiosk file describes.

        Raises:
            ConfigurationError: the file is bad, a driver cannot be found, cannot open
                that kind of device, or refuses its options; the message names the file,
                the table and the key.
        """
        return cls.build(load_config(path))

    @classmethod
    def build(cls, config: KioskConfig) -> Kiosk:
        """Build (without opening) the devices of a parsed kiosk file.

        Raises:
            ConfigurationError: as for `from_config()`.
        """
        defaults = {"ledger": str(config.ledger)} if config.ledger is not None else {}
        devices = {}
        for device in config.devices:
            where = f"{config.source}: [{device.name}]"
            built = registry.open_device(
                device.address,
                extra=device.options,
                defaults=defaults,
                where=where,
                device_class=device.name,
            )
            interface = INTERFACES[device.name]
            if not isinstance(built, interface):
                raise ConfigurationError(
                    f"{where}: driver {device.address.driver!r} built a "
                    f"{type(built).__name__}, which is not a {interface.__name__}"
                )
            devices[device.name] = built
        return cls(devices, name=config.name)

    @property
    def devices(self) -> Mapping[str, Device[Any, Any]]:
        """Every device, by name, in file order (read-only)."""
        return MappingProxyType(self._devices)

    @property
    def card_reader(self) -> CardReader:
        """The card reader.

        Raises:
            ConfigurationError: the kiosk has none.
        """
        device = self["card_reader"]
        assert isinstance(device, CardReader)  # checked in __init__
        return device

    def __getitem__(self, name: str) -> Device[Any, Any]:
        """The device called ``name``.

        Raises:
            ConfigurationError: the kiosk has no such device.
        """
        try:
            return self._devices[name]
        except KeyError:
            has = ", ".join(self._devices) or "no devices"
            raise ConfigurationError(f"kiosk {self.name!r} has no {name}; it has {has}") from None

    def __contains__(self, name: object) -> bool:
        return name in self._devices

    def __repr__(self) -> str:
        return f"Kiosk({self.name!r}, devices={list(self._devices)})"

    async def open(self) -> None:
        """Open every device in order; on a failure, close those opened and raise it."""
        opened: list[Device[Any, Any]] = []
        try:
            for name, device in self._devices.items():
                try:
                    await device.open()
                except BaseException as exc:
                    exc.add_note(f"while opening {name} of kiosk {self.name!r}")
                    raise
                opened.append(device)
        except BaseException as exc:
            for device in reversed(opened):
                try:
                    await device.close()
                except Exception as close_exc:
                    exc.add_note(f"closing {device.name} afterwards failed too: {close_exc!r}")
            raise

    async def close(self) -> None:
        """Close every device, in reverse order, even if some fail.

        Raises:
            Exception: the one close that failed, or an `ExceptionGroup` of several.
        """
        errors: list[Exception] = []
        for device in reversed(self._devices.values()):
            try:
                await device.close()
            except Exception as exc:
                errors.append(exc)
        if len(errors) == 1:
            raise errors[0]
        if errors:
            raise ExceptionGroup(f"closing kiosk {self.name!r} failed", errors)

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
