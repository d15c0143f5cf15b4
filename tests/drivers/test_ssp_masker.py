"""The ``spy+ssp`` masker: with ``reveal`` a clear command or reply shows whole, but the
key exchange's numbers, encrypted payloads and bad frames (a key exchange frame with a
damaged CRC included) never do."""

from __future__ import annotations

import struct

from drivers.cash.ssp_masker import SspMasker
from hal.transports.spy_maskers import RX, TX
from protocols.essp import DEFAULT_FIXED_KEY, SessionKey, encrypt_packet
from protocols.ssp import build_frame
from protocols.ssp_commands import Cmd

NUMBER = 0x1122334455667788
SHOWN = "88 77 66 55"  # how the number's first bytes would look in a trace


def damaged(frame: bytes) -> bytes:
    return frame[:-1] + bytes((frame[-1] ^ 0xFF,))


def test_bad_frames_are_masked_even_with_reveal() -> None:
    masker = SspMasker(reveal=True)
    lines: list[str] = []
    for code in (Cmd.SET_GENERATOR, Cmd.SET_MODULUS, Cmd.REQUEST_KEY_EXCHANGE):
        frame = build_frame(True, 0, bytes((code,)) + struct.pack("<Q", NUMBER))
        lines += masker.lines(TX, damaged(frame))
    reply = build_frame(True, 0, b"\xf0" + struct.pack("<Q", NUMBER))
    lines += masker.lines(RX, damaged(reply))
    assert len(lines) == 4
    assert all(" crc: " in line for line in lines)
    assert not any(SHOWN in line for line in lines)


def test_reveal_shows_clear_frames_but_never_secrets() -> None:
    masker = SspMasker(reveal=True)
    poll = masker.lines(TX, build_frame(False, 0, bytes((Cmd.POLL,))))
    events = masker.lines(RX, build_frame(False, 0, b"\xf0\xef\x03"))
    assert poll[0].endswith("07h: 07")
    assert events[0].endswith("F0h: F0 EF 03")
    exchange = build_frame(True, 0, bytes((Cmd.REQUEST_KEY_EXCHANGE,)) + struct.pack("<Q", NUMBER))
    answer = build_frame(True, 0, b"\xf0" + struct.pack("<Q", NUMBER))
    packet = encrypt_packet(SessionKey(DEFAULT_FIXED_KEY, NUMBER), 0, b"\x07")
    hidden = masker.lines(TX, exchange) + masker.lines(RX, answer)
    hidden += masker.lines(TX, build_frame(False, 0, packet))
    assert not any(SHOWN in line for line in hidden)
    assert not any(f"{packet[1]:02X} {packet[2]:02X}" in line for line in hidden)
    assert "encrypted" in hidden[-1]
