"""The state of the simulated ID-document scanner (`simulator.models.id_scanner`).

`IdScannerCore` holds what `IdScannerModel` is built on: its options, the physical
ground truth (the document, where it is, the retain bin, the faults set), the status it
reports and how a document moves. The model adds what the world does to it and the
`IdScannerBackend` calls.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from enum import StrEnum

from hal.device import BackendListener, DeviceState
from hal.devices.id_scanner import (
    DocumentInserted,
    DocumentStatus,
    IdScannerStatus,
    ReplenishmentStatus,
)
from hal.errors import (
    ConfigurationError,
    DeviceNotReady,
    MediaJam,
    NoMedia,
    UnsupportedOperation,
)
from hal.events import Event, Notifier
from simulator.clock import SimClock, reply_delay, seeded_random
from simulator.id_images import image_formats
from simulator.id_profiles import DocumentProfile, Failure, Medium

__all__ = [
    "HELD",
    "ID_BUILDS",
    "SAM_ID",
    "DocumentPosition",
    "IdBuild",
    "IdScannerCore",
]

#: The synthetic security module id the chip builds report (the SDKs' display shape).
SAM_ID = "05.01-20240101-0000000001-0000000001"


class IdBuild(StrEnum):
    """How the simulated scanner is built."""

    KIOSK = "kiosk"
    CHIP = "chip"
    MRZ = "mrz"


#: The builds by name.
ID_BUILDS = frozenset(build.value for build in IdBuild)


class DocumentPosition(StrEnum):
    """Where the document physically is."""

    NONE = "none"
    PRESENTED = "presented"
    INSIDE = "inside"
    EXIT = "exit"
    CUSTOMER = "customer"
    RETAINED = "retained"
    JAMMED = "jammed"


#: Positions where a document is in or at the scanner (one at a time fits).
HELD = frozenset(
    {
        DocumentPosition.PRESENTED,
        DocumentPosition.INSIDE,
        DocumentPosition.EXIT,
        DocumentPosition.JAMMED,
    }
)


class _Document:
    """One physical document: its profile and where it is."""

    def __init__(self, profile: DocumentProfile) -> None:
        self.profile = profile
        self.position = DocumentPosition.NONE

    def __repr__(self) -> str:
        return f"_Document({self.profile.name!r}, {self.position.value!r})"


class IdScannerCore:
    """The scanner's options, ground truth and status (`IdScannerModel` is the device;
    its docstring lists the arguments)."""

    def __init__(
        self,
        *,
        name: str = "id_scanner",
        build: str = IdBuild.KIOSK,
        clock: SimClock | None = None,
        rng: random.Random | None = None,
        retain_capacity: int = 20,
        motion_time: float = 0.3,
        read_time: float = 0.5,
        poll_interval: float = 0.3,
    ) -> None:
        if build not in ID_BUILDS:
            raise ConfigurationError(
                f"id_profile {build!r} is not a scanner build; known: "
                f"{', '.join(sorted(ID_BUILDS))}"
            )
        if isinstance(retain_capacity, bool) or not isinstance(retain_capacity, int):
            raise ConfigurationError(f"retain_capacity is an integer, got {retain_capacity!r}")
        if retain_capacity < 0:
            raise ConfigurationError(f"retain_capacity must be >= 0, got {retain_capacity}")
        for what, value in (
            ("motion_time", motion_time),
            ("read_time", read_time),
            ("poll_interval", poll_interval),
        ):
            if not value >= 0:
                raise ConfigurationError(f"{what} must be >= 0, got {value}")
        self.name = name
        self.build = IdBuild(build)
        self.clock = clock if clock is not None else SimClock()
        self._rng = rng if rng is not None else seeded_random(0, name)
        self._motorised = self.build is IdBuild.KIOSK
        self._retain_capacity = retain_capacity if self._motorised else 0
        self._motion_time = motion_time
        self._read_time = read_time
        self._poll_interval = poll_interval
        self._formats = image_formats() if self._motorised else frozenset()
        # Physical state.
        self._doc: _Document | None = None
        self._bin: list[_Document] = []
        self._entry_open = False
        self._powered = True
        # Faults.
        self._jam_next = False
        self._sam_failed = False
        self._fail_next_read = False
        self._slow_read = 0.0
        self._reply_delay_s = 0.0
        # Plumbing.
        self._listener: BackendListener[IdScannerStatus] | None = None
        self._intake: DocumentPosition | None = None
        self._last_status: IdScannerStatus | None = None
        self._signal = Notifier()

    # --- ground truth --------------------------------------------------------------------

    @property
    def position(self) -> DocumentPosition:
        """Where the last document presented is now."""
        return self._doc.position if self._doc is not None else DocumentPosition.NONE

    @property
    def profile(self) -> DocumentProfile | None:
        """The last document presented, wherever it is now."""
        return self._doc.profile if self._doc is not None else None

    @property
    def motorised(self) -> bool:
        """The scanner takes documents in (the kiosk build)."""
        return self._motorised

    @property
    def retained_count(self) -> int:
        """Documents physically in the retain bin."""
        return len(self._bin)

    @property
    def retain_capacity(self) -> int:
        """Documents the retain bin holds (0: none)."""
        return self._retain_capacity

    @property
    def accepting(self) -> bool:
        """The scanner waits for a document (a motorised one's entry is open)."""
        return self._entry_open

    @property
    def powered(self) -> bool:
        """The scanner has power."""
        return self._powered

    @property
    def is_open(self) -> bool:
        """A service has the scanner open."""
        return self._listener is not None

    def reads(self, profile: DocumentProfile) -> bool:
        """Whether this build can take ``profile`` (an unreadable document fits any)."""
        if profile.failure is Failure.UNREADABLE or self.build is IdBuild.KIOSK:
            return True
        return (profile.medium is Medium.CHIP) == (self.build is IdBuild.CHIP)

    async def wait_until(self, predicate: Callable[[], bool]) -> None:
        """Return once ``predicate()`` is true, re-checking it on every state change."""
        await self._signal.wait_until(predicate)

    # --- what the world does ---------------------------------------------------------------
    # --- internals -------------------------------------------------------------------------

    def _take_in(self, doc: _Document) -> None:
        """The motor draws the presented document in (or it jams on the way)."""
        self._entry_open = False
        if self._jam_next:
            self._jam_next = False
            doc.position = DocumentPosition.JAMMED
        else:
            doc.position = DocumentPosition.INSIDE
            self._emit(DocumentInserted())
        self._intake = doc.position
        self._update_status()

    async def _move(self, doc: _Document, to: DocumentPosition) -> None:
        """Drive the document to ``to``; a pending jam stops it halfway. Not
        interruptible: a cancellation waits for the movement to end."""
        move = asyncio.ensure_future(self._drive(doc, to))
        try:
            await asyncio.shield(move)
        except asyncio.CancelledError:
            await asyncio.gather(move, return_exceptions=True)
            raise

    async def _drive(self, doc: _Document, to: DocumentPosition) -> None:
        await self.clock.sleep(self._motion_time * self._rng.uniform(0.9, 1.1))
        if not self._powered:  # the motor stopped: the document did not get there
            raise DeviceNotReady(f"{self.name} lost power while moving the document")
        if self._jam_next:
            self._jam_next = False
            doc.position = DocumentPosition.JAMMED
            self._update_status()
            raise MediaJam(f"{self.name}: the document jammed on its way to {to.value}")
        doc.position = to
        if to is DocumentPosition.RETAINED:
            self._bin.append(doc)
        self._update_status()

    def _document_under_reader(self) -> _Document:
        doc = self._doc
        if doc is not None and doc.position is DocumentPosition.JAMMED:
            raise MediaJam(f"{self.name}: the document is jammed")
        wanted = DocumentPosition.INSIDE if self._motorised else DocumentPosition.PRESENTED
        if doc is None or doc.position is not wanted:
            raise NoMedia(f"{self.name}: no document to read (it is {self.position.value})")
        return doc

    def _document_in_transport(self) -> _Document:
        doc = self._doc
        if doc is not None and doc.position is DocumentPosition.JAMMED:
            raise MediaJam(f"{self.name}: the document is jammed")
        if doc is None or doc.position not in (DocumentPosition.INSIDE, DocumentPosition.EXIT):
            raise NoMedia(f"{self.name}: no document inside (it is {self.position.value})")
        return doc

    def _require_motor(self, what: str) -> None:
        if not self._motorised:
            raise UnsupportedOperation(f"{self.name} ({self.build.value}) cannot {what}")

    def _require_power(self) -> None:
        if not self._powered:
            raise DeviceNotReady(f"{self.name} is powered off")

    async def _reply_delay(self, *, opening: bool = False) -> None:
        await reply_delay(
            self.clock,
            self._reply_delay_s,
            name=self.name,
            listener=lambda: self._listener,
            signal=self._signal,
            opening=opening,
        )

    def _emit(self, event: Event) -> None:
        if self._listener is not None:
            self._listener.event(event)

    def _compute_status(self) -> IdScannerStatus:
        count, capacity = len(self._bin), self._retain_capacity
        if not capacity or count * 10 < capacity * 8:
            bin_status = ReplenishmentStatus.OK
        else:
            bin_status = ReplenishmentStatus.FULL if count >= capacity else ReplenishmentStatus.HIGH
        sam = "ok"
        if self.build is not IdBuild.MRZ and self._sam_failed:
            sam = "selfTestFailed"
        if not self._powered:
            return IdScannerStatus(
                device=DeviceState.POWER_OFF,
                media=DocumentStatus.UNKNOWN,
                retain_bin=bin_status,
                security_module="unknown" if self.build is not IdBuild.MRZ else "ok",
            )
        position = self.position
        if position is DocumentPosition.INSIDE:
            media = DocumentStatus.PRESENT
        elif position is DocumentPosition.JAMMED:
            media = DocumentStatus.JAMMED
        elif position is DocumentPosition.EXIT:
            media = DocumentStatus.ENTERING
        elif position is DocumentPosition.PRESENTED:
            media = DocumentStatus.ENTERING if self._motorised else DocumentStatus.PRESENT
        else:
            media = DocumentStatus.NOT_PRESENT
        failed = self.build is IdBuild.CHIP and self._sam_failed
        return IdScannerStatus(
            device=DeviceState.HARDWARE_ERROR if failed else DeviceState.ONLINE,
            media=media,
            retain_bin=bin_status,
            security_module=sam,
        )

    def _update_status(self) -> None:
        status = self._compute_status()
        if status != self._last_status:
            self._last_status = status
            if self._listener is not None:
                self._listener.status_changed(status)
        self._signal.notify()
