"""The commands of the simulator's control socket, and what they carry.

The control socket (`simulator.server.ControlServer`) speaks the envelope of the ZeroMQ
remote (`hal.remote.messages`): a ``command`` with a ``requestId`` and, for the commands
that act on a device, the device's name in the header's ``device``; one
``acknowledge``, then one ``completion``. Payloads and completions are the dataclasses
below, carried by `hal.remote.codec` (camelCase fields, bytes as blob frames).

Timeouts here are real seconds, as in `simulator.control.CardReaderControl`; durations
given to the model (``Control.SlowReplies``) are simulated seconds.

A command acts on a card reader, a PIN pad or either (`ControlCommand.target`). On a PIN
pad, ``Control.PressKeys`` is the customer's fingers: key names (``seven``, ``enter``),
which the simulator never logs (it logs how many keys were pressed).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Final

from hal.remote.interfaces import Empty
from hal.stimulus import CardSample

__all__ = [
    "COMMANDS",
    "MAX_WAIT",
    "ControlCommand",
    "CountCompletion",
    "EntryActiveCompletion",
    "InsertCardPayload",
    "PositionCompletion",
    "PowerLossPayload",
    "PressKeysPayload",
    "SlowRepliesPayload",
    "TakeCardPayload",
    "WaitForEntryPayload",
    "WaitForPayload",
]

#: The longest wait a control command may ask for, in real seconds.
MAX_WAIT: Final = 3600.0

#: The most keys one ``Control.PressKeys`` presses.
MAX_KEYS: Final = 64

#: What a command acts on (`ControlCommand.target`).
CARD_READER: Final = "card_reader"
PIN_PAD: Final = "pin_pad"
ANY_DEVICE: Final = "any"


def _check_wait(what: str, seconds: float) -> None:
    if not (math.isfinite(seconds) and 0 <= seconds <= MAX_WAIT):
        raise ValueError(f"{what} must be from 0 to {MAX_WAIT:g} seconds, got {seconds}")


@dataclass(frozen=True)
class InsertCardPayload:
    """``Control.InsertCard``: the shipped card profile to push into the slot."""

    profile: str


@dataclass(frozen=True)
class TakeCardPayload:
    """``Control.TakeCard``: real seconds to wait for the card to reach the exit."""

    timeout: float

    def __post_init__(self) -> None:
        _check_wait("timeout", self.timeout)


@dataclass(frozen=True)
class PowerLossPayload:
    """``Control.PowerLoss``: ``on`` cuts the power, ``False`` restores it."""

    on: bool


@dataclass(frozen=True)
class SlowRepliesPayload:
    """``Control.SlowReplies``: simulated seconds every reply is delayed (0: none)."""

    seconds: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.seconds) and self.seconds >= 0):
            raise ValueError(f"seconds must be finite and >= 0, got {self.seconds}")


@dataclass(frozen=True)
class WaitForPayload:
    """``Control.WaitFor``: a condition of `simulator.control.CONDITIONS` and real seconds."""

    condition: str
    timeout: float

    def __post_init__(self) -> None:
        _check_wait("timeout", self.timeout)


@dataclass(frozen=True)
class LoadStackerPayload:
    """``Control.LoadStacker``: the cards an operator leaves in the card stacker."""

    count: int


@dataclass(frozen=True, repr=False)
class PressKeysPayload:
    """``Control.PressKeys``: key names pressed in order, each once an entry takes keys,
    and real seconds the whole sequence may wait for entries.

    The keys may spell a PIN: the repr shows how many there are, never which."""

    keys: tuple[str, ...]
    timeout: float

    def __post_init__(self) -> None:
        _check_wait("timeout", self.timeout)
        if not 1 <= len(self.keys) <= MAX_KEYS:
            raise ValueError(f"keys must be 1 to {MAX_KEYS} key names, got {len(self.keys)}")

    def __repr__(self) -> str:
        return f"PressKeysPayload(<{len(self.keys)} keys>, timeout={self.timeout!r})"


@dataclass(frozen=True)
class WaitForEntryPayload:
    """``Control.WaitForEntry``: real seconds to wait for the PIN pad to start an entry."""

    timeout: float

    def __post_init__(self) -> None:
        _check_wait("timeout", self.timeout)


@dataclass(frozen=True)
class EntryActiveCompletion:
    """Whether the PIN pad is in an entry (its keyboard taking keys)."""

    active: bool


@dataclass(frozen=True)
class PositionCompletion:
    """Where the card really is (``none``, ``exit``, ``inside``, ``jammed``...)."""

    position: str


@dataclass(frozen=True)
class CountCompletion:
    """A number of cards."""

    count: int


@dataclass(frozen=True)
class ControlCommand:
    """One command of the control socket.

    Attributes:
        name: the wire name (``Control.InsertCard``).
        payload: the payload's dataclass.
        completion: the completion payload's dataclass, or ``None`` for ``{}``.
        device: the command acts on a device named in the header.
        wait: the payload field holding how long the command may wait (real seconds).
        target: the kind of device it acts on: ``card_reader``, ``pin_pad`` or ``any``.
    """

    name: str
    payload: type[Any] = Empty
    completion: type[Any] | None = None
    device: bool = True
    wait: str | None = None
    target: str = CARD_READER


COMMANDS: Final[dict[str, ControlCommand]] = {
    command.name: command
    for command in (
        ControlCommand("Control.InsertCard", InsertCardPayload, CardSample),
        ControlCommand("Control.TakeCard", TakeCardPayload, wait="timeout"),
        ControlCommand("Control.Jam"),
        ControlCommand("Control.ClearJam"),
        ControlCommand("Control.CardPosition", completion=PositionCompletion),
        ControlCommand("Control.RetainedCount", completion=CountCompletion),
        ControlCommand("Control.EmptyRetainBin", completion=CountCompletion),
        ControlCommand("Control.StackerCount", completion=CountCompletion),
        ControlCommand("Control.LoadStacker", LoadStackerPayload),
        ControlCommand("Control.PowerLoss", PowerLossPayload, target=ANY_DEVICE),
        ControlCommand("Control.SlowReplies", SlowRepliesPayload, target=ANY_DEVICE),
        ControlCommand("Control.WaitFor", WaitForPayload, wait="timeout"),
        ControlCommand("Control.PressKeys", PressKeysPayload, wait="timeout", target=PIN_PAD),
        ControlCommand("Control.WaitForEntry", WaitForEntryPayload, wait="timeout", target=PIN_PAD),
        ControlCommand("Control.EntryActive", completion=EntryActiveCompletion, target=PIN_PAD),
        ControlCommand("Control.Reset", device=False),
    )
}
"""Every control command by wire name."""
