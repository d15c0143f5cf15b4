"""The physical side of a simulated motorised card reader: where the card really is.

`CardReaderMechanism` keeps the ground truth (which card, where it is, whether the
entry gate is open, whether the chip is powered and with which protocol, how many cards
the retain bin physically holds), what the world does to it (a customer inserts or
takes a card, an operator clears a jam, the power fails), its status as the reader's
sensors report it, and the reader's take timer. `simulator.models.card_reader` adds
the firmware: the `CardReaderBackend` commands.

Where the card can be (`CardPosition`) and how the reader reports it (XFS4IoT ``media``):

========== ============================================ ==============
position   meaning                                      media
========== ============================================ ==============
none       no card anywhere near the reader             ``notPresent``
exit       in the entry/exit slot, the customer can     ``entering``
           take it (put there by the reader, or pushed
           in by the customer while the gate was shut)
inside     in the transport, under the heads/contacts   ``present``
jammed     stuck in the transport                       ``jammed``
retained   in the retain bin                            ``notPresent``
customer   taken by the customer                        ``notPresent``
========== ============================================ ==============

XFS4IoT defines ``entering`` as "media is at the entry/exit slot of a motorized device"
and ``notPresent`` as "not present in the device and not at the entering position".
While the power is off the reader reports ``powerOff`` with media and chip ``unknown``.

A card issuer (``stacker_capacity`` > 0) also has a card stacker: ``dispense_card`` takes
the next blank card from it into the transport (or on to the exit), and its sensors
report the stacker ``low`` at ``stacker_low`` cards or fewer and ``empty`` at none.

A card the reader put at the exit and nobody takes is captured into the retain bin once
``take_timeout`` simulated seconds have passed (``CardAction`` from ``exit`` to
``retain``); without a retain bin, or with a full one, it stays at the exit.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from enum import StrEnum

from hal.device import BackendListener, DeviceState
from hal.devices.card_reader import (
    CardAction,
    CardReaderStatus,
    ChipPower,
    InsertCard,
    InvalidMediaEvent,
    MediaDetected,
    MediaInserted,
    MediaRemoved,
    MediaStatus,
    ReplenishmentStatus,
    Track,
)
from hal.errors import ConfigurationError, DeviceNotReady, SequenceError
from hal.events import Event, Notifier
from simulator.clock import SimClock, reply_delay, seeded_random
from simulator.emv import EmvChip
from simulator.profiles import CardProfile

__all__ = ["MAG_TRACKS", "Card", "CardPosition", "CardReaderMechanism", "Intake"]

log = logging.getLogger(__name__)

MAG_TRACKS = frozenset({Track.TRACK1, Track.TRACK2, Track.TRACK3})
_PROTOCOLS = frozenset({"T0", "T1"})


class CardPosition(StrEnum):
    """Where a card physically is (the ground truth `CardReaderStimulus` reports)."""

    NONE = "none"
    EXIT = "exit"
    INSIDE = "inside"
    JAMMED = "jammed"
    RETAINED = "retained"
    CUSTOMER = "customer"


class Intake(StrEnum):
    """How a card's way in through the open gate ended."""

    INSERTED = "inserted"
    JAMMED = "jammed"
    REFUSED = "refused"


MEDIA = {
    CardPosition.EXIT: MediaStatus.ENTERING,
    CardPosition.INSIDE: MediaStatus.PRESENT,
    CardPosition.JAMMED: MediaStatus.JAMMED,
}
DETECTED = {
    CardPosition.EXIT: "exit",
    CardPosition.INSIDE: "transport",
    CardPosition.JAMMED: "jammed",
}


class Card:
    """One physical card: its profile, what its stripe holds now, and where it is.

    Attributes:
        profile: the test card it was made from.
        tracks: the stripe's readable tracks (a write changes them).
        invalid: tracks holding garbled data.
        position: where it is.
        presented: the reader put it at the exit (so the take timer runs).
    """

    def __init__(self, profile: CardProfile) -> None:
        self.profile = profile
        self.tracks: dict[Track, bytes] = dict(profile.tracks)
        self.invalid: set[Track] = set(profile.invalid_tracks)
        self.position = CardPosition.NONE
        self.presented = False

    def __repr__(self) -> str:
        return f"Card(profile={self.profile.name!r}, position={self.position.value!r})"


