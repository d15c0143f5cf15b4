"""The README's examples run, and its two set-up commands are the ones that work."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

from simulator.id_profiles import document_profile

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.S)


def _run(example: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "example.py"
    script.write_text(example, encoding="utf-8")
    return subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        check=False,
    )


def test_the_app_developer_example_runs(tmp_path: Path) -> None:
    example = _blocks("python")[0]
    done = _run(example, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "status='ok'" in done.stdout
    assert "SW 9000" in done.stdout
    assert "InsertCard 1" in done.stdout
    assert "4761739001010010" not in done.stdout  # the test card's PAN never printed


def test_the_pin_pad_example_runs_and_the_host_recovers_the_pin(tmp_path: Path) -> None:
    example = _blocks("python")[1]
    done = _run(example, tmp_path)
    assert done.returncode == 0, done.stderr  # its last line checks the block's PIN
    assert "PinEntryResult(digits=4, completion=<EntryCompletion.ENTER" in done.stdout
    assert "PinBlock(format='iso0', block=<8 bytes>)" in done.stdout
    assert "4729" not in done.stdout


def test_the_cash_example_runs_and_every_note_is_where_the_books_say(tmp_path: Path) -> None:
    example = _blocks("python")[2]
    done = _run(example, tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "{'unit1': 3, 'unit2': 1, 'unit3': 1, 'unit4': 1}"
    assert "unit1 497 3" in lines
    truth = ast.literal_eval(lines[-1])
    books = dict(line.split()[:2] for line in lines[1:-1])
    for unit, count in books.items():
        assert truth[unit] == int(count), (unit, truth, books)
    assert truth["customer"] == 6


def test_the_cash_in_example_runs_and_stores_what_it_credits(tmp_path: Path) -> None:
    example = _blocks("python")[3]
    done = _run(example, tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "{'CNY:10000': 2} ['invalidBill']"
    assert lines[1] == "{'CNY': Money.of(Decimal('200.00'), 'CNY')}"
    assert "recycle100 2 2" in lines
    truth = ast.literal_eval(lines[-1])
    books = dict(line.split()[:2] for line in lines[2:-1])
    for unit, count in books.items():
        assert truth[unit] == int(count), (unit, truth, books)
    assert truth["customer"] == -2  # the customer gave two notes in; the third came back
    assert truth["escrow"] == 0


def test_the_identity_example_reads_a_document_and_asks_for_one_retake(tmp_path: Path) -> None:
    example = _blocks("python")[4]
    done = _run(example, tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("IdentityDocument(kind='cnResidentId', name='")
    assert lines[0].endswith("valid=True)")
    assert lines[1] == (
        "[('idNumberCheck', True), ('birthDateMatchesNumber', True), "
        "('sexMatchesNumber', True), ('notExpired', True)]"
    )
    assert lines[2] == "False ['blurred'] Please hold still for the photo."
    assert lines[3] == "True"
    resident = document_profile("resident").expected
    assert resident is not None
    assert resident.name not in done.stdout  # masked only
    assert resident.document_number not in done.stdout


def test_the_printer_example_prints_a_receipt_and_saves_its_picture(tmp_path: Path) -> None:
    example = _blocks("python")[5]
    done = _run(example, tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("PrintResult(blocks=5, total_blocks=5, bytes_sent=")
    assert lines[0].endswith("complete=True)")
    assert lines[1] == " " * 17 + "TELLERHAL BANK"
    assert lines[2] == "取款 Withdrawal            380.00 CNY"
    assert lines[3] == "[QR: https://bank.example/r/TXN0001]"
    assert lines[4] == "[CODE128: TXN0001]"
    assert "[CUT]" in lines
    assert (tmp_path / "receipt.png").read_bytes().startswith(b"\x89PNG")


def test_there_are_six_python_examples() -> None:
    assert len(_blocks("python")) == 6


def test_exactly_two_setup_commands_demo_and_ci() -> None:
    (setup,) = [b for b in _blocks("sh") if "tellerhal demo" in b]
    commands = [line for line in setup.splitlines() if line and not line.startswith("#")]
    assert len(commands) == 2
    assert commands[0].endswith("tellerhal demo")
    assert commands[1] == "./.ci/run"
    assert (ROOT / ".ci" / "run").stat().st_mode & 0o111, ".ci/run must be executable"
