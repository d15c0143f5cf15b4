"""CRT-310 replies in HAL terms: status, track data, error replies, command choices.

The tables the ``crt310`` driver (`drivers.card_reader.crt310`) reads its replies with:

- status (31 30) S1: 4A/4B/4C ``present`` (4B: the contacts are engaged, the chip
  ``online``), 48/49 ``entering`` (at the front), 46/47 ``jammed`` (a long or short
  card is stuck), 4E/4D ``notPresent``;
- a P byte 'E' (no card) or 'W' (card out of reach) is `NoMedia`;
- an error reply ``4E CM E``: 06 (abnormal card) is `MediaJam`, 02 (not fitted) and 00
  (unknown command) `UnsupportedOperation`, 01 and 04 `InvalidData`, 05 and 07 (supply
  voltage, backup power) `HardwareError`;
- a track block: 59 ``ok``, 4E E5 (blank) ``dataMissing``, other read errors
  ``dataInvalid``, 4F (cannot read) ``dataSourceMissing``.
"""

from __future__ import annotations

from drivers.card_reader.creator_driver import NO_DEVICE, OFFLINE
from hal.devices.card_reader import (
    CardData,
    CardReaderStatus,
    ChipPower,
    DataStatus,
    MediaStatus,
    MoveTarget,
    ResetAction,
    Track,
)
from hal.errors import (
    HalError,
    HardwareError,
    InvalidData,
    MediaJam,
    NoMedia,
    ProtocolError,
    UnsupportedOperation,
)
from protocols.crt310 import (
    MAX_DATA,
    CardPosition,
    Command,
    ErrorCode,
    OperationStatus,
    PlainReply,
    Reply,
    StatusReply,
    TrackReadError,
    TrackRecord,
    TrackStatus,
)

__all__ = [
    "ABNORMAL",
    "FRONT",
    "INSIDE",
    "MAX_APDU",
    "MOVES",
    "NO_DEVICE",
    "OFFLINE",
    "RESETS",
    "TRACK_NUMBERS",
    "TRACK_ORDER",
    "card_data",
    "error_for",
    "operation_status",
    "refuse",
    "status_of",
    "where_is",
]

#: S1 values with the card in the reader (4C: held at the rear, still inside).
INSIDE = frozenset({CardPosition.INSIDE, CardPosition.INSIDE_IC_ENGAGED, CardPosition.REAR_HELD})
#: S1 values with the card at the front (the exit).
FRONT = frozenset({CardPosition.FRONT_HELD, CardPosition.FRONT_NOT_HELD})
#: S1 values of an abnormal (long or short: stuck) card.
ABNORMAL = frozenset({CardPosition.LONG_CARD, CardPosition.SHORT_CARD})
TRACK_NUMBERS = {Track.TRACK1: 1, Track.TRACK2: 2, Track.TRACK3: 3}
TRACK_ORDER = (Track.TRACK1, Track.TRACK2, Track.TRACK3, Track.CHIP)
#: The move command for each target: the exit holds the card (it can come back in).
MOVES = {
    MoveTarget.EXIT: Command.MOVE_FRONT_HOLD,
    MoveTarget.TRANSPORT: Command.MOVE_TO_IC,
    MoveTarget.RETAIN: Command.CAPTURE,
}
#: The reset command for each action (the reader has an exit: auto ejects).
RESETS = {
    ResetAction.EXIT: Command.RESET_EJECT_FRONT,
    ResetAction.AUTO: Command.RESET_EJECT_FRONT,
    ResetAction.RETAIN: Command.RESET_EJECT_REAR,
    ResetAction.CURRENT_POSITION: Command.RESET,
}
#: The longest C-APDU a frame carries (DATA less its 2-byte length).
MAX_APDU = MAX_DATA - 2


def status_of(reply: StatusReply) -> CardReaderStatus:
    """The HAL status a 31 30 reply describes (4B: the chip is powered)."""
    position = reply.position
    if position in INSIDE:
        engaged = position is CardPosition.INSIDE_IC_ENGAGED
        chip = ChipPower.ONLINE if engaged else ChipPower.POWERED_OFF
        return CardReaderStatus(media=MediaStatus.PRESENT, chip_power=chip)
    if position in FRONT:
        return CardReaderStatus(media=MediaStatus.ENTERING, chip_power=ChipPower.NO_CARD)
    if position in ABNORMAL:
        return CardReaderStatus(media=MediaStatus.JAMMED, chip_power=ChipPower.POWERED_OFF)
    return CardReaderStatus(media=MediaStatus.NOT_PRESENT, chip_power=ChipPower.NO_CARD)


def where_is(position: CardPosition) -> str:
    """A card's place as `MediaDetected` names it; ``""`` for no card."""
    if position in INSIDE:
        return "transport"
    if position in FRONT:
        return "exit"
    return "jammed" if position in ABNORMAL else ""


def card_data(record: TrackRecord) -> CardData:
    """One track block as XFS4IoT card data: blank is ``dataMissing``, a read error
    ``dataInvalid``, "cannot read" (nothing under the head) ``dataSourceMissing``."""
    if record.status is TrackStatus.OK:
        return CardData(DataStatus.OK, record.data)
    if record.status is TrackStatus.CANNOT_READ:
        return CardData(DataStatus.SOURCE_MISSING)
    if record.error is TrackReadError.BLANK:
        return CardData(DataStatus.MISSING)
    return CardData(DataStatus.INVALID)


def error_for(name: str, code: ErrorCode, request: Command) -> HalError:
    """The error an error reply ``4E CM E`` to ``request`` means."""
    what = f"{name}: the reader refused {request.name} ({code.name})"
    if code is ErrorCode.ABNORMAL_CARD:
        return MediaJam(f"{what}: an abnormal (jammed, long or short) card")
    if code in (ErrorCode.CANNOT_EXECUTE, ErrorCode.BAD_COMMAND):
        return UnsupportedOperation(f"{what}: not fitted or not known")
    if code in (ErrorCode.BAD_PARAMETER, ErrorCode.BAD_DATA):
        return InvalidData(what)
    return HardwareError(f"{what}: check its power supply")


def operation_status(name: str, reply: Reply) -> OperationStatus:
    """The P byte that starts a plain reply's DATA.

    Raises:
        ProtocolError: the reply carries none.
    """
    if isinstance(reply, PlainReply) and reply.data:
        try:
            return OperationStatus(reply.data[0])
        except ValueError:
            pass
    raise ProtocolError(f"{name}: {reply!r} carries no operation status")


def refuse(name: str, status: OperationStatus, doing: str) -> None:
    """Raise for a P byte saying the card is not where ``doing`` needs it.

    Raises:
        NoMedia: 'E' (no card) or 'W' (out of reach, e.g. at the exit).
        HardwareError: 'N' for a card movement.
    """
    if status is OperationStatus.NO_CARD:
        raise NoMedia(f"{name}: cannot {doing}: no card in the reader")
    if status is OperationStatus.NOT_IN_POSITION:
        raise NoMedia(f"{name}: cannot {doing}: the card is out of reach (at the exit?)")
    if status is OperationStatus.FAILED and doing.startswith("move"):
        raise HardwareError(f"{name}: the reader could not {doing}")
