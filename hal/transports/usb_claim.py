"""Getting hold of a USB device and letting it go (on its transport's worker thread).

`claim_interface` finds the device an address names (by VID:PID, and iSerialNumber if
given) on a pyusb backend, configures it if nobody did, picks the bulk endpoints,
detaches a kernel driver bound to the interface and claims it: the `ClaimedInterface`
it returns knows how to give all of that back (`ClaimedInterface.release`, which never
raises). `is_gone` and `reason` read pyusb's errors for the whole transport.

Errors at claim time: the device not there, `ConnectionLost`; the interface held by
another program (EBUSY), no permission (EACCES: a udev rule), no such interface or
endpoint, `TransportError`.

Most devices move their bytes on one bulk OUT and one bulk IN endpoint; a few split a
frame over several (the SAM_V ID-card module: a frame's header on one pipe, its body on
another). The claim also records every OUT endpoint of the interface (a write may name
one) and the wMaxPacketSize of the further IN endpoints a transport asked to read
(``extra_in``).
"""

from __future__ import annotations

import errno
import logging
from typing import Any

import usb.core  # type: ignore[import-untyped]
import usb.util  # type: ignore[import-untyped]

from hal.errors import ConnectionLost, TransportError
from hal.transports.usb_backends import get_backend
from hal.transports.usb_options import UsbDeviceInfo, UsbOptions

__all__ = ["ClaimedInterface", "claim_interface", "is_gone", "reason"]

# The transport's logger: claiming is part of opening it.
log = logging.getLogger("hal.transports.usb")

# errno values (and libusb error codes) that mean "the device is not there any more".
_GONE_ERRNO = frozenset({errno.ENODEV, errno.ENXIO, errno.ESHUTDOWN})
_LIBUSB_NO_DEVICE = -4


def is_gone(exc: BaseException) -> bool:
    """True if a pyusb error says the device is not there any more."""
    if not isinstance(exc, usb.core.USBError):
        return False
    code = getattr(exc, "backend_error_code", None)
    return exc.errno in _GONE_ERRNO or code == _LIBUSB_NO_DEVICE


def reason(exc: BaseException) -> str:
    """A pyusb error for a message: the errno's name and the library's text."""
    code = getattr(exc, "errno", None)
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    if isinstance(code, int) and code in errno.errorcode:
        return f"{errno.errorcode[code]}: {text}"
    return str(text)


class ClaimedInterface:
    """A device found and one of its interfaces claimed, and how to give them back.

    Attributes:
        device: the pyusb ``Device``.
        number: the bInterfaceNumber claimed.
        ep_out: the bulk OUT endpoint address.
        ep_in: the bulk IN endpoint address.
        max_packet: the IN endpoint's wMaxPacketSize (the size of each read).
        out_endpoints: every OUT endpoint address of the interface.
        in_endpoints: the IN endpoints to read, address to wMaxPacketSize, ``ep_in``
            first.
        info: what was found, for messages and the log.
    """

    def __init__(self, name: str, device: Any, number: int) -> None:
        self.name = name
        self.device = device
        self.number = number
        self.ep_out = 0
        self.ep_in = 0
        self.max_packet = 0
        self.out_endpoints: frozenset[int] = frozenset()
        self.in_endpoints: dict[int, int] = {}
        self.info: UsbDeviceInfo | None = None
        self._detached_kernel = False

    def release(self) -> None:
        """Release the interface, give back a kernel driver, close the handle; never raises."""
        device, number = self.device, self.number
        try:
            usb.util.release_interface(device, number)
        except (usb.core.USBError, ValueError) as exc:
            log.debug("%s: releasing interface %d: %s", self.name, number, exc)
        if self._detached_kernel:
            self._detached_kernel = False
            try:
                device.attach_kernel_driver(number)
            except (NotImplementedError, usb.core.USBError) as exc:
                log.debug("%s: re-attaching the kernel driver: %s", self.name, exc)
        try:
            usb.util.dispose_resources(device)
        except usb.core.USBError as exc:
            log.debug("%s: closing the handle: %s", self.name, exc)


def claim_interface(
    name: str,
    vendor_id: int,
    product_id: int,
    options: UsbOptions,
    extra_in: tuple[int, ...] = (),
) -> ClaimedInterface:
    """Find the device, claim its interface, pick the endpoints.

    Args:
        name: the transport's name, for messages.
        vendor_id: idVendor.
        product_id: idProduct.
        options: the backend, serial, interface and endpoints to use.
        extra_in: further IN endpoint addresses to read besides ``ep_in`` (each must be
            on the interface).

    Raises:
        ConnectionLost: no such device (or it went away meanwhile).
        TransportError: it cannot be claimed (see the module header).
        ConfigurationError: no backend has that name.
    """
    backend = get_backend(options.backend)
    device = _find(name, vendor_id, product_id, options.serial, backend)
    if device is None:
        raise ConnectionLost(f"{name}: no such device on backend {options.backend!r}")
    claimed = ClaimedInterface(name, device, options.interface)
    try:
        _claim(claimed, options, extra_in)
    except BaseException:
        claimed.release()
        raise
    claimed.info = UsbDeviceInfo(
        vendor_id=vendor_id,
        product_id=product_id,
        bus=device.bus,
        address=device.address,
        manufacturer=_string(device, "manufacturer"),
        product=_string(device, "product"),
        serial=_string(device, "serial_number"),
        ep_out=claimed.ep_out,
        ep_in=claimed.ep_in,
        max_packet=claimed.max_packet,
    )
    return claimed


