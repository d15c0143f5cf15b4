"""The customer's hands, the operator's and fate on a simulated cash acceptor.

`CashAcceptorControl` implements `hal.stimulus.CashAcceptorStimulus` (what the
conformance suite drives) over a `simulator.models.cash_acceptor.CashAcceptorModel`,
acting on the machine, never through the hal service: a customer inserting notes and
taking back the notes given back, an engineer clearing a jam, an operator emptying the
cash box, and the faults the suite's interface does not name (a full or missing cash
box, power loss, the safe door, slow notes and replies, a customer who never takes).

`CashAcceptorControl.ground_truth` is what only a simulator knows: where every note
physically is (the customer's count net: negative after a deposit). The ``timeout`` of
`CashAcceptorControl.take_returned` is in real seconds; `note_time` and `slow_replies`
take simulated seconds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from hal.devices.cash_model import EXIT, UnitStatus
from hal.stimulus import CashAcceptorStimulus, NoteSample
from simulator.models.cash_acceptor import CashAcceptorModel

__all__ = ["CashAcceptorControl"]


class CashAcceptorControl(CashAcceptorStimulus):
    """The hands and faults acting on one simulated cash acceptor.

    Args:
        model: the acceptor they act on.
    """

    def __init__(self, model: CashAcceptorModel) -> None:
        self._model = model

    @property
    def model(self) -> CashAcceptorModel:
        """The acceptor acted on."""
        return self._model

    # --- CashAcceptorStimulus --------------------------------------------------------------

    async def insert_notes(self, notes: Sequence[NoteSample | str]) -> None:
        """The customer puts ``notes`` into the input (a plain string is a fit note of
        that item); returns at once.

        Raises:
            ValueError: no notes, or a level that is not a note level.
        """
        self._model.insert_notes(notes)

    async def take_returned(self, *, timeout: float = 10.0) -> int:
        """Wait (``timeout`` real seconds) for notes given back at the exit, then take
        them all. A validator hands notes straight back (no exit): 0 at once.

        Raises:
            HalTimeout: no notes reached the exit in time.
            SequenceError: this customer never takes (`never_take`).
        """
        if self._model.capabilities().return_to != EXIT:
            return 0
        await self._model.wait_for_notes_at_exit(timeout)
        return self._model.customer_takes()

    async def notes_at_exit(self) -> int:
        """Notes physically at the exit now."""
        return self._model.notes_at(EXIT)

    async def jam_next_note(self) -> None:
        """The next note taken in jams in the transport (``mediaJam``)."""
        self._model.jam_next_note()

    async def clear_jam(self) -> None:
        """An engineer clears the transport into the cash-in unit; the next reset
        reports it, so the books follow the note."""
        self._model.clear_jam()

    async def empty_unit(self, unit: str) -> int:
        """The operator empties ``unit``; returns the notes taken out."""
        return self._model.empty_unit(unit)

    async def ground_truth(self) -> Mapping[str, int]:
        """Notes physically in every unit and in ``escrow``, ``transport``, ``exit`` and
        ``customer`` (net)."""
        return self._model.ground_truth()

    # --- more of the world -----------------------------------------------------------------

    async def take_back_input(self) -> int:
        """The customer takes back the notes still waiting in the input."""
        return self._model.take_back_input()

    async def replenish(self, unit: str, count: int) -> None:
        """An operator makes ``unit`` physically hold ``count`` notes."""
        self._model.replenish(unit, count)

    async def cash_box_full(self, full: bool = True) -> None:
        """The cash-in unit's full sensor is on (storing there fails), or off."""
        self._model.set_cash_box_full(full)

    async def remove_cash_box(self, removed: bool = True) -> None:
        """Take the cash-in unit out (``missing``: cash-in is refused), or put it back."""
        self._model.remove_cash_box(removed)

    async def set_unit_status(self, unit: str, status: str) -> None:
        """A unit is ``ok``, ``missing``, ``inoperative``..."""
        self._model.set_unit_status(unit, UnitStatus(status))

    async def never_take(self, never: bool = True) -> None:
        """The customer walks away: notes at the exit are never taken (until undone)."""
        self._model.set_never_take(never)

    async def safe_door(self, open_: bool = True) -> None:
        """Open (or close) the safe door; no note moves while it is open."""
        self._model.set_safe_door(open_)

    async def power_loss(self, on: bool = True) -> None:
        """Cut the acceptor's power (``on=True``) or restore it (``on=False``); the
        notes in the escrow stay there."""
        self._model.set_power(not on)

    async def note_time(self, seconds: float) -> None:
        """Each note takes ``seconds`` simulated seconds through the reader from now on."""
        self._model.set_note_time(seconds)

    async def slow_replies(self, seconds: float) -> None:
        """Delay every reply by ``seconds`` simulated seconds (0: none)."""
        self._model.set_reply_delay(seconds)

    def __repr__(self) -> str:
        return f"CashAcceptorControl({self._model.name!r})"
