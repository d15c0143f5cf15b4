"""The firmware of the simulated ITL validator (`simulator.wire.ssp.SspEmulator`): what
an NV200 or NV11 does with each SSP command, on a small note mechanism of its own.

[U] This is a tiny state machine standing in for the shared `CashAcceptorModel` (not on
main when this was written): one escrow place, a cash box, and (NV11) one payout store
of a single note value. The customer puts notes in with `insert_notes`; the firmware
takes them one at a time while enabled.

The note flow it follows (reference/protocols.md §3.6, GA138; [U] where marked):

- enabled and idle, a note in the input: an accepted channel -> READ ch in escrow; a
  note of an inhibited or unknown channel -> REJECTING, REJECTED (back to the customer);
- a note in escrow whose READ the host has seen: POLL accepts it (CREDIT ch, STACKING
  ch, STACKED, or on the NV11 NOTE STORED IN PAYOUT when routed there and room is
  left), HOLD keeps it, REJECT gives it back (REJECTING, REJECTED). With no HOLD for
  ``escrow_timeout`` seconds it is given back [U: the guide says hold lasts about 5 s];
- [U] after a SYNC a note still in escrow is reported again (READ ch) before a POLL
  accepts it, so a host that reconnects learns what it holds;
- faults: a jam (UNSAFE JAM ch on every poll until cleared), the cash box removed
  (CASHBOX REMOVED) or full (STACKER FULL): no note is taken;
- disabled: DISABLED in each poll reply; a note in escrow stays [U];
- NV11 payout (encrypted only, the emulator checks that): PAYOUT BY DENOMINATION and
  PAYOUT AMOUNT of the payout value pay notes out (DISPENSING, DISPENSED); SET ROUTING
  (3B: route byte, 0 payout / 1 cash box, value 4 bytes, currency) [U: layout].
"""

from __future__ import annotations

import struct
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field

from protocols.errors import ProtocolError
from protocols.ssp_commands import (
    Cmd,
    Generic,
    PayoutError,
    Setup,
    encode_setup,
    parse_payout_amount,
    parse_payout_by_denomination,
    parse_set_inhibits,
)
from protocols.ssp_events import Ev, Event, encode_events

__all__ = ["PROFILES", "SET_ROUTING", "SspFirmware", "SspProfile"]

#: SET ROUTING (NV11 / SMART Payout) [U: not in the reference's table].
SET_ROUTING = 0x3B
OK = bytes((Generic.OK,))


@dataclass(frozen=True)
class SspProfile:
    """What a simulated ITL device is.

    Attributes:
        name: ``nv200`` or ``nv11``.
        unit_type: the setup reply's unit type.
        currency: the dataset's currency.
        values: channel values in major units (x ``real_multiplier`` = minor units).
        cashbox_capacity: notes the cash box holds.
        payout_value: (NV11) the value in minor units of the payout store's notes.
        payout_capacity: notes the payout store holds.
    """

    name: str
    unit_type: int
    currency: str = "CNY"
    values: tuple[int, ...] = (1, 5, 10, 20, 50, 100)
    real_multiplier: int = 100
    cashbox_capacity: int = 500
    payout_value: int = 0
    payout_capacity: int = 0

    def setup(self) -> Setup:
        n = len(self.values)
        return Setup(
            unit_type=self.unit_type,
            firmware="0436",
            country=self.currency,
            multiplier=1,
            values=self.values,
            securities=(2,) * n,
            real_multiplier=self.real_multiplier,
            protocol=6,
            currencies=(self.currency,) * n,
            expanded=self.values,
        )

    def item(self, channel: int) -> str:
        return f"{self.currency}:{self.values[channel - 1] * self.real_multiplier}"


PROFILES = {
    "nv200": SspProfile("nv200", unit_type=0),
    "nv11": SspProfile("nv11", unit_type=7, payout_value=2000, payout_capacity=30),
}


@dataclass
class _Escrow:
    channel: int
    reported: bool = False
    deadline: float = 0.0


@dataclass
class Mechanism:
    """Where the notes are (ground truth for the tests)."""

    input: deque[str] = field(default_factory=deque)
    returned: list[str] = field(default_factory=list)
    cashbox: Counter[str] = field(default_factory=Counter)
    payout: int = 0
    paid_out: int = 0
    jammed: str | None = None


