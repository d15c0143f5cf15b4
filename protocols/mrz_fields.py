"""MRZ layouts and fields (`protocols.mrz`): the formats, their shapes and check-digit
positions, the ICAO 9303 check digit, the century rule for dates, and the parsed
`Mrz` with its `FieldCheck` results. `protocols.mrz` re-exports every public name.

Personal data: names, numbers and dates never appear in an error message or a
``repr``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from protocols.errors import FramingError, ProtocolError

__all__ = [
    "CHARSET",
    "CHECK_POSITIONS",
    "FILLER",
    "SHAPES",
    "FieldCheck",
    "Mrz",
    "MrzFormat",
    "check_digit",
    "check_digit_or_none",
    "detect_format",
    "expand_year",
    "split_lines",
]

FILLER = "<"
CHARSET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789<")
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
