"""`RemotePinPad`: a `PinPad` served by another process, over ZeroMQ.

Every method is one command on the server's `PinPadService` (the queue, timeouts,
validation and events live there; the keys and the PIN stay in the device). The
results are the same typed values as in-process and the errors the same `HalError`
classes (`KeyNotFound`, `UseViolation`, `KcvMismatch`...), with the server's description.

The clear PIN never travels: a PIN entry's completion holds the digit count and its
key events no digit. Key components, enciphered keys, key blocks, data, MACs and the
PAN travel as blob frames, never in the JSON frames (see ``docs/remote.md``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

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
from hal.remote.interfaces import (
    PIN_PAD,
    ActivateKeyPayload,
    CryptoDataPayload,
    DataEntryPayload,
    Empty,
    GenerateKcvPayload,
    GenerateMacPayload,
    GenerateRandomPayload,
    GetPinBlockPayload,
    ImportKeyBlockPayload,
    ImportKeyComponentPayload,
    ImportKeyPayload,
    InterfaceSpec,
    KeyNamePayload,
    PinEntryPayload,
    VerifyMacPayload,
)
from hal.remote.proxy import RemoteDevice
from hal.remote.security import CurveClientKeys

__all__ = ["RemotePinPad"]


def _keys(keys: Iterable[str] | None) -> tuple[str, ...] | None:
    return None if keys is None else tuple(str(k) for k in keys)


class RemotePinPad(RemoteDevice[PinPadStatus, PinPadCapabilities], PinPad):
    """A PIN pad on a `hal.remote.server.RemoteServer`.

    Usually made by ``hal.open("zmq://HOST:PORT/pin_pad")``. Opening it joins (or
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

    spec: ClassVar[InterfaceSpec] = PIN_PAD

    def __init__(
        self,
        endpoint: str,
        device: str = "pin_pad",
        *,
        timeout: float = 5.0,
        heartbeat: float | None = None,
        curve: CurveClientKeys | None = None,
    ) -> None:
        super().__init__(endpoint, device, timeout=timeout, heartbeat=heartbeat, curve=curve)

    # --- keyboard ---------------------------------------------------------------------

    async def pin_entry(
        self,
        *,
        min_len: int = 4,
        max_len: int = 12,
        auto_end: bool = False,
        active_keys: Iterable[str] | None = None,
        terminate_keys: Iterable[str] = DEFAULT_TERMINATE_KEYS,
        timeout: float | None = None,
    ) -> PinEntryResult:
        payload = PinEntryPayload(
            min_len, max_len, auto_end, _keys(active_keys), tuple(str(k) for k in terminate_keys)
        )
        result: PinEntryResult = await self._call("Keyboard.PinEntry", payload, timeout)
        return result

    async def data_entry(
        self,
        *,
        max_len: int,
        auto_end: bool = False,
        active_keys: Iterable[str] | None = None,
        terminate_keys: Iterable[str] = DEFAULT_TERMINATE_KEYS,
        timeout: float | None = None,
    ) -> DataEntryResult:
        payload = DataEntryPayload(
            max_len, auto_end, _keys(active_keys), tuple(str(k) for k in terminate_keys)
        )
        result: DataEntryResult = await self._call("Keyboard.DataEntry", payload, timeout)
        return result

    # --- PIN blocks -------------------------------------------------------------------

    async def get_pin_block(
        self,
        key: str,
        *,
        format: PinFormat,
        customer_data: str = "",
        padding: int = 0x0F,
        timeout: float | None = None,
    ) -> PinBlock:
        payload = _pin_block_payload(key, format, customer_data, padding)
        result: PinBlock = await self._call("PinPad.GetPinBlock", payload, timeout)
        return result

    async def set_pin_block_data(
        self,
        key: str,
        *,
        format: PinFormat,
        customer_data: str = "",
        padding: int = 0x0F,
        timeout: float | None = None,
    ) -> None:
        payload = _pin_block_payload(key, format, customer_data, padding)
        await self._call("PinPad.SetPinBlockData", payload, timeout)

    # --- key management ---------------------------------------------------------------

    async def import_key_component(
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
        payload = ImportKeyComponentPayload(
            name,
            bytes(component),
            KeyAlgorithm(algorithm),
            bytes(kcv),
            KeyUsage(usage),
            ModeOfUse(mode_of_use),
        )
        detail: KeyDetail = await self._call("KeyManagement.ImportKeyComponent", payload, timeout)
        return detail

    async def activate_key(
        self, name: str, *, kcv: bytes, timeout: float | None = None
    ) -> KeyDetail:
        payload = ActivateKeyPayload(name, bytes(kcv))
        detail: KeyDetail = await self._call("KeyManagement.ActivateKey", payload, timeout)
        return detail

    async def import_key(
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
        payload = ImportKeyPayload(
            name,
            bytes(value),
            kek,
            KeyUsage(usage),
            KeyAlgorithm(algorithm),
            ModeOfUse(mode_of_use),
            bytes(kcv),
            bytes(ksn),
        )
        detail: KeyDetail = await self._call("KeyManagement.ImportKey", payload, timeout)
        return detail

    async def import_key_block(
        self, name: str, key_block: str, *, kbpk: str, timeout: float | None = None
    ) -> KeyDetail:
        # A TR-31 block is printable ASCII; anything else is refused by the pad as
        # malformed (InvalidData), so '?' in place of it changes no outcome.
        block = key_block.encode("ascii", errors="replace")
        payload = ImportKeyBlockPayload(name, block, kbpk)
        detail: KeyDetail = await self._call("KeyManagement.ImportKeyBlock", payload, timeout)
        return detail

    async def delete_key(self, name: str, *, timeout: float | None = None) -> None:
        await self._call("KeyManagement.DeleteKey", KeyNamePayload(name), timeout)

    async def key_detail(self, name: str, *, timeout: float | None = None) -> KeyDetail:
        detail: KeyDetail = await self._call(
            "KeyManagement.GetKeyDetail", KeyNamePayload(name), timeout
        )
        return detail

    async def keys(self, *, timeout: float | None = None) -> tuple[KeyDetail, ...]:
        details: tuple[KeyDetail, ...] = await self._call(
            "KeyManagement.ListKeys", Empty(), timeout
        )
        return details

    async def generate_kcv(
        self,
        name: str,
        *,
        method: KcvMethod = KcvMethod.LEGACY,
        timeout: float | None = None,
    ) -> bytes:
        payload = GenerateKcvPayload(name, KcvMethod(method))
        kcv: bytes = await self._call("KeyManagement.GenerateKCV", payload, timeout)
        return kcv

    async def initialize(self, *, timeout: float | None = None) -> None:
        await self._call("KeyManagement.Initialization", Empty(), timeout)

    # --- crypto -----------------------------------------------------------------------

    async def _crypt(
        self,
        use: ModeOfUse,
        key: str,
        data: bytes,
        mode: CipherMode,
        iv: bytes | None,
        timeout: float | None,
    ) -> bytes:
        payload = CryptoDataPayload(
            key, use, CipherMode(mode), bytes(data), None if iv is None else bytes(iv)
        )
        result: bytes = await self._call("Crypto.CryptoData", payload, timeout)
        return result

    async def encrypt(
        self,
        key: str,
        data: bytes,
        *,
        mode: CipherMode = CipherMode.ECB,
        iv: bytes | None = None,
        timeout: float | None = None,
    ) -> bytes:
        return await self._crypt(ModeOfUse.ENCRYPT, key, data, mode, iv, timeout)

    async def decrypt(
        self,
        key: str,
        data: bytes,
        *,
        mode: CipherMode = CipherMode.ECB,
        iv: bytes | None = None,
        timeout: float | None = None,
    ) -> bytes:
        return await self._crypt(ModeOfUse.DECRYPT, key, data, mode, iv, timeout)

    async def generate_mac(
        self,
        key: str,
        data: bytes,
        *,
        padding: int = 1,
        timeout: float | None = None,
    ) -> bytes:
        payload = GenerateMacPayload(key, bytes(data), padding)
        mac: bytes = await self._call("Crypto.GenerateAuthentication", payload, timeout)
        return mac

    async def verify_mac(
        self,
        key: str,
        data: bytes,
        mac: bytes,
        *,
        padding: int = 1,
        timeout: float | None = None,
    ) -> bool:
        payload = VerifyMacPayload(key, bytes(data), bytes(mac), padding)
        valid: bool = await self._call("Crypto.VerifyAuthentication", payload, timeout)
        return valid

    async def generate_random(self, length: int = 8, *, timeout: float | None = None) -> bytes:
        data: bytes = await self._call(
            "Crypto.GenerateRandom", GenerateRandomPayload(length), timeout
        )
        return data

    async def reset(self, *, timeout: float | None = None) -> None:
        await self._call("PinPad.Reset", Empty(), timeout)


def _pin_block_payload(
    key: str, format: PinFormat, customer_data: str, padding: int
) -> GetPinBlockPayload:
    """GetPinBlock's and SetPinBlockData's payload. The PAN travels as a blob; a str that
    is not ASCII cannot be a PAN (its bytes are replaced, and the server refuses them)."""
    return GetPinBlockPayload(
        key, PinFormat(format), customer_data.encode("ascii", errors="replace"), padding
    )
