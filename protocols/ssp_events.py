"""SSP poll events: what a POLL reply (F0 then events) carries.

Each event is a code, some followed by data (reference/protocols.md §3.6, GA138):

- one channel byte: EF read (0: still reading), EE credit, CC stacking, EA safe jam,
  E9 unsafe jam, E6 fraud attempt, E2 cleared into cashbox, E1 cleared from front
  [U: EA/E9/CC with a channel byte, as the reference's table gives them];
- a value list (n, then n x (value 4 bytes LE, currency 3 ASCII)): DA dispensing,
  D2 dispensed, C9 note transferred to stacker [U: D2 is not in the reference table;
  the value-list layout is the protocol 6 one];
- nothing: every other code of the table.

An unknown code stops the decoding (the length of what follows is unknown).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum

from protocols.errors import FramingError, UnknownCodeError

__all__ = ["CHANNEL_EVENTS", "VALUE_EVENTS", "Ev", "Event", "encode_events", "parse_events"]


class Ev(IntEnum):
    """Poll event codes."""

    SLAVE_RESET = 0xF1
    READ = 0xEF
    CREDIT = 0xEE
    REJECTING = 0xED
    REJECTED = 0xEC
    STACKING = 0xCC
    STACKED = 0xEB
    SAFE_JAM = 0xEA
    UNSAFE_JAM = 0xE9
    DISABLED = 0xE8
    STACKER_FULL = 0xE7
    FRAUD_ATTEMPT = 0xE6
    BARCODE_VALIDATED = 0xE5
    CASHBOX_REPLACED = 0xE4
    CASHBOX_REMOVED = 0xE3
    CLEARED_TO_CASHBOX = 0xE2
    CLEARED_FROM_FRONT = 0xE1
    NOTE_PATH_OPEN = 0xE0
    CHANNEL_DISABLE = 0xB5
    INITIALISING = 0xB6
    DEVICE_FULL = 0xCF
    DISPENSING = 0xDA
    DISPENSED = 0xD2
    HOPPER_JAMMED = 0xD5
    TIMEOUT = 0xD9
    NOTE_STORED_IN_PAYOUT = 0xDB
    JAM_RECOVERY = 0xB0
    PAYOUT_ERROR = 0xB1
    SMART_EMPTYING = 0xB3
    SMART_EMPTIED = 0xB4
    COIN_MECH_ERROR = 0xB7
    TRANSFERRED_TO_STACKER = 0xC9
    HELD_IN_BEZEL = 0xCE


CHANNEL_EVENTS: frozenset[Ev] = frozenset(
    {
        Ev.READ,
        Ev.CREDIT,
        Ev.STACKING,
        Ev.SAFE_JAM,
        Ev.UNSAFE_JAM,
        Ev.FRAUD_ATTEMPT,
        Ev.CLEARED_TO_CASHBOX,
        Ev.CLEARED_FROM_FRONT,
    }
)
VALUE_EVENTS: frozenset[Ev] = frozenset({Ev.DISPENSING, Ev.DISPENSED, Ev.TRANSFERRED_TO_STACKER})


@dataclass(frozen=True, slots=True)
class Event:
    """One poll event.

    Attributes:
        code: the event.
        channel: the channel byte of a channel event (else ``None``).
        values: ``((value, currency), ...)`` of a value event (else empty).
    """

    code: Ev
    channel: int | None = None
    values: tuple[tuple[int, str], ...] = ()

    def to_bytes(self) -> bytes:
        """The event's bytes in a poll reply."""
        if self.code in CHANNEL_EVENTS:
            return bytes((self.code, self.channel or 0))
        if self.code in VALUE_EVENTS:
            out = bytearray((self.code, len(self.values)))
            for value, currency in self.values:
                out += struct.pack("<I", value) + currency.encode("ascii")[:3].ljust(3, b" ")
            return bytes(out)
        return bytes((self.code,))


def parse_events(data: bytes) -> tuple[Event, ...]:
    """The events of a poll reply's DATA after the F0.

    Raises:
        UnknownCodeError: a code this table does not have.
        FramingError: an event cut short.
    """
    out: list[Event] = []
    i, size = 0, len(data)
    while i < size:
        byte = data[i]
        try:
            code = Ev(byte)
        except ValueError:
            raise UnknownCodeError(f"unknown poll event {byte:02X}h") from None
        if code in CHANNEL_EVENTS:
            if i + 1 >= size:
                raise FramingError(f"event {byte:02X}h without its channel byte")
            out.append(Event(code, data[i + 1]))
            i += 2
        elif code in VALUE_EVENTS:
            if i + 1 >= size:
                raise FramingError(f"event {byte:02X}h without its value count")
            n = data[i + 1]
            end = i + 2 + 7 * n
            if end > size:
                raise FramingError(f"event {byte:02X}h cut short")
            values = []
            for k in range(n):
                at = i + 2 + 7 * k
                (value,) = struct.unpack_from("<I", data, at)
                values.append((value, data[at + 4 : at + 7].decode("ascii", "replace")))
            out.append(Event(code, values=tuple(values)))
            i = end
        else:
            out.append(Event(code))
            i += 1
    return tuple(out)


def encode_events(events: tuple[Event, ...] | list[Event]) -> bytes:
    """The poll reply DATA after the F0 for ``events``."""
    return b"".join(e.to_bytes() for e in events)
