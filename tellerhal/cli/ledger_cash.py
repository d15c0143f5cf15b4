"""The cash view of ``tellerhal ledger``: cash units, positions and notes in flight.

A device is a cash device when the ledger has a cassette for it. For such a device the
report adds:

- its cash units (cassettes, reject and retain units) with the note's value, the
  counters (initial, in, out, unknown, count) and the value of the notes counted;
- its positions (``stacker``, ``transport``, ``exit``...) with what they hold by note,
  as the services find it (`hal.devices.cash_books.items_at`: the moves settled
  ``done`` in and out of it replayed from its latest count on, a recount being a cut;
  a ``*`` move out of a unit carries the unit's note).
  Notes the replay cannot name (a ``*`` move into it, a count the names do not reach)
  are shown as ``*``;
- the operations still in flight: the pending movements grouped by their token (the
  movement's ``command_id``), and the notes of movements settled ``unknown``;
- for a cash acceptor (a device with an ``escrow`` position), its books of cash in
  (`CashInView`): per unit the notes deposited (from the escrow or the customer),
  retained (counterfeit and suspect notes, escrow to a retain unit) and retracted (from
  the exit or the transport), by note; what the escrow holds by note and its face
  value; and the cash-in operations still pending or settled ``unknown``, each named
  by what its movements do (``cash-in``, ``cash-in end``, ``rollback``, ``retract``,
  ``reset``).

Nothing here changes the file; it reads what `tellerhal.cli.ledger` reads, plus the
device's whole history.

The cash-in view is built and shown by `tellerhal.cli.ledger_cash_in` (this module
re-exports its names); what both share is in `tellerhal.cli.ledger_cash_notes`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hal.devices.cash_books import cut_after, items_at
from hal.ledger import (
    ANY_ITEM,
    Counters,
    Ledger,
    Location,
    LocationKind,
    Movement,
    MovementRecord,
    Outcome,
)
from hal.money import Money
from tellerhal.cli.ledger_cash_in import (
    CashInOperation,
    CashInView,
    DepositRow,
    cash_in_json,
    cash_in_view,
    render_cash_in,
)
from tellerhal.cli.ledger_cash_notes import (
    CUSTOMER,
    ESCROW,
    EXIT,
    TRANSPORT,
    UNIT_KINDS,
    by_token,
    holds_text,
    money_json,
    note_value,
)

__all__ = [
    "CUSTOMER",  # the position names live in ledger_cash_notes; re-exported
    "EXIT",
    "TRANSPORT",
    "CashInOperation",
    "CashInView",
    "CashUnitRow",
    "CashView",
    "DepositRow",
    "PositionRow",
    "cash_view",
    "note_value",
]

#: How many movements the replay reads at most (the whole life of a device, in practice).
HISTORY_LIMIT = 10_000_000


@dataclass(frozen=True, slots=True)
class CashUnitRow:
    """One cash unit: its location, counters, note value and the value it holds."""

    location: Location
    counters: Counters

    @property
    def note(self) -> Money | None:
        return note_value(self.location.item)

    @property
    def unknown(self) -> int:
        return self.counters.unknown_in + self.counters.unknown_out

    @property
    def value(self) -> Money | None:
        note = self.note
        return None if note is None else note * self.counters.count


@dataclass(frozen=True, slots=True)
class PositionRow:
    """One position: the ledger's count and what the replay says it holds, by note."""

    name: str
    count: int
    holds: Mapping[str, int]


@dataclass(frozen=True, slots=True)
class CashView:
    """The cash part of one device's report.

    Attributes:
        units: the cash units, by name.
        positions: the positions (their ledger count and notes held).
        in_flight: pending movements by token (``None``: journalled without one),
            oldest first.
        unknown_notes: notes of movements settled ``unknown`` not yet resolved.
        cash_in: a cash acceptor's books of cash in; ``None`` for a device without an
            escrow.
    """

    units: list[CashUnitRow]
    positions: list[PositionRow]
    in_flight: list[tuple[int | None, list[Movement]]]
    unknown_notes: int
    cash_in: CashInView | None = None


