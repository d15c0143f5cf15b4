"""The options of an ``lcdm`` address, and the cash units they describe.

The LCDM does not know what its cassettes hold: the address says it, one
``CURRENCY:VALUE:CAPACITY`` per cassette in the model's order (upper first), the value
in minor units::

    lcdm+serial:///dev/ttyUSB0?model=2000&units=CNY:10000:2000,CNY:5000:2000

Unit ids are ``unit1`` .. ``unitN`` in that order; the reject tray is the unit
``reject`` on every model.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Literal

from hal.devices.cash_model import CashUnitInfo, CashUnitType
from hal.errors import ConfigurationError
from protocols.lcdm import Model

__all__ = ["MAX_PER_COMMAND", "REJECT", "LcdmOptions", "parse_units"]

#: The reject tray's unit id.
REJECT = "reject"
#: Notes one command may take from one cassette (the LCDM-1000/2000 spec's 1..60; the
#: LCDM-4000 allows 100 per transaction, its per-cassette limit is kept at 60 as well).
MAX_PER_COMMAND = 60

_UNIT = re.compile(r"^([A-Z]{3}):([0-9]{1,12}):([0-9]{1,7})$")


def parse_units(spec: str, model: Model, reject_capacity: int | None) -> tuple[CashUnitInfo, ...]:
    """The cash units of ``units=`` (cassettes, then the reject tray).

    Raises:
        ConfigurationError: a malformed entry, a zero note value, or not one entry per
            cassette of ``model``.
    """
    entries = [part.strip() for part in spec.split(",") if part.strip()]
    if len(entries) != model.cassettes:
        raise ConfigurationError(
            f"the LCDM-{model.value} has {model.cassettes} cassette(s): units= needs "
            f"{model.cassettes} CURRENCY:VALUE:CAPACITY entries, got {len(entries)}"
        )
    infos = []
    for n, entry in enumerate(entries, start=1):
        match = _UNIT.match(entry)
        if match is None:
            raise ConfigurationError(
                f"units= entry {entry!r} is not CURRENCY:VALUE:CAPACITY (CNY:10000:2000)"
            )
        currency, value, capacity = match.group(1), int(match.group(2)), int(match.group(3))
        if value <= 0:
            raise ConfigurationError(f"units= entry {entry!r}: a note value is > 0")
        infos.append(
            CashUnitInfo(
                id=f"unit{n}",
                type=CashUnitType.CASH_OUT,
                currency=currency,
                value=value,
                capacity=capacity,
                max_per_dispense=MAX_PER_COMMAND,
                position_name=_position(model, n),
            )
        )
    infos.append(
        CashUnitInfo(
            id=REJECT, type=CashUnitType.REJECT, capacity=reject_capacity, position_name="reject"
        )
    )
    return tuple(infos)


def _position(model: Model, n: int) -> str:
    if model is Model.LCDM2000:
        return "upper" if n == 1 else "lower"
    return f"cassette {n}"


@dataclass(frozen=True)
class LcdmOptions:
    """The options of an ``lcdm`` address (the serial line's are the transport's).

    Attributes:
        units: each cassette's ``CURRENCY:VALUE:CAPACITY``, comma-separated, upper first.
        model: 1000, 2000 or 4000.
        reject_capacity: notes the reject tray holds; ``None``: not known.
        retries: sends of a command after the first at a NAK or a missing ACK, and NAKs
            of a broken reply (the spec says 3).
        ack_timeout: seconds for the ACK of a command (the spec says 0.5).
        reply_timeout: seconds for the reply of a command that moves notes (the spec
            says 60).
        status_timeout: seconds for the reply of STATUS and ROM VERSION.
        ledger: the ledger file the service journals in; empty: in memory.

    Raises:
        ConfigurationError: a value out of range, or ``units`` that do not fit the model.
    """

    units: str
    model: Literal[1000, 2000, 4000] = 1000
    reject_capacity: int | None = None
    retries: int = 3
    ack_timeout: float = 0.5
    reply_timeout: float = 60.0
    status_timeout: float = 5.0
    ledger: str = ""

    def __post_init__(self) -> None:
        if not 0 <= self.retries <= 10:
            raise ConfigurationError(f"retries must be 0 to 10, got {self.retries}")
        for name in ("ack_timeout", "reply_timeout", "status_timeout"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ConfigurationError(f"{name} must be > 0 s, got {value}")
        if self.reject_capacity is not None and self.reject_capacity < 0:
            raise ConfigurationError(f"reject_capacity must be >= 0, got {self.reject_capacity}")
        parse_units(self.units, self.lcdm_model, self.reject_capacity)

    @property
    def lcdm_model(self) -> Model:
        """The model as the codec names it."""
        return Model(self.model)

    def unit_infos(self) -> tuple[CashUnitInfo, ...]:
        """The cash units: ``unit1`` .. ``unitN``, then ``reject``."""
        return parse_units(self.units, self.lcdm_model, self.reject_capacity)
