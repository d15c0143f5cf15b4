"""``tellerhal decode zt588``: golden frames, a spy+ trace of a whole PIN entry, masking,
the clear-PIN request flagged, bad captures, and any input fuzzed.

``zt588_streams`` (near-valid ZT588 captures) is also what the every-protocol fuzz test
(tests/cli/test_decode_fuzz.py) feeds the zt588 decoder.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drivers.pin_pad.zt588_maskers import Zt588Masker
from hal.transports.spy_maskers import RX, TX
from protocols import zt588
from tellerhal.cli.main import main

PAN = "4761739001010010"
KEY = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
BLOCK = bytes.fromhex("9C1F2E3D4B5A6978")
PREFIX = "2026-11-28 19:00:00,000 INFO hal.transports.spy "

# Near-valid captures: frames of real commands and replies (or a random TEXT), key
# presses, junk; hex as a shell would pass it.
_texts = st.one_of(
    st.sampled_from(
        [
            zt588.LoadPlainKey(0x80, zt588.KeyType.IMK, KEY).encode(),
            zt588.StartPinEntry(0x40, zt588.PinFormat.ISO9564_0, 0, 4, PAN).encode(),
            b"640@004" + PAN.encode(),
            b"3",
            b"5637",
            b"7",
            b"70204" + BLOCK.hex().upper().encode(),
            b"\xe4",
            b"1D5D44F",
        ]
    ),
    st.binary(min_size=1, max_size=30).map(lambda b: b.replace(b"\x02", b"")).filter(bool),
)


def _frame(text: bytes, corrupt: bool) -> bytes:
    covered = b"%03d" % len(text) + text + b"\x03"
    chk = 0
    for byte in covered:
        chk ^= byte
    return b"\x02" + covered + (b"%02X" % (chk ^ 1 if corrupt else chk))


zt588_frames = st.builds(
    lambda text, corrupt: _frame(text, corrupt).hex(" "),
    _texts,
    st.sampled_from([False, False, False, True]),  # a bad CHK one time in four
)
zt588_streams = st.lists(
    zt588_frames
    | st.sampled_from(["2A", "31 32", "0D", "1B", "08", "41", "23"])
    | st.binary(max_size=12).map(lambda raw: raw.hex(" ")),
    max_size=5,
).map(" ".join)


def run(capsys: pytest.CaptureFixture[str], argv: Sequence[str]) -> tuple[int, list[Any], str]:
    try:
        status = main(["decode", *argv])
    except SystemExit as exit_:
        status = exit_.code if isinstance(exit_.code, int) else 2
    out, err = capsys.readouterr()
    return status, [json.loads(line) for line in out.splitlines()], err


def spy_trace(session: list[tuple[str, bytes]], reveal: bool = True) -> str:
    """What spy+ logs for ``session`` (with its masker), under a logging prefix."""
    masker = Zt588Masker(reveal=reveal)
    lines = [PREFIX + "pin_pad -- open"]
    for direction, data in session:
        lines += [f"{PREFIX}pin_pad {direction} {line}" for line in masker.lines(direction, data)]
    return "\n".join(lines) + "\n"


SESSION: list[tuple[str, bytes]] = [
    (TX, zt588.build_command(zt588.LoadPlainKey(0x80, zt588.KeyType.IMK, KEY))),
    (RX, zt588.build_reply(zt588.KeyLoaded(0x31, bytes.fromhex("08D7B4")))),
    (TX, zt588.build_command(zt588.StartPinEntry(0x40, zt588.PinFormat.ISO9564_0, 0, 4, PAN))),
    (RX, zt588.build_reply(zt588.Ack(0x36))),
    (RX, b"****\r"),
    (TX, zt588.build_command(zt588.GetPinBlock())),
    (RX, zt588.build_reply(zt588.PinBlockReply(0x37, 2, 4, BLOCK))),
    (TX, zt588.build_command(zt588.Control.misc(zt588.Misc.ENABLE_INPUT))),
    (RX, zt588.build_reply(zt588.ErrorReply(0xEE))),
    (RX, b"25.#\r"),
]


def test_the_reference_frames_decode(capsys: pytest.CaptureFixture[str]) -> None:
    status, entries, err = run(
        capsys, ["zt588", "02 30 30 31 33 03 30 31", "02 30 30 34 35 30 36 37 03 33 33"]
    )
    assert (status, err) == (0, "")
    assert entries[0]["command"] == {"name": "USER_INFO", "code": "3", "type": "QueryUserInfo"}
    # The reference labels the second "hex mode"; it is TEXT "5067", a MISC control.
    assert entries[1]["fields"] == {"sub": "MISC", "value": "67", "operation": None}
    status, entries, _ = run(capsys, ["zt588", "02 30 30 34 35 36 33 37 03 33 30"])
    assert entries[0]["fields"] == {"sub": "COMMUNICATION", "value": "37", "operation": "HEX"}


def test_a_spy_trace_decodes_with_replies_read_against_their_commands(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    trace = tmp_path / "spy.log"
    trace.write_text(spy_trace(SESSION))
    status, entries, err = run(capsys, ["zt588", f"@{trace}"])
    assert (status, err) == (0, "")
    kinds = [(e.get("direction"), e["kind"]) for e in entries]
    assert kinds[:4] == [(None, "note"), ("TX", "command"), ("RX", "reply"), ("TX", "command")]
    load, loaded, pin = entries[1], entries[2], entries[3]
    assert load["fields"] == {
        "slot": "80",
        "key_type": "IMK",
        "length": "DOUBLE",
        "key": "<16 bytes hidden>",
    }
    assert loaded["reply"] == "KeyLoaded"
    assert loaded["fields"] == {"head": "31", "kcv": "08D7B4"}
    assert pin["fields"]["pan"] == "476173******0010"
    assert pin["fields"]["format"] == "ISO9564_0"
    keys = [e for e in entries if e["kind"] == "key"]
    assert [k.get("value") for k in keys[:5]] == ["*", "*", "*", "*", None]
    assert [k.get("value") for k in keys[5:]] == ["2", "5", None, "00", None]
    assert keys[7]["key"] == "decPoint"
    block = next(e for e in entries if e.get("reply") == "PinBlockReply")
    assert block["fields"] == {"head": "37", "track": 2, "length": 4, "block": "<8 bytes hidden>"}
    error = next(e for e in entries if e["kind"] == "error")
    assert error["command"] == {"name": "CONTROL", "code": "5"}
    assert error["fields"] == {
        "error": "INPUT_TIMEOUT",
        "code": "EE",
        "description": "input timed out",
    }
    text = json.dumps(entries)
    for secret in (PAN, KEY.hex().upper(), BLOCK.hex().upper()):
        assert secret not in text
    status, revealed, _ = run(capsys, ["--reveal", "zt588", f"@{trace}"])
    text = json.dumps(revealed)
    assert status == 0
    for secret in (PAN, KEY.hex().upper(), BLOCK.hex().upper()):
        assert secret in text


def test_masked_spy_lines_are_reported_not_decoded(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    trace = tmp_path / "spy.log"
    trace.write_text(spy_trace(SESSION[:2], reveal=False))
    status, entries, _ = run(capsys, ["zt588", f"@{trace}"])
    assert status == 0
    assert entries[1] == {
        "protocol": "zt588",
        "capture": 2,
        "kind": "masked",
        "direction": "TX",
        "label": "LoadPlainKey",
        "size": 44,
    }
    assert entries[2]["reply"] == "Ack"  # the command was masked: the reply has no context


def test_a_clear_pin_request_is_flagged(capsys: pytest.CaptureFixture[str]) -> None:
    capture = _frame(b"640@004" + PAN.encode(), corrupt=False).hex()
    status, entries, _ = run(capsys, ["zt588", capture])
    assert status == 0
    fields = entries[0]["fields"]
    assert fields["clear_pin"] is True
    assert fields["format"] == "ASCII"
    assert fields["pan"] == "476173******0010"


def test_keys_from_the_pad_need_the_pad_direction(capsys: pytest.CaptureFixture[str]) -> None:
    status, entries, err = run(capsys, ["zt588", "31 32 0D"])
    assert status == 2
    assert "byte 0: 0x31 outside any frame (the host sends no key presses" in err
    status, entries, err = run(capsys, ["--from-device", "zt588", "31 32 0D"])
    assert status == 0
    assert [e["key"] for e in entries] == ["digit", "digit", "enter"]


@pytest.mark.parametrize(
    ("argv", "status", "message"),
    [
        (["zt588", "02 30 30 31 33 03 30 30"], 2, "CHK is 30 30, expected 30 31"),
        (["zt588", "02 30 78 31 33 03 30 30"], 2, "LEN is 30 78 31"),
        (["zt588", "02 30 30 31 33"], 2, "frame truncated: 5 of 8 bytes"),
        (["--from-device", "zt588", "FE"], 2, "byte 0: 1 bytes outside any frame"),
        (["zt588", "02 30 30 31 38 03 30 41"], 2, "unknown command 0x38"),
        (["zt588", "02 3"], 1, "input is not hex: odd digit count"),
        (["zt588", "zz"], 1, "non-hex character at digit 0"),
    ],
)
def test_bad_captures_stop_with_a_status(
    capsys: pytest.CaptureFixture[str], argv: list[str], status: int, message: str
) -> None:
    got, _, err = run(capsys, argv)
    assert got == status
    assert message in err
    assert len(err.splitlines()) == 1


def test_any_input_ends_in_a_status_not_a_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    argv_text = (
        st.binary(max_size=40)
        .filter(lambda raw: b"\x00" not in raw)
        .map(os.fsdecode)
        .filter(lambda text: not text.startswith(("@", "-")))
    )
    spy_lines = st.builds(
        lambda direction, body: f"x {direction} 7 NAME: {body}",
        st.sampled_from(["TX", "RX"]),
        zt588_streams | st.just("02 30 ** 03"),
    )

    @settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(
        st.lists(zt588_streams | zt588_streams | spy_lines | argv_text, min_size=1, max_size=3),
        st.sampled_from([[], ["--from-device"]]),
        st.booleans(),
    )
    def check(inputs: list[str], flags: list[str], reveal: bool) -> None:
        argv = [*flags, *(["--reveal"] if reveal else []), "zt588", "--", *inputs]
        status, out, err = _raw_run(capsys, argv)
        assert status in (0, 1, 2), (argv, status, err)
        assert "Traceback" not in err
        if status:
            assert len(err.splitlines()) == 1, err
            assert err.startswith("tellerhal decode: "), err
        else:
            assert err == ""
        if not reveal:
            assert PAN not in out + err
            assert KEY.hex().upper() not in out + err
            assert BLOCK.hex().upper() not in out + err

    check()


def _raw_run(capsys: pytest.CaptureFixture[str], argv: Sequence[str]) -> tuple[int, str, str]:
    try:
        status = main(["decode", *argv])
    except SystemExit as exit_:
        status = exit_.code if isinstance(exit_.code, int) else 2
    out, err = capsys.readouterr()
    return status, out, err
