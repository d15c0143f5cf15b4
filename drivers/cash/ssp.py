"""The ``ssp`` driver: an ITL NV200 (validator) or NV11 (validator + payout store) over
SSP / eSSP, as a `CashAcceptorBackend` and (NV11) a `CashDispenserBackend`.

Addresses (entry point ``ssp`` in group ``tellerhal.drivers``; options:
`drivers.cash.ssp_options.SspOptions`)::

    ssp+serial:///dev/ttyUSB0?baud=9600&stopbits=2&profile=nv200
    ssp+serial:///dev/ttyUSB0?baud=9600&stopbits=2&profile=nv11                 (acceptor)
    ssp+serial:///dev/ttyUSB0?baud=9600&stopbits=2&profile=nv11&facet=dispenser (payout)

One device, one connection: every address of the same transport and path resolves to
ONE `SspCore` in the process (the port opened at the first facet's open, closed at
the last one's close); the acceptor and the dispenser are two facets over it. Their
services keep their books in one ledger (`drivers.cash.ssp_service.SharedBooks`: the
``ledger`` file, the same in both addresses, or one in memory) under one device name,
so a note stored in the payout is one the dispenser can pay out.

The driver is split into modules: the device core and its polling task
(`drivers.cash.ssp_core`), the acceptor facet (`drivers.cash.ssp_acceptor`), the
dispenser facet (`drivers.cash.ssp_dispenser`); this one registers the driver and
re-exports their public names.

Neither the fixed nor the negotiated key is ever logged, raised or shown.
"""

from __future__ import annotations

from typing import Any

from drivers.cash.ssp_acceptor import SspAcceptor
from drivers.cash.ssp_core import _CORES as _CORES
from drivers.cash.ssp_core import CASHBOX as CASHBOX
from drivers.cash.ssp_core import EVENT_TIMEOUT as EVENT_TIMEOUT
from drivers.cash.ssp_core import MAX_BACKOFF as MAX_BACKOFF
from drivers.cash.ssp_core import OFFLINE_LIMIT as OFFLINE_LIMIT
from drivers.cash.ssp_core import PAYOUT as PAYOUT
from drivers.cash.ssp_core import SET_ROUTING as SET_ROUTING
from drivers.cash.ssp_core import SspCore
from drivers.cash.ssp_dispenser import SspDispenser
from drivers.cash.ssp_masker import SspMasker
from drivers.cash.ssp_options import SspOptions
from drivers.cash.ssp_service import SspAcceptorService, SspDispenserService
from hal.address import DeviceAddress
from hal.device import Device
from hal.errors import ConfigurationError
from hal.registry import DriverSpec, make_transport

__all__ = ["SSP_DRIVER", "SspAcceptor", "SspCore", "SspDispenser", "open_ssp"]


# --- one core per port -------------------------------------------------------------------------


def core_for(address: DeviceAddress, options: SspOptions) -> SspCore:
    """The one `SspCore` of the port ``address`` names (made on first use)."""
    key = f"{address.transport}://{address.authority}{address.path}"
    core = _CORES.get(key)
    if core is not None:
        if core.options.profile != options.profile:
            raise ConfigurationError(
                f"{key} is open as an {core.options.profile}; this address says {options.profile}"
            )
        return core
    name = f"ssp:{address.authority}{address.path}"
    core = SspCore(make_transport(address), options, name)
    core.key = key
    _CORES[key] = core
    return core


def open_ssp(address: DeviceAddress, options: SspOptions) -> Device[Any, Any]:
    """Build the (unopened) acceptor or dispenser an address names (the registry factory):
    a service over a facet of the port's one `SspCore`, keeping its books in the core's
    shared ledger (`drivers.cash.ssp_service.SharedBooks`)."""
    core = core_for(address, options)
    if options.facet == "dispenser":
        return SspDispenserService(
            SspDispenser(core), name=core.name, books=core.books, path=options.ledger
        )
    return SspAcceptorService(
        SspAcceptor(core), name=core.name, books=core.books, path=options.ledger
    )


SSP_DRIVER = DriverSpec(
    name="ssp",
    device_classes=frozenset({"cash_acceptor", "cash_dispenser"}),
    options=SspOptions,
    factory=open_ssp,
    description="ITL NV200 / NV11 bill validator and payout over SSP / eSSP (serial)",
    transports=frozenset({"serial", "memory"}),
    capabilities={
        # what the NV11 does; the NV200 all but recycling (no payout store)
        "cash_acceptor": frozenset(
            {
                "cash_in",
                "escrow",
                "rollback",
                "limit_by_items",
                "limit_by_amount",
                "recycling",
                "senses_escrow",
            }
        ),
        "cash_dispenser": frozenset({"dispense"}),
    },
    masker=SspMasker,
)
"""The ``ssp`` driver, registered through the ``tellerhal.drivers`` entry point."""
