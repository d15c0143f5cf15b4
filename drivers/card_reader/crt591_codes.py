"""CRT-591 replies in HAL terms: status bytes, error codes, command choices.

The tables the ``crt591`` driver (`drivers.card_reader.crt591`) reads its replies with:

- st0: '2' (card in the channel, at the IC/RF position) ``present``, '1' (card at the
  gate) ``entering``, '0' ``notPresent``; a card the unit answered a jam for is
  ``jammed`` until a reset or a movement succeeds (st0 cannot tell a jam);
- st1: '0' stacker ``empty``, '1' ``low``, '2' ``ok``; st2 '1': the reject bin ``full``;
- a negative reply ``e1 e0``: jam / long / short card `MediaJam`, stacker empty
  `NoMedia`, reject bin full `RetainBinFull`, undefined or unsupported commands
  `UnsupportedOperation`, bad parameter or data `InvalidData`, activation failures
  `AtrNotObtained`, not initialised `DeviceNotReady`, and:

  - ``02`` (command sequence error) `SequenceError`: the command makes no sense in the
    unit's state (a capture with no card, an APDU before a reset); nothing is broken;
  - ``45`` (card moved by hand) `SequenceError`, not `MediaJam`: the mechanism is
    sound but the card is not where the command assumed (someone pushed or pulled
    it); the caller asks the status and carries on from where the card is. A
    `MediaJam` would send a working unit to an operator;
  - ``67`` / ``68`` (IC transmission error, IC timeout) `AtrNotObtained`: the chip
    did not answer (as the CRT-310 driver reports a chip that does not answer an
    APDU); the driver forgets the chip's power and the caller resets the chip again.
    Not `HalTimeout`: the link to the unit is fine, and a `HalTimeout` means the unit
    itself did not answer (``offline``, an unknown outcome);
  - ``43`` (cannot move the card to the IC position) `MediaJam`: the card did not
    reach the contacts (bent, blocked or held); the caller's remedy is a jam's, a
    reset (Initialize) that brings it back to the gate or into the bin. It is not in
    `JAMS`: st0 still says where the card is and moves are not locked out;
  - the rest `HardwareError`.
"""

from __future__ import annotations

from drivers.card_reader.creator_driver import NO_DEVICE, OFFLINE
from hal.devices.card_reader import (
    CardReaderStatus,
    ChipPower,
    MediaStatus,
    MoveTarget,
    ReplenishmentStatus,
    ResetAction,
)
from hal.errors import (
    AtrNotObtained,
    DeviceNotReady,
    HalError,
    HardwareError,
    InvalidData,
    MediaJam,
    NoMedia,
    RetainBinFull,
    SequenceError,
    UnsupportedOperation,
)
from protocols.crt591 import (
    BinStatus,
    CardStatus,
    ErrorCode,
    InitMode,
    Position,
    Reply,
    StackerStatus,
)

__all__ = [
    "JAMS",
    "MOVES",
    "NO_DEVICE",
    "OFFLINE",
    "RESETS",
    "error_for",
    "status_of",
    "where_is",
]

#: Error codes that mean a card is stuck.
JAMS = frozenset({ErrorCode.JAM, ErrorCode.LONG_CARD, ErrorCode.SHORT_CARD})
#: The move for each target (a card must be in the unit: with none, a move dispenses).
MOVES = {
    MoveTarget.EXIT: Position.GATE,
    MoveTarget.TRANSPORT: Position.IC,
    MoveTarget.RETAIN: Position.REJECT_BIN,
}
#: The Initialize mode for each reset action (the unit has a gate: auto returns the card).
RESETS = {
    ResetAction.EXIT: InitMode.TO_GATE,
    ResetAction.AUTO: InitMode.TO_GATE,
    ResetAction.RETAIN: InitMode.CAPTURE,
    ResetAction.CURRENT_POSITION: InitMode.NO_MOVE,
}
_STACKER = {
    StackerStatus.EMPTY: ReplenishmentStatus.EMPTY,
    StackerStatus.LOW: ReplenishmentStatus.LOW,
    StackerStatus.ENOUGH: ReplenishmentStatus.OK,
}


def status_of(reply: Reply, *, jammed: bool, chip_on: bool) -> CardReaderStatus:
    """The HAL status a positive reply's st0 st1 st2 describe.

    Args:
        reply: any positive reply.
        jammed: the unit answered a jam and nothing has cleared it since.
        chip_on: the driver powered the chip and nothing has powered it off since.
    """
    bin_status = ReplenishmentStatus.FULL if reply.bin is BinStatus.FULL else ReplenishmentStatus.OK
    stacker = _STACKER[reply.stacker]
    if reply.card is CardStatus.AT_POSITION:
        if jammed:
            media, chip = MediaStatus.JAMMED, ChipPower.POWERED_OFF
        else:
            media = MediaStatus.PRESENT
            chip = ChipPower.ONLINE if chip_on else ChipPower.POWERED_OFF
    elif reply.card is CardStatus.AT_GATE:
        media, chip = MediaStatus.ENTERING, ChipPower.NO_CARD
    else:
        media, chip = MediaStatus.NOT_PRESENT, ChipPower.NO_CARD
    return CardReaderStatus(media=media, chip_power=chip, retain_bin=bin_status, stacker=stacker)


def where_is(card: CardStatus, *, jammed: bool) -> str:
    """A card's place as `MediaDetected` names it; ``""`` for no card."""
    if card is CardStatus.AT_POSITION:
        return "jammed" if jammed else "transport"
    return "exit" if card is CardStatus.AT_GATE else ""


def error_for(name: str, error: ErrorCode, what: str) -> HalError:
    """The error a negative reply to ``what`` means."""
    text = f"{name}: the unit refused {what} ({error.value}: {error.meaning})"
    if error in JAMS or error is ErrorCode.CANNOT_MOVE_TO_IC:
        return MediaJam(text)
    if error in (ErrorCode.SEQUENCE_ERROR, ErrorCode.MOVED_MANUALLY):
        return SequenceError(text)
    if error is ErrorCode.STACKER_EMPTY:
        return NoMedia(text)
    if error is ErrorCode.BIN_FULL:
        return RetainBinFull(text)
    if error in (
        ErrorCode.UNDEFINED_COMMAND,
        ErrorCode.NOT_SUPPORTED,
        ErrorCode.IC_COMMAND_NOT_SUPPORTED,
    ):
        return UnsupportedOperation(text)
    if error in (ErrorCode.BAD_PARAMETER, ErrorCode.BAD_DATA):
        return InvalidData(text)
    if error in (
        ErrorCode.ACTIVATION_FAILED,
        ErrorCode.IC_DISABLED,
        ErrorCode.NOT_SUPPORTED_BY_CURRENT_IC,
        ErrorCode.NOT_EMV_COMPLIANT,
        ErrorCode.IC_TRANSMISSION_ERROR,
        ErrorCode.IC_TIMEOUT,
    ):
        return AtrNotObtained(text)
    if error is ErrorCode.NOT_INITIALISED:
        return DeviceNotReady(text)
    return HardwareError(text)
