"""The IdScanner over the remote: its payloads, completions and `ID_SCANNER`.

Our extension, named the XFS4IoT way: ``IdScanner.ReadDocument``,
``IdScanner.ScanImage``, ``IdScanner.Eject``, ``IdScanner.Retain``, ``IdScanner.Reset``,
``IdScanner.GetRetainBin``, ``IdScanner.EmptyRetainBin``; events
``IdScanner.InsertDocumentEvent``, ``IdScanner.DocumentInsertedEvent``,
``IdScanner.InvalidDocumentEvent``, ``IdScanner.DocumentRemovedEvent``.

Personal data travels only as blobs (identity rule 3): a document's completion
(`DocumentCompletion`) carries in its JSON the kind, the checks (names, results and
details, which hold no personal data) and the flags (``longTerm``,
``fingerprintsPresent``); every other field is a blob frame: the texts in UTF-8, the
dates as ISO ``YYYY-MM-DD`` text (an empty blob for none), the MRZ lines as a UTF-8
JSON array of strings, ``raw`` as a UTF-8 JSON object, the photo, the fingerprint
templates and the scanned images as they are. Every name here is also importable from
`hal.remote.interfaces`.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any, Final

from hal.devices.card_reader_model import RetainBin
from hal.devices.id_scanner import (
    Check,
    DocumentInserted,
    DocumentKind,
    DocumentRemoved,
    Fingerprint,
    IdentityDocument,
    IdScannerCapabilities,
    IdScannerStatus,
    ImageFormat,
    ImageSide,
    InsertDocument,
    InvalidDocument,
    Photo,
    ScannedImage,
    Sex,
)
from hal.remote.interfaces import Command, InterfaceSpec, build_interface

__all__ = [
    "ID_SCANNER",
    "DocumentCompletion",
    "IdEmptyRetainBinPayload",
    "ReadDocumentPayload",
    "ScanImagePayload",
]


@dataclass(frozen=True)
class ReadDocumentPayload:
    """``IdScanner.ReadDocument``: what to read besides the fields."""

    fingerprints: bool = False
    newest_address: bool = False


@dataclass(frozen=True)
class ScanImagePayload:
    """``IdScanner.ScanImage``: which side, in which format."""

    side: ImageSide
    format: ImageFormat = ImageFormat.JPEG


@dataclass(frozen=True)
class IdEmptyRetainBinPayload:
    """``IdScanner.EmptyRetainBin``: why (for the ledger)."""

    reason: str


#: The document's text fields that travel as UTF-8 blobs.
_TEXT_FIELDS = (
    "name",
    "name_latin",
    "ethnicity",
    "nationality",
    "address",
    "newest_address",
    "document_number",
    "issuer",
    "permit_number",
    "issue_count",
    "card_version",
)
#: The document's dates, as ISO text blobs (empty: none).
_DATE_FIELDS = ("birth_date", "valid_from", "valid_to")


@dataclass(frozen=True, repr=False)
class DocumentCompletion:
    """The completion of ``IdScanner.ReadDocument``: an `IdentityDocument` with every
    personal field as a blob (see the module's docstring). Checked when built, so a
    completion that decodes is a document (`to_document` cannot fail)."""

    kind: DocumentKind
    name: bytes
    name_latin: bytes
    sex: bytes
    ethnicity: bytes
    nationality: bytes
    birth_date: bytes
    address: bytes
    newest_address: bytes
    document_number: bytes
    issuer: bytes
    valid_from: bytes
    valid_to: bytes
    long_term: bool
    permit_number: bytes
    issue_count: bytes
    card_version: bytes
    mrz: bytes
    photo: Photo | None
    fingerprints: tuple[Fingerprint, ...]
    fingerprints_present: bool | None
    checks: tuple[Check, ...]
    raw: bytes

    def __post_init__(self) -> None:
        # Errors name the field, never its content (the codec wraps them).
        for name in (*_TEXT_FIELDS, "sex", "mrz", "raw", *_DATE_FIELDS):
            try:
                getattr(self, name).decode("utf-8")
            except UnicodeDecodeError:
                raise ValueError(f"{name} is not UTF-8") from None
        _sex(self.sex)
        for name in _DATE_FIELDS:
            _date(name, getattr(self, name))
        _raw(self.raw)
        _mrz(self.mrz)

    def __repr__(self) -> str:
        return f"DocumentCompletion(kind={self.kind.value!r}, <personal fields as blobs>)"

    @classmethod
    def of(cls, document: IdentityDocument) -> DocumentCompletion:
        """The completion of a document (every personal field to a blob)."""
        texts = {name: getattr(document, name).encode() for name in _TEXT_FIELDS}
        dates = {name: _iso(getattr(document, name)) for name in _DATE_FIELDS}
        return cls(
            kind=document.kind,
            sex=document.sex.value.encode(),
            **texts,
            **dates,
            long_term=document.long_term,
            mrz=json.dumps(list(document.mrz), ensure_ascii=False).encode(),
            photo=document.photo,
            fingerprints=document.fingerprints,
            fingerprints_present=document.fingerprints_present,
            checks=document.checks,
            raw=json.dumps(dict(document.raw), ensure_ascii=False).encode(),
        )

    def to_document(self) -> IdentityDocument:
        """The document this completion carries."""
        fields: dict[str, Any] = {name: getattr(self, name).decode() for name in _TEXT_FIELDS}
        fields.update((name, _date(name, getattr(self, name))) for name in _DATE_FIELDS)
        return IdentityDocument(
            kind=self.kind,
            sex=_sex(self.sex),
            **fields,
            long_term=self.long_term,
            mrz=_mrz(self.mrz),
            photo=self.photo,
            fingerprints=self.fingerprints,
            fingerprints_present=self.fingerprints_present,
            checks=self.checks,
            raw=_raw(self.raw),
        )


def _iso(date: dt.date | None) -> bytes:
    return b"" if date is None else date.isoformat().encode()


def _sex(blob: bytes) -> Sex:
    try:
        return Sex(blob.decode("utf-8", "replace"))
    except ValueError:
        raise ValueError(f"sex is not one of {', '.join(s.value for s in Sex)}") from None


def _date(name: str, blob: bytes) -> dt.date | None:
    if not blob:
        return None
    try:
        return dt.date.fromisoformat(blob.decode("utf-8", "replace"))
    except ValueError:
        raise ValueError(f"{name} is not a YYYY-MM-DD date") from None


def _raw(blob: bytes) -> dict[str, str]:
    try:
        value: Any = json.loads(blob.decode("utf-8", "replace"))
    except ValueError:
        raise ValueError("raw is not a JSON object") from None
    if type(value) is not dict or not all(type(v) is str for v in value.values()):
        raise ValueError("raw is not a JSON object of strings")
    return value


def _mrz(blob: bytes) -> tuple[str, ...]:
    try:
        value: Any = json.loads(blob.decode("utf-8", "replace"))
    except ValueError:
        raise ValueError("mrz is not a JSON array") from None
    if type(value) is not list or not all(type(v) is str for v in value):
        raise ValueError("mrz is not a JSON array of strings")
    return tuple(value)


@dataclass(frozen=True)
class _DocumentCommand(Command):
    """``IdScanner.ReadDocument``: the document travels as a `DocumentCompletion`."""

    def completion_of(self, result: Any) -> Any:
        return DocumentCompletion.of(result)

    def result_of(self, completion: Any) -> Any:
        return completion.to_document() if completion is not None else None


ID_SCANNER: Final[InterfaceSpec] = build_interface(
    "IdScanner",
    IdScannerStatus,
    IdScannerCapabilities,
    (
        _DocumentCommand(
            "IdScanner.ReadDocument", "read_document", ReadDocumentPayload, DocumentCompletion
        ),
        Command("IdScanner.ScanImage", "scan_image", ScanImagePayload, ScannedImage),
        Command("IdScanner.Eject", "eject"),
        Command("IdScanner.Retain", "retain"),
        Command("IdScanner.Reset", "reset"),
        Command("IdScanner.GetRetainBin", "retain_bin", completion=RetainBin, queued=False),
        Command(
            "IdScanner.EmptyRetainBin", "empty_retain_bin", IdEmptyRetainBinPayload, queued=False
        ),
    ),
    (InsertDocument, DocumentInserted, InvalidDocument, DocumentRemoved),
)
