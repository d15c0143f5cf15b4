"""The ``opencv`` driver's options, its sources and its worker thread
(`drivers.camera.opencv`, whose docstring describes the addresses and options).
"""

from __future__ import annotations

import concurrent.futures
import math
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

from hal.address import DeviceAddress
from hal.devices.camera import CameraPosition
from hal.errors import ConfigurationError

__all__ = ["OpenCvOptions", "Source", "Worker", "source_of"]

T = TypeVar("T")


@dataclass(frozen=True)
class OpenCvOptions:
    """The options of an ``opencv`` address (see the module docstring).

    Attributes:
        device: a V4L2 device index (``0`` is ``/dev/video0``).
        file: a video file, an image sequence pattern (``frames_%03d.png``) or, with
            ``mode=still``, one image.
        mode: ``stream`` (frame after frame) or ``still`` (``file`` re-read each capture).
        width, height: the frame size asked of a live device; 0 keeps its own.
        camera: the camera position this camera serves.
        loop: a file starts again at its end (else the camera is inoperable there).
        timeout: seconds an open or a read may take.
        drop: most buffered frames a live device's capture throws away first.

    Raises:
        ConfigurationError: a value out of range, or options that do not go together.
    """

    device: int | None = None
    file: Path | None = None
    mode: Literal["stream", "still"] = "stream"
    width: int = 0
    height: int = 0
    camera: CameraPosition = CameraPosition.PERSON
    loop: bool = False
    timeout: float = 5.0
    drop: int = 4

    def __post_init__(self) -> None:
        if self.device is not None and not 0 <= self.device <= 255:
            raise ConfigurationError(f"device is a V4L2 index 0-255, got {self.device}")
        for name in ("width", "height"):
            value = getattr(self, name)
            if not 0 <= value <= 8192:
                raise ConfigurationError(
                    f"{name} must be 0 (the source's own) to 8192, got {value}"
                )
        if not (math.isfinite(self.timeout) and 0.05 <= self.timeout <= 120):
            raise ConfigurationError(f"timeout must be 0.05 to 120 s, got {self.timeout}")
        if not 0 <= self.drop <= 30:
            raise ConfigurationError(f"drop must be 0 to 30 frames, got {self.drop}")
        if self.mode == "still" and self.file is None:
            raise ConfigurationError("mode=still re-reads one image: give it as file=")
        if self.mode == "still" and self.file is not None and "%" in str(self.file):
            raise ConfigurationError(
                f"mode=still reads one image, not the sequence {str(self.file)!r}; use "
                "mode=stream for a sequence"
            )
        if self.loop and self.file is None:
            raise ConfigurationError("loop applies to a file (file=), not to a live device")


@dataclass(frozen=True)
class Source:
    """What a camera reads: a live device (``index`` or ``path``) or a ``file``."""

    path: str | None = None
    index: int | None = None
    file: str | None = None
    still: bool = False
    loop: bool = False

    @property
    def live(self) -> bool:
        """A V4L2 device (frames buffered by the kernel), not a file."""
        return self.file is None

    def describe(self) -> str:
        """How messages name it (a path, ``device 0``)."""
        if self.file is not None:
            return f"{'still ' if self.still else ''}file {self.file}"
        if self.path is not None:
            return self.path
        return f"device {self.index}"


def source_of(address: DeviceAddress, options: OpenCvOptions) -> Source:
    """The source an address names: exactly one of a device path, ``device``, ``file``.

    Raises:
        ConfigurationError: none or several, or an authority (``opencv://host/...``).
    """
    where = address.location
    if address.authority:
        raise ConfigurationError(
            f"{where}: an opencv address has no host; write opencv:///dev/video0, "
            "opencv://?device=0 or opencv://?file=PATH"
        )
    given = [
        name
        for name, there in (
            ("a device path", bool(address.path)),
            ("device=", options.device is not None),
            ("file=", options.file is not None),
        )
        if there
    ]
    if len(given) != 1:
        raise ConfigurationError(
            f"{where}: name one source: a device path (opencv:///dev/video0), device=N or "
            f"file=PATH; got {' and '.join(given) or 'none'}"
        )
    if options.file is not None:
        return Source(file=str(options.file), still=options.mode == "still", loop=options.loop)
    if options.mode == "still":
        raise ConfigurationError(f"{where}: mode=still applies to file= only")
    if address.path:
        return Source(path=address.path)
    return Source(index=options.device)


class Worker:
    """One daemon thread running the jobs given to it, in order (every VideoCapture call).

    Daemon, so that a driver call stuck in the kernel can never keep the process from
    exiting; `stop` waits for it a bounded time.
    """

    def __init__(self, name: str) -> None:
        self._jobs: queue.SimpleQueue[
            tuple[Callable[[], Any], concurrent.futures.Future[Any]] | None
        ] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._thread.start()

    def submit(self, job: Callable[[], T]) -> concurrent.futures.Future[T]:
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        self._jobs.put((job, future))
        return future

    def _serve(self) -> None:
        while True:
            item = self._jobs.get()
            if item is None:
                return
            job, future = item
            if not future.set_running_or_notify_cancel():
                continue  # its caller gave up before it started
            try:
                result = job()
            except BaseException as exc:
                future.set_exception(exc)
            else:
                future.set_result(result)

    def stop(self, wait: float) -> bool:
        """Ask the thread to end after its jobs; True if it ended within ``wait`` s."""
        self._jobs.put(None)
        self._thread.join(wait)
        return not self._thread.is_alive()
