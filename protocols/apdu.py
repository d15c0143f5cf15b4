"""ISO/IEC 7816-4 command and response APDUs, the EMV commands a kiosk sends, and SWs.

Spoken by contact chip cards behind any reader: the CRT-310 wraps C-APDUs in its
``37 31``/``37 32`` commands (RS-232, 9600 8N1 by default); PC/SC readers pass them as
they are. Readers pass APDUs through unchanged.

Command APDU cases (``Lc``/``Le`` of 1 byte in the short form, 2 or 3 in the extended form):

| case | short                 | extended                        |
|------|-----------------------|---------------------------------|
| 1    | CLA INS P1 P2         | (same)                          |
| 2    | header Le             | header 00 Le1 Le2               |
| 3    | header Lc data        | header 00 Lc1 Lc2 data          |
| 4    | header Lc data Le     | header 00 Lc1 Lc2 data Le1 Le2  |

An Le of ``00`` means 256 (short) and ``0000`` means 65536 (extended); ``le`` here is
always the number of bytes expected. A response APDU is ``data SW1 SW2``.

Sources: ISO/IEC 7816-4 §5.1 (cases), EMV 4.4 Book 3 §6 (SELECT, GET PROCESSING OPTIONS,
READ RECORD, GET RESPONSE), widely published status-word tables;
reference/protocols.md §2.5.
"""

from __future__ import annotations

from dataclasses import dataclass

from protocols.errors import FramingError
from protocols.tlv import Tlv

__all__ = [
    "INS_NAMES",
    "SENSITIVE_INS",
    "CommandApdu",
    "ResponseApdu",
    "describe_sw",
    "get_processing_options",
    "get_response",
    "parse_command",
    "parse_response",
    "read_record",
    "select_by_name",
]

INS_NAMES: dict[int, str] = {
    0x0E: "ERASE BINARY",
    0x16: "CARD BLOCK",
    0x18: "APPLICATION UNBLOCK",
    0x1E: "APPLICATION BLOCK",
    0x20: "VERIFY",
    0x24: "CHANGE REFERENCE DATA",
    0x82: "EXTERNAL AUTHENTICATE",
    0x84: "GET CHALLENGE",
    0x88: "INTERNAL AUTHENTICATE",
    0xA4: "SELECT",
    0xA8: "GET PROCESSING OPTIONS",
    0xAE: "GENERATE AC",
    0xB0: "READ BINARY",
    0xB2: "READ RECORD",
    0xC0: "GET RESPONSE",
    0xCA: "GET DATA",
    0xD6: "UPDATE BINARY",
    0xDC: "UPDATE RECORD",
    0xE2: "APPEND RECORD",
}
"""Instruction names (interindustry and EMV), for decoders and logs."""

SENSITIVE_INS: frozenset[int] = frozenset({0x20, 0x24})
"""Instructions whose command data carries a PIN (offline PIN VERIFY, PIN change)."""


def _byte(name: str, value: int) -> None:
    if not 0 <= value <= 0xFF:
        raise ValueError(f"{name} must be 0..255, got {value!r}")


@dataclass(frozen=True, slots=True, repr=False)
class CommandApdu:
    """A command APDU.

    Attributes:
        cla: class byte.
        ins: instruction byte.
        p1: parameter 1.
        p2: parameter 2.
        data: command data (its length is Lc); empty for cases 1 and 2.
        le: bytes expected in the response (1..256, or 1..65536 extended); None for
            cases 1 and 3.
        extended: encode Lc/Le in the extended form. Forced on when the data or Le
            does not fit the short form, and off for case 1.
    """

    cla: int
    ins: int
    p1: int
    p2: int
    data: bytes = b""
    le: int | None = None
    extended: bool = False

    def __post_init__(self) -> None:
        for name in ("cla", "ins", "p1", "p2"):
            _byte(name, getattr(self, name))
        if len(self.data) > 0xFFFF:
            raise ValueError(f"command data is {len(self.data)} bytes, at most 65535 fit")
        if self.le is not None and not 1 <= self.le <= 0x10000:
            raise ValueError(f"le must be 1..65536 or None, got {self.le!r}")
        needs_extended = len(self.data) > 0xFF or (self.le is not None and self.le > 0x100)
        extended = needs_extended or (self.extended and (bool(self.data) or self.le is not None))
        object.__setattr__(self, "extended", extended)

    @property
    def case(self) -> str:
        """The ISO/IEC 7816-4 case: ``1``, ``2S``, ``3S``, ``4S``, ``2E``, ``3E``, ``4E``."""
        if self.data:
            number = 3 if self.le is None else 4
        elif self.le is not None:
            number = 2
        else:
            return "1"
        return f"{number}{'E' if self.extended else 'S'}"

    @property
    def name(self) -> str:
        """The instruction's name, or ``"unknown"``."""
        return INS_NAMES.get(self.ins, "unknown")

    def __repr__(self) -> str:
        # Command data can be an offline PIN (VERIFY): show its size only.
        return (
            f"CommandApdu(cla=0x{self.cla:02X}, ins=0x{self.ins:02X}, p1=0x{self.p1:02X}, "
            f"p2=0x{self.p2:02X}, data=<{len(self.data)} bytes>, le={self.le}, "
            f"extended={self.extended})"
        )

    def to_bytes(self) -> bytes:
        """The encoded APDU."""
        out = bytearray((self.cla, self.ins, self.p1, self.p2))
        if self.extended:
            if self.data:
                out += b"\x00" + len(self.data).to_bytes(2, "big") + self.data
            if self.le is not None:
                if not self.data:
                    out.append(0)
                out += (self.le & 0xFFFF).to_bytes(2, "big")
        else:
            if self.data:
                out.append(len(self.data))
                out += self.data
            if self.le is not None:
                out.append(self.le & 0xFF)
        return bytes(out)


