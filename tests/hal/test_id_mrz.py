"""hal.devices.id_mrz: MRZ lines -> IdentityDocument, and the MRZ checks the service runs.

Golden vectors: the ICAO 9303 (7th edition) specimens of ERIKSSON ANNA MARIA (fictional,
state Utopia); a synthetic China permit built with protocols.mrz.
"""

from __future__ import annotations

import datetime as dt

import pytest

from hal.devices.id_mrz import document_from_mrz, kind_of, mrz_checks
from hal.devices.id_scanner import CheckName, DocumentKind, Sex
from protocols import mrz
from protocols.errors import ProtocolError

TODAY = dt.date(2026, 11, 29)
TD3 = (
    "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
    "L898902C36UTO7408122F1204159ZE184226B<<<<<10",
)
TD1 = (
    "I<UTOD231458907<<<<<<<<<<<<<<<",
    "7408122F1204159UTO<<<<<<<<<<<6",
    "ERIKSSON<<ANNA<MARIA<<<<<<<<<<",
)
TD2 = (
    "I<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<",
    "D231458907UTO7408122F1204159<<<<<<<6",
)
PERMIT = mrz.build(
    mrz.MrzFormat.CN_PERMIT,
    document_code="CS",
    document_number="C12345678",
    birth_date="900307",
    expiry="330307",
    sex="F",
    primary_identifier="WANG",
    secondary_identifier="XIAO MEI",
)


def _flip(lines: tuple[str, ...], where: tuple[int, int]) -> tuple[str, ...]:
    line, column = where
    out = list(lines)
    digit = out[line][column]
    out[line] = out[line][:column] + str((int(digit) + 1) % 10) + out[line][column + 1 :]
    return tuple(out)


def test_passport_document() -> None:
    document = document_from_mrz(TD3, today=TODAY)
    assert document.kind is DocumentKind.PASSPORT
    assert document.name_latin == "ERIKSSON ANNA MARIA"
    assert document.name == ""
    assert document.sex is Sex.FEMALE
    assert document.nationality == "UTO"
    assert document.issuer == "UTO"
    assert document.birth_date == dt.date(1974, 8, 12)
    assert document.valid_to == dt.date(2012, 4, 15)
    assert document.document_number == "L898902C3"
    assert document.mrz == TD3
    assert document.checks == ()
    assert document.raw["optional_data"] == "ZE184226B"
    assert document.raw["format"] == "TD3"
    text = repr(document)
    assert "ERIKSSON" not in text
    assert "L898902C3" not in text


@pytest.mark.parametrize("lines", [TD1, TD2])
def test_td1_td2_are_travel_documents(lines: tuple[str, ...]) -> None:
    document = document_from_mrz(lines, today=TODAY)
    assert document.kind is DocumentKind.TRAVEL_DOCUMENT
    assert document.document_number == "D23145890"
    assert document.name_latin == "ERIKSSON ANNA MARIA"


def test_permit_document() -> None:
    document = document_from_mrz(PERMIT, today=TODAY)
    assert document.kind is DocumentKind.CN_TRAVEL_PERMIT
    assert document.name_latin == "WANG XIAO MEI"
    assert document.sex is Sex.FEMALE
    assert document.nationality == "CHN"
    assert document.valid_to == dt.date(2033, 3, 7)
    assert document.birth_date == dt.date(1990, 3, 7)


def test_c_chn_td1_is_the_1999_permit() -> None:
    lines = mrz.build(
        mrz.MrzFormat.TD1,
        document_code="C",
        issuer="CHN",
        primary_identifier="LEUNG",
        document_number="H12345678",
        birth_date="900101",
        expiry="300101",
    )
    assert lines[0].startswith("C<CHN")
    assert document_from_mrz(lines).kind is DocumentKind.CN_TRAVEL_PERMIT
    other = mrz.build(
        mrz.MrzFormat.TD1,
        document_code="C",
        issuer="UTO",
        document_number="H12345678",
        birth_date="900101",
        expiry="300101",
    )
    assert document_from_mrz(other).kind is DocumentKind.TRAVEL_DOCUMENT


def test_visa_in_td3_shape_is_a_travel_document() -> None:
    lines = mrz.build(
        mrz.MrzFormat.TD3,
        document_code="V",
        issuer="UTO",
        document_number="X1",
        birth_date="900101",
        expiry="300101",
    )
    assert kind_of(mrz.parse(lines)) is DocumentKind.TRAVEL_DOCUMENT


