"""The usb transport through the real pyusb stack, on the simulator's ``sim`` backend.

The device on the other side is a `SimUsbDevice` on the simulated bus: pyusb
(``usb.core.find``, ``Device.read``/``write``, ``ctrl_transfer``, ``usb.util``) runs
unchanged on it, as on libusb. Bytes both ways, timeouts that consume nothing, unplug
in the middle of a read, reopen after a replug, control transfers, a claim refused, and
the worker thread gone after close.
"""

from __future__ import annotations

import asyncio
import dataclasses
import errno
import itertools
import struct
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import usb.core
import usb.util
from hypothesis import given, settings
from hypothesis import strategies as st

from hal.address import DeviceAddress
from hal.errors import ConfigurationError, ConnectionLost, HalTimeout, TransportError
from hal.registry import make_transport
from hal.transports import usb_worker
from hal.transports.base import Transport
from hal.transports.usb import (
    USB_TRANSPORT,
    UsbOptions,
    UsbTransport,
    backend_names,
    get_backend,
    register_backend,
    unregister_backend,
)
from simulator.wire.usb import (
    SIM_VENDOR_ID,
    ConfigurationSpec,
    EchoFirmware,
    EndpointSpec,
    InterfaceSpec,
    SimUsbBackend,
    SimUsbDevice,
    UsbDeviceSpec,
    UsbFirmware,
    bulk_spec,
    default_bus,
)
from tests.specs import registered

PID = 0x7E57
_serials = itertools.count()


def _spec(**more: object) -> UsbDeviceSpec:
    return bulk_spec(
        SIM_VENDOR_ID,
        PID,
        product="Transport test device",
        serial=f"T{next(_serials):05d}",
        **more,  # type: ignore[arg-type]
    )


@pytest.fixture
def echo() -> Iterator[SimUsbDevice]:
    """An echo device plugged in on the sim bus (unplugged after the test)."""
    device = SimUsbDevice(_spec(), EchoFirmware())
    with default_bus().plugged(device):
        yield device


@pytest.fixture
def silent() -> Iterator[SimUsbDevice]:
    """A device that says only what the test makes it say."""
    device = SimUsbDevice(_spec())
    with default_bus().plugged(device):
        yield device


def _transport(device: SimUsbDevice, **options: object) -> UsbTransport:
    opts = UsbOptions(backend="sim", serial=device.spec.serial or "", **options)  # type: ignore[arg-type]
    return UsbTransport(device.spec.vendor_id, device.spec.product_id, opts)


@pytest.fixture
async def port(echo: SimUsbDevice) -> AsyncIterator[UsbTransport]:
    transport = _transport(echo)
    await transport.open()
    yield transport
    await transport.close()


@pytest.fixture
async def quiet_port(silent: SimUsbDevice) -> AsyncIterator[UsbTransport]:
    transport = _transport(silent)
    await transport.open()
    yield transport
    await transport.close()


def _workers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("usb ")]


# --- addresses and options ---------------------------------------------------------------


def test_the_address_names_vid_pid_and_options() -> None:
    with registered(USB_TRANSPORT):
        address = DeviceAddress.parse(
            "crt310+usb://0DD4:0x0195?serial=A1&interface=1&ep_out=0x02&ep_in=0x82&backend=sim"
        )
        transport = make_transport(address)
        assert isinstance(transport, UsbTransport)
        assert isinstance(transport, Transport)
        assert (transport.vendor_id, transport.product_id) == (0x0DD4, 0x0195)
        assert transport.options == UsbOptions(
            serial="A1", interface=1, ep_out=2, ep_in=0x82, backend="sim"
        )
        assert transport.name == "usb://0dd4:0195?serial=A1"
        as_options = make_transport(DeviceAddress.parse("escpos+usb://?vid=0x0416&pid=0x5011"))
        assert (as_options.vendor_id, as_options.product_id) == (0x0416, 0x5011)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("crt310+usb://", "names the device"),
        ("crt310+usb://0dd4", "VID:PID"),
        ("crt310+usb://0dd4:0195:1", "VID:PID"),
        ("crt310+usb://12345:0195", "VID:PID"),
        ("crt310+usb://0dd4:0195/x", "no path"),
        ("crt310+usb://0dd4:0195?vid=0x0dd5", "contradicts"),
        ("crt310+usb://0dd4:0195?ep_out=0x81", "ep_out"),
        ("crt310+usb://0dd4:0195?ep_in=0x01", "ep_in"),
        ("crt310+usb://0dd4:0195?read_slice=0", "read_slice"),
        ("crt310+usb://0dd4:0195?read_slice=0.2", "at most idle_slice"),
    ],
)
def test_bad_addresses_say_what_is_wrong(text: str, message: str) -> None:
    with registered(USB_TRANSPORT), pytest.raises(ConfigurationError, match=message):
        make_transport(DeviceAddress.parse(text))


