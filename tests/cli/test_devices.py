"""``tellerhal devices``: the registry as tables and as JSON."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pytest

from hal import registry
from tellerhal.cli.devices import probe_pcsc, probe_serial, probe_usb, render_probe
from tellerhal.cli.main import build_parser, main

# The machine's one pcscd and its vpcd ports: under pytest-xdist (--dist loadgroup) all
# of these tests run on one worker, one at a time.
pytestmark = pytest.mark.xdist_group("pcscd")


def test_the_sub_command_is_registered() -> None:
    args = build_parser().parse_args(["devices", "--json"])
    assert args.json is True
    assert args.func.__module__ == "tellerhal.cli.devices"


def test_json_lists_drivers_with_their_options(
    fake_driver: registry.DriverSpec, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["devices", "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    drivers = {d["name"]: d for d in listing["drivers"]}
    assert drivers["fake"] == {
        "name": "fake",
        "device_classes": ["card_reader"],
        "transports": [],
        "description": "A card reader that answers at once (tests only).",
        "options": [
            {"name": "profile", "type": "str", "default": "visa", "choices": []},
            {"name": "fail_open", "type": "bool", "default": "false", "choices": []},
            {"name": "retain_capacity", "type": "int", "default": "0", "choices": []},
            {"name": "ledger", "type": "Path | None", "default": "", "choices": []},
        ],
    }
    assert "sim" in drivers  # through the real entry point
    assert listing["errors"] == []
    assert isinstance(listing["transports"], list)


def test_tables(
    fake_driver: registry.DriverSpec,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(registry, "load_errors", lambda: ["entry point x = y failed to load"])
    assert main(["devices"]) == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert lines[0] == "Drivers"
    assert lines[1].split() == ["NAME", "DEVICES", "TRANSPORTS", "DESCRIPTION"]
    row = next(line for line in lines if line.startswith("  fake "))
    assert row.split(maxsplit=3) == [
        "fake",
        "card_reader",
        "-",
        "A card reader that answers at once (tests only).",
    ]
    start = lines.index("  fake options:")
    assert lines[start + 1].split() == ["OPTION", "TYPE", "DEFAULT"]
    assert lines[start + 2].split() == ["profile", "str", "visa"]
    assert lines[start + 3].split() == ["fail_open", "bool", "false"]
    assert lines[start + 5].split() == ["ledger", "Path", "|", "None", "''"]
    assert "Transports" in lines
    assert err == "tellerhal devices: entry point x = y failed to load\n"


@dataclass(frozen=True)
class _LineOptions:
    path: str
    parity: Literal["N", "E", "O"] = "N"


def test_transports_with_required_options_and_choices(
    capsys: pytest.CaptureFixture[str],
) -> None:
    spec = registry.TransportSpec("testline", _LineOptions, lambda a, o: None, "A test line.")
    registry.register(spec)
    try:
        assert main(["devices"]) == 0
    finally:
        registry.unregister("testline", transport=True)
    lines = capsys.readouterr().out.splitlines()
    transports = lines[lines.index("Transports") :]
    assert transports[1].split() == ["NAME", "DESCRIPTION"]
    assert ["testline", "A test line."] in [row.split(maxsplit=1) for row in transports[2:]]
    start = transports.index("  testline options:")
    assert transports[start + 2].split() == ["path", "str", "(required)"]
    assert transports[start + 3].split() == ["parity", "str", "(N|E|O)", "N"]


# --- --probe: this machine's hardware ------------------------------------------------------


def _sections(out: str) -> dict[str, list[str]]:
    """The probe's text by section heading (lines of each section, without the heading)."""
    sections: dict[str, list[str]] = {}
    current: list[str] = []
    for line in out.splitlines():
        if line and not line.startswith(" "):
            current = sections.setdefault(line, [])
        elif line:
            current.append(line)
    return sections


