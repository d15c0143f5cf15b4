"""SAM_V frames (`protocols.samv`): the preamble, commands, result codes, the frame
types, and building and checking whole frames. `protocols.samv` re-exports every
public name; its docstring describes the protocol.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, IntEnum

from construct import Bytes, Const, Int16ub, Struct, this

from protocols.errors import ChecksumError, FramingError

__all__ = [
    "FRAME",
    "HEADER",
    "MAX_LEN",
    "PREAMBLE",
    "SW3_MEANINGS",
    "Command",
    "CommandFrame",
    "ReplyFrame",
    "Sw3",
    "build_command",
    "build_reply",
    "direction_of",
    "parse_command",
    "parse_reply",
    "xor",
]

PREAMBLE = b"\xaa\xaa\xaa\x96\x69"
#: The largest LEN the decoder accepts: the biggest reply known is 2314 (30 10, 09 0A);
#: a LEN above this is taken for noise [our bound].
MAX_LEN = 4096
#: Preamble and LEN.
HEADER = 7

#: The frame in construct (documentation and a cross-check; the codec does not use it).
FRAME = Struct(
    "preamble" / Const(PREAMBLE),
    "length" / Int16ub,
    "body" / Bytes(this.length - 1),
    "chk" / Bytes(1),
)


class Command(Enum):
    """The commands (CMD, PARA) of §1.3 [V; 30 05 S]."""

    RESET_SAM = (0x10, 0xFF)
    SAM_STATUS = (0x11, 0xFF)
    READ_SAM_ID = (0x12, 0xFF)
    FIND_CARD = (0x20, 0x01)
    SELECT_CARD = (0x20, 0x02)
    READ_BASE = (0x30, 0x01)
    READ_NEWEST_ADDRESS = (0x30, 0x03)
    READ_MID = (0x30, 0x05)
    READ_BASE_FINGERPRINT = (0x30, 0x10)

    @property
    def cmd(self) -> int:
        return self.value[0]

    @property
    def para(self) -> int:
        return self.value[1]

    @property
    def meaning(self) -> str:
        return _COMMAND_MEANINGS[self]

    def frame(self, data: bytes = b"") -> bytes:
        """This command's frame."""
        return build_command(self.cmd, self.para, data)


_COMMAND_MEANINGS = {
    Command.RESET_SAM: "reset the SAM",
    Command.SAM_STATUS: "SAM status check",
    Command.READ_SAM_ID: "read the SAM ID (management info)",
    Command.FIND_CARD: "find (search for) a card",
    Command.SELECT_CARD: "select the card",
    Command.READ_BASE: "read the base message (text 256 + photo 1024)",
    Command.READ_NEWEST_ADDRESS: "read the newest address (70 bytes)",
    Command.READ_MID: "read the chip management number (MID)",
    Command.READ_BASE_FINGERPRINT: "read the base message with fingerprint (256 + 1024 + 1024)",
}
_COMMANDS = {c.value: c for c in Command}


class Sw3(IntEnum):
    """The result codes in SW3 (§1.4 [V])."""

    SUCCESS = 0x90
    NO_CONTENT = 0x91
    CARD_FOUND = 0x9F
    CHECKSUM_ERROR = 0x10
    LENGTH_ERROR = 0x11
    COMMAND_ERROR = 0x21
    UNAUTHORISED = 0x23
    UNRECOGNISED_ERROR = 0x24
    CARD_REJECTED_SAM = 0x31
    SAM_REJECTED_CARD = 0x32
    VERIFY_ERROR = 0x33
    UNKNOWN_CARD_TYPE = 0x40
    READ_FAILED = 0x41
    RANDOM_FAILED = 0x47
    SELF_TEST_FAILED = 0x60
    NOT_AUTHORISED = 0x66
    NO_CARD = 0x80
    SELECT_FAILED = 0x81
    COMMUNICATION_FAILURE = 0xFF


