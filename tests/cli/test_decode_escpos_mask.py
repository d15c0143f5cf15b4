"""``tellerhal decode escpos`` masks card numbers as receipts print them: grouped by
spaces or dashes, split across text runs by a style change, and track 2's tail after
'='; ``--reveal`` shows them all."""

from __future__ import annotations

import argparse
import itertools
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocols.escpos import encode
from protocols.print_document import Barcode, Document, Line, QrCode, TextRun
from tellerhal.cli.decode.escpos import decode_escpos
from tellerhal.cli.main import main

PAN = "4761739001010010"
SHOWN = "476173******0010"


def decode(capsys: pytest.CaptureFixture[str], document: Document, *flags: str) -> list[Any]:
    assert main(["decode", *flags, "escpos", encode(document).hex()]) == 0
    out, _ = capsys.readouterr()
    return [json.loads(line) for line in out.splitlines()]


def texts(entries: list[Any]) -> list[str]:
    return [e["text"] for e in entries if e["kind"] == "text"]


@pytest.mark.parametrize("sep", [" ", "-"])
def test_grouped_numbers_are_masked_keeping_the_separators(
    capsys: pytest.CaptureFixture[str], sep: str
) -> None:
    grouped = sep.join(PAN[i : i + 4] for i in range(0, 16, 4))
    entries = decode(capsys, Document((Line.of(f"CARD {grouped} EUR 12.50"),)))
    assert texts(entries) == [f"CARD 4761{sep}73**{sep}****{sep}0010 EUR 12.50"]
    entries = decode(capsys, Document((Line.of(f"CARD {grouped}"),)), "--reveal")
    assert texts(entries) == [f"CARD {grouped}"]


def test_a_number_split_by_a_style_change_is_masked(capsys: pytest.CaptureFixture[str]) -> None:
    line = Line((TextRun("CARD 4761 7390 0"), TextRun("101 0010", bold=True)))
    entries = decode(capsys, Document((line,)))
    assert texts(entries) == ["CARD 4761 73** *", "*** 0010"]
    assert PAN[6:12] not in json.dumps(entries).replace(" ", "")
    entries = decode(capsys, Document((line,)), "--reveal")
    assert texts(entries) == ["CARD 4761 7390 0", "101 0010"]


def test_runs_of_different_lines_are_not_joined(capsys: pytest.CaptureFixture[str]) -> None:
    # Two lines that would make a valid number only if joined stay as they are.
    entries = decode(capsys, Document((Line.of(PAN[:8]), Line.of(PAN[8:]))))
    assert texts(entries) == [PAN[:8], PAN[8:]]


def test_track_2_data_after_the_number_is_masked(capsys: pytest.CaptureFixture[str]) -> None:
    track = f";{PAN}=25121011234567890?"
    document = Document((Line.of(track), Barcode("X" + PAN + "=2512101"), QrCode(track)))
    entries = decode(capsys, document)
    shown = json.dumps(entries)
    assert texts(entries) == [f";{SHOWN}={'*' * 17}?"]
    assert "2512101" not in shown
    assert "1234567890" not in shown
    assert f"X{SHOWN}=*******" in shown
    revealed = json.dumps(decode(capsys, document, "--reveal"))
    assert track.replace("?", "") in revealed
    assert "X" + PAN + "=2512101" in revealed


def test_numbers_failing_luhn_stay(capsys: pytest.CaptureFixture[str]) -> None:
    other = PAN[:-1] + "1"  # the check digit wrong: not a card number
    text = " ".join(other[i : i + 4] for i in range(0, 16, 4)) + " 2026-11-29 12:00"
    assert texts(decode(capsys, Document((Line.of(text),)))) == [text]


@settings(max_examples=60, deadline=None)
@given(
    cuts=st.lists(st.integers(1, 15), max_size=3, unique=True),
    seps=st.lists(st.sampled_from(["", " ", "-"]), min_size=15, max_size=15),
    splits=st.lists(st.integers(0, 40), max_size=3),
)
def test_any_grouping_and_run_split_is_masked(
    cuts: list[int], seps: list[str], splits: list[int]
) -> None:
    # The PAN with a separator ('', space or dash) at up to three places.
    text = "PAY " + "".join(d + (seps[i] if i + 1 in cuts else "") for i, d in enumerate(PAN))
    bounds = sorted({min(at, len(text)) for at in splits} | {0, len(text)})
    runs = tuple(
        TextRun(text[a:b], bold=i % 2 == 1) for i, (a, b) in enumerate(itertools.pairwise(bounds))
    )
    capture = encode(Document((Line(runs),)))
    entries = list(decode_escpos(capture, argparse.Namespace(reveal=False)))
    shown = "".join(texts(entries))
    assert len(shown) == len(text)
    digits = "".join(c for c in shown if c.isdigit() or c == "*")
    assert digits == SHOWN
