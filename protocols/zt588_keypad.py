"""Zhengtong (SZZT) ZT588 EPP: key presses, which travel outside frames, one byte each:
`Key`, the byte each key sends with smartware's scancode table (`KEY_BYTES`), `KeyPress`
and `key_press` (``protocols.zt588`` describes them).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from protocols.zt588_frame import DIGITS

__all__ = ["KEY_BYTES", "MASK_CHAR", "Key", "KeyPress", "key_press"]

MASK_CHAR = 0x2A  # '*'


class Key(StrEnum):
    """What a key press is (XFS4IoT key names where there is one)."""

    DIGIT = "digit"  # '0'..'9' outside PIN mode: KeyPress.digit says which
    MASKED = "masked"  # a digit in PIN mode: the mask character, no digit [U '*']
    ENTER = "enter"
    CANCEL = "cancel"
    CLEAR = "clear"
    DEC_POINT = "decPoint"
    DOUBLE_ZERO = "doubleZero"
    BLANK = "blank"  # the unlabelled key (BEL)
    FDK01 = "fdk01"
    FDK02 = "fdk02"
    FDK03 = "fdk03"
    FDK04 = "fdk04"
    FDK05 = "fdk05"
    FDK06 = "fdk06"
    FDK07 = "fdk07"
    FDK08 = "fdk08"


KEY_BYTES: dict[int, Key] = {
    0x1B: Key.CANCEL,
    0x80: Key.CANCEL,  # [S] smartware treats it as cancel
    0x08: Key.CLEAR,
    0x0D: Key.ENTER,
    0x2E: Key.DEC_POINT,
    0x23: Key.DOUBLE_ZERO,
    0x07: Key.BLANK,
    **dict.fromkeys(DIGITS, Key.DIGIT),
    **{0x41 + n: Key(f"fdk{n + 1:02d}") for n in range(8)},
}
_BYTE_OF_KEY = {key: byte for byte, key in KEY_BYTES.items() if byte != 0x80}


@dataclass(frozen=True, slots=True, repr=False)
class KeyPress:
    """One key press between frames. ``repr`` never shows a digit."""

    key: Key
    raw: int

    @property
    def digit(self) -> str | None:
        """'0'..'9' for a DIGIT press; None for any other (a MASKED press included)."""
        return chr(self.raw) if self.key is Key.DIGIT else None

    @property
    def wire_size(self) -> int:
        return 1

    def to_bytes(self) -> bytes:
        return bytes((self.raw,))

    def __repr__(self) -> str:
        return f"KeyPress({self.key.value})"


def key_press(key: Key, digit: str | None = None, *, mask: int = MASK_CHAR) -> KeyPress:
    """The press the pad sends for ``key`` (``digit`` for a DIGIT; ``mask`` for MASKED).

    Raises:
        ValueError: a DIGIT without one digit, or a digit for another key.
    """
    if key is Key.DIGIT:
        if digit is None or len(digit) != 1 or digit not in "0123456789":
            raise ValueError("a DIGIT press needs one digit '0'..'9'")
        return KeyPress(key, ord(digit))
    if digit is not None:
        raise ValueError(f"a {key.value} press carries no digit")
    return KeyPress(key, mask if key is Key.MASKED else _BYTE_OF_KEY[key])
