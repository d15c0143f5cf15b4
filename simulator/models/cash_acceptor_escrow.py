"""The escrow mechanics of a `simulator.models.cash_acceptor.CashAcceptorModel`: its
cash-in operations on the machine (`simulator.models.cash_acceptor_machine`) and their
plumbing, in `_EscrowMechanics`, the model's base class.

The customer puts a bunch of notes into the input (`insert_notes`: the listener gets
`ItemsInserted`); ``cash_in`` takes them one at a time (``note_time`` simulated seconds
each, so a kill can land mid-cash-in):

- a note the reader does not know, one marked ``unrecognized``, or one not enabled (by
  `configure` or the limits) is refused at once (``invalidBill``) and goes back to the
  customer; so are ``counterfeit`` and ``suspect`` notes on a device that does not
  classify (a bill validator); a classifying device takes those into the escrow,
  retained;
- over the transaction's item limit (``items_limited``) a note is refused
  (``limitOverTotalItems``); a credited note that would pass the amount limit of its
  currency is refused (``limitOverAmount``);
- once the escrow is full (or the service's ``max_items`` of escrow room is used up)
  the rest of the bunch STAYS IN THE INPUT (the customer still holds it at the slot):
  the model's choice, so a one-note validator takes a bunch note by note, one cash-in
  transaction each; the next ``cash_in`` takes them;
- each accepted note is a ``customer -> escrow`` move of its item, with its level in
  `CashInReport.notes`; refusals are in `CashInReport.refused`;
- ``cash_in`` returns when the input is empty after at least one note (accepted or
  refused) or the escrow is full; with nothing inserted it waits until the caller is
  cancelled (``Fault("canceled")``, nothing moved); a cancel stops it between notes.

``cash_in_end`` stores the escrow's notes, in the order they came: fit notes of an item
go to a recycling unit of that item when ``use_recycle_units`` and the unit has room for
all of them (count + n <= capacity), else to the cash-in unit; unfit notes to the
cash-in unit; retained notes to the retract unit (else the cash-in unit).
``rollback`` gives the credited notes back (``escrow -> exit``, the shutter opens, the
notes wait for `customer_takes`; or ``escrow -> customer`` on a validator) and retains
the others. ``retract`` takes the exit's notes to the retract unit; ``reset`` empties the
transport, the escrow and the exit into the retract unit (else the cash-in unit).
No unit ever holds more than its capacity: a retract, a rollback's retained notes or a
reset whose notes do not all fit in their unit is refused before anything moves
(``Fault("cashUnitError", unit=...)``, XFS4IoT's retractAreaFull; the notes stay where
they are) until an operator empties the unit at an exchange.
"""

from __future__ import annotations

import asyncio
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING

from hal.device import BackendListener, DeviceState
from hal.devices.cash_in_model import (
    ESCROW,
    AcceptedNote,
    CashAcceptorCapabilities,
    CashAcceptorStatus,
    CashInLimits,
    NoteLevel,
    NoteReaderState,
    NoteType,
    RefuseReason,
)
from hal.devices.cash_model import (
    CUSTOMER,
    EXIT,
    TRANSPORT,
    CashUnitInfo,
    Fault,
    MoveReport,
    ShutterState,
    StackerState,
    TransportState,
)
from hal.events import Event
from hal.stimulus import NoteSample
from simulator.models.cash_acceptor_machine import _Machine
from simulator.models.cash_in_profiles import CashInProfile
from simulator.models.cash_mechanism import Operation

#: Real seconds between looks at a cancel while ``cash_in`` waits for notes.
_POLL = 0.02


