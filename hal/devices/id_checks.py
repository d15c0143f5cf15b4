"""The checks the ID scanner's service runs on every document read (identity rule 1).

`validate` takes a document as the backend read it (``checks`` empty) and returns it
with its checks on it. A failed check never raises and is never dropped: it is a
`Check` with ``ok=False`` and a reason in words without personal data.

- China resident ID cards and HMT residence permits (``J``): the number's MOD 11-2
  check character and form (GB 11643, `protocols.cn_id`), and the birth date and the
  sex in the number against those read;
- 2023 foreigner permanent residence cards (``Y``): the number's form (it begins 9)
  and check character only;
- every kind above: the number's form is the kind's (a resident card's number of the
  resident form, not a ``Y`` or ``J`` one; see `number_checks`);
- 2017 foreigner cards (``I``): none of those (a 15-character number without one);
- documents read from an MRZ: its check digits, per field and composite
  (`hal.devices.id_mrz.mrz_checks`);
- every document with a ``valid_to``: `CheckName.NOT_EXPIRED` (valid through that
  day). A long-term card passes; a document with neither states no expiry and gets no
  such check, unless it held an expiry that is not a date (then it fails).
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from hal.devices.id_mrz import mrz_checks
from hal.devices.id_scanner_model import Check, CheckName, DocumentKind, IdentityDocument
from protocols.cn_id import HMT_PREFIXES, IdNumberKind, IdNumberResult, validate_id_number

__all__ = ["expiry_check", "number_checks", "validate"]

#: Kinds whose number carries the birth date and sex (digits 7-14 and 17).
_CITIZEN_KINDS = frozenset({DocumentKind.CN_RESIDENT_ID, DocumentKind.CN_HMT_RESIDENCE_PERMIT})
#: The ``raw`` keys an expiry read as text is kept under when it is not a date.
_RAW_EXPIRY_KEYS = ("valid_to", "expiry")
#: The number form each kind with a checked number carries, and the words of a failed
#: check when the number has another form (no number in them).
_FORMS: dict[DocumentKind, tuple[IdNumberKind, str]] = {
    DocumentKind.CN_RESIDENT_ID: (
        IdNumberKind.RESIDENT,
        "a resident card's number has the resident form (a province code first; "
        "not 9 as a foreigner card's, not "
        + "/".join(sorted(HMT_PREFIXES))
        + " as a residence permit's)",
    ),
    DocumentKind.CN_HMT_RESIDENCE_PERMIT: (
        IdNumberKind.HMT_PERMIT,
        "a residence permit's number begins " + ", ".join(sorted(HMT_PREFIXES)),
    ),
    DocumentKind.CN_FOREIGNER_PERMANENT_2023: (
        IdNumberKind.FOREIGNER_2023,
        "a 2023 foreigner card's number has the foreigner form (it begins 9)",
    ),
}


def validate(document: IdentityDocument, today: dt.date) -> IdentityDocument:
    """The document with its checks (any the backend put on it are replaced)."""
    checks = list(number_checks(document))
    if document.mrz:
        checks.extend(mrz_checks(document.mrz))
    expiry = expiry_check(document, today)
    if expiry is not None:
        checks.append(expiry)
    return dataclasses.replace(document, checks=tuple(checks))


def number_checks(document: IdentityDocument) -> tuple[Check, ...]:
    """The ID number's checks for the kinds that have them (none for the others).

    The number's form must be the one the card's kind carries (`_FORMS`): a resident
    card's number is of the resident form, a ``Y`` card's begins 9, a ``J`` card's
    begins 810000/820000/830000; otherwise the number check fails saying which form
    was expected (never quoting the number).
    """
    kind = document.kind
    if kind is DocumentKind.CN_FOREIGNER_PERMANENT_2023:
        result = validate_id_number(document.document_number)
        return (_form_check(kind, result) or _check_character(result),)
    if kind not in _CITIZEN_KINDS:
        return ()
    result = validate_id_number(document.document_number)
    number = Check(CheckName.ID_NUMBER, result.ok, result.reason)
    form = _form_check(kind, result)
    if form is not None:
        number = form
    return (number, _birth_date_check(document, result), _sex_check(document, result))


def _form_check(kind: DocumentKind, result: IdNumberResult) -> Check | None:
    """A failed number check when the number's form is not the kind's, else ``None``.

    A malformed number (wrong length, not digits) or a 15-digit one keeps its own
    reason: it fails anyway.
    """
    expected, words = _FORMS[kind]
    if result.kind in (expected, IdNumberKind.UNKNOWN, IdNumberKind.LEGACY_15):
        return None
    return Check(CheckName.ID_NUMBER, False, words)


def _check_character(result: IdNumberResult) -> Check:
    if result.check_ok:
        return Check(CheckName.ID_NUMBER, True)
    return Check(CheckName.ID_NUMBER, False, result.reason or "the check character is wrong")


def _birth_date_check(document: IdentityDocument, result: IdNumberResult) -> Check:
    name = CheckName.BIRTH_DATE_MATCHES_NUMBER
    if document.birth_date is None:
        return Check(name, False, "no birth date was read (or it is not a date)")
    if result.birth_date is None:
        return Check(name, False, "digits 7-14 of the number are not a date")
    if document.birth_date != result.birth_date:
        return Check(name, False, "the birth date read differs from digits 7-14 of the number")
    return Check(name, True)


def _sex_check(document: IdentityDocument, result: IdNumberResult) -> Check:
    name = CheckName.SEX_MATCHES_NUMBER
    if result.sex is None:
        return Check(name, False, "digit 17 of the number is not a digit")
    if document.sex.value != result.sex:
        return Check(name, False, "the sex read differs from digit 17 of the number")
    return Check(name, True)


def expiry_check(document: IdentityDocument, today: dt.date) -> Check | None:
    """`CheckName.NOT_EXPIRED` for a document that states an expiry, else ``None``."""
    if document.long_term:
        return Check(CheckName.NOT_EXPIRED, True, "long-term")
    if document.valid_to is None:
        held = any(any(c.isdigit() for c in document.raw.get(key, "")) for key in _RAW_EXPIRY_KEYS)
        if held:
            return Check(CheckName.NOT_EXPIRED, False, "the expiry read is not a date")
        return None
    if document.valid_to < today:
        return Check(CheckName.NOT_EXPIRED, False, "the document's validity has ended")
    return Check(CheckName.NOT_EXPIRED, True)
