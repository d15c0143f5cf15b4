"""The CardReader contract: what every card reader implementation must do.

Each case drives the device only through `hal.CardReader` and makes the customer act
only through `hal.stimulus.CardReaderStimulus`. The ground truth the stimulus reports
(where the card physically is, how many cards are in the retain bin) is what "no card
lost" is checked against.

The cases adapt to the reader's capability features
(`hal.devices.card_reader.CardReaderCapabilities.features`): a read asks for the
magnetic tracks the reader has, or, on a chip-only reader, the chip (whose data is the
ATR, checked against `CardSample.atr`); a card goes back to the customer by a move to
the exit and a take on a motorised reader, and by the customer pulling it from a dip
reader; MediaRemoved is required of a reader with a taken sensor. A case whose
behaviour cannot exist on the reader (a jam without a motor, a capture without a
retain bin, chip commands without contacts, issuing without a stacker) raises
`MissingCapability` naming the features it needs.
"""

from __future__ import annotations

import asyncio

from hal.devices.card_reader import (
    DISPENSE_UNIT,
    CardAction,
    CardReader,
    ChipPowerAction,
    InsertCard,
    InvalidMediaEvent,
    MediaInserted,
    MediaRemoved,
    MediaStatus,
    MoveTarget,
    ReadResult,
    ResetAction,
    Track,
)
from hal.errors import (
    Completion,
    HalTimeout,
    InvalidData,
    InvalidMedia,
    MediaJam,
    NoMedia,
    Occupied,
    UnsupportedOperation,
)
from hal.events import StatusChanged
from hal.stimulus import CardReaderStimulus
from tellerhal.conformance.card_reader_steps import (
    SELECT_PSE,
    VALID_TS,
    CardReaderHarness,
    check_read,
    eject_and_take,
    insert_and_read,
    need,
    next_event,
    one_source,
    sources_of,
)
from tellerhal.conformance.framework import (
    ContractCase,
    ContractFailure,
    check,
    expect_raises,
)

__all__ = ["CARD_READER_CASES", "CardReaderCase", "CardReaderHarness"]

CardReaderCase = ContractCase[CardReader, CardReaderStimulus]


async def insert_read_eject(h: CardReaderHarness) -> None:
    async with h.open() as reader:
        caps = await reader.capabilities()
        sources = sources_of(caps)
        with reader.events() as sub:
            result, sample, _ = await insert_and_read(h, reader, "visa", sources)
            check_read(result, sample, sources)
            status = await reader.status()
            check(status.media == MediaStatus.PRESENT, f"media is {status.media.value!r}")
            await eject_and_take(h, reader)
            kinds = [type(e) for e in sub.drain() if not isinstance(e, StatusChanged)]
        check(InsertCard in kinds and MediaInserted in kinds, f"events were {kinds}")
        expected = [InsertCard, MediaInserted]
        if "taken_sensor" in caps.features():
            expected.append(MediaRemoved)
        order = [k for k in kinds if k in (InsertCard, MediaInserted, MediaRemoved)]
        check(
            order == expected,
            f"events came in the order {[k.__name__ for k in order]}",
        )


async def command_events_carry_the_command_id(h: CardReaderHarness) -> None:
    async with h.open() as reader:
        sources = one_source(await reader.capabilities())
        _, _, events = await insert_and_read(h, reader, "visa", sources)
        inserted = [e for e in events if isinstance(e, InsertCard | MediaInserted)]
        check(len(inserted) == 2, f"expected InsertCard and MediaInserted, got {events}")
        ids = {e.command_id for e in inserted}
        check(None not in ids and len(ids) == 1, f"command events carry ids {ids}")
        with reader.events(kinds=[MediaRemoved]) as sub:
            await eject_and_take(h, reader)
            removed = sub.drain()
        check(
            all(e.command_id is None for e in removed),
            "MediaRemoved is unsolicited and must carry no command id",
        )


async def status_changes_are_reported(h: CardReaderHarness) -> None:
    async with h.open() as reader:
        sources = one_source(await reader.capabilities())
        with reader.events(kinds=[StatusChanged]) as sub:
            await insert_and_read(h, reader, "visa", sources)
            changes = [e for e in sub.drain() if isinstance(e, StatusChanged)]
        media = [e for e in changes if "media" in e.changed]
        check(media, "inserting a card produced no StatusChanged naming 'media'")
        last = media[-1]
        check(
            last.new.media == MediaStatus.PRESENT and last.old.media != MediaStatus.PRESENT,
            f"media went {last.old.media.value!r} -> {last.new.media.value!r}",
        )
        check(
            all(getattr(e.old, f) != getattr(e.new, f) for e in changes for f in e.changed),
            "a StatusChanged names a field that did not change",
        )
        await eject_and_take(h, reader)