class SspFirmware:
    """Carries SSP commands out (see the module header).

    Args:
        profile: ``nv200`` or ``nv11`` (or a `SspProfile`).
        escrow_timeout: seconds a note stays in escrow without a HOLD.
        clock: the time source (tests may step it).
    """

    def __init__(
        self,
        profile: str | SspProfile = "nv200",
        *,
        escrow_timeout: float = 5.0,
        clock: Callable[[], float] | None = None,
        payout: int = 0,
    ) -> None:
        self.profile = PROFILES[profile] if isinstance(profile, str) else profile
        self.escrow_timeout = escrow_timeout
        self._now = clock or time.monotonic
        self.notes = Mechanism(payout=payout)
        self.enabled = False
        self.inhibits: frozenset[int] = frozenset()
        self.escrow: _Escrow | None = None
        self.cashbox_removed = False
        self.jam_next = False
        self.route_payout = True
        self.acted: list[int] = []  # every command carried out, by code
        self._events: list[Event] = [Event(Ev.SLAVE_RESET)]
        self.protocol = 0

    # --- the customer and the engineer (tests) ------------------------------------

    def insert_notes(self, *items: str) -> None:
        """The customer puts notes (``CNY:2000`` or an unknown ``XXX:1``) in the input."""
        self.notes.input.extend(items)

    def clear_jam(self) -> None:
        """The engineer clears the jam: the note goes to the cash box [U]."""
        if self.notes.jammed is not None:
            self.notes.cashbox[self.notes.jammed] += 1
            self.notes.jammed = None

    def channel_of(self, item: str) -> int | None:
        for n in range(1, len(self.profile.values) + 1):
            if self.profile.item(n) == item:
                return n
        return None

    @property
    def payout_item(self) -> str:
        return f"{self.profile.currency}:{self.profile.payout_value}"

    # --- the commands --------------------------------------------------------------

    def synced(self) -> None:
        """A SYNC came: a note held in escrow is reported again."""
        if self.escrow is not None:
            self.escrow.reported = False

    def execute(self, data: bytes, *, encrypted: bool) -> bytes:
        """The reply DATA to the command ``data`` (code and parameters)."""
        code = data[0]
        self._tick()
        handler = _HANDLERS.get(code)
        if handler is None:
            return bytes((Generic.UNKNOWN_COMMAND,))
        try:
            reply = handler(self, data[1:])
        except ProtocolError:
            return bytes((Generic.WRONG_PARAMETERS,))
        if reply[:1] == OK:
            self.acted.append(code)
        return reply

    def _sync(self, params: bytes) -> bytes:
        self.synced()
        return OK

    def _setup(self, params: bytes) -> bytes:
        return OK + encode_setup(self.profile.setup())

    def _protocol(self, params: bytes) -> bytes:
        if len(params) != 1:
            return bytes((Generic.WRONG_PARAMETERS,))
        if params[0] > 6:
            return bytes((Generic.FAIL,))
        self.protocol = params[0]
        return OK

    def _inhibits(self, params: bytes) -> bytes:
        self.inhibits = parse_set_inhibits(bytes((Cmd.SET_INHIBITS,)) + params)
        return OK

    def _enable(self, params: bytes) -> bytes:
        self.enabled = True
        return OK

    def _disable(self, params: bytes) -> bytes:
        self.enabled = False
        return OK

    def _hold(self, params: bytes) -> bytes:
        if self.escrow is None:
            return bytes((Generic.CANNOT_PROCESS,))
        self.escrow.deadline = self._now() + self.escrow_timeout
        return OK

    def _reject(self, params: bytes) -> bytes:
        if self.escrow is None:
            return bytes((Generic.CANNOT_PROCESS,))
        self._give_back()
        return OK

    def _poll(self, params: bytes) -> bytes:
        escrow = self.escrow
        if (
            escrow is not None
            and escrow.reported
            and (self._routed_to_payout(escrow.channel) or not self._cashbox_full())
        ):
            self._accept(escrow.channel)
        self._take_next()
        if self.escrow is not None and not self.escrow.reported:
            self.escrow.reported = True
            self.escrow.deadline = self._now() + self.escrow_timeout
            self._events.append(Event(Ev.READ, self.escrow.channel))
        if self.notes.jammed is not None:
            channel = self.channel_of(self.notes.jammed) or 0
            self._events.append(Event(Ev.UNSAFE_JAM, channel))
        elif self.cashbox_removed:
            self._events.append(Event(Ev.CASHBOX_REMOVED))
        elif self._cashbox_full():
            self._events.append(Event(Ev.STACKER_FULL))
        if not self.enabled:
            self._events.append(Event(Ev.DISABLED))
        events, self._events = self._events, []
        return OK + encode_events(events)

    def _set_routing(self, params: bytes) -> bytes:
        if len(params) != 8 or params[0] not in (0, 1):
            return bytes((Generic.WRONG_PARAMETERS,))
        (value,) = struct.unpack_from("<I", params, 1)
        if value != self.profile.payout_value:
            return bytes((Generic.PARAMETER_OUT_OF_RANGE,))
        self.route_payout = params[0] == 0
        return OK

    def _payout_denomination(self, params: bytes) -> bytes:
        notes, test = parse_payout_by_denomination(bytes((Cmd.PAYOUT_BY_DENOMINATION,)) + params)
        wanted = 0
        for (currency, value), count in notes.items():
            if not count:
                continue
            if (currency, value) != (self.profile.currency, self.profile.payout_value):
                return bytes((Generic.CANNOT_PROCESS, PayoutError.CANNOT_PAY_EXACT))
            wanted += count
        return self._pay(wanted, test)

    def _payout_amount(self, params: bytes) -> bytes:
        currency, value, test = parse_payout_amount(bytes((Cmd.PAYOUT_AMOUNT,)) + params)
        unit = self.profile.payout_value
        if currency != self.profile.currency or not unit or value % unit:
            return bytes((Generic.CANNOT_PROCESS, PayoutError.CANNOT_PAY_EXACT))
        return self._pay(value // unit, test)

    def _pay(self, notes: int, test: bool) -> bytes:
        if not self.profile.payout_value:
            return bytes((Generic.UNKNOWN_COMMAND,))
        if self.escrow is not None or self.notes.jammed is not None:
            return bytes((Generic.CANNOT_PROCESS, PayoutError.BUSY))
        if notes <= 0 or notes > self.notes.payout:
            return bytes((Generic.CANNOT_PROCESS, PayoutError.NOT_ENOUGH_VALUE))
        if test:
            return OK
        self.notes.payout -= notes
        self.notes.paid_out += notes
        amount = ((notes * self.profile.payout_value, self.profile.currency),)
        self._events += [Event(Ev.DISPENSING, values=amount), Event(Ev.DISPENSED, values=amount)]
        return OK

    # --- the mechanism -------------------------------------------------------------

    def _tick(self) -> None:
        escrow = self.escrow
        if escrow is not None and escrow.reported and self._now() > escrow.deadline:
            self._give_back()

    def _cashbox_full(self) -> bool:
        return sum(self.notes.cashbox.values()) >= self.profile.cashbox_capacity

    def _take_next(self) -> None:
        notes = self.notes
        if (
            not self.enabled
            or self.escrow is not None
            or not notes.input
            or notes.jammed is not None
            or self.cashbox_removed
            or self._cashbox_full()
        ):
            return
        item = notes.input.popleft()
        channel = self.channel_of(item)
        if self.jam_next:
            self.jam_next = False
            notes.jammed = item
            return
        if channel is None or channel not in self.inhibits:
            notes.returned.append(item)
            self._events += [Event(Ev.READ, 0), Event(Ev.REJECTING), Event(Ev.REJECTED)]
            return
        self._events.append(Event(Ev.READ, 0))
        self.escrow = _Escrow(channel)

    def _accept(self, channel: int) -> None:
        item = self.profile.item(channel)
        self.escrow = None
        self._events += [Event(Ev.CREDIT, channel), Event(Ev.STACKING, channel)]
        if self._routed_to_payout(channel):
            self.notes.payout += 1
            self._events.append(Event(Ev.NOTE_STORED_IN_PAYOUT))
        else:
            self.notes.cashbox[item] += 1
            self._events.append(Event(Ev.STACKED))

    def _routed_to_payout(self, channel: int) -> bool:
        return bool(
            self.profile.payout_value
            and self.profile.item(channel) == self.payout_item
            and self.route_payout
            and self.notes.payout < self.profile.payout_capacity
        )

    def _give_back(self) -> None:
        assert self.escrow is not None
        self.notes.returned.append(self.profile.item(self.escrow.channel))
        self.escrow = None
        self._events += [Event(Ev.REJECTING), Event(Ev.REJECTED)]

    # --- for the tests ---------------------------------------------------------------

    def ground_truth(self) -> dict[str, int]:
        """Notes by place: ``escrow``, ``cashbox``, ``payout``, ``returned``, ``paid``."""
        return {
            "escrow": int(self.escrow is not None),
            "cashbox": sum(self.notes.cashbox.values()),
            "payout": self.notes.payout,
            "returned": len(self.notes.returned),
            "paid": self.notes.paid_out,
            "transport": int(self.notes.jammed is not None),
        }


_HANDLERS = {
    Cmd.SYNC: SspFirmware._sync,
    Cmd.SETUP_REQUEST: SspFirmware._setup,
    Cmd.HOST_PROTOCOL_VERSION: SspFirmware._protocol,
    Cmd.SET_INHIBITS: SspFirmware._inhibits,
    Cmd.ENABLE: SspFirmware._enable,
    Cmd.DISABLE: SspFirmware._disable,
    Cmd.HOLD: SspFirmware._hold,
    Cmd.REJECT: SspFirmware._reject,
    Cmd.POLL: SspFirmware._poll,
    SET_ROUTING: SspFirmware._set_routing,
    Cmd.PAYOUT_BY_DENOMINATION: SspFirmware._payout_denomination,
    Cmd.PAYOUT_AMOUNT: SspFirmware._payout_amount,
}
