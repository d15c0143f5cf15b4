"""Zhengtong (SZZT) ZT588 EPP serial protocol: frames, key presses, the stream decoder.

The commands are ``protocols.zt588_commands``'s and the replies
``protocols.zt588_replies``'s; this module re-exports both and the link layer: the
frame in ``protocols.zt588_frame``, key presses in ``protocols.zt588_keypad``, the
stream decoder in ``protocols.zt588_decoder``.

Frame (both directions; reference §4.1 [S])::

    STX(02) | LEN (3 ASCII decimal digits: len(TEXT)) | TEXT | ETX(03) | CHK (2 hex digits)

CHK is the XOR of LEN, TEXT and ETX (everything between STX and CHK), written as two
upper-case hex digits. The reference's golden frames (§7 #37) check out:
``02 30 30 31 33 03 30 31`` is TEXT "3" (XOR 01); ``02 30 30 34 35 30 36 37 03 33 33`` is
TEXT "5067" (XOR 33), but that is not the hex-mode command it is labelled as: control
values travel as hex [S smartware ``control``], so hex mode is TEXT "5637" (CHK "30")
and "5067" is a MISC control with the value 67h.

Key presses travel outside frames, one byte each, between them (`KeyPress`). With the
scancode table smartware loads (`DEFAULT_SCANCODES`): '0'..'9', ESC cancel, BS clear,
CR enter, '.', '#' for the "00" key, BEL the blank key, 'A'..'H' the side keys. In PIN
mode the pad sends its PIN mask character instead of the digit ('*' here; smartware
sets 0xFF in one version and '*' in another [S]); the decoder takes it as a parameter,
and such a press carries no digit. 0x80 also means cancel [S: smartware handles it
like ESC; where it comes from is not known].

`Zt588Decoder` turns a byte stream into `Frame`, `KeyPress` and `BadFrame` items and
never raises. A `BadFrame` says what was expected and what came (``detail``) and
carries the typed error (``error``: `ChecksumError` for a bad CHK, `FramingError` for
a bad LEN, a TEXT over ``MAX_TEXT``, a missing ETX, bytes that are no key); decoding
resumes at the next STX. It keeps at most one frame's bytes (``MAX_FRAME``) between
feeds. Caveat: a capture that starts inside a frame shows that frame's tail as key
presses and noise (the bytes are indistinguishable).

Limits that are ours [U]: TEXT is 1..256 bytes (the longest known, the '3' reply, is
147); CHK must be upper-case (smartware writes ``%02X``).
"""

from __future__ import annotations

from protocols.zt588_commands import (
    CLEAR_PIN_FORMAT,
    DEFAULT_SCANCODES,
    IMK_SLOT,
    TMK_SLOT,
    AuthCode,
    Authenticate,
    ClearPinRefused,
    ClearPinRequest,
    Command,
    CommandCode,
    Communication,
    Control,
    ControlCode,
    EraseKey,
    GetPinBlock,
    KeyLength,
    KeyType,
    LoadEncryptedKey,
    LoadPlainKey,
    LoadScancodes,
    Misc,
    PinFormat,
    QueryUserInfo,
    StartPinEntry,
    WriteUserInfo,
    parse_command,
    tpk_slot,
)
from protocols.zt588_decoder import BadFrame, BadFrameReason, Item, Zt588Decoder, parse_frame
from protocols.zt588_frame import ETX, FRAME, MAX_FRAME, MAX_TEXT, STX, Frame, build_frame, checksum
from protocols.zt588_keypad import MASK_CHAR, Key, KeyPress, key_press
from protocols.zt588_replies import (
    USER_INFO_TEXT,
    Ack,
    AuthReply,
    ErrorReply,
    KeyLoaded,
    PinBlockReply,
    Reply,
    Settings,
    UserInfo,
    Zt588Error,
    echo,
    encode_reply,
    parse_reply,
)

__all__ = [
    "CLEAR_PIN_FORMAT",
    "DEFAULT_SCANCODES",
    "ETX",
    "FRAME",
    "IMK_SLOT",
    "MASK_CHAR",
    "MAX_FRAME",
    "MAX_TEXT",
    "STX",
    "TMK_SLOT",
    "USER_INFO_TEXT",
    "Ack",
    "AuthCode",
    "AuthReply",
    "Authenticate",
    "BadFrame",
    "BadFrameReason",
    "ClearPinRefused",
    "ClearPinRequest",
    "Command",
    "CommandCode",
    "Communication",
    "Control",
    "ControlCode",
    "EraseKey",
    "ErrorReply",
    "Frame",
    "GetPinBlock",
    "Item",
    "Key",
    "KeyLength",
    "KeyLoaded",
    "KeyPress",
    "KeyType",
    "LoadEncryptedKey",
    "LoadPlainKey",
    "LoadScancodes",
    "Misc",
    "PinBlockReply",
    "PinFormat",
    "QueryUserInfo",
    "Reply",
    "Settings",
    "StartPinEntry",
    "UserInfo",
    "WriteUserInfo",
    "Zt588Decoder",
    "Zt588Error",
    "build_command",
    "build_frame",
    "build_reply",
    "checksum",
    "decode_command",
    "decode_reply",
    "echo",
    "encode_reply",
    "key_press",
    "parse_command",
    "parse_frame",
    "parse_reply",
    "tpk_slot",
]


def build_command(command: Command) -> bytes:
    """The frame of a host command (a clear-PIN request cannot be built)."""
    return build_frame(command.encode())


def build_reply(reply: Reply) -> bytes:
    """The frame of a pad reply (see ``protocols.zt588_replies``)."""
    return build_frame(encode_reply(reply))


def decode_command(frame: Frame) -> Command | ClearPinRequest:
    """The command a frame from the host carries (``parse_command``)."""
    return parse_command(frame.text)


def decode_reply(
    frame: Frame, command: Command | ClearPinRequest | CommandCode | None = None
) -> Reply:
    """The reply a frame from the pad carries, to ``command`` (``parse_reply``)."""
    return parse_reply(frame.text, command)
