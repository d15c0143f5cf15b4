"""A simulated cash acceptor that knows where every note is: `CashAcceptorModel`.

The model implements `hal.devices.cash_acceptor.CashAcceptorBackend` over a
`simulator.models.cash_in_profiles.CashInProfile`. Its hardware is the cash
dispenser's mechanism (`simulator.models.cash_mechanism`) with an escrow: one machine
holding the notes of every cash unit and position (`ESCROW`, `TRANSPORT`, `EXIT`,
`CUSTOMER`, and a recycler's `STACKER`), per item. A recycler's dispenser side
(`CashAcceptorModel.dispenser`) is the same machine seen as a
`hal.devices.cash_dispenser.CashDispenserBackend`: both sides move the same notes, run
one operation at a time between them and share one operation log, so either side's
`operation(token)` answers for the other's tokens.

The ground truth (`CashAcceptorModel.ground_truth`): notes in every unit and position;
the customer's count is net (negative after a deposit: they gave notes in). The sum
changes only by an operator's hand (`CashAcceptorModel.empty_unit`, `replenish`).

The cash-in operations themselves (what ``cash_in``, ``cash_in_end``, ``rollback``,
``retract`` and ``reset`` do to the notes) are described, and done, in
`simulator.models.cash_acceptor_escrow`; the machine (and a recycler's dispenser side)
is `simulator.models.cash_acceptor_machine`.

Faults (armed by `simulator.cash_in_control.CashAcceptorControl`): `jam_next_note` (the
next accepted note stops in the transport, ``Fault("mediaJam")``; the device is
``hardwareError`` until a reset, or `clear_jam`, which puts the note in the cash-in unit
by hand and is reported by the next reset, as the dispenser does); `set_cash_box_full`
(its full sensor is on and ``cash_in_end`` stops with ``Fault("cashUnitError")`` at the
first note for it: the rest stay in the escrow); `remove_cash_box` (status ``missing``:
``cash_in`` is refused with ``cashUnitError`` before it takes a note); `set_power`
(power off: every call but ``get_status`` and ``close`` raises `DeviceNotReady`; an
operation under way stops, a note in flight stays in the transport, its caller gets
`ConnectionLost`; the escrow is kept and `contents` reports it once the power is back: a
validator still holds its note; a validator hands a note that was in its reader back to
the customer when the power returns, as a bill validator does at power-up);
`set_safe_door` (no note moves: ``Fault("safeDoorOpen")``). A command the machine
refuses in its state is answered with a report that moves nothing and says why
(``mediaJam``, ``safeDoorOpen``, ``noItems``, ``positionNotEmpty``, ``cashUnitError``);
every received command is in the operation log (the last 1000, by token; a token asked
about and never received is fenced, as on the dispenser). Without ``knows_operations``
(the validators) `operation` answers ``None``; with ``senses_escrow`` `contents` tells
what the escrow holds.
"""

from __future__ import annotations

import logging
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace

from hal.device import BackendListener
from hal.devices.cash_acceptor import CashAcceptorBackend, ItemsInserted
from hal.devices.cash_in_model import (
    ESCROW,
    AcceptedNote,
    CashAcceptorCapabilities,
    CashAcceptorStatus,
    CashInContents,
    CashInLimits,
    CashInReport,
    NoteLevel,
    NoteType,
)
from hal.devices.cash_model import (
    CUSTOMER,
    EXIT,
    STACKER,
    TRANSPORT,
    CashUnitInfo,
    CashUnitType,
    MoveReport,
    OperationRecord,
    RetractArea,
    UnitSensor,
    UnitStatus,
)
from hal.errors import DeviceNotReady, InvalidData, UnsupportedOperation
from hal.stimulus import NoteSample
from simulator.clock import SimClock
from simulator.models.cash_acceptor_escrow import _EscrowMechanics
from simulator.models.cash_acceptor_machine import _Machine
from simulator.models.cash_dispenser import CashDispenserModel
from simulator.models.cash_in_profiles import CashInProfile, cash_in_profile

__all__ = ["CashAcceptorModel"]

log = logging.getLogger(__name__)


