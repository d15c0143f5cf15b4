"""China ID numbers (protocols.cn_id): the reference's check-character vectors (§1.9, §7
#14), the kinds of number, birth date and sex, 15-digit numbers, and properties against
an independent MOD 11-2 written here from the ISO 7064 definition (2^(18-i) mod 11).

Synthetic numbers only: region 110105 (or a permit prefix), made-up dates and sequences.
"""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocols.cn_id import (
    IdNumberKind,
    check_character,
    upgrade_legacy,
    validate_id_number,
)
from protocols.errors import ProtocolError


def oracle(first17: str) -> str:
    """ISO 7064 MOD 11-2 by its definition: the check c makes sum(d_i * 2^(18-i)) + c
    = 1 mod 11, with c = 10 written 'X'."""
    total = sum(int(d) * pow(2, 17 - i, 11) for i, d in enumerate(first17))
    for value in range(11):
        if (total + value) % 11 == 1:
            return "X" if value == 10 else str(value)
    raise AssertionError("no check value")


def test_reference_vector_valid_with_x() -> None:
    # §1.9 [V]: S = 167, 167 mod 11 = 2, check 'X'.
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    assert sum(int(d) * w for d, w in zip("11010519491231002", weights, strict=True)) == 167
    assert check_character("11010519491231002") == "X"
    result = validate_id_number("11010519491231002X")
    assert result.ok
    assert result.reason == ""
    assert result.check_ok
    assert result.kind is IdNumberKind.RESIDENT
    assert result.birth_date == dt.date(1949, 12, 31)
    assert result.sex == "female"  # digit 17 is 2


def test_reference_vector_14_invalid() -> None:
    # §7 #14 [V]: the same first 17 digits with '1'.
    result = validate_id_number("110105194912310021")
    assert not result.ok
    assert not result.check_ok
    assert result.expected_check == "X"
    assert result.reason == "check character is '1', expected 'X'"
    assert "110105" not in result.reason
    assert "110105" not in repr(result)
    assert "1949" not in repr(result)


def test_lower_case_x_is_named() -> None:
    result = validate_id_number("11010519491231002x")
    assert not result.ok
    assert "lower-case 'x'" in result.reason


@pytest.mark.parametrize(
    ("number", "fragment"),
    [
        ("", "18 characters"),
        ("1101051949123100", "got 16"),
        ("1101051949123100211", "got 19"),
        ("11010519491231A02X", "character 15 is not a digit"),
        ("110105194902300027", "not a date"),
        ("000105199003070011", "not a province code"),
        ("110105199003070A11", "character 16 is not a digit"),
    ],
)
def test_malformed_numbers_name_the_problem(number: str, fragment: str) -> None:
    result = validate_id_number(number)
    assert not result.ok
    assert fragment in result.reason
    if len(number) > 6:
        assert number not in result.reason


def test_check_character_is_correct_for_a_bad_date() -> None:
    # 30 February: the check character is computed, yet the number is not valid.
    first17 = "11010519490230002"
    result = validate_id_number(first17 + check_character(first17))
    assert result.check_ok
    assert not result.ok
    assert result.birth_date is None


def test_birth_date_in_the_future() -> None:
    first17 = "11010520990101001"
    number = first17 + check_character(first17)
    assert validate_id_number(number).ok
    result = validate_id_number(number, today=dt.date(2026, 1, 1))
    assert not result.ok
    assert "future" in result.reason


@pytest.mark.parametrize(
    ("prefix", "kind"),
    [
        ("810000", IdNumberKind.HMT_PERMIT),
        ("820000", IdNumberKind.HMT_PERMIT),
        ("830000", IdNumberKind.HMT_PERMIT),
        ("110105", IdNumberKind.RESIDENT),
    ],
)
def test_permit_prefixes(prefix: str, kind: IdNumberKind) -> None:
    first17 = prefix + "19900307123"
    result = validate_id_number(first17 + check_character(first17))
    assert result.ok
    assert result.kind is kind
    assert result.birth_date == dt.date(1990, 3, 7)
    assert result.sex == "male"  # digits 15-17 are 1 2 3: 3 is odd


def test_sex_from_digit_17() -> None:
    for digit, sex in (("1", "male"), ("2", "female"), ("9", "male"), ("0", "female")):
        first17 = "1101051990030700" + digit
        assert validate_id_number(first17 + check_character(first17)).sex == sex


def test_an_81_region_that_is_not_a_permit_prefix() -> None:
    first17 = "81010119900307001"
    result = validate_id_number(first17 + check_character(first17))
    assert not result.ok
    assert "810000, 820000 or 830000" in result.reason


def test_foreigner_2023_number_validates_the_same_way() -> None:
    # 2023 foreigner card: first digit 9, same MOD 11-2, birth date at 7-14 [S].
    first17 = "93115619850615001"
    number = first17 + check_character(first17)
    result = validate_id_number(number)
    assert result.ok
    assert result.kind is IdNumberKind.FOREIGNER_2023
    assert result.birth_date == dt.date(1985, 6, 15)
    assert result.sex == "male"
    wrong = first17 + ("0" if number[-1] != "0" else "1")
    assert not validate_id_number(wrong).ok


def test_legacy_15_digit_number() -> None:
    result = validate_id_number("110105491231002")
    assert not result.ok
    assert result.kind is IdNumberKind.LEGACY_15
    assert "15-digit" in result.reason
    assert "no check character" in result.reason
    assert result.birth_date == dt.date(1949, 12, 31)
    assert result.sex == "female"
    assert upgrade_legacy("110105491231002") == "11010519491231002X"
    assert validate_id_number(upgrade_legacy("110105491231002")).ok
    bad = validate_id_number("110105491331002")
    assert bad.birth_date is None
    assert "not a date" in bad.reason


def test_check_character_refuses_bad_input_without_echoing_it() -> None:
    with pytest.raises(ProtocolError, match="17 digits, got 5"):
        check_character("12345")
    with pytest.raises(ProtocolError, match="character 3 is not a digit") as caught:
        check_character("11A10519491231002")
    assert "11A105" not in str(caught.value)
    with pytest.raises(ProtocolError, match="15 digits"):
        upgrade_legacy("11010549123100")


@given(st.text(alphabet="0123456789", min_size=17, max_size=17))
def test_check_character_matches_the_oracle(first17: str) -> None:
    assert check_character(first17) == oracle(first17)


@given(
    st.dates(dt.date(1900, 1, 1), dt.date(2025, 12, 31)),
    st.integers(0, 999),
    st.sampled_from(["110105", "310104", "440305", "810000", "820000", "830000"]),
)
def test_built_numbers_validate_and_one_changed_digit_does_not(
    birth: dt.date, sequence: int, region: str
) -> None:
    first17 = f"{region}{birth:%Y%m%d}{sequence:03d}"
    number = first17 + oracle(first17)
    result = validate_id_number(number)
    assert result.ok, result.reason
    assert result.birth_date == birth
    assert result.sex == ("male" if sequence % 2 else "female")
    # MOD 11-2 catches every single-digit substitution.
    for position in range(6, 17):
        digit = str((int(number[position]) + 1) % 10)
        changed = number[:position] + digit + number[position + 1 :]
        assert not validate_id_number(changed).check_ok


@given(st.text(max_size=40))
def test_validate_never_raises_and_never_echoes(number: str) -> None:
    result = validate_id_number(number)
    assert isinstance(result.ok, bool)
    stripped = number.strip()
    if len(stripped) >= 6 and not result.ok:
        assert stripped not in result.reason
