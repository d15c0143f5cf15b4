"""The ``id003`` driver: a JCM ID-003 bill validator, as a `CashAcceptorBackend`.

Address (entry point ``id003`` in group ``tellerhal.drivers``)::

    id003+serial:///dev/ttyUSB0?parity=E[&denominations=61=CNY:100,..&capacity=1000
        &retries=3&reply_timeout=0.5&poll_interval=0.2&note_timeout=10&ledger=PATH]
    id003+memory://NAME?...          (tests: a `hal.transports.memory` pair)

The serial options are the transport's (give ``parity=E``: ID-003 is 8E1 [U]); the
driver's are `drivers.cash.id003_options.Id003Options`. Protocol: `protocols.id003`
and `protocols.id003_messages` (docs/id003.md); link: `drivers.cash.id003_link`.

What a bill validator is, and so what this driver declares: an escrow of ONE note; no
shutter, no exit, no items-taken sensor (a returned note goes straight back to the
customer: ``return_to`` `CUSTOMER`); no retract unit; it only accepts or rejects
(``classifies`` false); it cannot say after a restart what an interrupted operation did
(``knows_operations`` false) but it reports the note in its escrow and its code
(``senses_escrow`` true). One unit: the cash box ``cashbox`` (cashIn, mixed notes).

The driver is split into modules: the cash-in state machine (`Id003Driver`,
`refuse_reason`) is `drivers.cash.id003_cash_in`; the rest of the device side (open,
status, configure, cash_in_end, rollback, reset; `Id003Core`, `CASHBOX`) is
`drivers.cash.id003_core`; this one registers the driver and re-exports their public
names.
"""

from __future__ import annotations

from drivers.cash.id003_cash_in import Id003Driver, refuse_reason
from drivers.cash.id003_core import CASHBOX
from drivers.cash.id003_masker import Id003Masker
from drivers.cash.id003_options import Id003Options
from hal.address import DeviceAddress
from hal.devices.cash_acceptor_service import CashAcceptorService
from hal.registry import DriverSpec, make_transport

__all__ = ["CASHBOX", "ID003_DRIVER", "Id003Driver", "open_id003", "refuse_reason"]


def open_id003(address: DeviceAddress, options: Id003Options) -> CashAcceptorService:
    """Build the (unopened) cash acceptor an address names (the registry factory)."""
    driver = Id003Driver(make_transport(address), options, name="id003")
    return CashAcceptorService(driver, name=driver.name, ledger=options.ledger or None)


ID003_DRIVER = DriverSpec(
    name="id003",
    device_classes=frozenset({"cash_acceptor"}),
    options=Id003Options,
    factory=open_id003,
    description="JCM ID-003 bill validator (serial, 8E1)",
    transports=frozenset({"serial", "memory"}),
    # Every feature of `Id003Driver.capabilities` (the CashAcceptor contract passes them).
    capabilities={
        "cash_acceptor": frozenset(
            {"cash_in", "escrow", "rollback", "limit_by_items", "limit_by_amount", "senses_escrow"}
        )
    },
    masker=Id003Masker,
)
"""The ``id003`` driver, registered through the ``tellerhal.drivers`` entry point."""
