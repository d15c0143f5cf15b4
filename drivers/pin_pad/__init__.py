"""PIN pad drivers: `PinPadBackend` implementations over hal transports.

- `drivers.pin_pad.zt588`: the ``zt588`` driver (Zhengtong ZT588 EPP, serial), with
  its link `drivers.pin_pad.zt588_link`;
- `drivers.pin_pad.zt588_maskers`: the ``spy+`` masker of the Zhengtong ZT588 EPP
  serial protocol (`protocols.zt588`), which the ``zt588`` driver declares.
"""
