"""A simulated motorised card reader: a state machine implementing `CardReaderBackend`.

`CardReaderModel` is the reader's firmware on top of its hardware
(`simulator.models.card_mechanism.CardReaderMechanism`, which keeps the physical ground
truth and what the world does to it). The service
(`hal.devices.card_reader_service.CardReaderService`) validates, queues, stamps events
and journals; the model only behaves like the hardware and reports what happens.

Behaviour, in XFS4IoT terms:

- ``accept_card`` opens the gate and reports ``InsertCard``; a card pushed in is
  reported ``MediaInserted`` (media ``present``). A card waiting at the exit when the
  gate opens is drawn back in. A card that jams raises `MediaJam` (media ``jammed``);
  a card with no readable track and no chip is refused: ``InvalidMediaEvent``, back to
  the exit, `InvalidMedia`. Cancelled while waiting, the gate closes; a card that came
  in at that instant stays inside and is reported, never lost.
- ``move_card(exit)`` puts the card in the exit slot: media ``entering``. When the
  customer takes it, ``MediaRemoved`` and ``notPresent``. ``retain`` drops it in the
  bin (``notPresent``); ``transport`` keeps it inside.
- ``dispense_card`` (an issuer): the next card leaves the stacker for the transport
  (media ``present``) or goes on to the exit; `Occupied` with a card already in the
  reader, `NoMedia` with the stacker empty; a jam fault jams the new card halfway.
- ``read_card``: each track ``ok`` with its characters, ``dataMissing`` when blank,
  ``dataInvalid`` when garbled; ``chip`` cold-resets the chip and gives its ATR
  (``dataMissing`` for a card without a chip).
- ``chip_power``: the ATR for cold/warm, ``b""`` for off; `NoMedia` without a card
  inside, `AtrNotObtained` for a card without a chip, `InvalidMedia` for a chip whose
  protocols the contacts do not speak. ``chip_io`` before a reset: `AtrNotObtained`.
- ``reset``: ``MediaDetected`` for a card found, then the card inside goes to the exit
  (``exit``, or ``auto`` when the reader has an exit), the bin (``retain``, or ``auto``
  without an exit) or stays (``currentPosition``). A card already at the exit stays
  there for its customer; a jammed card raises `MediaJam` until an operator clears it.
- Power off: every command raises `DeviceNotReady` (XFS4IoT ``deviceNotReady``: the
  device is not there to act) until power returns; cards stay where they are.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from hal.device import BackendListener
from hal.devices.card_reader import (
    CardData,
    CardReaderCapabilities,
    CardReaderStatus,
    ChipPowerAction,
    DataStatus,
    MediaDetected,
    MoveTarget,
    ReaderType,
    ReadResult,
    ResetAction,
    Track,
)
from hal.errors import (
    AtrNotObtained,
    DeviceNotReady,
    HalError,
    InvalidData,
    InvalidMedia,
    MediaJam,
    NoMedia,
    Occupied,
    RetainBinFull,
    UnsupportedOperation,
)
from simulator.emv import EmvChip
from simulator.models.card_mechanism import (
    DETECTED,
    MAG_TRACKS,
    MEDIA,
    Card,
    CardPosition,
    CardReaderMechanism,
    Intake,
)
from simulator.profiles import load_card_profile

__all__ = ["Card", "CardPosition", "CardReaderModel", "Intake"]

_TRACK_ORDER = (Track.TRACK1, Track.TRACK2, Track.TRACK3, Track.CHIP)


class CardReaderModel(CardReaderMechanism):
    """A motorised card reader with chip contacts, track writing and a retain bin.

    It implements `hal.devices.card_reader.CardReaderBackend`; construct it with the
    options of `CardReaderMechanism`.
    """

    # --- CardReaderBackend --------------------------------------------------------------

    async def open(self, listener: BackendListener[CardReaderStatus]) -> None:
        """Start reporting to ``listener``; report a card found in the reader.

        Like a serial port, the reader serves one service at a time.

        Raises:
            DeviceNotReady: another service has it open.
        """
        if self._listener is not None and self._listener is not listener:
            raise DeviceNotReady(f"{self.name} is already open by another service; close it first")
        await self._reply_delay(opening=True)
        self._listener = listener
        self._last_status = None
        if self._powered:
            self._detect_media()
            self._restart_take_timer()
        self._update_status()

    async def close(self) -> None:
        """Stop reporting; the entry closes and the chip is powered off."""
        self._gate_open = False
        self._chip = None
        task, self._take_task = self._take_task, None
        if task is not None and not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        self._update_status()
        self._listener = None
        self._signal.notify()  # calls still waiting on the device end

    def capabilities(self) -> CardReaderCapabilities:
        """Motorised, tracks 1-3 (and the chip when it has contacts), its bin and exits."""
        chip = bool(self._chip_protocols)
        return CardReaderCapabilities(
            type=ReaderType.MOTOR,
            read_tracks=MAG_TRACKS | ({Track.CHIP} if chip else set()),
            write_tracks=self._write_tracks,
            chip_protocols=self._chip_protocols,
            retain_capacity=self._retain_capacity,
            exit_position=self._exit_position,
            transport_position=True,
            card_taken_sensor=True,
            chip_power_actions=frozenset(ChipPowerAction) if chip else frozenset(),
            dispense_capacity=self._stacker_capacity,
        )

    async def get_status(self) -> CardReaderStatus:
        """Where things stand now."""
        await self._reply_delay()
        return self._compute_status()

    async def accept_card(self, sources: frozenset[Track]) -> None:
        """Open the gate, announce ``InsertCard`` and wait for a card to come in."""
        await self._reply_delay()
        self._require_power()
        card = self._card
        if card is not None and card.position is CardPosition.JAMMED:
            raise MediaJam(f"{self.name}: a card is jammed in the transport")
        if card is not None and card.position is CardPosition.INSIDE:
            return
        self._intake = None
        self._gate_open = True
        self._announce_insert_card()
        self._update_status()
        if card is not None and card.position is CardPosition.EXIT:
            self._take_in(card)
        try:
            await self._signal.wait_until(lambda: self._intake is not None or not self._powered)
        except asyncio.CancelledError:
            self._gate_open = False
            outcome, self._intake = self._intake, None
            if outcome is Intake.INSERTED:
                self._intake_cancelled()
            self._update_status()
            raise
        self._gate_open = False
        outcome, self._intake = self._intake, None
        if outcome is None:
            self._update_status()
            raise DeviceNotReady(f"{self.name} lost power while waiting for a card")
        error = self._intake_error(outcome)
        self._update_status()
        if error is not None:
            raise error

    async def read_card(self, sources: frozenset[Track]) -> ReadResult:
        """Read ``sources`` of the card inside; ``chip`` powers the chip and gives its ATR."""
        await self._reply_delay()
        self._require_power()
        card = self._card_inside()
        out: dict[Track, CardData] = {}
        for source in sorted(sources, key=_TRACK_ORDER.index):
            if source is Track.CHIP:
                out[source] = self._read_chip(card)
            else:
                out[source] = self._track_data(card, source)
        self._update_status()
        return ReadResult(out)

    async def write_tracks(self, data: Mapping[Track, bytes]) -> None:
        """Write tracks of the card inside."""
        await self._reply_delay()
        self._require_power()
        card = self._card_inside()
        refused = sorted(t.value for t in data if t not in self._write_tracks)
        if refused:
            raise InvalidData(f"{self.name} cannot write {', '.join(refused)}")
        for track, chars in data.items():
            card.tracks[track] = bytes(chars)
            card.invalid.discard(track)

    async def move_card(self, to: MoveTarget) -> None:
        """Move the card in the reader (or at its exit) to ``to``."""
        await self._reply_delay()
        self._require_power()
        card = self._card_in_reader()
        if to is MoveTarget.EXIT and card.position is CardPosition.EXIT:
            return
        if to is MoveTarget.RETAIN:
            self._check_retain()
        await self._move(card, to)

    async def dispense_card(self, to: MoveTarget) -> None:
        """Issue the next card from the stacker into the transport or to the exit."""
        await self._reply_delay()
        self._require_power()
        if not self._stacker_capacity:
            raise UnsupportedOperation(f"{self.name} has no card stacker")
        if to is MoveTarget.RETAIN:
            raise InvalidData(f"{self.name}: a new card is issued to the transport or the exit")
        held = self._card
        if held is not None and held.position in MEDIA:
            raise Occupied(f"{self.name}: a card is already {held.position.value}")
        if not self._stacker:
            raise NoMedia(f"{self.name}: the card stacker is empty")
        if self._stacker_profile is None:
            self._stacker_profile = load_card_profile("visa")
        card = Card(self._stacker_profile)
        self._pick()
        # Picked: the card is in the transport now, wherever it is going.
        card.position = CardPosition.INSIDE
        self._card = card
        await self._move(card, self._issue_target(to))

    async def chip_power(self, action: ChipPowerAction) -> bytes:
        """Reset the chip (its ATR) or power it off (``b""``)."""
        await self._reply_delay()
        self._require_power()
        card = self._card_inside()
        if action is ChipPowerAction.OFF:
            self._chip = None
            self._update_status()
            return b""
        self._chip = None
        chip = card.profile.chip
        if chip is None:
            self._update_status()
            raise AtrNotObtained(f"{self.name}: the card gave no answer to reset (no chip)")
        protocol = chip.select_protocol(self._chip_protocols)
        if protocol is None:
            self._update_status()
            raise InvalidMedia(
                f"{self.name}: the chip runs {', '.join(sorted(chip.atrs))}; the contacts "
                f"support {', '.join(sorted(self._chip_protocols)) or 'nothing'}"
            )
        self._chip = EmvChip(chip, protocol)
        self._update_status()
        return chip.atrs[protocol]

    async def chip_io(self, apdu: bytes) -> bytes:
        """Send one command APDU to the powered chip; return its response APDU."""
        await self._reply_delay()
        self._require_power()
        self._card_inside()
        if self._chip is None:
            raise AtrNotObtained(f"{self.name}: the chip is not powered; reset it first")
        return self._chip.exchange(apdu)

    async def reset(self, to: ResetAction) -> MoveTarget | None:
        """Reset: close the gate, power the chip off, and move a card inside as ``to`` says.

        A card already at the exit stays there for its customer.
        """
        await self._reply_delay()
        self._require_power()
        self._gate_open = False
        self._chip = None
        card = self._card
        if card is None or card.position not in DETECTED:
            self._update_status()
            return None
        self._emit(MediaDetected(position=DETECTED[card.position]))
        if card.position is CardPosition.JAMMED:
            self._update_status()
            raise MediaJam(f"{self.name}: the card is jammed; an operator must clear it")
        target = self._reset_target(card, to)
        if target is None:
            self._update_status()
            return None
        if target is MoveTarget.RETAIN:
            self._check_retain()
        await self._move(card, target)
        return target

    # --- hooks (the broken variants override one each) ----------------------------------

    def _intake_cancelled(self) -> None:
        """A card came in just as the wait was cancelled: it stays inside (reported)."""

    def _pick(self) -> None:
        """One card leaves the stacker."""
        self._stacker -= 1

    def _issue_target(self, to: MoveTarget) -> MoveTarget:
        """Where an issued card is driven."""
        return to

    def _jammed(self, what: str) -> HalError | None:
        """The error a jam during ``what`` gives (``None`` would hide it)."""
        return MediaJam(f"{self.name}: the card jammed {what}")

    def _track_data(self, card: Card, track: Track) -> CardData:
        if track in card.invalid:
            return CardData(DataStatus.INVALID)
        data = card.tracks.get(track, b"")
        return CardData(DataStatus.OK, data) if data else CardData(DataStatus.MISSING)

    # --- internals -----------------------------------------------------------------------

    def _intake_error(self, outcome: Intake) -> HalError | None:
        if outcome is Intake.REFUSED:
            return InvalidMedia(
                f"{self.name}: the card has no readable track and no chip; it was returned"
            )
        if outcome is Intake.JAMMED:
            return self._jammed("on its way in")
        return None

    async def _move(self, card: Card, to: MoveTarget) -> None:
        """Drive the card to ``to``; a pending jam fault stops it halfway."""
        self._chip = None
        self._update_status()
        jitter = self._rng.uniform(0.9, 1.1)
        await self.clock.sleep(self._motion_time * jitter)
        self._require_power()
        if self._jam_next:
            self._jam_next = False
            self._cancel_take_timer()
            card.position = CardPosition.JAMMED
            card.presented = False
            self._update_status()
            error = self._jammed(f"on its way to {to.value}")
            if error is not None:
                raise error
            return
        self._cancel_take_timer()
        if to is MoveTarget.EXIT:
            card.position = CardPosition.EXIT
            card.presented = True
            self._start_take_timer(card)
        elif to is MoveTarget.TRANSPORT:
            card.position = CardPosition.INSIDE
        else:
            self._retain(card)
        self._update_status()

    def _reset_target(self, card: Card, to: ResetAction) -> MoveTarget | None:
        at_exit = card.position is CardPosition.EXIT
        if to is ResetAction.CURRENT_POSITION or at_exit:
            return None
        if to is ResetAction.EXIT:
            return MoveTarget.EXIT
        if to is ResetAction.RETAIN:
            return MoveTarget.RETAIN
        return MoveTarget.EXIT if self._exit_position else MoveTarget.RETAIN

    def _check_retain(self) -> None:
        if not self._retain_capacity:
            raise UnsupportedOperation(f"{self.name} has no retain bin")
        if len(self._bin) >= self._retain_capacity:
            raise RetainBinFull(
                f"{self.name}: the retain bin holds {len(self._bin)} of "
                f"{self._retain_capacity} cards"
            )

    def _card_in_reader(self) -> Card:
        """The card inside or at the exit (what ``move`` can act on)."""
        card = self._card
        if card is not None and card.position is CardPosition.JAMMED:
            raise MediaJam(f"{self.name}: the card is jammed")
        if card is None or card.position not in (CardPosition.INSIDE, CardPosition.EXIT):
            raise NoMedia(f"{self.name}: no card in the reader")
        return card

    def _card_inside(self) -> Card:
        """The card under the heads and contacts."""
        card = self._card_in_reader()
        if card.position is not CardPosition.INSIDE:
            raise NoMedia(f"{self.name}: the card is at the exit, not inside")
        return card

    def _read_chip(self, card: Card) -> CardData:
        chip = card.profile.chip
        if chip is None or not self._chip_protocols:
            return CardData(DataStatus.MISSING)
        protocol = chip.select_protocol(self._chip_protocols)
        if protocol is None:
            return CardData(DataStatus.INVALID)
        self._chip = EmvChip(chip, protocol)
        return CardData(DataStatus.OK, chip.atrs[protocol])
