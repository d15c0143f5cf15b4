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

The code: `Zt588Driver` here (open, close, reset, capabilities, status, what the pad does
not do) joins `drivers.pin_pad.zt588_entry.Zt588Entry` (PIN and data entry, PIN blocks)
and `drivers.pin_pad.zt588_keys.Zt588KeyManagement` (components, encrypted keys, check
values, the wipe), both built on `drivers.pin_pad.zt588_core.Zt588Core` (the state, one
exchange, refusals as typed errors); the key table is `drivers.pin_pad.zt588_keymap`.
"""

from __future__ import annotations

import asyncio
import logging
import math
from dataclasses import dataclass

from drivers.pin_pad.zt588_entry import _FORMATS, KEYBOARD, Zt588Entry
from drivers.pin_pad.zt588_keymap import _KEY_TYPES, _SLOTS, KeyMap
from drivers.pin_pad.zt588_keys import Zt588KeyManagement
from drivers.pin_pad.zt588_maskers import Zt588Masker
from hal.address import DeviceAddress
from hal.device import BackendListener, DeviceState, run_to_end
from hal.devices.pin_pad import CipherMode, KeyAlgorithm, PinPadCapabilities, PinPadStatus
from hal.devices.pin_pad_service import PinPadService
from hal.errors import ConfigurationError, HalError, UnsupportedOperation
from hal.registry import DriverSpec, make_transport
from hal.transports.base import Transport
from protocols import zt588

__all__ = ["KEYBOARD", "ZT588_DRIVER", "KeyMap", "Zt588Driver", "Zt588Options", "open_zt588"]

log = logging.getLogger(__name__)

#: Seconds allowed beyond the link's own worst case for the reset at close.
_CLOSE_MARGIN = 0.5


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


class Zt588Driver(Zt588Entry, Zt588KeyManagement):
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
        super().__init__(
            transport,
            name=name,
            retries=self.options.retries,
            reply_timeout=self.options.reply_timeout,
            keymap=self.options.keymap,
        )

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
                await run_to_end(self._reset_before_close())
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

    async def reset(self) -> None:
        """Disable input and reset the pad: an entry ends, its PIN is dropped; keys stay."""
        self._pin_held = False
        await self._end_entry(discard=True)

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
