"""A simulated EPP secure element: the key store and crypto engine of a PIN pad.

`SecureElement` holds keys in memory only (never on disk, never in a log) and does what
an encrypting PIN pad's secure element does with them: it builds the first key-encryption
key from clear components under dual control, loads later keys enciphered under a KEK
or as TR-31 key blocks, makes PIN blocks (fixed keys and DUKPT), encrypts, makes and
checks MACs, and erases everything on `SecureElement.initialize`. It is synchronous and
pure: `simulator.models.pin_pad.PinPadModel` puts the keyboard, the power and the
asyncio plumbing around it.

Rules it enforces itself (a secure element does not trust its host):

- every key has a usage (TR-31 ``P0``, ``D0``, ``K0``, ``K1``, ``B1``, ``M1``, ``M3``,
  ``M6``), an algorithm and a mode of use; a key is used only for its usage and mode
  (`UseViolation`): a MAC key makes no PIN block, a PIN key encrypts no data;
- clear components are only for key-encryption keys (``K0``, ``K1``); each comes with
  its check value, and the combined key's check value is checked on activation (a
  mismatch discards the components);
- a key enciphered under a KEK needs a ``K0`` KEK whose mode lets it decipher (``B`` or
  ``D``); a TR-31 block needs a ``K1`` key block protection key (``B`` or ``D``);
- a key's check value is checked before it is kept: a wrong one loads nothing.

Key separation (the rules of ``docs/pinpad.md`` "Key separation rules"):

- clear components are taken only while no key-encryption key (``K0`` or ``K1``) is
  loaded: they build the *first* KEK; a later one arrives enciphered under it, or the
  pad is initialized first (`UseViolation`; a constructing key that could not be
  activated is discarded);
- a component identical to one already held for that name, a component or combined key
  of all zeros, and a TDES key whose halves (``K1 == K2``; ``K2 == K3`` or ``K1 == K3``
  for 24 bytes) are equal, wherever it comes from, are refused (`KeyInvalid`); DES
  parity bits are ignored in these comparisons, as DES ignores them;
- a key under a name in use with another usage, algorithm or mode of use is refused
  (`DuplicateKey`: delete it first); with the same attributes it replaces it;
- a key value is bound to the usage, algorithm and mode it was first loaded with until
  `SecureElement.initialize`: the element keeps an HMAC-SHA256 fingerprint (under a
  random secret made at creation and at each initialize; never the value) of every
  value it has loaded, and refuses a value seen under other attributes, even after the
  first key was deleted, and a value equal to its own KEK (`UseViolation`);
- a key is never stronger than the key protecting it (TDES-16 < TDES-24 < AES-128 =
  SM4 < AES-192 < AES-256, `hal.devices.pin_pad_model.key_strength`): `UseViolation`.

Keys live in `bytearray` buffers that are overwritten with zeros when a key is deleted,
replaced or erased. Python makes short-lived `bytes` copies when a key goes into
`cryptography`; those cannot be wiped, which a real secure element would not allow (the
simulator is a test double, not a security boundary). An initial DUKPT key is not kept
at all once its future-key registers are filled (as ANSI X9.24 asks); its check values
are computed at load.

Nothing here puts a key, a PIN or a PAN in a message or a ``repr``: errors from
`protocols` (whose messages carry lengths and names only) are re-raised as typed
`hal.errors` with no chained traceback.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import secrets
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from types import MappingProxyType
from typing import TypeAlias

from hal.devices.pin_pad_model import (
    CipherMode,
    EncryptionState,
    KcvMethod,
    KeyAlgorithm,
    KeyAttributes,
    KeyDetail,
    KeyState,
    KeyUsage,
    ModeOfUse,
    PinBlock,
    PinFormat,
    check_key_name,
    key_strength,
    key_weakness,
)
from hal.errors import (
    DukptOverflow,
    DuplicateKey,
    FormatNotSupported,
    HalError,
    InvalidData,
    InvalidKeyLength,
    KcvMismatch,
    KeyInvalid,
    KeyNotFound,
    KeyNoValue,
    ModeNotSupported,
    NoKeyRam,
    UseViolation,
)
from protocols import crypto_primitives as prim
from protocols import dukpt, dukpt_aes, pinblock, tr31
from protocols import mac as maclib
from protocols.crypto_primitives import CryptoError
from protocols.kcv import KcvMismatchError, compute_kcv, verify_kcv
from protocols.tr31_header import Header, Tr31Error, Tr31KeyError, Version

__all__ = ["MAX_KEYS", "SecureElement"]

#: Keys the element holds (constructing ones included).
MAX_KEYS = 64

#: Usages that may arrive as clear components: key-encryption keys only.
COMPONENT_USAGES = frozenset({KeyUsage.KEK, KeyUsage.KBPK})

#: The modes of use a key of each usage may have.
MODES: Mapping[KeyUsage, frozenset[ModeOfUse]] = MappingProxyType(
    {
        KeyUsage.KEK: frozenset({ModeOfUse.BOTH, ModeOfUse.ENCRYPT, ModeOfUse.DECRYPT}),
        KeyUsage.KBPK: frozenset({ModeOfUse.BOTH, ModeOfUse.ENCRYPT, ModeOfUse.DECRYPT}),
        KeyUsage.PIN: frozenset({ModeOfUse.ENCRYPT, ModeOfUse.BOTH}),
        KeyUsage.DATA: frozenset({ModeOfUse.BOTH, ModeOfUse.ENCRYPT, ModeOfUse.DECRYPT}),
        KeyUsage.INITIAL_DUKPT: frozenset({ModeOfUse.DERIVE, ModeOfUse.NONE}),
        **{
            usage: frozenset({ModeOfUse.GENERATE_VERIFY, ModeOfUse.GENERATE, ModeOfUse.VERIFY})
            for usage in (KeyUsage.MAC_ISO9797_1, KeyUsage.MAC_ISO9797_3, KeyUsage.MAC_CMAC)
        },
    }
)

_UNWRAP = frozenset({ModeOfUse.BOTH, ModeOfUse.DECRYPT})
_ENCRYPT = frozenset({ModeOfUse.BOTH, ModeOfUse.ENCRYPT})
_DECRYPT = frozenset({ModeOfUse.BOTH, ModeOfUse.DECRYPT})
_MAC_GENERATE = frozenset({ModeOfUse.GENERATE_VERIFY, ModeOfUse.GENERATE})
_MAC_VERIFY = frozenset({ModeOfUse.GENERATE_VERIFY, ModeOfUse.VERIFY})
_MAC_ALGORITHM = {
    KeyUsage.MAC_ISO9797_1: maclib.MacAlgorithm.ISO9797_1,
    KeyUsage.MAC_ISO9797_3: maclib.MacAlgorithm.ISO9797_3,
    KeyUsage.MAC_CMAC: maclib.MacAlgorithm.CMAC,
}
_TDES_PIN_FORMATS = {
    PinFormat.ISO0: pinblock.PinBlockFormat.ISO_0,
    PinFormat.ISO1: pinblock.PinBlockFormat.ISO_1,
    PinFormat.ISO3: pinblock.PinBlockFormat.ISO_3,
}
# TR-31 header algorithm codes the element takes (``D``, single DES, it does not).
_TR31_ALGORITHMS = {"T": KeyAlgorithm.TDES, "A": KeyAlgorithm.AES}

_Originator: TypeAlias = dukpt.TdesOriginator | dukpt_aes.AesOriginator


def _wipe(buffer: bytearray) -> None:
    buffer[:] = bytes(len(buffer))


def _canonical(value: bytes | bytearray) -> bytes:
    """``value`` without its DES parity bits (the low bit of each byte).

    DES ignores them, so two TDES keys that differ only there are one key. For AES and
    SM4 keys the comparison is as good: two honest random keys never agree on all
    their other bits.
    """
    return bytes(b & 0xFE for b in value)


@contextmanager
def _crypto(what: str) -> Iterator[None]:
    """Re-raise a `protocols` crypto error as a typed hal error, without its traceback."""
    try:
        yield
    except HalError as exc:
        if not isinstance(exc, CryptoError | Tr31Error | dukpt.DukptError):
            raise
        raise _translate(exc, what) from None


def _translate(exc: HalError, what: str) -> HalError:
    text = f"{what}: {exc.message}"
    if isinstance(exc, KcvMismatchError):
        return KcvMismatch(text)
    if isinstance(exc, dukpt.KsnExhaustedError):
        return DukptOverflow(text)
    if isinstance(exc, prim.KeyLengthError | dukpt.DukptKeyError):
        return InvalidKeyLength(text)
    if isinstance(exc, Tr31KeyError):
        return FormatNotSupported(text)
    return InvalidData(text)


class _Key:
    """One slot of the store: a key, or the components of one under construction."""

    __slots__ = (
        "algorithm",
        "components",
        "fingerprint",
        "kcvs",
        "length",
        "mode",
        "name",
        "originator",
        "usage",
        "value",
        "version",
    )

    def __init__(self, name: str, attributes: KeyAttributes, length: int) -> None:
        self.name = name
        self.usage = attributes.usage
        self.algorithm = attributes.algorithm
        self.mode = attributes.mode_of_use
        self.length = length
        self.value: bytearray | None = None
        self.components: list[bytearray] = []
        self.kcvs: dict[KcvMethod, bytes] = {}
        self.version = "00"
        self.originator: _Originator | None = None
        self.fingerprint = b""

    @property
    def loaded(self) -> bool:
        return self.value is not None or self.originator is not None

    def secret(self) -> bytes:
        """The key's value (for a cipher call); only for a loaded, non-DUKPT key."""
        assert self.value is not None
        return bytes(self.value)

    def detail(self) -> KeyDetail:
        ksn = b""
        if self.originator is not None and not self.originator.exhausted:
            ksn = self.originator.ksn.to_bytes()
        return KeyDetail(
            name=self.name,
            usage=self.usage,
            algorithm=self.algorithm,
            mode_of_use=self.mode,
            length=self.length,
            kcv=self.kcvs.get(KcvMethod.LEGACY, b""),
            state=KeyState.LOADED if self.loaded else KeyState.CONSTRUCTING,
            components=len(self.components),
            version=self.version,
            ksn=ksn,
        )

    def wipe(self) -> None:
        if self.value is not None:
            _wipe(self.value)
            self.value = None
        for component in self.components:
            _wipe(component)
        self.components.clear()
        self.originator = None
        self.kcvs.clear()

    def __repr__(self) -> str:
        kcv = self.kcvs.get(KcvMethod.LEGACY, b"").hex().upper() or "-"
        return (
            f"_Key({self.name!r}, {self.usage.value}/{self.algorithm.value}/{self.mode.value}, "
            f"kcv={kcv}, components={len(self.components)})"
        )


