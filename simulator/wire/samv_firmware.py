"""A SAM_V ID-card module's firmware, simulated: one command in, one answer out.

`SamvFirmware.handle` takes a decoded host command (CMD, PARA, DATA) and returns the
answer's SW3 and DATA; the framing, the wire's faults and the pacing are the emulator's
(`simulator.wire.samv.SamvEmulator`). What lies on the reader's field comes from a
`CardField`: `CardTable` (a card placed and taken by a test, or by the ID-scanner
model's stimulus) by default.

Behaviour (reference/protocols.md §1.3-1.5; [U] where the reference is silent):

- 10 FF (reset SAM): 90; the card must be found and selected again.
- 11 FF (SAM status): 90; 60 after `fail_self_test`, 66 after `unauthorise`. While the
  SAM is unusable every card command answers the same code [U].
- 12 FF (SAM ID): 90 with the 16-byte management info.
- 20 01 (find card): 9F with ``00 00 00 00`` while a card lies on the field, else 80.
- 20 02 (select): 90 with 8 zero bytes after a find that saw the card; 81 otherwise
  (no card found first, or the card was taken meanwhile).
- 30 01 / 30 10 (read base message, with fingerprints): the 256-byte text block
  (`hal.devices.id_documents.text_block_for`), the 1024-byte photo and, for 30 10, the
  1024-byte fingerprint block; a card without fingerprints answers 30 10 with a
  fingerprint length of 0 (§1.5), or with SW3 91 when ``fingerprints_absent_91`` [U:
  both are seen in SDKs]. A card not selected, or taken away: 41 [U]. An unreadable card:
  41, and it must be placed again. A forged card: the ``forged_sw3`` code (32: the SAM
  failed to authenticate the card; 33: information verification error). A card of an
  unknown type: 40.
- 30 03 (newest address): 90 with 70 bytes of UCS-2LE text, or 91 when the card holds
  none; needs the card selected (41 otherwise).
- anything else: 21 (command error).

Faults: `fail_next_reads` (the next reads answer 41), `fail_self_test`, `unauthorise`,
`repair`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

from hal.devices.id_documents import newest_address_block, text_block_for
from hal.devices.id_scanner_model import IdentityDocument
from simulator.id_profiles import DocumentProfile, Failure, Medium
from simulator.models.id_scanner import DocumentPosition, IdScannerModel

__all__ = [
    "DEFAULT_SAM_ID",
    "CardField",
    "CardTable",
    "ChipCard",
    "ModelField",
    "SamvFirmware",
    "chip_card",
]

log = logging.getLogger(__name__)

#: The simulated SAM's 16-byte management info: shows as ``05.01-20260101-0000000042-
#: 0000004242`` (the SDKs' rendering, reference §1.5).
DEFAULT_SAM_ID = (
    bytes((0x05, 0x00, 0x01, 0x00))
    + (20260101).to_bytes(4, "little")
    + (42).to_bytes(4, "little")
    + (4242).to_bytes(4, "little")
)

#: SW3 codes the firmware answers (reference §1.4).
OK, NO_CONTENT, FOUND = 0x90, 0x91, 0x9F
COMMAND_ERROR, AUTH_CARD, VERIFY = 0x21, 0x32, 0x33
UNKNOWN_TYPE, READ_FAILED = 0x40, 0x41
SELF_TEST, NOT_AUTHORISED = 0x60, 0x66
NO_CARD, SELECT_FAILED = 0x80, 0x81

_PHOTO_SIZE = 1024
_FINGERPRINT_SIZE = 1024


@dataclass(frozen=True, repr=False)
class ChipCard:
    """What a card's chip holds, as the module reads it.

    Attributes:
        document: the holder's document (its fields make the text block; its
            ``newest_address`` the appended address); ``None`` for a card that has
            none to read (it must then fail).
        photo: the 1024-byte photo blob.
        fingerprints: the 1024-byte fingerprint block, or ``b""`` for none.
        failure: ``""`` (reads well), ``unreadable`` (41), ``forged`` (fails
            authentication), ``unknown_type`` (40).
    """

    document: IdentityDocument | None
    photo: bytes = bytes(_PHOTO_SIZE)
    fingerprints: bytes = b""
    failure: str = ""

    def __post_init__(self) -> None:
        if len(self.photo) != _PHOTO_SIZE:
            raise ValueError(f"a chip photo is {_PHOTO_SIZE} bytes, got {len(self.photo)}")
        if self.fingerprints and len(self.fingerprints) != _FINGERPRINT_SIZE:
            raise ValueError(f"a fingerprint block is {_FINGERPRINT_SIZE} bytes or none")
        if self.failure not in ("", "unreadable", "forged", "unknown_type"):
            raise ValueError(f"unknown card failure {self.failure!r}")
        if self.document is None and not self.failure:
            raise ValueError("a card that reads well has a document")

    def __repr__(self) -> str:
        return f"ChipCard({self.document!r}, failure={self.failure!r})"


class CardField(Protocol):
    """The reader's field: which card lies on it now."""

    def card(self) -> ChipCard | None:
        """The card on the field, or ``None``."""
        ...


