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

_CHIP_KINDS = {
    ResidentText: DocumentKind.CN_RESIDENT_ID,
    HmtPermitText: DocumentKind.CN_HMT_RESIDENCE_PERMIT,
    Foreigner2017Text: DocumentKind.CN_FOREIGNER_PERMANENT_2017,
    Foreigner2023Text: DocumentKind.CN_FOREIGNER_PERMANENT_2023,
}
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
    if isinstance(block, ResidentText | HmtPermitText):
        valid_from, valid_to, long_term = _validity(block.valid_from, block.valid_to, raw)
        return IdentityDocument(
            kind=_CHIP_KINDS[type(block)],
            name=block.name,
            sex=_sex(block.sex, raw),
            ethnicity=block.ethnicity if isinstance(block, ResidentText) else "",
            birth_date=_date(block.birth_date, "birth_date", raw),
            address=block.address,
            newest_address=newest,
            document_number=block.number,
            issuer=block.issuer,
            valid_from=valid_from,
            valid_to=valid_to,
            long_term=long_term,
            permit_number=block.permit_number if isinstance(block, HmtPermitText) else "",
            issue_count=block.issue_count if isinstance(block, HmtPermitText) else "",
            photo=picture,
            fingerprints=prints,
            fingerprints_present=present,
            raw=raw,
        )
    if isinstance(block, Foreigner2017Text):
        valid_from, valid_to, long_term = _validity(block.valid_from, block.valid_to, raw)
        return IdentityDocument(
            kind=DocumentKind.CN_FOREIGNER_PERMANENT_2017,
            name=block.name,
            name_latin=block.name_latin,
            sex=_sex(block.sex, raw),
            nationality=block.nationality,
            birth_date=_date(block.birth_date, "birth_date", raw),
            newest_address=newest,
            document_number=block.number,
            issuer=block.authority,
            valid_from=valid_from,
            valid_to=valid_to,
            long_term=long_term,
            card_version=block.card_version,
            photo=picture,
            fingerprints=prints,
            fingerprints_present=present,
            raw=raw,
        )
    if not isinstance(block, Foreigner2023Text):  # pragma: no cover - parse gives one of 4
        raise ProtocolError(f"no document for a {type(block).__name__}")
    valid_from, valid_to, long_term = _validity(block.valid_from, block.valid_to, raw)
    return IdentityDocument(
        kind=DocumentKind.CN_FOREIGNER_PERMANENT_2023,
        name=block.name,
        name_latin=block.name_latin,
        sex=_sex(block.sex, raw),
        nationality=block.nationality,
        birth_date=_date(block.birth_date, "birth_date", raw),
        newest_address=newest,
        document_number=block.number,
        valid_from=valid_from,
        valid_to=valid_to,
        long_term=long_term,
        permit_number=block.old_number_link,
        issue_count=block.renewal_count,
        photo=picture,
        fingerprints=prints,
        fingerprints_present=present,
        raw=raw,
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
    sex = _sex_code(doc)
    block: TextBlock
    if doc.kind is DocumentKind.CN_RESIDENT_ID:
        block = ResidentText(
            name=doc.name,
            sex=sex,
            ethnicity=doc.ethnicity,
            birth_date=birth,
            address=doc.address,
            number=doc.document_number,
            issuer=doc.issuer,
            valid_from=valid_from,
            valid_to=valid_to,
        )
    elif doc.kind is DocumentKind.CN_HMT_RESIDENCE_PERMIT:
        block = HmtPermitText(
            name=doc.name,
            sex=sex,
            birth_date=birth,
            address=doc.address,
            number=doc.document_number,
            issuer=doc.issuer,
            valid_from=valid_from,
            valid_to=valid_to,
            permit_number=doc.permit_number,
            issue_count=doc.issue_count,
        )
    elif doc.kind is DocumentKind.CN_FOREIGNER_PERMANENT_2017:
        block = Foreigner2017Text(
            name_latin=doc.name_latin,
            sex=sex,
            number=doc.document_number,
            nationality=doc.nationality,
            name=doc.name,
            valid_from=valid_from,
            valid_to=valid_to,
            birth_date=birth,
            card_version=doc.card_version,
            authority=doc.issuer,
        )
    elif doc.kind is DocumentKind.CN_FOREIGNER_PERMANENT_2023:
        block = Foreigner2023Text(
            name=doc.name,
            sex=sex,
            renewal_count=doc.issue_count,
            birth_date=birth,
            name_latin=doc.name_latin,
            number=doc.document_number,
            valid_from=valid_from,
            valid_to=valid_to,
            nationality=doc.nationality,
            old_number_link=doc.permit_number,
        )
    else:
        raise ValueError(f"a {doc.kind.value} document has no chip text block")
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
