"""protocols.mrz: the ICAO 9303 specimens as golden vectors, the China permit layout,
errors without content, and check digits compared with the `mrz` PyPI package.

Specimens (fictional people of the fictional state Utopia):
- ICAO Doc 9303, 7th edition (2015): part 4 appendix (TD3), part 5 (TD1), part 6 (TD2):
  ERIKSSON ANNA MARIA, born 1974-08-12, expiry 2012-04-15.
- The earlier edition's specimens, as quoted in the Honeywell 1900 OCR user manual
  (pages corpus: 38.142.81.21:8001/manual/honeywell/1900ghd-2usb pages 7-8): TD3 with
  L898902C<3, TD1 and TD2 of STEVENSON PETER (JOHN), the format-B visa.
"""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from mrz.base.functions import hash_string  # test-only oracle for ICAO check digits
from mrz.checker.td1 import TD1CodeChecker
from mrz.checker.td2 import TD2CodeChecker
from mrz.checker.td3 import TD3CodeChecker

from protocols import mrz
from protocols.errors import FramingError, ProtocolError

TODAY = dt.date(2026, 11, 29)

TD3_2015 = (
    "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
    "L898902C36UTO7408122F1204159ZE184226B<<<<<10",
)
TD3_OLD = (
    "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
    "L898902C<3UTO6908061F9406236ZE184226B<<<<<14",
)
TD1_2015 = (
    "I<UTOD231458907<<<<<<<<<<<<<<<",
    "7408122F1204159UTO<<<<<<<<<<<6",
    "ERIKSSON<<ANNA<MARIA<<<<<<<<<<",
)
TD1_OLD = (
    "I<UTOD231458907<<<<<<<<<<<<<<<",
    "3407127M9507122UTO<<<<<<<<<<<2",
    "STEVENSON<<PETER<JOHN<<<<<<<<<",
)
TD2_2015 = (
    "I<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<",
    "D231458907UTO7408122F1204159<<<<<<<6",
)
TD2_OLD = (
    "I<UTOSTEVENSON<<PETER<<<<<<<<<<<<<<<",
    "D231458907UTO3407127M9507122<<<<<<<2",
)
VISA_B = (
    "V<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<",
    "L898902C<3UTO6908061F9406236ZE184226",
)


def _fields(parsed: mrz.Mrz) -> dict[str, object]:
    return {check.field: check.ok for check in parsed.checks}


# --- golden vectors ----------------------------------------------------------------


def test_td3_specimen() -> None:
    parsed = mrz.parse(TD3_2015, today=TODAY)
    assert parsed.format is mrz.MrzFormat.TD3
    assert parsed.document_code == "P"
    assert parsed.issuer == "UTO"
    assert parsed.primary_identifier == "ERIKSSON"
    assert parsed.secondary_identifier == "ANNA MARIA"
    assert parsed.document_number == "L898902C3"
    assert parsed.nationality == "UTO"
    assert parsed.birth_date_text == "740812"
    assert parsed.birth_date == dt.date(1974, 8, 12)
    assert parsed.sex == "F"
    assert parsed.expiry == dt.date(2012, 4, 15)
    assert parsed.optional_data == "ZE184226B"
    assert [c.field for c in parsed.checks] == [
        "document_number",
        "birth_date",
        "expiry",
        "optional_data",
        "composite",
    ]
    assert parsed.valid
    assert [c.found for c in parsed.checks] == ["6", "2", "9", "1", "0"]
    assert parsed.lines == TD3_2015


def test_td3_older_specimen_with_filler_in_the_number() -> None:
    parsed = mrz.parse(TD3_OLD, today=TODAY)
    assert parsed.document_number == "L898902C"
    assert parsed.birth_date == dt.date(1969, 8, 6)
    assert parsed.expiry == dt.date(1994, 6, 23)  # 2094 is 68 years ahead: 1994
    assert parsed.valid


