"""The answers an ESC/POS printer sends back: DLE EOT n real-time status, GS r 1 paper
sensor, the Custom ``10 04 14`` full status and the GS ( H process-ID response; parsers
for the driver and builders for the emulator.

Bit layouts [S protocols.md 5.1: Epson TM manuals, Custom VKP80/KPM150 manual]:

- DLE EOT n (``10 04 n``) answers one byte; bits 1 and 4 are always 1, bits 0 and 7
  always 0 (anything else is not a status byte: ProtocolError).
  n=1 printer: b2 drawer pin 3 high, b3 offline, b5 waiting for online recovery, b6 feed
  button pressed. n=2 offline cause: b2 cover open, b3 paper fed by the button, b5
  stopped on paper end, b6 error. n=3 error cause: b2 mechanical (e.g. jam), b3
  autocutter, b5 unrecoverable, b6 auto-recoverable. n=4 roll paper: b2-b3 (0C) near
  end, b5-b6 (60) end.
- GS r 1 answers one byte: b0-b1 (03) near end, b2-b3 (0C) end; bits 4 and 7 are 0.
- Custom ``10 04 14`` answers 6 bytes ``10 0F p u r x``: p paper (b0 no paper, b2 near
  end, b5 ticket in the output, b6 virtual paper end), u user (b0 head up, b1 cover
  open, b2 spooling, b3 motor on, b5 LF key, b6 FF key), r recoverable errors (b0 head
  temperature, b1 COM, b3 voltage), x unrecoverable errors (kept raw).
- GS ( H fn 48 answers ``37 22 d1 d2 d3 d4 00`` [S Epson reference].
"""

from __future__ import annotations

from dataclasses import dataclass

from protocols.errors import ProtocolError

__all__ = [
    "ErrorCause",
    "FullStatus",
    "OfflineCause",
    "PaperSensor",
    "PrinterState",
    "RealTimeStatus",
    "RollPaper",
    "build_full_status",
    "build_paper_sensor",
    "build_process_id_reply",
    "build_real_time",
    "parse_full_status",
    "parse_paper_sensor",
    "parse_process_id_reply",
    "parse_real_time",
]

_FIXED_ONES = 0x12
_FIXED_ZEROS = 0x81


@dataclass(frozen=True)
class PrinterState:
    """DLE EOT 1."""

    drawer_pin3_high: bool = False
    offline: bool = False
    waiting_recovery: bool = False
    feed_button: bool = False


@dataclass(frozen=True)
class OfflineCause:
    """DLE EOT 2."""

    cover_open: bool = False
    feeding_by_button: bool = False
    paper_end_stop: bool = False
    error: bool = False


@dataclass(frozen=True)
class ErrorCause:
    """DLE EOT 3."""

    mechanical: bool = False
    autocutter: bool = False
    unrecoverable: bool = False
    auto_recoverable: bool = False


@dataclass(frozen=True)
class RollPaper:
    """DLE EOT 4."""

    near_end: bool = False
    paper_end: bool = False


RealTimeStatus = PrinterState | OfflineCause | ErrorCause | RollPaper

# (field, bit mask) per n, in the order of the dataclass fields.
_LAYOUT: dict[int, tuple[type[RealTimeStatus], tuple[tuple[str, int], ...]]] = {
    1: (
        PrinterState,
        (
            ("drawer_pin3_high", 0x04),
            ("offline", 0x08),
            ("waiting_recovery", 0x20),
            ("feed_button", 0x40),
        ),
    ),
    2: (
        OfflineCause,
        (
            ("cover_open", 0x04),
            ("feeding_by_button", 0x08),
            ("paper_end_stop", 0x20),
            ("error", 0x40),
        ),
    ),
    3: (
        ErrorCause,
        (
            ("mechanical", 0x04),
            ("autocutter", 0x08),
            ("unrecoverable", 0x20),
            ("auto_recoverable", 0x40),
        ),
    ),
    4: (RollPaper, (("near_end", 0x0C), ("paper_end", 0x60))),
}


def parse_real_time(n: int, reply: bytes) -> RealTimeStatus:
    """The answer to DLE EOT ``n`` (1-4).

    Raises:
        ProtocolError: not one byte, the fixed bits wrong, or ``n`` not 1-4.
    """
    layout = _LAYOUT.get(n)
    if layout is None:
        raise ProtocolError(f"DLE EOT {n}: no such status (1-4)")
    if len(reply) != 1:
        raise ProtocolError(f"DLE EOT {n}: a status is 1 byte, got {len(reply)}")
    byte = reply[0]
    if byte & _FIXED_ONES != _FIXED_ONES or byte & _FIXED_ZEROS:
        raise ProtocolError(
            f"DLE EOT {n}: {byte:02X} is not a status byte (bits 1 and 4 must be 1, 0 and 7 0)"
        )
    cls, bits = layout
    return cls(**{name: bool(byte & mask) for name, mask in bits})


