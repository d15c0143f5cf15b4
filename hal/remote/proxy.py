"""`RemoteDevice`: what every remote client device shares.

A remote device joins (or starts) its event loop's `hal.remote.client.Session` to the
server's endpoint when opened, opens the device there, republishes the events the
session hands it on its own `hal.events.EventHub`, and runs each method as one typed
command of its interface (`hal.remote.interfaces.InterfaceSpec`). `RemoteCardReader`
and `RemotePinPad` are built on it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any, ClassVar, TypeVar

from hal.device import Device
from hal.errors import ConfigurationError, DeviceNotReady
from hal.events import Event, EventHub, Subscription
from hal.remote.client import Session, session_for
from hal.remote.interfaces import CAPABILITIES, STATUS, Empty, InterfaceSpec
from hal.remote.messages import valid_device_name
from hal.remote.security import CurveClientKeys, endpoint_scheme

__all__ = ["RemoteDevice"]

S = TypeVar("S")
C = TypeVar("C")


class RemoteDevice(Device[S, C]):
    """A device on a `hal.remote.server.RemoteServer`, as its public interface.

    Subclasses set `spec` (the interface's remote description) and implement the
    interface's methods with `_call`.

    Args:
        endpoint: the server's ZeroMQ endpoint (``tcp://127.0.0.1:5740``).
        device: the device's name on the server.
        timeout: seconds for the handshake and for each acknowledge.
        heartbeat: seconds between heartbeats (``None``: the server's interval).
        curve: CURVE keys if the server requires them.

    Raises:
        ConfigurationError: a bad endpoint or device name.
    """

    #: The interface's commands and events, as the remote carries them.
    spec: ClassVar[InterfaceSpec]

    def __init__(
        self,
        endpoint: str,
        device: str,
        *,
        timeout: float = 5.0,
        heartbeat: float | None = None,
        curve: CurveClientKeys | None = None,
    ) -> None:
        endpoint_scheme(endpoint)
        if not valid_device_name(device):
            raise ConfigurationError(f"device name {device!r} is not a-z, 0-9, '_' or '-'")
        self._endpoint = endpoint
        self._device = device
        self._timeout = timeout
        self._heartbeat = heartbeat
        self._curve = curve
        self._hub = EventHub(device)
        self._session: Session | None = None
        self._open_lock = asyncio.Lock()

    @property
    def name(self) -> str:
        return self._device

    @property
    def endpoint(self) -> str:
        """The server's endpoint."""
        return self._endpoint

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._endpoint!r}, {self._device!r})"

    async def open(self) -> None:
        async with self._open_lock:
            if self._session is not None:
                return
            session = session_for(
                self._endpoint, timeout=self._timeout, heartbeat=self._heartbeat, curve=self._curve
            )
            try:
                interface = await session.open_device(self._device, self._publish)
                if interface != self.interface:
                    await session.close_device(self._device, self._publish)
                    raise ConfigurationError(
                        f"{self._endpoint}: {self._device} is a {interface or 'unknown'} "
                        f"device, not a {self.interface}"
                    )
            except BaseException:
                await session.release()
                raise
            self._session = session

    async def close(self) -> None:
        async with self._open_lock:
            session, self._session = self._session, None
            if session is None:
                return
            try:
                await session.close_device(self._device, self._publish)
            finally:
                self._hub.close()
                await session.release()

    def events(
        self, maxsize: int = 256, kinds: Iterable[type[Event]] | None = None
    ) -> Subscription:
        return self._hub.subscribe(maxsize, kinds)

    def _publish(self, event: Event) -> None:
        self._hub.publish(event)

    async def _call(self, name: str, payload: Any, timeout: float | None = None) -> Any:
        """Run the command ``name`` with ``payload``; what the method returns.

        Raises:
            DeviceNotReady: not open.
            HalError: the class the server's completion names.
        """
        session = self._session
        if session is None:
            raise DeviceNotReady(f"{self._device} is not open; call open() or use 'async with'")
        return await session.call(self._device, self.spec.commands[name], payload, timeout=timeout)

    async def status(self) -> S:
        result: S = await self._call(STATUS, Empty())
        return result

    async def capabilities(self) -> C:
        result: C = await self._call(CAPABILITIES, Empty())
        return result
