"""The PinPad contract suite, run against every implementation we ship.

Each implementation is reached the way an app reaches it (``hal.open(address)``), and
the customer is the implementation's `PinPadStimulus`:

- ``sim``: ``sim://pin_pad`` in this process, pressed through the world's control API;
- ``zmq``: the same simulated pad served by a `RemoteServer` on a real TCP socket and
  reached through ``zmq://127.0.0.1:PORT/pin_pad``, pressed through the control API on
  the server's side (the app side knows only the address);
- ``zt588``: the real ZT588 driver on a pty against the ZT588 emulator, pressed through
  the emulator's keyboard (key bytes between frames, as the pad sends them).

A case's run is accepted as `tellerhal.conformance.framework.acceptable` says: it passed,
or it was skipped for missing features none of which the implementation declares (its
``DriverSpec.capabilities``); never ``pytest.skip``. Deliberately broken PIN pads (below)
must each fail the case written to catch them, and pass most others.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

import hal
from drivers.pin_pad.zt588 import ZT588_DRIVER
from hal.devices.pin_pad import (
    Initialized,
    KeyAlgorithm,
    KeyAttributes,
    KeyDetail,
    KeyUsage,
    ModeOfUse,
    PinBlock,
    PinFormat,
    PinPad,
)
from hal.devices.pin_pad_service import PinPadService
from hal.remote import RemoteServer
from protocols.kcv import compute_kcv
from simulator.models.pin_pad import PinPadModel
from simulator.pin_pad_control import PinPadControl
from simulator.registration import SIM_DRIVER
from simulator.world import get_world, reset_worlds
from tellerhal.conformance.framework import Harness, Verdict, acceptable, run_case
from tellerhal.conformance.pin_pad import PIN_PAD_CASES, PinPadCase, PinPadHarness
from tellerhal.conformance.pin_pad_steps import LoadedKey
from tests.zt588_rig import zt588_harness

_worlds = itertools.count()


@pytest.fixture(autouse=True)
def _fresh_worlds() -> Iterator[None]:
    reset_worlds()
    yield
    reset_worlds()


def _opener(address: str) -> Callable[[], PinPad]:
    def open_pad() -> PinPad:
        device = hal.open(address)
        assert isinstance(device, PinPad)
        return device

    return open_pad


@asynccontextmanager
async def sim_harness(patience: float = 1.0) -> AsyncIterator[PinPadHarness]:
    """The in-process simulator, opened through its address like any driver."""
    world = f"pinpad{next(_worlds)}"
    address = f"sim://pin_pad?world={world}"
    hal.open(address)  # builds the world's pad
    stimulus = get_world(world).pin_pad_control()
    yield Harness(open=_opener(address), stimulus=stimulus, patience=patience)


@asynccontextmanager
async def zmq_harness(patience: float = 1.0) -> AsyncIterator[PinPadHarness]:
    """The simulated pad behind a `RemoteServer` on loopback TCP, reached by ``zmq://``."""
    world = get_world(f"pinpad{next(_worlds)}")
    world.pin_pad()
    served = world.open_pin_pad()
    async with RemoteServer(
        {"pin_pad": served}, "tcp://127.0.0.1:0", simulator=True, heartbeat_interval=0.5
    ) as server:
        address = "zmq://" + server.endpoint.removeprefix("tcp://") + "/pin_pad"
        stimulus = world.pin_pad_control()
        yield Harness(open=_opener(address), stimulus=stimulus, patience=patience)


#: ``zt588``: the real driver (``zt588+serial://<pty symlink>``) against the ZT588
#: emulator, whose keyboard sends key bytes between frames as the pad does
#: (`tests.zt588_rig.zt588_harness`).
IMPLEMENTATIONS: dict[str, Callable[..., Any]] = {
    "sim": sim_harness,
    "zmq": zmq_harness,
    "zt588": zt588_harness,
}

#: What each implementation declares it can do (its driver's ``DriverSpec.capabilities``).
#: ``zmq`` is a proxy that declares nothing itself; here it serves the simulator.
DECLARED = {
    "sim": SIM_DRIVER.capabilities.get("pin_pad", frozenset()),
    "zmq": SIM_DRIVER.capabilities.get("pin_pad", frozenset()),
    "zt588": ZT588_DRIVER.capabilities.get("pin_pad", frozenset()),
}


def test_every_implementation_declares_features() -> None:
    for implementation in IMPLEMENTATIONS:
        assert DECLARED[implementation], f"{implementation} declares no PIN pad features"


@pytest.mark.parametrize("case", PIN_PAD_CASES, ids=lambda c: c.id.split(".")[-1])
@pytest.mark.parametrize("pin_pad_impl", sorted(IMPLEMENTATIONS))
async def test_contract(pin_pad_impl: str, case: PinPadCase) -> None:
    async with IMPLEMENTATIONS[pin_pad_impl]() as harness:
        result = await run_case(case, harness)
    why = acceptable(result, DECLARED[pin_pad_impl])
    assert why is None, why


