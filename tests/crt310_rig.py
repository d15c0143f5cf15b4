"""Shared by the CRT-310 tests: the specs registered, and a simulated reader on a wire.

`crt310_registered()` registers the ``crt310`` driver and the ``serial``, ``memory`` and
``spy`` transports for a test (leaving alone those entry points already registered).
`PtyRig` puts a world's card reader behind a `Crt310Emulator` on a `PtyBridge` and
gives the address a driver opens; `MemoryRig` does the same over a memory pair (both
on `tests.creator_rig`, shared with the CRT-591's).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from drivers.card_reader.crt310 import CRT310_DRIVER
from hal.transports.memory import MEMORY_TRANSPORT
from hal.transports.serial import SERIAL_TRANSPORT
from hal.transports.spy import SPY_TRANSPORT
from simulator.models.card_reader import CardReaderModel
from simulator.wire.crt310 import Crt310Emulator
from simulator.world import CardReaderSetup, World
from tests.creator_rig import SCALE as SCALE
from tests.creator_rig import MemoryRigBase, PtyRigBase
from tests.specs import registered

#: Driver options that keep the tests fast: 10 ms polls; ACK and take timeouts a loaded
#: machine does not trip (a missed ACK resends a command; a stall must not capture).
FAST = "poll_interval=0.01&take_timeout=2&ack_timeout=0.3&reply_timeout=1"


@contextmanager
def crt310_registered() -> Iterator[None]:
    """The crt310 driver and the serial, memory and spy transports, for one test."""
    with registered(CRT310_DRIVER, SERIAL_TRANSPORT, MEMORY_TRANSPORT, SPY_TRANSPORT):
        yield


def reader_model(world: World, **setup: object) -> CardReaderModel:
    """The world's reader as a CRT-310 has it: no take timer (the driver captures)."""
    return world.card_reader(setup=CardReaderSetup(take_timeout=None, **setup))  # type: ignore[arg-type]


class PtyRig(PtyRigBase[Crt310Emulator]):
    """A world's card reader answering CRT-310 on a pty behind a stable symlink.

    Args:
        directory: where the symlink goes (``<directory>/crt310``).
        ledger: the ledger file the driver's service journals in.
    """

    kind = "crt310"
    emulator = Crt310Emulator
    build_model = staticmethod(reader_model)

    def options(self) -> str:
        return f"baud=115200&retain_capacity=50&ledger={self.ledger}&{FAST}"


class MemoryRig(MemoryRigBase[Crt310Emulator]):
    """A world's card reader answering CRT-310 on the device end of a memory pair.

    Args:
        name: the pair's name (``crt310+memory://NAME`` reaches its host end).
        setup: `CardReaderSetup` fields of the model.
    """

    kind = "crt310"
    emulator = Crt310Emulator
    build_model = staticmethod(reader_model)
