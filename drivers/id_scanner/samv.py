"""The ``samv`` driver: a China ID-card reader's SAM_V module, as an `IdScannerBackend`.

Address (entry point ``samv`` in group ``tellerhal.drivers``)::

    samv+serial:///dev/ttyUSB1[?baud=115200&reply_timeout=3&poll_interval=0.3
                                &read_retries=1]
    samv+usb://VID:PID[?serial=SN&backend=libusb1&reply_timeout=3...]
    spy+samv+serial:///dev/ttyUSB1      (the traffic in the log, personal data as sizes)

On a serial line the module's factory rate, 115200 8N1, is the default (``baud=``
overrides it). Over USB the module's four bulk pipes (OUT 0x02 and 0x06, IN 0x81 and
0x85) are joined into one byte stream by `drivers.id_scanner.samv_usb.SamvUsbPipes`.
The driver's options are `drivers.id_scanner.samv_options.SamvOptions`; the exchange,
its bounds, resynchronisation and draining `drivers.id_scanner.samv_link.SamvLink`;
the codec `protocols.samv`; the chip's blocks become an `IdentityDocument` in
`hal.devices.id_documents.document_from_chip` (the one conversion the simulator shares).
docs/samv.md says it all for people.

What the IdScanner operations send:

- **open**: SAM status (11 FF): 90 is fine; 60 (self-test failed) or 66 (not
  authorised) report ``status.security_module`` and raise `HardwareError`; no reply at
  all is a `HalTimeout` that says the module is silent. Then the SAM ID (12 FF), shown
  as `IdScannerCapabilities.security_module_id` (``05.01-...``).
- **accept a document**: `InsertDocument`, then find card (20 01) no more often than
  every ``poll_interval`` (>= 0.3 s, the protocol's rule) until SW3 9F, then select
  (20 02), then `DocumentInserted`. Waits until cancelled (the service's timeout).
- **read**: 30 01 (text and photo), or 30 10 with fingerprints, then 30 03 for the
  newest address; 91 means "not on the card" (no fingerprints: `fingerprints_present`
  false; no newest address: ``""``); a 91 to 30 10 is followed by a 30 01.
- **reset**: reset SAM (10 FF).
- **status**: SAM status (11 FF). A flat reader cannot tell whether a card still lies
  on it: ``media`` is ``present`` from the select to the end of the read, else
  ``unknown``; there is no `DocumentRemoved` (``removal_sensor`` false).

SW3 (reference §1.4) -> errors: 80 (no card) keeps the search going, and in a read
means the card went (`NoMedia`); 81, 41, 40 -> `InvalidDocument`, then `InvalidMedia`
(place the card again); 31, 32, 33 -> `InvalidDocument`, then `SecurityFail`; 10, 11,
21, 23, 24 -> `ProtocolError` (the module refused what was sent); 60, 66 ->
`HardwareError` with ``status.security_module`` set; 47 -> `HardwareError`. Nothing
personal is in a message: SW3 codes and meanings only.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable
from typing import TypeVar

from drivers.id_scanner.samv_link import SamvLink, describe
from drivers.id_scanner.samv_masker import SamvMasker
from drivers.id_scanner.samv_options import SAMV_BAUD, SamvOptions
from drivers.id_scanner.samv_usb import SamvUsbPipes
from hal.address import DeviceAddress
from hal.device import BackendListener, DeviceState
from hal.devices.id_documents import document_from_chip
from hal.devices.id_scanner import (
    DocumentInserted,
    DocumentKind,
    DocumentStatus,
    IdentityDocument,
    IdScannerCapabilities,
    IdScannerStatus,
    ImageFormat,
    ImageSide,
    InsertDocument,
    InvalidDocument,
    ScannedImage,
)
from hal.devices.id_scanner_service import IdScannerService
from hal.errors import (
    ConnectionLost,
    HalError,
    HalTimeout,
    HardwareError,
    InvalidMedia,
    NoMedia,
    ProtocolError,
    SecurityFail,
    UnsupportedOperation,
)
from hal.events import Event
from hal.registry import DriverSpec, make_transport
from hal.transports.base import Transport
from hal.transports.spy import SpyTransport
from hal.transports.usb import UsbTransport
from protocols.samv import Command, ReplyFrame, Sw3, parse_base_message, sam_id_string

__all__ = ["CHIP_KINDS", "SAMV_DRIVER", "SamvDriver", "open_samv", "samv_transport"]

log = logging.getLogger(__name__)

T = TypeVar("T")

#: The kinds a SAM_V module reads.
CHIP_KINDS = frozenset(
    {
        DocumentKind.CN_RESIDENT_ID,
        DocumentKind.CN_HMT_RESIDENCE_PERMIT,
        DocumentKind.CN_FOREIGNER_PERMANENT_2017,
        DocumentKind.CN_FOREIGNER_PERMANENT_2023,
    }
)

_SAM_STATES = {Sw3.SELF_TEST_FAILED: "selfTestFailed", Sw3.NOT_AUTHORISED: "notAuthorised"}
_UNREADABLE = frozenset({Sw3.SELECT_FAILED, Sw3.READ_FAILED, Sw3.UNKNOWN_CARD_TYPE})
_AUTHENTICATION = frozenset({Sw3.CARD_REJECTED_SAM, Sw3.SAM_REJECTED_CARD, Sw3.VERIFY_ERROR})
_REFUSED = frozenset(
    {
        Sw3.CHECKSUM_ERROR,
        Sw3.LENGTH_ERROR,
        Sw3.COMMAND_ERROR,
        Sw3.UNAUTHORISED,
        Sw3.UNRECOGNISED_ERROR,
    }
)


class SamvDriver:
    """A SAM_V module behind a `hal.transports.base.Transport` (see the module header).

    Args:
        transport: the line to the module (serial, or `SamvUsbPipes`).
        options: timings and retries.
        name: the device name, for messages.
    """

    def __init__(
        self,
        transport: Transport,
        options: SamvOptions | None = None,
        *,
        name: str = "id_scanner",
    ) -> None:
        self.options = options if options is not None else SamvOptions()
        self.name = name
        self.link = SamvLink(
            transport, name=name, reply_timeout=self.options.reply_timeout, on_lost=self._lost
        )
        self._listener: BackendListener[IdScannerStatus] | None = None
        self._sam_id = ""
        self._media = DocumentStatus.UNKNOWN
        self._device = DeviceState.ONLINE
        self._security = "unknown"
        self._last_status: IdScannerStatus | None = None
        self._last_find: float | None = None

    def __repr__(self) -> str:
        return f"SamvDriver({self.link.transport.name!r})"

    # --- lifecycle -------------------------------------------------------------------

    async def open(self, listener: BackendListener[IdScannerStatus]) -> None:
        """Open the line, check the SAM (11 FF) and read its ID (12 FF).

        Raises:
            HalTimeout: the module does not answer (the message says so).
            HardwareError: the SAM failed its self-test or is not authorised.
        """
        self._listener = listener
        await self.link.open()
        try:
            try:
                reply = await self._exchange(Command.SAM_STATUS)
            except HalTimeout:
                raise HalTimeout(
                    f"{self.name}: the SAM_V module on {self.link.transport.name} does not "
                    f"answer (no reply to the SAM status check within "
                    f"{self.options.reply_timeout} s): is it connected and powered, and "
                    f"the line at its rate (115200 baud by default)?"
                ) from None
            self._sam_state(reply, Command.SAM_STATUS)
            sam_id = await self._exchange(Command.READ_SAM_ID)
            if sam_id.sw3 != Sw3.SUCCESS:
                raise self._error(sam_id, Command.READ_SAM_ID)
            self._sam_id = sam_id_string(sam_id.data)
        except BaseException:
            await self.link.close()
            raise
        log.info("%s: SAM %s ready", self.name, self._sam_id)

    async def close(self) -> None:
        await self.link.close()

    def capabilities(self) -> IdScannerCapabilities:
        """A flat chip reader: the four chip kinds, fingerprints, the newest address."""
        return IdScannerCapabilities(
            kinds=CHIP_KINDS,
            chip=True,
            mrz=False,
            fingerprints=True,
            newest_address=True,
            images=frozenset(),
            image_formats=frozenset(),
            eject=False,
            retain_capacity=0,
            removal_sensor=False,
            security_module_id=self._sam_id,
        )

    async def get_status(self) -> IdScannerStatus:
        """Ask the SAM its state (11 FF)."""
        reply = await self._exchange(Command.SAM_STATUS)
        if reply.sw3 == Sw3.SUCCESS or reply.sw3 in _SAM_STATES:
            self._sam_state(reply, Command.SAM_STATUS, raising=False)
        else:
            raise self._error(reply, Command.SAM_STATUS)
        return self._report()

    # --- operations ------------------------------------------------------------------

    async def accept_document(self) -> None:
        """Search for a card (20 01) every ``poll_interval`` until found, then select it."""
        self._media = DocumentStatus.UNKNOWN
        self._emit(InsertDocument())
        loop = asyncio.get_running_loop()
        while True:
            if self._last_find is not None:
                wait = self._last_find + self.options.poll_interval - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
            self._last_find = loop.time()
            found = await self._exchange(Command.FIND_CARD)
            if found.sw3 == Sw3.CARD_FOUND:
                break
            if found.sw3 != Sw3.NO_CARD:
                raise self._error(found, Command.FIND_CARD)
        selected = await self._exchange(Command.SELECT_CARD)
        if selected.sw3 != Sw3.SUCCESS:
            raise self._error(selected, Command.SELECT_CARD)
        self._media = DocumentStatus.PRESENT
        self._report()
        self._emit(DocumentInserted())

    async def read_document(self, *, fingerprints: bool, newest_address: bool) -> IdentityDocument:
        """Read the base message (30 01 / 30 10) and, if asked, the newest address (30 03)."""
        try:
            return await self._read(fingerprints, newest_address)
        finally:
            # A flat reader cannot tell whether the card still lies there.
            self._media = DocumentStatus.UNKNOWN
            self._report()

    async def _read(self, fingerprints: bool, newest_address: bool) -> IdentityDocument:
        retries = self.options.read_retries
        command = Command.READ_BASE_FINGERPRINT if fingerprints else Command.READ_BASE
        reply = await self._exchange(command, retries=retries)
        with_prints = fingerprints
        if fingerprints and reply.sw3 == Sw3.NO_CONTENT:  # no fingerprints on the card
            command, with_prints = Command.READ_BASE, False
            reply = await self._exchange(command, retries=retries)
        if reply.sw3 != Sw3.SUCCESS:
            raise self._error(reply, command)
        base = self._parsed(lambda: parse_base_message(reply.data, fingerprint=with_prints))
        prints: bytes | None = base.fingerprint
        if fingerprints and not with_prints:
            prints = b""
        address: bytes | None = None
        if newest_address:
            extra = await self._exchange(Command.READ_NEWEST_ADDRESS, retries=retries)
            if extra.sw3 == Sw3.SUCCESS:
                address = extra.data
            elif extra.sw3 == Sw3.NO_CONTENT:
                address = b""
            else:
                raise self._error(extra, Command.READ_NEWEST_ADDRESS)
        document = self._parsed(lambda: document_from_chip(base.text, base.photo, prints, address))
        log.info("%s: read a %s document", self.name, document.kind.value)
        return document

    def _parsed(self, parse: Callable[[], T]) -> T:
        """What ``parse`` makes of the chip's blocks; their bytes that do not decode are
        a `ProtocolError` naming the driver (never the content)."""
        try:
            return parse()
        except ProtocolError as exc:
            raise ProtocolError(
                f"{self.name}: the card's data does not decode: {exc.message}"
            ) from None

    async def scan_image(self, side: ImageSide, format: ImageFormat) -> ScannedImage:
        raise UnsupportedOperation(f"{self.name}: a SAM_V reader scans no images")

    async def eject(self) -> None:
        raise UnsupportedOperation(f"{self.name}: a flat SAM_V reader holds no document")

    async def retain(self) -> None:
        raise UnsupportedOperation(f"{self.name}: a flat SAM_V reader has no retain bin")

    async def reset(self) -> str | None:
        """Reset the SAM (10 FF); the card must be found and selected again."""
        self._media = DocumentStatus.UNKNOWN
        reply = await self._exchange(Command.RESET_SAM)
        if reply.sw3 != Sw3.SUCCESS:
            raise self._error(reply, Command.RESET_SAM)
        self._report()
        return None

    # --- the exchange and what it tells ----------------------------------------------

    async def _exchange(self, command: Command, *, retries: int | None = None) -> ReplyFrame:
        """One exchange (every SAM_V command may be sent again after a garbled reply)."""
        try:
            reply = await self.link.exchange(
                command, retries=self.options.read_retries if retries is None else retries
            )
        except ConnectionLost:
            self._device = DeviceState.NO_DEVICE
            self._report()
            raise
        except HalTimeout:
            self._device = DeviceState.OFFLINE
            self._report()
            raise
        if self._device in (DeviceState.OFFLINE, DeviceState.NO_DEVICE):
            self._device = DeviceState.ONLINE
            self._report()
        return reply

    def _sam_state(self, reply: ReplyFrame, command: Command, *, raising: bool = True) -> None:
        """What a SAM status reply says of the SAM (raising for an unusable one)."""
        if reply.sw3 == Sw3.SUCCESS:
            self._security = "ok"
            if self._device is DeviceState.HARDWARE_ERROR:
                self._device = DeviceState.ONLINE
            self._report()
            return
        if reply.sw3 in _SAM_STATES:
            self._security = _SAM_STATES[Sw3(reply.sw3)]
            self._device = DeviceState.HARDWARE_ERROR
            self._report()
            if raising:
                raise self._error(reply, command)
            return
        raise self._error(reply, command)

    def _error(self, reply: ReplyFrame, command: Command) -> HalError:
        """The error a non-success SW3 means (emitting `InvalidDocument` where due)."""
        what = describe(command)
        said = f"{reply.meaning} (SW3 {reply.sw3:02X})"
        status = reply.status
        if status in _UNREADABLE:
            self._emit(InvalidDocument(reason=said))
            return InvalidMedia(
                f"{self.name}: {what}: {said}; take the card away and place it again"
            )
        if status in _AUTHENTICATION:
            self._emit(InvalidDocument(reason=said))
            return SecurityFail(f"{self.name}: {what}: {said}")
        if status is Sw3.NO_CARD:
            return NoMedia(f"{self.name}: {what}: {said}: the card went away")
        if status in _SAM_STATES:
            self._security = _SAM_STATES[status]
            self._device = DeviceState.HARDWARE_ERROR
            self._report()
            return HardwareError(f"{self.name}: {what}: {said}; the SAM is unusable")
        if status is Sw3.RANDOM_FAILED:
            return HardwareError(f"{self.name}: {what}: {said}")
        if status in _REFUSED:
            return ProtocolError(f"{self.name}: {what}: the module refused it: {said}")
        return ProtocolError(f"{self.name}: {what}: an unexpected answer: {said}")

    def _status(self) -> IdScannerStatus:
        return IdScannerStatus(
            device=self._device, media=self._media, security_module=self._security
        )

    def _report(self) -> IdScannerStatus:
        status = self._status()
        if status != self._last_status and self._listener is not None:
            self._last_status = status
            self._listener.status_changed(status)
        return status

    def _emit(self, event: Event) -> None:
        if self._listener is not None:
            self._listener.event(event)

    def _lost(self) -> None:
        self._device = DeviceState.NO_DEVICE
        self._report()


def samv_transport(transport: Transport) -> Transport:
    """A USB module's four pipes joined (`SamvUsbPipes`), under a ``spy+`` wrapper if
    there is one; any other transport as it is."""
    if isinstance(transport, SpyTransport) and isinstance(transport.inner, UsbTransport):
        transport.inner = SamvUsbPipes(transport.inner)
        return transport
    if isinstance(transport, UsbTransport):
        return SamvUsbPipes(transport)
    return transport


def open_samv(address: DeviceAddress, options: SamvOptions) -> IdScannerService:
    """Build the (unopened) ID scanner an address names (the registry factory)."""
    if address.transport == "serial" and "baud" not in address.options:
        address = dataclasses.replace(address, options={**address.options, "baud": str(SAMV_BAUD)})
    driver = SamvDriver(samv_transport(make_transport(address)), options)
    return IdScannerService(driver, name=driver.name)


SAMV_DRIVER = DriverSpec(
    name="samv",
    device_classes=frozenset({"id_scanner"}),
    options=SamvOptions,
    factory=open_samv,
    description="China ID-card reader, SAM_V module (serial 115200, or USB bulk pipes)",
    transports=frozenset({"serial", "memory", "usb"}),
    capabilities={"id_scanner": frozenset({"chip", "fingerprints", "newest_address"})},
    masker=SamvMasker,
)
"""The ``samv`` driver, registered through the ``tellerhal.drivers`` entry point."""
