"""Card profiles: the shipped data and the loader's refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from hal.devices.card_reader import Track
from hal.errors import ConfigurationError
from simulator.profiles import (
    load_card_profile,
    load_card_profile_file,
    profile_names,
)

REQUIRED = {"visa", "mastercard", "mag_only", "unreadable", "jamming", "never_taken"}


def luhn_ok(pan: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(pan)):
        digit = int(ch) * (2 if i % 2 else 1)
        total += digit - 9 if digit > 9 else digit
    return total % 10 == 0


def test_every_required_profile_ships() -> None:
    assert set(profile_names()) >= REQUIRED
    for name in profile_names():
        assert load_card_profile(name).name == name


def test_visa_tracks_chip_and_service_code() -> None:
    visa = load_card_profile("visa")
    track2 = visa.tracks[Track.TRACK2]
    pan, rest = track2.split(b"=")
    assert pan == b"4761739001010010"
    assert luhn_ok(pan.decode())
    assert rest[4:7] == b"201"  # chip card
    assert visa.tracks[Track.TRACK1].startswith(b"B4761739001010010^")
    assert Track.TRACK3 in visa.tracks
    assert visa.pan == "4761739001010010"
    assert visa.chip is not None
    assert visa.chip.protocol == "T1"
    assert set(visa.chip.atrs) == {"T0", "T1"}
    app = visa.chip.applications[0]
    assert app.aid == bytes.fromhex("A0000000031010")
    assert app.label == "VISA CREDIT"
    assert visa.chip.pse


def test_mastercard_and_mag_only() -> None:
    mc = load_card_profile("mastercard")
    assert mc.chip is not None
    assert mc.chip.applications[0].aid == bytes.fromhex("A0000000041010")
    assert mc.chip.protocol == "T0"
    assert mc.pan is not None
    assert luhn_ok(mc.pan)
    mag = load_card_profile("mag_only")
    assert mag.chip is None
    assert mag.tracks[Track.TRACK2].split(b"=")[1][4:7] == b"101"
    assert mag.readable


def test_unreadable_jamming_never_taken() -> None:
    bad = load_card_profile("unreadable")
    assert not bad.readable
    assert bad.invalid_tracks == {Track.TRACK1}
    sample = bad.sample()
    assert (sample.track1, sample.track2, sample.track3, sample.has_chip) == (
        None,
        None,
        None,
        False,
    )
    jam = load_card_profile("jamming")
    assert jam.jams
    assert not jam.never_taken
    assert jam.tracks == load_card_profile("visa").tracks
    left = load_card_profile("never_taken")
    assert left.never_taken
    assert not left.jams


def test_t1_atr_check_byte_is_right() -> None:
    # Recomputed independently: XOR of every byte from T0 to TCK is zero for T=1.
    for name in ("visa", "mastercard"):
        chip = load_card_profile(name).chip
        assert chip is not None
        atr = chip.atrs["T1"]
        check = 0
        for byte in atr[1:]:
            check ^= byte
        assert check == 0, name
        assert chip.atrs["T0"][0] == 0x3B


def test_afl_records_exist() -> None:
    chip = load_card_profile("visa").chip
    assert chip is not None
    app = chip.applications[0]
    for i in range(0, len(app.afl), 4):
        sfi, first, last = app.afl[i] >> 3, app.afl[i + 1], app.afl[i + 2]
        for number in range(first, last + 1):
            assert app.record(sfi, number) is not None


def test_reprs_hide_card_data() -> None:
    visa = load_card_profile("visa")
    text = repr(visa) + repr(visa.chip) + repr(visa.sample())
    assert "4761" not in text
    assert chr(0x5E) not in text


def test_unknown_profile_lists_the_known_ones() -> None:
    with pytest.raises(ConfigurationError, match=r"known profiles: .*visa"):
        load_card_profile("amex")
    with pytest.raises(ConfigurationError, match="lower-case"):
        load_card_profile("../visa")


GOOD = 'version = 1\n[tracks]\ntrack2 = "4111111111111111=2812101"\n'


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("version = 2\n", "version 2 is not supported"),
        ("[tracks]\n", "version None"),
        ("version = 1\ncolour = 'red'\n", r"unknown key\(s\) colour; allowed: behaviour"),
        ("version = 1\n[tracks]\ntrack4 = '1'\n", "unknown key.*track4"),
        ("version = 1\n[tracks]\ntrack2 = 'ABC'\n", "track 2: character 0x41 at position 0"),
        ("version = 1\n[tracks]\ntrack2 = '41=2812\u00e9'\n", "character 0xE9 at position 7"),
        ("version = 1\n[tracks]\ntrack2 = '41=28?12'\n", "sentinel 0x3F inside the data"),
        ("version = 1\n[tracks]\ntrack2 = '" + "1" * 38 + "'\n", "38 characters, at most 37"),
        ("version = 1\n[tracks]\ninvalid = ['track9']\n", "'invalid' lists tracks"),
        ("version = 1\n[chip]\npse = true\n", "atr_t0, atr_t1 or both"),
        ("version = 1\n[chip]\natr_t1 = 'ZZ'\n", "not hex"),
        ("version = 1\n[chip]\natr_t0 = '3B00'\nprotocol = 'T1'\n", "protocol 'T1' has no ATR"),
        ("version = 1\n[behaviour]\njams = 'yes'\n", "'jams' must be a bool"),
        ("version = 1\nextends = 'nothing_here'\n", "no card profile named"),
        ("version = [1\n", "not valid TOML"),
        (
            "version = 1\n[chip]\natr_t0 = '3B00'\n[[chip.applications]]\naid = 'A000000003'\n"
            "label = 'X'\naip = '0000'\nafl = '08010100'\n",
            r"AFL names SFI 1 records \[1\], absent",
        ),
        (
            "version = 1\n[chip]\natr_t0 = '3B00'\n[[chip.applications]]\naid = 'A000000003'\n"
            "label = 'X'\naip = '0000'\nafl = '08010100'\n[[chip.applications.records]]\n"
            "sfi = 1\nrecord = 1\ndata = '5A0541'\n",
            "'data' is not BER-TLV",
        ),
        (
            "version = 1\n[chip]\natr_t0 = '3B00'\n[[chip.applications]]\naid = 'A000000003'\n"
            "label = 'X'\naip = '0000'\nafl = '08010100'\npdol = '9F1A'\n",
            "ends inside an entry",
        ),
    ],
)
def test_malformed_profiles_are_refused(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "custom.toml"
    path.write_text(text)
    with pytest.raises(ConfigurationError, match=message):
        load_card_profile_file(path)


def test_a_profile_file_outside_the_package(tmp_path: Path) -> None:
    path = tmp_path / "custom.toml"
    path.write_text(GOOD)
    card = load_card_profile_file(path)
    assert card.name == "custom"
    assert card.pan == "4111111111111111"
    assert card.chip is None
    with pytest.raises(ConfigurationError, match="cannot read"):
        load_card_profile_file(tmp_path / "missing.toml")
