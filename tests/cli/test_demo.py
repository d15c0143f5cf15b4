"""``tellerhal demo``: the main job runs end to end, fast under a clock scale, PAN masked;
the identity check first (ID card read and checked, masked; a blurred photo retaken)."""

from __future__ import annotations

import asyncio
import io
import subprocess
import sys
from pathlib import Path

import pytest

from hal.devices.camera import QualityProblem
from hal.devices.id_scanner import DocumentKind, mask_name, mask_number
from hal.money import Money
from protocols import pinblock
from protocols.crypto_primitives import Algorithm
from protocols.kcv import compute_kcv
from simulator.id_profiles import document_profile, document_profile_names
from simulator.scenario import load_scenario
from tellerhal.cli.main import main
from tellerhal.demo import TEST_KEK_COMPONENTS, TEST_PIN_KEY, WITHDRAWAL, run_demo

FULL_PAN = "4761739001010010"  # the visa test profile's PAN (simulator/profiles/visa.toml)


def test_demo_reads_stripe_and_chip_and_returns_the_card(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["demo", "--clock-scale", "0.01"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert "476173******0010" in out
    assert FULL_PAN not in out
    assert "TEST/VISA" not in out  # no cardholder name
    assert "chip and stripe agree on the PAN" in out
    # The events arrive in the XFS4IoT order.
    order = [
        next(i for i, line in enumerate(lines) if marker in line)
        for marker in ("InsertCard (command", "MediaInserted (command", "MediaRemoved")
    ]
    assert order == sorted(order)
    assert "the customer took the card" in out
    # Then a new card is issued from the stacker, and the customer takes it too.
    assert "here is your new card" in out
    assert "new card issued; the stacker's books: 99 of 100" in out
    assert out.count("MediaRemoved") == 2
    assert lines[-1].split()[-1] == "hal"  # the closing line


def test_demo_refuses_a_bad_clock_scale(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--clock-scale", "0"]) == 2
    assert "--clock-scale must be > 0" in capsys.readouterr().err


def test_demo_with_an_unknown_scenario_names_the_problem(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["demo", "--scenario", "no-such-scenario"]) == 1
    err = capsys.readouterr().err
    assert "no-such-scenario" in err
    assert len(err.strip().splitlines()) == 1


def test_demo_runs_as_the_console_script(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tellerhal", "demo", "--clock-scale", "0.01"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "chip and stripe agree" in done.stdout
    assert FULL_PAN not in done.stdout + done.stderr


def test_demo_with_a_forgetful_customer_ends_with_the_card_captured(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["demo", "--scenario", "forgetful", "--clock-scale", "0.002"]) == 0
    out = capsys.readouterr().out
    assert "the customer left the card: the reader moved it to retain" in out
    assert "CardAction" in out
    assert "new card" not in out  # nobody is there to take one


# --- the PIN entry ---------------------------------------------------------------------


def _demo_pin() -> str:
    (step,) = [s for s in load_scenario("demo").customer if s.action == "type_pin"]
    assert step.pin is not None
    return step.pin


def test_the_customer_types_a_pin_and_only_its_block_comes_out(
    capsys: pytest.CaptureFixture[str],
) -> None:
    result = asyncio.run(run_demo(clock_scale=0.01))
    out = capsys.readouterr().out
    pin = _demo_pin()
    assert result.pin_pad
    assert result.pin_digits == len(pin)
    # The block the app got is the customer's PIN under the demo's PIN key, for the PAN.
    assert pinblock.decipher_pin_block(0, TEST_PIN_KEY, result.pin_block, FULL_PAN) == pin
    assert f"PIN entry ended by enter: {len(pin)} digits" in out
    kcv = compute_kcv(Algorithm.TDES, TEST_PIN_KEY).hex().upper()
    assert f"PIN block: 8 bytes, ISO-0 enciphered under the PIN key (KCV {kcv})" in out
    lines = out.splitlines()
    entered = [i for i, line in enumerate(lines) if "KeyEvent" in line]
    assert len(entered) == len(pin) + 1  # the digits, then enter
    ready = next(i for i, line in enumerate(lines) if "EnterData" in line)
    assert ready < entered[0]
    # The PIN is typed by the scenario's customer and printed nowhere, in no form; the
    # keys and the components are printed only as check values.
    assert pin not in out
    assert pin.encode().hex() not in out.lower()
    assert " ".join(pin) not in out
    kek = bytes(a ^ b for a, b in zip(*TEST_KEK_COMPONENTS, strict=True))
    for key in (*TEST_KEK_COMPONENTS, kek, TEST_PIN_KEY, result.pin_block):
        assert key.hex() not in out.lower()
    # The card comes back after the PIN, as before.
    taken = next(i for i, line in enumerate(lines) if "the customer took the card" in line)
    assert entered[-1] < taken


def test_a_scenario_without_a_pin_pad_asks_for_no_pin(
    capsys: pytest.CaptureFixture[str],
) -> None:
    result = asyncio.run(run_demo(scenario="forgetful", clock_scale=0.002))
    out = capsys.readouterr().out
    assert not result.pin_pad
    assert result.pin_block == b""
    assert "pin_entry" not in out


def test_the_demo_result_repr_shows_no_pin_block() -> None:
    result = asyncio.run(run_demo(clock_scale=0.01, out=io.StringIO()))
    assert result.pin_block
    assert result.pin_block.hex() not in repr(result).lower()
    assert repr(result.pin_block)[2:-1] not in repr(result)


# --- the withdrawal --------------------------------------------------------------------


def test_the_customer_withdraws_cash_and_the_books_follow_every_note(
    capsys: pytest.CaptureFixture[str],
) -> None:
    result = asyncio.run(run_demo(clock_scale=0.01))
    out = capsys.readouterr().out
    assert result.withdrawn == WITHDRAWAL
    # 380.00 CNY in the fewest notes of 100/50/20/10: 3 + 1 + 1 + 1.
    assert result.notes_taken == 6
    assert result.cash_books == {
        "unit1": 497,
        "unit2": 499,
        "unit3": 499,
        "unit4": 499,
        "reject": 0,
        "retract": 0,
    }
    assert "380.00 CNY paid out in 6 notes" in out
    order = [out.index(e) for e in ("StartDispense", "ItemsPresented", "ItemsTaken")]
    assert order == sorted(order)
    # Card first, then cash, then the new card (the customer's steps in that order).
    assert out.index("the customer took the card") < out.index("ItemsTaken")
    assert out.index("ItemsTaken") < out.index("here is your new card")


# --- the deposit -------------------------------------------------------------------------


def test_the_customer_deposits_notes_and_the_foreign_one_is_given_back(
    capsys: pytest.CaptureFixture[str],
) -> None:
    result = asyncio.run(run_demo(clock_scale=0.01))
    out = capsys.readouterr().out
    # Two 100s and a 50 go in; the note no reader knows comes back at once.
    assert result.deposited == Money(25000, "CNY")
    assert result.deposit_refused == 1
    # Fit notes go to the recyclers of their value: the dispenser side can pay them out.
    assert result.deposit_books == {"cashin": 0, "recycle100": 2, "recycle50": 1, "retract": 0}
    assert "250.00 CNY deposited" in out
    order = [out.index(e) for e in ("InsertItems", "InputRefuse", "SubCashIn", "cash_in_end")]
    assert order == sorted(order)
    # Cash out first, then the deposit, then the new card.
    assert out.index("ItemsTaken") < out.index("InsertItems")
    assert out.index("cash_in_end") < out.index("here is your new card")


# --- the identity check ------------------------------------------------------------------


def _personal_strings() -> list[str]:
    """Every name and number of every synthetic document, and the demo card's PAN."""
    found = [FULL_PAN]
    for name in document_profile_names():
        document = document_profile(name).expected
        if document is None:
            continue
        for value in (document.name, document.name_latin, document.document_number):
            if len(value) >= 2:
                found.append(value)
        found.extend(document.mrz)
    return found


def test_the_customer_proves_who_they_are_first_with_one_retake(
    capsys: pytest.CaptureFixture[str],
) -> None:
    result = asyncio.run(run_demo(clock_scale=0.01))
    out = capsys.readouterr().out
    identity = result.identity
    assert identity is not None
    resident = document_profile("resident").expected
    assert resident is not None
    # The document: read, checked, shown masked.
    assert identity.kind is DocumentKind.CN_RESIDENT_ID
    assert identity.masked_name == mask_name(resident.name)
    assert identity.masked_number == mask_number(resident.document_number)
    assert identity.document_valid
    assert dict(identity.checks) == {
        "idNumberCheck": True,
        "birthDateMatchesNumber": True,
        "sexMatchesNumber": True,
        "notExpired": True,
    }
    assert identity.photo_bytes == 1024
    assert (
        f"China resident ID card: name {mask_name(resident.name)}, number "
        f"{mask_number(resident.document_number)}, wlt photo, 1024 bytes" in out
    )
    assert (
        "checks: idNumberCheck ok, birthDateMatchesNumber ok, sexMatchesNumber ok, "
        "notExpired ok; the document is valid" in out
    )
    # The photo: the first is blurred, the app asks for a retake, the retake passes.
    assert [v.ok for v in identity.verdicts] == [False, True]
    assert identity.verdicts[0].problems == (QualityProblem.BLURRED,)
    assert "-> retake (blurred)" in out
    assert f"retake: {identity.verdicts[0].advice}" in out
    assert "retake: Please hold still for the photo." in out
    assert identity.passed
    assert "identity check passed: document ok, photo ok" in out
    # In this order, and all before the card.
    lines = out.splitlines()
    order = [
        next(i for i, line in enumerate(lines) if marker in line)
        for marker in (
            "InsertDocument (command",
            "DocumentInserted (command",
            "read_document returned",
            "DocumentRemoved",
            "take_picture(person): picture 1",
            "retake: Please hold still",
            "take_picture(person): picture 2",
            "identity check passed",
            "InsertCard (command",
        )
    ]
    assert order == sorted(order)


def test_no_full_name_or_number_appears_anywhere_in_the_demo(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tellerhal", "demo", "--clock-scale", "0.01"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "identity check passed" in done.stdout
    text = done.stdout + done.stderr
    for secret in _personal_strings():
        assert secret not in text
    resident = document_profile("resident").expected
    assert resident is not None
    assert resident.address not in text
    assert resident.birth_date is not None
    assert resident.birth_date.isoformat() not in text
    assert resident.birth_date.strftime("%Y%m%d") not in text


# --- the receipt -------------------------------------------------------------------------


def test_the_demo_ends_with_the_receipt_printed_and_its_picture_saved(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from PIL import Image

    png = tmp_path / "receipt.png"
    assert main(["demo", "--clock-scale", "0.01", "--receipt-png", str(png)]) == 0
    out = capsys.readouterr().out
    assert "print_document(receipt TXN" in out
    assert f"receipt picture saved: {png}" in out
    assert "journal: print_document(5 lines)" in out
    assert "the customer took the receipt" in out  # the scenario's last step
    order = [out.index(e) for e in ("MediaPresented", "MediaTaken", "receipt picture saved")]
    assert order == sorted(order)
    assert out.index("here is your new card") < out.index("print_document(receipt")
    assert png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    with Image.open(png) as picture:
        assert picture.format == "PNG"
        assert picture.width == 576
        assert picture.height > 400


def test_the_receipt_shows_the_lines_sent(tmp_path: Path) -> None:
    result = asyncio.run(
        run_demo(clock_scale=0.01, out=io.StringIO(), receipt_png=tmp_path / "r.png")
    )
    receipt = result.receipt
    assert receipt is not None
    shown = [line.strip() for line in receipt.text.splitlines()]
    # Every line the app sent is on the paper, as sent (centred ones padded, not changed).
    assert receipt.lines
    for sent in receipt.lines:
        assert sent.strip() in shown, (sent, shown)
    assert "TELLERHAL BANK" in shown
    assert "谢谢惠顾，欢迎再次光临" in shown
    assert "Card 476173******0010" in shown
    assert any(line.startswith("Withdrawal") and line.endswith("380.00 CNY") for line in shown)
    assert any(line.startswith("Deposit") and line.endswith("250.00 CNY") for line in shown)
    assert f"[QR: https://bank.example/r/{receipt.reference}]" in shown
    assert f"[CODE128: {receipt.reference}]" in shown
    assert shown[-1] == "[CUT]"
    assert FULL_PAN not in receipt.text
    # Chinese counts two columns: the centred line's padding is half of 48 - 2 x 11.
    (chinese,) = [line for line in receipt.text.splitlines() if "谢谢" in line]
    assert chinese.startswith(" " * ((48 - 22) // 2) + "谢")
    assert receipt.journal_lines[1] == "  card 476173******0010"
    assert receipt.taken
    assert receipt.journal_lines[-1] == "  receipt taken"


def test_the_demo_prints_the_receipt_text_form(capsys: pytest.CaptureFixture[str]) -> None:
    result = asyncio.run(run_demo(clock_scale=0.01, receipt_png=None))
    out = capsys.readouterr().out
    receipt = result.receipt
    assert receipt is not None
    text_lines = receipt.text.splitlines()
    assert len(text_lines) > 10
    said = [line.split("receipt  | ", 1)[1] for line in out.splitlines() if "receipt  | " in line]
    assert said == text_lines  # each line of the paper's text form, in order, as printed
    assert any(line.strip() == "Card 476173******0010" for line in said)  # masked as printed
    assert any("谢谢惠顾，欢迎再次光临" in line for line in said)
    assert FULL_PAN not in out
    assert receipt.missing_glyphs == frozenset()


def test_a_receipt_with_glyphs_the_font_lacks_fails_the_demo(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from protocols.print_document import Document, Line
    from tellerhal import demo_receipt

    plain = demo_receipt.receipt_document

    def with_thai(**kwargs: object) -> Document:
        document = plain(**kwargs)  # type: ignore[arg-type]
        thai = Line.of("ขอบคุณ")  # Thai: GB18030 encodes it, the CJK font has no glyph
        return Document((*document.blocks[:-1], thai, document.blocks[-1]), document.code_page)

    monkeypatch.setattr(demo_receipt, "receipt_document", with_thai)
    png = tmp_path / "receipt.png"
    assert main(["demo", "--clock-scale", "0.01", "--receipt-png", str(png)]) == 1
    captured = capsys.readouterr()
    assert "U+0E02" in captured.err
    assert "no glyph" in captured.err
