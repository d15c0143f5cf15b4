"""The ``spy+`` wrapper: logs a transport's traffic as hex, with card data masked.

URL format::

    spy+DRIVER+TRANSPORT://...[&reveal=true]
    spy+crt310+serial:///dev/ttyUSB0?baud=9600

The inner transport is the address without ``spy+``; every option it (and the driver)
declares goes to it as usual. The spy's one option, ``reveal``, shows every byte (for a
bench, never in production logs).

Each line goes to the logger ``hal.transports.spy`` at INFO, from the host's side::

    crt310+serial:///dev/ttyUSB0 TX   7 STATUS: 02 00 02 31 30 03 02
    crt310+serial:///dev/ttyUSB0 RX   1 ACK: 06
    crt310+serial:///dev/ttyUSB0 RX  60 READ_TRACKS: 02 00 37 45 30 30 37 1F 59 ** ** ...

Masking is per protocol (the address's driver names it, and its ``DriverSpec.masker``
makes the masker), as ``tellerhal decode`` does
(DESIGN "Security rules"): the protocol's stream decoder cuts the traffic into frames,
however the reads split it, and each frame shows what cannot hold cardholder data. For
``crt310``: track characters in track-read replies, the C-APDU after its header (a
VERIFY carries a PIN block) and the R-APDU before its status word are masked, and so
is the data of any frame the decoder does not know, of a frame with a bad BCC, and of
noise; a frame with masked data has its BCC masked too. For ``crt591``: the C-APDU after
CLA INS P1 P2, the R-APDU before SW1 SW2, the card serial number, SAM, memory-card and
RF data, and the same unknown, bad-BCC and noise rules. A protocol the spy has no
masker for is masked whole: each chunk shows as its length and ``**`` per byte. The
contract is `hal.transports.spy_maskers`; the Creator maskers are
`drivers.card_reader.creator_maskers`.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass

from hal.address import DeviceAddress
from hal.errors import DriverNotFound
from hal.registry import TransportSpec, driver, make_transport
from hal.transports.base import Transport
from hal.transports.spy_maskers import RX, TX, Masker, OpaqueMasker

__all__ = [
    "SPY_TRANSPORT",
    "Masker",
    "OpaqueMasker",
    "SpyOptions",
    "SpyTransport",
    "open_spy_transport",
]

log = logging.getLogger(__name__)


class SpyTransport:
    """A transport that logs what passes through another one.

    Args:
        inner: the transport spied on.
        protocol: the protocol spoken: the driver whose ``DriverSpec.masker`` masks
            it (a driver without one, or no driver, is masked whole).
        reveal: log every byte unmasked.
        label: how lines name the link; the inner transport's name by default.
        logger: where lines go; ``hal.transports.spy`` by default.
    """

    def __init__(
        self,
        inner: Transport,
        *,
        protocol: str = "",
        reveal: bool = False,
        label: str = "",
        logger: logging.Logger | None = None,
    ) -> None:
        self.inner = inner
        self.protocol = protocol
        self.reveal = reveal
        self.label = label or inner.name
        self.logger = logger if logger is not None else log
        self._masker: Masker = _masker_for(protocol, reveal)

    @property
    def name(self) -> str:
        return f"spy+{self.inner.name}"

    @property
    def is_open(self) -> bool:
        return self.inner.is_open

    def _log(self, direction: str, data: bytes) -> None:
        if not data or not self.logger.isEnabledFor(logging.INFO):
            return
        for line in self._masker.lines(direction, data):
            self.logger.info("%s %s %s", self.label, direction, line)

    def _note(self, what: str) -> None:
        self.logger.info("%s -- %s", self.label, what)

    async def open(self) -> None:
        await self.inner.open()
        self._note("open")

    async def close(self) -> None:
        await self.inner.close()
        self._note("closed")

    async def reopen(self) -> None:
        self._masker.reset()
        await self.inner.reopen()
        self._note("reopened")

    async def write(self, data: bytes) -> None:
        self._log(TX, bytes(data))
        await self.inner.write(data)

    async def read(self, max_bytes: int = 4096, *, timeout: float | None = None) -> bytes:
        data = await self.inner.read(max_bytes, timeout=timeout)
        self._log(RX, data)
        return data

    async def read_exactly(self, size: int, *, timeout: float | None = None) -> bytes:
        data = await self.inner.read_exactly(size, timeout=timeout)
        self._log(RX, data)
        return data

    def flush_input(self) -> int:
        dropped = self.inner.flush_input()
        if dropped:
            self._note(f"{dropped} bytes received and never read were dropped")
        return dropped

    def __repr__(self) -> str:
        return f"SpyTransport({self.inner!r}, protocol={self.protocol!r}, reveal={self.reveal})"


@dataclass(frozen=True)
class SpyOptions:
    """The options of the ``spy+`` prefix.

    Attributes:
        reveal: log every byte, card data included (a bench only).
    """

    reveal: bool = False


def open_spy_transport(address: DeviceAddress, options: SpyOptions) -> SpyTransport:
    """Wrap the transport the address names without ``spy+`` (the registry factory)."""
    inner = make_transport(dataclasses.replace(address, spy=False))
    return SpyTransport(
        inner, protocol=address.driver, reveal=options.reveal, label=address.location
    )


SPY_TRANSPORT = TransportSpec(
    name="spy",
    options=SpyOptions,
    factory=open_spy_transport,
    description="spy+ prefix: logs the traffic of any transport as hex, card data masked",
)
"""The ``spy`` transport (the ``spy+`` prefix), registered through the entry point."""


def _masker_for(protocol: str, reveal: bool) -> Masker:
    """The masker the driver named ``protocol`` declares, or `OpaqueMasker`."""
    try:
        make = driver(protocol).masker if protocol else None
    except DriverNotFound:
        make = None
    if make is None:
        return OpaqueMasker(reveal)
    masker: Masker = make(reveal)
    return masker
