"""The spy+ wrapper: hex lines per frame, card data masked unless revealed."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from drivers.card_reader.creator_maskers import Crt310Masker, Crt591Masker
from hal import registry
from hal.address import DeviceAddress
from hal.registry import make_transport
from hal.transports.memory import MEMORY_TRANSPORT, MemoryTransport, memory_pair
from hal.transports.spy import SPY_TRANSPORT, OpaqueMasker, SpyTransport
from protocols import crt591
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


# --- CRT-591 ---------------------------------------------------------------------------------

C591 = crt591.Command
CPU = crt591.CpuOperation
IDLE = (crt591.CardStatus.AT_POSITION, crt591.StackerStatus.ENOUGH, crt591.BinStatus.NOT_FULL)
# A READ RECORD answer holding a PAN and track 2 equivalent data (tag 57), then 90 00.
RECORD = bytes.fromhex("7015") + bytes.fromhex("5A08") + bytes.fromhex(PAN.decode())
RECORD += bytes.fromhex("5709") + bytes.fromhex("4761739001010010D2")
R_APDU = RECORD + b"\x90\x00"


@pytest.mark.parametrize("operation", [CPU.APDU_T0, CPU.APDU_T1, CPU.APDU_AUTO])
def test_crt591_apdus_show_their_header_and_status_word_only(operation: CPU) -> None:
    masker = Crt591Masker()
    command = crt591.build_command(C591.CPU, operation, VERIFY)
    reply = crt591.build_positive(crt591.Request(0x51, operation), *IDLE, R_APDU)
    (tx,) = masker.lines("TX", command)
    (rx,) = masker.lines("RX", reply)
    size = 3 + len(VERIFY)  # TEXT: 'C' CM PM, the C-APDU
    # F2 ADDR LEN 'C' 51 pm, CLA INS P1 P2 visible; Lc, the PIN block, ETX's BCC masked.
    assert tx.startswith(f"{size + 6:3d} CPU {operation.name}: F2 00 00 {size:02X} 43 51")
    assert f"{operation:02X} 00 20 00 80 ** **" in tx
    assert tx.endswith("03 **")
    # 'P' 51 pm st0 st1 st2 visible, the R-APDU masked but SW1 SW2.
    assert f"50 51 {operation:02X} 32 32 30 ** **" in rx
    assert rx.endswith("90 00 03 **")
    assert rx.count("**") == len(RECORD) + 1
    assert not leaks(tx + rx)
    assert hexed(RECORD[4:12]) not in rx


def test_crt591_a_pan_inside_an_r_apdu_never_reaches_the_log_however_it_is_split(
    caplog: pytest.LogCaptureFixture,
) -> None:
    reply = crt591.build_positive(crt591.Request(0x51, CPU.APDU_T0), *IDLE, R_APDU)
    wire = b"\x06" + reply + b"\x06"
    for cut in range(1, len(wire)):
        masker = Crt591Masker()
        out = masker.lines("RX", wire[:cut]) + masker.lines("RX", wire[cut:])
        assert len(out) == 3
        text = "\n".join(out)
        assert not leaks(text), (cut, text)
        assert hexed(PAN[:4]) not in text  # no digit pair of it in the clear


def test_crt591_plain_frames_show_every_byte() -> None:
    masker = Crt591Masker()
    (tx,) = masker.lines("TX", crt591.build_command(C591.STATUS))
    assert tx == "  9 STATUS: F2 00 00 03 43 31 30 03 B0"  # BCC: F2^03^43^31^30^03
    status = crt591.build_positive(C591.STATUS, *IDLE)
    (rx,) = masker.lines("RX", status)
    assert "**" not in rx
    assert rx.startswith(" 12 STATUS: F2 00 00 06 50 31 30 32 32 30 03")
    (move,) = masker.lines("TX", crt591.build_command(C591.MOVE, crt591.Position.REJECT_BIN))
    assert move.startswith("  9 MOVE REJECT_BIN: F2 00 00 03 43 32 33 03")
    version = crt591.build_positive(C591.VERSION, *IDLE, b"CRT-591-M001")
    (rx,) = masker.lines("RX", version)
    assert hexed(b"CRT-591-M001") in rx
    refusal = crt591.build_negative(
        crt591.Request(0x32, crt591.Position.REJECT_BIN), crt591.ErrorCode.BIN_FULL
    )
    (rx,) = masker.lines("RX", refusal)
    assert rx.startswith(" 11 MOVE REJECT_BIN REFUSED: F2 00 00 05 4E 32 33 41 31 03")
    assert "**" not in rx
    (control,) = masker.lines("RX", b"\x15")
    assert control == "  1 NAK: 15"


def test_crt591_the_card_serial_number_and_memory_card_data_are_masked() -> None:
    masker = Crt591Masker()
    serial = crt591.build_positive(C591.CARD_SERIAL, *IDLE, bytes.fromhex("04A1B2C3D4E5F6"))
    (rx,) = masker.lines("RX", serial)
    assert "A1 B2 C3" not in rx
    assert "30 ** ** ** ** ** ** ** 03 **" in rx
    sle = crt591.build_command(C591.SLE, 0x31, bytes.fromhex("3200201234"))
    (tx,) = masker.lines("TX", sle)
    assert "12 34" not in tx
    assert tx.endswith("** ** ** ** ** 03 **")


def test_crt591_unknown_frames_bad_bccs_and_noise_are_masked() -> None:
    masker = Crt591Masker()
    # A well-formed frame whose TEXT is no message the codec knows ('X' head).
    unknown = crt591.build_frame(b"X\x51\x33" + PAN, 0)
    (line,) = masker.lines("RX", unknown)
    assert line.startswith(f"{len(unknown):3d} CM 51 PM 33: F2 00 00 {3 + len(PAN):02X} 58 51 33")
    assert hexed(PAN[:4]) not in line
    assert line.endswith("** 03 **")
    reply = bytearray(crt591.build_positive(crt591.Request(0x51, CPU.APDU_T0), *IDLE, R_APDU))
    reply[-1] ^= 0xFF
    (bad,) = masker.lines("RX", bytes(reply) + b"\x06")[:1]
    assert bad.startswith(f"{len(reply):3d} BAD BCC: **")
    assert not leaks(bad)
    noise = masker.lines("RX", b"\x47\x61\x73\x90\x06")
    assert noise[0].startswith("  4 NOISE: ** ** ** **")


def test_crt591_reveal_shows_everything() -> None:
    masker = Crt591Masker(reveal=True)
    reply = crt591.build_positive(crt591.Request(0x51, CPU.APDU_T1), *IDLE, R_APDU)
    (line,) = masker.lines("RX", reply)
    assert hexed(bytes.fromhex(PAN.decode())) in line
    assert "**" not in line


async def test_spy_prefix_uses_the_crt591_masker(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="hal.transports.spy")
    _host, device = memory_pair("spied-591")
    with registered(MEMORY_TRANSPORT, SPY_TRANSPORT):
        spy = make_transport(DeviceAddress.parse("spy+crt591+memory://spied-591"))
    assert isinstance(spy, SpyTransport)
    await spy.open()
    await device.open()
    try:
        await spy.write(crt591.build_command(C591.CPU, CPU.APDU_T0, VERIFY))
        reply = crt591.build_positive(crt591.Request(0x51, CPU.APDU_T0), *IDLE, R_APDU)
        await device.write(b"\x06" + reply)
        received = b""
        while len(received) < len(reply) + 1:
            received += await spy.read(timeout=1)
        await spy.reopen()  # the masker forgets partial frames, nothing breaks
    finally:
        await spy.close()
        await device.close()
    out = lines(caplog)
    assert any(" TX " in line and "CPU APDU_T0" in line for line in out)
    assert any(" RX " in line and line.endswith("90 00 03 **") for line in out)
    assert not any(" bytes: " in line for line in out)  # not masked whole
    assert not leaks("\n".join(out))


def test_a_driver_brings_its_own_masker(caplog: pytest.LogCaptureFixture) -> None:
    """A vendor's driver declares its masker in its DriverSpec; hal names no vendor."""

    class Vendor:
        def __init__(self, reveal: bool) -> None:
            self.reveal = reveal

        def lines(self, direction: str, data: bytes) -> list[str]:
            return [f"vendor {direction} {len(data)}"]

        def reset(self) -> None:
            pass

    spec = registry.DriverSpec(
        name="vendorx",
        device_classes=frozenset({"card_reader"}),
        options=VendorOptions,
        factory=lambda address, options: None,  # type: ignore[arg-type,return-value]
        masker=Vendor,
    )
    a, _ = memory_pair("vendor-spy")
    with registered(spec):
        assert isinstance(SpyTransport(a, protocol="vendorx")._masker, Vendor)
    # Without the driver registered, or with no masker, the traffic is masked whole.
    assert isinstance(SpyTransport(a, protocol="vendorx")._masker, OpaqueMasker)
    assert isinstance(SpyTransport(a, protocol="")._masker, OpaqueMasker)


@dataclass(frozen=True)
class VendorOptions:
    """No options."""


@pytest.mark.parametrize(
    "data",
    [
        bytes.fromhex("70125A08") + bytes.fromhex(PAN.decode()) + bytes(8) + b"\x90\x00",
        b"FW " + PAN,
    ],
    ids=["bcd_record", "ascii_digits"],
)
def test_crt591_unit_data_that_may_be_card_data_is_masked(data: bytes) -> None:
    # An Initialize or Version reply carries the unit's own text; one carrying an
    # account-number-long run of digits (a foreign dialect, a fuzzed reply) is masked.
    masker = Crt591Masker()
    for command in (crt591.Request(0x30, 0x30), C591.VERSION):  # Initialize to the gate
        (rx,) = masker.lines("RX", crt591.build_positive(command, *IDLE, data))
        assert not leaks(rx), rx
        assert hexed(PAN[:4]) not in rx
