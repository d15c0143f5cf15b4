"""The LCDM emulator's link layer seen byte by byte from the host end of a memory pair:
ACK then reply, NAK for a bad BCC, a reply sent again at the host's NAK without running
the command twice, unknown codes, frames for another ID, a dispenser without power, and
replies that decode with the codec."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from hal.devices.cash_model import CUSTOMER
from hal.transports.memory import MemoryTransport, memory_pair
from protocols.lcdm import Control, Direction, Frame, LcdmStreamDecoder, Model, build_frame
from protocols.lcdm_commands import Command, Op
from protocols.lcdm_layouts import pick_reply
from protocols.lcdm_replies import ErrorCode1000, PurgeReply, StatusReply, parse_reply
from simulator.models.cash_dispenser import CashDispenserModel
from simulator.models.cash_profiles import cash_profile
from simulator.wire.lcdm import LcdmEmulator
from simulator.wire.link import MemoryLink

ACK, NAK = bytes((Control.ACK,)), bytes((Control.NAK,))
Rig = tuple["Host", LcdmEmulator, CashDispenserModel]


class Host:
    """The host end: write bytes, read decoded items."""

    def __init__(self, end: MemoryTransport) -> None:
        self.end = end
        self.decoder = LcdmStreamDecoder()
        self.items: list[object] = []

    async def next(self, timeout: float = 1.0) -> object:
        while not self.items:
            self.items.extend(self.decoder.feed(await self.end.read(4096, timeout=timeout)))
        return self.items.pop(0)

    async def quiet(self, timeout: float = 0.15) -> bool:
        try:
            await self.next(timeout)
        except Exception:
            return True
        return False


@asynccontextmanager
async def emulated(
    model: int = 1000,
) -> AsyncIterator[tuple[Host, LcdmEmulator, CashDispenserModel]]:
    dispenser = CashDispenserModel(cash_profile(f"lcdm{model}"), pick_time=0.0)
    host_end, device_end = memory_pair()
    await device_end.open()
    await host_end.open()
    try:
        async with LcdmEmulator(dispenser, MemoryLink(device_end), model=Model(model)) as emulator:
            yield Host(host_end), emulator, dispenser
    finally:
        await host_end.close()
        await device_end.close()


async def test_ack_then_reply_then_the_hosts_ack_ends_it() -> None:
    async with emulated() as (host, emulator, _):
        await host.end.write(Command(Model.LCDM1000, Op.STATUS).encode())
        assert await host.next() is Control.ACK
        reply = await host.next()
        assert isinstance(reply, Frame)
        status = parse_reply(reply, Model.LCDM1000)
        assert isinstance(status, StatusReply)
        assert status.sensors["CASSETTE"]
        await host.end.write(ACK)
        assert await host.quiet()
        assert emulator.stats.acks == 1


async def test_a_bad_bcc_gets_nak_and_runs_nothing() -> None:
    async with emulated() as (host, emulator, dispenser):
        raw = bytearray(Command(Model.LCDM1000, Op.DISPENSE, (5,)).encode())
        raw[-1] ^= 0x55
        await host.end.write(bytes(raw))
        assert await host.next() is Control.NAK
        assert emulator.executed == []
        assert dispenser.ground_truth()[CUSTOMER] == 0


async def test_the_hosts_nak_gets_the_reply_again_without_a_second_dispense() -> None:
    async with emulated() as (host, emulator, dispenser):
        await host.end.write(Command(Model.LCDM1000, Op.DISPENSE, (5,)).encode())
        assert await host.next() is Control.ACK
        first = await host.next()
        await host.end.write(NAK)
        again = await host.next()
        assert first == again
        assert isinstance(first, Frame)
        pick = pick_reply(parse_reply(first, Model.LCDM1000))
        assert (pick.cassettes[0].check, pick.cassettes[0].exit) == (5, 5)
        assert dispenser.ground_truth()[CUSTOMER] == 5
        assert emulator.stats.resent == 1


async def test_unknown_codes_and_foreign_frames() -> None:
    async with emulated() as (host, emulator, _):
        await host.end.write(build_frame(Direction.COMMAND, 0x50, 0x60))
        assert await host.next() is Control.ACK
        reply = await host.next()
        assert isinstance(reply, Frame)
        assert (reply.cmd, reply.data) == (0x60, bytes((ErrorCode1000.UNDEFINED_COMMAND,)))
        await host.end.write(ACK)
        await host.end.write(build_frame(Direction.COMMAND, 0x30, 0x50))  # a 4000's status
        assert await host.quiet()
        assert emulator.stats.ignored == 1


async def test_no_power_no_answer() -> None:
    async with emulated() as (host, _, dispenser):
        dispenser.set_power(False)
        await host.end.write(Command(Model.LCDM1000, Op.PURGE).encode())
        assert await host.quiet()
        dispenser.set_power(True)
        await host.end.write(Command(Model.LCDM1000, Op.PURGE).encode())
        assert await host.next() is Control.ACK
        reply = await host.next()
        assert isinstance(reply, Frame)
        assert parse_reply(reply, Model.LCDM1000) == PurgeReply(Model.LCDM1000, ErrorCode1000.GOOD)