@dataclass
class CardTable:
    """A field a test (or a stimulus) places cards on and takes them from."""

    current: ChipCard | None = None
    #: Bumped at each placement: a card placed again must be found and selected again.
    placements: int = 0

    def place(self, card: ChipCard) -> None:
        self.current = card
        self.placements += 1

    def take(self) -> None:
        self.current = None

    def card(self) -> ChipCard | None:
        return self.current


def chip_card(profile: DocumentProfile) -> ChipCard | None:
    """The chip a document profile's card carries (``None``: an MRZ document, no chip
    the module can find)."""
    if profile.medium is not Medium.CHIP:
        return None
    failure = {Failure.UNREADABLE: "unreadable", Failure.FORGED: "forged"}.get(profile.failure, "")
    document = profile.document
    photo = profile.photo if document is not None else bytes(_PHOTO_SIZE)
    return ChipCard(document, photo, profile.fingerprint_block, failure or "")


class ModelField:
    """The simulator's ID-scanner model (its ``chip`` build) as the reader's field: the
    document its control presented lies on the field until the customer takes it.

    Args:
        model: the model; its document counts while ``presented`` (or ``inside`` a
            motorised build).
    """

    def __init__(self, model: IdScannerModel) -> None:
        self.model = model
        self._profile: DocumentProfile | None = None
        self._card: ChipCard | None = None
        self._placements = 0

    def _refresh(self) -> None:
        there = self.model.position in (DocumentPosition.PRESENTED, DocumentPosition.INSIDE)
        profile = self.model.profile if there else None
        if profile is self._profile:
            return
        self._profile = profile
        self._card = chip_card(profile) if profile is not None else None
        if self._card is not None:
            self._placements += 1

    @property
    def placements(self) -> int:
        self._refresh()
        return self._placements

    def card(self) -> ChipCard | None:
        self._refresh()
        return self._card


@dataclass
class _Session:
    """The card the module found and selected (``None`` fields: not done)."""

    found: ChipCard | None = None
    selected: ChipCard | None = None
    read: bool = False
    spoiled: bool = False  # a read failed: the card must be placed again