class CardReaderMechanism:
    """The reader's hardware: transport, gate, contacts, retain bin, sensors, timer.

    Args:
        name: the device name used in messages.
        clock: the world's clock; a real-time clock if ``None``.
        rng: randomness for motion-time jitter; seeded with 0 if ``None``.
        retain_capacity: cards the retain bin holds; 0 for a reader without one.
        write_tracks: magnetic tracks the reader can write.
        chip_protocols: chip protocols of the contacts (``T0``, ``T1``); empty for none.
        take_timeout: simulated seconds a card waits at the exit before the reader
            captures it; ``None`` never captures.
        motion_time: simulated seconds a card movement takes.
        exit_position: the reader can eject to an exit (``reset(auto)`` retains if not).
        stacker_capacity: cards the card stacker holds; 0 for a reader that issues none.
        stacker_cards: cards in the stacker at start (``None``: full).
        stacker_low: at this many cards or fewer the stacker reports ``low``.
        stacker_profile: the cards the stacker holds (``None``: the ``visa`` profile).

    Raises:
        ConfigurationError: an option is out of range.
    """

    def __init__(
        self,
        *,
        name: str = "card_reader",
        clock: SimClock | None = None,
        rng: random.Random | None = None,
        retain_capacity: int = 50,
        write_tracks: frozenset[Track] = MAG_TRACKS,
        chip_protocols: frozenset[str] = _PROTOCOLS,
        take_timeout: float | None = 30.0,
        motion_time: float = 0.3,
        exit_position: bool = True,
        stacker_capacity: int = 0,
        stacker_cards: int | None = None,
        stacker_low: int = 5,
        stacker_profile: CardProfile | None = None,
    ) -> None:
        for what, value in (
            ("retain_capacity", retain_capacity),
            ("stacker_capacity", stacker_capacity),
            ("stacker_low", stacker_low),
        ):
            if isinstance(value, bool) or not isinstance(value, int):
                raise ConfigurationError(f"{what} is an integer, got {value!r}")
            if value < 0:
                raise ConfigurationError(f"{what} must be >= 0, got {value}")
        if stacker_cards is None:
            stacker_cards = stacker_capacity
        if not 0 <= stacker_cards <= stacker_capacity:
            raise ConfigurationError(
                f"stacker_cards must be between 0 and stacker_capacity ({stacker_capacity}), "
                f"got {stacker_cards}"
            )
        if not frozenset(write_tracks) <= MAG_TRACKS:
            raise ConfigurationError(f"write_tracks are among track1-3, got {write_tracks}")
        if not frozenset(chip_protocols) <= _PROTOCOLS:
            raise ConfigurationError(f"chip_protocols are among T0, T1, got {chip_protocols}")
        if take_timeout is not None and not take_timeout > 0:
            raise ConfigurationError(f"take_timeout must be > 0 or None, got {take_timeout}")
        if not motion_time >= 0:
            raise ConfigurationError(f"motion_time must be >= 0, got {motion_time}")
        self.name = name
        self.clock = clock if clock is not None else SimClock()
        self._rng = rng if rng is not None else seeded_random(0, name)
        self._retain_capacity = retain_capacity
        self._write_tracks = frozenset(write_tracks)
        self._chip_protocols = frozenset(chip_protocols)
        self._take_timeout = take_timeout
        self._motion_time = motion_time
        self._exit_position = exit_position
        self._stacker_capacity = stacker_capacity
        self._stacker_low = stacker_low
        self._stacker_profile = stacker_profile
        # Physical state.
        self._card: Card | None = None
        self._bin: list[Card] = []
        self._stacker = stacker_cards
        self._gate_open = False
        self._chip: EmvChip | None = None
        self._powered = True
        # Faults.
        self._jam_next = False
        self._reply_delay_s = 0.0
        # Plumbing.
        self._listener: BackendListener[CardReaderStatus] | None = None
        self._intake: Intake | None = None
        self._last_status: CardReaderStatus | None = None
        self._take_task: asyncio.Task[None] | None = None
        self._signal = Notifier()  # wakes whoever waits on the state; nobody polls

    # --- ground truth (read by the control API and tests) ------------------------------

    @property
    def card(self) -> CardProfile | None:
        """The profile of the last card inserted, wherever it is now."""
        return self._card.profile if self._card is not None else None

    @property
    def position(self) -> CardPosition:
        """Where the last card inserted is now."""
        return self._card.position if self._card is not None else CardPosition.NONE

    @property
    def retained_count(self) -> int:
        """Cards physically in the retain bin."""
        return len(self._bin)

    @property
    def retain_capacity(self) -> int:
        """Cards the retain bin holds (0: no retain bin)."""
        return self._retain_capacity

    @property
    def stacker_count(self) -> int:
        """Cards physically in the card stacker."""
        return self._stacker

    @property
    def stacker_capacity(self) -> int:
        """Cards the card stacker holds (0: the reader issues no cards)."""
        return self._stacker_capacity

    @property
    def gate_open(self) -> bool:
        """The entry gate is open (the reader waits for a card)."""
        return self._gate_open

    @property
    def chip_protocol(self) -> str | None:
        """The protocol the powered chip runs, or ``None`` when unpowered."""
        return self._chip.protocol if self._chip is not None else None

    @property
    def powered(self) -> bool:
        """The reader has power."""
        return self._powered

    @property
    def is_open(self) -> bool:
        """A service has the reader open."""
        return self._listener is not None

    async def wait_until(self, predicate: Callable[[], bool]) -> None:
        """Return once ``predicate()`` is true, re-checking it on every state change."""
        await self._signal.wait_until(predicate)

    # --- what the world does (called by the control API) -------------------------------

    def customer_inserts(self, profile: CardProfile) -> None:
        """A customer pushes a card into the slot.

        Through an open gate it goes straight in (even if the command waiting for it is
        being cancelled at that instant: it is then inside, never lost). Against a shut
        gate it waits in the slot (position ``exit``) until the entry next opens.

        Raises:
            SequenceError: a card is already in the slot or the reader.
        """
        held = self._card
        if held is not None and held.position in MEDIA:
            raise SequenceError(
                f"{self.name}: a card ({held.profile.name}) is already {held.position.value}; "
                "only one card fits"
            )
        card = Card(profile)
        self._card = card
        if self._gate_open and self._powered:
            self._take_in(card)
        else:
            card.position = CardPosition.EXIT
            self._update_status()

    def customer_takes(self) -> None:
        """The customer takes the card from the exit.

        Raises:
            SequenceError: there is no card at the exit.
        """
        card = self._card
        if card is None or card.position is not CardPosition.EXIT:
            raise SequenceError(f"{self.name}: no card at the exit (card is {self.position})")
        self._cancel_take_timer()
        card.position = CardPosition.CUSTOMER
        card.presented = False
        if self._powered:
            self._announce_removed()
        self._update_status()

    def jam_next_movement(self) -> None:
        """The next card movement (in, to the exit, to the bin...) jams."""
        self._jam_next = True

    def clear_jam(self) -> None:
        """An operator clears a jam: a jammed card is left inside the transport."""
        self._jam_next = False
        if self._card is not None and self._card.position is CardPosition.JAMMED:
            self._card.position = CardPosition.INSIDE
        self._update_status()

    def set_power(self, on: bool) -> None:
        """Cut or restore the reader's power; cards stay where they are."""
        if on == self._powered:
            return
        self._powered = on
        if on:
            self._detect_media()
            self._restart_take_timer()
        else:
            self._gate_open = False
            self._chip = None
            self._cancel_take_timer()
        self._update_status()

    def set_reply_delay(self, seconds: float) -> None:
        """Delay every backend call by ``seconds`` simulated seconds (0: no delay)."""
        if not seconds >= 0:
            raise ValueError(f"a reply delay is >= 0 seconds, got {seconds!r}")
        self._reply_delay_s = float(seconds)

    def empty_retain_bin(self) -> int:
        """An operator empties the retain bin; returns how many cards were taken out."""
        count = len(self._bin)
        self._bin.clear()
        self._update_status()
        return count

    def load_stacker(self, count: int) -> None:
        """An operator fills the stacker so that it holds ``count`` blank cards.

        Raises:
            ValueError: ``count`` is negative or more than the stacker holds.
        """
        if isinstance(count, bool) or not isinstance(count, int):
            raise ValueError(f"a card count is an integer, got {count!r}")
        if not 0 <= count <= self._stacker_capacity:
            raise ValueError(
                f"{self.name}: the stacker holds 0 to {self._stacker_capacity} cards, got {count}"
            )
        self._stacker = count
        self._update_status()

    # --- hooks (the broken variants override one each) ----------------------------------

    def _announce_insert_card(self) -> None:
        self._emit(InsertCard())

    def _announce_inserted(self) -> None:
        self._emit(MediaInserted())

    def _announce_removed(self) -> None:
        self._emit(MediaRemoved())

    def _retain(self, card: Card) -> None:
        card.position = CardPosition.RETAINED
        card.presented = False
        self._bin.append(card)

    # --- internals -----------------------------------------------------------------------

    def _take_in(self, card: Card) -> None:
        """The card passes the open gate: it comes in, jams, or is pushed back out.

        The sensors see it at once: ``MediaInserted`` (or ``InvalidMediaEvent``) is
        reported now, for the command waiting for the card, before the status changes.
        """
        self._gate_open = False
        self._cancel_take_timer()
        card.presented = False
        if self._jam_next or card.profile.jams:
            self._jam_next = False
            card.position = CardPosition.JAMMED
            self._intake = Intake.JAMMED
        elif not card.tracks and not card.profile.chip:
            card.position = CardPosition.EXIT
            card.presented = True
            self._start_take_timer(card)
            self._intake = Intake.REFUSED
        else:
            card.position = CardPosition.INSIDE
            self._intake = Intake.INSERTED
        if self._intake is Intake.REFUSED:
            self._emit(InvalidMediaEvent())
        else:
            self._announce_inserted()
        self._update_status()

    def _require_power(self) -> None:
        if not self._powered:
            raise DeviceNotReady(f"{self.name} is powered off")

    async def _reply_delay(self, *, opening: bool = False) -> None:
        """Wait out the reply delay (`simulator.clock.reply_delay`)."""
        await reply_delay(
            self.clock,
            self._reply_delay_s,
            name=self.name,
            listener=lambda: self._listener,
            signal=self._signal,
            opening=opening,
        )

    def _detect_media(self) -> None:
        if self._card is not None and self._card.position in DETECTED:
            self._emit(MediaDetected(position=DETECTED[self._card.position]))

    def _emit(self, event: Event) -> None:
        if self._listener is not None:
            self._listener.event(event)

    def _compute_status(self) -> CardReaderStatus:
        count, capacity = len(self._bin), self._retain_capacity
        if not capacity or count * 10 < capacity * 8:
            bin_status = ReplenishmentStatus.OK
        else:
            bin_status = ReplenishmentStatus.FULL if count >= capacity else ReplenishmentStatus.HIGH
        if not self._stacker_capacity or self._stacker > self._stacker_low:
            stacker = ReplenishmentStatus.OK
        else:
            stacker = ReplenishmentStatus.LOW if self._stacker else ReplenishmentStatus.EMPTY
        if not self._powered:
            return CardReaderStatus(
                device=DeviceState.POWER_OFF,
                media=MediaStatus.UNKNOWN,
                chip_power=ChipPower.UNKNOWN,
                retain_bin=bin_status,
                stacker=stacker,
            )
        position = self.position
        if not self._chip_protocols:
            chip = ChipPower.NO_DEVICE
        elif position is CardPosition.INSIDE and self._chip is not None:
            chip = ChipPower.ONLINE
        elif position in (CardPosition.INSIDE, CardPosition.JAMMED):
            chip = ChipPower.POWERED_OFF
        else:
            chip = ChipPower.NO_CARD
        return CardReaderStatus(
            device=DeviceState.ONLINE,
            media=MEDIA.get(position, MediaStatus.NOT_PRESENT),
            chip_power=chip,
            retain_bin=bin_status,
            stacker=stacker,
        )

    def _update_status(self) -> None:
        """Report the status if it changed, and wake whoever waits on the state."""
        status = self._compute_status()
        if status != self._last_status:
            self._last_status = status
            if self._listener is not None:
                self._listener.status_changed(status)
        self._signal.notify()

    # --- the take timer ------------------------------------------------------------------

    def _start_take_timer(self, card: Card) -> None:
        self._cancel_take_timer()
        if self._take_timeout is None or self._listener is None or not self._powered:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._take_task = loop.create_task(
            self._capture_if_left(card, self._take_timeout), name=f"{self.name} take timer"
        )

    def _restart_take_timer(self) -> None:
        card = self._card
        if card is not None and card.position is CardPosition.EXIT and card.presented:
            self._start_take_timer(card)

    def _cancel_take_timer(self) -> None:
        task, self._take_task = self._take_task, None
        if task is not None and not task.done() and task is not asyncio.current_task():
            task.cancel()

    async def _capture_if_left(self, card: Card, timeout: float) -> None:
        await self.clock.sleep(timeout)
        if self._take_task is asyncio.current_task():
            self._take_task = None
        if self._card is not card or card.position is not CardPosition.EXIT or not self._powered:
            return
        if len(self._bin) >= self._retain_capacity:
            log.warning("%s: a card left at the exit stays there: the bin is full", self.name)
            return
        self._capture_left_card(card)

    def _capture_left_card(self, card: Card) -> None:
        card.position = CardPosition.RETAINED
        card.presented = False
        self._bin.append(card)
        self._emit(CardAction(source="exit", to="retain"))
        self._update_status()
