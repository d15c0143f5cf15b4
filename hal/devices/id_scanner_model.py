"""The ID-document scanner's data model: document kinds, the identity document, checks,
images, status and capabilities.

XFS4IoT has no ID-document interface: `IdScanner` is our extension, named the XFS4IoT
way (``IdScanner.ReadDocument``, ``IdScanner.DocumentInsertedEvent``...). It reads:

- the chip of a China resident ID card, a Hong Kong/Macao/Taiwan residence permit
  (``J``) and a foreigner permanent residence card (2017 ``I`` and 2023 ``Y`` layouts)
  through a SAM_V security module;
- the machine-readable zone (MRZ) of passports and travel documents (ICAO 9303 TD1, TD2,
  TD3) and of the China travel permits' 3x30 MRZ, through an OCR reader.

Names, document numbers, addresses, birth dates, the MRZ lines, the photo and the
fingerprint templates are personal data: the dataclasses here never print them; the
``masked_*`` properties give what a log may show. `hal.devices.id_scanner` re-exports
all of it with the interface, the events and the backend contract; import from there.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from hal.device import DeviceState
from hal.devices.card_reader_model import ReplenishmentStatus

__all__ = [
    "ID_FEATURES",
    "Check",
    "CheckName",
    "DocumentKind",
    "DocumentStatus",
    "Fingerprint",
    "IdScannerCapabilities",
    "IdScannerStatus",
    "IdentityDocument",
    "ImageFormat",
    "ImageSide",
    "Photo",
    "ScannedImage",
    "Sex",
    "mask_name",
    "mask_number",
]


#: The capability features `IdScannerCapabilities.features` names, and what each means.
ID_FEATURES: dict[str, str] = {
    "chip": "reads the chip of China ID cards through a SAM_V module",
    "mrz": "reads the machine-readable zone of passports and travel documents",
    "fingerprints": "reads the fingerprint templates stored on the chip",
    "newest_address": "reads the newest address appended on the chip",
    "images": "scans an image of a side of the document",
    "eject": "motorised: holds the document and hands it back",
    "retain": "keeps a document in a retain bin",
    "removal_sensor": "tells when the customer takes the document away",
}


class DocumentKind(StrEnum):
    """What kind of document was read."""

    #: China resident identity card (居民身份证), 2nd/3rd generation, read from its chip.
    CN_RESIDENT_ID = "cnResidentId"
    #: Residence permit for Hong Kong, Macao and Taiwan residents (type flag ``J``).
    CN_HMT_RESIDENCE_PERMIT = "cnHmtResidencePermit"
    #: Foreigner's permanent residence card, 2017 layout (type flag ``I``).
    CN_FOREIGNER_PERMANENT_2017 = "cnForeignerPermanent2017"
    #: Foreigner's permanent residence card, 2023 layout (type flag ``Y``).
    CN_FOREIGNER_PERMANENT_2023 = "cnForeignerPermanent2023"
    #: A passport, read from its TD3 MRZ (document code ``P``).
    PASSPORT = "passport"
    #: Another ICAO travel document or ID card, read from a TD1 or TD2 MRZ.
    TRAVEL_DOCUMENT = "travelDocument"
    #: A China travel permit with the 3x30 MRZ (GA/T 704.14; e.g. the exit-entry permit
    #: for travelling to and from Hong Kong and Macao).
    CN_TRAVEL_PERMIT = "cnTravelPermit"


class Sex(StrEnum):
    """Sex as the document states it (GB/T 2261.1 codes 0/1/2/9; MRZ ``M``/``F``/``<``)."""

    MALE = "male"
    FEMALE = "female"
    UNKNOWN = "unknown"
    UNSPECIFIED = "unspecified"


class ImageFormat(StrEnum):
    """Formats of a document's photo or a scanned image."""

    #: The chip photo's proprietary wavelet format (1024 bytes); passed through as read.
    WLT = "wlt"
    JPEG = "jpeg"
    PNG = "png"
    BMP = "bmp"


class ImageSide(StrEnum):
    """Which side of the document `IdScanner.scan_image` scans."""

    FRONT = "front"
    BACK = "back"


class DocumentStatus(StrEnum):
    """Where the document is, as the scanner sees it (XFS4IoT ``media`` values)."""

    UNKNOWN = "unknown"
    PRESENT = "present"
    NOT_PRESENT = "notPresent"
    JAMMED = "jammed"
    ENTERING = "entering"


