"""The options of an ``id003`` address.

A validator reports a denomination CODE for the note in its escrow; what note a code
stands for depends on its firmware's currency table. ``denominations`` says it, one
``CODE=CURRENCY:VALUE`` per code (hex code, value in minor units)::

    id003+serial:///dev/ttyUSB0?parity=E&denominations=61=CNY:100,62=CNY:500

The default is `protocols.id003_messages.CNY_DENOMINATIONS` (1 to 100 yuan from 61h)
[U: check it against the validator's currency-assign answer before production].
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from hal.devices.cash_model import note_item
from hal.errors import ConfigurationError
from protocols.id003_messages import CNY_DENOMINATIONS, DENOMINATIONS

__all__ = ["DEFAULT_DENOMINATIONS", "Id003Options", "parse_denominations"]

DEFAULT_DENOMINATIONS = ",".join(
    f"{code:02X}={currency}:{value}" for code, (currency, value) in CNY_DENOMINATIONS.items()
)
_ENTRY = re.compile(r"^([0-9A-Fa-f]{2})=([A-Z]{3}):([0-9]{1,12})$")


def parse_denominations(spec: str) -> dict[int, tuple[str, int]]:
    """``{code: (currency, value)}`` of a ``denominations=`` option.

    Raises:
        ConfigurationError: a malformed entry, a code outside 61..70 (what C0 can
            enable), a zero value, a code given twice, or no entry at all.
    """
    table: dict[int, tuple[str, int]] = {}
    for entry in (part.strip() for part in spec.split(",")):
        if not entry:
            continue
        match = _ENTRY.match(entry)
        if match is None:
            raise ConfigurationError(
                f"denominations= entry {entry!r} is not CODE=CURRENCY:VALUE (61=CNY:100)"
            )
        code, currency, value = int(match.group(1), 16), match.group(2), int(match.group(3))
        if code not in DENOMINATIONS:
            raise ConfigurationError(f"denomination code {code:02X} is outside 61..70")
        if value <= 0:
            raise ConfigurationError(f"denominations= entry {entry!r}: a note value is > 0")
        if code in table:
            raise ConfigurationError(f"denomination code {code:02X} is given twice")
        table[code] = (currency, value)
    if not table:
        raise ConfigurationError("denominations= names no note")
    return table


@dataclass(frozen=True)
class Id003Options:
    """The options of an ``id003`` address (the serial line's are the transport's:
    give ``parity=E``, the validator's 8E1 [U]).

    Attributes:
        denominations: ``CODE=CURRENCY:VALUE`` entries, comma-separated.
        capacity: notes the cash box holds (``0``: not known).
        retries: sends of a frame after the first when its answer is lost or garbled.
        reply_timeout: seconds for the answer to one frame.
        poll_interval: seconds between status requests while waiting for the device.
        note_timeout: seconds a note may take from ACCEPTING to escrow or reject, and
            a stack, return or reset to end.
        ledger: the ledger file the service journals in; empty: in memory.
    """

    denominations: str = DEFAULT_DENOMINATIONS
    capacity: int = 1000
    retries: int = 3
    reply_timeout: float = 0.5
    poll_interval: float = 0.2
    note_timeout: float = 10.0
    ledger: str = ""

    def __post_init__(self) -> None:
        if not 0 <= self.retries <= 10:
            raise ConfigurationError(f"retries must be 0 to 10, got {self.retries}")
        for name in ("reply_timeout", "poll_interval", "note_timeout"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ConfigurationError(f"{name} must be > 0 s, got {value}")
        if self.capacity < 0:
            raise ConfigurationError(f"capacity must be >= 0, got {self.capacity}")
        parse_denominations(self.denominations)

    def table(self) -> dict[int, str]:
        """``{code: item}`` (``CNY:10000``)."""
        return {
            code: note_item(currency, value)
            for code, (currency, value) in parse_denominations(self.denominations).items()
        }

    def note_values(self) -> dict[int, tuple[str, int]]:
        """``{code: (currency, value)}``."""
        return parse_denominations(self.denominations)
