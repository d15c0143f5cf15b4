"""An ESC/POS printer as a USB device on the simulator's pyusb backend.

A USB receipt printer is a printer-class interface (bInterfaceClass 7, subclass 1,
protocol 2: bidirectional) with a bulk OUT endpoint for the stream and a bulk IN
endpoint for its answers (USB Printer Class 1.1) [S: the USB printer class; the
endpoint numbers vary by model, the driver takes the first bulk pair]. `ESCPOS_USB`
is such a device under the simulator's vendor ID; `UsbLink` (one OUT, one IN) carries
its pipes to `simulator.wire.escpos.EscPosEmulator` as a pty would.
"""

from __future__ import annotations

import dataclasses

from simulator.wire.usb import (
    BULK,
    SIM_VENDOR_ID,
    ConfigurationSpec,
    EndpointSpec,
    InterfaceSpec,
    UsbDeviceSpec,
)

__all__ = ["ESCPOS_PRODUCT_ID", "ESCPOS_USB", "escpos_usb_spec"]

#: The product ID of the simulated USB receipt printer (under the simulator's vendor ID).
ESCPOS_PRODUCT_ID = 0x5011

PRINTER_CLASS, PRINTER_SUBCLASS, BIDIRECTIONAL = 7, 1, 2
BULK_OUT, BULK_IN = 0x01, 0x82

#: The simulated USB ESC/POS printer: one printer-class interface, bulk OUT and IN.
ESCPOS_USB = UsbDeviceSpec(
    SIM_VENDOR_ID,
    ESCPOS_PRODUCT_ID,
    manufacturer="tellerhal simulator",
    product="ESC/POS receipt printer (simulated)",
    serial="ESCPOS-0001",
    configurations=(
        ConfigurationSpec(
            interfaces=(
                InterfaceSpec(
                    interface_class=PRINTER_CLASS,
                    subclass=PRINTER_SUBCLASS,
                    protocol=BIDIRECTIONAL,
                    endpoints=(EndpointSpec(BULK_OUT, BULK, 64), EndpointSpec(BULK_IN, BULK, 64)),
                ),
            ),
            self_powered=True,
        ),
    ),
)


def escpos_usb_spec(serial: str, product: str | None = None) -> UsbDeviceSpec:
    """`ESCPOS_USB` with its own serial number (and product string): a second printer
    (the journal) on the same bus."""
    return dataclasses.replace(
        ESCPOS_USB, serial=serial, product=product if product is not None else ESCPOS_USB.product
    )
