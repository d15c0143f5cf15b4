"""What every remote control client of `simulator.remote_control` stands on:
`control_call` (one control command over a ``tellerhal sim``'s control socket) and
`_RemoteDeviceControl` (the endpoint, the device and the commands every simulated
device takes). `simulator.remote_control` re-exports `control_call`.
"""

from __future__ import annotations

import asyncio
from typing import Any

import zmq

from hal.errors import ConnectionLost, ProtocolError
from hal.remote.codec import WireValueError, codec_for
from hal.remote.connection import Connection
from hal.remote.interfaces import Empty
from hal.remote.messages import valid_device_name
from hal.remote.security import endpoint_scheme
from simulator.control_commands import (
    COMMANDS,
    CountCompletion,
    PowerLossPayload,
    SlowRepliesPayload,
)


async def control_call(
    endpoint: str,
    name: str,
    payload: Any = None,
    *,
    device: str | None = None,
    timeout: float = 5.0,
    wait: float = 0.0,
) -> Any:
    """Run one control command and return its completion (a dataclass, or ``None``).

    Args:
        endpoint: the control socket (``tcp://127.0.0.1:5741``).
        name: a command of `simulator.control_commands.COMMANDS`.
        payload: its payload dataclass (``None`` for an empty one).
        device: the device acted on (for the commands that act on one).
        timeout: seconds to connect and get the acknowledge.
        wait: seconds the command itself may take after its acknowledge.

    Raises:
        ConnectionLost: nothing answered within ``timeout``, or no completion came
            ``wait + timeout`` seconds after the acknowledge.
        HalError: the simulator refused or failed the command, as the class it raised.
    """
    command = COMMANDS[name]
    blobs: list[bytes] = []
    data = codec_for(command.payload).encode(Empty() if payload is None else payload, blobs)
    context: zmq.Context[Any] = zmq.Context()
    conn = Connection(
        context,
        endpoint,
        timeout=timeout,
        curve=None,
        settle_timeout=0.0,
        on_event=lambda conn, message: None,
        on_lost=lambda conn, reason, quiet: None,
    )
    bound = asyncio.timeout(timeout + wait + timeout)
    try:
        async with bound:
            message = await conn.exchange(device, name, data, blobs, settle=False)
    except TimeoutError:
        if not bound.expired():
            raise  # HalTimeout: the command's own wait ran out
        raise ConnectionLost(
            f"{endpoint}: {name} did not complete within {timeout + wait + timeout:g} s"
        ) from None
    finally:
        conn.lose(f"{name} is done", quiet=True)
        await conn.wait_closed()
        context.destroy(linger=0)
    if command.completion is None:
        return None
    try:
        return codec_for(command.completion).decode(message.payload, message.blobs, "")
    except WireValueError as exc:
        raise ProtocolError(f"{endpoint} answered {name} with {exc}") from None


class _RemoteDeviceControl:
    """What acts on one device of a ``tellerhal sim`` over its control socket: the
    endpoint, the device's name, the commands every simulated device takes (power
    loss, slow replies).

    Raises:
        ConfigurationError: a bad endpoint.
        ValueError: a bad device name or timeout.
    """

    def __init__(self, endpoint: str, device: str, *, timeout: float = 5.0) -> None:
        endpoint_scheme(endpoint)
        if not valid_device_name(device):
            raise ValueError(f"device name {device!r} is not a-z, 0-9, '_' or '-'")
        if not timeout > 0:
            raise ValueError(f"timeout must be > 0, got {timeout}")
        self.endpoint = endpoint
        self.device = device
        self._timeout = timeout

    async def _call(self, name: str, payload: Any = None, wait: float = 0.0) -> Any:
        return await control_call(
            self.endpoint, name, payload, device=self.device, timeout=self._timeout, wait=wait
        )

    async def _count(self, name: str) -> int:
        """Run ``name``, whose completion is a `CountCompletion`, and return its count."""
        done = await self._call(name)
        assert isinstance(done, CountCompletion)
        return done.count

    async def power_loss(self, on: bool = True) -> None:
        """Cut the device's power (``on=True``) or restore it (``on=False``)."""
        await self._call("Control.PowerLoss", PowerLossPayload(on))

    async def slow_replies(self, seconds: float) -> None:
        """Delay every reply of the device by ``seconds`` simulated seconds (0: none)."""
        await self._call("Control.SlowReplies", SlowRepliesPayload(seconds))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.endpoint!r}, {self.device!r})"