def test_sex_mapping_and_text_input() -> None:
    lines = mrz.build(
        mrz.MrzFormat.TD2,
        document_code="ID",
        issuer="UTO",
        document_number="X1",
        birth_date="900101",
        expiry="300101",
        sex="X",
    )
    assert document_from_mrz("\r\n".join(lines)).sex is Sex.UNSPECIFIED
    unspecified = mrz.build(
        mrz.MrzFormat.TD2,
        document_code="ID",
        issuer="UTO",
        document_number="X1",
        birth_date="900101",
        expiry="300101",
    )
    assert document_from_mrz(unspecified).sex is Sex.UNSPECIFIED


def test_bad_date_leaves_the_field_none() -> None:
    lines = mrz.build(
        mrz.MrzFormat.TD3,
        document_code="P",
        issuer="UTO",
        document_number="X1",
        birth_date="901340",
        expiry="300101",
    )
    document = document_from_mrz(lines)
    assert document.birth_date is None
    assert document.raw["birth_date"] == "901340"


def test_malformed_lines_raise_protocol_error() -> None:
    with pytest.raises(ProtocolError):
        document_from_mrz((TD3[0], TD3[1][:40]))


def test_checks_all_pass_on_the_specimens() -> None:
    checks = mrz_checks(TD3)
    assert [check.name for check in checks] == [
        CheckName.MRZ_DOCUMENT_NUMBER,
        CheckName.MRZ_BIRTH_DATE,
        CheckName.MRZ_EXPIRY,
        CheckName.MRZ_OPTIONAL_DATA,
        CheckName.MRZ_COMPOSITE,
    ]
    assert all(check.ok for check in checks)
    assert [check.name for check in mrz_checks(TD1)] == [
        CheckName.MRZ_DOCUMENT_NUMBER,
        CheckName.MRZ_BIRTH_DATE,
        CheckName.MRZ_EXPIRY,
        CheckName.MRZ_COMPOSITE,
    ]
    assert all(check.ok for check in mrz_checks(PERMIT))


@pytest.mark.parametrize(
    ("lines", "fmt", "field", "name"),
    [
        (TD3, mrz.MrzFormat.TD3, "document_number", CheckName.MRZ_DOCUMENT_NUMBER),
        (TD3, mrz.MrzFormat.TD3, "optional_data", CheckName.MRZ_OPTIONAL_DATA),
        (TD1, mrz.MrzFormat.TD1, "birth_date", CheckName.MRZ_BIRTH_DATE),
        (TD2, mrz.MrzFormat.TD2, "expiry", CheckName.MRZ_EXPIRY),
        (PERMIT, mrz.MrzFormat.CN_PERMIT, "expiry", CheckName.MRZ_EXPIRY),
    ],
)
def test_a_bad_digit_fails_its_check_and_the_composite(
    lines: tuple[str, ...], fmt: mrz.MrzFormat, field: str, name: CheckName
) -> None:
    bad = _flip(lines, mrz.CHECK_POSITIONS[fmt][field])
    failed = {check.name: check for check in mrz_checks(bad) if not check.ok}
    assert set(failed) == {name, CheckName.MRZ_COMPOSITE}
    assert "expected" in failed[name].detail
    assert "ERIKSSON" not in failed[name].detail


def test_only_the_composite_fails() -> None:
    bad = _flip(TD1, mrz.CHECK_POSITIONS[mrz.MrzFormat.TD1]["composite"])
    assert [check.name for check in mrz_checks(bad) if not check.ok] == [CheckName.MRZ_COMPOSITE]


def test_filler_digit_of_an_empty_personal_number_passes() -> None:
    lines = mrz.build(
        mrz.MrzFormat.TD3,
        document_code="P",
        issuer="UTO",
        document_number="X1",
        birth_date="900101",
        expiry="300101",
    )
    checks = {check.name: check for check in mrz_checks(lines)}
    assert checks[CheckName.MRZ_OPTIONAL_DATA].ok
    assert "'<' accepted" in checks[CheckName.MRZ_OPTIONAL_DATA].detail


def test_checks_never_raise() -> None:
    assert mrz_checks(()) == ()
    checks = mrz_checks(("NOT AN MRZ",))
    assert len(checks) == 1
    assert checks[0].name is CheckName.MRZ_COMPOSITE
    assert not checks[0].ok
    assert "does not parse" in checks[0].detail
    assert "NOT AN MRZ" not in checks[0].detail
