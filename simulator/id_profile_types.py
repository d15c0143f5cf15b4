"""The synthetic-document types of `simulator.id_profiles`: `DocumentProfile`, how a
document is read (`Medium`) and fails (`Failure`), and the deterministic photo and
fingerprint blobs. `simulator.id_profiles` holds the shipped profiles and re-exports
every name here; its docstring describes what a profile says.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from enum import StrEnum

from hal.devices.id_scanner_model import (
    DocumentKind,
    Fingerprint,
    IdentityDocument,
)
from hal.stimulus import DocumentSample

__all__ = [
    "CHIP_KINDS",
    "FINGERPRINT_SIZE",
    "PHOTO_SIZE",
    "DocumentProfile",
    "Failure",
    "Medium",
    "synthetic_fingerprint",
    "synthetic_photo",
]

#: The chip photo's size (the WLT blob of a resident ID card).
PHOTO_SIZE = 1024
#: One fingerprint template's size on the chip.
FINGERPRINT_SIZE = 512

#: The kinds a SAM_V chip reader reads (the rest are MRZ documents).
CHIP_KINDS = frozenset(
    {
        DocumentKind.CN_RESIDENT_ID,
        DocumentKind.CN_HMT_RESIDENCE_PERMIT,
        DocumentKind.CN_FOREIGNER_PERMANENT_2017,
        DocumentKind.CN_FOREIGNER_PERMANENT_2023,
    }
)


class Medium(StrEnum):
    """How a scanner reads a document: its chip through a SAM_V module, or its MRZ."""

    CHIP = "chip"
    MRZ = "mrz"


class Failure(StrEnum):
    """How a document fails to read."""

    #: Nothing fails.
    NONE = "none"
    #: The reader cannot read it (SW3 41 on a chip reader; the OCR finds no MRZ).
    UNREADABLE = "unreadable"
    #: The card and the security module fail to authenticate each other (SW3 32).
    FORGED = "forged"


def synthetic_photo(seed: str) -> bytes:
    """A deterministic 1024-byte blob standing for a chip's WLT photo.

    Not a WLT image: the wavelet format is proprietary and only licensed libraries
    encode or decode it. The blob only has the size and the pass-through behaviour.
    """
    return hashlib.shake_256(f"tellerhal synthetic WLT photo: {seed}".encode()).digest(PHOTO_SIZE)


def synthetic_fingerprint(seed: str, position: int) -> bytes:
    """A deterministic 512-byte template with the finger position code at byte 5."""
    body = bytearray(
        hashlib.shake_256(f"tellerhal synthetic fingerprint: {seed}".encode()).digest(
            FINGERPRINT_SIZE
        )
    )
    body[0] = 0x43  # a fixed first byte, as a template header has
    body[5] = position
    return bytes(body)


@dataclass(frozen=True, repr=False)
class DocumentProfile:
    """One synthetic document.

    Attributes:
        name: the profile's name (``resident``, ``passport``...).
        description: one line for people.
        medium: how it is read (chip or MRZ).
        document: what a scanner reading everything should read (``checks`` empty);
            ``None`` when no scanner can read it.
        valid: every check the service runs should pass.
        failure: how it fails to read.
        fingerprints: the templates on the chip (empty: none).
    """

    name: str
    description: str
    medium: Medium
    document: IdentityDocument | None
    valid: bool = True
    failure: Failure = Failure.NONE
    fingerprints: tuple[Fingerprint, ...] = ()

    @property
    def expected(self) -> IdentityDocument | None:
        """What a scanner reading everything (fingerprints and the newest address,
        where it can) should read; ``None`` for a document no scanner reads."""
        return self.document

    @property
    def photo(self) -> bytes:
        """The photo as the device delivers it (the WLT stand-in of a chip document;
        ``b""`` for a document without one)."""
        doc = self.document
        if doc is not None and doc.photo is not None:
            return doc.photo.data
        return synthetic_photo(self.name) if self.medium is Medium.CHIP else b""

    @property
    def fingerprint_block(self) -> bytes:
        """The fingerprint data a SAM_V module sends (1024 bytes: two templates), or
        ``b""`` for a card without fingerprints."""
        return b"".join(fp.template for fp in self.fingerprints)

    @property
    def newest_address(self) -> str:
        """The newest address appended on the chip (``""``: none)."""
        return self.document.newest_address if self.document is not None else ""

    @property
    def mrz(self) -> tuple[str, ...]:
        """The MRZ lines printed on the document (empty for a chip document)."""
        return self.document.mrz if self.document is not None else ()

    def read_as(self, *, fingerprints: bool, newest_address: bool) -> IdentityDocument:
        """The document as a read asking for (or not) the fingerprints and the newest
        address returns it.

        Raises:
            ValueError: the profile is not readable (``failure`` is set).
        """
        doc = self.document
        if doc is None or self.failure is not Failure.NONE:
            raise ValueError(f"document profile {self.name} cannot be read ({self.failure})")
        if self.medium is not Medium.CHIP:
            return doc
        return replace(
            doc,
            fingerprints=doc.fingerprints if fingerprints else (),
            fingerprints_present=doc.fingerprints_present if fingerprints else None,
            newest_address=doc.newest_address if newest_address else "",
        )

    def sample(self) -> DocumentSample:
        """What a contract test knows of the document."""
        return DocumentSample(self.name, self.expected, self.valid)

    def __repr__(self) -> str:
        return f"DocumentProfile({self.name!r}, {self.medium.value}, valid={self.valid})"