def test_the_suite_lists_the_required_cases() -> None:
    ids = {case.id.split(".")[-1] for case in PIN_PAD_CASES}
    required = {
        "kek_components",
        "wrong_component_kcv",
        "pin_key_under_kek",
        "pin_key_wrong_kcv",
        "pin_entry_iso0",
        "pin_block_iso1_iso3",
        "pin_block_iso4",
        "backspace_and_clear",
        "cancel",
        "auto_end",
        "min_max_len",
        "timeout",
        "data_entry",
        "key_usage",
        "encrypt_decrypt",
        "mac",
        "dukpt_tdes",
        "dukpt_aes",
        "tr31",
        "delete_key",
        "random",
        "initialize",
    }
    assert required <= ids
    assert len(ids) == len(PIN_PAD_CASES), "case ids must be unique"


# --- deliberately broken PIN pads: the suite must catch each --------------------------------


class _WrongPin(PinPadModel):
    """Enciphers the PIN with its digits reversed."""

    async def pin_block(
        self, key: str, format: PinFormat, customer_data: str, padding: int
    ) -> PinBlock:
        self._pin = bytearray(reversed(self._pin))
        return await super().pin_block(key, format, customer_data, padding)


class _TrustsComponentKcv(PinPadModel):
    """Keeps a clear component whatever check value came with it."""

    async def load_component(
        self, name: str, component: bytes, attributes: KeyAttributes, kcv: bytes
    ) -> KeyDetail:
        right = compute_kcv(attributes.algorithm, component)
        return await super().load_component(name, component, attributes, right)


class _InitializeKeepsKeys(PinPadModel):
    """Says it erased every key, and erases none."""

    async def initialize(self) -> None:
        self._emit(Initialized())


class _NoBackspace(PinPadModel):
    """Its backspace key does nothing."""

    def press(self, key: str) -> bool:
        return True if key == "backspace" else super().press(key)


class _MacsOtherData(PinPadModel):
    """MACs the data with a byte more."""

    async def mac(self, key: str, data: bytes, padding: int) -> bytes:
        return await super().mac(key, data + b"\x00", padding)


#: Each broken pad and the case that must catch it (others may too).
BROKEN: dict[str, tuple[type[PinPadModel], str]] = {
    "wrong_pin": (_WrongPin, "pin_pad.pin_entry_iso0"),
    "trusts_component_kcv": (_TrustsComponentKcv, "pin_pad.wrong_component_kcv"),
    "initialize_keeps_keys": (_InitializeKeepsKeys, "pin_pad.initialize"),
    "no_backspace": (_NoBackspace, "pin_pad.backspace_and_clear"),
    "macs_other_data": (_MacsOtherData, "pin_pad.mac"),
}


@pytest.mark.parametrize("variant", sorted(BROKEN))
async def test_the_suite_fails_every_broken_pad(variant: str) -> None:
    model_class, catcher = BROKEN[variant]
    results = []
    for case in PIN_PAD_CASES:
        model = model_class()
        harness: PinPadHarness = Harness(
            open=lambda model=model: PinPadService(model),  # type: ignore[misc]
            stimulus=PinPadControl(model),
            patience=0.5,
        )
        results.append(await run_case(case, harness))
    caught = [r for r in results if r.verdict is Verdict.FAILED]
    assert catcher in {r.case for r in caught}, [(r.case, r.detail) for r in caught]
    # The faithful parts of a broken pad still pass: the suite pinpoints (a pad that
    # enciphers a wrong PIN fails every case with a PIN entry, but not the key-loading
    # ones).
    assert len(caught) < len(results), [(r.case, r.detail) for r in caught]
    assert not [r for r in results if r.verdict is Verdict.ERROR], results


async def test_a_faithful_model_passes_every_case_directly() -> None:
    """The broken pads above are the model with one fault: unbroken, it passes all."""
    for case in PIN_PAD_CASES:
        model = PinPadModel()
        harness: PinPadHarness = Harness(
            open=lambda model=model: PinPadService(model),  # type: ignore[misc]
            stimulus=PinPadControl(model),
            patience=0.5,
        )
        result = await run_case(case, harness)
        assert result.verdict is Verdict.PASSED, result


def test_a_loaded_test_key_prints_no_key() -> None:
    detail = KeyDetail("pin", KeyUsage.PIN, KeyAlgorithm.TDES, ModeOfUse.ENCRYPT, 16)
    key = LoadedKey("pin", KeyAlgorithm.TDES, bytes(range(16)), detail)
    assert repr(key) == "LoadedKey('pin', tdes)"