async def timeout_without_a_card(h: CardReaderHarness) -> None:
    async with h.open() as reader:
        sources = one_source(await reader.capabilities())
        exc = await expect_raises(
            HalTimeout,
            reader.read_raw_data(sources, timeout=0.2),
            "read_raw_data with no card and timeout 0.2 s",
        )
        check(
            getattr(exc, "completion", None) == Completion.TIME_OUT,
            f"completion is {getattr(exc, 'completion', None)!r}",
        )
        status = await reader.status()
        check(status.media == MediaStatus.NOT_PRESENT, f"media is {status.media.value!r}")
        # The reader still works after a timeout.
        await insert_and_read(h, reader, "visa", sources)
        await eject_and_take(h, reader)


async def cancel_mid_wait_loses_no_card(h: CardReaderHarness) -> None:
    async with h.open() as reader:
        sources = one_source(await reader.capabilities())
        with reader.events(kinds=[InsertCard]) as sub:
            task = asyncio.create_task(reader.read_raw_data(sources))
            await next_event(sub, InsertCard, h.patience, "read_raw_data")
            # The customer pushes the card in just as the app gives up.
            await h.stimulus.insert_card("visa")
            task.cancel()
            results = await asyncio.gather(task, return_exceptions=True)
        check(
            isinstance(results[0], asyncio.CancelledError | ReadResult),
            f"a cancelled read ended with {results[0]!r}",
        )
        position = await h.stimulus.card_position()
        status = await reader.status()
        if position == "inside":
            check(
                status.media == MediaStatus.PRESENT,
                f"the card is inside but media is {status.media.value!r}",
            )
        else:
            check(position in ("none", "exit"), f"after cancelling, the card is at {position!r}")
            # Still in the customer's hand or at the slot: the next read must get it.
            try:
                await reader.read_raw_data(sources, timeout=h.patience)
            except HalTimeout:
                raise ContractFailure(
                    f"the card inserted as the read was cancelled is lost: the stimulus "
                    f"puts it at {position!r}, yet the next read found no card"
                ) from None
        await eject_and_take(h, reader)


async def jam_reports_media_jam(h: CardReaderHarness) -> None:
    async with h.open() as reader:
        caps = await reader.capabilities()
        need(caps.features(), "motor", why="only a reader that moves the card can jam it")
        await insert_and_read(h, reader, "visa", one_source(caps))
        await h.stimulus.jam()
        exc = await expect_raises(
            MediaJam, reader.move(MoveTarget.EXIT, timeout=h.patience), "move with a jam"
        )
        check(getattr(exc, "error_code", None) == "mediaJam", f"error_code of {exc!r}")
        status = await reader.status()
        check(status.media == MediaStatus.JAMMED, f"after a jam media is {status.media.value!r}")
        position = await h.stimulus.card_position()
        check(position == "jammed", f"after a jam the card is at {position!r}")
        await h.stimulus.clear_jam()
        await reader.reset(ResetAction.EXIT, timeout=h.patience)
        await h.stimulus.take_card(timeout=h.patience)
        check(await h.stimulus.card_position() == "customer", "the jammed card was not returned")


async def unreadable_card_is_returned(h: CardReaderHarness) -> None:
    async with h.open() as reader:
        sources = sources_of(await reader.capabilities())
        with reader.events() as sub:
            task = asyncio.create_task(reader.read_raw_data(sources, timeout=h.patience * 4))
            await next_event(sub, InsertCard, h.patience, "read_raw_data")
            await h.stimulus.insert_card("unreadable")
            if sources == (Track.CHIP,):
                # A chip-only reader meets a card without a chip: it refuses the card,
                # or reads it and says the chip gave no ATR.
                outcome = (await asyncio.gather(task, return_exceptions=True))[0]
                if isinstance(outcome, ReadResult):
                    chip = outcome.get(Track.CHIP)
                    check(
                        chip is not None and chip.status != "ok",
                        f"a card without a chip read as {chip!r}",
                    )
                    await eject_and_take(h, reader)
                    return
                if not isinstance(outcome, InvalidMedia):
                    raise ContractFailure(
                        f"reading a card without a chip: expected InvalidMedia or a chip "
                        f"status other than ok, got {outcome!r}"
                    )
                exc: BaseException = outcome
            else:
                exc = await expect_raises(InvalidMedia, task, "reading an unreadable card")
            check(getattr(exc, "error_code", None) == "invalidMedia", f"error_code of {exc!r}")
            kinds = [type(e) for e in sub.drain()]
        check(InvalidMediaEvent in kinds, f"no InvalidMediaEvent; events were {kinds}")
        await h.stimulus.take_card(timeout=h.patience)
        position = await h.stimulus.card_position()
        check(position == "customer", f"the unreadable card ended at {position!r}")


