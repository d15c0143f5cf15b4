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
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

import zmq

from hal.errors import ConnectionLost, InvalidData, ProtocolError
from hal.remote.codec import WireValueError, codec_for
from hal.remote.connection import Connection
from hal.remote.interfaces import Empty
from hal.remote.messages import valid_device_name
from hal.remote.security import endpoint_scheme
from hal.stimulus import (
    CameraStimulus,
    CardReaderStimulus,
    CardSample,
    CashAcceptorStimulus,
    CashDispenserStimulus,
    DocumentSample,
    IdScannerStimulus,
    NoteSample,
    PinPadStimulus,
    PrinterStimulus,
)
from simulator.control_commands import (
    COMMANDS,
    CameraPayload,
    CountCompletion,
    DocumentPresentedCompletion,
    EntryActiveCompletion,
    FlagPayload,
    GroundTruthCompletion,
    InsertCardPayload,
    InsertNotesPayload,
    JamNextDispensePayload,
    LastReceiptCompletion,
    LeavePayload,
    LoadStackerPayload,
    NeverTakePayload,
    PaperOutPayload,
    PickTimePayload,
    PositionCompletion,
    PowerLossPayload,
    PresentDocumentPayload,
    PressKeysPayload,
    PrintedLinesCompletion,
    ReplenishPayload,
    SafeDoorPayload,
    SetScenePayload,
    SlowReadPayload,
    SlowRepliesPayload,
    TakeCardPayload,
    TakeNotesPayload,
    UnitPayload,
    UnitStatusPayload,
    WaitForEntryPayload,
    WaitForPayload,
)
from simulator.pin_pad_control import pin_keys

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


async def control_call(
    endpoint: str,
    name: str,
    payload: Any = None,
    *,
    device: str | None = None,
    timeout: float = 5.0,
    wait: float = 0.0,
) -> Any:
    """Run one control command and return its completion (a dataclass, or ``None``).

    Args:
        endpoint: the control socket (``tcp://127.0.0.1:5741``).
        name: a command of `simulator.control_commands.COMMANDS`.
        payload: its payload dataclass (``None`` for an empty one).
        device: the device acted on (for the commands that act on one).
        timeout: seconds to connect and get the acknowledge.
        wait: seconds the command itself may take after its acknowledge.

    Raises:
        ConnectionLost: nothing answered within ``timeout``, or no completion came
            ``wait + timeout`` seconds after the acknowledge.
        HalError: the simulator refused or failed the command, as the class it raised.
    """
    command = COMMANDS[name]
    blobs: list[bytes] = []
    data = codec_for(command.payload).encode(Empty() if payload is None else payload, blobs)
    context: zmq.Context[Any] = zmq.Context()
    conn = Connection(
        context,
        endpoint,
        timeout=timeout,
        curve=None,
        settle_timeout=0.0,
        on_event=lambda conn, message: None,
        on_lost=lambda conn, reason, quiet: None,
    )
    bound = asyncio.timeout(timeout + wait + timeout)
    try:
        async with bound:
            message = await conn.exchange(device, name, data, blobs, settle=False)
    except TimeoutError:
        if not bound.expired():
            raise  # HalTimeout: the command's own wait ran out
        raise ConnectionLost(
            f"{endpoint}: {name} did not complete within {timeout + wait + timeout:g} s"
        ) from None
    finally:
        conn.lose(f"{name} is done", quiet=True)
        await conn.wait_closed()
        context.destroy(linger=0)
    if command.completion is None:
        return None
    try:
        return codec_for(command.completion).decode(message.payload, message.blobs, "")
    except WireValueError as exc:
        raise ProtocolError(f"{endpoint} answered {name} with {exc}") from None


