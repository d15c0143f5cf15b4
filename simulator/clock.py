"""Simulated time and repeatable randomness for a simulated world.

Every duration a model or a scripted customer uses (a card taken after 2 s, a reader
that captures a forgotten card after 30 s, a slow reply) is in *simulated* seconds.
`SimClock` turns them into real seconds by multiplying by its ``scale``: with
``scale=0.001`` a 30 s customer timeout takes 30 ms, so CI runs the same scenario as
a demo, only faster. Waiting never polls: `SimClock.sleep` is one `asyncio.sleep`.

`seeded_random` gives each world (and each stream inside it) its own `random.Random`,
so a run with the same ``--seed`` makes the same choices.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

from hal.errors import ConfigurationError, DeviceNotReady
from hal.events import Notifier

__all__ = ["SimClock", "reply_delay", "seeded_random"]


class SimClock:
    """A clock whose seconds last ``scale`` real seconds.

    Args:
        scale: real seconds per simulated second; 1.0 is real time, 0.001 makes
            the simulation a thousand times faster. Must be finite and positive.

    Raises:
        ConfigurationError: ``scale`` is not a finite positive number.
    """

    def __init__(self, scale: float = 1.0) -> None:
        if isinstance(scale, bool) or not isinstance(scale, int | float):
            raise ConfigurationError(f"clock scale must be a number, got {scale!r}")
        if not math.isfinite(scale) or scale <= 0:
            raise ConfigurationError(f"clock scale must be finite and > 0, got {scale!r}")
        self._scale = float(scale)
        self._origin = time.monotonic()

    @property
    def scale(self) -> float:
        """Real seconds per simulated second."""
        return self._scale

    def now(self) -> float:
        """Simulated seconds since the clock was made."""
        return (time.monotonic() - self._origin) / self._scale

    def to_real(self, seconds: float) -> float:
        """The real duration of ``seconds`` simulated seconds."""
        return seconds * self._scale

    def to_simulated(self, seconds: float) -> float:
        """The simulated duration of ``seconds`` real seconds."""
        return seconds / self._scale

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` simulated seconds (``seconds * scale`` real seconds).

        Raises:
            ValueError: ``seconds`` is negative or not finite.
        """
        if not math.isfinite(seconds) or seconds < 0:
            raise ValueError(f"a sleep lasts a finite time >= 0, got {seconds!r}")
        await asyncio.sleep(seconds * self._scale)

    def timeout(self, seconds: float | None) -> AbstractAsyncContextManager[object]:
        """`asyncio.timeout` for ``seconds`` simulated seconds (``None``: no limit)."""
        return asyncio.timeout(None if seconds is None else seconds * self._scale)

    def __repr__(self) -> str:
        return f"SimClock(scale={self._scale!r})"


async def reply_delay(
    clock: SimClock,
    seconds: float,
    *,
    name: str,
    listener: Callable[[], object],
    signal: Notifier,
    opening: bool = False,
) -> None:
    """A model's slow reply: wait ``seconds`` simulated seconds, unless the model closes.

    ``listener()`` is the model's listener now (``None`` when closed); ``signal`` is
    notified when it changes. A call on a closed model (but the one opening it), or a
    close while waiting, ends with `DeviceNotReady`, as a closed port would.
    """
    if not seconds:
        return
    current = listener()
    if current is None and not opening:
        raise DeviceNotReady(f"{name} is closed")
    delay = asyncio.ensure_future(clock.sleep(seconds))
    closed = asyncio.ensure_future(signal.wait_until(lambda: listener() is not current))
    try:
        await asyncio.wait({delay, closed}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in (delay, closed):
            waiter.cancel()
        await asyncio.gather(delay, closed, return_exceptions=True)
    if not delay.done() or delay.cancelled():
        raise DeviceNotReady(f"{name} was closed while it was answering")


def seeded_random(seed: int, stream: str = "") -> random.Random:
    """A `random.Random` that depends only on ``seed`` and the stream's name.

    Each model draws from its own stream, so adding a device to a world does not change
    the choices the other devices make.
    """
    return random.Random(f"{seed}:{stream}")
