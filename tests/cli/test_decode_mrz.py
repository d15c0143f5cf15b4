"""``tellerhal decode mrz``: the ICAO 9303 (7th edition) specimens (fictional ERIKSSON
ANNA MARIA of Utopia) as arguments and from a file, masking, --reveal, failed check
digits and malformed MRZs ending in one stderr line and exit 2, any text fuzzed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tellerhal.cli.main import main

TD3 = (
    "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
    "L898902C36UTO7408122F1204159ZE184226B<<<<<10",
)
TD1 = (
    "I<UTOD231458907<<<<<<<<<<<<<<<",
    "7408122F1204159UTO<<<<<<<<<<<6",
    "ERIKSSON<<ANNA<MARIA<<<<<<<<<<",
)
_LINES = (*TD3, *TD1)
#: Near-valid MRZ lines (a specimen line, maybe with one character changed): what the
#: every-protocol fuzz (tests/cli/test_decode_fuzz.py) feeds the mrz decoder.
mrz_lines = st.tuples(
    st.sampled_from(_LINES), st.integers(0, 44), st.characters(max_codepoint=0x7F)
).map(lambda cut: cut[0][: cut[1]] + cut[2] + cut[0][cut[1] + 1 :]) | st.sampled_from(_LINES)
SECRETS = ("ERIKSSON", "ANNA", "MARIA", "L898902C3", "D23145890", "740812", "ZE184226B")


def run(capsys: pytest.CaptureFixture[str], argv: Sequence[str]) -> tuple[int, list[Any], str]:
    try:
        status = main(["decode", *argv])
    except SystemExit as exit_:
        status = exit_.code if isinstance(exit_.code, int) else 2
    out, err = capsys.readouterr()
    return status, [json.loads(line) for line in out.splitlines()], err


def test_td3_masked(capsys: pytest.CaptureFixture[str]) -> None:
    status, entries, err = run(capsys, ["mrz", *TD3])
    assert (status, err) == (0, "")
    (entry,) = entries
    assert entry["protocol"] == "mrz"
    assert entry["format"] == "TD3"
    assert entry["valid"] is True
    fields = entry["fields"]
    assert fields["document_code"] == "P"
    assert fields["issuer"] == fields["nationality"] == "UTO"
    assert fields["primary_identifier"] == "E*******"
    assert fields["secondary_identifier"] == "A*** M****"
    assert fields["document_number"] == "L*******3"
    assert fields["birth_date"] == "<6 characters hidden>"
    assert fields["expiry_parsed"] == "2012-04-15"
    assert fields["sex"] == "F"
    assert [c["field"] for c in entry["checks"]] == [
        "document_number",
        "birth_date",
        "expiry",
        "optional_data",
        "composite",
    ]
    assert all(c["ok"] for c in entry["checks"])
    assert "lines" not in entry
    text = json.dumps(entries)
    for secret in SECRETS:
        assert secret not in text


def test_td1_from_a_file_revealed(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "mrz.txt"
    path.write_text("# a TD1 specimen\n" + "\n".join(TD1) + "\n\n", "utf-8")
    status, entries, err = run(capsys, ["mrz", "--reveal", f"@{path}"])
    assert (status, err) == (0, "")
    (entry,) = entries
    assert entry["format"] == "TD1"
    assert entry["fields"]["primary_identifier"] == "ERIKSSON"
    assert entry["fields"]["secondary_identifier"] == "ANNA MARIA"
    assert entry["fields"]["document_number"] == "D23145890"
    assert entry["fields"]["birth_date_parsed"] == "1974-08-12"
    assert entry["lines"] == list(TD1)


def test_failed_check_digit_prints_then_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    bad = (TD3[0], TD3[1][:19] + "3" + TD3[1][20:])
    status, entries, err = run(capsys, ["mrz", *bad])
    assert status == 2
    (entry,) = entries
    assert entry["valid"] is False
    failed = [c for c in entry["checks"] if not c["ok"]]
    assert [c["field"] for c in failed] == ["birth_date", "composite"]
    assert failed[0]["detail"] == "check digit is '3', expected '2'"
    assert err.strip() == "tellerhal decode: mrz: MRZ check digits failed: birth_date, composite"
    for secret in SECRETS:
        assert secret not in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([TD3[0]], "not an MRZ: an MRZ is 3 lines of 30, 2 lines of 36 or 2 lines of 44"),
        ([TD3[0], TD3[1][:-1]], "got 2 line(s) of 44, 43 characters"),
        ([TD3[0], TD3[1].lower()], "MRZ line 2 has a character outside A-Z, 0-9 and '<' at"),
    ],
)
def test_malformed_exits_2_with_a_clear_message(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    status, entries, err = run(capsys, ["mrz", *argv])
    assert (status, entries) == (2, [])
    assert err.startswith("tellerhal decode: mrz: ")
    assert message in err
    for secret in SECRETS:
        assert secret not in err
    assert err.count("\n") == 1


def test_missing_file_exits_1(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    status, entries, err = run(capsys, ["mrz", f"@{tmp_path / 'none.txt'}"])
    assert (status, entries) == (1, [])
    assert "cannot read" in err


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.text(alphabet="ABCZ0129<", min_size=29, max_size=45) | st.text(max_size=50),
        min_size=1,
        max_size=4,
    ).filter(lambda lines: all(line.strip() and not line.startswith("@") for line in lines))
)
def test_fuzz_exits_cleanly(capsys: pytest.CaptureFixture[str], lines: list[str]) -> None:
    status, entries, err = run(capsys, ["mrz", "--", *lines])
    assert status in (0, 2)
    if status == 0:
        assert len(entries) == 1
        assert err == ""
    else:
        assert err.startswith("tellerhal decode: mrz: ")
