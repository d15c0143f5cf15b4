"""What the control commands of every kind of device share (`simulator.control_commands`
re-exports it): the kinds a command acts on, `ControlCommand`, the longest wait, and the
payloads and completions more than one kind of device uses (a wait for the customer to
take something, slow replies, a fault's flag, a position, a count).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Final

from hal.remote.interfaces import Empty

#: The longest wait a control command may ask for, in real seconds.
MAX_WAIT: Final = 3600.0


#: What a command acts on (`ControlCommand.target`).
CARD_READER: Final = "card_reader"
PIN_PAD: Final = "pin_pad"
CASH_DISPENSER: Final = "cash_dispenser"
CASH_ACCEPTOR: Final = "cash_acceptor"
ID_SCANNER: Final = "id_scanner"
CAMERA: Final = "camera"
PRINTER: Final = "printer"
ANY_DEVICE: Final = "any"


def _check_wait(what: str, seconds: float) -> None:
    if not (math.isfinite(seconds) and 0 <= seconds <= MAX_WAIT):
        raise ValueError(f"{what} must be from 0 to {MAX_WAIT:g} seconds, got {seconds}")


@dataclass(frozen=True)
class TakeCardPayload:
    """``Control.TakeCard``: real seconds to wait for the card to reach the exit."""

    timeout: float

    def __post_init__(self) -> None:
        _check_wait("timeout", self.timeout)


@dataclass(frozen=True)
class SlowRepliesPayload:
    """``Control.SlowReplies``: simulated seconds every reply is delayed (0: none)."""

    seconds: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.seconds) and self.seconds >= 0):
            raise ValueError(f"seconds must be finite and >= 0, got {self.seconds}")


@dataclass(frozen=True)
class FlagPayload:
    """``Control.CashBoxFull``, ``Control.RemoveCashBox``: the fault is on (``False``:
    undone)."""

    on: bool


@dataclass(frozen=True)
class PositionCompletion:
    """Where the card really is (``none``, ``exit``, ``inside``, ``jammed``...)."""

    position: str


@dataclass(frozen=True)
class CountCompletion:
    """A number of cards (or notes)."""

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
        target: the kind of device it acts on: ``card_reader``, ``pin_pad``,
            ``cash_dispenser``, ``cash_acceptor``, ``id_scanner``, ``camera``, ``printer`` or
            ``any``,
            or a tuple of kinds.
    """

    name: str
    payload: type[Any] = Empty
    completion: type[Any] | None = None
    device: bool = True
    wait: str | None = None
    target: str | tuple[str, ...] = CARD_READER

    @property
    def kinds(self) -> tuple[str, ...]:
        """The kinds of device it acts on (``("any",)`` for every kind)."""
        return (self.target,) if isinstance(self.target, str) else self.target
