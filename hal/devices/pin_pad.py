"""The encrypting PIN pad: public interface, events and backend contract (and,
re-exported from `hal.devices.pin_pad_model`, its data model).

One device class covers XFS4IoT Keyboard (PIN and data entry), PinPad (PIN blocks),
KeyManagement (loading and describing keys) and Crypto (encryption, MACs, random).
Apps program against `PinPad`; drivers and simulator models implement `PinPadBackend`;
`hal.devices.pin_pad_service.PinPadService` joins the two.

The clear PIN never crosses this interface: a PIN entry returns how many digits were
typed, its key events carry no digit, and only enciphered PIN blocks come out. Keys go
in enciphered under a key-encryption key (with their check value), as TR-31 key blocks,
or, for the first key-encryption key only, as clear components under dual control;
no key value ever comes out.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import ClassVar, Protocol

from hal.device import BackendListener, Device, DeviceState
from hal.devices.pin_pad_model import (
    DIGIT_KEYS,
    FEATURES,
    FUNCTION_KEYS,
    KEY_CHARACTERS,
    MAC_USAGES,
    CipherMode,
    DataEntryResult,
    EncryptionState,
    EntryCompletion,
    EntrySpec,
    KcvMethod,
    KeyAlgorithm,
    KeyAttributes,
    KeyDetail,
    KeyState,
    KeyUsage,
    ModeOfUse,
    PinBlock,
    PinEntryResult,
    PinFormat,
    PinPadCapabilities,
    PinPadStatus,
    check_key_name,
)
from hal.events import Event

__all__ = [
    "DEFAULT_TERMINATE_KEYS",
    "DIGIT_KEYS",
    "FEATURES",
    "FUNCTION_KEYS",
    "KEY_CHARACTERS",
    "MAC_USAGES",
    "CipherMode",
    "DataEntryResult",
    "DeviceState",
    "EncryptionState",
    "EnterData",
    "EntryCompletion",
    "EntrySpec",
    "IllegalKeyAccess",
    "Initialized",
    "KcvMethod",
    "KeyAlgorithm",
    "KeyAttributes",
    "KeyDetail",
    "KeyEvent",
    "KeyState",
    "KeyUsage",
    "ModeOfUse",
    "PinBlock",
    "PinEntryResult",
    "PinFormat",
    "PinPad",
    "PinPadBackend",
    "PinPadCapabilities",
    "PinPadStatus",
    "check_key_name",
]

#: The keys that end an entry when the caller names none.
DEFAULT_TERMINATE_KEYS: tuple[str, ...] = ("enter", "cancel")


# --- events ----------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class EnterData(Event):
    """The keyboard is ready: the customer may type (XFS4IoT ``EnterDataEvent``)."""

    xfs_name: ClassVar[str] = "Keyboard.EnterDataEvent"


@dataclass(frozen=True, kw_only=True)
class KeyEvent(Event):
    """A key was pressed during an entry (XFS4IoT ``Keyboard.KeyEvent``).

    Attributes:
        completion: ``continue`` for a key that adds to the entry, else what the key
            did (``enter``, ``cancel``, ``clear``, ``backspace``, ``fdk``, ``auto``...).
        digit: the key's name (``five``, ``enter``, ``fdk01``); ``None`` for a digit
            key during a PIN entry: the PIN never leaves the device, not even key by key.
    """

    xfs_name: ClassVar[str] = "Keyboard.KeyEvent"
    completion: EntryCompletion = EntryCompletion.CONTINUE
    digit: str | None = None


@dataclass(frozen=True, kw_only=True)
class IllegalKeyAccess(Event):
    """A command tried to use a key it may not use (XFS4IoT ``IllegalKeyAccessEvent``).

    Attributes:
        key_name: the key's name.
        error_code: ``keyNotFound``, ``keyNoValue``, ``useViolation``...
    """

    xfs_name: ClassVar[str] = "KeyManagement.IllegalKeyAccessEvent"
    unsolicited: ClassVar[bool] = True
    key_name: str = ""
    error_code: str = ""


@dataclass(frozen=True, kw_only=True)
class Initialized(Event):
    """Every key was erased (XFS4IoT ``KeyManagement.InitializedEvent``)."""

    xfs_name: ClassVar[str] = "KeyManagement.InitializedEvent"
    unsolicited: ClassVar[bool] = True


# --- the public interface --------------------------------------------------------------


class PinPad(Device[PinPadStatus, PinPadCapabilities]):
    """An encrypting PIN pad: keyboard, PIN blocks, key management and crypto.

    Every operation is a command: queued FIFO behind the device's other commands, with
    a ``timeout`` in seconds counted from the call (``None`` waits for ever). Cancelling
    or timing out an entry ends it on the device and discards what was typed.

    Keys are named (1-64 letters, digits, ``_.-``). A key's usage is enforced: a MAC
    key makes no PIN block and a PIN key encrypts no data (`UseViolation`, with an
    `IllegalKeyAccess` event).

    Key separation (``docs/pinpad.md``, "Key separation rules"), on every pad:

    - clear components build the *first* key-encryption key only: while a ``K0`` or
      ``K1`` key is loaded none is taken (`UseViolation`); a later KEK arrives
      enciphered under the first, or the pad is initialized first;
    - no component identical to one already given for the name, no key or component of
      all zeros, no TDES key with single-DES strength (``K1 == K2``; ``K2 == K3`` or
      ``K1 == K3`` for 24 bytes), DES parity bits ignored (`KeyInvalid`);
    - a name in use is replaced only by a key of the same usage, algorithm and mode of
      use (`DuplicateKey`: delete it first);
    - a key value keeps the usage, algorithm and mode of use it was first loaded with
      until `initialize`, even after it is deleted, and is never its own KEK
      (`UseViolation`; on pads whose device can tell, the simulated one among them);
    - no key is stronger than the KEK or key block protection key protecting it:
      TDES-16 < TDES-24 < AES-128 = SM4 < AES-192 < AES-256 (`UseViolation`);
    - a key check value is at least 3 bytes (`InvalidData`).
    """

    interface = "PinPad"

    # --- keyboard ---------------------------------------------------------------------

    @abstractmethod
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
        """Let the customer type a PIN; it stays in the device for `get_pin_block`.

        Emits `EnterData` when the keyboard is ready and a `KeyEvent` (with no digit)
        per key. Digits past ``max_len`` are ignored; a terminate key other than
        ``cancel`` is ignored until ``min_len`` digits are in; ``clear`` empties the
        entry and ``backspace`` removes the last digit; ``cancel`` discards it.

        Args:
            min_len: digits needed before ``enter`` (or another terminate key) ends it.
            max_len: digits taken (at most the pad's ``pin_max``).
            auto_end: end with completion ``auto`` once ``max_len`` digits are in.
            active_keys: keys that count (default: the digits and every function key
                of the keyboard); others are ignored.
            terminate_keys: keys that end the entry; each must be active.

        Raises:
            KeyInvalid: a key name this keyboard does not have.
            InvalidData: lengths out of range (``minimumLength``), no terminate key
                and no ``auto_end`` (``noTerminatekeys``).
            HalTimeout: the customer did not finish within ``timeout`` (the PIN typed
                so far is discarded).
            SequenceError: the pad needs `set_pin_block_data` first.
        """

    @abstractmethod
    async def data_entry(
        self,
        *,
        max_len: int,
        auto_end: bool = False,
        active_keys: Iterable[str] | None = None,
        terminate_keys: Iterable[str] = DEFAULT_TERMINATE_KEYS,
        timeout: float | None = None,
    ) -> DataEntryResult:
        """Let the customer type clear data (an amount, a menu choice; never a PIN).

        Key events carry the key's name. ``max_len`` counts characters.

        Raises:
            UnsupportedOperation: the keyboard does no clear entry.
            KeyInvalid, InvalidData, HalTimeout: as `pin_entry`.
        """

    # --- PIN blocks -------------------------------------------------------------------

    @abstractmethod
    async def get_pin_block(
        self,
        key: str,
        *,
        format: PinFormat,
        customer_data: str = "",
        padding: int = 0x0F,
        timeout: float | None = None,
    ) -> PinBlock:
        """The PIN of the last `pin_entry`, as a PIN block enciphered under ``key``.

        ``key`` is a PIN key (usage ``P0``) or an initial DUKPT key (``B1``): then the
        device derives the next transaction's PIN key and the block comes with its KSN.
        Formats 0-3 under TDES, format 4 under AES. The PIN is erased once used.

        Args:
            key: the key's name.
            format: the ISO 9564-1 format.
            customer_data: the PAN (formats 0, 3 and 4), digits only.
            padding: the fill nibble of format 0 (``0xF`` by the standard).

        Raises:
            KeyNotFound, KeyNoValue, UseViolation: the key cannot make PIN blocks.
            FormatNotSupported: a format this pad or this key does not make.
            InvalidData: a PAN that is not 13-19 digits (12-19 for format 4).
            SequenceError: no PIN was entered (or it was already used).
            InvalidData: arguments other than those given to `set_pin_block_data`
                before this entry.
            DukptOverflow: the DUKPT key's counter is exhausted.
        """

    @abstractmethod
    async def set_pin_block_data(
        self,
        key: str,
        *,
        format: PinFormat,
        customer_data: str = "",
        padding: int = 0x0F,
        timeout: float | None = None,
    ) -> None:
        """Give the PIN block's data before the PIN is entered (XFS4IoT
        ``PinPad.SetPinBlockData``).

        Some pads (``capabilities().pin_block_data_first``, e.g. the ZT588) format the
        PIN block when the entry starts: on them call this before `pin_entry`, then
        `get_pin_block` with the same arguments. Other pads accept it too, so an app
        that always calls it runs on every pad. Arguments and errors as
        `get_pin_block`; the key's usage is checked here already.
        """

    # --- key management ---------------------------------------------------------------

    @abstractmethod
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
        """Load one clear component of a key under dual control (the first KEK).

        Each custodian loads their component with its check value (3 bytes at least);
        the key is built (XOR of the components) by `activate_key`. A component's KCV is
        checked before it is kept. The first component fixes usage, algorithm and mode
        of use. Components are taken only while no key-encryption key (``K0`` or
        ``K1``) is loaded: they build the first KEK; later ones arrive enciphered under
        it (`import_key`), or the pad is initialized first.

        Raises:
            KcvMismatch: the component's check value is wrong (it is not kept).
            InvalidKeyLength: not a length ``algorithm`` has, or not the first's.
            InvalidData: a usage a clear component may not have (only key-encryption
                keys arrive in the clear), a name already holding a loaded key, or a
                check value under 3 bytes.
            UseViolation: a key-encryption key is loaded already.
            KeyInvalid: a component of all zeros, one with equal DES halves, or one
                identical to a component already given for ``name``.
        """

    @abstractmethod
    async def activate_key(
        self, name: str, *, kcv: bytes, timeout: float | None = None
    ) -> KeyDetail:
        """Combine the components loaded for ``name`` and check the result's KCV.

        Raises:
            KeyNotFound: no components were loaded under ``name``.
            KeyNoValue: fewer than ``min_components`` components.
            KcvMismatch: the combined key's check value is wrong; the components are
                discarded and loading starts again.
            UseViolation: a key-encryption key was loaded meanwhile.
            KeyInvalid: the combined key is all zeros (its check value is the zero
                key's) or, where the device can tell, has equal DES halves.
            InvalidData: a check value under 3 bytes.
        """

    @abstractmethod
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
        """Load a key enciphered (ECB) under the key-encryption key ``kek``.

        The deciphered key's check value must equal ``kcv`` (3 bytes at least). An
        initial DUKPT key (``B1``) comes with its initial ``ksn`` (10 bytes TDES, 12
        bytes AES). A key loaded under a name already in use replaces it if it has the
        same usage, algorithm and mode of use.

        Raises:
            KeyNotFound: ``kek`` is not loaded.
            UseViolation: ``kek`` is not a key-encryption key; the key is stronger than
                ``kek``, equal to it, or its value was loaded before with other
                attributes (key separation).
            DuplicateKey: ``name`` holds a key of another usage, algorithm or mode.
            KeyInvalid: the key is all zeros or a TDES key with equal halves.
            KcvMismatch: the check value is wrong; nothing is loaded.
            InvalidKeyLength, InvalidData: a bad length, usage, mode of use or a check
                value under 3 bytes.
        """

    @abstractmethod
    async def import_key_block(
        self, name: str, key_block: str, *, kbpk: str, timeout: float | None = None
    ) -> KeyDetail:
        """Load a TR-31 key block protected by the key block protection key ``kbpk``.

        Usage, algorithm, mode of use and version come from the block's header; its
        MAC is checked before anything is loaded. A ``KS`` optional block gives an
        initial DUKPT key's KSN.

        Raises:
            KeyNotFound: ``kbpk`` is not loaded.
            UseViolation: ``kbpk`` is not a key block protection key; the key is
                stronger than ``kbpk``, equal to it, or its value was loaded before with
                other attributes (key separation).
            DuplicateKey: ``name`` holds a key of another usage, algorithm or mode.
            KeyInvalid: the key is all zeros or a TDES key with equal halves.
            InvalidData: a malformed block, or one whose MAC does not verify.
            FormatNotSupported: a block version or usage the pad does not take.
        """

    @abstractmethod
    async def delete_key(self, name: str, *, timeout: float | None = None) -> None:
        """Erase one key.

        Raises:
            KeyNotFound: there is no such key.
            UnsupportedOperation: the pad erases only all keys (`initialize`).
        """

    @abstractmethod
    async def key_detail(self, name: str, *, timeout: float | None = None) -> KeyDetail:
        """What the key ``name`` is (usage, algorithm, mode of use, KCV...).

        Raises:
            KeyNotFound: there is no such key.
        """

    @abstractmethod
    async def keys(self, *, timeout: float | None = None) -> tuple[KeyDetail, ...]:
        """Every key loaded, sorted by name."""

    @abstractmethod
    async def generate_kcv(
        self,
        name: str,
        *,
        method: KcvMethod = KcvMethod.LEGACY,
        timeout: float | None = None,
    ) -> bytes:
        """The key's check value by ``method`` (legacy: 3 bytes, 4 for SM4; cmac: 5).

        Raises:
            KeyNotFound, KeyNoValue: no usable key of that name.
            ModeNotSupported: ``cmac`` for an SM4 key.
        """

    @abstractmethod
    async def initialize(self, *, timeout: float | None = None) -> None:
        """Erase every key (zeroize); emits `Initialized`. No key works afterwards.

        The pad then takes clear components for a first KEK again, and forgets which
        usage each key value had (key separation starts afresh)."""

    # --- crypto -----------------------------------------------------------------------

    @abstractmethod
    async def encrypt(
        self,
        key: str,
        data: bytes,
        *,
        mode: CipherMode = CipherMode.ECB,
        iv: bytes | None = None,
        timeout: float | None = None,
    ) -> bytes:
        """Encipher ``data`` (a whole number of blocks) under the data key ``key``.

        Raises:
            UseViolation: ``key`` is not a data key (``D0``) that may encrypt.
            ModeNotSupported: a mode the pad does not offer.
            InvalidData: data not a whole number of blocks, or a wrong IV length.
        """

    @abstractmethod
    async def decrypt(
        self,
        key: str,
        data: bytes,
        *,
        mode: CipherMode = CipherMode.ECB,
        iv: bytes | None = None,
        timeout: float | None = None,
    ) -> bytes:
        """Decipher ``data`` under the data key ``key``; as `encrypt`."""

    @abstractmethod
    async def generate_mac(
        self,
        key: str,
        data: bytes,
        *,
        padding: int = 1,
        timeout: float | None = None,
    ) -> bytes:
        """The MAC of ``data`` under the MAC key ``key``.

        The key's usage picks the algorithm: ``M1`` ISO/IEC 9797-1 algorithm 1 (with an
        SM4 key: the SM4 MAC), ``M3`` algorithm 3 (the X9.19 retail MAC), ``M6`` CMAC.
        ``padding`` is the ISO/IEC 9797-1 padding method (1 zeros, 2 ``80 00..``) of
        algorithms 1 and 3; CMAC pads by itself.

        Raises:
            UseViolation: not a MAC key, or one that may only verify.
            InvalidData: empty data, or a padding method other than 1 or 2.
        """

    @abstractmethod
    async def verify_mac(
        self,
        key: str,
        data: bytes,
        mac: bytes,
        *,
        padding: int = 1,
        timeout: float | None = None,
    ) -> bool:
        """Whether ``mac`` is the MAC of ``data`` under ``key``; as `generate_mac`."""

    @abstractmethod
    async def generate_random(self, length: int = 8, *, timeout: float | None = None) -> bytes:
        """``length`` (1-256) random bytes from the device."""

    @abstractmethod
    async def reset(self, *, timeout: float | None = None) -> None:
        """Reset the device: an entry under way ends; keys stay."""


# --- the backend contract --------------------------------------------------------------


class PinPadBackend(Protocol):
    """What a driver or a simulator model implements for a PIN pad.

    The service calls one method at a time and does all validation (names, lengths,
    key usage against `key_detail`), queueing, timeouts, event stamping and masking;
    the backend drives the device, which holds the keys and the PIN. A backend still
    refuses what its device refuses (it is the secure element).

    Cancellation arrives as `asyncio.CancelledError` inside the awaited method: an
    entry must then be stopped on the device and the PIN typed so far discarded
    before the error propagates.

    Events go to the listener given to `open()`: `EnterData` and `KeyEvent` (no
    digit in a PIN entry) during entries, `Initialized` after `initialize`.
    """

    async def open(self, listener: BackendListener[PinPadStatus]) -> None:
        """Connect and start reporting to ``listener``."""

    async def close(self) -> None:
        """Disconnect; stop reporting; an entry under way ends."""

    def capabilities(self) -> PinPadCapabilities:
        """What the pad can do (known after `open()`)."""

    async def get_status(self) -> PinPadStatus:
        """Ask the device where things stand now."""

    async def pin_entry(self, spec: EntrySpec) -> PinEntryResult:
        """Run a PIN entry by ``spec``; keep the PIN in the device."""

    async def data_entry(self, spec: EntrySpec) -> DataEntryResult:
        """Run a clear data entry by ``spec``."""

    async def pin_block(
        self, key: str, format: PinFormat, customer_data: str, padding: int
    ) -> PinBlock:
        """Encipher the PIN entered under ``key``; erase the PIN."""

    async def set_pin_block_data(
        self, key: str, format: PinFormat, customer_data: str, padding: int
    ) -> None:
        """Take the next PIN block's data before the entry (a pad that formats late
        may ignore it; the service has checked the key's usage)."""

    async def load_component(
        self, name: str, component: bytes, attributes: KeyAttributes, kcv: bytes
    ) -> KeyDetail:
        """Keep one clear component of ``name`` after checking its KCV."""

    async def activate_key(self, name: str, kcv: bytes) -> KeyDetail:
        """Combine the components of ``name``; check the combined KCV."""

    async def load_key(
        self,
        name: str,
        value: bytes,
        kek: str,
        attributes: KeyAttributes,
        kcv: bytes,
        ksn: bytes,
    ) -> KeyDetail:
        """Load ``value`` enciphered under ``kek``, after checking its KCV."""

    async def load_key_block(self, name: str, key_block: str, kbpk: str) -> KeyDetail:
        """Load a TR-31 key block protected by ``kbpk``."""

    async def delete_key(self, name: str) -> None:
        """Erase one key."""

    async def key_details(self) -> Mapping[str, KeyDetail]:
        """Every key the device holds, by name."""

    async def kcv(self, name: str, method: KcvMethod) -> bytes:
        """The check value of ``name`` by ``method``."""

    async def initialize(self) -> None:
        """Erase every key."""

    async def crypt(
        self, key: str, data: bytes, encrypt: bool, mode: CipherMode, iv: bytes | None
    ) -> bytes:
        """Encipher (``encrypt``) or decipher ``data`` under ``key``."""

    async def mac(self, key: str, data: bytes, padding: int) -> bytes:
        """The MAC of ``data`` under ``key`` (algorithm by the key's usage)."""

    async def verify_mac(self, key: str, data: bytes, mac: bytes, padding: int) -> bool:
        """Whether ``mac`` is the MAC of ``data`` under ``key``."""

    async def random(self, length: int) -> bytes:
        """``length`` random bytes."""

    async def reset(self) -> None:
        """Reset the device; an entry under way ends."""
