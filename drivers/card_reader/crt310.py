"""The ``crt310`` driver: a Creator CRT-310 motorised card reader, as a `CardReaderBackend`.

Address (entry point ``crt310`` in group ``tellerhal.drivers``)::

    crt310+serial:///dev/ttyUSB0[?baud=9600&poll_interval=0.1&retries=3
                                 &ack_timeout=0.5&reply_timeout=5&take_timeout=30
                                 &retain_capacity=50&ledger=/var/lib/kiosk/ledger.db]
    spy+crt310+serial:///dev/ttyUSB0          (the traffic in the log, card data masked)
    crt310+memory://NAME                       (tests: a `hal.transports.memory` pair)

The serial options (``baud``...) are the transport's (`hal.transports.serial`); the
reader's own are `Crt310Options`. Link: 9600 8N1 by default; the exchange, retries,
resynchronisation and reconnection are `drivers.card_reader.crt310_link.Crt310Link`'s.

How XFS4IoT card reader operations become CRT-310 commands:

- **accept a card**: open the front entry (2F 33 31: any card, rear shut) and report
  `InsertCard`; then poll status (31 30) every ``poll_interval`` seconds, because the
  CRT-310 sends nothing unsolicited, until S1 says a card is inside (`MediaInserted`).
  A card back at the front with the entry shut was refused (`InvalidMediaEvent`,
  `InvalidMedia`); a long or short card is jammed (`MediaJam`). Cancelled, the driver
  shuts the entry (2F 31 31) and a card that got in meanwhile stays in, reported.
  At the default 0.1 s the insertion is seen within ~0.12 s, and a status exchange
  (19 bytes, ~20 ms at 9600 baud) keeps the line about a fifth busy while waiting.
- **read**: 45 30 30 with the selector of the tracks asked for; per track 59 is
  ``ok``, 4E E5 (blank) ``dataMissing``, other read errors ``dataInvalid``, 4F
  ``dataSourceMissing``. ``chip``: contacts on (33 30) and a cold reset (37 30), whose
  ATR is the data (no ATR: ``dataMissing``).
- **move**: exit is the front with the card held (32 31), transport the IC position
  inside (32 2F), retain a capture to the rear (32 33).
- **chip**: cold = 33 30 then 37 30, warm = 37 2F, off = 33 31. The reset's reply
  says the protocol (Y: T=0, Z: T=1); APDUs then go as 37 31 or 37 32.
- **reset**: 30 31 (eject: ``exit`` and ``auto``), 30 32 (capture: ``retain``), 30 30
  (``currentPosition``); where the card went is read from the status around it.
- **card taken**: after a move to the exit a watcher polls status; the card gone from
  the front is `MediaRemoved`. The CRT-310 has no take timer: a card still at the front
  after ``take_timeout`` seconds is captured (32 33) and reported as `CardAction`
  (exit to retain), if there is a retain bin (``retain_capacity`` > 0). The capture is
  journalled in the ledger before 32 33 goes (`hal.devices.card_reader.begin_capture`);
  a bin the ledger counts full keeps the card at the exit. A capture whose reply is lost
  settles unknown, and the card then missing from the exit is not `MediaRemoved`.

Replies become statuses and errors as `drivers.card_reader.crt310_codes` says. A port
that went away gives status ``noDevice`` and `ConnectionLost` from commands; the next
command or status reopens the port (the same path: a udev symlink, the simulator's pty
symlink), with no reopen by the app. A reader that does not answer is ``offline``.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass

from drivers.card_reader import crt310_codes as codes
from drivers.card_reader.creator_driver import CreatorDriver, check_common_options
from drivers.card_reader.creator_maskers import Crt310Masker
from drivers.card_reader.crt310_link import Crt310Link, shielded
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
    DeviceError,
    HalTimeout,
    HardwareError,
    InvalidData,
    InvalidMedia,
    MediaJam,
    ProtocolError,
    UnsupportedOperation,
)
from hal.registry import DriverSpec, make_transport
from hal.transports.base import Transport
from protocols.crt310 import (
    ApduReply,
    CardPosition,
    Command,
    CpuResetReply,
    EntryMode,
    ErrorReply,
    FrontEntry,
    OperationStatus,
    PlainReply,
    Reply,
    StatusReply,
    TrackMode,
    TrackReadReply,
    TrackSelector,
    build_apdu_command,
    build_command,
    build_entry_control,
    build_read_tracks,
)

__all__ = ["CRT310_DRIVER", "Crt310Driver", "Crt310Options", "open_crt310"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Crt310Options:
    """The options of a ``crt310`` address (the serial line's are the transport's).

    Attributes:
        poll_interval: seconds between status polls while waiting for a card or for
            the customer to take one (the CRT-310 reports nothing by itself).
        retries: sends of a command after the first, at a NAK or a missing ACK.
        ack_timeout: seconds for a command's ACK.
        reply_timeout: seconds for a reply (card movements included).
        take_timeout: seconds a card may wait at the exit before it is captured;
            empty: never.
        retain_capacity: cards the capture bin holds; 0: no bin (no capture offered).
        ledger: the ledger file captures are journalled in; empty: in memory.

    Raises:
        ConfigurationError: a value out of range.
    """

    poll_interval: float = 0.1
    retries: int = 3
    ack_timeout: float = 0.5
    reply_timeout: float = 5.0
    take_timeout: float | None = 30.0
    retain_capacity: int = 0
    ledger: str = ""

    def __post_init__(self) -> None:
        check_common_options(self)
        if self.retain_capacity < 0:
            raise ConfigurationError(f"retain_capacity must be >= 0, got {self.retain_capacity}")


class Crt310Driver(CreatorDriver):
    """A CRT-310 behind a `hal.transports.base.Transport` (see the module header).

    Args:
        transport: the link to the reader.
        options: timings, retries, the capture bin.
        name: the device name, for messages.
    """

    link: Crt310Link

    def __init__(
        self,
        transport: Transport,
        options: Crt310Options | None = None,
        *,
        name: str = "card_reader",
    ) -> None:
        self.options = options if options is not None else Crt310Options()
        super().__init__(self.options, name)
        self.link = Crt310Link(
            transport,
            name=name,
            retries=self.options.retries,
            ack_timeout=self.options.ack_timeout,
            reply_timeout=self.options.reply_timeout,
            on_lost=self._port_lost,
        )

    # --- lifecycle and queries -------------------------------------------------------

    async def open(self, listener: BackendListener[CardReaderStatus]) -> None:
        """Open the port and report a card found; a reader that does not answer yet
        leaves the device open and ``offline`` (its port must be there)."""
        reply = await self._open_link(listener, self._status)
        if reply is None:
            return
        where = codes.where_is(reply.position)
        if where:
            self._emit(MediaDetected(position=where))
        if reply.position is CardPosition.FRONT_HELD:  # ejected earlier, not yet taken
            self._present()
        await self._read_firmware()

    async def _read_firmware(self) -> None:
        """Learn the firmware version: Reset 30 30 answers it and moves no card."""
        try:
            reply = await self._simple(Command.RESET)
        except (HalTimeout, ProtocolError, DeviceError, HardwareError) as exc:
            log.info("%s: no firmware version from the reset: %s", self.name, exc)
            return
        if isinstance(reply, PlainReply):
            self._firmware = reply.data.decode("ascii", "replace").strip()

    def capabilities(self) -> CardReaderCapabilities:
        """Motorised; tracks 1-3 and the chip (T=0, T=1); no track writing."""
        return self._motor_capabilities(frozenset(Track), self.options.retain_capacity)

    # --- commands ----------------------------------------------------------------------

    async def accept_card(self, sources: frozenset[Track]) -> None:
        """Open the entry, report InsertCard and poll until a card is inside."""
        reply = await self._status()
        if reply.position in codes.ABNORMAL:
            raise MediaJam(f"{self.name}: an abnormal (jammed) card is in the reader")
        if reply.position in codes.INSIDE:
            return
        await self._set_entry(True)
        self._emit(InsertCard())
        try:
            while True:
                await asyncio.sleep(self.options.poll_interval)
                reply = await self._status()
                if reply.position in codes.INSIDE:
                    self._emit(MediaInserted())
                    if reply.front is not FrontEntry.PROHIBITED:
                        await self._set_entry(False)
                    return
                if reply.position in codes.ABNORMAL:
                    self._emit(MediaInserted())
                    raise MediaJam(f"{self.name}: the card jammed on its way in")
                shut = reply.front is FrontEntry.PROHIBITED
                if reply.position in codes.FRONT and shut:
                    self._emit(InvalidMediaEvent())
                    self._present()
                    raise InvalidMedia(f"{self.name}: the reader refused the card; it is returned")
                if shut:  # shut without a card (a reset, a power cycle): open it again
                    await self._set_entry(True)
        except asyncio.CancelledError:
            await shielded(self._abandon_entry())
            raise

    def _inside(self, reply: StatusReply) -> bool:
        return reply.position in codes.INSIDE

    async def _shut_entry(self) -> None:
        await self._set_entry(False)

    async def read_card(self, sources: frozenset[Track]) -> ReadResult:
        """Read the tracks asked for (45 30) and, for ``chip``, the ATR of a cold reset."""
        found: dict[Track, CardData] = {}
        numbers = [n for t, n in codes.TRACK_NUMBERS.items() if t in sources]
        if numbers:
            frame = build_read_tracks(TrackMode.ASCII, TrackSelector.for_tracks(numbers))
            reply = await self._command(frame, Command.READ_TRACKS)
            if not isinstance(reply, TrackReadReply):
                raise ProtocolError(f"{self.name}: the track read answered {reply!r}")
            for record in reply.tracks:
                found[Track(f"track{record.track}")] = codes.card_data(record)
        if Track.CHIP in sources:
            found[Track.CHIP] = await self._read_chip()
        return ReadResult({t: found[t] for t in codes.TRACK_ORDER if t in found})

    async def _read_chip(self) -> CardData:
        if await self._plain(Command.IC_POWER_ON) is not OperationStatus.SUCCESS:
            return CardData(DataStatus.SOURCE_MISSING)
        reply = await self._simple(Command.CPU_COLD_RESET)
        if not isinstance(reply, CpuResetReply) or not self._reset_ok(reply):
            return CardData(DataStatus.MISSING)
        return CardData(DataStatus.OK, reply.atr)

    async def write_tracks(self, data: Mapping[Track, bytes]) -> None:
        """The CRT-310 writes no tracks."""
        raise UnsupportedOperation(f"{self.name}: the CRT-310 cannot write tracks")

    async def move_card(self, to: MoveTarget) -> None:
        """Move the card: exit (front, held), transport (inside), retain (capture)."""
        status = await self._plain(codes.MOVES[to])
        self._chip = None
        codes.refuse(self.name, status, f"move the card to {to.value}")
        if to is MoveTarget.EXIT:
            self._present()
        else:
            self._presented = False

    async def dispense_card(self, to: MoveTarget) -> None:
        """A CRT-310 has no card stacker (``dispense_capacity`` 0: never asked)."""
        raise UnsupportedOperation(f"{self.name}: a CRT-310 issues no cards")

    async def chip_power(self, action: ChipPowerAction) -> bytes:
        """Cold reset (contacts on, 37 30), warm reset (37 2F) or power off (33 31)."""
        if action is ChipPowerAction.OFF:
            off = await self._plain(Command.IC_POWER_OFF)
            codes.refuse(self.name, off, "power the chip off")
            self._chip = None
            return b""
        cold = action is ChipPowerAction.COLD
        if cold:
            codes.refuse(self.name, await self._plain(Command.IC_POWER_ON), "power the chip")
        reply = await self._simple(Command.CPU_COLD_RESET if cold else Command.CPU_WARM_RESET)
        if not isinstance(reply, CpuResetReply):
            raise ProtocolError(f"{self.name}: the chip reset answered {reply!r}")
        if not self._reset_ok(reply):
            codes.refuse(self.name, reply.status, "reset the chip")
            raise AtrNotObtained(f"{self.name}: the chip gave no answer to reset")
        return reply.atr

    def _reset_ok(self, reply: CpuResetReply) -> bool:
        ok = {OperationStatus.SUCCESS: "T0", OperationStatus.SUCCESS_T1: "T1"}
        self._chip = ok.get(reply.status)
        return self._chip is not None

    async def chip_io(self, apdu: bytes) -> bytes:
        """One APDU, as 37 31 (T=0) or 37 32 (T=1) after the chip's reset."""
        if self._chip is None:
            raise AtrNotObtained(f"{self.name}: the chip is not powered; reset it first")
        if len(apdu) > codes.MAX_APDU:
            raise InvalidData(f"the CRT-310 carries APDUs of up to {codes.MAX_APDU} bytes")
        t1 = self._chip == "T1"
        command = Command.APDU_T1 if t1 else Command.APDU_T0
        reply = await self._command(build_apdu_command(apdu, t1=t1), command)
        if not isinstance(reply, ApduReply):
            raise ProtocolError(f"{self.name}: the APDU exchange answered {reply!r}")
        codes.refuse(self.name, reply.status, "exchange an APDU")
        if reply.status is not OperationStatus.SUCCESS:
            raise AtrNotObtained(f"{self.name}: the chip did not answer; reset it again")
        return reply.response

    async def reset(self, to: ResetAction) -> MoveTarget | None:
        """Reset; where a card that was inside went follows from the status after."""
        before = (await self._status()).position
        where = codes.where_is(before)
        if where:
            self._emit(MediaDetected(position=where))
        command = codes.RESETS[to]
        await self._simple(command)
        self._chip = None
        after = (await self._status()).position
        if before not in codes.INSIDE | codes.ABNORMAL:
            return None
        if after in codes.FRONT:
            self._present()
            return MoveTarget.EXIT
        if after is CardPosition.NO_CARD and command is Command.RESET_EJECT_REAR:
            return MoveTarget.RETAIN
        return None

    # --- the exchange and what it tells ----------------------------------------------

    async def _simple(self, command: Command) -> Reply:
        """A command without DATA."""
        return await self._command(build_command(command), command)

    async def _command(self, frame: bytes, request: Command) -> Reply:
        reply = await self.link.exchange(frame, request)
        if isinstance(reply, ErrorReply):
            raise codes.error_for(self.name, reply.code, request)
        return reply

    async def _plain(self, command: Command) -> OperationStatus:
        """A command without DATA whose reply is one P byte."""
        return codes.operation_status(self.name, await self._simple(command))

    async def _status(self) -> StatusReply:
        reply = await self._simple(Command.STATUS)
        if not isinstance(reply, StatusReply):
            raise ProtocolError(f"{self.name}: the status request answered {reply!r}")
        self._observe(reply)
        return reply

    def _observe(self, reply: StatusReply) -> None:
        """What a status reply tells: the chip's power, a card taken from the exit."""
        position = reply.position
        if position is not CardPosition.INSIDE_IC_ENGAGED:
            self._chip = None
        self._settle_doubt(card_still_here=position is not CardPosition.NO_CARD)
        if self._presented and position not in codes.FRONT:
            self._left_place(no_card=position is CardPosition.NO_CARD)
        self._report(self._status_of(reply))

    def _status_of(self, reply: StatusReply) -> CardReaderStatus:
        return codes.status_of(reply)

    async def _set_entry(self, open_: bool) -> None:
        mode = EntryMode.SWITCH if open_ else EntryMode.FRONT_PROHIBITED
        frame = build_entry_control(mode, rear_allowed=False)
        reply = await self._command(frame, Command.ENTRY_CONTROL)
        if isinstance(reply, PlainReply) and reply.succeeded is False:
            doing = "open" if open_ else "shut"
            raise HardwareError(f"{self.name}: the reader refused to {doing} its entry")

    # --- the exit watcher ------------------------------------------------------------

    def _may_capture(self) -> bool:
        return self.options.retain_capacity > 0

    async def _capture_left_card(self) -> None:
        ticket = self._capture_ticket()  # journalled before 32 33 goes
        if ticket is None:
            return  # the ledger refuses: the card stays at the exit
        try:
            status = await self._plain(Command.CAPTURE)
        except BaseException as exc:
            self._capture_failed(ticket, exc)
            raise
        ticket.settle(status is OperationStatus.SUCCESS)
        if status is OperationStatus.SUCCESS:
            self._presented = False
            self._chip = None
            self._emit(CardAction(source="exit", to="retain"))
            await self._status()
        elif status is not OperationStatus.NO_CARD:  # 'E': just taken; the poll sees it
            log.warning("%s: the card left at the exit could not be captured", self.name)
            self._presented_at = math.inf


def open_crt310(address: DeviceAddress, options: Crt310Options) -> CardReaderService:
    """Build the (unopened) card reader an address names (the registry factory)."""
    driver = Crt310Driver(make_transport(address), options)
    return CardReaderService(driver, name=driver.name, ledger=options.ledger or None)


CRT310_DRIVER = DriverSpec(
    name="crt310",
    device_classes=frozenset({"card_reader"}),
    options=Crt310Options,
    factory=open_crt310,
    description="Creator CRT-310 motorised IC/magnetic card reader (serial)",
    transports=frozenset({"serial", "memory", "usb"}),
    # The bin is optional (retain_capacity=0 by default): not promised.
    capabilities={"card_reader": frozenset({"tracks", "chip", "motor", "taken_sensor"})},
    masker=Crt310Masker,
)
"""The ``crt310`` driver, registered through the ``tellerhal.drivers`` entry point."""