def _probe(*args: str, env: dict[str, str] | None = None) -> str:
    """``tellerhal devices --probe ARGS`` in a process of its own, as a person runs it
    (libusb, once loaded, keeps an event thread and a socket for the process's life)."""
    done = subprocess.run(
        [sys.executable, "-m", "tellerhal", "devices", "--probe", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    return done.stdout


def test_probe_lists_three_sections_on_this_machine() -> None:
    out = _probe()
    assert "Traceback" not in out
    sections = _sections(out)
    assert list(sections) == ["Serial ports", "USB devices", "PC/SC readers"]
    serial = sections["Serial ports"]
    assert serial[0].split() == ["DEVICE", "DESCRIPTION", "HWID"] or serial[0].strip() == (
        "no serial ports found"
    )
    assert any("/dev/serial/by-id" in line for line in serial)
    assert any("ptys are not listed" in line for line in serial)
    usb = sections["USB devices"]
    if usb[0].split()[0] == "VID:PID":
        assert all(re.match(r"^  [0-9a-f]{4}:[0-9a-f]{4} ", row) for row in usb[1:])
    else:
        assert len(usb) == 1
        assert usb[0].strip() in ("no USB bus on this machine", "no USB devices found") or (
            "no libusb backend" in usb[0]
        )
    pcsc = sections["PC/SC readers"]
    assert len(pcsc) >= 1
    assert all(line.startswith("  ") for line in pcsc)


def test_probe_as_json() -> None:
    found = json.loads(_probe("--json"))
    assert set(found) == {"serial", "usb", "pcsc"}
    assert isinstance(found["serial"]["ports"], list)
    assert isinstance(found["usb"]["devices"], list)
    assert isinstance(found["pcsc"]["readers"], list)
    for port in found["serial"]["ports"]:
        assert port["device"].startswith("/dev/")


def _pcscd_answers() -> bool:
    try:
        from smartcard import scard  # type: ignore[import-untyped]
    except ImportError:
        return False
    hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    if hresult != scard.SCARD_S_SUCCESS:
        return False
    scard.SCardReleaseContext(context)
    return True


def test_probe_lists_the_virtual_pcsc_reader() -> None:
    if not _pcscd_answers():
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true: pcscd with vpcd and pyscard must be there (.ci/run)")
        pytest.skip("no pcscd answering here, or no pyscard (.ci/run provides both)")
    assert "  Virtual PCD 00 00" in _sections(_probe())["PC/SC readers"]


def test_probe_says_when_pyscard_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("smartcard", "smartcard.System", "smartcard.pcsc.PCSCExceptions"):
        monkeypatch.setitem(sys.modules, name, None)
    found = probe_pcsc()
    assert found["error"] == "pyscard not installed (pip install tellerhal[pcsc])"
    lines = render_probe(
        {"serial": probe_serial(), "usb": {"devices": [], "note": "x"}, "pcsc": found}
    )
    assert _sections("\n".join(lines))["PC/SC readers"] == [
        "  pyscard not installed (pip install tellerhal[pcsc])"
    ]


def test_probe_says_when_pcscd_is_not_running(tmp_path: Path) -> None:
    """A client pointed at a socket nobody serves is a client with no pcscd."""
    if not _pcscd_answers() and os.environ.get("CI") != "true":
        pytest.skip("no pyscard here: the pyscard-missing line is tested above")
    env = {**os.environ, "PCSCLITE_CSOCK_NAME": str(tmp_path / "nobody.comm")}
    assert _sections(_probe(env=env))["PC/SC readers"] == [
        "  pcscd not running (no PC/SC service answered; start pcscd)"
    ]


def test_probe_with_an_unknown_usb_backend_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["devices", "--probe", "--usb-backend", "nosuch"]) == 0
    (line,) = _sections(capsys.readouterr().out)["USB devices"]
    assert "no pyusb backend is registered as 'nosuch'" in line


def test_usb_backend_without_probe_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["devices", "--usb-backend", "sim"]) == 2
    assert "--usb-backend goes with --probe" in capsys.readouterr().err


def test_probe_lists_a_device_on_a_registered_usb_backend() -> None:
    """The simulator's USB bus, through the real pyusb stack: what a probe shows of it."""
    from simulator.wire.usb import CRT310_USB, SimUsbDevice, default_bus

    with default_bus().plugged(SimUsbDevice(CRT310_USB)) as device:
        address = device.address
        found = probe_usb("sim")
    row = next(d for d in found["devices"] if d["address"] == address)
    assert row == {
        "vid_pid": "fffe:0310",
        "bus": default_bus().number,
        "address": address,
        "manufacturer": CRT310_USB.manufacturer,
        "product": "CRT-310 card reader (simulated)",
        "serial": "CRT310-0001",
    }
    lines = render_probe({"serial": probe_serial(), "usb": found, "pcsc": {"readers": ["r"]}})
    usb = _sections("\n".join(lines))["USB devices"]
    assert usb[0].split() == ["VID:PID", "BUS", "ADDRESS", "MANUFACTURER", "PRODUCT", "SERIAL"]
    assert any(line.split()[0] == "fffe:0310" and "CRT310-0001" in line for line in usb[1:])
