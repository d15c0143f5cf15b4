"""Creator CRT-591-M card dispenser/issuer (with IC read-write): frames, texts and codes.

The link layer (frames, control bytes, the stream decoder) is
``protocols.crt591_frames``, the commands ``protocols.crt591_commands``, the replies and
their DATA ``protocols.crt591_replies``; this module re-exports all three and holds the
TEXT codec and the frame builders. A frame's TEXT carries::

    command           'C' CM PM DATA
    positive reply    'P' CM PM st0 st1 st2 DATA
    negative reply    'N' CM PM e1 e0          (or 'E': see below)

Exchange (reference §2.2): the host sends a command frame; the reader answers ACK (NAK
for a bad BCC: the host sends it again), carries the command out and sends the reply
frame, which the host acknowledges with ACK. EOT clears the line.

Status bytes (ASCII) in every positive reply: st0 where the card is (``CardStatus``),
st1 how full the card stacker is (``StackerStatus``), st2 whether the reject bin is full
(``BinStatus``). A negative reply carries a two-character error code (``ErrorCode``).

Spec ambiguity accepted: the negative head is written 'N' (4E) in the vendor PDF and
tested as 'E' (45) by the public C# driver; both decode, and ``Refusal.head`` keeps
which one came. The emulator sends 'N'.

Assumptions where the reference is silent (ours, marked so in docs/crt591.md):

- a CPU cold/warm reset's reply DATA is one protocol byte ('0' T=0, '1' T=1) then the
  ATR (`CpuResetData`); the reset command takes no DATA (one optional byte, the
  supply-voltage choice of some firmware, is accepted and ignored by the emulator);
- an APDU command's DATA is the C-APDU itself, its reply's DATA the R-APDU (LEN gives
  their sizes: no inner length prefix);
- the CPU status (51 32) reply DATA is one byte: '0' inactive, '1' active T=0, '2'
  active T=1 (`CpuState`);
- the reject-bin counter (A5 30 reply, A5 31 command) is three ASCII digits, 000-999
  (the C# driver treats it as binary in two inconsistent ways);
- the sensor status (31 31) DATA is eight '0'/'1' bytes, S1..S8 (what each sensor
  watches is not documented; the emulator's choice is in ``SENSOR_NAMES``).

Hot path: ``decode_text`` / ``encode_text`` use slices and enum lookups. The
construct layouts (``COMMAND_TEXT``, ``POSITIVE_TEXT``, ``NEGATIVE_TEXT``) are the
declarative definition, checked equal to the fast path by the property tests.

Source of facts: reference/protocols.md §2.2 (Creator CRT-591 communication protocol,
2013, and ``CRT591_Com.cs``) and §7 vectors #19.
"""

from __future__ import annotations

from protocols.crt591_commands import (
    COMMAND_TEXT,
    Command,
    CpuOperation,
    Head,
    InitMode,
    Position,
    Request,
    code_of,
)
from protocols.crt591_frames import (
    ETX,
    FRAME,
    MAX_ADDRESS,
    MAX_FRAME,
    MAX_TEXT,
    MIN_TEXT,
    STX,
    BadFrame,
    BadFrameReason,
    Control,
    Crt591StreamDecoder,
    Frame,
    Item,
    build_frame,
    hide,
    parse_frame,
)
from protocols.crt591_replies import (
    MAX_DATA,
    NEGATIVE_HEADS,
    NEGATIVE_TEXT,
    POSITIVE_TEXT,
    SENSOR_NAMES,
    BinStatus,
    CardStatus,
    CpuResetData,
    CpuState,
    ErrorCode,
    Refusal,
    Reply,
    StackerStatus,
    bin_counter_data,
    cpu_reset_data,
    error_of,
    parse_bin_counter,
    parse_cpu_reset,
    parse_sensors,
    sensor_data,
)
from protocols.errors import FramingError, UnknownCodeError

__all__ = [
    "COMMAND_TEXT",
    "ETX",
    "FRAME",
    "MAX_ADDRESS",
    "MAX_DATA",
    "MAX_FRAME",
    "MAX_TEXT",
    "MIN_TEXT",
    "NEGATIVE_TEXT",
    "POSITIVE_TEXT",
    "SENSOR_NAMES",
    "STX",
    "BadFrame",
    "BadFrameReason",
    "BinStatus",
    "CardStatus",
    "Command",
    "Control",
    "CpuOperation",
    "CpuResetData",
    "CpuState",
    "Crt591StreamDecoder",
    "ErrorCode",
    "Frame",
    "Head",
    "InitMode",
    "Item",
    "Message",
    "Position",
    "Refusal",
    "Reply",
    "Request",
    "StackerStatus",
    "bin_counter_data",
    "build_command",
    "build_frame",
    "build_negative",
    "build_positive",
    "cpu_reset_data",
    "decode_frame",
    "decode_text",
    "encode_text",
    "hide",
    "parse_bin_counter",
    "parse_cpu_reset",
    "parse_frame",
    "parse_sensors",
    "sensor_data",
]


