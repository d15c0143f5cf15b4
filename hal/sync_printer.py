"""`SyncPrinter`: a `Printer` for threads (see `hal.sync`)."""

from __future__ import annotations

from hal.devices.printer import (
    Document,
    MediaControl,
    Printer,
    PrinterCapabilities,
    PrinterStatus,
    PrintResult,
)
from hal.sync_base import SyncDevice

__all__ = ["SyncPrinter"]


class SyncPrinter(SyncDevice[PrinterStatus, PrinterCapabilities]):
    """A `Printer` for threads; each method forwards to the async one."""

    _device: Printer

    def __init__(self, device: Printer) -> None:
        super().__init__(device)

    def print_document(self, document: Document, *, timeout: float | None = None) -> PrintResult:
        """See `Printer.print_document`."""
        return self._call(self._device.print_document, document, timeout=timeout)

    def print_raw(self, data: bytes, *, timeout: float | None = None) -> PrintResult:
        """See `Printer.print_raw`."""
        return self._call(self._device.print_raw, data, timeout=timeout)

    def control_media(self, action: MediaControl, *, timeout: float | None = None) -> None:
        """See `Printer.control_media`."""
        self._call(self._device.control_media, action, timeout=timeout)

    def reset(self, *, timeout: float | None = None) -> None:
        """See `Printer.reset`."""
        self._call(self._device.reset, timeout=timeout)
