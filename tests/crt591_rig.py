"""Shared by the CRT-591 tests: the specs registered, and a simulated issuer on a wire.

`crt591_registered()` registers the ``crt591`` driver and the ``serial``, ``memory`` and
``spy`` transports for a test. `PtyRig` puts a world's card reader (with a card stacker)
behind a `Crt591Emulator` on a `PtyBridge` and gives the address a driver opens;
`MemoryRig` does the same over a memory pair.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from drivers.card_reader.crt591 import CRT591_DRIVER
from hal.transports.memory import MEMORY_TRANSPORT
from hal.transports.serial import SERIAL_TRANSPORT
from hal.transports.spy import SPY_TRANSPORT
from simulator.models.card_reader import CardReaderModel
from simulator.wire.crt591 import Crt591Emulator
from simulator.world import CardReaderSetup, World
from tests.creator_rig import SCALE as SCALE
from tests.creator_rig import MemoryRigBase, PtyRigBase
from tests.specs import registered

#: Driver options that keep the tests fast: 10 ms polls; ACK and take timeouts a loaded
#: machine does not trip (a missed ACK resends a command; a stall must not capture).
FAST = "poll_interval=0.01&take_timeout=2&ack_timeout=0.3&reply_timeout=1&refuse_after=0.05"
#: The issuer the rigs build: a 10-card stacker, a 50-card reject bin.
STACKER = 10
BIN = 50


@contextmanager
def crt591_registered() -> Iterator[None]:
    """The crt591 driver and the serial, memory and spy transports, for one test."""
    with registered(CRT591_DRIVER, SERIAL_TRANSPORT, MEMORY_TRANSPORT, SPY_TRANSPORT):
        yield


def issuer_model(world: World, **setup: object) -> CardReaderModel:
    """The world's reader as a CRT-591 has it: a stacker, a bin, no take timer."""
    options: dict[str, object] = {
        "take_timeout": None,
        "stacker_capacity": STACKER,
        "retain_capacity": BIN,
    }
    options.update(setup)
    return world.card_reader(setup=CardReaderSetup(**options))  # type: ignore[arg-type]


class PtyRig(PtyRigBase[Crt591Emulator]):
    """A world's card issuer answering CRT-591 on a pty behind a stable symlink.

    Args:
        directory: where the symlink goes (``<directory>/crt591``).
        ledger: the ledger file the driver's service journals in.
        setup: `CardReaderSetup` fields of the model.
    """

    kind = "crt591"
    prefix = "rig591-"
    emulator = Crt591Emulator
    build_model = staticmethod(issuer_model)

    def options(self) -> str:
        capacities = f"stacker_capacity={self.model.stacker_capacity}"
        capacities += f"&retain_capacity={self.model.retain_capacity}"
        return f"baud=115200&{capacities}&ledger={self.ledger}&{FAST}"


class MemoryRig(MemoryRigBase[Crt591Emulator]):
    """A world's card issuer answering CRT-591 on the device end of a memory pair.

    Args:
        name: the pair's name (``crt591+memory://NAME`` reaches its host end).
        setup: `CardReaderSetup` fields of the model.
    """

    kind = "crt591"
    prefix = "memrig591-"
    emulator = Crt591Emulator
    build_model = staticmethod(issuer_model)
