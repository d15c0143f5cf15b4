"""The ``spy+`` transport's maskers: a protocol's traffic as log lines, secrets masked.

A masker cuts one direction's bytes into the protocol's items with the protocol's stream
decoder (however the reads split them) and shows each as hex, with ``**`` for every byte
that may hold cardholder data or keys (DESIGN "Security rules"); a frame with masked
bytes has its checksum masked too (it would leak a parity of the data). Anything the
masker does not know (an unknown command, a reply it cannot decode, a bad checksum,
noise) is masked whole after what frames it.

The maskers of each protocol come with its driver (``DriverSpec.masker``: the Creator
ones are `drivers.card_reader.creator_maskers`), so hal names no vendor and a vendor's
driver brings its own. This module holds the contract and the fallback:

- `OpaqueMasker`: a protocol without a masker, masked whole (each chunk's length and
  ``**`` per byte).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

__all__ = ["HIDDEN", "RX", "TX", "Masker", "OpaqueMasker", "hex_masked"]

TX, RX = "TX", "RX"
HIDDEN = "**"


class Masker(Protocol):
    """Turns the bytes of one direction into log lines, masking what may be secret."""

    def lines(self, direction: str, data: bytes) -> list[str]:
        """The lines for ``data`` (``direction`` is ``TX`` or ``RX``); may keep a tail."""
        ...

    def reset(self) -> None:
        """Forget partial frames (the port was reopened)."""
        ...


def hex_masked(raw: bytes, hidden: Iterable[int], reveal: bool) -> str:
    """``raw`` as hex pairs, ``**`` at the ``hidden`` indices (none when ``reveal``)."""
    masked = set() if reveal else set(hidden)
    return " ".join(HIDDEN if i in masked else f"{b:02X}" for i, b in enumerate(raw))


class OpaqueMasker:
    """For a protocol without a decoder: every chunk masked whole (unless revealed)."""

    def __init__(self, reveal: bool = False) -> None:
        self.reveal = reveal

    def lines(self, direction: str, data: bytes) -> list[str]:
        return [f"{len(data):3d} bytes: {hex_masked(data, range(len(data)), self.reveal)}"]

    def reset(self) -> None:
        """Nothing is kept between chunks."""
