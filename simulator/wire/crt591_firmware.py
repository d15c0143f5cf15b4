"""The CRT-591's firmware, simulated: each command carried out on a card reader model.

`Crt591Firmware` takes a decoded command and returns the reply frame, acting on a
`simulator.models.card_reader.CardReaderModel` with a card stacker (which it opens as
its listener); the link layer around it (ACK/NAK/EOT, faults, pacing) is
`simulator.wire.crt591.Crt591Emulator`. Replies are built with `protocols.crt591`.

Every positive reply carries st0 (no card '0', card at the gate '1', card in the channel
at the IC/RF position '2'; a jammed card is in the channel: '2'), st1 (the model's
stacker sensor: empty '0', low '1', enough '2') and st2 (the reject bin full '1').

What each command does to the model (assumptions where reference/protocols.md §2.2 is
silent):

=========== ==================================================================
30 pm       Initialize: 30/34 a card in the channel goes to the gate, 31/35 to
            the reject bin, 33/37 stays (a card at the gate stays there in every
            case); the reply DATA is the version. Must come first after power-up:
            until then every command but 30, 31 and A4 answers ``B0``
31 30       status (st0 st1 st2, no DATA)
31 31       sensors S1..S8 (``protocols.crt591.SENSOR_NAMES``)
32 pm       move. With no card in the channel or at the gate, 30/31/32 take a
            card from the stacker to the IC/RF position and 39 takes one out
            of the gate: ``A0`` when the stacker is empty. With a card, 30/31/32
            bring it to (or back into) the IC position, 39 out of the gate, 33
            into the reject bin (``A1`` when it is full); 33 with no card is
            ``02`` (sequence error)
33 30/31    enable / disable entry at the gate: enabling starts the model's
            ``accept_card`` in a task (the reply comes once the gate is open); a
            card pushed in is drawn to the IC position and the entry closes
51 30/38    CPU cold / warm reset: DATA '0' (T=0) or '1' (T=1), then the ATR;
            ``61`` for a card without a chip, ``66`` for a chip whose protocols
            the contacts do not speak
51 31       CPU power off; 51 32 CPU status: '0' inactive, '1' T=0, '2' T=1
51 33/34/39 APDU (T=0 / T=1 / the protocol of the reset): DATA is the C-APDU, the
            reply DATA the R-APDU; ``02`` before a reset, ``66`` for the other
            protocol
A4 30       version; A5 30/31 read / set the reject-bin counter (3 digits)
=========== ==================================================================

Errors: a jammed card makes card commands answer ``10`` (jam) until an operator clears
it; commands with no card at the IC position answer ``02``; an unknown command
``00``, an unknown parameter ``01``, malformed DATA ``04``; what this simulated unit
has not (SAM, SLE/I2C memory cards, RF, card type detection, serial, configuration)
``03``. When the power goes during a command there is no reply at all; a power cycle
makes the unit uninitialised again.

The CRT-591 has no take timer of its own (the host captures a card left at the gate):
build the model with ``take_timeout=None``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from hal.devices.card_reader import (
    CardReaderStatus,
    ChipPowerAction,
    MoveTarget,
    ReplenishmentStatus,
    ResetAction,
    Track,
)
from hal.errors import (
    AtrNotObtained,
    DeviceNotReady,
    HalError,
    InvalidMedia,
    MediaJam,
    NoMedia,
    Occupied,
    RetainBinFull,
)
from protocols.crt591 import (
    MAX_DATA,
    BinStatus,
    CardStatus,
    Command,
    CpuOperation,
    CpuState,
    ErrorCode,
    InitMode,
    Position,
    Request,
    StackerStatus,
    bin_counter_data,
    build_negative,
    build_positive,
    cpu_reset_data,
    parse_bin_counter,
    sensor_data,
)
from protocols.errors import FramingError, ProtocolError, UnknownCodeError
from simulator.models.card_reader import CardPosition as Where
from simulator.models.card_reader import CardReaderModel
from simulator.wire.creator_emulator import CreatorFirmware

__all__ = ["VERSION", "Crt591Firmware"]

log = logging.getLogger(__name__)

#: What the emulated issuer answers Initialize and A4 with.
VERSION = b"CRT-591-M001 tellerhal-sim"

_STACKER = {
    ReplenishmentStatus.EMPTY: StackerStatus.EMPTY,
    ReplenishmentStatus.LOW: StackerStatus.LOW,
}
_INIT = {
    InitMode.TO_GATE: ResetAction.EXIT,
    InitMode.CAPTURE: ResetAction.RETAIN,
    InitMode.NO_MOVE: ResetAction.CURRENT_POSITION,
}
#: Commands an uninitialised unit still answers.
_BEFORE_INIT = frozenset({Command.INITIALIZE, Command.STATUS, Command.SENSORS, Command.VERSION})
_CHIP = frozenset({Track.CHIP})


class _Refused(Exception):
    """A command the unit answers with a negative reply."""

    def __init__(self, error: ErrorCode) -> None:
        super().__init__(error.name)
        self.error = error


_Handler = Callable[[Request], Awaitable[bytes]]


class Crt591Firmware(CreatorFirmware):
    """CRT-591 commands carried out on a `CardReaderModel` with a card stacker.

    Args:
        model: the issuer's mechanism and state.
        version: the firmware version Initialize and A4 answer.
        address: the bus address replies carry.
        negative_head: 0x4E ('N') or 0x45 ('E').
    """

    _entry_sources = _CHIP

    def __init__(
        self,
        model: CardReaderModel,
        *,
        version: bytes = VERSION,
        address: int = 0,
        negative_head: int = 0x4E,
    ) -> None:
        if negative_head not in (0x4E, 0x45):
            raise ValueError(f"a negative head is 0x4E or 0x45, got {negative_head!r}")
        super().__init__(model)
        self.version = bytes(version)
        self.address = address
        self.negative_head = negative_head
        #: Every command executed, as (CM, PM), in order (tests look at it).
        self.executed: list[tuple[int, int]] = []
        #: The reject-bin counter (A5), counted by every capture.
        self.bin_counter = 0
        self._initialised = False
        self._was_powered = model.powered
        self._handlers: dict[Command, _Handler] = {
            Command.INITIALIZE: self._initialize,
            Command.STATUS: self._status,
            Command.SENSORS: self._sensors,
            Command.MOVE: self._move,
            Command.ENTRY_ENABLE: self._entry,
            Command.ENTRY_DISABLE: self._entry,
            Command.CPU: self._cpu,
            Command.VERSION: self._version,
            Command.BIN_COUNTER_READ: self._bin_counter,
            Command.BIN_COUNTER_SET: self._bin_counter,
        }

    @property
    def initialised(self) -> bool:
        """Initialize has run since the last power-up."""
        return self._initialised

    # --- BackendListener (events stay inside, as `CreatorFirmware` says) ---------------

    def status_changed(self, status: CardReaderStatus) -> None:
        """A power cycle leaves the unit uninitialised; the host polls for the rest."""
        powered = self.model.powered
        if powered and not self._was_powered:
            self._initialised = False
        self._was_powered = powered

    # --- execution -----------------------------------------------------------------------

    async def execute(self, request: Request) -> bytes | None:
        """Carry out a command; the reply frame, or ``None`` for no answer."""
        self.executed.append((request.cm, request.pm))
        self._heard((request.cm, request.pm))
        try:
            command = request.command
        except UnknownCodeError:
            known = request.cm in {c.cm for c in Command}
            return self._negative(
                request, ErrorCode.BAD_PARAMETER if known else ErrorCode.UNDEFINED_COMMAND
            )
        if not self._initialised and command not in _BEFORE_INIT:
            return self._negative(request, ErrorCode.NOT_INITIALISED)
        handler = self._handlers.get(command)
        if handler is None:
            return self._negative(request, ErrorCode.NOT_SUPPORTED)
        try:
            return await handler(request)
        except _Refused as refused:
            return self._negative(request, refused.error)
        except FramingError:
            return self._negative(request, ErrorCode.BAD_DATA)
        except ProtocolError:
            return self._negative(request, ErrorCode.BAD_PARAMETER)
        except MediaJam:
            return self._negative(request, ErrorCode.JAM)
        except RetainBinFull:
            return self._negative(request, ErrorCode.BIN_FULL)
        except DeviceNotReady:
            return None  # the power went while the command ran: no answer
        except (HalError, ValueError) as exc:
            log.info("%s: cannot execute %s: %s", self.model.name, command.name, exc)
            return self._negative(request, ErrorCode.SEQUENCE_ERROR)

    def _negative(self, request: Request, error: ErrorCode) -> bytes:
        return build_negative(request, error, head=self.negative_head, address=self.address)

    async def _positive(self, request: Request, data: bytes = b"") -> bytes:
        status = await self.model.get_status()
        stacker = _STACKER.get(status.stacker, StackerStatus.ENOUGH)
        full = self.model.retain_capacity and (
            self.model.retained_count >= self.model.retain_capacity
        )
        return build_positive(
            request,
            self.card_status(),
            stacker,
            BinStatus.FULL if full else BinStatus.NOT_FULL,
            data,
            address=self.address,
        )

    def card_status(self) -> CardStatus:
        """st0 from where the card physically is."""
        where = self.model.position
        if where in (Where.INSIDE, Where.JAMMED):
            return CardStatus.AT_POSITION
        if where is Where.EXIT:
            return CardStatus.AT_GATE
        return CardStatus.NO_CARD

    # --- commands ------------------------------------------------------------------------

    async def _initialize(self, request: Request) -> bytes:
        mode = InitMode(request.pm)
        await self._stop_accepting()
        before = self.model.retained_count
        await self.model.reset(_INIT[mode.base])
        self.bin_counter += self.model.retained_count - before
        self._initialised = True
        return await self._positive(request, self.version)

    async def _status(self, request: Request) -> bytes:
        return await self._positive(request)

    async def _sensors(self, request: Request) -> bytes:
        where = self.model.position
        stacker = self.model.stacker_count
        status = await self.model.get_status()
        flags = (
            where is Where.EXIT,
            where in (Where.INSIDE, Where.JAMMED),
            stacker > 0,
            status.stacker is ReplenishmentStatus.OK and stacker > 0,
            bool(self.model.retain_capacity)
            and self.model.retained_count >= self.model.retain_capacity,
            False,
            False,
            False,
        )
        return await self._positive(request, sensor_data(flags))

    async def _move(self, request: Request) -> bytes:
        position = Position(request.pm)
        await self._stop_accepting()
        where = self.model.position
        if where is Where.JAMMED:
            raise _Refused(ErrorCode.JAM)
        if where in (Where.INSIDE, Where.EXIT):
            if position is Position.REJECT_BIN:
                before = self.model.retained_count
                await self.model.move_card(MoveTarget.RETAIN)
                self.bin_counter += self.model.retained_count - before
            elif position is Position.GATE:
                await self.model.move_card(MoveTarget.EXIT)
            else:
                await self.model.move_card(MoveTarget.TRANSPORT)
            return await self._positive(request)
        if position is Position.REJECT_BIN:
            raise _Refused(ErrorCode.SEQUENCE_ERROR)
        target = MoveTarget.EXIT if position is Position.GATE else MoveTarget.TRANSPORT
        try:
            await self.model.dispense_card(target)
        except NoMedia:
            raise _Refused(ErrorCode.STACKER_EMPTY) from None
        except Occupied:
            raise _Refused(ErrorCode.SEQUENCE_ERROR) from None
        return await self._positive(request)

    async def _entry(self, request: Request) -> bytes:
        if request.data:
            raise FramingError("entry control takes no DATA")
        if request.command is Command.ENTRY_DISABLE:
            await self._stop_accepting()
        elif self.model.position in (Where.INSIDE, Where.JAMMED):
            raise _Refused(ErrorCode.SEQUENCE_ERROR)
        else:
            await self._start_accepting()
        return await self._positive(request)

    def _at_contacts(self) -> None:
        where = self.model.position
        if where is Where.JAMMED:
            raise _Refused(ErrorCode.JAM)
        if where is not Where.INSIDE:
            raise _Refused(ErrorCode.SEQUENCE_ERROR)

    async def _cpu(self, request: Request) -> bytes:
        operation = CpuOperation(request.pm)
        if operation is CpuOperation.STATUS:
            protocol = self.model.chip_protocol
            state = {"T0": CpuState.ACTIVE_T0, "T1": CpuState.ACTIVE_T1}.get(
                protocol or "", CpuState.INACTIVE
            )
            return await self._positive(request, bytes((state,)))
        self._at_contacts()
        if operation is CpuOperation.POWER_OFF:
            await self.model.chip_power(ChipPowerAction.OFF)
            return await self._positive(request)
        if operation in (CpuOperation.COLD_RESET, CpuOperation.WARM_RESET):
            if len(request.data) > 1:
                raise FramingError("a reset takes at most one DATA byte")
            cold = operation is CpuOperation.COLD_RESET
            try:
                atr = await self.model.chip_power(
                    ChipPowerAction.COLD if cold else ChipPowerAction.WARM
                )
            except AtrNotObtained:
                raise _Refused(ErrorCode.ACTIVATION_FAILED) from None
            except InvalidMedia:
                raise _Refused(ErrorCode.NOT_SUPPORTED_BY_CURRENT_IC) from None
            t1 = self.model.chip_protocol == "T1"
            return await self._positive(request, cpu_reset_data(atr, t1=t1))
        if not request.data:
            raise FramingError("an APDU command carries a C-APDU")
        protocol = self.model.chip_protocol
        if protocol is None:
            raise _Refused(ErrorCode.SEQUENCE_ERROR)
        wanted = {CpuOperation.APDU_T0: "T0", CpuOperation.APDU_T1: "T1"}.get(operation)
        if wanted is not None and wanted != protocol:
            raise _Refused(ErrorCode.NOT_SUPPORTED_BY_CURRENT_IC)
        try:
            response = await self.model.chip_io(request.data)
        except AtrNotObtained:
            raise _Refused(ErrorCode.SEQUENCE_ERROR) from None
        if len(response) > MAX_DATA:
            raise _Refused(ErrorCode.IC_TRANSMISSION_ERROR)
        return await self._positive(request, response)

    async def _version(self, request: Request) -> bytes:
        return await self._positive(request, self.version)

    async def _bin_counter(self, request: Request) -> bytes:
        if request.command is Command.BIN_COUNTER_SET:
            self.bin_counter = parse_bin_counter(request.data)
            return await self._positive(request)
        return await self._positive(request, bin_counter_data(min(self.bin_counter, 999)))

    def __repr__(self) -> str:
        return f"Crt591Firmware({self.model.name!r}, executed={len(self.executed)})"
