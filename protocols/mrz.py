"""Machine-readable zones (MRZ): ICAO 9303 TD1, TD2, TD3 and the China travel permit's
3x30 layout. Check digits, parse and build.

| format     | lines | chars | used on                                                    |
|------------|-------|-------|------------------------------------------------------------|
| TD1        | 3     | 30    | ID cards, residence cards (ICAO 9303 part 5)               |
| TD2        | 2     | 36    | older ID cards, format-B visas (part 6)                    |
| TD3        | 2     | 44    | passports (part 4)                                         |
| (visas)    | 2     | 36/44 | MRV-B / MRV-A (part 7): document code 'V', no composite     |
| CN_PERMIT  | 3     | 30    | China exit-entry permit for Hong Kong and Macao ('CS'...)  |

Check digit (ICAO 9303 part 3): 0-9 count as themselves, A-Z as 10-35, ``<`` as 0; the
values are weighted 7, 3, 1, 7, 3, 1... and the check digit is the sum modulo 10.

A 3x30 MRZ whose document code starts with ``C`` and whose characters 3-5 hold a digit
is the China permit layout (there the document number, ``C`` + 8 characters, starts at
character 3; in TD1 characters 3-5 are the issuing state's letters). Its layout
(docs/mrz.md, with the confidence of each fact)::

    line 1: CS NNNNNNNNN C < EEEEEE C < BBBBBB C < K     (K: composite)
    line 2: 12 characters (the name in Chinese, encoded) + the name in Latin letters
    line 3: sex, then data kept as read

Line 1 and its check digits are from one public parser; lines 2 and 3 are unverified,
so only the Latin name and the sex are taken from them and everything else is kept as
read in the optional data.

Personal data: names, numbers and dates never appear in an error message or a
``repr``; errors name the line and column only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from protocols.errors import FramingError, ProtocolError
from protocols.mrz_build import build
from protocols.mrz_fields import (
    CHARSET,
    CHECK_POSITIONS,
    FILLER,
    FieldCheck,
    Mrz,
    MrzFormat,
    check_digit,
    check_digit_or_none,
    detect_format,
    expand_year,
    split_lines,
)
from protocols.mrz_fields import (
    SHAPES as SHAPES,  # re-exported: the module's public name before the split
)

__all__ = [
    "CHECK_POSITIONS",
    "FILLER",
    "FieldCheck",
    "Mrz",
    "MrzFormat",
    "build",
    "check_digit",
    "check_digit_or_none",
    "detect_format",
    "expand_year",
    "parse",
    "split_lines",
]


# --- parse -------------------------------------------------------------------------


def _clean(lines: Sequence[str] | str) -> tuple[str, ...]:
    if isinstance(lines, str):
        cleaned = split_lines(lines)
    else:
        cleaned = tuple(line.strip() for line in lines)
    if len(cleaned) > 3:
        raise FramingError(f"an MRZ has 2 or 3 lines; got {len(cleaned)}")
    for number, line in enumerate(cleaned, start=1):
        if len(line) > 44:
            raise FramingError(f"MRZ line {number} has {len(line)} characters (at most 44)")
        for column, char in enumerate(line, start=1):
            if char not in CHARSET:
                raise ProtocolError(
                    f"MRZ line {number} has a character outside A-Z, 0-9 and '<' at column {column}"
                )
    return cleaned


def _text(field: str) -> str:
    return field.rstrip(FILLER)


def _names(field: str) -> tuple[str, str]:
    primary, separator, secondary = field.partition("<<")
    if not separator:
        primary, secondary = field, ""
    return _words(primary), _words(secondary)


def _words(text: str) -> str:
    return " ".join(part for part in text.split(FILLER) if part)


def _check(field_name: str, data: str, found: str, *, filler_ok: bool = False) -> FieldCheck:
    expected = check_digit_or_none(data)
    if expected is None:
        return FieldCheck(field_name, False, found, "", "field holds an invalid character")
    if found == FILLER and filler_ok:
        return FieldCheck(field_name, True, found, expected, "field empty: '<' accepted")
    if found == expected:
        return FieldCheck(field_name, True, found, expected)
    return FieldCheck(
        field_name, False, found, expected, f"check digit is {found!r}, expected {expected!r}"
    )


def _long_number(head: str, digit: str, optional: str) -> tuple[str, str, str, str]:
    """A TD1/TD2 document number longer than 9: (number, check data, digit, rest).

    With a ``<`` in the check position and optional data, the number continues in the
    optional data up to its first ``<``; the last character before it is the check digit.
    """
    if digit != FILLER or not optional or optional[0] == FILLER:
        return _text(head), head, digit, optional
    end = optional.find(FILLER)
    if end < 0:
        end = len(optional)
    tail = optional[:end]
    data = head + tail[:-1]
    return _text(data), data, tail[-1:], optional[end + 1 :]


def parse(lines: Sequence[str] | str, *, today: dt.date | None = None) -> Mrz:
    """Parse an MRZ: its lines, or text holding them one per line.

    Surrounding blanks of each line are dropped. Check digits that fail are reported in
    `Mrz.checks`, never raised; a date that is not a date parses to ``None``.

    Args:
        lines: the 2 or 3 lines.
        today: the reference day of the century rule (default: today).

    Raises:
        ProtocolError: wrong line count or length (`FramingError`), a character outside
            A-Z, 0-9 and ``<``. The message names lines and columns, never their content.
    """
    clean = _clean(lines)
    kind = detect_format(clean)
    day = today if today is not None else dt.date.today()
    if kind is MrzFormat.TD3:
        return _parse_td23(kind, clean, day, name_end=44, composite_at=43)
    if kind is MrzFormat.TD2:
        return _parse_td23(kind, clean, day, name_end=36, composite_at=35)
    if kind is MrzFormat.TD1:
        return _parse_td1(clean, day)
    return _parse_permit(clean, day)


def _parse_td23(
    kind: MrzFormat, lines: tuple[str, ...], today: dt.date, *, name_end: int, composite_at: int
) -> Mrz:
    first, second = lines
    primary, secondary = _names(first[5:name_end])
    birth, expiry = second[13:19], second[21:27]
    checks: list[FieldCheck] = []
    if kind is MrzFormat.TD2 and first[0] != "V":
        number, data, digit, optional = _long_number(second[0:9], second[9], second[28:35])
    else:
        number, data, digit, optional = _text(second[0:9]), second[0:9], second[9], second[28:42]
    checks.append(_check("document_number", data, digit))
    checks.append(_check("birth_date", birth, second[19]))
    checks.append(_check("expiry", expiry, second[27]))
    visa = first[0] == "V"
    if visa:
        # ICAO 9303 part 7 (MRV-A 2x44, MRV-B 2x36): optional data to the end of the
        # line, no optional-data and no composite check digit.
        optional = second[28:]
    elif kind is MrzFormat.TD3:
        personal = second[28:42]
        empty = personal == FILLER * len(personal)
        checks.append(_check("optional_data", personal, second[42], filler_ok=empty))
    if not visa:
        composite_data = second[0:10] + second[13:20] + second[21:composite_at]
        checks.append(_check("composite", composite_data, second[composite_at]))
    return Mrz(
        format=kind,
        document_code=_text(first[0:2]),
        issuer=_text(first[2:5]),
        primary_identifier=primary,
        secondary_identifier=secondary,
        document_number=number,
        nationality=_text(second[10:13]),
        birth_date_text=birth,
        birth_date=expand_year(birth, today=today, birth=True),
        sex=_sex(second[20]),
        expiry_text=expiry,
        expiry=expand_year(expiry, today=today, birth=False),
        optional_data=_text(optional),
        optional_data_2="",
        checks=tuple(checks),
        lines=lines,
    )


def _parse_td1(lines: tuple[str, ...], today: dt.date) -> Mrz:
    first, second, third = lines
    number, data, digit, optional = _long_number(first[5:14], first[14], first[15:30])
    birth, expiry = second[0:6], second[8:14]
    primary, secondary = _names(third)
    composite_data = first[5:30] + second[0:7] + second[8:15] + second[18:29]
    checks = (
        _check("document_number", data, digit),
        _check("birth_date", birth, second[6]),
        _check("expiry", expiry, second[14]),
        _check("composite", composite_data, second[29]),
    )
    return Mrz(
        format=MrzFormat.TD1,
        document_code=_text(first[0:2]),
        issuer=_text(first[2:5]),
        primary_identifier=primary,
        secondary_identifier=secondary,
        document_number=number,
        nationality=_text(second[15:18]),
        birth_date_text=birth,
        birth_date=expand_year(birth, today=today, birth=True),
        sex=_sex(second[7]),
        expiry_text=expiry,
        expiry=expand_year(expiry, today=today, birth=False),
        optional_data=_text(optional),
        optional_data_2=_text(second[18:29]),
        checks=checks,
        lines=lines,
    )


def _permit_names(field: str) -> tuple[str, str]:
    if "<<" in field.strip(FILLER):
        return _names(field.strip(FILLER))
    head, _, rest = field.strip(FILLER).partition(FILLER)
    return _words(head), _words(rest)


def _parse_permit(lines: tuple[str, ...], today: dt.date) -> Mrz:
    first, second, third = lines
    number, expiry, birth = first[2:11], first[13:19], first[21:27]
    primary, secondary = _permit_names(second[12:30])
    composite_data = first[2:12] + first[13:20] + first[21:28]
    checks = (
        _check("document_number", number, first[11]),
        _check("expiry", expiry, first[19]),
        _check("birth_date", birth, first[27]),
        _check("composite", composite_data, first[29]),
    )
    return Mrz(
        format=MrzFormat.CN_PERMIT,
        document_code=first[0:2],
        issuer="CHN",
        primary_identifier=primary,
        secondary_identifier=secondary,
        document_number=_text(number),
        nationality="CHN",
        birth_date_text=birth,
        birth_date=expand_year(birth, today=today, birth=True),
        sex=_sex(third[0]),
        expiry_text=expiry,
        expiry=expand_year(expiry, today=today, birth=False),
        optional_data=_text(second[0:12]),
        optional_data_2=_text(third[1:30]),
        checks=checks,
        lines=lines,
    )


def _sex(char: str) -> str:
    return "" if char == FILLER else char
