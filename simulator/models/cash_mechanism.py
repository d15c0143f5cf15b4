"""The physical side of a simulated cash dispenser: where every note really is.

`CashMechanism` keeps the ground truth (the notes of each item in every cash unit and in
the positions `STACKER`, `TRANSPORT`, `EXIT` and `CUSTOMER`), the shutter, the power,
the safe door, what the world does to it (a customer taking the notes, a jam armed, an
engineer clearing the transport, an operator filling a cassette) and its status as the
sensors report it. `simulator.models.cash_dispenser.CashDispenserModel` adds the
firmware: the `CashDispenserBackend` operations and their log by token.

`Operation` is one received operation: the moves it made so far (net, per source,
destination and item), why it stopped short, whether it ended; a cash-in (kind
``cash_in``, `simulator.models.cash_acceptor`) also the notes it took, with their
levels, and the notes it refused, and reports a `CashInReport`.

The same mechanism is the machine under a cash acceptor (a profile may then have no
dispensing unit, and no reject unit: rejected notes go to its cash-in unit, else its
retract unit).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable

from hal.device import BackendListener, DeviceState
from hal.devices.cash_dispenser import (
    CUSTOMER,
    EXIT,
    STACKER,
    TRANSPORT,
    CashDispenserStatus,
    CashUnitInfo,
    CashUnitType,
    Fault,
    ItemsTaken,
    Move,
    MoveReport,
    NoteErrorReason,
    ShutterState,
    StackerState,
    TransportState,
    UnitSensor,
    UnitStatus,
)
from hal.devices.cash_in_model import AcceptedNote, CashInReport, RefuseReason
from hal.errors import (
    DeviceNotReady,
    HalTimeout,
    SequenceError,
    UnsupportedOperation,
)
from hal.events import Event, Notifier
from simulator.clock import SimClock, reply_delay
from simulator.models.cash_profiles import CashProfile, cash_profile

__all__ = ["POSITION_ORDER", "CashMechanism", "Operation"]

log = logging.getLogger(__name__)

#: The positions `CashMechanism.ground_truth` always reports, after the units.
POSITION_ORDER = (STACKER, TRANSPORT, EXIT, CUSTOMER)


class Operation:
    """One received operation: what it moved so far, why it stopped, whether it ended."""

    __slots__ = (
        "accepted",
        "fault",
        "finished",
        "kind",
        "moves",
        "note_errors",
        "power_lost",
        "refused",
        "stop",
        "token",
    )

    def __init__(self, token: int, kind: str) -> None:
        self.token = token
        self.kind = kind
        self.moves: dict[tuple[str, str, str], int] = {}
        self.fault: Fault | None = None
        self.note_errors: list[NoteErrorReason] = []
        self.finished = False
        self.stop = False  # the caller was cancelled: a dispense stops at the next note
        self.power_lost = False
        self.accepted: list[AcceptedNote] = []  # a cash-in's notes into the escrow
        self.refused: list[RefuseReason] = []  # a cash-in's notes given back

    def add(self, source: str, destination: str, item: str, count: int = 1) -> None:
        key = (source, destination, item)
        self.moves[key] = self.moves.get(key, 0) + count

    def report(self) -> MoveReport:
        moves = tuple(Move(s, d, item, n) for (s, d, item), n in self.moves.items() if n)
        if self.kind == "cash_in":
            return CashInReport(
                moves=moves,
                fault=self.fault,
                notes=tuple(self.accepted),
                refused=tuple(self.refused),
            )
        return MoveReport(moves=moves, fault=self.fault, note_errors=tuple(self.note_errors))

    def __repr__(self) -> str:
        state = "finished" if self.finished else "running"
        return f"Operation({self.token}, {self.kind!r}, {state})"


class CashMechanism:
    """A simulated cash dispenser's hardware, built from a `CashProfile`.

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
        self.profile = profile if profile is not None else cash_profile("default")
        self.name = name
        self.clock = clock if clock is not None else SimClock()
        if pick_time is not None and not (pick_time >= 0):
            raise ValueError(f"pick_time is >= 0 simulated seconds, got {pick_time!r}")
        self._pick_time = self.profile.pick_time if pick_time is None else float(pick_time)
        caps = self.profile.capabilities
        self._caps = caps
        self._infos = tuple(unit.info() for unit in self.profile.units)
        self._by_id: dict[str, CashUnitInfo] = {info.id: info for info in self._infos}
        self._specs = {unit.id: unit for unit in self.profile.units}
        # where rejected (and cleared) notes go: the reject unit, else (the machine of
        # a cash acceptor) its cash-in unit, else its retract unit
        self._reject_unit = next(
            i.id
            for kind in (CashUnitType.REJECT, CashUnitType.CASH_IN, CashUnitType.RETRACT)
            for i in self._infos
            if i.type is kind
        )
        self._retract_unit = next(
            (i.id for i in self._infos if i.type is CashUnitType.RETRACT), None
        )
        self._notes: dict[str, Counter[str]] = {info.id: Counter() for info in self._infos}
        for unit in self.profile.units:
            if unit.count:
                self._notes[unit.id][unit.item] = unit.count
        for position in POSITION_ORDER:
            self._notes[position] = Counter()
        # the machine's state
        self._powered = True
        self._safe_door_open = False
        self._shutter_open = False
        self._shutter_jammed = False
        self._jammed = False  # notes jammed in the transport, not yet freed or purged
        self._cleared: Counter[str] = Counter()  # cleared by hand, for the next reset
        self._exchange = False
        self._taken: bool | None = None  # the last notes presented were taken
        self._unit_status: dict[str, UnitStatus] = {}
        # faults armed by the world
        self._jam_after: int | None = None
        self._delay_next: float | None = None
        self._double: Counter[str] = Counter()
        self._fail_pick: set[str] = set()
        self._shutter_jam_next = False
        self._retract_leaves: int | None = None
        self._never_take = False
        self._reply_delay_s = 0.0
        # the host side
        self._listener: BackendListener[CashDispenserStatus] | None = None
        self._last_status: CashDispenserStatus | None = None
        self._signal = Notifier()
        self._current: Operation | None = None
        self.replenished = 0  # notes added (or taken, negative) by replenish, for checks

    # --- ground truth (read by the control API and tests) --------------------------------

    def ground_truth(self) -> dict[str, int]:
        """Notes physically in every unit and position: ``{location: notes}``."""
        return {location: sum(items.values()) for location, items in self._notes.items()}

    def ground_truth_items(self) -> dict[str, dict[str, int]]:
        """Notes physically in every location, per item: ``{location: {item: notes}}``."""
        return {location: dict(+items) for location, items in self._notes.items()}

    def notes_at(self, location: str) -> int:
        """Notes physically in ``location`` (a unit id or a position).

        Raises:
            ValueError: no such location.
        """
        items = self._notes.get(location)
        if items is None:
            raise ValueError(f"{self.name} has no location {location!r}")
        return sum(items.values())

    @property
    def busy(self) -> bool:
        """An operation is under way."""
        return self._current is not None

    @property
    def powered(self) -> bool:
        """The dispenser has power."""
        return self._powered

    @property
    def is_open(self) -> bool:
        """A service has the dispenser open."""
        return self._listener is not None

    @property
    def shutter(self) -> ShutterState:
        """The shutter as it physically is."""
        return self._shutter_state()

    @property
    def pick_time(self) -> float:
        """Simulated seconds one note takes."""
        return self._pick_time

    @property
    def cleared_unreported(self) -> int:
        """Notes cleared off the transport by hand that no reset has reported yet."""
        return sum(self._cleared.values())

    async def wait_until(self, predicate: Callable[[], bool]) -> None:
        """Return once ``predicate()`` holds (re-checked at every change)."""
        await self._signal.wait_until(predicate)

    async def wait_for_notes_at_exit(self, timeout: float | None) -> None:
        """Wait (``timeout`` real seconds) until notes are at the exit.

        Raises:
            HalTimeout: none came in time.
        """
        try:
            async with asyncio.timeout(timeout):
                await self._signal.wait_until(lambda: self.notes_at(EXIT) > 0)
        except TimeoutError:
            raise HalTimeout(f"{self.name}: no notes reached the exit within {timeout} s") from None

    # --- what the world does --------------------------------------------------------------

    def customer_takes(self) -> int:
        """The customer takes every note at the exit; returns how many.

        The shutter closes behind them; with an items-taken sensor the listener gets
        `ItemsTaken`.

        Raises:
            SequenceError: the customer never takes (`set_never_take`).
        """
        if self._never_take:
            raise SequenceError(f"{self.name}: this customer never takes the notes")
        notes = self.notes_at(EXIT)
        if not notes:
            return 0
        self._shift_all(EXIT, CUSTOMER)
        self._shutter_open = False
        self._taken = True
        log.info("%s: the customer took %d notes", self.name, notes)
        tell = self._taken_sensor()
        if tell is not None and self._powered:
            tell(ItemsTaken(count=notes))
        self._update_status()
        return notes

    def _taken_sensor(self) -> Callable[[Event], None] | None:
        """Whom the items-taken sensor tells (``None``: no sensor, or nobody listens)."""
        if not self._caps.items_taken_sensor or self._listener is None:
            return None
        return self._listener.event

    def set_never_take(self, never: bool = True) -> None:
        """The customer walks away: notes at the exit are never taken (until undone)."""
        self._never_take = never

    def jam_next_dispense(self, after_notes: int = 1) -> None:
        """The next dispense jams: after ``after_notes`` notes have landed, the next note
        stops in the transport. The fault is used up by the next dispense, even one too
        short to reach it."""
        _check_count("after_notes", after_notes)
        self._jam_after = after_notes

    def delay_next_dispense(self, seconds: float) -> None:
        """The next dispense starts after ``seconds`` simulated seconds: the machine
        sends `DelayedDispense` (XFS4IoT ``DelayedDispenseEvent``) to its listener, waits,
        then picks. Used up by the next dispense."""
        if not seconds >= 0:
            raise ValueError(f"a dispense delay is >= 0 seconds, got {seconds!r}")
        self._delay_next = float(seconds)

    def double_note_next_pick(self, unit: str) -> None:
        """The next pick from ``unit`` takes two notes stuck together (rejected).

        Raises:
            ValueError: no such dispensing unit.
        """
        self._dispensing(unit)
        self._double[unit] += 1

    def fail_next_pick(self, unit: str) -> None:
        """The next pick from ``unit`` fails (``cashUnitError``) though notes are there.

        Raises:
            ValueError: no such dispensing unit.
        """
        self._dispensing(unit)
        self._fail_pick.add(unit)

    def set_unit_status(self, unit: str, status: UnitStatus) -> None:
        """The unit's physical state (``missing``, ``inoperative``...); picks from a unit
        that is not ``ok`` fail with ``cashUnitError``.

        Raises:
            ValueError: no such unit.
        """
        if unit not in self._by_id:
            raise ValueError(f"{self.name} has no unit {unit!r}")
        if status is UnitStatus.OK:
            self._unit_status.pop(unit, None)
        else:
            self._unit_status[unit] = UnitStatus(status)
        self._update_status()

    def jam_shutter(self) -> None:
        """The shutter jams at the next present (``shutterFail``).

        Raises:
            UnsupportedOperation: the dispenser has no shutter.
        """
        if not self._caps.shutter:
            raise UnsupportedOperation(f"{self.name} has no shutter")
        self._shutter_jam_next = True

    def partial_retract(self, leave: int = 1) -> None:
        """The next retract leaves ``leave`` notes at the exit (``retractFailure``)."""
        _check_count("leave", leave)
        self._retract_leaves = leave

    def clear_jam(self) -> int:
        """An engineer clears the transport, putting its notes in the reject unit, and
        frees a jammed shutter; returns the notes moved.

        The device counts what was taken off its transport during the clearance and
        reports it with the next ``reset`` (as ``transport -> reject``), so the books
        follow every note; until that reset it refuses every other operation
        (``mediaJam``), as a dispenser wants a reset after maintenance.
        """
        moved = 0
        for item, notes in list(self._notes[TRANSPORT].items()):
            self._shift(TRANSPORT, self._reject_unit, item, notes)
            self._cleared[item] += notes
            moved += notes
        self._jammed = False
        self._shutter_jammed = False
        self._update_status()
        return moved

    def replenish(self, unit: str, count: int) -> int:
        """An operator makes ``unit`` physically hold ``count`` notes (of its own kind;
        0 empties a reject or retract unit). Returns the change in notes.

        Raises:
            ValueError: no such unit, a negative count or over its capacity.
        """
        _check_count("count", count)
        info = self._by_id.get(unit)
        if info is None:
            raise ValueError(f"{self.name} has no unit {unit!r}")
        if info.capacity is not None and count > info.capacity:
            raise ValueError(f"{unit} holds at most {info.capacity} notes, not {count}")
        before = self.notes_at(unit)
        self._notes[unit] = Counter({info.item: count}) if count else Counter()
        self.replenished += count - before
        self._update_status()
        return count - before

    def set_power(self, on: bool) -> None:
        """Cut or restore the power. Notes stay where they are; an operation under way
        stops (a note in flight stays in the transport)."""
        if on == self._powered:
            return
        self._powered = on
        log.info("%s: power %s", self.name, "on" if on else "off")
        self._update_status()

    def set_safe_door(self, open_: bool) -> None:
        """Open or close the safe door; while it is open no note moves."""
        self._safe_door_open = open_
        self._update_status()

    def set_reply_delay(self, seconds: float) -> None:
        """Delay every backend call by ``seconds`` simulated seconds (0: no delay)."""
        if not seconds >= 0:
            raise ValueError(f"a reply delay is >= 0 seconds, got {seconds!r}")
        self._reply_delay_s = float(seconds)

    def set_pick_time(self, seconds: float) -> None:
        """Simulated seconds each note takes from now on."""
        if not seconds >= 0:
            raise ValueError(f"a pick time is >= 0 seconds, got {seconds!r}")
        self._pick_time = float(seconds)

    # --- plumbing -------------------------------------------------------------------------

    async def _work(self, seconds: float) -> bool:
        """The mechanism runs ``seconds``; ``False`` if the power fails meanwhile."""
        if not self._powered:
            return False
        if seconds <= 0:
            return True
        try:
            async with asyncio.timeout(self.clock.to_real(seconds)):
                await self._signal.wait_until(lambda: not self._powered)
        except TimeoutError:
            return True
        return False

    def _lose_power(self, op: Operation, when: str) -> None:
        op.power_lost = True
        op.fault = Fault("hardwareError", f"power lost {when}")

    def _refused(self, op: Operation, *, items_left: bool = False, shutter: bool = True) -> bool:
        """Report (in ``op``) why the machine will not start, if it will not."""
        if self._safe_door_open:
            op.fault = Fault("safeDoorOpen", "the safe door is open")
        elif self.notes_at(TRANSPORT):
            op.fault = Fault("mediaJam", "notes are in the transport; a reset takes them out")
        elif self._cleared:
            op.fault = Fault("mediaJam", "the transport was cleared by hand; reset first")
        elif shutter and self._shutter_jammed:
            op.fault = Fault("shutterFail", "the shutter is jammed")
        elif items_left and (self.notes_at(STACKER) or self.notes_at(EXIT)):
            op.fault = Fault("itemsLeft", "notes are still in the stacker or at the exit")
        return op.fault is not None

    def _pick_fault(self, unit: str, *, empty_ok: bool = False) -> str | None:
        status = self._unit_status.get(unit)
        if status is not None:
            return f"{unit} is {status.value}"
        if unit in self._fail_pick:
            self._fail_pick.discard(unit)
            return f"the pick from {unit} failed"
        if not empty_ok and not self.notes_at(unit):
            return f"{unit} is empty"
        return None

    def _dispensing(self, unit: str, error: type[Exception] = ValueError) -> CashUnitInfo:
        info = self._by_id.get(unit)
        if info is None or not info.type.dispenses:
            dispensing = ", ".join(i.id for i in self._infos if i.type.dispenses)
            raise error(f"{self.name} has no dispensing unit {unit!r}; it has {dispensing}")
        return info

    def _unit_item(self, unit: str) -> str:
        return self._by_id[unit].item

    def _shift(self, source: str, destination: str, item: str, count: int = 1) -> None:
        """Physically move ``count`` notes of ``item``."""
        held = self._notes[source]
        if held[item] < count:  # a bug, never the world's doing
            raise AssertionError(f"{source} holds {held[item]} of {item}, not {count}")
        held[item] -= count
        if not held[item]:
            del held[item]
        self._notes[destination][item] += count

    def _shift_all(self, source: str, destination: str, op: Operation | None = None) -> None:
        self._shift_first(source, destination, self.notes_at(source), op)

    def _shift_first(self, source: str, destination: str, count: int, op: Operation | None) -> None:
        """Move ``count`` notes of ``source`` (item by item, in the order they came)."""
        for item, held in list(self._notes[source].items()):
            if count <= 0:
                break
            n = min(held, count)
            self._shift(source, destination, item, n)
            if op is not None:
                op.add(source, destination, item, n)
            count -= n
        self._update_status()

    def _sensor(self, info: CashUnitInfo) -> UnitSensor:
        notes = self.notes_at(info.id)
        spec = self._specs[info.id]
        low = None
        full = None
        if info.type.dispenses and spec.low is not None:
            low = notes <= spec.low
        if not info.type.dispenses and info.capacity is not None:
            full = notes >= info.capacity
        return UnitSensor(
            id=info.id, status=self._unit_status.get(info.id, UnitStatus.OK), low=low, full=full
        )

    def _shutter_state(self) -> ShutterState:
        if not self._caps.shutter:
            return ShutterState.NOT_SUPPORTED
        if self._shutter_jammed:
            return ShutterState.JAMMED
        return ShutterState.OPEN if self._shutter_open else ShutterState.CLOSED

    def _compute_status(self) -> CashDispenserStatus:
        if not self._powered:
            return CashDispenserStatus(
                device=DeviceState.POWER_OFF,
                stacker=StackerState.UNKNOWN
                if self._caps.intermediate_stacker
                else StackerState.NOT_SUPPORTED,
                shutter=ShutterState.UNKNOWN if self._caps.shutter else ShutterState.NOT_SUPPORTED,
                transport=TransportState.UNKNOWN,
                exit_items=None,
                safe_door_open=self._safe_door_open,
            )
        transport = self.notes_at(TRANSPORT)
        broken = self._jammed or self._shutter_jammed
        if self._caps.intermediate_stacker:
            stacker = StackerState.NOT_EMPTY if self.notes_at(STACKER) else StackerState.EMPTY
        else:
            stacker = StackerState.NOT_SUPPORTED
        return CashDispenserStatus(
            device=DeviceState.HARDWARE_ERROR if broken else DeviceState.ONLINE,
            stacker=stacker,
            shutter=self._shutter_state(),
            transport=TransportState.NOT_EMPTY if transport else TransportState.EMPTY,
            exit_items=self.notes_at(EXIT) > 0,
            safe_door_open=self._safe_door_open,
        )

    def _update_status(self) -> None:
        status = self._compute_status()
        if status != self._last_status:
            self._last_status = status
            if self._listener is not None:
                self._listener.status_changed(status)
        self._signal.notify()

    def _require_power(self) -> None:
        if not self._powered:
            raise DeviceNotReady(f"{self.name} is powered off")

    async def _device(self) -> None:
        await self._reply_delay()
        self._require_power()

    async def _reply_delay(self, *, opening: bool = False) -> None:
        await reply_delay(
            self.clock,
            self._reply_delay_s,
            name=self.name,
            listener=lambda: self._listener,
            signal=self._signal,
            opening=opening,
        )


def _check_count(what: str, count: int) -> None:
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise ValueError(f"{what} is an int >= 0, got {count!r}")
