"""The PinPad over the remote: its payloads, completions and `PIN_PAD`.

XFS4IoT Keyboard, PinPad, KeyManagement and Crypto, served as one device. Every byte
value (key components, enciphered keys, TR-31 key blocks, data, MACs, PIN blocks,
KSNs, KCVs) travels as a blob, and so does the PAN given to GetPinBlock: none of it
is ever in a JSON frame, the frames people log, and the reprs below show lengths.
XFS4IoT loads a key component with ImportKey{constructing: true}; here a component is
KeyManagement.ImportKeyComponent and the combination KeyManagement.ActivateKey, one
command per method. KeyManagement.ListKeys is ours (XFS4IoT's GetKeyDetail without
a key name).

Every name here is also importable from `hal.remote.interfaces`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from hal.devices.pin_pad import (
    CipherMode,
    DataEntryResult,
    EnterData,
    IllegalKeyAccess,
    Initialized,
    KcvMethod,
    KeyAlgorithm,
    KeyDetail,
    KeyEvent,
    KeyUsage,
    ModeOfUse,
    PinBlock,
    PinEntryResult,
    PinFormat,
    PinPadCapabilities,
    PinPadStatus,
)
from hal.remote.interfaces import Command, build_interface, size_only

__all__ = [
    "PIN_PAD",
    "ActivateKeyPayload",
    "CryptoDataCompletion",
    "CryptoDataPayload",
    "DataEntryPayload",
    "GenerateKcvPayload",
    "GenerateMacPayload",
    "GenerateRandomPayload",
    "GetPinBlockPayload",
    "ImportKeyBlockPayload",
    "ImportKeyComponentPayload",
    "ImportKeyPayload",
    "KcvCompletion",
    "KeyListCompletion",
    "KeyNamePayload",
    "MacCompletion",
    "PinEntryPayload",
    "RandomCompletion",
    "VerifyMacCompletion",
    "VerifyMacPayload",
]


def _ascii(data: bytes, what: str) -> None:
    # The value is not named in the message: it is a PAN or a key block.
    if not data.isascii():
        raise ValueError(f"{what} must be ASCII text")


@dataclass(frozen=True)
class PinEntryPayload:
    """``Keyboard.PinEntry``: the entry's rules (``activeKeys`` null: every key)."""

    min_len: int
    max_len: int
    auto_end: bool
    active_keys: tuple[str, ...] | None
    terminate_keys: tuple[str, ...]


@dataclass(frozen=True)
class DataEntryPayload:
    """``Keyboard.DataEntry``: a clear entry's rules."""

    max_len: int
    auto_end: bool
    active_keys: tuple[str, ...] | None
    terminate_keys: tuple[str, ...]


@dataclass(frozen=True, repr=False)
class GetPinBlockPayload:
    """``PinPad.GetPinBlock`` and ``PinPad.SetPinBlockData``: the key, the format, and
    the PAN (a blob of ASCII digits, never printed)."""

    key: str
    format: PinFormat
    customer_data: bytes
    padding: int

    def __post_init__(self) -> None:
        _ascii(self.customer_data, "customerData")

    def __repr__(self) -> str:
        return (
            f"GetPinBlockPayload(key={self.key!r}, format={PinFormat(self.format).value!r}, "
            f"customer_data={size_only(self.customer_data)}, padding={self.padding})"
        )


def _pin_block_arguments(payload: GetPinBlockPayload) -> dict[str, Any]:
    return {
        "key": payload.key,
        "format": payload.format,
        "customer_data": payload.customer_data.decode("ascii"),
        "padding": payload.padding,
    }


def _get_pin_block(payload: GetPinBlockPayload) -> tuple[str, dict[str, Any]]:
    return "get_pin_block", _pin_block_arguments(payload)


def _set_pin_block_data(payload: GetPinBlockPayload) -> tuple[str, dict[str, Any]]:
    return "set_pin_block_data", _pin_block_arguments(payload)


@dataclass(frozen=True, repr=False)
class ImportKeyComponentPayload:
    """``KeyManagement.ImportKeyComponent``: one clear component (never printed)."""

    name: str
    component: bytes
    algorithm: KeyAlgorithm
    kcv: bytes
    usage: KeyUsage
    mode_of_use: ModeOfUse

    def __repr__(self) -> str:
        return (
            f"ImportKeyComponentPayload(name={self.name!r}, component={size_only(self.component)}, "
            f"algorithm={KeyAlgorithm(self.algorithm).value!r}, kcv={size_only(self.kcv)}, "
            f"usage={KeyUsage(self.usage).value!r}, "
            f"mode_of_use={ModeOfUse(self.mode_of_use).value!r})"
        )


