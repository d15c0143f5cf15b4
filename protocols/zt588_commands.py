"""Zhengtong (SZZT) ZT588 EPP: the host's commands, as typed dataclasses.

A command is a frame's TEXT (``protocols.zt588`` frames it): one command character,
then ASCII fields; binary fields (keys, scancodes, control values, challenges) travel as
upper-case hex. Every command class has ``encode()`` (its TEXT) and `parse_command`
turns a TEXT back into the command. ``protocols.zt588`` re-exports every name here.

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

from dataclasses import dataclass
from enum import Enum, IntEnum, StrEnum
from typing import ClassVar, TypeVar

from protocols.errors import Completion, FramingError, HalError, ProtocolError, UnknownCodeError

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

CLEAR_PIN_FORMAT = 0x40
"""'@': the format character of the clear-PIN (ASCII) mode. Never built; only recognised."""

IMK_SLOT = 0x80
"""The slot smartware loads the IMK into [S]."""
TMK_SLOT = 0x00
"""The slot smartware loads the TMK into [S] (reference §4.1 lists 20h as "seen")."""

DEFAULT_SCANCODES = b"123\x1b456\x08789\x07.0#\rACEGBDFH"
"""The 6x4 key matrix smartware loads with '4' [S]: rows ``1 2 3 cancel``, ``4 5 6
clear``, ``7 8 9 blank``, ``. 0 00 enter``, then the side keys ``A C E G`` / ``B D F H``."""

MAX_PAN_DIGITS = 19
MAX_USER_INFO = 50
MAX_SCANCODES = 64  # [U] a table of 24 is all we have seen


def tpk_slot(key_set: int) -> int:
    """The slot of working-key set 0..7's PIN key, as smartware numbers them [S]."""
    if not 0 <= key_set <= 7:
        raise ValueError(f"a key set is 0..7, got {key_set!r}")
    return 0x40 + 8 * key_set


class ClearPinRefused(HalError, ValueError):
    """Someone asked to build a clear-PIN ('@') request: the codec never does."""

    default_completion = Completion.UNSUPPORTED_DATA

    def __init__(self, where: str) -> None:
        super().__init__(
            f"{where}: the ZT588 clear-PIN format '@' would make the pad send the PIN "
            "itself; this codec never builds it (use an ISO 9564 format)"
        )


class CommandCode(StrEnum):
    """The first character of a command's TEXT."""

    LOAD_PLAIN_KEY = "1"
    LOAD_ENCRYPTED_KEY = "2"
    USER_INFO = "3"
    LOAD_SCANCODES = "4"
    CONTROL = "5"
    START_PIN_ENTRY = "6"
    GET_PIN_BLOCK = "7"
    AUTHENTICATE = ":"

    @property
    def byte(self) -> int:
        """The character as a byte."""
        return ord(self.value)


class KeyType(IntEnum):
    """What a key is for, one decimal digit on the wire."""

    IMK = 1
    TMK = 2
    TPK = 3
    TAK = 5
    TDK = 6
    TDEK = 7
    TDDK = 8
    TDSK = 9


