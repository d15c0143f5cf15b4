"""The cash view of ``tellerhal ledger``: cash units, positions and notes in flight.

A device is a cash device when the ledger has a cassette for it. For such a device the
report adds:

- its cash units (cassettes, reject and retain units) with the note's value, the
  counters (initial, in, out, unknown, count) and the value of the notes counted;
- its positions (``stacker``, ``transport``, ``exit``...) with what they hold by note,
  found by replaying the movements settled ``done`` in settlement order: a move out of a
  cassette carries the cassette's note; a position hands notes on first in, first out
  (of the note named, when the movement names one). Notes the replay cannot name (a
  position's count set by hand, a ``*`` move out of an empty position) are shown as
  ``*``;
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
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hal.errors import InvalidData
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

__all__ = [
    "CashInOperation",
    "CashInView",
    "CashUnitRow",
    "CashView",
    "DepositRow",
    "PositionRow",
    "cash_view",
    "note_value",
]

#: The cash acceptor's positions (as `hal.devices.cash_in_model` names them).
ESCROW = "escrow"
CUSTOMER = "customer"
EXIT = "exit"
TRANSPORT = "transport"

#: Location kinds that are cash units (counted in the unit table).
UNIT_KINDS = (LocationKind.CASSETTE, LocationKind.REJECT, LocationKind.RETAIN)

#: How many movements the replay reads at most (the whole life of a device, in practice).
HISTORY_LIMIT = 10_000_000


def note_value(item: str) -> Money | None:
    """The value of one note of ``item`` (``CNY:10000`` is 100.00 CNY); ``None`` for
    ``*`` or an item that is not a note."""
    currency, sep, value = item.partition(":")
    if not sep or not value.isdigit():
        return None
    try:
        return Money(int(value), currency)
    except (InvalidData, TypeError):
        return None


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
class DepositRow:
    """One unit of a cash acceptor: the notes it took in, by note item.

    Attributes:
        location: the unit.
        deposited: notes stored from the escrow or the customer (credited).
        retained: notes taken as counterfeit or suspect (escrow to a retain unit).
        retracted: notes taken back from the exit or the transport.
    """

    location: Location
    deposited: Mapping[str, int]
    retained: Mapping[str, int]
    retracted: Mapping[str, int]


@dataclass(frozen=True, slots=True)
class CashInOperation:
    """A cash-in operation the books have not settled: its token, what it is (from its
    movements' shape) and its movements."""

    token: int | None
    what: str
    movements: list[Movement]

    @property
    def notes(self) -> int:
        """The most notes it may have moved: a cash-in plans the escrow's room for each
        enabled note (at most that many in all); the others name their notes."""
        if self.what == "cash-in":
            return max((m.count for m in self.movements), default=0)
        return sum(m.count for m in self.movements)


@dataclass(frozen=True, slots=True)
class CashInView:
    """A cash acceptor's books of cash in.

    Attributes:
        deposits: every unit with the notes it took in.
        escrow: what the escrow holds by note item (``*``: notes the replay cannot name).
        pending: the cash-in operations with movements still pending, oldest first
            (a recycler's dispenser operations are left out: see `CashView.in_flight`).
        unknown: the cash-in operations with movements settled ``unknown``.
    """

    deposits: list[DepositRow]
    escrow: Mapping[str, int]
    pending: list[CashInOperation]
    unknown: list[CashInOperation]

    @property
    def escrow_value(self) -> list[Money]:
        """The face value of the escrow's notes, by currency (unnamed notes left out)."""
        return _value_by_currency(self.escrow)


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
    records = _done_records(ledger, device)
    holds = _replay(records, kinds, position_names)
    positions = []
    for name in position_names:
        count = counters[name].count if name in counters else 0
        held = {item: n for item, n in holds.get(name, {}).items() if n}
        named = sum(n for item, n in held.items() if item != ANY_ITEM)
        held.pop(ANY_ITEM, None)
        if named > count:
            # A count set by hand since (an engineer emptied it): the replay's names no
            # longer hold; what is there is unnamed.
            held = {ANY_ITEM: count} if count > 0 else {}
        elif named < count:
            held[ANY_ITEM] = count - named  # what the replay cannot name: shown, not hidden
        positions.append(PositionRow(name, count, held))
    groups = _by_token(pending)
    cash_in = None
    if ESCROW in kinds and kinds[ESCROW].kind is LocationKind.POSITION:
        escrow = next(p.holds for p in positions if p.name == ESCROW)
        cash_in = CashInView(
            deposits=_deposits(records, [row.location for row in units]),
            escrow=dict(escrow),
            pending=_cash_in_operations(groups, kinds),
            unknown=_cash_in_operations(_by_token(unknown), kinds),
        )
    return CashView(
        units=units,
        positions=positions,
        in_flight=list(groups.items()),
        unknown_notes=sum(m.count for m in unknown),
        cash_in=cash_in,
    )


def _by_token(movements: Iterable[Movement]) -> dict[int | None, list[Movement]]:
    groups: dict[int | None, list[Movement]] = {}
    for movement in movements:
        groups.setdefault(movement.command_id, []).append(movement)
    return groups


def _cash_in_operations(
    groups: Mapping[int | None, list[Movement]], locations: Mapping[str, Location]
) -> list[CashInOperation]:
    """The operations of a cash acceptor among ``groups`` (a recycler's books also hold
    its dispenser side's: a dispense, a present or a reject is left to the cash view's
    operations in flight)."""
    operations = [CashInOperation(t, _what(ms, locations), ms) for t, ms in groups.items()]
    return [op for op in operations if op.what != "other"]


def _what(movements: Sequence[Movement], locations: Mapping[str, Location]) -> str:
    """What a cash acceptor's operation is, from where its movements go."""

    def unit(name: str) -> bool:
        loc = locations.get(name)
        return loc is not None and loc.kind in UNIT_KINDS

    pairs = {(m.source, m.destination) for m in movements}
    if any(src == CUSTOMER and dst in (ESCROW, TRANSPORT) for src, dst in pairs):
        return "cash-in"
    if any(src == TRANSPORT for src, _ in pairs) or (
        any(src == ESCROW for src, _ in pairs) and any(src == EXIT for src, _ in pairs)
    ):
        return "reset"
    if any(src == ESCROW and dst in (EXIT, CUSTOMER) for src, dst in pairs):
        return "rollback"
    if any(src == ESCROW and unit(dst) for src, dst in pairs):
        return "cash-in end"
    if any(src == EXIT and unit(dst) for src, dst in pairs):
        return "retract"
    if any(src == EXIT and dst == CUSTOMER for src, dst in pairs):
        return "items taken"
    return "other"


def _deposits(records: Sequence[MovementRecord], units: Sequence[Location]) -> list[DepositRow]:
    """Each unit's notes taken in, by kind of arrival and note item."""
    rows: dict[str, tuple[Location, dict[str, int], dict[str, int], dict[str, int]]] = {
        loc.name: (loc, {}, {}, {}) for loc in units
    }
    for record in records:
        movement, settlement = record.movement, record.settlement
        assert settlement is not None
        row = rows.get(movement.destination)
        moved = movement.count if settlement.moved is None else settlement.moved
        if row is None or moved <= 0:
            continue
        location, deposited, retained, retracted = row
        if movement.source in (EXIT, TRANSPORT):
            into = retracted
        elif movement.source == ESCROW and location.kind is LocationKind.RETAIN:
            into = retained
        elif movement.source in (ESCROW, CUSTOMER):
            into = deposited
        else:
            continue
        into[movement.item] = into.get(movement.item, 0) + moved
    return [DepositRow(*row) for row in rows.values()]


def _done_records(ledger: Ledger, device: str) -> list[MovementRecord]:
    """The device's movements settled ``done``, in settlement order."""
    records = [
        r
        for r in ledger.history(device, HISTORY_LIMIT)
        if r.settlement is not None and r.settlement.outcome is Outcome.DONE
    ]
    records.sort(key=lambda r: r.settlement.id if r.settlement is not None else 0)
    return records


def _replay(
    records: Sequence[MovementRecord], locations: Mapping[str, Location], positions: Sequence[str]
) -> dict[str, dict[str, int]]:
    """Each position's notes by item, from the movements settled ``done``."""
    queues: dict[str, list[list[Any]]] = {name: [] for name in positions}
    for record in records:
        movement, settlement = record.movement, record.settlement
        assert settlement is not None
        moved = movement.count if settlement.moved is None else settlement.moved
        if moved <= 0:
            continue
        if movement.source in queues:
            carried = _take(queues[movement.source], movement.item, moved)
        else:
            source = locations.get(movement.source)
            item = movement.item
            if item == ANY_ITEM and source is not None:
                item = source.item
            carried = [(item, moved)]
        if movement.destination in queues:
            queue = queues[movement.destination]
            for item, n in carried:
                if queue and queue[-1][0] == item:
                    queue[-1][1] += n
                else:
                    queue.append([item, n])
    result: dict[str, dict[str, int]] = {}
    for name, queue in queues.items():
        held: dict[str, int] = {}
        for item, n in queue:
            held[item] = held.get(item, 0) + n
        result[name] = held
    return result


def _take(queue: list[list[Any]], item: str, count: int) -> list[tuple[str, int]]:
    """Remove ``count`` notes (of ``item``, or any for ``*``) first in, first out."""
    taken: list[tuple[str, int]] = []
    left = count
    for entry in queue:
        if not left:
            break
        if item != ANY_ITEM and entry[0] != item:
            continue
        n = min(entry[1], left)
        if n:
            entry[1] -= n
            left -= n
            taken.append((entry[0], n))
    queue[:] = [entry for entry in queue if entry[1]]
    if left:
        taken.append((item, left))  # more than the replay knew of: named as journalled
    return taken


def money_json(money: Money | None) -> dict[str, Any] | None:
    """Money as ``{"minor": int, "currency": str}`` (never a float)."""
    return None if money is None else {"minor": money.minor, "currency": money.currency}


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
        "cash_in": None if view.cash_in is None else _cash_in_json(view.cash_in),
    }


