"""`SyncPinPad`: a `PinPad` for threads (see `hal.sync`)."""

from __future__ import annotations

from collections.abc import Iterable

from hal.devices.pin_pad import (
    DEFAULT_TERMINATE_KEYS,
    CipherMode,
    DataEntryResult,
    KcvMethod,
    KeyAlgorithm,
    KeyDetail,
    KeyUsage,
    ModeOfUse,
    PinBlock,
    PinEntryResult,
    PinFormat,
    PinPad,
    PinPadCapabilities,
    PinPadStatus,
)
from hal.sync_base import SyncDevice

__all__ = ["SyncPinPad"]


class SyncPinPad(SyncDevice[PinPadStatus, PinPadCapabilities]):
    """A `PinPad` for threads; each method forwards to the async one."""

    _device: PinPad

    def __init__(self, device: PinPad) -> None:
        super().__init__(device)

    def pin_entry(
        self,
        *,
        min_len: int = 4,
        max_len: int = 12,
        auto_end: bool = False,
        active_keys: Iterable[str] | None = None,
        terminate_keys: Iterable[str] = DEFAULT_TERMINATE_KEYS,
        timeout: float | None = None,
    ) -> PinEntryResult:
        """See `PinPad.pin_entry`."""
        return self._call(
            self._device.pin_entry,
            min_len=min_len,
            max_len=max_len,
            auto_end=auto_end,
            active_keys=active_keys,
            terminate_keys=terminate_keys,
            timeout=timeout,
        )

    def data_entry(
        self,
        *,
        max_len: int,
        auto_end: bool = False,
        active_keys: Iterable[str] | None = None,
        terminate_keys: Iterable[str] = DEFAULT_TERMINATE_KEYS,
        timeout: float | None = None,
    ) -> DataEntryResult:
        """See `PinPad.data_entry`."""
        return self._call(
            self._device.data_entry,
            max_len=max_len,
            auto_end=auto_end,
            active_keys=active_keys,
            terminate_keys=terminate_keys,
            timeout=timeout,
        )

    def get_pin_block(
        self,
        key: str,
        *,
        format: PinFormat,
        customer_data: str = "",
        padding: int = 0x0F,
        timeout: float | None = None,
    ) -> PinBlock:
        """See `PinPad.get_pin_block`."""
        return self._call(
            self._device.get_pin_block,
            key,
            format=format,
            customer_data=customer_data,
            padding=padding,
            timeout=timeout,
        )

    def set_pin_block_data(
        self,
        key: str,
        *,
        format: PinFormat,
        customer_data: str = "",
        padding: int = 0x0F,
        timeout: float | None = None,
    ) -> None:
        """See `PinPad.set_pin_block_data`."""
        self._call(
            self._device.set_pin_block_data,
            key,
            format=format,
            customer_data=customer_data,
            padding=padding,
            timeout=timeout,
        )

    def import_key_component(
        self,
        name: str,
        component: bytes,
        *,
        algorithm: KeyAlgorithm,
        kcv: bytes,
        usage: KeyUsage = KeyUsage.KEK,
        mode_of_use: ModeOfUse = ModeOfUse.BOTH,
        timeout: float | None = None,
    ) -> KeyDetail:
        """See `PinPad.import_key_component`."""
        return self._call(
            self._device.import_key_component,
            name,
            component,
            algorithm=algorithm,
            kcv=kcv,
            usage=usage,
            mode_of_use=mode_of_use,
            timeout=timeout,
        )

    def activate_key(self, name: str, *, kcv: bytes, timeout: float | None = None) -> KeyDetail:
        """See `PinPad.activate_key`."""
        return self._call(self._device.activate_key, name, kcv=kcv, timeout=timeout)

    def import_key(
        self,
        name: str,
        value: bytes,
        *,
        kek: str,
        usage: KeyUsage,
        algorithm: KeyAlgorithm,
        mode_of_use: ModeOfUse,
        kcv: bytes,
        ksn: bytes = b"",
        timeout: float | None = None,
    ) -> KeyDetail:
        """See `PinPad.import_key`."""
        return self._call(
            self._device.import_key,
            name,
            value,
            kek=kek,
            usage=usage,
            algorithm=algorithm,
            mode_of_use=mode_of_use,
            kcv=kcv,
            ksn=ksn,
            timeout=timeout,
        )

    def import_key_block(
        self, name: str, key_block: str, *, kbpk: str, timeout: float | None = None
    ) -> KeyDetail:
        """See `PinPad.import_key_block`."""
        return self._call(
            self._device.import_key_block, name, key_block, kbpk=kbpk, timeout=timeout
        )

    def delete_key(self, name: str, *, timeout: float | None = None) -> None:
        """See `PinPad.delete_key`."""
        self._call(self._device.delete_key, name, timeout=timeout)

    def key_detail(self, name: str, *, timeout: float | None = None) -> KeyDetail:
        """See `PinPad.key_detail`."""
        return self._call(self._device.key_detail, name, timeout=timeout)

    def keys(self, *, timeout: float | None = None) -> tuple[KeyDetail, ...]:
        """See `PinPad.keys`."""
        return self._call(self._device.keys, timeout=timeout)

    def generate_kcv(
        self,
        name: str,
        *,
        method: KcvMethod = KcvMethod.LEGACY,
        timeout: float | None = None,
    ) -> bytes:
        """See `PinPad.generate_kcv`."""
        return self._call(self._device.generate_kcv, name, method=method, timeout=timeout)

    def initialize(self, *, timeout: float | None = None) -> None:
        """See `PinPad.initialize`."""
        self._call(self._device.initialize, timeout=timeout)

    def encrypt(
        self,
        key: str,
        data: bytes,
        *,
        mode: CipherMode = CipherMode.ECB,
        iv: bytes | None = None,
        timeout: float | None = None,
    ) -> bytes:
        """See `PinPad.encrypt`."""
        return self._call(self._device.encrypt, key, data, mode=mode, iv=iv, timeout=timeout)

    def decrypt(
        self,
        key: str,
        data: bytes,
        *,
        mode: CipherMode = CipherMode.ECB,
        iv: bytes | None = None,
        timeout: float | None = None,
    ) -> bytes:
        """See `PinPad.decrypt`."""
        return self._call(self._device.decrypt, key, data, mode=mode, iv=iv, timeout=timeout)

    def generate_mac(
        self,
        key: str,
        data: bytes,
        *,
        padding: int = 1,
        timeout: float | None = None,
    ) -> bytes:
        """See `PinPad.generate_mac`."""
        return self._call(self._device.generate_mac, key, data, padding=padding, timeout=timeout)

    def verify_mac(
        self,
        key: str,
        data: bytes,
        mac: bytes,
        *,
        padding: int = 1,
        timeout: float | None = None,
    ) -> bool:
        """See `PinPad.verify_mac`."""
        return self._call(self._device.verify_mac, key, data, mac, padding=padding, timeout=timeout)

    def generate_random(self, length: int = 8, *, timeout: float | None = None) -> bytes:
        """See `PinPad.generate_random`."""
        return self._call(self._device.generate_random, length, timeout=timeout)

    def reset(self, *, timeout: float | None = None) -> None:
        """See `PinPad.reset`."""
        self._call(self._device.reset, timeout=timeout)
