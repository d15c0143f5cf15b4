"""``tellerhal decode lcdm``: the reference's Puloon frames, models, errors, and any
input fuzzed.

``lcdm_streams`` (near-valid LCDM captures) is also what the every-protocol fuzz test
(tests/cli/test_decode_fuzz.py) feeds the lcdm decoder.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocols.lcdm import ETX, Direction, build_frame
from tellerhal.cli.main import main

GOLDEN = (
    "04 50 02 45 31 30 03 11 06 01 50 02 45 31 30 31 30 30 30 30 30 03 15 06 "
    "04 50 02 44 03 11 06 01 50 02 44 30 03 24 06"
)

_codes = st.sampled_from([0x44, 0x45, 0x46, 0x47, 0x50, 0x52, 0x55, 0x56, 0x76, 0x77])
_data = st.sampled_from(
    [b"", b"10", b"0307", b"0", b"\x30\x30\x81\x80", b"O16TABCD", b"1010000" + b"0"]
) | st.binary(max_size=16).filter(lambda b: ETX not in b)
lcdm_frames = st.builds(
    lambda d, i, c, data: build_frame(d, i, c, data).hex(" "),
    st.sampled_from(list(Direction)),
    st.sampled_from([0x30, 0x50]),
    _codes | st.integers(0, 0xFF).filter(lambda b: b != ETX),
    _data,
)
lcdm_streams = st.lists(
    lcdm_frames | st.sampled_from(["06", "15"]) | st.binary(max_size=20).map(bytes.hex),
    max_size=4,
).map(" ".join)


def run(capsys: pytest.CaptureFixture[str], argv: Sequence[str]) -> tuple[int, list[Any], str]:
    try:
        status = main(["decode", *argv])
    except SystemExit as exit_:
        status = exit_.code if isinstance(exit_.code, int) else 2
    out, err = capsys.readouterr()
    return status, [json.loads(line) for line in out.splitlines()], err


def test_the_reference_frames_decode(capsys: pytest.CaptureFixture[str]) -> None:
    status, entries, err = run(capsys, ["lcdm", GOLDEN])
    assert (status, err) == (0, "")
    assert [e["kind"] for e in entries] == ["command", "control", "reply", "control"] * 2
    assert entries[0]["command"] == {"name": "DISPENSE", "code": "45"}
    assert entries[0]["fields"] == {"counts": [10]}
    assert entries[0]["model"] == 1000
    reply = entries[2]
    assert reply["offset"] == 9
    assert reply["fields"] == {
        "error": "GOOD",
        "code": "30",
        "description": "good",
        "check": 10,
        "exit": 10,
        "cassette": "ENOUGH",
        "rejects": 0,
    }
    assert entries[6]["command"]["name"] == "PURGE"
    assert entries[6]["fields"]["error"] == "GOOD"


def test_the_model_decides_the_layout(capsys: pytest.CaptureFixture[str]) -> None:
    two = "04 50 02 56 30 33 30 37 03 07"
    status, _, err = run(capsys, ["lcdm", two])
    assert status == 2
    assert err == "tellerhal decode: lcdm: frame 1 at byte 0: LCDM-1000 has no command 0x56\n"
    status, entries, err = run(capsys, ["--model", "2000", "lcdm", two])
    assert (status, err) == (0, "")
    assert entries[0]["command"]["name"] == "UPPER_LOWER_DISPENSE"
    assert entries[0]["fields"] == {"counts": [3, 7]}
    status, entries, err = run(capsys, ["lcdm", "04 30 02 50 03 65"])
    assert (status, entries[0]["model"], entries[0]["command"]["name"]) == (0, 4000, "STATUS")
    status, _, err = run(capsys, ["--model", "4000", "lcdm", two])
    assert status == 2
    assert "ID 0x50 is not the LCDM-4000's 0x30" in err


def test_a_status_reply_shows_sensors(capsys: pytest.CaptureFixture[str]) -> None:
    frame = build_frame(Direction.REPLY, 0x50, 0x46, bytes((0x30, 0x38, 0xA0, 0x83))).hex()
    status, entries, _ = run(capsys, ["lcdm", frame])
    assert status == 0
    fields = entries[0]["fields"]
    assert fields["error"] == "BILL_END"
    assert fields["sensors"]["EXIT"] is True
    assert fields["sensors"]["CASSETTE"] is True
    assert fields["sensors"]["CHK1"] is False


@pytest.mark.parametrize(
    ("capture", "message"),
    [
        ("04 50 02 44 03 12", "frame 1 at byte 0: BCC is 0x12, expected 0x11"),
        ("06 FF 04 50 02 44 03 11", "byte 1: 1 bytes outside any frame (first 0xFF)"),
        ("04 50 02 44", "frame 1 at byte 0: truncated: 4 bytes of an incomplete frame"),
        ("01 50 02 44 39 03 2D", "frame 1 at byte 0: LCDM-1000 has no error code 0x39"),
    ],
)
def test_bad_captures_stop_with_one_line(
    capsys: pytest.CaptureFixture[str], capture: str, message: str
) -> None:
    status, _, err = run(capsys, ["lcdm", capture])
    assert status == 2
    assert err == f"tellerhal decode: lcdm: {message}\n"


def test_any_input_ends_in_a_status(capsys: pytest.CaptureFixture[str]) -> None:
    @settings(max_examples=100, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(
        lcdm_streams,
        st.sampled_from([[], ["--model", "1000"], ["--model", "2000"], ["--model", "4000"]]),
    )
    def check(capture: str, flags: list[str]) -> None:
        status, entries, err = run(capsys, [*flags, "lcdm", "--", capture])
        assert status in (0, 2), err
        if status:
            assert len(err.splitlines()) == 1
        else:
            assert err == ""
            assert all(e["protocol"] == "lcdm" for e in entries)

    check()
