"""The PIN pad's data model: keys, entries, PIN blocks, status and capabilities.

Names follow XFS4IoT Keyboard, PinPad, KeyManagement and Crypto. Key usages and modes
of use are the TR-31 codes XFS4IoT uses (``P0``, ``K0``, ``M1``...). Nothing here
holds a clear PIN or a key value: a `KeyDetail` carries the key's check value, which
identifies a key without revealing it; a `PinBlock` is enciphered and prints as its
length only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from hal.device import DeviceState
from protocols.crypto_primitives import Algorithm as KeyAlgorithm
from protocols.kcv import KcvMethod

__all__ = [
    "DIGIT_KEYS",
    "FEATURES",
    "FUNCTION_KEYS",
    "KEY_CHARACTERS",
    "MAC_USAGES",
    "CipherMode",
    "DataEntryResult",
    "EncryptionState",
    "EntryCompletion",
    "EntrySpec",
    "KcvMethod",
    "KeyAlgorithm",
    "KeyAttributes",
    "KeyDetail",
    "KeyState",
    "KeyUsage",
    "ModeOfUse",
    "PinBlock",
    "PinEntryResult",
    "PinFormat",
    "PinPadCapabilities",
    "PinPadStatus",
    "check_key_name",
    "key_strength",
    "key_weakness",
]

#: The ten digit keys, by XFS4IoT name, in digit order.
DIGIT_KEYS: tuple[str, ...] = (
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
)

#: Function keys a keyboard may have besides the digits (``fdk01``...: side keys).
FUNCTION_KEYS: tuple[str, ...] = (
    "enter",
    "cancel",
    "clear",
    "backspace",
    "help",
    "decPoint",
    "doubleZero",
    *(f"fdk{n:02d}" for n in range(1, 9)),
)

#: What a data entry records for each key that adds to the data.
KEY_CHARACTERS: dict[str, str] = {
    **{name: str(digit) for digit, name in enumerate(DIGIT_KEYS)},
    "decPoint": ".",
    "doubleZero": "00",
}

#: The PinPad capability features, see `PinPadCapabilities.features`.
FEATURES = frozenset(
    {
        "pin",
        "data_entry",
        "kek_components",
        "encrypted_keys",
        "tr31",
        "delete_key",
        "encrypt",
        "mac",
        "random",
        "dukpt_tdes",
        "dukpt_aes",
        "aes",
        "sm4",
    }
)

_KEY_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def check_key_name(name: object) -> str:
    """Return ``name`` if it is a valid key name (1-64 letters, digits, ``_.-``).

    Raises:
        ValueError: it is not (the service turns this into `InvalidData`).
    """
    if isinstance(name, str) and _KEY_NAME.match(name):
        return name
    # Never quote what came: a non-str may be a key's bytes passed by mistake, and an
    # over-long string may be a key in hex.
    got = f"{len(name)} characters" if isinstance(name, str) else f"a {type(name).__name__}"
    raise ValueError(f"a key name is 1-64 letters, digits, '_', '.' or '-'; got {got}")


def key_weakness(algorithm: KeyAlgorithm, value: bytes | bytearray) -> str | None:
    """Why ``value`` is no key a PIN pad takes, or ``None``; the reason names no bytes.

    Refused: a key (or component) of all zeros, and a TDES key two of whose DES keys are
    equal (``K1 == K2``; for 24 bytes also ``K2 == K3`` or ``K1 == K3``): single-DES
    strength. DES parity bits (the low bit of each byte) are ignored, as DES ignores them.
    """
    canonical = bytes(b & 0xFE for b in value)
    if not any(canonical):
        return "it is all zeros"
    if algorithm is KeyAlgorithm.TDES and len(canonical) in (16, 24):
        k1, k2, k3 = canonical[:8], canonical[8:16], canonical[16:]
        if k1 == k2 or (k3 and (k2 == k3 or k1 == k3)):
            return "two of its DES keys are equal (single-DES strength)"
    return None


def key_strength(algorithm: KeyAlgorithm, length: int) -> int:
    """The rank of a key's strength, for the rule that no key is protected by a weaker
    one: TDES 16 bytes (1) < TDES 24 (2) < AES-128 = SM4 (3) < AES-192 (4) < AES-256
    (5); 0 for single DES (8-byte TDES), which no key may be protected by.
    """
    if algorithm is KeyAlgorithm.TDES:
        return {16: 1, 24: 2}.get(length, 0)
    if algorithm is KeyAlgorithm.SM4:
        return 3
    return {16: 3, 24: 4, 32: 5}.get(length, 0)


class KeyUsage(StrEnum):
    """What a key may be used for (the TR-31 key usage codes XFS4IoT uses)."""

    INITIAL_DUKPT = "B1"  # an initial DUKPT key (IPEK or AES initial key)
    DATA = "D0"  # symmetric data encryption
    KEK = "K0"  # key encryption (wraps keys loaded later)
    KBPK = "K1"  # TR-31 key block protection key
    MAC_ISO9797_1 = "M1"  # ISO/IEC 9797-1 MAC algorithm 1 (CBC-MAC; with SM4: SM4 MAC)
    MAC_ISO9797_3 = "M3"  # ISO/IEC 9797-1 MAC algorithm 3 (ANSI X9.19 retail MAC)
    MAC_CMAC = "M6"  # ISO/IEC 9797-1:2011 MAC algorithm 5 (CMAC)
    PIN = "P0"  # PIN encryption


#: Usages that make MACs.
MAC_USAGES = frozenset({KeyUsage.MAC_ISO9797_1, KeyUsage.MAC_ISO9797_3, KeyUsage.MAC_CMAC})


class ModeOfUse(StrEnum):
    """How a key may be used (TR-31 mode of use)."""

    ENCRYPT = "E"
    DECRYPT = "D"
    BOTH = "B"  # encrypt and decrypt (wrap and unwrap)
    GENERATE_VERIFY = "C"  # MAC generate and verify
    GENERATE = "G"
    VERIFY = "V"
    DERIVE = "X"
    NONE = "N"


class KeyState(StrEnum):
    """Whether a key can be used."""

    LOADED = "loaded"
    CONSTRUCTING = "constructing"  # clear components arriving; not usable yet


class CipherMode(StrEnum):
    """Block cipher modes of ``encrypt``/``decrypt``."""

    ECB = "ecb"
    CBC = "cbc"


class PinFormat(StrEnum):
    """PIN block formats, spelled as XFS4IoT ``GetPinBlock.format``."""

    ISO0 = "iso0"  # ISO 9564-1 format 0 (ANSI X9.8)
    ISO1 = "iso1"
    ISO3 = "iso3"
    ISO4 = "iso4"  # AES, 16 bytes
    IBM3624 = "ibm3624"


class EntryCompletion(StrEnum):
    """Why a key event or an entry ended (XFS4IoT ``completion``)."""

    AUTO = "auto"
    ENTER = "enter"
    CANCEL = "cancel"
    CONTINUE = "continue"
    CLEAR = "clear"
    BACKSPACE = "backspace"
    FDK = "fdk"
    HELP = "help"
    FK = "fk"


class EncryptionState(StrEnum):
    """XFS4IoT KeyManagement ``encryptionState``."""

    READY = "ready"
    NOT_READY = "notReady"
    NOT_INITIALIZED = "notInitialized"
    BUSY = "busy"
    UNDEFINED = "undefined"
    INITIALIZED = "initialized"


@dataclass(frozen=True)
class KeyAttributes:
    """What a key is for: usage, algorithm and mode of use."""

    usage: KeyUsage
    algorithm: KeyAlgorithm
    mode_of_use: ModeOfUse


@dataclass(frozen=True)
class KeyDetail:
    """A loaded key as the PIN pad describes it (XFS4IoT ``GetKeyDetail``).

    Attributes:
        name: the key's name.
        usage, algorithm, mode_of_use: what it is for.
        length: its length in bytes.
        kcv: its legacy check value (3 bytes for TDES and AES, 4 for SM4); empty while
            constructing. A check value identifies a key without revealing it.
        state: loaded, or still constructing from clear components.
        components: clear components loaded so far (0 for a key loaded another way).
        version: the TR-31 key version (``"00"``: none).
        ksn: a DUKPT key's key serial number for the next transaction; empty otherwise.
    """

    name: str
    usage: KeyUsage
    algorithm: KeyAlgorithm
    mode_of_use: ModeOfUse
    length: int
    kcv: bytes = b""
    state: KeyState = KeyState.LOADED
    components: int = 0
    version: str = "00"
    ksn: bytes = b""

    @property
    def attributes(self) -> KeyAttributes:
        """Its usage, algorithm and mode of use."""
        return KeyAttributes(self.usage, self.algorithm, self.mode_of_use)


@dataclass(frozen=True)
class EntrySpec:
    """An entry's rules, as the service validated them.

    Attributes:
        min_len: digits needed before a terminate key other than cancel ends the entry.
        max_len: digits the entry takes; more are ignored.
        auto_end: end (completion ``auto``) when ``max_len`` digits are in.
        active_keys: keys the entry reacts to; others are ignored.
        terminate_keys: keys that end the entry (a subset of ``active_keys``).
    """

    min_len: int
    max_len: int
    auto_end: bool
    active_keys: frozenset[str]
    terminate_keys: frozenset[str]


@dataclass(frozen=True)
class PinEntryResult:
    """How a PIN entry ended (XFS4IoT ``PinEntry`` completion): never the PIN.

    Attributes:
        digits: how many digits the customer entered (0 after cancel).
        completion: why it ended.
        key: the key that ended it (``enter``, ``cancel``, ``fdk01``...); ``""`` for
            ``auto``.
    """

    digits: int
    completion: EntryCompletion
    key: str = ""


@dataclass(frozen=True)
class DataEntryResult:
    """How a clear data entry ended (amounts, menu choices; never a PIN).

    Attributes:
        data: the characters entered (digits, ``.``, ``00``).
        completion: why it ended.
        key: the key that ended it; ``""`` for ``auto``.
    """

    data: str
    completion: EntryCompletion
    key: str = ""


@dataclass(frozen=True, repr=False)
class PinBlock:
    """An enciphered PIN block (XFS4IoT ``GetPinBlock`` completion).

    Attributes:
        block: the enciphered block (8 bytes, 16 for ISO format 4).
        format: its format.
        ksn: the DUKPT key serial number it was made under; empty for a fixed key.
    """

    block: bytes
    format: PinFormat
    ksn: bytes = b""

    def __repr__(self) -> str:
        ksn = f", ksn={self.ksn.hex().upper()}" if self.ksn else ""
        return f"PinBlock(format={self.format.value!r}, block=<{len(self.block)} bytes>{ksn})"


@dataclass(frozen=True)
class PinPadStatus:
    """The PIN pad's status (XFS4IoT common + KeyManagement status).

    Attributes:
        device: the common device state.
        encryption_state: whether keys are loaded and usable.
        keys: keys loaded (constructing ones included).
    """

    device: DeviceState = DeviceState.ONLINE
    encryption_state: EncryptionState = EncryptionState.NOT_INITIALIZED
    keys: int = 0


@dataclass(frozen=True)
class PinPadCapabilities:
    """What the PIN pad can do.

    Attributes:
        keys: the keyboard's keys (`DIGIT_KEYS` and names from `FUNCTION_KEYS`).
        pin_formats: PIN block formats ``get_pin_block`` makes.
        algorithms: key algorithms it stores.
        usages: key usages it accepts.
        cipher_modes: modes of ``encrypt``/``decrypt``; empty: no data encryption.
        dukpt: algorithms of the DUKPT keys it derives from (TDES, AES); empty: none.
        key_components: it takes a first KEK as clear components (dual control).
        min_components: the fewest components a key is built from.
        encrypted_keys: it takes keys enciphered under a KEK.
        tr31: it takes TR-31 key blocks.
        delete_key: it deletes a single key.
        random: it generates random numbers.
        data_entry: its keyboard does clear data entry.
        max_keys: how many keys it holds.
        pin_max: the longest PIN it takes.
        pin_block_data_first: the pad needs ``set_pin_block_data`` before a PIN entry
            (XFS4IoT ``setPinblockDataRequired``): it formats the block as entry starts.
        firmware: the firmware version it reports (``""`` when it tells none).
    """

    keys: frozenset[str] = frozenset(
        {*DIGIT_KEYS, "enter", "cancel", "clear", "backspace", "decPoint", "doubleZero"}
    )
    pin_formats: frozenset[PinFormat] = frozenset(
        {PinFormat.ISO0, PinFormat.ISO1, PinFormat.ISO3, PinFormat.ISO4}
    )
    algorithms: frozenset[KeyAlgorithm] = frozenset(KeyAlgorithm)
    usages: frozenset[KeyUsage] = frozenset(KeyUsage)
    cipher_modes: frozenset[CipherMode] = frozenset(CipherMode)
    dukpt: frozenset[KeyAlgorithm] = frozenset({KeyAlgorithm.TDES, KeyAlgorithm.AES})
    key_components: bool = True
    min_components: int = 2
    encrypted_keys: bool = True
    tr31: bool = True
    delete_key: bool = True
    random: bool = True
    data_entry: bool = True
    max_keys: int = 64
    pin_max: int = 12
    pin_block_data_first: bool = False
    firmware: str = ""

    def features(self) -> frozenset[str]:
        """The capability features the PIN pad has, named as in `FEATURES`."""
        have = {
            "pin": bool(self.pin_formats) and set(DIGIT_KEYS) <= self.keys,
            "data_entry": self.data_entry,
            "kek_components": self.key_components,
            "encrypted_keys": self.encrypted_keys,
            "tr31": self.tr31,
            "delete_key": self.delete_key,
            "encrypt": bool(self.cipher_modes) and KeyUsage.DATA in self.usages,
            "mac": bool(MAC_USAGES & self.usages),
            "random": self.random,
            "dukpt_tdes": KeyAlgorithm.TDES in self.dukpt,
            "dukpt_aes": KeyAlgorithm.AES in self.dukpt,
            "aes": KeyAlgorithm.AES in self.algorithms,
            "sm4": KeyAlgorithm.SM4 in self.algorithms,
        }
        return frozenset(name for name, present in have.items() if present)