def build_real_time(status: RealTimeStatus) -> bytes:
    """The byte a printer answers with for ``status`` (near end / end set both bits)."""
    n = {PrinterState: 1, OfflineCause: 2, ErrorCause: 3, RollPaper: 4}[type(status)]
    byte = _FIXED_ONES
    for name, mask in _LAYOUT[n][1]:
        if getattr(status, name):
            byte |= mask
    return bytes((byte,))


@dataclass(frozen=True)
class PaperSensor:
    """GS r 1."""

    near_end: bool = False
    paper_end: bool = False


def parse_paper_sensor(reply: bytes) -> PaperSensor:
    """The answer to GS r 1.

    Raises:
        ProtocolError: not one byte, or bit 4 or 7 set.
    """
    if len(reply) != 1:
        raise ProtocolError(f"GS r 1: a status is 1 byte, got {len(reply)}")
    byte = reply[0]
    if byte & 0x90:
        raise ProtocolError(f"GS r 1: {byte:02X} is not a paper sensor status (bits 4, 7 set)")
    return PaperSensor(near_end=bool(byte & 0x03), paper_end=bool(byte & 0x0C))


def build_paper_sensor(sensor: PaperSensor) -> bytes:
    """The GS r 1 answer for ``sensor``."""
    return bytes(((0x03 if sensor.near_end else 0) | (0x0C if sensor.paper_end else 0),))


@dataclass(frozen=True)
class FullStatus:
    """The Custom ``10 04 14`` full status."""

    no_paper: bool = False
    near_end: bool = False
    ticket_present: bool = False
    virtual_paper_end: bool = False
    head_up: bool = False
    cover_open: bool = False
    spooling: bool = False
    motor_on: bool = False
    lf_key: bool = False
    ff_key: bool = False
    head_temperature: bool = False
    com_error: bool = False
    voltage_error: bool = False
    unrecoverable: int = 0


_FULL_BITS: tuple[tuple[int, str, int], ...] = (
    (2, "no_paper", 0x01),
    (2, "near_end", 0x04),
    (2, "ticket_present", 0x20),
    (2, "virtual_paper_end", 0x40),
    (3, "head_up", 0x01),
    (3, "cover_open", 0x02),
    (3, "spooling", 0x04),
    (3, "motor_on", 0x08),
    (3, "lf_key", 0x20),
    (3, "ff_key", 0x40),
    (4, "head_temperature", 0x01),
    (4, "com_error", 0x02),
    (4, "voltage_error", 0x08),
)


def parse_full_status(reply: bytes) -> FullStatus:
    """The 6-byte answer to Custom ``10 04 14``.

    Raises:
        ProtocolError: not 6 bytes or not starting ``10 0F``.
    """
    if len(reply) != 6 or reply[:2] != b"\x10\x0f":
        raise ProtocolError(
            f"full status: expected 6 bytes starting 10 0F, got {len(reply)} bytes"
            f"{' starting ' + reply[:2].hex(' ').upper() if reply else ''}"
        )
    fields: dict[str, bool | int] = {name: bool(reply[i] & m) for i, name, m in _FULL_BITS}
    return FullStatus(unrecoverable=reply[5], **fields)  # type: ignore[arg-type]


def build_full_status(status: FullStatus) -> bytes:
    """The 6-byte full status for ``status``."""
    out = bytearray(b"\x10\x0f\x00\x00\x00")
    for index, name, mask in _FULL_BITS:
        if getattr(status, name):
            out[index] |= mask
    out.append(status.unrecoverable & 0xFF)
    return bytes(out)


def parse_process_id_reply(reply: bytes) -> bytes:
    """The 4-byte process ID of a GS ( H fn 48 response ``37 22 d1 d2 d3 d4 00``.

    Raises:
        ProtocolError: not that layout.
    """
    if (
        len(reply) != 7
        or reply[:2] != b"\x37\x22"
        or reply[6] != 0
        or any(not 0x20 <= b <= 0x7E for b in reply[2:6])
    ):
        raise ProtocolError(
            f"process ID response: expected 37 22 d1 d2 d3 d4 00, got {reply.hex(' ').upper()}"
        )
    return reply[2:6]


def build_process_id_reply(ident: bytes) -> bytes:
    """The printer's answer once the data before GS ( H fn 48 ``ident`` has printed."""
    if len(ident) != 4:
        raise ValueError("a process ID is 4 bytes")
    return b"\x37\x22" + ident + b"\x00"
