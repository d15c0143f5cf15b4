"""Creator CRT-310 (protocol V3.0) motorised IC / magnetic card reader: frames and payloads.

Link: RS-232, 9600 bps by default (1200-38400 selectable with ``34 Pm``), 8N1, half duplex.
Exchange: host sends a command frame; the reader answers ACK (06), or NAK (15) for a bad
BCC; the host sends ENQ (05); the reader executes and sends the reply frame. EOT (04)
cancels, and the reader echoes it.

Frame (both directions)::

    02 | LEN_H LEN_L | CM | PM | DATA | 03 | BCC

LEN (big-endian) counts CM + PM + DATA; BCC is the XOR of STX through ETX inclusive.
A positive reply echoes CM PM; an error reply is ``02 00 03 4E CM E 03 BCC``.

This module is the codec's public face: every name it offers is defined in one of three
modules, each importing only the ones above it in this list:

- ``protocols.crt310_frames``: frame layout and limits, control bytes, ``build_frame`` /
  ``parse_frame`` and the streaming decoder;
- ``protocols.crt310_commands``: the command table and the other code tables, command
  builders and the decoders of command frames;
- ``protocols.crt310_replies``: the reply dataclasses, ``decode_reply`` /
  ``encode_reply`` and the reply builders, with the spec's inconsistencies and our
  assumptions where it is silent.

Import from here (``from protocols.crt310 import Frame, decode_reply``); the split is
an implementation detail kept to make each part readable in one sitting.

Source of facts: reference/protocols.md §2.1 (Creator CRT-310 communication protocol
V3.0, 2007) and §7 vectors #16-#18.
"""

from __future__ import annotations

from protocols.crt310_commands import (
    BAUD_RATES,
    CardPosition,
    Command,
    EntryMode,
    ErrorCode,
    FrontEntry,
    IcCardType,
    OperationStatus,
    RearEntry,
    Request,
    TrackMode,
    TrackReadError,
    TrackSelector,
    TrackStatus,
    build_apdu_command,
    build_blink,
    build_command,
    build_entry_control,
    build_read_tracks,
    build_set_baud,
    decode_command,
    parse_apdu_request,
    parse_entry_control,
    parse_track_request,
)
from protocols.crt310_frames import (
    ERROR_CM,
    ETX,
    FRAME,
    MAX_DATA,
    MAX_FRAME,
    MAX_LEN,
    STX,
    BadFrame,
    BadFrameReason,
    Control,
    Crt310StreamDecoder,
    Frame,
    Item,
    build_frame,
    parse_frame,
)
from protocols.crt310_replies import (
    ApduReply,
    CardTypeReply,
    CpuResetReply,
    ErrorReply,
    PlainReply,
    Reply,
    SensorReply,
    StatusReply,
    TrackReadReply,
    TrackRecord,
    build_apdu_reply,
    build_card_type_reply,
    build_cpu_reset_reply,
    build_error_reply,
    build_reply,
    build_status_reply,
    build_track_reply,
    decode_reply,
    encode_reply,
)

__all__ = [
    "BAUD_RATES",
    "ERROR_CM",
    "ETX",
    "FRAME",
    "MAX_DATA",
    "MAX_FRAME",
    "MAX_LEN",
    "STX",
    "ApduReply",
    "BadFrame",
    "BadFrameReason",
    "CardPosition",
    "CardTypeReply",
    "Command",
    "Control",
    "CpuResetReply",
    "Crt310StreamDecoder",
    "EntryMode",
    "ErrorCode",
    "ErrorReply",
    "Frame",
    "FrontEntry",
    "IcCardType",
    "Item",
    "OperationStatus",
    "PlainReply",
    "RearEntry",
    "Reply",
    "Request",
    "SensorReply",
    "StatusReply",
    "TrackMode",
    "TrackReadError",
    "TrackReadReply",
    "TrackRecord",
    "TrackSelector",
    "TrackStatus",
    "build_apdu_command",
    "build_apdu_reply",
    "build_blink",
    "build_card_type_reply",
    "build_command",
    "build_cpu_reset_reply",
    "build_entry_control",
    "build_error_reply",
    "build_frame",
    "build_read_tracks",
    "build_reply",
    "build_set_baud",
    "build_status_reply",
    "build_track_reply",
    "decode_command",
    "decode_reply",
    "encode_reply",
    "parse_apdu_request",
    "parse_entry_control",
    "parse_frame",
    "parse_track_request",
]
