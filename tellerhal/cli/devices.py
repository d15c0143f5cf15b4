"""``tellerhal devices``: the drivers and transports this installation knows.

Lists what the registry holds (entry points and `hal.registry.register()`): for each
driver its name (the address scheme), the device classes it opens, the transports it
runs over, a description and its options with their types and defaults; the same for
each transport. ``--json`` prints one JSON object instead of tables. Entry points that
failed to load are reported on stderr (and under ``errors`` in JSON).

``--probe`` lists instead the hardware this machine has, to build addresses from: serial
ports (pyserial's ``list_ports``; ptys are not among them, and ``/dev/serial/by-id``
names USB serial adapters stably), USB devices (pyusb: VID:PID, bus and address,
manufacturer and product where readable; ``--usb-backend NAME`` picks a pyusb backend
registered with `hal.transports.usb`, e.g. the simulator's ``sim``) and PC/SC readers
(pyscard, through pcscd). Each section that cannot look says why in one line.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hal import registry
from hal.errors import HalError
from hal.options import describe_options

__all__ = ["describe", "probe", "register", "render_probe", "run"]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``devices`` sub-command to the ``tellerhal`` parser."""
    parser = sub.add_parser(
        "devices",
        help="list registered drivers and transports",
        description="List the drivers and transports addresses can name, with their options.",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    parser.add_argument(
        "--probe",
        action="store_true",
        help="list this machine's serial ports, USB devices and PC/SC readers instead",
    )
    parser.add_argument(
        "--usb-backend",
        metavar="NAME",
        help="the pyusb backend to enumerate with (a name from hal.transports.usb)",
    )
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
    if args.probe:
        return _run_probe(args)
    if args.usb_backend is not None:
        print("tellerhal devices: --usb-backend goes with --probe", file=sys.stderr)
        return 2
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


# --- --probe: the hardware this machine has -----------------------------------------------

BY_ID = Path("/dev/serial/by-id")
PTY_NOTE = (
    "ptys are not listed: a simulator's pty is reached through its symlink "
    "(tellerhal sim, PtyBridge)"
)


def probe_serial(by_id: Path = BY_ID) -> dict[str, Any]:
    """Serial ports as pyserial lists them, and the stable names under ``by_id``."""
    section: dict[str, Any] = {"ports": [], "by_id": [], "note": PTY_NOTE}
    try:
        from serial.tools import list_ports
    except ImportError as exc:  # pyserial is a core dependency; say so if it is broken
        section["error"] = f"pyserial cannot list ports: {exc}"
        return section
    try:
        ports = sorted(list_ports.comports(), key=lambda p: p.device)
    except OSError as exc:
        section["error"] = f"cannot list serial ports: {exc}"
        return section
    for port in ports:
        section["ports"].append(
            {
                "device": port.device,
                "description": _known(port.description),
                "hwid": _known(port.hwid),
            }
        )
    try:
        links = sorted(by_id.iterdir()) if by_id.is_dir() else []
    except OSError:
        links = []
    for link in links:
        section["by_id"].append({"name": str(link), "target": os.path.realpath(link)})
    return section


def _known(text: str | None) -> str:
    return "" if text in (None, "n/a") else str(text)


def probe_usb(
    backend_name: str | None = None, sys_bus: Path = Path("/sys/bus/usb")
) -> dict[str, Any]:
    """USB devices as pyusb finds them (with ``backend_name``'s backend if given)."""
    section: dict[str, Any] = {"devices": [], "backend": backend_name or "default"}
    try:
        import usb.core  # type: ignore[import-untyped]
        import usb.util  # type: ignore[import-untyped]
    except ImportError as exc:
        section["error"] = f"pyusb is not installed: {exc}"
        return section
    backend = None
    if backend_name is not None:
        try:
            registry_module = importlib.import_module("hal.transports.usb")
            backend = registry_module.get_backend(backend_name)
        except ImportError:
            section["error"] = "this installation has no pyusb backend registry"
            return section
        except HalError as exc:
            section["error"] = str(exc)
            return section
    try:
        found = list(usb.core.find(find_all=True, backend=backend))
    except usb.core.NoBackendError:
        section["error"] = "no USB bus on this machine (no libusb backend could be loaded)"
        return section
    except (usb.core.USBError, OSError) as exc:
        section["error"] = f"cannot enumerate USB devices: {exc}"
        return section
    for device in found:
        section["devices"].append(
            {
                "vid_pid": f"{device.idVendor:04x}:{device.idProduct:04x}",
                "bus": device.bus,
                "address": device.address,
                "manufacturer": _usb_string(usb.util, device, "iManufacturer"),
                "product": _usb_string(usb.util, device, "iProduct"),
                "serial": _usb_string(usb.util, device, "iSerialNumber"),
            }
        )
    if not found and backend is None and not sys_bus.exists():
        section["note"] = "no USB bus on this machine"
    elif not found:
        section["note"] = "no USB devices found"
    return section


def _usb_string(util: Any, device: Any, field: str) -> str | None:
    """A string descriptor, or ``None`` when it is absent or unreadable (permissions)."""
    index = getattr(device, field, 0)
    if not index:
        return None
    try:
        return str(util.get_string(device, index))
    except Exception:  # USBError, ValueError (no langid), NotImplementedError...
        return None


def probe_pcsc() -> dict[str, Any]:
    """PC/SC readers through pcscd (pyscard)."""
    section: dict[str, Any] = {"readers": []}
    try:
        system = importlib.import_module("smartcard.System")
        exceptions = importlib.import_module("smartcard.pcsc.PCSCExceptions")
    except ImportError:
        section["error"] = "pyscard not installed (pip install tellerhal[pcsc])"
        return section
    try:
        names = system.readers()
    except exceptions.EstablishContextException:
        section["error"] = "pcscd not running (no PC/SC service answered; start pcscd)"
        return section
    except Exception as exc:  # pyscard's other errors: say what came, never a traceback
        section["error"] = f"cannot list PC/SC readers: {type(exc).__name__}: {exc}"
        return section
    section["readers"] = [str(name) for name in names]
    if not names:
        section["note"] = "pcscd runs but has no reader"
    return section


def probe(usb_backend: str | None = None) -> dict[str, Any]:
    """Every section of ``--probe``, as plain data."""
    return {
        "serial": probe_serial(),
        "usb": probe_usb(usb_backend),
        "pcsc": probe_pcsc(),
    }


def _run_probe(args: argparse.Namespace) -> int:
    found = probe(args.usb_backend)
    if args.json:
        print(json.dumps(found, indent=2))
        return 0
    print("\n".join(render_probe(found)))
    return 0


def render_probe(found: dict[str, Any]) -> list[str]:
    """The probe as text: one heading per section, a table or one line saying why not."""
    lines = ["Serial ports"]
    serial = found["serial"]
    if "error" in serial:
        lines.append(f"  {serial['error']}")
    elif serial["ports"]:
        rows = [["DEVICE", "DESCRIPTION", "HWID"]]
        rows += [[p["device"], p["description"] or "-", p["hwid"] or "-"] for p in serial["ports"]]
        lines += _table(rows)
    else:
        lines.append("  no serial ports found")
    if serial["by_id"]:
        lines.append(f"  {BY_ID}:")
        lines += [f"    {link['name']} -> {link['target']}" for link in serial["by_id"]]
    else:
        lines.append(f"  {BY_ID}: none (USB serial adapters appear there by serial number)")
    lines.append(f"  {serial['note']}")
    lines += ["", "USB devices"]
    usb = found["usb"]
    if "error" in usb:
        lines.append(f"  {usb['error']}")
    elif usb["devices"]:
        rows = [["VID:PID", "BUS", "ADDRESS", "MANUFACTURER", "PRODUCT", "SERIAL"]]
        for d in usb["devices"]:
            rows.append(
                [
                    d["vid_pid"],
                    str(d["bus"]),
                    str(d["address"]),
                    d["manufacturer"] or "-",
                    d["product"] or "-",
                    d["serial"] or "-",
                ]
            )
        lines += _table(rows)
    else:
        lines.append(f"  {usb['note']}")
    lines += ["", "PC/SC readers"]
    pcsc = found["pcsc"]
    if "error" in pcsc:
        lines.append(f"  {pcsc['error']}")
    elif pcsc["readers"]:
        lines += [f"  {name}" for name in pcsc["readers"]]
    else:
        lines.append(f"  {pcsc['note']}")
    return lines
