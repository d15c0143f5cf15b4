"""ID-document scanner drivers: `IdScannerBackend` implementations over hal transports.

- `drivers.id_scanner.mrz_serial`: an OCR reader sending MRZ lines over serial
  (``mrz-serial``; docs/mrz.md).
- `drivers.id_scanner.samv`: a China ID-card reader's SAM_V module over serial or USB
  (``samv``; docs/samv.md).
"""
