"""Card reader drivers: `CardReaderBackend` implementations over hal transports.

- `drivers.card_reader.crt310`: the Creator CRT-310 motorised reader (serial); its link
  layer is `drivers.card_reader.crt310_link`.
"""
