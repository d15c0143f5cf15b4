"""The EMV contact application: a full read through the service, T=0 and T=1, and SWs."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from hal.devices.card_reader import ChipPowerAction, Track
from hal.devices.card_reader_service import CardReaderService
from protocols import apdu, tlv
from simulator.emv import PSE_NAME, EmvChip
from simulator.profiles import ChipProfile, load_card_profile, load_card_profile_file

InsertAndRead = Callable[..., Awaitable[Any]]
Transmit = Callable[[bytes], Awaitable[bytes]]


def chip(profile: str) -> ChipProfile:
    found = load_card_profile(profile).chip
    assert found is not None
    return found


def sw(answer: bytes) -> int:
    return int.from_bytes(answer[-2:], "big")


async def transmit(send: Transmit, command: bytes) -> bytes:
    """What a terminal does: follow 61xx with GET RESPONSE, resend on 6Cxx."""
    answer = await send(command)
    if answer[-2] == 0x6C:
        answer = await send(command[:4] + answer[-1:])
    data = b""
    while answer[-2] == 0x61:
        data += answer[:-2]
        answer = await send(apdu.get_response(answer[-1]).to_bytes())
    return data + answer


async def emv_read(send: Transmit) -> dict[int, bytes]:
    """SELECT PSE, READ RECORD the directory, SELECT the AID, GPO, READ the AFL's records.

    Returns every primitive tag found in the records, with its value.
    """
    fci = await transmit(send, apdu.select_by_name(PSE_NAME).to_bytes())
    assert sw(fci) == 0x9000
    (template,) = tlv.parse(fci[:-2])
    assert template.tag == 0x6F
    assert tlv.find([template], 0x84) == tlv.Tlv(0x84, PSE_NAME)
    sfi_tag = tlv.find([template], 0x88)
    assert sfi_tag is not None
    sfi = sfi_tag.value[0]

    directory = await transmit(send, apdu.read_record(1, sfi).to_bytes())
    assert sw(directory) == 0x9000
    entries = tlv.find_all(tlv.parse(directory[:-2]), 0x61)
    assert len(entries) == 1
    aid = tlv.find(entries, 0x4F)
    assert aid is not None
    assert tlv.find(entries, 0x87) == tlv.Tlv(0x87, b"\x01")

    selected = await transmit(send, apdu.select_by_name(aid.value).to_bytes())
    assert sw(selected) == 0x9000
    fci_items = tlv.parse(selected[:-2])
    assert tlv.find(fci_items, 0x84) == tlv.Tlv(0x84, aid.value)
    pdol = tlv.find(fci_items, 0x9F38)
    pdol_data = b""
    if pdol is not None:
        assert pdol.value == bytes.fromhex("9F1A02")
        pdol_data = bytes.fromhex("0826")  # terminal country code

    gpo = await transmit(send, apdu.get_processing_options(pdol_data).to_bytes())
    assert sw(gpo) == 0x9000
    (format2,) = tlv.parse(gpo[:-2])
    assert format2.tag == 0x77
    afl = tlv.find([format2], 0x94)
    assert tlv.find([format2], 0x82) is not None
    assert afl is not None

    found: dict[int, bytes] = {}
    for i in range(0, len(afl.value), 4):
        entry_sfi, first, last = afl.value[i] >> 3, afl.value[i + 1], afl.value[i + 2]
        for number in range(first, last + 1):
            record = await transmit(send, apdu.read_record(number, entry_sfi).to_bytes())
            assert sw(record) == 0x9000
            (body,) = tlv.parse(record[:-2])
            assert body.tag == 0x70
            found.update((item.tag, item.value) for item in body.children())
    return found


@pytest.mark.parametrize(("profile", "protocol"), [("visa", "T1"), ("mastercard", "T0")])
async def test_a_full_emv_read_through_the_service(
    insert_and_read: InsertAndRead, reader: CardReaderService, profile: str, protocol: str
) -> None:
    _, sample = await insert_and_read(reader, profile, [Track.TRACK2])
    atr = await reader.chip_power(ChipPowerAction.COLD)
    assert atr == chip(profile).atrs[protocol]

    async def send(command: bytes) -> bytes:
        return await reader.chip_io(command)

    data = await emv_read(send)
    pan = data[0x5A].hex().upper().rstrip("F")
    assert sample.pan == pan
    assert sample.track2 is not None
    track2_pan, rest = sample.track2.decode().split("=")
    assert pan == track2_pan
    assert data[0x5F24].hex()[:4] == rest[:4]  # expiry YYMM
    track2_equivalent = data[0x57].hex().upper().rstrip("F")
    assert track2_equivalent == sample.track2.decode().replace("=", "D")
    assert data[0x5F30] == bytes.fromhex("0201")
    for tag in (0x5F20, 0x5F25, 0x9F07, 0x8C, 0x8D, 0x8E):
        assert tag in data


async def test_t1_answers_at_once_and_t0_needs_get_response() -> None:
    select = apdu.select_by_name(PSE_NAME).to_bytes()
    t1 = EmvChip(chip("visa"), "T1")
    direct = t1.exchange(select)
    assert direct[0] == 0x6F
    assert sw(direct) == 0x9000
    t0 = EmvChip(chip("visa"), "T0")
    first = t0.exchange(select)
    assert first[:-1] == b"\x61"
    assert first[-1] == len(direct) - 2
    # Part of it, then the rest.
    part = t0.exchange(apdu.get_response(4).to_bytes())
    assert part[:4] == direct[:4]
    assert part[-2:] == bytes([0x61, len(direct) - 2 - 4])
    too_much = t0.exchange(apdu.get_response(200).to_bytes())
    assert too_much == bytes([0x6C, len(direct) - 2 - 4])
    rest = t0.exchange(apdu.get_response(len(direct) - 2 - 4).to_bytes())
    assert part[:4] + rest[:-2] == direct[:-2]
    assert sw(rest) == 0x9000
    # Case 2 under T=0: a wrong Le gets 6Cxx, the right one the data.
    record = t0.exchange(apdu.read_record(1, 1).to_bytes())
    assert record[0] == 0x6C
    again = t0.exchange(apdu.read_record(1, 1, le=record[1]).to_bytes())
    assert again[0] == 0x70
    assert sw(again) == 0x9000


async def test_emv_read_over_t0_with_a_t1_card() -> None:
    card = EmvChip(chip("visa"), "T0")

    async def send(command: bytes) -> bytes:
        return card.exchange(command)

    data = await emv_read(send)
    assert data[0x5A] == bytes.fromhex("4761739001010010")


def test_partial_selection_and_next_occurrence() -> None:
    card = EmvChip(chip("visa"), "T1")
    partial = card.exchange(apdu.select_by_name(bytes.fromhex("A000000003")).to_bytes())
    assert sw(partial) == 0x9000
    assert card.selected is not None
    assert card.selected.label == "VISA CREDIT"
    following = apdu.select_by_name(bytes.fromhex("A000000003"), next_occurrence=True)
    assert sw(card.exchange(following.to_bytes())) == 0x6A82


@pytest.mark.parametrize(
    ("commands", "expected"),
    [
        (["84A404000E" + PSE_NAME.hex() + "00"], 0x6E00),  # wrong class
        (["80A404000E" + PSE_NAME.hex() + "00"], 0x6E00),  # SELECT is class 00
        (["00CA9F1700"], 0x6D00),  # GET DATA: unsupported instruction
        (["00A4040007A000000099999900"], 0x6A82),  # no such application
        (["00A4000002" + "3F00"], 0x6A86),  # select by file id: wrong P1
        (["00A4040C07A000000003101000"], 0x6A86),  # wrong P2
        (["00A40400"], 0x6700),  # SELECT without a name
        (["00A4040005A0"], 0x6700),  # Lc says 5, 1 byte follows
        (["80A8000002830000"], 0x6985),  # GPO before SELECT
        (["00B2010C00"], 0x6985),  # READ RECORD with nothing selected
        (["00C0000010"], 0x6985),  # GET RESPONSE with nothing waiting
        (["00A4040007A000000003101000", "00B2050C00"], 0x6A83),  # no record 5
        (["00A4040007A000000003101000", "00B2011C00"], 0x6A82),  # no SFI 3
        (["00A4040007A000000003101000", "00B2010D00"], 0x6A86),  # P2 low bits not 100
        (["00A4040007A000000003101000", "00B2000C00"], 0x6A86),  # record 0
        (["00A4040007A000000003101000", "80A8010002830000"], 0x6A86),  # GPO P1
        (["00A4040007A000000003101000", "80A80000029A0000"], 0x6A80),  # not tag 83
        (["00A4040007A000000003101000", "80A8000004830212340000"], 0x6700),  # PDOL is empty
        (
            ["00A4040007A000000003101000", "80A8000002830000", "80A8000002830000"],
            0x6985,  # a second GPO
        ),
        (["00A404000E" + PSE_NAME.hex() + "00", "00B2020C00"], 0x6A83),  # directory rec 2
        (["00A404000E" + PSE_NAME.hex() + "00", "00B2011400"], 0x6A82),  # not the dir SFI
    ],
)
def test_error_status_words(commands: list[str], expected: int) -> None:
    card = EmvChip(chip("visa"), "T1")
    answer = b""
    for command in commands:
        answer = card.exchange(bytes.fromhex(command))
    assert answer == expected.to_bytes(2, "big")


def test_gpo_data_must_match_the_pdol() -> None:
    card = EmvChip(chip("mastercard"), "T1")
    card.exchange(apdu.select_by_name(bytes.fromhex("A0000000041010")).to_bytes())
    empty = apdu.get_processing_options(b"").to_bytes()
    assert card.exchange(empty) == b"\x67\x00"
    right = apdu.get_processing_options(bytes.fromhex("0826")).to_bytes()
    answer = card.exchange(right)
    assert sw(answer) == 0x9000
    assert answer[0] == 0x77


def test_a_card_without_a_pse(tmp_path: Path) -> None:
    text = (
        "version = 1\n[chip]\natr_t1 = '3B00'\npse = false\n[[chip.applications]]\n"
        "aid = 'A0000000031010'\nlabel = 'X'\naip = '0000'\nafl = '08010100'\n"
        "[[chip.applications.records]]\nsfi = 1\nrecord = 1\ndata = '5A0141'\n"
    )
    path = tmp_path / "nopse.toml"
    path.write_text(text)
    profile = load_card_profile_file(path).chip
    assert profile is not None
    card = EmvChip(profile, "T1")
    assert card.exchange(apdu.select_by_name(PSE_NAME).to_bytes()) == b"\x6a\x82"
    assert sw(card.exchange(apdu.select_by_name(bytes.fromhex("A0000000031010")).to_bytes())) == (
        0x9000
    )
    assert repr(card).startswith("EmvChip(protocol='T1'")
