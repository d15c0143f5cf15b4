"""The Creator drivers' own captures (a card left at the exit) in the ledger.

Both drivers (``crt310``, ``crt591``) run under a real `CardReaderService` with an
in-memory ledger, against their emulators: the capture is journalled before the
capture command reaches the reader (the emulator's firmware looks at the ledger when
the command arrives), a bin the ledger counts full keeps the card at the exit, and a
capture whose reply is lost settles unknown and is no `MediaRemoved`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest

from drivers.card_reader.crt310 import Crt310Driver, Crt310Options
from drivers.card_reader.crt591 import Crt591Driver, Crt591Options
from hal.devices.card_reader import (
    CardAction,
    InsertCard,
    MediaRemoved,
    MoveTarget,
    Track,
    begin_capture,
)
from hal.devices.card_reader_service import CardReaderService
from hal.devices.card_stacker import CARD
from hal.errors import HalTimeout
from hal.events import Event, StatusChanged, Subscription
from hal.ledger import Ledger
from protocols.crt310 import Command as Crt310Command
from protocols.crt591 import Command as Crt591Command
from protocols.crt591 import Position
from simulator.models.card_reader import CardPosition
from tests import crt310_rig, crt591_rig
from tests.creator_rig import MemoryRigBase

NAME = "card_reader"
CAPACITY = 5
#: The take timer is what these tests are about: short. The ACK timeout is not: long
#: enough that a loaded machine does not resend a command.
TAKE = 0.1


@dataclass
class Kind:
    """What differs between the two readers for these tests."""

    rig: Callable[..., MemoryRigBase[Any]]
    driver: Callable[[Any, float], Any]
    capture: object  # the capture command as the firmware's ``executed`` lists it


def _crt310(host: Any, reply_timeout: float) -> Crt310Driver:
    options = Crt310Options(
        poll_interval=0.005,
        ack_timeout=0.3,
        reply_timeout=reply_timeout,
        take_timeout=TAKE,
        retain_capacity=CAPACITY,
    )
    return Crt310Driver(host, options, name=NAME)


def _crt591(host: Any, reply_timeout: float) -> Crt591Driver:
    options = Crt591Options(
        poll_interval=0.005,
        ack_timeout=0.3,
        reply_timeout=reply_timeout,
        take_timeout=TAKE,
        retain_capacity=CAPACITY,
    )
    return Crt591Driver(host, options, name=NAME)


KINDS = {
    "crt310": Kind(crt310_rig.MemoryRig, _crt310, Crt310Command.CAPTURE),
    "crt591": Kind(
        crt591_rig.MemoryRig, _crt591, (Crt591Command.MOVE.cm, int(Position.REJECT_BIN))
    ),
}


@dataclass
class Setup:
    kind: str
    rig: MemoryRigBase[Any]
    emulator: Any
    service: CardReaderService
    ledger: Ledger
    events: Subscription
    seen: list[Event] = field(default_factory=list)

    async def until(self, kind: type[Event], timeout: float = 2.0) -> Event:
        """Keep every event until one of ``kind`` arrives (a bound, not a hang)."""
        async with asyncio.timeout(timeout):
            while True:
                event = await self.events.get()
                self.seen.append(event)
                if isinstance(event, kind):
                    return event

    def kinds(self) -> list[str]:
        """The names of every event so far."""
        self.seen += self.events.drain()
        return [type(e).__name__ for e in self.seen]

    def retain_movements(self, which: str) -> list[Any]:
        found = getattr(self.ledger, which)(NAME)
        return [m for m in found if m.destination == "retain"]


@asynccontextmanager
async def serviced(
    kind: str, *, in_bin: int = 0, reply_timeout: float = 1.0, **model: object
) -> AsyncIterator[Setup]:
    """The reader's driver under a service with an in-memory ledger; ``in_bin`` cards
    already counted in the bin; ``model``: `CardReaderSetup` fields of the reader."""
    made = KINDS[kind]
    rig = made.rig(**model)
    ledger = Ledger.open(":memory:")
    try:
        if in_bin:
            ledger.define_location(NAME, "retain", kind="retain", item=CARD, capacity=CAPACITY)
            ledger.set_initial(NAME, "retain", in_bin, reason="the test's bin")
        async with rig.wire() as emulator:
            service = CardReaderService(made.driver(rig.host, reply_timeout), ledger=ledger)
            async with service:
                with service.events() as events:
                    yield Setup(kind, rig, emulator, service, ledger, events)
    finally:
        ledger.close()


async def present(setup: Setup, profile: str = "never_taken") -> None:
    """Put a card at the exit (gate) that its customer does not take by himself."""
    if setup.kind == "crt591":
        await setup.service.load_stacker(crt591_rig.STACKER, reason="the test's stacker")
        await setup.service.move(MoveTarget.EXIT, from_unit="stacker")
        return
    reading = asyncio.create_task(setup.service.read_raw_data([Track.TRACK2]))
    await setup.until(InsertCard)
    await setup.rig.control.insert_card(profile)
    await asyncio.wait_for(reading, 2)
    await setup.service.move(MoveTarget.EXIT)


@pytest.mark.parametrize("kind", sorted(KINDS))
async def test_the_capture_is_journalled_before_the_reader_sees_the_command(kind: str) -> None:
    async with serviced(kind) as setup:
        seen: list[list[Any]] = []

        def heard(command: object) -> None:
            if command == KINDS[kind].capture:
                seen.append(setup.retain_movements("pending"))

        setup.emulator.firmware.on_command = heard
        await present(setup)
        action = await setup.until(CardAction)
        assert isinstance(action, CardAction)
        assert (action.source, action.to) == ("exit", "retain")
        assert len(seen) == 1
        assert [(m.source, m.destination, m.count) for m in seen[0]] == [("reader", "retain", 1)]
        assert setup.rig.model.retained_count == 1
        # Settled done, counted once (the CardAction is not journalled again).
        assert setup.retain_movements("pending") == []
        bin_ = await setup.service.retain_bin()
        assert (bin_.count, bin_.unknown, bin_.pending) == (1, 0, 0)
        await setup.service.status()  # a status after it: no card at the exit
        assert "MediaRemoved" not in setup.kinds()


@pytest.mark.parametrize("kind", sorted(KINDS))
async def test_a_bin_the_ledger_counts_full_keeps_the_card_at_the_exit(kind: str) -> None:
    async with serviced(kind, in_bin=CAPACITY) as setup:
        await present(setup, "visa")  # a customer who comes back for it
        await asyncio.sleep(TAKE * 4)  # well past the take timer: many polls
        assert KINDS[kind].capture not in setup.emulator.executed
        assert setup.rig.model.retained_count == 0
        assert setup.rig.model.position is CardPosition.EXIT
        assert setup.retain_movements("pending") == []
        assert setup.retain_movements("unknown") == []
        assert (await setup.service.retain_bin()).count == CAPACITY
        # The watcher still watches: the customer taking the card is reported.
        await setup.rig.control.take_card(timeout=2)
        await setup.until(MediaRemoved)
        assert "CardAction" not in setup.kinds()


@pytest.mark.parametrize("kind", sorted(KINDS))
async def test_a_capture_whose_reply_is_lost_settles_unknown_and_is_no_media_removed(
    kind: str,
) -> None:
    async with serviced(kind, reply_timeout=0.3) as setup:
        emulator = setup.emulator

        def heard(command: object) -> None:
            if command == KINDS[kind].capture:
                emulator.drop_next_reply()

        emulator.firmware.on_command = heard
        await present(setup)
        # The capture times out (settled unknown), then a poll sees no card at the exit.
        await setup.until(StatusChanged, timeout=3)  # a bound, not a hang
        while not setup.retain_movements("unknown"):
            await setup.until(StatusChanged, timeout=3)
        assert setup.rig.model.retained_count == 1  # the reader did capture it
        assert setup.retain_movements("pending") == []
        # A status after it sees no card at the exit: not the customer's take.
        await setup.service.status()
        await setup.service.status()
        await asyncio.sleep(TAKE)  # the watcher's polls too
        assert "MediaRemoved" not in setup.kinds()
        assert "CardAction" not in setup.kinds()
        bin_ = await setup.service.retain_bin()
        assert (bin_.count, bin_.unknown, bin_.pending) == (0, 1, 0)
        assert emulator.executed.count(KINDS[kind].capture) == 1


async def test_a_capture_the_unit_refuses_settles_failed_and_the_card_stays() -> None:
    # The unit's bin holds one card; the ledger thinks it has room for five.
    async with serviced("crt591", retain_capacity=1) as setup:
        await present(setup)
        await setup.until(CardAction)
        await present(setup)  # the second card: 32 33 answered A1 (bin full)
        async with asyncio.timeout(2):  # a bound, not a hang
            while not [r for r in setup.ledger.history(NAME) if _failed_capture(r)]:
                await setup.service.status()  # one exchange: the watcher's turn comes
        assert setup.rig.model.position is CardPosition.EXIT
        assert setup.rig.model.retained_count == 1
        bin_ = await setup.service.retain_bin()
        assert (bin_.count, bin_.unknown, bin_.pending) == (1, 0, 0)
        await setup.rig.control.take_card(timeout=2)
        await setup.until(MediaRemoved)  # the customer's take is reported as ever
        assert setup.kinds().count("CardAction") == 1


def _failed_capture(record: Any) -> bool:
    settled = record.settlement
    return (
        record.movement.destination == "retain"
        and settled is not None
        and settled.outcome.value == "failed"
    )


@pytest.mark.parametrize("kind", sorted(KINDS))
async def test_a_capture_in_doubt_with_the_card_still_there_did_not_happen(kind: str) -> None:
    # The capture command failed with no answer (in doubt), yet the next status sees the
    # card still at the exit: it was not captured, and its later take is the customer's.
    async with serviced(kind) as setup:
        driver = setup.service._backend  # type: ignore[attr-defined]
        driver._take_timeout = None  # no capture of its own: this test makes the doubt
        await present(setup, "visa")  # a customer who does take the card
        ticket = begin_capture(setup.service, "exit")
        driver._capture_failed(ticket, HalTimeout("no reply to the capture"))
        assert len(setup.retain_movements("pending")) == 1
        await setup.service.status()  # the card is still at the exit
        assert setup.retain_movements("pending") == []
        assert setup.retain_movements("unknown") == []
        (record,) = [r for r in setup.ledger.history(NAME) if r.movement.destination == "retain"]
        assert _failed_capture(record)
        await setup.rig.control.take_card(timeout=2)
        await setup.until(MediaRemoved)  # reported: the doubt is over
        bin_ = await setup.service.retain_bin()
        assert (bin_.count, bin_.unknown, bin_.pending) == (0, 0, 0)
