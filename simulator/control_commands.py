"""The commands of the simulator's control socket, and what they carry.

The control socket (`simulator.server.ControlServer`) speaks the envelope of the ZeroMQ
remote (`hal.remote.messages`): a ``command`` with a ``requestId`` and, for the commands
that act on a device, the device's name in the header's ``device``; one
``acknowledge``, then one ``completion``. Payloads and completions are the dataclasses
below, carried by `hal.remote.codec` (camelCase fields, bytes as blob frames).

Timeouts here are real seconds, as in `simulator.control.CardReaderControl`; durations
given to the model (``Control.SlowReplies``) are simulated seconds.

A command acts on a card reader, a PIN pad, a cash dispenser, some of them or any
(`ControlCommand.target`). On a PIN pad, ``Control.PressKeys`` is the customer's
fingers: key names (``seven``, ``enter``), which the simulator never logs (it logs how
many keys were pressed). On a cash dispenser (`simulator.cash_control`):
``Control.TakeNotes`` (the customer takes the notes at the exit), ``Control.NotesAtExit``,
``Control.GroundTruth`` (where every note is), ``Control.Replenish``, ``Control.ClearJam``,
and the faults ``Control.JamNextDispense``, ``Control.DoubleNote``, ``Control.FailPick``,
``Control.UnitStatus``, ``Control.JamShutter``, ``Control.PartialRetract``,
``Control.NeverTake``, ``Control.SafeDoor``, ``Control.PickTime`` (simulated seconds a
note).

On a cash acceptor (`simulator.cash_in_control`): ``Control.InsertNotes`` (the customer
puts a bunch of notes into the input: items, and optionally each one's level),
``Control.TakeReturned`` (the customer takes the notes given back at the exit),
``Control.NotesAtExit``, ``Control.GroundTruth``, ``Control.EmptyUnit`` (the operator
empties a unit), ``Control.Replenish``, ``Control.ClearJam``, and the faults
``Control.JamNextNote``, ``Control.CashBoxFull``, ``Control.RemoveCashBox``,
``Control.UnitStatus``, ``Control.NeverTake``, ``Control.SafeDoor``,
``Control.PowerLoss``, ``Control.SlowReplies`` and ``Control.PickTime`` (simulated
seconds a note takes through the reader). A recycler's dispenser side is driven
through its acceptor's name.

On an ID scanner (`simulator.id_control`): ``Control.PresentDocument`` (the customer
presents a document of a shipped profile; the completion names the profile, its kind and
whether it should pass the checks, never its personal data), ``Control.RemoveDocument``
(the customer takes it), ``Control.DocumentPosition``, ``Control.RetainedCount``,
``Control.EmptyRetainBin``, ``Control.WaitFor`` (`simulator.id_control.ID_CONDITIONS`),
``Control.ClearJam``, and the faults ``Control.JamDocument`` (the next movement jams),
``Control.SamFailure`` (the security module fails its self-test), ``Control.FailRead``
(the next read fails), ``Control.SlowRead`` (simulated seconds added to every read),
``Control.PowerLoss`` and ``Control.SlowReplies``.

On a camera (`simulator.camera_control`): ``Control.SetScene`` (what a camera sees from
its next frame on: a scene of `simulator.scenes` or ``file:PATH``), ``Control.UnplugCamera``
and ``Control.ReplugCamera`` (the camera leaves the bus; comes back, and works after a
reset), ``Control.SlowCapture`` (simulated seconds a frame takes), ``Control.PowerLoss``
and ``Control.SlowReplies``.

On a receipt or journal printer (`simulator.printer_control`): ``Control.TakeReceipt``
(the customer takes the cut receipt, waiting for one), ``Control.PaperOut`` (the roll
ends after ``afterLines`` more lines), ``Control.PaperLow``, ``Control.ReplenishPaper``
(a new roll: ``Control.Replenish`` is the cash units'), ``Control.OpenCover``,
``Control.CloseCover``, ``Control.JamPrinter`` (the next job jams after ``afterLines``),
``Control.PrintedLines`` (the text lines printed since the last call),
``Control.LastReceipt`` (the newest paper's text and, as a blob, its PNG),
``Control.PowerLoss`` and ``Control.SlowReplies``.

The kinds, `ControlCommand` and the payloads several kinds share live in
`simulator.control_commands_base`; the ID scanner's, the camera's and the printer's
payloads and commands in `simulator.control_commands_id`, `simulator.control_commands_camera`
and `simulator.control_commands_printer`. This module re-exports them and holds the card
reader's, the PIN pad's and the cash devices' own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from hal.stimulus import CardSample
from simulator.control_commands_base import (
    ANY_DEVICE,
    CAMERA,
    CARD_READER,
    CASH_ACCEPTOR,
    CASH_DISPENSER,
    ID_SCANNER,
    MAX_WAIT,
    PIN_PAD,
    PRINTER,
    ControlCommand,
    CountCompletion,
    FlagPayload,
    PositionCompletion,
    SlowRepliesPayload,
    TakeCardPayload,
    _check_wait,
)
from simulator.control_commands_camera import (
    CAMERA_COMMANDS,
    CAMERA_POSITIONS,
    MAX_SCENE,
    CameraPayload,
    SetScenePayload,
)
from simulator.control_commands_id import (
    ID_COMMANDS,
    DocumentPresentedCompletion,
    PresentDocumentPayload,
    SlowReadPayload,
)
from simulator.control_commands_printer import (
    PRINTER_COMMANDS,
    LastReceiptCompletion,
    PaperOutPayload,
    PrintedLinesCompletion,
)

__all__ = [
    "ANY_DEVICE",
    "CAMERA",
    "CAMERA_POSITIONS",
    "CARD_READER",
    "CASH_ACCEPTOR",
    "CASH_DISPENSER",
    "COMMANDS",
    "ID_SCANNER",
    "MAX_SCENE",
    "MAX_WAIT",
    "PIN_PAD",
    "PRINTER",
    "CameraPayload",
    "ControlCommand",
    "CountCompletion",
    "DocumentPresentedCompletion",
    "EntryActiveCompletion",
    "FlagPayload",
    "GroundTruthCompletion",
    "InsertCardPayload",
    "InsertNotesPayload",
    "JamNextDispensePayload",
    "LastReceiptCompletion",
    "LeavePayload",
    "NeverTakePayload",
    "PaperOutPayload",
    "PickTimePayload",
    "PositionCompletion",
    "PowerLossPayload",
    "PresentDocumentPayload",
    "PressKeysPayload",
    "PrintedLinesCompletion",
    "ReplenishPayload",
    "SafeDoorPayload",
    "SetScenePayload",
    "SlowReadPayload",
    "SlowRepliesPayload",
    "TakeCardPayload",
    "TakeNotesPayload",
    "UnitPayload",
    "UnitStatusPayload",
    "WaitForEntryPayload",
    "WaitForPayload",
]

#: The most keys one ``Control.PressKeys`` presses.
MAX_KEYS: Final = 64


#: The commands both kinds of cash device take.
_CASH: Final = (CASH_DISPENSER, CASH_ACCEPTOR)

#: The most notes one ``Control.InsertNotes`` inserts.
MAX_NOTES: Final = 500

#: The note levels ``Control.InsertNotes`` takes (`hal.devices.cash_in_model.NoteLevel`).
NOTE_LEVELS: Final = frozenset({"fit", "unfit", "suspect", "counterfeit", "unrecognized"})


@dataclass(frozen=True)
class InsertCardPayload:
    """``Control.InsertCard``: the shipped card profile to push into the slot."""

    profile: str


@dataclass(frozen=True)
class PowerLossPayload:
    """``Control.PowerLoss``: ``on`` cuts the power, ``False`` restores it."""

    on: bool


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
class TakeNotesPayload:
    """``Control.TakeNotes``, ``Control.TakeReturned``: real seconds to wait for notes at
    the exit."""

    timeout: float

    def __post_init__(self) -> None:
        _check_wait("timeout", self.timeout)


@dataclass(frozen=True)
class JamNextDispensePayload:
    """``Control.JamNextDispense``: notes that land before the next one jams."""

    after_notes: int


@dataclass(frozen=True)
class UnitPayload:
    """``Control.DoubleNote``, ``Control.FailPick``: the cash unit whose next pick fails;
    ``Control.EmptyUnit``: the unit an operator empties."""

    unit: str


@dataclass(frozen=True)
class UnitStatusPayload:
    """``Control.UnitStatus``: a unit's physical state (``ok``, ``missing``...)."""

    unit: str
    status: str