@pytest.mark.parametrize(
    ("lines", "name", "birth", "sex"),
    [
        (TD1_2015, ("ERIKSSON", "ANNA MARIA"), dt.date(1974, 8, 12), "F"),
        (TD1_OLD, ("STEVENSON", "PETER JOHN"), dt.date(1934, 7, 12), "M"),
    ],
)
def test_td1_specimens(
    lines: tuple[str, ...], name: tuple[str, str], birth: dt.date, sex: str
) -> None:
    parsed = mrz.parse(lines, today=TODAY)
    assert parsed.format is mrz.MrzFormat.TD1
    assert (parsed.document_code, parsed.issuer, parsed.nationality) == ("I", "UTO", "UTO")
    assert parsed.document_number == "D23145890"
    assert (parsed.primary_identifier, parsed.secondary_identifier) == name
    assert parsed.birth_date == birth
    assert parsed.sex == sex
    assert parsed.optional_data == parsed.optional_data_2 == ""
    assert [c.field for c in parsed.checks] == [
        "document_number",
        "birth_date",
        "expiry",
        "composite",
    ]
    assert parsed.valid


@pytest.mark.parametrize("lines", [TD2_2015, TD2_OLD])
def test_td2_specimens(lines: tuple[str, ...]) -> None:
    parsed = mrz.parse(lines, today=TODAY)
    assert parsed.format is mrz.MrzFormat.TD2
    assert parsed.document_number == "D23145890"
    assert parsed.valid
    assert len(parsed.checks) == 4


def test_visa_format_b_has_no_composite() -> None:
    parsed = mrz.parse(VISA_B, today=TODAY)
    assert parsed.format is mrz.MrzFormat.TD2
    assert parsed.document_code == "V"
    assert parsed.optional_data == "ZE184226"
    assert [c.field for c in parsed.checks] == ["document_number", "birth_date", "expiry"]
    assert parsed.valid


@pytest.mark.parametrize(
    ("lines", "checker"),
    [
        (TD3_2015, TD3CodeChecker),
        (TD3_OLD, TD3CodeChecker),
        (TD1_2015, TD1CodeChecker),
        (TD1_OLD, TD1CodeChecker),
        (TD2_2015, TD2CodeChecker),
        (TD2_OLD, TD2CodeChecker),
    ],
)
def test_specimens_agree_with_the_oracle(lines: tuple[str, ...], checker: type) -> None:
    assert bool(checker("\n".join(lines)))
    assert mrz.parse(lines, today=TODAY).valid


def test_check_digit_examples() -> None:
    assert mrz.check_digit("L898902C3") == "6"
    assert mrz.check_digit("740812") == "2"
    assert mrz.check_digit("120415") == "9"
    assert mrz.check_digit("") == "0"
    assert mrz.check_digit("<<<<<<") == "0"
    with pytest.raises(ProtocolError):
        mrz.check_digit("abc")


