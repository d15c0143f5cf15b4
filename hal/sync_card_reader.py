"""`SyncCardReader`: a `CardReader` for threads (see `hal.sync`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

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
from hal.sync_base import SyncDevice

__all__ = ["SyncCardReader"]


class SyncCardReader(SyncDevice[CardReaderStatus, CardReaderCapabilities]):
    """A `CardReader` for threads; each method forwards to the async one."""

    _device: CardReader

    def __init__(self, device: CardReader) -> None:
        super().__init__(device)

    def read_raw_data(self, tracks: Iterable[Track], *, timeout: float | None = None) -> ReadResult:
        """See `CardReader.read_raw_data`."""
        return self._call(self._device.read_raw_data, tracks, timeout=timeout)

    def write_raw_data(self, data: Mapping[Track, bytes], *, timeout: float | None = None) -> None:
        """See `CardReader.write_raw_data`."""
        self._call(self._device.write_raw_data, data, timeout=timeout)

    def move(
        self, to: MoveTarget, *, from_unit: str | None = None, timeout: float | None = None
    ) -> None:
        """See `CardReader.move`."""
        self._call(self._device.move, to, from_unit=from_unit, timeout=timeout)

    def chip_power(self, action: ChipPowerAction, *, timeout: float | None = None) -> bytes:
        """See `CardReader.chip_power`."""
        return self._call(self._device.chip_power, action, timeout=timeout)

    def chip_io(self, apdu: bytes, *, timeout: float | None = None) -> bytes:
        """See `CardReader.chip_io`."""
        return self._call(self._device.chip_io, apdu, timeout=timeout)

    def reset(self, to: ResetAction = ResetAction.AUTO, *, timeout: float | None = None) -> None:
        """See `CardReader.reset`."""
        self._call(self._device.reset, to, timeout=timeout)

    def retain_bin(self) -> RetainBin:
        """See `CardReader.retain_bin`."""
        return self._call(self._device.retain_bin)

    def stacker(self) -> CardStacker:
        """See `CardReader.stacker`."""
        return self._call(self._device.stacker)

    def load_stacker(self, count: int, *, reason: str = "") -> None:
        """See `CardReader.load_stacker`."""
        self._call(self._device.load_stacker, count, reason=reason)

    def empty_retain_bin(self, *, reason: str = "") -> None:
        """See `CardReader.empty_retain_bin`."""
        self._call(self._device.empty_retain_bin, reason=reason)
