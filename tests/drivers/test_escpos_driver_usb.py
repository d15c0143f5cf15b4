"""The real ``escpos`` driver over USB: the ESC/POS emulator on a simulated USB printer
(printer class 7/1/2, bulk OUT 0x01, bulk IN 0x82) on the simulator's pyusb backend,
reached through ``hal.open("escpos+usb://...")``: the real pyusb stack, the real usb
transport, the driver and the service.
"""

from __future__ import annotations

import asyncio
import logging

import pytest
import usb.core
import usb.util

import hal
from hal.device import DeviceState
from hal.devices.printer import Document, Line, PaperStatus, Printer, PrinterType
from hal.errors import ConnectionLost, CoverOpen, HalTimeout, PaperOut
from protocols.escpos import encode
from protocols.escpos_decoder import decode
from simulator.printer_text import layout, text_lines
from simulator.wire.escpos_usb import BULK_IN, BULK_OUT, ESCPOS_PRODUCT_ID
from simulator.wire.usb import SIM_VENDOR_ID, default_bus
from tests.escpos_rig import Listener, UsbPrinter, escpos_registered, open_driver, receipt

pytestmark = pytest.mark.timeout(30)


def expected_text(document: Document) -> list[str]:
    return text_lines(layout(decode(encode(document)), 576).rows, 576)


def test_the_device_is_a_printer_class_interface_with_a_bulk_pair() -> None:
    rig = UsbPrinter()
    with default_bus().plugged(rig.device):
        found = usb.core.find(
            idVendor=SIM_VENDOR_ID,
            idProduct=ESCPOS_PRODUCT_ID,
            serial_number=rig.serial,
            backend=default_bus().backend,
        )
        assert found is not None
        interface = found.get_active_configuration()[(0, 0)]
        assert (interface.bInterfaceClass, interface.bInterfaceSubClass) == (7, 1)
        assert interface.bInterfaceProtocol == 2
        endpoints = {
            ep.bEndpointAddress: usb.util.endpoint_type(ep.bmAttributes) for ep in interface
        }
        assert endpoints == {BULK_OUT: usb.util.ENDPOINT_TYPE_BULK, BULK_IN: 2}
        usb.util.dispose_resources(found)


async def test_a_receipt_prints_over_usb_column_for_column() -> None:
    rig = UsbPrinter()
    document = receipt(12)
    with escpos_registered():
        async with rig.wire():
            device = hal.open(rig.address())
            assert isinstance(device, Printer)
            async with device:
                assert (await device.capabilities()).firmware == "TH-SIM80P 1.00"
                result = await device.print_document(document, timeout=10)
    assert result.complete
    assert rig.lines() == expected_text(document)


async def test_paper_out_cover_and_garbage_over_usb(caplog: pytest.LogCaptureFixture) -> None:
    rig = UsbPrinter()
    document = receipt(12)
    with escpos_registered():
        async with rig.wire() as emulator:
            device = hal.open(rig.address())
            assert isinstance(device, Printer)
            async with device:
                with caplog.at_level(logging.WARNING, logger="drivers.printer.escpos_link"):
                    emulator.inject_garbage(b"\xfe\xfe\x00")
                    await device.print_document(Document((Line.of("first"),)), timeout=5)
                assert "skipped 3 byte(s)" in caplog.text
                rig.model.paper_runs_out(after_lines=7)
                with pytest.raises(PaperOut) as caught:
                    await device.print_document(document, timeout=10)
                assert (caught.value.printed_blocks, caught.value.total_blocks) == (7, 19)
                assert (await device.status()).paper is PaperStatus.OUT
                rig.model.replenish()
                rig.model.set_cover(True)
                with pytest.raises(CoverOpen):
                    await device.print_document(document, timeout=5)
    assert rig.lines()[0] == "first"
    assert rig.lines()[1:] == expected_text(document)[:7]


async def test_a_silent_usb_printer_times_out_clearly() -> None:
    rig = UsbPrinter()
    with escpos_registered():
        async with rig.wire() as emulator:
            emulator.mute()
            device = hal.open(rig.address(status_retries=0))
            with pytest.raises(HalTimeout, match=r"usb://.*is silent.*DLE EOT 1"):
                await device.open()


async def test_receipt_and_journal_printers_on_one_bus() -> None:
    front = UsbPrinter()
    journal = UsbPrinter(profile="journal")
    with escpos_registered():
        async with front.wire(), journal.wire():
            a = hal.open(front.address())
            b = hal.open(journal.address(type="journal"))
            assert isinstance(a, Printer)
            assert isinstance(b, Printer)
            async with a, b:
                assert (await b.capabilities()).type is PrinterType.JOURNAL
                await asyncio.gather(
                    a.print_document(receipt(3), timeout=10),
                    *(b.print_document(Document((Line.of(f"J{i:04d} OK"),))) for i in range(3)),
                )
    assert journal.lines() == [f"J{i:04d} OK" for i in range(3)]
    assert front.lines() == expected_text(receipt(3))


async def test_unplugged_then_replugged() -> None:
    """The printer pulled out: pending work ends with ConnectionLost, the status says
    noDevice; plugged back in, the poll finds it again and printing goes on."""
    rig = UsbPrinter()
    listener = Listener()
    async with rig.wire(), open_driver(rig.address(), listener) as driver:
        await driver.print_document(Document((Line.of("before"),)))
        default_bus().unplug(rig.device)
        async with asyncio.timeout(3):
            while not any(s.device is DeviceState.NO_DEVICE for s in listener.statuses):
                listener.changed.clear()
                await listener.changed.wait()
        with pytest.raises(ConnectionLost):
            await driver.print_document(Document((Line.of("lost"),)))
        default_bus().plug(rig.device)
        async with asyncio.timeout(3):
            while listener.statuses[-1].device is not DeviceState.ONLINE:
                listener.changed.clear()
                await listener.changed.wait()
        await driver.print_document(Document((Line.of("after"),)))
    assert rig.lines() == ["before", "after"]