@given(st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789<", max_size=40))
def test_check_digit_matches_the_oracle(field: str) -> None:
    assert mrz.check_digit(field) == hash_string(field)


# --- every check fails on its own ----------------------------------------------------


@pytest.mark.parametrize("field", ["document_number", "birth_date", "expiry", "optional_data"])
def test_a_wrong_field_digit_fails_that_field_and_the_composite(field: str) -> None:
    line_index, column = mrz.CHECK_POSITIONS[mrz.MrzFormat.TD3][field]
    lines = list(TD3_2015)
    digit = lines[line_index][column]
    wrong = str((int(digit) + 1) % 10)
    lines[line_index] = lines[line_index][:column] + wrong + lines[line_index][column + 1 :]
    parsed = mrz.parse(lines, today=TODAY)
    failed = {c.field for c in parsed.failed()}
    # every digit of line 2 is inside the composite, so it fails too
    assert failed == {field, "composite"}
    detail = next(c.detail for c in parsed.failed() if c.field == field)
    assert detail == f"check digit is {wrong!r}, expected {digit!r}"
    assert "L898902C3" not in repr(parsed)


def test_a_filler_check_digit_passes_only_for_an_empty_personal_number() -> None:
    lines = mrz.build(
        mrz.MrzFormat.TD3,
        document_code="P",
        issuer="UTO",
        primary_identifier="TESTER",
        secondary_identifier="ALEX",
        document_number="X1234567",
        nationality="UTO",
        birth_date="900101",
        sex="M",
        expiry="300101",
    )
    assert lines[1][42] == "<"
    parsed = mrz.parse(lines, today=TODAY)
    assert parsed.valid
    optional = next(c for c in parsed.checks if c.field == "optional_data")
    assert optional.ok
    assert "'<' accepted" in optional.detail
    # a '<' anywhere else fails
    bad = lines[0], lines[1][:19] + "<" + lines[1][20:]
    failed = {c.field for c in mrz.parse(bad, today=TODAY).failed()}
    assert failed == {"birth_date", "composite"}


def test_td1_long_document_number_icao_example() -> None:
    # ICAO 9303 part 5's long-number example, from memory [U]; its digit 9 recomputes
    lines = mrz.build(
        mrz.MrzFormat.TD1,
        document_code="I",
        issuer="UTO",
        document_number="D23145890734",
        birth_date="740812",
        expiry="120415",
    )
    assert lines[0] == "I<UTOD23145890<7349<<<<<<<<<<<"
    assert mrz.parse(lines, today=TODAY).document_number == "D23145890734"


def test_td1_long_document_number() -> None:
    lines = mrz.build(
        mrz.MrzFormat.TD1,
        document_code="I",
        issuer="UTO",
        primary_identifier="TESTER",
        secondary_identifier="ALEX",
        document_number="D23145890123",
        nationality="UTO",
        birth_date="900101",
        sex="F",
        expiry="300101",
        optional_data="XY",
    )
    assert lines[0][14] == "<"
    assert lines[0][15:20] == "123" + mrz.check_digit("D23145890123") + "<"
    parsed = mrz.parse(lines, today=TODAY)
    assert parsed.document_number == "D23145890123"
    assert parsed.optional_data == "XY"
    assert parsed.valid


# --- dates ---------------------------------------------------------------------------


def test_century_rule() -> None:
    assert mrz.expand_year("261129", today=TODAY, birth=True) == dt.date(2026, 11, 29)
    assert mrz.expand_year("261130", today=TODAY, birth=True) == dt.date(1926, 11, 30)
    assert mrz.expand_year("000229", today=TODAY, birth=True) == dt.date(2000, 2, 29)
    assert mrz.expand_year("750101", today=TODAY, birth=False) == dt.date(2075, 1, 1)
    assert mrz.expand_year("770101", today=TODAY, birth=False) == dt.date(1977, 1, 1)
    assert mrz.expand_year("991231", today=TODAY, birth=False) == dt.date(1999, 12, 31)
    assert mrz.expand_year("991331", today=TODAY, birth=False) is None
    assert mrz.expand_year("<<<<<<", today=TODAY, birth=True) is None
    assert mrz.expand_year("010229", today=TODAY, birth=True) is None


def test_an_invalid_date_parses_to_none_and_keeps_its_text() -> None:
    lines = mrz.build(
        mrz.MrzFormat.TD2,
        document_code="ID",
        issuer="UTO",
        primary_identifier="TESTER",
        document_number="AB1234567",
        nationality="UTO",
        birth_date="901399",
        expiry="<<<<<<",
    )
    parsed = mrz.parse(lines, today=TODAY)
    assert parsed.birth_date is None
    assert parsed.birth_date_text == "901399"
    assert parsed.expiry is None
    assert parsed.sex == ""
    assert parsed.secondary_identifier == ""
    assert parsed.valid  # the digits are right; the dates are the service's business


# --- the China travel permit (3x30) ------------------------------------------------


def _permit(**overrides: str) -> tuple[str, ...]:
    fields = {
        "document_code": "CS",
        "document_number": "C12345678",
        "birth_date": "900307",
        "expiry": "330307",
        "sex": "M",
        "primary_identifier": "ZHANG",
        "secondary_identifier": "SAN",
    }
    fields.update(overrides)
    return mrz.build(mrz.MrzFormat.CN_PERMIT, **fields)


def test_permit_layout() -> None:
    lines = _permit()
    number, expiry, birth = "C12345678", "330307", "900307"
    part1 = number + mrz.check_digit(number)
    part2 = expiry + mrz.check_digit(expiry)
    part3 = birth + mrz.check_digit(birth)
    composite = mrz.check_digit(part1 + part2 + part3)
    assert lines[0] == f"CS{part1}<{part2}<{part3}<{composite}"
    parsed = mrz.parse(lines, today=TODAY)
    assert parsed.format is mrz.MrzFormat.CN_PERMIT
    assert parsed.document_code == "CS"
    assert parsed.document_number == "C12345678"
    assert parsed.expiry == dt.date(2033, 3, 7)
    assert parsed.birth_date == dt.date(1990, 3, 7)
    assert (parsed.primary_identifier, parsed.secondary_identifier) == ("ZHANG", "SAN")
    assert parsed.sex == "M"
    assert (parsed.issuer, parsed.nationality) == ("CHN", "CHN")
    assert [c.field for c in parsed.checks] == [
        "document_number",
        "expiry",
        "birth_date",
        "composite",
    ]
    assert parsed.valid


def test_permit_2018_number_with_a_letter_second() -> None:
    parsed = mrz.parse(_permit(document_number="CA1234567"), today=TODAY)
    assert parsed.format is mrz.MrzFormat.CN_PERMIT
    assert parsed.document_number == "CA1234567"


def test_permit_single_filler_between_names() -> None:
    lines = _permit()
    second = "<" * 12 + "LI<SI".ljust(18, "<")
    parsed = mrz.parse((lines[0], second, lines[2]), today=TODAY)
    assert (parsed.primary_identifier, parsed.secondary_identifier) == ("LI", "SI")


def test_td1_with_c_code_and_a_letter_issuer_is_td1() -> None:
    lines = mrz.build(
        mrz.MrzFormat.TD1,
        document_code="C",
        issuer="CHN",
        primary_identifier="TESTER",
        document_number="H12345678",
        birth_date="900101",
        expiry="300101",
    )
    assert mrz.parse(lines, today=TODAY).format is mrz.MrzFormat.TD1


def test_permit_bad_composite() -> None:
    lines = list(_permit())
    digit = lines[0][29]
    lines[0] = lines[0][:29] + str((int(digit) + 5) % 10)
    assert {c.field for c in mrz.parse(lines, today=TODAY).failed()} == {"composite"}


# --- errors -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ((), "got 0 line(s) of none characters"),
        ((TD3_2015[0],), "got 1 line(s) of 44"),
        ((TD3_2015[0], TD3_2015[1][:43]), "got 2 line(s) of 44, 43 characters"),
        ((*TD1_2015, TD1_2015[0]), "an MRZ has 2 or 3 lines; got 4"),
        ((TD3_2015[0] + "<", TD3_2015[1]), "MRZ line 1 has 45 characters"),
        ((TD1_2015[0], TD1_2015[1], TD1_2015[2][:29]), "got 3 line(s) of 30, 30, 29"),
    ],
)
def test_wrong_shape(lines: tuple[str, ...], message: str) -> None:
    with pytest.raises(FramingError) as caught:
        mrz.parse(lines)
    assert message in str(caught.value)