async def chip_power_and_apdu(h: CardReaderHarness) -> None:
    async with h.open() as reader:
        caps = await reader.capabilities()
        need(caps.features(), "chip")
        _, sample, _ = await insert_and_read(h, reader, "visa", one_source(caps))
        check(sample.has_chip, "the 'visa' test card must have a chip")
        atr = await reader.chip_power(ChipPowerAction.COLD, timeout=h.patience)
        check(len(atr) >= 2 and atr[0] in VALID_TS, f"ATR {atr.hex()} has no valid TS")
        if sample.atr is not None:
            check(atr == sample.atr, "the ATR of a cold reset differs from the card's")
        answer = await reader.chip_io(SELECT_PSE, timeout=h.patience)
        check(len(answer) >= 2, f"SELECT PSE answered {len(answer)} bytes")
        sw1 = answer[-2]
        if sw1 == 0x61:
            answer = await reader.chip_io(bytes([0, 0xC0, 0, 0, answer[-1]]), timeout=h.patience)
        check(answer[-2:] == b"\x90\x00", f"SELECT PSE ended with SW {answer[-2:].hex()}")
        check(answer[0] == 0x6F, f"SELECT PSE answered no FCI (first byte {answer[0]:02X})")
        off = await reader.chip_power(ChipPowerAction.OFF, timeout=h.patience)
        check(off == b"", "chip power off returned data")
        await eject_and_take(h, reader)
        await expect_raises(
            NoMedia,
            reader.chip_power(ChipPowerAction.COLD, timeout=h.patience),
            "chip power with no card",
        )


async def invalid_requests_are_refused(h: CardReaderHarness) -> None:
    async with h.open() as reader:
        caps = await reader.capabilities()
        features = caps.features()
        await expect_raises(InvalidData, reader.read_raw_data([]), "read_raw_data([])")
        for source in Track:
            if source not in caps.read_tracks:
                # A source the reader cannot read (a chip-only reader and track 2).
                await expect_raises(
                    InvalidData,
                    reader.read_raw_data([source], timeout=h.patience),
                    f"read_raw_data([{source.value}]) on a reader that cannot read it",
                )
        # Without chip contacts the honest answer is unsupportedCommand, checked first.
        refused = InvalidData if "chip" in features else UnsupportedOperation
        await expect_raises(refused, reader.chip_io(b"\x00\xa4"), "chip_io with a 2-byte APDU")
        if "write_tracks" not in features:
            await expect_raises(
                UnsupportedOperation,
                reader.write_raw_data({Track.TRACK2: b"1"}, timeout=h.patience),
                "write_raw_data on a reader that writes no tracks",
            )
        if "retain" not in features:
            await expect_raises(
                UnsupportedOperation,
                reader.move(MoveTarget.RETAIN, timeout=h.patience),
                "move to a retain bin the reader does not have",
            )
        status = await reader.status()
        check(status.media == MediaStatus.NOT_PRESENT, "a refused command moved a card")


async def retain_counts_persist(h: CardReaderHarness) -> None:
    async with h.open() as reader:
        caps = await reader.capabilities()
        need(caps.features(), "retain")
        before = (await reader.retain_bin()).count
        physical_before = await h.stimulus.retained_count()
        await insert_and_read(h, reader, "visa", one_source(caps))
        await reader.move(MoveTarget.RETAIN, timeout=h.patience)
        after = await reader.retain_bin()
        check(after.count == before + 1, f"retain count went {before} -> {after.count}")
        check(after.pending == 0, f"{after.pending} captures left pending")
        physical = await h.stimulus.retained_count()
        check(physical == physical_before + 1, f"bin holds {physical}, was {physical_before}")
        status = await reader.status()
        check(status.media == MediaStatus.NOT_PRESENT, f"media is {status.media.value!r}")
    async with h.open() as reader:
        again = await reader.retain_bin()
        check(again.count == before + 1, f"after reopening the count is {again.count}")


async def card_left_at_exit_is_captured(h: CardReaderHarness) -> None:
    async with h.open() as reader:
        caps = await reader.capabilities()
        need(caps.features(), "retain", "motor", why="the reader captures a card left out")
        before = (await reader.retain_bin()).count
        await insert_and_read(h, reader, "never_taken", one_source(caps))
        with reader.events(kinds=[CardAction]) as sub:
            await reader.move(MoveTarget.EXIT, timeout=h.patience)
            action = await next_event(sub, CardAction, h.patience * 12, "a card left at the exit")
        assert isinstance(action, CardAction)
        check(action.to == "retain", f"the card left at the exit went to {action.to!r}")
        check(action.command_id is None, "CardAction is unsolicited and carries no command id")
        check(await h.stimulus.card_position() == "retained", "the card is not in the bin")
        count = (await reader.retain_bin()).count
        check(count == before + 1, f"the capture was not counted ({before} -> {count})")