class _EscrowMechanics:
    """The cash-in operations on the machine and their plumbing (see the module header):
    the part of `CashAcceptorModel`, its only subclass, that moves notes. The attributes
    are set by `CashAcceptorModel.__init__`."""

    name: str
    profile: CashInProfile
    _caps: CashAcceptorCapabilities
    _listener: BackendListener[CashAcceptorStatus] | None
    _last_status: CashAcceptorStatus | None
    _m: _Machine
    _note_time: float
    _types: dict[str, NoteType]
    _enabled: frozenset[str]
    _cash_in_unit: str
    _retract_unit: str | None
    _recyclers: tuple[CashUnitInfo, ...]
    _input: deque[NoteSample]
    _escrow: list[AcceptedNote]
    _jam_next: bool
    _cash_box_full: bool
    _in_reader: Counter[str]

    if TYPE_CHECKING:

        def notes_at(self, location: str) -> int:
            """`CashAcceptorModel.notes_at`."""
            ...

    # --- the operations, on the machine --------------------------------------------------

    async def _cash_in(self, op: Operation, limits: CashInLimits) -> None:
        m = self._m
        if m._refused(op):
            return
        status = m._unit_status.get(self._cash_in_unit)
        if status is not None:
            op.fault = Fault(
                "cashUnitError", f"{self._cash_in_unit} is {status.value}", self._cash_in_unit
            )
            return
        room = self._caps.max_cash_in_items
        credited: Counter[str] = Counter()  # minor units taken in, by currency
        taken = 0
        seen = 0
        while True:
            if taken >= limits.max_items and not limits.items_limited:
                return  # the escrow room the service gave is used: the rest stays
            if m.notes_at(ESCROW) >= room:
                return  # the escrow is full: the rest stays in the input
            if not self._input:
                if seen:
                    return
                if not await self._wait_for_notes(op):
                    return
                continue
            if op.stop:
                op.fault = Fault("canceled", f"cancelled after {taken} notes")
                return
            note = self._input.popleft()
            seen += 1
            level = NoteLevel(note.level)
            reason = self._refusal(note, level, limits, taken, credited)
            if reason is not None:
                if not await m._work(self._note_time):
                    m._lose_power(op, f"after {taken} notes")  # the note is given back
                    return
                op.refused.append(reason)
                continue
            self._from_customer(note.item)
            if not await m._work(self._note_time):
                op.add(CUSTOMER, TRANSPORT, note.item)
                self._in_reader[note.item] += 1
                m._lose_power(op, f"after {taken} notes (one in the transport)")
                return
            if self._jam_next:
                self._jam_next = False
                m._jammed = True
                op.add(CUSTOMER, TRANSPORT, note.item)
                op.fault = Fault("mediaJam", f"a note jammed in the transport after {taken} notes")
                m._update_status()
                return
            m._shift(TRANSPORT, ESCROW, note.item)
            op.add(CUSTOMER, ESCROW, note.item)
            accepted = AcceptedNote(note.item, level)
            op.accepted.append(accepted)
            self._escrow.append(accepted)
            taken += 1
            if level.credited:
                credited[self._types[note.item].currency] += self._types[note.item].value
            m._update_status()

    def _refusal(
        self,
        note: NoteSample,
        level: NoteLevel,
        limits: CashInLimits,
        taken: int,
        credited: Mapping[str, int],
    ) -> RefuseReason | None:
        kind = self._types.get(note.item)
        if (
            kind is None
            or level is NoteLevel.UNRECOGNIZED
            or note.item not in self._enabled
            or (level.retained and not self._caps.classifies)
        ):
            return RefuseReason.INVALID_BILL
        return limits.refusal(note.item, taken, credited, counts=level.credited)

    async def _wait_for_notes(self, op: Operation) -> bool:
        """Wait for the customer's notes; ``False`` if cancelled or the power fails."""
        m = self._m
        while not self._input:
            if op.stop:
                op.fault = Fault("canceled", "cancelled before any note was inserted")
                return False
            if not m.powered:
                m._lose_power(op, "while waiting for notes")
                return False
            try:
                async with asyncio.timeout(_POLL):
                    await m.wait_until(lambda: bool(self._input) or not m.powered)
            except TimeoutError:
                pass
        return True

    def _escrow_refused(self, op: Operation) -> bool:
        """Report (in ``op``) why the escrow's notes cannot move, if they cannot."""
        if not self._m._refused(op) and not self._escrow:
            op.fault = Fault("noItems", "the escrow is empty")
        return op.fault is not None

    async def _store(self, op: Operation, use_recycle_units: bool) -> None:
        m = self._m
        if self._escrow_refused(op):
            return
        routes = self._routes(use_recycle_units)
        while self._escrow:
            note = self._escrow[0]
            unit = routes[note]
            fault = self._store_fault(unit)
            if fault is not None:
                op.fault = Fault("cashUnitError", f"{fault}; the rest stay in the escrow", unit)
                return
            if not await m._work(self.profile.store_time):
                m._lose_power(op, "while storing (the rest stay in the escrow)")
                return
            m._shift(ESCROW, unit, note.item)
            op.add(ESCROW, unit, note.item)
            self._escrow.pop(0)
            m._update_status()

    def _routes(self, use_recycle_units: bool) -> dict[AcceptedNote, str]:
        """Where each kind of note in the escrow goes (`CashAcceptor.cash_in_end`)."""
        fit = Counter(n.item for n in self._escrow if n.level is NoteLevel.FIT)
        routes: dict[AcceptedNote, str] = {}
        for note in set(self._escrow):
            if note.level.retained:
                routes[note] = self._retract_unit or self._cash_in_unit
                continue
            routes[note] = self._cash_in_unit
            if note.level is not NoteLevel.FIT or not use_recycle_units:
                continue
            for info in self._recyclers:
                if info.item != note.item or self._m._unit_status.get(info.id) is not None:
                    continue
                if info.capacity is None or self.notes_at(info.id) + fit[note.item] <= (
                    info.capacity
                ):
                    routes[note] = info.id
                    break
        return routes

    def _store_fault(self, unit: str) -> str | None:
        status = self._m._unit_status.get(unit)
        if status is not None:
            return f"{unit} is {status.value}"
        if unit == self._cash_in_unit and self._cash_box_full:
            return f"{unit} is full (its sensor)"
        capacity = self._m._by_id[unit].capacity
        if capacity is not None and self.notes_at(unit) >= capacity:
            return f"{unit} is full ({capacity} notes)"
        return None

    def _room_fault(self, op: Operation, unit: str, count: int, where: str) -> bool:
        """Refuse (in ``op``) a move of ``count`` notes into ``unit`` past its capacity:
        the notes stay ``where`` they are (a real device reports retractAreaFull)."""
        capacity = self._m._by_id[unit].capacity
        held = self.notes_at(unit)
        if capacity is None or held + count <= capacity:
            return False
        op.fault = Fault(
            "cashUnitError",
            f"{unit} is full ({held} of {capacity} notes, {count} more would not fit); "
            f"the notes stay {where}",
            unit,
        )
        return True

    async def _rollback(self, op: Operation) -> None:
        m = self._m
        if self._escrow_refused(op):
            return
        back_to = self._caps.return_to
        if back_to == EXIT and m.notes_at(EXIT):
            op.fault = Fault("positionNotEmpty", "notes are still at the exit")
            return
        keep = self._retract_unit or self._cash_in_unit
        retained = sum(1 for note in self._escrow if note.level.retained)
        if retained and self._room_fault(op, keep, retained, "in the escrow"):
            return
        if not await m._work(self.profile.return_time):
            m._lose_power(op, "before the notes moved")
            return
        given = 0
        for note in self._escrow:
            destination = keep if note.level.retained else back_to
            m._shift(ESCROW, destination, note.item)
            op.add(ESCROW, destination, note.item)
            given += destination == back_to
        self._escrow.clear()
        if back_to == EXIT and given:
            m.exit_owner = "acceptor"
            m._shutter_open = self._caps.shutter
            m._taken = False
        m._update_status()

    async def _retract(self, op: Operation) -> None:
        m = self._m
        if m._refused(op, shutter=False):
            return
        unit = self._retract_unit
        assert unit is not None  # a profile retracting has one
        if not m.notes_at(EXIT):
            op.fault = Fault("noItems", "nothing at the exit to retract")
            return
        if self._room_fault(op, unit, m.notes_at(EXIT), "at the exit"):
            return
        if not await m._work(self.profile.return_time):
            m._lose_power(op, "before the notes moved")
            return
        if not m.notes_at(EXIT):
            op.fault = Fault("noItems", "the notes left the exit before the retract")
            return
        m._shift_all(EXIT, unit, op)
        m._shutter_open = False

    async def _reset(self, op: Operation) -> None:
        m = self._m
        if not await m._work(self.profile.return_time):
            m._lose_power(op, "before anything moved")
            return
        cleared, m._cleared = m._cleared, Counter()
        for item, notes in cleared.items():
            op.add(TRANSPORT, m._reject_unit, item, notes)  # moved by hand, told now
        keep = self._retract_unit or self._cash_in_unit
        loose = m.notes_at(TRANSPORT) + m.notes_at(ESCROW) + m.notes_at(EXIT)
        if self._room_fault(op, keep, loose, "in the transport, escrow and exit"):
            if not m.notes_at(TRANSPORT):
                m._jammed = False  # the cleared jam is told; the rest waits for room
            m._update_status()
            return
        m._shift_all(TRANSPORT, keep, op)
        m._shift_all(ESCROW, keep, op)
        m._shift_all(EXIT, keep, op)
        self._escrow.clear()
        m._shutter_open = False
        m._shutter_jammed = False
        m._jammed = False
        m._update_status()

    # --- plumbing -------------------------------------------------------------------------

    async def _operate(
        self,
        token: int,
        kind: str,
        body: Callable[[Operation], Awaitable[None]],
        stoppable: bool = False,
    ) -> MoveReport:
        """Run ``body`` as operation ``token`` on the machine (one log for both sides)."""
        return await self._m._operate(token, kind, body, stoppable)

    def _from_customer(self, item: str) -> None:
        """A note leaves the customer's hand into the transport (their count is net)."""
        notes = self._m._notes
        notes[CUSTOMER][item] -= 1
        if not notes[CUSTOMER][item]:
            del notes[CUSTOMER][item]
        notes[TRANSPORT][item] += 1
        self._m._update_status()

    def _taken_sensor(self) -> Callable[[Event], None] | None:
        if not self._caps.items_taken_sensor or self._listener is None:
            return None
        return self._listener.event

    async def _device(self) -> None:
        await self._m._device()

    def _status(self) -> CashAcceptorStatus:
        m = self._m
        caps = self._caps
        if not m.powered:
            return CashAcceptorStatus(
                device=DeviceState.POWER_OFF,
                escrow=StackerState.UNKNOWN if caps.escrow else StackerState.NOT_SUPPORTED,
                note_reader=NoteReaderState.UNKNOWN,
                transport=TransportState.UNKNOWN,
                shutter=ShutterState.UNKNOWN if caps.shutter else ShutterState.NOT_SUPPORTED,
                exit_items=None,
                safe_door_open=m._safe_door_open,
            )
        if not caps.escrow:
            escrow = StackerState.NOT_SUPPORTED
        else:
            escrow = StackerState.NOT_EMPTY if self._escrow else StackerState.EMPTY
        broken = m._jammed or m._shutter_jammed
        return CashAcceptorStatus(
            device=DeviceState.HARDWARE_ERROR if broken else DeviceState.ONLINE,
            escrow=escrow,
            transport=TransportState.NOT_EMPTY if m.notes_at(TRANSPORT) else TransportState.EMPTY,
            shutter=m._shutter_state() if caps.shutter else ShutterState.NOT_SUPPORTED,
            exit_items=m.notes_at(EXIT) > 0,
            safe_door_open=m._safe_door_open,
        )

    def _status_changed(self) -> None:
        """Called by the machine at every change: tell the listener a new status."""
        status = self._status()
        if status != self._last_status:
            self._last_status = status
            if self._listener is not None:
                self._listener.status_changed(status)

    def __repr__(self) -> str:
        state = "on" if self._m.powered else "off"
        return f"CashAcceptorModel({self.name!r}, {self.profile.name!r}, power={state})"