SW3_MEANINGS: dict[Sw3, str] = {
    Sw3.SUCCESS: "success",
    Sw3.NO_CONTENT: "the card has no content for this item",
    Sw3.CARD_FOUND: "card found",
    Sw3.CHECKSUM_ERROR: "checksum error in the data the SAM received",
    Sw3.LENGTH_ERROR: "length error in the data the SAM received",
    Sw3.COMMAND_ERROR: "command error (bad value or combination)",
    Sw3.UNAUTHORISED: "unauthorised operation",
    Sw3.UNRECOGNISED_ERROR: "unrecognised error",
    Sw3.CARD_REJECTED_SAM: "the card failed to authenticate the SAM",
    Sw3.SAM_REJECTED_CARD: "the SAM failed to authenticate the card",
    Sw3.VERIFY_ERROR: "information verification error",
    Sw3.UNKNOWN_CARD_TYPE: "unrecognised card type",
    Sw3.READ_FAILED: "card read failed",
    Sw3.RANDOM_FAILED: "random-number generation failed",
    Sw3.SELF_TEST_FAILED: "SAM self-test failed: it accepts no commands",
    Sw3.NOT_AUTHORISED: "SAM not authorised: unusable",
    Sw3.NO_CARD: "card search failed (no card)",
    Sw3.SELECT_FAILED: "card select failed",
    Sw3.COMMUNICATION_FAILURE: "communication failure (host library code)",
}
_SW3 = {int(s): s for s in Sw3}


def xor(data: bytes | bytearray | memoryview) -> int:
    """The XOR of ``data``'s bytes (what CHK is over LEN..DATA)."""
    return _xor(bytes(data))


def _xor(data: bytes) -> int:
    # A long frame is not looped over: its bytes are read as one big integer folded in
    # halves (XOR of the two halves keeps the XOR of all bytes), 11 steps for 1.3 kB.
    if len(data) < 48:  # a loop is quicker for a short reply
        value = 0
        for byte in data:
            value ^= byte
        return value
    folded = int.from_bytes(data, "little")
    width = len(data)
    while width > 1:
        half = (width + 1) // 2
        folded = (folded ^ (folded >> (8 * half))) & ((1 << (8 * half)) - 1)
        width = half
    return folded


@dataclass(frozen=True, slots=True, repr=False)
class CommandFrame:
    """A host command: CMD, PARA and DATA."""

    cmd: int
    para: int
    data: bytes = b""

    @property
    def command(self) -> Command | None:
        """The known command, ``None`` for a pair §1.3 does not list."""
        return _COMMANDS.get((self.cmd, self.para))

    def to_bytes(self) -> bytes:
        return build_command(self.cmd, self.para, self.data)

    def __repr__(self) -> str:
        known = self.command
        name = known.name if known else f"{self.cmd:02X} {self.para:02X}"
        data = f", <{len(self.data)} data bytes>" if self.data else ""
        return f"CommandFrame({name}{data})"


@dataclass(frozen=True, slots=True, repr=False)
class ReplyFrame:
    """A module's reply: SW1 SW2 SW3 and DATA (personal data: never printed)."""

    sw3: int
    data: bytes = b""
    sw1: int = 0
    sw2: int = 0

    @property
    def status(self) -> Sw3 | None:
        """The known result code, ``None`` for one §1.4 does not list."""
        return _SW3.get(self.sw3)

    @property
    def meaning(self) -> str:
        known = self.status
        return SW3_MEANINGS[known] if known is not None else f"unknown result {self.sw3:02X}"

    def to_bytes(self) -> bytes:
        return build_reply(self.sw3, self.data, self.sw1, self.sw2)

    def __repr__(self) -> str:
        known = self.status
        name = known.name if known is not None else f"{self.sw3:02X}"
        sw = "" if self.sw1 == self.sw2 == 0 else f", sw1sw2={self.sw1:02X}{self.sw2:02X}"
        data = f", <{len(self.data)} data bytes>" if self.data else ""
        return f"ReplyFrame({name}{sw}{data})"


def _byte(value: int, what: str) -> int:
    if not 0 <= value <= 0xFF:
        raise ValueError(f"{what} is one byte, got {value!r}")
    return value


def _frame(body: bytes) -> bytes:
    length = len(body) + 1
    if length > 0xFFFF:
        raise ValueError(f"LEN is two bytes: at most {0xFFFF - 1} bytes after it, got {len(body)}")
    head = length.to_bytes(2, "big")
    return PREAMBLE + head + body + bytes((_xor(head + body),))


