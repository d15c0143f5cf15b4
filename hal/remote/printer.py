"""`RemotePrinter`: a `Printer` served by another process, over ZeroMQ.

Every method is one command on the server's `PrinterService` (validation against the
capabilities, the queue, timeouts and events happen there); the results are the same
`PrintResult` values as in-process, and the errors the same `HalError` classes
(`PaperOut` with its counts). A document's text travels as JSON text, its images'
pixels as blobs.
"""

from __future__ import annotations

from typing import ClassVar

from hal.devices.printer import (
    Document,
    MediaControl,
    Printer,
    PrinterCapabilities,
    PrinterStatus,
    PrintResult,
)
from hal.errors import InvalidData
from hal.remote.interfaces import Empty, InterfaceSpec
from hal.remote.interfaces_printer import (
    PRINTER,
    ControlMediaPayload,
    PrintDocumentPayload,
    PrintRawPayload,
)
from hal.remote.proxy import RemoteDevice
from hal.remote.security import CurveClientKeys

__all__ = ["RemotePrinter"]


class RemotePrinter(RemoteDevice[PrinterStatus, PrinterCapabilities], Printer):
    """A receipt or journal printer on a `hal.remote.server.RemoteServer`.

    Usually made by ``hal.open("zmq://HOST:PORT/receipt_printer")`` (or
    ``.../journal_printer``). Opening it joins (or starts) this event loop's session to
    the endpoint and opens the device there.

    Args:
        endpoint: the server's ZeroMQ endpoint (``tcp://127.0.0.1:5740``).
        device: the device's name on the server.
        timeout: seconds for the handshake and for each acknowledge.
        heartbeat: seconds between heartbeats (``None``: the server's interval).
        curve: CURVE keys if the server requires them.

    Raises:
        ConfigurationError: a bad endpoint or device name.
    """

    spec: ClassVar[InterfaceSpec] = PRINTER

    def __init__(
        self,
        endpoint: str,
        device: str = "receipt_printer",
        *,
        timeout: float = 5.0,
        heartbeat: float | None = None,
        curve: CurveClientKeys | None = None,
    ) -> None:
        super().__init__(endpoint, device, timeout=timeout, heartbeat=heartbeat, curve=curve)

    async def print_document(
        self, document: Document, *, timeout: float | None = None
    ) -> PrintResult:
        if not isinstance(document, Document):
            raise InvalidData(
                f"{self.name}: PrintDocument takes a Document, got a {type(document).__name__}"
            )
        result: PrintResult = await self._call(
            "Printer.PrintDocument", PrintDocumentPayload.of(document), timeout
        )
        return result

    async def print_raw(self, data: bytes, *, timeout: float | None = None) -> PrintResult:
        if not isinstance(data, bytes | bytearray | memoryview):
            raise InvalidData(f"{self.name}: PrintRaw takes bytes, got a {type(data).__name__}")
        result: PrintResult = await self._call(
            "Printer.PrintRaw", PrintRawPayload(bytes(data)), timeout
        )
        return result

    async def control_media(self, action: MediaControl, *, timeout: float | None = None) -> None:
        try:
            media = MediaControl(action)
        except ValueError:
            raise InvalidData(
                f"{self.name}: {action!r} is not a media action; one of "
                f"{', '.join(a.value for a in MediaControl)}"
            ) from None
        await self._call("Printer.ControlMedia", ControlMediaPayload(media), timeout)

    async def reset(self, *, timeout: float | None = None) -> None:
        await self._call("Printer.Reset", Empty(), timeout)