class CheckName(StrEnum):
    """The validations the service runs on every document read."""

    #: The ID number's MOD 11-2 check character (GB 11643 / ISO 7064).
    ID_NUMBER = "idNumberCheck"
    #: The birth date in the ID number (digits 7-14) equals the date of birth read.
    BIRTH_DATE_MATCHES_NUMBER = "birthDateMatchesNumber"
    #: The sex in the ID number (digit 17: odd male, even female) equals the sex read.
    SEX_MATCHES_NUMBER = "sexMatchesNumber"
    #: MRZ check digits (ICAO 9303: weights 7, 3, 1).
    MRZ_DOCUMENT_NUMBER = "mrzDocumentNumber"
    MRZ_BIRTH_DATE = "mrzBirthDate"
    MRZ_EXPIRY = "mrzExpiry"
    MRZ_OPTIONAL_DATA = "mrzOptionalData"
    MRZ_COMPOSITE = "mrzComposite"
    #: The document's validity covers today (``valid_to`` not past; long-term passes).
    NOT_EXPIRED = "notExpired"


@dataclass(frozen=True)
class Check:
    """One validation's result, carried on the document (never silently dropped).

    Attributes:
        name: which check.
        ok: it passed.
        detail: why it failed, in words without personal data (``check character is
            '3', expected 'X'`` is fine; the number itself is not).
    """

    name: CheckName
    ok: bool
    detail: str = ""


@dataclass(frozen=True, repr=False)
class Photo:
    """The holder's photo as the document delivers it.

    Attributes:
        data: the bytes, untouched (a chip's WLT blob is passed through as read).
        format: ``wlt`` for a chip photo; ``jpeg``/``png``/``bmp`` when a device gives one.
    """

    data: bytes
    format: ImageFormat

    def __repr__(self) -> str:
        return f"Photo(format={self.format.value!r}, <{len(self.data)} bytes>)"


@dataclass(frozen=True, repr=False)
class Fingerprint:
    """One fingerprint template from the chip (512 bytes on a resident ID card).

    Attributes:
        position: the finger position code the template carries (11-15 right thumb to
            little finger, 16-20 left, 97/98/99 unknown finger); 0 when unknown.
        template: the template's bytes (never printed, never logged).
    """

    position: int
    template: bytes

    def __repr__(self) -> str:
        return f"Fingerprint(position={self.position}, <{len(self.template)} bytes>)"


def mask_name(name: str) -> str:
    """What a log may show of a name: its first character, the rest as ``*``.

    >>> mask_name("张三")
    '张*'
    """
    text = name.strip()
    if not text:
        return ""
    return text[0] + "*" * min(len(text) - 1, 8)


def mask_number(number: str) -> str:
    """What a log may show of a document or ID number: the first 3 and last 2 characters
    of a long number, 1 and 1 of a short one; the rest as ``*``.

    >>> mask_number("11010519491231002X")
    '110*************2X'
    """
    text = number.strip()
    if len(text) >= 10:
        return text[:3] + "*" * (len(text) - 5) + text[-2:]
    if len(text) >= 4:
        return text[0] + "*" * (len(text) - 2) + text[-1]
    return "*" * len(text)


@dataclass(frozen=True, repr=False)
class IdentityDocument:
    """An identity document as read, with the service's checks on it.

    Fields a document does not carry are ``""``, ``None`` or empty. Dates are
    `datetime.date`; a date the document holds but that is not a valid date leaves the
    field ``None`` and fails a check (``raw`` keeps what was read).

    Attributes:
        kind: the document's kind.
        name: the holder's name as printed in the local script (Chinese name; the
            resident card's only name).
        name_latin: the name in Latin letters (foreigner cards' English name; from an
            MRZ: primary and secondary identifiers joined by a space).
        sex: the holder's sex.
        ethnicity: GB 3304 two-digit code (resident ID cards), else ``""``;
            `ethnicity_name` gives its name.
        nationality: GB/T 2659 / ICAO alpha-3 code (foreigner cards, MRZ), else ``""``.
        birth_date: date of birth.
        address: the address on the card (resident ID, HMT permit).
        newest_address: the newest address appended on the chip, if read and present.
        document_number: the citizen ID number, the card number or the MRZ document
            number.
        issuer: the issuing authority (resident ID: 签发机关; foreigner 2017: the
            accepting authority's code; MRZ: the issuing state).
        valid_from: start of validity, if the document states it.
        valid_to: end of validity; ``None`` with ``long_term`` for a long-term card.
        long_term: the card is valid without end (长期).
        permit_number: the HMT permit's travel-permit number, or the 2023 foreigner card's
            link to the old 15-character number.
        issue_count: the HMT permit's issue count or the 2023 foreigner card's renewal
            count, as printed.
        card_version: the 2017 foreigner card's version field.
        mrz: the MRZ lines as read (MRZ documents only).
        photo: the holder's photo, if the document has one.
        fingerprints: the fingerprint templates read (empty: none read or none on the
            card; `fingerprints_present` tells which).
        fingerprints_present: the chip holds fingerprint templates (``None``: not asked).
        checks: the validations the service ran; `valid` is true when all passed.
        raw: the fields as read, by name (for a field that could not be parsed); personal
            data, never printed.
    """

    kind: DocumentKind
    name: str = ""
    name_latin: str = ""
    sex: Sex = Sex.UNKNOWN
    ethnicity: str = ""
    nationality: str = ""
    birth_date: dt.date | None = None
    address: str = ""
    newest_address: str = ""
    document_number: str = ""
    issuer: str = ""
    valid_from: dt.date | None = None
    valid_to: dt.date | None = None
    long_term: bool = False
    permit_number: str = ""
    issue_count: str = ""
    card_version: str = ""
    mrz: tuple[str, ...] = ()
    photo: Photo | None = None
    fingerprints: tuple[Fingerprint, ...] = ()
    fingerprints_present: bool | None = None
    checks: tuple[Check, ...] = ()
    raw: Mapping[str, str] = field(default_factory=dict)

    @property
    def valid(self) -> bool:
        """Every check passed (and at least one ran)."""
        return bool(self.checks) and all(check.ok for check in self.checks)

    def failed_checks(self) -> tuple[Check, ...]:
        """The checks that failed."""
        return tuple(check for check in self.checks if not check.ok)

    @property
    def masked_name(self) -> str:
        """The name as a log may show it."""
        return mask_name(self.name or self.name_latin)

    @property
    def masked_number(self) -> str:
        """The document number as a log may show it."""
        return mask_number(self.document_number)

    def __repr__(self) -> str:
        failed = ",".join(check.name.value for check in self.failed_checks())
        return (
            f"IdentityDocument(kind={self.kind.value!r}, name={self.masked_name!r}, "
            f"number={self.masked_number!r}, photo={self.photo!r}, "
            f"fingerprints={len(self.fingerprints)}, valid={self.valid}"
            + (f", failed={failed!r}" if failed else "")
            + ")"
        )


