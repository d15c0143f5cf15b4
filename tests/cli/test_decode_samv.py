"""``tellerhal decode samv`` and ``tellerhal decode cn-id``: the reference's golden frames
(§1.10, §7) both ways in one capture, a synthetic base message decoded with its personal
fields masked (and shown with --reveal), photo and fingerprints never printed, corrupted
frames and invalid numbers ending in one stderr line and exit 2.

``samv_streams`` and ``cn_id_inputs`` (near-valid captures) are also what the
every-protocol fuzz test (tests/cli/test_decode_fuzz.py) feeds these decoders.
Synthetic people only.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import strategies as st

from hal.devices.id_documents import fingerprint_block, newest_address_block, text_block_for
from hal.devices.id_scanner_model import (
    DocumentKind,
    Fingerprint,
    IdentityDocument,
    Sex,
)
from protocols.cn_id import check_character
from protocols.samv import BaseMessage, Command, Sw3, build_command, build_reply
from tellerhal.cli.main import main

HOST = "AA AA AA 96 69 00 03 20 01 22"
CONVERSATION = (
    "AA AA AA 96 69 00 03 11 FF ED "  # SAM status
    "AA AA AA 96 69 00 04 00 00 90 94 "  # OK
    "AA AA AA 96 69 00 03 20 01 22 "  # find card
    "AA AA AA 96 69 00 08 00 00 9F 00 00 00 00 97 "  # found
    "AA AA AA 96 69 00 03 20 02 21 "  # select
    "AA AA AA 96 69 00 0C 00 00 90 00 00 00 00 00 00 00 00 9C"  # selected
)
NUMBER = "11010519900307001" + check_character("11010519900307001")
PERSON = IdentityDocument(
    kind=DocumentKind.CN_RESIDENT_ID,
    name="张三丰",
    sex=Sex.MALE,
    ethnicity="01",
    birth_date=dt.date(1990, 3, 7),
    address="北京市西城区某某路1号",
    document_number=NUMBER,
    issuer="北京市公安局西城分局",
    valid_from=dt.date(2020, 1, 1),
    long_term=True,
)
PHOTO = bytes(range(256)) * 4
PRINTS = (Fingerprint(11, bytes([1, 2, 3, 4, 5, 11]) + bytes(506)), Fingerprint(97, bytes(512)))


def base_reply(fingerprint: bytes | None = None) -> str:
    data = BaseMessage(text_block_for(PERSON), PHOTO, fingerprint).to_data()
    return build_reply(Sw3.SUCCESS, data).hex(" ")


def run(capsys: pytest.CaptureFixture[str], argv: Sequence[str]) -> tuple[int, list[Any], str]:
    try:
        status = main(["decode", *argv])
    except SystemExit as exit_:
        status = exit_.code if isinstance(exit_.code, int) else 2
    out, err = capsys.readouterr()
    return status, [json.loads(line) for line in out.splitlines()], err


def test_a_conversation_decodes_both_ways(capsys: pytest.CaptureFixture[str]) -> None:
    status, entries, err = run(capsys, ["samv", CONVERSATION])
    assert (status, err) == (0, "")
    assert [e["kind"] for e in entries] == ["command", "reply"] * 3
    assert [e.get("command", {}).get("name") for e in entries[::2]] == [
        "SAM_STATUS",
        "FIND_CARD",
        "SELECT_CARD",
    ]
    assert [e["status"]["name"] for e in entries[1::2]] == ["SUCCESS", "CARD_FOUND", "SUCCESS"]
    assert [e["offset"] for e in entries] == [0, 10, 21, 31, 46, 56]
    assert entries[2]["command"]["code"] == "20 01"
    assert entries[3]["fields"] == {"data": "00000000"}
    assert entries[5]["fields"] == {"answers": "SELECT_CARD", "card_serial": "<8 bytes hidden>"}
    assert entries[1]["meaning"] == "success"
    assert all(e["protocol"] == "samv" for e in entries)


@pytest.mark.parametrize(
    ("frame", "name"),
    [
        ("AA AA AA 96 69 00 04 00 00 80 84", "NO_CARD"),
        ("AA AA AA 96 69 00 04 00 00 41 45", "READ_FAILED"),
        ("AA AA AA 96 69 00 04 00 00 81 85", "SELECT_FAILED"),
    ],
)
def test_golden_failure_replies(capsys: pytest.CaptureFixture[str], frame: str, name: str) -> None:
    status, entries, _ = run(capsys, ["samv", frame])
    assert status == 0
    assert entries[0]["status"]["name"] == name


def test_base_message_masked(capsys: pytest.CaptureFixture[str]) -> None:
    capture = Command.READ_BASE.frame().hex(" ") + " " + base_reply()
    status, entries, err = run(capsys, ["samv", capture])
    assert (status, err) == (0, "")
    fields = entries[1]["fields"]
    assert fields["answers"] == "READ_BASE"
    assert fields["photo"] == {"format": "wlt", "bytes": 1024}
    text = fields["text"]
    assert text["layout"] == "resident"
    assert text["name"] == "张**"
    assert text["number"] == NUMBER[:3] + "*" * 13 + NUMBER[-2:]
    assert text["address"] == "<11 characters hidden>"
    assert text["birth_date"] == "<8 characters hidden>"
    assert text["sex"] == "1"
    assert text["sex_meaning"] == "male"
    assert text["ethnicity_name"] == "汉"
    assert text["valid_to"] == "长期"
    assert text["number_check"] == {"valid": True, "reason": ""}
    shown = json.dumps(entries, ensure_ascii=False)
    for secret in ("张三丰", NUMBER, "19900307", "北京市西城区某某路1号", PHOTO[:16].hex().upper()):
        assert secret not in shown


def test_base_message_revealed_still_hides_photo_and_prints(
    capsys: pytest.CaptureFixture[str],
) -> None:
    block = fingerprint_block(PRINTS)
    status, entries, _ = run(capsys, ["--reveal", "samv", base_reply(block)])
    assert status == 0
    fields = entries[0]["fields"]
    assert fields["answers"] == "READ_BASE_FINGERPRINT"  # told by its size
    assert fields["text"]["name"] == "张三丰"
    assert fields["text"]["number"] == NUMBER
    assert fields["text"]["birth_date"] == "19900307"
    assert fields["fingerprint"] == {"bytes": 1024, "templates": 2}
    shown = json.dumps(entries)
    assert block[:6].hex().upper() not in shown
    assert PHOTO[:16].hex().upper() not in shown


def test_newest_address_sam_id_and_the_quirk(capsys: pytest.CaptureFixture[str]) -> None:
    address = build_reply(Sw3.SUCCESS, newest_address_block("北京市东城区某某街2号")).hex()
    sam = bytes([5, 0, 1, 0]) + (20110708).to_bytes(4, "little") + bytes(8)
    sam_reply = build_reply(Sw3.SUCCESS, sam).hex()
    select = "AA AA AA 96 69 00 0C 00 00 90 00 00 00 00 00 00 00 00 9C"
    capture = f"{address} {sam_reply} AA 00 {select} AA 00 {select[3:]}"
    status, entries, err = run(capsys, ["samv", capture])
    assert (status, err) == (0, "")
    assert entries[0]["fields"] == {
        "answers": "READ_NEWEST_ADDRESS",
        "newest_address": "<11 characters hidden>",
    }
    assert entries[1]["fields"] == {
        "answers": "READ_SAM_ID",
        "sam_id": "05.01-20110708-0000000000-0000000000",
    }
    assert [e["kind"] for e in entries[2:]] == ["quirk", "reply", "quirk", "reply"]
    assert entries[4]["offset"] == entries[3]["offset"] + 19
    assert entries[5]["offset"] == entries[4]["offset"] + 2  # its first AA was lost
    _, revealed, _ = run(capsys, ["--reveal", "samv", address])
    assert revealed[0]["fields"]["newest_address"] == "北京市东城区某某街2号"


@pytest.mark.parametrize(
    ("capture", "message", "decoded"),
    [
        (f"{HOST} AA AA AA 96 69 00 04 00 00 80 85", "frame 2 at byte 10: checksum mismatch", 1),
        (f"{HOST} AA AA AA 96 69 00 04 00 00", "frame 2 at byte 10: truncated: LEN says 4", 1),
        (f"01 02 {HOST}", "byte 0: 2 bytes outside any frame; a frame starts with", 0),
        (f"{HOST} AA AA AA", "byte 10: truncated: 3 bytes of a preamble", 1),
        (build_command(0x45, 0x01).hex(), "unknown SAM_V command 45 01", 0),
        (build_reply(0x55).hex(), "unknown SAM_V result code SW3 55", 0),
        (
            build_reply(Sw3.SUCCESS, bytes(1284)).hex(),
            "frame 1 at byte 0: base message: text length 0, expected 256",
            0,
        ),
    ],
)
def test_corrupted_input_is_one_stderr_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], capture: str, message: str, decoded: int
) -> None:
    status, entries, err = run(capsys, ["samv", capture])
    assert status == 2
    assert len(entries) == decoded
    assert len(err.splitlines()) == 1
    assert err.startswith("tellerhal decode: samv: ")
    assert message in err


def test_noise_bytes_shown_only_with_reveal(capsys: pytest.CaptureFixture[str]) -> None:
    # A broken base message's bytes are noise: a name's UCS-2 (张 = 20 5F) stays hidden.
    capture = "20 5F 09 4E " + HOST
    status, _, err = run(capsys, ["samv", capture])
    assert status == 2
    assert "205F" not in err
    status, _, err = run(capsys, ["--reveal", "samv", capture])
    assert "byte 0: 4 bytes outside any frame (205F094E)" in err


def test_vendor_command_is_named_not_refused(capsys: pytest.CaptureFixture[str]) -> None:
    status, entries, _ = run(capsys, ["samv", build_command(0x60, 0x03).hex()])
    assert status == 0
    assert entries[0]["command"] == {"name": "VENDOR", "code": "60 03"}


# --- cn-id ---------------------------------------------------------------------------


def test_cn_id_valid_and_invalid(capsys: pytest.CaptureFixture[str]) -> None:
    status, entries, err = run(capsys, ["cn-id", "11010519491231002X"])
    assert (status, err) == (0, "")
    assert entries == [
        {
            "protocol": "cn-id",
            "kind": "id_number",
            "number": "110*************2X",
            "valid": True,
            "type": "resident",
            "check_character": {"expected": "X", "ok": True},
            "birth_date": "<hidden>",
            "sex": "female",
        }
    ]
    status, entries, err = run(capsys, ["cn-id", "110105194912310021"])
    assert status == 2
    assert entries[0]["valid"] is False
    assert entries[0]["reason"] == "check character is '1', expected 'X'"
    assert (
        err
        == "tellerhal decode: cn-id: not a valid ID number: check character is '1', expected 'X'\n"
    )
    assert "110105194912310021" not in err + json.dumps(entries)


def test_cn_id_reveal_legacy_and_permit(capsys: pytest.CaptureFixture[str]) -> None:
    status, entries, _ = run(capsys, ["--reveal", "cn-id", "11010519491231002X"])
    assert status == 0
    assert entries[0]["number"] == "11010519491231002X"
    assert entries[0]["birth_date"] == "1949-12-31"
    status, entries, err = run(capsys, ["cn-id", "110105491231002"])
    assert status == 2
    assert entries[0]["type"] == "legacy15"
    assert "no check character" in err
    permit = "81000019900307123" + check_character("81000019900307123")
    status, entries, _ = run(capsys, ["cn-id", permit])
    assert (status, entries[0]["type"], entries[0]["sex"]) == (0, "hmtPermit", "male")


def test_cn_id_from_a_file_stops_at_the_first_invalid(
    capsys: pytest.CaptureFixture[str], tmp_path: Any
) -> None:
    path = tmp_path / "numbers.txt"
    path.write_text("# synthetic\n11010519491231002X\n12345\n11010519491231002X\n", "utf-8")
    status, entries, err = run(capsys, ["cn-id", f"@{path}"])
    assert status == 2
    assert [e["capture"] for e in entries] == [1, 2]
    assert err.startswith("tellerhal decode: cn-id: capture 2: not a valid ID number: an ID number")


# --- strategies the every-protocol fuzz test uses ------------------------------------

_commands = st.builds(
    lambda command, data: build_command(command.cmd, command.para, data).hex(" "),
    st.sampled_from(list(Command)),
    st.just(b"") | st.binary(max_size=4),
) | st.builds(lambda c, p: build_command(c, p).hex(), st.integers(0, 0xFF), st.integers(0, 0xFF))
_replies = (
    st.builds(
        lambda sw3, data: build_reply(sw3, data).hex(" "),
        st.sampled_from([int(s) for s in Sw3]) | st.integers(0, 0xFF),
        st.sampled_from([b"", bytes(4), bytes(8), bytes(16), bytes(70)]) | st.binary(max_size=80),
    )
    | st.just(base_reply())
    | st.just(base_reply(b""))
)
samv_streams = st.lists(
    _commands
    | _replies
    | st.sampled_from(["AA 00", "AA AA AA 96 69"])
    | st.binary(max_size=8).map(bytes.hex),
    min_size=1,
    max_size=4,
).map(" ".join)
cn_id_inputs = st.one_of(
    st.just("11010519491231002X"),
    st.just("110105194912310021"),
    st.text("0123456789Xx", min_size=14, max_size=19),
)
