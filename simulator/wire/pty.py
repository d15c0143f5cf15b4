"""`PtyBridge`: a pty whose slave a real driver opens as a serial port.

The simulator keeps the master side; the host (a driver over the ``serial`` transport)
opens the slave through a **stable symlink**, because a pty that is closed and made
again gets a new ``/dev/pts/N``::

    /tmp/tellerhal-pty-XXXX/crt310  ->  /dev/pts/3      (after replug: /dev/pts/5)

- ``unplug()`` closes the master: the host's reads get EIO (its transport raises
  `ConnectionLost`), and the symlink goes, as a USB adapter's udev link does.
- ``replug()`` makes a new pty and points the symlink at it; the host reopens the same
  path and finds the device again. The ``generation`` counts the plugs.

Facts from reference/ecosystem.md §2: the slave is put in raw mode right after
``openpty`` (until then the line discipline echoes and translates); the bridge keeps
its own slave descriptor open, because a master with no slave open reports EIO and
stays readable for ever (a busy loop); baud rate and parity are ignored by a pty (pace
bytes with `simulator.wire.link.WirePacer` where timing matters).

The device side is async: the master is watched by the event loop (``add_reader``),
nothing polls. ``close()`` releases every descriptor, the symlink and, if the bridge
made it, the directory.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import shutil
import tempfile
import tty
from pathlib import Path
from types import TracebackType
from typing import Self

from hal.transports.base import ReceiveBuffer

__all__ = ["PtyBridge"]

log = logging.getLogger(__name__)

_READ_SIZE = 65536


class PtyBridge:
    """The device side of a pty, behind a symlink that survives unplug and replug.

    Use it as an async context manager (or call `open()` and `close()` in a loop).

    Args:
        name: the symlink's file name (``crt310``).
        directory: where the symlink lives; a new private temporary directory (removed
            on close) if ``None``.
    """

    def __init__(
        self, name: str = "tty", *, directory: str | os.PathLike[str] | None = None
    ) -> None:
        if not name or "/" in name:
            raise ValueError(f"a symlink name is one path component, got {name!r}")
        self._name = name
        self._given_dir = Path(directory) if directory is not None else None
        self._dir: Path | None = None
        self._master: int | None = None
        self._slave: int | None = None
        self._device_path: str | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._buffer = ReceiveBuffer(f"pty {name}")
        self._write_waiter: asyncio.Future[None] | None = None
        self._generation = 0
        self.bytes_received = 0
        self.bytes_sent = 0

    # --- what the host sees --------------------------------------------------------------

    @property
    def path(self) -> Path:
        """The stable symlink the host opens."""
        if self._dir is None:
            raise RuntimeError("the bridge is not open")
        return self._dir / self._name

    @property
    def device_path(self) -> str | None:
        """The current ``/dev/pts/N``, or ``None`` while unplugged."""
        return self._device_path

    @property
    def plugged(self) -> bool:
        """The pty exists (the host can open it)."""
        return self._master is not None

    @property
    def generation(self) -> int:
        """How many times the pty was plugged (1 after `open()`)."""
        return self._generation

    # --- lifecycle -----------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def open(self) -> None:
        """Make the directory (if needed), the pty and the symlink; needs a running loop."""
        if self._dir is not None:
            return
        self._loop = asyncio.get_running_loop()
        if self._given_dir is not None:
            self._given_dir.mkdir(parents=True, exist_ok=True)
            self._dir = self._given_dir
        else:
            self._dir = Path(tempfile.mkdtemp(prefix="tellerhal-pty-"))
        try:
            self.replug()
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Unplug and remove the symlink (and the directory the bridge made)."""
        if self._dir is None:
            return
        self.unplug()
        if self._given_dir is None:
            shutil.rmtree(self._dir, ignore_errors=True)
        self._dir = None
        self._buffer.reset()

    def unplug(self) -> None:
        """Pull the cable: close the pty (the host's reads fail) and remove the symlink."""
        master, self._master = self._master, None
        slave, self._slave = self._slave, None
        if master is not None:
            if self._loop is not None:
                self._loop.remove_reader(master)
                self._loop.remove_writer(master)
            os.close(master)
        waiter, self._write_waiter = self._write_waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)  # a send waiting for room ends: its bytes are dropped
        if slave is not None:
            os.close(slave)
        if self._device_path is not None:
            log.info("pty %s unplugged (%s)", self._name, self._device_path)
        self._device_path = None
        if self._dir is not None:
            with contextlib.suppress(FileNotFoundError):
                (self._dir / self._name).unlink()
        self._buffer.clear()

    def replug(self) -> None:
        """Plug the cable (again): a new pty, and the symlink pointing at it."""
        if self._dir is None or self._loop is None:
            raise RuntimeError("open() the bridge first")
        self.unplug()
        master, slave = os.openpty()
        try:
            tty.setraw(slave)
            os.set_blocking(master, False)
            device_path = os.ttyname(slave)
            temporary = self._dir / f".{self._name}.new"
            with contextlib.suppress(FileNotFoundError):
                temporary.unlink()
            temporary.symlink_to(device_path)
            temporary.replace(self._dir / self._name)  # atomic: never a missing link
            self._loop.add_reader(master, self._on_readable)
        except BaseException:
            os.close(master)
            os.close(slave)
            raise
        self._master, self._slave, self._device_path = master, slave, device_path
        self._buffer.clear()
        self._generation += 1
        log.info("pty %s plugged: %s -> %s", self._name, self.path, device_path)

    # --- the device side -----------------------------------------------------------------

    def _on_readable(self) -> None:
        master = self._master
        if master is None:
            return
        try:
            data = os.read(master, _READ_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            # Only when no slave is open; the bridge holds one, so this is unexpected.
            log.warning("pty %s: reading the master failed: %s", self._name, exc)
            if self._loop is not None:
                self._loop.remove_reader(master)
            return
        self.bytes_received += len(data)
        self._buffer.feed(data)

    async def receive(self) -> bytes:
        """The next bytes the host wrote (waits, across unplugs, until there are some)."""
        return await self._buffer.read(_READ_SIZE)

    async def send(self, data: bytes) -> None:
        """Write bytes for the host to read; dropped while unplugged."""
        view = memoryview(bytes(data))
        while view:
            master = self._master
            if master is None:
                return
            try:
                written = os.write(master, view)
            except (BlockingIOError, InterruptedError):
                await self._writable(master)
                continue
            except OSError as exc:
                if exc.errno == errno.EIO:
                    return  # the pty is going away
                raise
            self.bytes_sent += written
            view = view[written:]

    async def _writable(self, master: int) -> None:
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        self._write_waiter = waiter

        def ready() -> None:
            if not waiter.done():
                waiter.set_result(None)

        loop.add_writer(master, ready)
        try:
            await waiter
        finally:
            self._write_waiter = None
            if self._master == master:
                loop.remove_writer(master)

    def __repr__(self) -> str:
        where = f"{self._dir / self._name}" if self._dir is not None else "closed"
        return f"PtyBridge({where}, device={self._device_path}, generation={self._generation})"
