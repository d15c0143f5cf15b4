"""SSP commands, generic replies, the setup request's reply and the payout commands.

Facts: reference/protocols.md §3.6 (codes), ITL GA138 (layouts). Multi-byte numbers are
little-endian unless said otherwise. [U] items (listed in docs/ssp.md):

- [U] setup request reply: unit type, firmware (4 ASCII), country (3 ASCII), value
  multiplier (3 bytes big-endian), n channels, n channel values, n securities, real
  value multiplier (3 bytes big-endian), protocol version; from protocol 6 on n
  currencies (3 ASCII each) and n expanded values (4 bytes each) follow. A note's value
  in minor units = expanded value (or channel value) x real value multiplier.
- [U] payout by denomination (46): n, n x (count 2 bytes, value 4 bytes, currency 3
  ASCII), then the option byte (58h pay now, 19h test only).
- [U] payout amount (33): value 4 bytes, currency 3 ASCII, option byte.
- [U] an F5 reply to a payout carries one error byte (0 not enough value, 1 cannot pay
  that exact amount, 3 busy, 4 disabled).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum

from construct import Array, Bytes, Int8ub, Int16ul, Int24ub, Int32ul, PaddedString, Struct, this

from protocols.errors import FramingError, UnknownCodeError

__all__ = [
    "ENCRYPTED_ONLY",
    "PAYOUT_BY_DENOMINATION",
    "PAYOUT_NOW",
    "PAYOUT_TEST",
    "Cmd",
    "Generic",
    "PayoutError",
    "Setup",
    "build_payout_amount",
    "build_payout_by_denomination",
    "build_set_inhibits",
    "encode_setup",
    "parse_payout_amount",
    "parse_payout_by_denomination",
    "parse_set_inhibits",
    "parse_setup",
]


class Cmd(IntEnum):
    """SSP command codes."""

    RESET = 0x01
    SET_INHIBITS = 0x02
    DISPLAY_ON = 0x03
    DISPLAY_OFF = 0x04
    SETUP_REQUEST = 0x05
    HOST_PROTOCOL_VERSION = 0x06
    POLL = 0x07
    REJECT = 0x08
    DISABLE = 0x09
    ENABLE = 0x0A
    SERIAL_NUMBER = 0x0C
    UNIT_DATA = 0x0D
    CHANNEL_VALUE_DATA = 0x0E
    CHANNEL_SECURITY = 0x0F
    SYNC = 0x11
    LAST_REJECT_CODE = 0x17
    HOLD = 0x18
    FIRMWARE_VERSION = 0x20
    DATASET_VERSION = 0x21
    PAYOUT_AMOUNT = 0x33
    EMPTY = 0x3F
    DISPENSE_NOTE = 0x42
    STACK_NOTE = 0x43
    FLOAT_BY_DENOMINATION = 0x44
    PAYOUT_BY_DENOMINATION = 0x46
    SMART_EMPTY = 0x52
    CASHBOX_OPERATION_DATA = 0x53
    SET_GENERATOR = 0x4A
    SET_MODULUS = 0x4B
    REQUEST_KEY_EXCHANGE = 0x4C
    POLL_WITH_ACK = 0x56
    EVENT_ACK = 0x57
    GET_COUNTERS = 0x58
    RESET_COUNTERS = 0x59
    SET_FIXED_KEY = 0x60
    RESET_FIXED_KEY = 0x61


#: Commands a payout device carries out only when they come encrypted (reference:
#: "payout commands must be sent encrypted; unencrypted ones get F4").
ENCRYPTED_ONLY: frozenset[int] = frozenset(
    {
        Cmd.PAYOUT_AMOUNT,
        Cmd.EMPTY,
        Cmd.DISPENSE_NOTE,
        Cmd.STACK_NOTE,
        Cmd.FLOAT_BY_DENOMINATION,
        Cmd.PAYOUT_BY_DENOMINATION,
        Cmd.SMART_EMPTY,
        Cmd.SET_FIXED_KEY,
    }
)

PAYOUT_BY_DENOMINATION = Cmd.PAYOUT_BY_DENOMINATION
PAYOUT_NOW = 0x58
PAYOUT_TEST = 0x19


class Generic(IntEnum):
    """The generic replies (a reply's first DATA byte)."""

    OK = 0xF0
    UNKNOWN_COMMAND = 0xF2
    WRONG_PARAMETERS = 0xF3
    PARAMETER_OUT_OF_RANGE = 0xF4
    CANNOT_PROCESS = 0xF5
    SOFTWARE_ERROR = 0xF6
    FAIL = 0xF8
    KEY_NOT_SET = 0xFA


class PayoutError(IntEnum):
    """The byte after F5 in a payout reply [U]."""

    NOT_ENOUGH_VALUE = 0
    CANNOT_PAY_EXACT = 1
    BUSY = 3
    DISABLED = 4


def build_set_inhibits(channels: frozenset[int]) -> bytes:
    """SET_INHIBITS with ``channels`` (1..16) enabled: 2 bytes, bit n-1 = channel n."""
    mask = 0
    for channel in channels:
        if not 1 <= channel <= 16:
            raise FramingError(f"a channel is 1..16, got {channel}")
        mask |= 1 << (channel - 1)
    return bytes((Cmd.SET_INHIBITS, mask & 0xFF, mask >> 8))


def parse_set_inhibits(data: bytes) -> frozenset[int]:
    """The enabled channels of a SET_INHIBITS command's DATA (code included)."""
    if len(data) != 3:
        raise FramingError(f"set inhibits carries 2 bytes, got {len(data) - 1}")
    mask = data[1] | data[2] << 8
    return frozenset(n + 1 for n in range(16) if mask >> n & 1)


# --- setup request -------------------------------------------------------------------

_SETUP_HEAD = Struct(
    "unit_type" / Int8ub,
    "firmware" / PaddedString(4, "ascii"),
    "country" / PaddedString(3, "ascii"),
    "multiplier" / Int24ub,
    "channels" / Int8ub,
    "values" / Array(this.channels, Int8ub),
    "securities" / Array(this.channels, Int8ub),
    "real_multiplier" / Int24ub,
    "protocol" / Int8ub,
)
_SETUP_V6 = Struct(
    "currencies" / Array(this._.channels, Bytes(3)),
    "expanded" / Array(this._.channels, Int32ul),
)


@dataclass(frozen=True, slots=True)
class Setup:
    """The setup request's reply (after F0).

    Attributes:
        unit_type: 00 validator, 07 NV11 [U: codes as GA138 lists them].
        firmware: 4 ASCII characters.
        country: the dataset's currency (3 ASCII).
        multiplier: the value multiplier.
        values: each channel's value (channel 1 first).
        securities: each channel's security level.
        real_multiplier: what a channel value is multiplied by for minor units.
        protocol: the protocol version the device speaks.
        currencies: each channel's currency (protocol >= 6; else the country for all).
        expanded: each channel's full value (protocol >= 6; else ``values``).
    """

    unit_type: int
    firmware: str
    country: str
    multiplier: int
    values: tuple[int, ...]
    securities: tuple[int, ...]
    real_multiplier: int
    protocol: int
    currencies: tuple[str, ...] = ()
    expanded: tuple[int, ...] = ()

    def note_value(self, channel: int) -> tuple[str, int]:
        """``(currency, value in minor units)`` of ``channel`` (1-based)."""
        index = channel - 1
        if not 0 <= index < len(self.values):
            raise UnknownCodeError(f"channel {channel} is not one of {len(self.values)}")
        currency = self.currencies[index] if self.currencies else self.country
        value = self.expanded[index] if self.expanded else self.values[index]
        return currency, value * self.real_multiplier


def parse_setup(data: bytes) -> Setup:
    """The setup reply's DATA after the F0.

    Raises:
        FramingError: too short, or trailing bytes that are not the protocol 6 part.
    """
    try:
        head = _SETUP_HEAD.parse(data)
    except Exception as exc:
        raise FramingError(f"setup reply too short ({len(data)} bytes)") from exc
    n = head.channels
    size = 1 + 4 + 3 + 3 + 1 + 2 * n + 3 + 1
    rest = data[size:]
    currencies: tuple[str, ...] = ()
    expanded: tuple[int, ...] = ()
    if rest:
        if head.protocol < 6 or len(rest) != 7 * n:
            raise FramingError(f"setup reply has {len(rest)} bytes more than it should")
        tail = _SETUP_V6.parse(rest, channels=n)
        try:
            currencies = tuple(c.decode("ascii") for c in tail.currencies)
        except UnicodeDecodeError as exc:
            raise FramingError("a channel currency is not ASCII") from exc
        expanded = tuple(tail.expanded)
    return Setup(
        unit_type=head.unit_type,
        firmware=head.firmware,
        country=head.country,
        multiplier=head.multiplier,
        values=tuple(head["values"]),
        securities=tuple(head.securities),
        real_multiplier=head.real_multiplier,
        protocol=head.protocol,
        currencies=currencies,
        expanded=expanded,
    )


def encode_setup(setup: Setup) -> bytes:
    """The inverse of `parse_setup` (without the F0)."""
    n = len(setup.values)
    out = bytearray((setup.unit_type,))
    out += setup.firmware.encode("ascii")[:4].ljust(4, b"0")
    out += setup.country.encode("ascii")[:3]
    out += setup.multiplier.to_bytes(3, "big")
    out.append(n)
    out += bytes(setup.values) + bytes(setup.securities)
    out += setup.real_multiplier.to_bytes(3, "big")
    out.append(setup.protocol)
    if setup.currencies:
        out += b"".join(c.encode("ascii") for c in setup.currencies)
        out += b"".join(struct.pack("<I", v) for v in setup.expanded)
    return bytes(out)


# --- payout --------------------------------------------------------------------------

_DENOMINATION = Struct("count" / Int16ul, "value" / Int32ul, "currency" / Bytes(3))


def build_payout_by_denomination(notes: dict[tuple[str, int], int], *, test: bool = False) -> bytes:
    """PAYOUT_BY_DENOMINATION for ``{(currency, value in minor units): count}``."""
    if not notes or len(notes) > 20:
        raise FramingError(f"a payout by denomination names 1..20 values, got {len(notes)}")
    out = bytearray((Cmd.PAYOUT_BY_DENOMINATION, len(notes)))
    for (currency, value), count in notes.items():
        out += _DENOMINATION.build(
            {"count": count, "value": value, "currency": currency.encode("ascii")}
        )
    out.append(PAYOUT_TEST if test else PAYOUT_NOW)
    return bytes(out)


def parse_payout_by_denomination(data: bytes) -> tuple[dict[tuple[str, int], int], bool]:
    """``({(currency, value): count}, test)`` of a PAYOUT_BY_DENOMINATION's DATA."""
    if len(data) < 3 or len(data) != 3 + 9 * data[1]:
        raise FramingError("payout by denomination: wrong length")
    out: dict[tuple[str, int], int] = {}
    for i in range(data[1]):
        part = _DENOMINATION.parse(data[2 + 9 * i : 11 + 9 * i])
        key = (part.currency.decode("ascii", "replace"), part.value)
        out[key] = out.get(key, 0) + part.count
    return out, _option(data[-1])


def build_payout_amount(currency: str, value: int, *, test: bool = False) -> bytes:
    """PAYOUT_AMOUNT of ``value`` minor units of ``currency``."""
    return (
        bytes((Cmd.PAYOUT_AMOUNT,))
        + struct.pack("<I", value)
        + currency.encode("ascii")
        + bytes((PAYOUT_TEST if test else PAYOUT_NOW,))
    )


def parse_payout_amount(data: bytes) -> tuple[str, int, bool]:
    """``(currency, value, test)`` of a PAYOUT_AMOUNT's DATA."""
    if len(data) != 9:
        raise FramingError("payout amount carries 8 bytes")
    (value,) = struct.unpack_from("<I", data, 1)
    return data[5:8].decode("ascii", "replace"), value, _option(data[8])


def _option(byte: int) -> bool:
    if byte not in (PAYOUT_NOW, PAYOUT_TEST):
        raise FramingError(f"a payout option is 58h or 19h, got {byte:02X}h")
    return byte == PAYOUT_TEST
