"""What a China ID card's chip holds, as an `IdentityDocument`: the one conversion every
backend reading a chip through a SAM_V module shares (and its inverse, for whatever
emulates one).

`document_from_chip` takes the blocks a SAM_V module returns (the 256-byte text block,
the 1024-byte WLT photo, the fingerprint block and the newest address, each as read) and
`text_block_for` gives the text block a document would be read from.

- The text block's layout (resident card, 'J' permit, 'I' or 'Y' foreigner card) gives
  the document's kind (`protocols.samv_text`).
- Dates (YYYYMMDD) become `datetime.date`; one that is not a date leaves the field
  ``None`` and its text in ``raw`` under the field's name (``birth_date``,
  ``valid_from``, ``valid_to``); an empty one is ``None`` and not in ``raw``. A valid-to
  of ``长期`` is ``long_term`` with ``valid_to`` ``None`` [U: the text, reference §1.6].
- The sex code (GB/T 2261.1) becomes `Sex`; a code outside the table is
  ``Sex.UNKNOWN`` with the code in ``raw["sex"]``.
- The photo is `Photo(data, WLT)`, untouched (an empty block: no photo).
- The fingerprint block: ``None`` when not asked (``fingerprints_present`` ``None``);
  empty when the card has none (``False``); 1024 bytes: two 512-byte templates, each
  with its finger position code at byte 5 (§1.8 [S]).
- The newest address: ``None`` or empty gives ``""``; else UCS-2LE text, padding removed.

The document comes back with ``checks=()``: validating is the service's job.

Raises `ProtocolError` for malformed bytes (a text block of the wrong length or not
UCS-2, a fingerprint block of another size); never for content that merely does not
make sense.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import fields
from typing import Any

from hal.devices.id_scanner_model import (
    DocumentKind,
    Fingerprint,
    IdentityDocument,
    ImageFormat,
    Photo,
    Sex,
)
from protocols.errors import ProtocolError
from protocols.samv_text import (
    SEX_CODES,
    Foreigner2017Text,
    Foreigner2023Text,
    HmtPermitText,
    ResidentText,
    TextBlock,
    build_text_block,
    decode_ucs2,
    encode_ucs2,
    parse_text_block,
)

__all__ = [
    "FINGERPRINT_SIZE",
    "LONG_TERM",
    "TEMPLATE_SIZE",
    "document_from_chip",
    "fingerprint_block",
    "newest_address_block",
    "text_block_for",
]

#: The valid-to text of a card valid without end.
LONG_TERM = "长期"
FINGERPRINT_SIZE = 1024
TEMPLATE_SIZE = 512
#: The byte of a template that holds the finger position code.
POSITION_BYTE = 5
#: The newest address block: 35 UCS-2 characters.
NEWEST_ADDRESS_SIZE = 70

#: Each chip layout: the document kind it gives, and its plain text fields as (text
#: block field, document field). The dated fields and the sex code, which every layout
#: has under the same names, are converted apart.
_LAYOUTS: dict[type[TextBlock], tuple[DocumentKind, tuple[tuple[str, str], ...]]] = {
    ResidentText: (
        DocumentKind.CN_RESIDENT_ID,
        (
            ("name", "name"),
            ("ethnicity", "ethnicity"),
            ("address", "address"),
            ("number", "document_number"),
            ("issuer", "issuer"),
        ),
    ),
    HmtPermitText: (
        DocumentKind.CN_HMT_RESIDENCE_PERMIT,
        (
            ("name", "name"),
            ("address", "address"),
            ("number", "document_number"),
            ("issuer", "issuer"),
            ("permit_number", "permit_number"),
            ("issue_count", "issue_count"),
        ),
    ),
    Foreigner2017Text: (
        DocumentKind.CN_FOREIGNER_PERMANENT_2017,
        (
            ("name_latin", "name_latin"),
            ("number", "document_number"),
            ("nationality", "nationality"),
            ("name", "name"),
            ("card_version", "card_version"),
            ("authority", "issuer"),
        ),
    ),
    Foreigner2023Text: (
        DocumentKind.CN_FOREIGNER_PERMANENT_2023,
        (
            ("name", "name"),
            ("renewal_count", "issue_count"),
            ("name_latin", "name_latin"),
            ("number", "document_number"),
            ("nationality", "nationality"),
            ("old_number_link", "permit_number"),
        ),
    ),
}
_BLOCK_CLASSES = {kind: cls for cls, (kind, _) in _LAYOUTS.items()}
_SEX_CODE = {Sex(word): code for code, word in SEX_CODES.items()}


def _date(text: str, name: str, raw: dict[str, str]) -> dt.date | None:
    if not text:
        return None
    if len(text) == 8 and text.isascii() and text.isdigit():
        try:
            return dt.date(int(text[:4]), int(text[4:6]), int(text[6:]))
        except ValueError:
            pass
    raw[name] = text
    return None


def _sex(code: str, raw: dict[str, str]) -> Sex:
    if code in SEX_CODES:
        return Sex(SEX_CODES[code])
    if code:
        raw["sex"] = code
    return Sex.UNKNOWN


def _fingerprints(block: bytes | None) -> tuple[tuple[Fingerprint, ...], bool | None]:
    if block is None:
        return (), None
    if not block:
        return (), False
    if len(block) != FINGERPRINT_SIZE:
        raise ProtocolError(
            f"a fingerprint block is {FINGERPRINT_SIZE} bytes (or 0), got {len(block)}"
        )
    templates = (block[:TEMPLATE_SIZE], block[TEMPLATE_SIZE:])
    return tuple(Fingerprint(t[POSITION_BYTE], bytes(t)) for t in templates), True


def _validity(
    valid_from: str, valid_to: str, raw: dict[str, str]
) -> tuple[dt.date | None, dt.date | None, bool]:
    start = _date(valid_from, "valid_from", raw)
    if valid_to == LONG_TERM:
        return start, None, True
    return start, _date(valid_to, "valid_to", raw), False


def document_from_chip(
    text: bytes,
    photo: bytes,
    fingerprint: bytes | None = None,
    newest_address: bytes | None = None,
) -> IdentityDocument:
    """The document the chip's blocks describe, with ``checks=()``.

    Args:
        text: the 256-byte text block.
        photo: the WLT photo as read (``b""``: none).
        fingerprint: the fingerprint block (1024 bytes; ``b""``: the card has none;
            ``None``: not asked).
        newest_address: the newest address block (70 bytes UCS-2LE; ``b""`` or
            ``None``: none).

    Raises:
        ProtocolError: malformed bytes (see the module's docstring); the message holds
            no personal data.
    """
    block = parse_text_block(text)
    raw: dict[str, str] = {}
    prints, present = _fingerprints(fingerprint)
    newest = decode_ucs2(bytes(newest_address), "newest address") if newest_address else ""
    picture = Photo(bytes(photo), ImageFormat.WLT) if photo else None
    if type(block) not in _LAYOUTS:  # pragma: no cover - parse gives one of 4
        raise ProtocolError(f"no document for a {type(block).__name__}")
    kind, names = _LAYOUTS[type(block)]
    values: dict[str, str] = {f.name: getattr(block, f.name) for f in fields(block)}
    texts: dict[str, Any] = {doc_name: values[name] for name, doc_name in names}
    valid_from, valid_to, long_term = _validity(values["valid_from"], values["valid_to"], raw)
    return IdentityDocument(
        kind=kind,
        sex=_sex(values["sex"], raw),
        birth_date=_date(values["birth_date"], "birth_date", raw),
        newest_address=newest,
        valid_from=valid_from,
        valid_to=valid_to,
        long_term=long_term,
        photo=picture,
        fingerprints=prints,
        fingerprints_present=present,
        raw=raw,
        **texts,
    )


def _date_text(date: dt.date | None, name: str, doc: IdentityDocument) -> str:
    if date is not None:
        return f"{date.year:04d}{date.month:02d}{date.day:02d}"
    return doc.raw.get(name, "")


def _sex_code(doc: IdentityDocument) -> str:
    if doc.sex is Sex.UNKNOWN and "sex" in doc.raw:
        return doc.raw["sex"]
    return _SEX_CODE[doc.sex]


def text_block_for(doc: IdentityDocument) -> bytes:
    """The 256-byte text block a chip holding ``doc`` returns (the inverse of
    `document_from_chip` for the text: ``raw`` gives back a date or sex that was not
    one; a long-term card's valid-to is ``长期``).

    Raises:
        ValueError: ``doc`` is not a chip document's kind, or a field does not fit its
            slot (the message names the field, never its content).
    """
    birth = _date_text(doc.birth_date, "birth_date", doc)
    valid_from = _date_text(doc.valid_from, "valid_from", doc)
    valid_to = LONG_TERM if doc.long_term else _date_text(doc.valid_to, "valid_to", doc)
    cls = _BLOCK_CLASSES.get(doc.kind)
    if cls is None:
        raise ValueError(f"a {doc.kind.value} document has no chip text block")
    values: dict[str, Any] = {name: getattr(doc, doc_name) for name, doc_name in _LAYOUTS[cls][1]}
    values.update(sex=_sex_code(doc), birth_date=birth, valid_from=valid_from, valid_to=valid_to)
    block = cls(**values)
    return build_text_block(block)


def newest_address_block(address: str) -> bytes:
    """The 70-byte newest-address block for ``address`` (UCS-2LE, space padded).

    Raises:
        ValueError: more than 35 characters, or one UCS-2 cannot hold.
    """
    return encode_ucs2(address, NEWEST_ADDRESS_SIZE, "newest address")


def fingerprint_block(prints: tuple[Fingerprint, ...]) -> bytes:
    """The fingerprint block for ``prints``: their templates joined (1024 bytes for two
    512-byte templates; ``b""`` for none).

    Raises:
        ValueError: not 0 or 2 templates of 512 bytes.
    """
    if not prints:
        return b""
    if len(prints) != 2 or any(len(p.template) != TEMPLATE_SIZE for p in prints):
        raise ValueError(f"a fingerprint block holds 2 templates of {TEMPLATE_SIZE} bytes")
    return b"".join(p.template for p in prints)
