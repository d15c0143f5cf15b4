"""`PinPadService`: the one implementation of `PinPad` over a backend.

The service is the only place that validates arguments against capabilities, enforces
key usage (from the device's own `key_details`, before the device is asked to use a
key), queues commands, applies timeouts and cancellation, stamps events and keeps
secrets out of logs and messages. Backends (drivers, simulator models) drive the device,
which holds the keys and the PIN.

What never appears in a log line, an event or an error message here: a PIN (the service
never sees one), a key value or component, a PIN block (its length only), data to
encipher or decipher (its length only), a full PAN (masked first 6 / last 4), a TR-31
key block (its header fields only).

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
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import logging
import secrets
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from hal.device import DeviceService
from hal.devices.pin_pad import (
    DEFAULT_TERMINATE_KEYS,
    FUNCTION_KEYS,
    KEY_CHARACTERS,
    MAC_USAGES,
    CipherMode,
    DataEntryResult,
    EntryCompletion,
    EntrySpec,
    IllegalKeyAccess,
    Initialized,
    KcvMethod,
    KeyAlgorithm,
    KeyAttributes,
    KeyDetail,
    KeyEvent,
    KeyState,
    KeyUsage,
    ModeOfUse,
    PinBlock,
    PinEntryResult,
    PinFormat,
    PinPad,
    PinPadBackend,
    PinPadCapabilities,
    PinPadStatus,
    check_key_name,
)
from hal.devices.pin_pad_model import key_strength, key_weakness
from hal.errors import (
    DuplicateKey,
    ErrorCode,
    FormatNotSupported,
    InvalidData,
    InvalidKeyLength,
    KeyInvalid,
    KeyNotFound,
    KeyNoValue,
    ModeNotSupported,
    SequenceError,
    UnsupportedOperation,
    UseViolation,
)
from hal.events import Event
from protocols.crypto_primitives import BLOCK_SIZES, KEY_LENGTHS
from protocols.kcv import compute_kcv
from protocols.tr31_header import Tr31Error, Version, parse_header
from protocols.tracks import mask_pan

__all__ = ["DUKPT_KSN_LENGTHS", "MODES_OF_USE", "PIN_FORMAT_ALGORITHMS", "PinPadService"]

log = logging.getLogger(__name__)

T = TypeVar("T")
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

#: Keys a key-encryption key (K0) or a key block protection key (K1) unwraps with.
_UNWRAPPING_MODES = frozenset({ModeOfUse.DECRYPT, ModeOfUse.BOTH})
_TR31_ALGORITHMS = {"T": KeyAlgorithm.TDES, "A": KeyAlgorithm.AES}
_TR31_VERSION_ALGORITHM = {
    Version.A: KeyAlgorithm.TDES,
    Version.B: KeyAlgorithm.TDES,
    Version.C: KeyAlgorithm.TDES,
    Version.D: KeyAlgorithm.AES,
}
_MAX_RANDOM = 256
#: What a PIN entry's key event may name: function keys, never a digit.
_NAMED_IN_PIN_MODE = frozenset(FUNCTION_KEYS)
_MAC_PADDINGS = (1, 2)
#: The shortest key check value taken (a shorter one checks next to nothing).
KCV_MIN_LENGTH = 3
#: Usages a loaded key of which ends clear component loading (the first KEK is in).
_KEK_USAGES = (KeyUsage.KEK, KeyUsage.KBPK)


@dataclass(frozen=True, repr=False)
class _PinBlockData:
    """A PIN block's arguments, checked; its text masks the PAN."""

    key: str
    format: PinFormat
    customer_data: str
    padding: int

    def __str__(self) -> str:
        return (
            f"key={self.key!r}, format={self.format.value}, "
            f"customer_data={_mask_customer_data(self.customer_data)}, padding={self.padding}"
        )

    __repr__ = __str__


