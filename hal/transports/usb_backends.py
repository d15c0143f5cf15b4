"""The pyusb backends a ``usb`` address may name (``backend=NAME``), by name.

pyusb's own backends (``libusb1``, the default, ``libusb0``, ``openusb``) are here from
the start; a simulator adds its own with `register_backend` without ``hal`` importing it
(the simulator's ``sim`` registers when ``simulator.wire.usb`` is imported). Names are
never turned into module imports: only what registered itself can be named.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import usb.backend.libusb0  # type: ignore[import-untyped]
import usb.backend.libusb1  # type: ignore[import-untyped]
import usb.backend.openusb  # type: ignore[import-untyped]

from hal.errors import ConfigurationError, TransportError

__all__ = [
    "BackendFactory",
    "backend_names",
    "get_backend",
    "register_backend",
    "unregister_backend",
]

#: Builds a pyusb backend (an ``usb.backend.IBackend``), or returns ``None`` when the
#: library behind it is not installed.
BackendFactory = Callable[[], Any]

_backends_lock = threading.Lock()
_backends: dict[str, BackendFactory] = {
    "libusb1": usb.backend.libusb1.get_backend,
    "libusb0": usb.backend.libusb0.get_backend,
    "openusb": usb.backend.openusb.get_backend,
}


def register_backend(name: str, factory: BackendFactory, *, replace: bool = False) -> None:
    """Make a pyusb backend reachable as ``backend=NAME`` in a ``usb`` address.

    Args:
        name: the name addresses use.
        factory: called (on the device's worker thread) each time a transport opens;
            returns the backend, or ``None`` if it is not available here.
        replace: take the name even if another factory holds it.

    Raises:
        ConfigurationError: the name is taken (and not ``replace``) or empty.
    """
    if not name or not name.isidentifier():
        raise ConfigurationError(f"a backend name is an identifier; got {name!r}")
    with _backends_lock:
        if name in _backends and not replace and _backends[name] is not factory:
            raise ConfigurationError(f"a pyusb backend named {name!r} is already registered")
        _backends[name] = factory


def unregister_backend(name: str) -> None:
    """Forget a backend name; unknown names are ignored."""
    with _backends_lock:
        _backends.pop(name, None)


def backend_names() -> list[str]:
    """The backend names addresses may use, sorted."""
    with _backends_lock:
        return sorted(_backends)


def get_backend(name: str) -> Any:
    """The pyusb backend registered as ``name``.

    Raises:
        ConfigurationError: no backend has that name.
        TransportError: it has, but its library is not available on this machine.
    """
    with _backends_lock:
        factory = _backends.get(name)
    if factory is None:
        hint = " (the simulator's registers when simulator.wire.usb is imported)"
        raise ConfigurationError(
            f"no pyusb backend is registered as {name!r}; registered: "
            f"{', '.join(backend_names())}{hint if name == 'sim' else ''}"
        )
    backend = factory()
    if backend is None:
        raise TransportError(f"the pyusb backend {name!r} is not available (library not found)")
    return backend
