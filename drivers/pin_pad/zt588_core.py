"""The state and the plumbing the ``zt588`` driver's parts share.

`Zt588Core` holds the link, the key table, the keys under construction, the PIN entry's
state (`_BlockData`, a PIN held, a reset owed), the device state and the listener, and
does what every command needs: one exchange with the state following what the link saw
(`Zt588Core._ask`), a control command (`Zt588Core._control`), the typed error for a
refusal (`Zt588Core._refused`, `_ERRORS`), the status reported, the events (clean-ups that
must finish through a cancellation use `hal.device.run_to_end`). The PIN entry
(`drivers.pin_pad.zt588_entry`) and key management (`drivers.pin_pad.zt588_keys`) build
on it; `drivers.pin_pad.zt588.Zt588Driver` joins them (its module header describes the
driver).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, TypeVar

from drivers.pin_pad.zt588_keymap import KeyMap, _Components, _Slot
from drivers.pin_pad.zt588_link import Zt588Link
from hal.device import BackendListener, DeviceState
from hal.devices.pin_pad import EncryptionState, PinFormat, PinPadStatus
from hal.errors import (
    ConnectionLost,
    DeviceError,
    HalError,
    HalTimeout,
    HardwareError,
    InvalidData,
    InvalidKeyLength,
    KeyInvalid,
    KeyNotFound,
    KeyNoValue,
    ProtocolError,
)
from hal.transports.base import Transport
from protocols import zt588

#: The driver's logger, whichever of its modules logs.
log = logging.getLogger("drivers.pin_pad.zt588")

T = TypeVar("T")


@dataclass(frozen=True, repr=False)
class _BlockData:
    """What `set_pin_block_data` gave; the PAN is never shown."""

    key: str
    format: PinFormat
    customer_data: str

    def __repr__(self) -> str:
        return f"_BlockData({self.key!r}, {self.format.value}, <{len(self.customer_data)} digits>)"


class Zt588Core:
    """What the ``zt588`` driver's parts share (see the module header).

    Args:
        transport: the link to the pad.
        name: the device name, for messages.
        retries: the link's sends after the first.
        reply_timeout: the link's seconds for a reply.
        keymap: the key map file; empty for memory only.
    """

    def __init__(
        self,
        transport: Transport,
        *,
        name: str,
        retries: int,
        reply_timeout: float,
        keymap: str,
    ) -> None:
        self.name = name
        self.link = Zt588Link(transport, name=name, retries=retries, reply_timeout=reply_timeout)
        self.keymap = KeyMap(keymap)
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
