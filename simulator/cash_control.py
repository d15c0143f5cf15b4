"""The customer's hands, the operator's and fate on a simulated cash dispenser.

`CashDispenserControl` implements `hal.stimulus.CashDispenserStimulus` (what the
conformance suite drives) over a `simulator.models.cash_dispenser.CashDispenserModel`,
acting on the machine, never through the hal service: a customer taking the notes at
the exit, an engineer clearing a jam, an operator filling a cassette, and the faults the
suite's interface does not name (a failed pick, a jammed shutter, a partial retract, a
customer who never takes the notes, power loss, slow replies, the safe door).

`CashDispenserControl.ground_truth` is what only a simulator knows: where every note
physically is. The ``timeout`` of `CashDispenserControl.take_notes` bounds a test and is
in real seconds; `CashDispenserControl.slow_replies` and ``pick_time`` take simulated
seconds.
"""

from __future__ import annotations

from collections.abc import Mapping

from hal.devices.cash_model import EXIT, UnitStatus
from hal.stimulus import CashDispenserStimulus
from simulator.models.cash_dispenser import CashDispenserModel

__all__ = ["CashDispenserControl"]


class CashDispenserControl(CashDispenserStimulus):
    """The hands and faults acting on one simulated cash dispenser.

    Args:
        model: the dispenser they act on.
    """

    def __init__(self, model: CashDispenserModel) -> None:
        self._model = model

    @property
    def model(self) -> CashDispenserModel:
        """The dispenser acted on."""
        return self._model

    # --- CashDispenserStimulus -------------------------------------------------------------

    async def take_notes(self, *, timeout: float = 10.0) -> int:
        """Wait (``timeout`` real seconds) for notes at the exit, then take them all.

        Returns:
            How many were taken.

        Raises:
            HalTimeout: no notes reached the exit in time.
            SequenceError: this customer never takes (`never_take`).
        """
        await self._model.wait_for_notes_at_exit(timeout)
        return self._model.customer_takes()

    async def notes_at_exit(self) -> int:
        """Notes physically at the exit now."""
        return self._model.notes_at(EXIT)

    async def jam_next_dispense(self, after_notes: int = 1) -> None:
        """The next dispense jams after ``after_notes`` notes (the next stays in the
        transport)."""
        self._model.jam_next_dispense(after_notes)

    async def delay_next_dispense(self, seconds: float) -> None:
        """The next dispense starts after ``seconds`` simulated seconds; the dispenser
        says so first (`DelayedDispense`)."""
        self._model.delay_next_dispense(seconds)

    async def double_note_next_pick(self, unit: str) -> None:
        """The next pick from ``unit`` takes two notes stuck together (rejected)."""
        self._model.double_note_next_pick(unit)

    async def clear_jam(self) -> None:
        """An engineer clears the transport into the reject unit and frees a jammed
        shutter. The dispenser counts those notes and reports them with the next reset
        (``transport -> reject``), refusing other operations until then: after
        ``clear_jam`` and a reset, the books agree with the notes."""
        self._model.clear_jam()

    async def replenish(self, unit: str, count: int) -> None:
        """An operator makes ``unit`` physically hold ``count`` notes."""
        self._model.replenish(unit, count)

    async def ground_truth(self) -> Mapping[str, int]:
        """Notes physically in every unit and in ``stacker``, ``transport``, ``exit`` and
        ``customer``."""
        return self._model.ground_truth()

    # --- more of fate ----------------------------------------------------------------------

    async def fail_next_pick(self, unit: str) -> None:
        """The next pick from ``unit`` fails (``cashUnitError``) though notes are there."""
        self._model.fail_next_pick(unit)

    async def set_unit_status(self, unit: str, status: str) -> None:
        """A unit is ``ok``, ``missing``, ``inoperative``... (picks fail unless ``ok``)."""
        self._model.set_unit_status(unit, UnitStatus(status))

    async def jam_shutter(self) -> None:
        """The shutter jams at the next present (``shutterFail``)."""
        self._model.jam_shutter()

    async def partial_retract(self, leave: int = 1) -> None:
        """The next retract leaves ``leave`` notes at the exit."""
        self._model.partial_retract(leave)

    async def never_take(self, never: bool = True) -> None:
        """The customer walks away: notes at the exit are never taken (until undone)."""
        self._model.set_never_take(never)

    async def safe_door(self, open_: bool = True) -> None:
        """Open (or close) the safe door; no note moves while it is open."""
        self._model.set_safe_door(open_)

    async def power_loss(self, on: bool = True) -> None:
        """Cut the dispenser's power (``on=True``) or restore it (``on=False``)."""
        self._model.set_power(not on)

    async def slow_replies(self, seconds: float) -> None:
        """Delay every reply by ``seconds`` simulated seconds (0: none)."""
        self._model.set_reply_delay(seconds)

    async def pick_time(self, seconds: float) -> None:
        """Each note takes ``seconds`` simulated seconds from now on."""
        self._model.set_pick_time(seconds)

    def __repr__(self) -> str:
        return f"CashDispenserControl({self._model.name!r})"
