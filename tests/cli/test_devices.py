"""``tellerhal devices``: the registry as tables and as JSON."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

import pytest

from hal import registry
from tellerhal.cli.main import build_parser, main


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
