"""`PinPadService`'s argument checks: what it can refuse before a command is queued.

Each check takes the device's name (for its messages) and what it needs of the pad's
capabilities, and returns the argument checked (or raises). None of them asks the
device: the rules evaluated against the device's own `key_details` are in
`hal.devices.pin_pad_keys`. No message quotes a value that may be secret: an invalid
key name, a PAN, key bytes or data are described by their length or type only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from hal.devices.pin_pad import (
    FUNCTION_KEYS,
    KEY_CHARACTERS,
    MAC_USAGES,
    CipherMode,
    EntrySpec,
    KcvMethod,
    KeyAlgorithm,
    KeyAttributes,
    KeyUsage,
    ModeOfUse,
    PinFormat,
    PinPadCapabilities,
    check_key_name,
)
from hal.errors import (
    ErrorCode,
    FormatNotSupported,
    InvalidData,
    InvalidKeyLength,
    KeyInvalid,
    ModeNotSupported,
    UnsupportedOperation,
)
from protocols.crypto_primitives import BLOCK_SIZES, KEY_LENGTHS
from protocols.tr31_header import Tr31Error, Version, parse_header
from protocols.tracks import mask_pan

__all__ = [
    "DUKPT_KSN_LENGTHS",
    "KCV_MIN_LENGTH",
    "MAX_RANDOM",
    "MODES_OF_USE",
    "NAMED_IN_PIN_MODE",
    "PIN_FORMAT_ALGORITHMS",
    "PinBlockData",
    "check_customer_data",
    "check_key_length",
    "check_ksn",
    "crypt_args",
    "data_bytes",
    "describe",
    "describe_spec",
    "differences",
    "entry_spec",
    "enum_member",
    "is_int",
    "kcv_bytes",
    "key_attributes",
    "key_block_attributes",
    "key_bytes",
    "key_name",
    "key_set",
    "mac_args",
    "mask_customer_data",
    "names",
    "numbers",
    "pin_block_data",
    "with_article",
]

E = TypeVar("E", KeyUsage, ModeOfUse, KeyAlgorithm, PinFormat, CipherMode, KcvMethod)

#: The modes of use a key of each usage may have (TR-31:2018 Table 6, as a PIN pad
#: needs them): a PIN key enciphers (a PIN pad deciphers no PIN block), data and
#: key-encryption keys encipher and/or decipher, MAC keys generate and/or verify, an
#: initial DUKPT key only derives.
MODES_OF_USE: Mapping[KeyUsage, frozenset[ModeOfUse]] = {
    KeyUsage.PIN: frozenset({ModeOfUse.ENCRYPT, ModeOfUse.BOTH}),
    KeyUsage.DATA: frozenset({ModeOfUse.ENCRYPT, ModeOfUse.DECRYPT, ModeOfUse.BOTH}),
    KeyUsage.KEK: frozenset({ModeOfUse.ENCRYPT, ModeOfUse.DECRYPT, ModeOfUse.BOTH}),
    KeyUsage.KBPK: frozenset({ModeOfUse.ENCRYPT, ModeOfUse.DECRYPT, ModeOfUse.BOTH}),
    KeyUsage.INITIAL_DUKPT: frozenset({ModeOfUse.DERIVE, ModeOfUse.NONE}),
    **{
        usage: frozenset({ModeOfUse.GENERATE_VERIFY, ModeOfUse.GENERATE, ModeOfUse.VERIFY})
        for usage in MAC_USAGES
    },
}

#: The key algorithm each PIN block format is enciphered with (ISO 9564-1: formats 0-3
#: under TDES, format 4 under AES; IBM 3624 under TDES).
PIN_FORMAT_ALGORITHMS: Mapping[PinFormat, KeyAlgorithm] = {
    PinFormat.ISO0: KeyAlgorithm.TDES,
    PinFormat.ISO1: KeyAlgorithm.TDES,
    PinFormat.ISO3: KeyAlgorithm.TDES,
    PinFormat.ISO4: KeyAlgorithm.AES,
    PinFormat.IBM3624: KeyAlgorithm.TDES,
}

#: The length of an initial key serial number (ANSI X9.24-1: 10 bytes; X9.24-3: 12).
DUKPT_KSN_LENGTHS: Mapping[KeyAlgorithm, int] = {KeyAlgorithm.TDES: 10, KeyAlgorithm.AES: 12}

#: The PAN lengths each format takes (`PinPad.get_pin_block`); formats 1 and IBM 3624
#: use no PAN.
_PAN_LENGTHS: Mapping[PinFormat, tuple[int, int]] = {
    PinFormat.ISO0: (13, 19),
    PinFormat.ISO3: (13, 19),
    PinFormat.ISO4: (12, 19),
}
_PAN_MAX = 19

_TR31_ALGORITHMS = {"T": KeyAlgorithm.TDES, "A": KeyAlgorithm.AES}
MAX_RANDOM = 256
#: What a PIN entry's key event may name: function keys, never a digit.
NAMED_IN_PIN_MODE = frozenset(FUNCTION_KEYS)
_MAC_PADDINGS = (1, 2)
#: The shortest key check value taken (a shorter one checks next to nothing).
KCV_MIN_LENGTH = 3


@dataclass(frozen=True, repr=False)
class PinBlockData:
    """A PIN block's arguments, checked; its text masks the PAN."""

    key: str
    format: PinFormat
    customer_data: str
    padding: int

    def __str__(self) -> str:
        return (
            f"key={self.key!r}, format={self.format.value}, "
            f"customer_data={mask_customer_data(self.customer_data)}, padding={self.padding}"
        )

    __repr__ = __str__


