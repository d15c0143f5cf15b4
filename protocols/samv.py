"""SAM_V, the security-module protocol of China ID card readers: frames, commands, result
codes, a stream decoder and the reply bodies.

Link: 115200 bps 8N1 by default [S]. The host sends a command, the module answers with
one reply. Frames (reference/protocols.md §1.2 [V])::

    host -> SAM : AA AA AA 96 69 | LEN_H LEN_L | CMD PARA | DATA... | CHK
    SAM -> host : AA AA AA 96 69 | LEN_H LEN_L | SW1 SW2 SW3 | DATA... | CHK

- LEN (big-endian) counts every byte after it, CHK included;
- CHK is the XOR of every byte after the preamble except CHK itself (LEN included);
- SW1 SW2 are ``00 00`` in all observed traffic; SW3 is the result (`Sw3`, §1.4).

A command's first byte (CMD) is never 00 and a reply's (SW1) always is in observed
traffic: `direction_of` uses that to tell them apart in a capture [our inference].

Codec: plain slicing, `int.from_bytes` and a byte-wise XOR (`xor`), not construct:
measured in bench/bench_samv.py, the construct layout `FRAME` (kept for documentation
and checked against the codec in the tests) is several times slower.

Stream decoder (`SamvDecoder`): resynchronises on the preamble; the stray ``AA 00`` some
firmwares send before it (§1.2 [S]) is counted apart from other garbage; a frame with a
bad XOR or an impossible LEN is skipped (counted) and the search goes on from the byte
after its preamble; the buffer never holds more than one largest frame; ``feed`` never
raises.

Bodies: `parse_base_message` (30 01 and 30 10: the 2-byte big-endian lengths, text 256,
photo 1024, fingerprint 1024 or 0), `parse_newest_address` (70 bytes) and
`sam_id_string` (the SAM ID's display form, §1.5).

A reply's DATA may hold personal data (the text block, photo, fingerprints): the frames'
reprs show its length only.
"""

from __future__ import annotations

from protocols.samv_bodies import (
    FINGERPRINT_SIZE,
    NEWEST_ADDRESS_SIZE,
    PHOTO_SIZE,
    BaseMessage,
    parse_base_message,
    parse_newest_address,
    sam_id_string,
)
from protocols.samv_bodies import SAM_ID_SIZE as SAM_ID_SIZE  # public before the split
from protocols.samv_decoder import SamvDecoder
from protocols.samv_frames import (
    FRAME,
    MAX_LEN,
    PREAMBLE,
    SW3_MEANINGS,
    Command,
    CommandFrame,
    ReplyFrame,
    Sw3,
    build_command,
    build_reply,
    direction_of,
    parse_command,
    parse_reply,
    xor,
)
from protocols.samv_frames import HEADER as HEADER  # public before the split

__all__ = [
    "FINGERPRINT_SIZE",
    "FRAME",
    "MAX_LEN",
    "NEWEST_ADDRESS_SIZE",
    "PHOTO_SIZE",
    "PREAMBLE",
    "SW3_MEANINGS",
    "BaseMessage",
    "Command",
    "CommandFrame",
    "ReplyFrame",
    "SamvDecoder",
    "Sw3",
    "build_command",
    "build_reply",
    "direction_of",
    "parse_base_message",
    "parse_command",
    "parse_newest_address",
    "parse_reply",
    "sam_id_string",
    "xor",
]
