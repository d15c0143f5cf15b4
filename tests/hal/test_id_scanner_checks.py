"""The checks on every document read (identity rule 1): built here from synthetic people,
each number's check character computed by an independent loop (`tests.id_backend`).

A failed check never raises and is never dropped; its detail names no personal data."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt

import pytest

from hal.devices.id_checks import validate
from hal.devices.id_mrz import document_from_mrz
from hal.devices.id_scanner import (
    Check,
    CheckName,
    DocumentKind,
    IdentityDocument,
    Sex,
)
from hal.devices.id_scanner_service import IdScannerService
from tests.id_backend import NUMBER, ScriptedIdBackend, id_number, resident_card

TODAY = dt.date(2026, 11, 29)
OK = ("", True)


def by_name(document: IdentityDocument) -> dict[CheckName, Check]:
    return {check.name: check for check in document.checks}


def test_a_good_resident_card_passes_its_four_checks() -> None:
    document = validate(resident_card(), TODAY)
    assert [(c.name, c.ok) for c in document.checks] == [
        (CheckName.ID_NUMBER, True),
        (CheckName.BIRTH_DATE_MATCHES_NUMBER, True),
        (CheckName.SEX_MATCHES_NUMBER, True),
        (CheckName.NOT_EXPIRED, True),
    ]
    assert document.valid


def test_a_wrong_check_character_fails_the_number_check_only() -> None:
    wrong = id_number(NUMBER[:17], wrong=True)
    assert wrong != NUMBER
    checks = by_name(validate(resident_card(document_number=wrong), TODAY))
    number = checks[CheckName.ID_NUMBER]
    assert not number.ok
    assert "check character" in number.detail
    assert NUMBER[:17] not in number.detail
    assert checks[CheckName.BIRTH_DATE_MATCHES_NUMBER].ok
    assert checks[CheckName.SEX_MATCHES_NUMBER].ok


def test_a_birth_date_or_sex_that_differs_from_the_number_fails() -> None:
    checks = by_name(validate(resident_card(birth_date=dt.date(1949, 12, 30)), TODAY))
    assert checks[CheckName.ID_NUMBER].ok
    birth = checks[CheckName.BIRTH_DATE_MATCHES_NUMBER]
    assert not birth.ok
    assert "1949" not in birth.detail
    checks = by_name(validate(resident_card(sex=Sex.MALE), TODAY))
    assert not checks[CheckName.SEX_MATCHES_NUMBER].ok
    assert checks[CheckName.BIRTH_DATE_MATCHES_NUMBER].ok
    checks = by_name(validate(resident_card(birth_date=None), TODAY))
    assert not checks[CheckName.BIRTH_DATE_MATCHES_NUMBER].ok


def test_an_expired_card_fails_and_a_long_term_one_passes() -> None:
    expired = validate(resident_card(valid_to=dt.date(2026, 11, 28)), TODAY)
    assert [c.name for c in expired.failed_checks()] == [CheckName.NOT_EXPIRED]
    assert not expired.valid
    last_day = validate(resident_card(valid_to=TODAY), TODAY)
    assert last_day.valid
    long_term = validate(resident_card(valid_to=None, long_term=True), TODAY)
    assert by_name(long_term)[CheckName.NOT_EXPIRED].ok
    # No expiry stated and not long-term: no expiry check at all...
    none = validate(resident_card(valid_to=None), TODAY)
    assert CheckName.NOT_EXPIRED not in by_name(none)
    # ...unless one was read that is not a date.
    garbled = validate(resident_card(valid_to=None, raw={"valid_to": "20401301"}), TODAY)
    assert not by_name(garbled)[CheckName.NOT_EXPIRED].ok


def test_an_hmt_permit_checks_as_a_resident_card_and_needs_its_prefix() -> None:
    permit_number = id_number("81000019800101003")
    permit = resident_card(
        kind=DocumentKind.CN_HMT_RESIDENCE_PERMIT,
        document_number=permit_number,
        birth_date=dt.date(1980, 1, 1),
        sex=Sex.MALE,  # digit 17 is 3
        permit_number="H12345678",
    )
    assert validate(permit, TODAY).valid
    as_resident = validate(
        resident_card(kind=DocumentKind.CN_HMT_RESIDENCE_PERMIT), TODAY
    )  # a resident's number on a permit
    assert not by_name(as_resident)[CheckName.ID_NUMBER].ok


def test_foreigner_cards_2023_check_the_number_only_2017_none() -> None:
    number = id_number("93115619850615001")
    card = IdentityDocument(
        kind=DocumentKind.CN_FOREIGNER_PERMANENT_2023,
        name_latin="TESTPERSON ALPHA",
        sex=Sex.MALE,
        birth_date=dt.date(1990, 2, 3),  # not what digits 7-14 say: not checked on a Y card
        document_number=number,
        valid_to=dt.date(2030, 1, 1),
    )
    assert [(c.name, c.ok) for c in validate(card, TODAY).checks] == [
        (CheckName.ID_NUMBER, True),
        (CheckName.NOT_EXPIRED, True),
    ]
    bad = validate(
        IdentityDocument(
            kind=DocumentKind.CN_FOREIGNER_PERMANENT_2023,
            document_number=id_number(number[:17], wrong=True),
        ),
        TODAY,
    )
    assert [(c.name, c.ok) for c in bad.checks] == [(CheckName.ID_NUMBER, False)]
    old = IdentityDocument(
        kind=DocumentKind.CN_FOREIGNER_PERMANENT_2017,
        document_number="ABC123456789012",
        valid_to=dt.date(2025, 1, 1),
    )
    assert [(c.name, c.ok) for c in validate(old, TODAY).checks] == [(CheckName.NOT_EXPIRED, False)]


# --- MRZ -------------------------------------------------------------------------------


def mrz_digit(text: str) -> str:
    """ICAO 9303 check digit, computed here (weights 7, 3, 1; A=10, '<'=0)."""
    total = 0
    for i, char in enumerate(text):
        value = 0 if char == "<" else int(char) if char.isdigit() else ord(char) - 55
        total += value * (7, 3, 1)[i % 3]
    return str(total % 10)


def td3(number: str = "T22000129", birth: str = "900101", expiry: str = "350101") -> list[str]:
    """A TD3 MRZ for a made-up traveller, every check digit computed here."""
    line1 = "P<UTOTESTPERSON<<ALPHA<<<<<<<<<<<<<<<<<<<<<<"
    optional = "<" * 14
    fields = (
        number + mrz_digit(number),
        "UTO",
        birth + mrz_digit(birth),
        "F",
        expiry + mrz_digit(expiry),
        optional + mrz_digit(optional),
    )
    body = "".join(fields)
    composite = fields[0] + fields[2] + fields[4] + fields[5]
    return [line1, body + mrz_digit(composite)]


def test_a_good_passport_passes_its_mrz_and_expiry_checks() -> None:
    document = validate(document_from_mrz(td3(), today=TODAY), TODAY)
    assert document.kind is DocumentKind.PASSPORT
    names = [c.name for c in document.checks]
    assert CheckName.MRZ_DOCUMENT_NUMBER in names
    assert CheckName.MRZ_COMPOSITE in names
    assert names[-1] is CheckName.NOT_EXPIRED
    assert CheckName.ID_NUMBER not in names
    assert document.valid, document.failed_checks()


def test_a_bad_mrz_digit_is_reported_not_raised() -> None:
    lines = td3()
    digit = lines[1][9]
    lines[1] = lines[1][:9] + str((int(digit) + 1) % 10) + lines[1][10:]
    document = validate(document_from_mrz(lines, today=TODAY), TODAY)
    failed = {c.name for c in document.failed_checks()}
    assert CheckName.MRZ_DOCUMENT_NUMBER in failed
    assert CheckName.MRZ_COMPOSITE in failed
    assert CheckName.MRZ_BIRTH_DATE not in failed
    for check in document.checks:
        assert "T22000129" not in check.detail
        assert "TESTPERSON" not in check.detail


def test_an_expired_passport_fails_not_expired() -> None:
    document = validate(document_from_mrz(td3(expiry="200101"), today=TODAY), TODAY)
    assert [c.name for c in document.failed_checks()] == [CheckName.NOT_EXPIRED]


# --- through the service ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "failed"),
    [
        ({"document_number": id_number(NUMBER[:17], wrong=True)}, CheckName.ID_NUMBER),
        ({"valid_to": dt.date(2020, 1, 1)}, CheckName.NOT_EXPIRED),
        ({"sex": Sex.MALE}, CheckName.SEX_MATCHES_NUMBER),
    ],
)
async def test_the_service_returns_a_failing_document_with_the_failure_on_it(
    changes: dict[str, object], failed: CheckName
) -> None:
    backend = ScriptedIdBackend()
    backend.present(resident_card(checks=(Check(CheckName.ID_NUMBER, True, "forged"),), **changes))
    async with IdScannerService(backend, today=lambda: TODAY) as scanner:
        document = await asyncio.wait_for(scanner.read_document(), 2)
    assert [c.name for c in document.failed_checks()] == [failed]
    assert all(c.detail != "forged" for c in document.checks)  # the service's checks only


def test_a_resident_card_with_a_foreigner_form_number_fails_its_number_check() -> None:
    # A valid 2023 foreigner-form number (first digit 9, right check character), birth
    # date and sex agreeing with it, on a resident card: the form does not fit the kind.
    number = id_number("93115619850615002")
    card = resident_card(document_number=number, birth_date=dt.date(1985, 6, 15))
    checks = by_name(validate(card, TODAY))
    assert checks[CheckName.BIRTH_DATE_MATCHES_NUMBER].ok
    assert checks[CheckName.SEX_MATCHES_NUMBER].ok
    number_check = checks[CheckName.ID_NUMBER]
    assert not number_check.ok
    assert "resident" in number_check.detail
    assert number[:6] not in number_check.detail
    assert number[6:14] not in number_check.detail


def test_a_foreigner_2023_card_with_a_resident_form_number_fails_its_number_check() -> None:
    card = IdentityDocument(
        kind=DocumentKind.CN_FOREIGNER_PERMANENT_2023,
        name_latin="TESTPERSON ALPHA",
        document_number=NUMBER,  # a resident's number, check character right
        valid_to=dt.date(2030, 1, 1),
    )
    checks = by_name(validate(card, TODAY))
    number_check = checks[CheckName.ID_NUMBER]
    assert not number_check.ok
    assert "9" in number_check.detail  # says the expected form: begins 9
    assert NUMBER[:6] not in number_check.detail
    # An HMT permit's number on a 'Y' card fails too.
    permit = dataclasses.replace(card, document_number=id_number("81000019800101003"))
    assert not by_name(validate(permit, TODAY))[CheckName.ID_NUMBER].ok
