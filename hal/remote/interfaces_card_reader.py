"""The CardReader over the remote: its payloads, completions and `CARD_READER`.

Names follow XFS4IoT where it has the command (``CardReader.Move``...).
``CardReader.GetRetainBin``, ``CardReader.EmptyRetainBin``, ``CardReader.GetStacker``
and ``CardReader.LoadStacker`` are ours (XFS4IoT spreads the same over ``Storage``).
``CardReader.Move`` carries the XFS4IoT ``from`` as ``from_unit`` (``null``: the card
inside; ``"stacker"``: issue one).

Track data, APDUs and R-APDUs are cardholder data: the reprs below show their sizes only.
Every name here is also importable from `hal.remote.interfaces`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from hal.devices.card_reader import (
    CardAction,
    CardReaderCapabilities,
    CardReaderStatus,
    CardStacker,
    ChipPowerAction,
    InsertCard,
    InvalidMediaEvent,
    MediaDetected,
    MediaInserted,
    MediaRemoved,
    MoveTarget,
    ReadResult,
    ResetAction,
    RetainBin,
    StorageError,
    Track,
)
from hal.remote.interfaces import Command, build_interface, size_only

__all__ = [
    "CARD_READER",
    "ChipIOCompletion",
    "ChipIOPayload",
    "ChipPowerCompletion",
    "ChipPowerPayload",
    "EmptyRetainBinPayload",
    "LoadStackerPayload",
    "MovePayload",
    "ReadRawDataPayload",
    "ResetPayload",
    "WriteRawDataPayload",
]


@dataclass(frozen=True)
class ReadRawDataPayload:
    """``CardReader.ReadRawData``: the sources to read."""

    tracks: tuple[Track, ...]


@dataclass(frozen=True, repr=False)
class WriteRawDataPayload:
    """``CardReader.WriteRawData``: the characters to write, per track (never printed)."""

    data: Mapping[Track, bytes]

    def __repr__(self) -> str:
        tracks = ", ".join(f"{Track(t).value}={size_only(v)}" for t, v in self.data.items())
        return f"WriteRawDataPayload({tracks})"


@dataclass(frozen=True)
class MovePayload:
    """``CardReader.Move``: where to, and from which storage unit (``None``: the card
    inside)."""

    to: MoveTarget
    from_unit: str | None = None


@dataclass(frozen=True)
class ChipPowerPayload:
    """``CardReader.ChipPower``."""

    action: ChipPowerAction


@dataclass(frozen=True)
class ChipPowerCompletion:
    """The ATR of a reset (``b""`` for off)."""

    atr: bytes


@dataclass(frozen=True, repr=False)
class ChipIOPayload:
    """``CardReader.ChipIO``: one command APDU (an offline PIN VERIFY: never printed)."""

    apdu: bytes

    def __repr__(self) -> str:
        return f"ChipIOPayload(apdu={size_only(self.apdu)})"


@dataclass(frozen=True, repr=False)
class ChipIOCompletion:
    """The response APDU (a READ RECORD holds the PAN: never printed)."""

    response: bytes

    def __repr__(self) -> str:
        return f"ChipIOCompletion(response={size_only(self.response)})"


@dataclass(frozen=True)
class ResetPayload:
    """``CardReader.Reset``."""

    to: ResetAction


@dataclass(frozen=True)
class EmptyRetainBinPayload:
    """``CardReader.EmptyRetainBin``: why (for the ledger)."""

    reason: str


@dataclass(frozen=True)
class LoadStackerPayload:
    """``CardReader.LoadStacker``: the cards counted into the stacker, and why."""

    count: int
    reason: str


CARD_READER: Final = build_interface(
    "CardReader",
    CardReaderStatus,
    CardReaderCapabilities,
    (
        Command("CardReader.ReadRawData", "read_raw_data", ReadRawDataPayload, ReadResult),
        Command("CardReader.WriteRawData", "write_raw_data", WriteRawDataPayload),
        Command("CardReader.Move", "move", MovePayload),
        Command("CardReader.ChipPower", "chip_power", ChipPowerPayload, ChipPowerCompletion, "atr"),
        Command("CardReader.ChipIO", "chip_io", ChipIOPayload, ChipIOCompletion, "response"),
        Command("CardReader.Reset", "reset", ResetPayload),
        Command("CardReader.GetRetainBin", "retain_bin", completion=RetainBin, queued=False),
        Command(
            "CardReader.EmptyRetainBin", "empty_retain_bin", EmptyRetainBinPayload, queued=False
        ),
        Command("CardReader.GetStacker", "stacker", completion=CardStacker, queued=False),
        Command("CardReader.LoadStacker", "load_stacker", LoadStackerPayload, queued=False),
    ),
    (
        InsertCard,
        MediaInserted,
        InvalidMediaEvent,
        MediaRemoved,
        MediaDetected,
        CardAction,
        StorageError,
    ),
)
