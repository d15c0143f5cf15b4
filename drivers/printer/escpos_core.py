"""The ``escpos`` driver's state and its reading of the printer (`drivers.printer.escpos`).

`EscPosCore` holds what `EscPosDriver` is built on: the line (`EscPosLink`), the options,
what it last reported, and the status machinery: DLE EOT 1-4 read into a `PrinterStatus`
and into why the printer stopped (`Stop`), the error a stop is, the ticket sensor of a
presenter (the Custom full status), GS I identification, the status poll, the line
opened again after it was lost, and the events and statuses it reports. The driver adds
the Printer operations (open, print, cut, eject, retract, reset).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from typing import TypeVar

from drivers.printer.escpos_link import EscPosLink
from drivers.printer.escpos_options import EscPosOptions
from hal.device import BackendListener, DeviceState
from hal.devices.printer import (
    MediaTaken,
    PaperStatus,
    PaperThreshold,
    PrinterStatus,
    PrintMediaStatus,
)
from hal.errors import (
    CoverOpen,
    HalError,
    HalTimeout,
    MediaJam,
    PaperOut,
    ProtocolError,
)
from hal.events import Event
from hal.transports.base import Transport
from protocols.escpos_status import (
    ErrorCause,
    OfflineCause,
    PrinterState,
    RollPaper,
    parse_full_status,
    parse_real_time,
)

__all__ = ["INIT", "EscPosCore", "Stop"]

# The driver's logger keeps its name (one logger for the printer's messages).
log = logging.getLogger("drivers.printer.escpos")

#: ESC @: initialise the printer.
INIT = b"\x1b\x40"
R = TypeVar("R", PrinterState, OfflineCause, ErrorCause, RollPaper)

_LEVELS = frozenset({PaperStatus.FULL, PaperStatus.LOW, PaperStatus.OUT})


@dataclasses.dataclass(frozen=True)
class Stop:
    """Why the printer stopped (from DLE EOT 2-4), or None fields when it did not."""

    cover_open: bool = False
    paper_out: bool = False
    jammed: bool = False
    offline: bool = False

    @property
    def stopped(self) -> bool:
        return self.cover_open or self.paper_out or self.jammed or self.offline


class EscPosCore:
    """The driver's state and status machinery (see the module docstring; the
    arguments are `EscPosDriver`'s)."""

    def __init__(
        self,
        transport: Transport,
        options: EscPosOptions | None = None,
        *,
        name: str = "receipt_printer",
    ) -> None:
        self.options = options if options is not None else EscPosOptions()
        self.name = name
        self.link = EscPosLink(transport, name=name, on_lost=self._lost)
        self._lock = asyncio.Lock()
        self._listener: BackendListener[PrinterStatus] | None = None
        self._poller: asyncio.Task[None] | None = None
        self._firmware = ""
        self._last: PrinterStatus | None = None
        self._level: PaperStatus | None = None
        self._ticket_out = False
        self._retracted = False
        self._device_lost = False

    # --- status ------------------------------------------------------------------------

    async def _real_time(self, n: int, kind: type[R]) -> R:
        byte = await self.link.real_time(n, self.options.reply_timeout, self.options.status_retries)
        status = parse_real_time(n, bytes((byte,)))
        if not isinstance(status, kind):  # pragma: no cover - parse_real_time's contract
            raise ProtocolError(f"DLE EOT {n} parsed as {type(status).__name__}")
        return status

    async def _stop_cause(self) -> Stop:
        """DLE EOT 1; when offline, 2 and 3 say why."""
        state = await self._real_time(1, PrinterState)
        if not state.offline:
            return Stop()
        cause = await self._real_time(2, OfflineCause)
        errors = await self._real_time(3, ErrorCause)
        return Stop(
            cover_open=cause.cover_open,
            paper_out=cause.paper_end_stop,
            jammed=errors.mechanical or errors.unrecoverable,
            offline=True,
        )

    async def _check_ready(self, total: int | None) -> None:
        stop = await self._stop_cause()
        if stop.stopped:
            self._publish(await self._read_status())
            raise self._stopped_error(stop, 0 if total is not None else None, total, 0)

    def _stopped_error(
        self, stop: Stop, printed: int | None, total: int | None, sent: int | None
    ) -> HalError:
        where = (
            f" after {printed} of {total} blocks, {sent} bytes sent"
            if total is not None
            else (f" after {sent} bytes" if sent is not None else "")
        )
        if stop.jammed:
            return MediaJam(f"{self.name}: the paper jammed{where}")
        if stop.cover_open:
            return CoverOpen(f"{self.name}: the cover is open{where}")
        if stop.paper_out:
            return PaperOut(
                f"{self.name}: the paper ran out{where}",
                printed_blocks=printed,
                total_blocks=total,
                bytes_sent=sent,
            )
        return HalTimeout(f"{self.name}: the printer went offline{where} (no cause given)")

    async def _read_status(self) -> PrinterStatus:
        state = await self._real_time(1, PrinterState)
        cause = await self._real_time(2, OfflineCause)
        errors = await self._real_time(3, ErrorCause)
        roll = await self._real_time(4, RollPaper)
        jammed = errors.mechanical or errors.unrecoverable
        if jammed:
            paper = PaperStatus.JAMMED
        elif roll.paper_end or cause.paper_end_stop:
            paper = PaperStatus.OUT
        elif roll.near_end and self.options.near_end_sensor:
            paper = PaperStatus.LOW
        else:
            paper = PaperStatus.FULL
        if jammed:
            device = DeviceState.HARDWARE_ERROR
        elif state.offline and not (cause.cover_open or cause.paper_end_stop):
            device = DeviceState.OFFLINE
        else:
            device = DeviceState.ONLINE
        media = PrintMediaStatus.NOT_PRESENT
        if self.options.presenter:
            ticket = await self._ticket()
            if ticket:
                media = PrintMediaStatus.PRESENT
            elif self._retracted:
                media = PrintMediaStatus.RETRACTED
        return PrinterStatus(device=device, media=media, paper=paper, cover_open=cause.cover_open)

    async def _ticket(self) -> bool:
        """The ticket sensor at the exit (Custom full status, byte 3 bit 5)."""
        if not self.options.presenter:
            return False
        raw = await self.link.full_status(self.options.reply_timeout)
        present = parse_full_status(raw).ticket_present
        if self._ticket_out and not present:
            self._ticket_out = False
            self._emit(MediaTaken())
        return present

    async def _ticket_becomes(self, present: bool, within: float | None = None) -> bool:
        """Whether the ticket sensor reads ``present`` within ``within`` seconds (the
        block timeout by default)."""
        deadline = time.monotonic() + (self.options.block_timeout if within is None else within)
        while time.monotonic() < deadline:
            raw = await self.link.full_status(self.options.reply_timeout)
            if parse_full_status(raw).ticket_present is present:
                return True
            await asyncio.sleep(min(0.05, self.options.status_interval))
        return False

    async def _identify(self) -> str:
        """GS I 67 (model name) and 65 (firmware version), if answered."""
        parts: list[str] = []
        for n in (67, 65):
            try:
                text = await self.link.identify(n, self.options.identify_timeout)
            except HalTimeout:
                log.info("%s: no answer to GS I %d; the printer is not identified", self.name, n)
                break
            parts.append(text.decode("ascii", "replace").strip())
        return " ".join(p for p in parts if p)

    async def _poll(self) -> None:
        interval = self.options.status_interval
        while True:
            await asyncio.sleep(interval)
            if self._lock.locked():
                continue
            try:
                async with self._lock:
                    await self._ensure_line()
                    self._publish(await self._read_status())
            except HalError as exc:
                if not self._device_lost:
                    log.warning("%s: status poll failed: %s", self.name, exc)

    async def _ensure_line(self) -> None:
        """After the line was lost (USB unplugged, the adapter gone), open it again
        (a replugged printer is found again) and initialise the printer.

        Raises:
            ConnectionLost: it is still not there.
        """
        if not self._device_lost:
            return
        await self.link.close()
        await self.link.open()
        self._device_lost = False
        await self.link.write(INIT)
        log.info("%s: the line to the printer is back", self.name)

    def _publish(self, status: PrinterStatus) -> None:
        if status != self._last:
            self._last = status
            if self._listener is not None:
                self._listener.status_changed(status)
        if status.paper in _LEVELS and status.paper != self._level:
            first = self._level is None
            self._level = status.paper
            if not first:
                self._emit(PaperThreshold(paper=status.paper))

    def _emit(self, event: Event) -> None:
        if self._listener is not None:
            self._listener.event(event)

    def _lost(self) -> None:
        self._device_lost = True
        log.warning("%s: the line to the printer was lost", self.name)
        self._publish(
            dataclasses.replace(
                self._last or PrinterStatus(),
                device=DeviceState.NO_DEVICE,
                media=PrintMediaStatus.UNKNOWN,
                paper=PaperStatus.UNKNOWN,
            )
        )
