"""Root conftest: every test runs under a leak check; fakes for the hal tests.

**The leak check** (autouse) fails a test that leaves behind:

- a **thread**: `threading.enumerate()` before and after, plus native threads (those of
  C libraries such as libzmq) from ``/proc/self/task``, named from ``comm``;
- a **process**: children of this process, from ``/proc/self/task/*/children`` (or a
  scan of ``/proc/*/stat`` for our pid as parent); a zombie nobody waited for counts;
- a **socket** or **pty**: file descriptors in ``/proc/self/fd`` whose link is
  ``socket:[inode]`` (described from ``/proc/net/{unix,tcp,tcp6,udp,udp6}``),
  ``/dev/ptmx`` or ``/dev/pts/N``;
- an asyncio **task** still pending when the test's function-scoped loop is about to
  close. pytest-asyncio 1.x runs each async test and its async fixtures in an
  ``asyncio.Runner`` held by the fixture ``_function_scoped_runner``; its teardown
  cancels whatever is left, silently. The fixture ``_no_pending_tasks`` requests that
  runner, so its teardown runs after every async fixture of the test has finished and
  before the runner closes the loop: what is pending then was leaked by the test. (It
  relies on that fixture name: if a pytest-asyncio upgrade renames it, the check fails
  loudly rather than passing silently.) Loops of a wider scope are shared across
  tests and are not checked.

Things that close asynchronously get a grace period (`GRACE` seconds) before a
difference counts. Threads, processes and descriptors are compared after all of the
test's fixtures are torn down (the check is the first autouse fixture, so the last to
finish); the failure is reported as an error in teardown, naming each leak.

Opt out, for a test that starts a resource meant to outlive it (a shared pcscd)::

    @pytest.mark.leaks_ok("pcscd", kinds=("process", "socket"))

The reason is required; ``kinds`` (any of `LEAK_KINDS`) defaults to all of them.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from hypothesis import settings

# Hypothesis' per-example deadline (200 ms) measures the machine's load as much as the
# code: on the 2-core CI box, with pty emulators and ZeroMQ servers running beside it, a
# fuzz example of a long address took 255 ms once and 120 ms on replay, which hypothesis
# reports as a flaky failure (and then spends minutes shrinking). Hangs are caught by
# pytest-timeout instead; a test that wants a speed bound measures it itself.
settings.register_profile("tellerhal", deadline=None)
settings.load_profile("tellerhal")

# pytest puts tests/ first on sys.path (to import this file), where tests/hal, a folder
# without __init__.py, would become a namespace package `hal` hiding the real one when
# the project is installed with an editable-install import hook (which runs after the
# path finder). The repository root goes first so `import hal` is always the real one.
_ROOT = str(Path(__file__).resolve().parents[1])
if sys.path[:1] != [_ROOT]:
    sys.path.insert(0, _ROOT)

from hal import registry  # noqa: E402


def _start_opencv_threads() -> None:
    """Load OpenCV (the `camera` extra) and start its worker threads now, once per
    process: importing cv2 starts native threads, and its first parallel call starts a
    pool that lives as long as the process. Started here, they are part of every test's
    baseline instead of a "leak" of whichever test first touched a picture."""
    try:
        import cv2
        import numpy
    except ImportError:  # the camera extra is not installed: the camera tests say so
        return
    frame = numpy.zeros((48, 64, 3), numpy.uint8)
    grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    cv2.Laplacian(grey, cv2.CV_64F).var()
    cv2.imencode(".jpg", frame)
    cv2.resize(frame, (640, 480))


_start_opencv_threads()

LEAK_KINDS = ("task", "thread", "process", "socket", "pty")
GRACE = float(os.environ.get("TELLERHAL_LEAK_GRACE", "1.0"))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "leaks_ok(reason, kinds=('task', 'thread', 'process', 'socket', 'pty')): the test "
        "may leave these behind (a resource shared across tests); reason says which",
    )
    # pytest-xdist registers it too; here so a run without xdist does not warn about it.
    config.addinivalue_line(
        "markers",
        "xdist_group(name): the test uses a machine-wide resource (the pcscd group): it holds "
        "the lock of that name from setup to teardown, so no two run at once (see _one_at_a_time)",
    )


def _allowed(item: pytest.Item) -> frozenset[str]:
    allowed: set[str] = set()
    for mark in item.iter_markers("leaks_ok"):
        if len(mark.args) != 1 or not isinstance(mark.args[0], str) or not mark.args[0]:
            pytest.fail(f"{item.nodeid}: leaks_ok needs one reason, e.g. leaks_ok('pcscd')")
        kinds = tuple(mark.kwargs.get("kinds", LEAK_KINDS))
        unknown = set(kinds) - set(LEAK_KINDS)
        if unknown or set(mark.kwargs) - {"kinds"}:
            pytest.fail(f"{item.nodeid}: leaks_ok kinds are {LEAK_KINDS}; got {mark.kwargs}")
        allowed.update(kinds)
    return frozenset(allowed)


# --- snapshots ---------------------------------------------------------------------------


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def _native_threads() -> dict[int, str]:
    tids = {}
    for tid in os.listdir("/proc/self/task"):
        tids[int(tid)] = _read(f"/proc/self/task/{tid}/comm").strip()
    return tids


def _children() -> dict[int, str]:
    pids: set[int] = set()
    tasks = os.listdir("/proc/self/task")
    if os.path.exists(f"/proc/self/task/{tasks[0]}/children"):
        for tid in tasks:
            pids.update(int(p) for p in _read(f"/proc/self/task/{tid}/children").split())
    else:
        me = os.getpid()
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                stat = _read(f"/proc/{entry}/stat")
                if stat and int(stat.rpartition(")")[2].split()[1]) == me:
                    pids.add(int(entry))
    out = {}
    for pid in pids:
        stat = _read(f"/proc/{pid}/stat")
        if not stat:
            continue  # gone and reaped meanwhile
        state = stat.rpartition(")")[2].split()[0]
        cmdline = _read(f"/proc/{pid}/cmdline").replace("\0", " ").strip()
        out[pid] = f"process {pid} {cmdline[:120]!r} (state {state})"
    return out


def _fds() -> dict[int, str]:
    out = {}
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue  # the directory's own descriptor, closed by now
        if target.startswith("socket:") or target == "/dev/ptmx" or target.startswith("/dev/pts/"):
            out[int(fd)] = target
    return out


_TCP_STATES = {"01": "established", "06": "time-wait", "07": "closed", "0A": "listening"}


def _sockets_by_inode() -> dict[str, str]:
    """inode -> a description of the socket, from /proc/net."""
    out: dict[str, str] = {}
    for line in _read("/proc/net/unix").splitlines()[1:]:
        cols = line.split()
        if len(cols) >= 7:
            out[cols[6]] = f"unix {cols[7] if len(cols) > 7 else '(unnamed)'}"
    for proto in ("tcp", "tcp6", "udp", "udp6"):
        for line in _read(f"/proc/net/{proto}").splitlines()[1:]:
            cols = line.split()
            if len(cols) >= 10:
                port = int(cols[1].rpartition(":")[2], 16)
                state = _TCP_STATES.get(cols[3], cols[3]) if proto.startswith("tcp") else ""
                out[cols[9]] = f"{proto} port {port} {state}".rstrip()
    return out


def _describe_fd(fd: int, target: str, sockets: Mapping[str, str]) -> str:
    if target.startswith("socket:"):
        inode = target[len("socket:[") : -1]
        return f"socket fd {fd} ({sockets.get(inode, target)})"
    return f"pty fd {fd} ({target})"


@dataclass
class _Snapshot:
    threads: set[threading.Thread] = field(default_factory=lambda: set(threading.enumerate()))
    native: dict[int, str] = field(default_factory=_native_threads)
    children: dict[int, str] = field(default_factory=_children)
    fds: dict[int, str] = field(default_factory=_fds)

    def leaks_since(self, before: _Snapshot, allowed: frozenset[str]) -> list[str]:
        leaks = []
        if "thread" not in allowed:
            python = {t.native_id for t in self.threads}
            leaks += [
                f"thread {t.name!r} (daemon={t.daemon}, target={_target(t)})"
                for t in self.threads - before.threads
                if t.is_alive()
            ]
            leaks += [
                f"native thread {tid} {comm!r}"
                for tid, comm in self.native.items()
                if tid not in before.native and tid not in python
            ]
        if "process" not in allowed:
            leaks += [d for pid, d in self.children.items() if pid not in before.children]
        new_fds = {fd: t for fd, t in self.fds.items() if before.fds.get(fd) != t}
        if new_fds:
            sockets = _sockets_by_inode()
            for fd, target in new_fds.items():
                kind = "socket" if target.startswith("socket:") else "pty"
                if kind not in allowed:
                    leaks.append(_describe_fd(fd, target, sockets))
        return leaks


def _target(thread: threading.Thread) -> str:
    target = getattr(thread, "_target", None)
    return getattr(target, "__qualname__", None) or type(thread).__qualname__


@pytest.fixture(autouse=True)
def _no_leaks(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail the test if it leaves a thread, process, socket or pty behind."""
    allowed = _allowed(request.node)
    before = _Snapshot()
    yield
    deadline = time.monotonic() + GRACE
    while True:
        leaks = _Snapshot().leaks_since(before, allowed)
        if not leaks or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    leaks += request.node.stash.get(_PENDING_TASKS, [])
    if leaks:
        pytest.fail("the test left behind:\n  " + "\n  ".join(leaks), pytrace=False)


