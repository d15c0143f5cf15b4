"""Transports: how a driver's bytes reach its device.

The contract is `hal.transports.base.Transport` (an async byte stream with timeouts,
`ConnectionLost` when the device goes away, and ``reopen()`` for when it comes back);
each module documents its URL format in its header:

- `hal.transports.serial`: ``DRIVER+serial:///dev/ttyUSB0?baud=9600`` (pyserial under
  asyncio, pty-safe);
- `hal.transports.memory`: ``DRIVER+memory://NAME``, an in-process pair with a fault
  manipulator, for tests;
- `hal.transports.spy`: the ``spy+`` prefix, a hex dump of any transport's traffic with
  card data masked;
- `hal.transports.pcsc`: ``pcsc://READER``, a PC/SC smart-card reader through pcscd
  (not a byte stream: connect, ATR, transmit; its own contract, in its header).

They register through the ``tellerhal.transports`` entry points (``serial``, ``memory``,
``spy``); a driver gets its transport from `hal.registry.make_transport`.
"""

from __future__ import annotations

from hal.transports.base import ReceiveBuffer, Transport

__all__ = ["ReceiveBuffer", "Transport"]
