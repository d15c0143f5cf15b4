"""The CardReader contract over the ``pcsc`` driver, through the real PC/SC stack.

``pcsc://Virtual%20PCD%2000%2000`` is opened as an app opens it (``hal.open``): pyscard
-> pcscd -> vpcd -> the simulator's vcard in the slot the customer uses
(`simulator.wire.pcsc_slot.PcscSlotControl`). Every case of the suite runs; a run is
accepted as `tellerhal.conformance.framework.acceptable` says against what the driver
declares (``PCSC_DRIVER.capabilities``): it passed, or it was skipped for features the
driver does not promise (a dip reader has no motor, no retain bin, no stacker). Never
``pytest.skip`` for a case; only the whole module is skipped when no pcscd runs outside
CI (under ``CI=true`` that is a failure).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

import hal
from drivers.card_reader.pcsc import PCSC_DRIVER
from hal.devices.card_reader import CardReader
from hal.transports.pcsc import PcscReader
from simulator.wire.pcsc_slot import PcscSlot, PcscSlotControl
from tellerhal.conformance.card_reader import CARD_READER_CASES, CardReaderCase, CardReaderHarness
from tellerhal.conformance.framework import Harness, Verdict, acceptable, run_case
from tests.pcsc_rig import PORTS, READERS, address, pcsc_registered, require_pcscd

# The machine's one pcscd and its vpcd ports: under pytest-xdist (--dist loadgroup) all
# of these tests run on one worker, one at a time.
pytestmark = pytest.mark.xdist_group("pcscd")

DECLARED = PCSC_DRIVER.capabilities["card_reader"]
#: Seconds a case waits for what the customer does: pcscd notices a card going in or
#: out when it next polls vpcd (every 0.4 s).
PATIENCE = 2.0


@pytest.fixture(autouse=True)
def _registered() -> Iterator[None]:
    require_pcscd()
    with pcsc_registered():
        yield


@pytest.fixture
async def slot(tmp_path: object) -> AsyncIterator[PcscSlot]:
    async with PcscReader(READERS[0]) as reader:
        await reader.wait_absent(timeout=PATIENCE)  # a card an earlier test pulled is gone
    async with PcscSlot(PORTS[0]) as slot:
        yield slot


def pcsc_harness(slot: PcscSlot) -> CardReaderHarness:
    def open_reader() -> CardReader:
        device = hal.open(address(0))
        assert isinstance(device, CardReader)
        return device

    return Harness(open=open_reader, stimulus=PcscSlotControl(slot), patience=PATIENCE)


def test_the_driver_declares_a_chip_dip_reader() -> None:
    assert frozenset({"chip", "taken_sensor"}) == DECLARED


@pytest.mark.parametrize("case", CARD_READER_CASES, ids=lambda c: c.id.split(".")[-1])
async def test_contract(case: CardReaderCase, slot: PcscSlot) -> None:
    result = await run_case(case, pcsc_harness(slot))
    why = acceptable(result, DECLARED)
    assert why is None, why
    if result.verdict is Verdict.SKIPPED:
        # Only what a dip reader cannot have may be missing.
        assert result.missing <= {"motor", "retain", "issue", "tracks", "write_tracks"}
