"""Zhengtong (SZZT) ZT588 EPP: the pad's replies, as typed dataclasses.

A reply is a frame like a command's; its TEXT is one head byte and a payload::

    head (1 byte) | payload

- head 0xE0..0xEF: the command failed; the head is the error code itself, one raw
  byte, not two hex characters (smartware reads ``response.getbyte(0)`` and compares
  it with 0xE0..0xEF [S]; two hex characters could never pass that test). What may
  follow it is not known; `ErrorReply.extra` keeps it [U].
- any other head: success; smartware skips the head without reading it [S]. Which byte
  the pad puts there is not known: this codec's encoder echoes the command character
  (`echo`) and its parser accepts any byte [U].

What the payload holds depends on the command answered, so `parse_reply` takes it:

========  =====================  ==============================================
 command   reply                  payload
========  =====================  ==============================================
 '1' '2'   `KeyLoaded`            the check value, hex (length as the pad sends)
 '3'       `UserInfo`             user text(50) scancodes(48 hex) settings(20 hex)
                                  function code(8) model(6) hardware(3) software(3)
                                  production date(4) serial(4) [S smartware]
 '7'       `PinBlockReply`        track(2 dec) PIN length(2 dec) block(hex)
 ':'       `AuthReply`            data (hex)
 others    `Ack`                  whatever came (none is expected [U])
========  =====================  ==============================================

The settings inside `UserInfo` are ten bytes (`Settings`), as smartware reads them [S].
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from construct import Bytes, Int8ub, Struct, Terminated

from protocols.errors import FramingError, ProtocolError
from protocols.zt588_commands import (
    ClearPinRequest,
    Command,
    CommandCode,
    QueryUserInfo,
    from_hex,
    to_hex,
)

__all__ = [
    "USER_INFO_TEXT",
    "Ack",
    "AuthReply",
    "ErrorReply",
    "KeyLoaded",
    "PinBlockReply",
    "Reply",
    "Settings",
    "UserInfo",
    "Zt588Error",
    "echo",
    "encode_reply",
    "parse_reply",
]


class Zt588Error(IntEnum):
    """The error codes a reply's head can carry (0xEA is not listed anywhere)."""

    LOW_BATTERY = 0xE0
    IMK_REQUIRED = 0xE1
    TMK_REQUIRED = 0xE2
    BAD_KEY_SIZE = 0xE3
    KEY_NOT_FOUND = 0xE4
    KEY_NOT_FOUND_OR_INCOMPATIBLE = 0xE5
    KEY_PARITY = 0xE6
    INVALID_KEY = 0xE7
    BAD_LENGTH = 0xE8
    BAD_DATA = 0xE9
    BAD_PARAMETER = 0xEB
    AUTHORISATION_REQUIRED = 0xEC
    AUTHORISATION_LOCKED = 0xED
    INPUT_TIMEOUT = 0xEE
    GENERAL = 0xEF

    @property
    def message(self) -> str:
        """What the code means, in the reference's words."""
        return _MESSAGES[self]


_MESSAGES = {
    Zt588Error.LOW_BATTERY: "low battery",
    Zt588Error.IMK_REQUIRED: "IMK required",
    Zt588Error.TMK_REQUIRED: "TMK required",
    Zt588Error.BAD_KEY_SIZE: "bad key size",
    Zt588Error.KEY_NOT_FOUND: "key not found",
    Zt588Error.KEY_NOT_FOUND_OR_INCOMPATIBLE: "key not found or incompatible",
    Zt588Error.KEY_PARITY: "key parity error",
    Zt588Error.INVALID_KEY: "invalid key",
    Zt588Error.BAD_LENGTH: "bad command length",
    Zt588Error.BAD_DATA: "bad data",
    Zt588Error.BAD_PARAMETER: "bad parameter",
    Zt588Error.AUTHORISATION_REQUIRED: "authorisation required",
    Zt588Error.AUTHORISATION_LOCKED: "authorisation temporarily locked",
    Zt588Error.INPUT_TIMEOUT: "input timed out",
    Zt588Error.GENERAL: "general error",
}

