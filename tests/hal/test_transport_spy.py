"""The spy+ wrapper: hex lines per frame, card data masked unless revealed."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest

from hal.address import DeviceAddress
from hal.registry import make_transport
from hal.transports.memory import MEMORY_TRANSPORT, MemoryTransport, memory_pair
from hal.transports.spy import SPY_TRANSPORT, Crt310Masker, OpaqueMasker, SpyTransport
from protocols.crt310 import (
    CardPosition,
    Command,
    FrontEntry,
    OperationStatus,
    RearEntry,
    TrackMode,
    TrackReadError,
    TrackRecord,
    TrackSelector,
    TrackStatus,
    build_apdu_command,
    build_apdu_reply,
    build_command,
    build_read_tracks,
    build_status_reply,
    build_track_reply,
)
from tests.specs import registered

PAN = b"4761739001010010"
TRACK2 = PAN + b"=28122011000012300000"
TRACK1 = b"B" + PAN + b"^DOE/JOHN^28122011000012300000"
# VERIFY with a PIN block in the clear (what a spy must never print).
VERIFY = bytes.fromhex("0020008008241234FFFFFFFFFF")
PAN_RESPONSE = bytes.fromhex("5A084761739001010010") + b"\x90\x00"


def hexed(data: bytes) -> str:
    return data.hex(" ").upper()


def leaks(text: str) -> list[str]:
    secrets = [hexed(PAN), hexed(TRACK2[:8]), hexed(b"DOE/JOHN"), "24 12 34", "47 61 73 90"]
    return [s for s in secrets if s in text]


@pytest.fixture
async def spied(
    caplog: pytest.LogCaptureFixture,
) -> AsyncIterator[tuple[SpyTransport, MemoryTransport]]:
    caplog.set_level(logging.INFO, logger="hal.transports.spy")
    host, device = memory_pair()
    spy = SpyTransport(host, protocol="crt310", label="reader")
    await spy.open()
    await device.open()
    yield spy, device
    await spy.close()
    await device.close()


def lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "hal.transports.spy"]


async def test_frames_are_logged_whole_with_tracks_masked(
    spied: tuple[SpyTransport, MemoryTransport], caplog: pytest.LogCaptureFixture
) -> None:
    spy, device = spied
    await spy.write(build_read_tracks(TrackMode.ASCII, TrackSelector.T1_T2))
    reply = build_track_reply(
        [TrackRecord(1, TrackStatus.OK, TRACK1), TrackRecord(2, TrackStatus.OK, TRACK2)]
    )
    device.faults.split(5)  # the reply reaches the spy in pieces
    await device.write(b"\x06" + reply)
    received = b""
    while len(received) < len(reply) + 1:
        received += await spy.read(timeout=1)
    assert received == b"\x06" + reply
    out = lines(caplog)
    assert any(line.startswith("reader TX   9 READ_TRACKS: 02 00 04 45 30 30 34") for line in out)
    assert "reader RX   1 ACK: 06" in out
    (track_line,) = [line for line in out if line.startswith("reader RX") and "READ_TRACKS" in line]
    assert track_line.startswith(f"reader RX {len(reply):3d} READ_TRACKS: 02 00")
    assert "1F 59 ** **" in track_line
    assert track_line.endswith("03 **")
    assert not leaks("\n".join(out))


async def test_apdus_show_their_header_and_status_word_only(
    spied: tuple[SpyTransport, MemoryTransport], caplog: pytest.LogCaptureFixture
) -> None:
    spy, device = spied
    await spy.write(build_apdu_command(VERIFY))
    await device.write(build_apdu_reply(OperationStatus.SUCCESS, PAN_RESPONSE))
    await spy.read(timeout=1)
    tx, rx = lines(caplog)
    assert "APDU_T0: 02 00 11 37 31 00 0D 00 20 00 80 ** **" in tx
    assert "APDU_T0: 02 00 11 37 31 59 00 0C ** **" in rx
    assert rx.endswith("90 00 03 **")
    assert not leaks(tx + rx)


async def test_plain_frames_show_every_byte(
    spied: tuple[SpyTransport, MemoryTransport], caplog: pytest.LogCaptureFixture
) -> None:
    spy, device = spied
    await spy.write(build_command(Command.STATUS))
    reply = build_status_reply(CardPosition.NO_CARD, FrontEntry.SWITCH, RearEntry.ALLOWED)
    await device.write(b"\x06\xff\xfe" + reply)
    while len(lines(caplog)) < 4:
        await spy.read(timeout=1)
    assert lines(caplog) == [
        "reader TX   7 STATUS: 02 00 02 31 30 03 02",
        "reader RX   1 ACK: 06",
        "reader RX   2 NOISE: ** **",
        "reader RX  10 STATUS: 02 00 05 31 30 4E 4A 4A 03 4B",
    ]


async def test_reveal_shows_everything(caplog: pytest.LogCaptureFixture) -> None:
    masker = Crt310Masker(reveal=True)
    masker.lines("TX", build_read_tracks(TrackMode.ASCII, TrackSelector.T2))
    (line,) = masker.lines("RX", build_track_reply([TrackRecord(2, TrackStatus.OK, TRACK2)]))
    assert hexed(PAN) in line


def test_failed_tracks_keep_their_error_code_visible() -> None:
    masker = Crt310Masker()
    masker.lines("TX", build_read_tracks(TrackMode.ASCII, TrackSelector.T1_T2))
    records = [
        TrackRecord(1, TrackStatus.READ_ERROR, error=TrackReadError.BLANK),
        TrackRecord(2, TrackStatus.OK, TRACK2),
    ]
    (line,) = masker.lines("RX", build_track_reply(records))
    assert "1F 4E E5 1F 59 **" in line


def test_a_protocol_without_decoder_is_masked_whole() -> None:
    assert OpaqueMasker().lines("TX", b"\x01\x02") == ["  2 bytes: ** **"]
    assert OpaqueMasker(reveal=True).lines("RX", b"\x01\x02") == ["  2 bytes: 01 02"]


def test_spy_prefix_wraps_the_named_transport() -> None:
    host, _device = memory_pair("spied-pair")
    with registered(MEMORY_TRANSPORT, SPY_TRANSPORT):
        transport = make_transport(
            DeviceAddress.parse("spy+crt310+memory://spied-pair?reveal=true")
        )
    assert isinstance(transport, SpyTransport)
    assert transport.inner is host
    assert transport.reveal
    assert transport.protocol == "crt310"
    assert transport.name == f"spy+{host.name}"
