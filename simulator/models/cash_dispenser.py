"""A simulated cash dispenser that knows where every note is: `CashDispenserModel`.

The model implements `hal.devices.cash_dispenser.CashDispenserBackend` over a
`simulator.models.cash_profiles.CashProfile` (its units, capabilities and timings). It
is the machine, not the books: it keeps the *ground truth*, the notes physically in
each cash unit and in each position (`STACKER`, `TRANSPORT`, `EXIT`, `CUSTOMER`), per
item (``CNY:10000``), and reports every operation as a `MoveReport` of what really
moved. `CashDispenserModel.ground_truth` sums them per location; the sum changes only
by `CashDispenserModel.replenish` (an operator's hand). What the world does to it
(a customer taking notes, a jam, a power cut) comes from
`simulator.cash_control.CashDispenserControl`.

Operations, in XFS4IoT terms (every moving one carries the service's ``token``):

- ``dispense({unit: n})`` picks the notes one at a time, in the profile's unit order:
  each note leaves its cassette into the transport, travels for ``pick_time``
  simulated seconds, then lands where ``dispense_to`` says (the stacker, or the
  customer for an LCDM). The report's moves are net: ``unit -> stacker`` for notes that
  landed, ``unit -> reject`` for double notes, ``unit -> transport`` for a note that
  jammed or was in flight when the power failed. Faults: a jam armed by
  `jam_next_dispense` (the note stays in the transport; ``Fault("mediaJam")``); a
  double note armed by `double_note_next_pick` (two notes stuck together, or the last
  one, go to the reject unit, `NoteErrorReason.DOUBLE_NOTE`, and the pick goes on); an
  empty cassette, one whose pick fails (`fail_next_pick`) or one that is missing or
  inoperative (``Fault("cashUnitError", unit=...)``): the notes picked before are in
  the report. Cancelled (`asyncio.CancelledError` in the awaiting caller), the pick
  stops after the note in flight and the method returns with ``Fault("canceled")``.
- ``present`` moves the stacker's notes to the exit after ``present_time`` and opens
  the shutter; with a shutter jam armed (`jam_shutter`) the shutter jams, the notes
  stay in the stacker and the report says ``Fault("shutterFail")``. The notes stay at
  the exit until the customer takes them (`customer_takes`: the model sends
  `ItemsTaken` to its listener, as its items-taken sensor would, and the shutter
  closes) or a retract takes them back.
- ``retract(area)`` moves the exit's notes (or, with none there, the stacker's) to the
  retract or reject unit, the stacker or the transport; `partial_retract` leaves some
  at the exit (``Fault("retractFailure")``). ``reject`` sends the stacker's notes to
  the reject unit; ``count`` picks every note of units to the reject unit;
  ``test_cash_units`` one note of each dispensing unit that has one; ``reset`` sends
  the transport's and stacker's notes to the reject unit and retracts the exit's to the
  retract unit (the reject unit without one), closes the shutter and clears a shutter
  jam.
- A jam leaves its note in the transport and the device ``hardwareError``. A ``reset``
  purges the transport to the reject unit. An engineer (`clear_jam`) puts the transport's
  notes in the reject unit by hand and frees the device (``online``); the device counts
  them and reports them with the next ``reset`` (``transport -> reject``), refusing
  every other operation until then, so every note's way is in a report.
- A command the device refuses in its state (notes left in the stacker or at the exit,
  nothing to present, notes in the transport, the safe door open, a jammed shutter) is
  answered with a report that moves nothing and says why (``itemsLeft``, ``noItems``,
  ``mediaJam``, ``safeDoorOpen``, ``shutterFail``); the model logs it as received. A
  command it cannot take raises before it is received: `DeviceNotReady` (closed,
  powered off), `UnsupportedOperation` (not in its capabilities), `InvalidData` (an
  unknown or non-dispensing unit, a bad count or token, a token already used or
  fenced), `TooManyItems` (over ``max_dispense_items`` or a unit's
  ``max_per_dispense``), `SequenceError` (another operation is under way).
- Every received operation runs to its end on the model, as on a separate machine,
  even if its caller is cancelled (the method then waits for the end and returns the
  report): all but ``dispense``, which stops at the next note. Each is kept in an
  operation log by token (the last 1000): `operation` answers a finished one, waits
  for one under way, and says ``received=False`` for a token it never got; such a token
  is then *fenced*: a command carrying it later is refused, so the model never does
  what a reconcile has settled as not done. A token no higher than one the log has
  dropped gets ``None`` (it cannot tell), as does every token on a profile without
  ``knows_operations``.
- Power off (`set_power`): every call but ``get_status`` (which says ``powerOff``) and
  ``close`` raises `DeviceNotReady`; an operation under way
  stops at once, a note in flight stays in the transport, the operation is logged with
  ``Fault("hardwareError")`` and its caller gets `ConnectionLost` (the host cannot know
  what moved; `operation` tells once power is back).
- Status: the device is ``hardwareError`` while a jam is not freed or the shutter is
  jammed, else ``online``; stacker, shutter, transport and exit as sensed; the safe
  door (`set_safe_door`). Sensors: a cassette is ``low`` at or below its profile's
  level, a reject or retract unit ``full`` at its capacity.

Times are simulated seconds on the world's clock (`simulator.clock.SimClock`).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter, OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from types import MappingProxyType

from hal.device import BackendListener
from hal.devices.cash_dispenser import (
    EXIT,
    STACKER,
    TRANSPORT,
    CashDispenserCapabilities,
    CashDispenserStatus,
    CashUnitInfo,
    Contents,
    DelayedDispense,
    Fault,
    MoveReport,
    NoteErrorReason,
    OperationRecord,
    RetractArea,
    UnitSensor,
)
from hal.errors import (
    ConnectionLost,
    DeviceNotReady,
    InvalidData,
    SequenceError,
    TooManyItems,
    UnsupportedOperation,
)
from simulator.clock import SimClock
from simulator.models.cash_mechanism import POSITION_ORDER, CashMechanism, Operation
from simulator.models.cash_profiles import CashProfile, cash_profile

__all__ = ["LOG_SIZE", "POSITION_ORDER", "CashDispenserModel"]

log = logging.getLogger(__name__)

#: How many operations the model remembers (the oldest finished ones go first).
LOG_SIZE = 1000


class CashDispenserModel(CashMechanism):
    """A simulated cash dispenser built from a `CashProfile`: its hardware
    (`CashMechanism`) and firmware (the `CashDispenserBackend` operations and the
    operation log).

    Args:
        profile: how it is built (``None``: the ``default`` profile).
        name: the device name used in messages.
        clock: the world's clock (every duration is simulated seconds); real time if
            ``None``.
        pick_time: overrides the profile's simulated seconds per note.

    Raises:
        ValueError: a negative ``pick_time``.
    """

    def __init__(
        self,
        profile: CashProfile | None = None,
        *,
        name: str = "cash_dispenser",
        clock: SimClock | None = None,
        pick_time: float | None = None,
    ) -> None:
        super().__init__(profile, name=name, clock=clock, pick_time=pick_time)
        self._log: OrderedDict[int, Operation] = OrderedDict()
        self._fenced: OrderedDict[int, None] = OrderedDict()
        self._forgotten = 0  # the highest token dropped from the log

    @classmethod
    def from_profile(
        cls,
        profile: str = "default",
        *,
        clock_scale: float = 1.0,
        seed: int = 0,
        name: str = "cash_dispenser",
        pick_time: float | None = None,
    ) -> CashDispenserModel:
        """A model of the shipped profile ``profile`` with its own clock.

        ``seed`` is accepted for symmetry with the other models; this model draws no
        random numbers (its faults are armed explicitly).

        Raises:
            ConfigurationError: no such profile, or a bad clock scale.
        """
        del seed
        return cls(
            cash_profile(profile), name=name, clock=SimClock(clock_scale), pick_time=pick_time
        )

    @property
    def operation_log(self) -> Mapping[int, tuple[bool, MoveReport]]:
        """The operations remembered, by token: ``(finished, report so far)``."""
        return MappingProxyType({t: (op.finished, op.report()) for t, op in self._log.items()})

    # --- CashDispenserBackend: the device ----------------------------------------------------

    async def open(self, listener: BackendListener[CashDispenserStatus]) -> None:
        """Start reporting to ``listener`` (one service at a time).

        Raises:
            DeviceNotReady: another service has it open.
        """
        if self._listener is not None and self._listener is not listener:
            raise DeviceNotReady(f"{self.name} is already open by another service; close it first")
        await self._reply_delay(opening=True)
        self._listener = listener
        self._last_status = None
        self._update_status()

    async def close(self) -> None:
        """Stop reporting. An operation under way goes on to its end (its caller waits)."""
        self._listener = None
        self._signal.notify()

    def capabilities(self) -> CashDispenserCapabilities:
        """The profile's capabilities."""
        return self._caps

    def units(self) -> tuple[CashUnitInfo, ...]:
        """The profile's units, reject and retract included."""
        return self._infos

    async def get_status(self) -> CashDispenserStatus:
        """The status as the sensors see it now."""
        await self._reply_delay()
        return self._compute_status()

    async def sensors(self) -> tuple[UnitSensor, ...]:
        """Each unit's state and its near-end / full sensors."""
        await self._device()
        return tuple(self._sensor(info) for info in self._infos)

    async def contents(self) -> Contents:
        """Notes in the positions now, and whether the last notes presented were taken."""
        await self._device()
        return Contents(
            stacker=self.notes_at(STACKER) if self._caps.intermediate_stacker else None,
            transport=self.notes_at(TRANSPORT),
            exit=self.notes_at(EXIT),
            taken=self._taken if self._caps.items_taken_sensor else None,
        )

    async def exchange(self, active: bool) -> None:
        """An exchange starts or ends (the model only notes it)."""
        await self._device()
        self._exchange = active

    async def operation(self, token: int) -> OperationRecord | None:
        """What operation ``token`` did; waits for one under way; ``None`` without
        ``knows_operations``. A token never received is fenced from then on."""
        await self._device()
        if not self._caps.knows_operations:
            return None
        _check_token(token)
        op = self._log.get(token)
        if op is None and token <= self._forgotten:
            return None  # perhaps one of the operations the log no longer holds
        if op is None:
            self._fenced[token] = None
            while len(self._fenced) > LOG_SIZE:
                self._fenced.popitem(last=False)
            return OperationRecord(token=token, received=False)
        await self._signal.wait_until(lambda: op.finished or not self._powered)
        if not op.finished:
            raise DeviceNotReady(f"{self.name} lost power while operation {token} ran")
        return OperationRecord(token=token, received=True, report=op.report())

    # --- CashDispenserBackend: moving notes ----------------------------------------------

    async def dispense(self, counts: Mapping[str, int], token: int) -> MoveReport:
        """Pick ``{unit: notes}`` one note at a time to ``dispense_to``."""
        wanted = self._check_dispense(counts)
        return await self._operate(token, "dispense", lambda op: self._dispense(op, wanted), True)

    async def present(self, token: int) -> MoveReport:
        """Move the stacker's notes to the exit, opening the shutter."""
        self._need(self._caps.intermediate_stacker, "present (it has no stacker)")
        return await self._operate(token, "present", self._present)

    async def retract(self, area: RetractArea, token: int) -> MoveReport:
        """Move the exit's notes (or the stacker's, with none at the exit) to ``area``."""
        area = RetractArea(area)
        self._need(area in self._caps.retract_areas, f"retract to {area.value}")
        return await self._operate(token, "retract", lambda op: self._retract(op, area))

    async def reject(self, token: int) -> MoveReport:
        """Move the stacker's notes to the reject unit."""
        self._need(self._caps.reject, "reject")
        return await self._operate(token, "reject", self._reject)

    async def count(self, units: tuple[str, ...], token: int) -> MoveReport:
        """Pick every note of ``units`` to the reject unit."""
        self._need(self._caps.count, "count")
        for unit in units:
            self._dispensing(unit, InvalidData)
        ordered = [info.id for info in self._infos if info.id in set(units)]
        return await self._operate(token, "count", lambda op: self._count(op, ordered))

    async def test_cash_units(self, token: int) -> MoveReport:
        """Pick one note of each dispensing unit that has one to the reject unit."""
        self._need(self._caps.test_cash_units, "test_cash_units")
        return await self._operate(token, "test", self._test)

    async def reset(self, token: int) -> MoveReport:
        """Transport and stacker to the reject unit, exit to the retract unit."""
        return await self._operate(token, "reset", self._reset)

    # --- the operations, on the machine --------------------------------------------------

    async def _delay_start(self, op: Operation) -> bool:
        """A delayed start (`delay_next_dispense`): `DelayedDispense` to the listener,
        then the wait; ``False`` if the power fails meanwhile."""
        delay, self._delay_next = self._delay_next, None
        if delay is None:
            return True
        if self._listener is not None:
            self._listener.event(DelayedDispense(delay=delay))
        if not await self._work(delay):
            self._lose_power(op, "before the first pick (a delayed start)")
            return False
        return True

    async def _dispense(self, op: Operation, wanted: list[tuple[str, int]]) -> None:
        destination = self._caps.dispense_to
        if self._refused(op, items_left=True):
            return
        jam_after, self._jam_after = self._jam_after, None
        if not await self._delay_start(op):
            return
        landed = 0
        for unit, n in wanted:
            picked = 0
            while picked < n:
                if op.stop:
                    op.fault = Fault("canceled", f"cancelled after {landed} notes")
                    return
                fault = self._pick_fault(unit)
                if fault is not None:
                    op.fault = Fault(
                        "cashUnitError", f"{fault} after {landed} notes were dispensed", unit
                    )
                    return
                double = self._double[unit] > 0
                if double:
                    self._double[unit] -= 1
                item = self._unit_item(unit)
                in_flight = min(2, self.notes_at(unit)) if double else 1
                self._shift(unit, TRANSPORT, item, in_flight)
                if not await self._work(self._pick_time):
                    op.add(unit, TRANSPORT, item, in_flight)
                    self._lose_power(op, f"after {landed} notes")
                    return
                if double:
                    self._shift(TRANSPORT, self._reject_unit, item, in_flight)
                    op.add(unit, self._reject_unit, item, in_flight)
                    op.note_errors.append(NoteErrorReason.DOUBLE_NOTE)
                    self._update_status()
                    continue
                if jam_after is not None and landed == jam_after:
                    self._jammed = True
                    op.add(unit, TRANSPORT, item)
                    op.fault = Fault(
                        "mediaJam", f"a note jammed in the transport after {landed} notes"
                    )
                    self._update_status()
                    return
                self._shift(TRANSPORT, destination, item)
                op.add(unit, destination, item)
                picked += 1
                landed += 1
                self._update_status()
        if destination == EXIT and landed:
            self._shutter_open = self._caps.shutter
            self._taken = False

    async def _present(self, op: Operation) -> None:
        if self._refused(op):
            return
        if not self.notes_at(STACKER):
            op.fault = Fault("noItems", "the stacker is empty")
            return
        if self.notes_at(EXIT):
            op.fault = Fault("itemsLeft", "notes are still at the exit")
            return
        if self._shutter_jam_next:
            self._shutter_jam_next = False
            self._shutter_jammed = True
            op.fault = Fault("shutterFail", "the shutter jammed; the notes are in the stacker")
            return
        if not await self._work(self.profile.present_time):
            self._lose_power(op, "before the notes moved")
            return
        self._shift_all(STACKER, EXIT, op)
        self._shutter_open = self._caps.shutter
        self._taken = False

    async def _retract(self, op: Operation, area: RetractArea) -> None:
        if self._refused(op, shutter=False):
            return
        source = EXIT if self.notes_at(EXIT) else STACKER
        destination = {
            RetractArea.RETRACT: self._retract_unit,
            RetractArea.REJECT: self._reject_unit,
            RetractArea.STACKER: STACKER,
            RetractArea.TRANSPORT: TRANSPORT,
        }[area]
        assert destination is not None  # a profile retracting to it has the unit
        there = self.notes_at(source)
        if not there or source == destination:
            op.fault = Fault("noItems", f"nothing to retract to {area.value}")
            return
        if not await self._work(self.profile.retract_time):
            self._lose_power(op, "before the notes moved")
            return
        there = self.notes_at(source)  # the customer may have taken them meanwhile
        if not there:
            op.fault = Fault("noItems", f"the notes left the {source} before the retract")
            return
        leave, self._retract_leaves = self._retract_leaves, None
        move = there if leave is None else max(0, there - leave)
        self._shift_first(source, destination, move, op)
        if source == EXIT:
            self._shutter_open = self._caps.shutter and bool(self.notes_at(EXIT))
        if move < there:
            op.fault = Fault(
                "retractFailure", f"{there - move} of {there} notes stayed at the {source}"
            )

    async def _reject(self, op: Operation) -> None:
        if self._refused(op):
            return
        if not self.notes_at(STACKER):
            op.fault = Fault("noItems", "the stacker is empty")
            return
        if not await self._work(self.profile.retract_time):
            self._lose_power(op, "before the notes moved")
            return
        self._shift_all(STACKER, self._reject_unit, op)

    async def _count(self, op: Operation, units: list[str]) -> None:
        if self._refused(op):
            return
        for unit in units:
            while self.notes_at(unit):
                if self._pick_fault(unit, empty_ok=True):
                    op.fault = Fault("cashUnitError", f"{unit} cannot be picked", unit)
                    return
                if not await self._pick_to_reject(op, unit):
                    return

    async def _test(self, op: Operation) -> None:
        if self._refused(op):
            return
        for info in self._infos:
            if info.type.dispenses and self.notes_at(info.id):
                if self._pick_fault(info.id, empty_ok=True):
                    continue  # a unit that cannot be picked is what the test finds
                if not await self._pick_to_reject(op, info.id):
                    return

    async def _reset(self, op: Operation) -> None:
        if not await self._work(self.profile.retract_time):
            self._lose_power(op, "before anything moved")
            return
        cleared, self._cleared = self._cleared, Counter()
        for item, notes in cleared.items():
            op.add(TRANSPORT, self._reject_unit, item, notes)  # moved by hand, told now
        self._shift_all(TRANSPORT, self._reject_unit, op)
        self._shift_all(STACKER, self._reject_unit, op)
        self._shift_all(EXIT, self._retract_unit or self._reject_unit, op)
        self._shutter_open = False
        self._shutter_jammed = False
        self._jammed = False

    async def _pick_to_reject(self, op: Operation, unit: str) -> bool:
        """One note of ``unit`` through the transport to the reject unit."""
        item = self._unit_item(unit)
        self._shift(unit, TRANSPORT, item)
        if not await self._work(self._pick_time):
            op.add(unit, TRANSPORT, item)
            self._lose_power(op, "during a pick")
            return False
        self._shift(TRANSPORT, self._reject_unit, item)
        op.add(unit, self._reject_unit, item)
        self._update_status()
        return True

    # --- plumbing -------------------------------------------------------------------------

    async def _operate(
        self,
        token: int,
        kind: str,
        body: Callable[[Operation], Awaitable[None]],
        stoppable: bool = False,
    ) -> MoveReport:
        """Receive operation ``token`` and run ``body`` on the machine to its end."""
        await self._reply_delay()
        self._require_power()
        _check_token(token)
        if token in self._log or token in self._fenced:
            raise InvalidData(
                f"{self.name}: token {token} was used already (or settled as never received)"
            )
        if self._current is not None:
            raise SequenceError(
                f"{self.name} is busy with {self._current.kind} {self._current.token}"
            )
        op = self._current = Operation(token, kind)
        self._log[token] = op
        while len(self._log) > LOG_SIZE:
            oldest = next(iter(self._log))
            if not self._log[oldest].finished:
                break
            del self._log[oldest]
            self._forgotten = max(self._forgotten, oldest)
        self._signal.notify()
        task = asyncio.get_running_loop().create_task(self._drive(op, body))
        while not task.done():
            try:
                await asyncio.shield(task)
            except asyncio.CancelledError:
                if task.done() and task.cancelled():
                    raise
                if stoppable:
                    op.stop = True
        report = task.result()
        if op.power_lost:
            raise ConnectionLost(f"{self.name} lost power during {kind} {token}")
        return report

    async def _drive(
        self, op: Operation, body: Callable[[Operation], Awaitable[None]]
    ) -> MoveReport:
        try:
            await body(op)
        finally:
            op.finished = True
            self._current = None
            self._update_status()
        if op.fault is not None:
            log.info("%s: %s %d stopped: %s", self.name, op.kind, op.token, op.fault.error_code)
        return op.report()

    def _check_dispense(self, counts: Mapping[str, int]) -> list[tuple[str, int]]:
        given = dict(counts)
        total = 0
        for unit, n in given.items():
            info = self._dispensing(unit, InvalidData)
            if isinstance(n, bool) or not isinstance(n, int) or n < 0:
                raise InvalidData(f"{self.name}: the count of {unit} is not an int >= 0: {n!r}")
            if info.max_per_dispense is not None and n > info.max_per_dispense:
                raise TooManyItems(
                    f"{self.name}: {unit} gives at most {info.max_per_dispense} notes a "
                    f"dispense, not {n}"
                )
            total += n
        if total > self._caps.max_dispense_items:
            raise TooManyItems(
                f"{self.name} dispenses at most {self._caps.max_dispense_items} notes, not {total}"
            )
        return [(info.id, given[info.id]) for info in self._infos if given.get(info.id)]

    def _need(self, supported: bool, what: str) -> None:
        if not supported:
            raise UnsupportedOperation(f"{self.name} cannot {what}")

    def __repr__(self) -> str:
        state = "on" if self._powered else "off"
        busy = "" if self._current is None else f", running={self._current!r}"
        return f"CashDispenserModel({self.name!r}, {self.profile.name!r}, power={state}{busy})"


def _check_token(token: int) -> None:
    if isinstance(token, bool) or not isinstance(token, int) or token <= 0:
        raise InvalidData(f"a token is a positive int, got {token!r}")