async def issue_card(h: CardReaderHarness) -> None:
    async with h.open() as reader:
        caps = await reader.capabilities()
        need(caps.features(), "issue")
        physical_before = await h.stimulus.stacker_count()
        check(physical_before > 0, "the card stacker is empty: load it to run this case")
        # The books start from what an operator counted, as after a replenishment.
        await reader.load_stacker(physical_before, reason="conformance: cards counted")
        await reader.move(MoveTarget.TRANSPORT, from_unit=DISPENSE_UNIT, timeout=h.patience)
        status = await reader.status()
        check(status.media == MediaStatus.PRESENT, f"issued, media is {status.media.value!r}")
        position = await h.stimulus.card_position()
        check(position == "inside", f"the issued card is at {position!r}, not inside")
        stacker = await reader.stacker()
        physical = await h.stimulus.stacker_count()
        check(physical == physical_before - 1, f"stacker holds {physical}, was {physical_before}")
        check(stacker.count == physical, f"the books count {stacker.count}, the stacker {physical}")
        check(stacker.pending == 0, f"{stacker.pending} dispenses left pending")
        await eject_and_take(h, reader)
        # A second card cannot be issued over one inside: issue, then try again.
        await reader.move(MoveTarget.TRANSPORT, from_unit=DISPENSE_UNIT, timeout=h.patience)
        await expect_raises(
            Occupied,
            reader.move(MoveTarget.TRANSPORT, from_unit=DISPENSE_UNIT, timeout=h.patience),
            "issuing a card while one is inside",
        )
        check(
            await h.stimulus.stacker_count() == physical_before - 2,
            "a refused issue took a card from the stacker",
        )
        await eject_and_take(h, reader)
        # Straight to the customer: the card waits at the exit until taken.
        with reader.events(kinds=[MediaRemoved]) as sub:
            await reader.move(MoveTarget.EXIT, from_unit=DISPENSE_UNIT, timeout=h.patience)
            position = await h.stimulus.card_position()
            check(position == "exit", f"a card issued to the exit is at {position!r}")
            await h.stimulus.take_card(timeout=h.patience)
            if "taken_sensor" in caps.features():
                await next_event(sub, MediaRemoved, h.patience, "the customer took the issued card")
        physical = await h.stimulus.stacker_count()
        books = (await reader.stacker()).count
        check(physical == physical_before - 3, f"stacker holds {physical}, was {physical_before}")
        check(
            books == physical, f"after three issues the books count {books}, the stacker {physical}"
        )


CARD_READER_CASES: tuple[CardReaderCase, ...] = (
    ContractCase(
        "card_reader.insert_read_eject",
        "insert -> InsertCard, MediaInserted -> tracks -> eject -> taken -> MediaRemoved",
        insert_read_eject,
    ),
    ContractCase(
        "card_reader.command_event_ids",
        "command events carry the command id; unsolicited events none",
        command_events_carry_the_command_id,
    ),
    ContractCase(
        "card_reader.status_changed",
        "StatusChanged names exactly the fields that changed",
        status_changes_are_reported,
    ),
    ContractCase(
        "card_reader.timeout_without_card",
        "a read with no card times out with timeOut and the reader still works",
        timeout_without_a_card,
    ),
    ContractCase(
        "card_reader.cancel_mid_wait",
        "cancelling a read while the card goes in loses no card",
        cancel_mid_wait_loses_no_card,
    ),
    ContractCase(
        "card_reader.jam",
        "a jam gives mediaJam, status jammed, and the card comes back after a reset",
        jam_reports_media_jam,
    ),
    ContractCase(
        "card_reader.unreadable_card",
        "an unreadable card gives invalidMedia and InvalidMediaEvent and is returned",
        unreadable_card_is_returned,
    ),
    ContractCase(
        "card_reader.chip_power_apdu",
        "cold reset gives an ATR, SELECT PSE answers an FCI, power off, no card -> noMedia",
        chip_power_and_apdu,
    ),
    ContractCase(
        "card_reader.invalid_requests",
        "invalid arguments are refused with invalidData and move nothing",
        invalid_requests_are_refused,
    ),
    ContractCase(
        "card_reader.retain_counts_persist",
        "a capture is counted, matches the bin, and survives reopening",
        retain_counts_persist,
    ),
    ContractCase(
        "card_reader.card_left_at_exit",
        "a card left at the exit is captured with CardAction and counted",
        card_left_at_exit_is_captured,
    ),
    ContractCase(
        "card_reader.issue_card",
        "a card issued from the stacker is inside, counted once, and returned to the customer",
        issue_card,
    ),
)
