"""The card reader cases adapt to what a reader is: here a chip-only dip reader.

The simulator's reader is motorised with tracks, so the other shape of reader the suite
must judge (a PC/SC dip reader: chip contacts, a presence switch, no motor, no tracks,
no bin) is built here as a small backend under the real `CardReaderService`, with a
stimulus that is the customer's hand. The cards are the simulator's profiles (their
ATR is what the reader returns as the ``chip`` source). The suite must pass it, skip
exactly the cases whose behaviour cannot exist on it (naming the features), and still
catch a dip reader that forgets MediaRemoved or returns another card's ATR.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path

import pytest

from hal.device import BackendListener
from hal.devices.card_reader import (
    CardData,
    CardReader,
    CardReaderCapabilities,
    CardReaderStatus,
    ChipPower,
    ChipPowerAction,
    DataStatus,
    InsertCard,
    InvalidMediaEvent,
    MediaInserted,
    MediaRemoved,
    MediaStatus,
    MoveTarget,
    ReaderType,
    ReadResult,
    ResetAction,
    Track,
)
from hal.devices.card_reader_service import CardReaderService
from hal.errors import InvalidMedia, NoMedia, SequenceError, UnsupportedOperation
from hal.stimulus import CardReaderStimulus, CardSample
from simulator.profiles import load_card_profile
from tellerhal.conformance.card_reader import CARD_READER_CASES, CardReaderHarness
from tellerhal.conformance.framework import Harness, Verdict, acceptable, run_case

DIP_CAPABILITIES = CardReaderCapabilities(
    type=ReaderType.DIP,
    read_tracks=frozenset({Track.CHIP}),
    write_tracks=frozenset(),
    chip_protocols=frozenset({"T1"}),
    retain_capacity=0,
    exit_position=False,
    transport_position=False,
    card_taken_sensor=True,
)
#: What a driver for this reader would declare.
DECLARED = frozenset({"chip", "taken_sensor"})
FCI = bytes.fromhex("6F0A840E315041592E5359532E4444463031A5009000")


class DipChipReader:
    """A chip-only dip reader: the card is in the slot or not; the reader senses it."""

    def __init__(self, *, forgets_removal: bool = False, wrong_atr: bool = False) -> None:
        self.card: CardSample | None = None
        self.position = "none"
        self.powered = False
        self.forgets_removal = forgets_removal
        self.wrong_atr = wrong_atr
        self._listener: BackendListener[CardReaderStatus] | None = None
        self._changed = asyncio.Event()

    # --- the customer's hand ---------------------------------------------------------

    def insert(self, sample: CardSample) -> None:
        if self.position == "inside":
            raise SequenceError("a card is already in the slot")
        self.card, self.position, self.powered = sample, "inside", False
        self._report()

    def pull(self) -> None:
        if self.position != "inside":
            raise SequenceError(f"no card to pull (it is at {self.position!r})")
        self.position, self.powered = "customer", False
        if not self.forgets_removal and self._listener is not None:
            self._listener.event(MediaRemoved())
        self._report()

    def _report(self) -> None:
        self._changed.set()
        if self._listener is not None:
            self._listener.status_changed(self._status())

    def _status(self) -> CardReaderStatus:
        inside = self.position == "inside"
        power = ChipPower.ONLINE if self.powered else ChipPower.POWERED_OFF
        return CardReaderStatus(
            media=MediaStatus.PRESENT if inside else MediaStatus.NOT_PRESENT,
            chip_power=power if inside else ChipPower.NO_CARD,
        )

    def _atr(self) -> bytes | None:
        card = self.card
        if card is None or card.atr is None:
            return None
        return bytes([card.atr[0], *reversed(card.atr[1:])]) if self.wrong_atr else card.atr

    # --- CardReaderBackend -----------------------------------------------------------

    async def open(self, listener: BackendListener[CardReaderStatus]) -> None:
        self._listener = listener

    async def close(self) -> None:
        self._listener = None

    def capabilities(self) -> CardReaderCapabilities:
        return DIP_CAPABILITIES

    async def get_status(self) -> CardReaderStatus:
        return self._status()

    async def accept_card(self, sources: frozenset[Track]) -> None:
        assert self._listener is not None
        self._listener.event(InsertCard())
        while self.position != "inside":
            self._changed.clear()
            await self._changed.wait()
        if self._atr() is None:  # no chip answers: the card is refused, left in the slot
            self._listener.event(InvalidMediaEvent())
            raise InvalidMedia("the card in the slot has no chip that answers")
        self._listener.event(MediaInserted())

    async def read_card(self, sources: frozenset[Track]) -> ReadResult:
        atr = self._atr()
        data = CardData(DataStatus.OK, atr) if atr else CardData(DataStatus.MISSING)
        return ReadResult({Track.CHIP: data})

    async def write_tracks(self, data: Mapping[Track, bytes]) -> None:
        raise UnsupportedOperation("a chip reader writes no tracks")

    async def move_card(self, to: MoveTarget) -> None:
        raise UnsupportedOperation("a dip reader moves no card")

    async def chip_power(self, action: ChipPowerAction) -> bytes:
        if self.position != "inside":
            raise NoMedia("no card in the slot")
        self.powered = action is not ChipPowerAction.OFF
        self._report()
        return self._atr() or b"" if self.powered else b""

    async def chip_io(self, apdu: bytes) -> bytes:
        if not self.powered:
            raise NoMedia("the chip is not powered")
        return FCI if apdu[1] == 0xA4 else b"\x6d\x00"

    async def reset(self, to: ResetAction) -> MoveTarget | None:
        self.powered = False
        return None

    async def dispense_card(self, to: MoveTarget) -> None:
        raise UnsupportedOperation("a dip reader issues no cards")


class Hand(CardReaderStimulus):
    """The customer at a dip reader: puts a card in the slot and pulls it out."""

    def __init__(self, reader: DipChipReader) -> None:
        self.reader = reader

    async def insert_card(self, profile: str = "visa") -> CardSample:
        sample = load_card_profile(profile).sample()
        self.reader.insert(sample)
        return sample

    async def take_card(self, timeout: float = 10.0) -> None:
        self.reader.pull()

    async def jam(self) -> None:
        raise UnsupportedOperation("a dip reader has no card path to jam")

    async def clear_jam(self) -> None:
        raise UnsupportedOperation("a dip reader has no card path to jam")

    async def card_position(self) -> str:
        return self.reader.position

    async def retained_count(self) -> int:
        raise UnsupportedOperation("a dip reader has no retain bin")


def dip_harness(tmp_path: Path, **defects: bool) -> CardReaderHarness:
    backend = DipChipReader(**defects)
    ledger = tmp_path / "ledger.sqlite"

    def open_reader() -> CardReader:
        return CardReaderService(backend, name="dip", ledger=ledger)

    return Harness(open=open_reader, stimulus=Hand(backend), patience=1.0)


#: The cases whose behaviour cannot exist on a chip-only dip reader, and why.
CANNOT_APPLY = {
    "card_reader.jam": {"motor"},
    "card_reader.retain_counts_persist": {"retain"},
    "card_reader.card_left_at_exit": {"motor", "retain"},
    "card_reader.issue_card": {"issue"},
}


def test_the_dip_reader_has_the_features_it_is_built_with() -> None:
    assert DIP_CAPABILITIES.features() == DECLARED


@pytest.mark.parametrize("case", CARD_READER_CASES, ids=lambda c: c.id.split(".")[-1])
async def test_a_chip_only_dip_reader(case: object, tmp_path: Path) -> None:
    result = await run_case(case, dip_harness(tmp_path))  # type: ignore[arg-type]
    assert acceptable(result, DECLARED) is None, result
    if result.case in CANNOT_APPLY:
        assert result.verdict is Verdict.SKIPPED, result
        assert result.missing == CANNOT_APPLY[result.case]
    else:
        assert result.verdict is Verdict.PASSED, result


@pytest.mark.parametrize(
    ("defect", "caught_by", "message"),
    [
        ("forgets_removal", "card_reader.insert_read_eject", "no MediaRemoved event"),
        ("wrong_atr", "card_reader.insert_read_eject", "the ATR read differs"),
        ("wrong_atr", "card_reader.chip_power_apdu", "the ATR of a cold reset differs"),
    ],
)
async def test_a_defective_dip_reader_is_caught(
    defect: str, caught_by: str, message: str, tmp_path: Path
) -> None:
    (case,) = [c for c in CARD_READER_CASES if c.id == caught_by]
    result = await run_case(case, dip_harness(tmp_path, **{defect: True}))
    assert result.verdict is Verdict.FAILED, result
    assert message in result.detail