def build_command(cmd: int, para: int, data: bytes = b"") -> bytes:
    """``AA AA AA 96 69 | LEN | CMD PARA | data | CHK``.

    Raises:
        ValueError: CMD or PARA outside a byte, or more data than LEN counts.
    """
    return _frame(bytes((_byte(cmd, "CMD"), _byte(para, "PARA"))) + bytes(data))


def build_reply(sw3: int, data: bytes = b"", sw1: int = 0, sw2: int = 0) -> bytes:
    """``AA AA AA 96 69 | LEN | SW1 SW2 SW3 | data | CHK``.

    Raises:
        ValueError: a status byte outside a byte, or more data than LEN counts.
    """
    status = bytes((_byte(sw1, "SW1"), _byte(sw2, "SW2"), _byte(sw3, "SW3")))
    return _frame(status + bytes(data))


def _body(raw: bytes, minimum: int, what: str) -> bytes:
    """The bytes between LEN and CHK of one whole frame, checked."""
    if raw[:5] != PREAMBLE:
        if len(raw) < 5:
            raise FramingError(
                f"a SAM_V {what} has at least {HEADER + minimum} bytes, got {len(raw)}"
            )
        raise FramingError(
            f"a SAM_V frame starts with AA AA AA 96 69, got {raw[:5].hex(' ').upper()}"
        )
    if len(raw) < HEADER:
        raise FramingError(f"frame truncated in LEN: {len(raw)} bytes")
    length = int.from_bytes(raw[5:7], "big")
    if length < minimum:
        raise FramingError(
            f"LEN {length} is below a {what}'s minimum {minimum} "
            f"({'CMD PARA CHK' if what == 'command' else 'SW1 SW2 SW3 CHK'})"
        )
    got = len(raw) - HEADER
    if got != length:
        state = "truncated" if got < length else "too long"
        raise FramingError(f"frame {state}: LEN says {length} bytes after it, got {got}")
    expected = _xor(raw[5:-1])
    if raw[-1] != expected:
        raise ChecksumError(
            f"checksum mismatch: CHK is {raw[-1]:02X}, the XOR of LEN..DATA is {expected:02X}"
        )
    return raw[7:-1]


def parse_command(raw: bytes | bytearray | memoryview) -> CommandFrame:
    """One whole host command, checked.

    Raises:
        FramingError: no preamble, LEN below 3, or a length other than LEN says.
        ChecksumError: CHK is not the XOR of LEN..DATA.
    """
    raw = bytes(raw)
    size = len(raw)
    # The fast path: a well-formed frame is checked inline; anything else goes to
    # _body, which says what is wrong.
    if (
        size >= HEADER + 3
        and raw.startswith(PREAMBLE)
        and raw[5] << 8 | raw[6] == size - HEADER
        and _xor(raw[5:-1]) == raw[-1]
    ):
        return CommandFrame(raw[7], raw[8], raw[9:-1])
    body = _body(raw, 3, "command")
    return CommandFrame(body[0], body[1], body[2:])  # pragma: no cover - _body raised


def parse_reply(raw: bytes | bytearray | memoryview) -> ReplyFrame:
    """One whole module reply, checked.

    Raises:
        FramingError: no preamble, LEN below 4, or a length other than LEN says.
        ChecksumError: CHK is not the XOR of LEN..DATA.
    """
    raw = bytes(raw)
    size = len(raw)
    if (
        size >= HEADER + 4
        and raw.startswith(PREAMBLE)
        and raw[5] << 8 | raw[6] == size - HEADER
        and _xor(raw[5:-1]) == raw[-1]
    ):
        return ReplyFrame(raw[9], raw[10:-1], raw[7], raw[8])
    body = _body(raw, 4, "reply")
    return ReplyFrame(body[2], body[3:], body[0], body[1])  # pragma: no cover - _body raised


def direction_of(raw: bytes | bytearray | memoryview) -> str:
    """``"reply"`` when the byte after LEN is 00 (SW1), else ``"command"`` (CMD is never
    00 in §1.3) [our inference]. ``raw`` starts with the preamble."""
    return "reply" if len(raw) > HEADER and raw[HEADER] == 0 else "command"
