"""`ScriptedIdBackend`: a small `IdScannerBackend` the service tests drive by hand.

The test is the customer and fate: `present` puts a document on the scanner (a flat
reader) or at its mouth (a motorised one, which takes it in over ``intake`` seconds),
`take` removes one handed back, `jam_next` makes the next move jam, `hold` makes
retain/eject wait until `release`. It follows the backend contract: `accept_document`
emits `InsertDocument` then `DocumentInserted`; a cancellation during the intake lets
the intake finish (the document stays in); eject and retain are never cut halfway.

Also: synthetic people for the tests (made-up names; numbers built here with a correct
or a deliberately wrong check character; region code 110105).
"""

from __future__ import annotations

import asyncio
import datetime as dt

from hal.device import BackendListener, DeviceState
from hal.devices.id_scanner import (
    DocumentInserted,
    DocumentKind,
    DocumentRemoved,
    DocumentStatus,
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
from hal.errors import InvalidMedia, MediaJam, NoMedia

__all__ = [
    "ADDRESS",
    "NAME",
    "NUMBER",
    "ScriptedIdBackend",
    "id_number",
    "motorised_caps",
    "resident_card",
]

#: A made-up holder (no real person): name, address and a valid number (1949-12-31,
#: female: digit 17 is 2, even; check character X).
NAME = "测试人甲"
ADDRESS = "北京市东城区演示路一号院"
NUMBER = "11010519491231002X"

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def id_number(first17: str, *, wrong: bool = False) -> str:
    """A number with its MOD 11-2 check character (or a wrong one), computed here."""
    total = sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True))
    check = "10X98765432"[total % 11]
    if wrong:
        check = "10X98765432"[(total + 1) % 11]
    return first17 + check


def resident_card(**changes: object) -> IdentityDocument:
    """A resident ID card as a backend returns it (no checks), with ``changes``."""
    fields: dict[str, object] = {
        "kind": DocumentKind.CN_RESIDENT_ID,
        "name": NAME,
        "sex": Sex.FEMALE,
        "ethnicity": "01",
        "birth_date": dt.date(1949, 12, 31),
        "address": ADDRESS,
        "document_number": NUMBER,
        "issuer": "北京市公安局东城分局",
        "valid_from": dt.date(2020, 1, 1),
        "valid_to": dt.date(2040, 1, 1),
        "photo": Photo(b"WLT" + bytes(1021), ImageFormat.WLT),
    }
    fields.update(changes)
    return IdentityDocument(**fields)  # type: ignore[arg-type]


def motorised_caps(**changes: object) -> IdScannerCapabilities:
    """A motorised chip reader with a retain bin of 3, images, fingerprints."""
    fields: dict[str, object] = {
        "chip": True,
        "fingerprints": True,
        "newest_address": True,
        "images": frozenset({ImageSide.FRONT}),
        "image_formats": frozenset({ImageFormat.JPEG}),
        "eject": True,
        "retain_capacity": 3,
        "removal_sensor": True,
    }
    fields.update(changes)
    return IdScannerCapabilities(**fields)  # type: ignore[arg-type]


