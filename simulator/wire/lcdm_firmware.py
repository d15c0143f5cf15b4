"""The LCDM's firmware, simulated: each command carried out on a cash dispenser model.

`LcdmFirmware` takes a decoded command (`protocols.lcdm_commands.Command`) and returns
the reply frame, acting on a `CashDispenserBackend` (the simulator's
`simulator.models.cash_dispenser.CashDispenserModel` with an ``lcdm1000`` / ``lcdm2000``
/ ``lcdm4000`` profile) through its backend methods, which it opens as their listener.
The link layer around it (ACK/NAK, faults, pacing) is `simulator.wire.lcdm.LcdmEmulator`.
Replies are built with `protocols.lcdm_replies` and `protocols.lcdm_layouts`.

Cassette n is the model's n-th dispensing unit; the reject tray is its reject unit.

=================== ===============================================================
PURGE               ``reset``: transport -> reject. LCDM-1000/2000 reply: ERROR only;
                    LCDM-4000: per cassette, REJECT = its notes moved to the reject
                    tray, EXIT = its notes handed out [U]
DISPENSE, UPPER,    ``dispense``; the reply counts, per cassette, CHK = notes that left
LOWER, UPPER_LOWER  the cassette, EXIT = notes to the customer, REJECT = notes to the
                    reject tray (so CHK - EXIT - REJECT notes stopped in the transport;
                    the LCDM-4000 reply has no CHK)
TEST (1000, 2000)   one note of the cassette to the reject tray (``test_cash_units``
                    with the other cassettes held back, see below); reply CHK = REJECT =
                    notes moved, EXIT 0 [U]; a cassette with nothing picked answers
                    bill end
STATUS              ``get_status`` and ``sensors``: ERROR good while the model is
                    online, else jam at CHK (notes in the transport) or motor stop [U];
                    SENSOR0 CHK1 set when notes are in
                    the transport, NEAREND from cassette 1's near-end sensor; SENSOR1
                    REJECT_TRAY set when the reject unit is not ``ok``, CASSETTE set
                    when cassette 1 is ``ok``. LCDM-4000: TYPE per cassette, DISP DVTL
                    set when notes are in the transport
ROM_VERSION         "O16T" (1000) / "T20T" (2000), checksum "0000"
anything else       LCDM-4000: a `RawReply` with ERROR 50h; RESET: no reply
=================== ===============================================================

A model fault becomes the model's ERROR byte: ``mediaJam`` -> jam at CHK (33h; 4000:
22h), ``cashUnitError`` -> bill end of that cassette (1000: 38h; 2000: 38h upper, 40h
lower; 4000: pick-up error 21h), anything else -> motor stop (41h; 4000: 40h). A
command the model refuses (`TooManyItems`, `InvalidData`) answers note request error
(3Bh; 4000: too many notes 2Ch) with no counts. A model that loses power mid-command
(`ConnectionLost`) sends no reply at all.

The model's backend has no "test one cassette": for the LCDM-2000's upper / lower test
dispense the firmware marks the other cassette ``inoperative`` for the duration of the
model's ``test_cash_units`` (which skips a unit it cannot pick) and back ``ok`` after.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable

from hal.device import DeviceState
from hal.devices.cash_dispenser import CashDispenserBackend
from hal.devices.cash_model import (
    CUSTOMER,
    CashDispenserStatus,
    CashUnitType,
    Fault,
    MoveReport,
    TransportState,
    UnitStatus,
)
from hal.errors import ConnectionLost, HalError, InvalidData, TooManyItems
from hal.events import Event
from protocols.lcdm import Direction, Model, build_frame
from protocols.lcdm_commands import Command, Op
from protocols.lcdm_layouts import (
    PICK_OPS,
    CassetteCounts,
    PickReply,
    Status4000,
    cassettes_of,
    encode_pick,
    encode_status_4000,
)
from protocols.lcdm_replies import (
    ErrorCode1000,
    ErrorCode2000,
    ErrorCode4000,
    PurgeReply,
    RawReply,
    RomReply,
    StatusReply,
    encode_reply,
    error_code,
)

__all__ = ["ROM_VERSIONS", "LcdmFirmware", "unknown_command_reply"]

log = logging.getLogger(__name__)

#: The ROM version each simulated model reports.
ROM_VERSIONS = {Model.LCDM1000: "O16T", Model.LCDM2000: "T20T"}
_GOOD = {Model.LCDM1000: 0x30, Model.LCDM2000: 0x30, Model.LCDM4000: 0x20}
_JAM = {Model.LCDM1000: 0x33, Model.LCDM2000: 0x33, Model.LCDM4000: 0x22}
_OTHER = {Model.LCDM1000: 0x41, Model.LCDM2000: 0x41, Model.LCDM4000: 0x40}
_REFUSED = {Model.LCDM1000: 0x3B, Model.LCDM2000: 0x3B, Model.LCDM4000: 0x2C}
_BILL_END = {
    Model.LCDM1000: (ErrorCode1000.BILL_END,),
    Model.LCDM2000: (ErrorCode2000.UPPER_BILL_END, ErrorCode2000.LOWER_BILL_END),
    Model.LCDM4000: (ErrorCode4000.PICKUP_ERROR,) * 4,
}
_TESTS = {
    Op.TEST_DISPENSE: 1,
    Op.UPPER_TEST_DISPENSE: 1,
    Op.LOWER_TEST_DISPENSE: 2,
}


class LcdmFirmware:
    """LCDM commands carried out on a cash dispenser backend (see the module header).

    Args:
        backend: the dispenser's mechanism and notes (an LCDM profile's model).
        model: the LCDM model it answers as; its cassette count must match.

    Raises:
        ValueError: the backend has not one dispensing unit per cassette, or no reject
            unit.
    """

    def __init__(self, backend: CashDispenserBackend, model: Model) -> None:
        self.backend = backend
        self.model = model
        units = backend.units()
        self.cassettes = tuple(u.id for u in units if u.type.dispenses)
        rejects = [u.id for u in units if u.type is CashUnitType.REJECT]
        if len(self.cassettes) != model.cassettes or not rejects:
            raise ValueError(
                f"an LCDM-{model.value} needs {model.cassettes} cassette(s) and a reject "
                f"unit; the model has {self.cassettes} and rejects {rejects}"
            )
        self.reject = rejects[0]
        self._items = {u.id: u.item for u in units}
        self._tokens = itertools.count(1)
        #: Every command carried out, in order; and each model report it got.
        self.executed: list[Command] = []
        self.reports: list[MoveReport] = []
        #: A test's hook: called with each command just before it is carried out.
        self.on_command: Callable[[Command], None] | None = None

    # --- power and the model's reports (the dispenser tells nobody: the host asks) -------

    async def power_up(self) -> None:
        await self.backend.open(self)

    async def power_down(self) -> None:
        await self.backend.close()

    def event(self, event: Event) -> None:
        """The model's events stay inside the dispenser."""

    def status_changed(self, status: CashDispenserStatus) -> None:
        """Likewise."""

    # --- commands ------------------------------------------------------------------------

    async def execute(self, command: Command) -> bytes | None:
        """Carry ``command`` out; return its reply frame (``None``: no reply).

        Raises:
            ConnectionLost: the model lost power meanwhile (the emulator sends nothing).
        """
        if self.on_command is not None:
            self.on_command(command)
        self.executed.append(command)
        op = command.op
        if op is Op.STATUS:
            return await self._status()
        if op is Op.ROM_VERSION:
            return encode_reply(RomReply(self.model, ROM_VERSIONS[self.model], "0000"))
        if op is Op.PURGE:
            return await self._purge()
        if op in _TESTS:
            return await self._test(op, _TESTS[op])
        if op in PICK_OPS[self.model]:
            return await self._dispense(command)
        if op is Op.RESET:
            return None
        return encode_reply(RawReply(self.model, op, bytes((ErrorCode4000.COMMAND_50,))))

    def _token(self) -> int:
        return next(self._tokens)

    def _error_for(self, fault: Fault | None) -> int:
        if fault is None:
            return _GOOD[self.model]
        if fault.error_code == "mediaJam":
            return _JAM[self.model]
        if fault.error_code == "cashUnitError" and fault.unit in self.cassettes:
            return int(_BILL_END[self.model][self.cassettes.index(fault.unit)])
        return _OTHER[self.model]

    def _counts(self, op: Op, report: MoveReport, test: bool = False) -> tuple[CassetteCounts, ...]:
        out = []
        for n in cassettes_of(self.model, op):
            unit = self.cassettes[n - 1]
            picked = report.total(unit)
            to_reject = report.total(unit, self.reject)
            exit_ = 0 if test else report.total(unit, CUSTOMER)
            check = None if self.model is Model.LCDM4000 else picked
            out.append(CassetteCounts(n, check, exit_, to_reject, near_end=False, present=True))
        return tuple(out)

    async def _dispense(self, command: Command) -> bytes:
        numbers = command.counts
        cassettes = cassettes_of(self.model, command.op)
        if self.model is Model.LCDM4000 or command.op is Op.UPPER_LOWER_DISPENSE:
            asked = {self.cassettes[n - 1]: c for n, c in zip(cassettes, numbers, strict=True)}
        else:
            asked = {self.cassettes[cassettes[0] - 1]: numbers[0]}
        asked = {unit: n for unit, n in asked.items() if n}
        try:
            report = await self.backend.dispense(asked, self._token())
        except ConnectionLost:
            raise
        except (TooManyItems, InvalidData) as exc:
            log.info("LCDM-%d: dispense refused: %s", self.model.value, exc.message)
            return self._pick(command.op, MoveReport(), _REFUSED[self.model])
        self.reports.append(report)
        return self._pick(command.op, report, self._error_for(report.fault))

    def _pick(self, op: Op, report: MoveReport, error: int, test: bool = False) -> bytes:
        counts = self._counts(op, report, test)
        return encode_pick(PickReply(self.model, op, error, counts))

    async def _test(self, op: Op, cassette: int) -> bytes:
        unit = self.cassettes[cassette - 1]
        held = [u for u in self.cassettes if u != unit]
        sensors = {s.id: s.status for s in await self.backend.sensors()}
        held = [u for u in held if sensors.get(u) is UnitStatus.OK]
        control: Callable[[str, UnitStatus], None] | None = getattr(
            self.backend, "set_unit_status", None
        )
        if control is None:
            if held:
                raise HalError("this backend cannot hold a cassette back for a one-unit test")
            control = _nothing
        for other in held:
            control(other, UnitStatus.INOPERATIVE)
        try:
            report = await self.backend.test_cash_units(self._token())
        finally:
            for other in held:
                control(other, UnitStatus.OK)
        self.reports.append(report)
        error = self._error_for(report.fault)
        if report.fault is None and not report.total(unit):
            error = int(_BILL_END[self.model][cassette - 1])
        return self._pick(op, report, error, test=True)

    async def _purge(self) -> bytes:
        report = await self.backend.reset(self._token())
        self.reports.append(report)
        error = self._error_for(report.fault)
        if self.model is not Model.LCDM4000:
            code = error if report.fault is None else int(ErrorCode1000.PURGE_ERROR)
            return encode_reply(PurgeReply(self.model, error_code(self.model, code)))
        counts = []
        by_item: dict[str, int] = {}
        for n, unit in enumerate(self.cassettes, start=1):
            by_item.setdefault(self._items[unit], n)
        rejected = dict.fromkeys(range(1, 5), 0)
        handed = dict.fromkeys(range(1, 5), 0)
        for move in report.moves:
            n = by_item.get(move.item, 1)
            if move.destination == self.reject:
                rejected[n] += move.count
            elif move.destination == CUSTOMER:
                handed[n] += move.count
        for n in range(1, 5):
            counts.append(CassetteCounts(n, None, handed[n], rejected[n], present=True))
        return encode_pick(PickReply(self.model, Op.PURGE, error, tuple(counts)))

    async def _status(self) -> bytes:
        status = await self.backend.get_status()
        sensors = {s.id: s for s in await self.backend.sensors()}
        busy = status.transport is not TransportState.EMPTY
        error = _GOOD[self.model]
        if status.device is not DeviceState.ONLINE:  # [U] STATUS carries the standing error
            error = _JAM[self.model] if busy else _OTHER[self.model]
        if self.model is Model.LCDM4000:
            cassettes = tuple(
                (0x30, sensors[u].status is UnitStatus.OK, 0, 0) for u in self.cassettes
            )
            return encode_status_4000(Status4000(error, int(busy), cassettes))
        first = sensors[self.cassettes[0]]
        sensor0 = 0x80 | int(busy) | (0x40 if first.low else 0)
        sensor1 = 0x80 | (0x02 if first.status is UnitStatus.OK else 0)
        if sensors[self.reject].status is not UnitStatus.OK:
            sensor1 |= 0x01
        code = error_code(self.model, error)
        return encode_reply(StatusReply(self.model, 0x30, code, sensor0, sensor1))


def _nothing(unit: str, status: UnitStatus) -> None:
    del unit, status


def unknown_command_reply(model: Model, code: int) -> bytes:
    """What the emulator answers a command code the model does not have [U]: the same
    code with ERROR "undefined command" (1000/2000) or 50h (4000)."""
    error = 0x50 if model is Model.LCDM4000 else 0x37
    return build_frame(Direction.REPLY, model.frame_id, code, bytes((error,)))