def _cash_in_json(view: CashInView) -> dict[str, Any]:
    def operation(op: CashInOperation) -> dict[str, Any]:
        return {
            "token": op.token,
            "what": op.what,
            "movements": [m.id for m in op.movements],
            "notes": op.notes,
            "items": _items(op.movements),
        }

    return {
        "deposits": [
            {
                "name": row.location.name,
                "kind": row.location.kind.value,
                "deposited": dict(row.deposited),
                "retained": dict(row.retained),
                "retracted": dict(row.retracted),
                "value": [money_json(v) for v in _value_by_currency(row.deposited)],
            }
            for row in view.deposits
        ],
        "escrow": {
            "holds": dict(view.escrow),
            "notes": sum(view.escrow.values()),
            "value": [money_json(v) for v in view.escrow_value],
        },
        "pending": [operation(op) for op in view.pending],
        "unknown": [operation(op) for op in view.unknown],
    }


def _items(movements: Iterable[Movement]) -> dict[str, int]:
    found: dict[str, int] = {}
    for m in movements:
        found[m.item] = found.get(m.item, 0) + m.count
    return found


def _value_by_currency(notes: Mapping[str, int]) -> list[Money]:
    by_currency: dict[str, Money] = {}
    for item, n in sorted(notes.items()):
        note = note_value(item)
        if note is None:
            continue
        total = by_currency.get(note.currency)
        by_currency[note.currency] = note * n if total is None else total + note * n
    return list(by_currency.values())


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
        rows.append([text(p.name), str(p.count), _holds(p.holds, text)])
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
        lines += _render_cash_in(view.cash_in, text, table)
    return lines