@dataclass(frozen=True)
class ReplenishPayload:
    """``Control.Replenish``: the notes an operator leaves in a unit."""

    unit: str
    count: int


@dataclass(frozen=True)
class LeavePayload:
    """``Control.PartialRetract``: notes the next retract leaves at the exit."""

    leave: int


@dataclass(frozen=True)
class NeverTakePayload:
    """``Control.NeverTake``: the customer never takes the notes (``False`` undoes it)."""

    never: bool


@dataclass(frozen=True)
class SafeDoorPayload:
    """``Control.SafeDoor``: the safe door is open (``False``: closed)."""

    open: bool


@dataclass(frozen=True)
class PickTimePayload:
    """``Control.PickTime``: simulated seconds one note takes."""

    seconds: float

    def __post_init__(self) -> None:
        _check_wait("seconds", self.seconds)


@dataclass(frozen=True)
class InsertNotesPayload:
    """``Control.InsertNotes``: the notes' items (``CNY:10000``) in the order inserted,
    and each one's level (``fit``, ``unfit``, ``suspect``, ``counterfeit``,
    ``unrecognized``); no levels: all ``fit``."""

    notes: tuple[str, ...]
    levels: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not 1 <= len(self.notes) <= MAX_NOTES:
            raise ValueError(f"notes must be 1 to {MAX_NOTES} items, got {len(self.notes)}")
        if self.levels and len(self.levels) != len(self.notes):
            raise ValueError(
                f"levels must be one per note ({len(self.notes)}), got {len(self.levels)}"
            )
        unknown = sorted(set(self.levels) - NOTE_LEVELS)
        if unknown:
            raise ValueError(f"unknown note levels {unknown}; known: {sorted(NOTE_LEVELS)}")


