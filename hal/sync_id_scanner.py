"""`SyncIdScanner`: an `IdScanner` for threads (see `hal.sync`)."""

from __future__ import annotations

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
from hal.sync_base import SyncDevice

__all__ = ["SyncIdScanner"]


class SyncIdScanner(SyncDevice[IdScannerStatus, IdScannerCapabilities]):
    """An `IdScanner` for threads; each method forwards to the async one."""

    _device: IdScanner

    def __init__(self, device: IdScanner) -> None:
        super().__init__(device)

    def read_document(
        self,
        *,
        fingerprints: bool = False,
        newest_address: bool = False,
        timeout: float | None = None,
    ) -> IdentityDocument:
        """See `IdScanner.read_document`."""
        return self._call(
            self._device.read_document,
            fingerprints=fingerprints,
            newest_address=newest_address,
            timeout=timeout,
        )

    def scan_image(
        self,
        side: ImageSide,
        *,
        format: ImageFormat = ImageFormat.JPEG,
        timeout: float | None = None,
    ) -> ScannedImage:
        """See `IdScanner.scan_image`."""
        return self._call(self._device.scan_image, side, format=format, timeout=timeout)

    def eject(self, *, timeout: float | None = None) -> None:
        """See `IdScanner.eject`."""
        self._call(self._device.eject, timeout=timeout)

    def retain(self, *, timeout: float | None = None) -> None:
        """See `IdScanner.retain`."""
        self._call(self._device.retain, timeout=timeout)

    def reset(self, *, timeout: float | None = None) -> None:
        """See `IdScanner.reset`."""
        self._call(self._device.reset, timeout=timeout)

    def retain_bin(self) -> RetainBin:
        """See `IdScanner.retain_bin`."""
        return self._call(self._device.retain_bin)

    def empty_retain_bin(self, *, reason: str = "") -> None:
        """See `IdScanner.empty_retain_bin`."""
        self._call(self._device.empty_retain_bin, reason=reason)