@dataclass(frozen=True, repr=False)
class ScannedImage:
    """An image of one side of the document (`IdScanner.scan_image`).

    Attributes:
        side: which side.
        data: the encoded image (never printed, never logged).
        format: its encoding.
        width, height: its size in pixels.
    """

    side: ImageSide
    data: bytes
    format: ImageFormat
    width: int
    height: int

    def __repr__(self) -> str:
        return (
            f"ScannedImage(side={self.side.value!r}, format={self.format.value!r}, "
            f"{self.width}x{self.height}, <{len(self.data)} bytes>)"
        )


@dataclass(frozen=True)
class IdScannerStatus:
    """The scanner's status.

    Attributes:
        device: the common device state.
        media: where the document is (a flat chip reader reports ``present`` while a
            card lies in its field, ``unknown`` when it cannot tell).
        retain_bin: fill state of the retain bin (``ok`` when there is none).
        security_module: state of the SAM (``ok``, ``selfTestFailed``,
            ``notAuthorised``, ``unknown``); ``ok`` for a scanner without one.
    """

    device: DeviceState = DeviceState.ONLINE
    media: DocumentStatus = DocumentStatus.NOT_PRESENT
    retain_bin: ReplenishmentStatus = ReplenishmentStatus.OK
    security_module: str = "ok"


@dataclass(frozen=True)
class IdScannerCapabilities:
    """What the scanner can do.

    Attributes:
        kinds: the document kinds it reads.
        chip: reads ID-card chips through a SAM_V module.
        mrz: reads machine-readable zones.
        fingerprints: reads fingerprint templates (``read_document(fingerprints=True)``).
        newest_address: reads the newest address appended on the chip.
        images: the sides `scan_image` scans (empty: none).
        image_formats: the formats `scan_image` delivers.
        eject: holds the document and hands it back (`eject`).
        retain_capacity: documents its retain bin holds; 0 when there is none.
        removal_sensor: tells when the customer takes the document (`DocumentRemoved`).
        security_module_id: the SAM's id as the module reports it (``05.01-...``), or
            ``""``.
        firmware: the firmware version the device reports (``""`` when it tells none).
    """

    kinds: frozenset[DocumentKind] = frozenset(DocumentKind)
    chip: bool = True
    mrz: bool = False
    fingerprints: bool = False
    newest_address: bool = False
    images: frozenset[ImageSide] = frozenset()
    image_formats: frozenset[ImageFormat] = frozenset()
    eject: bool = False
    retain_capacity: int = 0
    removal_sensor: bool = False
    security_module_id: str = ""
    firmware: str = ""

    def features(self) -> frozenset[str]:
        """The capability features the scanner has, named as in `ID_FEATURES`."""
        have = {
            "chip": self.chip,
            "mrz": self.mrz,
            "fingerprints": self.fingerprints,
            "newest_address": self.newest_address,
            "images": bool(self.images),
            "eject": self.eject,
            "retain": self.retain_capacity > 0,
            "removal_sensor": self.removal_sensor,
        }
        return frozenset(name for name, present in have.items() if present)
