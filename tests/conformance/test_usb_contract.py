"""The CardReader contract over USB: the real crt310 driver on the ``usb`` transport.

Every case of `CARD_READER_CASES` runs against ``crt310+usb://fffe:0310?backend=sim``:
the driver's bytes go through pyusb (the real ``usb.core`` stack) to the simulated USB
bus, whose device binds its bulk pipes to the CRT-310 emulator of a world's card
reader; the stimulus is that world's control API. A case's run is accepted as
`tellerhal.conformance.framework.acceptable` says (shared_api §5): it passed, or it
was skipped for missing features none of which the crt310 driver declares.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from drivers.card_reader.crt310 import CRT310_DRIVER
from simulator.world import reset_worlds
from tellerhal.conformance.card_reader import CARD_READER_CASES, CardReaderCase, CardReaderHarness
from tellerhal.conformance.framework import Harness, acceptable, run_case
from tests.usb_rig import UsbRig, usb_registered

#: What the crt310 driver promises (its DriverSpec); a skip may name none of these.
DECLARED = CRT310_DRIVER.capabilities.get("card_reader", frozenset())


@pytest.fixture(autouse=True)
def _fresh() -> Iterator[None]:
    reset_worlds()
    with usb_registered():
        yield
    reset_worlds()


def usb_harness(tmp_path: Path, patience: float = 1.0) -> CardReaderHarness:
    """The crt310 driver over the usb transport (sim backend), against the emulator
    bound to a world's reader; the stimulus is that world's control API."""
    rig = UsbRig(tmp_path / "ledger.sqlite")
    return Harness(open=rig.reader, stimulus=rig.control, patience=patience)


def test_the_driver_declares_features() -> None:
    assert DECLARED, "crt310 declares no card reader features"
    assert "usb" in CRT310_DRIVER.transports


@pytest.mark.parametrize("case", CARD_READER_CASES, ids=lambda c: c.id.split(".")[-1])
async def test_contract_over_usb(case: CardReaderCase, tmp_path: Path) -> None:
    result = await run_case(case, usb_harness(tmp_path))
    why = acceptable(result, DECLARED)
    assert why is None, why