def test_backends_are_looked_up_by_name() -> None:
    assert {"libusb1", "libusb0", "openusb", "sim"} <= set(backend_names())
    assert get_backend("sim") is default_bus().backend
    with pytest.raises(ConfigurationError, match="no pyusb backend is registered as 'nope'"):
        get_backend("nope")
    register_backend("absent", lambda: None)
    try:
        with pytest.raises(TransportError, match="not available"):
            get_backend("absent")
        with pytest.raises(ConfigurationError, match="already registered"):
            register_backend("absent", lambda: None)
    finally:
        unregister_backend("absent")
    assert "absent" not in backend_names()


@pytest.mark.leaks_ok(
    "libusb's process-wide context (its event thread and hotplug netlink socket) is made "
    "on first use and lives as long as the process",
    kinds=("thread", "socket"),
)
async def test_no_such_device_is_connection_lost_on_the_real_libusb_backend() -> None:
    # This machine has no USB bus: libusb loads and lists nothing (ecosystem.md §3).
    transport = UsbTransport(0x0DD4, 0x0195, UsbOptions(backend="libusb1"))
    with pytest.raises((ConnectionLost, TransportError), match="usb://0dd4:0195"):
        await transport.open()
    assert not transport.is_open
    assert not _workers()


async def test_opening_finds_the_device_by_serial_and_reports_it(echo: SimUsbDevice) -> None:
    other = SimUsbDevice(dataclasses.replace(echo.spec, serial="SOMEONE-ELSE"), EchoFirmware())
    with default_bus().plugged(other):
        transport = _transport(echo)
        await transport.open()
        try:
            info = transport.info
            assert info is not None
            assert (info.serial, info.product) == (echo.spec.serial, "Transport test device")
            assert (info.ep_out, info.ep_in, info.max_packet) == (0x01, 0x81, 64)
            assert info.address == echo.address
            await transport.write(b"mine?")
            assert await transport.read_exactly(5, timeout=1) == b"mine?"
            assert echo.bytes_out == 5
            assert other.bytes_out == 0
        finally:
            await transport.close()
    missing = UsbTransport(SIM_VENDOR_ID, PID, UsbOptions(backend="sim", serial="NOBODY"))
    with pytest.raises(ConnectionLost, match="no such device"):
        await missing.open()


async def test_a_missing_interface_or_endpoint_refuses_to_open(echo: SimUsbDevice) -> None:
    for options, message in (
        ({"interface": 3}, "no interface 3"),
        ({"ep_in": 0x85}, "no endpoint 0x85"),
        ({"ep_out": 0x02}, "no endpoint 0x02"),
    ):
        transport = _transport(echo, **options)
        with pytest.raises(TransportError, match=message):
            await transport.open()
        assert not _workers()
    # Nothing was left claimed: a correct open works.
    transport = _transport(echo)
    await transport.open()
    await transport.close()


# --- bytes -------------------------------------------------------------------------------


