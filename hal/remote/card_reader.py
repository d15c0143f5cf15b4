"""`RemoteCardReader`: a `CardReader` served by another process, over ZeroMQ.

Every method is one command on the server's `CardReaderService` (the queue, timeouts,
ledger and events live there); the results are the same typed values as in-process
and the errors the same `HalError` classes, with the server's description.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import ClassVar

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
from hal.remote.interfaces import (
    CARD_READER,
    ChipIOPayload,
    ChipPowerPayload,
    Empty,
    EmptyRetainBinPayload,
    InterfaceSpec,
    LoadStackerPayload,
    MovePayload,
    ReadRawDataPayload,
    ResetPayload,
    WriteRawDataPayload,
)
from hal.remote.proxy import RemoteDevice
from hal.remote.security import CurveClientKeys

__all__ = ["RemoteCardReader"]


class RemoteCardReader(RemoteDevice[CardReaderStatus, CardReaderCapabilities], CardReader):
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

    spec: ClassVar[InterfaceSpec] = CARD_READER

    def __init__(
        self,
        endpoint: str,
        device: str = "card_reader",
        *,
        timeout: float = 5.0,
        heartbeat: float | None = None,
        curve: CurveClientKeys | None = None,
    ) -> None:
        super().__init__(endpoint, device, timeout=timeout, heartbeat=heartbeat, curve=curve)

    # --- CardReader ----------------------------------------------------------------------

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
