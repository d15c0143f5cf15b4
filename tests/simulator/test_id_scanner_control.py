"""The ID scanner's control commands over a real control socket, with the hal service
reading what the remote customer presents."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest

from hal.devices.id_scanner import DocumentKind, IdScannerStatus
from hal.errors import (
    HalTimeout,
    HardwareError,
    InvalidData,
    InvalidMedia,
    MediaJam,
    ProtocolError,
    SequenceError,
    UnsupportedOperation,
)
from simulator.id_profiles import document_profile
from simulator.remote_control import RemoteIdScannerControl
from simulator.server_control import ControlServer
from simulator.world import IdScannerSetup, World

SCALE = 0.002


@pytest.fixture
async def controlled() -> AsyncIterator[tuple[World, RemoteIdScannerControl]]:
    world = World("remote-id", clock_scale=SCALE)
    world.id_scanner()
    world.id_scanner("flat", IdScannerSetup(build="chip"))
    world.card_reader()
    server = ControlServer("tcp://127.0.0.1:0", lambda: world)
    await server.start()
    try:
        yield world, RemoteIdScannerControl(server.endpoint, timeout=2.0)
    finally:
        await server.stop()


async def test_a_remote_customer_presents_and_takes_a_document(
    controlled: tuple[World, RemoteIdScannerControl], caplog: pytest.LogCaptureFixture
) -> None:
    world, remote = controlled
    caplog.set_level(logging.DEBUG)
    async with world.open_id_scanner() as scanner:
        read = asyncio.create_task(scanner.read_document(fingerprints=True, timeout=5))
        await remote.wait_for("accepting", timeout=2)
        sample = await remote.present_document("resident_fingerprints")
        assert sample == document_profile("resident_fingerprints").sample()
        doc = await read
        assert sample.expected is not None
        assert doc.document_number == sample.expected.document_number
        assert doc.fingerprints == sample.expected.fingerprints
        assert doc.valid is sample.valid
        assert await remote.document_position() == "reader"
        await scanner.retain(timeout=5)
        assert await remote.document_position() == "retained"
        assert await remote.retained_count() == 1
        assert (await scanner.retain_bin()).count == 1
        assert await remote.empty_retain_bin() == 1
        with pytest.raises(SequenceError):
            await remote.remove_document(timeout=0.5)
        # The next one is handed back and taken.
        await remote.present_document("passport")
        got = await scanner.read_document(timeout=5)
        assert got.kind is DocumentKind.PASSPORT
        eject = asyncio.create_task(scanner.eject(timeout=5))
        await remote.remove_document(timeout=2)
        await eject
        assert await remote.document_position() == "customer"
    # Personal data never went over the socket into a log line.
    assert sample.expected.document_number not in caplog.text
    assert sample.expected.name not in caplog.text


async def test_faults_over_the_socket(controlled: tuple[World, RemoteIdScannerControl]) -> None:
    world, remote = controlled
    async with world.open_id_scanner() as scanner:
        await remote.jam()
        await remote.present_document("resident")
        with pytest.raises(MediaJam):
            await scanner.read_document(timeout=5)
        assert await remote.document_position() == "jammed"
        await remote.clear_jam()
        assert await remote.document_position() == "reader"
        await remote.fail_next_read()
        with pytest.raises(InvalidMedia):
            await scanner.read_document(timeout=5)
        assert await remote.document_position() == "exit"  # handed back
        await remote.remove_document()
        await remote.sam_failure()
        status: IdScannerStatus = await scanner.status()
        assert status.security_module == "selfTestFailed"
        await remote.present_document("resident")
        with pytest.raises(HardwareError):
            await scanner.read_document(timeout=5)
        await remote.sam_failure(False)
        await remote.slow_read(2000.0)  # 4 s real: the read outlives its timeout
        with pytest.raises(HalTimeout):
            await scanner.read_document(timeout=0.2)
        await remote.slow_read(0)
        assert (await scanner.read_document(timeout=5)).valid
        await remote.power_loss()
        await remote.power_loss(False)
        await remote.slow_replies(0)


async def test_refusals_over_the_socket(controlled: tuple[World, RemoteIdScannerControl]) -> None:
    world, remote = controlled
    flat = RemoteIdScannerControl(remote.endpoint, "flat", timeout=2.0)
    with pytest.raises(UnsupportedOperation):
        await flat.present_document("passport")
    with pytest.raises(UnsupportedOperation):
        await flat.jam()
    with pytest.raises(InvalidData):
        await remote.present_document("nobody")
    with pytest.raises(InvalidData):
        await remote.wait_for("gate_open", timeout=0.1)
    sample = await flat.present_document("forged")
    assert sample.expected is None
    assert not sample.valid
    assert await flat.document_position() == "reader"
    with pytest.raises(HalTimeout):
        await remote.wait_for("document_inside", timeout=0.1)
    # A card reader is not an ID scanner.
    reader = RemoteIdScannerControl(remote.endpoint, "card_reader", timeout=2.0)
    with pytest.raises(ProtocolError, match="offered: flat, id_scanner"):
        await reader.present_document("resident")
    assert world.id_scanners["flat"].position.value == "presented"


def _sim_control(endpoint: str, *args: str) -> tuple[int, dict[str, object], str]:
    import contextlib
    import io
    import json

    from tellerhal.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(["sim-control", "--control", endpoint, *args])
    return status, (json.loads(out.getvalue()) if out.getvalue() else {}), err.getvalue()


async def test_the_sim_control_cli(controlled: tuple[World, RemoteIdScannerControl]) -> None:
    """``tellerhal sim-control`` (in a thread with its own loop, as another process)."""
    world, remote = controlled

    async def cli(*args: str) -> tuple[int, dict[str, object], str]:
        return await asyncio.to_thread(_sim_control, remote.endpoint, *args)

    async with world.open_id_scanner() as scanner:
        status, result, _ = await cli("present-document", "bad_check")
        assert status == 0
        assert result == {
            "ok": True,
            "profile": "bad_check",
            "kind": "cnResidentId",
            "valid": False,
        }
        doc = await scanner.read_document(timeout=5)
        assert not doc.valid
        expected = document_profile("bad_check").document
        assert expected is not None
        assert expected.document_number not in str(result)
        assert await cli("document-position") == (0, {"ok": True, "position": "reader"}, "")
        assert (await cli("jam-document"))[0] == 0
        eject = asyncio.create_task(scanner.eject(timeout=5))
        with pytest.raises(MediaJam):
            await eject
        assert (await cli("document-position"))[1]["position"] == "jammed"
        status, _, err = await cli("remove-document", "--timeout", "0.2")
        assert status == 1
        assert "HalTimeout" in err
        assert (await cli("--device", "id_scanner", "clear-jam"))[0] == 0
        await scanner.eject(timeout=5)
        assert (await cli("remove-document"))[0] == 0
        assert (await cli("sam-failure", "on"))[0] == 0
        assert (await scanner.status()).security_module == "selfTestFailed"
        assert (await cli("sam-failure", "off"))[0] == 0
        assert (await cli("fail-read"))[0] == 0
        assert (await cli("present-document", "resident"))[0] == 0
        with pytest.raises(InvalidMedia):
            await scanner.read_document(timeout=5)
        status, _, err = await cli("--device", "flat", "present-document", "passport")
        assert status == 1
        assert "UnsupportedOperation" in err
        status, _, err = await cli("present-document", "nobody")
        assert status == 1
        assert "nobody" in err
