"""The retain bin's books: how captured cards (or documents) are counted in the ledger.

Every capture is a movement in the ledger from the ``reader`` (the customer's side) to
the ``retain`` bin, journalled before the card moves and settled after. The same books
serve an ID scanner's retain bin: `RetainBook` takes the item (``document``) and the
customer's side (``scanner``) it counts; the card reader's are the defaults:

- a capture the app asks for (``move(RETAIN)``, a reset that may retain): `RetainBook.journal`
  before the device acts, `RetainBook.settle` after, as one uncancellable step;
- a capture a driver starts by itself (a card left at the exit): `RetainBook.ticket`
  before it sends the command, the ticket settled once the device answered; its
  ``CardAction`` is then not journalled again;
- a capture the device makes on its own and reports afterwards (``CardAction``):
  `RetainBook.device_captured` journals and settles it at once, as the fact it is.

The count is derived from the ledger and cached: the service is the ledger file's only
writer (the ledger holds a writer lock), and every write here drops the cache.
"""

from __future__ import annotations

import logging

from hal.devices.card_reader import (
    CaptureTicket,
    MediaStatus,
    ReplenishmentStatus,
    RetainBin,
)
from hal.devices.card_stacker import CARD, READER
from hal.devices.id_scanner_model import DocumentStatus
from hal.errors import LedgerError, RetainBinFull
from hal.ledger import Ledger, Movement, Outcome

__all__ = ["RETAIN", "RetainBook"]

log = logging.getLogger(__name__)

RETAIN = "retain"


class RetainBook:
    """The ledger side of one reader's retain bin.

    Args:
        ledger: the reader's ledger.
        device: the reader's name in the ledger.
        capacity: items the bin holds; 0 for a reader without one (nothing is defined).
        item: what the bin holds (``card``; an ID scanner's: ``document``).
        source: the customer's side a capture comes from (``reader``; an ID scanner's:
            ``scanner``).
    """

    def __init__(
        self,
        ledger: Ledger,
        device: str,
        capacity: int,
        *,
        item: str = CARD,
        source: str = READER,
    ) -> None:
        self._ledger = ledger
        self._device = device
        self.capacity = capacity
        self.item = item
        self.source = source
        self._count: int | None = None
        self._tickets_done = 0  # driver captures settled whose CardAction is still due
        if capacity:
            ledger.define_location(device, RETAIN, kind="retain", item=item, capacity=capacity)

    # --- counts ------------------------------------------------------------------------

    def invalidate(self) -> None:
        """Forget the cached count (after a write, or another process's)."""
        self._count = None

    def count(self) -> int:
        """Items the ledger knows are in the bin."""
        if not self.capacity:
            return 0
        if self._count is None:
            self._count = self._ledger.counts(self._device).get(RETAIN, 0)
        return self._count

    def status(self) -> ReplenishmentStatus:
        """``full`` at capacity, ``high`` from 80 %, else ``ok`` (``ok`` without a bin)."""
        if not self.capacity:
            return ReplenishmentStatus.OK
        count = self.count()
        if count >= self.capacity:
            return ReplenishmentStatus.FULL
        if count * 10 >= self.capacity * 8:
            return ReplenishmentStatus.HIGH
        return ReplenishmentStatus.OK

    def counts(self) -> RetainBin:
        """The bin's counts, unknown and pending captures included."""
        unknown = sum(
            m.count for m in self._ledger.unknown(self._device) if m.destination == RETAIN
        )
        pending = sum(
            m.count for m in self._ledger.pending(self._device) if m.destination == RETAIN
        )
        return RetainBin(
            count=self.count(),
            capacity=self.capacity,
            unknown=unknown,
            pending=pending,
            status=self.status(),
        )

    def empty(self, reason: str) -> None:
        """An operator emptied the bin: its count restarts at 0."""
        try:
            self._ledger.set_initial(self._device, RETAIN, 0, reason=reason or "retain bin emptied")
        finally:
            self.invalidate()

    # --- captures ----------------------------------------------------------------------

    def check_room(self) -> None:
        """Raise `RetainBinFull` if the ledger counts the bin full."""
        count = self.count()
        if count >= self.capacity:
            raise RetainBinFull(
                f"{self._device}: the retain bin holds {count} of {self.capacity} {self.item}s"
            )

    def journal(self, reason: str, command_id: int | None = None) -> Movement:
        """Journal one item going from the customer's side into the bin (pending)."""
        try:
            return self._ledger.journal(
                self._device,
                source=self.source,
                destination=RETAIN,
                item=self.item,
                count=1,
                command_id=command_id,
                reason=reason,
            )
        finally:
            self.invalidate()

    def settle(self, movement_id: int, captured: bool | None, detail: str = "") -> None:
        """``True``: the item is in the bin; ``False``: it did not move; ``None``: unknown."""
        try:
            if captured:
                self._ledger.settle(movement_id, Outcome.DONE, moved=1)
            else:
                outcome = Outcome.FAILED if captured is False else Outcome.UNKNOWN
                self._ledger.settle(movement_id, outcome, detail=detail)
        finally:
            self.invalidate()

    def ticket(self, source: str) -> CaptureTicket:
        """Journal a capture a driver starts by itself (see
        `hal.devices.card_reader.begin_capture`).

        Raises:
            RetainBinFull: the ledger counts the bin full.
            LedgerError: the ledger cannot take the entry (the card must not move).
        """
        self.check_room()
        movement = self.journal(f"captured by the driver from {source}")
        return _Ticket(self, movement.id)

    def _ticket_settled(self, movement_id: int, captured: bool | None) -> None:
        try:
            self.settle(movement_id, captured, "" if captured else "not captured")
        except LedgerError:
            log.exception("%s: the ledger could not settle a capture", self._device)
        if captured:
            self._tickets_done += 1

    def device_captured(self, source: str) -> None:
        """The device reports a capture it made (``CardAction`` to ``retain``).

        Journalled and settled at once, unless a driver's ticket already recorded it.
        If the ledger cannot take it, the app still hears of the capture; the ledger then
        refuses every further write, so no command moves a card until it is repaired.
        """
        if self._tickets_done:
            self._tickets_done -= 1
            return
        try:
            movement = self.journal(f"captured by the device from {source or 'the reader'}")
            self.settle(movement.id, True)
        except LedgerError:
            log.exception("%s: the ledger could not record a capture the device made", self._device)

    @staticmethod
    def resolve_pending(media: MediaStatus | DocumentStatus) -> Outcome:
        """Settle a capture a crash left pending, from what the reader reports now.

        A card (or document) still in the reader never reached the bin. An empty reader
        proves nothing: it may be in the bin or may have been pulled out.
        """
        inside = media in (
            MediaStatus.PRESENT,
            MediaStatus.JAMMED,
            DocumentStatus.PRESENT,
            DocumentStatus.JAMMED,
        )
        return Outcome.FAILED if inside else Outcome.UNKNOWN


class _Ticket:
    """A driver's capture, journalled; settled once."""

    def __init__(self, book: RetainBook, movement_id: int) -> None:
        self._book = book
        self._movement_id: int | None = movement_id

    def settle(self, captured: bool | None) -> None:
        movement_id, self._movement_id = self._movement_id, None
        if movement_id is not None:
            self._book._ticket_settled(movement_id, captured)
