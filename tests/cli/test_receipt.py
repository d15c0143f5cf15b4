"""``tellerhal receipt render``: inputs like ``tellerhal decode`` (hex, @FILE, a binary
file, stdin), PNG at 576/384 dots, the text form, truncated streams."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from escpos.printer import Dummy
from PIL import Image

from protocols import escpos
from protocols.print_document import Align, Cut, Document, Line, QrCode
from tellerhal.cli.main import main

DOC = Document(
    (
        Line.of("中国银行 回单", align=Align.CENTER, double_width=True),
        Line.of("取款 Withdrawal      100.00"),
        QrCode("TXN:0001", 4),
        Cut(),
    )
)
STREAM = escpos.encode(DOC)
EXPECTED = [
    " " * 11 + "中  国  银  行    回  单  ",
    "取款 Withdrawal      100.00",
    "[QR: TXN:0001]",
    "[CUT]",
]


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    status = main(["receipt", "render", *argv])
    out, err = capsys.readouterr()
    return status, out, err


def test_hex_input_png_and_text(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    png = tmp_path / "r.png"
    status, out, err = _run([STREAM.hex(" "), "-o", str(png), "--text"], capsys)
    assert status == 0, err
    assert out.splitlines() == EXPECTED
    assert err == ""
    with Image.open(png) as image:
        assert image.mode == "1"
        assert image.width == 576
        assert (np.asarray(image.convert("L")) == 0).any()


def test_input_forms_give_the_same_png(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    half = len(STREAM) // 2
    hexfile = tmp_path / "job.hex"
    hexfile.write_text(f"# a capture\n{STREAM[:half].hex(':')}\n\n{STREAM[half:].hex()}\n")
    binary = tmp_path / "job.bin"
    binary.write_bytes(STREAM)
    pngs = []
    for index, inputs in enumerate(
        ([STREAM.hex()], [f"@{hexfile}"], [str(binary)], [STREAM[:half].hex(), STREAM[half:].hex()])
    ):
        png = tmp_path / f"{index}.png"
        status, _, err = _run([*inputs, "-o", str(png)], capsys)
        assert status == 0, err
        pngs.append(png.read_bytes())
    assert all(p == pngs[0] for p in pngs)


def test_width_384(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    png = tmp_path / "r.png"
    status, out, _ = _run([STREAM.hex(), "-o", str(png), "--width", "384", "--text"], capsys)
    assert status == 0
    assert out.splitlines()[0] == " " * 3 + "中  国  银  行    回  单  "
    with Image.open(png) as image:
        assert image.width == 384


def test_python_escpos_binary_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = Dummy(profile="TM-T88III")
    p.set(align="center", bold=True)
    p.text("SMART TELLER\n")
    p.barcode("4006381333931", "EAN13")
    p.qr("TXN:0002", native=True)
    p.cut(mode="PART")
    job = tmp_path / "job.bin"
    job.write_bytes(p.output)
    capsys.readouterr()  # python-escpos says which barcode renderer it used
    status, out, err = _run([str(job), "--text"], capsys)
    assert status == 0, err
    lines = out.splitlines()
    assert lines[:3] == [" " * 18 + "SMART TELLER", "[EAN13: 4006381333931]", "[QR: TXN:0002]"]
    assert lines[-1] == "[PARTIAL CUT]"


def test_truncated_stream_exit_2_png_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    png = tmp_path / "r.png"
    cut_short = STREAM[: STREAM.index(b"\x1d(k") + 6]
    status, out, err = _run([cut_short.hex(), "-o", str(png), "--text"], capsys)
    assert status == 2
    assert out.splitlines() == EXPECTED[:2]
    assert "truncated" in err
    assert "GS ( k" in err
    assert "rendered what came before it" in err
    with Image.open(png) as image:
        assert image.height == 60  # the two lines that came, 30 dots each


def test_empty_bit_image_renders_with_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    png = tmp_path / "x.png"
    status, out, err = _run(["1b2a000000", "-o", str(png)], capsys)
    assert out == ""
    assert status == 0, err
    assert "warning: empty image (0x8 dots): nothing printed" in err
    with Image.open(png) as image:
        assert image.width == 576


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["1b 4", "--text"], "odd digit count"),
        (["zz", "--text"], "non-hex character at digit 0"),
        (["@/nonexistent/job.hex", "--text"], "cannot read"),
        (["1b40"], "give -o PNG and/or --text"),
    ],
)
def test_bad_input_exit_1(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = _run(argv, capsys)
    assert status == 1
    assert out == ""
    assert message in err


def test_raw_stdin(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    class _Stdin:
        buffer = io.BytesIO(STREAM)

    monkeypatch.setattr(sys, "stdin", _Stdin())
    status, out, _ = _run(["-", "--text"], capsys)
    assert status == 0
    assert out.splitlines() == EXPECTED


def test_console_script_help() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tellerhal.cli.main", "receipt", "render", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0
    assert "@FILE" in done.stdout
    assert "--width" in done.stdout
