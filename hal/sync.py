"""The sync facade: hal for scripts and GUI threads that run no event loop.

::

    import hal
    import hal.sync

    with hal.sync.open("sim://card_reader") as reader:
        result = reader.read_raw_data([hal.Track.TRACK2], timeout=30)
        with reader.events() as events:
            reader.move(hal.MoveTarget.EXIT)
            events.wait_for(hal.MediaRemoved, timeout=60)

    with hal.sync.SyncKiosk.from_config("kiosk.toml") as kiosk:
        kiosk.card_reader.reset()

Devices run on one background event loop in a daemon thread (``hal.sync``), started
on first use and shared. Each wrapper method has the signature of the async method it
forwards to (a test checks them against the ABCs), blocks until the command completes
and raises what it raised. A ``KeyboardInterrupt`` while waiting cancels the command
and waits for it to settle with the device. A call from the loop's own thread would
deadlock, so it raises `RuntimeError`. `shutdown()` (also run at exit) closes what is
still open through the facade and stops the loop; wrappers made before it refuse to run.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, overload

from hal import registry
from hal.address import DeviceAddress
from hal.config import Kiosk
from hal.device import CapsT, Device, StatusT
from hal.devices.camera import Camera
from hal.devices.card_reader import CardReader
from hal.devices.cash_acceptor import CashAcceptor
from hal.devices.cash_dispenser import CashDispenser
from hal.devices.id_scanner import IdScanner
from hal.devices.pin_pad import PinPad
from hal.devices.printer import Printer
from hal.sync_base import (
    LOOP_THREAD_ERROR as LOOP_THREAD_ERROR,  # re-exported, as before the split
)
from hal.sync_base import (
    SyncDevice,
    SyncSubscription,
    _loop,
    _OpenedByWith,
    run,
    shutdown,
)
from hal.sync_camera import SyncCamera
from hal.sync_card_reader import SyncCardReader
from hal.sync_cash_acceptor import SyncCashAcceptor
from hal.sync_cash_dispenser import SyncCashDispenser
from hal.sync_id_scanner import SyncIdScanner
from hal.sync_pin_pad import SyncPinPad
from hal.sync_printer import SyncPrinter

__all__ = [
    "WRAPPERS",
    "SyncCamera",
    "SyncCardReader",
    "SyncCashAcceptor",
    "SyncCashDispenser",
    "SyncDevice",
    "SyncIdScanner",
    "SyncKiosk",
    "SyncPinPad",
    "SyncPrinter",
    "SyncSubscription",
    "open",
    "run",
    "shutdown",
    "wrap",
]


#: The wrapper class of each public device interface.
WRAPPERS: Mapping[type[Any], type[SyncDevice[Any, Any]]] = {
    CardReader: SyncCardReader,
    PinPad: SyncPinPad,
    CashDispenser: SyncCashDispenser,
    CashAcceptor: SyncCashAcceptor,
    IdScanner: SyncIdScanner,
    Camera: SyncCamera,
    Printer: SyncPrinter,
}


@overload
def wrap(device: CardReader) -> SyncCardReader: ...
@overload
def wrap(device: PinPad) -> SyncPinPad: ...
@overload
def wrap(device: CashDispenser) -> SyncCashDispenser: ...
@overload
def wrap(device: CashAcceptor) -> SyncCashAcceptor: ...
@overload
def wrap(device: IdScanner) -> SyncIdScanner: ...
@overload
def wrap(device: Camera) -> SyncCamera: ...
@overload
def wrap(device: Printer) -> SyncPrinter: ...
@overload
def wrap(device: Device[StatusT, CapsT]) -> SyncDevice[StatusT, CapsT]: ...
def wrap(device: Device[Any, Any]) -> SyncDevice[Any, Any]:
    """The sync wrapper for an async device: the most specific one in `WRAPPERS`."""
    for cls in type(device).__mro__:
        if cls in WRAPPERS:
            return WRAPPERS[cls](device)
    return SyncDevice(device)


def open(address: str | DeviceAddress) -> SyncDevice[Any, Any]:
    """The device an address names, wrapped for threads, not yet opened.

    ``with hal.sync.open(...) as device:`` opens and closes it. A card reader comes as
    a `SyncCardReader`, a PIN pad as a `SyncPinPad`, a cash dispenser as a
    `SyncCashDispenser`, a cash acceptor as a `SyncCashAcceptor`, an ID scanner as a
    `SyncIdScanner`, a camera as a `SyncCamera`, a printer as a `SyncPrinter`.

    Raises:
        ConfigurationError: as `hal.open`.
        DriverNotFound: as `hal.open`.
    """
    if not isinstance(address, DeviceAddress):
        address = DeviceAddress.parse(address)
    parsed = address

    async def build() -> Device[Any, Any]:
        return registry.open_device(parsed)

    return wrap(_loop().call(build))


class SyncKiosk(_OpenedByWith):
    """A `Kiosk` for threads: ``with`` opens every device and closes them.

    Args:
        kiosk: the async kiosk, built on the facade's loop (see `from_config`).
    """

    def __init__(self, kiosk: Kiosk) -> None:
        self._kiosk = kiosk
        self._runner = _loop()
        self._devices = {name: wrap(device) for name, device in kiosk.devices.items()}

    @classmethod
    def from_config(cls, path: str | os.PathLike[str]) -> SyncKiosk:
        """Build (without opening) the devices a kiosk file describes (see `Kiosk`)."""

        async def build() -> Kiosk:
            return Kiosk.from_config(path)

        return cls(_loop().call(build))

    @property
    def kiosk(self) -> Kiosk:
        """The async kiosk this wraps."""
        return self._kiosk

    @property
    def name(self) -> str:
        """The kiosk's name."""
        return self._kiosk.name

    @property
    def devices(self) -> Mapping[str, SyncDevice[Any, Any]]:
        """Every device, wrapped, by name."""
        return dict(self._devices)

    @property
    def card_reader(self) -> SyncCardReader:
        """The card reader (see `Kiosk.card_reader`)."""
        self._kiosk.card_reader  # noqa: B018 - raises the kiosk's error if there is none
        reader = self._devices["card_reader"]
        assert isinstance(reader, SyncCardReader)
        return reader

    def __getitem__(self, name: str) -> SyncDevice[Any, Any]:
        """The device called ``name``, wrapped (see `Kiosk.__getitem__`)."""
        self._kiosk[name]  # raises the kiosk's error if there is none
        return self._devices[name]

    def __contains__(self, name: object) -> bool:
        return name in self._devices

    def open(self) -> None:
        """Open every device, or none (see `Kiosk.open`)."""
        self._runner.open(self._kiosk)

    def close(self) -> None:
        """Close every device (see `Kiosk.close`)."""
        self._runner.close(self._kiosk)
