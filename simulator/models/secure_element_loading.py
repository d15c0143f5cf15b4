"""The secure element's key loading: clear components, keys under a KEK, TR-31 blocks.

`KeyLoading` builds the first key-encryption key from clear components under dual
control (`KeyLoading.load_component`, `KeyLoading.activate`), loads later keys
enciphered under a ``K0`` KEK (`KeyLoading.load_key`) or as TR-31 key blocks under a
``K1`` key block protection key (`KeyLoading.load_key_block`), and enforces the loading
rules: check values, weak values, no key stronger than the key protecting it, a name
keeps its attributes, a value keeps its usage (key separation, with the fingerprints of
`simulator.models.secure_element_store.KeyStore`). The rules are in the docstring of
`simulator.models.secure_element`.
"""

from __future__ import annotations

import contextlib
import hmac

from hal.devices.pin_pad_model import (
    KeyAlgorithm,
    KeyAttributes,
    KeyDetail,
    KeyUsage,
    ModeOfUse,
    key_strength,
    key_weakness,
)
from hal.errors import (
    DuplicateKey,
    FormatNotSupported,
    HalError,
    InvalidData,
    InvalidKeyLength,
    KcvMismatch,
    KeyInvalid,
    KeyNotFound,
    KeyNoValue,
    UseViolation,
)
from protocols import crypto_primitives as prim
from protocols import tr31
from protocols.kcv import verify_kcv
from protocols.tr31_header import Header, Version
from simulator.models.secure_element_store import (
    COMPONENT_USAGES,
    KeyStore,
    _canonical,
    _crypto,
    _Key,
    _wipe,
)

_UNWRAP = frozenset({ModeOfUse.BOTH, ModeOfUse.DECRYPT})
# TR-31 header algorithm codes the element takes (``D``, single DES, it does not).
_TR31_ALGORITHMS = {"T": KeyAlgorithm.TDES, "A": KeyAlgorithm.AES}


class KeyLoading(KeyStore):
    """Loading keys into a `SecureElement` (components, under a KEK, TR-31 blocks)."""

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

    # --- helpers ------------------------------------------------------------------------

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