def _find(name: str, vendor_id: int, product_id: int, wanted: str, backend: Any) -> Any:
    def serial_matches(device: Any) -> bool:
        try:
            return bool(device.serial_number == wanted)
        except (usb.core.USBError, ValueError, NotImplementedError):
            return False  # no strings, or no permission to read them

    try:
        return usb.core.find(
            backend=backend,
            idVendor=vendor_id,
            idProduct=product_id,
            custom_match=serial_matches if wanted else None,
        )
    except usb.core.USBError as exc:
        raise TransportError(f"{name}: enumerating devices failed: {reason(exc)}") from exc


def _claim(claimed: ClaimedInterface, opts: UsbOptions, extra_in: tuple[int, ...]) -> None:
    name, device = claimed.name, claimed.device
    try:
        try:
            config = device.get_active_configuration()
        except usb.core.USBError as exc:
            if is_gone(exc):
                raise
            device.set_configuration()  # unconfigured: take the first configuration
            config = device.get_active_configuration()
        interface = usb.util.find_descriptor(config, bInterfaceNumber=opts.interface)
        if interface is None:
            raise TransportError(f"{name}: the device has no interface {opts.interface}")
        ep_out = _endpoint(name, interface, usb.util.ENDPOINT_OUT, opts.ep_out)
        ep_in = _endpoint(name, interface, usb.util.ENDPOINT_IN, opts.ep_in)
        more_in = [_endpoint(name, interface, usb.util.ENDPOINT_IN, a) for a in extra_in]
        outs = frozenset(
            int(ep.bEndpointAddress)
            for ep in interface
            if usb.util.endpoint_direction(ep.bEndpointAddress) == usb.util.ENDPOINT_OUT
        )
        _detach_kernel_driver(claimed)
        usb.util.claim_interface(device, opts.interface)
    except usb.core.USBError as exc:
        raise _claim_error(name, exc) from exc
    claimed.ep_out = int(ep_out.bEndpointAddress)
    claimed.ep_in = int(ep_in.bEndpointAddress)
    claimed.max_packet = int(ep_in.wMaxPacketSize) or 64
    claimed.out_endpoints = outs
    claimed.in_endpoints = {claimed.ep_in: claimed.max_packet}
    for endpoint in more_in:
        claimed.in_endpoints.setdefault(
            int(endpoint.bEndpointAddress), int(endpoint.wMaxPacketSize) or 64
        )


def _endpoint(name: str, interface: Any, direction: int, address: int | None) -> Any:
    def fits(ep: Any) -> bool:
        if usb.util.endpoint_direction(ep.bEndpointAddress) != direction:
            return False
        if address is not None:
            return bool(ep.bEndpointAddress == address)
        return bool(usb.util.endpoint_type(ep.bmAttributes) == usb.util.ENDPOINT_TYPE_BULK)

    endpoint = usb.util.find_descriptor(interface, custom_match=fits)
    if endpoint is None:
        way = "OUT" if direction == usb.util.ENDPOINT_OUT else "IN"
        which = f"endpoint {address:#04x}" if address is not None else f"bulk {way} endpoint"
        raise TransportError(f"{name}: interface {interface.bInterfaceNumber} has no {which}")
    return endpoint


def _detach_kernel_driver(claimed: ClaimedInterface) -> None:
    name, device, number = claimed.name, claimed.device, claimed.number
    try:
        active = device.is_kernel_driver_active(number)
    except (NotImplementedError, usb.core.USBError) as exc:
        log.debug("%s: cannot tell whether a kernel driver is bound: %s", name, exc)
        return
    if active:
        device.detach_kernel_driver(number)
        claimed._detached_kernel = True
        log.info("%s: detached the kernel driver from interface %d", name, number)


def _claim_error(name: str, exc: BaseException) -> TransportError:
    if is_gone(exc):
        return ConnectionLost(f"{name}: the device went away ({reason(exc)})")
    code = getattr(exc, "errno", None)
    if code == errno.EBUSY:
        return TransportError(f"{name}: the interface is in use by another program")
    if code == errno.EACCES:
        return TransportError(
            f"{name}: no permission to use the device (a udev rule must grant it)"
        )
    return TransportError(f"{name}: cannot claim the device ({reason(exc)})")


def _string(device: Any, attribute: str) -> str | None:
    try:
        value = getattr(device, attribute)
    except (usb.core.USBError, ValueError, NotImplementedError):
        return None
    return str(value) if value is not None else None
