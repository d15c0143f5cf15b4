"""PIN pad drivers: `PinPadBackend` implementations over hal transports.

- `drivers.pin_pad.zt588_maskers`: the ``spy+`` masker of the Zhengtong ZT588 EPP
  serial protocol (`protocols.zt588`), which the ``zt588`` driver declares.
"""
