"""The cash-in view of ``tellerhal ledger``: a cash acceptor's books of cash in.

For a cash acceptor (a device with an ``escrow`` position) `tellerhal.cli.ledger_cash`
adds a `CashInView`: per unit the notes deposited (from the escrow or the customer),
retained (counterfeit and suspect notes, escrow to a retain unit) and retracted (from
the exit or the transport), by note; what the escrow holds by note and its face value;
and the cash-in operations still pending or settled ``unknown``, each named by what its
movements do (``cash-in``, ``cash-in end``, ``rollback``, ``retract``, ``reset``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hal.devices.cash_shared import is_acceptor_reason
from hal.ledger import Location, LocationKind, Movement, MovementRecord
from hal.money import Money
from tellerhal.cli.ledger_cash_notes import (
    CUSTOMER,
    ESCROW,
    EXIT,
    TRANSPORT,
    UNIT_KINDS,
    by_token,
    holds_text,
    money_json,
    value_by_currency,
)

__all__ = [
    "CashInOperation",
    "CashInView",
    "DepositRow",
    "cash_in_json",
    "cash_in_view",
    "render_cash_in",
]


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
        return value_by_currency(self.escrow)


def cash_in_view(
    records: Sequence[MovementRecord],
    units: Sequence[Location],
    escrow: Mapping[str, int],
    pending: Mapping[int | None, list[Movement]],
    unknown: Iterable[Movement],
    locations: Mapping[str, Location],
) -> CashInView:
    """The books of cash in, from the movements settled ``done`` (in settlement
    order), the cash units, what the escrow holds, the pending movements by token and
    the movements settled ``unknown``."""
    return CashInView(
        deposits=_deposits(records, units),
        escrow=dict(escrow),
        pending=_cash_in_operations(pending, locations),
        unknown=_cash_in_operations(by_token(unknown), locations),
    )


def _cash_in_operations(
    groups: Mapping[int | None, list[Movement]], locations: Mapping[str, Location]
) -> list[CashInOperation]:
    """The operations of a cash acceptor among ``groups``: those whose movements the
    acceptor's service journalled, told by their reason as the services tell them
    (`is_acceptor_reason`). A recycler's books also hold its dispenser side's (a
    dispense, a present, a retract, a reject), left to the cash view's operations in
    flight."""
    operations = []
    for token, movements in groups.items():
        ours = [m for m in movements if is_acceptor_reason(m.reason)]
        if ours:
            operations.append(CashInOperation(token, _what(ours, locations), ours))
    return operations


def _what(movements: Sequence[Movement], locations: Mapping[str, Location]) -> str:
    """The name of a cash acceptor's operation's kind, from where its movements go."""

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


def cash_in_json(view: CashInView) -> dict[str, Any]:
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
                "value": [money_json(v) for v in value_by_currency(row.deposited)],
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


def render_cash_in(view: CashInView, text: Any, table: Any) -> list[str]:
    lines = ["  cash in:"]
    rows = [["UNIT", "KIND", "DEPOSITED", "VALUE", "RETAINED", "RETRACTED"]]
    for row in view.deposits:
        value = value_by_currency(row.deposited)
        rows.append(
            [
                text(row.location.name),
                row.location.kind.value,
                holds_text(row.deposited, text),
                ", ".join(str(v) for v in value) or "-",
                holds_text(row.retained, text),
                holds_text(row.retracted, text),
            ]
        )
    lines += table(rows, "    ")
    held = sum(view.escrow.values())
    face = ", ".join(str(v) for v in view.escrow_value)
    lines.append(
        f"    escrow holds {held} note(s)"
        + (f": {holds_text(view.escrow, text)} ({face})" if held else "")
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