class CashAcceptorModel(_EscrowMechanics):
    """A simulated cash acceptor (validator, deposit module or recycler) built from a
    `CashInProfile`.

    Args:
        profile: how it is built (``None``: the ``default`` profile).
        name: the device name used in messages.
        clock: the world's clock (every duration is simulated seconds); real time if
            ``None``.
        note_time: overrides the profile's simulated seconds per note taken in.

    Raises:
        ValueError: a negative ``note_time``.
    """

    def __init__(
        self,
        profile: CashInProfile | None = None,
        *,
        name: str = "cash_acceptor",
        clock: SimClock | None = None,
        note_time: float | None = None,
    ) -> None:
        self.profile = profile if profile is not None else cash_in_profile("default")
        self.name = name
        self._caps = self.profile.capabilities
        self._listener: BackendListener[CashAcceptorStatus] | None = None
        self._last_status: CashAcceptorStatus | None = None
        self._m = _Machine(self, self.profile.machine(), clock if clock is not None else SimClock())
        self.clock = self._m.clock
        self._note_time = self.profile.note_time
        if note_time is not None:
            self.set_note_time(note_time)
        self._types = {note.item: note for note in self.profile.note_types}
        self._enabled = frozenset(note.item for note in self.profile.note_types if note.enabled)
        infos = self._m.units()
        self._cash_in_unit = next(i.id for i in infos if i.type is CashUnitType.CASH_IN)
        self._retract_unit = next((i.id for i in infos if i.type is CashUnitType.RETRACT), None)
        self._recyclers = tuple(i for i in infos if i.type is CashUnitType.RECYCLING)
        self._input: deque[NoteSample] = deque()  # the customer's notes at the slot
        self._escrow: list[AcceptedNote] = []  # the escrow's notes, in order, with levels
        self._jam_next = False
        self._cash_box_full = False
        self._in_reader: Counter[str] = Counter()  # a note in flight when the power failed

    @classmethod
    def from_profile(
        cls,
        profile: str = "default",
        *,
        clock_scale: float = 1.0,
        name: str = "cash_acceptor",
        note_time: float | None = None,
    ) -> CashAcceptorModel:
        """A model of the shipped profile ``profile`` with its own clock.

        Raises:
            ConfigurationError: no such profile, or a bad clock scale.
        """
        return cls(
            cash_in_profile(profile), name=name, clock=SimClock(clock_scale), note_time=note_time
        )

    # --- ground truth (read by the control API and tests) --------------------------------

    def ground_truth(self) -> dict[str, int]:
        """Notes physically in every unit and position: ``{location: notes}`` (units,
        then ``escrow``, ``transport``, ``exit``, ``customer``; a recycler with a
        stacker also ``stacker``). The customer's count is net."""
        notes = self._m.ground_truth()
        positions = [ESCROW, TRANSPORT, EXIT, CUSTOMER]
        if self._m.capabilities().intermediate_stacker:
            positions.insert(0, STACKER)
        return {
            **{info.id: notes[info.id] for info in self._m.units()},
            **{position: notes[position] for position in positions},
        }

    def ground_truth_items(self) -> dict[str, dict[str, int]]:
        """Notes in every location of `ground_truth`, per item (the customer's net,
        so possibly negative)."""
        return {
            location: {item: n for item, n in self._m._notes[location].items() if n}
            for location in self.ground_truth()
        }

    def notes_at(self, location: str) -> int:
        """Notes physically in ``location`` (a unit id or a position).

        Raises:
            ValueError: no such location.
        """
        return self._m.notes_at(location)

    @property
    def escrow_notes(self) -> tuple[AcceptedNote, ...]:
        """The notes in the escrow, in the order they came, with their levels."""
        return tuple(self._escrow)

    @property
    def input_notes(self) -> tuple[NoteSample, ...]:
        """The notes waiting in the input (still the customer's)."""
        return tuple(self._input)

    @property
    def operation_log(self) -> Mapping[int, tuple[bool, MoveReport]]:
        """Both sides' operations remembered, by token: ``(finished, report so far)``."""
        return self._m.operation_log

    @property
    def busy(self) -> bool:
        """An operation (of either side) is under way."""
        return self._m.busy

    @property
    def powered(self) -> bool:
        """The machine has power."""
        return self._m.powered

    @property
    def is_open(self) -> bool:
        """A service has the acceptor side open."""
        return self._listener is not None

    @property
    def note_time(self) -> float:
        """Simulated seconds one note takes from the input through the reader."""
        return self._note_time

    @property
    def replenished(self) -> int:
        """Notes an operator added (negative: took out) by hand, for checks."""
        return self._m.replenished

    async def wait_until(self, predicate: Callable[[], bool]) -> None:
        """Return once ``predicate()`` holds (re-checked at every change)."""
        await self._m.wait_until(predicate)

    async def wait_for_notes_at_exit(self, timeout: float | None) -> None:
        """Wait (``timeout`` real seconds) until notes are at the exit.

        Raises:
            HalTimeout: none came in time.
        """
        await self._m.wait_for_notes_at_exit(timeout)

    def dispenser(self) -> CashDispenserModel:
        """The recycler's dispenser side: a `CashDispenserBackend` (a
        `CashDispenserModel`) over this same machine: its units are this acceptor's,
        the same `CashUnitInfo` objects; its ground truth is this one's.

        Raises:
            UnsupportedOperation: not a recycler.
        """
        if self.profile.payout is None:
            raise UnsupportedOperation(f"{self.name} ({self.profile.name}) is not a recycler")
        return self._m

    # --- what the world does ----------------------------------------------------------------

    def insert_notes(self, notes: Iterable[NoteSample | str]) -> int:
        """The customer puts ``notes`` into the input (a plain string is a fit note of
        that item); the listener gets `ItemsInserted`. Returns the notes now waiting.

        Raises:
            ValueError: an empty bunch, or a level that is not a `NoteLevel`.
        """
        bunch = [NoteSample(n) if isinstance(n, str) else n for n in notes]
        if not bunch:
            raise ValueError("the customer inserts at least one note")
        for note in bunch:
            NoteLevel(note.level)  # ValueError for a level nobody knows
        self._input.extend(bunch)
        log.info("%s: the customer inserted %d notes", self.name, len(bunch))
        if self._listener is not None and self._m.powered:
            self._listener.event(ItemsInserted())
        self._m._signal.notify()
        return len(self._input)

    def take_back_input(self) -> int:
        """The customer takes back the notes still waiting in the input."""
        notes = len(self._input)
        self._input.clear()
        self._m._signal.notify()
        return notes

    def customer_takes(self) -> int:
        """The customer takes every note at the exit; returns how many (the side whose
        notes they were gets `ItemsTaken`, if it has the sensor).

        Raises:
            SequenceError: the customer never takes (`set_never_take`).
        """
        return self._m.customer_takes()

    def set_never_take(self, never: bool = True) -> None:
        """The customer walks away: notes at the exit are never taken (until undone)."""
        self._m.set_never_take(never)

    def jam_next_note(self) -> None:
        """The next note taken in jams in the transport (``mediaJam``)."""
        self._jam_next = True

    def clear_jam(self) -> int:
        """An engineer clears the transport into the cash-in unit and frees a jammed
        shutter; returns the notes moved. The next reset reports them
        (``transport -> cash-in unit``); until then the machine refuses the rest."""
        return self._m.clear_jam()

    def empty_unit(self, unit: str) -> int:
        """An operator empties ``unit`` (the cash box); returns the notes taken out.

        Raises:
            ValueError: no such unit.
        """
        return -self._m.replenish(unit, 0)

    def replenish(self, unit: str, count: int) -> int:
        """An operator makes ``unit`` hold ``count`` notes of its kind (a recycling unit
        filled; 0 empties any unit); returns the change.

        Raises:
            ValueError: no such unit, a negative count, or over its capacity.
        """
        return self._m.replenish(unit, count)

    def set_cash_box_full(self, full: bool = True) -> None:
        """The cash-in unit's full sensor is on: storing a note there fails."""
        self._cash_box_full = full
        self._m._update_status()

    def remove_cash_box(self, removed: bool = True) -> None:
        """The cash-in unit is taken out (status ``missing``), or put back."""
        self._m.set_unit_status(
            self._cash_in_unit, UnitStatus.MISSING if removed else UnitStatus.OK
        )

    def set_unit_status(self, unit: str, status: UnitStatus) -> None:
        """Any unit's physical state (``missing``, ``inoperative``...).

        Raises:
            ValueError: no such unit.
        """
        self._m.set_unit_status(unit, status)

    def set_power(self, on: bool) -> None:
        """Cut or restore the power; notes stay where they are (the escrow's too). A
        validator (rollback to the customer) hands a note that was in its reader when
        the power failed back to the customer when the power returns."""
        was_on = self._m.powered
        self._m.set_power(on)
        if on and not was_on and self._caps.return_to == CUSTOMER and self._in_reader:
            for item, notes in self._in_reader.items():
                self._m._shift(TRANSPORT, CUSTOMER, item, notes)
            log.info("%s: power is back; the note in the reader went back", self.name)
            self._m._update_status()
        if on:
            self._in_reader.clear()

    def set_safe_door(self, open_: bool) -> None:
        """Open or close the safe door; while it is open no note moves."""
        self._m.set_safe_door(open_)

    def set_reply_delay(self, seconds: float) -> None:
        """Delay every call of either side by ``seconds`` simulated seconds."""
        self._m.set_reply_delay(seconds)

    def set_note_time(self, seconds: float) -> None:
        """Simulated seconds each note takes through the reader from now on.

        Raises:
            ValueError: a negative time.
        """
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not seconds >= 0:
            raise ValueError(f"a note time is >= 0 seconds, got {seconds!r}")
        self._note_time = float(seconds)

    # --- CashAcceptorBackend: the device ----------------------------------------------------

    async def open(self, listener: BackendListener[CashAcceptorStatus]) -> None:
        """Start reporting to ``listener`` (one service at a time).

        Raises:
            DeviceNotReady: another service has the acceptor side open.
        """
        if self._listener is not None and self._listener is not listener:
            raise DeviceNotReady(f"{self.name} is already open by another service; close it first")
        await self._m._reply_delay(opening=True)
        self._listener = listener
        self._last_status = None
        self._status_changed()

    async def close(self) -> None:
        """Stop reporting; an operation under way goes on to its end. A note held in
        the escrow stays held."""
        self._listener = None
        self._m._signal.notify()

    def capabilities(self) -> CashAcceptorCapabilities:
        """The profile's capabilities."""
        return self._caps

    def units(self) -> tuple[CashUnitInfo, ...]:
        """The profile's units (the very objects the dispenser side lists)."""
        return self._m.units()

    def note_types(self) -> tuple[NoteType, ...]:
        """The notes the reader recognises, each enabled or not as configured."""
        return tuple(
            replace(note, enabled=note.item in self._enabled) for note in self.profile.note_types
        )

    async def configure(self, enabled: frozenset[str]) -> None:
        """Accept only ``enabled`` items.

        Raises:
            InvalidData: an item the reader does not recognise.
        """
        await self._device()
        unknown = sorted(set(enabled) - set(self._types))
        if unknown:
            raise InvalidData(f"{self.name} does not recognise {', '.join(unknown)}")
        self._enabled = frozenset(enabled)

    async def get_status(self) -> CashAcceptorStatus:
        """The status as the sensors see it now (``powerOff`` while off)."""
        await self._m._reply_delay()
        return self._status()

    async def sensors(self) -> tuple[UnitSensor, ...]:
        """Each unit's state and its sensors (the cash box's full sensor as armed)."""
        await self._device()
        out = []
        for info in self._m.units():
            sensor = self._m._sensor(info)
            if info.id == self._cash_in_unit and self._cash_box_full:
                sensor = replace(sensor, full=True)
            out.append(sensor)
        return tuple(out)

    async def contents(self) -> CashInContents:
        """What the machine senses in its positions now."""
        await self._device()
        m = self._m
        return CashInContents(
            escrow=dict(m._notes[ESCROW]) if self._caps.senses_escrow else None,
            transport=m.notes_at(TRANSPORT),
            exit=m.notes_at(EXIT),
            taken=m._taken if self._caps.items_taken_sensor else None,
        )

    async def operation(self, token: int) -> OperationRecord | None:
        """What operation ``token`` (of either side) did; ``None`` without
        ``knows_operations``. A token never received is fenced from then on."""
        return await self._m.operation(token)

    async def exchange(self, active: bool) -> None:
        """An exchange starts or ends (the model only notes it)."""
        await self._device()
        self._m._exchange = active

    # --- CashAcceptorBackend: moving notes --------------------------------------------------

    async def cash_in(self, limits: CashInLimits, token: int) -> CashInReport:
        """Take the customer's notes into the escrow within ``limits``."""
        if isinstance(limits.max_items, bool) or not isinstance(limits.max_items, int):
            raise InvalidData(f"max_items is an int, got {limits.max_items!r}")
        if limits.max_items < 0:
            raise InvalidData(f"max_items is >= 0, got {limits.max_items}")
        report = await self._operate(token, "cash_in", lambda op: self._cash_in(op, limits), True)
        assert isinstance(report, CashInReport)
        return report

    async def cash_in_end(self, use_recycle_units: bool, token: int) -> MoveReport:
        """Store the escrow's notes in the units."""
        return await self._operate(
            token, "cash_in_end", lambda op: self._store(op, use_recycle_units)
        )

    async def rollback(self, token: int) -> MoveReport:
        """Give the escrow's credited notes back; retain the others."""
        if not self._caps.escrow:
            raise UnsupportedOperation(f"{self.name} has no escrow")
        return await self._operate(token, "rollback", self._rollback)

    async def retract(self, area: RetractArea, token: int) -> MoveReport:
        """Move the exit's notes to ``area``'s unit."""
        area = RetractArea(area)
        if area not in self._caps.retract_areas:
            raise UnsupportedOperation(f"{self.name} cannot retract to {area.value}")
        return await self._operate(token, "cash_in_retract", self._retract)

    async def reset(self, token: int) -> MoveReport:
        """Transport, escrow and exit to the retract unit (else the cash-in unit)."""
        return await self._operate(token, "cash_in_reset", self._reset)


def _implements(model: CashAcceptorModel) -> CashAcceptorBackend:
    """(For mypy: the model is a `CashAcceptorBackend`.)"""
    return model
