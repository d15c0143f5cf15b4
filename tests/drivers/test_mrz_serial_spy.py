"""The ``spy+mrz-serial`` masker (drivers.id_scanner.mrz_masker): a reader's framing
shown (control bytes by name, each line's length and character classes, where the
non-MRZ characters of a prefix are) with no character of the MRZ; through ``hal.open``
on a pty with the emulator, and the masker fed by hand (a prefix, a split read).

Synthetic people only (the simulator's ``passport`` profile)."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

import hal
from drivers.id_scanner.mrz_masker import LONG, MrzMasker
from drivers.id_scanner.mrz_serial import MRZ_SERIAL_DRIVER
from hal.devices.id_scanner import IdScanner, InsertDocument
from hal.transports.serial import SERIAL_TRANSPORT
from hal.transports.spy import SPY_TRANSPORT
from hal.transports.spy_maskers import RX, TX
from protocols.mrz_framing import encode_block
from simulator.id_profiles import document_profile
from simulator.wire.mrz_serial import MrzSerialEmulator
from simulator.wire.pty import PtyBridge
from tests.specs import registered


def _hex(raw: bytes) -> str:
    return " ".join(f"{b:02X}" for b in raw)


async def test_a_spy_log_of_a_passport_read_shows_framing_not_the_mrz(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    passport = document_profile("passport")
    assert passport.expected is not None
    with (
        registered(MRZ_SERIAL_DRIVER, SERIAL_TRANSPORT, SPY_TRANSPORT),
        caplog.at_level(logging.INFO, logger="hal.transports.spy"),
    ):
        async with (
            PtyBridge("mrz", directory=tmp_path) as bridge,
            MrzSerialEmulator(bridge, framing="stx") as emulator,
        ):
            address = f"spy+mrz-serial+serial://{bridge.path}?baud=9600&framing=stx&idle=0.2"
            device = hal.open(address)
            assert isinstance(device, IdScanner)
            async with device:
                with device.events() as events:
                    task = asyncio.create_task(device.read_document(timeout=5))
                    await events.wait_for(InsertDocument, timeout=5)
                    await emulator.present_profile("passport")
                    document = await task
            assert document.document_number == passport.expected.document_number
    text = "\n".join(r.getMessage() for r in caplog.records if r.name == "hal.transports.spy")
    # The framing: STX, two 44-character lines each ended by CR, ETX.
    assert "RX STX" in text
    assert "RX 44 chars: A-Z " in text
    assert "| CR" in text
    assert "ETX" in text
    assert "non-MRZ" not in text
    # No name, number or MRZ text, as characters or as hex.
    for secret in (
        passport.expected.document_number,
        "TESTER",
        "ALEX",
        "JORDAN",
        *passport.mrz,
        passport.mrz[1][:9],
        _hex(passport.mrz[1][:6].encode()),
        _hex(passport.mrz[0][5:11].encode()),
    ):
        assert secret not in text, secret


def test_the_masker_shows_a_prefix_and_line_ends_not_characters() -> None:
    lines = (
        "P<UTOTESTER<<ALEX<JORDAN<<<<<<<<<<<<<<<<<<<<",
        "XA12345679UTO8402149M3501014<<<<<<<<<<<<<<<8",
    )
    raw = encode_block(lines, "crlf", prefix="#@!")
    masker = MrzMasker()
    shown = masker.lines(RX, raw[:20]) + masker.lines(RX, raw[20:])  # a read split mid-line
    assert shown == [
        "47 chars: A-Z 20, 0-9 0, '<' 24, non-MRZ 3 at 1-3 | CR LF",
        "44 chars: A-Z 6, 0-9 23, '<' 15 | CR LF",
    ]
    # Lower case, a space and bytes above 7F are counted where they are, not shown.
    assert masker.lines(TX, b"ab<C \xe9\x1b") == [
        "6 chars: A-Z 1, 0-9 0, '<' 1, non-MRZ 4 at 1-2,5-6 | <1B>"
    ]
    # Control bytes alone (an empty line ends a block) and a line that never ends.
    assert masker.lines(RX, b"\r\n") == ["CR LF"]
    endless = masker.lines(RX, b"A" * (LONG + 10))
    assert endless == [f"{LONG} chars: A-Z {LONG}, 0-9 0, '<' 0 | (no end yet)"]
    assert masker.lines(RX, b"\r") == [f"10 chars: A-Z 10, 0-9 0, '<' 0 (after {LONG} shown) | CR"]
    # A reopen forgets a line in progress; reveal shows the bytes (a bench).
    masker.lines(RX, b"XYZ")
    masker.reset()
    assert masker.lines(RX, b"\r") == ["CR"]
    assert MrzMasker(reveal=True).lines(RX, b"P<\r") == ["  3 bytes: 50 3C 0D"]