class ScriptedIdBackend:
    """A scanner the test drives. Flat (no eject, no bin) unless ``caps`` say so."""

    def __init__(self, caps: IdScannerCapabilities | None = None, *, intake: float = 0.0) -> None:
        self.caps = caps or IdScannerCapabilities()
        self.intake = intake
        self.media = DocumentStatus.NOT_PRESENT
        self.device = DeviceState.ONLINE
        self.document: IdentityDocument | None = None  # the one inside / on the field
        self.offered: IdentityDocument | None = None  # at the mouth, not yet taken in
        self.invalid_next = False
        self.jam_next = False
        self.retained: list[IdentityDocument] = []
        self.calls: list[str] = []
        self.held = asyncio.Event()
        self.held.set()
        self.moving = asyncio.Event()  # set while an eject/retain waits for release
        self.reset_goes: str | None = None  # force what reset() reports
        self._presented = asyncio.Event()
        self._listener: BackendListener[IdScannerStatus] | None = None
        self.is_open = False

    # --- the test's side ---------------------------------------------------------------

    def present(self, document: IdentityDocument) -> None:
        """The customer presents a document."""
        self.offered = document
        self._presented.set()

    def take(self) -> None:
        """The customer takes the document handed back (or lying on a flat reader)."""
        self.document = None
        self.media = DocumentStatus.NOT_PRESENT
        self._report()
        if self.caps.removal_sensor and self._listener is not None:
            self._listener.event(DocumentRemoved())

    def hold(self) -> None:
        """Make the next eject or retain wait for `release`."""
        self.held.clear()

    def release(self) -> None:
        self.held.set()

    # --- the backend contract ----------------------------------------------------------

    async def open(self, listener: BackendListener[IdScannerStatus]) -> None:
        self._listener = listener
        self.is_open = True

    async def close(self) -> None:
        self._listener = None
        self.is_open = False

    def capabilities(self) -> IdScannerCapabilities:
        return self.caps

    async def get_status(self) -> IdScannerStatus:
        return IdScannerStatus(device=self.device, media=self.media)

    def _status(self) -> IdScannerStatus:
        return IdScannerStatus(device=self.device, media=self.media)

    def _report(self) -> None:
        if self._listener is not None:
            self._listener.status_changed(self._status())

    def _event(self, event: InsertDocument | DocumentInserted | InvalidDocument) -> None:
        if self._listener is not None:
            self._listener.event(event)

    async def accept_document(self) -> None:
        self.calls.append("accept")
        self._event(InsertDocument())
        while self.offered is None:
            self._presented.clear()
            await self._presented.wait()
        document, self.offered = self.offered, None
        if self.intake:
            self.media = DocumentStatus.ENTERING
            self._report()
            # Taking it in is not cut halfway: a cancellation waits, the document stays in.
            task = asyncio.ensure_future(asyncio.sleep(self.intake))
            try:
                await asyncio.shield(task)
            except asyncio.CancelledError:
                await task
                self._taken_in(document)
                raise
        self._taken_in(document)

    def _taken_in(self, document: IdentityDocument) -> None:
        self.document = document
        self.media = DocumentStatus.PRESENT
        self._report()
        self._event(DocumentInserted(kind=None))

    async def read_document(self, *, fingerprints: bool, newest_address: bool) -> IdentityDocument:
        self.calls.append(f"read fingerprints={fingerprints} newest={newest_address}")
        if self.document is None:
            raise NoMedia("no document on the scanner")
        if self.invalid_next:
            self.invalid_next = False
            self._event(InvalidDocument(reason="unknown card type"))
            raise InvalidMedia("the document could not be read: unknown card type")
        return self.document

    async def scan_image(self, side: ImageSide, format: ImageFormat) -> ScannedImage:
        self.calls.append(f"scan {side.value} {format.value}")
        if self.document is None:
            raise NoMedia("no document on the scanner")
        return ScannedImage(side, b"\xff\xd8image-bytes\xff\xd9", format, 64, 40)

    async def _move(self, what: str) -> None:
        self.calls.append(what)
        self.moving.set()
        try:
            await self.held.wait()
        finally:
            self.moving.clear()
        if self.jam_next:
            self.jam_next = False
            self.media = DocumentStatus.JAMMED
            self._report()
            raise MediaJam(f"the document jammed on {what}")

    async def eject(self) -> None:
        await self._move("eject")
        self.media = DocumentStatus.NOT_PRESENT
        self.document = None
        self._report()

    async def retain(self) -> None:
        await self._move("retain")
        if self.document is not None:
            self.retained.append(self.document)
        self.document = None
        self.media = DocumentStatus.NOT_PRESENT
        self._report()

    async def reset(self) -> str | None:
        self.calls.append("reset")
        inside = self.media in (DocumentStatus.PRESENT, DocumentStatus.JAMMED)
        went = self.reset_goes
        if went is None and inside:
            # Handed back if it can be (a motorised scanner, not jammed), else retained.
            if self.caps.eject and self.media is DocumentStatus.PRESENT:
                went = "exit"
            elif self.caps.retain_capacity:
                went = "retain"
        if went == "retain" and self.document is not None:
            self.retained.append(self.document)
        if went is not None:
            self.document = None
            self.media = DocumentStatus.NOT_PRESENT
        self._report()
        return went
