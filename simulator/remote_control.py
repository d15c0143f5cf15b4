"""`RemoteCardReaderControl`, `RemotePinPadControl`, `RemoteCashDispenserControl`,
`RemoteCashAcceptorControl`: the simulator's control API from another process.

The stimulus the conformance suite drives, over the control socket of a ``tellerhal
sim`` (`simulator.server.ControlServer`)::

    control = RemoteCardReaderControl("tcp://127.0.0.1:5741")
    await control.insert_card("visa")
    print(await control.card_position())

Each call connects, sends one command, waits for its completion and disconnects: a
control call is rare, and no socket (nor ZeroMQ thread) outlives it, so the object
needs no closing. Errors are the `HalError` classes the simulator raised (an unknown
profile or condition is `InvalidData`); a simulator that does not answer is
`ConnectionLost`.

`RemotePinPadControl` is the customer's fingers on a PIN pad of the simulator, so a
``tellerhal sim`` and an app on ``zmq://.../pin_pad`` can run a PIN entry::

    pad = RemotePinPadControl("tcp://127.0.0.1:5741")
    await pad.type_pin("7391")   # digits, then enter, once the app's entry starts

`RemoteCashDispenserControl` is the customer at the cash exit and the faults of a
dispenser; its `RemoteCashDispenserControl.ground_truth` says where every note is::

    cash = RemoteCashDispenserControl("tcp://127.0.0.1:5741")
    await cash.jam_next_dispense(after_notes=2)
    taken = await cash.take_notes(timeout=10)

`RemoteCashAcceptorControl` is the customer at a cash acceptor's input and exit::

    deposit = RemoteCashAcceptorControl("tcp://127.0.0.1:5741")
    await deposit.insert_notes(["CNY:10000", NoteSample("CNY:5000", "unfit")])

`RemoteIdScannerControl` is the customer at an ID scanner (and its faults)::

    scanner = RemoteIdScannerControl("tcp://127.0.0.1:5741")
    sample = await scanner.present_document("resident")

`RemotePrinterControl` is the customer at a printer's exit, the operator and fate::

    printer = RemotePrinterControl("tcp://127.0.0.1:5741")
    await printer.paper_runs_out(after_lines=5)
    text, png = await printer.last_receipt()

The ID scanner's, the camera's and the printer's clients live in
`simulator.remote_control_id`, `simulator.remote_control_camera` and
`simulator.remote_control_printer`, the shared base (`control_call`) in
`simulator.remote_control_base`; this module re-exports them all.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from hal.errors import InvalidData
from hal.stimulus import (
    CardReaderStimulus,
    CardSample,
    CashAcceptorStimulus,
    CashDispenserStimulus,
    NoteSample,
    PinPadStimulus,
)
from simulator.control_commands import (
    CountCompletion,
    EntryActiveCompletion,
    FlagPayload,
    GroundTruthCompletion,
    InsertCardPayload,
    InsertNotesPayload,
    JamNextDispensePayload,
    LeavePayload,
    LoadStackerPayload,
    NeverTakePayload,
    PickTimePayload,
    PositionCompletion,
    PressKeysPayload,
    ReplenishPayload,
    SafeDoorPayload,
    TakeCardPayload,
    TakeNotesPayload,
    UnitPayload,
    UnitStatusPayload,
    WaitForEntryPayload,
    WaitForPayload,
)
from simulator.pin_pad_control import pin_keys
from simulator.remote_control_base import _RemoteDeviceControl, control_call
from simulator.remote_control_camera import RemoteCameraControl
from simulator.remote_control_id import RemoteIdScannerControl
from simulator.remote_control_printer import RemotePrinterControl

__all__ = [
    "RemoteCameraControl",
    "RemoteCardReaderControl",
    "RemoteCashAcceptorControl",
    "RemoteCashDispenserControl",
    "RemoteIdScannerControl",
    "RemotePinPadControl",
    "RemotePrinterControl",
    "control_call",
]


class RemoteCardReaderControl(_RemoteDeviceControl, CardReaderStimulus):
    """The hands and faults acting on a card reader of a ``tellerhal sim``.

    Args:
        endpoint: the simulator's control socket.
        device: the reader's device name.
        timeout: seconds to reach the simulator and get each acknowledge.

    Raises:
        ConfigurationError: a bad endpoint.
        ValueError: a bad device name or timeout.
    """

    def __init__(self, endpoint: str, device: str = "card_reader", *, timeout: float = 5.0) -> None:
        super().__init__(endpoint, device, timeout=timeout)

    # --- CardReaderStimulus ------------------------------------------------------------

    async def insert_card(self, profile: str = "visa") -> CardSample:
        """Push a card of the shipped profile ``profile`` into the slot."""
        sample = await self._call("Control.InsertCard", InsertCardPayload(profile))
        assert isinstance(sample, CardSample)
        return sample

    async def take_card(self, timeout: float = 10.0) -> None:
        """Wait (``timeout`` real seconds) for the card to reach the exit, then take it."""
        await self._call("Control.TakeCard", TakeCardPayload(timeout), wait=timeout)

    async def jam(self) -> None:
        """The next card movement jams."""
        await self._call("Control.Jam")

    async def clear_jam(self) -> None:
        """An operator clears a jam; the card stays in the reader."""
        await self._call("Control.ClearJam")

    async def card_position(self) -> str:
        """Where the last card inserted really is."""
        done = await self._call("Control.CardPosition")
        assert isinstance(done, PositionCompletion)
        return done.position

    async def retained_count(self) -> int:
        """Cards physically in the retain bin."""
        return await self._count("Control.RetainedCount")

    async def stacker_count(self) -> int:
        """Cards physically in the card stacker."""
        return await self._count("Control.StackerCount")

    # --- more of fate ------------------------------------------------------------------

    async def load_stacker(self, count: int) -> None:
        """An operator fills the card stacker so that it holds ``count`` cards."""
        await self._call("Control.LoadStacker", LoadStackerPayload(count))

    async def empty_retain_bin(self) -> int:
        """An operator empties the retain bin; returns how many cards came out."""
        return await self._count("Control.EmptyRetainBin")

    async def wait_for(self, condition: str, timeout: float = 10.0) -> None:
        """Wait until ``condition`` (see `simulator.control.CONDITIONS`) holds.

        Raises:
            HalTimeout: it did not hold within ``timeout`` real seconds.
            InvalidData: an unknown condition.
        """
        await self._call("Control.WaitFor", WaitForPayload(condition, timeout), wait=timeout)

    async def reset(self) -> None:
        """A fresh world: the simulator rebuilds its devices from its scenario.

        Every device of the simulator is rebuilt, not only this one; clients connected
        to its devices lose their sessions and reconnect on their next call.
        """
        await control_call(self.endpoint, "Control.Reset", timeout=self._timeout, wait=30.0)


class RemotePinPadControl(_RemoteDeviceControl, PinPadStimulus):
    """The customer's fingers (and fate) on a PIN pad of a ``tellerhal sim``.

    Args:
        endpoint: the simulator's control socket.
        device: the PIN pad's device name.
        timeout: seconds to reach the simulator and get each acknowledge.

    Raises:
        ConfigurationError: a bad endpoint.
        ValueError: a bad device name or timeout.
    """

    def __init__(self, endpoint: str, device: str = "pin_pad", *, timeout: float = 5.0) -> None:
        super().__init__(endpoint, device, timeout=timeout)

    # --- PinPadStimulus ----------------------------------------------------------------

    async def press_keys(self, keys: Sequence[str], *, timeout: float = 10.0) -> None:
        """Press ``keys`` in order, each once an entry takes keys (``timeout`` real seconds).

        Raises:
            HalTimeout: no entry took the keys in time.
            InvalidData: a key the keyboard does not have, or more than 64 keys.
        """
        if isinstance(keys, str):
            raise ValueError("keys is a sequence of key names, not one string")
        await self._call("Control.PressKeys", PressKeysPayload(tuple(keys), timeout), wait=timeout)

    async def entry_active(self) -> bool:
        """Whether the pad is in an entry now."""
        done = await self._call("Control.EntryActive")
        assert isinstance(done, EntryActiveCompletion)
        return done.active

    # --- conveniences and fate ---------------------------------------------------------

    async def type_pin(self, pin: str, *, enter: bool = True, timeout: float = 10.0) -> None:
        """Type ``pin`` (ASCII digits) and ``enter`` (as key names; never logged)."""
        await self.press_keys(pin_keys(pin, enter=enter), timeout=timeout)

    async def wait_for_entry(self, timeout: float = 10.0) -> None:
        """Wait (``timeout`` real seconds) until an entry is under way (`HalTimeout`)."""
        await self._call("Control.WaitForEntry", WaitForEntryPayload(timeout), wait=timeout)


class _RemoteCashControl(_RemoteDeviceControl):
    """What both kinds of simulated cash device take over the control socket: the
    exit, the ground truth, an operator's filling, a unit's state, a customer who never
    takes, the safe door and the time a note takes."""

    #: The device acted on when none is named.
    default_device = ""

    def __init__(self, endpoint: str, device: str | None = None, *, timeout: float = 5.0) -> None:
        super().__init__(endpoint, device or self.default_device, timeout=timeout)

    async def notes_at_exit(self) -> int:
        """Notes physically at the exit now."""
        return await self._count("Control.NotesAtExit")

    async def replenish(self, unit: str, count: int) -> None:
        """An operator makes ``unit`` physically hold ``count`` notes."""
        await self._call("Control.Replenish", ReplenishPayload(unit, count))

    async def ground_truth(self) -> Mapping[str, int]:
        """Where every note physically is."""
        done = await self._call("Control.GroundTruth")
        assert isinstance(done, GroundTruthCompletion)
        return done.notes

    async def set_unit_status(self, unit: str, status: str) -> None:
        """A unit's physical state (``ok``, ``missing``, ``inoperative``...)."""
        await self._call("Control.UnitStatus", UnitStatusPayload(unit, status))

    async def never_take(self, never: bool = True) -> None:
        """The customer never takes the notes (``False`` undoes it)."""
        await self._call("Control.NeverTake", NeverTakePayload(never))

    async def safe_door(self, open_: bool = True) -> None:
        """Open (or close) the safe door."""
        await self._call("Control.SafeDoor", SafeDoorPayload(open_))

    async def pick_time(self, seconds: float) -> None:
        """Each note takes ``seconds`` simulated seconds from now on."""
        await self._call("Control.PickTime", PickTimePayload(seconds))