def _render_cash_in(view: CashInView, text: Any, table: Any) -> list[str]:
    lines = ["  cash in:"]
    rows = [["UNIT", "KIND", "DEPOSITED", "VALUE", "RETAINED", "RETRACTED"]]
    for row in view.deposits:
        value = _value_by_currency(row.deposited)
        rows.append(
            [
                text(row.location.name),
                row.location.kind.value,
                _holds(row.deposited, text),
                ", ".join(str(v) for v in value) or "-",
                _holds(row.retained, text),
                _holds(row.retracted, text),
            ]
        )
    lines += table(rows, "    ")
    held = sum(view.escrow.values())
    face = ", ".join(str(v) for v in view.escrow_value)
    lines.append(
        f"    escrow holds {held} note(s)"
        + (f": {_holds(view.escrow, text)} ({face})" if held else "")
    )
    for title, operations in (("pending", view.pending), ("unknown", view.unknown)):
        if not operations:
            lines.append(f"    cash-in operations {title}: none")
            continue
        lines.append(f"    cash-in operations {title}: {len(operations)}")
        for op in operations:
            token = "-" if op.token is None else op.token
            if op.what == "cash-in":
                items = ", ".join(text(m.item) for m in op.movements)
                moves = f"customer->escrow up to {op.notes} note(s) of {items}"
            else:
                moves = ", ".join(
                    f"{text(m.source)}->{text(m.destination)} {m.count} x {text(m.item)}"
                    for m in op.movements
                )
            lines.append(f"      token {token} ({op.what}): {moves}")
    return lines


def _holds(holds: Mapping[str, int], text: Any) -> str:
    if not holds:
        return "-"
    parts = []
    for item, n in holds.items():
        note = note_value(item)
        parts.append(f"{n} x {'unnamed' if item == ANY_ITEM else note or text(item)}")
    return ", ".join(parts)


def _totals(units: Sequence[CashUnitRow]) -> list[str]:
    by_currency: dict[str, Money] = {}
    for row in units:
        value = row.value
        if value is None or row.location.kind is not LocationKind.CASSETTE:
            continue
        total = by_currency.get(value.currency)
        by_currency[value.currency] = value if total is None else total + value
    return [str(v) for v in by_currency.values()]
