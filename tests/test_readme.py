"""The README's example runs, and its two set-up commands are the ones that work."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.S)


def test_the_app_developer_example_runs(tmp_path: Path) -> None:
    (example,) = _blocks("python")
    script = tmp_path / "example.py"
    script.write_text(example, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "status='ok'" in done.stdout
    assert "SW 9000" in done.stdout
    assert "InsertCard 1" in done.stdout
    assert "4761739001010010" not in done.stdout  # the test card's PAN never printed


def test_exactly_two_setup_commands_demo_and_ci() -> None:
    (setup,) = [b for b in _blocks("sh") if "tellerhal demo" in b]
    commands = [line for line in setup.splitlines() if line and not line.startswith("#")]
    assert len(commands) == 2
    assert commands[0].endswith("tellerhal demo")
    assert commands[1] == "./.ci/run"
    assert (ROOT / ".ci" / "run").stat().st_mode & 0o111, ".ci/run must be executable"
