"""Building MRZ lines (`protocols.mrz.build`): every field padded and checked, every
check digit computed; for the emulator and tests.

Errors name the field, never its content.
"""

from __future__ import annotations

import re

from protocols.errors import ProtocolError
from protocols.mrz_fields import FILLER, MrzFormat, check_digit

__all__ = ["build"]

_BUILD_TEXT = re.compile(r"[A-Z0-9< ]*")


def _field(value: str, width: int, what: str) -> str:
    text = value.upper().replace(" ", FILLER)
    if not _BUILD_TEXT.fullmatch(value.upper()):
        raise ProtocolError(f"MRZ {what} has a character outside A-Z, 0-9, '<' and space")
    if len(text) > width:
        raise ProtocolError(f"MRZ {what} is {len(text)} characters long (at most {width})")
    return text.ljust(width, FILLER)


def _name_field(primary: str, secondary: str, width: int) -> str:
    name = primary.strip().replace(" ", FILLER)
    if secondary.strip():
        name += "<<" + secondary.strip().replace(" ", FILLER)
    return _field(name, width, "name")


def _date_field(value: str, what: str) -> str:
    if len(value) != 6:
        raise ProtocolError(f"MRZ {what} must be 6 characters (YYMMDD)")
    return _field(value, 6, what)


def _number_fields(number: str, optional: str, width: int) -> tuple[str, str, str]:
    """(9-character number field, its check character, the optional data field)."""
    text = _field(number, max(len(number), 9), "document number").rstrip(FILLER) or ""
    if len(text) <= 9:
        field = text.ljust(9, FILLER)
        return field, check_digit(field), _field(optional, width, "optional data")
    head, tail = text[:9], text[9:]
    digit = check_digit(text)
    rest = optional.upper().replace(" ", FILLER).rstrip(FILLER)
    joined = tail + digit + FILLER + rest if rest else tail + digit
    return head, FILLER, _field(joined, width, "optional data with the long number")


def build(
    format: MrzFormat,
    *,
    document_code: str,
    issuer: str = "",
    primary_identifier: str = "",
    secondary_identifier: str = "",
    document_number: str,
    nationality: str = "",
    birth_date: str,
    sex: str = "",
    expiry: str,
    optional_data: str = "",
    optional_data_2: str = "",
) -> tuple[str, ...]:
    """The MRZ lines holding these fields, every check digit computed (for the emulator
    and tests). Spaces become ``<``; fields are padded with ``<``.

    A TD1/TD2 document number longer than 9 characters is written in the long form
    (``<`` in its check position, the rest, its check digit and a ``<`` at the start of
    the optional data). For the permit, ``issuer`` and ``nationality`` are not written
    (the layout has no place for them).

    Raises:
        ProtocolError: a field too long for its place or with characters outside A-Z,
            0-9, ``<`` and space.
    """
    sex_char = _field(sex or FILLER, 1, "sex")
    birth = _date_field(birth_date, "birth date")
    expires = _date_field(expiry, "expiry date")
    code = _field(document_code, 2, "document code")
    if format is MrzFormat.CN_PERMIT:
        number = _field(document_number, 9, "document number")
        part1 = number + check_digit(number)
        part2 = expires + check_digit(expires)
        part3 = birth + check_digit(birth)
        first = code + part1 + FILLER + part2 + FILLER + part3 + FILLER
        first += check_digit(part1 + part2 + part3)
        second = _field(optional_data, 12, "optional data")
        second += _field(_permit_name(primary_identifier, secondary_identifier), 18, "name")
        third = sex_char + _field(optional_data_2, 29, "optional data 2")
        return first, second, third
    state = _field(issuer, 3, "issuer")
    nation = _field(nationality, 3, "nationality")
    if format is MrzFormat.TD1:
        head, digit, optional1 = _number_fields(document_number, optional_data, 15)
        first = code + state + head + digit + optional1
        second = birth + check_digit(birth) + sex_char + expires + check_digit(expires) + nation
        second += _field(optional_data_2, 11, "optional data 2")
        composite = first[5:30] + second[0:7] + second[8:15] + second[18:29]
        second += check_digit(composite)
        third = _name_field(primary_identifier, secondary_identifier, 30)
        return first, second, third
    if code.startswith("V") and format in (MrzFormat.TD2, MrzFormat.TD3):
        width = 36 if format is MrzFormat.TD2 else 44
        number = _field(document_number, 9, "document number")
        first = code + state + _name_field(primary_identifier, secondary_identifier, width - 5)
        second = number + check_digit(number) + nation + birth + check_digit(birth) + sex_char
        second += (
            expires + check_digit(expires) + _field(optional_data, width - 28, "optional data")
        )
        return first, second
    if format is MrzFormat.TD2:
        head, digit, optional = _number_fields(document_number, optional_data, 7)
        first = code + state + _name_field(primary_identifier, secondary_identifier, 31)
        second = head + digit + nation + birth + check_digit(birth) + sex_char
        second += expires + check_digit(expires) + optional
        second += check_digit(second[0:10] + second[13:20] + second[21:35])
        return first, second
    number = _field(document_number, 9, "document number")
    personal = _field(optional_data, 14, "optional data")
    personal_digit = FILLER if personal == FILLER * 14 else check_digit(personal)
    first = code + state + _name_field(primary_identifier, secondary_identifier, 39)
    second = number + check_digit(number) + nation + birth + check_digit(birth) + sex_char
    second += expires + check_digit(expires) + personal + personal_digit
    second += check_digit(second[0:10] + second[13:20] + second[21:43])
    return first, second


def _permit_name(primary: str, secondary: str) -> str:
    name = primary.strip().replace(" ", FILLER)
    if secondary.strip():
        name += "<<" + secondary.strip().replace(" ", FILLER)
    return name
