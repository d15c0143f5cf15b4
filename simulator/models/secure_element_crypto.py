"""The secure element's use of keys: PIN blocks (fixed keys and DUKPT), ciphers, MACs.

`KeyUse` makes PIN blocks under a ``P0`` key or a DUKPT originator of a ``B1`` key
(`KeyUse.pin_block`), enciphers and deciphers under ``D0`` keys (`KeyUse.crypt`), makes
and checks MACs under ``M1``, ``M3`` and ``M6`` keys (`KeyUse.mac`, `KeyUse.verify_mac`)
and draws random numbers; each key only for its usage and mode of use (`UseViolation`).
The rules are in the docstring of `simulator.models.secure_element`.
"""

from __future__ import annotations

import contextlib
import secrets

from hal.devices.pin_pad_model import (
    CipherMode,
    KeyAlgorithm,
    KeyUsage,
    ModeOfUse,
    PinBlock,
    PinFormat,
)
from hal.errors import (
    DukptOverflow,
    FormatNotSupported,
    InvalidData,
    ModeNotSupported,
    UseViolation,
)
from protocols import crypto_primitives as prim
from protocols import dukpt, dukpt_aes, pinblock
from protocols import mac as maclib
from simulator.models.secure_element_store import KeyStore, _crypto, _Key

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


class KeyUse(KeyStore):
    """Using the keys of a `SecureElement`: PIN blocks, encryption, MACs, random numbers."""

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

    # --- helpers ------------------------------------------------------------------------

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