async def test_bytes_cross_both_ways(port: UsbTransport, echo: SimUsbDevice) -> None:
    assert port.is_open
    await port.write(b"\x02\x00\x02\x31\x30\x03\x02")
    assert await port.read_exactly(7, timeout=1) == b"\x02\x00\x02\x31\x30\x03\x02"
    big = bytes(range(256)) * 20  # many packets
    await port.write(big)
    assert await port.read_exactly(len(big), timeout=2) == big
    await port.write(b"abcdef")
    assert await port.read(4, timeout=1) == b"abcd"
    assert await port.read(timeout=1) == b"ef"
    assert echo.bytes_out == 7 + len(big) + 6


async def test_bytes_the_device_sends_unasked_are_kept(
    quiet_port: UsbTransport, silent: SimUsbDevice
) -> None:
    silent.send(b"unsolicited")
    await _until(lambda: silent.pending_in() == 0)  # the worker took it off the pipe
    await asyncio.sleep(0.02)
    assert await quiet_port.read(timeout=0) == b"unsolicited"
    silent.send(b"xyz")
    await _until(lambda: silent.pending_in() == 0)
    assert quiet_port.flush_input() == 3
    with pytest.raises(HalTimeout):
        await quiet_port.read(timeout=0.02)


async def test_timeouts_raise_hal_timeout_and_consume_nothing(
    quiet_port: UsbTransport, silent: SimUsbDevice
) -> None:
    with pytest.raises(HalTimeout, match=r"nothing received within 0\.05 s"):
        await quiet_port.read(timeout=0.05)
    silent.send(b"abc")
    with pytest.raises(HalTimeout, match="3 of 5 bytes"):
        await quiet_port.read_exactly(5, timeout=0.1)
    silent.send(b"de")
    assert await quiet_port.read_exactly(5, timeout=1) == b"abcde"


async def test_a_device_that_takes_nothing_times_the_write_out(silent: SimUsbDevice) -> None:
    transport = _transport(silent, write_timeout=0.05)
    await transport.open()
    try:
        silent.hold_out()
        start = time.monotonic()
        with pytest.raises(HalTimeout, match=r"did not take 4 of 4 bytes within 0\.05 s"):
            await transport.write(b"stop")
        assert time.monotonic() - start < 1
        silent.hold_out(False)
        await transport.write(b"go")
        assert silent.bytes_out == 2
    finally:
        await transport.close()


async def test_unplug_mid_read_is_connection_lost_not_a_hang(
    quiet_port: UsbTransport, silent: SimUsbDevice
) -> None:
    silent.send(b"before")
    await _until(lambda: silent.pending_in() == 0)
    reader = asyncio.ensure_future(quiet_port.read_exactly(100, timeout=30))
    await asyncio.sleep(0.02)
    default_bus().unplug(silent)
    with pytest.raises(ConnectionLost, match="No such device"):
        await asyncio.wait_for(reader, 2)
    # What arrived before the unplug is still there to read; then the loss.
    assert await quiet_port.read(timeout=1) == b"before"
    with pytest.raises(ConnectionLost):
        await quiet_port.read(timeout=1)
    with pytest.raises(ConnectionLost):
        await quiet_port.write(b"x")
    with pytest.raises(ConnectionLost):
        await quiet_port.control_transfer(0xC0, 0x01, data=4)
    assert not quiet_port.is_open


async def test_reopen_finds_the_device_after_a_replug(echo: SimUsbDevice) -> None:
    transport = _transport(echo)
    await transport.open()
    try:
        first = transport.info
        default_bus().unplug(echo)
        with pytest.raises(ConnectionLost):
            await transport.write(b"lost")
        with pytest.raises(ConnectionLost, match="no such device"):
            await transport.reopen()
        with pytest.raises(ConnectionLost):  # still gone, not "not open"
            await transport.read(timeout=0.01)
        default_bus().plug(echo)
        await transport.reopen()
        assert transport.is_open
        assert transport.info is not None
        assert first is not None
        assert transport.info.address != first.address  # a new enumeration
        await transport.write(b"back")
        assert await transport.read_exactly(4, timeout=1) == b"back"
        assert len(_workers()) == 1
    finally:
        await transport.close()


