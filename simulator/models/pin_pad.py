"""A simulated encrypting PIN pad: a keyboard around a secure element.

`PinPadModel` implements `hal.devices.pin_pad.PinPadBackend`. Its keys and its crypto
are a `simulator.models.secure_element.SecureElement`; what it adds is the keyboard
(entries driven by key presses from `simulator.pin_pad_control.PinPadControl`), the PIN
the customer typed, and the hardware's faults (power loss, slow replies).

Behaviour, in XFS4IoT terms:

- ``pin_entry`` emits ``EnterData`` and then a ``KeyEvent`` per key the entry reacts to,
  with no digit for a digit key; the rules (``min_len``, ``max_len``, ``auto_end``,
  ``clear``, ``backspace``, ``cancel``, inactive keys) are `hal.devices.pin_entry.EntryTracker`'s.
  The digits stay in the model, in a `bytearray` overwritten when the PIN is used, when
  the entry is cancelled (by the ``cancel`` key or by cancelling the command: a timeout),
  when a new PIN entry starts, on reset, close or power loss. ``data_entry`` is the same
  for clear data, whose key events name the key.
- ``pin_block`` enciphers the PIN of the last completed PIN entry (`SequenceError` when
  there is none) and erases it, whatever the secure element answers: a PIN makes one
  block at most.
- Key management, encryption, MACs and random numbers are the secure element's; keys
  survive power loss (the EPP's memory is battery-backed) and go on ``initialize``
  (which emits ``Initialized``).
- Power off: every command raises `DeviceNotReady` and an entry under way ends (its PIN
  erased) until power returns; the status says ``powerOff``.
- Status: ``encryptionState`` ``ready`` once a usable key is loaded, else
  ``notInitialized``; ``keys`` counts keys (constructing ones too).

Nothing the model logs or prints carries a digit of the PIN or a byte of a key.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from hal.device import BackendListener, DeviceState
from hal.devices.pin_entry import EntryAction, EntryTracker
from hal.devices.pin_pad import (
    DIGIT_KEYS,
    KEY_CHARACTERS,
    CipherMode,
    DataEntryResult,
    EnterData,
    EntryCompletion,
    EntrySpec,
    Initialized,
    KcvMethod,
    KeyAttributes,
    KeyDetail,
    KeyEvent,
    PinBlock,
    PinEntryResult,
    PinFormat,
    PinPadCapabilities,
    PinPadStatus,
)
from hal.devices.pin_pad_model import EncryptionState
from hal.errors import DeviceNotReady, SequenceError
from hal.events import Event, Notifier
from simulator.clock import SimClock, reply_delay
from simulator.models.secure_element import SecureElement

__all__ = ["KEYBOARD", "PinPadModel"]

log = logging.getLogger(__name__)

#: The simulated keyboard: the digits, enter, cancel, clear, backspace, the decimal
#: point, double zero and four function keys beside the screen.
KEYBOARD: frozenset[str] = frozenset(
    {
        *DIGIT_KEYS,
        "enter",
        "cancel",
        "clear",
        "backspace",
        "decPoint",
        "doubleZero",
        "fdk01",
        "fdk02",
        "fdk03",
        "fdk04",
    }
)

_PIN_FORMATS = frozenset({PinFormat.ISO0, PinFormat.ISO1, PinFormat.ISO3, PinFormat.ISO4})


class _Entry:
    """The entry under way: its rules and what was typed (digits as ASCII, or text)."""

    __slots__ = ("aborted", "buffer", "sizes", "tracker")

    def __init__(self, spec: EntrySpec, *, secure: bool) -> None:
        self.tracker = EntryTracker(spec, secure=secure)
        self.buffer = bytearray()
        self.sizes: list[int] = []
        self.aborted = ""  # why the entry was ended by the pad itself (power, close, reset)

    @property
    def secure(self) -> bool:
        return self.tracker.secure

    def wipe(self) -> None:
        self.buffer[:] = bytes(len(self.buffer))
        self.buffer.clear()
        self.sizes.clear()

    def __repr__(self) -> str:
        return f"_Entry(secure={self.secure}, length={self.tracker.length})"


class PinPadModel:
    """A simulated EPP: keyboard, PIN buffer and `SecureElement`.

    Args:
        name: the device name used in messages.
        clock: the world's clock (slow replies are simulated seconds); real time if
            ``None``.
        secure_element: the key store; a new, empty one if ``None``.
        pin_max: the longest PIN the keyboard takes (4-12).
    """

    def __init__(
        self,
        *,
        name: str = "pin_pad",
        clock: SimClock | None = None,
        secure_element: SecureElement | None = None,
        pin_max: int = 12,
    ) -> None:
        if isinstance(pin_max, bool) or not isinstance(pin_max, int) or not 4 <= pin_max <= 12:
            raise ValueError(f"pin_max must be 4 to 12, got {pin_max!r}")
        self.name = name
        self.clock = clock if clock is not None else SimClock()
        self._se = secure_element if secure_element is not None else SecureElement()
        self._pin_max = pin_max
        self._powered = True
        self._reply_delay_s = 0.0
        self._listener: BackendListener[PinPadStatus] | None = None
        self._last_status: PinPadStatus | None = None
        self._entry: _Entry | None = None
        self._pin = bytearray()  # the last PIN entered, until it makes a block
        self._signal = Notifier()
        self.keys_pressed = 0  # key presses the keyboard took (for tests and the control)

    # --- ground truth (read by the control API and tests) -------------------------------

    @property
    def secure_element(self) -> SecureElement:
        """The key store (tests load keys into it directly)."""
        return self._se

    @property
    def powered(self) -> bool:
        """Whether the pad has power."""
        return self._powered

    @property
    def entry_active(self) -> bool:
        """Whether an entry is under way (the keyboard takes keys)."""
        return self._entry is not None and self._entry.tracker.done is None

    @property
    def pin_held(self) -> bool:
        """Whether a PIN is waiting for its PIN block (never what it is)."""
        return bool(self._pin)

    @property
    def is_open(self) -> bool:
        """Whether a service has the pad open."""
        return self._listener is not None

    async def wait_until(self, predicate: Callable[[], bool]) -> None:
        """Return once ``predicate()`` holds (re-checked at every change)."""
        await self._signal.wait_until(predicate)

    # --- what the world does ------------------------------------------------------------

    def press(self, key: str) -> bool:
        """The customer presses ``key``; returns whether an entry took it.

        A key pressed with no entry under way (or one the entry ignores) does nothing.

        Raises:
            ValueError: the keyboard has no such key.
        """
        if key not in KEYBOARD:
            raise ValueError(f"{self.name}'s keyboard has no key {key!r}")
        entry = self._entry
        if entry is None or entry.tracker.done is not None or not self._powered:
            return False
        self.keys_pressed += 1
        step = entry.tracker.press(key)
        if step.action is EntryAction.ADD:
            added = KEY_CHARACTERS[key].encode("ascii")  # a digit, ".", or "00"
            entry.buffer += added
            entry.sizes.append(len(added))
        elif step.action is EntryAction.REMOVE and entry.sizes:
            size = entry.sizes.pop()
            entry.buffer[-size:] = bytes(size)
            del entry.buffer[-size:]
        elif step.action in (EntryAction.CLEAR, EntryAction.DISCARD):
            entry.wipe()
        if step.event is not None:
            completion, digit = step.event
            self._emit(KeyEvent(completion=completion, digit=digit))
        self._signal.notify()
        return step.event is not None

    def set_power(self, on: bool) -> None:
        """Cut or restore the power; an entry under way ends and its PIN is erased."""
        if on == self._powered:
            return
        self._powered = on
        if not on:
            self._abort_entry("lost power")
            self._wipe_pin()
        self._update_status()

    def set_reply_delay(self, seconds: float) -> None:
        """Delay every backend call by ``seconds`` simulated seconds (0: no delay)."""
        if not seconds >= 0:
            raise ValueError(f"a reply delay is >= 0 seconds, got {seconds!r}")
        self._reply_delay_s = float(seconds)

    # --- PinPadBackend: the device ------------------------------------------------------

    async def open(self, listener: BackendListener[PinPadStatus]) -> None:
        """Start reporting to ``listener``.

        Raises:
            DeviceNotReady: another service has the pad open.
        """
        if self._listener is not None and self._listener is not listener:
            raise DeviceNotReady(f"{self.name} is already open by another service; close it first")
        await self._reply_delay(opening=True)
        self._listener = listener
        self._last_status = None
        self._update_status()

    async def close(self) -> None:
        """Stop reporting; an entry under way ends and the PIN is erased."""
        self._abort_entry("was closed")
        self._wipe_pin()
        self._listener = None
        self._signal.notify()

    def capabilities(self) -> PinPadCapabilities:
        """Everything the hal PIN pad has, but IBM 3624 PIN blocks."""
        return PinPadCapabilities(
            keys=KEYBOARD,
            pin_formats=_PIN_FORMATS,
            min_components=self._se.min_components,
            max_keys=self._se.max_keys,
            pin_max=self._pin_max,
            firmware="tellerhal-sim",
        )

    async def get_status(self) -> PinPadStatus:
        """Where things stand now."""
        await self._reply_delay()
        return self._compute_status()

    async def reset(self) -> None:
        """An entry under way ends, the PIN is erased; keys stay."""
        await self._reply_delay()
        self._require_power()
        self._abort_entry("was reset")
        self._wipe_pin()
        self._update_status()

    # --- PinPadBackend: the keyboard ----------------------------------------------------

    async def pin_entry(self, spec: EntrySpec) -> PinEntryResult:
        """Run a PIN entry; the PIN stays here for `pin_block`."""
        self._wipe_pin()  # a new entry replaces the PIN typed before
        entry = await self._run_entry(spec, secure=True)
        tracker = entry.tracker
        assert tracker.done is not None
        if tracker.done is EntryCompletion.CANCEL:
            entry.wipe()
            return PinEntryResult(0, tracker.done, tracker.key)
        self._pin, entry.buffer = entry.buffer, bytearray()
        log.debug(
            "%s: PIN entry ended %s, %d digits", self.name, tracker.done.value, len(self._pin)
        )
        return PinEntryResult(tracker.length, tracker.done, tracker.key)

    async def data_entry(self, spec: EntrySpec) -> DataEntryResult:
        """Run a clear data entry."""
        entry = await self._run_entry(spec, secure=False)
        tracker = entry.tracker
        assert tracker.done is not None
        data = "" if tracker.done is EntryCompletion.CANCEL else entry.buffer.decode("ascii")
        entry.wipe()
        return DataEntryResult(data, tracker.done, tracker.key)

    async def _run_entry(self, spec: EntrySpec, *, secure: bool) -> _Entry:
        await self._reply_delay()
        self._require_power()
        if self._entry is not None:
            raise SequenceError(f"{self.name} is in an entry already")
        entry = self._entry = _Entry(spec, secure=secure)
        listener = self._listener
        try:
            self._emit(EnterData())
            self._signal.notify()
            await self._signal.wait_until(
                lambda: (
                    entry.tracker.done is not None
                    or bool(entry.aborted)
                    or self._listener is not listener
                )
            )
        except BaseException:
            # Cancelled (a timeout, the app, a closing service): the entry stops on the
            # pad and what was typed is gone before the cancellation goes on.
            entry.wipe()
            raise
        finally:
            self._entry = None
            self._signal.notify()
        if entry.tracker.done is None:
            entry.wipe()
            reason = entry.aborted or "was closed"
            raise DeviceNotReady(f"{self.name} {reason} during the entry")
        return entry

    # --- PinPadBackend: PIN blocks ------------------------------------------------------

    async def pin_block(
        self, key: str, format: PinFormat, customer_data: str, padding: int
    ) -> PinBlock:
        """Encipher the last PIN under ``key``; the PIN is erased whatever happens."""
        await self._reply_delay()
        self._require_power()
        if not self._pin:
            raise SequenceError(
                f"{self.name}: no PIN is waiting for a PIN block (a PIN makes one block only)"
            )
        pin, self._pin = self._pin, bytearray()
        try:
            return self._se.pin_block(key, format, customer_data, padding, pin.decode("ascii"))
        finally:
            pin[:] = bytes(len(pin))
            self._update_status()

    async def set_pin_block_data(
        self, key: str, format: PinFormat, customer_data: str, padding: int
    ) -> None:
        """Accepted and not needed: this pad formats the block when asked for it."""
        await self._reply_delay()
        self._require_power()

    # --- PinPadBackend: keys ------------------------------------------------------------

    async def load_component(
        self, name: str, component: bytes, attributes: KeyAttributes, kcv: bytes
    ) -> KeyDetail:
        """Keep one clear component after its KCV."""
        await self._device()
        return self._changed(self._se.load_component(name, component, attributes, kcv))

    async def activate_key(self, name: str, kcv: bytes) -> KeyDetail:
        """Combine the components of ``name`` and check the KCV."""
        await self._device()
        try:
            return self._changed(self._se.activate(name, kcv))
        finally:
            self._update_status()  # a KCV mismatch discards the components

    async def load_key(
        self,
        name: str,
        value: bytes,
        kek: str,
        attributes: KeyAttributes,
        kcv: bytes,
        ksn: bytes,
    ) -> KeyDetail:
        """Load a key enciphered under ``kek``, after its KCV."""
        await self._device()
        return self._changed(self._se.load_key(name, value, kek, attributes, kcv, ksn))

    async def load_key_block(self, name: str, key_block: str, kbpk: str) -> KeyDetail:
        """Load a TR-31 key block under ``kbpk``."""
        await self._device()
        return self._changed(self._se.load_key_block(name, key_block, kbpk))

    async def delete_key(self, name: str) -> None:
        """Erase one key."""
        await self._device()
        self._se.delete_key(name)
        self._update_status()

    async def key_details(self) -> Mapping[str, KeyDetail]:
        """Every key, by name."""
        await self._device()
        return self._se.details()

    async def kcv(self, name: str, method: KcvMethod) -> bytes:
        """The check value of ``name`` by ``method``."""
        await self._device()
        return self._se.kcv(name, method)

    async def initialize(self) -> None:
        """Erase every key; emits `Initialized`."""
        await self._device()
        self._se.initialize()
        self._emit(Initialized())
        self._update_status()

    # --- PinPadBackend: crypto ----------------------------------------------------------

    async def crypt(
        self, key: str, data: bytes, encrypt: bool, mode: CipherMode, iv: bytes | None
    ) -> bytes:
        """Encipher or decipher ``data`` under ``key``."""
        await self._device()
        return self._se.crypt(key, data, encrypt, mode, iv)

    async def mac(self, key: str, data: bytes, padding: int) -> bytes:
        """The MAC of ``data`` under ``key``."""
        await self._device()
        return self._se.mac(key, data, padding)

    async def verify_mac(self, key: str, data: bytes, mac: bytes, padding: int) -> bool:
        """Whether ``mac`` is the MAC of ``data`` under ``key``."""
        await self._device()
        return self._se.verify_mac(key, data, mac, padding)

    async def random(self, length: int) -> bytes:
        """``length`` random bytes."""
        await self._device()
        return self._se.random(length)

    def __repr__(self) -> str:
        state = "on" if self._powered else "off"
        entry = "" if self._entry is None else f", entry={self._entry!r}"
        return f"PinPadModel({self.name!r}, power={state}, keys={len(self._se)}{entry})"

    # --- plumbing -----------------------------------------------------------------------

    async def _device(self) -> None:
        await self._reply_delay()
        self._require_power()

    def _changed(self, detail: KeyDetail) -> KeyDetail:
        self._update_status()
        return detail

    def _require_power(self) -> None:
        if not self._powered:
            raise DeviceNotReady(f"{self.name} is powered off")

    def _abort_entry(self, reason: str) -> None:
        entry = self._entry
        if entry is not None and entry.tracker.done is None:
            entry.aborted = reason
            entry.wipe()
        self._signal.notify()

    def _wipe_pin(self) -> None:
        self._pin[:] = bytes(len(self._pin))
        self._pin = bytearray()

    async def _reply_delay(self, *, opening: bool = False) -> None:
        """Wait out the reply delay (`simulator.clock.reply_delay`)."""
        await reply_delay(
            self.clock,
            self._reply_delay_s,
            name=self.name,
            listener=lambda: self._listener,
            signal=self._signal,
            opening=opening,
        )

    def _emit(self, event: Event) -> None:
        if self._listener is not None:
            self._listener.event(event)

    def _compute_status(self) -> PinPadStatus:
        if not self._powered:
            return PinPadStatus(
                device=DeviceState.POWER_OFF,
                encryption_state=EncryptionState.UNDEFINED,
                keys=len(self._se),
            )
        return PinPadStatus(
            device=DeviceState.ONLINE,
            encryption_state=self._se.encryption_state,
            keys=len(self._se),
        )

    def _update_status(self) -> None:
        status = self._compute_status()
        if status != self._last_status:
            self._last_status = status
            if self._listener is not None:
                self._listener.status_changed(status)
        self._signal.notify()
