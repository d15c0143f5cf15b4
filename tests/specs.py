"""Registering drivers and transports for one test, as their entry points would.

The pyproject entry points may or may not name a spec yet; `registered` adds the ones
the registry does not know and removes only those it added, so a test sees the same
registry either way and leaves it as it found it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from hal import registry
from hal.errors import DriverNotFound


@contextmanager
def registered(*specs: registry.DriverSpec | registry.TransportSpec) -> Iterator[None]:
    """The given specs are registered for the duration of the block."""
    added: list[tuple[str, bool]] = []
    for spec in specs:
        is_transport = isinstance(spec, registry.TransportSpec)
        try:
            (registry.transport if is_transport else registry.driver)(spec.name)
        except DriverNotFound:
            registry.register(spec)
            added.append((spec.name, is_transport))
    try:
        yield
    finally:
        for name, is_transport in added:
            registry.unregister(name, transport=is_transport)