async def test_a_refused_reopen_ends_reads_instead_of_leaving_them_waiting(
    echo: SimUsbDevice,
) -> None:
    # The device came back, but another program claimed it first: the reopen is
    # refused (not ConnectionLost), and a read must not wait for ever for bytes that
    # cannot come.
    transport, other = _transport(echo), _transport(echo)
    await transport.open()
    try:
        default_bus().replug(echo)
        await other.open()
        with pytest.raises(TransportError, match="in use by another program"):
            await transport.reopen()
        assert not transport.is_open
        with pytest.raises(ConnectionLost, match=r"in use by another program \(reopening failed\)"):
            await asyncio.wait_for(transport.read(), 2)
        with pytest.raises(ConnectionLost):
            await transport.write(b"x")
        await other.close()
        await transport.reopen()  # free again: it works
        await transport.write(b"ok")
        assert await transport.read_exactly(2, timeout=1) == b"ok"
    finally:
        await other.close()
        await transport.close()


async def test_a_close_while_opening_leaves_it_closed_and_able_to_open_again(
    echo: SimUsbDevice,
) -> None:
    transport = _transport(echo)
    opening = asyncio.create_task(transport.open())
    await asyncio.sleep(0)  # the attach is queued on the worker
    await transport.close()
    with pytest.raises(TransportError, match="closed while opening"):
        await opening
    assert not transport.is_open
    with pytest.raises(TransportError, match="not open"):
        await transport.write(b"x")
    await transport.open()  # not a no-op: it opens
    try:
        assert transport.is_open
        await transport.write(b"hi")
        assert await transport.read_exactly(2, timeout=1) == b"hi"
        assert len(_workers()) == 1
    finally:
        await transport.close()


class _HaltingBackend(SimUsbBackend):
    """The sim bus, but each bulk IN read stalls and clearing the halt fails with the
    backend's own error (a backend bug, not a USBError)."""

    def bulk_read(self, dev_handle: Any, ep: int, intf: int, buff: Any, timeout: int) -> int:
        raise usb.core.USBError("Pipe error", -9, errno.EPIPE)

    def clear_halt(self, dev_handle: Any, ep: int) -> None:
        raise RuntimeError("clear_halt is broken")


async def test_a_worker_thread_that_fails_ends_calls_instead_of_leaving_them_waiting(
    echo: SimUsbDevice,
) -> None:
    backend = _HaltingBackend(default_bus())
    register_backend("halting", lambda: backend)
    transport = UsbTransport(
        SIM_VENDOR_ID, PID, UsbOptions(backend="halting", serial=echo.spec.serial or "")
    )
    try:
        await transport.open()
        with pytest.raises(ConnectionLost, match=r"worker thread failed \(RuntimeError"):
            await asyncio.wait_for(transport.read(), 2)
        with pytest.raises(ConnectionLost):
            await asyncio.wait_for(transport.write(b"x"), 2)
        with pytest.raises(ConnectionLost):
            await asyncio.wait_for(transport.control_transfer(0xC0, 0x01, data=4), 2)
        assert not transport.is_open
    finally:
        await transport.close()
        unregister_backend("halting")
    assert not _workers()


async def test_close_stops_the_worker_promptly_and_ends_pending_reads(echo: SimUsbDevice) -> None:
    before = set(_workers())
    transport = _transport(echo, idle_slice=0.05)
    await transport.open()
    assert len(set(_workers()) - before) == 1
    await asyncio.sleep(0.6)  # into the idle spell: reads block for idle_slice
    reader = asyncio.ensure_future(transport.read(timeout=30))
    await asyncio.sleep(0.01)
    start = time.monotonic()
    await transport.close()
    # Not a hang: the close ends the 30 s read at once (one idle slice, 0.05 s, on an
    # idle machine); 2 s leaves room for a loaded 2-core VM.
    assert time.monotonic() - start < 2
    assert set(_workers()) == before
    with pytest.raises(ConnectionLost, match="closed"):
        await reader
    with pytest.raises(TransportError, match="not open"):
        await transport.read(timeout=0)
    with pytest.raises(TransportError, match="not open"):
        await transport.write(b"x")
    await transport.close()  # idempotent
    # The interface was released: another transport may claim it.
    again = _transport(echo)
    await again.open()
    await again.close()


