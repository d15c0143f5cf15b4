"""How the cash dispenser service writes its books: plans in, reports applied.

Bookkeeping rules 1-3 and 5 of docs/cash.md, as functions over an open `Ledger`:

- `journal_plans`: the planned movements of one operation, pending, with its token;
- `apply_report`: settle them from the device's `MoveReport`, idempotently: movements
  of the token already settled count as covered, and every move of the report that no
  movement covers is journalled and settled at once, so applying the same report twice
  (a reconcile cut short and run again) never counts a note twice;
- `fault_error`: the typed error for a `Fault`, saying how many notes moved.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from hal.devices.cash_model import Fault, MoveReport
from hal.errors import Completion, DeviceError, HalError, HardwareError, error_class_for
from hal.ledger import ANY_ITEM, Ledger, Movement, MovementRecord, Outcome

__all__ = [
    "ALL",
    "Plan",
    "apply_report",
    "describe",
    "fault_error",
    "journal_plans",
    "records_of",
]

#: A history limit that means "all of it".
ALL = 1 << 62
#: The end of the reason of a movement the device may have made but cannot count.
_UNCERTAIN = "may have moved, uncounted"


@dataclass(frozen=True, slots=True)
class Plan:
    """One planned movement: ``count`` notes of ``item`` from ``source`` to ``destination``."""

    source: str
    destination: str
    item: str
    count: int


def journal_plans(
    ledger: Ledger, device: str, plans: Sequence[Plan], token: int, reason: str
) -> list[Movement]:
    """Journal ``plans`` as pending movements of ``token`` (before the device acts).

    Raises:
        LedgerError: the journal cannot be written: the device must not be asked.
    """
    return [
        ledger.journal(
            device,
            source=p.source,
            destination=p.destination,
            item=p.item,
            count=p.count,
            command_id=token,
            reason=reason,
        )
        for p in plans
    ]


def records_of(ledger: Ledger, device: str, token: int, since_id: int) -> list[MovementRecord]:
    """The movements of ``token`` (oldest first); ``since_id`` is one of them.

    A token's movements are journalled together, so reading back until a movement
    older than ``since_id`` of another token shows up finds them all.
    """
    limit = 64
    while True:
        rows = ledger.history(device, limit)
        oldest = rows[-1].movement if rows else None
        if (
            oldest is None
            or len(rows) < limit
            or (oldest.id < since_id and oldest.command_id != token)
        ):
            break
        limit *= 8
    return [r for r in reversed(rows) if r.movement.command_id == token]


def item_for(source: str, destination: str, items: Sequence[str], held: Mapping[str, str]) -> str:
    """The ledger item of notes moved between two locations.

    A location that holds one kind of note (a cassette) decides; between locations of
    any item, the notes' own item when the report gives just one, else `ANY_ITEM`.
    """
    for end in (source, destination):
        if held.get(end, ANY_ITEM) != ANY_ITEM:
            return held[end]
    distinct = set(items)
    return distinct.pop() if len(distinct) == 1 else ANY_ITEM


def apply_report(
    ledger: Ledger,
    device: str,
    report: MoveReport,
    token: int,
    reason: str,
    since_id: int,
    held: Mapping[str, str],
    detail: str = "",
    records: Sequence[MovementRecord] | None = None,
) -> None:
    """Settle the movements of ``token`` from ``report`` (rule 3), idempotently.

    Each pending movement (source, destination, item) is settled ``done`` with what the
    report moved between them beyond what earlier movements of the token already account
    for (``failed`` when nothing); item by item: a movement of one note item is covered
    only by report moves of that item, a movement of `ANY_ITEM` by moves of any item
    (movements of one item are settled before those of any). What is left over (more
    than planned, or moves nobody planned: a double note to the reject unit, notes
    stopped in the transport) is journalled and settled ``done`` at once, by item.

    Args:
        ledger: the open ledger.
        device: the device's name in it.
        report: what the device says the operation did.
        token: the operation's token.
        reason: the ``reason`` for movements journalled here.
        since_id: the id of one movement of the token (to find them all).
        held: ``{location: item}`` of the device's locations.
        detail: what to say in the settlements (a fault's description).
        records: the token's movements, when the caller has just journalled them (none
            settled yet); ``None``: read them from the ledger (a reconcile).

    Raises:
        LedgerError: the journal cannot be written (the rest stays pending).
    """
    remaining: dict[tuple[str, str, str], int] = {}
    for move in report.moves:
        key = (move.source, move.destination, move.item)
        remaining[key] = remaining.get(key, 0) + move.count
    if records is None:
        records = records_of(ledger, device, token, since_id)
    # What earlier settlements of the token already account for: exact items first,
    # then `*` movements from whatever items are left, in the order `_take` uses.
    settled = [
        r
        for r in records
        if r.settlement is not None and r.settlement.outcome is Outcome.DONE and r.settlement.moved
    ]
    for record in sorted(settled, key=lambda r: r.movement.item == ANY_ITEM):
        moved = record.settlement.moved if record.settlement is not None else 0
        _take(remaining, record.movement, moved or 0, clip=False)
    suffix = f"; {detail}" if detail else ""
    pending = [
        r for r in records if r.settlement is None and not r.movement.reason.endswith(_UNCERTAIN)
    ]
    for record in sorted(pending, key=lambda r: r.movement.item == ANY_ITEM):
        m = record.movement
        moved = _take(remaining, m, m.count, clip=True)
        if moved:
            ledger.settle(
                m.id, Outcome.DONE, moved=moved, detail=f"{moved} of {m.count} moved{suffix}"
            )
        else:
            ledger.settle(m.id, Outcome.FAILED, detail=f"none of {m.count} moved{suffix}")
    for (source, destination, item), left in remaining.items():
        if left <= 0:
            continue
        extra = ledger.journal(
            device,
            source=source,
            destination=destination,
            item=item_for(source, destination, [item], held),
            count=left,
            command_id=token,
            reason=f"{reason}: reported, not planned",
        )
        ledger.settle(extra.id, Outcome.DONE, moved=left, detail=f"reported by the device{suffix}")
    _apply_uncertain(ledger, device, report, token, reason, records, held, suffix)


def _take(
    remaining: dict[tuple[str, str, str], int], movement: Movement, count: int, *, clip: bool
) -> int:
    """Take up to ``count`` notes of ``movement`` out of ``remaining`` (rule 1 of
    docs/cash_in.md: a movement of one item is covered only by report moves of that
    item; a movement of `ANY_ITEM` by moves of any item, the items in sorted order).

    ``clip``: take no more than is there (a pending movement being settled); else take
    what the settlement says moved, going below zero where the report has less (an
    already settled movement the report no longer covers: nothing is journalled twice).
    Returns what was taken.
    """
    pair = (movement.source, movement.destination)
    if movement.item != ANY_ITEM:
        keys = [(*pair, movement.item)]
    else:
        keys = sorted(k for k in remaining if k[:2] == pair) or [(*pair, ANY_ITEM)]
    taken = 0
    for n, key in enumerate(keys):
        want = count - taken
        if want <= 0:
            break
        have = max(remaining.get(key, 0), 0)
        part = min(have, want) if clip or n < len(keys) - 1 else want
        if part <= 0:
            continue
        remaining[key] = remaining.get(key, 0) - part
        taken += part
    return taken


def _apply_uncertain(
    ledger: Ledger,
    device: str,
    report: MoveReport,
    token: int,
    reason: str,
    records: Sequence[MovementRecord],
    held: Mapping[str, str],
    suffix: str,
) -> None:
    """Journal the report's uncertain moves settled ``unknown`` (once: a movement of the
    token already journalled for the same pair as uncertain covers it)."""
    for move in report.uncertain:
        pair = (move.source, move.destination)
        known = [
            r
            for r in records
            if (r.movement.source, r.movement.destination) == pair
            and r.movement.reason.endswith(_UNCERTAIN)
        ]
        if any(r.settlement is not None for r in known):
            continue
        if known:
            movement = known[0].movement
        else:
            movement = ledger.journal(
                device,
                source=move.source,
                destination=move.destination,
                item=item_for(move.source, move.destination, [move.item], held),
                count=move.count,
                command_id=token,
                reason=f"{reason}: {_UNCERTAIN}",
            )
        ledger.settle(
            movement.id,
            Outcome.UNKNOWN,
            detail=f"up to {move.count} notes; the device cannot count them{suffix}",
        )


def describe(report: MoveReport) -> str:
    """What moved, for messages: ``unit1->stacker 3, unit2->transport 1`` (or nothing)."""
    totals: dict[tuple[str, str], int] = {}
    for move in report.moves:
        pair = (move.source, move.destination)
        totals[pair] = totals.get(pair, 0) + move.count
    return ", ".join(f"{s}->{d} {n}" for (s, d), n in totals.items()) or "no note moved"


def fault_error(device: str, command: str, fault: Fault, moved: str) -> HalError:
    """The typed error for a device ``fault`` (`MediaJam` for ``mediaJam``...).

    Args:
        device: the device's name.
        command: the command (``Dispense``).
        fault: what the device reported.
        moved: what did move (`describe`, or a count in words).
    """
    where = f", unit {fault.unit}" if fault.unit else ""
    message = (
        f"{device}: {command} stopped short ({fault.error_code}{where}: "
        f"{fault.description}); {moved}"
    )
    if fault.error_code == "hardwareError":
        return HardwareError(message)
    cls = error_class_for(Completion.COMMAND_ERROR_CODE, fault.error_code)
    if cls is DeviceError:
        return DeviceError(message, error_code=fault.error_code)
    return cls(message)