# --- checks against the pad's capabilities ---------------------------------------------


def entry_spec(
    device: str,
    keyboard: frozenset[str],
    min_len: int,
    max_len: int,
    auto_end: bool,
    active_keys: Iterable[str] | None,
    terminate_keys: Iterable[str],
) -> EntrySpec:
    """Check an entry's keys against the keyboard; lengths are checked already."""
    active = keyboard if active_keys is None else key_set(active_keys, "active_keys")
    terminate = key_set(terminate_keys, "terminate_keys")
    unknown = (active | terminate) - keyboard
    if unknown:
        raise KeyInvalid(
            f"{device}'s keyboard has no key {names(unknown)}; it has {names(keyboard)}"
        )
    if not terminate <= active:
        raise InvalidData(f"terminate keys must be active keys; {names(terminate - active)} is not")
    characters = terminate & KEY_CHARACTERS.keys()
    if characters:
        raise InvalidData(
            f"a terminate key must be a function key, not {names(characters)} "
            "(it would add to the entry)"
        )
    if not isinstance(auto_end, bool):
        raise InvalidData("auto_end must be True or False")
    if not terminate and not auto_end:
        raise InvalidData(
            "an entry with no terminate key must end by itself (auto_end=True)",
            error_code=ErrorCode.NO_TERMINATE_KEYS.value,
        )
    return EntrySpec(
        min_len=min_len,
        max_len=max_len,
        auto_end=auto_end,
        active_keys=active,
        terminate_keys=terminate,
    )


def pin_block_data(
    device: str,
    caps: PinPadCapabilities,
    key: str,
    format: PinFormat,
    customer_data: str,
    padding: int,
) -> PinBlockData:
    """Check a PIN block's arguments against the pad (before queueing)."""
    key = key_name(key, "key")
    pin_format = enum_member(PinFormat, format, "format")
    if pin_format not in caps.pin_formats:
        raise FormatNotSupported(
            f"{device} makes no {pin_format.value} PIN blocks; it makes "
            f"{names(f.value for f in caps.pin_formats)}"
        )
    check_customer_data(pin_format, customer_data)
    if not is_int(padding) or not 0 <= padding <= 0xF:
        raise InvalidData(f"padding is one nibble, 0 to 15; got {padding!r}")
    return PinBlockData(key, pin_format, customer_data, padding)


def key_attributes(
    device: str,
    caps: PinPadCapabilities,
    usage: KeyUsage,
    algorithm: KeyAlgorithm,
    mode_of_use: ModeOfUse,
) -> KeyAttributes:
    """Check a key's usage, algorithm and mode of use against each other and the pad."""
    usage = enum_member(KeyUsage, usage, "usage")
    algorithm = enum_member(KeyAlgorithm, algorithm, "algorithm")
    mode_of_use = enum_member(ModeOfUse, mode_of_use, "mode_of_use")
    if usage not in caps.usages:
        raise InvalidData(
            f"{device} takes no {usage.value} keys; it takes {names(u.value for u in caps.usages)}"
        )
    if algorithm not in caps.algorithms:
        raise ModeNotSupported(
            f"{device} stores no {algorithm.value} keys; it stores "
            f"{names(a.value for a in caps.algorithms)}"
        )
    if mode_of_use not in MODES_OF_USE[usage]:
        raise InvalidData(
            f"a {usage.value} key may not have mode of use {mode_of_use.value} "
            f"(it may have {names(m.value for m in MODES_OF_USE[usage])})"
        )
    if usage is KeyUsage.MAC_ISO9797_3 and algorithm is not KeyAlgorithm.TDES:
        raise ModeNotSupported(
            f"ISO/IEC 9797-1 MAC algorithm 3 ({usage.value}) is defined for TDES keys, "
            f"not {algorithm.value}"
        )
    if usage is KeyUsage.INITIAL_DUKPT and algorithm not in caps.dukpt:
        raise ModeNotSupported(f"{device} derives no {algorithm.value} DUKPT keys")
    return KeyAttributes(usage, algorithm, mode_of_use)


