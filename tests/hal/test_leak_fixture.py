"""The root conftest's leak check fails tests that leak, and only those.

A separate pytest, in a subprocess with a copy of the root conftest, runs tests that
deliberately leave each kind of resource behind; its JUnit report must show each one
failing in teardown with the leak named, and the clean and opted-out ones passing.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

CONFTEST = Path(__file__).resolve().parents[1] / "conftest.py"

LEAKY_TESTS = """
import asyncio
import atexit
import os
import socket
import subprocess
import threading
import time

import pytest

_stop = threading.Event()
atexit.register(_stop.set)
_keep = []


def test_clean():
    pass


def test_thread():
    threading.Thread(target=_stop.wait, name="leaky-thread", daemon=True).start()


def test_thread_that_ends_within_the_grace_period():
    threading.Thread(target=time.sleep, args=(0.05,)).start()


def test_process():
    proc = subprocess.Popen(["sleep", "60"])
    atexit.register(proc.wait)
    atexit.register(proc.kill)


def test_socket():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    _keep.append(server)


def test_pty():
    _keep.extend(os.openpty())


async def test_task():
    asyncio.create_task(asyncio.sleep(3600), name="leaky-task")


async def test_task_that_ends_within_the_grace_period():
    asyncio.create_task(asyncio.sleep(0.01))


@pytest.fixture
async def fixture_with_task():
    task = asyncio.create_task(asyncio.sleep(3600), name="fixture-task")
    yield
    task.cancel()


async def test_task_owned_by_a_fixture_that_cancels_it(fixture_with_task):
    pass


@pytest.mark.leaks_ok("a server shared by later tests", kinds=("socket",))
def test_socket_allowed():
    sock = socket.socket()
    _keep.append(sock)


@pytest.mark.leaks_ok("a socket, not a thread", kinds=("socket",))
def test_thread_not_covered_by_the_opt_out():
    threading.Thread(target=_stop.wait, name="other-thread", daemon=True).start()


def test_clean_after_the_leaks():
    pass
"""


def _run(tmp_path: Path) -> dict[str, tuple[str, str]]:
    """Run the leaky tests; return test name -> (outcome, message)."""
    (tmp_path / "conftest.py").write_text(CONFTEST.read_text())
    (tmp_path / "test_leaky.py").write_text(textwrap.dedent(LEAKY_TESTS))
    (tmp_path / "pytest.ini").write_text(
        "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"
    )
    report = tmp_path / "report.xml"
    env = dict(os.environ, TELLERHAL_LEAK_GRACE="0.3")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", f"--junitxml={report}"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    outcomes: dict[str, tuple[str, str]] = {}
    for case in ET.parse(report).iter("testcase"):
        name = case.attrib["name"]
        problem = case.find("error")
        if problem is None:
            problem = case.find("failure")
        if problem is None:
            outcomes[name] = ("passed", "")
        else:
            outcomes[name] = (problem.tag, problem.attrib.get("message", ""))
    return outcomes


def test_the_leak_check_fails_each_kind_of_leak_and_names_it(tmp_path: Path) -> None:
    outcomes = _run(tmp_path)
    leaks = {
        "test_thread": "thread 'leaky-thread' (daemon=True, target=Event.wait)",
        "test_process": "'sleep 60' (state S)",
        "test_socket": "socket fd",
        "test_pty": "pty fd",
        "test_task": "asyncio task 'leaky-task' running sleep()",
        "test_thread_not_covered_by_the_opt_out": "thread 'other-thread'",
    }
    for name, fragment in leaks.items():
        outcome, message = outcomes[name]
        assert outcome == "error", (name, outcomes[name])
        assert "the test left behind:" in message, message
        assert fragment in message, (name, message)
    assert "tcp port" in outcomes["test_socket"][1]
    assert "/dev/pt" in outcomes["test_pty"][1]
    for name in (
        "test_clean",
        "test_thread_that_ends_within_the_grace_period",
        "test_task_that_ends_within_the_grace_period",
        "test_task_owned_by_a_fixture_that_cancels_it",
        "test_socket_allowed",
        "test_clean_after_the_leaks",
    ):
        assert outcomes[name] == ("passed", ""), (name, outcomes[name])