@dataclass(frozen=True)
class GroundTruthCompletion:
    """Where every note physically is: ``{unit id or position: notes}``."""

    notes: dict[str, int]


@dataclass(frozen=True)
class EntryActiveCompletion:
    """Whether the PIN pad is in an entry (its keyboard taking keys)."""

    active: bool


COMMANDS: Final[dict[str, ControlCommand]] = {
    command.name: command
    for command in (
        ControlCommand("Control.InsertCard", InsertCardPayload, CardSample),
        ControlCommand("Control.TakeCard", TakeCardPayload, wait="timeout"),
        ControlCommand("Control.Jam"),
        ControlCommand("Control.ClearJam", target=(CARD_READER, *_CASH, ID_SCANNER)),
        ControlCommand("Control.CardPosition", completion=PositionCompletion),
        ControlCommand(
            "Control.RetainedCount", completion=CountCompletion, target=(CARD_READER, ID_SCANNER)
        ),
        ControlCommand(
            "Control.EmptyRetainBin", completion=CountCompletion, target=(CARD_READER, ID_SCANNER)
        ),
        ControlCommand("Control.StackerCount", completion=CountCompletion),
        ControlCommand("Control.LoadStacker", LoadStackerPayload),
        ControlCommand("Control.PowerLoss", PowerLossPayload, target=ANY_DEVICE),
        ControlCommand("Control.SlowReplies", SlowRepliesPayload, target=ANY_DEVICE),
        ControlCommand(
            "Control.WaitFor", WaitForPayload, wait="timeout", target=(CARD_READER, ID_SCANNER)
        ),
        ControlCommand("Control.PressKeys", PressKeysPayload, wait="timeout", target=PIN_PAD),
        ControlCommand("Control.WaitForEntry", WaitForEntryPayload, wait="timeout", target=PIN_PAD),
        ControlCommand("Control.EntryActive", completion=EntryActiveCompletion, target=PIN_PAD),
        ControlCommand(
            "Control.TakeNotes",
            TakeNotesPayload,
            CountCompletion,
            wait="timeout",
            target=CASH_DISPENSER,
        ),
        ControlCommand("Control.NotesAtExit", completion=CountCompletion, target=_CASH),
        ControlCommand("Control.GroundTruth", completion=GroundTruthCompletion, target=_CASH),
        ControlCommand("Control.Replenish", ReplenishPayload, target=_CASH),
        ControlCommand("Control.JamNextDispense", JamNextDispensePayload, target=CASH_DISPENSER),
        ControlCommand("Control.DoubleNote", UnitPayload, target=CASH_DISPENSER),
        ControlCommand("Control.FailPick", UnitPayload, target=CASH_DISPENSER),
        ControlCommand("Control.UnitStatus", UnitStatusPayload, target=_CASH),
        ControlCommand("Control.JamShutter", target=CASH_DISPENSER),
        ControlCommand("Control.PartialRetract", LeavePayload, target=CASH_DISPENSER),
        ControlCommand("Control.NeverTake", NeverTakePayload, target=_CASH),
        ControlCommand("Control.SafeDoor", SafeDoorPayload, target=_CASH),
        ControlCommand("Control.PickTime", PickTimePayload, target=_CASH),
        ControlCommand(
            "Control.InsertNotes", InsertNotesPayload, CountCompletion, target=CASH_ACCEPTOR
        ),
        ControlCommand(
            "Control.TakeReturned",
            TakeNotesPayload,
            CountCompletion,
            wait="timeout",
            target=CASH_ACCEPTOR,
        ),
        ControlCommand("Control.JamNextNote", target=CASH_ACCEPTOR),
        ControlCommand("Control.EmptyUnit", UnitPayload, CountCompletion, target=CASH_ACCEPTOR),
        ControlCommand("Control.CashBoxFull", FlagPayload, target=CASH_ACCEPTOR),
        ControlCommand("Control.RemoveCashBox", FlagPayload, target=CASH_ACCEPTOR),
        *ID_COMMANDS,
        *CAMERA_COMMANDS,
        *PRINTER_COMMANDS,
        ControlCommand("Control.Reset", device=False),
    )
}
"""Every control command by wire name."""
