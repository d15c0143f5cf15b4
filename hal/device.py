"""What every device has in common: the public base class and the service machinery.

`Device` is the public face every device class extends (open/close, ``async with``,
``status()``, ``capabilities()``, ``events()``). `DeviceService` is the shared part of
each class's service: the per-device FIFO command queue, timeouts, cancellation that
settles with the device before raising, events stamped with the running command's id,
and `StatusChanged` derived from status reports.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Iterable
from enum import StrEnum
from types import TracebackType
from typing import Generic, Protocol, Self, TypeVar

from hal.command_queue import (
    COMMAND_DEADLINE,
    COMMAND_TAG,
    CommandQueue,
    check_timeout,
    finish,
    run_to_end,
)
from hal.errors import DeviceNotReady
from hal.events import Event, EventHub, StatusChanged, Subscription, changed_fields

__all__ = [
    "COMMAND_DEADLINE",
    "COMMAND_TAG",
    "BackendListener",
    "CommandQueue",
    "Device",
    "DeviceService",
    "DeviceState",
    "OpenableBackend",
    "check_timeout",
    "finish",
    "run_to_end",
]

log = logging.getLogger(__name__)

T = TypeVar("T")
StatusT = TypeVar("StatusT")
CapsT = TypeVar("CapsT")
StatusT_contra = TypeVar("StatusT_contra", contravariant=True)
StatusT_co = TypeVar("StatusT_co", covariant=True)


class DeviceState(StrEnum):
    """XFS4IoT common ``device`` status, spelled as on the wire."""

    ONLINE = "online"
    OFFLINE = "offline"
    POWER_OFF = "powerOff"
    NO_DEVICE = "noDevice"
    HARDWARE_ERROR = "hardwareError"
    USER_ERROR = "userError"
    BUSY = "deviceBusy"
    FRAUD_ATTEMPT = "fraudAttempt"


class BackendListener(Protocol[StatusT_contra]):
    """How a backend (driver or model) reports what happens, to its service."""

    def event(self, event: Event) -> None:
        """Something happened: a card went in, was taken, was moved by the device."""

    def status_changed(self, status: StatusT_contra) -> None:
        """The device's status is now ``status``."""


class OpenableBackend(Protocol[StatusT_co]):
    """What `DeviceService`'s lifecycle helpers need of a backend: open it reporting to a
    listener, and close it."""

    async def open(self, listener: BackendListener[StatusT_co]) -> None: ...

    async def close(self) -> None: ...


class Device(ABC, Generic[StatusT, CapsT]):
    """Base of every public device interface.

    Use it as an async context manager, or call `open()` and `close()`.
    """

    #: The XFS4IoT interface name, e.g. ``CardReader``.
    interface: str = ""

    @property
    @abstractmethod
    def name(self) -> str:
        """The device's name in its kiosk (``card_reader``) or its address."""

    @abstractmethod
    async def open(self) -> None:
        """Connect to the device and reconcile its ledger; idempotent."""

    @abstractmethod
    async def close(self) -> None:
        """Cancel queued commands, disconnect and close event subscriptions; idempotent."""

    @abstractmethod
    async def status(self) -> StatusT:
        """The current status; bypasses the command queue."""

    @abstractmethod
    async def capabilities(self) -> CapsT:
        """What the device can do; bypasses the command queue."""

    @abstractmethod
    def events(
        self, maxsize: int = 256, kinds: Iterable[type[Event]] | None = None
    ) -> Subscription:
        """Subscribe to the device's events from this moment on.

        Args:
            maxsize: events queued unread before new ones are dropped; an `EventsLost`
                marker with their count takes their place once there is room again.
            kinds: only these event classes (and subclasses); ``None`` for all.
        """

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


