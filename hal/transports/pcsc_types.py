"""The values a PC/SC reader takes and gives: options, the reader's state, card actions.

`PcscOptions` are a ``pcsc`` address's options (`hal.transports.pcsc` documents the
address); `ReaderState` is what ``SCardGetStatusChange`` says about the reader (its
``repr`` shows the ATR's length, never its bytes); `Disposition` and `Init` are what a
disconnect or a reconnect does with the card. The ``SCARD_*`` numbers behind them are
pcsclite.h's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import IntEnum
from typing import Literal

from hal.errors import ConfigurationError

__all__ = [
    "ATTR_VENDOR_IFD_VERSION",
    "ATTR_VENDOR_NAME",
    "PROTOCOLS",
    "PROTOCOL_NAMES",
    "SHARE",
    "SHARE_DIRECT",
    "Disposition",
    "Init",
    "PcscOptions",
    "ReaderState",
    "firmware_text",
    "ifd_version",
    "vendor_name",
]

# Reader state bits (SCARDSTATE_*); the high 16 bits count events.
STATE_CHANGED = 0x0002
STATE_UNKNOWN = 0x0004
STATE_UNAVAILABLE = 0x0008
STATE_PRESENT = 0x0020
STATE_EXCLUSIVE = 0x0080
STATE_INUSE = 0x0100
STATE_MUTE = 0x0200

#: ``share`` option -> SCARD_SHARE_*.
SHARE = {"shared": 2, "exclusive": 1}
_PROTOCOL_T0, _PROTOCOL_T1 = 1, 2
#: ``protocol`` option -> the SCARD_PROTOCOL_* bits ``connect`` offers.
PROTOCOLS = {"any": _PROTOCOL_T0 | _PROTOCOL_T1, "T0": _PROTOCOL_T0, "T1": _PROTOCOL_T1}
#: An agreed SCARD_PROTOCOL_* -> its name.
PROTOCOL_NAMES = {_PROTOCOL_T0: "T0", _PROTOCOL_T1: "T1"}
#: SCARD_SHARE_DIRECT: a connection to the reader itself (no card needed, none powered).
SHARE_DIRECT = 3
#: SCardGetAttrib attributes: the reader driver's vendor name, and its version (a DWORD
#: 0xMMmmbbbb: major, minor, build).
ATTR_VENDOR_NAME = 0x10100
ATTR_VENDOR_IFD_VERSION = 0x10102


def ifd_version(value: bytes) -> str:
    """``SCARD_ATTR_VENDOR_IFD_VERSION`` as text, ``MAJOR.MINOR.BUILD`` (empty if the
    value is not the 4-byte little-endian DWORD pcsclite hands over)."""
    if len(value) != 4:
        return ""
    number = int.from_bytes(value, "little")
    return f"{number >> 24}.{(number >> 16) & 0xFF}.{number & 0xFFFF}"


def vendor_name(value: bytes) -> str:
    """``SCARD_ATTR_VENDOR_NAME`` as text (a NUL-terminated ASCII string)."""
    return value.split(b"\x00", 1)[0].decode("ascii", "replace").strip()


def firmware_text(vendor: bytes | None, version: bytes | None) -> str:
    """What the reader's driver says of its firmware: the version, after the vendor
    name when it gives one (``ACS 2.3.0``); empty without a version."""
    text = ifd_version(version or b"")
    if not text:
        return ""
    name = vendor_name(vendor or b"")
    return f"{name} {text}" if name else text


class Disposition(IntEnum):
    """What ``disconnect`` does with the card (``SCARD_*_CARD``)."""

    LEAVE = 0
    RESET = 1
    UNPOWER = 2
    EJECT = 3


class Init(IntEnum):
    """How ``reconnect`` re-initialises the card: a warm reset or a power cycle."""

    RESET = 1
    UNPOWER = 2


@dataclass(frozen=True)
class PcscOptions:
    """The options of a ``pcsc`` address (the reader itself is the authority).

    Attributes:
        index: the reader's place in pcscd's list (0 first), used when the address
            names no reader; empty: the first.
        share: ``exclusive`` (no other application meanwhile) or ``shared``.
        protocol: ``any``, ``T0`` or ``T1``: what ``connect`` offers the card.
        wait_slice: the longest single status-change wait, in seconds.

    Raises:
        ConfigurationError: a value out of range.
    """

    index: int | None = None
    share: Literal["exclusive", "shared"] = "exclusive"
    protocol: Literal["any", "T0", "T1"] = "any"
    wait_slice: float = 0.25

    def __post_init__(self) -> None:
        if self.index is not None and self.index < 0:
            raise ConfigurationError(f"index must be >= 0, got {self.index}")
        if not (math.isfinite(self.wait_slice) and 0.01 <= self.wait_slice <= 10):
            raise ConfigurationError(f"wait_slice must be 0.01 to 10 s, got {self.wait_slice}")


@dataclass(frozen=True, repr=False)
class ReaderState:
    """What pcscd says about the reader (``SCardGetStatusChange``).

    Attributes:
        present: a card is in the reader.
        mute: a card is in but gave no answer to reset pcscd could use.
        atr: the answer to reset pcscd read at insertion (empty without a card).
        in_use: some application is connected to the card.
        exclusive: an application holds the card exclusively.
        raw: the event state as pcscd reports it (bits and the event counter).
    """

    present: bool
    mute: bool
    atr: bytes
    in_use: bool
    exclusive: bool
    raw: int

    @property
    def events(self) -> int:
        """pcscd's count of card events on the reader (insertions and removals)."""
        return self.raw >> 16

    @property
    def usable(self) -> bool:
        """A card is in and its ATR starts with a valid TS byte (3B or 3F)."""
        return self.present and not self.mute and self.atr[:1] in (b"\x3b", b"\x3f")

    @classmethod
    def from_raw(cls, raw: int, atr: bytes) -> ReaderState:
        present = bool(raw & STATE_PRESENT)
        return cls(
            present=present,
            mute=bool(raw & STATE_MUTE),
            atr=atr if present else b"",
            in_use=bool(raw & STATE_INUSE),
            exclusive=bool(raw & STATE_EXCLUSIVE),
            raw=raw & ~STATE_CHANGED,
        )

    def __repr__(self) -> str:
        return (
            f"ReaderState(present={self.present}, mute={self.mute}, "
            f"atr=<{len(self.atr)} bytes>, events={self.events})"
        )
