"""The control API: what a customer, an operator or fate does to a simulated device.

`CardReaderControl` implements `hal.stimulus.CardReaderStimulus` (what the conformance
suite drives) over a `CardReaderModel`, plus faults the suite's interface does not name:
power loss and slow replies. It never goes through the hal service: it acts on the
model's hardware, as a hand at the card slot would.

Durations given to the model are simulated seconds (scaled by the world's clock); the
``timeout`` of `CardReaderControl.take_card` and `CardReaderControl.wait_for` bounds a
test and is in real seconds.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from hal.errors import HalTimeout, SequenceError
from hal.stimulus import CardReaderStimulus, CardSample
from simulator.models.card_reader import CardPosition, CardReaderModel
from simulator.profiles import CardProfile, load_card_profile

__all__ = ["CONDITIONS", "CardReaderControl"]


def _conditions() -> dict[str, Callable[[CardReaderModel], bool]]:
    return {
        "gate_open": lambda m: m.gate_open,
        "card_at_exit": lambda m: m.position is CardPosition.EXIT,
        "card_inside": lambda m: m.position is CardPosition.INSIDE,
        "card_jammed": lambda m: m.position is CardPosition.JAMMED,
        "card_retained": lambda m: m.position is CardPosition.RETAINED,
        "card_taken": lambda m: m.position is CardPosition.CUSTOMER,
        "no_card": lambda m: m.position in (CardPosition.NONE, CardPosition.CUSTOMER),
    }


CONDITIONS: dict[str, Callable[[CardReaderModel], bool]] = _conditions()
"""What `CardReaderControl.wait_for` can wait for, by name."""


class CardReaderControl(CardReaderStimulus):
    """The hands and faults acting on one simulated card reader.

    Args:
        model: the reader they act on.
    """

    def __init__(self, model: CardReaderModel) -> None:
        self._model = model

    @property
    def model(self) -> CardReaderModel:
        """The reader acted on."""
        return self._model

    # --- CardReaderStimulus ------------------------------------------------------------

    async def insert_card(self, profile: str = "visa") -> CardSample:
        """Push a card of the shipped profile ``profile`` into the slot.

        It goes in at once if the reader is waiting for a card, otherwise it waits in
        the slot (position ``exit``) until the entry next opens.

        Raises:
            ConfigurationError: no such profile.
            SequenceError: a card is already in the slot or the reader.
        """
        return await self.insert(load_card_profile(profile))

    async def insert(self, card: CardProfile) -> CardSample:
        """Push a card made from any `CardProfile` (e.g. one loaded from a file)."""
        self._model.customer_inserts(card)
        return card.sample()

    async def take_card(self, timeout: float = 10.0) -> None:
        """Wait (``timeout`` real seconds) for the card to reach the exit, then take it.

        Raises:
            HalTimeout: the card did not reach the exit in time.
            SequenceError: the card's profile is ``never_taken``: its customer has
                walked away and never takes it.
        """
        await self.wait_for("card_at_exit", timeout=timeout)
        card = self._model.card
        if card is not None and card.never_taken:
            raise SequenceError(
                f"the {card.name} card's customer never takes it; the reader keeps it "
                "at the exit until its take timeout captures it"
            )
        self._model.customer_takes()

    async def jam(self) -> None:
        """The next card movement jams."""
        self._model.jam_next_movement()

    async def clear_jam(self) -> None:
        """An operator clears a jam; the card stays in the reader."""
        self._model.clear_jam()

    async def card_position(self) -> str:
        """Where the last card inserted really is."""
        return self._model.position.value

    async def retained_count(self) -> int:
        """Cards physically in the retain bin."""
        return self._model.retained_count

    async def stacker_count(self) -> int:
        """Cards physically in the card stacker."""
        return self._model.stacker_count

    # --- more of fate ------------------------------------------------------------------

    async def load_stacker(self, count: int) -> None:
        """An operator fills the card stacker so that it holds ``count`` cards.

        Raises:
            ValueError: more than the stacker holds, or negative.
        """
        self._model.load_stacker(count)

    async def power_loss(self, on: bool = True) -> None:
        """Cut the reader's power (``on=True``) or restore it (``on=False``)."""
        self._model.set_power(not on)

    async def slow_replies(self, seconds: float) -> None:
        """Delay every reply of the reader by ``seconds`` simulated seconds (0: none)."""
        self._model.set_reply_delay(seconds)

    async def empty_retain_bin(self) -> int:
        """An operator empties the retain bin; returns how many cards came out."""
        return self._model.empty_retain_bin()

    async def wait_for(self, condition: str, timeout: float | None = None) -> None:
        """Wait until ``condition`` (a key of `CONDITIONS`) holds.

        Args:
            condition: ``gate_open``, ``card_at_exit``, ``card_inside``, ...
            timeout: real seconds; ``None`` waits for ever.

        Raises:
            ValueError: an unknown condition.
            HalTimeout: it did not hold within ``timeout``.
        """
        check = CONDITIONS.get(condition)
        if check is None:
            raise ValueError(
                f"unknown condition {condition!r}; known: {', '.join(sorted(CONDITIONS))}"
            )
        model = self._model
        try:
            async with asyncio.timeout(timeout):
                await model.wait_until(lambda: check(model))
        except TimeoutError as exc:
            raise HalTimeout(
                f"{model.name}: {condition} did not happen within {timeout} s "
                f"(the card is {model.position.value})"
            ) from exc

    def __repr__(self) -> str:
        return f"CardReaderControl({self._model.name!r})"
