"""`Zt588Firmware`: what a simulated ZT588 PIN pad does with each command and key press.

The firmware is the pad's secure element and keyboard logic, with no I/O: it keeps key
slots in memory (`bytearray` buffers overwritten when erased or replaced; never on disk,
never in a log), answers the commands of `protocols.zt588` with typed replies, and says
which byte a key press puts on the wire. `simulator.wire.zt588.Zt588Emulator` puts it on
a wire. Crypto is `protocols` (TDES, ISO 9564-1 PIN blocks, check values) used directly.

What it does, command by command (docs/zt588.md has the protocol; where the reference
is silent this is our choice [U]):

- '1' load a clear key into a slot, any type; '2' load a key enciphered (TDES ECB)
  under a slot holding a TMK (key not found: E4; not a TMK: E5); '2' with length code 0
  erases the slot. Both answer the first 4 bytes of DES(key, zeros) as the check value.
- '3' alone: the identity (user text, the scancode table, the settings, model, versions,
  date, serial); '3' with text stores the user text; '4' stores a scancode table (the
  keyboard keeps sending the default bytes).
- '5' controls: misc reset (the entry ends, the PIN typed is dropped, input disabled),
  wipe (every slot erased, the PIN dropped), disable input (the keyboard sends nothing;
  a PIN typed stays for '7'), enable input (clear mode: each key sends its own byte;
  the PIN typed before is dropped), sound and beep (nothing to do); the PIN mask
  character, the minimum and maximum PIN length, time limits and line speed are kept
  (a pty has no line speed). A value that means nothing: EB.
- '6' starts PIN entry under a TPK slot (empty: E4; another type: E5) in ISO format 0,
  1 or 3 (IBM 3624 is refused with EB: not implemented here); formats 0 and 3 take the
  12 account digits (anything else: E9), format 1 none. The PIN length field caps the
  entry (with the maximum length set by '5'). Input is enabled in PIN mode: a digit adds
  to the PIN and sends the mask character; past the maximum it is ignored and sends
  nothing; clear empties the PIN and sends BS; cancel drops it and sends ESC; the other
  keys send their bytes and change nothing (the "00" key adds nothing in PIN mode).
- '6' with the clear-PIN format '@' (which the codec cannot build, but a byte stream
  can carry): refused with EB and counted in ``clear_pin_refused``.
- '7' makes the PIN block of the PIN typed (under the slot, format and PAN of the '6'),
  then erases the PIN; no PIN of 4-12 digits: E9.
- ':' authenticate: EF (not simulated).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from protocols import pinblock, zt588
from protocols.crypto_primitives import Algorithm, decrypt_ecb, encrypt_ecb
from protocols.errors import ProtocolError

__all__ = ["KEY_BYTES", "MODEL", "Zt588Firmware"]

log = logging.getLogger(__name__)

#: What the simulated pad reports as its model and versions.
MODEL = "ZT588S"
HARDWARE = "1.2"
SOFTWARE = "3.4"

#: The byte each key sends outside PIN mode (the default scancode table).
KEY_BYTES: dict[str, bytes] = {
    **{
        name: str(digit).encode()
        for digit, name in enumerate(
            ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
        )
    },
    "enter": b"\r",
    "cancel": b"\x1b",
    "clear": b"\x08",
    "decPoint": b".",
    "doubleZero": b"#",
    "blank": b"\x07",
    **{f"fdk{n + 1:02d}": bytes((0x41 + n,)) for n in range(8)},
}

_FORMATS = {
    zt588.PinFormat.ISO9564_0: pinblock.PinBlockFormat.ISO_0,
    zt588.PinFormat.ISO9564_1: pinblock.PinBlockFormat.ISO_1,
    zt588.PinFormat.ISO9564_3: pinblock.PinBlockFormat.ISO_3,
}
_KCV_SIZE = 4
_E = zt588.Zt588Error


@dataclass
class _Entry:
    """A PIN entry's block data, from its '6'."""

    slot: int
    format: pinblock.PinBlockFormat
    account: str
    limit: int


class _Settings:
    """What the '5' controls set (and the '3' reply reports)."""

    def __init__(self) -> None:
        self.mask = zt588.MASK_CHAR
        self.min_len = 4
        self.max_len = 12
        self.time_limit = 30
        self.beep = 10
        self.sound = True
        self.baud = 9600
        self.user_info = ""
        self.scancodes = zt588.DEFAULT_SCANCODES


