"""The ``zt588`` driver: a Zhengtong ZT588 encrypting PIN pad, as a `PinPadBackend`.

Address (entry point ``zt588`` in group ``tellerhal.drivers``)::

    zt588+serial:///dev/ttyUSB0[?baud=9600&retries=2&reply_timeout=2
                                &keymap=/var/lib/kiosk/zt588-keys.json]
    spy+zt588+serial:///dev/ttyUSB0     (the traffic in the log, keys/PANs/PIN blocks masked)
    zt588+memory://NAME                  (tests: a `hal.transports.memory` pair)

The serial options are the transport's (`hal.transports.serial`); the driver's own are
`Zt588Options`. The protocol is `protocols.zt588` (see docs/zt588.md for what is known
of it and how sure); the link (replies, key presses between frames, retries) is
`drivers.pin_pad.zt588_link.Zt588Link`.

What the pad can do, as far as the one public reference says, and so what this driver
declares (`Zt588Driver.capabilities`):

- PIN blocks ISO 9564-1 formats 0, 1 and 3 under TDES keys (8, 16 or 24 bytes). IBM
  3624 exists on the wire ('0') but is not offered: nothing here checks it. The clear-PIN
  format '@' cannot be sent at all (the codec refuses to build it).
- Keys of two usages: ``K0`` key-encryption keys (the pad's TMK, key type 2) and ``P0``
  PIN keys (TPK, key type 3). The pad has MAC and data key types too, but the commands
  that would use them are not documented: no MACs, no encryption, no random, no DUKPT,
  no TR-31, no single-key delete (`initialize` is the pad's wipe, control '5' '0' '1').
- The first KEK from clear components under dual control, **with a difference from an
  EPP that combines inside**: the ZT588 takes no components, so the components pass
  through the host. The driver checks each component's KCV, XORs them in host memory
  (a `bytearray` wiped after use, never stored, never logged), checks the combined
  key's KCV, loads it in the clear with '1' into a TMK slot and checks the KCV the pad
  returns against the combined key's. Load components only on a trusted host.
- Keys enciphered under a KEK with '2'; the pad returns the loaded key's check value
  and the driver compares it with the one the app gave. On a mismatch the slot must not
  keep the wrong key: random bytes are loaded into it under the same KEK, and
  `KcvMismatch` is raised. A key loaded under a name already in use goes to a fresh
  slot; the old slot is overwritten (random bytes) only once the new key checked out.
- PIN entry formats the block as it starts ('6' takes key, format and PAN), so the pad
  needs `set_pin_block_data` first (``pin_block_data_first``): the driver keeps the key,
  format and PAN; `pin_entry` sends the minimum and maximum PIN length (controls '4' and
  '5') and '6'; `pin_block` sends '7'. The PAN goes as the 12 digits a format 0/3 block
  uses (right-most, without the check digit) [U: whether the pad wants those or the
  whole PAN is not known]; format 0 is filled with F only.
- In PIN mode the pad sends its mask character ('*', set with control '3' at open) for
  each digit: the driver never sees a digit, and counts presses with the shared entry
  rules (`hal.devices.pin_entry.EntryTracker`), so every digit key counts alike. An entry
  ends with control '5' '0' '2' (disable input), the PIN staying in the pad for '7'. A
  cancelled entry (the cancel key, a timeout, the app) also resets the pad ('5' '0' '0'),
  which drops the PIN typed so far [U: what else a reset does on a real pad is not
  known]; no block is asked for it. No PIN outlives a session: `open()` resets the pad,
  and `close()` does when an entry ran since the last reset (best effort, bounded,
  shielded from cancellation).
- Check values are compared over at least 3 bytes; a shorter one is refused.
- Clear data entry: control '5' '0' '3' (enable input) makes the pad send each key as
  it is, digits included; '5' '0' '2' ends it.
- Keys: the digits, enter, cancel, clear, decPoint, doubleZero and the side keys
  fdk01..fdk08 of the scancode table the pad ships with (docs/zt588.md); there is no
  backspace. The unlabelled key is ignored.

Key names: the pad knows only slots. The driver keeps a table name -> (slot, usage,
algorithm, mode of use, length, KCV), with no key material, in memory and, with
``keymap=PATH``, in a JSON file rewritten atomically after every change, so names
survive a restart (the file is trusted: a pad wiped or swapped behind the driver's back
is not noticed until a command fails). TMK slots are 00h-07h, PIN key slots 40h + 8n
(n 0-7), as smartware numbers them: 16 keys at most.

`open()` identifies the pad with '3' and reports its model and versions as the
firmware. DSR (the reference's presence signal) is not watched: the serial transport
reads no modem status lines, and a pty has none to test it with.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import os
import secrets
import tempfile
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

from drivers.pin_pad.zt588_link import Zt588Link
from drivers.pin_pad.zt588_maskers import Zt588Masker
from hal.address import DeviceAddress
from hal.device import BackendListener, DeviceState
from hal.devices.pin_entry import EntryAction, EntryTracker
from hal.devices.pin_pad import (
    DIGIT_KEYS,
    KEY_CHARACTERS,
    CipherMode,
    DataEntryResult,
    EncryptionState,
    EnterData,
    EntryCompletion,
    EntrySpec,
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
    PinPadCapabilities,
    PinPadStatus,
)
from hal.devices.pin_pad_service import PinPadService
from hal.errors import (
    ConfigurationError,
    ConnectionLost,
    DeviceError,
    FormatNotSupported,
    HalError,
    HalTimeout,
    HardwareError,
    InvalidData,
    InvalidKeyLength,
    KcvMismatch,
    KeyInvalid,
    KeyNotFound,
    KeyNoValue,
    ModeNotSupported,
    NoKeyRam,
    ProtocolError,
    SequenceError,
    UnsupportedOperation,
    UseViolation,
)
from hal.registry import DriverSpec, make_transport
from hal.transports.base import Transport
from protocols import zt588
from protocols.crypto_primitives import encrypt_ecb

__all__ = ["KEYBOARD", "ZT588_DRIVER", "Zt588Driver", "Zt588Options", "open_zt588"]

log = logging.getLogger(__name__)

T = TypeVar("T")

#: The keys of the pad's keyboard (the scancode table it ships with; no backspace).
KEYBOARD = frozenset(
    {*DIGIT_KEYS, "enter", "cancel", "clear", "decPoint", "doubleZero"}
    | {f"fdk{n:02d}" for n in range(1, 9)}
)

_FORMATS = {
    PinFormat.ISO0: zt588.PinFormat.ISO9564_0,
    PinFormat.ISO1: zt588.PinFormat.ISO9564_1,
    PinFormat.ISO3: zt588.PinFormat.ISO9564_3,
}
_KEY_TYPES = {KeyUsage.KEK: zt588.KeyType.TMK, KeyUsage.PIN: zt588.KeyType.TPK}
_SLOTS = {
    KeyUsage.KEK: tuple(range(0x00, 0x08)),
    KeyUsage.PIN: tuple(zt588.tpk_slot(n) for n in range(8)),
}
_NAMED_KEYS = {
    zt588.Key.ENTER: "enter",
    zt588.Key.CANCEL: "cancel",
    zt588.Key.CLEAR: "clear",
    zt588.Key.DEC_POINT: "decPoint",
    zt588.Key.DOUBLE_ZERO: "doubleZero",
    **{zt588.Key(f"fdk{n:02d}"): f"fdk{n:02d}" for n in range(1, 9)},
}
_KCV_LENGTH = 3
#: Seconds allowed beyond the link's own worst case for the reset at close.
_CLOSE_MARGIN = 0.5
_KEYMAP_VERSION = 1


@dataclass(frozen=True)
class Zt588Options:
    """The options of a ``zt588`` address (the serial line's are the transport's).

    Attributes:
        retries: sends of a command after the first when its reply is missing or broken
            (never for '7', which spends the PIN).
        reply_timeout: seconds for a reply.
        keymap: the JSON file that keeps key names across restarts; empty: memory only.

    Raises:
        ConfigurationError: a value out of range.
    """

    retries: int = 2
    reply_timeout: float = 2.0
    keymap: str = ""

    def __post_init__(self) -> None:
        if not 0 <= self.retries <= 10:
            raise ConfigurationError(f"retries must be 0 to 10, got {self.retries}")
        if not (math.isfinite(self.reply_timeout) and self.reply_timeout > 0):
            raise ConfigurationError(f"reply_timeout must be > 0 s, got {self.reply_timeout}")


# --- the key table -----------------------------------------------------------------------


class _Slot(NamedTuple):
    """A named key: where it is on the pad and what it is (no key material; the KCV
    identifies a key without revealing it)."""

    slot: int
    usage: KeyUsage
    algorithm: KeyAlgorithm
    mode: ModeOfUse
    length: int
    kcv: bytes
    components: int = 0

    def detail(self, name: str) -> KeyDetail:
        return KeyDetail(
            name=name,
            usage=self.usage,
            algorithm=self.algorithm,
            mode_of_use=self.mode,
            length=self.length,
            kcv=self.kcv,
            components=self.components,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "slot": self.slot,
            "usage": self.usage.value,
            "algorithm": self.algorithm.value,
            "mode_of_use": self.mode.value,
            "length": self.length,
            "kcv": self.kcv.hex().upper(),
            "components": self.components,
        }

    @classmethod
    def from_json(cls, raw: Any) -> _Slot:
        usage = KeyUsage(raw["usage"])
        slot = int(raw["slot"])
        if usage not in _SLOTS or slot not in _SLOTS[usage]:
            raise ValueError(f"slot {slot} is not a {usage.value} slot")
        return cls(
            slot,
            usage,
            KeyAlgorithm(raw["algorithm"]),
            ModeOfUse(raw["mode_of_use"]),
            int(raw["length"]),
            bytes.fromhex(raw["kcv"]),
            int(raw.get("components", 0)),
        )


class KeyMap:
    """Key names -> slots, in memory and (with a path) in a JSON file.

    Args:
        path: the file; empty for memory only.

    Raises:
        ConfigurationError: the file exists and is not a key map.
    """

    def __init__(self, path: str = "") -> None:
        self.path = Path(path) if path else None
        self.keys: dict[str, _Slot] = {}

    def load(self) -> None:
        self.keys = {}
        if self.path is None or not self.path.exists():
            return
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
            if raw.get("version") != _KEYMAP_VERSION:
                raise ValueError(f"version {raw.get('version')!r}, expected {_KEYMAP_VERSION}")
            keys = {str(name): _Slot.from_json(entry) for name, entry in raw["keys"].items()}
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ConfigurationError(
                f"the ZT588 key map {self.path} is unreadable: {exc}"
            ) from None
        slots = [entry.slot for entry in keys.values()]
        if len(set(slots)) != len(slots):
            raise ConfigurationError(f"the ZT588 key map {self.path} gives a slot two names")
        self.keys = keys

    def save(self) -> None:
        """Write the file atomically (a temporary file renamed over it)."""
        if self.path is None:
            return
        body = {
            "version": _KEYMAP_VERSION,
            "keys": {name: entry.to_json() for name, entry in sorted(self.keys.items())},
        }
        directory = self.path.parent
        directory.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(body, out, indent=1)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise

    def free_slot(self, usage: KeyUsage) -> int | None:
        used = {entry.slot for entry in self.keys.values()}
        return next((slot for slot in _SLOTS[usage] if slot not in used), None)


class _Components:
    """Clear components of a key under construction: XORed in a wiped buffer."""

    def __init__(self, attributes: KeyAttributes, first: bytes) -> None:
        self.attributes = attributes
        self.value = bytearray(first)
        self.count = 1

    def add(self, component: bytes) -> None:
        for index, byte in enumerate(component):
            self.value[index] ^= byte
        self.count += 1

    def wipe(self) -> None:
        self.value[:] = bytes(len(self.value))

    def __repr__(self) -> str:
        return f"_Components({self.count}, <{len(self.value)} bytes>)"


@dataclass(frozen=True, repr=False)
class _BlockData:
    """What `set_pin_block_data` gave; the PAN is never shown."""

    key: str
    format: PinFormat
    customer_data: str

    def __repr__(self) -> str:
        return f"_BlockData({self.key!r}, {self.format.value}, <{len(self.customer_data)} digits>)"


def _account_digits(format: PinFormat, pan: str) -> str:
    """What '6' carries as the PAN: the 12 digits of a format 0/3 block's PAN field."""
    if format is PinFormat.ISO1:
        return ""
    return pan[:-1][-12:].rjust(12, "0")


