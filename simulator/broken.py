"""Deliberately broken card readers, for proving that the conformance suite bites.

Each class is the simulator's `CardReaderModel` with exactly one defect, of the kind a
real driver could have. Run the contract suite against each (``sim://card_reader?
variant=forgets_media_removed``): at least one case must fail, or the suite is not
checking what it claims to.
"""

from __future__ import annotations

from hal.devices.card_reader import (
    CardAction,
    CardData,
    InsertCard,
    MediaInserted,
    MoveTarget,
    Track,
)
from hal.errors import HalError
from simulator.models.card_reader import Card, CardPosition, CardReaderModel

__all__ = [
    "BROKEN_VARIANTS",
    "DoubleCountsRetain",
    "DoublePick",
    "EventsOutOfOrder",
    "ForgetsMediaRemoved",
    "IssueIgnoresExit",
    "LosesCardOnCancel",
    "NoJamError",
    "ReadsWrongTrack",
    "RetainNotPersisted",
]


class ForgetsMediaRemoved(CardReaderModel):
    """Never reports ``MediaRemoved`` when the customer takes the card."""

    def _announce_removed(self) -> None:
        pass


class LosesCardOnCancel(CardReaderModel):
    """A card that comes in as the wait for it is cancelled vanishes from the books.

    ``MediaInserted`` was reported, yet the ground truth says ``none`` (nobody knows
    where it went) and the status ``notPresent``, although the customer inserted it.
    """

    def _intake_cancelled(self) -> None:
        if self._card is not None:
            self._card.position = CardPosition.NONE


class NoJamError(CardReaderModel):
    """A jam is reported as success: the card is stuck but the command says all is well."""

    def _jammed(self, what: str) -> HalError | None:
        return None


class ReadsWrongTrack(CardReaderModel):
    """Returns the data of track 1 when asked for track 2."""

    def _track_data(self, card: Card, track: Track) -> CardData:
        return super()._track_data(card, Track.TRACK1 if track is Track.TRACK2 else track)


class RetainNotPersisted(CardReaderModel):
    """Reports a capture as done, but the card actually goes to the exit."""

    def _retain(self, card: Card) -> None:
        card.position = CardPosition.EXIT
        card.presented = True
        self._start_take_timer(card)


class DoubleCountsRetain(CardReaderModel):
    """Captures the card and then also reports it as captured by itself.

    The bin holds one more card, but the extra ``CardAction`` makes the service journal
    a second capture: the books count two.
    """

    def _retain(self, card: Card) -> None:
        super()._retain(card)
        self._emit(CardAction(source="transport", to="retain"))


class EventsOutOfOrder(CardReaderModel):
    """Announces ``InsertCard`` late: not when the entry opens, only after
    ``MediaInserted``, once the card is already in (an app waiting for the prompt
    never sees it in time)."""

    def _announce_insert_card(self) -> None:
        pass

    def _announce_inserted(self) -> None:
        self._emit(MediaInserted())
        self._emit(InsertCard())


class DoublePick(CardReaderModel):
    """Feeds two cards from the stacker for one issue (a double pick it never reports):
    the second falls into the machine, and the books are one card out."""

    def _pick(self) -> None:
        self._stacker -= min(2, self._stacker)


class IssueIgnoresExit(CardReaderModel):
    """Issues a card asked for at the exit into the transport (a wrong position code):
    the customer waits at an empty slot."""

    def _issue_target(self, to: MoveTarget) -> MoveTarget:
        return MoveTarget.TRANSPORT


BROKEN_VARIANTS: dict[str, type[CardReaderModel]] = {
    "forgets_media_removed": ForgetsMediaRemoved,
    "loses_card_on_cancel": LosesCardOnCancel,
    "no_jam_error": NoJamError,
    "reads_wrong_track": ReadsWrongTrack,
    "retain_not_persisted": RetainNotPersisted,
    "double_counts_retain": DoubleCountsRetain,
    "events_out_of_order": EventsOutOfOrder,
    "double_pick": DoublePick,
    "issue_ignores_exit": IssueIgnoresExit,
}
"""Each broken reader by the name a ``variant`` option gives it."""
