"""The simulated USB bus under the real pyusb stack (``simulator.wire.usb``).

pyusb's own API (``usb.core.find``, ``Device.read/write/ctrl_transfer``, ``usb.util``)
runs on `SimUsbBackend` as on libusb: enumeration follows plugs, descriptors and
strings come through GET_DESCRIPTOR, bulk reads honour their timeouts and wake on data
without polling, an unplug ends pending transfers with errno 19, a replugged device is
a new device. `UsbLink` carries the CRT-310 emulator over the bulk pipes.
"""

from __future__ import annotations

import asyncio
import errno
import itertools
import struct
import threading
import time
from collections.abc import Iterator

import pytest
import usb.core
import usb.util

from protocols.crt310 import Control, build_frame
from simulator.wire.crt310 import Crt310Emulator
from simulator.wire.usb import (
    CRT310_PRODUCT_ID,
    CRT310_USB,
    SIM_VENDOR_ID,
    EchoFirmware,
    SimUsbBus,
    SimUsbDevice,
    UsbLink,
    bulk_spec,
)
from simulator.world import CardReaderSetup, World

_serials = itertools.count()


@pytest.fixture
def bus() -> SimUsbBus:
    """A private bus (bus number 7): nothing else is on it."""
    return SimUsbBus(number=7)


@pytest.fixture
def echo(bus: SimUsbBus) -> Iterator[SimUsbDevice]:
    device = SimUsbDevice(
        bulk_spec(SIM_VENDOR_ID, 0x0E40, product="Echo", serial=f"E{next(_serials)}"),
        EchoFirmware(),
    )
    with bus.plugged(device):
        yield device


def _find(bus: SimUsbBus, **match: object) -> usb.core.Device:
    return usb.core.find(backend=bus.backend, **match)


def _later(seconds: float, action: object) -> threading.Timer:
    timer = threading.Timer(seconds, action)  # type: ignore[arg-type]
    timer.start()
    return timer


def test_enumeration_follows_plug_unplug_and_replug(bus: SimUsbBus, echo: SimUsbDevice) -> None:
    other = SimUsbDevice(bulk_spec(SIM_VENDOR_ID, 0x0E41, serial="O1"))
    bus.plug(other)
    found = list(usb.core.find(find_all=True, backend=bus.backend))
    assert [(d.idProduct, d.bus) for d in found] == [(0x0E40, 7), (0x0E41, 7)]
    first_address = found[1].address
    bus.unplug(other)
    assert _find(bus, idProduct=0x0E41) is None
    bus.plug(other)
    again = _find(bus, idProduct=0x0E41)
    assert again is not None
    assert again.address != first_address
    bus.unplug(other)
    with pytest.raises(ValueError, match="plugged in already"):
        SimUsbBus().plug(echo)


def test_descriptors_travel_as_bytes_too(bus: SimUsbBus, echo: SimUsbDevice) -> None:
    dev = _find(bus, idVendor=SIM_VENDOR_ID)
    raw = bytes(dev.ctrl_transfer(0x80, 0x06, 0x0100, 0, 18))
    fields = struct.unpack("<BBHBBBBHHHBBBB", raw)
    assert fields[0:2] == (18, 1)
    assert (fields[7], fields[8]) == (dev.idVendor, dev.idProduct) == (SIM_VENDOR_ID, 0x0E40)
    assert fields[10:13] == (dev.iManufacturer, dev.iProduct, dev.iSerialNumber)
    config = bytes(dev.ctrl_transfer(0x80, 0x06, 0x0200, 0, 255))
    assert len(config) == 9 + 9 + 7 + 7 == struct.unpack_from("<H", config, 2)[0]
    # A short read gets the first bytes only, as on a real device.
    assert bytes(dev.ctrl_transfer(0x80, 0x06, 0x0200, 0, 4)) == config[:4]
    assert dev.product == "Echo"
    assert usb.util.get_string(dev, dev.iProduct, 0x0409) == "Echo"
    for value, index in ((0x0309, 0x0409), (0x0302, 0x0407), (0x0700, 0)):
        with pytest.raises(usb.core.USBError) as stalled:
            dev.ctrl_transfer(0x80, 0x06, value, index, 255)
        assert stalled.value.errno == errno.EPIPE
    usb.util.dispose_resources(dev)


