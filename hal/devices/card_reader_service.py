"""`CardReaderService`: the one implementation of `CardReader` over a backend.

The service is the only place that validates arguments against capabilities, queues
commands, applies timeouts and cancellation, stamps events, journals captures to the
ledger and keeps secrets out of messages. Backends (drivers, simulator models) only
drive the device.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from hal.device import DeviceState
from hal.devices.card_reader import (
    DISPENSE_UNIT,
    CaptureTicket,
    CardAction,
    CardReader,
    CardReaderBackend,
    CardReaderCapabilities,
    CardReaderStatus,
    CardStacker,
    ChipPowerAction,
    MediaStatus,
    MoveTarget,
    ReadResult,
    ReplenishmentStatus,
    ResetAction,
    RetainBin,
    StorageError,
    Track,
)
from hal.devices.card_stacker import CARD, READER, STACKER, StackerBook, card_in_reader
from hal.devices.retain_bin import RETAIN, RetainBook
from hal.errors import (
    ChipPowerNotSupported,
    DeviceNotReady,
    InvalidData,
    LedgerError,
    MediaJam,
    NoMedia,
    Occupied,
    SequenceError,
    UnsupportedOperation,
)
from hal.events import Event
from hal.ledger import Ledger, Movement, Outcome
from hal.ledger_service import LedgerService
from protocols.tracks import content_problem

__all__ = ["CardReaderService"]

log = logging.getLogger(__name__)


_TRACK_NUMBER = {Track.TRACK1: 1, Track.TRACK2: 2, Track.TRACK3: 3}
_MAX_APDU = 4 + 3 + 65535 + 2  # case 4E: header, 00 Lc1 Lc2, data, Le1 Le2


class CardReaderService(LedgerService[CardReaderStatus, CardReaderCapabilities], CardReader):
    """`CardReader` over any `CardReaderBackend`.

    Args:
        backend: the driver or simulator model.
        name: the device's name (``card_reader``); also its name in the ledger.
        ledger: where captures are journalled: an open `Ledger`, or the path of one to
            open (and close) with the device, in the thread that opens the device; an
            in-memory ledger if ``None`` (counts then die with the process: give a file
            for a real kiosk).
        max_queue: commands queued or running before ``TooManyRequests``.
        close_timeout: seconds `close` waits for cancelled commands to settle with the
            device before it closes the backend under them (a command stuck on a frozen
            device must not keep the device open for ever).
    """

    def __init__(
        self,
        backend: CardReaderBackend,
        *,
        name: str = "card_reader",
        ledger: Ledger | str | os.PathLike[str] | None = None,
        max_queue: int = 16,
        close_timeout: float = 30.0,
    ) -> None:
        super().__init__(
            name,
            backend=backend,
            ledger=ledger,
            max_queue=max_queue,
            close_timeout=close_timeout,
        )
        self._backend = backend
        self._caps: CardReaderCapabilities | None = None
        self._retain_book: RetainBook | None = None
        self._stacker_book: StackerBook | None = None

    @property
    def _ledger(self) -> Ledger:
        return self.ledger

    # --- lifecycle ---------------------------------------------------------------------

    async def _start(self) -> None:
        """Define the ledger locations and reconcile, once the backend is open."""
        caps = self._backend.capabilities()
        self._caps = caps
        # A card in the reader is still its customer's: the reader is not a counted
        # position, only the bins the bank keeps cards in are.
        self._ledger.define_location(self.name, READER, kind="customer", item=CARD)
        # A fresh book each open: another process may have written since we last looked.
        self._retain_book = RetainBook(self._ledger, self.name, caps.retain_capacity)
        self._stacker_book = None
        if caps.dispense_capacity:
            self._stacker_book = StackerBook(self._ledger, self.name, caps.dispense_capacity)
        self._opened = True
        status = await self._fetch_status()
        self._last_status = status
        self._reconcile(status)

    def _forget_ledger(self) -> None:
        # The books hold the ledger: new ones are made at the next open.
        self._retain_book = None
        self._stacker_book = None

    def _reconcile(self, status: CardReaderStatus) -> None:
        """Settle captures and issues a crash left pending, from what the reader reports."""

        def resolve(movement: Movement) -> Outcome | tuple[Outcome, int]:
            if movement.source == STACKER:
                return StackerBook.resolve_pending(status.media)
            return RetainBook.resolve_pending(status.media)

        self._settle_pending(resolve, self._retain_books().invalidate)

    # --- queries (no queue) ------------------------------------------------------------

    async def capabilities(self) -> CardReaderCapabilities:
        self._require_open()
        return self._capabilities()

    def _capabilities(self) -> CardReaderCapabilities:
        assert self._caps is not None  # set by open(), checked by _require_open()
        return self._caps

    async def _fetch_status(self) -> CardReaderStatus:
        status = await self._backend.get_status()
        return dataclasses.replace(status, retain_bin=self._retain_status())

    async def retain_bin(self) -> RetainBin:
        self._require_open()
        return self._retain_books().counts()

    def _retain_books(self) -> RetainBook:
        assert self._retain_book is not None  # made by open(), checked by _require_open()
        return self._retain_book

    def _retain_status(self) -> ReplenishmentStatus:
        book = self._retain_book
        return book.status() if book is not None else ReplenishmentStatus.OK

    async def empty_retain_bin(self, *, reason: str = "") -> None:
        self._require_open()
        if not self._capabilities().retain_capacity:
            raise UnsupportedOperation(f"{self.name} has no retain bin")
        self._retain_books().empty(reason)
        await self._refresh()

    # --- BackendListener ---------------------------------------------------------------

    def capture_starting(self, source: str) -> CaptureTicket:
        """A driver is about to capture a card by itself: journal it first.

        See `hal.devices.card_reader.begin_capture`.

        Raises:
            DeviceNotReady: the service is not open.
            RetainBinFull: the ledger counts the bin full.
            LedgerError: the ledger cannot take the entry (the card must not move).
        """
        if not self._opened:
            raise DeviceNotReady(f"{self.name} is not open")
        return self._retain_books().ticket(source)

    def event(self, event: Event) -> None:
        if isinstance(event, CardAction) and event.to == RETAIN and self._opened:
            self._retain_books().device_captured(event.source)
        super().event(event)

    # --- commands ----------------------------------------------------------------------

    async def read_raw_data(
        self, tracks: Iterable[Track], *, timeout: float | None = None
    ) -> ReadResult:
        self._require_open()
        sources = frozenset(Track(t) for t in tracks)
        if not sources:
            raise InvalidData("read_raw_data needs at least one source; none was given")
        supported = self._capabilities().read_tracks
        if not sources <= supported:
            raise InvalidData(
                f"{self.name} cannot read {_names(sources - supported)}; "
                f"it reads {_names(supported)}"
            )

        async def op(command_id: int) -> ReadResult:
            status = await self._backend.get_status()
            if status.media == MediaStatus.JAMMED:
                raise MediaJam(f"{self.name}: a card is jammed; reset the reader first")
            if status.media != MediaStatus.PRESENT:
                await self._backend.accept_card(sources)
                self._report_status(await self._backend.get_status())
            return await self._backend.read_card(sources)

        return await self._command("ReadRawData", op, timeout=timeout)

    async def write_raw_data(
        self, data: Mapping[Track, bytes], *, timeout: float | None = None
    ) -> None:
        self._require_open()
        writable = self._capabilities().write_tracks
        if not writable:
            raise UnsupportedOperation(f"{self.name} cannot write tracks")
        if not data:
            raise InvalidData("write_raw_data needs at least one track; none was given")
        for track, chars in data.items():
            track = Track(track)
            if track not in writable:
                raise InvalidData(
                    f"{self.name} cannot write {track.value}; it writes {_names(writable)}"
                )
            # The backend writes the sentinels and LRC: the data is what goes between.
            problem = content_problem(_TRACK_NUMBER[track], chars)
            if problem:
                raise InvalidData(f"cannot write {track.value}: {problem}")

        async def op(command_id: int) -> None:
            await self._backend.write_tracks({Track(t): bytes(v) for t, v in data.items()})

        await self._command("WriteRawData", op, timeout=timeout)

    async def move(
        self, to: MoveTarget, *, from_unit: str | None = None, timeout: float | None = None
    ) -> None:
        self._require_open()
        to = MoveTarget(to)
        if from_unit is not None:
            await self._dispense(to, from_unit, timeout)
            return
        caps = self._capabilities()
        if to is MoveTarget.TRANSPORT and not caps.transport_position:
            raise UnsupportedOperation(f"{self.name} has no transport position")
        if to is MoveTarget.EXIT and not caps.exit_position:
            raise UnsupportedOperation(f"{self.name} has no exit position")
        if to is MoveTarget.RETAIN and not caps.retain_capacity:
            raise UnsupportedOperation(f"{self.name} has no retain bin")

        async def op(command_id: int) -> None:
            if to is MoveTarget.RETAIN:

                async def act() -> bool:
                    await self._backend.move_card(to)
                    return True

                await self._capture(command_id, "move to retain", act)
            else:
                await self._queue.uncancellable(self._backend.move_card(to))
            self._report_status(await self._backend.get_status())

        await self._command("Move", op, timeout=timeout)

    async def _dispense(self, to: MoveTarget, unit: str, timeout: float | None) -> None:
        """Issue a card from the stacker: journal, let the device pick it, settle."""
        book = self._stacker_book
        if book is None:
            raise UnsupportedOperation(f"{self.name} issues no cards: it has no card stacker")
        if unit != DISPENSE_UNIT:
            raise InvalidData(
                f"{self.name} dispenses from the unit {DISPENSE_UNIT!r}, not {unit!r}"
            )
        if to is MoveTarget.RETAIN:
            raise InvalidData(f"{self.name}: a new card goes to the transport or the exit")
        if to is MoveTarget.EXIT and not self._capabilities().exit_position:
            raise UnsupportedOperation(f"{self.name} has no exit position")

        async def op(command_id: int) -> None:
            status = await self._backend.get_status()
            if card_in_reader(status.media):
                raise Occupied(f"{self.name}: a card is already in the reader")
            if (
                status.device is not DeviceState.ONLINE
                or status.media is not MediaStatus.NOT_PRESENT
            ):
                # A failure could not then be told from a card picked: refuse first.
                raise DeviceNotReady(
                    f"{self.name} is {status.device.value} with media {status.media.value}; "
                    "a card is issued only from an online reader that shows no card"
                )
            if book.count() <= 0:
                self.event(StorageError(failure="empty", unit=DISPENSE_UNIT))
                raise NoMedia(
                    f"{self.name}: the ledger counts no card in the stacker; count the cards "
                    "and record them with load_stacker()"
                )
            movement = book.journal(command_id, to.value)
            # Pick and settle are one step: a cancel waits for both.
            await self._queue.uncancellable(self._dispense_and_settle(book, movement.id, to))
            self._report_status(await self._backend.get_status())

        await self._command("Move", op, timeout=timeout)

    async def _dispense_and_settle(
        self, book: StackerBook, movement_id: int, to: MoveTarget
    ) -> None:
        try:
            await self._backend.dispense_card(to)
        except Exception as exc:
            after: CardReaderStatus | None = None
            if self._opened:  # a device closed under the command is not asked again
                try:
                    after = await self._backend.get_status()
                except Exception:
                    after = None
            self._late_safe(book.settle_after_failure, movement_id, exc, after)
            if isinstance(exc, NoMedia):
                self.event(StorageError(failure="empty", unit=DISPENSE_UNIT))
                log.warning(
                    "%s: the device found the stacker empty while the ledger counts %d cards",
                    self.name,
                    book.count(),
                )
            raise
        self._late_safe(book.settle_done, movement_id)

    async def stacker(self) -> CardStacker:
        self._require_open()
        book = self._stacker_book
        if book is None:
            raise UnsupportedOperation(f"{self.name} issues no cards: it has no card stacker")
        return book.counts(
            self._last_status.stacker if self._last_status else ReplenishmentStatus.OK
        )

    async def load_stacker(self, count: int, *, reason: str = "") -> None:
        self._require_open()
        book = self._stacker_book
        if book is None:
            raise UnsupportedOperation(f"{self.name} issues no cards: it has no card stacker")
        book.load(count, reason)
        await self._refresh()

    async def chip_power(self, action: ChipPowerAction, *, timeout: float | None = None) -> bytes:
        self._require_open()
        action = ChipPowerAction(action)
        caps = self._capabilities()
        if not caps.chip_protocols:
            raise UnsupportedOperation(f"{self.name} has no chip contacts")
        if action not in caps.chip_power_actions:
            raise ChipPowerNotSupported(f"{self.name} cannot do a {action.value} chip power")

        async def op(command_id: int) -> bytes:
            atr = await self._backend.chip_power(action)
            self._report_status(await self._backend.get_status())
            return atr

        return await self._command("ChipPower", op, timeout=timeout)

    async def chip_io(self, apdu: bytes, *, timeout: float | None = None) -> bytes:
        self._require_open()
        if not self._capabilities().chip_protocols:
            raise UnsupportedOperation(f"{self.name} has no chip contacts")
        apdu = bytes(apdu)
        if not 4 <= len(apdu) <= _MAX_APDU:
            raise InvalidData(
                f"a command APDU is 4 to {_MAX_APDU} bytes long, got {len(apdu)} bytes"
            )

        async def op(command_id: int) -> bytes:
            return await self._backend.chip_io(apdu)

        return await self._command("ChipIO", op, timeout=timeout)

    async def reset(
        self, to: ResetAction = ResetAction.AUTO, *, timeout: float | None = None
    ) -> None:
        self._require_open()
        to = ResetAction(to)
        if to is ResetAction.RETAIN and not self._capabilities().retain_capacity:
            raise UnsupportedOperation(f"{self.name} has no retain bin")

        async def op(command_id: int) -> None:
            status = await self._backend.get_status()
            card_inside = status.media in (MediaStatus.PRESENT, MediaStatus.JAMMED)
            capacity = self._capabilities().retain_capacity
            action = to
            if to is ResetAction.AUTO and capacity and self._retain_books().count() >= capacity:
                action = ResetAction.EXIT  # auto may not capture into a full bin: eject
            may_retain = action in (ResetAction.RETAIN, ResetAction.AUTO) and bool(capacity)
            if card_inside and may_retain:

                async def act() -> bool:
                    return await self._backend.reset(action) == MoveTarget.RETAIN

                await self._capture(command_id, f"reset to {action.value}", act)
            else:
                await self._queue.uncancellable(self._backend.reset(action))
            self._report_status(await self._backend.get_status())

        await self._command("Reset", op, timeout=timeout)

    async def _capture(
        self, command_id: int, reason: str, act: Callable[[], Awaitable[bool]]
    ) -> None:
        """Journal a capture, let the device act, and settle the journal entry.

        ``act`` drives the device and says whether the card ended in the retain bin.
        """
        book = self._retain_books()
        book.check_room()
        movement = book.journal(reason, command_id)
        # The device's action and its settlement are one step: a cancel waits for both,
        # so it can never leave a capture that happened pending (and uncounted).
        await self._queue.uncancellable(self._act_and_settle(book, movement.id, act))

    async def _act_and_settle(
        self, book: RetainBook, movement_id: int, act: Callable[[], Awaitable[bool]]
    ) -> None:
        try:
            captured = await act()
        except Exception as exc:
            after = await self._captured_after_failure()
            self._late_safe(book.settle, movement_id, after, type(exc).__name__)
            raise
        detail = "" if captured else "the card was not captured"
        self._late_safe(book.settle, movement_id, captured, detail)

    def _late_safe(self, settle: Callable[..., None], *args: Any) -> None:
        """Settle a movement; after a close that did not wait for it (a frozen device),
        a ledger that is closed, or a reconcile that got there first, leaves it to the
        journal's reconcile rather than raise into a command nobody awaits."""
        try:
            settle(*args)
        except (LedgerError, SequenceError) as exc:
            if self._opened:
                raise
            log.warning(
                "%s: a movement the close cut short is left to reconcile: %s", self.name, exc
            )

    async def _captured_after_failure(self) -> bool | None:
        """A failed capture moved nothing if the card is still inside; else who knows."""
        if not self._opened:  # closed under the command: the device is not asked again
            return None
        try:
            status = await self._backend.get_status()
        except Exception:
            log.warning("%s: no status after a failed capture; settled unknown", self.name)
            return None
        still_inside = status.media in (MediaStatus.PRESENT, MediaStatus.JAMMED)
        return False if still_inside else None

    def status_changed(self, status: CardReaderStatus) -> None:
        # The retain bin's fill state is the ledger's, whoever reports the status (the
        # backend's own view of its bin would make StatusChanged flip back and forth).
        super().status_changed(dataclasses.replace(status, retain_bin=self._retain_status()))

    def _report_status(self, status: CardReaderStatus) -> None:
        self.status_changed(status)

    async def _refresh(self) -> None:
        if self._opened:  # a command cut short by a close does not ask the device again
            self._report_status(await self._backend.get_status())


def _names(tracks: Iterable[Track]) -> str:
    return ", ".join(sorted(t.value for t in tracks)) or "nothing"
