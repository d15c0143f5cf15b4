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

from simulator.models.secure_element_crypto import KeyUse
from simulator.models.secure_element_loading import KeyLoading
from simulator.models.secure_element_store import COMPONENT_USAGES as COMPONENT_USAGES
from simulator.models.secure_element_store import MAX_KEYS
from simulator.models.secure_element_store import MODES as MODES

__all__ = ["MAX_KEYS", "SecureElement"]


class SecureElement(KeyLoading, KeyUse):
    """An EPP's key store and crypto engine (synchronous; keys in memory only).

    Args:
        max_keys: how many keys (constructing ones included) it holds.
        min_components: the fewest clear components a key is built from.
    """

    def __repr__(self) -> str:
        keys = ", ".join(repr(self._keys[name]) for name in sorted(self._keys))
        return f"SecureElement([{keys}])"