def is_cash_device(locations: Iterable[Location]) -> bool:
    """Whether a device's locations make it a cash device (it has a cassette)."""
    return any(loc.kind is LocationKind.CASSETTE for loc in locations)


def cash_view(
    ledger: Ledger,
    device: str,
    locations: Sequence[Location],
    counters: Mapping[str, Counters],
    pending: Sequence[Movement],
    unknown: Sequence[Movement],
) -> CashView:
    """Build the cash view of ``device`` from views already read, plus its history.

    Raises:
        LedgerError: the journal cannot be read.
    """
    units = [
        CashUnitRow(loc, counters[loc.name])
        for loc in locations
        if loc.kind in UNIT_KINDS and loc.name in counters
    ]
    kinds = {loc.name: loc for loc in locations}
    position_names = [loc.name for loc in locations if loc.kind is LocationKind.POSITION]
    history = _named(ledger.history(device, HISTORY_LIMIT), kinds, position_names, counters)
    records = _done_records(history)
    positions = []
    for name in position_names:
        count = counters[name].count if name in counters else 0
        by_item = items_at(history, name, counters.get(name))
        held = {item: n for item, n in by_item.items() if n > 0}
        named = sum(n for item, n in held.items() if item != ANY_ITEM)
        held.pop(ANY_ITEM, None)
        if named > count:
            # A count set by hand since (an engineer emptied it): the replay's names no
            # longer hold; what is there is unnamed.
            held = {ANY_ITEM: count} if count > 0 else {}
        elif named < count:
            held[ANY_ITEM] = count - named  # what the replay cannot name: shown, not hidden
        positions.append(PositionRow(name, count, held))
    groups = by_token(pending)
    cash_in = None
    if ESCROW in kinds and kinds[ESCROW].kind is LocationKind.POSITION:
        escrow = next(p.holds for p in positions if p.name == ESCROW)
        cash_in = cash_in_view(
            records, [row.location for row in units], escrow, groups, unknown, kinds
        )
    return CashView(
        units=units,
        positions=positions,
        in_flight=list(groups.items()),
        unknown_notes=sum(m.count for m in unknown),
        cash_in=cash_in,
    )


def _named(
    newest_first: Sequence[MovementRecord],
    locations: Mapping[str, Location],
    positions: Sequence[str],
    counters: Mapping[str, Counters],
) -> list[MovementRecord]:
    """``newest_first`` with ``*`` moves named where the books can tell: out of a unit
    by the note the unit holds (a dispenser journals its dispense so); a done one out
    of a position never recounted before it, by what the position held then by
    `items_at` (a dispenser's present carries the dispensed notes' names to the exit),
    split into one record per item. After a recount it stays ``*``."""
    recounted: dict[str, int] = {}  # a position recounted: the id its cut follows
    for name, c in counters.items():
        if name in positions:
            cut = cut_after(name, newest_first, c)
            if cut or c.initial:
                recounted[name] = cut
    oldest_first: list[MovementRecord] = []
    for record in reversed(newest_first):
        movement = record.movement
        source = locations.get(movement.source)
        if movement.item != ANY_ITEM or source is None:
            oldest_first.append(record)
        elif source.name not in positions:
            movement = dataclasses.replace(movement, item=source.item)
            oldest_first.append(dataclasses.replace(record, movement=movement))
        else:
            if source.name in recounted and movement.id > recounted[source.name]:
                oldest_first.append(record)
            else:
                oldest_first.extend(_split(record, oldest_first))
    return list(reversed(oldest_first))


def _split(record: MovementRecord, before: Sequence[MovementRecord]) -> list[MovementRecord]:
    """A done ``*`` move out of a position as one record per item it held then."""
    settlement = record.settlement
    if settlement is None or settlement.outcome is not Outcome.DONE or not settlement.moved:
        return [record]
    held = items_at(list(reversed(before)), record.movement.source)
    left = settlement.moved
    parts: list[MovementRecord] = []
    for item in sorted(held, key=lambda k: (k == ANY_ITEM, k)):
        n = min(held[item], left)
        if n > 0:
            parts.append(_part(record, item, n))
            left -= n
    if left:
        parts.append(_part(record, ANY_ITEM, left))
    return parts


