"""Zhengtong (SZZT) ZT588 EPP: the host's commands, as typed dataclasses.

A command is a frame's TEXT (``protocols.zt588`` frames it): one command character,
then ASCII fields; binary fields (keys, scancodes, control values, challenges) travel as
upper-case hex. Every command class has ``encode()`` (its TEXT) and `parse_command`
turns a TEXT back into the command. ``protocols.zt588`` re-exports every name here.
The commands live in ``zt588_key_commands`` ('1', '2', ':'), ``zt588_pin_commands``
('6', '7', the '@' refusal) and ``zt588_control_commands`` ('3', '4', '5'), on the
field codecs of ``zt588_fields``; this module re-exports them and parses a TEXT.

=====  ======================  ==================================================
 Cmd    class                   TEXT after the command character
=====  ======================  ==================================================
 '1'    `LoadPlainKey`          slot(2 hex) type(1 dec) length-code(1 dec) key(hex)
 '2'    `LoadEncryptedKey`      under(2 hex) slot(2 hex) type(1) length-code+1(1)
                                key(hex); length-code+1 = '0' and no key:
                                `EraseKey` [S smartware ``erase_key``]
 '3'    `QueryUserInfo`         nothing (the reply is `protocols.zt588_replies.UserInfo`)
 '3'    `WriteUserInfo`         the user text itself, not hex [S]
 '4'    `LoadScancodes`         the scancode table (hex)
 '5'    `Control`               sub-code(1) value(hex)
 '6'    `StartPinEntry`         slot(2 hex) format(1) hint(1 dec) length(2 dec) PAN
 '7'    `GetPinBlock`           nothing
 ':'    `Authenticate`          code(2 hex) data(hex)
=====  ======================  ==================================================

The clear-PIN format '@' (the pad would send the PIN itself) is unreachable from here:
`PinFormat` has no member for it, `StartPinEntry.encode` and the frame builder refuse
it with `ClearPinRefused`, and a captured '@' request parses to `ClearPinRequest`, which
has no encoder, so a tool can show that someone asked for it.

Facts: reference/protocols.md §4.1, checked against its source, smartkiosk/smartware
(``drivers/pin_pad/zt588.rb``, ``drivers/common/szzt_connection.rb``) [S]. Where that
source is the only one, or silent, the choice is ours and marked [U] here and in
docs/zt588.md: the length limits of fields, the PAN as 0-19 digits, a hint as one digit.
"""

from __future__ import annotations

from protocols.errors import FramingError, ProtocolError, UnknownCodeError
from protocols.zt588_control_commands import (
    DEFAULT_SCANCODES,
    MAX_SCANCODES,
    MAX_USER_INFO,
    Communication,
    Control,
    ControlCode,
    LoadScancodes,
    Misc,
    QueryUserInfo,
    WriteUserInfo,
)
from protocols.zt588_fields import (
    CommandCode,
    byte_field,
    code_of,
    decimal,
    digit,
    from_hex,
    need,
    to_hex,
)
from protocols.zt588_key_commands import (
    IMK_SLOT,
    TMK_SLOT,
    AuthCode,
    Authenticate,
    EraseKey,
    KeyLength,
    KeyType,
    LoadEncryptedKey,
    LoadPlainKey,
    tpk_slot,
)
from protocols.zt588_pin_commands import (
    CLEAR_PIN_FORMAT,
    MAX_PAN_DIGITS,
    ClearPinRefused,
    ClearPinRequest,
    GetPinBlock,
    PinFormat,
    StartPinEntry,
    check_not_clear_pin,
)

__all__ = [
    "CLEAR_PIN_FORMAT",
    "DEFAULT_SCANCODES",
    "IMK_SLOT",
    "TMK_SLOT",
    "AuthCode",
    "Authenticate",
    "ClearPinRefused",
    "ClearPinRequest",
    "Command",
    "CommandCode",
    "Communication",
    "Control",
    "ControlCode",
    "EraseKey",
    "GetPinBlock",
    "KeyLength",
    "KeyType",
    "LoadEncryptedKey",
    "LoadPlainKey",
    "LoadScancodes",
    "Misc",
    "PinFormat",
    "QueryUserInfo",
    "StartPinEntry",
    "WriteUserInfo",
    "check_not_clear_pin",
    "from_hex",
    "parse_command",
    "to_hex",
    "tpk_slot",
]

Command = (
    LoadPlainKey
    | LoadEncryptedKey
    | EraseKey
    | QueryUserInfo
    | WriteUserInfo
    | LoadScancodes
    | Control
    | StartPinEntry
    | GetPinBlock
    | Authenticate
)
"""What the host sends; `ClearPinRequest` is parsed but never sent."""


