"""Shared by the ZT588 tests: the specs registered, and an emulated pad on a pty.

`zt588_registered()` registers the ``zt588`` driver and the ``serial``, ``memory`` and
``spy`` transports for a test (leaving alone those entry points already registered).
`PtyRig` puts a `Zt588Emulator` on a `PtyBridge` and gives the address the real driver
opens; `zt588_harness` is the PinPad contract suite's harness over it.
"""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import hal
from drivers.pin_pad.zt588 import ZT588_DRIVER
from hal.devices.pin_pad import PinPad
from hal.stimulus import PinPadStimulus
from hal.transports.memory import MEMORY_TRANSPORT
from hal.transports.serial import SERIAL_TRANSPORT
from hal.transports.spy import SPY_TRANSPORT
from simulator.wire.pty import PtyBridge
from simulator.wire.zt588 import Zt588Emulator
from simulator.wire.zt588_firmware import Zt588Firmware
from tellerhal.conformance.framework import Harness
from tests.specs import registered

#: Driver options that keep the tests fast and a loaded machine from tripping them.
FAST = "baud=115200&reply_timeout=1&retries=2"


@contextmanager
def zt588_registered() -> Iterator[None]:
    """The zt588 driver and the serial, memory and spy transports, for one test."""
    with registered(ZT588_DRIVER, SERIAL_TRANSPORT, MEMORY_TRANSPORT, SPY_TRANSPORT):
        yield


class PtyRig:
    """An emulated ZT588 on a pty behind a stable symlink (``<directory>/zt588``).

    Args:
        directory: where the symlink and the key map go.
        firmware: the pad's firmware (kept across `wire` runs: a pad keeps its keys).
    """

    def __init__(self, directory: Path, firmware: Zt588Firmware | None = None) -> None:
        self.directory = directory
        self.firmware = firmware if firmware is not None else Zt588Firmware()
        self.keymap = directory / "zt588-keys.json"
        self.bridge: PtyBridge | None = None
        self.emulator: Zt588Emulator | None = None

    @property
    def symlink(self) -> Path:
        return self.directory / "zt588"

    def address(self, extra: str = "", *, spy: bool = False, keymap: bool = True) -> str:
        """The driver's address; ``extra`` options override the fast defaults."""
        scheme = "spy+zt588+serial" if spy else "zt588+serial"
        given = FAST + (f"&keymap={self.keymap}" if keymap else "") + (f"&{extra}" if extra else "")
        options = dict(pair.split("=", 1) for pair in given.split("&"))
        return f"{scheme}://{self.symlink}?" + "&".join(f"{k}={v}" for k, v in options.items())

    @asynccontextmanager
    async def wire(self, **emulator: object) -> AsyncIterator[Zt588Emulator]:
        """The bridge and the emulator, running."""
        async with (
            PtyBridge("zt588", directory=self.directory) as bridge,
            Zt588Emulator(bridge, self.firmware, **emulator) as device,  # type: ignore[arg-type]
        ):
            self.bridge, self.emulator = bridge, device
            try:
                yield device
            finally:
                self.bridge = self.emulator = None

    @asynccontextmanager
    async def pad(self, extra: str = "", *, spy: bool = False) -> AsyncIterator[PinPad]:
        """The PIN pad opened over the running wire through ``hal.open``."""
        device = hal.open(self.address(extra, spy=spy))
        assert isinstance(device, PinPad)
        async with device:
            yield device


@asynccontextmanager
async def zt588_harness(patience: float = 1.0) -> AsyncIterator[Harness[PinPad, PinPadStimulus]]:
    """The PinPad contract harness: the real driver on a pty, the emulator's keyboard."""
    with tempfile.TemporaryDirectory(prefix="zt588-") as directory, zt588_registered():
        rig = PtyRig(Path(directory))
        async with rig.wire() as emulator:

            def open_pad() -> PinPad:
                device = hal.open(rig.address())
                assert isinstance(device, PinPad)
                return device

            yield Harness(open=open_pad, stimulus=emulator.keyboard, patience=patience)
