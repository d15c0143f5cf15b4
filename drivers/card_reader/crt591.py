"""The ``crt591`` driver: a Creator CRT-591-M card issuer, as a `CardReaderBackend`.

Address (entry point ``crt591`` in group ``tellerhal.drivers``)::

    crt591+serial:///dev/ttyUSB0[?baud=9600&address=0&stacker_capacity=100
                                 &retain_capacity=20&poll_interval=0.1&retries=3
                                 &ack_timeout=0.3&reply_timeout=5&take_timeout=30
                                 &refuse_after=1&ledger=/var/lib/kiosk/ledger.db]
    crt591+memory://NAME                       (tests: a `hal.transports.memory` pair)

The serial options (``baud``...) are the transport's (`hal.transports.serial`); the
unit's own are `Crt591Options`. The CRT-591 reports neither how many cards its stacker
holds nor the size of its reject bin: ``stacker_capacity`` and ``retain_capacity`` say
so (both at least 1: the unit always has both). The exchange, retries,
resynchronisation and reconnection are `drivers.card_reader.crt591_link.Crt591Link`'s.

How XFS4IoT card reader operations become CRT-591 commands:

- **open**: Initialize without moving a card (30 33), which the unit needs after a
  power-up; a card found is reported (`MediaDetected`). Any later command answered
  ``B0`` (not initialised: the unit was power-cycled) is retried once after 30 33.
- **issue** (``move(to, from_unit="stacker")``, `dispense_card`): with the channel
  empty (st0 '0', checked first: `Occupied` otherwise), 32 31 takes a card from the
  stacker to the IC position (``transport``), 32 39 on out of the gate (``exit``).
  ``A0`` (stacker empty) is `NoMedia`, ``10`` a jam.
- **move**: exit 32 39 (out of the gate), transport 32 31 (the IC position), retain 32
  33 (the reject bin; ``A1`` full is `RetainBinFull`). A move with the channel empty
  would take a card from the stacker, so the driver asks the status first and raises
  `NoMedia` without sending a move when there is no card.
- **accept a card** (a customer's card back in, `read_raw_data` waiting): enable entry
  at the gate (33 30), report `InsertCard`, poll status every ``poll_interval`` s until
  st0 is '2' (`MediaInserted`), then disable entry (33 31). A card that stays at the
  gate for ``refuse_after`` seconds (and three polls at least) was refused
  (`InvalidMediaEvent`, `InvalidMedia`) [assumption]. Cancelled, the driver disables
  entry and a card that got in stays in, reported.
- **read**: the chip only (the CRT-591 has no magnetic head): a cold reset (51 30),
  whose ATR is the data; ``61`` and other activation failures ``dataMissing``.
- **chip**: cold 51 30, warm 51 38, off 51 31; the reset says the protocol, and APDUs go
  as 51 33 (T=0) or 51 34 (T=1).
- **reset**: Initialize 30 30 (``exit``, ``auto``: to the gate), 30 31 (``retain``),
  30 33 (``currentPosition``).
- **card taken**: after a card reaches the gate a watcher polls status; st0 '0' is
  `MediaRemoved`. The CRT-591 has no take timer: a card still at the gate after
  ``take_timeout`` seconds is captured (32 33) and reported as `CardAction` (exit to
  retain). The capture is journalled in the ledger before 32 33 goes
  (`hal.devices.card_reader.begin_capture`); a bin the ledger counts full keeps the
  card at the gate. A capture whose reply is lost settles unknown, and the card then
  missing from the gate is not reported as `MediaRemoved`.

Status: st0 as `drivers.card_reader.crt591_codes` says; st1 is the stacker's fill
(``CardReaderStatus.stacker``), st2 the reject bin's (``full``). A port that went away
gives status ``noDevice`` and `ConnectionLost` from commands; the next command or
status reopens it. A unit that does not answer is ``offline``.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass

from drivers.card_reader import crt591_codes as codes
from drivers.card_reader.creator_driver import CreatorDriver, check_common_options
from drivers.card_reader.creator_link import shielded
from drivers.card_reader.creator_maskers import Crt591Masker
from drivers.card_reader.crt591_link import Crt591Link
from hal.address import DeviceAddress
from hal.device import BackendListener
from hal.devices.card_reader import (
    CardAction,
    CardData,
    CardReaderCapabilities,
    CardReaderStatus,
    ChipPowerAction,
    DataStatus,
    InsertCard,
    InvalidMediaEvent,
    MediaDetected,
    MediaInserted,
    MoveTarget,
    ReadResult,
    ResetAction,
    Track,
)
from hal.devices.card_reader_service import CardReaderService
from hal.errors import (
    AtrNotObtained,
    ConfigurationError,
    HalError,
    InvalidData,
    InvalidMedia,
    MediaJam,
    NoMedia,
    Occupied,
    UnsupportedOperation,
)
from hal.registry import DriverSpec, make_transport
from hal.transports.base import Transport
from protocols.crt591 import (
    MAX_DATA,
    CardStatus,
    Command,
    CpuOperation,
    ErrorCode,
    InitMode,
    Position,
    Refusal,
    Reply,
    Request,
    parse_cpu_reset,
)

__all__ = ["CRT591_DRIVER", "MAX_APDU", "Crt591Driver", "Crt591Options", "open_crt591"]

log = logging.getLogger(__name__)

_REFUSED_POLLS = 3  # polls with the card at the gate (at least) before it counts as refused
#: The longest C-APDU a command carries ('C' CM PM, then the APDU).
MAX_APDU = MAX_DATA + 3


@dataclass(frozen=True)
class Crt591Options:
    """The options of a ``crt591`` address (the serial line's are the transport's).

    Attributes:
        address: the unit's bus address (its DIP switches), 0..15.
        stacker_capacity: cards the card stacker holds (the unit does not say).
        retain_capacity: cards the reject bin holds (the unit does not say).
        poll_interval: seconds between status polls while waiting for a card or for
            the customer to take one (the CRT-591 reports nothing by itself).
        retries: sends of a command after the first, at a NAK or a missing ACK.
        ack_timeout: seconds for a command's ACK (the reference: 300 ms).
        reply_timeout: seconds for a reply (card movements included).
        take_timeout: seconds a card may wait at the gate before it is captured;
            empty: never.
        refuse_after: seconds a card may stay at the gate, once entry is enabled,
            before it counts as refused (the unit did not draw it in) [assumption].
        ledger: the ledger file dispenses and captures are journalled in; empty: in memory.

    Raises:
        ConfigurationError: a value out of range.
    """

    address: int = 0
    stacker_capacity: int = 100
    retain_capacity: int = 20
    poll_interval: float = 0.1
    retries: int = 3
    ack_timeout: float = 0.3
    reply_timeout: float = 5.0
    take_timeout: float | None = 30.0
    refuse_after: float = 1.0
    ledger: str = ""

    def __post_init__(self) -> None:
        if not 0 <= self.address <= 15:
            raise ConfigurationError(f"address must be 0 to 15, got {self.address}")
        for key in ("stacker_capacity", "retain_capacity"):
            if getattr(self, key) < 1:
                raise ConfigurationError(
                    f"{key} must be >= 1 (a CRT-591 has one), got {getattr(self, key)}"
                )
        check_common_options(self)
        if not (math.isfinite(self.refuse_after) and self.refuse_after >= 0):
            raise ConfigurationError(f"refuse_after must be >= 0 s, got {self.refuse_after}")


class Crt591Driver(CreatorDriver):
    """A CRT-591 behind a `hal.transports.base.Transport` (see the module header).

    Args:
        transport: the link to the unit.
        options: address, capacities, timings, retries.
        name: the device name, for messages.
    """

    link: Crt591Link
    _place = "gate"
    _party = "unit"

    def __init__(
        self,
        transport: Transport,
        options: Crt591Options | None = None,
        *,
        name: str = "card_reader",
    ) -> None:
        self.options = options if options is not None else Crt591Options()
        super().__init__(self.options, name)
        self.link = Crt591Link(
            transport,
            address=self.options.address,
            name=name,
            retries=self.options.retries,
            ack_timeout=self.options.ack_timeout,
            reply_timeout=self.options.reply_timeout,
            on_lost=self._port_lost,
        )
        self._jammed = False  # the unit answered a jam; a reset or a move clears it
        # Held from the status check to the end of a move: the gate watcher's capture
        # must not empty the channel between an app's check and its move (a move into an
        # empty channel issues a card).
        self._motion = asyncio.Lock()
        #: Initialize commands sent because the unit answered B0 (not initialised).
        self.reinitialised = 0

    # --- lifecycle and queries -------------------------------------------------------

    async def open(self, listener: BackendListener[CardReaderStatus]) -> None:
        """Open the port, initialise the unit and report a card found; a unit that does
        not answer yet leaves the device open and ``offline`` (its port must be there)."""
        reply = await self._open_link(listener, self._first_initialize)
        if reply is None:
            return
        where = codes.where_is(reply.card, jammed=False)
        if where:
            self._emit(MediaDetected(position=where))
        if reply.card is CardStatus.AT_GATE:  # issued or returned earlier, not yet taken
            self._present()

    async def _first_initialize(self) -> Reply | None:
        try:
            return await self._initialize(InitMode.NO_MOVE)
        except MediaJam:
            self._emit(MediaDetected(position="jammed"))
            return None

    def capabilities(self) -> CardReaderCapabilities:
        """Motorised; the chip (T=0, T=1), no tracks; the stacker and the reject bin."""
        options = self.options
        return self._motor_capabilities(
            frozenset({Track.CHIP}), options.retain_capacity, options.stacker_capacity
        )

    # --- commands ----------------------------------------------------------------------

    async def accept_card(self, sources: frozenset[Track]) -> None:
        """Enable entry at the gate, report InsertCard and poll until a card is in."""
        reply = await self._status()
        if reply.card is CardStatus.AT_POSITION:
            if self._jammed:
                raise MediaJam(f"{self.name}: a card is jammed in the unit")
            return
        await self._call(Command.ENTRY_ENABLE, what="enable entry")
        self._emit(InsertCard())
        loop = asyncio.get_running_loop()
        at_gate, since = 0, 0.0
        try:
            while True:
                await asyncio.sleep(self.options.poll_interval)
                reply = await self._status()
                if reply.card is CardStatus.AT_POSITION:
                    self._emit(MediaInserted())
                    await self._shut_entry()
                    return
                if reply.card is not CardStatus.AT_GATE:
                    at_gate = 0
                    continue
                at_gate += 1
                if at_gate == 1:
                    since = loop.time()
                held = loop.time() - since >= self.options.refuse_after
                if at_gate >= _REFUSED_POLLS and held:
                    await self._shut_entry()
                    self._emit(InvalidMediaEvent())
                    self._present()
                    raise InvalidMedia(f"{self.name}: the unit refused the card; it is returned")
        except asyncio.CancelledError:
            await shielded(self._abandon_entry())
            raise

    def _inside(self, reply: Reply) -> bool:
        return reply.card is CardStatus.AT_POSITION

    async def _shut_entry(self) -> None:
        await self._call(Command.ENTRY_DISABLE, what="disable entry")

    async def read_card(self, sources: frozenset[Track]) -> ReadResult:
        """Read the chip (a cold reset's ATR); the CRT-591 has no magnetic head."""
        found: dict[Track, CardData] = {}
        for track in sources - {Track.CHIP}:
            found[track] = CardData(DataStatus.SOURCE_NOT_SUPPORTED)
        if Track.CHIP in sources:
            found[Track.CHIP] = await self._read_chip()
        order = (Track.TRACK1, Track.TRACK2, Track.TRACK3, Track.CHIP)
        return ReadResult({t: found[t] for t in order if t in found})

    async def _read_chip(self) -> CardData:
        if (await self._status()).card is not CardStatus.AT_POSITION:
            return CardData(DataStatus.SOURCE_MISSING)
        try:
            atr = await self._reset_chip(cold=True)
        except AtrNotObtained:
            return CardData(DataStatus.MISSING)
        return CardData(DataStatus.OK, atr)

    async def write_tracks(self, data: Mapping[Track, bytes]) -> None:
        """The CRT-591 writes no tracks."""
        raise UnsupportedOperation(f"{self.name}: the CRT-591 has no magnetic head")

    async def move_card(self, to: MoveTarget) -> None:
        """Move the card in the unit: exit (out of the gate), transport, retain."""
        async with self._motion:
            await self._move_card(to)

    async def _move_card(self, to: MoveTarget) -> None:
        reply = await self._status()
        if reply.card is CardStatus.NO_CARD:
            # A move with the channel empty would issue a new card: never sent.
            raise NoMedia(f"{self.name}: no card in the unit")
        if self._jammed:
            raise MediaJam(f"{self.name}: the card is jammed; reset the unit")
        if to is MoveTarget.EXIT and reply.card is CardStatus.AT_GATE:
            self._present()
            return
        await self._move(codes.MOVES[to], f"move the card to {to.value}")
        if to is MoveTarget.EXIT:
            self._present()
        else:
            self._presented = False

    async def dispense_card(self, to: MoveTarget) -> None:
        """Issue a card from the stacker to the IC position (transport) or the gate (exit)."""
        if to is MoveTarget.RETAIN:
            raise InvalidData(f"{self.name}: a new card goes to the transport or the exit")
        async with self._motion:
            await self._dispense(to)

    async def _dispense(self, to: MoveTarget) -> None:
        reply = await self._status()
        if reply.card is not CardStatus.NO_CARD:
            if self._jammed:
                raise MediaJam(f"{self.name}: a card is jammed in the unit")
            raise Occupied(f"{self.name}: a card is already in the unit")
        position = Position.GATE if to is MoveTarget.EXIT else Position.IC
        await self._move(position, f"issue a card to the {to.value}")
        if to is MoveTarget.EXIT:
            self._present()

    async def _move(self, position: Position, what: str) -> Reply:
        self._chip = None
        reply = await self._call(Command.MOVE, position, what=what)
        self._jammed = False
        self._observe(reply)
        return reply

    async def chip_power(self, action: ChipPowerAction) -> bytes:
        """Cold reset (51 30), warm reset (51 38) or power off (51 31)."""
        reply = await self._status()
        if reply.card is not CardStatus.AT_POSITION:
            raise NoMedia(f"{self.name}: no card at the IC contacts")
        if self._jammed:
            raise MediaJam(f"{self.name}: the card is jammed")
        if action is ChipPowerAction.OFF:
            await self._call(Command.CPU, CpuOperation.POWER_OFF, what="power the chip off")
            self._chip = None
            return b""
        return await self._reset_chip(cold=action is ChipPowerAction.COLD)

    async def _reset_chip(self, *, cold: bool) -> bytes:
        operation = CpuOperation.COLD_RESET if cold else CpuOperation.WARM_RESET
        self._chip = None
        reply = await self._call(Command.CPU, operation, what="reset the chip")
        data = parse_cpu_reset(reply.data)
        self._chip = "T1" if data.t1 else "T0"
        self._observe(reply)
        return data.atr

    async def chip_io(self, apdu: bytes) -> bytes:
        """One APDU, as 51 33 (T=0) or 51 34 (T=1) after the chip's reset."""
        if self._chip is None:
            raise AtrNotObtained(f"{self.name}: the chip is not powered; reset it first")
        if len(apdu) > MAX_APDU:
            raise InvalidData(f"the CRT-591 carries APDUs of up to {MAX_APDU} bytes")
        operation = CpuOperation.APDU_T1 if self._chip == "T1" else CpuOperation.APDU_T0
        try:
            reply = await self._call(Command.CPU, operation, apdu, what="exchange an APDU")
        except AtrNotObtained:
            self._chip = None
            raise
        return reply.data

    async def reset(self, to: ResetAction) -> MoveTarget | None:
        """Initialize; where a card that was in the channel went follows from st0 after."""
        before = (await self._status()).card
        where = codes.where_is(before, jammed=self._jammed)
        if where:
            self._emit(MediaDetected(position=where))
        mode = codes.RESETS[to]
        after = (await self._initialize(mode)).card
        if before is not CardStatus.AT_POSITION:
            return None
        if after is CardStatus.AT_GATE:
            self._present()
            return MoveTarget.EXIT
        if after is CardStatus.NO_CARD and mode is InitMode.CAPTURE:
            return MoveTarget.RETAIN
        return None

    # --- the exchange and what it tells ----------------------------------------------

    async def _call(
        self, command: Command, pm: int | None = None, data: bytes = b"", *, what: str
    ) -> Reply:
        """One command; its positive reply, or the HAL error its negative reply means.

        A unit that answers ``B0`` (power-cycled, not initialised) is initialised
        (30 33) and asked again, once.
        """
        request = Request(command.cm, command.pm if command.pm is not None else int(pm or 0), data)
        answer = await self.link.exchange(request, what=what)
        if (
            isinstance(answer, Refusal)
            and answer.error is ErrorCode.NOT_INITIALISED
            and command is not Command.INITIALIZE
        ):
            log.info("%s: the unit is not initialised (power cycle?): initialising", self.name)
            self.reinitialised += 1
            await self._initialize(InitMode.NO_MOVE)
            answer = await self.link.exchange(request, what=what)
        if isinstance(answer, Refusal):
            if answer.error in codes.JAMS:
                self._jammed = True
                self._chip = None
            raise codes.error_for(self.name, answer.error, what)
        return answer

    async def _initialize(self, mode: InitMode) -> Reply:
        self._chip = None
        reply = await self._call(Command.INITIALIZE, mode, what=f"initialize ({mode.name})")
        self._jammed = False
        self._observe(reply)
        if reply.data:
            self._firmware = reply.data.decode("ascii", "replace").strip()
        return reply

    async def _status(self) -> Reply:
        reply = await self._call(Command.STATUS, what="status")
        self._observe(reply)
        return reply

    def _status_of(self, reply: Reply) -> CardReaderStatus:
        return codes.status_of(reply, jammed=self._jammed, chip_on=self._chip is not None)

    def _observe(self, reply: Reply) -> None:
        """What st0 st1 st2 tell: the chip's power, a card taken from the gate."""
        if reply.card is not CardStatus.AT_POSITION:
            self._chip = None
        self._settle_doubt(card_still_here=reply.card is not CardStatus.NO_CARD)
        if self._presented and reply.card is not CardStatus.AT_GATE:
            self._left_place(no_card=reply.card is CardStatus.NO_CARD)
        self._report(self._status_of(reply))

    # --- the gate watcher ------------------------------------------------------------

    async def _capture_left_card(self) -> None:
        async with self._motion:
            await self._capture()

    async def _capture(self) -> None:
        reply = await self._status()
        if reply.card is not CardStatus.AT_GATE:
            return  # just taken: the poll saw it
        ticket = self._capture_ticket()  # journalled before 32 33 goes
        if ticket is None:
            return  # the ledger refuses: the card stays at the gate
        self._presented = False  # the capture's reply (st0 '0') is no customer taking it
        try:
            await self._move(Position.REJECT_BIN, "capture the card left at the gate")
        except BaseException as exc:
            self._capture_failed(ticket, exc)
            if isinstance(exc, HalError):
                return
            raise
        ticket.settle(True)
        self._emit(CardAction(source="exit", to="retain"))


def open_crt591(address: DeviceAddress, options: Crt591Options) -> CardReaderService:
    """Build the (unopened) card reader an address names (the registry factory)."""
    driver = Crt591Driver(make_transport(address), options)
    return CardReaderService(driver, name=driver.name, ledger=options.ledger or None)


CRT591_DRIVER = DriverSpec(
    name="crt591",
    device_classes=frozenset({"card_reader"}),
    options=Crt591Options,
    factory=open_crt591,
    description="Creator CRT-591-M card issuer with IC contacts (serial, USB bulk)",
    transports=frozenset({"serial", "memory", "usb"}),
    # A CRT-591 always has its stacker and reject bin (both capacities are >= 1).
    capabilities={"card_reader": frozenset({"issue", "chip", "motor", "retain", "taken_sensor"})},
    masker=Crt591Masker,
)
"""The ``crt591`` driver, registered through the ``tellerhal.drivers`` entry point."""
