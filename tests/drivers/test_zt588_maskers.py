"""drivers.pin_pad.zt588_maskers: a whole ZT588 session through the spy+ masker, with keys,
a PAN, a PIN block and typed digits searched for in every line, however the reads split."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.pin_pad.zt588_maskers import Zt588Masker
from hal.transports.spy_maskers import RX, TX
from protocols import zt588

KEY = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
PAN = "4761739001010010"
BLOCK = bytes.fromhex("9C1F2E3D4B5A6978")
TYPED = b"2580"  # digits typed outside PIN mode


def wire(text_hex: str) -> str:
    """How a masker line shows ASCII: hex pairs, upper case, spaces between."""
    return text_hex.encode().hex(" ").upper()


SESSION: list[tuple[str, bytes]] = [
    (TX, zt588.build_command(zt588.LoadPlainKey(0x80, zt588.KeyType.IMK, KEY))),
    (RX, zt588.build_reply(zt588.KeyLoaded(0x31, bytes.fromhex("08D7B4")))),
    (TX, zt588.build_command(zt588.LoadEncryptedKey(0x40, 0x00, zt588.KeyType.TPK, KEY))),
    (RX, zt588.build_reply(zt588.ErrorReply(0xE2))),
    (TX, zt588.build_command(zt588.Control.misc(zt588.Misc.ENABLE_INPUT))),
    (RX, zt588.build_reply(zt588.Ack(0x35))),
    (RX, TYPED + b"\r"),
    (TX, zt588.build_command(zt588.StartPinEntry(0x40, zt588.PinFormat.ISO9564_0, 0, 4, PAN))),
    (RX, zt588.build_reply(zt588.Ack(0x36))),
    (RX, b"****\x08*\r"),
    (TX, zt588.build_command(zt588.GetPinBlock())),
    (RX, zt588.build_reply(zt588.PinBlockReply(0x37, 2, 4, BLOCK))),
    (TX, zt588.build_command(zt588.Authenticate(0x91, KEY[:8]))),
    (RX, zt588.build_reply(zt588.AuthReply(0x3A, KEY[8:]))),
]


def run(masker: Zt588Masker, session: list[tuple[str, bytes]]) -> list[str]:
    return [f"{d} {line}" for d, data in session for line in masker.lines(d, data)]


def secrets() -> list[str]:
    key_hex = KEY.hex().upper()
    found = [wire(key_hex[:16]), wire(key_hex[16:]), wire(BLOCK.hex().upper())]
    found += [wire(PAN[6:12]), TYPED.hex(" ").upper(), wire(PAN)]
    found += [f"digit: {b:02X}" for b in TYPED]
    return found


def test_a_session_is_masked() -> None:
    lines = run(Zt588Masker(), SESSION)
    text = "\n".join(lines)
    for secret in secrets():
        assert secret not in text, secret
    assert lines[0].startswith("TX  44 LoadPlainKey: 02 30 33 37 31 38 30 31 31 ** **")
    assert lines[0].endswith("** 03 ** **")
    assert lines[1] == "RX  14 KeyLoaded: 02 30 30 37 31 30 38 44 37 42 34 03 30 38"
    assert lines[3] == "RX   8 ERROR E2 TMK required: 02 30 30 31 E2 03 44 30"
    assert lines[4].startswith("TX  11 Control: 02 30 30 34 35 30 33 33 03")
    digits = [line for line in lines if "KEY digit" in line]
    assert digits == ["RX   1 KEY digit: **"] * 4
    pin = next(line for line in lines if "StartPinEntry" in line)
    assert wire(PAN[:6]) in pin
    assert wire(PAN[-4:]) in pin
    assert pin.count("**") == 6 + 2  # the middle six digits and the CHK
    assert "RX   1 KEY masked: 2A" in lines
    assert "RX   1 KEY clear: 08" in lines
    assert lines.count("RX   1 KEY enter: 0D") == 2
    block = next(line for line in lines if "PinBlockReply" in line)
    assert block.startswith("RX  28 PinBlockReply: 02 30 32 31 37 30 32 30 34 ** ")
    assert "Authenticate: 02 30 31 39 3A 39 31 **" in text
    assert "AuthReply: 02 30 31 37 3A **" in text


def test_reveal_shows_every_byte() -> None:
    text = "\n".join(run(Zt588Masker(reveal=True), SESSION))
    assert "**" not in text
    assert wire(KEY.hex().upper()) in text
    assert wire(PAN) in text


def test_a_clear_pin_request_is_labelled_and_its_pan_masked() -> None:
    covered = b"019" + b"640@004" + PAN[:12].encode() + b"\x03"
    chk = 0
    for b in covered:
        chk ^= b
    raw = b"\x02" + covered + b"%02X" % chk
    (line,) = Zt588Masker().lines(TX, raw)
    assert "CLEAR-PIN REQUEST ('@')" in line
    assert wire(PAN[:12]) not in line
    assert wire(PAN[8:12]) in line  # 12 digits keep the last 4 only


def test_replies_without_a_known_command_hide_their_payload() -> None:
    masker = Zt588Masker()
    (line,) = masker.lines(RX, zt588.build_reply(zt588.PinBlockReply(0x37, 2, 4, BLOCK)))
    assert line.startswith("RX") is False
    assert line.startswith(" 28 Ack: 02 30 32 31 37 ** ")
    masker.lines(TX, zt588.build_frame(b"9XYZ"))
    (line,) = masker.lines(RX, zt588.build_frame(b"7ABCD"))
    assert line == " 12 Ack: 02 30 30 35 37 ** ** ** ** 03 ** **"


def test_bad_frames_and_noise_are_masked_whole() -> None:
    good = zt588.build_command(zt588.LoadPlainKey(0x80, zt588.KeyType.IMK, KEY))
    lines = Zt588Masker().lines(TX, good[:-1] + b"0" + b"\xfe\xfd")
    assert lines[0].startswith(" 44 CHECKSUM: ** ** **")
    assert set(lines[0].split(": ")[1].split()) == {"**"}
    assert lines[1] == "  2 NOISE: ** **"
    unknown = Zt588Masker().lines(TX, zt588.build_frame(b"1zz"))
    assert unknown == [" 10 COMMAND ?: 02 30 30 33 31 ** ** 03 ** **"]


def test_unknown_commands_keep_only_the_command_character() -> None:
    (line,) = Zt588Masker().lines(TX, zt588.build_frame(b"9" + KEY.hex().upper().encode()))
    assert wire(KEY.hex().upper()[:4]) not in line
    assert "COMMAND ?: 02 30 33 33 39 **" in line


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_any_split_gives_the_same_lines(data: st.DataObject) -> None:
    expected = run(Zt588Masker(), SESSION)
    split: list[tuple[str, bytes]] = []
    for direction, chunk in SESSION:
        cuts = sorted(data.draw(st.lists(st.integers(0, len(chunk)), max_size=3)))
        split += [
            (direction, chunk[a:b]) for a, b in zip([0, *cuts], [*cuts, len(chunk)], strict=True)
        ]
    assert run(Zt588Masker(), split) == expected


def test_reset_forgets_a_partial_frame_and_the_last_command() -> None:
    masker = Zt588Masker()
    masker.lines(TX, zt588.build_command(zt588.GetPinBlock()))
    masker.lines(RX, zt588.build_reply(zt588.PinBlockReply(0x37, 2, 4, BLOCK))[:5])
    masker.reset()
    lines = masker.lines(RX, zt588.build_reply(zt588.PinBlockReply(0x37, 2, 4, BLOCK)))
    assert lines == [" 28 Ack: 02 30 32 31 37 " + " ".join(["**"] * 20) + " 03 ** **"]


@pytest.mark.parametrize("mask", [b"\xff"])
def test_an_unusual_pin_mask_shows_as_masked_noise(mask: bytes) -> None:
    assert Zt588Masker().lines(RX, mask) == ["  1 NOISE: **"]
