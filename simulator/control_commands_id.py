"""The control commands of a simulated ID scanner and what they carry
(`simulator.id_control`; re-exported by `simulator.control_commands`, whose docstring
describes them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from simulator.control_commands_base import (
    ID_SCANNER,
    ControlCommand,
    FlagPayload,
    PositionCompletion,
    TakeCardPayload,
    _check_wait,
)


@dataclass(frozen=True)
class PresentDocumentPayload:
    """``Control.PresentDocument``: the shipped document profile the customer presents."""

    profile: str


@dataclass(frozen=True)
class SlowReadPayload:
    """``Control.SlowRead``: simulated seconds added to every read (0: none)."""

    seconds: float

    def __post_init__(self) -> None:
        _check_wait("seconds", self.seconds)


@dataclass(frozen=True)
class DocumentPresentedCompletion:
    """What ``Control.PresentDocument`` presented: the profile, its document kind
    (``""`` for one no scanner reads) and whether every check should pass. No personal
    data: the caller finds the expected document in its own `simulator.id_profiles`."""

    profile: str
    kind: str
    valid: bool


ID_COMMANDS: Final[tuple[ControlCommand, ...]] = (
    ControlCommand(
        "Control.PresentDocument",
        PresentDocumentPayload,
        DocumentPresentedCompletion,
        target=ID_SCANNER,
    ),
    ControlCommand("Control.RemoveDocument", TakeCardPayload, wait="timeout", target=ID_SCANNER),
    ControlCommand("Control.DocumentPosition", completion=PositionCompletion, target=ID_SCANNER),
    ControlCommand("Control.JamDocument", target=ID_SCANNER),
    ControlCommand("Control.SamFailure", FlagPayload, target=ID_SCANNER),
    ControlCommand("Control.FailRead", target=ID_SCANNER),
    ControlCommand("Control.SlowRead", SlowReadPayload, target=ID_SCANNER),
)
"""The control commands only an ID scanner takes (in `simulator.control_commands.COMMANDS`)."""
