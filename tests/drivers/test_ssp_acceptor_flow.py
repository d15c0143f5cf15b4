"""The ``ssp`` acceptor facet on the real pty emulator: a cancel while a note is being
read follows it into the escrow; storing or giving back a note the device does not
hold is a fault; the polling task outlives any failure and a cash_in gives up with
`ConnectionLost` when the device stays offline; the listener hears ItemsInserted and
every status change (jam, offline, online); the declared features are the facet's."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import cast

import pytest

from drivers.cash.ssp import SSP_DRIVER, SspCore
from hal.device import DeviceState
from hal.devices.cash_acceptor import ItemsInserted
from hal.devices.cash_in_model import ESCROW, CashInLimits
from hal.devices.cash_model import CUSTOMER, Move, TransportState
from hal.errors import ConnectionLost, TransportError
from protocols.ssp_commands import Cmd
from tests.ssp_rig import Listener, SspRig

ALL = frozenset(f"CNY:{v}" for v in (100, 500, 1000, 2000, 5000, 10000))
LIMITS = CashInLimits(max_items=1, enabled=ALL)


def listener_of(core: SspCore) -> Listener:
    return cast(Listener, core.acceptor_listener)


async def until(condition: object, seconds: float = 3.0) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not callable(condition) or not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition never came true"
        await asyncio.sleep(0.01)


async def test_cancel_while_a_note_is_read_reports_it_in_escrow(tmp_path: Path) -> None:
    rig = SspRig(tmp_path)
    rig.firmware.reading_polls = 15  # READ 0 for ~0.3 s before READ ch
    async with rig.wire(), rig.core() as dev:
        heard = listener_of(dev.core)
        task = asyncio.ensure_future(dev.acceptor.cash_in(LIMITS, 1))
        rig.model.insert_notes(["CNY:5000"])
        await until(lambda: any(isinstance(e, ItemsInserted) for e in heard.events))
        task.cancel()
        report = await asyncio.wait_for(task, 5)
        assert report.moves == (Move(CUSTOMER, ESCROW, "CNY:5000", 1),)
        assert report.fault is not None
        assert report.fault.error_code == "canceled"
        assert (await dev.acceptor.contents()).escrow == {"CNY:5000": 1}
        assert rig.model.ground_truth()["escrow"] == 1
        back = await asyncio.wait_for(dev.acceptor.rollback(2), 5)
        assert back.moves == (Move(ESCROW, CUSTOMER, "CNY:5000", 1),)
        assert rig.model.ground_truth()["escrow"] == 0


async def test_nothing_in_escrow_is_a_fault_for_end_and_rollback(tmp_path: Path) -> None:
    rig = SspRig(tmp_path)
    async with rig.wire(), rig.core() as dev:
        for report in (
            await asyncio.wait_for(dev.acceptor.cash_in_end(True, 1), 5),
            await asyncio.wait_for(dev.acceptor.rollback(2), 5),
        ):
            assert report.moves == ()
            assert report.fault is not None
            assert "holds no note" in report.fault.description
        reset = await asyncio.wait_for(dev.acceptor.reset(3), 5)
        assert reset.fault is None  # a reset of an empty validator has nothing to do


async def test_cash_in_gives_up_when_the_device_stays_offline(tmp_path: Path) -> None:
    rig = SspRig(tmp_path)
    async with rig.wire() as emulator, rig.core(reply_timeout=0.1, retries=1) as dev:
        dev.core.offline_limit = 0.3
        task = asyncio.ensure_future(dev.acceptor.cash_in(LIMITS, 1))
        await asyncio.sleep(0.1)
        emulator.mute()
        with pytest.raises(ConnectionLost):
            await asyncio.wait_for(task, 5)
        assert not dev.core.online
        statuses = listener_of(dev.core).statuses
        assert statuses[-1].device is DeviceState.OFFLINE  # type: ignore[attr-defined]
        emulator.mute(False)
        await until(lambda: dev.core.online)
        assert statuses[-1].device is DeviceState.ONLINE  # type: ignore[attr-defined]


async def test_the_polling_task_outlives_any_hal_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rig = SspRig(tmp_path)
    async with rig.wire(), rig.core() as dev:
        core = dev.core
        real = core._poll_once
        failures = [TransportError("the port went away")]

        async def flaky() -> None:
            if failures:
                raise failures.pop()
            await real()

        monkeypatch.setattr(core, "_poll_once", flaky)
        await until(lambda: not failures)
        await until(lambda: core.online)
        assert core._task is not None
        assert not core._task.done()
        devices = [s.device for s in listener_of(core).statuses]  # type: ignore[attr-defined]
        assert DeviceState.OFFLINE in devices
        assert devices[-1] is DeviceState.ONLINE
        rig.model.insert_notes(["CNY:100"])
        report = await asyncio.wait_for(dev.acceptor.cash_in(LIMITS, 1), 5)
        assert report.moves == (Move(CUSTOMER, ESCROW, "CNY:100", 1),)


async def test_listener_hears_items_inserted_and_a_jam(tmp_path: Path) -> None:
    rig = SspRig(tmp_path)
    async with rig.wire(), rig.core() as dev:
        heard = listener_of(dev.core)
        await until(lambda: heard.statuses)  # the first poll tells it
        assert heard.statuses[-1].device is DeviceState.ONLINE  # type: ignore[attr-defined]
        rig.model.jam_next_note()
        rig.model.insert_notes(["CNY:2000"])
        report = await asyncio.wait_for(dev.acceptor.cash_in(LIMITS, 1), 5)
        assert report.fault is not None
        assert [type(e) for e in heard.events] == [ItemsInserted]
        await until(lambda: heard.statuses[-1].device is DeviceState.HARDWARE_ERROR)  # type: ignore[attr-defined]
        assert heard.statuses[-1].transport is TransportState.NOT_EMPTY  # type: ignore[attr-defined]


@pytest.mark.parametrize("profile", ["nv200", "nv11"])
async def test_declared_features_are_what_the_facet_does(tmp_path: Path, profile: str) -> None:
    declared = SSP_DRIVER.capabilities["cash_acceptor"]
    rig = SspRig(tmp_path, profile)
    async with rig.wire(), rig.core() as dev:
        features = dev.acceptor.capabilities().features()
    expected = declared if profile == "nv11" else declared - {"recycling"}
    assert features == expected


async def test_cancel_in_the_closing_disable_still_reports_the_note(tmp_path: Path) -> None:
    rig = SspRig(tmp_path)
    async with rig.wire() as emulator, rig.core() as dev:
        emulator.drop_reply_to(Cmd.DISABLE)  # carried out; the host waits, then resends
        task = asyncio.ensure_future(dev.acceptor.cash_in(LIMITS, 1))
        rig.model.insert_notes(["CNY:1000"])
        await until(lambda: Cmd.DISABLE in rig.firmware.acted)
        task.cancel()
        report = await asyncio.wait_for(task, 5)
        assert report.moves == (Move(CUSTOMER, ESCROW, "CNY:1000", 1),)
        assert report.fault is not None
        assert report.fault.error_code == "canceled"
        # the cut exchange put the link out of sync: the next command went after a SYNC
        assert dev.core.link.in_sync
        assert dev.core.link.resyncs == 1
        assert not rig.firmware.enabled
        end = await asyncio.wait_for(dev.acceptor.cash_in_end(True, 2), 5)
        assert end.moves == (Move(ESCROW, "cashbox", "CNY:1000", 1),)
