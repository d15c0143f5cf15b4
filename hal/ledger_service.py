"""`LedgerService`: the lifecycle shared by the services that keep books in a ledger.

A service that journals what its device moves (the card reader's captures and issues,
the cash dispenser's notes) owns a `Ledger`: given open, or a path it opens with the
device, in the loop's thread (a ledger belongs to one thread), and closes with it.
Opening the device opens the backend, then `_start` (define locations, reconcile);
whatever fails lets go of the backend and the ledger, since the caller's ``async with``
will not close a device that did not open. Closing cancels the queued commands (waiting
``close_timeout`` for them to settle), closes the backend, the event hub and the ledger.
"""

from __future__ import annotations

import logging
import os
from abc import abstractmethod
from collections.abc import Callable
from typing import Any, Protocol

from hal.device import CapsT, DeviceService, StatusT
from hal.errors import DeviceNotReady
from hal.ledger import Ledger, Movement, Resolution

__all__ = ["LedgerService"]

log = logging.getLogger(__name__)


class _Backend(Protocol):
    async def open(self, listener: Any) -> None: ...

    async def close(self) -> None: ...


class LedgerService(DeviceService[StatusT, CapsT]):
    """A `DeviceService` whose books are in a ledger it may own.

    Args:
        name: the device's name; also its name in the ledger.
        backend: the driver or simulator model (opened with this service as listener).
        ledger: an open `Ledger`, or the path of one to open (and close) with the
            device; an in-memory ledger if ``None`` (counts then die with the process:
            give a file for a real kiosk).
        max_queue: commands queued or running before ``TooManyRequests``.
        close_timeout: seconds `close` waits for cancelled commands to settle with the
            device before it closes the backend under them (a command stuck on a frozen
            device must not keep the device open for ever).
    """

    def __init__(
        self,
        name: str,
        *,
        backend: _Backend,
        ledger: Ledger | str | os.PathLike[str] | None,
        max_queue: int,
        close_timeout: float,
    ) -> None:
        super().__init__(name, max_queue=max_queue)
        self._ledger_backend = backend
        self._close_timeout = close_timeout
        self._ledger_given = ledger
        self._ledger_opened: Ledger | None = None

    @property
    def ledger(self) -> Ledger:
        """The ledger the device keeps its books in (available once open)."""
        if isinstance(self._ledger_given, Ledger):
            return self._ledger_given
        if self._ledger_opened is None:
            raise DeviceNotReady(f"{self.name} is not open; its ledger is opened with it")
        return self._ledger_opened

    @abstractmethod
    async def _start(self) -> None:
        """Once the backend is open: define the ledger's locations, reconcile."""

    def _forget_ledger(self) -> None:
        """The ledger is about to close: drop whatever holds it (books made at open)."""

    def _settle_pending(
        self, resolve: Callable[[Movement], Resolution], invalidate: Callable[[], None]
    ) -> None:
        """Settle the movements a crash left pending (`Ledger.reconcile` with ``resolve``,
        the device's answer from what it reports now), then ``invalidate`` the books'
        cached counts (even when settling failed), and log each settlement."""
        try:
            settlements = self.ledger.reconcile(self.name, resolve)
        finally:
            invalidate()
        for settlement in settlements:
            log.warning(
                "%s: movement %s left pending by a previous run settled %s",
                self.name,
                settlement.movement_id,
                settlement.outcome.value,
            )

    async def open(self) -> None:
        async with self._open_lock:
            if self._opened:
                return
            if not isinstance(self._ledger_given, Ledger):
                # Opened here, in the loop's thread: a ledger belongs to one thread.
                self._ledger_opened = Ledger.open(self._ledger_given or ":memory:")
            try:
                await self._ledger_backend.open(self)
            except BaseException:
                self._close_own_ledger()
                raise
            try:
                await self._start()
            except BaseException as exc:
                # Whatever failed (the ledger, the first status), let go of the device
                # and the ledger file: the caller's 'async with' will not close us.
                self._opened = False
                try:
                    await self._ledger_backend.close()
                except Exception as close_exc:
                    exc.add_note(f"closing {self.name} afterwards failed too: {close_exc!r}")
                finally:
                    self._close_own_ledger()
                raise

    async def close(self) -> None:
        async with self._open_lock:
            if not self._opened:
                return
            try:
                await self._queue.cancel_all(wait=self._close_timeout)
            except TimeoutError:
                # A device that stopped answering mid-command: closing the backend is
                # what ends that command (its transport's close is bounded). A movement
                # it leaves pending is reconciled at the next open.
                log.warning(
                    "%s: commands did not settle within %s s of the close; closing the "
                    "device under them (their movements are reconciled at the next open)",
                    self.name,
                    self._close_timeout,
                )
            self._opened = False
            try:
                await self._ledger_backend.close()
            finally:
                self._hub.close()
                self._close_own_ledger()

    def _close_own_ledger(self) -> None:
        self._forget_ledger()
        if self._ledger_opened is not None:
            self._ledger_opened.close()
            self._ledger_opened = None
