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

Masking is per protocol (the address's driver names it), as ``tellerhal decode`` does
(DESIGN "Security rules"): the protocol's stream decoder cuts the traffic into frames,
however the reads split it, and each frame shows what cannot hold cardholder data. For
``crt310``: track characters in track-read replies, the C-APDU after its header (a
VERIFY carries a PIN block) and the R-APDU before its status word are masked, and so
is the data of any frame the decoder does not know, of a frame with a bad BCC, and of
noise; a frame with masked data has its BCC masked too. A protocol the spy has no
decoder for is masked whole: each chunk shows as its length and ``**`` per byte.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from hal.address import DeviceAddress
from hal.registry import TransportSpec, make_transport
from hal.transports.base import Transport
from protocols.crt310 import (
    ApduReply,
    BadFrame,
    BadFrameReason,
    Command,
    Control,
    Crt310StreamDecoder,
    ErrorReply,
    Frame,
    OperationStatus,
    PlainReply,
    TrackReadReply,
    TrackStatus,
    decode_command,
    decode_reply,
)
from protocols.errors import ProtocolError

__all__ = [
    "MASKERS",
    "SPY_TRANSPORT",
    "Crt310Masker",
    "Masker",
    "OpaqueMasker",
    "SpyOptions",
    "SpyTransport",
    "open_spy_transport",
]

log = logging.getLogger(__name__)

TX, RX = "TX", "RX"
_HIDDEN = "**"


class Masker(Protocol):
    """Turns the bytes of one direction into log lines, masking what may be secret."""

    def lines(self, direction: str, data: bytes) -> list[str]:
        """The lines for ``data`` (``direction`` is ``TX`` or ``RX``); may keep a tail."""
        ...


def _hex(raw: bytes, hidden: Iterable[int], reveal: bool) -> str:
    masked = set() if reveal else set(hidden)
    return " ".join(_HIDDEN if i in masked else f"{b:02X}" for i, b in enumerate(raw))


class OpaqueMasker:
    """For a protocol without a decoder: every chunk masked whole (unless revealed)."""

    def __init__(self, reveal: bool = False) -> None:
        self.reveal = reveal

    def lines(self, direction: str, data: bytes) -> list[str]:
        return [f"{len(data):3d} bytes: {_hex(data, range(len(data)), self.reveal)}"]


# Commands whose DATA (and whose replies' DATA) never holds card data or keys.
_PLAIN_COMMANDS = frozenset(
    {
        Command.RESET,
        Command.RESET_EJECT_FRONT,
        Command.RESET_EJECT_REAR,
        Command.READ_SERIAL,
        Command.ENTRY_CONTROL,
        Command.STOP_POSITION,
        Command.STATUS,
        Command.CARD_TYPE,
        Command.SENSORS_V2,
        Command.SENSORS_V3,
        Command.MOVE_TO_RF,
        Command.MOVE_TO_IC,
        Command.MOVE_FRONT_NO_HOLD,
        Command.MOVE_FRONT_HOLD,
        Command.MOVE_REAR_HOLD,
        Command.CAPTURE,
        Command.CLEAR_REAR,
        Command.IC_POWER_ON,
        Command.IC_POWER_OFF,
        Command.SET_BAUD,
        Command.CPU_COLD_RESET,
        Command.CPU_WARM_RESET,
        Command.READ_TRACKS,
        Command.REREAD_TRACKS,
        Command.LIGHT_ON,
        Command.LIGHT_OFF,
        Command.LIGHT_BLINK,
        Command.PASS_THROUGH_ON,
        Command.PASS_THROUGH_OFF,
    }
)
_DATA = 5  # index of DATA in a frame: STX LEN_H LEN_L CM PM


class Crt310Masker:
    """CRT-310 traffic, frame by frame (see the module header for what is masked)."""

    def __init__(self, reveal: bool = False) -> None:
        self.reveal = reveal
        self._decoders = {TX: Crt310StreamDecoder(), RX: Crt310StreamDecoder()}
        self._request: Command | None = None

    def reset(self) -> None:
        """Forget partial frames and the last command (the port was reopened)."""
        for decoder in self._decoders.values():
            decoder.reset()
        self._request = None

    def lines(self, direction: str, data: bytes) -> list[str]:
        return [self._line(direction, item) for item in self._decoders[direction].feed(data)]

    def _line(self, direction: str, item: Control | Frame | BadFrame) -> str:
        if isinstance(item, Control):
            return f"{1:3d} {item.name}: {item.value:02X}"
        if isinstance(item, BadFrame):
            label = "BAD BCC" if item.reason is BadFrameReason.BCC else "NOISE"
            raw = item.raw
            return f"{len(raw):3d} {label}: {_hex(raw, range(len(raw)), self.reveal)}"
        raw = item.to_bytes()
        if direction == TX:
            label, hidden = self._command(item)
        else:
            label, hidden = self._reply(item)
        if hidden:
            hidden.append(len(raw) - 1)  # the BCC would leak a parity of the data
        return f"{len(raw):3d} {label}: {_hex(raw, hidden, self.reveal)}"

    def _command(self, frame: Frame) -> tuple[str, list[int]]:
        everything = [_DATA + i for i in range(len(frame.data))]
        try:
            request = decode_command(frame)
        except ProtocolError:
            self._request = None
            return f"CM {frame.cm:02X} PM {frame.pm:02X}", everything
        command = request.command
        self._request = command
        if command in (Command.APDU_T0, Command.APDU_T1):
            # LEN_H LEN_L CLA INS P1 P2 stay visible; Lc, the data and Le do not.
            return command.name, everything[6:]
        return command.name, [] if command in _PLAIN_COMMANDS else everything

    def _reply(self, frame: Frame) -> tuple[str, list[int]]:
        everything = [_DATA + i for i in range(len(frame.data))]
        request = self._request
        try:
            reply = decode_reply(frame, request)
        except ProtocolError:
            return f"CM {frame.cm:02X} PM {frame.pm:02X}", everything
        if isinstance(reply, ErrorReply):
            return "ERROR", []
        label = reply.command.name
        if isinstance(reply, TrackReadReply):
            return label, _track_payloads(frame.data)
        if isinstance(reply, ApduReply):
            if reply.status is not OperationStatus.SUCCESS or len(reply.response) < 2:
                return label, everything[3:]
            return label, everything[3:-2]  # P, LEN_H, LEN_L and SW1 SW2 stay visible
        if isinstance(reply, PlainReply) and reply.command not in _PLAIN_COMMANDS:
            return label, everything
        return label, []


def _track_payloads(data: bytes) -> list[int]:
    """Frame indexes of the characters of the tracks read OK (mode, selector, 1F and
    status bytes, and the error code of a failed track, stay visible)."""
    hidden: list[int] = []
    index = 2
    status: int | None = None
    while index < len(data):
        byte = data[index]
        if byte == 0x1F:
            status = data[index + 1] if index + 1 < len(data) else None
            index += 2
            continue
        if status == TrackStatus.OK:
            hidden.append(_DATA + index)
        index += 1
    return hidden


#: The protocols the spy can decode, by the driver name in an address.
MASKERS: dict[str, type[Crt310Masker]] = {"crt310": Crt310Masker}


class SpyTransport:
    """A transport that logs what passes through another one.

    Args:
        inner: the transport spied on.
        protocol: the protocol spoken (a key of `MASKERS`; others are masked whole).
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
        masker = MASKERS.get(protocol)
        self._masker: Crt310Masker | OpaqueMasker = (
            masker(reveal) if masker is not None else OpaqueMasker(reveal)
        )

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
        if isinstance(self._masker, Crt310Masker):
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