def parse_command(raw: bytes | bytearray) -> CommandApdu:
    """Parse a command APDU of any case, short or extended.

    Raises:
        FramingError: the length bytes do not agree with the APDU's size.
    """
    apdu = bytes(raw)
    size = len(apdu)
    if size < 4:
        raise FramingError(f"command APDU is {size} bytes, expected at least 4")
    cla, ins, p1, p2 = apdu[:4]
    if size == 4:
        return CommandApdu(cla, ins, p1, p2)
    first = apdu[4]
    if size == 5:
        return CommandApdu(cla, ins, p1, p2, le=first or 0x100)
    if first:
        if size == 5 + first:
            return CommandApdu(cla, ins, p1, p2, apdu[5:])
        if size == 6 + first:
            return CommandApdu(cla, ins, p1, p2, apdu[5:-1], apdu[-1] or 0x100)
        raise FramingError(
            f"command APDU: Lc={first} needs {5 + first} or {6 + first} bytes, got {size}"
        )
    if size < 7:
        raise FramingError(f"extended command APDU is {size} bytes, expected at least 7")
    value = int.from_bytes(apdu[5:7], "big")
    if size == 7:
        return CommandApdu(cla, ins, p1, p2, le=value or 0x10000, extended=True)
    if value == 0:
        raise FramingError("extended command APDU: Lc is 0 but data follows")
    if size == 7 + value:
        return CommandApdu(cla, ins, p1, p2, apdu[7:], extended=True)
    if size == 9 + value:
        le = int.from_bytes(apdu[-2:], "big") or 0x10000
        return CommandApdu(cla, ins, p1, p2, apdu[7:-2], le, extended=True)
    raise FramingError(
        f"extended command APDU: Lc={value} needs {7 + value} or {9 + value} bytes, got {size}"
    )


@dataclass(frozen=True, slots=True, repr=False)
class ResponseApdu:
    """A response APDU.

    Attributes:
        data: response data (may be empty).
        sw1: status byte 1.
        sw2: status byte 2.
    """

    data: bytes
    sw1: int
    sw2: int

    def __post_init__(self) -> None:
        _byte("sw1", self.sw1)
        _byte("sw2", self.sw2)

    @property
    def sw(self) -> int:
        """The status word ``SW1 SW2`` as one integer (``0x9000``)."""
        return (self.sw1 << 8) | self.sw2

    @property
    def ok(self) -> bool:
        """Whether the status word is 9000."""
        return self.sw == 0x9000

    @property
    def description(self) -> str:
        """What the status word means (see ``describe_sw``)."""
        return describe_sw(self.sw)

    def to_bytes(self) -> bytes:
        """``data SW1 SW2``."""
        return self.data + bytes((self.sw1, self.sw2))

    def __repr__(self) -> str:
        # Response data can be a READ RECORD with the PAN in it: show the size only.
        return f"ResponseApdu(data=<{len(self.data)} bytes>, sw=0x{self.sw:04X})"


def parse_response(raw: bytes | bytearray) -> ResponseApdu:
    """Parse ``data SW1 SW2``.

    Raises:
        FramingError: fewer than 2 bytes.
    """
    apdu = bytes(raw)
    if len(apdu) < 2:
        raise FramingError(f"response APDU is {len(apdu)} bytes, expected at least 2 (SW1 SW2)")
    return ResponseApdu(apdu[:-2], apdu[-2], apdu[-1])


