"""``tellerhal devices``: the drivers and transports this installation knows.

Lists what the registry holds (entry points and `hal.registry.register()`): for each
driver its name (the address scheme), the device classes it opens, the transports it
runs over, a description and its options with their types and defaults; the same for
each transport. ``--json`` prints one JSON object instead of tables. Entry points that
failed to load are reported on stderr (and under ``errors`` in JSON).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

from hal import registry
from hal.options import describe_options

__all__ = ["describe", "register", "run"]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``devices`` sub-command to the ``tellerhal`` parser."""
    parser = sub.add_parser(
        "devices",
        help="list registered drivers and transports",
        description="List the drivers and transports addresses can name, with their options.",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    parser.set_defaults(func=run)


def describe() -> dict[str, Any]:
    """Every registered driver and transport, as plain data (what ``--json`` prints)."""
    return {
        "drivers": [
            {
                "name": spec.name,
                "device_classes": sorted(spec.device_classes),
                "transports": sorted(spec.transports),
                "description": spec.description,
                "options": _options(spec.options),
            }
            for spec in registry.drivers()
        ],
        "transports": [
            {"name": spec.name, "description": spec.description, "options": _options(spec.options)}
            for spec in registry.transports()
        ],
        "errors": registry.load_errors(),
    }


def _options(options_type: type[Any]) -> list[dict[str, Any]]:
    return [
        {"name": o.name, "type": o.type, "default": o.default, "choices": list(o.choices)}
        for o in describe_options(options_type)
    ]


def run(args: argparse.Namespace) -> int:
    """Print the listing; 0 always (broken plug-ins are reported, not fatal)."""
    listing = describe()
    if args.json:
        print(json.dumps(listing, indent=2))
        return 0
    for error in listing["errors"]:
        print(f"tellerhal devices: {error}", file=sys.stderr)
    print("Drivers")
    print(_render_specs(listing["drivers"], driver=True))
    print()
    print("Transports")
    print(_render_specs(listing["transports"], driver=False))
    return 0


def _table(rows: Sequence[Sequence[str]], indent: str = "  ") -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        (indent + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True))).rstrip()
        for row in rows
    ]


def _render_specs(specs: list[dict[str, Any]], *, driver: bool) -> str:
    if not specs:
        return "  (none registered)"
    header = ["NAME", "DEVICES", "TRANSPORTS", "DESCRIPTION"] if driver else ["NAME", "DESCRIPTION"]
    rows = [header]
    for spec in specs:
        if driver:
            devices = ", ".join(spec["device_classes"])
            rows.append([spec["name"], devices, ", ".join(spec["transports"]) or "-"])
        else:
            rows.append([spec["name"]])
        rows[-1].append(spec["description"])
    lines = _table(rows)
    for spec in specs:
        lines.append("")
        lines.append(f"  {spec['name']} options:")
        if not spec["options"]:
            lines.append("    (none)")
            continue
        option_rows = [["OPTION", "TYPE", "DEFAULT"]]
        for option in spec["options"]:
            default = option["default"]
            shown = "(required)" if default is None else (default or repr(default))
            kind = option["type"]
            if option["choices"]:
                kind += f" ({'|'.join(option['choices'])})"
            option_rows.append([option["name"], kind, shown])
        lines += _table(option_rows, indent="    ")
    return "\n".join(lines)
