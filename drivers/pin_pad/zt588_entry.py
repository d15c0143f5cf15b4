"""The ``zt588`` driver's keyboard: PIN entry, clear data entry, PIN blocks.

`Zt588Entry` keeps what `set_pin_block_data` gave (`_BlockData`), starts a PIN entry
('4', '5', '6') or a data entry ('5' '0' '3'), follows the key presses with the shared
entry rules (`hal.devices.pin_entry.EntryTracker`; in PIN mode every masked digit counts
alike, `_stand_in`), ends the entry on the pad ('5' '0' '2', and '5' '0' '0' when the
PIN is dropped), and asks for the block ('7'). What the pad's keyboard is: `KEYBOARD`,
`_NAMED_KEYS`. The rules: `drivers.pin_pad.zt588` (the module header).
"""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any

from drivers.pin_pad.zt588_core import Zt588Core, _BlockData, log
from drivers.pin_pad.zt588_keymap import _Slot
from hal.device import run_to_end
from hal.devices.pin_entry import EntryAction, EntryTracker
from hal.devices.pin_pad import (
    DIGIT_KEYS,
    KEY_CHARACTERS,
    DataEntryResult,
    EnterData,
    EntryCompletion,
    EntrySpec,
    KeyEvent,
    KeyUsage,
    PinBlock,
    PinEntryResult,
    PinFormat,
)
from hal.errors import (
    FormatNotSupported,
    HalError,
    InvalidData,
    ProtocolError,
    SequenceError,
    UseViolation,
)
from protocols import zt588

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
_NAMED_KEYS = {
    zt588.Key.ENTER: "enter",
    zt588.Key.CANCEL: "cancel",
    zt588.Key.CLEAR: "clear",
    zt588.Key.DEC_POINT: "decPoint",
    zt588.Key.DOUBLE_ZERO: "doubleZero",
    **{zt588.Key(f"fdk{n:02d}"): f"fdk{n:02d}" for n in range(1, 9)},
}


def _account_digits(format: PinFormat, pan: str) -> str:
    """What '6' carries as the PAN: the 12 digits of a format 0/3 block's PAN field."""
    if format is PinFormat.ISO1:
        return ""
    return pan[:-1][-12:].rjust(12, "0")


def _stand_in(spec: EntrySpec) -> str:
    """The digit key a masked press counts as: an active one if there is one."""
    return next((key for key in DIGIT_KEYS if key in spec.active_keys), DIGIT_KEYS[0])


class Zt588Entry(Zt588Core):
    """The PIN and data entries and the PIN block (see the module header)."""

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
                await run_to_end(self._end_entry(discard=discard))
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
