"""``tellerhal ledger``: what a ledger file says about the items its devices moved.

For operators and support staff. The file is opened read-only: no owner lock, no
migration, nothing written, so it can be read while the device process has it open.
For each device (or each ``--device``) it prints the locations with their kind, item,
capacity and derived counters, the movements still pending, the movements settled
``unknown`` that no count has resolved yet, and the broken invariants; for a cash
device also its cash units with their notes' value, what each position (stacker,
transport, exit) holds by note, and the operations in flight by token; for a cash
acceptor (a device with an escrow) its books of cash in too: the notes each unit took
in (deposited, retained, retracted) by note, what the escrow holds by note, and the
cash-in operations pending or unknown (`tellerhal.cli.ledger_cash`); ``--history N``
adds the last N movements with their outcome. ``--json`` prints one JSON object instead.

Each view is its own read transaction. Pending movements are read first, so a movement
settled while the report runs is shown twice (pending, and counted or unknown), never
missing; run again for a settled picture.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hal.errors import LedgerError
from hal.ledger import (
    Counters,
    Ledger,
    Location,
    Movement,
    MovementRecord,
    Settlement,
    Violation,
)
from tellerhal.cli.ledger_cash import CashView, cash_view, is_cash_device, render_view, view_json

__all__ = ["DeviceReport", "read_report", "register", "run"]

EXIT_OK = 0
EXIT_ATTENTION = 1
EXIT_UNREADABLE = 2

DESCRIPTION = """\
Show a ledger file: per device, its locations with their counters (initial, in, out,
unknown in/out, count), the movements still pending, the movements whose outcome is
unknown, and the invariant violations. The file is opened read-only and never changed;
the device process may keep it open meanwhile.
"""

EPILOG = """\
exit status: 0 nothing pending or unknown and no violation; 1 something needs an
operator (a pending or unknown movement, a violation); 2 the file is missing,
unreadable, not a ledger or of another schema version, or --device names no device
in it (one line on stderr).
"""


@dataclass(frozen=True, slots=True)
class DeviceReport:
    """What the ledger says about one device.

    Attributes:
        device: the device name.
        locations: its locations, by name.
        counters: the derived counters of its counted locations, by location name.
        pending: movements journalled but not settled, oldest first.
        unknown: movements settled ``unknown`` and not yet resolved by a count.
        violations: broken invariants of its locations.
        history: its latest movements, newest first; ``None`` when not asked for.
        cash: for a cash device (one with a cassette), its cash units, positions and
            operations in flight (`tellerhal.cli.ledger_cash`); else ``None``.
    """

    device: str
    locations: list[Location]
    counters: dict[str, Counters]
    pending: list[Movement]
    unknown: list[Movement]
    violations: list[Violation]
    history: list[MovementRecord] | None
    cash: CashView | None = None

    @property
    def needs_attention(self) -> bool:
        """Whether anything is pending, unknown or in violation."""
        return bool(self.pending or self.unknown or self.violations)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``ledger`` sub-command to the ``tellerhal`` parser."""
    parser = sub.add_parser(
        "ledger",
        help="show a ledger file: counters, pending and unknown movements",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("path", metavar="PATH", type=Path, help="the ledger's SQLite file")
    parser.add_argument(
        "--device",
        dest="devices",
        action="append",
        metavar="NAME",
        help="only this device (repeat for more); default: every device in the file",
    )
    parser.add_argument(
        "--history",
        type=_positive,
        metavar="N",
        help="also show each device's last N movements with their outcome",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    parser.set_defaults(func=run)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number above 0, got {value}")
    return value


def read_report(
    ledger: Ledger, devices: Sequence[str], history: int | None = None
) -> list[DeviceReport]:
    """Read every view of each device.

    Args:
        ledger: an open ledger (read-only is enough).
        devices: the devices to report on.
        history: how many of the latest movements to include; ``None`` for none.

    Returns:
        One report per device, in the order given.

    Raises:
        LedgerError: the journal cannot be read.
    """
    reports = []
    for device in devices:
        # Pending first: see the module docstring.
        pending = ledger.pending(device)
        counters = {c.location.name: c for c in ledger.counters(device)}
        locations = ledger.locations(device)
        unknown = ledger.unknown(device)
        cash = None
        if is_cash_device(locations):
            cash = cash_view(ledger, device, locations, counters, pending, unknown)
        reports.append(
            DeviceReport(
                device=device,
                locations=locations,
                counters=counters,
                pending=pending,
                unknown=unknown,
                violations=ledger.check_invariants(device),
                history=None if history is None else ledger.history(device, history),
                cash=cash,
            )
        )
    return reports


def run(args: argparse.Namespace) -> int:
    """Print the report; the exit status says whether it needs an operator."""
    path: Path = args.path
    if not path.exists():
        return _fail(f"{path}: no such file")
    if not path.is_file():
        return _fail(f"{path}: not a file")
    try:
        with Ledger.open(path, read_only=True) as ledger:
            schema = ledger.info().schema_version
            known = ledger.devices()
            wanted = list(dict.fromkeys(args.devices or known))
            absent = [name for name in wanted if name not in known]
            if absent:
                return _fail(
                    f"{path}: no device {', '.join(map(repr, absent))} in this ledger "
                    f"(devices: {', '.join(known) or 'none'})"
                )
            reports = read_report(ledger, wanted, args.history)
    except LedgerError as exc:
        return _fail(exc.message)
    except ValueError as exc:
        # A value the ledger model does not know (a location kind, an outcome): the file
        # was written by other code; report it rather than guess.
        return _fail(f"{path}: unexpected data in the ledger: {exc}")
    if args.json:
        print(json.dumps(_json(path, schema, reports), indent=2))
    else:
        print(_render(path, schema, reports))
    return EXIT_ATTENTION if any(r.needs_attention for r in reports) else EXIT_OK


def _fail(message: str) -> int:
    print(f"tellerhal ledger: {message}", file=sys.stderr)
    return EXIT_UNREADABLE


# ----------------------------------------------------------------------------- JSON


def _json(path: Path, schema: int, reports: list[DeviceReport]) -> dict[str, Any]:
    return {
        "path": str(path),
        "schema_version": schema,
        "devices": [_device_json(report) for report in reports],
        "summary": _summary(reports),
    }


def _summary(reports: list[DeviceReport]) -> dict[str, Any]:
    return {
        "pending": sum(len(r.pending) for r in reports),
        "unknown": sum(len(r.unknown) for r in reports),
        "violations": sum(len(r.violations) for r in reports),
        "needs_attention": any(r.needs_attention for r in reports),
    }


def _device_json(report: DeviceReport) -> dict[str, Any]:
    return {
        "device": report.device,
        "locations": [
            _location_json(loc, report.counters.get(loc.name)) for loc in report.locations
        ],
        "pending": [_movement_json(m) for m in report.pending],
        "unknown": [_movement_json(m) for m in report.unknown],
        "violations": [
            {
                "location": v.location,
                "rule": v.rule,
                "count": v.count,
                "capacity": v.capacity,
                "message": str(v),
            }
            for v in report.violations
        ],
        "history": None if report.history is None else [_record_json(r) for r in report.history],
        "cash": None if report.cash is None else view_json(report.cash),
    }


def _location_json(loc: Location, counters: Counters | None) -> dict[str, Any]:
    return {
        "name": loc.name,
        "kind": loc.kind.value,
        "item": loc.item,
        "capacity": loc.capacity,
        "counters": None if counters is None else _counters_json(counters),
    }


def _counters_json(c: Counters) -> dict[str, int]:
    return {
        "initial": c.initial,
        "in": c.moved_in,
        "out": c.moved_out,
        "unknown_in": c.unknown_in,
        "unknown_out": c.unknown_out,
        "count": c.count,
    }


def _movement_json(m: Movement) -> dict[str, Any]:
    return {
        "id": m.id,
        "source": m.source,
        "destination": m.destination,
        "item": m.item,
        "count": m.count,
        "command_id": m.command_id,
        "reason": m.reason,
        "journalled_at": m.journalled_at.isoformat(),
    }


def _record_json(record: MovementRecord) -> dict[str, Any]:
    return {**_movement_json(record.movement), "settlement": _settlement_json(record.settlement)}


def _settlement_json(s: Settlement | None) -> dict[str, Any] | None:
    if s is None:
        return None
    return {
        "outcome": s.outcome.value,
        "moved": s.moved,
        "detail": s.detail,
        "settled_at": s.settled_at.isoformat(),
    }


# ----------------------------------------------------------------------------- tables

_MOVEMENT_HEADER = ["ID", "JOURNALLED", "SOURCE", "DESTINATION", "ITEM", "COUNT", "COMMAND"]


def _render(path: Path, schema: int, reports: list[DeviceReport]) -> str:
    lines = [f"Ledger {_text(str(path))} (schema {schema}, opened read-only)"]
    if not reports:
        lines += ["", "No devices in this ledger."]
    for report in reports:
        lines += ["", *_render_device(report)]
    summary = _summary(reports)
    violations = summary["violations"]
    counts = (
        f"{summary['pending']} pending, {summary['unknown']} unknown, "
        f"{violations} violation{'' if violations == 1 else 's'}"
    )
    verdict = "needs attention" if summary["needs_attention"] else "ok"
    lines += ["", f"Summary: {counts}: {verdict}"]
    return "\n".join(lines)


def _render_device(report: DeviceReport) -> list[str]:
    lines = [_text(report.device)]
    rows = [["LOCATION", "KIND", "ITEM", "CAPACITY", "INITIAL", "IN", "OUT"]]
    rows[0] += ["UNKNOWN-IN", "UNKNOWN-OUT", "COUNT"]
    for loc in report.locations:
        row = [_text(loc.name), loc.kind.value, _text(loc.item), _number(loc.capacity)]
        c = report.counters.get(loc.name)
        if c is None:  # the customer: where items come from, never counted
            row += ["-"] * 6
        else:
            row += [str(n) for n in (c.initial, c.moved_in, c.moved_out)]
            row += [str(n) for n in (c.unknown_in, c.unknown_out, c.count)]
        rows.append(row)
    lines += _table(rows, "  ")
    if report.cash is not None:
        lines += render_view(report.cash, _text, _table)
    for title, movements in (("pending", report.pending), ("unknown", report.unknown)):
        lines.append(f"  {title} movements: {len(movements) or 'none'}")
        if movements:
            table = [[*_MOVEMENT_HEADER, "REASON"]]
            table += [[*_movement_cells(m), _text(m.reason)] for m in movements]
            lines += _table(table, "    ")
    lines.append(f"  violations: {len(report.violations) or 'none'}")
    lines += [f"    {_text(str(v))}" for v in report.violations]
    if report.history is not None:
        lines.append(f"  history: {_history_title(report.history)}")
        if report.history:
            table = [[*_MOVEMENT_HEADER, "OUTCOME", "MOVED", "SETTLED", "REASON", "DETAIL"]]
            table += [_record_cells(r) for r in report.history]
            lines += _table(table, "    ")
    return lines


def _history_title(history: list[MovementRecord]) -> str:
    if not history:
        return "none"
    return f"last {len(history)} movement{'s' if len(history) > 1 else ''}, newest first"


def _movement_cells(m: Movement) -> list[str]:
    return [
        str(m.id),
        _when(m.journalled_at),
        _text(m.source),
        _text(m.destination),
        _text(m.item),
        str(m.count),
        _number(m.command_id),
    ]


def _record_cells(record: MovementRecord) -> list[str]:
    s = record.settlement
    if s is None:
        outcome = ["pending", "-", "-", _text(record.movement.reason), "-"]
    else:
        outcome = [s.outcome.value, _number(s.moved), _when(s.settled_at)]
        outcome += [_text(record.movement.reason), _text(s.detail)]
    return [*_movement_cells(record.movement), *outcome]


def _table(rows: Sequence[Sequence[str]], indent: str) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        (indent + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True))).rstrip()
        for row in rows
    ]


def _when(at: datetime) -> str:
    if at.tzinfo is None:  # the journal stamps UTC; a bare time is taken as UTC
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _number(value: int | None) -> str:
    return "-" if value is None else str(value)


def _text(value: str) -> str:
    # Names and reasons come from the file: never let one move the operator's cursor or
    # hide a line with control characters. Empty text shows as "-".
    if not value:
        return "-"
    if value.isprintable():
        return value
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in value)