class RemoteCashDispenserControl(_RemoteCashControl, CashDispenserStimulus):
    """The customer's hands, the operator's and fate on a cash dispenser of a
    ``tellerhal sim`` (the methods of `simulator.cash_control.CashDispenserControl`).

    Args:
        endpoint: the simulator's control socket.
        device: the dispenser's device name.
        timeout: seconds to reach the simulator and get each acknowledge.

    Raises:
        ConfigurationError: a bad endpoint.
        ValueError: a bad device name or timeout.
    """

    default_device = "cash_dispenser"

    # --- CashDispenserStimulus -------------------------------------------------------------

    async def take_notes(self, *, timeout: float = 10.0) -> int:
        """Wait (``timeout`` real seconds) for notes at the exit and take them.

        Raises:
            HalTimeout: none came in time. SequenceError: the customer never takes.
        """
        done = await self._call("Control.TakeNotes", TakeNotesPayload(timeout), wait=timeout)
        assert isinstance(done, CountCompletion)
        return done.count

    async def jam_next_dispense(self, after_notes: int = 1) -> None:
        """The next dispense jams after ``after_notes`` notes."""
        await self._call("Control.JamNextDispense", JamNextDispensePayload(after_notes))

    async def double_note_next_pick(self, unit: str) -> None:
        """The next pick from ``unit`` is a double note."""
        await self._call("Control.DoubleNote", UnitPayload(unit))

    async def clear_jam(self) -> None:
        """An engineer clears the transport into the reject unit and frees the shutter
        (the next reset reports those notes)."""
        await self._call("Control.ClearJam")

    # --- more of fate ----------------------------------------------------------------------

    async def fail_next_pick(self, unit: str) -> None:
        """The next pick from ``unit`` fails (``cashUnitError``)."""
        await self._call("Control.FailPick", UnitPayload(unit))

    async def jam_shutter(self) -> None:
        """The shutter jams at the next present."""
        await self._call("Control.JamShutter")

    async def partial_retract(self, leave: int = 1) -> None:
        """The next retract leaves ``leave`` notes at the exit."""
        await self._call("Control.PartialRetract", LeavePayload(leave))


