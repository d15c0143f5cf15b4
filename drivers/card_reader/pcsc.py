"""The ``pcsc`` driver: a PC/SC chip-card dip reader, as a `CardReaderBackend`.

Address (entry point ``pcsc`` in group ``tellerhal.drivers``)::

    pcsc://READER[?share=exclusive&protocol=any&wait_slice=0.25&retry_interval=0.5
                  &ledger=/var/lib/kiosk/ledger.db]
    pcsc://Virtual%20PCD%2000%2000            (vsmartcard's first virtual reader)
    pcsc://?index=0                            (the first reader pcscd lists)

The reader (full PC/SC name or a unique prefix, percent-encoded), ``index``, ``share``,
``protocol`` and ``wait_slice`` are the transport's (`hal.transports.pcsc`, which
documents them); ``retry_interval`` (seconds between attempts to reach pcscd again
after it went away) and ``ledger`` are the driver's (`PcscDriverOptions`). The
transport may also be named: ``pcsc+pcsc://READER`` is the same reader.

A PC/SC reader of this kind is a **dip reader with chip contacts only**: the customer
pushes the card in and pulls it out; the host cannot hold, eject or capture it.
Capabilities: type ``dip``, ``read_tracks={chip}``, the chip protocols the
``protocol`` option allows, no retain bin, no exit or transport position, a card-taken
sensor (pcscd reports the card leaving), every chip power action; ``firmware`` is what
the reader's driver tells through ``SCardGetAttrib`` at open (`PcscReader.firmware`),
empty when it tells nothing (vpcd refuses the attributes).

How XFS4IoT card reader operations map to PC/SC:

- **the monitor**: a task waits on ``SCardGetStatusChange`` for the whole time the
  device is open. A card arriving is `MediaInserted` (status ``present``), a card
  leaving `MediaRemoved` (``notPresent``); pcscd's event counter tells a card pulled
  and pushed back between two looks. `get_status` asks pcscd afresh and goes through
  the same bookkeeping, so a status and the events always agree.
- **accept a card**: `InsertCard`, then wait for the monitor to see one (cancelling
  returns at once; a card pushed in meanwhile stays in and is reported). A card whose
  answer to reset is unusable (a mute card, a chipless card: pcscd shows it present
  with an ATR without a valid TS, and connecting fails with ``SCARD_E_PROTO_MISMATCH``
  or ``SCARD_W_UNRESPONSIVE_CARD``) gives `InvalidMediaEvent` and `InvalidMedia`; it
  stays in the slot until the customer pulls it out.
- **read**: ``chip`` only: connect (pcscd powers the card) and the ATR is the data.
- **chip power**: cold = connect and ``SCardReconnect(SCARD_UNPOWER_CARD)``, warm =
  ``SCardReconnect(SCARD_RESET_CARD)``, off = ``SCardDisconnect(SCARD_UNPOWER_CARD)``.
- **chip I/O**: ``SCardTransmit`` in the protocol agreed, the APDU as it is: a T=0
  ``61xx`` is returned to the caller, who sends GET RESPONSE, as with the crt310
  driver. Before a reset (or after the card left): `AtrNotObtained`.
- **reset**: powers the chip off; the card stays where it is (no motor).
- ``move``, ``write``, ``dispense``: `UnsupportedOperation`.

pcscd or the reader going away: commands raise `ConnectionLost`, the status is
``noDevice`` (media ``unknown``), and the monitor tries again every
``retry_interval`` seconds with a fresh PC/SC context. When pcscd is back the status
returns and a card found in the reader is reported as `MediaDetected`; no reopen by
the app. A read waiting for a card when pcscd goes away ends with `ConnectionLost`.
Any other failure of the monitor (the reader closed under the driver) is logged as a
warning once, then at debug level on each retry.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import NoReturn

from hal.address import DeviceAddress
from hal.device import BackendListener, DeviceState
from hal.devices.card_reader import (
    CardData,
    CardReaderCapabilities,
    CardReaderStatus,
    ChipPower,
    ChipPowerAction,
    DataStatus,
    InsertCard,
    InvalidMediaEvent,
    MediaDetected,
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
from hal.errors import (
    AtrNotObtained,
    ConfigurationError,
    ConnectionLost,
    HalError,
    InvalidMedia,
    NoMedia,
    UnsupportedOperation,
)
from hal.events import Event
from hal.registry import DriverSpec, make_transport
from hal.transports.pcsc import (
    Disposition,
    Init,
    PcscOptions,
    PcscReader,
    ReaderState,
    reader_from_address,
)

__all__ = ["PCSC_DRIVER", "PcscDriver", "PcscDriverOptions", "open_pcsc"]

log = logging.getLogger(__name__)

#: The status while pcscd or the reader is gone.
NO_DEVICE = CardReaderStatus(
    device=DeviceState.NO_DEVICE, media=MediaStatus.UNKNOWN, chip_power=ChipPower.UNKNOWN
)
#: Where `MediaDetected` says a card found in a dip reader is.
_INSIDE = "transport"


@dataclass(frozen=True)
class PcscDriverOptions(PcscOptions):
    """The options of a ``pcsc`` address: the transport's (`PcscOptions`) and these.

    Attributes:
        retry_interval: seconds between attempts to reach pcscd after it went away.
        ledger: the ledger file the service journals in; empty: in memory.

    Raises:
        ConfigurationError: a value out of range.
    """

    retry_interval: float = 0.5
    ledger: str = ""

    def __post_init__(self) -> None:
        super().__post_init__()
        if not (math.isfinite(self.retry_interval) and 0.01 <= self.retry_interval <= 60):
            raise ConfigurationError(
                f"retry_interval must be 0.01 to 60 s, got {self.retry_interval}"
            )


class PcscDriver:
    """A PC/SC dip reader behind a `PcscReader` (see the module header).

    Args:
        reader: the PC/SC reader (unopened).
        options: the driver's options.
        name: the device name, for messages.
    """

    def __init__(
        self,
        reader: PcscReader,
        options: PcscDriverOptions | None = None,
        *,
        name: str = "card_reader",
    ) -> None:
        self.reader = reader
        self.options = options if options is not None else PcscDriverOptions()
        self.name = name
        self._listener: BackendListener[CardReaderStatus] | None = None
        self._state: ReaderState | None = None  # None: pcscd or the reader is gone
        self._last: CardReaderStatus | None = None
        self._changed = asyncio.Event()
        self._monitor: asyncio.Task[None] | None = None
        self._firmware = ""  # what the reader's driver tells of its firmware
        self._failing = False  # the monitor's last look failed (and was logged)

    # --- lifecycle and queries -------------------------------------------------------

    async def open(self, listener: BackendListener[CardReaderStatus]) -> None:
        """Reach pcscd and the reader, report a card found, start the monitor.

        Raises:
            ConnectionLost: pcscd does not answer, or the reader is not there.
        """
        self._listener = listener
        await self.reader.open()
        try:
            state = await self.reader.state()
            self._firmware = await self._read_firmware()
        except BaseException:
            await self.reader.close()
            raise
        self._state = state
        if state.present:
            self._emit(MediaDetected(position=_INSIDE))
        self._report()
        self._monitor = asyncio.get_running_loop().create_task(
            self._watch(), name=f"{self.name} pcsc monitor"
        )

    async def _read_firmware(self) -> str:
        """The firmware the reader's driver tells (``SCardGetAttrib``); vpcd tells none."""
        try:
            return await self.reader.firmware()
        except ConnectionLost:
            raise
        except HalError as exc:
            log.info("%s: no firmware version from the reader: %s", self.name, exc)
            return ""

    async def close(self) -> None:
        """Stop the monitor, leave the card as it is, release the reader."""
        monitor, self._monitor = self._monitor, None
        if monitor is not None:
            monitor.cancel()
            await asyncio.gather(monitor, return_exceptions=True)
        await self.reader.close()
        self._listener = None

    def capabilities(self) -> CardReaderCapabilities:
        """A dip reader with chip contacts only, and a card-taken sensor."""
        protocols = {"any": {"T0", "T1"}, "T0": {"T0"}, "T1": {"T1"}}[self.options.protocol]
        return CardReaderCapabilities(
            type=ReaderType.DIP,
            read_tracks=frozenset({Track.CHIP}),
            write_tracks=frozenset(),
            chip_protocols=frozenset(protocols),
            retain_capacity=0,
            exit_position=False,
            transport_position=False,
            card_taken_sensor=True,
            chip_power_actions=frozenset(ChipPowerAction),
            dispense_capacity=0,
            firmware=self._firmware,
        )

    async def get_status(self) -> CardReaderStatus:
        """pcscd's view now (``noDevice`` while it or the reader is gone)."""
        try:
            self._observe(await self.reader.state())
        except ConnectionLost as exc:
            self._lost(exc)
        return self._status()

    # --- commands ----------------------------------------------------------------------

    async def accept_card(self, sources: frozenset[Track]) -> None:
        """InsertCard, then wait for a card; refuse one whose chip cannot be used."""
        state = await self._current()
        if not state.present:
            self._emit(InsertCard())
            while self._state is None or not self._state.present:
                if self._state is None:
                    raise ConnectionLost(f"{self.name}: pcscd or the reader went away")
                self._changed.clear()
                await self._changed.wait()
            state = self._state
        if not state.usable:
            self._refuse()

    def _refuse(self) -> NoReturn:
        self._emit(InvalidMediaEvent())
        raise InvalidMedia(
            f"{self.name}: the card in the slot gives no usable answer to reset "
            "(no chip, or a mute chip); the customer must take it back"
        )

    async def read_card(self, sources: frozenset[Track]) -> ReadResult:
        """``chip``: power the card (connect) and give its ATR."""
        found: dict[Track, CardData] = {}
        for source in sources:
            if source is not Track.CHIP:
                found[source] = CardData(DataStatus.SOURCE_NOT_SUPPORTED)
        if Track.CHIP in sources:
            state = await self._current()
            if not state.present:
                raise NoMedia(f"{self.name}: no card in the slot")
            if not state.usable:
                self._refuse()
            try:
                _, atr = await self.reader.connect()
            except InvalidMedia:
                self._refuse()
            found[Track.CHIP] = (
                CardData(DataStatus.OK, atr) if atr else CardData(DataStatus.MISSING)
            )
        self._report()
        return ReadResult(found)

    async def write_tracks(self, data: Mapping[Track, bytes]) -> None:
        """A chip-only reader writes no tracks."""
        raise UnsupportedOperation(f"{self.name}: a PC/SC chip reader cannot write tracks")

    async def move_card(self, to: MoveTarget) -> None:
        """A dip reader cannot move the card."""
        raise UnsupportedOperation(
            f"{self.name}: a PC/SC dip reader cannot move the card to {to.value}"
        )

    async def dispense_card(self, to: MoveTarget) -> None:
        """A dip reader issues no cards."""
        raise UnsupportedOperation(f"{self.name}: a PC/SC dip reader has no card stacker")

    async def chip_power(self, action: ChipPowerAction) -> bytes:
        """Cold reset (connect + power cycle), warm reset, or power off."""
        await self._reachable()
        try:
            if action is ChipPowerAction.OFF:
                await self.reader.disconnect(Disposition.UNPOWER)
                return b""
            if not self.reader.connected:
                await self.reader.connect()
            init = Init.UNPOWER if action is ChipPowerAction.COLD else Init.RESET
            _, atr = await self.reader.reconnect(init)
            return atr
        finally:
            self._report()

    async def chip_io(self, apdu: bytes) -> bytes:
        """One APDU, as it is, in the protocol agreed at the reset."""
        await self._reachable()
        if not self.reader.connected:
            raise AtrNotObtained(f"{self.name}: the chip is not powered; reset it first")
        try:
            return await self.reader.transmit(apdu)
        except NoMedia:
            self._report()
            raise

    async def reset(self, to: ResetAction) -> MoveTarget | None:
        """Power the chip off; a card in the slot stays there (no motor)."""
        await self.reader.disconnect(Disposition.UNPOWER)
        await self.get_status()
        return None

    # --- what pcscd tells ----------------------------------------------------------------

    async def _reachable(self) -> None:
        """Raise `ConnectionLost` while pcscd or the reader is gone (asking it again)."""
        if self._state is None:
            await self._current()

    async def _current(self) -> ReaderState:
        """The reader's state now, through the monitor's bookkeeping."""
        self._observe(await self.reader.state())
        assert self._state is not None
        return self._state

    async def _watch(self) -> None:
        """The monitor: follow the reader's state for as long as the device is open.

        A failure other than pcscd going away (the reader closed under the driver, a
        bad answer) is logged as a warning once, then at debug level on every retry
        until a look succeeds again.
        """
        while True:
            try:
                if self._state is None:
                    await asyncio.sleep(self.options.retry_interval)
                    self._observe(await self.reader.state())
                else:
                    self._observe(await self.reader.wait_change(self._state))
                self._failing = False
            except ConnectionLost as exc:
                self._failing = False
                self._lost(exc)
            except Exception as exc:  # the monitor must outlive a bad answer
                if self._failing:
                    log.debug("%s: watching the reader still fails: %s", self.name, exc)
                else:
                    log.warning(
                        "%s: watching the reader failed (retrying every %s s): %s",
                        self.name,
                        self.options.retry_interval,
                        exc,
                    )
                    self._failing = True
                await asyncio.sleep(self.options.retry_interval)

    def _observe(self, state: ReaderState) -> None:
        """A state pcscd reported: events for a card that came or went, the status."""
        old = self._state
        if old is None:  # pcscd (or the reader) is back
            log.info("%s: the PC/SC reader is back", self.name)
            self._state = state
            if state.present:
                self._emit(MediaDetected(position=_INSIDE))
        elif state.events < old.events and state.present == old.present:
            return  # an older answer than one already seen
        else:
            self._state = state
            same_card = state.events == old.events
            if old.present and (not state.present or not same_card):
                self._emit(MediaRemoved())
            arrived = state.present and (not old.present or not same_card)
            if arrived and state.usable:
                self._emit(MediaInserted())
        self._changed.set()
        self._report()

    def _lost(self, exc: ConnectionLost) -> None:
        if self._state is not None:
            log.warning("%s: %s", self.name, exc)
        self._state = None
        self._changed.set()
        self._report()

    def _status(self) -> CardReaderStatus:
        state = self._state
        if state is None:
            return NO_DEVICE
        if not state.present:
            return CardReaderStatus(media=MediaStatus.NOT_PRESENT, chip_power=ChipPower.NO_CARD)
        if not state.usable:
            chip = ChipPower.UNKNOWN
        elif self.reader.connected:
            chip = ChipPower.ONLINE
        else:
            chip = ChipPower.POWERED_OFF
        return CardReaderStatus(media=MediaStatus.PRESENT, chip_power=chip)

    def _report(self) -> None:
        status = self._status()
        if status != self._last:
            self._last = status
            if self._listener is not None:
                self._listener.status_changed(status)

    def _emit(self, event: Event) -> None:
        if self._listener is not None:
            self._listener.event(event)


def open_pcsc(address: DeviceAddress, options: PcscDriverOptions) -> CardReaderService:
    """Build the (unopened) card reader an address names (the registry factory)."""
    if address.transport is not None:
        reader = make_transport(address)
        if not isinstance(reader, PcscReader):
            raise ConfigurationError(f"{address.location}: the pcsc driver needs a PC/SC reader")
    else:
        reader = reader_from_address(address, options)
    driver = PcscDriver(reader, options)
    reader.label = driver.name
    return CardReaderService(driver, name=driver.name, ledger=options.ledger or None)


PCSC_DRIVER = DriverSpec(
    name="pcsc",
    device_classes=frozenset({"card_reader"}),
    options=PcscDriverOptions,
    factory=open_pcsc,
    description="a PC/SC chip-card dip reader through pcscd, e.g. pcsc://Virtual%20PCD%2000%2000",
    transports=frozenset({"pcsc"}),
    transport_optional=True,
    capabilities={"card_reader": frozenset({"chip", "taken_sensor"})},
)
"""The ``pcsc`` driver, registered through the ``tellerhal.drivers`` entry point."""