class PinPadService(DeviceService[PinPadStatus, PinPadCapabilities], PinPad):
    """`PinPad` over any `PinPadBackend`.

    Args:
        backend: the driver or simulator model.
        name: the device's name (``pin_pad``).
        max_queue: commands queued or running before ``TooManyRequests``.
        close_timeout: seconds `close` waits for cancelled commands (an entry under way)
            to settle with the device before it closes the backend under them.
    """

    def __init__(
        self,
        backend: PinPadBackend,
        *,
        name: str = "pin_pad",
        max_queue: int = 16,
        close_timeout: float = 30.0,
    ) -> None:
        super().__init__(name, max_queue=max_queue)
        self._backend = backend
        self._close_timeout = close_timeout
        self._caps: PinPadCapabilities | None = None
        # Whether the last PIN entry left a PIN in the device that no PIN block has used.
        self._pin_held = False
        self._initialized_seen = False
        # What set_pin_block_data gave for the next PIN block, if anything.
        self._pin_block_data: _PinBlockData | None = None
        # A PIN entry is under way: key events must not name a digit.
        self._secure_entry = False
        # The components given for each key under construction, as HMACs under a secret
        # of this service (never the values), to refuse one given twice.
        self._component_secret = secrets.token_bytes(32)
        self._components_seen: dict[str, list[bytes]] = {}

    def __repr__(self) -> str:
        return f"PinPadService(name={self.name!r}, backend={type(self._backend).__name__})"

    # --- BackendListener -----------------------------------------------------------------

    def event(self, event: Event) -> None:
        """Publish a backend event; during a PIN entry a key event names no digit.

        The backend should already send ``digit=None`` for digit keys in a PIN entry;
        this is the second line of defence: anything but a function key's name is
        dropped from the event (and the drop logged, without the value).
        """
        if (
            self._secure_entry
            and isinstance(event, KeyEvent)
            and event.digit is not None
            and event.digit not in _NAMED_IN_PIN_MODE
        ):
            log.warning(
                "%s: the backend named a key in a PIN entry's key event; the name was dropped",
                self.name,
            )
            event = dataclasses.replace(event, digit=None)
        if isinstance(event, Initialized):
            self._initialized_seen = True
        super().event(event)

    # --- lifecycle ---------------------------------------------------------------------

    async def open(self) -> None:
        async with self._open_lock:
            if self._opened:
                return
            await self._backend.open(self)
            try:
                self._caps = self._backend.capabilities()
                self._opened = True
                self._pin_held = False
                self._pin_block_data = None
                self._last_status = await self._fetch_status()
            except BaseException as exc:
                self._opened = False
                try:
                    await self._backend.close()
                except Exception as close_exc:
                    exc.add_note(f"closing {self.name} afterwards failed too: {close_exc!r}")
                raise

    async def close(self) -> None:
        async with self._open_lock:
            if not self._opened:
                return
            try:
                await self._queue.cancel_all(wait=self._close_timeout)
            except TimeoutError:
                log.warning(
                    "%s: commands did not settle within %s s of the close; closing the "
                    "device under them",
                    self.name,
                    self._close_timeout,
                )
            self._opened = False
            self._pin_held = False
            self._pin_block_data = None
            try:
                await self._backend.close()
            finally:
                self._hub.close()

    # --- queries (no queue) ------------------------------------------------------------

    async def capabilities(self) -> PinPadCapabilities:
        self._require_open()
        return self._capabilities()

    def _capabilities(self) -> PinPadCapabilities:
        assert self._caps is not None  # set by open(), checked by _require_open()
        return self._caps

    async def _fetch_status(self) -> PinPadStatus:
        return await self._backend.get_status()

    async def _refresh(self) -> None:
        if self._opened:  # a command cut short by a close does not ask the device again
            self.status_changed(await self._backend.get_status())

    # --- keyboard ----------------------------------------------------------------------

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
        self._require_open()
        caps = self._capabilities()
        if "pin" not in caps.features():
            raise UnsupportedOperation(f"{self.name} takes no PIN entry")
        if not _is_int(min_len) or not _is_int(max_len):
            raise InvalidData("min_len and max_len must be integers")
        if not 0 <= min_len <= max_len or not 1 <= max_len <= caps.pin_max:
            raise InvalidData(
                f"a PIN entry needs 0 <= min_len <= max_len and 1 <= max_len <= "
                f"{caps.pin_max} (this pad's longest PIN); got min_len={min_len}, "
                f"max_len={max_len}",
                error_code=ErrorCode.MINIMUM_LENGTH.value,
            )
        spec = self._entry_spec(min_len, max_len, auto_end, active_keys, terminate_keys)

        async def op(command_id: int) -> PinEntryResult:
            if caps.pin_block_data_first and self._pin_block_data is None:
                raise SequenceError(
                    f"{self.name} formats the PIN block as the entry starts: call "
                    "set_pin_block_data before pin_entry"
                )
            self._pin_held = False  # a new entry replaces the PIN typed before
            self._secure_entry = True
            try:
                result = await self._backend.pin_entry(spec)
            finally:
                self._secure_entry = False
            self._pin_held = result.completion is not EntryCompletion.CANCEL and result.digits > 0
            log.debug(
                "%s: PinEntry #%d ended %s after %d digits",
                self.name,
                command_id,
                result.completion.value,
                result.digits,
            )
            return result

        return await self._run("PinEntry", _describe_spec(spec), op, timeout)

    async def data_entry(
        self,
        *,
        max_len: int,
        auto_end: bool = False,
        active_keys: Iterable[str] | None = None,
        terminate_keys: Iterable[str] = DEFAULT_TERMINATE_KEYS,
        timeout: float | None = None,
    ) -> DataEntryResult:
        self._require_open()
        if not self._capabilities().data_entry:
            raise UnsupportedOperation(f"{self.name} does no clear data entry")
        if not _is_int(max_len) or max_len < 1:
            raise InvalidData(
                f"a data entry takes max_len >= 1 characters; got {max_len!r}",
                error_code=ErrorCode.MINIMUM_LENGTH.value,
            )
        spec = self._entry_spec(0, max_len, auto_end, active_keys, terminate_keys)

        async def op(command_id: int) -> DataEntryResult:
            return await self._backend.data_entry(spec)

        return await self._run("DataEntry", _describe_spec(spec), op, timeout)

    def _entry_spec(
        self,
        min_len: int,
        max_len: int,
        auto_end: bool,
        active_keys: Iterable[str] | None,
        terminate_keys: Iterable[str],
    ) -> EntrySpec:
        """Check an entry's keys against the keyboard; lengths are checked already."""
        keyboard = self._capabilities().keys
        active = keyboard if active_keys is None else _key_set(active_keys, "active_keys")
        terminate = _key_set(terminate_keys, "terminate_keys")
        unknown = (active | terminate) - keyboard
        if unknown:
            raise KeyInvalid(
                f"{self.name}'s keyboard has no key {_names(unknown)}; it has {_names(keyboard)}"
            )
        if not terminate <= active:
            raise InvalidData(
                f"terminate keys must be active keys; {_names(terminate - active)} is not"
            )
        characters = terminate & KEY_CHARACTERS.keys()
        if characters:
            raise InvalidData(
                f"a terminate key must be a function key, not {_names(characters)} "
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

    # --- PIN blocks --------------------------------------------------------------------

    async def get_pin_block(
        self,
        key: str,
        *,
        format: PinFormat,
        customer_data: str = "",
        padding: int = 0x0F,
        timeout: float | None = None,
    ) -> PinBlock:
        self._require_open()
        data = self._pin_block_data_args(key, format, customer_data, padding)

        async def op(command_id: int) -> PinBlock:
            await self._pin_key(data)
            given = self._pin_block_data
            if given is not None and given != data:
                raise InvalidData(
                    f"{_differences(given, data)} differ(s) from what set_pin_block_data "
                    "gave before this entry"
                )
            if not self._pin_held:
                raise SequenceError(
                    f"{self.name}: no PIN is waiting for a PIN block (enter one with "
                    "pin_entry first; a PIN makes one block only)"
                )
            # Whatever the device answers, this PIN and its block data are spent.
            self._pin_held = False
            self._pin_block_data = None
            return await self._backend.pin_block(
                data.key, data.format, data.customer_data, data.padding
            )

        return await self._run("GetPinBlock", str(data), op, timeout)

    async def set_pin_block_data(
        self,
        key: str,
        *,
        format: PinFormat,
        customer_data: str = "",
        padding: int = 0x0F,
        timeout: float | None = None,
    ) -> None:
        self._require_open()
        data = self._pin_block_data_args(key, format, customer_data, padding)

        async def op(command_id: int) -> None:
            await self._pin_key(data)
            await self._backend.set_pin_block_data(
                data.key, data.format, data.customer_data, data.padding
            )
            self._pin_block_data = data

        await self._run("SetPinBlockData", str(data), op, timeout)

    def _pin_block_data_args(
        self, key: str, format: PinFormat, customer_data: str, padding: int
    ) -> _PinBlockData:
        """Check a PIN block's arguments against the pad (before queueing)."""
        caps = self._capabilities()
        key = _key_name(key, "key")
        pin_format = _enum(PinFormat, format, "format")
        if pin_format not in caps.pin_formats:
            raise FormatNotSupported(
                f"{self.name} makes no {pin_format.value} PIN blocks; it makes "
                f"{_names(f.value for f in caps.pin_formats)}"
            )
        _check_customer_data(pin_format, customer_data)
        if not _is_int(padding) or not 0 <= padding <= 0xF:
            raise InvalidData(f"padding is one nibble, 0 to 15; got {padding!r}")
        return _PinBlockData(key, pin_format, customer_data, padding)

    async def _pin_key(self, data: _PinBlockData) -> None:
        """Refuse (with `IllegalKeyAccess`) a key that cannot make this PIN block."""
        key = data.key
        detail = await self._usable_key(key)
        if detail.usage is KeyUsage.PIN:
            if detail.mode_of_use not in (ModeOfUse.ENCRYPT, ModeOfUse.BOTH):
                self._refuse(
                    key,
                    f"the PIN key {key!r} (mode of use {detail.mode_of_use.value}) "
                    "may not encipher PIN blocks",
                )
        elif detail.usage is KeyUsage.INITIAL_DUKPT:
            if detail.algorithm not in self._capabilities().dukpt:
                self._refuse(
                    key,
                    f"{self.name} derives no {detail.algorithm.value} DUKPT keys; "
                    f"{key!r} makes no PIN blocks here",
                )
        else:
            self._refuse(
                key,
                f"{key!r} is a {detail.usage.value} key; PIN blocks need a PIN key "
                f"({KeyUsage.PIN.value}) or an initial DUKPT key "
                f"({KeyUsage.INITIAL_DUKPT.value})",
            )
        wanted = PIN_FORMAT_ALGORITHMS[data.format]
        if detail.algorithm is not wanted:
            raise FormatNotSupported(
                f"{_a(data.format.value)} PIN block is enciphered under {wanted.value}; "
                f"{key!r} is a {detail.algorithm.value} key"
            )

    # --- key management ----------------------------------------------------------------

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
        self._require_open()
        caps = self._capabilities()
        if not caps.key_components:
            raise UnsupportedOperation(f"{self.name} takes no clear key components")
        name = _key_name(name, "key")
        attributes = self._attributes(usage, algorithm, mode_of_use)
        if attributes.usage not in (KeyUsage.KEK, KeyUsage.KBPK):
            raise InvalidData(
                f"only key-encryption keys ({KeyUsage.KEK.value}, {KeyUsage.KBPK.value}) "
                f"arrive as clear components, not {attributes.usage.value} keys"
            )
        component = _key_bytes(component, "component")
        _check_key_length(attributes.algorithm, len(component), "a component")
        kcv = _kcv_bytes(kcv, attributes.algorithm)
        weakness = key_weakness(attributes.algorithm, component)
        if weakness is not None:
            raise KeyInvalid(f"a component of {name!r} is refused: {weakness}")
        fingerprint = hmac.new(
            self._component_secret, bytes(b & 0xFE for b in component), hashlib.sha256
        ).digest()

        async def op(command_id: int) -> KeyDetail:
            details = await self._backend.key_details()
            existing = details.get(name)
            if existing is None:
                self._components_seen.pop(name, None)  # nothing under way on the device
            else:
                if existing.state is not KeyState.CONSTRUCTING:
                    raise InvalidData(
                        f"{name!r} holds a loaded key; delete it (or initialize) before "
                        "loading components under that name"
                    )
                if existing.attributes != attributes:
                    raise InvalidData(
                        f"the components of {name!r} are {_describe(existing.attributes)}; "
                        f"this one says {_describe(attributes)}"
                    )
                if existing.length and existing.length != len(component):
                    raise InvalidKeyLength(
                        f"the components of {name!r} are {existing.length} bytes long; "
                        f"this one is {len(component)} bytes"
                    )
            self._check_no_kek(name, details)
            seen = self._components_seen.setdefault(name, [])
            if any(hmac.compare_digest(fingerprint, other) for other in seen):
                raise KeyInvalid(
                    f"a component of {name!r} is identical to one already given (each "
                    "custodian brings their own)"
                )
            detail = await self._backend.load_component(name, component, attributes, kcv)
            seen.append(fingerprint)
            await self._refresh()
            return detail

        args = f"name={name!r}, {_describe(attributes)}, component=<{len(component)} bytes>"
        return await self._run("ImportKeyComponent", args, op, timeout)

    async def activate_key(
        self, name: str, *, kcv: bytes, timeout: float | None = None
    ) -> KeyDetail:
        self._require_open()
        caps = self._capabilities()
        if not caps.key_components:
            raise UnsupportedOperation(f"{self.name} takes no clear key components")
        name = _key_name(name, "key")
        kcv = _kcv_bytes(kcv, None)

        async def op(command_id: int) -> KeyDetail:
            details = await self._backend.key_details()
            existing = details.get(name)
            if existing is None or existing.state is not KeyState.CONSTRUCTING:
                raise KeyNotFound(f"{self.name}: no components are being loaded under {name!r}")
            self._check_no_kek(name, details)
            if existing.components < caps.min_components:
                raise KeyNoValue(
                    f"{name!r} has {existing.components} component(s); {self.name} builds "
                    f"a key from at least {caps.min_components}"
                )
            # The combined key's check value is the all-zero key's: the components
            # cancel out (the device checks that the key has this check value).
            zero = compute_kcv(existing.algorithm, bytes(existing.length or 16))
            if hmac.compare_digest(kcv[: len(zero)], zero[: len(kcv)]):
                raise KeyInvalid(
                    f"the combined key of {name!r} would be all zeros (its check value is "
                    "the zero key's); load other components"
                )
            try:
                detail = await self._backend.activate_key(name, kcv)
            finally:
                self._components_seen.pop(name, None)
            await self._refresh()
            return detail

        return await self._run("ActivateKey", f"name={name!r}", op, timeout)

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
        self._require_open()
        caps = self._capabilities()
        if not caps.encrypted_keys:
            raise UnsupportedOperation(f"{self.name} takes no keys enciphered under a KEK")
        name = _key_name(name, "key")
        kek = _key_name(kek, "kek")
        attributes = self._attributes(usage, algorithm, mode_of_use)
        value = _key_bytes(value, "value")
        kcv = _kcv_bytes(kcv, attributes.algorithm)
        ksn = self._check_ksn(attributes, ksn)

        async def op(command_id: int) -> KeyDetail:
            wrapper = await self._usable_key(kek)
            self._check_unwrapping(wrapper, KeyUsage.KEK, "key-encryption key")
            # The enciphered key fills whole blocks of the KEK's cipher.
            block = BLOCK_SIZES[wrapper.algorithm]
            fits = {-(-n // block) * block for n in KEY_LENGTHS[attributes.algorithm]}
            if len(value) not in fits:
                raise InvalidKeyLength(
                    f"{_a(attributes.algorithm.value)} key enciphered under the "
                    f"{wrapper.algorithm.value} key {kek!r} is "
                    f"{_numbers(fits)} bytes long; got {len(value)}"
                )
            lengths = [
                n for n in KEY_LENGTHS[attributes.algorithm] if -(-n // block) * block == len(value)
            ]
            self._check_strength(name, attributes.algorithm, lengths, wrapper)
            self._check_replaceable(name, attributes, await self._backend.key_details())
            detail = await self._backend.load_key(name, value, kek, attributes, kcv, ksn)
            await self._refresh()
            return detail

        args = (
            f"name={name!r}, kek={kek!r}, {_describe(attributes)}, value=<{len(value)} bytes>"
            + (f", ksn={ksn.hex().upper()}" if ksn else "")
        )
        return await self._run("ImportKey", args, op, timeout)

    async def import_key_block(
        self, name: str, key_block: str, *, kbpk: str, timeout: float | None = None
    ) -> KeyDetail:
        self._require_open()
        caps = self._capabilities()
        if not caps.tr31:
            raise UnsupportedOperation(f"{self.name} takes no TR-31 key blocks")
        name = _key_name(name, "key")
        kbpk = _key_name(kbpk, "kbpk")
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
                f"{self.name} takes no key of usage {str(header.key_usage)!r} "
                f"(it takes {_names(u.value for u in caps.usages)})"
            )
        algorithm = _TR31_ALGORITHMS.get(str(header.algorithm))
        if algorithm is None or algorithm not in caps.algorithms:
            raise FormatNotSupported(
                f"{self.name} takes no key of TR-31 algorithm {str(header.algorithm)!r}"
            )
        mode = _tr31_value(ModeOfUse, str(header.mode_of_use))
        if mode is None or mode not in MODES_OF_USE[usage]:
            raise InvalidData(
                f"a {usage.value} key may not have mode of use {str(header.mode_of_use)!r} "
                f"(it may have {_names(m.value for m in MODES_OF_USE[usage])})"
            )
        if usage is KeyUsage.INITIAL_DUKPT and algorithm not in caps.dukpt:
            raise FormatNotSupported(f"{self.name} derives no {algorithm.value} DUKPT keys")
        version = header.version

        attributes = KeyAttributes(usage, algorithm, mode)

        async def op(command_id: int) -> KeyDetail:
            wrapper = await self._usable_key(kbpk)
            self._check_unwrapping(wrapper, KeyUsage.KBPK, "key block protection key")
            wanted = _TR31_VERSION_ALGORITHM[version]
            if wrapper.algorithm is not wanted:
                raise FormatNotSupported(
                    f"a version {version.value} key block is protected by a {wanted.value} "
                    f"key; {kbpk!r} is {wrapper.algorithm.value}"
                )
            # The key's length is inside the block: its algorithm's shortest is the
            # least it can be (the device checks the length it finds).
            usable = [n for n in KEY_LENGTHS[algorithm] if key_strength(algorithm, n)]
            self._check_strength(name, algorithm, usable, wrapper)
            self._check_replaceable(name, attributes, await self._backend.key_details())
            detail = await self._backend.load_key_block(name, key_block, kbpk)
            await self._refresh()
            return detail

        args = (
            f"name={name!r}, kbpk={kbpk!r}, version={version.value}, usage={usage.value}, "
            f"algorithm={algorithm.value}, mode_of_use={mode.value}, "
            f"key_block=<{len(key_block)} chars>"
        )
        return await self._run("ImportKeyBlock", args, op, timeout)

    async def delete_key(self, name: str, *, timeout: float | None = None) -> None:
        self._require_open()
        if not self._capabilities().delete_key:
            raise UnsupportedOperation(f"{self.name} erases only all keys at once (initialize)")
        name = _key_name(name, "key")

        async def op(command_id: int) -> None:
            if name not in await self._backend.key_details():
                raise KeyNotFound(f"{self.name} holds no key {name!r}")
            await self._backend.delete_key(name)
            await self._refresh()

        await self._run("DeleteKey", f"name={name!r}", op, timeout)

    async def key_detail(self, name: str, *, timeout: float | None = None) -> KeyDetail:
        self._require_open()
        name = _key_name(name, "key")

        async def op(command_id: int) -> KeyDetail:
            detail = (await self._backend.key_details()).get(name)
            if detail is None:
                raise KeyNotFound(f"{self.name} holds no key {name!r}")
            return detail

        return await self._run("GetKeyDetail", f"name={name!r}", op, timeout)

    async def keys(self, *, timeout: float | None = None) -> tuple[KeyDetail, ...]:
        self._require_open()

        async def op(command_id: int) -> tuple[KeyDetail, ...]:
            details = await self._backend.key_details()
            return tuple(details[name] for name in sorted(details))

        return await self._run("GetKeyDetail", "all keys", op, timeout)

    async def generate_kcv(
        self,
        name: str,
        *,
        method: KcvMethod = KcvMethod.LEGACY,
        timeout: float | None = None,
    ) -> bytes:
        self._require_open()
        name = _key_name(name, "key")
        kcv_method = _enum(KcvMethod, method, "method")

        async def op(command_id: int) -> bytes:
            detail = await self._usable_key(name)
            if kcv_method is KcvMethod.CMAC and detail.algorithm is KeyAlgorithm.SM4:
                raise ModeNotSupported(
                    f"a CMAC-based check value is defined for TDES and AES keys; {name!r} "
                    "is an SM4 key (use the legacy method)"
                )
            return await self._backend.kcv(name, kcv_method)

        return await self._run(
            "GenerateKCV", f"name={name!r}, method={kcv_method.value}", op, timeout
        )

    async def initialize(self, *, timeout: float | None = None) -> None:
        self._require_open()

        async def op(command_id: int) -> None:
            self._initialized_seen = False
            self._pin_held = False
            self._pin_block_data = None  # its key is gone
            await self._backend.initialize()
            if not self._initialized_seen:  # the backend said nothing: we tell
                self.event(Initialized())
            await self._refresh()

        await self._run("Initialization", "", op, timeout)

    # --- crypto ------------------------------------------------------------------------

    async def encrypt(
        self,
        key: str,
        data: bytes,
        *,
        mode: CipherMode = CipherMode.ECB,
        iv: bytes | None = None,
        timeout: float | None = None,
    ) -> bytes:
        return await self._crypt(key, data, mode, iv, timeout, encrypt=True)

    async def decrypt(
        self,
        key: str,
        data: bytes,
        *,
        mode: CipherMode = CipherMode.ECB,
        iv: bytes | None = None,
        timeout: float | None = None,
    ) -> bytes:
        return await self._crypt(key, data, mode, iv, timeout, encrypt=False)

    async def _crypt(
        self,
        key: str,
        data: bytes,
        mode: CipherMode,
        iv: bytes | None,
        timeout: float | None,
        *,
        encrypt: bool,
    ) -> bytes:
        self._require_open()
        caps = self._capabilities()
        if "encrypt" not in caps.features():
            raise UnsupportedOperation(f"{self.name} does no data encryption")
        key = _key_name(key, "key")
        cipher_mode = _enum(CipherMode, mode, "mode")
        if cipher_mode not in caps.cipher_modes:
            raise ModeNotSupported(
                f"{self.name} does no {cipher_mode.value.upper()}; it does "
                f"{_names(m.value.upper() for m in caps.cipher_modes)}"
            )
        data = _data_bytes(data, "data")
        if iv is not None:
            if cipher_mode is CipherMode.ECB:
                raise InvalidData("ECB takes no IV")
            iv = _data_bytes(iv, "iv")
        allowed = (ModeOfUse.ENCRYPT if encrypt else ModeOfUse.DECRYPT, ModeOfUse.BOTH)
        verb = "encipher" if encrypt else "decipher"

        async def op(command_id: int) -> bytes:
            detail = await self._usable_key(key)
            if detail.usage is not KeyUsage.DATA:
                self._refuse(
                    key,
                    f"{key!r} is a {detail.usage.value} key; only data keys "
                    f"({KeyUsage.DATA.value}) {verb} data",
                )
            if detail.mode_of_use not in allowed:
                self._refuse(
                    key,
                    f"the data key {key!r} (mode of use {detail.mode_of_use.value}) may not {verb}",
                )
            block = BLOCK_SIZES[detail.algorithm]
            if len(data) % block:
                raise InvalidData(
                    f"{detail.algorithm.value} {verb}s whole {block}-byte blocks; "
                    f"got {len(data)} bytes"
                )
            if iv is not None and len(iv) != block:
                raise InvalidData(
                    f"{_a(detail.algorithm.value)} IV is {block} bytes; got {len(iv)}"
                )
            return await self._backend.crypt(key, data, encrypt, cipher_mode, iv)

        args = f"key={key!r}, mode={cipher_mode.value}, data=<{len(data)} bytes>" + (
            "" if iv is None else f", iv=<{len(iv)} bytes>"
        )
        return await self._run("Encrypt" if encrypt else "Decrypt", args, op, timeout)

    async def generate_mac(
        self,
        key: str,
        data: bytes,
        *,
        padding: int = 1,
        timeout: float | None = None,
    ) -> bytes:
        self._require_open()
        key, data, padding = self._mac_args(key, data, padding)

        async def op(command_id: int) -> bytes:
            await self._mac_key(key, (ModeOfUse.GENERATE_VERIFY, ModeOfUse.GENERATE), "generate")
            return await self._backend.mac(key, data, padding)

        args = f"key={key!r}, data=<{len(data)} bytes>, padding={padding}"
        return await self._run("GenerateMAC", args, op, timeout)

    async def verify_mac(
        self,
        key: str,
        data: bytes,
        mac: bytes,
        *,
        padding: int = 1,
        timeout: float | None = None,
    ) -> bool:
        self._require_open()
        key, data, padding = self._mac_args(key, data, padding)
        mac = _data_bytes(mac, "mac")
        if len(mac) > 16:
            raise InvalidData(f"a MAC is at most one cipher block (16 bytes); got {len(mac)}")

        async def op(command_id: int) -> bool:
            await self._mac_key(key, (ModeOfUse.GENERATE_VERIFY, ModeOfUse.VERIFY), "verify")
            return await self._backend.verify_mac(key, data, mac, padding)

        args = f"key={key!r}, data=<{len(data)} bytes>, mac=<{len(mac)} bytes>, padding={padding}"
        return await self._run("VerifyMAC", args, op, timeout)

    def _mac_args(self, key: str, data: bytes, padding: int) -> tuple[str, bytes, int]:
        if "mac" not in self._capabilities().features():
            raise UnsupportedOperation(f"{self.name} makes no MACs")
        key = _key_name(key, "key")
        data = _data_bytes(data, "data")
        if not _is_int(padding) or padding not in _MAC_PADDINGS:
            raise InvalidData(f"padding is ISO/IEC 9797-1 padding method 1 or 2; got {padding!r}")
        return key, data, padding

    async def _mac_key(self, key: str, modes: tuple[ModeOfUse, ...], verb: str) -> None:
        detail = await self._usable_key(key)
        if detail.usage not in MAC_USAGES:
            self._refuse(
                key,
                f"{key!r} is a {detail.usage.value} key; MACs need a MAC key "
                f"({_names(u.value for u in MAC_USAGES)})",
            )
        if detail.mode_of_use not in modes:
            self._refuse(
                key,
                f"the MAC key {key!r} (mode of use {detail.mode_of_use.value}) may not {verb} MACs",
            )

    async def generate_random(self, length: int = 8, *, timeout: float | None = None) -> bytes:
        self._require_open()
        if not self._capabilities().random:
            raise UnsupportedOperation(f"{self.name} generates no random numbers")
        if not _is_int(length) or not 1 <= length <= _MAX_RANDOM:
            raise InvalidData(f"length is 1 to {_MAX_RANDOM} bytes; got {length!r}")

        async def op(command_id: int) -> bytes:
            return await self._backend.random(length)

        return await self._run("GenerateRandom", f"length={length}", op, timeout)

    async def reset(self, *, timeout: float | None = None) -> None:
        self._require_open()

        async def op(command_id: int) -> None:
            await self._backend.reset()
            await self._refresh()

        await self._run("Reset", "", op, timeout)

    # --- helpers -----------------------------------------------------------------------

    async def _run(
        self,
        command: str,
        args: str,
        op: Callable[[int], Awaitable[T]],
        timeout: float | None,
    ) -> T:
        """Queue ``op``, logging it (``args`` is already masked) at DEBUG."""

        async def logged(command_id: int) -> T:
            log.debug("%s: %s #%d (%s)", self.name, command, command_id, args)
            try:
                return await op(command_id)
            except Exception as exc:
                log.debug("%s: %s #%d failed: %s", self.name, command, command_id, exc)
                raise

        return await self._command(command, logged, timeout=timeout)

    async def _usable_key(self, name: str) -> KeyDetail:
        """The device's detail of ``name``; refused unless it is loaded."""
        detail = (await self._backend.key_details()).get(name)
        if detail is None:
            self.event(IllegalKeyAccess(key_name=name, error_code=ErrorCode.KEY_NOT_FOUND.value))
            raise KeyNotFound(f"{self.name} holds no key {name!r}")
        if detail.state is not KeyState.LOADED:
            self.event(IllegalKeyAccess(key_name=name, error_code=ErrorCode.KEY_NO_VALUE.value))
            raise KeyNoValue(
                f"{name!r} has no value yet: {detail.components} component(s) loaded, not activated"
            )
        return detail

    def _refuse(self, key: str, message: str) -> None:
        """Refuse a use of ``key`` outside its usage: an event, then `UseViolation`."""
        self.event(IllegalKeyAccess(key_name=key, error_code=ErrorCode.USE_VIOLATION.value))
        raise UseViolation(message)

    def _check_no_kek(self, name: str, details: Mapping[str, KeyDetail]) -> None:
        """Clear components build the first key-encryption key only."""
        keks = sorted(
            d.name
            for d in details.values()
            if d.usage in _KEK_USAGES and d.state is KeyState.LOADED
        )
        if keks:
            raise UseViolation(
                f"{self.name} holds the key-encryption key {keks[0]!r}: clear components "
                f"(here for {name!r}) are no longer taken; load a new KEK enciphered under "
                "it, or initialize first"
            )

    @staticmethod
    def _check_replaceable(
        name: str, attributes: KeyAttributes, details: Mapping[str, KeyDetail]
    ) -> None:
        """A key replaces one of its name only if it has the same attributes."""
        old = details.get(name)
        if old is not None and old.attributes != attributes:
            raise DuplicateKey(
                f"{name!r} holds a key of {_describe(old.attributes)}; a key of "
                f"{_describe(attributes)} does not replace it (delete it first)"
            )

    def _check_strength(
        self, name: str, algorithm: KeyAlgorithm, lengths: Iterable[int], wrapper: KeyDetail
    ) -> None:
        """Refuse a key stronger than the key protecting it (whatever its length)."""
        least = min((key_strength(algorithm, n) for n in lengths), default=0)
        protecting = key_strength(wrapper.algorithm, wrapper.length)
        if least > protecting:
            self._refuse(
                wrapper.name,
                f"{_a(algorithm.value)} key {name!r} is stronger than {wrapper.name!r} "
                f"({wrapper.algorithm.value}, {wrapper.length} bytes), which would protect it",
            )

    def _check_unwrapping(self, wrapper: KeyDetail, usage: KeyUsage, what: str) -> None:
        if wrapper.usage is not usage:
            self._refuse(
                wrapper.name,
                f"{wrapper.name!r} is a {wrapper.usage.value} key, not a {what} ({usage.value})",
            )
        if wrapper.mode_of_use not in _UNWRAPPING_MODES:
            self._refuse(
                wrapper.name,
                f"the {what} {wrapper.name!r} (mode of use {wrapper.mode_of_use.value}) may "
                "not decipher the keys it protects",
            )

    def _attributes(
        self, usage: KeyUsage, algorithm: KeyAlgorithm, mode_of_use: ModeOfUse
    ) -> KeyAttributes:
        """Check a key's usage, algorithm and mode of use against each other and the pad."""
        caps = self._capabilities()
        usage = _enum(KeyUsage, usage, "usage")
        algorithm = _enum(KeyAlgorithm, algorithm, "algorithm")
        mode_of_use = _enum(ModeOfUse, mode_of_use, "mode_of_use")
        if usage not in caps.usages:
            raise InvalidData(
                f"{self.name} takes no {usage.value} keys; it takes "
                f"{_names(u.value for u in caps.usages)}"
            )
        if algorithm not in caps.algorithms:
            raise ModeNotSupported(
                f"{self.name} stores no {algorithm.value} keys; it stores "
                f"{_names(a.value for a in caps.algorithms)}"
            )
        if mode_of_use not in MODES_OF_USE[usage]:
            raise InvalidData(
                f"a {usage.value} key may not have mode of use {mode_of_use.value} "
                f"(it may have {_names(m.value for m in MODES_OF_USE[usage])})"
            )
        if usage is KeyUsage.MAC_ISO9797_3 and algorithm is not KeyAlgorithm.TDES:
            raise ModeNotSupported(
                f"ISO/IEC 9797-1 MAC algorithm 3 ({usage.value}) is defined for TDES keys, "
                f"not {algorithm.value}"
            )
        if usage is KeyUsage.INITIAL_DUKPT and algorithm not in caps.dukpt:
            raise ModeNotSupported(f"{self.name} derives no {algorithm.value} DUKPT keys")
        return KeyAttributes(usage, algorithm, mode_of_use)

    @staticmethod
    def _check_ksn(attributes: KeyAttributes, ksn: bytes) -> bytes:
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


# --- module helpers --------------------------------------------------------------------


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _key_name(name: object, what: str) -> str:
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


def _enum(cls: type[E], value: str, what: str) -> E:
    """``value`` as a member of ``cls``; the error quotes nothing that came and carries
    no context (a ``ValueError`` from the enum would quote it)."""
    try:
        return cls(value)
    except ValueError:
        pass
    raise InvalidData(f"{what} must be one of {_names(member.value for member in cls)}")


def _tr31_value(cls: type[E], value: str) -> E | None:
    try:
        return cls(value)
    except ValueError:
        return None


def _key_set(keys: Iterable[str], what: str) -> frozenset[str]:
    if isinstance(keys, str | bytes):
        raise InvalidData(f"{what} is a collection of key names, not one string")
    names = frozenset(keys)
    if not all(isinstance(key, str) for key in names):
        raise InvalidData(f"{what} must be key names (strings)")
    return names


def _key_bytes(value: object, what: str) -> bytes:
    if not isinstance(value, bytes | bytearray | memoryview):
        raise InvalidData(f"{what} must be bytes")
    value = bytes(value)
    if not value:
        raise InvalidKeyLength(f"{what} is empty")
    return value


def _data_bytes(value: object, what: str) -> bytes:
    if not isinstance(value, bytes | bytearray | memoryview):
        raise InvalidData(f"{what} must be bytes")
    value = bytes(value)
    if not value:
        raise InvalidData(f"{what} is empty")
    return value


def _kcv_bytes(kcv: object, algorithm: KeyAlgorithm | None) -> bytes:
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


def _check_key_length(algorithm: KeyAlgorithm, length: int, what: str) -> None:
    allowed = KEY_LENGTHS[algorithm]
    if length not in allowed:
        raise InvalidKeyLength(
            f"{what} of a {algorithm.value} key is {_numbers(allowed)} bytes "
            f"long; got {length} bytes"
        )


def _check_customer_data(pin_format: PinFormat, customer_data: object) -> None:
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
            f"{_a(pin_format.value)} PIN block needs a PAN of {low} to {high} digits; got "
            f"{len(customer_data)} digits"
        )


def _mask_customer_data(customer_data: str) -> str:
    return mask_pan(customer_data) if customer_data else "''"


def _differences(given: _PinBlockData, now: _PinBlockData) -> str:
    fields = ("key", "format", "customer_data", "padding")
    return ", ".join(f for f in fields if getattr(given, f) != getattr(now, f))


def _describe(attributes: KeyAttributes) -> str:
    return (
        f"usage={attributes.usage.value}, algorithm={attributes.algorithm.value}, "
        f"mode_of_use={attributes.mode_of_use.value}"
    )


def _describe_spec(spec: EntrySpec) -> str:
    return (
        f"min_len={spec.min_len}, max_len={spec.max_len}, auto_end={spec.auto_end}, "
        f"active_keys={len(spec.active_keys)}, terminate_keys={_names(spec.terminate_keys)}"
    )


def _numbers(values: Iterable[int]) -> str:
    return ", ".join(str(n) for n in sorted(values))


def _names(values: Iterable[str]) -> str:
    return ", ".join(sorted(values)) or "none"


def _a(word: str) -> str:
    """``word`` with its indefinite article (``an iso4``, ``a tdes``)."""
    return f"{'an' if word[:1] in 'aeiou' else 'a'} {word}"
