"""The serial transport on a pty: bytes both ways, no modem lines, unplug and replug."""

from __future__ import annotations

import asyncio
import os
import tty
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from hal.address import DeviceAddress
from hal.errors import ConfigurationError, ConnectionLost, HalTimeout, TransportError
from hal.options import parse_options
from hal.registry import make_transport
from hal.transports.serial import SERIAL_TRANSPORT, SerialOptions, SerialTransport
from tests.specs import registered


class Pty:
    """A raw pty pair whose slave is reached through a symlink (the test's 'device')."""

    def __init__(self, link: Path) -> None:
        self.link = link
        self.master: int | None = None
        self.slave: int | None = None
        self.plug()

    def plug(self) -> None:
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        temporary = self.link.with_suffix(".new")
        temporary.symlink_to(os.ttyname(self.slave))
        temporary.replace(self.link)

    def unplug(self) -> None:
        for fd in (self.master, self.slave):
            if fd is not None:
                os.close(fd)
        self.master = self.slave = None
        self.link.unlink(missing_ok=True)

    def send(self, data: bytes) -> None:
        assert self.master is not None
        os.write(self.master, data)

    def receive(self) -> bytes:
        assert self.master is not None
        return os.read(self.master, 1024)


@pytest.fixture
def pty(tmp_path: Path) -> Iterator[Pty]:
    device = Pty(tmp_path / "ttyV0")
    yield device
    device.unplug()


@pytest.fixture
async def port(pty: Pty) -> AsyncIterator[SerialTransport]:
    transport = SerialTransport(str(pty.link), SerialOptions(baud=115200))
    await transport.open()
    yield transport
    await transport.close()


async def test_bytes_cross_and_modem_lines_are_absent_on_a_pty(
    port: SerialTransport, pty: Pty
) -> None:
    assert port.is_open
    assert port.modem_lines is False  # DTR/RTS gave ENOTTY, and nothing broke
    assert port.set_dtr(False) is False
    pty.send(b"\x06")
    assert await port.read(timeout=1) == b"\x06"
    await port.write(b"\x02\x00\x02\x31\x30\x03\x02")
    assert pty.receive() == b"\x02\x00\x02\x31\x30\x03\x02"
    with pytest.raises(HalTimeout, match="nothing received"):
        await port.read(timeout=0.02)


async def test_binary_bytes_pass_unchanged(port: SerialTransport, pty: Pty) -> None:
    everything = bytes(range(256)) + b"\r\n\x03\x11\x13"
    pty.send(everything)
    assert await port.read_exactly(len(everything), timeout=1) == everything


async def test_flush_input_drops_what_was_not_read(port: SerialTransport, pty: Pty) -> None:
    pty.send(b"stale")
    await asyncio.sleep(0.02)
    assert port.flush_input() == 5
    with pytest.raises(HalTimeout):
        await port.read(timeout=0.01)


async def test_unplug_mid_read_is_connection_lost_not_a_hang(
    port: SerialTransport, pty: Pty
) -> None:
    reading = asyncio.create_task(port.read(timeout=10))
    await asyncio.sleep(0.02)
    pty.unplug()
    with pytest.raises(ConnectionLost, match="connection lost"):
        await asyncio.wait_for(reading, 2)
    with pytest.raises(ConnectionLost):
        await port.write(b"x")
    with pytest.raises(ConnectionLost, match="not there"):
        await port.reopen()
    with pytest.raises(ConnectionLost):
        await port.read(timeout=0)  # still gone: not "not open"
    pty.plug()  # a new /dev/pts/N behind the same symlink
    await port.reopen()
    pty.send(b"back")
    assert await port.read(timeout=1) == b"back"


async def test_a_missing_port_is_connection_lost(tmp_path: Path) -> None:
    transport = SerialTransport(str(tmp_path / "nothing"))
    with pytest.raises(ConnectionLost, match="not there"):
        await transport.open()
    assert not transport.is_open


async def test_exclusive_keeps_a_second_opener_out(port: SerialTransport, pty: Pty) -> None:
    second = SerialTransport(str(pty.link), SerialOptions(baud=115200))
    with pytest.raises(TransportError, match="in use"):
        await second.open()
    shared = SerialTransport(str(pty.link), SerialOptions(exclusive=False))
    await shared.open()
    await shared.close()


async def test_reads_after_close_are_a_caller_mistake(port: SerialTransport) -> None:
    await port.close()
    await port.close()  # idempotent
    with pytest.raises(TransportError, match="not open"):
        await port.read(timeout=0)


def test_options_are_parsed_and_checked() -> None:
    options = parse_options(
        SerialOptions, {"baud": "19200", "parity": "E", "stopbits": "2"}, where="t"
    )
    assert (options.baud, options.parity, options.stopbits) == (19200, "E", 2)
    with pytest.raises(ConfigurationError, match="baud must be a standard rate"):
        parse_options(SerialOptions, {"baud": "9601"}, where="t")
    with pytest.raises(ConfigurationError, match="parity"):
        parse_options(SerialOptions, {"parity": "X"}, where="t")


def test_an_address_names_the_port_and_its_settings(pty: Pty) -> None:
    with registered(SERIAL_TRANSPORT):
        transport = make_transport(
            DeviceAddress.parse(f"crt310+serial://{pty.link}?baud=38400&retain_capacity=5")
        )
        assert isinstance(transport, SerialTransport)
        assert transport.port == str(pty.link)
        assert transport.options.baud == 38400
        with pytest.raises(ConfigurationError, match="names the port"):
            make_transport(DeviceAddress.parse("crt310+serial://"))