def check_ksn(attributes: KeyAttributes, ksn: bytes) -> bytes:
    if not isinstance(ksn, bytes | bytearray):
        raise InvalidData("ksn must be bytes")
    ksn = bytes(ksn)
    if attributes.usage is not KeyUsage.INITIAL_DUKPT:
        if ksn:
            raise InvalidData(
                f"only an initial DUKPT key ({KeyUsage.INITIAL_DUKPT.value}) takes a ksn"
            )
        return ksn
    wanted = DUKPT_KSN_LENGTHS[attributes.algorithm]
    if len(ksn) != wanted:
        raise InvalidData(
            f"an initial {attributes.algorithm.value} DUKPT key comes with a "
            f"{wanted}-byte initial KSN; got {len(ksn)} bytes"
        )
    return ksn


def key_block_attributes(
    device: str, caps: PinPadCapabilities, key_block: str
) -> tuple[Version, KeyAttributes]:
    """A TR-31 key block's version and the attributes its header gives, checked."""
    if not isinstance(key_block, str) or not key_block.isascii():
        raise InvalidData("a TR-31 key block is a string of ASCII characters")
    try:
        header, declared, _ = parse_header(key_block)
    except Tr31Error as exc:
        raise InvalidData(f"a malformed TR-31 key block: {exc}") from None
    if declared != len(key_block):
        raise InvalidData(
            f"the TR-31 key block says it is {declared} characters long; {len(key_block)} came"
        )
    usage = _tr31_value(KeyUsage, str(header.key_usage))
    if usage is None or usage not in caps.usages:
        raise FormatNotSupported(
            f"{device} takes no key of usage {str(header.key_usage)!r} "
            f"(it takes {names(u.value for u in caps.usages)})"
        )
    algorithm = _TR31_ALGORITHMS.get(str(header.algorithm))
    if algorithm is None or algorithm not in caps.algorithms:
        raise FormatNotSupported(
            f"{device} takes no key of TR-31 algorithm {str(header.algorithm)!r}"
        )
    mode = _tr31_value(ModeOfUse, str(header.mode_of_use))
    if mode is None or mode not in MODES_OF_USE[usage]:
        raise InvalidData(
            f"a {usage.value} key may not have mode of use {str(header.mode_of_use)!r} "
            f"(it may have {names(m.value for m in MODES_OF_USE[usage])})"
        )
    if usage is KeyUsage.INITIAL_DUKPT and algorithm not in caps.dukpt:
        raise FormatNotSupported(f"{device} derives no {algorithm.value} DUKPT keys")
    return header.version, KeyAttributes(usage, algorithm, mode)


def crypt_args(
    device: str,
    caps: PinPadCapabilities,
    key: str,
    data: bytes,
    mode: CipherMode,
    iv: bytes | None,
) -> tuple[str, bytes, CipherMode, bytes | None]:
    """Check an encipher's or decipher's arguments against the pad (before queueing)."""
    if "encrypt" not in caps.features():
        raise UnsupportedOperation(f"{device} does no data encryption")
    key = key_name(key, "key")
    cipher_mode = enum_member(CipherMode, mode, "mode")
    if cipher_mode not in caps.cipher_modes:
        raise ModeNotSupported(
            f"{device} does no {cipher_mode.value.upper()}; it does "
            f"{names(m.value.upper() for m in caps.cipher_modes)}"
        )
    data = data_bytes(data, "data")
    if iv is not None:
        if cipher_mode is CipherMode.ECB:
            raise InvalidData("ECB takes no IV")
        iv = data_bytes(iv, "iv")
    return key, data, cipher_mode, iv


def mac_args(
    device: str, caps: PinPadCapabilities, key: str, data: bytes, padding: int
) -> tuple[str, bytes, int]:
    if "mac" not in caps.features():
        raise UnsupportedOperation(f"{device} makes no MACs")
    key = key_name(key, "key")
    data = data_bytes(data, "data")
    if not is_int(padding) or padding not in _MAC_PADDINGS:
        raise InvalidData(f"padding is ISO/IEC 9797-1 padding method 1 or 2; got {padding!r}")
    return key, data, padding


# --- single arguments ------------------------------------------------------------------


