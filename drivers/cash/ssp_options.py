"""The options of an ``ssp`` address (the serial line's are the transport's).

::

    ssp+serial:///dev/ttyUSB0?baud=9600&stopbits=2&profile=nv11
    ssp+serial:///dev/ttyUSB0?baud=9600&stopbits=2&profile=nv11&facet=dispenser

``facet`` picks the device the address opens: the ``acceptor`` (a `CashAcceptor`) or,
on a payout device, the ``dispenser`` (a `CashDispenser` paying out the payout store).
Two addresses that differ only in ``facet`` share ONE connection in the process (one
`drivers.cash.ssp.SspCore`): open both, the port is opened once.

The eSSP fixed key is never an address option (addresses are logged): ``fixed_key_file``
names a file holding its 16 hex digits; without it the device's default key is used.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from hal.errors import ConfigurationError
from protocols.essp import DEFAULT_FIXED_KEY

__all__ = ["SspOptions"]


@dataclass(frozen=True)
class SspOptions:
    """The options of an ``ssp`` address.

    Attributes:
        profile: ``nv200`` (validator) or ``nv11`` (validator with a payout store).
        facet: ``acceptor`` or ``dispenser`` (``nv11`` only).
        encrypted: negotiate an eSSP key at open and send commands encrypted; default
            on for a payout device, off for a validator.
        fixed_key_file: a file with the 64-bit fixed key as 16 hex digits (default key
            when empty).
        slave: the SSP address (0: validator).
        poll_interval: seconds between polls (the device wants polls; GA138 suggests
            100-200 ms).
        hold_interval: seconds between HOLDs while a note waits in escrow (< 5 s).
        reply_timeout: seconds to wait for a reply before sending the frame again.
        retries: sends of a frame after the first (same sequence flag).
        cashbox_capacity: notes the cash box holds.
        payout_capacity: notes the payout store holds (``nv11``).
        payout_value: minor units of the payout store's notes (``nv11``).
        payout_by: ``denomination`` (command 46) or ``amount`` (command 33).
        ledger: the ledger file the services journal in; empty: in memory.
    """

    profile: Literal["nv200", "nv11"] = "nv200"
    facet: Literal["acceptor", "dispenser"] = "acceptor"
    encrypted: bool | None = None
    fixed_key_file: str = ""
    slave: int = 0
    poll_interval: float = 0.2
    hold_interval: float = 1.0
    reply_timeout: float = 0.5
    retries: int = 3
    cashbox_capacity: int = 500
    payout_capacity: int = 30
    payout_value: int = 2000
    payout_by: Literal["denomination", "amount"] = "denomination"
    ledger: str = ""

    def __post_init__(self) -> None:
        for name in ("poll_interval", "hold_interval", "reply_timeout"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ConfigurationError(f"{name} must be > 0 s, got {value}")
        if self.hold_interval >= 5:
            raise ConfigurationError("hold_interval must be < 5 s (the escrow's hold time)")
        if not 0 <= self.retries <= 10:
            raise ConfigurationError(f"retries must be 0 to 10, got {self.retries}")
        if not 0 <= self.slave <= 127:
            raise ConfigurationError(f"slave is an SSP address 0..127, got {self.slave}")
        if self.facet == "dispenser" and self.profile != "nv11":
            raise ConfigurationError("facet=dispenser needs a payout device (profile=nv11)")

    @property
    def payout(self) -> bool:
        """The device has a payout store."""
        return self.profile == "nv11"

    @property
    def use_encryption(self) -> bool:
        """Whether to negotiate a key (default: on for payout devices)."""
        return self.payout if self.encrypted is None else self.encrypted

    def fixed_key(self) -> int:
        """The fixed key (read from ``fixed_key_file``; never logged).

        Raises:
            ConfigurationError: the file cannot be read or does not hold 16 hex digits
                (the message never quotes it).
        """
        if not self.fixed_key_file:
            return DEFAULT_FIXED_KEY
        try:
            text = Path(self.fixed_key_file).read_text("ascii").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigurationError(
                f"cannot read fixed_key_file {self.fixed_key_file}: {type(exc).__name__}"
            ) from None
        if len(text) != 16 or any(c not in "0123456789abcdefABCDEF" for c in text):
            raise ConfigurationError(
                f"fixed_key_file {self.fixed_key_file} must hold 16 hex digits"
            )
        return int(text, 16)
