"""The registry of drivers and transports.

A scheme in an address (``crt310+serial://...``, ``sim://...``) resolves only through
this registry, never by importing a module named in the address. Drivers and transports
register through the entry-point groups ``tellerhal.drivers`` and
``tellerhal.transports`` (loaded lazily, on first lookup) or by calling `register()`.

An entry point's value is an object: a `DriverSpec` (group ``tellerhal.drivers``) or a
`TransportSpec` (group ``tellerhal.transports``); its name is the scheme.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from typing import TYPE_CHECKING, Any

from hal.errors import ConfigurationError, DriverNotFound

if TYPE_CHECKING:
    from hal.address import DeviceAddress
    from hal.device import Device

__all__ = [
    "DRIVER_GROUP",
    "TRANSPORT_GROUP",
    "DriverSpec",
    "TransportSpec",
    "driver",
    "drivers",
    "register",
    "transport",
    "transports",
    "unregister",
]

log = logging.getLogger(__name__)

DRIVER_GROUP = "tellerhal.drivers"
TRANSPORT_GROUP = "tellerhal.transports"


@dataclass(frozen=True)
class DriverSpec:
    """A driver (or the simulator) as the registry knows it.

    Attributes:
        name: the scheme, the protocol the driver speaks (``crt310``, ``sim``).
        device_classes: device names it can open (``card_reader``...).
        options: a dataclass type listing the options the address may carry; its
            fields' defaults are the defaults; ``__post_init__`` validates.
        factory: builds the (unopened) device from the parsed address and options.
        description: one line for ``tellerhal devices``.
        transports: transport schemes it can run over; empty if it needs none.
    """

    name: str
    device_classes: frozenset[str]
    options: type[Any]
    factory: Callable[[DeviceAddress, Any], Device[Any, Any]]
    description: str = ""
    transports: frozenset[str] = frozenset()


@dataclass(frozen=True)
class TransportSpec:
    """A transport (``serial``, ``memory``, ``usb``...) as the registry knows it.

    Attributes:
        name: the scheme fragment after ``+`` (``crt310+serial://``).
        options: a dataclass type of its options.
        factory: builds the transport from the address and options.
        description: one line for ``tellerhal devices``.
    """

    name: str
    options: type[Any]
    factory: Callable[[DeviceAddress, Any], Any]
    description: str = ""


_lock = threading.Lock()
_drivers: dict[str, DriverSpec] = {}
_transports: dict[str, TransportSpec] = {}
_loaded: set[str] = set()


def register(spec: DriverSpec | TransportSpec, *, replace: bool = False) -> None:
    """Add a driver or transport.

    Raises:
        ConfigurationError: the name is taken (unless ``replace``) or malformed.
    """
    table: dict[str, Any] = _drivers if isinstance(spec, DriverSpec) else _transports
    kind = "driver" if isinstance(spec, DriverSpec) else "transport"
    if not spec.name or not all(c.isalnum() or c in "_-" for c in spec.name):
        raise ConfigurationError(
            f"a {kind} name is letters, digits, '_' and '-'; got {spec.name!r}"
        )
    with _lock:
        if spec.name in table and not replace and table[spec.name] is not spec:
            raise ConfigurationError(f"a {kind} named {spec.name!r} is already registered")
        table[spec.name] = spec


def unregister(name: str, *, transport: bool = False) -> None:
    """Remove a driver (or a transport); unknown names are ignored."""
    with _lock:
        (_transports if transport else _drivers).pop(name, None)


def _load(group: str) -> None:
    with _lock:
        if group in _loaded:
            return
        _loaded.add(group)
    expected = DriverSpec if group == DRIVER_GROUP else TransportSpec
    for entry in metadata.entry_points(group=group):
        try:
            spec = entry.load()
        except Exception as exc:  # a broken plug-in must not hide the others
            log.warning("entry point %s = %s failed to load: %s", entry.name, entry.value, exc)
            continue
        if not isinstance(spec, expected) or spec.name != entry.name:
            log.warning(
                "entry point %s = %s is not a %s named %r; ignored",
                entry.name,
                entry.value,
                expected.__name__,
                entry.name,
            )
            continue
        with _lock:
            (_drivers if group == DRIVER_GROUP else _transports).setdefault(
                spec.name,
                spec,  # type: ignore[arg-type]
            )


def driver(name: str) -> DriverSpec:
    """The driver registered as ``name``.

    Raises:
        DriverNotFound: nothing is registered under that name.
    """
    _load(DRIVER_GROUP)
    with _lock:
        spec = _drivers.get(name)
        known = sorted(_drivers)
    if spec is None:
        raise DriverNotFound(
            f"no driver is registered as {name!r}; registered: {', '.join(known) or 'none'}"
        )
    return spec


def transport(name: str) -> TransportSpec:
    """The transport registered as ``name``.

    Raises:
        DriverNotFound: nothing is registered under that name.
    """
    _load(TRANSPORT_GROUP)
    with _lock:
        spec = _transports.get(name)
        known = sorted(_transports)
    if spec is None:
        raise DriverNotFound(
            f"no transport is registered as {name!r}; registered: {', '.join(known) or 'none'}"
        )
    return spec


def drivers() -> list[DriverSpec]:
    """Every registered driver, by name."""
    _load(DRIVER_GROUP)
    with _lock:
        return [_drivers[k] for k in sorted(_drivers)]


def transports() -> list[TransportSpec]:
    """Every registered transport, by name."""
    _load(TRANSPORT_GROUP)
    with _lock:
        return [_transports[k] for k in sorted(_transports)]
