"""`PinPadService`'s key usage and key separation rules, evaluated against the device.

Key separation (``docs/pinpad.md``, "Key separation rules"): what the service can know
from the device's `key_details` and from the arguments it is given, it enforces for
every backend, before the device is asked: clear components only while no
key-encryption key (``K0``/``K1``) is loaded (`UseViolation`); no component of all
zeros or with equal DES halves, no component identical to one already given for that
name, no combined key whose check value is the all-zero key's (`KeyInvalid`); a name
in use replaced only by a key of the same usage, algorithm and mode of use
(`DuplicateKey`); no key stronger than its KEK or KBPK (`UseViolation`); check values
of 3 bytes at least (`InvalidData`). The secure element behind a backend enforces the
rest (weak combined or deciphered keys, one usage per key value).

`KeyRules` asks the backend for its `key_details` and refuses a key used outside its
usage with an `IllegalKeyAccess` event before the error; `ComponentLog` remembers the
components given for each key under construction as HMACs under a secret of its own
(never the values). Messages name keys, never hold key material.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable, Iterable, Mapping

from hal.devices.pin_pad import (
    MAC_USAGES,
    IllegalKeyAccess,
    KeyAlgorithm,
    KeyAttributes,
    KeyDetail,
    KeyState,
    KeyUsage,
    ModeOfUse,
    PinPadBackend,
)
from hal.devices.pin_pad_checks import (
    PIN_FORMAT_ALGORITHMS,
    PinBlockData,
    describe,
    names,
    numbers,
    with_article,
)
from hal.devices.pin_pad_model import key_strength
from hal.errors import (
    DuplicateKey,
    ErrorCode,
    FormatNotSupported,
    InvalidData,
    InvalidKeyLength,
    KeyInvalid,
    KeyNotFound,
    KeyNoValue,
    UseViolation,
)
from hal.events import Event
from protocols.crypto_primitives import BLOCK_SIZES, KEY_LENGTHS
from protocols.kcv import compute_kcv
from protocols.tr31_header import Version

__all__ = ["ComponentLog", "KeyRules"]

#: Keys a key-encryption key (K0) or a key block protection key (K1) unwraps with.
_UNWRAPPING_MODES = frozenset({ModeOfUse.DECRYPT, ModeOfUse.BOTH})
_TR31_VERSION_ALGORITHM = {
    Version.A: KeyAlgorithm.TDES,
    Version.B: KeyAlgorithm.TDES,
    Version.C: KeyAlgorithm.TDES,
    Version.D: KeyAlgorithm.AES,
}
#: Usages a loaded key of which ends clear component loading (the first KEK is in).
_KEK_USAGES = (KeyUsage.KEK, KeyUsage.KBPK)


class KeyRules:
    """The rules a key's use must meet, from the device's own `key_details`.

    Args:
        device: the device's name, for messages.
        backend: the driver or simulator model, asked for its `key_details`.
        emit: publishes an event (`IllegalKeyAccess`) through the service.
    """

    def __init__(self, device: str, backend: PinPadBackend, emit: Callable[[Event], None]) -> None:
        self._device = device
        self._backend = backend
        self._emit = emit

    def __repr__(self) -> str:
        return f"KeyRules(device={self._device!r})"

    async def usable_key(self, name: str) -> KeyDetail:
        """The device's detail of ``name``; refused unless it is loaded."""
        detail = (await self._backend.key_details()).get(name)
        if detail is None:
            self._emit(IllegalKeyAccess(key_name=name, error_code=ErrorCode.KEY_NOT_FOUND.value))
            raise KeyNotFound(f"{self._device} holds no key {name!r}")
        if detail.state is not KeyState.LOADED:
            self._emit(IllegalKeyAccess(key_name=name, error_code=ErrorCode.KEY_NO_VALUE.value))
            raise KeyNoValue(
                f"{name!r} has no value yet: {detail.components} component(s) loaded, not activated"
            )
        return detail

    def refuse(self, key: str, message: str) -> None:
        """Refuse a use of ``key`` outside its usage: an event, then `UseViolation`."""
        self._emit(IllegalKeyAccess(key_name=key, error_code=ErrorCode.USE_VIOLATION.value))
        raise UseViolation(message)

    # --- uses of a loaded key ----------------------------------------------------------

    async def pin_key(self, data: PinBlockData, dukpt: frozenset[KeyAlgorithm]) -> None:
        """Refuse (with `IllegalKeyAccess`) a key that cannot make this PIN block."""
        key = data.key
        detail = await self.usable_key(key)
        if detail.usage is KeyUsage.PIN:
            if detail.mode_of_use not in (ModeOfUse.ENCRYPT, ModeOfUse.BOTH):
                self.refuse(
                    key,
                    f"the PIN key {key!r} (mode of use {detail.mode_of_use.value}) "
                    "may not encipher PIN blocks",
                )
        elif detail.usage is KeyUsage.INITIAL_DUKPT:
            if detail.algorithm not in dukpt:
                self.refuse(
                    key,
                    f"{self._device} derives no {detail.algorithm.value} DUKPT keys; "
                    f"{key!r} makes no PIN blocks here",
                )
        else:
            self.refuse(
                key,
                f"{key!r} is a {detail.usage.value} key; PIN blocks need a PIN key "
                f"({KeyUsage.PIN.value}) or an initial DUKPT key "
                f"({KeyUsage.INITIAL_DUKPT.value})",
            )
        wanted = PIN_FORMAT_ALGORITHMS[data.format]
        if detail.algorithm is not wanted:
            raise FormatNotSupported(
                f"{with_article(data.format.value)} PIN block is enciphered under "
                f"{wanted.value}; {key!r} is a {detail.algorithm.value} key"
            )

    async def data_key(self, key: str, data: bytes, iv: bytes | None, encrypt: bool) -> None:
        """Refuse a key that may not encipher (decipher) this data, or data it cannot."""
        allowed = (ModeOfUse.ENCRYPT if encrypt else ModeOfUse.DECRYPT, ModeOfUse.BOTH)
        verb = "encipher" if encrypt else "decipher"
        detail = await self.usable_key(key)
        if detail.usage is not KeyUsage.DATA:
            self.refuse(
                key,
                f"{key!r} is a {detail.usage.value} key; only data keys "
                f"({KeyUsage.DATA.value}) {verb} data",
            )
        if detail.mode_of_use not in allowed:
            self.refuse(
                key,
                f"the data key {key!r} (mode of use {detail.mode_of_use.value}) may not {verb}",
            )
        block = BLOCK_SIZES[detail.algorithm]
        if len(data) % block:
            raise InvalidData(
                f"{detail.algorithm.value} {verb}s whole {block}-byte blocks; got {len(data)} bytes"
            )
        if iv is not None and len(iv) != block:
            raise InvalidData(
                f"{with_article(detail.algorithm.value)} IV is {block} bytes; got {len(iv)}"
            )

    async def mac_key(self, key: str, modes: tuple[ModeOfUse, ...], verb: str) -> None:
        detail = await self.usable_key(key)
        if detail.usage not in MAC_USAGES:
            self.refuse(
                key,
                f"{key!r} is a {detail.usage.value} key; MACs need a MAC key "
                f"({names(u.value for u in MAC_USAGES)})",
            )
        if detail.mode_of_use not in modes:
            self.refuse(
                key,
                f"the MAC key {key!r} (mode of use {detail.mode_of_use.value}) may not {verb} MACs",
            )

    # --- loading keys ------------------------------------------------------------------

    def check_component_target(
        self, name: str, existing: KeyDetail, attributes: KeyAttributes, length: int
    ) -> None:
        """A component joins only the components of its name, of its attributes and length."""
        if existing.state is not KeyState.CONSTRUCTING:
            raise InvalidData(
                f"{name!r} holds a loaded key; delete it (or initialize) before "
                "loading components under that name"
            )
        if existing.attributes != attributes:
            raise InvalidData(
                f"the components of {name!r} are {describe(existing.attributes)}; "
                f"this one says {describe(attributes)}"
            )
        if existing.length and existing.length != length:
            raise InvalidKeyLength(
                f"the components of {name!r} are {existing.length} bytes long; "
                f"this one is {length} bytes"
            )

    def check_no_kek(self, name: str, details: Mapping[str, KeyDetail]) -> None:
        """Clear components build the first key-encryption key only."""
        keks = sorted(
            d.name
            for d in details.values()
            if d.usage in _KEK_USAGES and d.state is KeyState.LOADED
        )
        if keks:
            raise UseViolation(
                f"{self._device} holds the key-encryption key {keks[0]!r}: clear components "
                f"(here for {name!r}) are no longer taken; load a new KEK enciphered under "
                "it, or initialize first"
            )

    @staticmethod
    def check_not_zero(name: str, existing: KeyDetail, kcv: bytes) -> None:
        """The combined key's check value is the all-zero key's: the components cancel out
        (the device checks that the key has this check value)."""
        zero = compute_kcv(existing.algorithm, bytes(existing.length or 16))
        if hmac.compare_digest(kcv[: len(zero)], zero[: len(kcv)]):
            raise KeyInvalid(
                f"the combined key of {name!r} would be all zeros (its check value is "
                "the zero key's); load other components"
            )

    @staticmethod
    def check_replaceable(
        name: str, attributes: KeyAttributes, details: Mapping[str, KeyDetail]
    ) -> None:
        """A key replaces one of its name only if it has the same attributes."""
        old = details.get(name)
        if old is not None and old.attributes != attributes:
            raise DuplicateKey(
                f"{name!r} holds a key of {describe(old.attributes)}; a key of "
                f"{describe(attributes)} does not replace it (delete it first)"
            )

    def check_enciphered(
        self, name: str, kek: str, attributes: KeyAttributes, length: int, wrapper: KeyDetail
    ) -> None:
        """An enciphered key's length against its KEK's blocks, and its strength."""
        # The enciphered key fills whole blocks of the KEK's cipher.
        block = BLOCK_SIZES[wrapper.algorithm]
        fits = {-(-n // block) * block for n in KEY_LENGTHS[attributes.algorithm]}
        if length not in fits:
            raise InvalidKeyLength(
                f"{with_article(attributes.algorithm.value)} key enciphered under the "
                f"{wrapper.algorithm.value} key {kek!r} is "
                f"{numbers(fits)} bytes long; got {length}"
            )
        lengths = [n for n in KEY_LENGTHS[attributes.algorithm] if -(-n // block) * block == length]
        self.check_strength(name, attributes.algorithm, lengths, wrapper)

    def check_key_block(
        self,
        name: str,
        kbpk: str,
        version: Version,
        algorithm: KeyAlgorithm,
        wrapper: KeyDetail,
    ) -> None:
        """A TR-31 key block's version against its KBPK, and the key's strength."""
        wanted = _TR31_VERSION_ALGORITHM[version]
        if wrapper.algorithm is not wanted:
            raise FormatNotSupported(
                f"a version {version.value} key block is protected by a {wanted.value} "
                f"key; {kbpk!r} is {wrapper.algorithm.value}"
            )
        # The key's length is inside the block: its algorithm's shortest is the
        # least it can be (the device checks the length it finds).
        usable = [n for n in KEY_LENGTHS[algorithm] if key_strength(algorithm, n)]
        self.check_strength(name, algorithm, usable, wrapper)

    def check_strength(
        self, name: str, algorithm: KeyAlgorithm, lengths: Iterable[int], wrapper: KeyDetail
    ) -> None:
        """Refuse a key stronger than the key protecting it (whatever its length)."""
        least = min((key_strength(algorithm, n) for n in lengths), default=0)
        protecting = key_strength(wrapper.algorithm, wrapper.length)
        if least > protecting:
            self.refuse(
                wrapper.name,
                f"{with_article(algorithm.value)} key {name!r} is stronger than "
                f"{wrapper.name!r} ({wrapper.algorithm.value}, {wrapper.length} bytes), "
                "which would protect it",
            )

    def check_unwrapping(self, wrapper: KeyDetail, usage: KeyUsage, what: str) -> None:
        if wrapper.usage is not usage:
            self.refuse(
                wrapper.name,
                f"{wrapper.name!r} is a {wrapper.usage.value} key, not a {what} ({usage.value})",
            )
        if wrapper.mode_of_use not in _UNWRAPPING_MODES:
            self.refuse(
                wrapper.name,
                f"the {what} {wrapper.name!r} (mode of use {wrapper.mode_of_use.value}) may "
                "not decipher the keys it protects",
            )


class ComponentLog:
    """The components given for each key under construction, as HMACs under a secret
    of this log (never the values), to refuse one given twice."""

    def __init__(self) -> None:
        self._secret = secrets.token_bytes(32)
        self._seen: dict[str, list[bytes]] = {}

    def __repr__(self) -> str:
        return f"ComponentLog(keys={len(self._seen)})"

    def fingerprint(self, component: bytes) -> bytes:
        """The component's HMAC, parity bits ignored."""
        return hmac.new(self._secret, bytes(b & 0xFE for b in component), hashlib.sha256).digest()

    def forget(self, name: str) -> None:
        self._seen.pop(name, None)

    def check_new(self, name: str, fingerprint: bytes) -> list[bytes]:
        """Refuse a component given before for ``name``; the list to add it to once loaded."""
        seen = self._seen.setdefault(name, [])
        if any(hmac.compare_digest(fingerprint, other) for other in seen):
            raise KeyInvalid(
                f"a component of {name!r} is identical to one already given (each "
                "custodian brings their own)"
            )
        return seen
