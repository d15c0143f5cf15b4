"""``tellerhal decode id003``: the reference's JCM frames (§7 #26-#27) both ways, bad
CRCs, truncation and unknown codes ending in one stderr line and exit 2, and any input
fuzzed.

``id003_streams`` (near-valid ID-003 captures) is also what the every-protocol fuzz test
(tests/cli/test_decode_fuzz.py) feeds the id003 decoder.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocols.id003 import build_frame
from tellerhal.cli.main import main

HOST = "FC 05 11 27 56 FC 06 C3 00 04 D6 FC 05 41 A2 04 FC 05 50 AA 05 FC 06 C3 01 8D C7"
DEVICE = (
    "FC 05 1A F4 E8 FC 06 13 61 B0 FB FC 05 15 03 10 FC 05 16 98 22 FC 06 17 71 51 8C "
    "FC 05 50 AA 05 FC 06 C3 01 8D C7"
)

_codes = st.sampled_from([0x11, 0x13, 0x17, 0x40, 0x41, 0x43, 0x49, 0x50, 0x88, 0xC0, 0xC3])
_data = st.sampled_from([b"", b"\x00", b"\x01", b"\x61", b"\x71", b"\xa2", b"\x00\xff"])
id003_frames = st.builds(
    lambda code, data: build_frame(code, data).hex(" "),
    _codes | st.integers(0, 0xFF),
    _data | st.binary(max_size=8),
)
id003_streams = st.lists(
    id003_frames | st.binary(max_size=12).map(bytes.hex), min_size=1, max_size=4
).map(" ".join)


def run(capsys: pytest.CaptureFixture[str], argv: Sequence[str]) -> tuple[int, list[Any], str]:
    try:
        status = main(["decode", *argv])
    except SystemExit as exit_:
        status = exit_.code if isinstance(exit_.code, int) else 2
    out, err = capsys.readouterr()
    return status, [json.loads(line) for line in out.splitlines()], err


def test_host_frames_decode_as_commands(capsys: pytest.CaptureFixture[str]) -> None:
    status, entries, err = run(capsys, ["id003", HOST])
    assert (status, err) == (0, "")
    assert [e["kind"] for e in entries] == ["command"] * 5
    assert [e["command"]["name"] for e in entries] == [
        "STATUS_REQUEST",
        "SET_INHIBIT",
        "STACK_1",
        "ACK",
        "SET_INHIBIT",
    ]
    assert [e["offset"] for e in entries] == [0, 5, 11, 16, 21]
    assert entries[1]["fields"] == {"inhibited": False}
    assert entries[1]["meaning"] == "enable (accept notes)"
    assert entries[4]["fields"] == {"inhibited": True}
    assert entries[2]["command"]["code"] == "41"
    assert all(e["protocol"] == "id003" for e in entries)


def test_device_frames_decode_as_statuses(capsys: pytest.CaptureFixture[str]) -> None:
    status, entries, err = run(capsys, ["--from-device", "id003", DEVICE])
    assert (status, err) == (0, "")
    assert [e["kind"] for e in entries] == ["status"] * 5 + ["ack", "echo"]
    assert [e.get("status", {}).get("name") for e in entries[:5]] == [
        "DISABLED",
        "ESCROW",
        "VEND_VALID",
        "STACKED",
        "REJECTING",
    ]
    assert entries[1]["fields"] == {"denomination": "61"}
    assert entries[4]["fields"] == {"reason": {"name": "INSERTION", "code": "71"}}
    assert entries[4]["meaning"] == "rejecting, insertion"
    assert entries[6]["fields"] == {"inhibited": True}


def test_the_same_bytes_mean_different_things_each_way(
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, host, _ = run(capsys, ["id003", "FC 05 43 B0 27"])
    _, device, _ = run(capsys, ["--direction", "reply", "id003", "FC 05 43 B0 27"])
    assert host[0]["command"]["name"] == "RETURN"
    assert device[0]["status"]["name"] == "STACKER_FULL"


def test_failure_and_denomination_mask(capsys: pytest.CaptureFixture[str]) -> None:
    failure = build_frame(0x49, b"\xa2").hex()
    status, entries, _ = run(capsys, ["--from-device", "id003", failure])
    assert status == 0
    assert entries[0]["fields"] == {"failure": {"name": "STACK_MOTOR", "code": "A2"}}
    mask = build_frame(0xC0, b"\xfa\xff").hex()
    status, entries, _ = run(capsys, ["id003", mask])
    assert entries[0]["fields"] == {"mask": "FAFF", "enabled": ["61", "63"]}


@pytest.mark.parametrize(
    ("capture", "flags", "message", "decoded"),
    [
        ("FC 05 11 27 56 FC 05 11 27 57", [], "frame 2 at byte 5: CRC mismatch", 1),
        ("FC 05 11 27 56 FC 06 13", [], "frame 2 at byte 5: truncated: 3 bytes", 1),
        ("00 01 FC 05 11 27 56", [], "byte 0: 2 bytes outside any frame", 0),
        (build_frame(0x12).hex(), [], "frame 1 at byte 0: unknown ID-003 command 12", 0),
        (
            build_frame(0x17, b"\x70").hex(),
            ["--from-device"],
            "unknown ID-003 reject reason 70",
            0,
        ),
        (build_frame(0x13).hex(), ["--from-device"], "ESCROW carries 1 DATA bytes", 0),
    ],
)
def test_bad_input_is_one_stderr_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], capture: str, flags: list[str], message: str, decoded: int
) -> None:
    status, entries, err = run(capsys, [*flags, "id003", capture])
    assert status == 2
    assert len(entries) == decoded
    assert len(err.splitlines()) == 1
    assert err.startswith("tellerhal decode: id003: ")
    assert message in err


# Few examples: the every-protocol fuzz (tests/cli/test_decode_fuzz.py) runs more.
@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(id003_streams, st.booleans())
def test_any_capture_decodes_or_fails_cleanly(
    capsys: pytest.CaptureFixture[str], capture: str, from_device: bool
) -> None:
    flags = ["--from-device"] if from_device else []
    status, entries, err = run(capsys, [*flags, "id003", capture])
    assert status in (0, 2)
    if status:
        assert len(err.splitlines()) == 1
    else:
        assert err == ""
        kinds = {"status", "ack", "echo", "text"} if from_device else {"command"}
        assert {e["kind"] for e in entries} <= kinds
        offsets = [e["offset"] for e in entries]
        assert offsets == sorted(set(offsets))
