"""``tellerhal decode ssp``: golden vector #28, a poll conversation, encrypted frames shown
as encrypted (decrypted only with a key, which is never printed), the key exchange
hidden, bad CRC / noise / truncation refused, and any input fuzzed."""

from __future__ import annotations

import argparse
import json
import struct
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocols.essp import DEFAULT_FIXED_KEY, SessionKey, encrypt_packet
from protocols.ssp import build_frame
from protocols.ssp_commands import build_payout_by_denomination, build_set_inhibits
from protocols.ssp_events import Ev, Event, encode_events
from tellerhal.cli.decode.fields import Failure
from tellerhal.cli.decode.ssp import decode_ssp
from tellerhal.cli.main import main

GOLDEN = "7F 80 01 11 65 82 7F 80 01 F0 23 80"


def run(capsys: pytest.CaptureFixture[str], argv: Sequence[str]) -> tuple[int, list[Any], str]:
    try:
        status = main(["decode", *argv])
    except SystemExit as exit_:
        status = exit_.code if isinstance(exit_.code, int) else 2
    out, err = capsys.readouterr()
    return status, [json.loads(line) for line in out.splitlines()], err


def test_golden_28(capsys: pytest.CaptureFixture[str]) -> None:
    status, entries, _ = run(capsys, ["ssp", GOLDEN])
    assert status == 0
    assert [(e["kind"], e["seq"]) for e in entries] == [("command", 1), ("reply", 1)]
    assert entries[0]["command"] == {"name": "SYNC", "code": "11"}
    assert entries[1]["reply"] == {"name": "OK", "code": "F0"}


def test_poll_events_and_inhibits(capsys: pytest.CaptureFixture[str]) -> None:
    events = encode_events([Event(Ev.READ, 3), Event(Ev.CREDIT, 3), Event(Ev.STACKED)])
    capture = (
        build_frame(False, 0, build_set_inhibits(frozenset({1, 3})))
        + build_frame(False, 0, b"\xf0")
        + build_frame(True, 0, b"\x07")
        + build_frame(True, 0, b"\xf0" + events)
    )
    status, entries, _ = run(capsys, ["ssp", capture.hex()])
    assert status == 0
    assert entries[0]["fields"] == {"channels": [1, 3]}
    assert [e["name"] for e in entries[3]["fields"]["events"]] == ["READ", "CREDIT", "STACKED"]
    assert entries[3]["fields"]["events"][0]["channel"] == 3


def test_key_exchange_is_hidden(capsys: pytest.CaptureFixture[str]) -> None:
    inter = 0x1122334455667788
    capture = build_frame(False, 0, b"\x4c" + struct.pack("<Q", inter)) + build_frame(
        False, 0, b"\xf0" + struct.pack("<Q", 0x0A0B0C0D0E0F1011)
    )
    status, entries, _ = run(capsys, ["ssp", capture.hex()])
    assert status == 0
    assert entries[0]["fields"] == {"parameters": "hidden"}
    assert entries[1]["fields"] == {"inter_key": "hidden"}
    text = json.dumps(entries)
    assert "8877665544332211" not in text.upper()
    assert "11100F0E0D0C0B0A" not in text.upper()


def _encrypted_conversation(key: SessionKey) -> bytes:
    payout = build_payout_by_denomination({("CNY", 2000): 2})
    return build_frame(True, 0, encrypt_packet(key, 4, payout)) + build_frame(
        True, 0, encrypt_packet(key, 5, b"\xf0")
    )


def test_encrypted_frames_without_a_key(capsys: pytest.CaptureFixture[str]) -> None:
    key = SessionKey(DEFAULT_FIXED_KEY, 0x42)
    status, entries, _ = run(capsys, ["ssp", _encrypted_conversation(key).hex()])
    assert status == 0
    assert [(e["kind"], e["encrypted"]) for e in entries] == [
        ("command", True),
        ("reply", True),
    ]
    assert "command" not in entries[0]
    assert "count" not in entries[0]


