"""Card reader drivers: `CardReaderBackend` implementations over hal transports.

- `drivers.card_reader.crt310`: the Creator CRT-310 motorised reader (serial); its link
  layer is `drivers.card_reader.crt310_link`.
- `drivers.card_reader.pcsc`: a PC/SC chip-card dip reader through pcscd
  (``pcsc://READER``; docs/pcsc.md).
"""
