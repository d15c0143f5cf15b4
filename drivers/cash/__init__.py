"""Cash dispenser drivers: `CashDispenserBackend` implementations over hal transports.

- `drivers.cash.lcdm`: the Puloon LCDM-1000 / 2000 / 4000 (serial); its options are
  `drivers.cash.lcdm_options`, its link layer `drivers.cash.lcdm_link`, and the reading
  of its replies as note moves `drivers.cash.lcdm_report` (docs/lcdm.md).
"""
