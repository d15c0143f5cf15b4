"""The layers of DESIGN.md, enforced: every module's imports, read with `ast`.

    tellerhal/   may import anything
    simulator/   hal, protocols (never drivers, never tellerhal)
    drivers/     hal, protocols (never simulator, never tellerhal)
    hal/         protocols (never simulator, drivers or tellerhal: it knows no vendor
                 and no simulator, which reach it through the registry)
    protocols/   the standard library, construct, cryptography and itself only

Imports inside functions and under ``TYPE_CHECKING`` count the same as the others.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
OURS = ("hal", "drivers", "simulator", "protocols", "tellerhal")

# For each layer: which of our packages it must not import.
FORBIDDEN: dict[str, frozenset[str]] = {
    "protocols": frozenset({"hal", "drivers", "simulator", "tellerhal"}),
    "hal": frozenset({"drivers", "simulator", "tellerhal"}),
    "drivers": frozenset({"simulator", "tellerhal"}),
    "simulator": frozenset({"drivers", "tellerhal"}),
    "tellerhal": frozenset(),
}
# Third-party packages protocols may use (DESIGN: "Imports only construct, stdlib,
# cryptography").
PROTOCOLS_THIRD_PARTY = frozenset({"construct", "cryptography"})


def imported_modules(source: str, module: str, is_package: bool) -> Iterator[tuple[int, str]]:
    """(line, absolute module name) of every import in ``source``, relative ones resolved."""
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1])
                name = f"{base}.{node.module}" if node.module else base
            else:
                name = node.module or ""
            yield node.lineno, name


def violations(source: str, module: str, is_package: bool = False) -> list[str]:
    """What ``source`` (the module ``module``) imports that its layer may not."""
    layer = module.split(".")[0]
    found = []
    for line, name in imported_modules(source, module, is_package):
        top = name.split(".")[0]
        if top in FORBIDDEN[layer]:
            found.append(f"{module}:{line} imports {name} ({layer} must not import {top})")
        elif (
            layer == "protocols"
            and top not in OURS
            and top not in sys.stdlib_module_names
            and top not in PROTOCOLS_THIRD_PARTY
            and top != "__future__"
        ):
            found.append(
                f"{module}:{line} imports {name} (protocols imports only the standard "
                f"library, {', '.join(sorted(PROTOCOLS_THIRD_PARTY))} and itself)"
            )
    return found


def modules() -> Iterator[tuple[str, Path]]:
    for package in OURS:
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = path.relative_to(ROOT).with_suffix("")
            parts = relative.parts[:-1] if relative.name == "__init__" else relative.parts
            yield ".".join(parts), path


MODULES = list(modules())


def test_every_package_is_read() -> None:
    found = {name.split(".")[0] for name, _ in MODULES}
    assert found == set(OURS)
    assert len(MODULES) > 40


@pytest.mark.parametrize(("module", "path"), MODULES, ids=[name for name, _ in MODULES])
def test_module_respects_its_layer(module: str, path: Path) -> None:
    source = path.read_text(encoding="utf-8")
    assert violations(source, module, path.name == "__init__.py") == []


@pytest.mark.parametrize(
    ("module", "source", "expected"),
    [
        ("hal.device", "import simulator.world", "hal must not import simulator"),
        ("hal.x", "def f():\n    from tellerhal import demo", "hal must not import tellerhal"),
        ("drivers.cash.lcdm", "from simulator.models import x", "drivers must not import"),
        ("simulator.wire.pty", "import drivers.card_reader.crt310", "simulator must not import"),
        ("simulator.x", "from tellerhal.cli import main", "simulator must not import"),
        ("protocols.tlv", "from hal.errors import HalError", "protocols must not import hal"),
        ("protocols.tlv", "import serial", "imports only the standard library"),
    ],
)
def test_the_checker_catches_violations(module: str, source: str, expected: str) -> None:
    (found,) = violations(source, module)
    assert expected in found


def test_relative_imports_resolve_inside_their_package() -> None:
    source = "from . import tracks\nfrom .errors import X\nfrom ..device import Y"
    assert [name for _, name in imported_modules(source, "hal.devices.card_reader", False)] == [
        "hal.devices",
        "hal.devices.errors",
        "hal.device",
    ]
    assert [name for _, name in imported_modules("from . import a", "hal.ledger", True)] == [
        "hal.ledger"
    ]


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("protocols.tlv", "import struct\nfrom construct import Struct\nfrom . import tracks"),
        ("protocols.crt310", "from protocols.crt310_frames import Frame"),
        ("hal.device", "from protocols.errors import HalError\nfrom .events import Event"),
        ("simulator.world", "from hal.devices import card_reader\nimport protocols.tlv"),
        ("tellerhal.demo", "import simulator.world\nimport drivers"),
    ],
)
def test_the_checker_allows_what_the_layers_allow(module: str, source: str) -> None:
    assert violations(source, module) == []
