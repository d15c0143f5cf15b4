"""The steps the CardReader contract cases share: reading a card in, giving it back,
waiting for events, and working out what the reader can do.

Internal to the conformance suite: `tellerhal.conformance.card_reader` holds the cases.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from hal.devices.card_reader import (
    CardReader,
    CardReaderCapabilities,
    InsertCard,
    MediaRemoved,
    MediaStatus,
    MoveTarget,
    ReadResult,
    Track,
)
from hal.events import Event, Subscription
from hal.stimulus import CardReaderStimulus, CardSample
from tellerhal.conformance.framework import (
    ContractFailure,
    Harness,
    MissingCapability,
    check,
)

__all__ = [
    "MAG_TRACKS",
    "SELECT_PSE",
    "VALID_TS",
    "CardReaderHarness",
    "check_read",
    "eject_and_take",
    "insert_and_read",
    "need",
    "next_event",
    "one_source",
    "sources_of",
]

CardReaderHarness = Harness[CardReader, CardReaderStimulus]

MAG_TRACKS = (Track.TRACK1, Track.TRACK2, Track.TRACK3)
SELECT_PSE = bytes.fromhex("00A404000E") + b"1PAY.SYS.DDF01" + b"\x00"
#: Sources of an ATR's first byte (TS): direct or inverse convention.
VALID_TS = (0x3B, 0x3F)


async def next_event(sub: Subscription, kind: type[Event], patience: float, what: str) -> Event:
    try:
        return await sub.wait_for(kind, timeout=patience)
    except TimeoutError:
        raise ContractFailure(f"{what}: no {kind.__name__} event within {patience} s") from None


def need(features: frozenset[str], *needed: str, why: str = "") -> None:
    """Raise `MissingCapability` unless the reader has every feature ``needed``."""
    missing = frozenset(needed) - features
    if missing:
        raise MissingCapability(missing, why)


def sources_of(caps: CardReaderCapabilities) -> tuple[Track, ...]:
    """What a read asks for on this reader: its magnetic tracks, or (a chip-only
    reader) the chip, whose data is the ATR."""
    tracks = tuple(t for t in MAG_TRACKS if t in caps.read_tracks)
    if tracks:
        return tracks
    if "chip" in caps.features() and Track.CHIP in caps.read_tracks:
        return (Track.CHIP,)
    raise MissingCapability({"tracks", "chip"}, "the reader reads neither tracks nor a chip")


def one_source(caps: CardReaderCapabilities) -> tuple[Track, ...]:
    """One source to read when the case only needs a card inside (track 2 if it can)."""
    sources = sources_of(caps)
    return (Track.TRACK2,) if Track.TRACK2 in sources else sources[:1]


def check_read(result: ReadResult, sample: CardSample, sources: Sequence[Track]) -> None:
    """Every source asked for is in the result and matches the card."""
    expected_by_source = {
        Track.TRACK1: sample.track1,
        Track.TRACK2: sample.track2,
        Track.TRACK3: sample.track3,
        Track.CHIP: sample.atr,
    }
    for source in sources:
        data = result.get(source)
        check(data is not None, f"{source.value} was asked for but is not in the result")
        assert data is not None
        expected = expected_by_source[source]
        if source is Track.CHIP:
            check(sample.has_chip, f"the {sample.profile!r} test card must have a chip")
            check(data.status == "ok", f"chip status {data.status.value!r}")
            check(
                len(data.data) >= 2 and data.data[0] in VALID_TS,
                f"the chip source is no ATR ({len(data.data)} bytes)",
            )
            if expected is not None:
                check(data.data == expected, "the ATR read differs from the card's")
        elif expected is None:
            check(data.status != "ok", f"{source.value} is empty on the card but read ok")
        else:
            check(data.status == "ok", f"{source.value} status {data.status.value!r}")
            check(data.data == expected, f"{source.value} differs from the card")


async def insert_and_read(
    h: CardReaderHarness, reader: CardReader, profile: str, tracks: Sequence[Track]
) -> tuple[ReadResult, CardSample, list[Event]]:
    """Start a read, wait for InsertCard, insert the card, return the result and events."""
    with reader.events() as record, reader.events(kinds=[InsertCard]) as ready:
        task = asyncio.create_task(reader.read_raw_data(tracks, timeout=h.patience * 4))
        try:
            await next_event(ready, InsertCard, h.patience, "read_raw_data with no card inside")
            sample = await h.stimulus.insert_card(profile)
            result = await task
        finally:
            # Never leave the read running, nor its exception unretrieved.
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        return result, sample, record.drain()


async def eject_and_take(h: CardReaderHarness, reader: CardReader) -> None:
    """The card inside goes back to the customer: a motorised reader moves it to the
    exit and the customer takes it; from a dip reader the customer pulls it out. A
    reader with a taken sensor reports MediaRemoved and media ``notPresent``."""
    features = (await reader.capabilities()).features()
    with reader.events(kinds=[MediaRemoved]) as sub:
        if "motor" in features:
            await reader.move(MoveTarget.EXIT, timeout=h.patience)
        await h.stimulus.take_card(timeout=h.patience)
        if "taken_sensor" in features:
            await next_event(sub, MediaRemoved, h.patience, "the customer took the card")
    position = await h.stimulus.card_position()
    check(position == "customer", f"after the card was taken it is at {position!r}")
    if "taken_sensor" in features:
        status = await reader.status()
        check(
            status.media == MediaStatus.NOT_PRESENT,
            f"after the card was taken, media is {status.media.value!r}, expected 'notPresent'",
        )
