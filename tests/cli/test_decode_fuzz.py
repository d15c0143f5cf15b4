"""``tellerhal decode`` on any input: an exit status of 0, 1 or 2, never a traceback.

Random text, random hex, and near-valid captures (well-formed frames around random
payloads, real tracks with a character changed) go through the real command line, in
every protocol and direction, with and without ``--reveal``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocols import tlv
from protocols.crt310 import Command, build_frame
from tellerhal.cli.decode import PROTOCOLS
from tellerhal.cli.main import main
from tests.cli.test_decode_crt591 import crt591_streams
from tests.cli.test_decode_escpos import escpos_streams
from tests.cli.test_decode_id003 import id003_streams
from tests.cli.test_decode_lcdm import lcdm_streams
from tests.cli.test_decode_mrz import mrz_lines
from tests.cli.test_decode_samv import cn_id_inputs, samv_streams
from tests.cli.test_decode_ssp import ssp_streams
from tests.cli.test_decode_zt588 import zt588_streams

PAN = "4761739001010010"

# What a shell can pass: any bytes but NUL, decoded as Python decodes argv.
argv_text = (
    st.binary(max_size=60)
    .filter(lambda raw: b"\x00" not in raw)
    .map(os.fsdecode)
    .filter(lambda text: not text.startswith(("@", "-")))  # a file name / an option
)
hex_text = st.binary(max_size=80).map(lambda raw: raw.hex(" "))
frames = st.builds(
    lambda cm, pm, data: build_frame(cm, pm, data).hex(" "),
    st.sampled_from(sorted({c.cm for c in Command} | {0x4E})) | st.integers(0, 0xFF),
    st.integers(0x2E, 0x3B) | st.integers(0, 0xFF),
    st.binary(max_size=40)
    | st.tuples(
        # P status bytes, a track reply's mode + selector + block head (ASCII, binary).
        st.sampled_from([b"Y", b"Z", b"N", b"\x31\x37", b"\x30\x32\x1fY", b"\x31\x31\x1fY"]),
        st.binary(max_size=30) | st.binary(max_size=15).map(lambda b: b.hex().upper().encode()),
    ).map(b"".join),
)
streams = st.lists(frames | st.sampled_from(["06", "15", "05", "04"]) | hex_text, max_size=4).map(
    " ".join
)
tlv_trees = st.recursive(
    st.builds(
        tlv.Tlv, st.sampled_from([0x5A, 0x57, 0x5F20, 0x50, 0x9F38, 0x82]), st.binary(max_size=20)
    ),
    lambda kids: st.builds(
        lambda tag, items: tlv.Tlv(tag, tlv.build(items)),
        st.sampled_from([0x70, 0x77, 0x6F, 0xA5, 0x61]),
        st.lists(kids, max_size=3),
    ),
    max_leaves=6,
)
tlv_hex = st.tuples(st.lists(tlv_trees, max_size=3), st.binary(max_size=3)).map(
    lambda parts: (tlv.build(parts[0]) + parts[1]).hex()
)
REAL_TRACKS = {
    "track1": f"%B{PAN}^DOE/JOHN^2812201100?",
    "track2": f";{PAN}=28122011000?",
    "track3": f"01{PAN}==",
}


def tracks(protocol: str) -> st.SearchStrategy[str]:
    """The protocol's real track, as is or with one character changed."""
    text = REAL_TRACKS[protocol]
    changed = st.tuples(st.integers(0, len(text)), st.characters(max_codepoint=0x7F)).map(
        lambda cut: text[: cut[0]] + cut[1] + text[cut[0] + 1 :]
    )
    return st.just(text) | changed


def mostly(
    near_valid: st.SearchStrategy[str], *others: st.SearchStrategy[str]
) -> st.SearchStrategy[str]:
    """Near-valid input three times as often as each other kind."""
    return st.one_of(near_valid, near_valid, near_valid, *others)


INPUTS = {
    "crt310": mostly(streams, argv_text),
    "crt591": mostly(crt591_streams, argv_text),
    "zt588": mostly(zt588_streams, argv_text),
    "lcdm": mostly(lcdm_streams, argv_text),
    "ssp": mostly(ssp_streams, argv_text),
    "id003": mostly(id003_streams, argv_text),
    "samv": mostly(samv_streams, argv_text),
    "cn-id": mostly(cn_id_inputs, argv_text),
    "mrz": mostly(mrz_lines, argv_text),
    "escpos": mostly(escpos_streams, hex_text, argv_text),
    "track1": mostly(tracks("track1"), argv_text),
    "track2": mostly(tracks("track2"), argv_text),
    "track3": mostly(tracks("track3"), argv_text),
    "tlv": mostly(tlv_hex, hex_text, argv_text),
    "apdu": mostly(
        st.one_of(hex_text, tlv_hex.map(lambda h: "00B2010C00" + h + "9000")),
        tlv_hex.map(lambda h: h + "9000"),
        argv_text,
    ),
}
FLAGS = {
    "crt310": [[], ["--from-device"]],
    "crt591": [[]],
    "zt588": [[], ["--from-device"]],
    "lcdm": [[], ["--model", "2000"], ["--model", "4000"]],
    "ssp": [[], ["--from-device"]],
    "id003": [[], ["--from-device"]],
    "samv": [[]],
    "cn-id": [[]],
    "mrz": [[]],
    "escpos": [[]],
    "track1": [[], ["--hex"]],
    "track2": [[], ["--hex"]],
    "track3": [[], ["--hex"]],
    "tlv": [[]],
    "apdu": [[], ["--response"]],
}


def run(capsys: pytest.CaptureFixture[str], argv: Sequence[str]) -> tuple[int, str, str]:
    try:
        status = main(["decode", *argv])
    except SystemExit as exit_:  # argparse refusing the arguments
        status = exit_.code if isinstance(exit_.code, int) else 2
    out, err = capsys.readouterr()
    return status, out, err


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_any_input_ends_in_a_status_not_a_traceback(
    protocol: str, capsys: pytest.CaptureFixture[str]
) -> None:
    @settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(
        st.lists(INPUTS[protocol], min_size=1, max_size=2),
        st.sampled_from(FLAGS[protocol]),
        st.booleans(),
    )
    def check(inputs: list[str], flags: list[str], reveal: bool) -> None:
        if "--hex" in flags:
            inputs = [text.encode("utf-8", "surrogateescape").hex() for text in inputs]
        argv = [*flags, *(["--reveal"] if reveal else []), protocol, "--", *inputs]
        status, out, err = run(capsys, argv)
        assert status in (0, 1, 2), (argv, status, err)
        assert "Traceback" not in err
        if status:
            assert len(err.splitlines()) == 1, err
            assert err.startswith("tellerhal decode: "), err
        else:
            assert err == ""
        if not reveal:
            assert PAN not in out + err

    check()