class _RemoteDeviceControl:
    """What acts on one device of a ``tellerhal sim`` over its control socket: the
    endpoint, the device's name, the commands every simulated device takes (power
    loss, slow replies).

    Raises:
        ConfigurationError: a bad endpoint.
        ValueError: a bad device name or timeout.
    """

    def __init__(self, endpoint: str, device: str, *, timeout: float = 5.0) -> None:
        endpoint_scheme(endpoint)
        if not valid_device_name(device):
            raise ValueError(f"device name {device!r} is not a-z, 0-9, '_' or '-'")
        if not timeout > 0:
            raise ValueError(f"timeout must be > 0, got {timeout}")
        self.endpoint = endpoint
        self.device = device
        self._timeout = timeout

    async def _call(self, name: str, payload: Any = None, wait: float = 0.0) -> Any:
        return await control_call(
            self.endpoint, name, payload, device=self.device, timeout=self._timeout, wait=wait
        )

    async def power_loss(self, on: bool = True) -> None:
        """Cut the device's power (``on=True``) or restore it (``on=False``)."""
        await self._call("Control.PowerLoss", PowerLossPayload(on))

    async def slow_replies(self, seconds: float) -> None:
        """Delay every reply of the device by ``seconds`` simulated seconds (0: none)."""
        await self._call("Control.SlowReplies", SlowRepliesPayload(seconds))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.endpoint!r}, {self.device!r})"


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
        done = await self._call("Control.RetainedCount")
        assert isinstance(done, CountCompletion)
        return done.count

    async def stacker_count(self) -> int:
        """Cards physically in the card stacker."""
        done = await self._call("Control.StackerCount")
        assert isinstance(done, CountCompletion)
        return done.count

    # --- more of fate ------------------------------------------------------------------

    async def load_stacker(self, count: int) -> None:
        """An operator fills the card stacker so that it holds ``count`` cards."""
        await self._call("Control.LoadStacker", LoadStackerPayload(count))

    async def empty_retain_bin(self) -> int:
        """An operator empties the retain bin; returns how many cards came out."""
        done = await self._call("Control.EmptyRetainBin")
        assert isinstance(done, CountCompletion)
        return done.count

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
        done = await self._call("Control.NotesAtExit")
        assert isinstance(done, CountCompletion)
        return done.count

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


class RemoteIdScannerControl(_RemoteDeviceControl, IdScannerStimulus):
    """The customer, the operator and fate at an ID scanner of a ``tellerhal sim`` (the
    methods of `simulator.id_control.IdScannerControl`).

    The control socket carries no personal data: `present_document` gets the profile's
    name, kind and validity back and takes the expected document from this process's
    own `simulator.id_profiles` (the same shipped profiles).

    Args:
        endpoint: the simulator's control socket.
        device: the scanner's device name.
        timeout: seconds to reach the simulator and get each acknowledge.

    Raises:
        ConfigurationError: a bad endpoint.
        ValueError: a bad device name or timeout.
    """

    def __init__(self, endpoint: str, device: str = "id_scanner", *, timeout: float = 5.0) -> None:
        super().__init__(endpoint, device, timeout=timeout)

    # --- IdScannerStimulus -------------------------------------------------------------

    async def present_document(self, profile: str = "resident") -> DocumentSample:
        """The customer presents a document of the shipped profile ``profile``.

        Raises:
            InvalidData: no such profile.
            UnsupportedOperation: the scanner cannot read that kind of document.
            SequenceError: a document is already there.
            ProtocolError: the simulator's profile differs from this process's.
        """
        from simulator.id_profiles import document_profile

        done = await self._call("Control.PresentDocument", PresentDocumentPayload(profile))
        assert isinstance(done, DocumentPresentedCompletion)
        sample = document_profile(done.profile).sample()
        kind = sample.expected.kind.value if sample.expected is not None else ""
        if (kind, sample.valid) != (done.kind, done.valid):
            raise ProtocolError(
                f"{self.endpoint}: the simulator's {profile} document ({done.kind or 'none'}, "
                f"valid={done.valid}) is not this process's ({kind or 'none'}, "
                f"valid={sample.valid}); are both the same version?"
            )
        return sample

    async def remove_document(self, *, timeout: float = 10.0) -> None:
        """The customer takes the document (from a motorised scanner's exit once it gets
        there, waiting ``timeout`` real seconds)."""
        await self._call("Control.RemoveDocument", TakeCardPayload(timeout), wait=timeout)

    async def document_position(self) -> str:
        """Where the document really is."""
        done = await self._call("Control.DocumentPosition")
        assert isinstance(done, PositionCompletion)
        return done.position

    async def retained_count(self) -> int:
        """Documents physically in the retain bin."""
        done = await self._call("Control.RetainedCount")
        assert isinstance(done, CountCompletion)
        return done.count

    async def jam(self) -> None:
        """The next document movement jams."""
        await self._call("Control.JamDocument")

    # --- more of fate ------------------------------------------------------------------

    async def clear_jam(self) -> None:
        """An operator clears a jam; the document stays inside."""
        await self._call("Control.ClearJam")

    async def sam_failure(self, failed: bool = True) -> None:
        """The security module fails its self-test (``False``: it works again)."""
        await self._call("Control.SamFailure", FlagPayload(failed))

    async def fail_next_read(self) -> None:
        """The next read fails (``InvalidMedia``)."""
        await self._call("Control.FailRead")

    async def slow_read(self, seconds: float) -> None:
        """Every read takes ``seconds`` simulated seconds longer (0: normal)."""
        await self._call("Control.SlowRead", SlowReadPayload(seconds))

    async def empty_retain_bin(self) -> int:
        """An operator empties the retain bin; returns how many documents came out."""
        done = await self._call("Control.EmptyRetainBin")
        assert isinstance(done, CountCompletion)
        return done.count

    async def wait_for(self, condition: str, timeout: float = 10.0) -> None:
        """Wait until ``condition`` (see `simulator.id_control.ID_CONDITIONS`) holds.

        Raises:
            HalTimeout: it did not hold within ``timeout`` real seconds.
            InvalidData: an unknown condition.
        """
        await self._call("Control.WaitFor", WaitForPayload(condition, timeout), wait=timeout)


