"""`RemoteIdScanner`: an `IdScanner` served by another process, over ZeroMQ.

Every method is one command on the server's `IdScannerService` (the queue, timeouts,
checks, ledger and events live there); the results are the same typed values as
in-process (a document comes back with its checks), and the errors the same `HalError`
classes. Personal data crosses the wire only as blobs
(`hal.remote.interfaces_id_scanner`).
"""

from __future__ import annotations

from typing import ClassVar

from hal.devices.id_scanner import (
    IdentityDocument,
    IdScanner,
    IdScannerCapabilities,
    IdScannerStatus,
    ImageFormat,
    ImageSide,
    RetainBin,
    ScannedImage,
)
from hal.remote.interfaces import Empty, InterfaceSpec
from hal.remote.interfaces_id_scanner import (
    ID_SCANNER,
    IdEmptyRetainBinPayload,
    ReadDocumentPayload,
    ScanImagePayload,
)
from hal.remote.proxy import RemoteDevice
from hal.remote.security import CurveClientKeys

__all__ = ["RemoteIdScanner"]


class RemoteIdScanner(RemoteDevice[IdScannerStatus, IdScannerCapabilities], IdScanner):
    """An ID scanner on a `hal.remote.server.RemoteServer`.

    Usually made by ``hal.open("zmq://HOST:PORT/id_scanner")``.

    Args:
        endpoint: the server's ZeroMQ endpoint (``tcp://127.0.0.1:5740``).
        device: the device's name on the server.
        timeout: seconds for the handshake and for each acknowledge.
        heartbeat: seconds between heartbeats (``None``: the server's interval).
        curve: CURVE keys if the server requires them.

    Raises:
        ConfigurationError: a bad endpoint or device name.
    """

    spec: ClassVar[InterfaceSpec] = ID_SCANNER

    def __init__(
        self,
        endpoint: str,
        device: str = "id_scanner",
        *,
        timeout: float = 5.0,
        heartbeat: float | None = None,
        curve: CurveClientKeys | None = None,
    ) -> None:
        super().__init__(endpoint, device, timeout=timeout, heartbeat=heartbeat, curve=curve)

    async def read_document(
        self,
        *,
        fingerprints: bool = False,
        newest_address: bool = False,
        timeout: float | None = None,
    ) -> IdentityDocument:
        payload = ReadDocumentPayload(bool(fingerprints), bool(newest_address))
        result: IdentityDocument = await self._call("IdScanner.ReadDocument", payload, timeout)
        return result

    async def scan_image(
        self,
        side: ImageSide,
        *,
        format: ImageFormat = ImageFormat.JPEG,
        timeout: float | None = None,
    ) -> ScannedImage:
        payload = ScanImagePayload(ImageSide(side), ImageFormat(format))
        result: ScannedImage = await self._call("IdScanner.ScanImage", payload, timeout)
        return result

    async def eject(self, *, timeout: float | None = None) -> None:
        await self._call("IdScanner.Eject", Empty(), timeout)

    async def retain(self, *, timeout: float | None = None) -> None:
        await self._call("IdScanner.Retain", Empty(), timeout)

    async def reset(self, *, timeout: float | None = None) -> None:
        await self._call("IdScanner.Reset", Empty(), timeout)

    async def retain_bin(self) -> RetainBin:
        result: RetainBin = await self._call("IdScanner.GetRetainBin", Empty())
        return result

    async def empty_retain_bin(self, *, reason: str = "") -> None:
        await self._call("IdScanner.EmptyRetainBin", IdEmptyRetainBinPayload(reason))
