"""What the Creator motorised-reader drivers (``crt310``, ``crt591``) share.

Both readers report nothing by themselves: the driver polls status. Shared here:

- `check_common_options`: the validation of the options both drivers have (the poll
  interval, retries, the link's timeouts, the take timeout);
- `CreatorDriver`: the state and the plumbing around the protocol: the listener and the
  last status reported, ``get_status`` (``noDevice`` without a port, ``offline`` when
  the reader is mute), the events, a lost port, and the watcher that polls status while
  a card waits at the front (CRT-310) or the gate (CRT-591) until the customer takes it,
  capturing it after ``take_timeout`` seconds where the driver may; shutting the entry
  after a cancelled wait for a card, reporting a card that got in meanwhile;
- the ledger around the watcher's capture: `CreatorDriver._capture_ticket` journals it
  (`hal.devices.card_reader.begin_capture`) before the command goes, and a bin the
  ledger counts full, or a ledger that cannot write, keeps the card at the exit;
  `CreatorDriver._capture_failed` settles a capture that raised: ``False`` when the
  device refused it (a negative reply), ``None`` when nobody can tell (no reply, a lost
  port, a garbled reply, a cancel). After an unknown outcome the card's disappearance
  is no `MediaRemoved` (it may be in the bin: the ledger holds an unknown capture).

What each reader's commands are, what its status bytes mean and how it captures stay in
`drivers.card_reader.crt310` and `drivers.card_reader.crt591`.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar, Protocol, TypeVar

from drivers.card_reader.creator_link import CreatorLink
from hal.device import BackendListener, DeviceState
from hal.devices.card_reader import (
    CaptureTicket,
    CardReaderCapabilities,
    CardReaderStatus,
    ChipPower,
    ChipPowerAction,
    MediaInserted,
    MediaRemoved,
    MediaStatus,
    ReaderType,
    Track,
    begin_capture,
)
from hal.errors import (
    ConfigurationError,
    ConnectionLost,
    DeviceNotReady,
    HalError,
    HalTimeout,
    LedgerError,
    ProtocolError,
    RetainBinFull,
    TransportError,
)
from hal.events import Event

__all__ = ["NO_DEVICE", "OFFLINE", "CommonOptions", "CreatorDriver", "check_common_options"]

log = logging.getLogger(__name__)

T = TypeVar("T")

_RETRY_PAUSE = 0.1  # the watcher's least pause after a failed poll (a port gone)

#: The status while the port is gone.
NO_DEVICE = CardReaderStatus(
    device=DeviceState.NO_DEVICE, media=MediaStatus.UNKNOWN, chip_power=ChipPower.UNKNOWN
)
#: The status while the reader does not answer.
OFFLINE = CardReaderStatus(
    device=DeviceState.OFFLINE, media=MediaStatus.UNKNOWN, chip_power=ChipPower.UNKNOWN
)


class CommonOptions(Protocol):
    """The options every Creator driver has."""

    @property
    def poll_interval(self) -> float: ...

    @property
    def retries(self) -> int: ...

    @property
    def ack_timeout(self) -> float: ...

    @property
    def reply_timeout(self) -> float: ...

    @property
    def take_timeout(self) -> float | None: ...


def check_common_options(options: CommonOptions) -> None:
    """Validate the options every Creator driver has.

    Raises:
        ConfigurationError: a value out of range.
    """
    poll = options.poll_interval
    if not (math.isfinite(poll) and poll >= 0):
        raise ConfigurationError(f"poll_interval must be >= 0 s, got {poll}")
    if not 0 <= options.retries <= 10:
        raise ConfigurationError(f"retries must be 0 to 10, got {options.retries}")
    for key in ("ack_timeout", "reply_timeout"):
        value = getattr(options, key)
        if not (math.isfinite(value) and value > 0):
            raise ConfigurationError(f"{key} must be > 0 s, got {value}")
    take = options.take_timeout
    if take is not None and not (math.isfinite(take) and take > 0):
        raise ConfigurationError(f"take_timeout must be > 0 s or empty, got {take}")


class CreatorDriver:
    """The shared state and plumbing of a Creator reader's driver (see the module header).

    A subclass sets ``link`` (a `drivers.card_reader.creator_link.CreatorLink` whose
    ``on_lost`` is ``_port_lost``) and provides `_status`, `_status_of` and
    `_capture_left_card`; ``_place`` names where a presented card waits, ``_party`` what
    messages call the reader.
    """

    _place: ClassVar[str] = "exit"
    _party: ClassVar[str] = "reader"
    link: CreatorLink

    def __init__(self, options: CommonOptions, name: str) -> None:
        self.name = name
        self._poll_interval = options.poll_interval
        self._take_timeout = options.take_timeout
        self._listener: BackendListener[CardReaderStatus] | None = None
        self._last: CardReaderStatus | None = None
        self._chip: str | None = None  # "T0"/"T1" after a reset, until power goes
        self._presented = False  # a card we put at the front or gate, not yet taken
        self._presented_at = 0.0
        # The watcher's capture of the presented card has an unknown outcome: its
        # disappearance is not the customer taking it.
        self._in_doubt = False
        # That capture's ledger entry, settled by the next status that says where the
        # card is: still at the front, gate or inside (not captured), or gone (unknown).
        self._doubt: CaptureTicket | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._firmware = ""  # the version string the reader answers

    # --- what each reader decides --------------------------------------------------------

    async def _status(self) -> Any:
        """Ask the status (and observe it); the protocol's status reply."""
        raise NotImplementedError

    def _status_of(self, reply: Any) -> CardReaderStatus:
        """The HAL status a status reply means."""
        raise NotImplementedError

    def _inside(self, reply: Any) -> bool:
        """Whether a status reply says a card is inside."""
        raise NotImplementedError

    async def _shut_entry(self) -> None:
        """Take no more cards in."""
        raise NotImplementedError

    def _may_capture(self) -> bool:
        """Whether a card left past ``take_timeout`` is captured (a bin exists)."""
        return True

    async def _capture_left_card(self) -> None:
        """Capture the card the customer left at the front or gate."""
        raise NotImplementedError

    # --- shared ----------------------------------------------------------------------------

    async def _open_link(
        self,
        listener: BackendListener[CardReaderStatus],
        first: Callable[[], Awaitable[T | None]],
    ) -> T | None:
        """Open the port and run the ``first`` exchange: ``None`` if the reader does not
        answer (the device stays open and ``offline``: its port must be there); any other
        failure closes the port again."""
        self._listener = listener
        await self.link.open()
        try:
            return await first()
        except HalTimeout as exc:
            log.warning("%s: the %s does not answer (offline): %s", self.name, self._party, exc)
            self._report(OFFLINE)
            return None
        except BaseException:
            await self.link.close()
            raise

    async def close(self) -> None:
        """Stop watching the front or gate and close the port."""
        watcher, self._watcher = self._watcher, None
        if watcher is not None:
            watcher.cancel()
            await asyncio.gather(watcher, return_exceptions=True)
        self._presented = False
        self._settle_doubt(card_still_here=None)
        await self.link.close()

    def _motor_capabilities(
        self, read_tracks: frozenset[Track], retain_capacity: int, dispense_capacity: int = 0
    ) -> CardReaderCapabilities:
        """A motorised Creator reader: exit and transport positions, a taken sensor (the
        status polls), the chip at T=0 and T=1 with every power action; no track writing."""
        return CardReaderCapabilities(
            type=ReaderType.MOTOR,
            read_tracks=read_tracks,
            write_tracks=frozenset(),
            chip_protocols=frozenset({"T0", "T1"}),
            retain_capacity=retain_capacity,
            exit_position=True,
            transport_position=True,
            card_taken_sensor=True,
            chip_power_actions=frozenset(ChipPowerAction),
            dispense_capacity=dispense_capacity,
            firmware=self._firmware,
        )

    async def _abandon_entry(self) -> None:
        """Shut the entry after a cancel; a card that got in stays in and is reported."""
        try:
            await self._shut_entry()
            if self._inside(await self._status()):
                self._emit(MediaInserted())
        except HalError as exc:
            log.warning("%s: could not shut the entry after a cancel: %s", self.name, exc)

    async def get_status(self) -> CardReaderStatus:
        """The reader's status: ``noDevice`` without a port, ``offline`` if it is mute."""
        try:
            reply = await self._status()
        except ConnectionLost:
            return NO_DEVICE
        except HalTimeout as exc:
            log.warning("%s: no status: %s", self.name, exc)
            self._report(OFFLINE)
            return OFFLINE
        return self._status_of(reply)

    def _report(self, status: CardReaderStatus) -> None:
        if status != self._last:
            self._last = status
            if self._listener is not None:
                self._listener.status_changed(status)

    def _emit(self, event: Event) -> None:
        if self._listener is not None:
            self._listener.event(event)

    def _port_lost(self) -> None:
        self._chip = None
        self._report(NO_DEVICE)

    def _present(self) -> None:
        """A card waits at the front or gate: watch for the customer taking it."""
        self._presented = True
        self._in_doubt = False
        loop = asyncio.get_running_loop()
        self._presented_at = loop.time()
        if self._watcher is None or self._watcher.done():
            self._watcher = loop.create_task(
                self._watch(), name=f"{self.name} {self._place} watcher"
            )

    def _left_place(self, *, no_card: bool) -> None:
        """The presented card is no longer at the front or gate (a status saw it)."""
        self._presented = False
        in_doubt, self._in_doubt = self._in_doubt, False
        if not no_card:
            return
        if in_doubt:
            log.warning(
                "%s: the card is gone from the %s after a capture of unknown outcome: "
                "not reported as taken (it may be in the bin)",
                self.name,
                self._place,
            )
            return
        self._emit(MediaRemoved())

    # --- the watcher's capture, in the ledger -------------------------------------------

    def _capture_ticket(self) -> CaptureTicket | None:
        """Journal the capture about to be sent; ``None``: the card must stay where it is
        (the ledger counts the bin full, cannot write, or no service is open)."""
        try:
            return begin_capture(self._listener, "exit")
        except (RetainBinFull, LedgerError, DeviceNotReady) as exc:
            log.warning("%s: the card left at the %s stays there: %s", self.name, self._place, exc)
            self._presented_at = math.inf  # no further attempt; keep watching for the take
            return None

    def _capture_failed(self, ticket: CaptureTicket, exc: BaseException) -> None:
        """Settle a capture whose command raised ``exc`` (the card still presented).

        A negative reply is the device saying it did not move the card (``False``);
        anything else (no reply, a lost port, a garbled reply, a cancel) leaves the
        outcome in doubt until the next status says where the card is (see
        `_settle_doubt`); meanwhile the card's disappearance is not reported as taken.
        """
        refused = isinstance(exc, HalError) and not isinstance(exc, (TransportError, ProtocolError))
        self._presented = True
        self._presented_at = math.inf
        if refused:
            ticket.settle(False)
            log.warning("%s: the unit refused to capture the card: %s", self.name, exc)
            return
        self._in_doubt = True
        self._doubt = ticket  # the next status that tells where the card is settles it
        log.warning(
            "%s: the capture of the card left at the %s has an unknown outcome: %r",
            self.name,
            self._place,
            exc,
        )

    def _settle_doubt(self, card_still_here: bool | None) -> None:
        """Settle a capture of unknown outcome from a status: the card still at the
        front, gate or inside was not captured (and its later take is reported); a card
        gone is unknown (captured, or taken: its disappearance is not reported as taken);
        ``None`` (closing, no status) leaves it unknown."""
        ticket, self._doubt = self._doubt, None
        if ticket is None:
            return
        if card_still_here:
            ticket.settle(False)
            self._in_doubt = False
            log.info("%s: the card is still in the reader: the capture did not happen", self.name)
        else:
            ticket.settle(None)

    async def _watch(self) -> None:
        loop = asyncio.get_running_loop()
        take = self._take_timeout
        while self._presented:
            await asyncio.sleep(self._poll_interval)
            try:
                if self._presented:
                    await self._status()
                due = take is not None and loop.time() - self._presented_at >= take
                if self._presented and due and self._may_capture():
                    await self._capture_left_card()
            except HalError as exc:
                log.debug("%s: %s watcher: %s", self.name, self._place, exc)
                await asyncio.sleep(max(self._poll_interval, _RETRY_PAUSE))
