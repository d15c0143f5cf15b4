"""The CRT-310's firmware, simulated: each command carried out on a card reader model.

`Crt310Firmware` takes a decoded command frame and returns the reply frame, acting on a
`simulator.models.card_reader.CardReaderModel` (which it opens as its listener); the
link layer around it (ACK/NAK/ENQ/EOT, faults, pacing) is
`simulator.wire.crt310.Crt310Emulator`. Replies are built with `protocols.crt310`.

What each command does to the model (assumptions where reference/protocols.md §2.1 is
silent):

=========== ==================================================================
31 30       status: S1 from where the card is (4B when the chip is powered; a
            jammed card reads 46, "long card"), S2 the front entry (4E shut),
            S3 the rear entry
31 31       chip type of the card inside (CPU T=0 / T=1, or N0)
2F Pm1 Pm2  entry control: opening the front starts the model's ``accept_card``
            in a task (the reply comes once the gate is open, or the card is in);
            31 (front prohibited) cancels it (a card already in stays in). The
            reply's status byte is 'N' for success (the spec's inversion)
32 xx       move, reply ``P``: 30/31 front (exit), 2E/2F into the transport,
            33 capture (retain). P: Y done, E no card, N the bin is full
33 30/31    IC contacts on / off, reply ``P`` (E no card, W card at the front)
37 30/2F    cold / warm reset: Y (T=0) or Z (T=1) and the ATR; N no chip
37 31/32    T=0 / T=1 APDU: Y and the R-APDU; N when the chip is not powered or
            runs the other protocol
45 30/31    read tracks: per track 59 + characters, 4E E5 (blank), 4E E4
            (garbled), 4F E0 (no card under the head)
30 30/31/32 reset (the card stays / goes to the front / is captured); the reply
            carries the version string
46, 49      bezel light: ``P`` Y
=========== ==================================================================

Errors: a jammed card makes card commands answer ``4E CM 06`` (abnormal card); a
function the model has not (no retain bin, sensors, Mifare...) ``4E CM 02``; an
unknown command ``4E CM 00``; malformed DATA ``4E CM 04``, an unknown code in it
``4E CM 01``. When the power goes during a command there is no reply at all.

The CRT-310 has no take timer (the host captures a card left at the exit): build the
model with ``take_timeout=None``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from hal.devices.card_reader import (
    CardData,
    ChipPower,
    ChipPowerAction,
    DataStatus,
    MediaStatus,
    MoveTarget,
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
    RetainBinFull,
)
from protocols.crt310 import (
    MAX_DATA,
    CardPosition,
    Command,
    EntryMode,
    ErrorCode,
    Frame,
    FrontEntry,
    IcCardType,
    OperationStatus,
    RearEntry,
    Request,
    TrackReadError,
    TrackRecord,
    TrackStatus,
    build_apdu_reply,
    build_card_type_reply,
    build_cpu_reset_reply,
    build_error_reply,
    build_reply,
    build_status_reply,
    build_track_reply,
    decode_command,
    parse_apdu_request,
    parse_entry_control,
    parse_track_request,
)
from protocols.errors import FramingError, ProtocolError
from simulator.models.card_reader import CardPosition as Where
from simulator.models.card_reader import CardReaderModel
from simulator.wire.creator_emulator import CreatorFirmware

__all__ = ["VERSION", "Crt310Firmware"]

log = logging.getLogger(__name__)

#: What the emulated reader answers a reset with.
VERSION = b"CRT-310-V3.0 tellerhal-sim"

_TRACKS = {1: Track.TRACK1, 2: Track.TRACK2, 3: Track.TRACK3}
_MAG = frozenset(_TRACKS.values())
_MOVES = {
    Command.MOVE_FRONT_NO_HOLD: MoveTarget.EXIT,
    Command.MOVE_FRONT_HOLD: MoveTarget.EXIT,
    Command.MOVE_TO_IC: MoveTarget.TRANSPORT,
    Command.MOVE_TO_RF: MoveTarget.TRANSPORT,
    Command.CAPTURE: MoveTarget.RETAIN,
}
_RESETS = {
    Command.RESET: ResetAction.CURRENT_POSITION,
    Command.RESET_EJECT_FRONT: ResetAction.EXIT,
    Command.RESET_EJECT_REAR: ResetAction.RETAIN,
}
_FRONT = {
    EntryMode.MAGNETIC: FrontEntry.MAGNETIC,
    EntryMode.SWITCH: FrontEntry.SWITCH,
    EntryMode.MAGNETIC_SIGNAL: FrontEntry.MAGNETIC_SIGNAL,
}
_Y, _E, _W, _N = (
    OperationStatus.SUCCESS,
    OperationStatus.NO_CARD,
    OperationStatus.NOT_IN_POSITION,
    OperationStatus.FAILED,
)
_Handler = Callable[[Request], Awaitable[bytes]]


class Crt310Firmware(CreatorFirmware):
    """CRT-310 commands carried out on a `CardReaderModel`.

    Args:
        model: the reader's mechanism and state.
        version: the version string a reset answers.
    """

    _entry_sources = _MAG

    def __init__(self, model: CardReaderModel, *, version: bytes = VERSION) -> None:
        super().__init__(model)
        self.version = bytes(version)
        #: Every command executed, in order (tests look at it).
        self.executed: list[Command] = []
        self._front = FrontEntry.SWITCH
        self._rear_allowed = False
        self._held_at_front = False
        self._handlers: dict[Command, _Handler] = {
            Command.STATUS: self._status,
            Command.CARD_TYPE: self._card_type,
            Command.ENTRY_CONTROL: self._entry_control,
            Command.IC_POWER_ON: self._ic_power,
            Command.IC_POWER_OFF: self._ic_power,
            Command.CPU_COLD_RESET: self._cpu_reset,
            Command.CPU_WARM_RESET: self._cpu_reset,
            Command.APDU_T0: self._apdu,
            Command.APDU_T1: self._apdu,
            Command.READ_TRACKS: self._read_tracks,
            Command.REREAD_TRACKS: self._read_tracks,
            Command.LIGHT_ON: self._light,
            Command.LIGHT_OFF: self._light,
            Command.LIGHT_BLINK: self._light,
        }
        self._handlers.update(dict.fromkeys(_MOVES, self._move))
        self._handlers.update(dict.fromkeys(_RESETS, self._reset))

    # --- execution -----------------------------------------------------------------------

    async def execute(self, frame: Frame) -> bytes | None:
        """Carry out a command frame; the reply frame, or ``None`` for no answer."""
        try:
            request = decode_command(frame)
        except ProtocolError:
            return build_error_reply(frame.cm, ErrorCode.BAD_COMMAND)
        self.executed.append(request.command)
        self._heard(request.command)
        handler = self._handlers.get(request.command)
        if handler is None:
            return build_error_reply(frame.cm, ErrorCode.CANNOT_EXECUTE)
        try:
            return await handler(request)
        except FramingError:
            return build_error_reply(frame.cm, ErrorCode.BAD_DATA)
        except ProtocolError:
            return build_error_reply(frame.cm, ErrorCode.BAD_PARAMETER)
        except MediaJam:
            return build_error_reply(frame.cm, ErrorCode.ABNORMAL_CARD)
        except DeviceNotReady:
            return None  # the power went while the command ran: no answer
        except (HalError, ValueError) as exc:
            log.info("%s: cannot execute %s: %s", self.model.name, request.command.name, exc)
            return build_error_reply(frame.cm, ErrorCode.CANNOT_EXECUTE)

    # --- commands ------------------------------------------------------------------------

    def _card_check(self) -> OperationStatus | None:
        """None if the card is under the heads; else the P byte saying where it is not."""
        where = self.model.position
        if where is Where.INSIDE:
            return None
        if where is Where.JAMMED:
            raise MediaJam(f"{self.model.name}: the card is jammed")
        return _W if where is Where.EXIT else _E

    @staticmethod
    def _p(request: Request, status: OperationStatus) -> bytes:
        return build_reply(request.command.cm, request.pm, bytes((status,)))

    async def _status(self, request: Request) -> bytes:
        status = await self.model.get_status()
        if self.model.position is not Where.EXIT:
            self._held_at_front = False
        if status.media is MediaStatus.PRESENT:
            engaged = status.chip_power is ChipPower.ONLINE
            position = CardPosition.INSIDE_IC_ENGAGED if engaged else CardPosition.INSIDE
        elif status.media is MediaStatus.ENTERING:
            held = self._held_at_front
            position = CardPosition.FRONT_HELD if held else CardPosition.FRONT_NOT_HELD
        elif status.media is MediaStatus.JAMMED:
            position = CardPosition.LONG_CARD
        else:
            position = CardPosition.NO_CARD
        gate = self.model.gate_open
        front = self._front if gate else FrontEntry.PROHIBITED
        rear = RearEntry.ALLOWED if gate and self._rear_allowed else RearEntry.PROHIBITED
        return build_status_reply(position, front, rear)

    async def _card_type(self, request: Request) -> bytes:
        card = self.model.card
        chip = card.chip if card is not None and self.model.position is Where.INSIDE else None
        protocols = self.model.capabilities().chip_protocols
        protocol = chip.select_protocol(protocols) if chip is not None else None
        kind = {"T0": IcCardType.CPU_T0, "T1": IcCardType.CPU_T1}.get(protocol or "")
        return build_card_type_reply(kind or IcCardType.NO_CARD)

    async def _entry_control(self, request: Request) -> bytes:
        mode, rear_allowed = parse_entry_control(request.pm, request.data)
        self._rear_allowed = rear_allowed
        if mode is EntryMode.FRONT_PROHIBITED:
            await self._stop_accepting()
        else:
            self._front = _FRONT[mode]
            await self._start_accepting()
        return build_reply(request.command.cm, request.pm, b"N")  # 'N': success, for 2F

    async def _move(self, request: Request) -> bytes:
        await self._stop_accepting()
        target = _MOVES[request.command]
        if self.model.position not in (Where.INSIDE, Where.EXIT, Where.JAMMED):
            return self._p(request, _E)
        try:
            await self.model.move_card(target)
        except NoMedia:
            return self._p(request, _E)
        except RetainBinFull:
            return self._p(request, _N)
        if target is MoveTarget.EXIT:
            self._held_at_front = request.command is Command.MOVE_FRONT_HOLD
        return self._p(request, _Y)

    async def _reset(self, request: Request) -> bytes:
        await self._stop_accepting()
        moved = await self.model.reset(_RESETS[request.command])
        if moved is MoveTarget.EXIT:
            self._held_at_front = True
        return build_reply(request.command.cm, request.pm, self.version)

    async def _ic_power(self, request: Request) -> bytes:
        refusal = self._card_check()
        if refusal is not None:
            return self._p(request, refusal)
        if request.command is Command.IC_POWER_OFF:
            await self.model.chip_power(ChipPowerAction.OFF)
        return self._p(request, _Y)

    async def _cpu_reset(self, request: Request) -> bytes:
        warm = request.command is Command.CPU_WARM_RESET
        refusal = self._card_check()
        if refusal is not None:
            return build_cpu_reset_reply(refusal, warm=warm)
        action = ChipPowerAction.WARM if warm else ChipPowerAction.COLD
        try:
            atr = await self.model.chip_power(action)
        except (AtrNotObtained, InvalidMedia):
            return build_cpu_reset_reply(_N, warm=warm)
        t1 = self.model.chip_protocol == "T1"
        return build_cpu_reset_reply(OperationStatus.SUCCESS_T1 if t1 else _Y, atr, warm=warm)

    async def _apdu(self, request: Request) -> bytes:
        t1 = request.command is Command.APDU_T1
        apdu = parse_apdu_request(request.data)
        refusal = self._card_check()
        if refusal is not None:
            return build_apdu_reply(refusal, t1=t1)
        protocol = self.model.chip_protocol
        if protocol is None or (protocol == "T1") != t1:
            return build_apdu_reply(_N, t1=t1)
        try:
            response = await self.model.chip_io(apdu)
        except AtrNotObtained:
            return build_apdu_reply(_N, t1=t1)
        if len(response) > MAX_DATA - 3:
            return build_apdu_reply(_N, t1=t1)
        return build_apdu_reply(_Y, response, t1=t1)

    async def _read_tracks(self, request: Request) -> bytes:
        mode, selector = parse_track_request(request.data)
        numbers = selector.tracks
        if self._card_check() is not None:
            records = [
                _failed(n, TrackStatus.CANNOT_READ, TrackReadError.CANNOT_READ) for n in numbers
            ]
        else:
            result = await self.model.read_card(frozenset(_TRACKS[n] for n in numbers))
            records = [_record(n, result[_TRACKS[n]]) for n in numbers]
        reread = request.command is Command.REREAD_TRACKS
        return build_track_reply(records, mode=mode, reread=reread)

    async def _light(self, request: Request) -> bytes:
        return self._p(request, _Y)

    def __repr__(self) -> str:
        return f"Crt310Firmware({self.model.name!r}, executed={len(self.executed)})"


def _failed(track: int, status: TrackStatus, error: TrackReadError) -> TrackRecord:
    return TrackRecord(track, status, error=error)


def _record(track: int, data: CardData) -> TrackRecord:
    """The track block a reader sends for what its head read."""
    if data.status is DataStatus.OK:
        try:
            return TrackRecord(track, TrackStatus.OK, data.data)
        except ValueError:  # characters a stripe of that track cannot hold
            return _failed(track, TrackStatus.READ_ERROR, TrackReadError.VRC)
    if data.status is DataStatus.MISSING:
        return _failed(track, TrackStatus.READ_ERROR, TrackReadError.BLANK)
    if data.status is DataStatus.INVALID:
        return _failed(track, TrackStatus.READ_ERROR, TrackReadError.LRC)
    return _failed(track, TrackStatus.CANNOT_READ, TrackReadError.CANNOT_READ)
