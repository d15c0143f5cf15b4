"""The rules of a keyboard entry, shared by every PIN pad backend.

`EntryTracker` takes key presses one at a time and says what each does: add a digit,
remove one, clear the entry, end it, or nothing. It never sees a digit's value in a PIN
entry, only that a digit key was pressed; a backend that holds the PIN (a simulator
model) applies the `Step.action` to its own buffer, and one whose device holds it (a
driver) just counts. The events it makes carry no digit in a PIN entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from hal.devices.pin_pad_model import (
    DIGIT_KEYS,
    KEY_CHARACTERS,
    EntryCompletion,
    EntrySpec,
)

__all__ = ["EntryAction", "EntryTracker", "Step"]

_COMPLETION_OF = {
    "enter": EntryCompletion.ENTER,
    "cancel": EntryCompletion.CANCEL,
    "clear": EntryCompletion.CLEAR,
    "backspace": EntryCompletion.BACKSPACE,
    "help": EntryCompletion.HELP,
}


class EntryAction(StrEnum):
    """What a key press does to the entry's buffer."""

    NONE = "none"  # ignored, or a function key that does not edit
    ADD = "add"  # append the key's character(s)
    REMOVE = "remove"  # drop the last character (or digit)
    CLEAR = "clear"  # empty the buffer
    DISCARD = "discard"  # the entry was cancelled: empty the buffer for good


@dataclass(frozen=True)
class Step:
    """The outcome of one key press.

    Attributes:
        action: what to do to the buffer.
        event: ``(completion, digit)`` for the `KeyEvent` to emit, or ``None`` for a
            key that is ignored (not active, or past ``max_len``).
        done: the entry's completion if this press ended it, else ``None``.
    """

    action: EntryAction
    event: tuple[EntryCompletion, str | None] | None
    done: EntryCompletion | None = None


class EntryTracker:
    """Follows one entry by `EntrySpec`; ``secure`` for a PIN entry.

    ``length`` counts digits in a PIN entry and characters in a data entry.
    """

    def __init__(self, spec: EntrySpec, *, secure: bool) -> None:
        self.spec = spec
        self.secure = secure
        self.length = 0
        self._sizes: list[int] = []
        self.done: EntryCompletion | None = None
        self.key = ""

    def __repr__(self) -> str:
        return f"EntryTracker(secure={self.secure}, length={self.length}, done={self.done})"

    def press(self, key: str) -> Step:
        """Apply one key press (an XFS4IoT key name)."""
        if self.done is not None or key not in self.spec.active_keys:
            return Step(EntryAction.NONE, None)
        if key in self.spec.terminate_keys:
            return self._terminate(key)
        if key in KEY_CHARACTERS and (not self.secure or key in DIGIT_KEYS):
            return self._add(key)
        if key == "backspace":
            if not self._sizes:
                return Step(EntryAction.NONE, (EntryCompletion.BACKSPACE, key))
            self.length -= self._sizes.pop()
            return Step(EntryAction.REMOVE, (EntryCompletion.BACKSPACE, key))
        if key == "clear":
            self.length = 0
            self._sizes.clear()
            return Step(EntryAction.CLEAR, (EntryCompletion.CLEAR, key))
        completion = self._completion_of(key)
        return Step(EntryAction.NONE, (completion, key))

    def _add(self, key: str) -> Step:
        size = 1 if self.secure else len(KEY_CHARACTERS[key])
        if self.length + size > self.spec.max_len:
            return Step(EntryAction.NONE, None)
        self.length += size
        self._sizes.append(size)
        digit = None if self.secure else key
        if self.spec.auto_end and self.length == self.spec.max_len:
            self.done = EntryCompletion.AUTO
            return Step(EntryAction.ADD, (EntryCompletion.AUTO, digit), EntryCompletion.AUTO)
        return Step(EntryAction.ADD, (EntryCompletion.CONTINUE, digit))

    def _terminate(self, key: str) -> Step:
        completion = self._completion_of(key)
        if completion is EntryCompletion.CANCEL:
            self.done = completion
            self.key = key
            self.length = 0
            self._sizes.clear()
            return Step(EntryAction.DISCARD, (completion, key), completion)
        if self.length < self.spec.min_len:
            # Too few digits for a terminate key: the device ignores it.
            return Step(EntryAction.NONE, None)
        self.done = completion
        self.key = key
        return Step(EntryAction.NONE, (completion, key), completion)

    @staticmethod
    def _completion_of(key: str) -> EntryCompletion:
        if key in _COMPLETION_OF:
            return _COMPLETION_OF[key]
        if key.startswith("fdk"):
            return EntryCompletion.FDK
        if key.startswith("fk"):
            return EntryCompletion.FK
        return EntryCompletion.CONTINUE
