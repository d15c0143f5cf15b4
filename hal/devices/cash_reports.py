"""What a cash dispenser backend reports: the notes each operation moved and why it
stopped short (`MoveReport`), what it remembers of an operation (`OperationRecord`), what
it senses in its positions (`Contents`). Re-exported by `hal.devices.cash_model`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from hal.errors import InvalidData

__all__ = ["Contents", "Fault", "Move", "MoveReport", "NoteErrorReason", "OperationRecord"]


class NoteErrorReason(StrEnum):
    """Why a note was rejected during a pick (XFS4IoT ``NoteErrorEvent``)."""

    DOUBLE_NOTE = "doubleNote"
    LONG_NOTE = "longNote"
    SKEWED_NOTE = "skewedNote"
    INCORRECT_COUNT = "incorrectCount"
    NOTES_TOO_CLOSE = "notesTooClose"
    OTHER_NOTE_ERROR = "otherNoteError"
    SHORT_NOTE = "shortNote"


# --- the backend's reports ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Move:
    """Notes of one kind the device moved from one location to another.

    Attributes:
        source: a unit id or a position (`STACKER`, `TRANSPORT`, `EXIT`).
        destination: a unit id, a position or `CUSTOMER`.
        item: the notes' ledger item (`note_item`).
        count: how many (> 0).
    """

    source: str
    destination: str
    item: str
    count: int

    def __post_init__(self) -> None:
        if isinstance(self.count, bool) or not isinstance(self.count, int) or self.count <= 0:
            raise InvalidData(f"a move carries a positive number of notes, got {self.count!r}")
        if self.source == self.destination:
            raise InvalidData(f"a move needs two locations, got {self.source!r} twice")


@dataclass(frozen=True, slots=True)
class Fault:
    """Why an operation stopped short (the device's error, in XFS4IoT terms).

    Attributes:
        error_code: an XFS4IoT error code (``mediaJam``, ``cashUnitError``,
            ``shutterFail``...) or ``hardwareError``.
        description: what the device said, for people (no secrets: notes have none).
        unit: the unit at fault, when there is one.
    """

    error_code: str
    description: str
    unit: str | None = None


@dataclass(frozen=True, slots=True)
class MoveReport:
    """What one backend operation did: every note it moved, and why it stopped short.

    Attributes:
        moves: the notes moved, in order; a partial operation lists what did move.
        fault: why it stopped short; ``None`` when it did all it was asked.
        note_errors: notes rejected on the way, by reason (a `NoteError` event each).
        uncertain: moves the device may have made but cannot count, each of at most its
            ``count`` notes (an LCDM-4000 jam leaves notes in its transport and says not
            how many): the service journals them settled ``unknown``, never guessed into
            a count, until the next count of the units involved.
    """

    moves: tuple[Move, ...] = ()
    fault: Fault | None = None
    note_errors: tuple[NoteErrorReason, ...] = ()
    uncertain: tuple[Move, ...] = ()

    def total(self, source: str | None = None, destination: str | None = None) -> int:
        """Notes moved, optionally only from ``source`` and/or to ``destination``."""
        return sum(
            m.count
            for m in self.moves
            if (source is None or m.source == source)
            and (destination is None or m.destination == destination)
        )


@dataclass(frozen=True, slots=True)
class OperationRecord:
    """What the device remembers of one operation, asked after a restart.

    Attributes:
        token: the operation's token, as the service gave it.
        received: the device got the command; ``False``: nothing moved.
        report: what it did (empty when not received).
    """

    token: int
    received: bool
    report: MoveReport = MoveReport()


@dataclass(frozen=True, slots=True)
class Contents:
    """How many notes the device senses in its positions now (``None``: cannot tell).

    Attributes:
        stacker: notes in the intermediate stacker.
        transport: notes in the transport.
        exit: notes at the exit.
        taken: the customer took the last notes presented (``None``: cannot tell).
    """

    stacker: int | None = None
    transport: int | None = None
    exit: int | None = None
    taken: bool | None = None
