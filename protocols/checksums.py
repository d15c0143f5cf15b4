"""Checksums shared by the card-reader codecs.

- ``bcc_xor``: the block check character of Creator readers (CRT-310, CRT-591) and of
  many other serial kiosk devices: the XOR of every byte it covers.
- ``xor_of_values``: the core of the ISO/IEC 7811 magnetic-track LRC, the XOR of each
  character's data value (the character minus the track's base, parity excluded).
  ``protocols.tracks.lrc`` applies it to a track.

Sources: reference/protocols.md §2.1 (BCC) and §2.4 (track LRC). Pure functions, no I/O.
"""

from __future__ import annotations

from functools import reduce
from operator import xor

__all__ = ["bcc_xor", "xor_of_values"]


def bcc_xor(data: bytes | bytearray | memoryview) -> int:
    """XOR of every byte of ``data`` (0 for no bytes).

    Args:
        data: the bytes the BCC covers (for the CRT-310: STX through ETX inclusive).

    Returns:
        The BCC, 0..255.
    """
    # reduce over a bytes object beats an explicit loop and int.from_bytes folding for
    # the 7..271-byte frames we see (measured in bench/bench_codecs.py's baseline).
    return reduce(xor, data, 0)


def xor_of_values(data: bytes | bytearray, base: int) -> int:
    """XOR of ``byte - base`` over ``data``.

    For a magnetic track, ``base`` is 0x20 (track 1) or 0x30 (tracks 2/3) and each
    ``byte - base`` is the character's data bits without parity.

    Args:
        data: characters already checked to lie at or above ``base``.
        base: the value of the character set's first character.

    Returns:
        The XOR of the values (not masked: the caller knows the bit width).

    Raises:
        ValueError: a byte is below ``base`` (a caller mistake: validate first).
    """
    acc = 0
    for byte in data:
        value = byte - base
        if value < 0:
            raise ValueError(f"byte 0x{byte:02X} is below the character base 0x{base:02X}")
        acc ^= value
    return acc