class RemoteCameraControl(_RemoteDeviceControl, CameraStimulus):
    """What a camera of a ``tellerhal sim`` sees, its cable and its faults.

    Args:
        endpoint: the simulator's control socket.
        device: the camera's device name.
        timeout: seconds to reach the simulator and get each acknowledge.

    Raises:
        ConfigurationError: a bad endpoint.
        ValueError: a bad device name or timeout.
    """

    def __init__(self, endpoint: str, device: str = "camera", *, timeout: float = 5.0) -> None:
        super().__init__(endpoint, device, timeout=timeout)

    async def set_scene(self, scene: str, *, camera: str = "person") -> None:
        """What ``camera`` sees from its next frame on (a scene name or ``file:PATH``, a
        path on the simulator's host).

        Raises:
            UnsupportedOperation: an unknown scene, a missing file or camera.
            InvalidData: a scene name over 1024 characters or an unknown camera.
        """
        await self._call("Control.SetScene", SetScenePayload(scene, camera))

    async def unplug(self, *, camera: str = "person") -> None:
        """``camera`` leaves the bus."""
        await self._call("Control.UnplugCamera", CameraPayload(camera))

    async def replug(self, *, camera: str = "person") -> None:
        """``camera`` is back on the bus (it works after a reset)."""
        await self._call("Control.ReplugCamera", CameraPayload(camera))

    async def slow_capture(self, seconds: float) -> None:
        """Every frame takes ``seconds`` simulated seconds (0: at once)."""
        await self._call("Control.SlowCapture", SlowRepliesPayload(seconds))

    async def reset(self) -> None:
        """A fresh world: the simulator rebuilds its devices from its scenario."""
        await control_call(self.endpoint, "Control.Reset", timeout=self._timeout, wait=30.0)


class RemotePrinterControl(_RemoteDeviceControl, PrinterStimulus):
    """The customer at the exit, the operator and fate at a printer of a ``tellerhal
    sim`` (the methods of `simulator.printer_control.SimPrinterControl`).

    Args:
        endpoint: the simulator's control socket.
        device: the printer's device name (``receipt_printer``, ``journal_printer``).
        timeout: seconds to reach the simulator and get each acknowledge.

    Raises:
        ConfigurationError: a bad endpoint.
        ValueError: a bad device name or timeout.
    """

    def __init__(
        self, endpoint: str, device: str = "receipt_printer", *, timeout: float = 5.0
    ) -> None:
        super().__init__(endpoint, device, timeout=timeout)

    # --- PrinterStimulus -----------------------------------------------------------------

    async def take_receipt(self, *, timeout: float = 10.0) -> None:
        """Wait (``timeout`` real seconds) for a cut receipt and take it.

        Raises:
            HalTimeout: none came in time. UnsupportedOperation: a journal printer.
        """
        await self._call("Control.TakeReceipt", TakeCardPayload(timeout), wait=timeout)

    async def paper_runs_out(self, *, after_lines: int = 0) -> None:
        """The roll ends after ``after_lines`` more printed lines (0: now)."""
        await self._call("Control.PaperOut", PaperOutPayload(after_lines))

    async def paper_low(self) -> None:
        """The roll reaches its near end."""
        await self._call("Control.PaperLow")

    async def replenish(self) -> None:
        """An operator puts in a new roll."""
        await self._call("Control.ReplenishPaper")

    async def open_cover(self) -> None:
        """Someone opens the cover."""
        await self._call("Control.OpenCover")

    async def close_cover(self) -> None:
        """The cover is closed again."""
        await self._call("Control.CloseCover")

    async def jam_next(self, *, after_lines: int = 0) -> None:
        """The next job jams once ``after_lines`` lines have printed."""
        await self._call("Control.JamPrinter", PaperOutPayload(after_lines))

    async def printed_lines(self) -> Sequence[str] | None:
        """The text lines printed since the last call."""
        done = await self._call("Control.PrintedLines")
        assert isinstance(done, PrintedLinesCompletion)
        return list(done.lines)

    # --- the paper -----------------------------------------------------------------------

    async def last_receipt(self) -> tuple[str, bytes]:
        """The newest paper's text form and PNG.

        Raises:
            NoMedia: nothing printed yet.
        """
        done = await self._call("Control.LastReceipt", wait=30.0)
        assert isinstance(done, LastReceiptCompletion)
        return done.text, done.png