async def test_a_second_claim_on_the_interface_is_refused(port: UsbTransport) -> None:
    assert port.info is not None
    rival = UsbTransport(SIM_VENDOR_ID, PID, UsbOptions(backend="sim", serial=port.info.serial))
    with pytest.raises(TransportError, match="in use by another program"):
        await rival.open()


async def test_a_kernel_driver_is_detached_and_given_back() -> None:
    device = SimUsbDevice(_spec(kernel_driver=frozenset({0})), EchoFirmware())
    with default_bus().plugged(device):
        transport = _transport(device)
        await transport.open()
        try:
            assert device._kernel == set()
            await transport.write(b"ok")
            assert await transport.read_exactly(2, timeout=1) == b"ok"
        finally:
            await transport.close()
        assert device._kernel == {0}


async def test_an_unconfigured_device_gets_its_first_configuration() -> None:
    device = SimUsbDevice(_spec(configured_at_plug=False), EchoFirmware())
    with default_bus().plugged(device):
        assert device.configuration == 0
        transport = _transport(device)
        await transport.open()
        try:
            assert device.configuration == 1
            await transport.write(b"cfg")
            assert await transport.read_exactly(3, timeout=1) == b"cfg"
        finally:
            await transport.close()


# --- control transfers -------------------------------------------------------------------


async def test_control_transfers_reach_the_firmware(port: UsbTransport) -> None:
    await port.write(b"12345")
    assert await port.read_exactly(5, timeout=1) == b"12345"
    # Vendor IN 0x01: the bytes echoed so far.
    assert await port.control_transfer(0xC0, 0x01, data=4) == struct.pack("<I", 5)
    # Vendor OUT 0x02: a prefix for every echo.
    assert await port.control_transfer(0x40, 0x02, data=b">") == 1
    await port.write(b"x")
    assert await port.read_exactly(2, timeout=1) == b">x"
    # A standard request through the same call: the product string.
    raw = await port.control_transfer(0x80, 0x06, (3 << 8) | 2, 0x0409, data=255)
    assert isinstance(raw, bytes)
    assert raw[2 : raw[0]].decode("utf-16-le") == "Transport test device"
    with pytest.raises(TransportError, match=r"refused control request 0xc0/0x09 \(stall\)"):
        await port.control_transfer(0xC0, 0x09, data=1)
    with pytest.raises(ValueError, match="IN request takes a length"):
        await port.control_transfer(0xC0, 0x01, data=b"x")
    # No data stage (SET_CONFIGURATION 1, the configuration already set).
    assert await port.control_transfer(0x00, 0x09, 1) == 0


# --- the pyusb stack on the sim backend --------------------------------------------------