def is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def key_name(name: object, what: str) -> str:
    """A valid key name; never echoes an invalid one (it could be key bytes by mistake).

    The error is raised outside the ``except`` block, so it carries no context that
    could hold what came.
    """
    try:
        return check_key_name(name)
    except ValueError:
        pass
    got = f"{len(name)} characters" if isinstance(name, str) else type(name).__name__
    raise InvalidData(f"{what} must name a key: 1-64 letters, digits, '_', '.' or '-' (got {got})")


def enum_member(cls: type[E], value: str, what: str) -> E:
    """``value`` as a member of ``cls``; the error quotes nothing that came and carries
    no context (a ``ValueError`` from the enum would quote it)."""
    try:
        return cls(value)
    except ValueError:
        pass
    raise InvalidData(f"{what} must be one of {names(member.value for member in cls)}")


def _tr31_value(cls: type[E], value: str) -> E | None:
    try:
        return cls(value)
    except ValueError:
        return None


def key_set(keys: Iterable[str], what: str) -> frozenset[str]:
    if isinstance(keys, str | bytes):
        raise InvalidData(f"{what} is a collection of key names, not one string")
    key_names = frozenset(keys)
    if not all(isinstance(key, str) for key in key_names):
        raise InvalidData(f"{what} must be key names (strings)")
    return key_names


def key_bytes(value: object, what: str) -> bytes:
    if not isinstance(value, bytes | bytearray | memoryview):
        raise InvalidData(f"{what} must be bytes")
    value = bytes(value)
    if not value:
        raise InvalidKeyLength(f"{what} is empty")
    return value


def data_bytes(value: object, what: str) -> bytes:
    if not isinstance(value, bytes | bytearray | memoryview):
        raise InvalidData(f"{what} must be bytes")
    value = bytes(value)
    if not value:
        raise InvalidData(f"{what} is empty")
    return value


def kcv_bytes(kcv: object, algorithm: KeyAlgorithm | None) -> bytes:
    """A check value: 3 bytes (`KCV_MIN_LENGTH`) to one cipher block."""
    if not isinstance(kcv, bytes | bytearray | memoryview):
        raise InvalidData("kcv must be bytes")
    kcv = bytes(kcv)
    longest = BLOCK_SIZES[algorithm] if algorithm is not None else max(BLOCK_SIZES.values())
    if not KCV_MIN_LENGTH <= len(kcv) <= longest:
        raise InvalidData(
            f"a key check value is {KCV_MIN_LENGTH} to {longest} bytes; got {len(kcv)}"
        )
    return kcv


def check_key_length(algorithm: KeyAlgorithm, length: int, what: str) -> None:
    allowed = KEY_LENGTHS[algorithm]
    if length not in allowed:
        raise InvalidKeyLength(
            f"{what} of a {algorithm.value} key is {numbers(allowed)} bytes "
            f"long; got {length} bytes"
        )


def check_customer_data(pin_format: PinFormat, customer_data: object) -> None:
    """The PAN must be the digits the format needs; a message never quotes it."""
    if not isinstance(customer_data, str):
        raise InvalidData("customer_data must be a string of digits")
    if customer_data and not (customer_data.isascii() and customer_data.isdigit()):
        raise InvalidData(
            f"customer_data (the PAN) must be decimal digits only; got {len(customer_data)} "
            "characters that are not all digits"
        )
    low, high = _PAN_LENGTHS.get(pin_format, (0, _PAN_MAX))
    if not low <= len(customer_data) <= high:
        raise InvalidData(
            f"{with_article(pin_format.value)} PIN block needs a PAN of {low} to {high} "
            f"digits; got {len(customer_data)} digits"
        )


# --- text for messages and logs --------------------------------------------------------


def mask_customer_data(customer_data: str) -> str:
    return mask_pan(customer_data) if customer_data else "''"


def differences(given: PinBlockData, now: PinBlockData) -> str:
    fields = ("key", "format", "customer_data", "padding")
    return ", ".join(f for f in fields if getattr(given, f) != getattr(now, f))


def describe(attributes: KeyAttributes) -> str:
    return (
        f"usage={attributes.usage.value}, algorithm={attributes.algorithm.value}, "
        f"mode_of_use={attributes.mode_of_use.value}"
    )


def describe_spec(spec: EntrySpec) -> str:
    return (
        f"min_len={spec.min_len}, max_len={spec.max_len}, auto_end={spec.auto_end}, "
        f"active_keys={len(spec.active_keys)}, terminate_keys={names(spec.terminate_keys)}"
    )


def numbers(values: Iterable[int]) -> str:
    return ", ".join(str(n) for n in sorted(values))


def names(values: Iterable[str]) -> str:
    return ", ".join(sorted(values)) or "none"


def with_article(word: str) -> str:
    """``word`` with its indefinite article (``an iso4``, ``a tdes``)."""
    return f"{'an' if word[:1] in 'aeiou' else 'a'} {word}"
