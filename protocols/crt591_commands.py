"""Creator CRT-591-M card issuer: the commands (``'C' CM PM DATA``) and their parameters.

The heads of a frame's TEXT, the commands as (CM, PM) pairs, the parameters of
Initialize, Move and the CPU-card command, and the `Request` a command's TEXT decodes
to. ``protocols.crt591`` gathers these with the frames (``protocols.crt591_frames``)
and the replies (``protocols.crt591_replies``), and holds the TEXT codec.

Source of facts: reference/protocols.md §2.2 (Creator CRT-591 communication protocol,
2013, and ``CRT591_Com.cs``) and §7 vectors #19.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import TypeVar

from construct import Const, GreedyBytes, Int8ub, Struct

from protocols.creator_frames import CmPmCommand
from protocols.crt591_frames import hide
from protocols.errors import UnknownCodeError

__all__ = [
    "COMMAND_TEXT",
    "Command",
    "CpuOperation",
    "Head",
    "InitMode",
    "Position",
    "Request",
    "code_of",
]

_E = TypeVar("_E", bound=IntEnum)


class Head(IntEnum):
    """The first byte of TEXT."""

    COMMAND = 0x43  # 'C'
    POSITIVE = 0x50  # 'P'
    NEGATIVE = 0x4E  # 'N' (the vendor PDF)
    NEGATIVE_E = 0x45  # 'E' (the public C# driver)


class Command(CmPmCommand):
    """Commands as (CM, PM) pairs; PM None means PM is the command's parameter."""

    INITIALIZE = (0x30, None)  # PM = InitMode; reply DATA: the firmware version
    STATUS = (0x31, 0x30)
    SENSORS = (0x31, 0x31)  # reply DATA: S1..S8, '0'/'1'
    MOVE = (0x32, None)  # PM = Position
    ENTRY_ENABLE = (0x33, 0x30)  # accept a card at the gate
    ENTRY_DISABLE = (0x33, 0x31)
    IC_TYPE = (0x50, 0x30)  # auto-detect the contact card's type
    RF_TYPE = (0x50, 0x31)  # auto-detect the contactless card's type
    CPU = (0x51, None)  # PM = CpuOperation
    SAM = (0x52, None)
    SLE = (0x53, None)  # SLE4442 / SLE4428
    I2C = (0x54, None)  # 24Cxx
    RF = (0x60, None)
    CARD_SERIAL = (0xA2, 0x30)
    CONFIGURATION = (0xA3, 0x30)
    VERSION = (0xA4, 0x30)
    BIN_COUNTER_READ = (0xA5, 0x30)
    BIN_COUNTER_SET = (0xA5, 0x31)

    @classmethod
    def lookup(cls, cm: int, pm: int) -> Command:
        """The command a (CM, PM) pair names.

        Raises:
            UnknownCodeError: no such command, or a parameter it does not take.
        """
        found = _EXACT.get((cm, pm)) or _BY_CM.get(cm)
        if found is None:
            raise UnknownCodeError(f"unknown command CM 0x{cm:02X} PM 0x{pm:02X}")
        kind = _PARAMETERS.get(found)
        if kind is not None:
            code_of(kind, pm, f"{found.name} parameter")
        return found


class InitMode(IntEnum):
    """PM of Initialize (30): what happens to a card in the channel."""

    TO_GATE = 0x30
    CAPTURE = 0x31
    NO_MOVE = 0x33
    TO_GATE_COUNTED = 0x34
    CAPTURE_COUNTED = 0x35
    NO_MOVE_COUNTED = 0x37

    @property
    def counted(self) -> bool:
        """One of the variants "with the retract counter"."""
        return self >= InitMode.TO_GATE_COUNTED

    @property
    def base(self) -> InitMode:
        """The same card movement without the counter."""
        return {0x34: InitMode.TO_GATE, 0x35: InitMode.CAPTURE, 0x37: InitMode.NO_MOVE}.get(
            self.value, self
        )


class Position(IntEnum):
    """PM of Move (32). With no card in the channel, a move to HOLD, IC, RF or GATE
    first takes a card from the stacker (that is how the CRT-591 issues cards)."""

    HOLD = 0x30
    IC = 0x31
    RF = 0x32
    REJECT_BIN = 0x33
    GATE = 0x39


class CpuOperation(IntEnum):
    """PM of the CPU-card command (51)."""

    COLD_RESET = 0x30
    POWER_OFF = 0x31
    STATUS = 0x32
    APDU_T0 = 0x33
    APDU_T1 = 0x34
    WARM_RESET = 0x38
    APDU_AUTO = 0x39


_EXACT = {(c.cm, c.pm): c for c in Command if c.pm is not None}
_BY_CM = {c.cm: c for c in Command if c.pm is None}
_PARAMETERS: dict[Command, type[IntEnum]] = {
    Command.INITIALIZE: InitMode,
    Command.MOVE: Position,
    Command.CPU: CpuOperation,
}


def code_of(enum: type[_E], value: int, what: str) -> _E:
    """``enum(value)``, or `UnknownCodeError` naming ``what``."""
    try:
        return enum(value)
    except ValueError:
        raise UnknownCodeError(f"unknown {what} 0x{value:02X}") from None


COMMAND_TEXT = Struct(
    "head" / Const(Head.COMMAND.value, Int8ub),
    "cm" / Int8ub,
    "pm" / Int8ub,
    "data" / GreedyBytes,
).compile()
"""A command's TEXT in construct."""


@dataclass(frozen=True, slots=True, repr=False)
class Request:
    """A command: ``'C' CM PM DATA``. DATA may hold a C-APDU with a PIN: hidden.

    Attributes:
        cm, pm: the command and its parameter.
        data: the bytes after PM.
    """

    cm: int
    pm: int
    data: bytes = b""

    @property
    def command(self) -> Command:
        """The command this is.

        Raises:
            UnknownCodeError: no such command.
        """
        return Command.lookup(self.cm, self.pm)

    def __repr__(self) -> str:
        return f"Request(0x{self.cm:02X} 0x{self.pm:02X}, data={hide(self.data)})"
