"""LCDM replies read as note moves (`MoveReport`) and faults in XFS4IoT terms.

A pick reply (`protocols.lcdm_layouts.PickReply`) counts, per cassette, the notes seen
at the CHK sensor (picked), at the EXIT sensor (handed out) and sent to the reject tray.
So, for cassette unit ``u``:

- EXIT notes moved ``u`` -> `CUSTOMER` (the LCDM has no stacker and no shutter);
- REJECT notes moved ``u`` -> ``reject`` (one `NoteErrorReason.OTHER_NOTE_ERROR` each:
  the reply does not say why a note was rejected);
- CHK - EXIT - REJECT notes moved ``u`` -> `TRANSPORT`: picked and still inside (a jam).
  The LCDM-4000 reply has no CHK count, so there nothing can be said of them.

The ERROR byte becomes a `Fault` when it is not "good" (30h / 20h), or when fewer notes
came out than asked: jams -> ``mediaJam``; an empty, missing or unpickable cassette ->
``cashUnitError`` with the unit; a missing or overfull reject tray -> ``cashUnitError``
with ``reject``; anything else -> ``hardwareError``. The description keeps the LCDM code
and its meaning.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from drivers.cash.lcdm_options import REJECT
from hal.devices.cash_model import (
    CUSTOMER,
    TRANSPORT,
    CashUnitInfo,
    Fault,
    Move,
    MoveReport,
    NoteErrorReason,
)
from hal.errors import ProtocolError
from protocols.lcdm import Model
from protocols.lcdm_layouts import PickReply, pick_reply
from protocols.lcdm_replies import (
    ErrorCode1000,
    ErrorCode2000,
    ErrorCode4000,
    PurgeReply,
    Reply,
    error_code,
)

__all__ = ["GOOD", "fault_for", "pick_report", "purge_report"]

#: The "no error" byte of each model.
GOOD = {Model.LCDM1000: 0x30, Model.LCDM2000: 0x30, Model.LCDM4000: 0x20}

_JAMS: dict[Model, set[int]] = {
    Model.LCDM1000: {
        ErrorCode1000.JAM_CHK,
        ErrorCode1000.JAM_EXIT,
        ErrorCode1000.JAM_DIV,
        ErrorCode1000.JAM_DIV_2,
        ErrorCode1000.TIMEOUT_DIV_EJT,
    },
    Model.LCDM2000: {
        ErrorCode2000.JAM_CHK,
        ErrorCode2000.JAM_EXIT,
        ErrorCode2000.JAM_DIV,
        ErrorCode2000.JAM_DIV_2,
        ErrorCode2000.TIMEOUT_DIV_EJT,
        ErrorCode2000.JAM_EJT,
        ErrorCode2000.JAM_CHK34,
    },
    Model.LCDM4000: {
        ErrorCode4000.JAM_22,
        ErrorCode4000.JAM_23,
        ErrorCode4000.JAM_24,
        ErrorCode4000.NOTE_IN_EXIT,
    },
}
# Cassette errors: None = the cassette that came short; a number = that cassette.
_CASSETTE: dict[Model, dict[int, int | None]] = {
    Model.LCDM1000: {
        ErrorCode1000.PICKUP_ERROR: None,
        ErrorCode1000.BILL_END: 1,
        ErrorCode1000.CASSETTE_MISSING: 1,
    },
    Model.LCDM2000: {
        ErrorCode2000.PICKUP_ERROR: None,
        ErrorCode2000.UPPER_BILL_END: 1,
        ErrorCode2000.LOWER_BILL_END: 2,
        ErrorCode2000.UPPER_CASSETTE_MISSING: 1,
        ErrorCode2000.LOWER_CASSETTE_MISSING: 2,
    },
    Model.LCDM4000: {
        ErrorCode4000.PICKUP_ERROR: None,
        ErrorCode4000.NO_CASSETTE: None,
        ErrorCode4000.NEAR_END: None,
    },
}
_REJECT_TRAY: dict[Model, set[int]] = {
    Model.LCDM1000: {ErrorCode1000.REJECT_TRAY_MISSING, ErrorCode1000.OVER_REJECT},
    Model.LCDM2000: {ErrorCode2000.REJECT_TRAY_MISSING, ErrorCode2000.OVER_REJECT},
    Model.LCDM4000: {ErrorCode4000.NO_REJECT_TRAY, ErrorCode4000.TOO_MANY_REJECTS},
}


def _describe(model: Model, code: int) -> str:
    try:
        meaning = error_code(model, code).meaning
    except ProtocolError:
        meaning = "not in the error table"
    return f"LCDM-{model.value} error 0x{code:02X} ({meaning})"


def fault_for(
    model: Model,
    code: int,
    cassette_units: Sequence[str],
    short: Sequence[str] = (),
) -> Fault | None:
    """The fault an ERROR byte means; ``None`` for "good".

    Args:
        model: the dispenser model.
        code: the ERROR byte.
        cassette_units: the unit id of each cassette, upper / first first.
        short: the units that gave fewer notes than asked (for errors that do not name
            their cassette).
    """
    if code == GOOD[model]:
        return None
    description = _describe(model, code)
    if code in _JAMS[model]:
        return Fault("mediaJam", description)
    if code in _CASSETTE[model]:
        number = _CASSETTE[model][code]
        if number is not None:
            unit: str | None = cassette_units[number - 1]
        else:
            unit = short[0] if short else None
        return Fault("cashUnitError", description, unit=unit)
    if code in _REJECT_TRAY[model]:
        return Fault("cashUnitError", description, unit=REJECT)
    return Fault("hardwareError", description)


def pick_report(
    reply: PickReply,
    units: Sequence[CashUnitInfo],
    asked: Mapping[str, int],
    *,
    destination: str = CUSTOMER,
) -> MoveReport:
    """The moves and fault of a pick reply.

    Args:
        reply: the decoded reply.
        units: the cassettes' units, in cassette order.
        asked: ``{unit id: notes}`` the command asked for (to tell a short pick).
        destination: where EXIT notes went: `CUSTOMER`, or ``reject`` for a test
            dispense, whose notes all go to the reject tray (no note errors then).

    Raises:
        ProtocolError: counts that contradict each other (more out than picked).
    """
    moves: list[Move] = []
    errors: list[NoteErrorReason] = []
    short: list[str] = []
    for counts in reply.cassettes:
        unit = units[counts.cassette - 1]
        out = counts.exit + counts.rejects
        if counts.check is not None and out > counts.check:
            raise ProtocolError(
                f"LCDM-{reply.model.value} reply: cassette {counts.cassette} counts "
                f"{counts.check} picked but {counts.exit} out and {counts.rejects} rejected"
            )
        if destination == REJECT:
            if out:
                moves.append(Move(unit.id, REJECT, unit.item, out))
            given = out
        else:
            if counts.exit:
                moves.append(Move(unit.id, destination, unit.item, counts.exit))
            if counts.rejects:
                moves.append(Move(unit.id, REJECT, unit.item, counts.rejects))
                errors.extend([NoteErrorReason.OTHER_NOTE_ERROR] * counts.rejects)
            given = counts.exit
        stuck = 0 if counts.check is None else counts.check - out
        if stuck:
            moves.append(Move(unit.id, TRANSPORT, unit.item, stuck))
        if given < asked.get(unit.id, 0):
            short.append(unit.id)
    ids = [u.id for u in units]
    fault = fault_for(reply.model, reply.error, ids, short)
    if fault is None and short:
        fault = Fault(
            "hardwareError",
            f"LCDM-{reply.model.value}: {', '.join(short)} gave fewer notes than asked, "
            "with no error code",
            unit=short[0],
        )
    uncertain: list[Move] = []
    if fault is not None and reply.model is Model.LCDM4000 and fault.error_code == "mediaJam":
        fault = Fault(
            fault.error_code,
            fault.description + "; notes may remain in the transport (the LCDM-4000 reply "
            "does not count them)",
            fault.unit,
        )
        # What was asked and neither came out nor was rejected may be in the transport
        # (or still in its cassette): booked as unknown, never guessed; the purge that
        # clears the jam counts them per cassette (`purge_report`).
        for counts in reply.cassettes:
            unit = units[counts.cassette - 1]
            missing = asked.get(unit.id, 0) - counts.exit - counts.rejects
            if counts.check is None and missing > 0:
                uncertain.append(Move(unit.id, TRANSPORT, unit.item, missing))
    return MoveReport(
        moves=tuple(moves),
        fault=fault,
        note_errors=tuple(errors),
        uncertain=tuple(uncertain),
    )


def purge_report(
    reply: Reply, cassettes: Sequence[CashUnitInfo], in_transport: Mapping[str, int]
) -> MoveReport:
    """The moves and fault of a PURGE reply.

    The LCDM-1000/2000 reply holds only an error: on success the notes moved transport
    -> reject are ``in_transport`` (``{unit id: notes}`` the driver saw stop there). The
    LCDM-4000 reply counts per cassette: REJECT as notes moved to the reject tray, EXIT
    as notes pushed out to the customer [U].
    """
    model = reply.model
    ids = [unit.id for unit in cassettes]
    items = {unit.id: unit.item for unit in cassettes}
    if isinstance(reply, PurgeReply):
        fault = fault_for(model, int(reply.error), ids)
        if fault is not None:
            return MoveReport(fault=fault)
        return MoveReport(
            tuple(Move(TRANSPORT, REJECT, items[u], n) for u, n in in_transport.items() if n)
        )
    pick = pick_reply(reply)
    moves: list[Move] = []
    for counts in pick.cassettes:
        # The LCDM-4000 counts a purge per cassette, and its jam replies count no note
        # left in the transport (booked unknown, see `pick_report`): the purged notes are
        # booked from their cassette, which puts that cassette's count right; the earlier
        # unknown movement stays listed until the next count.
        unit = cassettes[counts.cassette - 1]
        if counts.rejects:
            moves.append(Move(unit.id, REJECT, unit.item, counts.rejects))
        if counts.exit:
            moves.append(Move(unit.id, CUSTOMER, unit.item, counts.exit))
    return MoveReport(tuple(moves), fault_for(model, pick.error, ids))
