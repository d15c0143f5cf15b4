"""Tests for ``tellerhal decode``: run the CLI on reference vectors and broken input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from protocols.crt310 import (
    ErrorCode,
    OperationStatus,
    TrackRecord,
    TrackStatus,
    build_apdu_reply,
    build_error_reply,
    build_frame,
    build_track_reply,
)
from tellerhal.cli.main import main

REPO = Path(__file__).resolve().parents[2]
PAN = "4111111111111111"
TRACK2 = ";4111111111111111=25121010000000000000?8"  # reference §7 #38 (C)
TRACK1 = "%B4111111111111111^DOE/JOHN^2512101000000000000?+"  # reference §7 #38 (C)

# reference §7 #16-#18 (V/C and C)
RESET = "02 00 02 30 30 03 03"
STATUS = "02 00 02 31 30 03 02"
MOVE_TO_IC = "02 00 02 32 2F 03 1E"
READ_TRACKS = "02 00 04 45 30 30 37 03 77"
STATUS_REPLY = "02 00 05 31 30 4E 4A 4A 03 4B"
SELECT_PSE = "02 00 17 37 31 00 13 00 A4 04 00 0E 31 50 41 59 2E 53 59 53 2E 44 44 46 30 31 03 CA"


def decode(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[dict[str, Any]], str]:
    status = main(["decode", *argv])
    out, err = capsys.readouterr()
    return status, [json.loads(line) for line in out.splitlines()], err


def test_crt310_command_vectors(capsys: pytest.CaptureFixture[str]) -> None:
    stream = " ".join([RESET, "06", STATUS, MOVE_TO_IC, "05", READ_TRACKS])
    status, lines, err = decode(capsys, "crt310", stream)
    assert (status, err) == (0, "")
    assert [(x["kind"], x.get("command", x.get("control"))["name"]) for x in lines] == [
        ("command", "RESET"),
        ("control", "ACK"),
        ("command", "STATUS"),
        ("command", "MOVE_TO_IC"),
        ("control", "ENQ"),
        ("command", "READ_TRACKS"),
    ]
    assert lines[2] == {
        "protocol": "crt310",
        "kind": "command",
        "frame": 2,
        "offset": 8,
        "command": {"name": "STATUS", "code": "3130"},
        "fields": {},
    }
    assert lines[-1]["fields"] == {"mode": "ASCII", "tracks": [1, 2, 3]}


def test_crt310_apdu_command(capsys: pytest.CaptureFixture[str]) -> None:
    status, (line,), _ = decode(capsys, "crt310", SELECT_PSE)
    assert status == 0
    assert line["fields"]["apdu"]["name"] == "SELECT"
    assert line["fields"]["apdu"]["text"] == "1PAY.SYS.DDF01"


@pytest.mark.parametrize("flag", [["--from-device"], ["--direction", "reply"]])
def test_crt310_status_reply(capsys: pytest.CaptureFixture[str], flag: list[str]) -> None:
    status, (line,), _ = decode(capsys, *flag, "crt310", STATUS_REPLY)
    assert status == 0
    assert line["kind"] == "reply"
    assert line["fields"] == {
        "position": "NO_CARD",
        "front_entry": "SWITCH",
        "rear_entry": "ALLOWED",
    }


def test_crt310_error_reply(capsys: pytest.CaptureFixture[str]) -> None:
    raw = build_error_reply(0x31, ErrorCode.BAD_PARAMETER).hex()
    status, (line,), _ = decode(capsys, "--from-device", "crt310", raw)
    assert status == 0
    assert line["kind"] == "error"
    assert line["command"] == {"name": None, "code": "31"}
    assert line["fields"]["error"] == "BAD_PARAMETER"


@pytest.mark.parametrize(
    ("stream", "message", "decoded"),
    [
        (STATUS + " 02 00 02 32 2F 03 1F", "frame 2 at byte 7: BCC is 0x1F, expected 0x1E", 1),
        (STATUS + " 02 00 05 31", "frame 2 at byte 7: truncated: LEN needs 10 bytes", 1),
        (STATUS + " 02 00", "frame 2 at byte 7: truncated: 2 bytes, no complete header", 1),
        ("06 02 00 02 99 30 03 AA", "frame 1 at byte 1: unknown command CM 0x99 PM 0x30", 1),
        (RESET + " 41 42 " + STATUS, "byte 7: 2 bytes outside any frame (first 0x41)", 1),
        (build_frame(0x45, 0x30, b"0").hex(), "frame 1 at byte 0: read tracks: DATA is 1 bytes", 0),
    ],
)
def test_crt310_errors_print_what_came_before_and_one_line(
    capsys: pytest.CaptureFixture[str], stream: str, message: str, decoded: int
) -> None:
    status, lines, err = decode(capsys, "crt310", stream)
    assert status == 2
    assert len(lines) == decoded
    assert err.count("\n") == 1
    assert err.startswith("tellerhal decode: crt310: ")
    assert message in err


def test_each_argument_is_a_capture_and_files_hold_one_per_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    capture = tmp_path / "capture.hex"
    capture.write_text(f"# host side\n\n{RESET}\n{STATUS.replace(' ', ':')}\n")
    status, lines, _ = decode(capsys, "crt310", f"@{capture}", MOVE_TO_IC)
    assert status == 0
    assert [(x["capture"], x["command"]["name"]) for x in lines] == [
        (1, "RESET"),
        (2, "STATUS"),
        (3, "MOVE_TO_IC"),
    ]


def test_a_broken_later_capture_is_named(capsys: pytest.CaptureFixture[str]) -> None:
    status, lines, err = decode(capsys, "crt310", RESET, "02 00 02 31 30 03 00")
    assert status == 2
    assert len(lines) == 1
    assert "crt310: capture 2: frame 1 at byte 0: BCC is 0x00, expected 0x02" in err


@pytest.mark.parametrize(
    ("argument", "message"),
    [
        ("02 0", "odd digit count"),
        ("02 zz", "non-hex character at digit 2"),
        ("@/nonexistent/capture.hex", "cannot read /nonexistent/capture.hex"),
    ],
)
def test_unreadable_input_exits_1(
    capsys: pytest.CaptureFixture[str], argument: str, message: str
) -> None:
    status, lines, err = decode(capsys, "crt310", argument)
    assert (status, lines) == (1, [])
    assert err.count("\n") == 1
    assert message in err


def test_bad_hex_is_not_echoed(capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = decode(capsys, "--hex", "track2", PAN + "Z")
    assert status == 1
    assert PAN not in err


def test_track2_masked_and_revealed(capsys: pytest.CaptureFixture[str]) -> None:
    status, (line,), _ = decode(capsys, "track2", TRACK2)
    assert status == 0
    fields = line["fields"]
    assert fields["pan"] == "411111******1111"
    assert fields["discretionary"] == "<13 chars hidden>"
    assert fields["lrc"] == "ok"
    assert PAN not in json.dumps(line)
    _, (shown,), _ = decode(capsys, "--reveal", "track2", TRACK2)
    assert shown["fields"]["pan"] == PAN
    assert shown["fields"]["discretionary"] == "0000000000000"


def test_track1_hides_the_name(capsys: pytest.CaptureFixture[str]) -> None:
    _, (line,), _ = decode(capsys, "track1", TRACK1)
    text = json.dumps(line)
    assert PAN not in text
    assert "DOE" not in text
    _, (shown,), _ = decode(capsys, "--reveal", "track1", TRACK1)
    assert shown["fields"]["name"] == "DOE/JOHN"


def test_track_hex_input_and_bad_lrc(capsys: pytest.CaptureFixture[str]) -> None:
    status, (line,), _ = decode(capsys, "--hex", "track2", TRACK2.encode().hex(" "))
    assert status == 0
    assert line["fields"]["expiry"] == "2512"
    status, lines, err = decode(capsys, "track2", TRACK2[:-1] + "7")
    assert (status, lines) == (2, [])
    assert "LRC is '7', expected '8'" in err
    assert PAN not in err


def test_track3(capsys: pytest.CaptureFixture[str]) -> None:
    _, (line,), _ = decode(capsys, "track3", ";0112233=44?")
    assert line["fields"]["content"] == "<10 chars hidden>"


def test_crt310_track_reply_masks_and_reveals(capsys: pytest.CaptureFixture[str]) -> None:
    raw = build_track_reply([TrackRecord(2, TrackStatus.OK, TRACK2[1:-2].encode())]).hex()
    status, (line,), _ = decode(capsys, "--from-device", "crt310", raw)
    assert status == 0
    (record,) = line["fields"]["tracks"]
    assert record["pan"] == "411111******1111"
    assert PAN not in json.dumps(line)
    _, (shown,), _ = decode(capsys, "--from-device", "--reveal", "crt310", raw)
    assert shown["fields"]["tracks"][0]["pan"] == PAN


def test_crt310_apdu_reply_masks_pan_inside_tlv(capsys: pytest.CaptureFixture[str]) -> None:
    record = bytes.fromhex("70 0A 5A 08") + bytes.fromhex(PAN) + b"\x90\x00"
    raw = build_apdu_reply(OperationStatus.SUCCESS, record).hex()
    _, (line,), _ = decode(capsys, "--from-device", "crt310", raw)
    (template,) = line["fields"]["response"]["tlv"]
    assert template["children"][0]["value"] == "411111******1111"
    assert PAN not in json.dumps(line)


def test_tlv_and_apdu(capsys: pytest.CaptureFixture[str]) -> None:
    status, lines, _ = decode(capsys, "tlv", "5F 20 08 44 4F 45 2F 4A 4F 48 4E 5F 24 03 25 12 31")
    assert status == 0
    assert lines[0]["fields"]["value"] == "<8 bytes hidden>"
    assert lines[1]["fields"]["value"] == "251231"
    _, lines, _ = decode(capsys, "--reveal", "tlv", "5F 20 08 44 4F 45 2F 4A 4F 48 4E")
    assert lines[0]["fields"]["text"] == "DOE/JOHN"
    _, (verify,), _ = decode(capsys, "apdu", "00 20 00 80 08 24 12 34 FF FF FF FF FF")
    assert verify["fields"]["data"] == "<8 bytes hidden>"
    _, (opaque,), _ = decode(capsys, "apdu", "--response", "FF 41 11 90 00")
    assert opaque["fields"]["data"] == "<3 bytes, not TLV, hidden>"
    status, lines, err = decode(capsys, "tlv", "5A 08 41 11")
    assert (status, lines) == (2, [])
    assert "value of 8 bytes, only 2 left" in err


def test_subprocess_runs_the_module(tmp_path: Path) -> None:
    ok = subprocess.run(
        [sys.executable, "-m", "tellerhal", "decode", "--from-device", "crt310", STATUS_REPLY],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["fields"]["position"] == "NO_CARD"
    bad = subprocess.run(
        [sys.executable, "-m", "tellerhal", "decode", "crt310", STATUS + " 02 00 02 32 2F 03 1F"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert bad.returncode == 2
    assert len(bad.stdout.splitlines()) == 1
    assert bad.stderr == (
        "tellerhal decode: crt310: frame 2 at byte 7: BCC is 0x1F, expected 0x1E\n"
    )