def test_bulk_reads_honour_timeouts_and_wake_on_data(bus: SimUsbBus, echo: SimUsbDevice) -> None:
    dev = _find(bus, idVendor=SIM_VENDOR_ID)
    start = time.monotonic()
    with pytest.raises(usb.core.USBTimeoutError) as timed_out:
        dev.read(0x81, 64, 60)
    waited = time.monotonic() - start
    assert timed_out.value.errno == errno.ETIMEDOUT == 110
    assert 0.055 <= waited < 1.0
    # A read waiting 5 s returns as soon as the device sends (no polling delay).
    timer = _later(0.03, lambda: echo.send(b"late"))
    start = time.monotonic()
    assert bytes(dev.read(0x81, 64, 5000)) == b"late"
    assert time.monotonic() - start < 1.0
    timer.join()
    # Timeout 0 is "for ever", as in libusb.
    timer = _later(0.02, lambda: echo.send(b"ever"))
    assert bytes(dev.read(0x81, 64, 0)) == b"ever"
    timer.join()
    # Each endpoint one way only; an endpoint not in the active setting is not found.
    for call, code in (
        (lambda: dev.read(0x01, 64, 10), errno.EINVAL),
        (lambda: echo._bulk_write(echo.generation, 0x81, b"x", 10), errno.EINVAL),
        (lambda: echo._bulk_read(echo.generation, 0x82, 64, 10), errno.ENOENT),
    ):
        with pytest.raises(usb.core.USBError) as refused:
            call()
        assert refused.value.errno == code
    # A read takes at most its buffer; the rest stays queued.
    dev.write(0x01, b"0123456789")
    assert bytes(dev.read(0x81, 4, 100)) == b"0123"
    assert bytes(dev.read(0x81, 64, 100)) == b"456789"
    usb.util.dispose_resources(dev)


def test_reads_end_at_short_and_zero_length_packets(bus: SimUsbBus, echo: SimUsbDevice) -> None:
    dev = _find(bus, idVendor=SIM_VENDOR_ID)
    echo.send(b"A" * 10)
    echo.send(b"B" * 10)
    # Each send is a transfer ending in a short packet: one read does not merge them.
    assert bytes(dev.read(0x81, 512, 100)) == b"A" * 10
    assert bytes(dev.read(0x81, 512, 100)) == b"B" * 10
    # A transfer of whole packets ends with a zero-length packet, which ends the read
    # under way; a read whose buffer the packets filled leaves it for the next (0 bytes).
    echo.send(b"C" * 128)
    assert bytes(dev.read(0x81, 512, 100)) == b"C" * 128
    with pytest.raises(usb.core.USBTimeoutError):
        dev.read(0x81, 512, 20)
    echo.send(b"C" * 128)
    assert bytes(dev.read(0x81, 64, 100)) == b"C" * 64
    assert bytes(dev.read(0x81, 64, 100)) == b"C" * 64
    assert len(dev.read(0x81, 64, 100)) == 0
    echo.send(b"D" * 64, zlp=False)
    echo.send(b"E")
    assert bytes(dev.read(0x81, 512, 100)) == b"D" * 64 + b"E"
    assert echo.pending_in() == 0
    usb.util.dispose_resources(dev)


def test_unplug_ends_pending_and_later_transfers_with_errno_19(
    bus: SimUsbBus, echo: SimUsbDevice
) -> None:
    dev = _find(bus, idVendor=SIM_VENDOR_ID)
    timer = _later(0.03, lambda: bus.unplug(echo))
    start = time.monotonic()
    with pytest.raises(usb.core.USBError) as gone:
        dev.read(0x81, 64, 5000)
    assert time.monotonic() - start < 1.0
    assert gone.value.errno == errno.ENODEV == 19
    assert "No such device" in str(gone.value)
    timer.join()
    for call in (
        lambda: dev.write(0x01, b"x"),
        lambda: dev.read(0x81, 64, 10),
        lambda: dev.ctrl_transfer(0xC0, 0x01, 0, 0, 4),
    ):
        with pytest.raises(usb.core.USBError) as later:
            call()
        assert later.value.errno == errno.ENODEV
    assert _find(bus, idVendor=SIM_VENDOR_ID) is None
    # Replugged, it is a new device: the old handle stays dead, a new find works.
    bus.plug(echo)
    with pytest.raises(usb.core.USBError) as stale:
        dev.write(0x01, b"x")
    assert stale.value.errno == errno.ENODEV
    fresh = _find(bus, idVendor=SIM_VENDOR_ID)
    fresh.write(0x01, b"hi")
    assert bytes(fresh.read(0x81, 64, 100)) == b"hi"
    usb.util.dispose_resources(fresh)
    usb.util.dispose_resources(dev)


