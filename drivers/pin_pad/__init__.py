"""PIN pad drivers: `PinPadBackend` implementations over hal transports.

- `drivers.pin_pad.zt588`: the ``zt588`` driver (Zhengtong ZT588 EPP, serial), built
  from `zt588_core` (state, one exchange, refusals), `zt588_entry` (PIN and data entry,
  PIN blocks), `zt588_keys` (key loading and check values), `zt588_keymap` (key names
  to slots, kept in a JSON file) and its link `drivers.pin_pad.zt588_link`;
- `drivers.pin_pad.zt588_maskers`: the ``spy+`` masker of the Zhengtong ZT588 EPP
  serial protocol (`protocols.zt588`), which the ``zt588`` driver declares.
"""