def _des_check(key: bytes) -> bytes:
    """The whole check block DES(key, zeros), which every KCV prefix is compared with."""
    return encrypt_ecb(KeyAlgorithm.TDES, key, bytes(8))


async def _shielded(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to its end even if the caller is cancelled meanwhile; a cancellation
    that came meanwhile is raised once it has ended (it is delayed, never lost)."""
    task = asyncio.ensure_future(coro)
    cancelled = False
    while True:
        try:
            result = await asyncio.shield(task)
        except asyncio.CancelledError:
            if task.done():
                raise
            cancelled = True
            continue
        if cancelled:
            raise asyncio.CancelledError
        return result


# --- the driver ----------------------------------------------------------------------------


class Zt588Driver:
    """A ZT588 behind a `hal.transports.base.Transport` (see the module header).

    Args:
        transport: the link to the pad.
        options: retries, timeouts, the key map file.
        name: the device name, for messages.
    """

    def __init__(
        self, transport: Transport, options: Zt588Options | None = None, *, name: str = "pin_pad"
    ) -> None:
        self.options = options if options is not None else Zt588Options()
        self.name = name
        self.link = Zt588Link(
            transport,
            name=name,
            retries=self.options.retries,
            reply_timeout=self.options.reply_timeout,
        )
        self.keymap = KeyMap(self.options.keymap)
        self.identity: zt588.UserInfo | None = None
        self._listener: BackendListener[PinPadStatus] | None = None
        self._components: dict[str, _Components] = {}
        self._block_data: _BlockData | None = None
        self._pin_held = False
        #: An entry started since the pad was last reset: a PIN may be in it.
        self._reset_owed = False
        self._firmware = ""
        self._state = DeviceState.ONLINE
        self._last_status: PinPadStatus | None = None

    def __repr__(self) -> str:
        return f"Zt588Driver({self.name!r}, {self.link.transport.name})"

    # --- lifecycle and queries ---------------------------------------------------------

    async def open(self, listener: BackendListener[PinPadStatus]) -> None:
        """Open the port, identify the pad ('3'), reset it ('5' '0' '0': a PIN left in it
        by an earlier session is dropped), set the PIN mask, disable input and read the
        key map."""
        self.keymap.load()
        await self.link.open()
        try:
            reply = await self._ask(zt588.QueryUserInfo())
            if not isinstance(reply, zt588.UserInfo):
                raise self._refused(reply, "identify")
            self.identity = reply
            model = reply.model.strip()
            self._firmware = (
                f"{model or 'ZT588'} hw {reply.hardware_version.strip()} "
                f"sw {reply.software_version.strip()}"
            )
            log.info("%s: %s (serial %s)", self.name, self._firmware, reply.serial.strip())
            await self._control(zt588.Control.misc(zt588.Misc.RESET), "reset")
            await self._control(zt588.Control.pin_mask(zt588.MASK_CHAR), "set the PIN mask")
            await self._control(zt588.Control.misc(zt588.Misc.DISABLE_INPUT), "disable input")
        except BaseException:
            await self.link.close()
            raise
        self._listener = listener
        self._state = DeviceState.ONLINE
        self._reset_owed = False

    async def close(self) -> None:
        """Forget the session's state and close the port. If an entry ran since the pad
        was last reset (a PIN may be in it), reset it first ('5' '0' '0'): best effort,
        bounded in time, carried out even if the caller is cancelled meanwhile."""
        self._listener = None
        self._wipe_components()
        owed = self._reset_owed or self._pin_held
        self._pin_held = False
        self._block_data = None
        try:
            if owed:
                await _shielded(self._reset_before_close())
        finally:
            await self.link.close()

    async def _reset_before_close(self) -> None:
        # The link's own worst case (every send waiting its reply_timeout), plus margin
        # for a dirty link's settle: the bound holds even if a write never returns.
        bound = self.options.reply_timeout * (self.options.retries + 1) + _CLOSE_MARGIN
        try:
            async with asyncio.timeout(bound):
                await self._control(zt588.Control.misc(zt588.Misc.RESET), "reset")
        except (HalError, TimeoutError) as exc:
            detail = exc.message if isinstance(exc, HalError) else f"no answer within {bound} s"
            log.warning(
                "%s: the pad could not be reset on close; a PIN typed may remain in it "
                "until the next open resets it: %s",
                self.name,
                detail,
            )

    def capabilities(self) -> PinPadCapabilities:
        """What the reference documents (see the module header)."""
        return PinPadCapabilities(
            keys=KEYBOARD,
            pin_formats=frozenset(_FORMATS),
            algorithms=frozenset({KeyAlgorithm.TDES}),
            usages=frozenset(_KEY_TYPES),
            cipher_modes=frozenset(),
            dukpt=frozenset(),
            key_components=True,
            min_components=2,
            encrypted_keys=True,
            tr31=False,
            delete_key=False,
            random=False,
            data_entry=True,
            max_keys=sum(len(slots) for slots in _SLOTS.values()),
            pin_max=12,
            pin_block_data_first=True,
            firmware=self._firmware,
        )

    async def get_status(self) -> PinPadStatus:
        """From what the driver knows (no wire traffic): the link's state, the keys."""
        return self._status()

    def _status(self) -> PinPadStatus:
        loaded = len(self.keymap.keys)
        state = EncryptionState.READY if loaded else EncryptionState.NOT_INITIALIZED
        return PinPadStatus(
            device=self._state, encryption_state=state, keys=loaded + len(self._components)
        )

    def _report(self) -> None:
        status = self._status()
        if status != self._last_status:
            self._last_status = status
            if self._listener is not None:
                self._listener.status_changed(status)

    async def reset(self) -> None:
        """Disable input and reset the pad: an entry ends, its PIN is dropped; keys stay."""
        self._pin_held = False
        await self._end_entry(discard=True)

    # --- the keyboard -------------------------------------------------------------------

    async def set_pin_block_data(
        self, key: str, format: PinFormat, customer_data: str, padding: int
    ) -> None:
        """Keep the key, format and PAN for the next '6' (nothing goes to the pad)."""
        self._check_block(key, format, padding)
        self._block_data = _BlockData(key, format, customer_data)
        self._pin_held = False

    async def pin_entry(self, spec: EntrySpec) -> PinEntryResult:
        """'4', '5' (lengths), '6' (start), then count key presses until the entry ends."""
        data = self._block_data
        if data is None:
            raise SequenceError(
                f"{self.name}: the ZT588 needs set_pin_block_data before a PIN entry"
            )
        entry = self._check_block(data.key, data.format, 0x0F)
        self._pin_held = False
        self._reset_owed = True
        await self._control(
            zt588.Control.number(zt588.ControlCode.MIN_PIN_LENGTH, spec.min_len), "set min_len"
        )
        await self._control(
            zt588.Control.number(zt588.ControlCode.MAX_PIN_LENGTH, spec.max_len), "set max_len"
        )
        start = zt588.StartPinEntry(
            entry.slot,
            _FORMATS[data.format],
            0,
            spec.max_len,
            _account_digits(data.format, data.customer_data),
        )
        self.link.drop_keys()
        reply = await self._ask(start)
        if isinstance(reply, zt588.ErrorReply):
            raise self._refused(reply, "start the PIN entry", key=data.key)
        tracker = EntryTracker(spec, secure=True)
        await self._keyboard(self._follow(tracker, secure=True), discard=True)
        assert tracker.done is not None
        completed = tracker.done is not EntryCompletion.CANCEL
        await self._end_entry(discard=not completed)
        self._pin_held = completed
        log.debug("%s: PIN entry ended %s, %d digits", self.name, tracker.done, tracker.length)
        return PinEntryResult(tracker.length, tracker.done, tracker.key)

    async def data_entry(self, spec: EntrySpec) -> DataEntryResult:
        """'5' '0' '3' (enable input: clear keys), the keys, then '5' '0' '2'."""
        self.link.drop_keys()
        self._reset_owed = True
        await self._control(zt588.Control.misc(zt588.Misc.ENABLE_INPUT), "enable input")
        tracker = EntryTracker(spec, secure=False)
        data: list[str] = []
        await self._keyboard(self._follow(tracker, secure=False, data=data), discard=False)
        await self._end_entry(discard=False)
        assert tracker.done is not None
        text = "" if tracker.done is EntryCompletion.CANCEL else "".join(data)
        return DataEntryResult(text, tracker.done, tracker.key)

    async def _keyboard(self, following: Coroutine[Any, Any, None], *, discard: bool) -> None:
        """Run an entry's key loop; if it fails or is cancelled (a timeout, the app),
        end the entry on the pad first (``discard``: and drop the PIN typed)."""
        try:
            await following
        except BaseException as exc:
            try:
                await _shielded(self._end_entry(discard=discard))
            except HalError as cleanup:
                exc.add_note(f"ending the entry on the pad failed too: {cleanup.message}")
            raise

    async def _follow(
        self, tracker: EntryTracker, *, secure: bool, data: list[str] | None = None
    ) -> None:
        self._emit(EnterData())
        while tracker.done is None:
            press = await self.link.next_key()
            key = self._key_name(press, secure, tracker.spec)
            if key is None:
                continue
            step = tracker.press(key)
            if data is not None:
                if step.action is EntryAction.ADD:
                    data.append(KEY_CHARACTERS[key])
                elif step.action is EntryAction.REMOVE and data:
                    data.pop()
                elif step.action in (EntryAction.CLEAR, EntryAction.DISCARD):
                    data.clear()
            if step.event is not None:
                completion, digit = step.event
                self._emit(KeyEvent(completion=completion, digit=digit))

    def _key_name(self, press: zt588.KeyPress, secure: bool, spec: EntrySpec) -> str | None:
        if press.key is zt588.Key.MASKED:
            # A digit in PIN mode: which one, only the pad knows. Every digit counts alike
            # (as an active digit key, if the entry has one).
            return _stand_in(spec) if secure else None
        if press.key is zt588.Key.DIGIT:
            if secure:
                log.warning("%s: the pad sent a digit in clear during a PIN entry", self.name)
                return _stand_in(spec)
            assert press.digit is not None
            return DIGIT_KEYS[int(press.digit)]
        return _NAMED_KEYS.get(press.key)

    async def _end_entry(self, *, discard: bool) -> None:
        """Disable input; ``discard``: reset the pad too, which drops a PIN typed."""
        await self._control(zt588.Control.misc(zt588.Misc.DISABLE_INPUT), "disable input")
        if discard:
            await self._control(zt588.Control.misc(zt588.Misc.RESET), "reset")
            self._reset_owed = False

    # --- PIN blocks ---------------------------------------------------------------------

    async def pin_block(
        self, key: str, format: PinFormat, customer_data: str, padding: int
    ) -> PinBlock:
        """'7': the block the pad made of the last entry's PIN (the PIN is spent)."""
        self._check_block(key, format, padding)
        data, held = self._block_data, self._pin_held
        self._pin_held = False
        self._block_data = None
        if not held or data is None:
            raise SequenceError(f"{self.name}: no PIN is waiting for a PIN block")
        if data != _BlockData(key, format, customer_data):
            raise InvalidData(f"{self.name}: the PIN block data differ from set_pin_block_data's")
        reply = await self._ask(zt588.GetPinBlock())
        if isinstance(reply, zt588.ErrorReply):
            raise self._refused(reply, "make the PIN block", key=key)
        if not isinstance(reply, zt588.PinBlockReply) or len(reply.block) != 8:
            size = len(reply.block) if isinstance(reply, zt588.PinBlockReply) else 0
            raise ProtocolError(f"{self.name}: a PIN block reply of {size} bytes, expected 8")
        return PinBlock(reply.block, format)

    def _check_block(self, key: str, format: PinFormat, padding: int) -> _Slot:
        if format not in _FORMATS:
            raise FormatNotSupported(f"{self.name}: the ZT588 makes no {format.value} PIN blocks")
        if padding != 0x0F:
            raise FormatNotSupported(f"{self.name}: the ZT588 fills format 0 with F only")
        entry = self._loaded(key)
        if entry.usage is not KeyUsage.PIN:
            raise UseViolation(f"{self.name}: {key!r} is a {entry.usage.value} key, not a PIN key")
        return entry

    # --- key management -----------------------------------------------------------------

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

    # --- what the ZT588 does not do -----------------------------------------------------

    async def crypt(
        self, key: str, data: bytes, encrypt: bool, mode: CipherMode, iv: bytes | None
    ) -> bytes:
        raise UnsupportedOperation(f"{self.name}: the ZT588's data encryption is not documented")

    async def mac(self, key: str, data: bytes, padding: int) -> bytes:
        raise UnsupportedOperation(f"{self.name}: the ZT588's MAC command is not documented")

    async def verify_mac(self, key: str, data: bytes, mac: bytes, padding: int) -> bool:
        raise UnsupportedOperation(f"{self.name}: the ZT588's MAC command is not documented")

    async def random(self, length: int) -> bytes:
        raise UnsupportedOperation(f"{self.name}: the ZT588 gives no random numbers")

    # --- helpers ------------------------------------------------------------------------

    def _emit(self, event: Any) -> None:
        if self._listener is not None:
            self._listener.event(event)

    def _loaded(self, name: str) -> _Slot:
        entry = self.keymap.keys.get(name)
        if entry is None:
            if name in self._components:
                raise KeyNoValue(f"{self.name}: {name!r} is still being built from components")
            raise KeyNotFound(f"{self.name}: no key named {name!r}")
        return entry

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

    async def _ask(self, command: zt588.Command) -> zt588.Reply:
        """One exchange; the device state follows what the link saw."""
        try:
            reply = await self.link.exchange(command)
        except HalTimeout:
            self._set_state(DeviceState.OFFLINE)
            raise
        except ConnectionLost:
            self._set_state(DeviceState.NO_DEVICE)
            raise
        self._set_state(DeviceState.ONLINE)
        return reply

    def _set_state(self, state: DeviceState) -> None:
        if state is not self._state:
            self._state = state
            self._report()

    async def _control(self, command: zt588.Control, what: str) -> None:
        reply = await self._ask(command)
        if isinstance(reply, zt588.ErrorReply):
            raise self._refused(reply, what)

    def _refused(self, reply: zt588.Reply, what: str, *, key: str = "") -> HalError:
        """The typed error for a reply that refuses (or does not answer) ``what``."""
        if not isinstance(reply, zt588.ErrorReply):
            return ProtocolError(f"{self.name}: an unexpected {type(reply).__name__} to {what}")
        message = f"{self.name}: the pad refused to {what}: {reply.message} (0x{reply.code:02X})"
        error = reply.error
        kind: type[HalError] = _ERRORS.get(error, HardwareError) if error else HardwareError
        if kind is KeyNotFound and key:
            message += f" (key {key!r})"
        return kind(message)

    def _wipe_components(self) -> None:
        for held in self._components.values():
            held.wipe()
        self._components.clear()


def _stand_in(spec: EntrySpec) -> str:
    """The digit key a masked press counts as: an active one if there is one."""
    return next((key for key in DIGIT_KEYS if key in spec.active_keys), DIGIT_KEYS[0])


def _kcv_matches(check: bytes, kcv: bytes) -> bool:
    """Whether ``kcv`` is the start of ``check`` (or ``check`` of it), over at least
    `_KCV_LENGTH` bytes: a shorter check value (one byte matches a wrong key one time in
    256) checks nothing and never matches."""
    size = min(len(check), len(kcv))
    return size >= _KCV_LENGTH and secrets.compare_digest(check[:size], kcv[:size])


def _check_kcv_length(kcv: bytes) -> None:
    if len(kcv) < _KCV_LENGTH:
        raise InvalidData(f"a key check value is at least {_KCV_LENGTH} bytes; got {len(kcv)}")


_ERRORS: dict[zt588.Zt588Error, type[HalError]] = {
    zt588.Zt588Error(0xE1): KeyNotFound,
    zt588.Zt588Error(0xE2): KeyNotFound,
    zt588.Zt588Error(0xE3): InvalidKeyLength,
    zt588.Zt588Error(0xE4): KeyNotFound,
    zt588.Zt588Error(0xE5): KeyNotFound,
    zt588.Zt588Error(0xE6): KeyInvalid,
    zt588.Zt588Error(0xE7): KeyInvalid,
    zt588.Zt588Error(0xE8): InvalidData,
    zt588.Zt588Error(0xE9): InvalidData,
    zt588.Zt588Error(0xEB): InvalidData,
    zt588.Zt588Error(0xEC): DeviceError,
    zt588.Zt588Error(0xED): DeviceError,
    zt588.Zt588Error(0xEE): HalTimeout,
}


def open_zt588(address: DeviceAddress, options: Zt588Options) -> PinPadService:
    """Build the (unopened) PIN pad an address names (the registry factory)."""
    driver = Zt588Driver(make_transport(address), options)
    return PinPadService(driver, name=driver.name)


ZT588_DRIVER = DriverSpec(
    name="zt588",
    device_classes=frozenset({"pin_pad"}),
    options=Zt588Options,
    factory=open_zt588,
    description="Zhengtong ZT588 encrypting PIN pad (serial)",
    transports=frozenset({"serial", "memory"}),
    capabilities={"pin_pad": frozenset({"pin", "data_entry", "kek_components", "encrypted_keys"})},
    masker=Zt588Masker,
)
"""The ``zt588`` driver, registered through the ``tellerhal.drivers`` entry point."""