@dataclass(frozen=True, repr=False)
class ActivateKeyPayload:
    """``KeyManagement.ActivateKey``: combine the components of ``name``."""

    name: str
    kcv: bytes

    def __repr__(self) -> str:
        return f"ActivateKeyPayload(name={self.name!r}, kcv={size_only(self.kcv)})"


@dataclass(frozen=True, repr=False)
class ImportKeyPayload:
    """``KeyManagement.ImportKey``: a key enciphered under ``kek`` (never printed)."""

    name: str
    value: bytes
    kek: str
    usage: KeyUsage
    algorithm: KeyAlgorithm
    mode_of_use: ModeOfUse
    kcv: bytes
    ksn: bytes

    def __repr__(self) -> str:
        return (
            f"ImportKeyPayload(name={self.name!r}, value={size_only(self.value)}, "
            f"kek={self.kek!r}, usage={KeyUsage(self.usage).value!r}, "
            f"algorithm={KeyAlgorithm(self.algorithm).value!r}, "
            f"mode_of_use={ModeOfUse(self.mode_of_use).value!r}, kcv={size_only(self.kcv)}, "
            f"ksn={size_only(self.ksn)})"
        )


@dataclass(frozen=True, repr=False)
class ImportKeyBlockPayload:
    """``KeyManagement.ImportKeyBlock``: a TR-31 key block (ASCII, as a blob; never
    printed) and the key block protection key."""

    name: str
    key_block: bytes
    kbpk: str

    def __post_init__(self) -> None:
        _ascii(self.key_block, "keyBlock")

    def __repr__(self) -> str:
        return (
            f"ImportKeyBlockPayload(name={self.name!r}, key_block={size_only(self.key_block)}, "
            f"kbpk={self.kbpk!r})"
        )


def _import_key_block(payload: ImportKeyBlockPayload) -> tuple[str, dict[str, Any]]:
    return "import_key_block", {
        "name": payload.name,
        "key_block": payload.key_block.decode("ascii"),
        "kbpk": payload.kbpk,
    }


@dataclass(frozen=True)
class KeyNamePayload:
    """``KeyManagement.DeleteKey`` and ``KeyManagement.GetKeyDetail``: the key's name."""

    name: str


@dataclass(frozen=True)
class KeyListCompletion:
    """``KeyManagement.ListKeys``: every key, sorted by name."""

    keys: tuple[KeyDetail, ...]


@dataclass(frozen=True)
class GenerateKcvPayload:
    """``KeyManagement.GenerateKCV``."""

    name: str
    method: KcvMethod


@dataclass(frozen=True, repr=False)
class KcvCompletion:
    """The check value."""

    kcv: bytes

    def __repr__(self) -> str:
        return f"KcvCompletion(kcv={size_only(self.kcv)})"


@dataclass(frozen=True, repr=False)
class CryptoDataPayload:
    """``Crypto.CryptoData``: encipher (``modeOfUse`` ``E``) or decipher (``D``) ``data``
    under ``key`` with ``cryptoMethod`` (``ecb``, ``cbc``); data never printed."""

    key: str
    mode_of_use: ModeOfUse
    crypto_method: CipherMode
    data: bytes
    iv: bytes | None

    def __post_init__(self) -> None:
        if self.mode_of_use not in (ModeOfUse.ENCRYPT, ModeOfUse.DECRYPT):
            raise ValueError("modeOfUse is 'E' (encrypt) or 'D' (decrypt)")

    def __repr__(self) -> str:
        iv = "None" if self.iv is None else size_only(self.iv)
        return (
            f"CryptoDataPayload(key={self.key!r}, "
            f"mode_of_use={ModeOfUse(self.mode_of_use).value!r}, "
            f"crypto_method={CipherMode(self.crypto_method).value!r}, "
            f"data={size_only(self.data)}, iv={iv})"
        )


def _crypto_data(payload: CryptoDataPayload) -> tuple[str, dict[str, Any]]:
    method = "encrypt" if payload.mode_of_use == ModeOfUse.ENCRYPT else "decrypt"
    return method, {
        "key": payload.key,
        "data": payload.data,
        "mode": payload.crypto_method,
        "iv": payload.iv,
    }