def test_wrong_charset_names_the_column_only() -> None:
    second = TD3_2015[1][:5] + "a" + TD3_2015[1][6:]
    with pytest.raises(ProtocolError) as caught:
        mrz.parse((TD3_2015[0], second))
    text = str(caught.value)
    assert "line 2" in text
    assert "column 6" in text
    assert "L898902" not in text
    assert "ERIKSSON" not in text


def test_text_input_and_blanks() -> None:
    text = "\r\n  " + TD3_2015[0] + " \r\n\r\n" + TD3_2015[1] + "\n"
    assert mrz.parse(text, today=TODAY).lines == TD3_2015
    assert mrz.split_lines(text) == TD3_2015


def test_repr_hides_personal_data() -> None:
    text = repr(mrz.parse(TD3_2015, today=TODAY))
    for secret in ("ERIKSSON", "ANNA", "L898902", "740812", "ZE184226"):
        assert secret not in text
    assert "TD3" in text


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("document_number", "X" * 10, "document number is 10 characters long (at most 9)"),
        ("primary_identifier", "ä", "name has a character outside"),
        ("birth_date", "9001", "birth date must be 6 characters"),
    ],
)
def test_build_refuses_what_does_not_fit(field: str, value: str, message: str) -> None:
    fields = {
        "document_code": "P",
        "issuer": "UTO",
        "document_number": "X1",
        "birth_date": "900101",
        "expiry": "300101",
    }
    fields[field] = value
    with pytest.raises(ProtocolError) as caught:
        mrz.build(mrz.MrzFormat.TD3, **fields)
    assert message in str(caught.value)