def test_pyusb_sees_descriptors_strings_and_every_alternate() -> None:
    interfaces = (
        InterfaceSpec(0, 0, 0xFF, endpoints=(EndpointSpec(0x01), EndpointSpec(0x81))),
        InterfaceSpec(0, 1, 0xFF, endpoints=(EndpointSpec(0x01, max_packet=512),)),
        InterfaceSpec(1, 0, 0x07, endpoints=(EndpointSpec(0x83, attributes=3, interval=10),)),
    )
    spec = UsbDeviceSpec(
        SIM_VENDOR_ID,
        PID,
        manufacturer="Maker",
        product="Two-interface thing",
        serial=f"A{next(_serials)}",
        configurations=(ConfigurationSpec(1, interfaces, name="Main"),),
    )
    device = SimUsbDevice(spec)
    with default_bus().plugged(device):
        dev = usb.core.find(
            idVendor=SIM_VENDOR_ID, serial_number=spec.serial, backend=get_backend("sim")
        )
        assert dev is not None
        assert (dev.manufacturer, dev.product, dev.serial_number) == (
            "Maker",
            spec.product,
            spec.serial,
        )
        assert dev.langids == (0x0409,)
        cfg = dev[0]
        seen = [(i.bInterfaceNumber, i.bAlternateSetting) for i in cfg]
        assert seen == [(0, 0), (0, 1), (1, 0)]  # and it ended: the missing alt raised
        with pytest.raises(IndexError):
            cfg[(0, 2)]
        assert usb.util.get_string(dev, cfg.iConfiguration) == "Main"
        text = str(dev)  # the lsusb-style tree: terminates
        assert "Two-interface thing" in text
        assert "ENDPOINT 0x83: Interrupt IN" in text
        usb.util.dispose_resources(dev)


# --- chunking ----------------------------------------------------------------------------


class _Chunker(UsbFirmware):
    """Echoes each OUT transfer back split at the given sizes (cycled)."""

    def __init__(self, sizes: list[int]) -> None:
        self.sizes = itertools.cycle(sizes)

    def bulk_out(self, device: SimUsbDevice, endpoint: int, data: bytes) -> None:
        while data:
            size = next(self.sizes)
            device.send(data[:size])
            data = data[size:]


@settings(max_examples=25, deadline=None)
@given(
    data=st.binary(min_size=1, max_size=600),
    writes=st.lists(st.integers(1, 200), min_size=1, max_size=8),
    sends=st.lists(st.integers(1, 150), min_size=1, max_size=8),
    reads=st.lists(st.integers(1, 97), min_size=1, max_size=8),
)
def test_any_chunking_of_bulk_transfers_keeps_the_stream(
    data: bytes, writes: list[int], sends: list[int], reads: list[int]
) -> None:
    async def run() -> bytes:
        device = SimUsbDevice(_spec(max_packet=32), _Chunker(sends))
        with default_bus().plugged(device):
            transport = _transport(device)
            await transport.open()
            try:
                rest, sizes = data, itertools.cycle(writes)
                while rest:
                    size = next(sizes)
                    await transport.write(rest[:size])
                    rest = rest[size:]
                got, limits = b"", itertools.cycle(reads)
                while len(got) < len(data):
                    got += await transport.read(next(limits), timeout=2)
                return got
            finally:
                await transport.close()

    assert asyncio.run(run()) == data


async def _until(condition: object, timeout: float = 2.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError("the condition did not hold in time")
        await asyncio.sleep(0.002)


async def test_bytes_sent_right_after_the_claim_are_not_lost() -> None:
    device = SimUsbDevice(_spec(), EchoFirmware())
    with default_bus().plugged(device):
        for _ in range(20):
            device.send(b"hello")  # queued before the open: read as soon as it attaches
            transport = _transport(device)
            await transport.open()
            try:
                assert await transport.read_exactly(5, timeout=1) == b"hello"
            finally:
                await transport.close()


async def test_transfers_the_device_sends_unasked_are_read_back_to_back(
    quiet_port: UsbTransport, silent: SimUsbDevice, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Only a reply to a write makes the worker pause for the host's answer. The pause
    # is made 50 ms here (2 ms in use), so 200 unsolicited short transfers would take
    # 10 s or more if each paused: a 2 s bound tells that apart on any machine.
    monkeypatch.setattr(usb_worker, "_REPLY_GRACE", 0.05)
    await quiet_port.write(b"go")  # the first transfer after it may pause, once
    start = time.monotonic()
    for n in range(200):
        silent.send(bytes((n,)))
    got = await quiet_port.read_exactly(200, timeout=15)
    assert got == bytes(range(200))
    assert time.monotonic() - start < 2