@dataclass(frozen=True, repr=False)
class CryptoDataCompletion:
    """The enciphered or deciphered data (never printed)."""

    data: bytes

    def __repr__(self) -> str:
        return f"CryptoDataCompletion(data={size_only(self.data)})"


@dataclass(frozen=True, repr=False)
class GenerateMacPayload:
    """``Crypto.GenerateAuthentication``: the MAC of ``data`` under ``key`` (the key's
    usage picks the algorithm; ``padding`` is the ISO/IEC 9797-1 method)."""

    key: str
    data: bytes
    padding: int

    def __repr__(self) -> str:
        return (
            f"GenerateMacPayload(key={self.key!r}, data={size_only(self.data)}, "
            f"padding={self.padding})"
        )


@dataclass(frozen=True, repr=False)
class MacCompletion:
    """The MAC."""

    mac: bytes

    def __repr__(self) -> str:
        return f"MacCompletion(mac={size_only(self.mac)})"


@dataclass(frozen=True, repr=False)
class VerifyMacPayload:
    """``Crypto.VerifyAuthentication``: whether ``mac`` is the MAC of ``data``."""

    key: str
    data: bytes
    mac: bytes
    padding: int

    def __repr__(self) -> str:
        return (
            f"VerifyMacPayload(key={self.key!r}, data={size_only(self.data)}, "
            f"mac={size_only(self.mac)}, padding={self.padding})"
        )


@dataclass(frozen=True)
class VerifyMacCompletion:
    """Whether the MAC verified (XFS4IoT fails with ``macInvalid``; ours answers)."""

    valid: bool


@dataclass(frozen=True)
class GenerateRandomPayload:
    """``Crypto.GenerateRandom``: how many bytes."""

    length: int


@dataclass(frozen=True, repr=False)
class RandomCompletion:
    """The random bytes (they may become a nonce or a key: never printed)."""

    data: bytes

    def __repr__(self) -> str:
        return f"RandomCompletion(data={size_only(self.data)})"


PIN_PAD: Final = build_interface(
    "PinPad",
    PinPadStatus,
    PinPadCapabilities,
    (
        Command("Keyboard.PinEntry", "pin_entry", PinEntryPayload, PinEntryResult),
        Command("Keyboard.DataEntry", "data_entry", DataEntryPayload, DataEntryResult),
        Command(
            "PinPad.GetPinBlock",
            "get_pin_block",
            GetPinBlockPayload,
            PinBlock,
            route=_get_pin_block,
        ),
        Command(
            "PinPad.SetPinBlockData",
            "set_pin_block_data",
            GetPinBlockPayload,
            route=_set_pin_block_data,
        ),
        Command(
            "KeyManagement.ImportKeyComponent",
            "import_key_component",
            ImportKeyComponentPayload,
            KeyDetail,
        ),
        Command("KeyManagement.ActivateKey", "activate_key", ActivateKeyPayload, KeyDetail),
        Command("KeyManagement.ImportKey", "import_key", ImportKeyPayload, KeyDetail),
        Command(
            "KeyManagement.ImportKeyBlock",
            "import_key_block",
            ImportKeyBlockPayload,
            KeyDetail,
            route=_import_key_block,
        ),
        Command("KeyManagement.DeleteKey", "delete_key", KeyNamePayload),
        Command("KeyManagement.GetKeyDetail", "key_detail", KeyNamePayload, KeyDetail),
        Command(
            "KeyManagement.ListKeys", "keys", completion=KeyListCompletion, result_field="keys"
        ),
        Command(
            "KeyManagement.GenerateKCV", "generate_kcv", GenerateKcvPayload, KcvCompletion, "kcv"
        ),
        Command("KeyManagement.Initialization", "initialize"),
        Command(
            "Crypto.CryptoData",
            "encrypt",
            CryptoDataPayload,
            CryptoDataCompletion,
            "data",
            route=_crypto_data,
        ),
        Command(
            "Crypto.GenerateAuthentication",
            "generate_mac",
            GenerateMacPayload,
            MacCompletion,
            "mac",
        ),
        Command(
            "Crypto.VerifyAuthentication",
            "verify_mac",
            VerifyMacPayload,
            VerifyMacCompletion,
            "valid",
        ),
        Command(
            "Crypto.GenerateRandom",
            "generate_random",
            GenerateRandomPayload,
            RandomCompletion,
            "data",
        ),
        Command("PinPad.Reset", "reset"),
    ),
    (EnterData, KeyEvent, IllegalKeyAccess, Initialized),
)
