"""The customer's fingers (and fate) on a simulated PIN pad.

`PinPadControl` implements `hal.stimulus.PinPadStimulus` over a
`simulator.models.pin_pad.PinPadModel`: it presses keys on the model's keyboard, as a
customer would, never through the hal service. `PinPadControl.type_pin` types a PIN and
``enter``. Faults the suite's interface does not name: power loss and slow replies.

A key press is the customer's, not the app's: what is typed here is never logged (a log
line says how many keys were pressed, never which). The ``timeout`` of the calls bounds
a test and is in real seconds; `PinPadControl.slow_replies` takes simulated seconds.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from hal.devices.pin_pad_model import DIGIT_KEYS
from hal.errors import HalTimeout
from hal.stimulus import PinPadStimulus
from simulator.models.pin_pad import KEYBOARD, PinPadModel

__all__ = ["PinPadControl", "pin_keys"]

log = logging.getLogger(__name__)


def pin_keys(pin: str, *, enter: bool = True) -> list[str]:
    """The key names that type ``pin`` (digits only), then ``enter`` unless told not to.

    Raises:
        ValueError: ``pin`` holds something other than ASCII digits (never quoted).
    """
    if not isinstance(pin, str) or not pin.isascii() or not pin.isdigit():
        raise ValueError("a PIN is typed as ASCII digits only")
    keys = [DIGIT_KEYS[int(ch)] for ch in pin]
    return [*keys, "enter"] if enter else keys


class PinPadControl(PinPadStimulus):
    """The hands and faults acting on one simulated PIN pad.

    Args:
        model: the PIN pad they act on.
    """

    def __init__(self, model: PinPadModel) -> None:
        self._model = model

    @property
    def model(self) -> PinPadModel:
        """The PIN pad acted on."""
        return self._model

    # --- PinPadStimulus ----------------------------------------------------------------

    async def press_keys(self, keys: Sequence[str], *, timeout: float = 10.0) -> None:
        """Press ``keys`` in order, each once an entry is under way.

        A key waits (within ``timeout`` real seconds for the whole sequence) for an
        entry to take it, so a sequence may run on into the next entry (a PIN, then an
        amount).

        Raises:
            ValueError: a key name the keyboard does not have (nothing is pressed).
            HalTimeout: no entry came for a key within ``timeout``.
        """
        if isinstance(keys, str):
            raise ValueError("keys is a sequence of key names, not one string")
        keys = list(keys)
        unknown = sorted({key for key in keys if key not in KEYBOARD})
        if unknown:
            raise ValueError(
                f"{self._model.name}'s keyboard has no key {', '.join(map(repr, unknown))}; "
                f"it has {', '.join(sorted(KEYBOARD))}"
            )
        model = self._model
        pressed = 0
        try:
            async with asyncio.timeout(timeout):
                for key in keys:
                    await model.wait_until(lambda: model.entry_active)
                    model.press(key)
                    pressed += 1
        except TimeoutError:
            raise HalTimeout(
                f"{model.name}: no entry took the keys within {timeout} s "
                f"({pressed} of {len(keys)} pressed)"
            ) from None
        finally:
            log.debug("%s: the customer pressed %d key(s)", model.name, pressed)

    async def entry_active(self) -> bool:
        """Whether the pad is in an entry now."""
        return self._model.entry_active

    # --- conveniences and fate ---------------------------------------------------------

    async def type_pin(self, pin: str, *, enter: bool = True, timeout: float = 10.0) -> None:
        """Type ``pin`` (ASCII digits) and then ``enter`` (unless ``enter=False``).

        Raises:
            ValueError: ``pin`` is not digits (the message never quotes it).
            HalTimeout: as `press_keys`.
        """
        await self.press_keys(pin_keys(pin, enter=enter), timeout=timeout)

    async def wait_for_entry(self, timeout: float | None = 10.0) -> None:
        """Wait (``timeout`` real seconds) until an entry is under way.

        Raises:
            HalTimeout: none started in time.
        """
        model = self._model
        try:
            async with asyncio.timeout(timeout):
                await model.wait_until(lambda: model.entry_active)
        except TimeoutError:
            raise HalTimeout(f"{model.name}: no entry started within {timeout} s") from None

    async def power_loss(self, on: bool = True) -> None:
        """Cut the pad's power (``on=True``) or restore it (``on=False``)."""
        self._model.set_power(not on)

    async def slow_replies(self, seconds: float) -> None:
        """Delay every reply of the pad by ``seconds`` simulated seconds (0: none)."""
        self._model.set_reply_delay(seconds)

    def __repr__(self) -> str:
        return f"PinPadControl({self._model.name!r})"
