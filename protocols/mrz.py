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
import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from protocols.errors import FramingError, ProtocolError

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

FILLER = "<"
_CHARSET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789<")
_WEIGHTS = (7, 3, 1)


class MrzFormat(StrEnum):
    """The MRZ's layout."""

    TD1 = "TD1"
    TD2 = "TD2"
    TD3 = "TD3"
    #: The China travel permit's 3x30 layout (exit-entry permit for Hong Kong and Macao).
    CN_PERMIT = "CN3x30"


#: Lines and characters per line of each format.
SHAPES: dict[MrzFormat, tuple[int, int]] = {
    MrzFormat.TD1: (3, 30),
    MrzFormat.TD2: (2, 36),
    MrzFormat.TD3: (2, 44),
    MrzFormat.CN_PERMIT: (3, 30),
}

#: Where each check digit sits: ``{format: {field: (line index, column)}}`` (0-based).
#: The long-number form of TD1/TD2 moves the document number's digit into the optional
#: data; this table gives the standard position.
CHECK_POSITIONS: dict[MrzFormat, dict[str, tuple[int, int]]] = {
    MrzFormat.TD1: {
        "document_number": (0, 14),
        "birth_date": (1, 6),
        "expiry": (1, 14),
        "composite": (1, 29),
    },
    MrzFormat.TD2: {
        "document_number": (1, 9),
        "birth_date": (1, 19),
        "expiry": (1, 27),
        "composite": (1, 35),
    },
    MrzFormat.TD3: {
        "document_number": (1, 9),
        "birth_date": (1, 19),
        "expiry": (1, 27),
        "optional_data": (1, 42),
        "composite": (1, 43),
    },
    MrzFormat.CN_PERMIT: {
        "document_number": (0, 11),
        "expiry": (0, 19),
        "birth_date": (0, 27),
        "composite": (0, 29),
    },
}


def _value(char: str) -> int:
    if "0" <= char <= "9":
        return ord(char) - 48
    if "A" <= char <= "Z":
        return ord(char) - 55
    if char == FILLER:
        return 0
    raise ProtocolError("MRZ field has a character outside A-Z, 0-9 and '<'")


def check_digit(field: str) -> str:
    """The ICAO 9303 check digit of ``field`` (weights 7, 3, 1; sum modulo 10).

    >>> check_digit("L898902C3")
    '6'

    Raises:
        ProtocolError: ``field`` has a character outside A-Z, 0-9 and ``<``.
    """
    total = sum(_value(char) * _WEIGHTS[index % 3] for index, char in enumerate(field))
    return str(total % 10)


def check_digit_or_none(field: str) -> str | None:
    """`check_digit`, or ``None`` for a field with a character outside the charset."""
    try:
        return check_digit(field)
    except ProtocolError:
        return None


def expand_year(yymmdd: str, *, today: dt.date, birth: bool) -> dt.date | None:
    """The date a six-digit ``YYMMDD`` stands for, or ``None`` if it is not a date.

    Century rule: a birth date is the latest such date not after ``today`` (nobody is
    born in the future); any other date (expiry) is the one nearest ``today`` within
    -50..+49 years.
    """
    if len(yymmdd) != 6 or not yymmdd.isdigit() or not yymmdd.isascii():
        return None
    yy, mm, dd = int(yymmdd[:2]), int(yymmdd[2:4]), int(yymmdd[4:])
    century = today.year - today.year % 100
    if birth:
        candidates = (century + yy, century - 100 + yy)
        for year in candidates:
            try:
                date = dt.date(year, mm, dd)
            except ValueError:
                return None
            if date <= today:
                return date
        return None
    year = century + yy
    if year - today.year >= 50:
        year -= 100
    elif year - today.year < -50:
        year += 100
    try:
        return dt.date(year, mm, dd)
    except ValueError:
        return None