class SecureElement:
    """An EPP's key store and crypto engine (synchronous; keys in memory only).

    Args:
        max_keys: how many keys (constructing ones included) it holds.
        min_components: the fewest clear components a key is built from.
    """

    def __init__(self, *, max_keys: int = MAX_KEYS, min_components: int = 2) -> None:
        if max_keys < 1 or min_components < 1:
            raise ValueError("max_keys and min_components must be >= 1")
        self.max_keys = max_keys
        self.min_components = min_components
        self._keys: dict[str, _Key] = {}
        # Key separation: the attributes each key value was first loaded with, by an
        # HMAC of the value under a secret of this element (never the value itself).
        self._fingerprint_secret = secrets.token_bytes(32)
        self._seen: dict[bytes, KeyAttributes] = {}

    # --- what is there ------------------------------------------------------------------

    @property
    def encryption_state(self) -> EncryptionState:
        """``ready`` once a usable key is loaded, else ``notInitialized``."""
        if any(key.loaded for key in self._keys.values()):
            return EncryptionState.READY
        return EncryptionState.NOT_INITIALIZED

    def __len__(self) -> int:
        return len(self._keys)

    def details(self) -> dict[str, KeyDetail]:
        """Every key (constructing ones too), by name, sorted."""
        return {name: self._keys[name].detail() for name in sorted(self._keys)}

    def detail(self, name: str) -> KeyDetail:
        """The key ``name``; `KeyNotFound` if there is none."""
        return self._find(name).detail()

    def kcv(self, name: str, method: KcvMethod = KcvMethod.LEGACY) -> bytes:
        """The check value of the loaded key ``name`` by ``method``.

        Raises:
            KeyNotFound, KeyNoValue: no usable key of that name.
            ModeNotSupported: a CMAC-based check value of an SM4 key.
        """
        key = self._usable(name)
        method = KcvMethod(method)
        kcv = key.kcvs.get(method)
        if kcv is None:
            raise ModeNotSupported(
                f"key {name!r}: no {method.value} check value for a {key.algorithm.value} key"
            )
        return kcv

    # --- loading keys -------------------------------------------------------------------

    def load_component(
        self, name: str, component: bytes, attributes: KeyAttributes, kcv: bytes
    ) -> KeyDetail:
        """Keep one clear component of the key-encryption key ``name``, after its KCV.

        The first component fixes usage, algorithm, mode of use and length; later ones
        keep them (a later component must have the same algorithm and length).

        Raises:
            KcvMismatch: the component's check value is wrong (it is not kept).
            InvalidKeyLength: a length the algorithm does not have, or not the first's.
            InvalidData: a usage that may not arrive in the clear, a bad mode of use, a
                name holding a loaded key, or a check value under 3 bytes.
            UseViolation: a key-encryption key is loaded already (components build the
                first KEK only).
            KeyInvalid: a component of all zeros, one with equal DES halves, or one
                identical to a component already held for ``name``.
            NoKeyRam: the store is full.
        """
        self._check_name(name)
        self._check_attributes(attributes)
        if attributes.usage not in COMPONENT_USAGES:
            raise InvalidData(
                f"key {name!r}: only key-encryption keys (K0, K1) arrive as clear components, "
                f"not {attributes.usage.value}"
            )
        self._check_no_kek(name)
        existing = self._keys.get(name)
        if existing is not None and existing.loaded:
            raise InvalidData(
                f"key {name!r} is loaded; delete it before loading components under its name"
            )
        if existing is not None:
            if attributes.algorithm is not existing.algorithm:
                raise InvalidData(
                    f"key {name!r}: its components are {existing.algorithm.value}, "
                    f"not {attributes.algorithm.value}"
                )
            if len(component) != existing.length:
                raise InvalidKeyLength(
                    f"key {name!r}: a component is {existing.length} bytes like the first, "
                    f"got {len(component)}"
                )
        else:
            self._check_length(name, attributes, component)
            self._check_room(name)
        algorithm = attributes.algorithm if existing is None else existing.algorithm
        self._check_kcv_length(name, kcv)
        number = self._components(name) + 1
        with _crypto(f"key {name!r}: component {number}"):
            verify_kcv(algorithm, bytes(component), bytes(kcv))
        weakness = key_weakness(algorithm, component)
        if weakness is not None:
            raise KeyInvalid(f"key {name!r}: component {number} is refused: {weakness}")
        if existing is not None:
            canonical = _canonical(component)
            for held in existing.components:
                if hmac.compare_digest(_canonical(held), canonical):
                    raise KeyInvalid(
                        f"key {name!r}: component {number} is identical to one already "
                        "loaded (each custodian brings their own)"
                    )
        if existing is None:
            existing = self._keys[name] = _Key(name, attributes, len(component))
        existing.components.append(bytearray(component))
        return existing.detail()

    def activate(self, name: str, kcv: bytes) -> KeyDetail:
        """Combine (XOR) the components of ``name`` and check the result's KCV.

        Raises:
            KeyNotFound: no components were loaded under ``name``.
            KeyNoValue: fewer than ``min_components`` components.
            KcvMismatch: the combined key's check value is wrong; the components are
                discarded.
            UseViolation: a key-encryption key was loaded meanwhile, or the combined
                value was loaded before as another kind of key; the components are
                discarded.
            KeyInvalid: the combined key is all zeros or has equal DES halves; the
                components are discarded.
        """
        key = self._keys.get(name)
        if key is None or key.loaded:
            raise KeyNotFound(f"no components were loaded under key {name!r}")
        try:
            self._check_no_kek(name)
        except UseViolation:
            self._discard(name)
            raise
        if len(key.components) < self.min_components:
            raise KeyNoValue(
                f"key {name!r} has {len(key.components)} component(s); it needs at least "
                f"{self.min_components}"
            )
        self._check_kcv_length(name, kcv)
        combined = bytearray(key.length)
        for component in key.components:
            for i, byte in enumerate(component):
                combined[i] ^= byte
        refusal: HalError | None = None
        try:
            with _crypto(f"key {name!r}: the combined key"):
                verify_kcv(key.algorithm, bytes(combined), bytes(kcv))
        except KcvMismatch:
            refusal = KcvMismatch(
                f"key {name!r}: the combined key's check value does not match; its components "
                "are discarded, load them again"
            )
        if refusal is None:
            weakness = key_weakness(key.algorithm, combined)
            if weakness is not None:
                refusal = KeyInvalid(
                    f"key {name!r}: the combined key is refused: {weakness}; its components "
                    "are discarded"
                )
        if refusal is None:
            attributes = KeyAttributes(key.usage, key.algorithm, key.mode)
            try:
                self._check_separation(name, attributes, combined, None)
            except UseViolation as exc:
                refusal = exc
        if refusal is not None:
            _wipe(combined)
            self._discard(name)
            raise refusal
        for component in key.components:
            _wipe(component)
        key.components.clear()
        self._set_value(key, combined)
        return key.detail()

    def load_key(
        self,
        name: str,
        value: bytes,
        kek: str,
        attributes: KeyAttributes,
        kcv: bytes,
        ksn: bytes = b"",
    ) -> KeyDetail:
        """Load ``value``, enciphered (ECB) under the KEK ``kek``, after checking its KCV.

        An initial DUKPT key (``B1``) takes its initial ``ksn``: 10 bytes for TDES, 12
        for AES. A key under a name in use replaces it.

        Raises:
            KeyNotFound, KeyNoValue: ``kek`` is not loaded.
            UseViolation: ``kek`` is not a ``K0`` key that may decipher (``B``, ``D``);
                the key is stronger than ``kek``, equal to it, or its value was loaded
                before with other attributes (key separation).
            DuplicateKey: ``name`` holds a key with other attributes.
            KcvMismatch: the check value is wrong; nothing is loaded.
            KeyInvalid: an all-zero key, or a TDES key with equal halves.
            InvalidKeyLength: a length the algorithm (or usage) does not have.
            InvalidData: a bad mode of use or KSN.
        """
        self._check_name(name)
        self._check_attributes(attributes)
        self._check_replaceable(name, attributes)
        wrapper = self._usable(kek)
        if wrapper.usage is not KeyUsage.KEK or wrapper.mode not in _UNWRAP:
            raise UseViolation(
                f"key {kek!r} ({wrapper.usage.value}, mode {wrapper.mode.value}) cannot "
                "decipher keys: a KEK is K0 with mode B or D"
            )
        self._check_kcv_length(name, kcv)
        size = prim.block_size(wrapper.algorithm)
        if not value or len(value) % size:
            raise InvalidKeyLength(
                f"key {name!r}: an enciphered key is whole {size}-byte blocks of "
                f"{wrapper.algorithm.value}, got {len(value)} bytes"
            )
        with _crypto(f"key {name!r}: deciphering under {kek!r}"):
            clear = bytearray(prim.decrypt_ecb(wrapper.algorithm, wrapper.secret(), bytes(value)))
        try:
            length = self._unpadded_length(attributes.algorithm, clear, size, kcv)
            if length != len(clear):  # a key shorter than whole blocks of the KEK's cipher
                padded, clear = clear, bytearray(clear[:length])
                _wipe(padded)
            self._check_length(name, attributes, clear)
            self._check_strength(name, attributes, len(clear), wrapper)
            with _crypto(f"key {name!r}"):
                verify_kcv(attributes.algorithm, bytes(clear), bytes(kcv))
            self._check_value(name, attributes, clear, wrapper)
            self._store(name, attributes, clear, ksn, "00")
        finally:
            _wipe(clear)
        return self._keys[name].detail()

    def load_key_block(self, name: str, key_block: str, kbpk: str) -> KeyDetail:
        """Load a TR-31 key block protected by the key block protection key ``kbpk``.

        Usage, algorithm, mode of use and key version come from the header. An initial
        DUKPT key (``B1``) takes its KSN from a ``KS`` optional block (10 bytes, TDES; 12,
        AES) or, for AES, an ``IK`` block (the 8-byte initial key ID).

        Raises:
            KeyNotFound, KeyNoValue: ``kbpk`` is not loaded.
            UseViolation: ``kbpk`` is not a ``K1`` key that may unwrap (``B``, ``D``);
                the key is stronger than ``kbpk``, equal to it, or its value was loaded
                before with other attributes (key separation).
            DuplicateKey: ``name`` holds a key with other attributes.
            KeyInvalid: an all-zero key, or a TDES key with equal halves.
            InvalidData: a malformed block, a MAC that does not verify, no KSN for B1.
            FormatNotSupported: a version the KBPK cannot open, or a usage, algorithm or
                mode of use the element does not take.
        """
        self._check_name(name)
        wrapper = self._usable(kbpk)
        if wrapper.usage is not KeyUsage.KBPK or wrapper.mode not in _UNWRAP:
            raise UseViolation(
                f"key {kbpk!r} ({wrapper.usage.value}, mode {wrapper.mode.value}) cannot "
                "unwrap key blocks: a key block protection key is K1 with mode B or D"
            )
        if not isinstance(key_block, str):
            raise InvalidData(f"key {name!r}: a TR-31 key block is text")
        version = key_block[:1]
        protecting = KeyAlgorithm.AES if version == Version.D else KeyAlgorithm.TDES
        if version in set(Version) and wrapper.algorithm is not protecting:
            raise FormatNotSupported(
                f"key {kbpk!r} ({wrapper.algorithm.value}) cannot open a version {version} key "
                "block (A, B, C: TDES; D: AES)"
            )
        with _crypto(f"key {name!r}: the TR-31 key block"):
            unwrapped = tr31.unwrap(wrapper.secret(), key_block)
        header = unwrapped.header
        clear = bytearray(unwrapped.key)
        try:
            attributes = self._block_attributes(name, header)
            ksn = self._block_ksn(name, header, attributes)
            self._check_attributes(attributes)
            self._check_replaceable(name, attributes)
            self._check_length(name, attributes, clear)
            self._check_strength(name, attributes, len(clear), wrapper)
            self._check_value(name, attributes, clear, wrapper)
            self._store(name, attributes, clear, ksn, header.key_version)
        finally:
            _wipe(clear)
        return self._keys[name].detail()

    def delete_key(self, name: str) -> None:
        """Erase the key ``name`` (or its components); `KeyNotFound` if there is none."""
        key = self._find(name)
        key.wipe()
        del self._keys[name]

    def initialize(self) -> None:
        """Erase every key: buffers overwritten, DUKPT registers dropped; the key
        separation fingerprints are forgotten and made under a new secret from now."""
        for key in self._keys.values():
            key.wipe()
        self._keys.clear()
        self._seen.clear()
        self._fingerprint_secret = secrets.token_bytes(32)

    # --- using keys ---------------------------------------------------------------------

    def pin_block(
        self, key: str, format: PinFormat, customer_data: str, padding: int, pin: str
    ) -> PinBlock:
        """The PIN block of ``pin`` in ``format``, enciphered under ``key``.

        A ``P0`` key: formats 0, 1 and 3 under TDES, format 4 under AES. A ``B1`` key:
        TDES DUKPT derives the PIN key of the next KSN (ANSI X9.24-1 PIN variant) for
        formats 0, 1 and 3; AES DUKPT the PIN-encryption working key (ANSI X9.24-3, an AES
        key of the initial key's length) for format 4. The KSN used comes back with the
        block, and the counter moves on.

        Raises:
            KeyNotFound, KeyNoValue: no usable key ``key``.
            UseViolation: not a PIN key (``P0`` that may encrypt) or an initial DUKPT key.
            FormatNotSupported: a format the key does not make.
            InvalidData: a PAN that does not fit the format, a PIN not 4-12 digits, a
                padding nibble out of range.
            DukptOverflow: the DUKPT counter is exhausted.
        """
        entry = self._usable(key)
        format = PinFormat(format)
        if entry.usage is KeyUsage.PIN:
            if entry.mode not in _ENCRYPT:
                raise UseViolation(f"key {key!r} (mode {entry.mode.value}) may not encrypt")
        elif entry.usage is not KeyUsage.INITIAL_DUKPT:
            raise UseViolation(
                f"key {key!r} is a {entry.usage.value} key; PIN blocks need a P0 or B1 key"
            )
        if not isinstance(padding, int) or not 0 <= padding <= 0xF:
            raise InvalidData(f"padding is one nibble (0-15), got {padding!r}")
        wanted = KeyAlgorithm.AES if format is PinFormat.ISO4 else KeyAlgorithm.TDES
        if format is PinFormat.IBM3624 or entry.algorithm is not wanted:
            raise FormatNotSupported(
                f"key {key!r} ({entry.algorithm.value}) does not make {format.value} PIN blocks "
                "(iso0, iso1, iso3 under TDES; iso4 under AES)"
            )
        pan = None if format is PinFormat.ISO1 else customer_data
        with _crypto(f"PIN block under {key!r}"):
            if entry.originator is None:
                block = self._fixed_pin_block(entry, format, pan, padding, pin)
                return PinBlock(block, format)
            return self._dukpt_pin_block(entry, format, pan, padding, pin)

    def crypt(
        self, key: str, data: bytes, encrypt: bool, mode: CipherMode, iv: bytes | None
    ) -> bytes:
        """Encipher (``encrypt``) or decipher whole blocks of ``data`` under the data key.

        Raises:
            KeyNotFound, KeyNoValue: no usable key ``key``.
            UseViolation: not a ``D0`` key, or one whose mode forbids the direction.
            ModeNotSupported: a cipher mode other than ECB and CBC.
            InvalidData: data not whole blocks, a wrong IV length, an IV with ECB.
        """
        entry = self._usable(key)
        if entry.usage is not KeyUsage.DATA:
            raise UseViolation(
                f"key {key!r} is a {entry.usage.value} key; data is enciphered under D0 keys"
            )
        allowed = _ENCRYPT if encrypt else _DECRYPT
        if entry.mode not in allowed:
            verb = "encrypt" if encrypt else "decrypt"
            raise UseViolation(f"key {key!r} (mode {entry.mode.value}) may not {verb}")
        if not isinstance(mode, str) or mode not in {m.value for m in CipherMode}:
            # Quotes nothing that came (it may be data passed by mistake).
            raise ModeNotSupported("a cipher mode the pad does not offer: it offers ecb and cbc")
        mode = CipherMode(mode)
        what = f"{'encrypting' if encrypt else 'decrypting'} under {key!r}"
        with _crypto(what):
            if mode is CipherMode.ECB:
                if iv is not None:
                    raise InvalidData(f"{what}: ECB takes no IV")
                run = prim.encrypt_ecb if encrypt else prim.decrypt_ecb
                return run(entry.algorithm, entry.secret(), bytes(data))
            cbc = prim.encrypt_cbc if encrypt else prim.decrypt_cbc
            return cbc(entry.algorithm, entry.secret(), bytes(data), iv)

    def mac(self, key: str, data: bytes, padding: int) -> bytes:
        """The MAC of ``data`` under the MAC key ``key`` (algorithm by its usage).

        ``M1``: ISO/IEC 9797-1 algorithm 1 (with an SM4 key, the SM4 MAC: padding method
        2 gives the PBOC convention); ``M3``: algorithm 3; ``M6``: CMAC (which pads
        itself; ``padding`` is ignored). ``padding`` is method 1 or 2.

        Raises:
            KeyNotFound, KeyNoValue: no usable key ``key``.
            UseViolation: not a MAC key, or one that may only verify.
            InvalidData: empty data with padding 1, a padding other than 1 or 2.
        """
        entry, algorithm, method = self._mac_key(key, padding, _MAC_GENERATE, "generate")
        with _crypto(f"MAC under {key!r}"):
            return maclib.generate_mac(
                entry.algorithm, entry.secret(), bytes(data), algorithm, padding=method
            )

    def verify_mac(self, key: str, data: bytes, mac: bytes, padding: int) -> bool:
        """Whether ``mac`` is the MAC of ``data`` under ``key`` (as `mac`; a shorter MAC,
        4 bytes at least, is compared over its length, in constant time)."""
        entry, algorithm, method = self._mac_key(key, padding, _MAC_VERIFY, "verify")
        with _crypto(f"MAC verification under {key!r}"):
            return maclib.verify_mac(
                entry.algorithm, entry.secret(), bytes(data), bytes(mac), algorithm, padding=method
            )

    @staticmethod
    def random(length: int) -> bytes:
        """``length`` (1-256) random bytes from `secrets`."""
        if isinstance(length, bool) or not isinstance(length, int) or not 1 <= length <= 256:
            raise InvalidData(f"random numbers are 1 to 256 bytes, got {length!r}")
        return secrets.token_bytes(length)

    def __repr__(self) -> str:
        keys = ", ".join(repr(self._keys[name]) for name in sorted(self._keys))
        return f"SecureElement([{keys}])"

    # --- helpers ------------------------------------------------------------------------

    def _find(self, name: str) -> _Key:
        key = self._keys.get(name)
        if key is None:
            raise KeyNotFound(f"no key {name!r} is loaded")
        return key

    def _usable(self, name: str) -> _Key:
        key = self._find(name)
        if not key.loaded:
            raise KeyNoValue(f"key {name!r} has components only; activate it first")
        return key

    @staticmethod
    def _unpadded_length(algorithm: KeyAlgorithm, clear: bytearray, block: int, kcv: bytes) -> int:
        """The key's length in ``clear``, deciphered whole blocks of its KEK's cipher.

        A TDES-24 key under an AES KEK fills 32 bytes, as do AES-192 and AES-256 keys:
        of the lengths that pad to ``len(clear)``, the one whose check value is ``kcv``
        (the longest if none is; the check that follows then refuses it).
        """
        size = len(clear)
        lengths = [n for n in prim.KEY_LENGTHS[algorithm] if -(-n // block) * block == size]
        if len(lengths) <= 1:
            return lengths[0] if lengths else size
        for length in sorted(lengths, reverse=True):
            with contextlib.suppress(HalError):
                verify_kcv(algorithm, bytes(clear[:length]), bytes(kcv))
                return length
        return size

    def _discard(self, name: str) -> None:
        key = self._keys.pop(name, None)
        if key is not None:
            key.wipe()

    def _check_no_kek(self, name: str) -> None:
        """Clear components build the first key-encryption key only."""
        if any(k.loaded and k.usage in COMPONENT_USAGES for k in self._keys.values()):
            raise UseViolation(
                f"key {name!r}: a key-encryption key is loaded, so clear components are no "
                "longer taken; load a new KEK enciphered under it, or initialize first"
            )

    def _check_replaceable(self, name: str, attributes: KeyAttributes) -> None:
        """A key replaces one of its name only if they have the same attributes."""
        old = self._keys.get(name)
        if old is not None and (old.usage, old.algorithm, old.mode) != (
            attributes.usage,
            attributes.algorithm,
            attributes.mode_of_use,
        ):
            raise DuplicateKey(
                f"key {name!r} is a {old.usage.value}/{old.algorithm.value}/{old.mode.value} "
                f"key; a {attributes.usage.value}/{attributes.algorithm.value}/"
                f"{attributes.mode_of_use.value} key does not replace it (delete it first)"
            )

    @staticmethod
    def _check_strength(name: str, attributes: KeyAttributes, length: int, wrapper: _Key) -> None:
        """No key is stronger than the key that protects it."""
        if key_strength(attributes.algorithm, length) > key_strength(
            wrapper.algorithm, wrapper.length
        ):
            raise UseViolation(
                f"key {name!r} ({attributes.algorithm.value}, {length} bytes) is stronger than "
                f"{wrapper.name!r} ({wrapper.algorithm.value}, {wrapper.length} bytes), which "
                "protects it"
            )

    def _check_value(
        self, name: str, attributes: KeyAttributes, value: bytearray, wrapper: _Key
    ) -> None:
        """Refuse a weak value, or one that breaks key separation."""
        weakness = key_weakness(attributes.algorithm, value)
        if weakness is not None:
            raise KeyInvalid(f"key {name!r} is refused: {weakness}")
        self._check_separation(name, attributes, value, wrapper)

    def _fingerprint(self, value: bytes | bytearray) -> bytes:
        return hmac.new(self._fingerprint_secret, _canonical(value), hashlib.sha256).digest()

    def _check_separation(
        self, name: str, attributes: KeyAttributes, value: bytearray, wrapper: _Key | None
    ) -> None:
        fingerprint = self._fingerprint(value)
        if wrapper is not None and hmac.compare_digest(fingerprint, wrapper.fingerprint):
            raise UseViolation(f"key {name!r} is refused: it equals the key that protects it")
        first = self._seen.get(fingerprint)
        if first is not None and first != attributes:
            raise UseViolation(
                f"key {name!r} is refused: its value was loaded before as a "
                f"{first.usage.value}/{first.algorithm.value}/{first.mode_of_use.value} key; "
                "a key value keeps the usage it was first loaded with until initialize"
            )

    def _components(self, name: str) -> int:
        key = self._keys.get(name)
        return 0 if key is None else len(key.components)

    def _check_room(self, name: str) -> None:
        if name not in self._keys and len(self._keys) >= self.max_keys:
            raise NoKeyRam(f"the pad holds {self.max_keys} keys; delete one first")

    @staticmethod
    def _check_name(name: str) -> None:
        problem = ""
        try:
            check_key_name(name)
        except ValueError as exc:
            problem = str(exc)  # names no value but its length or type
        if problem:  # raised outside the handler: no context to carry what came
            raise InvalidData(problem)

    @staticmethod
    def _check_attributes(attributes: KeyAttributes) -> None:
        usage, mode = attributes.usage, attributes.mode_of_use
        if mode not in MODES[usage]:
            allowed = ", ".join(sorted(m.value for m in MODES[usage]))
            raise InvalidData(
                f"mode of use {mode.value} is not one a {usage.value} key has ({allowed})"
            )

    @staticmethod
    def _check_kcv_length(name: str, kcv: bytes) -> None:
        if not isinstance(kcv, bytes | bytearray) or len(kcv) < 3:
            raise InvalidData(f"key {name!r}: a check value of at least 3 bytes is needed")

    @staticmethod
    def _check_length(name: str, attributes: KeyAttributes, key: bytes | bytearray) -> None:
        algorithm, usage, length = attributes.algorithm, attributes.usage, len(key)
        try:
            prim.check_key(algorithm, bytes(key))
        except prim.KeyLengthError as exc:
            raise InvalidKeyLength(f"key {name!r}: {exc.message}") from None
        if algorithm is KeyAlgorithm.TDES and length == 8:
            raise InvalidKeyLength(f"key {name!r}: single-length DES keys are not taken")
        if usage is KeyUsage.MAC_ISO9797_3 and (algorithm is not KeyAlgorithm.TDES or length != 16):
            raise InvalidKeyLength(
                f"key {name!r}: an M3 key (ISO 9797-1 algorithm 3) is a 16-byte TDES key"
            )
        if usage is KeyUsage.INITIAL_DUKPT:
            if algorithm is KeyAlgorithm.SM4:
                raise InvalidData(f"key {name!r}: DUKPT keys are TDES or AES, not SM4")
            if algorithm is KeyAlgorithm.TDES and length != 16:
                raise InvalidKeyLength(f"key {name!r}: a TDES initial DUKPT key is 16 bytes")

    def _store(
        self, name: str, attributes: KeyAttributes, clear: bytearray, ksn: bytes, version: str
    ) -> None:
        """Keep a checked key under ``name``, replacing what was there."""
        self._check_room(name)
        key = _Key(name, attributes, len(clear))
        key.version = version
        if attributes.usage is KeyUsage.INITIAL_DUKPT:
            key.kcvs = self._kcvs(attributes.algorithm, clear)
            key.originator = self._originator(name, attributes.algorithm, clear, ksn)
            self._remember(key, clear)
        else:
            if ksn:
                raise InvalidData(f"key {name!r}: only an initial DUKPT key (B1) takes a KSN")
            self._set_value(key, bytearray(clear))
        old = self._keys.pop(name, None)
        if old is not None:
            old.wipe()
        self._keys[name] = key

    def _set_value(self, key: _Key, value: bytearray) -> None:
        key.kcvs = self._kcvs(key.algorithm, value)
        key.value = value
        self._remember(key, value)

    def _remember(self, key: _Key, value: bytearray) -> None:
        key.fingerprint = self._fingerprint(value)
        self._seen.setdefault(key.fingerprint, KeyAttributes(key.usage, key.algorithm, key.mode))

    @staticmethod
    def _kcvs(algorithm: KeyAlgorithm, value: bytearray) -> dict[KcvMethod, bytes]:
        with _crypto("check value"):
            kcvs = {KcvMethod.LEGACY: compute_kcv(algorithm, bytes(value))}
            if algorithm is not KeyAlgorithm.SM4:
                kcvs[KcvMethod.CMAC] = compute_kcv(algorithm, bytes(value), KcvMethod.CMAC)
        return kcvs

    @staticmethod
    def _originator(
        name: str, algorithm: KeyAlgorithm, clear: bytearray, ksn: bytes
    ) -> _Originator:
        expected = dukpt.TDES_KSN_LEN if algorithm is KeyAlgorithm.TDES else dukpt_aes.AES_KSN_LEN
        if not isinstance(ksn, bytes | bytearray) or len(ksn) != expected:
            raise InvalidData(
                f"key {name!r}: a {algorithm.value} initial DUKPT key needs its {expected}-byte "
                f"KSN, got {len(ksn) if isinstance(ksn, bytes | bytearray) else 0} bytes"
            )
        with _crypto(f"key {name!r}: DUKPT"):
            if algorithm is KeyAlgorithm.TDES:
                return dukpt.TdesOriginator(bytes(clear), bytes(ksn))
            return dukpt_aes.AesOriginator(bytes(clear), bytes(ksn))

    @staticmethod
    def _block_attributes(name: str, header: Header) -> KeyAttributes:
        try:
            usage = KeyUsage(str(header.key_usage))
            mode = ModeOfUse(str(header.mode_of_use))
        except ValueError:
            raise FormatNotSupported(
                f"key {name!r}: the pad does not take TR-31 usage {header.key_usage} with "
                f"mode {header.mode_of_use}"
            ) from None
        algorithm = _TR31_ALGORITHMS.get(str(header.algorithm))
        if algorithm is None:
            raise FormatNotSupported(
                f"key {name!r}: the pad does not take TR-31 algorithm {header.algorithm} "
                "(T: TDES, A: AES)"
            )
        return KeyAttributes(usage, algorithm, mode)

    @staticmethod
    def _block_ksn(name: str, header: Header, attributes: KeyAttributes) -> bytes:
        if attributes.usage is not KeyUsage.INITIAL_DUKPT:
            return b""
        ks, ik = header.block("KS"), header.block("IK")
        try:
            if ks is not None:
                return bytes.fromhex(ks.data)
            if ik is not None and attributes.algorithm is KeyAlgorithm.AES:
                return bytes.fromhex(ik.data) + bytes(4)
        except ValueError:
            raise InvalidData(f"key {name!r}: the key block's KSN is not hex") from None
        raise InvalidData(
            f"key {name!r}: an initial DUKPT key block needs its KSN in a KS optional block"
        )

    @staticmethod
    def _fixed_pin_block(
        entry: _Key, format: PinFormat, pan: str | None, padding: int, pin: str
    ) -> bytes:
        key = entry.secret()
        if format is PinFormat.ISO4:
            if not pan:
                raise InvalidData("format iso4 needs the PAN")
            return pinblock.encipher_iso4(key, pin, pan)
        clear = _clear_block(format, pan, padding, pin)
        return prim.encrypt_ecb(KeyAlgorithm.TDES, key, clear)

    @staticmethod
    def _dukpt_pin_block(
        entry: _Key, format: PinFormat, pan: str | None, padding: int, pin: str
    ) -> PinBlock:
        originator = entry.originator
        assert originator is not None
        if originator.exhausted:
            raise DukptOverflow(f"key {entry.name!r}: the DUKPT transaction counter is exhausted")
        if isinstance(originator, dukpt.TdesOriginator):
            clear = _clear_block(format, pan, padding, pin)
            ksn = originator.ksn.to_bytes()
            pin_key = originator.key(dukpt.TdesKeyUsage.PIN)
            block = prim.encrypt_ecb(KeyAlgorithm.TDES, pin_key, clear)
        else:
            if not pan:
                raise InvalidData("format iso4 needs the PAN")
            ksn = originator.ksn.to_bytes()
            kind = dukpt_aes.AesKeyType.aes_of_length(entry.length)
            pin_key = originator.working_key(dukpt_aes.AesKeyUsage.PIN_ENCRYPTION, kind)
            block = pinblock.encipher_iso4(pin_key, pin, pan)
        with contextlib.suppress(dukpt.KsnExhaustedError):
            originator.advance()  # at the end this block stands; the next is DukptOverflow
        return PinBlock(block, format, ksn)

    def _mac_key(
        self, key: str, padding: int, modes: frozenset[ModeOfUse], verb: str
    ) -> tuple[_Key, maclib.MacAlgorithm, int | None]:
        entry = self._usable(key)
        algorithm = _MAC_ALGORITHM.get(entry.usage)
        if algorithm is None:
            raise UseViolation(
                f"key {key!r} is a {entry.usage.value} key; MACs need an M1, M3 or M6 key"
            )
        if entry.mode not in modes:
            raise UseViolation(f"key {key!r} (mode {entry.mode.value}) may not {verb} MACs")
        if padding not in (1, 2):
            raise InvalidData(f"MAC padding is ISO/IEC 9797-1 method 1 or 2, got {padding!r}")
        method = None if algorithm is maclib.MacAlgorithm.CMAC else padding
        return entry, algorithm, method


def _clear_block(format: PinFormat, pan: str | None, padding: int, pin: str) -> bytes:
    """The clear 8-byte ISO 9564-1 block of format 0, 1 or 3."""
    fmt = _TDES_PIN_FORMATS[format]
    if fmt is not pinblock.PinBlockFormat.ISO_1 and not pan:
        raise InvalidData(f"format {format.value} needs the PAN")
    if fmt is pinblock.PinBlockFormat.ISO_0 and padding != 0xF:
        # ISO 9564-1 fills format 0 with F; some hosts ask for another nibble.
        pinblock.check_pin(pin)
        assert pan is not None
        field = bytes.fromhex(f"0{len(pin):X}{pin}".ljust(16, f"{padding:X}"))
        return prim.xor_bytes(field, pinblock.pan_field_iso0(pan))
    return pinblock.build_clear_block(fmt, pin, pan)
