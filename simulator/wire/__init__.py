"""Wire emulators: simulated devices speaking vendor protocols on real wires.

A model (`simulator.models`) speaks a vendor protocol on the device side of a wire, so
a real driver, unmodified, runs against it:

- `simulator.wire.pty.PtyBridge`: a pty behind a stable symlink that survives a
  simulated unplug and replug (serial devices);
- `simulator.wire.link`: the `WireLink` a protocol emulator talks through (a pty, or
  the device end of a memory pair in tests) and `WirePacer`, the timing of a UART;
- `simulator.wire.crt310.Crt310Emulator`: the Creator CRT-310 card reader (its link
  layer; `simulator.wire.crt310_firmware` carries the commands out on the model);
- `simulator.wire.vpcd.VirtualCard`: a card in a vsmartcard vpcd reader of the real
  pcscd, and `simulator.wire.pcsc_slot`: the dip slot it sits in and its stimulus.
"""

from __future__ import annotations

from simulator.wire.crt310 import Crt310Emulator, EmulatorStats
from simulator.wire.crt310_firmware import Crt310Firmware
from simulator.wire.link import MemoryLink, WireLink, WirePacer
from simulator.wire.pty import PtyBridge

__all__ = [
    "Crt310Emulator",
    "Crt310Firmware",
    "EmulatorStats",
    "MemoryLink",
    "PtyBridge",
    "WireLink",
    "WirePacer",
]