_ERROR_HEADS = range(0xE0, 0xF0)


def _hide(data: bytes) -> str:
    return f"<{len(data)} bytes>"


@dataclass(frozen=True, slots=True, repr=False)
class ErrorReply:
    """A refusal: ``code`` is the head, 0xE0..0xEF."""

    code: int
    extra: bytes = b""

    @property
    def error(self) -> Zt588Error | None:
        """The named code, or None for 0xEA (in the error range, meaning unknown)."""
        return Zt588Error(self.code) if self.code in Zt588Error._value2member_map_ else None

    @property
    def message(self) -> str:
        error = self.error
        return f"unknown error 0x{self.code:02X}" if error is None else error.message

    def __repr__(self) -> str:
        return f"ErrorReply(0x{self.code:02X} {self.message}, extra={_hide(self.extra)})"


@dataclass(frozen=True, slots=True, repr=False)
class Ack:
    """Success with a payload this codec does not dissect (none is expected [U])."""

    head: int
    payload: bytes = b""

    def __repr__(self) -> str:
        return f"Ack(head=0x{self.head:02X}, payload={_hide(self.payload)})"


@dataclass(frozen=True, slots=True)
class KeyLoaded:
    """A key was loaded; ``kcv`` is the check value the pad computed (not secret)."""

    head: int
    kcv: bytes


@dataclass(frozen=True, slots=True, repr=False)
class PinBlockReply:
    """'7' answered: the PIN block (enciphered) and the PIN's length."""

    head: int
    track: int
    length: int
    block: bytes

    def __repr__(self) -> str:
        return (
            f"PinBlockReply(head=0x{self.head:02X}, track={self.track}, "
            f"length={self.length}, block={_hide(self.block)})"
        )


@dataclass(frozen=True, slots=True, repr=False)
class AuthReply:
    """':' answered: a challenge, or the pad's response to ours."""

    head: int
    data: bytes

    def __repr__(self) -> str:
        return f"AuthReply(head=0x{self.head:02X}, data={_hide(self.data)})"


_BAUD_CODES = dict(enumerate((1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200), 0x30))