def _part(record: MovementRecord, item: str, count: int) -> MovementRecord:
    """``record`` for ``count`` notes of ``item`` (done, all moved)."""
    assert record.settlement is not None
    movement = dataclasses.replace(record.movement, item=item, count=count)
    settlement = dataclasses.replace(record.settlement, moved=count)
    return dataclasses.replace(record, movement=movement, settlement=settlement)


def _done_records(history: Sequence[MovementRecord]) -> list[MovementRecord]:
    """The movements of ``history`` settled ``done``, in settlement order."""
    records = [
        r for r in history if r.settlement is not None and r.settlement.outcome is Outcome.DONE
    ]
    records.sort(key=lambda r: r.settlement.id if r.settlement is not None else 0)
    return records


def view_json(view: CashView) -> dict[str, Any]:
    """The cash view as JSON."""
    return {
        "units": [
            {
                "name": row.location.name,
                "kind": row.location.kind.value,
                "item": row.location.item,
                "note": money_json(row.note),
                "capacity": row.location.capacity,
                "initial": row.counters.initial,
                "in": row.counters.moved_in,
                "out": row.counters.moved_out,
                "unknown": row.unknown,
                "count": row.counters.count,
                "value": money_json(row.value),
            }
            for row in view.units
        ],
        "positions": [
            {"name": p.name, "count": p.count, "holds": dict(p.holds)} for p in view.positions
        ],
        "in_flight": [
            {
                "token": token,
                "movements": [m.id for m in movements],
                "notes": sum(m.count for m in movements),
            }
            for token, movements in view.in_flight
        ],
        "unknown_notes": view.unknown_notes,
        "cash_in": None if view.cash_in is None else cash_in_json(view.cash_in),
    }


def render_view(view: CashView, text: Any, table: Any) -> list[str]:
    """The cash view as lines of the text report (``text`` and ``table`` are the report's
    own escaping and table helpers)."""
    lines = ["  cash units:"]
    rows = [["UNIT", "KIND", "NOTE", "INITIAL", "IN", "OUT", "UNKNOWN", "COUNT", "VALUE"]]
    for row in view.units:
        c = row.counters
        note, value = row.note, row.value
        rows.append(
            [
                text(row.location.name),
                row.location.kind.value,
                "mixed" if note is None else str(note),
                str(c.initial),
                str(c.moved_in),
                str(c.moved_out),
                str(row.unknown),
                str(c.count),
                "-" if value is None else str(value),
            ]
        )
    lines += table(rows, "    ")
    totals = _totals(view.units)
    if totals:
        lines.append(f"    notes counted in cassettes: {', '.join(totals)}")
    lines.append("  positions:")
    rows = [["POSITION", "COUNT", "HOLDS"]]
    for p in view.positions:
        rows.append([text(p.name), str(p.count), holds_text(p.holds, text)])
    lines += table(rows, "    ")
    if view.in_flight:
        lines.append(f"  operations in flight: {len(view.in_flight)}")
        for token, movements in view.in_flight:
            moves = ", ".join(
                f"{text(m.source)}->{text(m.destination)} {m.count} x {text(m.item)}"
                for m in movements
            )
            lines.append(f"    token {'-' if token is None else token}: {moves}")
    else:
        lines.append("  operations in flight: none")
    lines.append(f"  notes of unknown movements: {view.unknown_notes}")
    if view.cash_in is not None:
        lines += render_cash_in(view.cash_in, text, table)
    return lines


def _totals(units: Sequence[CashUnitRow]) -> list[str]:
    by_currency: dict[str, Money] = {}
    for row in units:
        value = row.value
        if value is None or row.location.kind is not LocationKind.CASSETTE:
            continue
        total = by_currency.get(value.currency)
        by_currency[value.currency] = value if total is None else total + value
    return [str(v) for v in by_currency.values()]
