"""A serial write is bounded: a line that stops taking bytes (flow control holding it,
a pty whose other side stops reading) ends the write with `WriteTimeout` naming the
bytes written of the total, instead of hanging for ever."""

from __future__ import annotations

import asyncio
import os
import time
import tty
from pathlib import Path

import pytest

from hal.errors import ConfigurationError, HalTimeout
from hal.options import parse_options
from hal.transports.serial import SerialOptions, SerialTransport, WriteTimeout


async def test_a_write_nobody_reads_ends_with_the_counts(tmp_path: Path) -> None:
    master, slave = os.openpty()
    tty.setraw(slave)
    link = tmp_path / "ttyV0"
    link.symlink_to(os.ttyname(slave))
    transport = SerialTransport(str(link), SerialOptions(baud=115200, write_timeout=0.3))
    try:
        await transport.open()
        total = 4 * 1024 * 1024  # far more than a pty's kernel buffer holds
        started = time.monotonic()
        with pytest.raises(WriteTimeout) as caught:
            # The outer bound only turns a hang (the bug) into a failure.
            await asyncio.wait_for(transport.write(b"\x55" * total), 5)
        took = time.monotonic() - started
        error = caught.value
        assert isinstance(error, HalTimeout)
        assert error.total == total
        assert 0 < error.written < total
        assert f"{error.written} of {total} bytes" in str(error)
        assert 0.25 <= took < 3
        # What the line took is what the other side can read: nothing lost, nothing more.
        got = 0
        os.set_blocking(master, False)
        while True:
            try:
                chunk = os.read(master, 65536)
            except BlockingIOError:
                break
            got += len(chunk)
        assert got == error.written
        # The line still works once read again.
        await transport.write(b"ok")
        await asyncio.sleep(0.05)
        assert os.read(master, 16) == b"ok"
    finally:
        await transport.close()
        os.close(master)
        os.close(slave)


def test_write_timeout_is_an_option() -> None:
    assert SerialOptions().write_timeout == 5.0
    assert parse_options(SerialOptions, {"write_timeout": "0.5"}, where="t").write_timeout == 0.5
    with pytest.raises(ConfigurationError, match="write_timeout"):
        parse_options(SerialOptions, {"write_timeout": "0"}, where="t")


async def test_xoff_holds_a_write_until_write_timeout_and_xon_frees_the_line(
    tmp_path: Path,
) -> None:
    # xonxoff sets IXON on the pty: an XOFF from the other side stops the line as a
    # printer's XOFF would (the kernel takes nothing while stopped).
    master, slave = os.openpty()
    tty.setraw(slave)
    link = tmp_path / "ttyV1"
    link.symlink_to(os.ttyname(slave))
    options = SerialOptions(baud=115200, xonxoff=True, write_timeout=0.3)
    transport = SerialTransport(str(link), options)
    try:
        await transport.open()
        os.write(master, b"\x13")  # XOFF
        await asyncio.sleep(0.05)
        with pytest.raises(WriteTimeout) as caught:
            await asyncio.wait_for(transport.write(b"status?"), 5)
        assert (caught.value.written, caught.value.total) == (0, 7)
        os.write(master, b"\x11")  # XON
        await asyncio.sleep(0.05)
        await transport.write(b"again")
        await asyncio.sleep(0.05)
        assert os.read(master, 16) == b"again"
    finally:
        await transport.close()
        os.close(master)
        os.close(slave)
