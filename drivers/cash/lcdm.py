"""The ``lcdm`` driver: a Puloon LCDM-1000 / 2000 / 4000 cash dispenser, as a
`CashDispenserBackend`.

Address (entry point ``lcdm`` in group ``tellerhal.drivers``)::

    lcdm+serial:///dev/ttyUSB0?model=2000&units=CNY:10000:2000,CNY:5000:2000
        [&reject_capacity=..&retries=3&ack_timeout=0.5&reply_timeout=60&ledger=PATH]
    lcdm+memory://NAME?...          (tests: a `hal.transports.memory` pair)

The serial options are the transport's (`hal.transports.serial`); the driver's are
`drivers.cash.lcdm_options.LcdmOptions`: the device does not know what its cassettes
hold, so ``units`` says it. The protocol is `protocols.lcdm` (docs/lcdm.md), the link
`drivers.cash.lcdm_link.LcdmLink`, the reading of replies as note moves
`drivers.cash.lcdm_report`; the state and the exchanges all operations share are
`drivers.cash.lcdm_core.LcdmCore`.

What the LCDM is, and so what this driver declares (`LcdmDriver.capabilities`):

- notes go straight out to the customer (``dispense_to`` `CUSTOMER`): no stacker, no
  shutter, no present, retract or reject command, no items-taken sensor;
- it cannot tell after a restart what an interrupted command did
  (``knows_operations`` false: the service settles such a command ``unknown``);
- at most 60 notes per cassette per command (the LCDM-1000/2000's two digits; kept
  for the LCDM-4000 too), and at most 100 notes per LCDM-4000 command (its error 2Ch);
  a dispense over that is refused (`TooManyItems`), not split;
- dispense: LCDM-1000 DISPENSE; LCDM-2000 UPPER, LOWER or UPPER_LOWER; LCDM-4000
  DISPENSE with 4 quantities;
- test_cash_units and count: TEST_DISPENSE (one note to the reject tray) on the
  LCDM-1000/2000; ``count`` repeats it until the cassette reports bill end. Not on the
  LCDM-4000: the codec sends its 53h without DATA, while the one source gives it
  quantities (docs/lcdm.md);
- reset: PURGE. The LCDM-1000/2000 purge reply holds only an error, so the notes it
  moves transport -> reject are those the driver saw stop in the transport since open
  (CHK - EXIT - REJECT of its replies); the LCDM-4000 purge reply counts them per
  cassette [U: read as notes moved to the reject tray].
- status and sensors from STATUS (docs/lcdm.md says which bits mean what, and how sure).

A command that moves notes is never sent twice once the dispenser ACKed it; the link
resends only at a NAK or a missing ACK (where the command did not run, or - a lost ACK
- may have: the LCDM does not number its frames). Cancellation cannot stop an LCDM
mid-command: the driver waits for its reply (bounded by ``reply_timeout``) and returns
what moved with ``Fault("canceled")``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping

from drivers.cash.lcdm_core import LcdmCore, cancelled_report
from drivers.cash.lcdm_link import LineNotQuiet
from drivers.cash.lcdm_masker import LcdmMasker
from drivers.cash.lcdm_options import MAX_PER_COMMAND, LcdmOptions
from drivers.cash.lcdm_report import purge_report
from drivers.cash.lcdm_status import dispenser_status, unit_sensors
from hal.address import DeviceAddress
from hal.device import BackendListener, finish
from hal.devices.cash_dispenser_service import CashDispenserService
from hal.devices.cash_model import (
    CUSTOMER,
    CashDispenserCapabilities,
    CashDispenserStatus,
    CashUnitInfo,
    Contents,
    Fault,
    Move,
    MoveReport,
    OperationRecord,
    RetractArea,
    TransportState,
    UnitSensor,
)
from hal.errors import (
    InvalidData,
    TooManyItems,
    UnsupportedOperation,
)
from hal.registry import DriverSpec, make_transport
from protocols.lcdm import Model
from protocols.lcdm_commands import Command, Op
from protocols.lcdm_replies import RomReply

__all__ = ["LCDM_DRIVER", "LcdmDriver", "LcdmOptions", "open_lcdm"]

log = logging.getLogger(__name__)


#: Notes one LCDM-4000 command may hold in all (its error 2Ch, "too many notes").
MAX_PER_COMMAND_4000 = 100


class LcdmDriver(LcdmCore):
    """An LCDM behind a `hal.transports.base.Transport` (see the module header).

    Args:
        transport: the link to the dispenser.
        options: the model, the cassettes' contents, retries and timeouts.
        name: the device name, for messages.
    """

    # --- lifecycle and queries ---------------------------------------------------------

    async def open(self, listener: BackendListener[CashDispenserStatus]) -> None:
        """Open the port and ask STATUS (and, on the LCDM-1000/2000, ROM VERSION: a
        version naming another model is logged, not refused: the list is short)."""
        await self.link.open()
        try:
            await self._status_reply()
            if self.model is not Model.LCDM4000:
                rom = await self._ask(Command(self.model, Op.ROM_VERSION))
                if isinstance(rom, RomReply):
                    self.firmware = rom.version
                    named = rom.named_model
                    if named is not None and named is not self.model:
                        log.warning(
                            "%s: ROM %s names the LCDM-%d, the address says LCDM-%d",
                            self.name,
                            rom.version,
                            named.value,
                            self.model.value,
                        )
        except BaseException:
            await self.link.close()
            raise
        self._in_transport.clear()
        self._listener = listener

    async def close(self) -> None:
        self._listener = None
        await self.link.close()

    def capabilities(self) -> CashDispenserCapabilities:
        """See the module header."""
        tests = self.model is not Model.LCDM4000
        most = MAX_PER_COMMAND * self.model.cassettes
        if self.model is Model.LCDM4000:
            most = MAX_PER_COMMAND_4000
        return CashDispenserCapabilities(
            max_dispense_items=most,
            intermediate_stacker=False,
            shutter=False,
            items_taken_sensor=False,
            retract_areas=frozenset[RetractArea](),
            reject=False,
            count=tests,
            test_cash_units=tests,
            knows_operations=False,
            dispense_to=CUSTOMER,
        )

    def units(self) -> tuple[CashUnitInfo, ...]:
        return self._units

    async def get_status(self) -> CashDispenserStatus:
        """From STATUS (`drivers.cash.lcdm_status.dispenser_status`)."""
        return dispenser_status(self.model, await self._status_reply())

    async def sensors(self) -> tuple[UnitSensor, ...]:
        """From STATUS (`drivers.cash.lcdm_status.unit_sensors`)."""
        return unit_sensors(await self._status_reply(), self._cassettes)

    async def contents(self) -> Contents:
        """No stacker; the exit is not sensed. The transport is sensed, not counted:
        ``0`` when STATUS shows every path sensor clear, ``None`` (cannot tell how
        many) while a note covers one."""
        status = dispenser_status(self.model, await self._status_reply())
        transport = 0 if status.transport is TransportState.EMPTY else None
        return Contents(stacker=0, transport=transport, exit=None, taken=None)

    async def operation(self, token: int) -> OperationRecord | None:
        """The LCDM does not number or remember its commands."""
        return None

    async def exchange(self, active: bool) -> None:
        """Nothing to unlock: the cassettes are not locked by the dispenser."""

    # --- moving notes ------------------------------------------------------------------

    async def dispense(self, counts: Mapping[str, int], token: int) -> MoveReport:
        """One command for the whole dispense (see the module header)."""
        asked = self._check_dispense(counts)
        if (refused := await self._ready("dispense")) is not None:
            return refused
        numbers = [asked.get(unit.id, 0) for unit in self._cassettes]
        if self.model is Model.LCDM1000:
            command = Command(self.model, Op.DISPENSE, (numbers[0],))
        elif self.model is Model.LCDM4000:
            command = Command(self.model, Op.DISPENSE, tuple(numbers))
        elif numbers[0] and numbers[1]:
            command = Command(self.model, Op.UPPER_LOWER_DISPENSE, tuple(numbers))
        elif numbers[0]:
            command = Command(self.model, Op.UPPER_DISPENSE, (numbers[0],))
        else:
            command = Command(self.model, Op.LOWER_DISPENSE, (numbers[1],))
        log.info("%s: dispense %s (token %d)", self.name, dict(asked), token)
        report, cancelled = await finish(self._pick(command, asked, CUSTOMER))
        return cancelled_report(report) if cancelled else report

    async def test_cash_units(self, token: int) -> MoveReport:
        """One TEST_DISPENSE per cassette, to the reject tray; stops at the first fault."""
        self._need_tests("test_cash_units")
        if (refused := await self._ready("test_cash_units")) is not None:
            return refused
        moves: list[Move] = []
        for n, unit in enumerate(self._cassettes, start=1):
            report, cancelled = await finish(self._test(n, unit))
            moves.extend(report.moves)
            if report.fault is not None or cancelled:
                partial = MoveReport(tuple(moves), report.fault, report.note_errors)
                return cancelled_report(partial) if cancelled else partial
        return MoveReport(tuple(moves))

    async def count(self, units: tuple[str, ...], token: int) -> MoveReport:
        """TEST_DISPENSE until each unit reports bill end (its notes all in the reject
        tray, counted); stops at any other fault, or at a cancellation between notes.
        Bounded: a unit that gives more notes than its capacity without bill end is a
        ``hardwareError`` (a dispenser that never says bill end would count for ever)."""
        self._need_tests("count")
        if (refused := await self._ready("count")) is not None:
            return refused
        by_id = {unit.id: n for n, unit in enumerate(self._cassettes, start=1)}
        for unit_id in units:
            if unit_id not in by_id:
                raise InvalidData(f"{self.name}: {unit_id!r} is not a cassette")
        moves: list[Move] = []
        for unit_id in units:
            n = by_id[unit_id]
            unit = self._cassettes[n - 1]
            counted = 0
            while True:
                try:
                    report, cancelled = await finish(self._test(n, unit))
                except asyncio.CancelledError:
                    return cancelled_report(MoveReport(tuple(moves)))
                moves.extend(report.moves)
                if cancelled:
                    return cancelled_report(MoveReport(tuple(moves), report.fault))
                fault = report.fault
                counted += sum(m.count for m in report.moves if m.source == unit_id)
                if fault is None and unit.capacity is not None and counted > unit.capacity:
                    fault = Fault(
                        "hardwareError",
                        f"{counted} notes counted from {unit_id}, more than its capacity "
                        f"{unit.capacity}, and no bill end",
                        unit=unit_id,
                    )
                    log.warning("%s: count stopped: %s", self.name, fault.description)
                    return MoveReport(tuple(moves), fault)
                if fault is None and report.moves:
                    continue
                empty = (
                    fault is not None
                    and fault.error_code == "cashUnitError"
                    and fault.unit == unit_id
                    and not report.moves
                )
                if fault is None or empty:
                    break  # bill end (or nothing picked, no error): counted to the end
                return MoveReport(tuple(moves), fault)
        return MoveReport(tuple(moves))

    async def reset(self, token: int) -> MoveReport:
        """PURGE: the transport's notes to the reject tray."""
        if (refused := await self._ready("reset")) is not None:
            return refused
        command = Command(self.model, Op.PURGE)
        try:
            reply, cancelled = await finish(self._ask(command, moving=True))
        except LineNotQuiet as exc:  # the line turned noisy since `_ready`: not sent
            log.warning("%s: reset not sent: %s", self.name, exc.message)
            return MoveReport(fault=Fault("hardwareError", f"reset not sent: {exc.message}"))
        report = purge_report(reply, self._cassettes, self._in_transport)
        if report.fault is None:
            self._in_transport.clear()
        return cancelled_report(report) if cancelled else report

    # --- what the LCDM does not do ------------------------------------------------------

    async def present(self, token: int) -> MoveReport:
        raise UnsupportedOperation(f"{self.name}: the LCDM hands notes straight out")

    async def retract(self, area: RetractArea, token: int) -> MoveReport:
        raise UnsupportedOperation(f"{self.name}: the LCDM cannot retract")

    async def reject(self, token: int) -> MoveReport:
        raise UnsupportedOperation(f"{self.name}: the LCDM has no stacker to reject from")

    # --- helpers ------------------------------------------------------------------------

    def _check_dispense(self, counts: Mapping[str, int]) -> dict[str, int]:
        known = {unit.id for unit in self._cassettes}
        asked: dict[str, int] = {}
        for unit_id, n in counts.items():
            if unit_id not in known:
                raise InvalidData(f"{self.name}: {unit_id!r} is not a cassette")
            if isinstance(n, bool) or not isinstance(n, int) or n < 0:
                raise InvalidData(f"{self.name}: a count is an int >= 0, got {n!r}")
            if n > MAX_PER_COMMAND:
                raise TooManyItems(
                    f"{self.name}: {n} notes from {unit_id}; at most {MAX_PER_COMMAND} per command"
                )
            if n:
                asked[unit_id] = n
        total = sum(asked.values())
        if not total:
            raise InvalidData(f"{self.name}: a dispense needs at least one note")
        if total > self.capabilities().max_dispense_items:
            raise TooManyItems(
                f"{self.name}: {total} notes; at most "
                f"{self.capabilities().max_dispense_items} per command"
            )
        return asked


def open_lcdm(address: DeviceAddress, options: LcdmOptions) -> CashDispenserService:
    """Build the (unopened) cash dispenser an address names (the registry factory)."""
    driver = LcdmDriver(make_transport(address), options)
    return CashDispenserService(driver, name=driver.name, ledger=options.ledger or None)


LCDM_DRIVER = DriverSpec(
    name="lcdm",
    device_classes=frozenset({"cash_dispenser"}),
    options=LcdmOptions,
    factory=open_lcdm,
    description="Puloon LCDM-1000/2000/4000 cash dispenser (serial)",
    transports=frozenset({"serial", "memory"}),
    # What every model promises; count and test_cash_units are the 1000/2000's only.
    capabilities={"cash_dispenser": frozenset({"dispense"})},
    masker=LcdmMasker,
)
"""The ``lcdm`` driver, registered through the ``tellerhal.drivers`` entry point."""