class SamvFirmware:
    """The module's answers to decoded host commands.

    Args:
        field: the reader's field (a new empty `CardTable` if ``None``).
        sam_id: the 16-byte SAM management info (12 FF).
        forged_sw3: what a read of a forged card answers (32 or 33; 31 also exists).
        fingerprints_absent_91: answer 30 10 of a card without fingerprints with 91
            instead of a fingerprint length of 0.

    Attributes:
        executed: every (CMD, PARA) handled, in order (wire-level checks).
    """

    def __init__(
        self,
        field: CardField | None = None,
        *,
        sam_id: bytes = DEFAULT_SAM_ID,
        forged_sw3: int = AUTH_CARD,
        fingerprints_absent_91: bool = False,
    ) -> None:
        if len(sam_id) != 16:
            raise ValueError(f"a SAM ID is 16 bytes, got {len(sam_id)}")
        self.field: CardField = field if field is not None else CardTable()
        self.sam_id = sam_id
        self.forged_sw3 = forged_sw3
        self.fingerprints_absent_91 = fingerprints_absent_91
        self.executed: list[tuple[int, int]] = []
        self._sam = OK
        self._failing_reads = 0
        self._session = _Session()
        self._placement = -1

    # --- faults and states -------------------------------------------------------------

    def fail_self_test(self) -> None:
        """The SAM's self-test fails: 11 FF and every card command answer 60."""
        self._sam = SELF_TEST

    def unauthorise(self) -> None:
        """The SAM is not authorised: 11 FF and every card command answer 66."""
        self._sam = NOT_AUTHORISED

    def repair(self) -> None:
        """The SAM works again."""
        self._sam = OK

    def fail_next_reads(self, count: int = 1) -> None:
        """The next ``count`` reads (30 01/30 10/30 03) answer 41 (read failed)."""
        if count < 0:
            raise ValueError(f"count is >= 0, got {count}")
        self._failing_reads = count

    # --- commands ------------------------------------------------------------------------

    def handle(self, cmd: int, para: int, data: bytes) -> tuple[int, bytes]:
        """The answer (SW3, DATA) to one command."""
        self.executed.append((cmd, para))
        self._notice_placement()
        key = (cmd, para)
        if key == (0x10, 0xFF):
            self._session = _Session()
            return OK, b""
        if key == (0x11, 0xFF):
            return self._sam, b""
        if key == (0x12, 0xFF):
            return (OK, self.sam_id) if self._sam == OK else (self._sam, b"")
        if cmd not in (0x20, 0x30) or data:
            return COMMAND_ERROR, b""
        if self._sam != OK:
            return self._sam, b""
        if key == (0x20, 0x01):
            return self._find()
        if key == (0x20, 0x02):
            return self._select()
        if key in ((0x30, 0x01), (0x30, 0x10)):
            return self._read(fingerprints=para == 0x10)
        if key == (0x30, 0x03):
            return self._newest_address()
        return COMMAND_ERROR, b""

    def _notice_placement(self) -> None:
        placements = getattr(self.field, "placements", None)
        if placements is not None and placements != self._placement:
            self._placement = placements
            self._session = _Session()  # a card placed (again) starts afresh

    def _find(self) -> tuple[int, bytes]:
        card = self.field.card()
        if card is None:
            self._session = _Session()
            return NO_CARD, b""
        if self._session.found is not card:
            self._session = _Session(found=card)
        return FOUND, bytes(4)

    def _select(self) -> tuple[int, bytes]:
        card = self.field.card()
        if card is None or self._session.found is not card:
            return SELECT_FAILED, b""
        self._session.selected = card
        return OK, bytes(8)

    def _readable(self) -> ChipCard | int:
        """The selected card still on the field, or the SW3 a read answers."""
        card = self.field.card()
        session = self._session
        if card is None or session.selected is not card or session.spoiled:
            return READ_FAILED
        if self._failing_reads:
            self._failing_reads -= 1
            return READ_FAILED
        return card

    def _read(self, *, fingerprints: bool) -> tuple[int, bytes]:
        card = self._readable()
        if isinstance(card, int):
            return card, b""
        if card.failure == "unreadable":
            self._session.spoiled = True
            return READ_FAILED, b""
        if card.failure == "forged":
            self._session.spoiled = True
            return self.forged_sw3, b""
        if card.failure == "unknown_type":
            return UNKNOWN_TYPE, b""
        if fingerprints and not card.fingerprints and self.fingerprints_absent_91:
            return NO_CONTENT, b""
        assert card.document is not None  # a card without one fails (ChipCard checks)
        text = text_block_for(card.document)
        lengths = len(text).to_bytes(2, "big") + len(card.photo).to_bytes(2, "big")
        body = text + card.photo
        if fingerprints:
            lengths += len(card.fingerprints).to_bytes(2, "big")
            body += card.fingerprints
        self._session.read = True
        return OK, lengths + body

    def _newest_address(self) -> tuple[int, bytes]:
        card = self._readable()
        if isinstance(card, int):
            return card, b""
        if card.failure:
            return READ_FAILED, b""
        address = card.document.newest_address if card.document is not None else ""
        if not address:
            return NO_CONTENT, b""
        return OK, newest_address_block(address)