# --- properties ---------------------------------------------------------------------

_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_ALNUM = _LETTERS + "0123456789"
_word = st.text(alphabet=_LETTERS, min_size=1, max_size=6)
_names = st.lists(_word, min_size=0, max_size=2).map(" ".join)
_alnum = st.text(alphabet=_ALNUM, max_size=9)
_dates = st.dates(min_value=dt.date(1930, 1, 1), max_value=dt.date(2060, 12, 31))


_TWO_OPTIONALS = (mrz.MrzFormat.TD1, mrz.MrzFormat.CN_PERMIT)


@st.composite
def _documents(draw: st.DrawFn) -> tuple[mrz.MrzFormat, dict[str, str]]:
    fmt = draw(st.sampled_from(list(mrz.MrzFormat)))
    code = {
        mrz.MrzFormat.TD3: draw(st.sampled_from(["P", "PO", "V"])),
        mrz.MrzFormat.TD2: draw(st.sampled_from(["I", "ID", "AC", "V"])),
        mrz.MrzFormat.TD1: draw(st.sampled_from(["I", "ID", "A", "CR"])),
        mrz.MrzFormat.CN_PERMIT: draw(st.sampled_from(["CS", "CD"])),
    }[fmt]
    if fmt is mrz.MrzFormat.CN_PERMIT:
        number = (
            "C"
            + draw(st.sampled_from(list(_ALNUM)))
            + draw(st.text(alphabet="0123456789", min_size=7, max_size=7))
        )
    elif fmt in (mrz.MrzFormat.TD1, mrz.MrzFormat.TD2) and code != "V":
        number = draw(st.text(alphabet=_ALNUM, min_size=1, max_size=12))
    else:
        number = draw(st.text(alphabet=_ALNUM, min_size=1, max_size=9))
    primary = draw(_word)
    secondary = draw(_names)
    room = {
        mrz.MrzFormat.TD3: 39,
        mrz.MrzFormat.TD2: 31,
        mrz.MrzFormat.TD1: 30,
        mrz.MrzFormat.CN_PERMIT: 18,
    }[fmt]
    assume(len(primary) + (len(secondary) + 2 if secondary else 0) <= room)
    optional_room = {
        mrz.MrzFormat.TD3: 14 if code != "V" else 16,
        mrz.MrzFormat.TD2: 7 if code != "V" else 8,
        mrz.MrzFormat.TD1: 15,
        mrz.MrzFormat.CN_PERMIT: 12,
    }[fmt]
    if len(number) > 9:
        optional_room -= len(number) - 9 + 2
    optional = draw(st.text(alphabet=_ALNUM, max_size=max(0, optional_room)))
    optional_2 = draw(st.text(alphabet=_ALNUM, max_size=11))
    birth = draw(_dates).strftime("%y%m%d")
    expiry = draw(_dates).strftime("%y%m%d")
    fields = {
        "document_code": code,
        "issuer": "" if fmt is mrz.MrzFormat.CN_PERMIT else draw(st.sampled_from(["UTO", "D"])),
        "primary_identifier": primary,
        "secondary_identifier": secondary,
        "document_number": number,
        "nationality": "" if fmt is mrz.MrzFormat.CN_PERMIT else "UTO",
        "birth_date": birth,
        "sex": draw(st.sampled_from(["M", "F", "X", ""])),
        "expiry": expiry,
        "optional_data": optional,
        "optional_data_2": optional_2 if fmt in _TWO_OPTIONALS else "",
    }
    return fmt, fields