class Zt588Firmware:
    """A ZT588's key slots, settings and keyboard (see the module header).

    Args:
        serial: the serial number the identity reports.
    """

    def __init__(self, *, serial: str = "0001") -> None:
        self.serial = serial
        self.settings = _Settings()
        self._slots: dict[int, tuple[zt588.KeyType, bytearray]] = {}
        self._pin = bytearray()
        self._entry: _Entry | None = None
        #: The keyboard's state: ``None`` (input disabled), ``"pin"`` or ``"clear"``.
        self.input: str | None = None
        #: Every command executed, in order (none holds a key in its repr).
        self.executed: list[zt588.Command | zt588.ClearPinRequest] = []
        #: How many clear-PIN ('@') requests arrived (all refused).
        self.clear_pin_refused = 0

    def __repr__(self) -> str:
        return f"Zt588Firmware(slots={len(self._slots)}, input={self.input})"

    # --- state a test may look at ------------------------------------------------------

    @property
    def entry_active(self) -> bool:
        """Whether the keyboard is enabled (PIN or clear mode)."""
        return self.input is not None

    @property
    def pin_length(self) -> int:
        """Digits of the PIN held (never the digits)."""
        return len(self._pin)

    def slots(self) -> dict[int, zt588.KeyType]:
        """Which slots hold a key, and of which type."""
        return {slot: key_type for slot, (key_type, _) in self._slots.items()}

    def check_value(self, slot: int) -> bytes:
        """The slot's check value (what '1'/'2' answered), for tests; KeyError if empty."""
        return self._kcv(bytes(self._slots[slot][1]))

    # --- the keyboard -----------------------------------------------------------------

    def press(self, key: str) -> bytes:
        """A key pressed; returns what the pad sends for it (``b""``: nothing).

        Raises:
            ValueError: a key the keyboard does not have.
        """
        if key not in KEY_BYTES:
            raise ValueError(f"the ZT588 has no key {key!r}")
        if self.input is None:
            return b""
        sent = KEY_BYTES[key]
        if self.input == "clear":
            return sent
        if sent.isdigit():
            entry = self._entry
            if entry is None or len(self._pin) >= entry.limit:
                return b""
            self._pin += sent
            return bytes((self.settings.mask,))
        if key == "clear" or key == "cancel":
            self._wipe_pin()
        return sent

    # --- commands ---------------------------------------------------------------------

    def execute(self, command: zt588.Command | zt588.ClearPinRequest) -> zt588.Reply:
        """Carry a command out; the reply to send."""
        self.executed.append(command)
        if isinstance(command, zt588.ClearPinRequest):
            self.clear_pin_refused += 1
            log.warning("ZT588 emulator: a clear-PIN ('@') request refused")
            return zt588.ErrorReply(_E.BAD_PARAMETER)
        head = zt588.echo(command)
        try:
            return self._execute(command, head)
        except _Refusal as refusal:
            return zt588.ErrorReply(refusal.code)

    def refuse_bad_command(self, error: ProtocolError) -> zt588.Reply:
        """The reply to a frame whose TEXT is no command the pad knows."""
        log.info("ZT588 emulator: a command that does not parse: %s", error)
        return zt588.ErrorReply(_E.BAD_DATA)

    def _execute(self, command: zt588.Command, head: int) -> zt588.Reply:
        if isinstance(command, zt588.LoadPlainKey):
            return self._store(command.slot, command.key_type, bytearray(command.key), head)
        if isinstance(command, zt588.LoadEncryptedKey):
            kek = self._key(command.under, zt588.KeyType.TMK)
            clear = bytearray(decrypt_ecb(Algorithm.TDES, bytes(kek), command.key))
            return self._store(command.slot, command.key_type, clear, head)
        if isinstance(command, zt588.EraseKey):
            self._erase(command.slot)
            return zt588.Ack(head)
        if isinstance(command, zt588.QueryUserInfo):
            return self._identity(head)
        if isinstance(command, zt588.WriteUserInfo):
            self.settings.user_info = command.text
            return zt588.Ack(head)
        if isinstance(command, zt588.LoadScancodes):
            self.settings.scancodes = command.table
            return zt588.Ack(head)
        if isinstance(command, zt588.Control):
            self._control(command)
            return zt588.Ack(head)
        if isinstance(command, zt588.StartPinEntry):
            self._start(command)
            return zt588.Ack(head)
        if isinstance(command, zt588.GetPinBlock):
            return self._pin_block(head)
        raise _Refusal(_E.GENERAL)  # authenticate: not simulated

    def _store(
        self, slot: int, key_type: zt588.KeyType, key: bytearray, head: int
    ) -> zt588.KeyLoaded:
        self._erase(slot)
        self._slots[slot] = (key_type, key)
        return zt588.KeyLoaded(head, self._kcv(bytes(key)))

    def _erase(self, slot: int) -> None:
        held = self._slots.pop(slot, None)
        if held is not None:
            held[1][:] = bytes(len(held[1]))

    def _key(self, slot: int, key_type: zt588.KeyType) -> bytearray:
        held = self._slots.get(slot)
        if held is None:
            raise _Refusal(_E.KEY_NOT_FOUND)
        if held[0] is not key_type:
            raise _Refusal(_E.KEY_NOT_FOUND_OR_INCOMPATIBLE)
        return held[1]

    @staticmethod
    def _kcv(key: bytes) -> bytes:
        return encrypt_ecb(Algorithm.TDES, key, bytes(8))[:_KCV_SIZE]

    def _identity(self, head: int) -> zt588.UserInfo:
        s = self.settings
        settings = zt588.Settings.make(
            blank=not any(t is zt588.KeyType.IMK for t, _ in self._slots.values()),
            input_enabled=self.input is not None,
            sound=s.sound,
            input_time_limit=s.time_limit,
            pin_mask=s.mask,
            min_pin_length=s.min_len,
            max_pin_length=s.max_len,
            baud=s.baud,
            beep_time_ms=s.beep * 10,
        )
        table = s.scancodes if len(s.scancodes) == 24 else zt588.DEFAULT_SCANCODES
        return zt588.UserInfo.make(
            head=head,
            user_info=s.user_info,
            scancodes=table,
            settings=settings,
            model=MODEL,
            hardware_version=HARDWARE,
            software_version=SOFTWARE,
            production_date="2611",
            serial=self.serial,
        )

    def _control(self, command: zt588.Control) -> None:
        code = command.sub
        operation = command.operation
        if code is zt588.ControlCode.MISC:
            if operation is zt588.Misc.RESET:
                self.input = None
                self._end_pin()
            elif operation is zt588.Misc.WIPE:
                for slot in list(self._slots):
                    self._erase(slot)
                self.input = None
                self._end_pin()
            elif operation is zt588.Misc.DISABLE_INPUT:
                self.input = None
            elif operation is zt588.Misc.ENABLE_INPUT:
                self._end_pin()
                self.input = "clear"
            elif operation in (zt588.Misc.SOUND_OFF, zt588.Misc.SOUND_ON):
                self.settings.sound = operation is zt588.Misc.SOUND_ON
            elif operation is not zt588.Misc.BEEP:
                raise _Refusal(_E.BAD_PARAMETER)
            return
        if code is zt588.ControlCode.COMMUNICATION:
            if operation is None:
                raise _Refusal(_E.BAD_PARAMETER)
            baud = getattr(operation, "baud", None)
            if baud:
                self.settings.baud = baud
            return
        if len(command.value) != 1:
            raise _Refusal(_E.BAD_PARAMETER)
        value = command.value[0]
        if code is zt588.ControlCode.PIN_MASK:
            try:
                zt588.Zt588Decoder(mask=value)
            except ValueError:
                raise _Refusal(_E.BAD_PARAMETER) from None
            self.settings.mask = value
        elif code in (zt588.ControlCode.MIN_PIN_LENGTH, zt588.ControlCode.MAX_PIN_LENGTH):
            if not 0 <= value <= 12:
                raise _Refusal(_E.BAD_PARAMETER)
            if code is zt588.ControlCode.MIN_PIN_LENGTH:
                self.settings.min_len = value
            else:
                self.settings.max_len = value
        elif code is zt588.ControlCode.INPUT_TIME_LIMIT:
            self.settings.time_limit = value
        else:
            self.settings.beep = value

    def _start(self, command: zt588.StartPinEntry) -> None:
        self._key(command.slot, zt588.KeyType.TPK)
        fmt = _FORMATS.get(command.format)
        if fmt is None:
            raise _Refusal(_E.BAD_PARAMETER)  # IBM 3624: not simulated
        account = command.pan
        if fmt is pinblock.PinBlockFormat.ISO_1:
            account = ""
        elif len(account) != 12:
            raise _Refusal(_E.BAD_DATA)
        if not 1 <= command.length <= 12:
            raise _Refusal(_E.BAD_PARAMETER)
        self._end_pin()
        limit = min(command.length, self.settings.max_len or 12)
        self._entry = _Entry(command.slot, fmt, account, limit)
        self.input = "pin"

    def _pin_block(self, head: int) -> zt588.PinBlockReply:
        entry, pin = self._entry, self._pin
        try:
            if entry is None or not 4 <= len(pin) <= 12:
                raise _Refusal(_E.BAD_DATA)
            key = self._key(entry.slot, zt588.KeyType.TPK)
            # The PAN field is 0000 + the 12 account digits: give the PIN block library a
            # 13-digit "PAN" whose digits before the (dropped) check digit are those 12.
            pan = None if entry.format is pinblock.PinBlockFormat.ISO_1 else entry.account + "0"
            clear = pinblock.build_clear_block(entry.format, pin.decode("ascii"), pan)
            block = encrypt_ecb(Algorithm.TDES, bytes(key), clear)
            return zt588.PinBlockReply(head, 0, len(pin), block)
        finally:
            self._end_pin()

    def _end_pin(self) -> None:
        self._wipe_pin()
        self._entry = None

    def _wipe_pin(self) -> None:
        self._pin[:] = bytes(len(self._pin))
        self._pin.clear()


class _Refusal(Exception):
    """A command the pad refuses, with its error code."""

    def __init__(self, code: zt588.Zt588Error) -> None:
        super().__init__(code.name)
        self.code = code