Message = Request | Reply | Refusal


def decode_text(text: bytes | bytearray) -> Message:
    """Decode a frame's TEXT.

    Raises:
        FramingError: too short for its head.
        UnknownCodeError: an unknown head, status byte or error code.
    """
    size = len(text)
    if size < MIN_TEXT:
        raise FramingError(f"TEXT is {size} bytes, expected at least {MIN_TEXT}")
    head = text[0]
    if head == Head.COMMAND:
        return Request(text[1], text[2], bytes(text[3:]))
    if head == Head.POSITIVE:
        if size < 6:
            raise FramingError(f"a positive reply is at least 6 bytes, got {size}")
        return Reply(
            text[1],
            text[2],
            code_of(CardStatus, text[3], "st0 (card status)"),
            code_of(StackerStatus, text[4], "st1 (stacker status)"),
            code_of(BinStatus, text[5], "st2 (reject bin status)"),
            bytes(text[6:]),
        )
    if head in NEGATIVE_HEADS:
        if size != 5:
            raise FramingError(f"a negative reply is 5 bytes, got {size}")
        error = error_of(bytes(text[3:5]))
        if error is None:
            raise UnknownCodeError(f"unknown error code {bytes(text[3:5])!r}")
        return Refusal(text[1], text[2], error, head)
    raise UnknownCodeError(f"unknown TEXT head 0x{head:02X}")


def encode_text(message: Message) -> bytes:
    """The TEXT of a message (``decode_text`` inverse).

    Raises:
        ValueError: a byte out of range, a head that is no negative head, or too much data.
    """
    if not (0 <= message.cm <= 0xFF and 0 <= message.pm <= 0xFF):
        raise ValueError(f"CM and PM are bytes, got {message.cm!r}, {message.pm!r}")
    if isinstance(message, Request):
        text = bytes((Head.COMMAND, message.cm, message.pm)) + message.data
    elif isinstance(message, Reply):
        status = (message.card, message.stacker, message.bin)
        text = bytes((Head.POSITIVE, message.cm, message.pm, *status)) + message.data
    else:
        if message.head not in NEGATIVE_HEADS:
            raise ValueError(f"a negative head is 4E or 45, got {message.head!r}")
        text = bytes((message.head, message.cm, message.pm)) + message.error.value.encode()
    if len(text) > MAX_TEXT:
        raise ValueError(f"TEXT is {len(text)} bytes, at most {MAX_TEXT} fit a frame")
    return text


def decode_frame(frame: Frame) -> Message:
    """The message a frame carries (see ``decode_text``)."""
    return decode_text(frame.text)


# ----------------------------------------------------------------------------- builders


def build_command(
    command: Command, pm: int | None = None, data: bytes = b"", *, address: int = 0
) -> bytes:
    """Encode a command frame.

    Args:
        command: the command.
        pm: its parameter (an ``InitMode``, ``Position``, ``CpuOperation``, or any byte
            for SAM/SLE/I2C/RF); must match, or be omitted for, a fixed PM.
        data: DATA after PM.
        address: the reader's bus address, 0..15.

    Raises:
        ValueError: a missing, wrong or unknown PM, a bad address, or too much data.
    """
    if not 0 <= address <= MAX_ADDRESS:
        raise ValueError(f"the address is 0..{MAX_ADDRESS}, got {address!r}")
    if command.pm is not None:
        if pm not in (None, command.pm):
            raise ValueError(f"{command.name} has PM 0x{command.pm:02X}, got {pm!r}")
        pm = command.pm
    if pm is None:
        raise ValueError(f"{command.name} needs a PM byte")
    Command.lookup(command.cm, pm)
    return build_frame(encode_text(Request(command.cm, int(pm), data)), address)


def build_positive(
    request: Request | Command,
    card: CardStatus,
    stacker: StackerStatus,
    bin_status: BinStatus,
    data: bytes = b"",
    *,
    pm: int | None = None,
    address: int = 0,
) -> bytes:
    """Encode a positive reply to ``request`` (its CM PM echoed)."""
    cm, pm = _echo(request, pm)
    return build_frame(encode_text(Reply(cm, pm, card, stacker, bin_status, data)), address)


def build_negative(
    request: Request | Command,
    error: ErrorCode,
    *,
    pm: int | None = None,
    head: int = Head.NEGATIVE.value,
    address: int = 0,
) -> bytes:
    """Encode a negative reply to ``request`` (its CM PM echoed)."""
    cm, pm = _echo(request, pm)
    return build_frame(encode_text(Refusal(cm, pm, error, head)), address)


def _echo(request: Request | Command, pm: int | None) -> tuple[int, int]:
    if isinstance(request, Request):
        return request.cm, request.pm
    chosen = request.pm if request.pm is not None else pm
    if chosen is None:
        raise ValueError(f"{request.name} needs a PM byte")
    return request.cm, chosen
