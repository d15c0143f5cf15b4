"""The real crt310 driver, unmodified, over the usb transport on the simulated USB bus.

The device is pulled out and plugged back while the app holds the reader: the reader
reports ``noDevice``, commands raise `ConnectionLost` (no hang), and the next status
finds the device again by VID:PID and serial, with no reopen by the app. Over
``spy+``, the traffic is in the log with the card data masked.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from hal.device import DeviceState
from hal.devices.card_reader import MediaStatus, MoveTarget, Track
from hal.errors import ConnectionLost
from simulator.world import reset_worlds
from tests.usb_rig import UsbRig, usb_registered


@pytest.fixture(autouse=True)
def _fresh() -> Iterator[None]:
    reset_worlds()
    with usb_registered():
        yield
    reset_worlds()


async def test_a_card_is_read_and_ejected_over_usb(tmp_path: Path) -> None:
    rig = UsbRig(tmp_path / "ledger.sqlite")
    async with rig.reader() as reader:
        assert (await reader.status()).device is DeviceState.ONLINE
        reading = asyncio.create_task(reader.read_raw_data([Track.TRACK2], timeout=5))
        sample = await rig.control.insert_card("visa")
        result = await reading
        assert result[Track.TRACK2].data == sample.track2
        await reader.move(MoveTarget.EXIT, timeout=5)
        await rig.control.take_card(timeout=5)
        assert rig.device.bytes_out > 0
        assert rig.device.bytes_in > 0


async def test_unplug_and_replug_under_the_driver(tmp_path: Path) -> None:
    rig = UsbRig(tmp_path / "ledger.sqlite")
    async with rig.reader() as reader:
        assert (await reader.status()).device is DeviceState.ONLINE
        rig.bus.unplug(rig.device)
        with pytest.raises(ConnectionLost):
            await asyncio.wait_for(reader.move(MoveTarget.EXIT, timeout=2), 5)
        status = await asyncio.wait_for(reader.status(), 5)
        assert status.device is DeviceState.NO_DEVICE
        rig.bus.plug(rig.device)
        for _ in range(100):  # the driver reopens at its next exchange (a status poll)
            status = await reader.status()
            if status.device is DeviceState.ONLINE:
                break
            await asyncio.sleep(0.02)
        assert status.device is DeviceState.ONLINE
        assert status.media is MediaStatus.NOT_PRESENT
        rig.bus.unplug(rig.device)  # the rig's wire unplugs it again: idempotent


async def test_spy_logs_usb_traffic_with_the_card_data_masked(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rig = UsbRig(tmp_path / "ledger.sqlite")
    caplog.set_level(logging.INFO, logger="hal.transports.spy")
    async with rig.reader(spy=True) as reader:
        reading = asyncio.create_task(reader.read_raw_data([Track.TRACK2], timeout=5))
        sample = await rig.control.insert_card("visa")
        await reading
    assert sample.track2 is not None
    text = caplog.text
    assert "crt310+usb://fffe:0310" in text or "usb://fffe:0310" in text
    assert "TX" in text
    assert "RX" in text
    hex_track = " ".join(f"{b:02X}" for b in sample.track2[:6])
    assert hex_track not in text.upper()
    assert sample.track2.decode() not in text