@dataclass(frozen=True, slots=True)
class Settings:
    """The ten settings bytes of the '3' reply, read as smartware reads them [S]:

    byte 0 flags (bit 0 blank: no IMK; bit 1 input enabled; bit 2 sound on), byte 2 the
    input time limit (s), 3 the PIN mask character, 4/5 the minimum/maximum PIN length,
    6 the line speed ('0'..'7' = 1200..115200), 7 '0' in "broken hex" mode, 8 the beep
    time (10 ms). Bytes 1 and 9 are unknown [U].
    """

    raw: bytes

    @property
    def blank(self) -> bool:
        return bool(self.raw[0] & 0x01)

    @property
    def input_enabled(self) -> bool:
        return bool(self.raw[0] & 0x02)

    @property
    def sound(self) -> bool:
        return bool(self.raw[0] & 0x04)

    @property
    def input_time_limit(self) -> int:
        return self.raw[2]

    @property
    def pin_mask(self) -> int:
        return self.raw[3]

    @property
    def min_pin_length(self) -> int:
        return self.raw[4]

    @property
    def max_pin_length(self) -> int:
        return self.raw[5]

    @property
    def baud(self) -> int | None:
        return _BAUD_CODES.get(self.raw[6])

    @property
    def broken_hex(self) -> bool:
        return self.raw[7] == 0x30

    @property
    def beep_time_ms(self) -> int:
        return self.raw[8] * 10

    @classmethod
    def make(
        cls,
        *,
        blank: bool = False,
        input_enabled: bool = False,
        sound: bool = True,
        input_time_limit: int = 30,
        pin_mask: int = 0x2A,
        min_pin_length: int = 4,
        max_pin_length: int = 12,
        baud: int = 9600,
        broken_hex: bool = False,
        beep_time_ms: int = 100,
    ) -> Settings:
        """Settings from their meanings (byte 7 is '7' in hex mode [U]; 1 and 9 zero).

        Raises:
            ValueError: a value that does not fit its byte, or an unknown speed.
        """
        codes = {speed: code for code, speed in _BAUD_CODES.items()}
        if baud not in codes:
            raise ValueError(f"baud is one of {sorted(codes)}, got {baud!r}")
        flags = int(blank) | int(input_enabled) << 1 | int(sound) << 2
        values = (input_time_limit, pin_mask, min_pin_length, max_pin_length, beep_time_ms // 10)
        if not all(0 <= value <= 0xFF for value in values):
            raise ValueError(f"settings are bytes, got {values!r}")
        time_limit, mask, low, high, beep = values
        mode = 0x30 if broken_hex else 0x37
        return cls(bytes((flags, 0, time_limit, mask, low, high, codes[baud], mode, beep, 0)))


USER_INFO_TEXT = Struct(
    "head" / Int8ub,
    "user_info" / Bytes(50),
    "scancodes" / Bytes(48),
    "settings" / Bytes(20),
    "function_code" / Bytes(8),
    "model" / Bytes(6),
    "hardware_version" / Bytes(3),
    "software_version" / Bytes(3),
    "production_date" / Bytes(4),
    "serial" / Bytes(4),
    Terminated,
).compile()
"""The '3' reply's TEXT in construct; the text fields are latin-1."""
USER_INFO_SIZE = 147

_TEXT_WIDTHS = {
    "user_info": 50,
    "function_code": 8,
    "model": 6,
    "hardware_version": 3,
    "software_version": 3,
    "production_date": 4,
    "serial": 4,
}


@dataclass(frozen=True, slots=True)
class UserInfo:
    """'3' answered: who the pad is and how it is set. Text fields keep their padding
    (`make` pads them with spaces); none holds cardholder data or keys."""

    head: int
    user_info: str
    scancodes: bytes
    settings: Settings
    function_code: str
    model: str
    hardware_version: str
    software_version: str
    production_date: str
    serial: str

    @classmethod
    def make(
        cls,
        *,
        head: int = CommandCode.USER_INFO.byte,
        user_info: str = "",
        scancodes: bytes,
        settings: Settings,
        function_code: str = "",
        model: str,
        hardware_version: str,
        software_version: str,
        production_date: str,
        serial: str,
    ) -> UserInfo:
        """Pad each text field with spaces to its width (longer ones are refused later)."""
        w = _TEXT_WIDTHS
        return cls(
            head,
            user_info.ljust(w["user_info"]),
            scancodes,
            settings,
            function_code.ljust(w["function_code"]),
            model.ljust(w["model"]),
            hardware_version.ljust(w["hardware_version"]),
            software_version.ljust(w["software_version"]),
            production_date.ljust(w["production_date"]),
            serial.ljust(w["serial"]),
        )


Reply = ErrorReply | Ack | KeyLoaded | UserInfo | PinBlockReply | AuthReply
"""What the pad answers."""


def echo(command: Command | CommandCode) -> int:
    """The head this codec gives a successful reply to ``command``: its command
    character [U: the pad's own choice is not documented]."""
    return command.byte if isinstance(command, CommandCode) else command.command_code.byte


def parse_reply(
    text: bytes | bytearray, command: Command | ClearPinRequest | CommandCode | None = None
) -> Reply:
    """The reply a TEXT carries, read as the answer to ``command`` (None: unknown, so
    any success is an `Ack`).

    Raises:
        FramingError: an empty TEXT, or a payload of the wrong size for its command.
        ProtocolError: a field that is not the hex or digits it should be.
    """
    text = bytes(text)
    if not text:
        raise FramingError("TEXT is empty, expected a reply head")
    head, payload = text[0], text[1:]
    if head in _ERROR_HEADS:
        return ErrorReply(head, payload)
    code = command if command is None or isinstance(command, CommandCode) else command.command_code
    if code in (CommandCode.LOAD_PLAIN_KEY, CommandCode.LOAD_ENCRYPTED_KEY):
        return KeyLoaded(head, from_hex(payload, "the check value"))
    query = isinstance(command, QueryUserInfo) or (payload and command is CommandCode.USER_INFO)
    if code is CommandCode.USER_INFO and query:
        return _parse_user_info(text)
    if code is CommandCode.GET_PIN_BLOCK:
        if len(payload) < 6:
            raise FramingError(f"a PIN block reply is {len(text)} bytes, expected at least 7")
        track, length = _two_digits(payload[0:2], "track"), _two_digits(payload[2:4], "length")
        return PinBlockReply(head, track, length, from_hex(payload[4:], "the PIN block"))
    if code is CommandCode.AUTHENTICATE:
        return AuthReply(head, from_hex(payload, "the authentication data"))
    return Ack(head, payload)


def _two_digits(field: bytes, what: str) -> int:
    if not field.isdigit():
        raise ProtocolError(f"the {what} is not two decimal digits")
    return int(field)


def _parse_user_info(text: bytes) -> UserInfo:
    if len(text) != USER_INFO_SIZE:
        raise FramingError(f"a user-info reply is {len(text)} bytes, expected {USER_INFO_SIZE}")
    fields = USER_INFO_TEXT.parse(text)
    settings = from_hex(fields.settings, "the settings")
    return UserInfo(
        fields.head,
        fields.user_info.decode("latin-1"),
        from_hex(fields.scancodes, "the scancodes"),
        Settings(settings),
        *(fields[name].decode("latin-1") for name in list(_TEXT_WIDTHS)[1:]),
    )


def encode_reply(reply: Reply) -> bytes:
    """The TEXT of a reply (``parse_reply`` inverse, given the command answered).

    Raises:
        ValueError: a head in the wrong range for the reply, a field of the wrong size.
    """
    if isinstance(reply, ErrorReply):
        if reply.code not in _ERROR_HEADS:
            raise ValueError(f"an error head is 0xE0..0xEF, got {reply.code!r}")
        return bytes((reply.code,)) + reply.extra
    if not 0 <= reply.head <= 0xFF or reply.head in _ERROR_HEADS:
        raise ValueError(f"a success head is a byte outside 0xE0..0xEF, got {reply.head!r}")
    head = bytes((reply.head,))
    if isinstance(reply, Ack):
        return head + reply.payload
    if isinstance(reply, KeyLoaded):
        return head + to_hex(reply.kcv)
    if isinstance(reply, AuthReply):
        return head + to_hex(reply.data)
    if isinstance(reply, PinBlockReply):
        if not (0 <= reply.track <= 99 and 0 <= reply.length <= 99) or not reply.block:
            raise ValueError("track and length are 0..99 and the block is not empty")
        return head + b"%02d%02d" % (reply.track, reply.length) + to_hex(reply.block)
    return _encode_user_info(reply)


def _encode_user_info(reply: UserInfo) -> bytes:
    if len(reply.scancodes) != 24 or len(reply.settings.raw) != 10:
        raise ValueError("a user-info reply carries 24 scancodes and 10 settings bytes")
    parts = {}
    for name, width in _TEXT_WIDTHS.items():
        raw = str(getattr(reply, name)).encode("latin-1")
        if len(raw) != width:
            raise ValueError(f"{name} is {width} characters, got {len(raw)} (UserInfo.make pads)")
        parts[name] = raw
    return USER_INFO_TEXT.build(
        {
            **parts,
            "head": reply.head,
            "scancodes": to_hex(reply.scancodes),
            "settings": to_hex(reply.settings.raw),
        }
    )