@dataclass(frozen=True)
class FieldCheck:
    """One check digit's result.

    Attributes:
        field: ``document_number``, ``birth_date``, ``expiry``, ``optional_data`` or
            ``composite``.
        ok: the digit read equals the digit computed (or is a ``<`` where allowed).
        found: the check character read.
        expected: the check digit computed from the field (``""`` when the field holds a
            character outside the charset).
        detail: why it failed, without personal data; or how a ``<`` was accepted.
    """

    field: str
    ok: bool
    found: str
    expected: str
    detail: str = ""


@dataclass(frozen=True, repr=False)
class Mrz:
    """A parsed MRZ (personal data: the ``repr`` shows none of it).

    Text fields have their trailing ``<`` fillers removed; in the names every ``<``
    becomes a space (runs of them one space). Dates keep their ``YYMMDD`` text; the
    parsed date is ``None`` when that text is not a date.

    Attributes:
        format: the layout.
        document_code: ``P``, ``I``, ``ID``, ``V``, ``CS``... (fillers removed).
        issuer: the issuing state or organisation (alpha-3; ``CHN`` for the permit).
        primary_identifier: the surname(s).
        secondary_identifier: the given name(s).
        document_number: the document number (the long form joined from the optional
            data in TD1/TD2).
        nationality: alpha-3.
        birth_date_text, birth_date: date of birth, as read and parsed.
        sex: ``M``, ``F``, ``X`` or ``""`` (``<``: unspecified) or the character read.
        expiry_text, expiry: date of expiry, as read and parsed.
        optional_data: TD3 personal number; TD1 line 1's optional data (after a long
            number's tail); TD2's optional data; the permit's line 2 first 12 characters.
        optional_data_2: TD1 line 2's optional data; the permit's line 3 after the sex.
        checks: the check digits' results, in the order of `CHECK_POSITIONS`.
        lines: the lines as parsed.
    """

    format: MrzFormat
    document_code: str
    issuer: str
    primary_identifier: str
    secondary_identifier: str
    document_number: str
    nationality: str
    birth_date_text: str
    birth_date: dt.date | None
    sex: str
    expiry_text: str
    expiry: dt.date | None
    optional_data: str
    optional_data_2: str
    checks: tuple[FieldCheck, ...]
    lines: tuple[str, ...]

    @property
    def valid(self) -> bool:
        """Every check digit passed."""
        return all(check.ok for check in self.checks)

    def failed(self) -> tuple[FieldCheck, ...]:
        """The checks that failed."""
        return tuple(check for check in self.checks if not check.ok)

    def __repr__(self) -> str:
        failed = ",".join(check.field for check in self.failed())
        return (
            f"Mrz(format={self.format.value!r}, document_code={self.document_code!r}, "
            f"issuer={self.issuer!r}, valid={self.valid}"
            + (f", failed={failed!r}" if failed else "")
            + ")"
        )


# --- parse -------------------------------------------------------------------------


def split_lines(text: str) -> tuple[str, ...]:
    """MRZ lines from text: split at line ends, surrounding blanks and empty lines dropped."""
    return tuple(line.strip() for line in text.splitlines() if line.strip())


def detect_format(lines: Sequence[str]) -> MrzFormat:
    """The format of already clean lines (count and length; the permit by its line 1).

    Raises:
        FramingError: the shape is none of the formats.
    """
    lengths = [len(line) for line in lines]
    if len(lines) == 3 and lengths == [30, 30, 30]:
        first = lines[0]
        if first[0] == "C" and any(char.isdigit() for char in first[2:5]):
            return MrzFormat.CN_PERMIT
        return MrzFormat.TD1
    if len(lines) == 2 and lengths == [36, 36]:
        return MrzFormat.TD2
    if len(lines) == 2 and lengths == [44, 44]:
        return MrzFormat.TD3
    shape = ", ".join(str(length) for length in lengths) or "none"
    raise FramingError(
        "an MRZ is 3 lines of 30, 2 lines of 36 or 2 lines of 44 characters; got "
        f"{len(lines)} line(s) of {shape} characters"
    )


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
            if char not in _CHARSET:
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


# --- build -------------------------------------------------------------------------

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
    rest = _text(optional.upper().replace(" ", FILLER))
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
