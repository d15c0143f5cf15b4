"""The card stacker's books: how a card issuer's dispense unit is counted in the ledger.

A card issuer (a reader with ``dispense_capacity`` > 0) keeps blank cards in a stacker
(XFS4IoT card storage unit of type ``dispense``). Issuing one is a movement in the
ledger from the ``stacker`` location to the ``reader`` (the customer's side: a card in
the reader is its customer's), journalled before the device picks the card and settled
after, exactly as a capture into the retain bin is:

- ``done`` (1 card) once a card is in the reader, wherever it stopped (the transport, the
  exit, or jammed on the way: in every case it has left the stacker);
- ``failed`` when the device refused before picking (stacker empty, a card in the way,
  not ready) and, online, shows no card;
- ``unknown`` when nobody can tell (the device went silent or timed out mid-dispense, a
  hardware fault, a status that cannot say where the media is, or a crash left the
  dispense pending and the reader is empty now: the card may have been issued and taken,
  or never picked).

The count is the operator's: `StackerBook.load` records the cards counted into the stacker
(XFS4IoT ``initialCount``); each issue takes one. The device's own sensor (``low``,
``empty``) is reported beside the count and wins over it when the two disagree: a count
cannot put a card into an empty stacker.
"""

from __future__ import annotations

import logging

from hal.device import DeviceState
from hal.devices.card_reader import (
    CardReaderStatus,
    CardStacker,
    MediaStatus,
    ReplenishmentStatus,
)
from hal.errors import (
    DeviceNotReady,
    InvalidData,
    NoMedia,
    Occupied,
    UnsupportedOperation,
)
from hal.ledger import Ledger, Movement, Outcome

__all__ = ["CARD", "READER", "STACKER", "StackerBook", "card_in_reader"]

log = logging.getLogger(__name__)

# Ledger locations of a card reader.
READER = "reader"
STACKER = "stacker"
CARD = "card"

#: Errors with which a device refuses a dispense before picking a card.
_REFUSALS = (NoMedia, Occupied, DeviceNotReady, InvalidData, UnsupportedOperation)

#: Where the media status says a card is in the reader (or at its exit).
_IN_READER = frozenset({MediaStatus.PRESENT, MediaStatus.JAMMED, MediaStatus.ENTERING})


def card_in_reader(media: MediaStatus) -> bool:
    """Whether ``media`` means a card is in the reader, at its exit, or jammed in it."""
    return media in _IN_READER


class StackerBook:
    """The ledger side of one reader's card stacker.

    Args:
        ledger: the reader's ledger (the service makes new books at each open).
        device: the reader's name in the ledger.
        capacity: cards the stacker holds.
    """

    def __init__(self, ledger: Ledger, device: str, capacity: int) -> None:
        self._ledger = ledger
        self._device = device
        self.capacity = capacity
        ledger.define_location(device, STACKER, kind="dispense", item=CARD, capacity=capacity)

    def count(self) -> int:
        """Cards the ledger says are in the stacker."""
        return self._ledger.counts(self._device).get(STACKER, 0)

    def counts(self, sensed: ReplenishmentStatus) -> CardStacker:
        """The stacker's counts, with the fill state from the count and the sensor."""
        counters = next(
            c for c in self._ledger.counters(self._device) if c.location.name == STACKER
        )
        unknown = sum(m.count for m in self._ledger.unknown(self._device) if m.source == STACKER)
        pending = sum(m.count for m in self._ledger.pending(self._device) if m.source == STACKER)
        return CardStacker(
            count=counters.count,
            initial=counters.initial,
            capacity=self.capacity,
            unknown=unknown,
            pending=pending,
            status=self.status(counters.count, sensed),
        )

    @staticmethod
    def status(count: int, sensed: ReplenishmentStatus) -> ReplenishmentStatus:
        """The fill state: the sensor's ``empty``/``low`` first, else from the count."""
        if sensed in (ReplenishmentStatus.EMPTY, ReplenishmentStatus.LOW):
            return sensed
        return ReplenishmentStatus.EMPTY if count <= 0 else ReplenishmentStatus.OK

    def load(self, count: int, reason: str) -> None:
        """An operator counted ``count`` cards into the stacker.

        Raises:
            InvalidData: ``count`` is not between 0 and the capacity.
            SequenceError: a dispense is still pending.
        """
        if isinstance(count, bool) or not isinstance(count, int):
            raise InvalidData(f"a card count is an integer, got {type(count).__name__}")
        if not 0 <= count <= self.capacity:
            raise InvalidData(f"the stacker holds 0 to {self.capacity} cards, got {count}")
        self._ledger.set_initial(self._device, STACKER, count, reason=reason or "stacker loaded")

    def journal(self, command_id: int, to: str) -> Movement:
        """Journal one card leaving the stacker for the reader (pending)."""
        return self._ledger.journal(
            self._device,
            source=STACKER,
            destination=READER,
            item=CARD,
            count=1,
            command_id=command_id,
            reason=f"issue a card to the {to}",
        )

    def settle_done(self, movement_id: int) -> None:
        """The card left the stacker."""
        self._ledger.settle(movement_id, Outcome.DONE, moved=1)

    def settle_after_failure(
        self, movement_id: int, error: BaseException, status: CardReaderStatus | None
    ) -> None:
        """Settle a dispense the device failed, from the error and the status after it.

        ``status`` is ``None`` when the device could not be asked. ``failed`` when an
        online device refused before picking (stacker empty, a card in the way, not
        ready): a card seen then is a customer's; ``done`` for any other error when a
        card is in the reader now (none was before: checked first); ``unknown`` for the
        rest (a lost link, a timeout, a hardware fault, a sequence error, a device that
        cannot tell where its media is).
        """
        online = status is not None and status.device is DeviceState.ONLINE
        if isinstance(error, _REFUSALS):
            # Refused before picking: a card seen now is one a customer pushed in
            # meanwhile, not ours. Only an online device's refusal is believed.
            outcome = Outcome.FAILED if online else Outcome.UNKNOWN
        elif online and status is not None and card_in_reader(status.media):
            outcome = Outcome.DONE
        else:
            outcome = Outcome.UNKNOWN
        moved = 1 if outcome is Outcome.DONE else None
        self._ledger.settle(movement_id, outcome, moved=moved, detail=type(error).__name__)
        if outcome is Outcome.UNKNOWN:
            log.warning(
                "%s: a card issue failed with %s; where the card is cannot be known",
                self._device,
                type(error).__name__,
            )

    @staticmethod
    def resolve_pending(media: MediaStatus) -> Outcome | tuple[Outcome, int]:
        """Settle a dispense a crash left pending, from what the reader reports now.

        A card in the reader came from the stacker; an empty reader proves nothing (the
        card may have been issued and taken, or never picked).
        """
        return (Outcome.DONE, 1) if card_in_reader(media) else Outcome.UNKNOWN
