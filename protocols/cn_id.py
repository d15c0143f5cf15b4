"""China citizen ID numbers (GB 11643): the MOD 11-2 check character and what the number
says (birth date, sex), for resident ID cards, Hong Kong/Macao/Taiwan residence permits
and the 2023 foreigner permanent residence card.

An 18-character number::

    RRRRRR YYYYMMDD SSS C
    region birth    seq check

- digits 1-6: the region code (GB/T 2260); a residence permit for Hong Kong, Macao or
  Taiwan residents uses ``810000``, ``820000`` or ``830000``; the 2023 foreigner card's
  number starts with ``9`` [S: reference/protocols.md §1.6 b, d];
- digits 7-14: the date of birth, YYYYMMDD;
- digit 17: odd for a man, even for a woman;
- character 18: the check character, ISO 7064 MOD 11-2: S = sum of digit x weight with
  weights 7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2, check = ``"10X98765432"[S mod 11]``
  [V: reference §1.9, recomputed on 11010519491231002X].

A 15-digit number is the first-generation card's (region, YYMMDD in the 1900s, three
sequence digits, no check character): `validate_id_number` reads its birth date and sex
but reports it not valid (it carries no check character), and `upgrade_legacy` gives its
18-character form.

Privacy: a number is personal data. No message, exception or repr here contains it;
messages name the position and the character at fault (``check character is '1',
expected 'X'``), never the number.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from protocols.errors import ProtocolError

__all__ = [
    "CHECK_CHARACTERS",
    "HMT_PREFIXES",
    "WEIGHTS",
    "IdNumberKind",
    "IdNumberResult",
    "check_character",
    "upgrade_legacy",
    "validate_id_number",
]

#: The MOD 11-2 weights of digits 1..17 (2^(18-i) mod 11).
WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
#: The check character for each value of S mod 11.
CHECK_CHARACTERS = "10X98765432"
#: The region code a Hong Kong, Macao or Taiwan residence permit's number starts with.
HMT_PREFIXES = {"810000": "Hong Kong", "820000": "Macao", "830000": "Taiwan"}
#: Province-level codes of GB/T 2260 (the first two digits of a resident's number) [U:
#: from the published code list, not re-read here]; 71 Taiwan, 81/82/83 as above.
PROVINCES = frozenset(
    {11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46}
    | {50, 51, 52, 53, 54, 61, 62, 63, 64, 65, 71, 81, 82, 83}
)


class IdNumberKind(StrEnum):
    """What kind of number it is, by its form and prefix."""

    #: A resident ID card's 18-character number.
    RESIDENT = "resident"
    #: A Hong Kong / Macao / Taiwan residence permit (810000 / 820000 / 830000).
    HMT_PERMIT = "hmtPermit"
    #: The 2023 foreigner permanent residence card's 18-character number (starts with 9).
    FOREIGNER_2023 = "foreigner2023"
    #: A first-generation card's 15-digit number (no check character).
    LEGACY_15 = "legacy15"
    #: Neither length nor form fits.
    UNKNOWN = "unknown"


def check_character(first17: str) -> str:
    """The MOD 11-2 check character of the first 17 digits of a number.

    >>> check_character("11010519491231002")
    'X'

    Raises:
        ProtocolError: ``first17`` is not exactly 17 ASCII digits (the message says
            where, not what the number is).
    """
    if len(first17) != 17:
        raise ProtocolError(f"the check character needs 17 digits, got {len(first17)} characters")
    total = 0
    for position, (char, weight) in enumerate(zip(first17, WEIGHTS, strict=True), start=1):
        if not "0" <= char <= "9":
            raise ProtocolError(f"character {position} is not a digit")
        total += (ord(char) - 48) * weight
    return CHECK_CHARACTERS[total % 11]


@dataclass(frozen=True, slots=True, repr=False)
class IdNumberResult:
    """What `validate_id_number` found.

    Attributes:
        ok: the number is a valid 18-character number: its form, prefix, birth date and
            check character are right.
        reason: why not, in words without the number (``""`` when ``ok``); the first
            problem found.
        kind: the kind of number its form and prefix say.
        check_ok: the check character matches the first 17 digits (``False`` when there
            is none to check: a 15-digit number or a malformed one).
        expected_check: the check character the first 17 digits give (``None`` when they
            are not 17 digits).
        birth_date: digits 7-14 (a 15-digit number: 19 + digits 7-12) as a date, ``None``
            when they are not a date. Personal data.
        sex: ``"male"`` (digit 17 odd; a 15-digit number: digit 15) or ``"female"``
            (even): the values of `hal.devices.id_scanner_model.Sex`; ``None`` when it
            is not a digit.
    """

    ok: bool
    reason: str
    kind: IdNumberKind
    check_ok: bool = False
    expected_check: str | None = None
    birth_date: dt.date | None = None
    sex: str | None = None

    def __repr__(self) -> str:
        # No birth date, no number: what a log may show.
        why = f", reason={self.reason!r}" if self.reason else ""
        return f"IdNumberResult(ok={self.ok}, kind={self.kind.value!r}{why})"


def _date(digits: str) -> dt.date | None:
    if len(digits) != 8 or not digits.isascii() or not digits.isdigit():
        return None
    try:
        return dt.date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
    except ValueError:
        return None


def _sex(char: str) -> str | None:
    if not "0" <= char <= "9":
        return None
    return "male" if int(char) % 2 else "female"


def _kind(number: str) -> IdNumberKind:
    if number[:6] in HMT_PREFIXES:
        return IdNumberKind.HMT_PERMIT
    if number[:1] == "9":
        return IdNumberKind.FOREIGNER_2023
    return IdNumberKind.RESIDENT


def _first_non_digit(text: str) -> int | None:
    return next((i for i, c in enumerate(text, start=1) if not "0" <= c <= "9"), None)


def _legacy(number: str) -> IdNumberResult:
    bad = _first_non_digit(number)
    if bad is not None:
        return IdNumberResult(
            False, f"15-character number: character {bad} is not a digit", IdNumberKind.UNKNOWN
        )
    birth = _date("19" + number[6:12])
    reason = (
        "15-digit number of a first-generation card: it has no check character "
        "(its 18-character form: upgrade_legacy)"
    )
    if birth is None:
        reason = "15-digit number: digits 7-12 are not a date (YYMMDD)"
    return IdNumberResult(
        False, reason, IdNumberKind.LEGACY_15, birth_date=birth, sex=_sex(number[14])
    )


def validate_id_number(number: str, *, today: dt.date | None = None) -> IdNumberResult:
    """Check an ID number: its form, prefix, birth date and MOD 11-2 check character.

    Args:
        number: the number as read (surrounding spaces are ignored).
        today: when given, a birth date after it makes the number invalid.

    Returns:
        The result; never raises for any string.
    """
    text = number.strip()
    if len(text) == 15:
        return _legacy(text)
    if len(text) != 18:
        return IdNumberResult(
            False,
            f"an ID number has 18 characters (or 15 for a first-generation card), got {len(text)}",
            IdNumberKind.UNKNOWN,
        )
    first17, last = text[:17], text[17]
    bad = _first_non_digit(first17)
    if bad is not None:
        return IdNumberResult(
            False, f"character {bad} is not a digit (1-17 are digits)", IdNumberKind.UNKNOWN
        )
    kind = _kind(text)
    birth = _date(text[6:14])
    sex = _sex(text[16])
    expected = check_character(first17)
    check_ok = last == expected
    reasons: list[str] = []
    if kind is IdNumberKind.RESIDENT and int(text[:2]) not in PROVINCES:
        reasons.append(f"region code starts {text[:2]!r}: not a province code (GB/T 2260)")
    if text[:2] in ("81", "82", "83") and kind is not IdNumberKind.HMT_PERMIT:
        reasons.append(
            "a Hong Kong/Macao/Taiwan residence permit number begins 810000, 820000 or 830000"
        )
    if birth is None:
        reasons.append("digits 7-14 are not a date (YYYYMMDD)")
    elif today is not None and birth > today:
        reasons.append("the birth date (digits 7-14) is in the future")
    if last == "x":
        reasons.append("check character is lower-case 'x': GB 11643 writes 'X'")
    elif not check_ok:
        shown = last if last in "0123456789X" else "not a digit or 'X'"
        reasons.append(f"check character is {shown!r}, expected {expected!r}")
    ok = not reasons
    return IdNumberResult(ok, "" if ok else reasons[0], kind, check_ok, expected, birth, sex)


def upgrade_legacy(number15: str) -> str:
    """The 18-character form of a 15-digit number: ``19`` before the birth year and the
    check character appended.

    Raises:
        ProtocolError: not 15 digits (the message does not contain the number).
    """
    text = number15.strip()
    if len(text) != 15 or _first_non_digit(text) is not None:
        raise ProtocolError(f"a first-generation number is 15 digits, got {len(text)} characters")
    first17 = text[:6] + "19" + text[6:]
    return first17 + check_character(first17)
