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

The checks are in two modules beside this one: `hal.devices.pin_pad_checks` (the
arguments, against the pad's capabilities, before a command is queued) and
`hal.devices.pin_pad_keys` (key usage and key separation, against the device's
`key_details`, with the `IllegalKeyAccess` events; its docstring lists the rules).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable

from hal.device import DeviceService
from hal.devices.pin_pad import (
    DEFAULT_TERMINATE_KEYS,
    CipherMode,
    DataEntryResult,
    EntryCompletion,
    Initialized,
    KcvMethod,
    KeyAlgorithm,
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
)
from hal.devices.pin_pad_checks import (
    DUKPT_KSN_LENGTHS,
    MAX_RANDOM,
    MODES_OF_USE,
    NAMED_IN_PIN_MODE,
    PIN_FORMAT_ALGORITHMS,
    PinBlockData,
    check_key_length,
    check_ksn,
    crypt_args,
    data_bytes,
    describe,
    describe_spec,
    differences,
    entry_spec,
    enum_member,
    is_int,
    kcv_bytes,
    key_attributes,
    key_block_attributes,
    key_bytes,
    key_name,
    mac_args,
    pin_block_data,
)
from hal.devices.pin_pad_keys import ComponentLog, KeyRules
from hal.devices.pin_pad_model import key_weakness
from hal.errors import (
    ErrorCode,
    InvalidData,
    KeyInvalid,
    KeyNotFound,
    KeyNoValue,
    ModeNotSupported,
    SequenceError,
    UnsupportedOperation,
)
from hal.events import Event

__all__ = ["DUKPT_KSN_LENGTHS", "MODES_OF_USE", "PIN_FORMAT_ALGORITHMS", "PinPadService"]

log = logging.getLogger(__name__)


class PinPadService(DeviceService[PinPadStatus, PinPadCapabilities], PinPad):
    """`PinPad` over any `PinPadBackend`.

    Args:
        backend: the driver or simulator model.
        name: the device's name (``pin_pad``).
        max_queue: commands queued or running before ``TooManyRequests``.
        close_timeout: seconds `close` waits for cancelled commands (an entry under way)
            to settle with the device before it closes the backend under them.
    """

    #: `_run` logs each command (its ``args`` already masked) here.
    _log = log

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
        self._pin_block_data: PinBlockData | None = None
        # A PIN entry is under way: key events must not name a digit.
        self._secure_entry = False
        # The key usage and separation rules, asked of the device's key_details.
        self._keys = KeyRules(self.name, backend, self.event)
        # The components given for each key under construction (as HMACs).
        self._components = ComponentLog()

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
            and event.digit not in NAMED_IN_PIN_MODE
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
        async def opened() -> None:
            self._caps = self._backend.capabilities()
            self._forget_pin()
            self._last_status = await self._fetch_status()

        await self._open_backend(self._backend, opened)

    async def close(self) -> None:
        await self._close_backend(
            self._backend, timeout=self._close_timeout, closed=self._forget_pin
        )

    def _forget_pin(self) -> None:
        """No PIN is held any more (opened afresh, or closed)."""
        self._pin_held = False
        self._pin_block_data = None

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
        if not is_int(min_len) or not is_int(max_len):
            raise InvalidData("min_len and max_len must be integers")
        if not 0 <= min_len <= max_len or not 1 <= max_len <= caps.pin_max:
            raise InvalidData(
                f"a PIN entry needs 0 <= min_len <= max_len and 1 <= max_len <= "
                f"{caps.pin_max} (this pad's longest PIN); got min_len={min_len}, "
                f"max_len={max_len}",
                error_code=ErrorCode.MINIMUM_LENGTH.value,
            )
        spec = entry_spec(
            self.name, caps.keys, min_len, max_len, auto_end, active_keys, terminate_keys
        )

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

        return await self._run("PinEntry", describe_spec(spec), op, timeout)

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
        caps = self._capabilities()
        if not caps.data_entry:
            raise UnsupportedOperation(f"{self.name} does no clear data entry")
        if not is_int(max_len) or max_len < 1:
            raise InvalidData(
                f"a data entry takes max_len >= 1 characters; got {max_len!r}",
                error_code=ErrorCode.MINIMUM_LENGTH.value,
            )
        spec = entry_spec(self.name, caps.keys, 0, max_len, auto_end, active_keys, terminate_keys)

        async def op(command_id: int) -> DataEntryResult:
            return await self._backend.data_entry(spec)

        return await self._run("DataEntry", describe_spec(spec), op, timeout)

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
        data = pin_block_data(self.name, self._capabilities(), key, format, customer_data, padding)

        async def op(command_id: int) -> PinBlock:
            await self._keys.pin_key(data, self._capabilities().dukpt)
            given = self._pin_block_data
            if given is not None and given != data:
                raise InvalidData(
                    f"{differences(given, data)} differ(s) from what set_pin_block_data "
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
        data = pin_block_data(self.name, self._capabilities(), key, format, customer_data, padding)

        async def op(command_id: int) -> None:
            await self._keys.pin_key(data, self._capabilities().dukpt)
            await self._backend.set_pin_block_data(
                data.key, data.format, data.customer_data, data.padding
            )
            self._pin_block_data = data

        await self._run("SetPinBlockData", str(data), op, timeout)

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
        name = key_name(name, "key")
        attributes = key_attributes(self.name, caps, usage, algorithm, mode_of_use)
        if attributes.usage not in (KeyUsage.KEK, KeyUsage.KBPK):
            raise InvalidData(
                f"only key-encryption keys ({KeyUsage.KEK.value}, {KeyUsage.KBPK.value}) "
                f"arrive as clear components, not {attributes.usage.value} keys"
            )
        component = key_bytes(component, "component")
        check_key_length(attributes.algorithm, len(component), "a component")
        kcv = kcv_bytes(kcv, attributes.algorithm)
        weakness = key_weakness(attributes.algorithm, component)
        if weakness is not None:
            raise KeyInvalid(f"a component of {name!r} is refused: {weakness}")
        fingerprint = self._components.fingerprint(component)

        async def op(command_id: int) -> KeyDetail:
            details = await self._backend.key_details()
            existing = details.get(name)
            if existing is None:
                self._components.forget(name)  # nothing under way on the device
            else:
                self._keys.check_component_target(name, existing, attributes, len(component))
            self._keys.check_no_kek(name, details)
            seen = self._components.check_new(name, fingerprint)
            detail = await self._backend.load_component(name, component, attributes, kcv)
            seen.append(fingerprint)
            await self._refresh()
            return detail

        args = f"name={name!r}, {describe(attributes)}, component=<{len(component)} bytes>"
        return await self._run("ImportKeyComponent", args, op, timeout)

    async def activate_key(
        self, name: str, *, kcv: bytes, timeout: float | None = None
    ) -> KeyDetail:
        self._require_open()
        caps = self._capabilities()
        if not caps.key_components:
            raise UnsupportedOperation(f"{self.name} takes no clear key components")
        name = key_name(name, "key")
        kcv = kcv_bytes(kcv, None)

        async def op(command_id: int) -> KeyDetail:
            details = await self._backend.key_details()
            existing = details.get(name)
            if existing is None or existing.state is not KeyState.CONSTRUCTING:
                raise KeyNotFound(f"{self.name}: no components are being loaded under {name!r}")
            self._keys.check_no_kek(name, details)
            if existing.components < caps.min_components:
                raise KeyNoValue(
                    f"{name!r} has {existing.components} component(s); {self.name} builds "
                    f"a key from at least {caps.min_components}"
                )
            self._keys.check_not_zero(name, existing, kcv)
            try:
                detail = await self._backend.activate_key(name, kcv)
            finally:
                self._components.forget(name)
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
        name = key_name(name, "key")
        kek = key_name(kek, "kek")
        attributes = key_attributes(self.name, caps, usage, algorithm, mode_of_use)
        value = key_bytes(value, "value")
        kcv = kcv_bytes(kcv, attributes.algorithm)
        ksn = check_ksn(attributes, ksn)

        async def op(command_id: int) -> KeyDetail:
            wrapper = await self._keys.usable_key(kek)
            self._keys.check_unwrapping(wrapper, KeyUsage.KEK, "key-encryption key")
            self._keys.check_enciphered(name, kek, attributes, len(value), wrapper)
            self._keys.check_replaceable(name, attributes, await self._backend.key_details())
            detail = await self._backend.load_key(name, value, kek, attributes, kcv, ksn)
            await self._refresh()
            return detail

        args = f"name={name!r}, kek={kek!r}, {describe(attributes)}, value=<{len(value)} bytes>" + (
            f", ksn={ksn.hex().upper()}" if ksn else ""
        )
        return await self._run("ImportKey", args, op, timeout)

    async def import_key_block(
        self, name: str, key_block: str, *, kbpk: str, timeout: float | None = None
    ) -> KeyDetail:
        self._require_open()
        caps = self._capabilities()
        if not caps.tr31:
            raise UnsupportedOperation(f"{self.name} takes no TR-31 key blocks")
        name = key_name(name, "key")
        kbpk = key_name(kbpk, "kbpk")
        version, attributes = key_block_attributes(self.name, caps, key_block)
        usage, algorithm, mode = attributes.usage, attributes.algorithm, attributes.mode_of_use

        async def op(command_id: int) -> KeyDetail:
            wrapper = await self._keys.usable_key(kbpk)
            self._keys.check_unwrapping(wrapper, KeyUsage.KBPK, "key block protection key")
            self._keys.check_key_block(name, kbpk, version, algorithm, wrapper)
            self._keys.check_replaceable(name, attributes, await self._backend.key_details())
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
        name = key_name(name, "key")

        async def op(command_id: int) -> None:
            if name not in await self._backend.key_details():
                raise KeyNotFound(f"{self.name} holds no key {name!r}")
            await self._backend.delete_key(name)
            await self._refresh()

        await self._run("DeleteKey", f"name={name!r}", op, timeout)

    async def key_detail(self, name: str, *, timeout: float | None = None) -> KeyDetail:
        self._require_open()
        name = key_name(name, "key")

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
        name = key_name(name, "key")
        kcv_method = enum_member(KcvMethod, method, "method")

        async def op(command_id: int) -> bytes:
            detail = await self._keys.usable_key(name)
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
        key, data, cipher_mode, iv = crypt_args(
            self.name, self._capabilities(), key, data, mode, iv
        )

        async def op(command_id: int) -> bytes:
            await self._keys.data_key(key, data, iv, encrypt)
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
        key, data, padding = mac_args(self.name, self._capabilities(), key, data, padding)

        async def op(command_id: int) -> bytes:
            await self._keys.mac_key(
                key, (ModeOfUse.GENERATE_VERIFY, ModeOfUse.GENERATE), "generate"
            )
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
        key, data, padding = mac_args(self.name, self._capabilities(), key, data, padding)
        mac = data_bytes(mac, "mac")
        if len(mac) > 16:
            raise InvalidData(f"a MAC is at most one cipher block (16 bytes); got {len(mac)}")

        async def op(command_id: int) -> bool:
            await self._keys.mac_key(key, (ModeOfUse.GENERATE_VERIFY, ModeOfUse.VERIFY), "verify")
            return await self._backend.verify_mac(key, data, mac, padding)

        args = f"key={key!r}, data=<{len(data)} bytes>, mac=<{len(mac)} bytes>, padding={padding}"
        return await self._run("VerifyMAC", args, op, timeout)

    async def generate_random(self, length: int = 8, *, timeout: float | None = None) -> bytes:
        self._require_open()
        if not self._capabilities().random:
            raise UnsupportedOperation(f"{self.name} generates no random numbers")
        if not is_int(length) or not 1 <= length <= MAX_RANDOM:
            raise InvalidData(f"length is 1 to {MAX_RANDOM} bytes; got {length!r}")

        async def op(command_id: int) -> bytes:
            return await self._backend.random(length)

        return await self._run("GenerateRandom", f"length={length}", op, timeout)

    async def reset(self, *, timeout: float | None = None) -> None:
        self._require_open()

        async def op(command_id: int) -> None:
            await self._backend.reset()
            await self._refresh()

        await self._run("Reset", "", op, timeout)
