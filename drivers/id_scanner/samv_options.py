"""The options of a ``samv`` address.

::

    samv+serial:///dev/ttyUSB1[?baud=115200&reply_timeout=3&poll_interval=0.3
                                &read_retries=1]
    samv+usb://VID:PID[?serial=SN&backend=libusb1&reply_timeout=3...]

The serial line's options (``baud``...) are the transport's; the driver makes
``baud=115200`` the default when the address gives none (the module's factory setting,
reference/protocols.md §1.1). The USB pipes are fixed by the protocol (OUT 0x02 and
0x06, IN 0x81 and 0x85): ``ep_out``/``ep_in`` need not be given.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from hal.errors import ConfigurationError

__all__ = ["MIN_POLL_INTERVAL", "SAMV_BAUD", "SamvOptions"]

#: The module's factory baud rate, the driver's default on a serial line.
SAMV_BAUD = 115200
#: The protocol's rule: find a card no more often than every 300 ms.
MIN_POLL_INTERVAL = 0.3


@dataclass(frozen=True)
class SamvOptions:
    """The options of a ``samv`` address.

    Attributes:
        reply_timeout: seconds the module has to answer one command (a read of the
            base message with fingerprints is 2321 bytes, 0.2 s at 115200 baud, after
            the card's authentication); no answer in time is `HalTimeout`.
        poll_interval: seconds between two card searches (20 01) while waiting for a
            card; at least 0.3 (the protocol's rule).
        read_retries: sends of a read again (status, SAM ID, base message, newest
            address: idempotent) after a reply with a bad checksum, or the module's own
            checksum or length complaint (SW3 10/11); 0 to 3.
    """

    reply_timeout: float = 3.0
    poll_interval: float = MIN_POLL_INTERVAL
    read_retries: int = 1

    def __post_init__(self) -> None:
        if not (math.isfinite(self.reply_timeout) and self.reply_timeout > 0):
            raise ConfigurationError(f"reply_timeout must be > 0 s, got {self.reply_timeout}")
        if not (math.isfinite(self.poll_interval) and self.poll_interval >= MIN_POLL_INTERVAL):
            raise ConfigurationError(
                f"poll_interval must be >= {MIN_POLL_INTERVAL} s (the SAM_V protocol "
                f"searches for a card no more often than that), got {self.poll_interval}"
            )
        if not 0 <= self.read_retries <= 3:
            raise ConfigurationError(f"read_retries must be 0 to 3, got {self.read_retries}")
