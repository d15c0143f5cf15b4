"""The ``zt588`` driver's key management.

`Zt588KeyManagement`: a first KEK from clear components, XORed in host memory and loaded
in the clear ('1'); keys enciphered under a KEK ('2'); check values (`_kcv_matches`, over
at least `_KCV_LENGTH` bytes); a slot that must not keep a refused key overwritten with
random bytes; the pad's wipe (`initialize`). The rules: `drivers.pin_pad.zt588` (the
module header); the table of names: `drivers.pin_pad.zt588_keymap`.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping

from drivers.pin_pad.zt588_core import Zt588Core, log
from drivers.pin_pad.zt588_keymap import _KEY_TYPES, _Components, _Slot
from hal.devices.pin_pad import (
    Initialized,
    KcvMethod,
    KeyAlgorithm,
    KeyAttributes,
    KeyDetail,
    KeyState,
    KeyUsage,
)
from hal.devices.pin_pad_model import key_weakness
from hal.errors import (
    HalError,
    HardwareError,
    InvalidData,
    InvalidKeyLength,
    KcvMismatch,
    KeyInvalid,
    KeyNotFound,
    KeyNoValue,
    ModeNotSupported,
    NoKeyRam,
    UnsupportedOperation,
    UseViolation,
)
from protocols import zt588
from protocols.crypto_primitives import encrypt_ecb

_KCV_LENGTH = 3


def _des_check(key: bytes) -> bytes:
    """The whole check block DES(key, zeros), which every KCV prefix is compared with."""
    return encrypt_ecb(KeyAlgorithm.TDES, key, bytes(8))


def _kcv_matches(check: bytes, kcv: bytes) -> bool:
    """Whether ``kcv`` is the start of ``check`` (or ``check`` of it), over at least
    `_KCV_LENGTH` bytes: a shorter check value (one byte matches a wrong key one time in
    256) checks nothing and never matches."""
    size = min(len(check), len(kcv))
    return size >= _KCV_LENGTH and secrets.compare_digest(check[:size], kcv[:size])


def _check_kcv_length(kcv: bytes) -> None:
    if len(kcv) < _KCV_LENGTH:
        raise InvalidData(f"a key check value is at least {_KCV_LENGTH} bytes; got {len(kcv)}")


class Zt588KeyManagement(Zt588Core):
    """Key loading, check values and the wipe (see the module header)."""

    async def load_component(
        self, name: str, component: bytes, attributes: KeyAttributes, kcv: bytes
    ) -> KeyDetail:
        """Check the component's KCV and XOR it in (host memory; nothing goes to the pad)."""
        self._check_attributes(attributes)
        if attributes.usage is not KeyUsage.KEK:
            raise InvalidData(f"{self.name}: only a key-encryption key arrives in components")
        if len(component) not in (8, 16, 24):
            raise InvalidKeyLength(f"a TDES component is 8, 16 or 24 bytes, got {len(component)}")
        if name in self.keymap.keys:
            raise InvalidData(f"{self.name}: {name!r} holds a loaded key")
        _check_kcv_length(kcv)
        if not _kcv_matches(_des_check(component), kcv):
            raise KcvMismatch(f"{self.name}: the check value of a component of {name!r} is wrong")
        held = self._components.get(name)
        if held is None:
            held = self._components[name] = _Components(attributes, component)
        else:
            if held.attributes != attributes:
                raise InvalidData(f"{self.name}: the components of {name!r} differ in attributes")
            if len(held.value) != len(component):
                raise InvalidKeyLength(
                    f"the components of {name!r} are {len(held.value)} bytes, got {len(component)}"
                )
            held.add(component)
        self._report()
        return KeyDetail(
            name=name,
            usage=attributes.usage,
            algorithm=attributes.algorithm,
            mode_of_use=attributes.mode_of_use,
            length=len(held.value),
            state=KeyState.CONSTRUCTING,
            components=held.count,
        )

    async def activate_key(self, name: str, kcv: bytes) -> KeyDetail:
        """Check the combined key's KCV, load it with '1' into a TMK slot, check the
        pad's KCV."""
        held = self._components.get(name)
        if held is None:
            raise KeyNotFound(f"{self.name}: no components were loaded for {name!r}")
        if held.count < 2:
            raise KeyNoValue(f"{self.name}: {name!r} has {held.count} component(s), needs 2")
        _check_kcv_length(kcv)
        try:
            combined = bytes(held.value)
            weakness = key_weakness(KeyAlgorithm.TDES, combined)
            if weakness is not None:
                # Sound components can still combine into a weak key; it never reaches
                # the pad (the service cannot see the combined value: only we do).
                raise KeyInvalid(f"{self.name}: the combined key {name!r} is refused: {weakness}")
            check = _des_check(combined)
            if not _kcv_matches(check, kcv):
                raise KcvMismatch(f"{self.name}: the combined key {name!r} has another KCV")
            slot = self._free_slot(KeyUsage.KEK)
            command = zt588.LoadPlainKey(slot, zt588.KeyType.TMK, combined)
            reply = await self._ask(command)
            if isinstance(reply, zt588.ErrorReply):
                raise self._refused(reply, "load the key", key=name)
            if not isinstance(reply, zt588.KeyLoaded) or not _kcv_matches(check, reply.kcv):
                await self._scramble(slot, zt588.KeyType.TMK, None)
                raise KcvMismatch(
                    f"{self.name}: the pad's check value of {name!r} is not the combined key's; "
                    "its slot was overwritten"
                )
        finally:
            self._components.pop(name, None)
            held.wipe()
        entry = _Slot(
            slot,
            KeyUsage.KEK,
            held.attributes.algorithm,
            held.attributes.mode_of_use,
            len(held.value),
            check[:_KCV_LENGTH],
            held.count,
        )
        self._store(name, entry)
        return entry.detail(name)

    async def load_key(
        self,
        name: str,
        value: bytes,
        kek: str,
        attributes: KeyAttributes,
        kcv: bytes,
        ksn: bytes,
    ) -> KeyDetail:
        """'2': the key enciphered under ``kek``'s slot; the pad's KCV must be ``kcv``."""
        self._check_attributes(attributes)
        if ksn:
            raise InvalidData(f"{self.name}: the ZT588 takes no DUKPT keys")
        wrapper = self._loaded(kek)
        if wrapper.usage is not KeyUsage.KEK:
            raise UseViolation(f"{self.name}: {kek!r} is not a key-encryption key")
        if len(value) not in (8, 16, 24):
            raise InvalidKeyLength(f"a TDES key is 8, 16 or 24 bytes, got {len(value)}")
        if not kcv:
            raise KcvMismatch(f"{self.name}: no check value came with {name!r}")
        _check_kcv_length(kcv)
        key_type = _KEY_TYPES[attributes.usage]
        slot = self._free_slot(attributes.usage)
        reply = await self._ask(zt588.LoadEncryptedKey(slot, wrapper.slot, key_type, value))
        if isinstance(reply, zt588.ErrorReply):
            raise self._refused(reply, "load the key", key=kek)
        if not isinstance(reply, zt588.KeyLoaded) or not _kcv_matches(reply.kcv, kcv):
            await self._scramble(slot, key_type, wrapper.slot)
            raise KcvMismatch(
                f"{self.name}: {name!r} deciphered to a key whose check value is not the one "
                "given; nothing is loaded (the slot was overwritten)"
            )
        entry = _Slot(
            slot,
            attributes.usage,
            attributes.algorithm,
            attributes.mode_of_use,
            len(value),
            reply.kcv[:_KCV_LENGTH],
        )
        old = self.keymap.keys.get(name)
        self._store(name, entry)
        if old is not None:
            under = None if old.usage is KeyUsage.KEK else wrapper.slot
            await self._scramble(old.slot, _KEY_TYPES[old.usage], under)
        return entry.detail(name)

    async def load_key_block(self, name: str, key_block: str, kbpk: str) -> KeyDetail:
        raise UnsupportedOperation(f"{self.name}: the ZT588 takes no TR-31 key blocks")

    async def delete_key(self, name: str) -> None:
        raise UnsupportedOperation(f"{self.name}: the ZT588 erases only all keys (initialize)")

    async def key_details(self) -> Mapping[str, KeyDetail]:
        details = {name: entry.detail(name) for name, entry in self.keymap.keys.items()}
        for name, held in self._components.items():
            details[name] = KeyDetail(
                name=name,
                usage=held.attributes.usage,
                algorithm=held.attributes.algorithm,
                mode_of_use=held.attributes.mode_of_use,
                length=len(held.value),
                state=KeyState.CONSTRUCTING,
                components=held.count,
            )
        return details

    async def kcv(self, name: str, method: KcvMethod) -> bytes:
        if name in self._components:
            raise KeyNoValue(f"{self.name}: {name!r} is still being built from components")
        entry = self._loaded(name)
        if method is not KcvMethod.LEGACY:
            raise ModeNotSupported(f"{self.name}: the ZT588 gives legacy check values only")
        return entry.kcv

    async def initialize(self) -> None:
        """The pad's wipe ('5' '0' '1'): every slot erased; the key map emptied."""
        self._wipe_components()
        self._pin_held = False
        self._block_data = None
        await self._control(zt588.Control.misc(zt588.Misc.WIPE), "wipe the keys")
        self.keymap.keys.clear()
        self.keymap.save()
        self._report()
        self._emit(Initialized())

    # --- helpers ------------------------------------------------------------------------

    def _check_attributes(self, attributes: KeyAttributes) -> None:
        if attributes.algorithm is not KeyAlgorithm.TDES:
            raise ModeNotSupported(f"{self.name}: the ZT588 stores TDES keys only")
        if attributes.usage not in _KEY_TYPES:
            raise InvalidData(f"{self.name}: the ZT588 takes K0 and P0 keys only")

    def _free_slot(self, usage: KeyUsage) -> int:
        slot = self.keymap.free_slot(usage)
        if slot is None:
            raise NoKeyRam(f"{self.name}: every {usage.value} slot of the pad is in use")
        return slot

    def _store(self, name: str, entry: _Slot) -> None:
        self.keymap.keys[name] = entry
        self.keymap.save()
        self._report()

    async def _scramble(self, slot: int, key_type: zt588.KeyType, under: int | None) -> None:
        """Overwrite a slot with random bytes (so it keeps no key it should not)."""
        noise = secrets.token_bytes(16)
        command: zt588.Command
        if under is None:
            command = zt588.LoadPlainKey(slot, key_type, noise)
        else:
            command = zt588.LoadEncryptedKey(slot, under, key_type, noise)
        try:
            reply = await self._ask(command)
        except HalError as exc:
            log.error("%s: slot %02Xh could not be overwritten: %s", self.name, slot, exc)
            raise HardwareError(
                f"{self.name}: a slot holding a refused key could not be overwritten ({exc})"
            ) from None
        if isinstance(reply, zt588.ErrorReply):
            log.error("%s: slot %02Xh could not be overwritten: %s", self.name, slot, reply)