_PENDING_TASKS = pytest.StashKey[list[str]]()


@pytest.fixture(autouse=True)
def _no_pending_tasks(request: pytest.FixtureRequest, _no_leaks: None) -> Iterator[None]:
    """Record the asyncio tasks an async test leaves pending on its loop.

    It depends on `_no_leaks` so that its teardown (which records) runs first.
    """
    item = request.node
    if not pytest_asyncio.is_async_test(item) or "task" in _allowed(item):
        yield
        return
    marker = item.get_closest_marker("asyncio")
    scope = (marker.kwargs.get("loop_scope") if marker else None) or item.config.getini(
        "asyncio_default_test_loop_scope"
    )
    if scope != "function":
        yield
        return
    runner: asyncio.Runner = request.getfixturevalue("_function_scoped_runner")
    yield
    loop = runner.get_loop()
    pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
    if pending:
        runner.run(asyncio.wait(pending, timeout=GRACE))
        item.stash[_PENDING_TASKS] = [_describe_task(t) for t in pending if not t.done()]


@pytest.fixture(autouse=True)
def _one_at_a_time(request: pytest.FixtureRequest) -> Iterator[None]:
    """Run the tests of an ``xdist_group`` one at a time on this machine.

    The group's tests share something there is one of per machine (``pcscd``: the one
    pcscd and its two vpcd slots; some tests stop and restart it). The test holds an
    exclusive lock on ``tellerhal-<group>.lock`` in the temporary directory from before
    its fixtures are set up until after they are torn down: the other xdist workers
    (``.ci/run`` runs ``pytest -n``), and any other pytest run on the machine, wait for
    it. pytest-xdist's ``--dist loadgroup`` would keep a group on one worker instead, but
    with pytest 9.2 it silently does not (pytest-xdist issue 1386: the ``@group`` it
    appends to node ids no longer sticks), and a lock holds under any scheduling.
    """
    names = sorted(
        {
            str(m.args[0] if m.args else m.kwargs.get("name", "default"))
            for m in request.node.iter_markers("xdist_group")
        }
    )
    if not names:
        yield
        return
    fds = []
    try:
        for name in names:  # sorted: two tests never wait for each other's second lock
            path = os.path.join(tempfile.gettempdir(), f"tellerhal-{name}.lock")
            fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
            fds.append(fd)
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        for fd in reversed(fds):
            os.close(fd)  # releases the lock


def _describe_task(task: asyncio.Task[Any]) -> str:
    coro = task.get_coro()
    name = getattr(coro, "__qualname__", repr(coro))
    where = ""
    stack = task.get_stack(limit=1)
    if stack:
        code = stack[0].f_code
        where = f" at {Path(code.co_filename).name}:{stack[0].f_lineno}"
    return f"asyncio task {task.get_name()!r} running {name}(){where}"


@pytest.fixture
def fake_driver() -> Iterator[registry.DriverSpec]:
    """The fake card-reader driver, registered as ``fake`` for the test."""
    from tests.fake_card_reader import FAKE_DRIVER

    registry.register(FAKE_DRIVER)
    try:
        yield FAKE_DRIVER
    finally:
        registry.unregister(FAKE_DRIVER.name)
