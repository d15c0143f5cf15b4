"""``tellerhal decode crt591``: the reference vectors, masking, and any input fuzzed.

``crt591_streams`` (near-valid CRT-591 captures) is also what the every-protocol fuzz
test (tests/cli/test_decode_fuzz.py) feeds the crt591 decoder.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocols.crt591 import (
    BinStatus,
    CardStatus,
    Command,
    CpuOperation,
    ErrorCode,
    Refusal,
    Reply,
    Request,
    StackerStatus,
    build_frame,
    cpu_reset_data,
    encode_text,
)
from tellerhal.cli.main import main

PAN = "4761739001010010"
# A READ RECORD answer carrying the PAN (tag 5A) and track 2 equivalent data (tag 57).
RECORD = (
    bytes.fromhex("70125A08") + bytes.fromhex(PAN) + bytes.fromhex("5706") + bytes(6) + b"\x90\x00"
)
_heads = st.sampled_from([b"C", b"P", b"N", b"E"])
_codes = st.sampled_from(sorted({c.cm for c in Command})) | st.integers(0, 0xFF)
_texts = st.tuples(
    _heads,
    _codes,
    st.integers(0x30, 0x3A) | st.integers(0, 0xFF),
    st.sampled_from([b"", b"020", b"120", b"0A0", b"B0", b"10110000", b"007"])
    | st.binary(max_size=20),
    st.just(b"") | st.just(RECORD) | st.just(cpu_reset_data(bytes.fromhex("3B6800"), t1=True)),
).map(lambda parts: b"".join(bytes([p]) if isinstance(p, int) else p for p in parts))
crt591_frames = st.builds(
    lambda text, address: build_frame(text, address).hex(" "), _texts, st.integers(0, 15)
)
crt591_streams = st.lists(
    crt591_frames
    | st.sampled_from(["06", "15", "04"])
    | st.binary(max_size=20).map(lambda raw: raw.hex(" ")),
    max_size=4,
).map(" ".join)


def run(capsys: pytest.CaptureFixture[str], argv: Sequence[str]) -> tuple[int, list[Any], str]:
    try:
        status = main(["decode", *argv])
    except SystemExit as exit_:
        status = exit_.code if isinstance(exit_.code, int) else 2
    out, err = capsys.readouterr()
    return status, [json.loads(line) for line in out.splitlines()], err


def hexed(message: Request | Reply | Refusal) -> str:
    return build_frame(encode_text(message)).hex()


def test_the_reference_vectors_decode(capsys: pytest.CaptureFixture[str]) -> None:
    capture = "F2 00 00 03 43 30 33 03 B2 06 F2 00 00 06 50 31 30 30 32 30 03 94 06"
    status, entries, err = run(capsys, ["crt591", capture])
    assert (status, err) == (0, "")
    assert [e["kind"] for e in entries] == ["command", "control", "reply", "control"]
    assert entries[0]["command"] == {"name": "INITIALIZE NO_MOVE", "code": "3033"}
    reply = entries[2]
    assert reply["offset"] == 10
    assert reply["fields"]["card"] == "NO_CARD"
    assert reply["fields"]["stacker"] == "ENOUGH"
    assert reply["fields"]["reject_bin"] == "NOT_FULL"


def test_negative_replies_with_either_head(capsys: pytest.CaptureFixture[str]) -> None:
    capture = hexed(Refusal(0x32, 0x31, ErrorCode.STACKER_EMPTY, 0x45))
    capture += hexed(Refusal(0x99, 0x30, ErrorCode.UNDEFINED_COMMAND))
    status, entries, _ = run(capsys, ["crt591", capture])
    assert status == 0
    assert entries[0]["command"]["name"] == "MOVE IC"
    assert entries[0]["fields"] == {
        "head": "E",
        "error": "STACKER_EMPTY",
        "code": "A0",
        "description": "card stacker empty",
    }
    assert entries[1]["command"]["name"] is None


def test_apdus_and_resets_are_shown_with_cardholder_data_masked(
    capsys: pytest.CaptureFixture[str],
) -> None:
    select = Request(0x51, CpuOperation.APDU_T1, bytes.fromhex("00B2010C00"))
    answer = Reply(
        0x51,
        CpuOperation.APDU_T1,
        CardStatus.AT_POSITION,
        StackerStatus.LOW,
        BinStatus.NOT_FULL,
        RECORD,
    )
    atr = bytes.fromhex("3B6800000073C84013009000")
    reset = Reply(
        0x51,
        CpuOperation.COLD_RESET,
        CardStatus.AT_POSITION,
        StackerStatus.LOW,
        BinStatus.NOT_FULL,
        cpu_reset_data(atr, t1=True),
    )
    capture = hexed(select) + hexed(answer) + hexed(reset)
    status, entries, _ = run(capsys, ["crt591", capture])
    assert status == 0
    assert entries[0]["fields"]["protocol"] == "T=1"
    assert entries[2]["fields"]["protocol"] == "T=1"
    assert entries[2]["fields"]["atr"] == atr.hex().upper()
    text = json.dumps(entries)
    assert PAN not in text
    assert PAN[:6] in text  # the first six digits stay, as everywhere
    status, revealed, _ = run(capsys, ["--reveal", "crt591", capture])
    assert PAN in json.dumps(revealed)


@pytest.mark.parametrize(
    ("capture", "message"),
    [
        ("F2 00 00 03 43 31 30 03 B1", "BCC is 0xB1"),
        ("F2 00 00 03 43 31 30", "truncated"),
        ("43 31 30", "outside any frame"),
        ("F2 00 00 03 58 31 30 03 AB", "unknown TEXT head"),
    ],
)
def test_bad_captures_stop_with_status_2(
    capsys: pytest.CaptureFixture[str], capture: str, message: str
) -> None:
    status, _, err = run(capsys, ["crt591", capture])
    assert status == 2
    assert message in err


def test_any_input_ends_in_a_status_not_a_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    @settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(st.lists(crt591_streams, min_size=1, max_size=2), st.booleans())
    def check(inputs: list[str], reveal: bool) -> None:
        argv = [*(["--reveal"] if reveal else []), "crt591", "--", *inputs]
        try:
            status = main(["decode", *argv])
        except SystemExit as exit_:
            status = exit_.code if isinstance(exit_.code, int) else 2
        out, err = capsys.readouterr()
        assert status in (0, 1, 2), (argv, status, err)
        assert "Traceback" not in err
        if status:
            assert len(err.splitlines()) == 1, err
        else:
            assert err == ""
        if not reveal:
            assert PAN not in out + err

    check()


@pytest.mark.parametrize(
    ("data", "shown"),
    [
        (b"CRT-591 V1.05", True),  # the unit's own text: shown
        (b"FW 4761739001010010", False),  # printable, but an account-number-long run
        (bytes.fromhex("70125A08476173900101001057060000000000009000"), False),  # a record
    ],
)
def test_a_text_reply_is_shown_only_when_it_cannot_be_card_data(
    capsys: pytest.CaptureFixture[str], data: bytes, shown: bool
) -> None:
    # Found by the fuzz test: an Initialize reply (whose DATA is the unit's version
    # text) carrying a chip record printed the PAN without --reveal.
    reply = Reply(0x30, 0x30, CardStatus.NO_CARD, StackerStatus.ENOUGH, BinStatus.NOT_FULL, data)
    status, entries, _ = run(capsys, ["crt591", hexed(reply)])
    assert status == 0
    fields = entries[0]["fields"]
    if shown:
        assert fields["text"] == data.decode()
    else:
        assert fields["data"] == f"<{len(data)} bytes hidden>"
        assert "text" not in fields
    status, entries, _ = run(capsys, ["--reveal", "crt591", hexed(reply)])
    assert entries[0]["fields"]["data"] == data.hex().upper()
