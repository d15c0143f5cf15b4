"""Printer drivers: `PrinterBackend` implementations over hal transports.

- `drivers.printer.escpos`: an ESC/POS receipt or journal printer over USB (bulk OUT/IN)
  or serial (``escpos``; docs/escpos_driver.md).
"""
