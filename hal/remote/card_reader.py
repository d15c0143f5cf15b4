"""`RemoteCardReader`: a `CardReader` served by another process, over ZeroMQ.

Every method is one command on the server's `CardReaderService` (the queue, timeouts,
ledger and events live there); the results are the same typed values as in-process
and the errors the same `HalError` classes, with the server's description.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from typing import Any

from hal.devices.card_reader import (
    CardReader,
    CardReaderCapabilities,
    CardReaderStatus,
    CardStacker,
    ChipPowerAction,
    MoveTarget,
    ReadResult,
    ResetAction,
    RetainBin,
    Track,
)
from hal.errors import ConfigurationError, DeviceNotReady
from hal.events import Event, EventHub, Subscription
from hal.remote.client import Session, session_for
from hal.remote.interfaces import (
    CARD_READER,
    ChipIOPayload,
    ChipPowerPayload,
    Empty,
    EmptyRetainBinPayload,
    LoadStackerPayload,
    MovePayload,
    ReadRawDataPayload,
    ResetPayload,
    WriteRawDataPayload,
)
from hal.remote.messages import valid_device_name
from hal.remote.security import CurveClientKeys, endpoint_scheme

__all__ = ["RemoteCardReader"]


class RemoteCardReader(CardReader):
    """A card reader on a `hal.remote.server.RemoteServer`.

    Usually made by ``hal.open("zmq://HOST:PORT/card_reader")``. Opening it joins (or
    starts) this event loop's session to the endpoint and opens the device there.

    Args:
        endpoint: the server's ZeroMQ endpoint (``tcp://127.0.0.1:5740``).
        device: the device's name on the server.
        timeout: seconds for the handshake and for each acknowledge.
        heartbeat: seconds between heartbeats (``None``: the server's interval).
        curve: CURVE keys if the server requires them.

    Raises:
        ConfigurationError: a bad endpoint or device name.
    """

    def __init__(
        self,
        endpoint: str,
        device: str = "card_reader",
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
        return f"RemoteCardReader({self._endpoint!r}, {self._device!r})"

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
        session = self._session
        if session is None:
            raise DeviceNotReady(f"{self._device} is not open; call open() or use 'async with'")
        return await session.call(
            self._device, CARD_READER.commands[name], payload, timeout=timeout
        )

    # --- CardReader ----------------------------------------------------------------------

    async def status(self) -> CardReaderStatus:
        result: CardReaderStatus = await self._call("Common.Status", Empty())
        return result

    async def capabilities(self) -> CardReaderCapabilities:
        result: CardReaderCapabilities = await self._call("Common.Capabilities", Empty())
        return result

    async def read_raw_data(
        self, tracks: Iterable[Track], *, timeout: float | None = None
    ) -> ReadResult:
        payload = ReadRawDataPayload(tuple(Track(t) for t in tracks))
        result: ReadResult = await self._call("CardReader.ReadRawData", payload, timeout)
        return result

    async def write_raw_data(
        self, data: Mapping[Track, bytes], *, timeout: float | None = None
    ) -> None:
        payload = WriteRawDataPayload({Track(t): bytes(v) for t, v in data.items()})
        await self._call("CardReader.WriteRawData", payload, timeout)

    async def move(
        self, to: MoveTarget, *, from_unit: str | None = None, timeout: float | None = None
    ) -> None:
        payload = MovePayload(MoveTarget(to), None if from_unit is None else str(from_unit))
        await self._call("CardReader.Move", payload, timeout)

    async def chip_power(self, action: ChipPowerAction, *, timeout: float | None = None) -> bytes:
        payload = ChipPowerPayload(ChipPowerAction(action))
        atr: bytes = await self._call("CardReader.ChipPower", payload, timeout)
        return atr

    async def chip_io(self, apdu: bytes, *, timeout: float | None = None) -> bytes:
        response: bytes = await self._call("CardReader.ChipIO", ChipIOPayload(bytes(apdu)), timeout)
        return response

    async def reset(
        self, to: ResetAction = ResetAction.AUTO, *, timeout: float | None = None
    ) -> None:
        await self._call("CardReader.Reset", ResetPayload(ResetAction(to)), timeout)

    async def retain_bin(self) -> RetainBin:
        result: RetainBin = await self._call("CardReader.GetRetainBin", Empty())
        return result

    async def empty_retain_bin(self, *, reason: str = "") -> None:
        await self._call("CardReader.EmptyRetainBin", EmptyRetainBinPayload(reason))

    async def stacker(self) -> CardStacker:
        result: CardStacker = await self._call("CardReader.GetStacker", Empty())
        return result

    async def load_stacker(self, count: int, *, reason: str = "") -> None:
        await self._call("CardReader.LoadStacker", LoadStackerPayload(count, reason))