def test_claims_kernel_drivers_and_configurations(bus: SimUsbBus) -> None:
    device = SimUsbDevice(
        bulk_spec(SIM_VENDOR_ID, 0x0E42, serial="K1", kernel_driver=frozenset({0})),
        EchoFirmware(),
    )
    with bus.plugged(device):
        dev = _find(bus, idProduct=0x0E42)
        assert dev.is_kernel_driver_active(0)
        with pytest.raises(usb.core.USBError) as busy:
            usb.util.claim_interface(dev, 0)
        assert busy.value.errno == errno.EBUSY
        dev.detach_kernel_driver(0)
        usb.util.claim_interface(dev, 0)
        rival = _find(bus, idProduct=0x0E42)
        with pytest.raises(usb.core.USBError) as taken:
            usb.util.claim_interface(rival, 0)
        assert taken.value.errno == errno.EBUSY
        with pytest.raises(usb.core.USBError):
            dev.set_configuration(0)  # not while an interface is claimed
        with pytest.raises(ValueError, match="Invalid configuration"):
            dev.set_configuration(5)
        assert dev.get_active_configuration().bConfigurationValue == 1
        usb.util.release_interface(dev, 0)
        usb.util.claim_interface(rival, 0)
        usb.util.dispose_resources(rival)
        dev.set_configuration(0)
        with pytest.raises(usb.core.USBError, match="Configuration not set"):
            dev.get_active_configuration()
        usb.util.dispose_resources(dev)


def test_vendor_requests_go_to_the_firmware_and_unknown_ones_stall(
    bus: SimUsbBus, echo: SimUsbDevice
) -> None:
    dev = _find(bus, idVendor=SIM_VENDOR_ID)
    dev.write(0x01, b"abc")
    dev.read(0x81, 64, 100)
    assert bytes(dev.ctrl_transfer(0xC0, 0x01, 0, 0, 4)) == struct.pack("<I", 3)
    assert dev.ctrl_transfer(0x40, 0x02, 0, 0, b"#") == 1
    dev.write(0x01, b"z")
    assert bytes(dev.read(0x81, 64, 100)) == b"#z"
    for request_type, request in ((0xC0, 0x7F), (0xA1, 0x01), (0x80, 0x33)):
        with pytest.raises(usb.core.USBError) as stalled:
            dev.ctrl_transfer(request_type, request, 0, 0, 1)
        assert stalled.value.errno == errno.EPIPE
    usb.util.dispose_resources(dev)


async def test_a_usb_link_carries_the_crt310_emulator(bus: SimUsbBus) -> None:
    world = World("usb-link", clock_scale=0.005)
    model = world.card_reader(setup=CardReaderSetup(take_timeout=None))
    device = SimUsbDevice(CRT310_USB)
    link = UsbLink(device)
    assert device.firmware is link
    with bus.plugged(device):
        generation = link.generation
        async with Crt310Emulator(model, link) as emulator:
            dev = _find(bus, idVendor=SIM_VENDOR_ID, idProduct=CRT310_PRODUCT_ID)

            def exchange(data: bytes, size: int) -> bytes:
                dev.write(0x01, data)
                got = b""
                while len(got) < size:
                    got += bytes(dev.read(0x81, 64, 2000))
                return got

            status = build_frame(0x31, 0x30)
            assert await asyncio.to_thread(exchange, status, 1) == bytes((Control.ACK,))
            reply = await asyncio.to_thread(exchange, bytes((Control.ENQ,)), 3)
            assert reply[0] == 0x02  # STX of the reply frame
            assert emulator.stats.commands == 1
            usb.util.dispose_resources(dev)
        bus.replug(device)
        assert link.generation == generation + 1