class DeviceService(Device[StatusT, CapsT]):
    """Shared plumbing for the per-class services (``CardReaderService``...).

    Subclasses call `_command()` (or `_run()`, which logs too) for every queued
    operation, report backend happenings through `event()` and `status_changed()` (the
    `BackendListener` protocol), and implement `_fetch_status()`. `_open_backend()` and
    `_close_backend()` are the usual open and close; a subclass that uses them or
    `_run()` sets `_log` to its own module's logger, so its records keep their name.
    """

    #: The logger `_run()` and `_close_backend()` write to (a subclass sets its own).
    _log: logging.Logger = log

    def __init__(self, name: str, *, max_queue: int = 16) -> None:
        self._name = name
        self._hub = EventHub(name)
        self._queue = CommandQueue(name, max_queue)
        self._last_status: StatusT | None = None
        self._opened = False
        self._open_lock = asyncio.Lock()

    @property
    def name(self) -> str:
        return self._name

    @property
    def is_open(self) -> bool:
        """True between `open()` and `close()`."""
        return self._opened

    def events(
        self, maxsize: int = 256, kinds: Iterable[type[Event]] | None = None
    ) -> Subscription:
        return self._hub.subscribe(maxsize, kinds)

    # --- BackendListener -------------------------------------------------------------

    def event(self, event: Event) -> None:
        """Publish a backend event, stamped with the running command's id if it is one."""
        command_id = None if event.unsolicited else self._queue.current
        if event.command_id != command_id:
            event = _with_command(event, command_id)
        self._hub.publish(event)

    def command_tag(self, command_id: int | None) -> object | None:
        """The `COMMAND_TAG` of the caller that queued ``command_id`` (recent ones only)."""
        return None if command_id is None else self._queue.tag_of(command_id)

    def status_changed(self, status: StatusT) -> None:
        """Publish `StatusChanged` if ``status`` differs from the last one seen."""
        old = self._last_status
        self._last_status = status
        if old is None or old == status:
            return
        self._hub.publish(StatusChanged(old=old, new=status, changed=changed_fields(old, status)))

    # --- for subclasses --------------------------------------------------------------

    @abstractmethod
    async def _fetch_status(self) -> StatusT:
        """Ask the backend for its status (no queueing)."""

    async def status(self) -> StatusT:
        self._require_open()
        status = await self._fetch_status()
        self.status_changed(status)
        return status

    def _require_open(self) -> None:
        if not self._opened:
            raise DeviceNotReady(f"{self._name} is not open; call open() or use 'async with'")

    async def _command(
        self,
        name: str,
        op: Callable[[int], Awaitable[T]],
        *,
        timeout: float | None,
        settle: Callable[[], Awaitable[None]] | None = None,
    ) -> T:
        self._require_open()
        return await self._queue.run(
            f"{self.interface}.{name}", op, timeout=timeout, settle=settle or self._refresh
        )

    async def _run(
        self,
        command: str,
        args: str,
        op: Callable[[int], Awaitable[T]],
        timeout: float | None,
    ) -> T:
        """Queue ``op`` as `_command()` does, logging it and its failure at DEBUG on
        `_log`. ``args`` goes into the log as is: the caller masks it first."""

        async def logged(command_id: int) -> T:
            self._log.debug("%s: %s #%d (%s)", self.name, command, command_id, args)
            try:
                return await op(command_id)
            except Exception as exc:
                self._log.debug("%s: %s #%d failed: %s", self.name, command, command_id, exc)
                raise

        return await self._command(command, logged, timeout=timeout)

    async def _open_backend(
        self,
        backend: OpenableBackend[StatusT],
        opened: Callable[[], Awaitable[None]],
        *,
        prepare: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """Open once, under the open lock: ``prepare()`` (if given), open ``backend``
        reporting to this service, mark the service open and run ``opened()`` (read the
        capabilities, reset state, fetch the first status). If ``opened()`` fails, the
        service is not open, the backend is closed again (a failure of that close is
        noted on the error) and the error raised. Already open: nothing happens."""
        async with self._open_lock:
            if self._opened:
                return
            if prepare is not None:
                await prepare()
            await backend.open(self)
            try:
                self._opened = True
                await opened()
            except BaseException as exc:
                self._opened = False
                try:
                    await backend.close()
                except Exception as close_exc:
                    exc.add_note(f"closing {self.name} afterwards failed too: {close_exc!r}")
                raise

    async def _close_backend(
        self,
        backend: OpenableBackend[StatusT],
        *,
        timeout: float,
        what: str = "device",
        closed: Callable[[], None] | None = None,
    ) -> None:
        """Close once, under the open lock: cancel the queued commands and wait up to
        ``timeout`` s for them to settle (else log a warning naming ``what`` and go on),
        mark the service closed, run ``closed()`` (if given), close ``backend`` and end
        every subscription (even if the backend's close fails). Not open: nothing
        happens."""
        async with self._open_lock:
            if not self._opened:
                return
            try:
                await self._queue.cancel_all(wait=timeout)
            except TimeoutError:
                self._log.warning(
                    "%s: commands did not settle within %s s of the close; closing the "
                    "%s under them",
                    self.name,
                    timeout,
                    what,
                )
            self._opened = False
            if closed is not None:
                closed()
            try:
                await backend.close()
            finally:
                self._hub.close()

    async def _refresh(self) -> None:
        """The default settle step: learn where things stand and report the change."""
        self.status_changed(await self._fetch_status())


def _with_command(event: Event, command_id: int | None) -> Event:
    return dataclasses.replace(event, command_id=command_id)