def _parse_key(text: bytes, at: int, size: int, what: str) -> bytes:
    field = text[at:]
    if len(field) != 2 * size:
        raise FramingError(f"{what} is {len(field)} hex digits, expected {2 * size}")
    return from_hex(field, what)


def parse_command(text: bytes | bytearray) -> Command | ClearPinRequest:
    """The command a TEXT carries (``encode`` inverse; '@' gives `ClearPinRequest`).

    Raises:
        FramingError: a TEXT too short or long for its command.
        UnknownCodeError: an unknown command, key type, control or PIN format.
        ProtocolError: a field that is not the hex or digits it should be.
    """
    text = bytes(text)
    if not text:
        raise FramingError("TEXT is empty, expected a command character")
    code = text[:1].decode("latin-1")
    if code not in CommandCode._value2member_map_:
        raise UnknownCodeError(f"unknown command 0x{text[0]:02X}")
    command = CommandCode(code)
    if command is CommandCode.LOAD_PLAIN_KEY:
        need(text, 5, "a load-plain-key")
        key_type = _key_type(text[3])
        length = _length_code(text[4], 0)
        key = _parse_key(text, 5, length.size, "the key")
        return LoadPlainKey(byte_field(text[1:3], "the slot"), key_type, key)
    if command is CommandCode.LOAD_ENCRYPTED_KEY:
        need(text, 7, "a load-encrypted-key")
        under = byte_field(text[1:3], "the KEK slot")
        slot = byte_field(text[3:5], "the slot")
        if text[6] == 0x30:
            need(text, 7, "an erase-key", exact=True)
            return EraseKey(slot, under, digit(text[5], "the key type"))
        key_type = _key_type(text[5])
        length = _length_code(text[6], 1)
        return LoadEncryptedKey(slot, under, key_type, _parse_key(text, 7, length.size, "the key"))
    if command is CommandCode.USER_INFO:
        if len(text) == 1:
            return QueryUserInfo()
        if len(text) > 1 + MAX_USER_INFO:
            raise FramingError(f"user text is {len(text) - 1} bytes, at most {MAX_USER_INFO}")
        return WriteUserInfo(text[1:].decode("latin-1"))
    if command is CommandCode.LOAD_SCANCODES:
        need(text, 3, "a load-scancodes")
        table = from_hex(text[1:], "the scancode table")
        if len(table) > MAX_SCANCODES:
            raise FramingError(f"the table is {len(table)} bytes, at most {MAX_SCANCODES}")
        return LoadScancodes(table)
    if command is CommandCode.CONTROL:
        need(text, 4, "a control")
        sub = code_of(ControlCode, chr(text[1]), "control sub-code")
        value = from_hex(text[2:], "the control value")
        if len(value) > 16:
            raise FramingError(f"the control value is {len(value)} bytes, at most 16")
        return Control(sub, value)
    if command is CommandCode.START_PIN_ENTRY:
        return _parse_pin_entry(text)
    if command is CommandCode.GET_PIN_BLOCK:
        need(text, 1, "a get-PIN-block", exact=True)
        return GetPinBlock()
    need(text, 3, "an authenticate")
    data = from_hex(text[3:], "the authentication data")
    if len(data) > 32:
        raise FramingError(f"authentication data is {len(data)} bytes, at most 32")
    return Authenticate(byte_field(text[1:3], "the code"), data)


def _key_type(value: int) -> KeyType:
    return code_of(KeyType, digit(value, "the key type"), "key type")


def _length_code(value: int, offset: int) -> KeyLength:
    code = digit(value, "the length code") - offset
    return code_of(KeyLength, code, "key length code")


def _parse_pin_entry(text: bytes) -> StartPinEntry | ClearPinRequest:
    need(text, 7, "a start-PIN-entry")
    slot = byte_field(text[1:3], "the slot")
    hint = digit(text[4], "the hint")
    length = decimal(text[5:7], "the PIN length")
    pan = text[7:]
    if len(pan) > MAX_PAN_DIGITS or not (pan.isdigit() or not pan):
        raise ProtocolError(f"the PAN is {len(pan)} bytes, expected 0..19 decimal digits")
    if text[3] == CLEAR_PIN_FORMAT:
        return ClearPinRequest(slot, hint, length, pan.decode("ascii"))
    pin_format = code_of(PinFormat, chr(text[3]), "PIN block format")
    return StartPinEntry(slot, pin_format, hint, length, pan.decode("ascii"))