class RemoteCashAcceptorControl(_RemoteCashControl, CashAcceptorStimulus):
    """The customer's hands, the operator's and fate on a cash acceptor of a
    ``tellerhal sim`` (the methods of `simulator.cash_in_control.CashAcceptorControl`);
    a recycler's dispenser side is driven through its acceptor's name.

    Args:
        endpoint: the simulator's control socket.
        device: the acceptor's device name.
        timeout: seconds to reach the simulator and get each acknowledge.

    Raises:
        ConfigurationError: a bad endpoint.
        ValueError: a bad device name or timeout.
    """

    default_device = "cash_acceptor"

    # --- CashAcceptorStimulus --------------------------------------------------------------

    async def insert_notes(self, notes: Sequence[NoteSample | str]) -> None:
        """The customer puts ``notes`` into the input (a plain string: a fit note).

        Raises:
            InvalidData: no notes, more than 500, or a level nobody knows.
        """
        await self.insert_bunch(notes)

    async def insert_bunch(self, notes: Sequence[NoteSample | str]) -> int:
        """As `insert_notes`; returns the notes now waiting in the input."""
        if isinstance(notes, str):
            raise ValueError("notes is a sequence of note items, not one string")
        samples = [NoteSample(n) if isinstance(n, str) else n for n in notes]
        try:
            payload = InsertNotesPayload(
                tuple(n.item for n in samples), tuple(n.level for n in samples)
            )
        except ValueError as exc:
            raise InvalidData(str(exc)) from None
        done = await self._call("Control.InsertNotes", payload)
        assert isinstance(done, CountCompletion)
        return done.count

    async def take_returned(self, *, timeout: float = 10.0) -> int:
        """Wait (``timeout`` real seconds) for notes given back at the exit and take
        them (0 at once on a validator, which hands them straight back).

        Raises:
            HalTimeout: none came in time. SequenceError: the customer never takes.
        """
        done = await self._call("Control.TakeReturned", TakeNotesPayload(timeout), wait=timeout)
        assert isinstance(done, CountCompletion)
        return done.count

    async def jam_next_note(self) -> None:
        """The next note taken in jams in the transport."""
        await self._call("Control.JamNextNote")

    async def clear_jam(self) -> None:
        """An engineer clears the transport into the cash-in unit (the next reset
        reports that note)."""
        await self._call("Control.ClearJam")

    async def empty_unit(self, unit: str) -> int:
        """The operator empties ``unit``; returns the notes taken out."""
        done = await self._call("Control.EmptyUnit", UnitPayload(unit))
        assert isinstance(done, CountCompletion)
        return done.count

    # --- more of fate ----------------------------------------------------------------------

    async def cash_box_full(self, full: bool = True) -> None:
        """The cash-in unit's full sensor is on (``False``: off)."""
        await self._call("Control.CashBoxFull", FlagPayload(full))

    async def remove_cash_box(self, removed: bool = True) -> None:
        """The cash-in unit is taken out (``False``: put back)."""
        await self._call("Control.RemoveCashBox", FlagPayload(removed))

    async def note_time(self, seconds: float) -> None:
        """Each note takes ``seconds`` simulated seconds through the reader."""
        await self.pick_time(seconds)
