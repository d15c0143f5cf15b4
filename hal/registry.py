"""The registry of drivers and transports, and how an address becomes a device.

A scheme in an address (``crt310+serial://...``, ``sim://...``) resolves only through
this registry, never by importing a module named in the address. Drivers and transports
register through the entry-point groups ``tellerhal.drivers`` and
``tellerhal.transports`` (loaded lazily, on first lookup) or by calling `register()`.

An entry point's value is an object: a `DriverSpec` (group ``tellerhal.drivers``) or a
`TransportSpec` (group ``tellerhal.transports``); its name is the scheme.

Opening an address (`open_device()`, which ``hal.open`` calls): the driver is looked up;
a transport named after ``+`` must be one the driver declares, and is looked up too; the
``spy+`` prefix is the transport registered as ``spy``. Every option of the address is
handed to each part (driver, transport, spy) whose options dataclass declares it; an
option no part declares is an error listing all the keys the parts accept. The driver's
factory then gets the address and its parsed options, and builds the device; a driver
that runs over a transport gets it from `make_transport()`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

from hal.address import SPY, DeviceAddress, is_name
from hal.device import Device
from hal.errors import ConfigurationError, DriverNotFound
from hal.options import check_options_type, format_option, option_names, parse_options

__all__ = [
    "DEVICE_NAMES",
    "DRIVER_GROUP",
    "TRANSPORT_GROUP",
    "DriverSpec",
    "TransportSpec",
    "driver",
    "drivers",
    "load_errors",
    "make_transport",
    "open_device",
    "register",
    "transport",
    "transports",
    "unregister",
]

log = logging.getLogger(__name__)

DRIVER_GROUP = "tellerhal.drivers"
TRANSPORT_GROUP = "tellerhal.transports"

#: The device names of a kiosk, which are also what `DriverSpec.device_classes` holds.
DEVICE_NAMES = (
    "card_reader",
    "id_scanner",
    "cash_dispenser",
    "cash_acceptor",
    "pin_pad",
    "camera",
    "receipt_printer",
    "journal_printer",
)


@dataclass(frozen=True)
class DriverSpec:
    """A driver (or the simulator) as the registry knows it.

    Attributes:
        name: the scheme, the protocol the driver speaks (``crt310``, ``sim``).
        device_classes: device names it can open (``card_reader``...), from
            `DEVICE_NAMES`.
        options: a dataclass type listing the options the address may carry; its
            fields' defaults are the defaults; ``__post_init__`` validates.
        factory: builds the (unopened) device from the parsed address and options.
        description: one line for ``tellerhal devices``.
        transports: transport schemes it can run over; empty if it needs none. A
            driver with transports needs one named in its address, unless
            ``transport_optional``.
        transport_optional: the driver also runs with no transport named (``zmq://``
            is TCP, ``zmq+ipc://`` a Unix socket).
        capabilities: the minimum capability features the driver promises per device
            class (``{"card_reader": frozenset({"tracks", "chip", "motor"})}``; names
            from the device class's ``features()``). Certification runs the cases they
            call for and fails a driver that promises nothing.
        masker: makes the ``spy+`` masker of the driver's protocol (called with
            ``reveal``; see `hal.transports.spy_maskers.Masker`); ``None``: its traffic
            is masked whole.
    """

    name: str
    device_classes: frozenset[str]
    options: type[Any]
    factory: Callable[[DeviceAddress, Any], Device[Any, Any]]
    description: str = ""
    transports: frozenset[str] = frozenset()
    transport_optional: bool = False
    capabilities: Mapping[str, frozenset[str]] = field(default_factory=dict)
    masker: Callable[[bool], Any] | None = None


@dataclass(frozen=True)
class TransportSpec:
    """A transport (``serial``, ``memory``, ``usb``, ``spy``...) as the registry knows it.

    Attributes:
        name: the scheme fragment after ``+`` (``crt310+serial://``); the transport
            named ``spy`` is the ``spy+`` prefix, a wrapper whose factory builds the
            inner transport with `make_transport()` on the address without ``spy``.
        options: a dataclass type of its options.
        factory: builds the transport from the address and options.
        description: one line for ``tellerhal devices``.
    """

    name: str
    options: type[Any]
    factory: Callable[[DeviceAddress, Any], Any]
    description: str = ""


_lock = threading.Lock()
_load_lock = threading.RLock()  # entry points may call register() while loading
_drivers: dict[str, DriverSpec] = {}
_transports: dict[str, TransportSpec] = {}
_loaded: set[str] = set()
_failures: dict[str, list[str]] = {DRIVER_GROUP: [], TRANSPORT_GROUP: []}


def _check(spec: DriverSpec | TransportSpec) -> None:
    """Refuse a malformed spec with a message saying what is wrong."""
    kind = "driver" if isinstance(spec, DriverSpec) else "transport"
    if not isinstance(spec.name, str) or not is_name(spec.name):
        raise ConfigurationError(
            f"a {kind} name is a lower-case letter followed by letters, digits, '_' or "
            f"'-'; got {spec.name!r}"
        )
    if isinstance(spec, DriverSpec) and spec.name == SPY:
        raise ConfigurationError(f"{SPY!r} is the spy+ prefix, not a driver name")
    try:
        check_options_type(spec.options)
    except TypeError as exc:
        raise ConfigurationError(f"{kind} {spec.name!r}: {exc}") from exc
    if isinstance(spec, DriverSpec):
        unknown = sorted(set(spec.device_classes) - set(DEVICE_NAMES))
        if not spec.device_classes or unknown:
            raise ConfigurationError(
                f"driver {spec.name!r} must open some of {', '.join(DEVICE_NAMES)}; "
                f"got {', '.join(unknown) or 'none'}"
            )
        bad = sorted(t for t in spec.transports if not is_name(t) or t == SPY)
        if bad:
            raise ConfigurationError(f"driver {spec.name!r}: bad transport names {bad}")


def register(spec: DriverSpec | TransportSpec, *, replace: bool = False) -> None:
    """Add a driver or transport.

    Args:
        spec: what to register, under ``spec.name``.
        replace: take the name even if another spec holds it.

    Raises:
        ConfigurationError: the name is taken (unless ``replace``) or the spec is
            malformed (bad name, options type not a parsable dataclass, unknown
            device classes).
    """
    _check(spec)
    table: dict[str, Any] = _drivers if isinstance(spec, DriverSpec) else _transports
    kind = "driver" if isinstance(spec, DriverSpec) else "transport"
    with _lock:
        if spec.name in table and not replace and table[spec.name] is not spec:
            raise ConfigurationError(f"a {kind} named {spec.name!r} is already registered")
        table[spec.name] = spec


def unregister(name: str, *, transport: bool = False) -> None:
    """Remove a driver (or a transport); unknown names are ignored."""
    with _lock:
        (_transports if transport else _drivers).pop(name, None)


def _load(group: str) -> None:
    with _load_lock:
        if group in _loaded:
            return
        _loaded.add(group)
        expected = DriverSpec if group == DRIVER_GROUP else TransportSpec
        for entry in metadata.entry_points(group=group):
            problem = None
            try:
                spec = entry.load()
            except Exception as exc:  # a broken plug-in must not hide the others
                problem = f"failed to load: {type(exc).__name__}: {exc}"
            else:
                if not isinstance(spec, expected) or spec.name != entry.name:
                    problem = f"is not a {expected.__name__} named {entry.name!r}"
                else:
                    try:
                        _check(spec)
                    except ConfigurationError as exc:
                        problem = f"is malformed: {exc}"
            if problem is not None:
                message = f"entry point {entry.name} = {entry.value} {problem}"
                log.warning("%s; ignored", message)
                _failures[group].append(message)
                continue
            with _lock:
                table: dict[str, Any] = _drivers if group == DRIVER_GROUP else _transports
                table.setdefault(spec.name, spec)


def _not_found(kind: str, name: str, known: list[str], group: str) -> DriverNotFound:
    message = f"no {kind} is registered as {name!r}; registered: {', '.join(known) or 'none'}"
    if _failures[group]:
        message += " (" + "; ".join(_failures[group]) + ")"
    return DriverNotFound(message)


def driver(name: str) -> DriverSpec:
    """The driver registered as ``name``.

    Raises:
        DriverNotFound: nothing is registered under that name; the message lists what
            is, and the entry points that failed to load.
    """
    _load(DRIVER_GROUP)
    with _lock:
        spec = _drivers.get(name)
        known = sorted(_drivers)
    if spec is None:
        raise _not_found("driver", name, known, DRIVER_GROUP)
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
        raise _not_found("transport", name, known, TRANSPORT_GROUP)
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


def load_errors() -> list[str]:
    """Why each entry point that failed to load was ignored (loading them first)."""
    _load(DRIVER_GROUP)
    _load(TRANSPORT_GROUP)
    with _load_lock:
        return _failures[DRIVER_GROUP] + _failures[TRANSPORT_GROUP]


# --- from an address to a device ---------------------------------------------------------


def _parts(
    address: DeviceAddress, where: str
) -> tuple[DriverSpec, list[DriverSpec | TransportSpec]]:
    """The driver, and every spec whose options the address feeds (driver first)."""
    try:
        return _resolve(address, where)
    except DriverNotFound as exc:
        raise DriverNotFound(f"{where}: {exc.message}") from exc


def _resolve(
    address: DeviceAddress, where: str
) -> tuple[DriverSpec, list[DriverSpec | TransportSpec]]:
    spec = driver(address.driver)
    parts: list[DriverSpec | TransportSpec] = [spec]
    if address.transport is not None:
        if address.transport not in spec.transports:
            runs_over = ", ".join(sorted(spec.transports)) or "no transport"
            raise ConfigurationError(
                f"{where}: driver {spec.name!r} does not run over {address.transport!r}; "
                f"it runs over {runs_over}"
            )
        parts.append(transport(address.transport))
    elif spec.transports and not spec.transport_optional:
        example = f"{spec.name}+{sorted(spec.transports)[0]}://"
        raise ConfigurationError(
            f"{where}: driver {spec.name!r} needs a transport "
            f"({', '.join(sorted(spec.transports))}), e.g. {example}"
        )
    if address.spy:
        if address.transport is None:
            raise ConfigurationError(
                f"{where}: spy+ dumps a transport's traffic, and {spec.name!r} runs over none"
            )
        parts.append(transport(SPY))
    return spec, parts


def _split(
    parts: list[DriverSpec | TransportSpec], given: Mapping[str, object], where: str
) -> list[Any]:
    """Parse each part's share of ``given``; refuse keys that no part declares."""
    names = [set(option_names(p.options)) for p in parts]
    allowed = set().union(*names)
    for key in given:
        if key not in allowed:
            raise ConfigurationError(
                f"{where}: unknown option {key!r}; allowed: {', '.join(sorted(allowed)) or 'none'}"
            )
    return [
        parse_options(p.options, {k: v for k, v in given.items() if k in keys}, where=where)
        for p, keys in zip(parts, names, strict=True)
    ]


def open_device(
    address: DeviceAddress,
    *,
    extra: Mapping[str, object] | None = None,
    defaults: Mapping[str, object] | None = None,
    where: str | None = None,
    device_class: str | None = None,
) -> Device[Any, Any]:
    """Build the (unopened) device an address names.

    Args:
        address: the parsed address.
        extra: more options (typed values from a kiosk file) on top of the address's;
            a key in both is an error.
        defaults: options given only to parts that declare them, and only where the
            address and ``extra`` do not set them (a kiosk's ``ledger``).
        where: how messages name the source; the address without options by default.
        device_class: the device name wanted (a kiosk's table); the driver must list it
            in its ``device_classes``.

    Returns:
        The device from the driver's factory. With ``extra`` or ``defaults``, the
        address the factory sees carries them too, spelled as strings.

    Raises:
        DriverNotFound: the driver, transport or spy is not registered.
        ConfigurationError: a transport the driver does not run over, a missing
            transport, an unknown option or one that does not convert, a driver that
            cannot open ``device_class``.
    """
    where = where or address.location
    spec, parts = _parts(address, where)
    if device_class is not None and device_class not in spec.device_classes:
        raise ConfigurationError(
            f"{where}: driver {spec.name!r} cannot open a {device_class}; it opens "
            f"{', '.join(sorted(spec.device_classes))}"
        )
    given: dict[str, object] = dict(address.options)
    for key, value in (extra or {}).items():
        if key in given:
            raise ConfigurationError(f"{where}: option {key!r} is given twice")
        given[key] = value
    declared = {k for p in parts for k in option_names(p.options)}
    for key, value in (defaults or {}).items():
        if key in declared and key not in given:
            given[key] = value
    parsed = _split(parts, given, where)
    added = [k for k in given if k not in address.options]
    if added:
        spelled = {}
        for key in added:
            holder = next(o for o in parsed if key in option_names(type(o)))
            spelled[key] = format_option(getattr(holder, key))
        address = address.with_options(spelled)
    return spec.factory(address, parsed[0])


def make_transport(address: DeviceAddress) -> Any:
    """Build the transport (wrapped by ``spy`` if the address says so) a driver runs over.

    A driver's factory calls this with the address it was given.

    Raises:
        DriverNotFound: the transport or spy is not registered.
        ConfigurationError: the address names no transport, or its options are bad.
    """
    if address.transport is None:
        raise ConfigurationError(f"{address.location}: the address names no transport")
    name = SPY if address.spy else address.transport
    spec = transport(name)
    keys = set(option_names(spec.options))
    options = parse_options(
        spec.options,
        {k: v for k, v in address.options.items() if k in keys},
        where=address.location,
    )
    return spec.factory(address, options)