_SW_EXACT: dict[int, str] = {
    0x9000: "success",
    0x6200: "warning: no information given, state unchanged",
    0x6281: "warning: part of the returned data may be corrupted",
    0x6282: "warning: end of file or record reached before Le bytes",
    0x6283: "warning: selected file deactivated (application blocked)",
    0x6284: "warning: file control information not formatted",
    0x6300: "warning: verification failed, no information given",
    0x6400: "execution error, state unchanged",
    0x6581: "execution error: memory failure",
    0x6700: "wrong length",
    0x6881: "logical channel not supported",
    0x6882: "secure messaging not supported",
    0x6981: "command incompatible with file structure",
    0x6982: "security status not satisfied",
    0x6983: "authentication method blocked",
    0x6984: "reference data not usable",
    0x6985: "conditions of use not satisfied",
    0x6986: "command not allowed (no current EF)",
    0x6987: "expected secure messaging data objects missing",
    0x6988: "incorrect secure messaging data objects",
    0x6A80: "incorrect parameters in the command data",
    0x6A81: "function not supported",
    0x6A82: "file or application not found",
    0x6A83: "record not found",
    0x6A84: "not enough memory space in the file",
    0x6A86: "incorrect parameters P1-P2",
    0x6A88: "referenced data not found",
    0x6B00: "wrong parameters P1-P2",
    0x6D00: "instruction code not supported or invalid",
    0x6E00: "class not supported",
    0x6F00: "no precise diagnosis",
}

_SW1_CLASSES: dict[int, str] = {
    0x62: "warning, state unchanged",
    0x63: "warning, state changed",
    0x64: "execution error, state unchanged",
    0x65: "execution error, state changed",
    0x66: "security-related error",
    0x67: "wrong length",
    0x68: "function in CLA not supported",
    0x69: "command not allowed",
    0x6A: "wrong parameters P1-P2",
    0x6B: "wrong parameters P1-P2",
    0x6C: "wrong Le",
    0x6D: "instruction code not supported or invalid",
    0x6E: "class not supported",
    0x6F: "no precise diagnosis",
}


def describe_sw(sw: int) -> str:
    """What an ISO/IEC 7816-4 / EMV status word means.

    Args:
        sw: ``SW1 SW2`` as one integer, 0..0xFFFF.

    Returns:
        A short description; ``"unknown status word"`` for values outside the tables.

    Raises:
        ValueError: ``sw`` is not 0..0xFFFF.
    """
    if not 0 <= sw <= 0xFFFF:
        raise ValueError(f"status word must be 0..0xFFFF, got {sw!r}")
    sw1, sw2 = sw >> 8, sw & 0xFF
    if sw in _SW_EXACT:
        return _SW_EXACT[sw]
    if sw1 == 0x61:
        return f"success, {sw2 or 256} more bytes available (GET RESPONSE)"
    if sw1 == 0x6C:
        return f"wrong Le: resend with Le={sw2 or 256}"
    if sw1 == 0x63 and sw2 & 0xF0 == 0xC0:
        return f"verification failed, {sw2 & 0x0F} tries left"
    if sw1 in _SW1_CLASSES:
        return f"{_SW1_CLASSES[sw1]} (SW2 {sw2:02X})"
    return "unknown status word"


def select_by_name(
    name: bytes, *, next_occurrence: bool = False, le: int | None = 0x100
) -> CommandApdu:
    """SELECT by DF name (AID or ``1PAY.SYS.DDF01``), first or next occurrence.

    Args:
        name: the DF name, 1..16 bytes.
        next_occurrence: P2 = 02 (next) instead of 00 (first).
        le: expected length; EMV sends Le = 00 (256); None makes it a case 3 APDU.
    """
    if not 1 <= len(name) <= 16:
        raise ValueError(f"DF name must be 1..16 bytes, got {len(name)}")
    return CommandApdu(0x00, 0xA4, 0x04, 0x02 if next_occurrence else 0x00, bytes(name), le)


def get_processing_options(pdol_data: bytes = b"", *, le: int = 0x100) -> CommandApdu:
    """GET PROCESSING OPTIONS with the PDOL data wrapped in tag 83."""
    return CommandApdu(0x80, 0xA8, 0x00, 0x00, Tlv(0x83, bytes(pdol_data)).to_bytes(), le)


def read_record(record: int, sfi: int, *, le: int = 0x100) -> CommandApdu:
    """READ RECORD ``record`` of the file with short file identifier ``sfi`` (1..30)."""
    if not 1 <= record <= 0xFF:
        raise ValueError(f"record number must be 1..255, got {record!r}")
    if not 1 <= sfi <= 30:
        raise ValueError(f"SFI must be 1..30, got {sfi!r}")
    return CommandApdu(0x00, 0xB2, record, (sfi << 3) | 0x04, le=le)


def get_response(length: int) -> CommandApdu:
    """GET RESPONSE for ``length`` bytes (the xx of a 61xx status word; 0 means 256)."""
    if not 0 <= length <= 0x100:
        raise ValueError(f"length must be 0..256, got {length!r}")
    return CommandApdu(0x00, 0xC0, 0x00, 0x00, le=length or 0x100)