def test_encrypted_frames_with_a_key_never_print_it(tmp_path: Path) -> None:
    negotiated = 0x00000000DEADBEEF
    key = SessionKey(DEFAULT_FIXED_KEY, negotiated)
    key_file = tmp_path / "session.key"
    key_file.write_text(f"{DEFAULT_FIXED_KEY:016X}{negotiated:016X}")
    args = argparse.Namespace(key_file=str(key_file), reveal=False, direction="command")
    entries = list(decode_ssp(_encrypted_conversation(key), args))
    assert entries[0]["count"] == 4
    assert entries[0]["command"]["name"] == "PAYOUT_BY_DENOMINATION"
    assert entries[0]["fields"]["notes"] == [{"currency": "CNY", "value": 2000, "count": 2}]
    assert entries[1]["reply"]["name"] == "OK"
    text = json.dumps(entries).upper()
    assert "DEADBEEF" not in text
    assert "0123456701234567" not in text
    key_file.write_text("12")
    with pytest.raises(Failure) as failure:
        list(decode_ssp(b"", argparse.Namespace(key_file=str(key_file), reveal=False)))
    assert "key file must hold 32 hex digits" in str(failure.value)


def test_key_from_a_file(tmp_path: Path) -> None:
    negotiated = 0x0000000012345678
    key = SessionKey(DEFAULT_FIXED_KEY, negotiated)
    key_file = tmp_path / "session.key"
    key_file.write_text(f"{DEFAULT_FIXED_KEY:016X}{negotiated:016X}\n")
    args = argparse.Namespace(key_file=str(key_file), reveal=False, direction="command")
    entries = list(decode_ssp(_encrypted_conversation(key), args))
    assert entries[0]["count"] == 4
    assert "12345678" not in json.dumps(entries)
    missing = argparse.Namespace(key_file=str(tmp_path / "nope"), reveal=False)
    with pytest.raises(Failure) as failure:
        list(decode_ssp(b"", missing))
    assert "FileNotFoundError" in str(failure.value)


def test_key_file_on_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    negotiated = 0x00000000CAFEF00D
    key = SessionKey(DEFAULT_FIXED_KEY, negotiated)
    key_file = tmp_path / "session.key"
    key_file.write_text(f"{DEFAULT_FIXED_KEY:016X}{negotiated:016X}\n")
    capture = _encrypted_conversation(key).hex()
    status, entries, err = run(capsys, ["ssp", "--key-file", str(key_file), capture])
    assert status == 0, err
    assert entries[0]["command"]["name"] == "PAYOUT_BY_DENOMINATION"
    status, plain, _ = run(capsys, ["ssp", capture])
    assert status == 0
    assert "command" not in plain[0]  # without the key it stays encrypted
    assert "CAFEF00D" not in json.dumps(entries).upper() + err.upper()


@pytest.mark.parametrize(
    ("capture", "message"),
    [
        ("7F 80 01 11 65 83", "bad CRC"),
        ("00 01 7F 80 01 11 65 82", "outside any frame"),
        ("7F 80 01 11 65", "incomplete"),
        ("7F 80 01 42 " + "00 00", "CRC"),
    ],
)
def test_refused(capsys: pytest.CaptureFixture[str], capture: str, message: str) -> None:
    status, _, err = run(capsys, ["ssp", capture])
    assert status == 2
    assert message in err


def test_unknown_command_refused(capsys: pytest.CaptureFixture[str]) -> None:
    status, entries, err = run(capsys, ["ssp", build_frame(True, 0, b"\x7d").hex()])
    assert status == 2
    assert "unknown command" in err
    assert entries == []


ssp_streams = st.lists(
    st.builds(
        lambda seq, data: build_frame(seq, 0, data).hex(" "),
        st.booleans(),
        st.sampled_from([b"\x11", b"\x07", b"\xf0", b"\xf0\xef\x01", b"\x05", b"\xf4"])
        | st.binary(min_size=1, max_size=12),
    )
    | st.binary(max_size=12).map(bytes.hex),
    max_size=4,
).map(" ".join)


@given(ssp_streams)
@settings(max_examples=30, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_fuzz(capsys: pytest.CaptureFixture[str], capture: str) -> None:
    status, _, _ = run(capsys, ["ssp", capture or "00"])
    assert status in (0, 2)
