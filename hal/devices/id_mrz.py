"""MRZ lines -> `IdentityDocument`, and the MRZ check digits as the service's `Check`s.

One conversion shared by the MRZ drivers and the simulator: `document_from_mrz` turns
the lines an OCR reader sent into the document as read (``checks`` empty: the service
runs them); `mrz_checks` is what `hal.devices.id_checks` runs on a document's ``mrz``.

Kinds: a TD3 MRZ whose document code starts with ``P`` is a `DocumentKind.PASSPORT`;
the China permit's 3x30 layout, and a TD1-shaped MRZ opening ``C<CHN`` (GA/T 704.14's
1999 permit for Hong Kong and Macao residents), are `DocumentKind.CN_TRAVEL_PERMIT`;
other TD3 (a visa), TD1 and TD2 MRZs are `DocumentKind.TRAVEL_DOCUMENT`.

A check digit written as ``<``: accepted only where ICAO 9303 allows it, i.e. the TD3
personal number's digit when that field is empty (all ``<``), and the TD1/TD2 document
number's digit when the number continues in the optional data (its real check digit is
then checked there). Anywhere else a ``<`` fails its check.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from hal.devices.id_scanner_model import Check, CheckName, DocumentKind, IdentityDocument, Sex
from protocols import mrz as mrz_codec
from protocols.errors import ProtocolError

__all__ = ["CHECK_NAMES", "document_from_mrz", "kind_of", "mrz_checks"]

#: The codec's field names -> the service's check names.
CHECK_NAMES: dict[str, CheckName] = {
    "document_number": CheckName.MRZ_DOCUMENT_NUMBER,
    "birth_date": CheckName.MRZ_BIRTH_DATE,
    "expiry": CheckName.MRZ_EXPIRY,
    "optional_data": CheckName.MRZ_OPTIONAL_DATA,
    "composite": CheckName.MRZ_COMPOSITE,
}

_SEXES = {"M": Sex.MALE, "F": Sex.FEMALE, "X": Sex.UNSPECIFIED, "": Sex.UNSPECIFIED}


def kind_of(parsed: mrz_codec.Mrz) -> DocumentKind:
    """The document kind a parsed MRZ stands for."""
    if parsed.format is mrz_codec.MrzFormat.CN_PERMIT:
        return DocumentKind.CN_TRAVEL_PERMIT
    if (
        parsed.format is mrz_codec.MrzFormat.TD1
        and parsed.document_code == "C"
        and parsed.issuer == "CHN"
    ):
        # GA/T 704.14: 'C<' + 'CHN' opens the 1999 permit for Hong Kong and Macao
        # residents (its fields past line 1 are read as TD1's, unverified)
        return DocumentKind.CN_TRAVEL_PERMIT
    if parsed.format is mrz_codec.MrzFormat.TD3 and parsed.document_code.startswith("P"):
        return DocumentKind.PASSPORT
    return DocumentKind.TRAVEL_DOCUMENT


def document_from_mrz(
    lines: Sequence[str] | str, *, today: dt.date | None = None
) -> IdentityDocument:
    """The document the MRZ lines describe, as read (``checks`` empty).

    Args:
        lines: the MRZ lines (or text holding them one per line).
        today: the reference day for the two-digit years (default: today).

    Raises:
        ProtocolError: the lines are not an MRZ (count, length, charset); the message
            carries no content.
    """
    parsed = mrz_codec.parse(lines, today=today)
    name = " ".join(
        part for part in (parsed.primary_identifier, parsed.secondary_identifier) if part
    )
    raw = {
        "format": parsed.format.value,
        "document_code": parsed.document_code,
        "primary_identifier": parsed.primary_identifier,
        "secondary_identifier": parsed.secondary_identifier,
        "birth_date": parsed.birth_date_text,
        "expiry": parsed.expiry_text,
        "sex": parsed.sex,
        "optional_data": parsed.optional_data,
        "optional_data_2": parsed.optional_data_2,
    }
    return IdentityDocument(
        kind=kind_of(parsed),
        name_latin=name,
        sex=_SEXES.get(parsed.sex, Sex.UNKNOWN),
        nationality=parsed.nationality,
        birth_date=parsed.birth_date,
        document_number=parsed.document_number,
        issuer=parsed.issuer,
        valid_to=parsed.expiry,
        mrz=parsed.lines,
        raw=raw,
    )


def mrz_checks(lines: Sequence[str] | str) -> tuple[Check, ...]:
    """The MRZ check digits as `Check`s: document number, birth date, expiry, the TD3
    optional data, composite (in that order; TD1, TD2 and the permit have no optional
    data digit). Never raises: lines that do not parse give one failed
    `CheckName.MRZ_COMPOSITE` saying why; no lines give no checks.
    """
    if not lines:
        return ()
    try:
        parsed = mrz_codec.parse(lines)
    except ProtocolError as error:
        return (Check(CheckName.MRZ_COMPOSITE, False, f"the MRZ does not parse: {error.message}"),)
    return tuple(
        Check(CHECK_NAMES[result.field], result.ok, result.detail) for result in parsed.checks
    )
