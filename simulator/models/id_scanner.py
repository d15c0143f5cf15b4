"""A simulated ID-document scanner: a state machine implementing `IdScannerBackend`.

Three builds (`IdBuild`, the ``id_profile`` option of ``sim://id_scanner``):

- ``kiosk`` (the default): a motorised combined scanner, as a teller machine has: it
  takes the document in, reads the chip through its SAM_V module (fingerprints and the
  newest address too) or the MRZ through its OCR, scans both sides (PNG, BMP, and JPEG
  when OpenCV is installed), hands the document back or keeps it in a retain bin of 20,
  and senses the customer taking it. It is the default because it has every feature
  the interface names, so a contract suite run over the default simulator covers them
  all (as the default simulated card reader does);
- ``chip``: a flat SAM_V reader: chip documents laid on its field, fingerprints and the
  newest address; no motor, retain bin or images, and no removal sensor (a flat reader
  cannot tell reliably when a card is taken away);
- ``mrz``: an OCR reader for MRZ documents laid on its window; it senses the document
  taken away.

Where the document is (`DocumentPosition`): ``none`` -> ``presented`` (on the flat
reader's field / held at the motorised scanner's entry) -> ``inside`` (motorised: taken
in) -> ``exit`` (handed back) -> ``customer``; or ``retained``, or ``jammed``. The model
keeps that ground truth; the control (`simulator.id_control.IdScannerControl`) acts on it.

Faults: a jam of the next movement (`MediaJam`, media ``jammed`` until an operator
clears it), the security module failing its self-test (``status.security_module`` is
``selfTestFailed``; chip reads raise `HardwareError`), a read failure (the next read:
`InvalidDocument` and `InvalidMedia`, as SW3 41), slow reads, slow replies, power
loss. An ``unreadable`` document gives `InvalidDocument` + `InvalidMedia`; a ``forged``
one `InvalidDocument` + `SecurityFail` (SW3 32); a motorised scanner gives either back.
"""

from __future__ import annotations

import asyncio
import logging

from hal.device import BackendListener
from hal.devices.id_scanner import (
    DocumentInserted,
    DocumentKind,
    DocumentRemoved,
    IdentityDocument,
    IdScannerCapabilities,
    IdScannerStatus,
    ImageFormat,
    ImageSide,
    InsertDocument,
    InvalidDocument,
    ScannedImage,
)
from hal.errors import (
    DeviceNotReady,
    HardwareError,
    InvalidMedia,
    MediaJam,
    NoMedia,
    RetainBinFull,
    SecurityFail,
    SequenceError,
    UnsupportedOperation,
)
from simulator.id_images import HEIGHT, WIDTH, card_image
from simulator.id_profiles import CHIP_KINDS, DocumentProfile, Failure, Medium
from simulator.models.id_scanner_state import (
    HELD,
    ID_BUILDS,
    SAM_ID,
    DocumentPosition,
    IdBuild,
    IdScannerCore,
    _Document,
)

__all__ = [
    "ID_BUILDS",
    "DocumentPosition",
    "IdBuild",
    "IdScannerModel",
]

log = logging.getLogger(__name__)


