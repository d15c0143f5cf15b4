"""Shared by the SSP tests: a simulated ITL NV200 / NV11 on a pty, the real driver on it,
and a raw host (protocol functions only) for what the driver would never send.

`SspRig` puts a `CashAcceptorModel` of a profile (its clock 100x real time, notes
read at once) under an `SspFirmware` behind an `SspEmulator` on a `PtyBridge`;
`SspRig.core()` is the real `SspCore` over the real serial transport on that pty, with
its acceptor and (NV11) dispenser facets open. `RawHost` speaks SSP/eSSP on the pty
itself (replays, counters out of sequence, payouts in clear).
"""

from __future__ import annotations

import struct
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from drivers.cash.ssp import SSP_DRIVER, SspAcceptor, SspCore, SspDispenser
from drivers.cash.ssp_options import SspOptions
from hal.devices.cash_in_model import CashAcceptorStatus
from hal.events import Event
from hal.transports.memory import MEMORY_TRANSPORT
from hal.transports.serial import SERIAL_TRANSPORT, SerialOptions, SerialTransport
from hal.transports.spy import SPY_TRANSPORT
from protocols.essp import DEFAULT_FIXED_KEY, KeyExchange, SessionKey, decrypt_packet
from protocols.essp import encrypt_packet as wrap
from protocols.ssp import Frame, SspStreamDecoder, build_frame
from protocols.ssp_commands import Cmd
from simulator.models.cash_acceptor import CashAcceptorModel
from simulator.wire.pty import PtyBridge
from simulator.wire.ssp import SspEmulator
from simulator.wire.ssp_firmware import SspFirmware
from tests.specs import registered

#: Driver options that keep the tests fast.
FAST = {"poll_interval": 0.02, "hold_interval": 0.2, "reply_timeout": 0.3, "retries": 3}


@contextmanager
def ssp_registered() -> Iterator[None]:
    """The ssp driver and the serial, memory and spy transports, for one test."""
    with registered(SSP_DRIVER, SERIAL_TRANSPORT, MEMORY_TRANSPORT, SPY_TRANSPORT):
        yield


@dataclass
class Listener:
    """What a facet reports to its service."""

    events: list[Event] = field(default_factory=list)
    statuses: list[object] = field(default_factory=list)

    def event(self, event: Event) -> None:
        self.events.append(event)

    def status_changed(self, status: CashAcceptorStatus) -> None:
        self.statuses.append(status)


@dataclass
class Facets:
    core: SspCore
    acceptor: SspAcceptor
    dispenser: SspDispenser | None


class SspRig:
    """A simulated ITL device on a pty behind ``<directory>/ssp``.

    Args:
        directory: where the symlink goes.
        profile: ``nv200`` or ``nv11``.
        payout: notes in the NV11's payout store at start.
        escrow_timeout: seconds a note stays in escrow without HOLD.
        baud: pace the emulator's wire (``None``: no pacing).
    """

    def __init__(
        self,
        directory: Path,
        profile: str = "nv200",
        *,
        payout: int = 0,
        escrow_timeout: float = 5.0,
        baud: int | None = None,
    ) -> None:
        self.directory = directory
        self.profile = profile
        self.baud = baud
        self.model = CashAcceptorModel.from_profile(
            profile, clock_scale=0.01, name=profile, note_time=0
        )
        if payout:
            self.model.replenish("payout", payout)
        self.firmware = SspFirmware(self.model, escrow_timeout=escrow_timeout)
        self.emulator: SspEmulator | None = None

    @property
    def symlink(self) -> Path:
        return self.directory / "ssp"

    def address(self, extra: str = "") -> str:
        """The ``ssp+serial`` address of the rig."""
        options = {"baud": "115200", "profile": self.profile}
        options.update({k: str(v) for k, v in FAST.items()})
        for pair in filter(None, extra.split("&")):
            key, value = pair.split("=", 1)
            options[key] = value
        return f"ssp+serial://{self.symlink}?" + "&".join(f"{k}={v}" for k, v in options.items())

    @asynccontextmanager
    async def wire(self) -> AsyncIterator[SspEmulator]:
        """The bridge and the emulator, running."""
        async with (
            PtyBridge("ssp", directory=self.directory) as bridge,
            SspEmulator(self.firmware, bridge, baud=self.baud) as device,
        ):
            self.emulator = device
            try:
                yield device
            finally:
                self.emulator = None

    def transport(self) -> SerialTransport:
        return SerialTransport(str(self.symlink), SerialOptions(baud=115200))

    @asynccontextmanager
    async def core(self, **options: object) -> AsyncIterator[Facets]:
        """The real driver's core over the pty, with its facets open (and closed)."""
        given: dict[str, object] = {"profile": self.profile, **FAST}
        given.update(options)
        core = SspCore(self.transport(), SspOptions(**given), "ssp-test")  # type: ignore[arg-type]
        acceptor = SspAcceptor(core)
        dispenser = SspDispenser(core) if self.profile == "nv11" else None
        await acceptor.open(Listener())
        try:
            if dispenser is not None:
                await dispenser.open(Listener())  # type: ignore[arg-type]
            try:
                yield Facets(core, acceptor, dispenser)
            finally:
                if dispenser is not None:
                    await dispenser.close()
        finally:
            await acceptor.close()


class RawHost:
    """SSP by hand on the rig's pty: frames, sequence flags and eSSP packets chosen by
    the test (for replays and counters the real driver never sends)."""

    def __init__(self, transport: SerialTransport) -> None:
        self.transport = transport
        self._decoder = SspStreamDecoder()
        self.key: SessionKey | None = None
        self.count = 0

    async def send(self, seq: bool, data: bytes) -> Frame:
        """One frame with the given flag; its reply frame."""
        await self.transport.write(build_frame(seq, 0, data))
        while True:
            chunk = await self.transport.read(512, timeout=2.0)
            for item in self._decoder.feed(chunk):
                if isinstance(item, Frame):
                    return item

    async def negotiate(self, seq: bool) -> bool:
        """The key exchange starting with flag ``seq``; the flag for the next command."""
        exchange = KeyExchange.host()
        reply = None
        for code, number in (
            (Cmd.SET_GENERATOR, exchange.generator),
            (Cmd.SET_MODULUS, exchange.modulus),
            (Cmd.REQUEST_KEY_EXCHANGE, exchange.inter_key),
        ):
            reply = await self.send(seq, bytes((code,)) + struct.pack("<Q", number))
            seq = not seq
        assert reply is not None
        assert reply.data[0] == 0xF0
        (theirs,) = struct.unpack_from("<Q", reply.data, 1)
        self.key = SessionKey(DEFAULT_FIXED_KEY, exchange.negotiated(theirs))
        self.count = 0
        return seq

    def packet(self, data: bytes, count: int | None = None) -> bytes:
        assert self.key is not None
        return wrap(self.key, self.count if count is None else count, data)

    def open_reply(self, frame: Frame) -> tuple[int, bytes]:
        assert self.key is not None
        return decrypt_packet(self.key, frame.data)