@settings(max_examples=300, deadline=None)
@given(_documents())
def test_build_then_parse_round_trips(document: tuple[mrz.MrzFormat, dict[str, str]]) -> None:
    fmt, fields = document
    lines = mrz.build(fmt, **fields)
    parsed = mrz.parse(lines, today=TODAY)
    assert parsed.format is fmt
    assert parsed.valid, parsed.failed()
    assert parsed.lines == lines
    assert parsed.document_code == fields["document_code"]
    assert parsed.document_number == fields["document_number"]
    assert parsed.primary_identifier == fields["primary_identifier"]
    assert parsed.secondary_identifier == fields["secondary_identifier"]
    assert parsed.birth_date_text == fields["birth_date"]
    assert parsed.expiry_text == fields["expiry"]
    assert parsed.sex == fields["sex"]
    assert parsed.optional_data == fields["optional_data"]
    assert parsed.optional_data_2 == fields["optional_data_2"]
    if fmt is not mrz.MrzFormat.CN_PERMIT:
        assert parsed.issuer == fields["issuer"]
        assert parsed.nationality == "UTO"
    rebuilt = mrz.build(
        fmt,
        document_code=parsed.document_code,
        issuer=parsed.issuer if fmt is not mrz.MrzFormat.CN_PERMIT else "",
        primary_identifier=parsed.primary_identifier,
        secondary_identifier=parsed.secondary_identifier,
        document_number=parsed.document_number,
        nationality=parsed.nationality if fmt is not mrz.MrzFormat.CN_PERMIT else "",
        birth_date=parsed.birth_date_text,
        sex=parsed.sex,
        expiry=parsed.expiry_text,
        optional_data=parsed.optional_data,
        optional_data_2=parsed.optional_data_2,
    )
    assert rebuilt == lines
    checker = {
        mrz.MrzFormat.TD3: TD3CodeChecker,
        mrz.MrzFormat.TD1: TD1CodeChecker,
        mrz.MrzFormat.TD2: TD2CodeChecker,
    }.get(fmt)
    # the oracle does not know the long-number form of TD1/TD2 (a '<' check digit)
    long_number = len(fields["document_number"]) > 9
    if checker is not None and not fields["document_code"].startswith("V") and not long_number:
        # the oracle's own field checks (country names...) are not ours: only digits
        report = checker("\n".join(lines), check_expiry=False, compute_warnings=False)
        hashes = [name for name, _ in report.report.falses if "hash" in name.lower()]
        assert hashes == []


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.text(max_size=200),
        st.lists(
            st.text(alphabet="ABCXYZ0189<a ?\x00é", min_size=28, max_size=46),
            max_size=4,
        ).map("\n".join),
        st.lists(st.text(alphabet="ABCZ0129<", min_size=30, max_size=30), min_size=3, max_size=3),
        st.lists(st.text(alphabet="ABCZ0129<", min_size=44, max_size=44), min_size=2, max_size=2),
    )
)
def test_fuzz_parse_raises_only_protocol_error(data: str | list[str]) -> None:
    try:
        parsed = mrz.parse(data, today=TODAY)
    except ProtocolError:
        return
    assert parsed.format in set(mrz.MrzFormat)
    repr(parsed)