class IdScannerModel(IdScannerCore):
    """A simulated ID-document scanner (see the module docstring).

    Args:
        name: the device name used in messages.
        build: ``kiosk``, ``chip`` or ``mrz``.
        clock: the world's clock; a real-time clock if ``None``.
        rng: randomness for motion-time jitter and poll phase; seeded with 0 if ``None``.
        retain_capacity: documents the kiosk's retain bin holds (the other builds have none).
        motion_time: simulated seconds a document movement takes.
        read_time: simulated seconds a read takes (fingerprints add 40 %).
        poll_interval: simulated seconds between a flat reader's searches for a card.

    Raises:
        ConfigurationError: an unknown build or an option out of range.
    """

    # --- what the world does ---------------------------------------------------------------

    def customer_presents(self, profile: DocumentProfile) -> None:
        """The customer lays the document on the reader or holds it to the entry.

        A motorised scanner whose entry is open takes it in at once; otherwise it waits
        at the entry (``presented``) until the entry opens. On a flat reader it lies on
        the field, where the next search finds it.

        Raises:
            UnsupportedOperation: this build cannot read that kind of document.
            SequenceError: a document is already there.
        """
        if not self.reads(profile):
            raise UnsupportedOperation(
                f"{self.name} ({self.build.value}) cannot read the {profile.name} document "
                f"({profile.medium.value})"
            )
        held = self._doc
        if held is not None and held.position in HELD:
            raise SequenceError(
                f"{self.name}: a document ({held.profile.name}) is already "
                f"{held.position.value}; only one fits"
            )
        doc = _Document(profile)
        doc.position = DocumentPosition.PRESENTED
        self._doc = doc
        if self._motorised and self._entry_open and self._powered:
            self._take_in(doc)
        self._update_status()

    def customer_removes(self) -> None:
        """The customer takes the document: off the field or window, back from the
        entry before it was taken in, or from the exit.

        Raises:
            SequenceError: there is no document the customer can reach.
        """
        doc = self._doc
        if doc is None or doc.position not in (DocumentPosition.PRESENTED, DocumentPosition.EXIT):
            raise SequenceError(
                f"{self.name}: no document the customer can take (it is {self.position.value})"
            )
        doc.position = DocumentPosition.CUSTOMER
        if self._powered and self.capabilities().removal_sensor:
            self._emit(DocumentRemoved())
        self._update_status()

    def jam_next_movement(self) -> None:
        """The next document movement (in, back out, into the bin) jams.

        Raises:
            UnsupportedOperation: a flat reader moves nothing.
        """
        if not self._motorised:
            raise UnsupportedOperation(f"{self.name} ({self.build.value}) moves no document")
        self._jam_next = True

    def clear_jam(self) -> None:
        """An operator clears a jam: the document is left inside."""
        self._jam_next = False
        if self._doc is not None and self._doc.position is DocumentPosition.JAMMED:
            self._doc.position = DocumentPosition.INSIDE
        self._update_status()

    def set_sam_failure(self, failed: bool) -> None:
        """The security module fails its self-test (``False``: it is replaced).

        Raises:
            UnsupportedOperation: the build has no security module.
        """
        if self.build is IdBuild.MRZ:
            raise UnsupportedOperation(f"{self.name} (mrz) has no security module")
        self._sam_failed = failed
        self._update_status()

    def fail_next_read(self) -> None:
        """The next read fails (as SW3 41: the card could not be read)."""
        self._fail_next_read = True

    def set_slow_read(self, seconds: float) -> None:
        """Every read takes ``seconds`` simulated seconds longer (0: normal)."""
        if not seconds >= 0:
            raise ValueError(f"a read delay is >= 0 seconds, got {seconds!r}")
        self._slow_read = float(seconds)

    def set_power(self, on: bool) -> None:
        """Cut or restore the power; the document stays where it is."""
        if on == self._powered:
            return
        self._powered = on
        if not on:
            self._entry_open = False
        self._update_status()

    def set_reply_delay(self, seconds: float) -> None:
        """Delay every backend call by ``seconds`` simulated seconds (0: no delay)."""
        if not seconds >= 0:
            raise ValueError(f"a reply delay is >= 0 seconds, got {seconds!r}")
        self._reply_delay_s = float(seconds)

    def empty_retain_bin(self) -> int:
        """An operator empties the retain bin; returns how many documents came out."""
        count = len(self._bin)
        self._bin.clear()
        self._update_status()
        return count

    # --- IdScannerBackend ------------------------------------------------------------------

    async def open(self, listener: BackendListener[IdScannerStatus]) -> None:
        """Start reporting to ``listener`` (one service at a time).

        Raises:
            DeviceNotReady: another service has it open.
        """
        if self._listener is not None and self._listener is not listener:
            raise DeviceNotReady(f"{self.name} is already open by another service; close it first")
        await self._reply_delay(opening=True)
        self._listener = listener
        self._last_status = None
        self._update_status()

    async def close(self) -> None:
        """Stop reporting; the entry closes."""
        self._entry_open = False
        self._update_status()
        self._listener = None
        self._signal.notify()

    def capabilities(self) -> IdScannerCapabilities:
        """What this build can do."""
        mrz_kinds = frozenset(DocumentKind) - CHIP_KINDS
        if self.build is IdBuild.CHIP:
            return IdScannerCapabilities(
                kinds=CHIP_KINDS,
                chip=True,
                fingerprints=True,
                newest_address=True,
                security_module_id=SAM_ID,
                firmware="sim-samv-1",
            )
        if self.build is IdBuild.MRZ:
            return IdScannerCapabilities(
                kinds=mrz_kinds, chip=False, mrz=True, removal_sensor=True, firmware="sim-ocr-1"
            )
        return IdScannerCapabilities(
            kinds=frozenset(DocumentKind),
            chip=True,
            mrz=True,
            fingerprints=True,
            newest_address=True,
            images=frozenset(ImageSide),
            image_formats=self._formats,
            eject=True,
            retain_capacity=self._retain_capacity,
            removal_sensor=True,
            security_module_id=SAM_ID,
            firmware="sim-kiosk-1",
        )

    async def get_status(self) -> IdScannerStatus:
        """Where things stand now."""
        await self._reply_delay()
        return self._compute_status()

    async def accept_document(self) -> None:
        """Get ready (``InsertDocument``) and return once a document is there
        (``DocumentInserted``); a motorised scanner takes it in."""
        await self._reply_delay()
        self._require_power()
        if self.build is IdBuild.CHIP and self._sam_failed:
            raise HardwareError(f"{self.name}: the security module failed its self-test")
        doc = self._doc
        if doc is not None and doc.position is DocumentPosition.JAMMED:
            raise MediaJam(f"{self.name}: a document is jammed in the transport")
        if self._motorised:
            await self._accept_motorised()
        else:
            await self._accept_flat()

    async def read_document(self, *, fingerprints: bool, newest_address: bool) -> IdentityDocument:
        """Read the document there; ``checks`` empty."""
        await self._reply_delay()
        self._require_power()
        caps = self.capabilities()
        if fingerprints and not caps.fingerprints:
            raise UnsupportedOperation(f"{self.name} ({self.build.value}) reads no fingerprints")
        if newest_address and not caps.newest_address:
            raise UnsupportedOperation(f"{self.name} ({self.build.value}) reads no newest address")
        doc = self._document_under_reader()
        profile = doc.profile
        if profile.medium is Medium.CHIP and self._sam_failed:
            raise HardwareError(f"{self.name}: the security module failed its self-test")
        read_time = self._read_time * (1.4 if fingerprints else 1.0) + self._slow_read
        await self.clock.sleep(read_time)
        self._require_power()
        if self._doc is not doc or doc.position not in (
            DocumentPosition.PRESENTED,
            DocumentPosition.INSIDE,
        ):
            raise NoMedia(f"{self.name}: the document was taken away during the read")
        failed = self._fail_next_read or profile.failure is not Failure.NONE
        self._fail_next_read = False
        if failed:
            forged = profile.failure is Failure.FORGED
            reason = (
                "the card and the security module failed to authenticate each other"
                if forged
                else "the document could not be read"
            )
            self._emit(InvalidDocument(reason=reason))
            if self._motorised:
                await self._move(doc, DocumentPosition.EXIT)
            if forged:
                raise SecurityFail(f"{self.name}: {reason}")
            raise InvalidMedia(f"{self.name}: {reason}")
        return profile.read_as(fingerprints=fingerprints, newest_address=newest_address)

    async def scan_image(self, side: ImageSide, format: ImageFormat) -> ScannedImage:
        """Scan one side of the document inside (a generated card-like picture)."""
        await self._reply_delay()
        self._require_power()
        if not self._motorised:
            raise UnsupportedOperation(f"{self.name} ({self.build.value}) scans no images")
        if format not in self._formats:
            raise UnsupportedOperation(f"{self.name} does not write {format.value} images")
        doc = self._document_under_reader()
        await self.clock.sleep(self._read_time)
        self._require_power()
        if self._doc is not doc or doc.position is not DocumentPosition.INSIDE:
            raise NoMedia(f"{self.name}: the document left during the scan")
        data = card_image(doc.profile.name, side, format, mrz_lines=len(doc.profile.mrz))
        return ScannedImage(side=side, data=data, format=format, width=WIDTH, height=HEIGHT)

    async def eject(self) -> None:
        """Hand the document inside back to the exit."""
        await self._reply_delay()
        self._require_power()
        self._require_motor("eject")
        doc = self._document_in_transport()
        if doc.position is DocumentPosition.EXIT:
            return
        await self._move(doc, DocumentPosition.EXIT)

    async def retain(self) -> None:
        """Move the document inside (or at the exit) into the retain bin."""
        await self._reply_delay()
        self._require_power()
        self._require_motor("retain")
        if not self._retain_capacity:
            raise UnsupportedOperation(f"{self.name} has no retain bin")
        doc = self._document_in_transport()
        if len(self._bin) >= self._retain_capacity:
            raise RetainBinFull(
                f"{self.name}: the retain bin holds {len(self._bin)} of "
                f"{self._retain_capacity} documents"
            )
        await self._move(doc, DocumentPosition.RETAINED)

    async def reset(self) -> str | None:
        """Reset: the security module's self-test first (it raises `HardwareError` when
        failed, moving nothing); then a motorised scanner hands a document inside back
        (``"exit"``). A document at the exit or on a flat reader stays."""
        await self._reply_delay()
        self._require_power()
        self._entry_open = False
        self._update_status()
        if self._sam_failed:
            raise HardwareError(f"{self.name}: the security module failed its self-test")
        doc = self._doc
        if not self._motorised or doc is None:
            return None
        if doc.position is DocumentPosition.JAMMED:
            raise MediaJam(f"{self.name}: the document is jammed; an operator must clear it")
        if doc.position is not DocumentPosition.INSIDE:
            return None
        await self._move(doc, DocumentPosition.EXIT)
        return "exit"

    # --- internals -------------------------------------------------------------------------

    async def _accept_motorised(self) -> None:
        doc = self._doc
        if doc is not None and doc.position is DocumentPosition.INSIDE:
            return
        self._intake = None
        self._entry_open = True
        self._emit(InsertDocument())
        self._update_status()
        if doc is not None and doc.position is DocumentPosition.PRESENTED:
            self._take_in(doc)
        try:
            await self._signal.wait_until(lambda: self._intake is not None or not self._powered)
        except asyncio.CancelledError:
            # The entry closes; a document that came in at that instant stays inside.
            self._entry_open = False
            self._intake = None
            self._update_status()
            raise
        self._entry_open = False
        outcome, self._intake = self._intake, None
        self._update_status()
        if outcome is None:
            raise DeviceNotReady(f"{self.name} lost power while waiting for a document")
        if outcome is DocumentPosition.JAMMED:
            raise MediaJam(f"{self.name}: the document jammed on its way in")

    async def _accept_flat(self) -> None:
        self._entry_open = True
        self._emit(InsertDocument())
        self._update_status()
        try:
            while True:
                await self._signal.wait_until(
                    lambda: self.position is DocumentPosition.PRESENTED or not self._powered
                )
                if not self._powered:
                    raise DeviceNotReady(f"{self.name} lost power while waiting for a document")
                # The next search for a card (every poll_interval) finds it.
                await self.clock.sleep(self._poll_interval * self._rng.random())
                self._require_power()
                if self.position is DocumentPosition.PRESENTED:
                    break
        finally:
            self._entry_open = False
            self._update_status()
        self._emit(DocumentInserted())

    def __repr__(self) -> str:
        return f"IdScannerModel({self.name!r}, {self.build.value}, {self.position.value})"
