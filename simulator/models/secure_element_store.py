"""The secure element's key table: its slots, the checks every key passes, key separation.

`KeyStore` is the base of `simulator.models.secure_element.SecureElement`: the keys by
name (`_Key`: a value in a wiped `bytearray`, components under construction, check
values, a DUKPT originator), what is there (`KeyStore.details`, `KeyStore.kcv`), erasing
(`KeyStore.delete_key`, `KeyStore.initialize`), the checks on names, attributes, lengths
and room, the key-separation fingerprints, and keeping a checked key. It also holds
`_crypto`, which turns a `protocols` crypto error into a typed `hal.errors` one with no
chained traceback. Loading keys is `simulator.models.secure_element_loading`; using them
`simulator.models.secure_element_crypto`. The rules are in the docstring of
`simulator.models.secure_element`.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from types import MappingProxyType
from typing import TypeAlias

from hal.devices.pin_pad_model import (
    EncryptionState,
    KcvMethod,
    KeyAlgorithm,
    KeyAttributes,
    KeyDetail,
    KeyState,
    KeyUsage,
    ModeOfUse,
    check_key_name,
)
from hal.errors import (
    DukptOverflow,
    FormatNotSupported,
    HalError,
    InvalidData,
    InvalidKeyLength,
    KcvMismatch,
    KeyNotFound,
    KeyNoValue,
    ModeNotSupported,
    NoKeyRam,
    UseViolation,
)
from protocols import crypto_primitives as prim
from protocols import dukpt, dukpt_aes
from protocols.crypto_primitives import CryptoError
from protocols.kcv import KcvMismatchError, compute_kcv
from protocols.tr31_header import Tr31Error, Tr31KeyError

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


class KeyStore:
    """The key table of a `SecureElement` and the checks shared by loading and use.

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

    # --- erasing keys -------------------------------------------------------------------

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

    def _discard(self, name: str) -> None:
        key = self._keys.pop(name, None)
        if key is not None:
            key.wipe()

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
