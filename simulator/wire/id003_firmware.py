"""A JCM ID-003 bill validator's firmware, simulated: a small state machine.

`Id003Firmware` answers one decoded host command at a time (`handle`) and moves on one
step at each status poll, as a real validator does between the host's polls. The link
around it (framing, faults, pacing) is `simulator.wire.id003.Id003Emulator`.

[Interim] The brief asks for the simulator's `CashAcceptorModel` (``id003`` profile)
under this firmware; it was not on main when this was written, so the notes, the cash
box and the customer live here (`ground_truth` says where every note is). The codes and
what the validator answers are the protocol's either way.

Behaviour (the validator's side of reference/protocols.md §3.5; [U] where assumed):

- power on: POWER_UP (40), or 41 / 42 when a note was left in the acceptor / stacker
  (`power_cycle`), until the host sends RESET; RESET answers ACK, reports INITIALIZE
  for one poll, returns a note held in the acceptor to the customer, stacks one left in
  the stacker [U], clears jams and failures, and leaves the validator inhibited [U];
- inhibited: DISABLED (1A); enabled (C3 00): IDLING (11). With a note inserted
  (`insert`) and acceptance enabled: ACCEPTING for ``accept_polls`` polls, then ESCROW
  (13 d) for a note of the table whose code is enabled (C0), or REJECTING (17 r) for
  one poll and the note back to the customer: r = 79h (inhibit) for a code disabled by
  C0, 77h (photo pattern) for a note the validator does not know [U];
- ESCROW holds the note until STACK-1 / STACK-2 (ACK, STACKING, VEND VALID repeated
  until the host's ACK, STACKED, then idle: the note is in the cash box at VEND VALID)
  or RETURN (ACK, RETURNING, the note back to the customer); HOLD and WAIT answer ACK;
  STACK and RETURN with no note in escrow answer INVALID COMMAND (4B) [U];
- the host's ACK gets no answer [U]; a setting command gets its echo and a
  setting-status request the setting; VERSION REQUEST gets ASCII text;
- faults: `jam_next_note` (in the acceptor: JAM IN ACCEPTOR while the note is taken in,
  the note in the transport; in the stacker: JAM IN STACKER while stacking, the note in
  the transport), `fail` (FAILURE f), a full cash box (STACKER FULL once it holds
  ``capacity`` notes; a stack then leaves the note in escrow) and a removed one
  (STACKER OPEN): every fault but the last two lasts until RESET.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable, Mapping

from protocols.id003_messages import (
    CNY_DENOMINATIONS,
    SETTING_SIZES,
    Ack,
    Command,
    CommandCode,
    Echo,
    FailureCode,
    RejectReason,
    Reply,
    Status,
    StatusCode,
    TextReply,
    enabled_denominations,
)

__all__ = ["CASHBOX", "Id003Firmware"]

#: The cash box's name in `Id003Firmware.ground_truth`.
CASHBOX = "cashbox"
#: The version text [U].
VERSION = b"ID003-SIM CNY V1.00"

Step = tuple[Status, Callable[[], None] | None]


def _item(entry: tuple[str, int]) -> str:
    return f"{entry[0]}:{entry[1]}"


class Id003Firmware:
    """The validator (see the module header).

    Args:
        table: denomination code -> (currency, value) of the notes it knows.
        capacity: notes the cash box holds before STACKER FULL.
        accept_polls: polls a note stays ACCEPTING before escrow or reject.
    """

    def __init__(
        self,
        table: Mapping[int, tuple[str, int]] | None = None,
        *,
        capacity: int = 1000,
        accept_polls: int = 1,
    ) -> None:
        self.table = dict(CNY_DENOMINATIONS if table is None else table)
        self.capacity = capacity
        self.accept_polls = accept_polls
        self.inhibited = True
        self.enabled = set(self.table)
        self.settings: dict[int, bytes] = {
            code: bytes(size) for code, size in SETTING_SIZES.items()
        }
        self.settings[CommandCode.SET_INHIBIT] = b"\x01"
        #: Notes the customer put in and the validator has not taken yet (codes;
        #: ``None`` for a note it does not know).
        self.inserted: deque[int | None] = deque()
        self.escrow: int | None = None
        self.transport: int | None = None
        self.cashbox: Counter[str] = Counter()
        #: Notes given back, by item (``?`` for unknown notes).
        self.returned: Counter[str] = Counter()
        self.given: Counter[str] = Counter()
        self.cashbox_present = True
        self.executed: list[Command] = []
        self._power: StatusCode | None = StatusCode.POWER_UP
        self._fault: Status | None = None
        self._script: deque[Step] = deque()
        self._vend = False
        self._jam: str | None = None
        self._in_stacker: int | None = None

    # --- the world -------------------------------------------------------------------------

    def insert(self, *codes: int | None) -> None:
        """The customer inserts notes (denomination codes; ``None``: not a known note)."""
        for code in codes:
            self.given[self._name(code)] += 1
            self.inserted.append(code)

    def jam_next_note(self, where: str = "acceptor") -> None:
        """The next note jams, ``acceptor`` (taken in) or ``stacker`` (stacked)."""
        if where not in ("acceptor", "stacker"):
            raise ValueError(f"a jam is in the acceptor or the stacker, not {where!r}")
        self._jam = where

    def fail(self, code: FailureCode) -> None:
        """A hardware failure (FAILURE f) until RESET."""
        self._fault = Status(StatusCode.FAILURE, failure=code)

    def remove_cashbox(self, removed: bool = True) -> None:
        """The cash box is taken out (STACKER OPEN) or put back."""
        self.cashbox_present = not removed

    def empty_cashbox(self) -> dict[str, int]:
        """Empty the cash box; what it held."""
        held = dict(self.cashbox)
        self.cashbox.clear()
        return held

    def power_cycle(self) -> None:
        """Power off and on: a note in escrow reports 41, one stacking 42 [U]."""
        self._script.clear()
        self._vend = False
        if self._in_stacker is not None:
            self._power = StatusCode.POWER_UP_BILL_IN_STACKER
        elif self.escrow is not None:
            self._power = StatusCode.POWER_UP_BILL_IN_ACCEPTOR
        else:
            self._power = StatusCode.POWER_UP
        self.inhibited = True

    def ground_truth(self) -> dict[str, int]:
        """Notes by place: ``customer`` (net: notes given in are negative, given back
        positive), ``escrow``, ``transport``, ``cashbox``, and ``input`` (inserted,
        not yet taken)."""
        return {
            "customer": sum(self.returned.values()) - sum(self.given.values()),
            "input": len(self.inserted),
            "escrow": int(self.escrow is not None or self._in_stacker is not None),
            "transport": int(self.transport is not None),
            CASHBOX: sum(self.cashbox.values()),
        }

    def _name(self, code: int | None) -> str:
        if code is None or code not in self.table:
            return "?"
        return _item(self.table[code])

    # --- the host's commands ------------------------------------------------------------------

    def handle(self, command: Command) -> Reply | None:
        """The answer to one host command (``None``: none, for the host's ACK)."""
        self.executed.append(command)
        code = command.code
        if code is CommandCode.STATUS_REQUEST:
            return self._poll()
        if code is CommandCode.ACK:
            if self._vend:
                self._vend = False
            return None
        if code is CommandCode.RESET:
            self._reset()
            return Ack()
        if code in (CommandCode.STACK_1, CommandCode.STACK_2):
            if self.escrow is None or self._script or self._power is not None:
                return Status(StatusCode.INVALID_COMMAND)
            self._stack()
            return Ack()
        if code is CommandCode.RETURN:
            if self.escrow is None or self._script or self._power is not None:
                return Status(StatusCode.INVALID_COMMAND)
            self._return()
            return Ack()
        if code in (CommandCode.HOLD, CommandCode.WAIT):
            return Ack()
        if code in SETTING_SIZES:
            self.settings[code] = command.data
            if code is CommandCode.SET_INHIBIT:
                self.inhibited = command.data != b"\x00"
            elif code is CommandCode.SET_DENOMINATION:
                self.enabled = set(enabled_denominations(command.data))
            return Echo(code, command.data)
        if code + 0x40 in SETTING_SIZES:
            return Echo(code, self.settings[code + 0x40])
        if code in (CommandCode.VERSION_REQUEST, CommandCode.BOOT_VERSION_REQUEST):
            return TextReply(code, VERSION)
        return Status(StatusCode.INVALID_COMMAND)

    # --- one poll: one step ---------------------------------------------------------------------

    def _poll(self) -> Status:
        if self._power is not None:
            return Status(self._power)
        if self._vend:
            return Status(StatusCode.VEND_VALID)
        if self._script:
            status, effect = self._script.popleft()
            if effect is not None:
                effect()
            return status
        if self._fault is not None:
            return self._fault
        if not self.cashbox_present:
            return Status(StatusCode.STACKER_OPEN)
        if self.escrow is not None:
            return Status(StatusCode.ESCROW, denomination=self.escrow)
        if sum(self.cashbox.values()) >= self.capacity:
            return Status(StatusCode.STACKER_FULL)
        if self.inhibited:
            return Status(StatusCode.DISABLED)
        if self.inserted:
            return self._take()
        return Status(StatusCode.IDLING)

    def _take(self) -> Status:
        code = self.inserted.popleft()
        accepting = Status(StatusCode.ACCEPTING)
        steps: list[Step] = [(accepting, None)] * max(0, self.accept_polls - 1)
        if self._jam == "acceptor":
            self._jam = None

            def jammed() -> None:
                self.transport = code
                self._fault = Status(StatusCode.JAM_IN_ACCEPTOR)

            steps.append((Status(StatusCode.JAM_IN_ACCEPTOR), jammed))
        elif code is None or code not in self.table or code not in self.enabled:
            reason = RejectReason.PHOTO_PATTERN if code not in self.table else RejectReason.INHIBIT

            def back() -> None:
                self.returned[self._name(code)] += 1

            steps.append((Status(StatusCode.REJECTING, reason=reason), back))
        else:

            def held() -> None:
                self.escrow = code

            steps.append((Status(StatusCode.ESCROW, denomination=code), held))
        self._script.extend(steps)
        return accepting

    def _stack(self) -> None:
        code = self.escrow
        assert code is not None
        if sum(self.cashbox.values()) >= self.capacity:
            self._script.append((Status(StatusCode.STACKER_FULL), None))
            return
        if not self.cashbox_present:
            self._script.append((Status(StatusCode.STACKER_OPEN), None))
            return

        def moving() -> None:
            self.escrow = None
            self._in_stacker = code

        if self._jam == "stacker":
            self._jam = None

            def jammed() -> None:
                self._in_stacker = None
                self.transport = code
                self._fault = Status(StatusCode.JAM_IN_STACKER)

            self._script.extend(
                [(Status(StatusCode.STACKING), moving), (Status(StatusCode.JAM_IN_STACKER), jammed)]
            )
            return

        def stored() -> None:
            self._in_stacker = None
            self.cashbox[self._name(code)] += 1
            self._vend = True

        self._script.extend(
            [
                (Status(StatusCode.STACKING), moving),
                (Status(StatusCode.VEND_VALID), stored),
                (Status(StatusCode.STACKED), None),
            ]
        )

    def _return(self) -> None:
        code = self.escrow

        def back() -> None:
            self.escrow = None
            self.returned[self._name(code)] += 1

        self._script.append((Status(StatusCode.RETURNING), back))

    def _reset(self) -> None:
        self._script.clear()
        self._vend = False
        if self._in_stacker is not None:
            self.cashbox[self._name(self._in_stacker)] += 1
            self._in_stacker = None
        if self.escrow is not None:
            self.returned[self._name(self.escrow)] += 1
            self.escrow = None
        if self.transport is not None:  # a cleared jam: the note comes back out [U]
            self.returned[self._name(self.transport)] += 1
            self.transport = None
        self._fault = None
        self._power = None
        self.inhibited = True
        self._script.append((Status(StatusCode.INITIALIZE), None))