class KeyLength(IntEnum):
    """'1' sends this code; '2' sends it plus one (its 0 means "erase")."""

    SINGLE = 0
    DOUBLE = 1
    TRIPLE = 2

    @property
    def size(self) -> int:
        """The key's size in bytes: 8, 16 or 24."""
        return 8 * (self.value + 1)

    @classmethod
    def of(cls, key: bytes) -> KeyLength:
        """The code of a key of ``len(key)`` bytes.

        Raises:
            ValueError: not 8, 16 or 24 bytes.
        """
        if len(key) not in (8, 16, 24):
            raise ValueError(f"a DES key is 8, 16 or 24 bytes, got {len(key)}")
        return cls(len(key) // 8 - 1)


class PinFormat(StrEnum):
    """The PIN block formats '6' can ask for. The clear-PIN '@' is deliberately absent."""

    ISO9564_0 = " "
    ISO9564_1 = "!"
    ISO9564_3 = "#"
    IBM3624 = "0"


class ControlCode(StrEnum):
    """The sub-code of a control ('5') command."""

    MISC = "0"
    INPUT_TIME_LIMIT = "2"
    PIN_MASK = "3"
    MIN_PIN_LENGTH = "4"
    MAX_PIN_LENGTH = "5"
    COMMUNICATION = "6"
    BEEP_TIME = "8"


class Misc(StrEnum):
    """The value of a MISC control."""

    RESET = "0"
    WIPE = "1"
    DISABLE_INPUT = "2"
    ENABLE_INPUT = "3"
    SOUND_OFF = "4"
    SOUND_ON = "5"
    BEEP = "="


class Communication(StrEnum):
    """The value of a COMMUNICATION control: the hex mode, or the line speed."""

    BROKEN_HEX = "0"  # [S] smartware's name; what it changes is not known [U]
    HEX = "7"
    BAUD_1200 = "H"
    BAUD_2400 = "I"
    BAUD_4800 = "J"
    BAUD_9600 = "K"
    BAUD_19200 = "L"
    BAUD_38400 = "M"
    BAUD_57600 = "N"
    BAUD_115200 = "O"

    @property
    def baud(self) -> int | None:
        """The line speed this selects, or None for a hex-mode value."""
        return _BAUDS.get(self)


_BAUDS = dict(
    zip(
        list(Communication)[2:],
        (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200),
        strict=True,
    )
)


class AuthCode(IntEnum):
    """The named codes of an authenticate (':') command; any other byte is accepted
    (smartware also sends key slots 10h, 20h, 30h there [S])."""

    GET_CHALLENGE = 0xA0
    WITH_TMK = 0x90
    WITH_IMK = 0x91


# ----------------------------------------------------------------------------- fields

_HEX_DIGITS = frozenset(b"0123456789ABCDEF")


def to_hex(data: bytes) -> bytes:
    """Bytes as the upper-case hex the pad expects."""
    return data.hex().upper().encode("ascii")


def from_hex(field: bytes, what: str) -> bytes:
    """An upper-case hex field's bytes; never quotes the field (it may be a key).

    Raises:
        ProtocolError: odd length or a character that is no upper-case hex digit.
    """
    if len(field) % 2:
        raise FramingError(f"{what} is {len(field)} hex digits, expected an even number")
    bad = next((i for i, c in enumerate(field) if c not in _HEX_DIGITS), None)
    if bad is not None:
        raise ProtocolError(f"{what}: character {bad} is not an upper-case hex digit")
    return bytes.fromhex(field.decode("ascii"))


def _byte_field(field: bytes, what: str) -> int:
    return from_hex(field, what)[0]


def _digit(value: int, what: str) -> int:
    if not 0x30 <= value <= 0x39:
        raise ProtocolError(f"{what} is 0x{value:02X}, expected a decimal digit")
    return value - 0x30


def _decimal(field: bytes, what: str) -> int:
    if not field or not field.isdigit():
        raise ProtocolError(f"{what} is not {len(field)} decimal digits")
    return int(field)


def _need(text: bytes, size: int, what: str, *, exact: bool = False) -> None:
    if len(text) < size or (exact and len(text) != size):
        expected = f"{size}" if exact else f"at least {size}"
        raise FramingError(f"{what} TEXT is {len(text)} bytes, expected {expected}")


def _check_byte(value: int, what: str) -> None:
    if not 0 <= value <= 0xFF:
        raise ValueError(f"{what} is a byte, got {value!r}")


def _hide(data: bytes | str) -> str:
    return f"<{len(data)} {'bytes' if isinstance(data, bytes) else 'chars'}>"


def check_not_clear_pin(text: bytes | bytearray) -> None:
    """Refuse a TEXT that is a clear-PIN ('@') request (the frame builder calls this).

    Raises:
        ClearPinRefused: ``text`` is ``'6' slot slot '@' ...``.
    """
    start = CommandCode.START_PIN_ENTRY.byte
    if len(text) > 3 and text[0] == start and text[3] == CLEAR_PIN_FORMAT:
        raise ClearPinRefused("a start-PIN-entry TEXT")


# ----------------------------------------------------------------------------- commands


@dataclass(frozen=True, slots=True, repr=False)
class LoadPlainKey:
    """'1': load a clear key into ``slot`` (the pad answers its check value)."""

    command_code: ClassVar[CommandCode] = CommandCode.LOAD_PLAIN_KEY

    slot: int
    key_type: KeyType
    key: bytes

    def encode(self) -> bytes:
        _check_byte(self.slot, "the slot")
        length = KeyLength.of(self.key)
        head = b"1%02X%d%d" % (self.slot, KeyType(self.key_type), length)
        return head + to_hex(self.key)

    def __repr__(self) -> str:
        return f"LoadPlainKey(slot=0x{self.slot:02X}, {self.key_type!r}, key={_hide(self.key)})"


@dataclass(frozen=True, slots=True, repr=False)
class LoadEncryptedKey:
    """'2': load a key enciphered under the key in slot ``under``."""

    command_code: ClassVar[CommandCode] = CommandCode.LOAD_ENCRYPTED_KEY

    slot: int
    under: int
    key_type: KeyType
    key: bytes

    def encode(self) -> bytes:
        _check_byte(self.slot, "the slot")
        _check_byte(self.under, "the KEK slot")
        code = KeyLength.of(self.key) + 1
        head = b"2%02X%02X%d%d" % (self.under, self.slot, KeyType(self.key_type), code)
        return head + to_hex(self.key)

    def __repr__(self) -> str:
        return (
            f"LoadEncryptedKey(slot=0x{self.slot:02X}, under=0x{self.under:02X}, "
            f"{self.key_type!r}, key={_hide(self.key)})"
        )


@dataclass(frozen=True, slots=True)
class EraseKey:
    """'2' with length code '0' and no key: erase ``slot`` [S smartware ``erase_key``,
    which sends under 00 and type 0; both kept as they came]."""

    command_code: ClassVar[CommandCode] = CommandCode.LOAD_ENCRYPTED_KEY

    slot: int
    under: int = 0
    type_code: int = 0

    def encode(self) -> bytes:
        _check_byte(self.slot, "the slot")
        _check_byte(self.under, "the KEK slot")
        if not 0 <= self.type_code <= 9:
            raise ValueError(f"the type is one digit, got {self.type_code!r}")
        return b"2%02X%02X%d0" % (self.under, self.slot, self.type_code)


@dataclass(frozen=True, slots=True)
class QueryUserInfo:
    """'3' alone: ask for the user text, scancodes, settings, model and versions."""

    command_code: ClassVar[CommandCode] = CommandCode.USER_INFO

    def encode(self) -> bytes:
        return b"3"


@dataclass(frozen=True, slots=True)
class WriteUserInfo:
    """'3' and a text: store up to 50 characters of user text [S]."""

    command_code: ClassVar[CommandCode] = CommandCode.USER_INFO

    text: str

    def encode(self) -> bytes:
        raw = self.text.encode("latin-1")
        if not 1 <= len(raw) <= MAX_USER_INFO:
            raise ValueError(f"user text is 1..{MAX_USER_INFO} characters, got {len(raw)}")
        return b"3" + raw


@dataclass(frozen=True, slots=True)
class LoadScancodes:
    """'4': the byte each key sends, in matrix order (`DEFAULT_SCANCODES`)."""

    command_code: ClassVar[CommandCode] = CommandCode.LOAD_SCANCODES

    table: bytes = DEFAULT_SCANCODES

    def encode(self) -> bytes:
        if not 1 <= len(self.table) <= MAX_SCANCODES:
            raise ValueError(f"a table is 1..{MAX_SCANCODES} bytes, got {len(self.table)}")
        return b"4" + to_hex(self.table)


@dataclass(frozen=True, slots=True)
class Control:
    """'5': a sub-code and a value, which travels as hex (smartware hex-encodes it
    [S]; the constructors below build the known ones)."""

    command_code: ClassVar[CommandCode] = CommandCode.CONTROL

    sub: ControlCode
    value: bytes

    def encode(self) -> bytes:
        if not 1 <= len(self.value) <= 16:
            raise ValueError(f"a control value is 1..16 bytes [U], got {len(self.value)}")
        return b"5" + ControlCode(self.sub).value.encode() + to_hex(self.value)

    @classmethod
    def misc(cls, operation: Misc) -> Control:
        return cls(ControlCode.MISC, Misc(operation).value.encode())

    @classmethod
    def communication(cls, setting: Communication) -> Control:
        return cls(ControlCode.COMMUNICATION, Communication(setting).value.encode())

    @classmethod
    def number(cls, sub: ControlCode, value: int) -> Control:
        """A one-byte numeric setting: time limit (s), PIN lengths, beep time (10 ms)."""
        _check_byte(value, f"the {ControlCode(sub).name} value")
        return cls(sub, bytes((value,)))

    @classmethod
    def pin_mask(cls, char: int) -> Control:
        """The byte the pad sends for each PIN digit ('*', or 0xFF as smartware sets)."""
        return cls.number(ControlCode.PIN_MASK, char)

    @property
    def operation(self) -> Misc | Communication | None:
        """The named value of a MISC or COMMUNICATION control; None if unknown/numeric."""
        if len(self.value) != 1:
            return None
        char = chr(self.value[0])
        if self.sub is ControlCode.MISC and char in Misc._value2member_map_:
            return Misc(char)
        if self.sub is ControlCode.COMMUNICATION and char in Communication._value2member_map_:
            return Communication(char)
        return None


@dataclass(frozen=True, slots=True, repr=False)
class StartPinEntry:
    """'6': start PIN entry; the pad builds a ``format`` PIN block under the key in
    ``slot``. ``hint`` is smartware's "hint code" (it sends 0) [S]; ``length`` the PIN
    length (the pad ends entry there); ``pan`` the digits the block uses (as given: the
    pad's expectation, 12 digits or the whole PAN, is not known [U])."""

    command_code: ClassVar[CommandCode] = CommandCode.START_PIN_ENTRY

    slot: int
    format: PinFormat
    hint: int
    length: int
    pan: str

    def encode(self) -> bytes:
        if not isinstance(self.format, PinFormat):
            if self.format in ("@", b"@", CLEAR_PIN_FORMAT):
                raise ClearPinRefused("StartPinEntry")
            raise ValueError(f"the format is a PinFormat, got {type(self.format).__name__}")
        _check_byte(self.slot, "the slot")
        if not 0 <= self.hint <= 9:
            raise ValueError(f"the hint is one digit, got {self.hint!r}")
        if not 0 <= self.length <= 99:
            raise ValueError(f"the length is two digits, got {self.length!r}")
        if not ((self.pan.isascii() and self.pan.isdigit()) or self.pan == ""):
            raise ValueError("the PAN is decimal digits")
        if len(self.pan) > MAX_PAN_DIGITS:
            raise ValueError(f"the PAN is at most {MAX_PAN_DIGITS} digits, got {len(self.pan)}")
        head = b"6%02X%s%d%02d" % (self.slot, self.format.value.encode(), self.hint, self.length)
        return head + self.pan.encode("ascii")

    def __repr__(self) -> str:
        return (
            f"StartPinEntry(slot=0x{self.slot:02X}, {self.format!r}, hint={self.hint}, "
            f"length={self.length}, pan={_hide(self.pan)})"
        )


@dataclass(frozen=True, slots=True, repr=False)
class ClearPinRequest:
    """A captured '6' asking for the clear-PIN format '@'. Parse-only: it has no
    ``encode``. A tool shows it to say someone asked the pad to send a PIN in clear."""

    command_code: ClassVar[CommandCode] = CommandCode.START_PIN_ENTRY

    slot: int
    hint: int
    length: int
    pan: str

    clear_pin: ClassVar[bool] = True
    """Always True: the flag a tool checks."""

    def __repr__(self) -> str:
        return (
            f"ClearPinRequest(slot=0x{self.slot:02X}, hint={self.hint}, "
            f"length={self.length}, pan={_hide(self.pan)})"
        )


@dataclass(frozen=True, slots=True)
class GetPinBlock:
    """'7': ask for the PIN block of the last entry."""

    command_code: ClassVar[CommandCode] = CommandCode.GET_PIN_BLOCK

    def encode(self) -> bytes:
        return b"7"


@dataclass(frozen=True, slots=True, repr=False)
class Authenticate:
    """':': a code (`AuthCode` or a key slot) and data (a challenge or a response)."""

    command_code: ClassVar[CommandCode] = CommandCode.AUTHENTICATE

    code: int
    data: bytes = b""

    def encode(self) -> bytes:
        _check_byte(self.code, "the code")
        if len(self.data) > 32:
            raise ValueError(f"authentication data is at most 32 bytes [U], got {len(self.data)}")
        return b":%02X" % self.code + to_hex(self.data)

    def __repr__(self) -> str:
        return f"Authenticate(code=0x{self.code:02X}, data={_hide(self.data)})"


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


_E = TypeVar("_E", bound=Enum)


def _code_of(enum: type[_E], value: object, what: str) -> _E:
    try:
        return enum(value)
    except ValueError:
        raise UnknownCodeError(f"unknown {what} {value!r}") from None


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
        _need(text, 5, "a load-plain-key")
        key_type = _key_type(text[3])
        length = _length_code(text[4], 0)
        key = _parse_key(text, 5, length.size, "the key")
        return LoadPlainKey(_byte_field(text[1:3], "the slot"), key_type, key)
    if command is CommandCode.LOAD_ENCRYPTED_KEY:
        _need(text, 7, "a load-encrypted-key")
        under = _byte_field(text[1:3], "the KEK slot")
        slot = _byte_field(text[3:5], "the slot")
        if text[6] == 0x30:
            _need(text, 7, "an erase-key", exact=True)
            return EraseKey(slot, under, _digit(text[5], "the key type"))
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
        _need(text, 3, "a load-scancodes")
        table = from_hex(text[1:], "the scancode table")
        if len(table) > MAX_SCANCODES:
            raise FramingError(f"the table is {len(table)} bytes, at most {MAX_SCANCODES}")
        return LoadScancodes(table)
    if command is CommandCode.CONTROL:
        _need(text, 4, "a control")
        sub = _code_of(ControlCode, chr(text[1]), "control sub-code")
        value = from_hex(text[2:], "the control value")
        if len(value) > 16:
            raise FramingError(f"the control value is {len(value)} bytes, at most 16")
        return Control(sub, value)
    if command is CommandCode.START_PIN_ENTRY:
        return _parse_pin_entry(text)
    if command is CommandCode.GET_PIN_BLOCK:
        _need(text, 1, "a get-PIN-block", exact=True)
        return GetPinBlock()
    _need(text, 3, "an authenticate")
    data = from_hex(text[3:], "the authentication data")
    if len(data) > 32:
        raise FramingError(f"authentication data is {len(data)} bytes, at most 32")
    return Authenticate(_byte_field(text[1:3], "the code"), data)


def _key_type(value: int) -> KeyType:
    return _code_of(KeyType, _digit(value, "the key type"), "key type")


def _length_code(value: int, offset: int) -> KeyLength:
    code = _digit(value, "the length code") - offset
    return _code_of(KeyLength, code, "key length code")


def _parse_pin_entry(text: bytes) -> StartPinEntry | ClearPinRequest:
    _need(text, 7, "a start-PIN-entry")
    slot = _byte_field(text[1:3], "the slot")
    hint = _digit(text[4], "the hint")
    length = _decimal(text[5:7], "the PIN length")
    pan = text[7:]
    if len(pan) > MAX_PAN_DIGITS or not (pan.isdigit() or not pan):
        raise ProtocolError(f"the PAN is {len(pan)} bytes, expected 0..19 decimal digits")
    if text[3] == CLEAR_PIN_FORMAT:
        return ClearPinRequest(slot, hint, length, pan.decode("ascii"))
    pin_format = _code_of(PinFormat, chr(text[3]), "PIN block format")
    return StartPinEntry(slot, pin_format, hint, length, pan.decode("ascii"))
