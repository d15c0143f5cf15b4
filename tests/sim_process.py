"""A ``tellerhal sim`` (or ``serve``) in a real second process, for the tests.

`ServerProcess` starts ``python -m tellerhal ARGS... --ready-file F`` and waits for the
ready file; its output goes to files in the test's directory (a pipe nobody reads
could fill and block the server). `stop()` sends SIGTERM and waits; `kill()` sends
SIGKILL. Each test that starts one stops it before it ends, so the leak check sees
no child left.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import hal
from hal.devices.card_reader import CardReader
from simulator.remote_control import RemoteCardReaderControl
from tellerhal.conformance.card_reader import CardReaderHarness
from tellerhal.conformance.framework import Harness

ROOT = Path(__file__).resolve().parents[1]


class ServerProcess:
    """A tellerhal server process.

    Args:
        directory: where the ready file and the output files go.
        args: the sub-command and its arguments (without ``--ready-file``).
    """

    def __init__(self, directory: Path, *args: str) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.ready_file = directory / "ready.json"
        self.args = [sys.executable, "-m", "tellerhal", *args, "--ready-file", str(self.ready_file)]
        self.proc: subprocess.Popen[bytes] | None = None
        self.ready: dict[str, Any] = {}
        self.started_in = 0.0

    def start(self, timeout: float = 10.0) -> ServerProcess:
        """Start it and wait for its ready file.

        Raises:
            AssertionError: it exited, or wrote no ready file within ``timeout``.
        """
        self.ready_file.unlink(missing_ok=True)
        begin = time.monotonic()
        with (
            open(self.directory / "stdout.txt", "ab") as out,
            open(self.directory / "stderr.txt", "ab") as err,
        ):
            self.proc = subprocess.Popen(
                self.args, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=out, stderr=err
            )
        while not self.ready_file.exists():
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.args[3]} exited {self.proc.returncode}: {self.err}")
            if time.monotonic() - begin > timeout:
                self.kill()
                raise AssertionError(f"no ready file within {timeout} s: {self.err}")
            time.sleep(0.005)
        self.started_in = time.monotonic() - begin
        self.ready = json.loads(self.ready_file.read_text(encoding="utf-8"))
        return self

    @property
    def endpoint(self) -> str:
        return str(self.ready["endpoint"])

    @property
    def control(self) -> str:
        return str(self.ready["control"])

    @property
    def port(self) -> int:
        return int(self.endpoint.rpartition(":")[2])

    def address(self, device: str = "card_reader") -> str:
        return str(self.ready["devices"][device])

    @property
    def out(self) -> str:
        return (self.directory / "stdout.txt").read_text(encoding="utf-8", errors="replace")

    @property
    def err(self) -> str:
        return (self.directory / "stderr.txt").read_text(encoding="utf-8", errors="replace")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 15.0) -> int:
        """SIGTERM and wait; returns the exit status (killed if it does not stop)."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                raise AssertionError(f"no exit within {timeout} s of SIGTERM") from None
        return self.proc.wait()

    def kill(self) -> None:
        """SIGKILL and wait (nothing settles)."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait()

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.kill()


def sim(directory: Path, *args: str, clock_scale: float = 0.005) -> ServerProcess:
    """``tellerhal sim --endpoint tcp://127.0.0.1:0 --clock-scale X ARGS...`` (unstarted)."""
    return ServerProcess(
        directory,
        "sim",
        "--endpoint",
        "tcp://127.0.0.1:0",
        "--clock-scale",
        str(clock_scale),
        "--ledger",
        str(directory / "ledger.sqlite"),
        *args,
    )


# --- the contract suite over the wire ----------------------------------------------------

#: The sim process the ``zmq`` contract harness drives (set by a module-scoped fixture).
shared: ServerProcess | None = None


def zmq_harness(tmp_path: Path, patience: float = 1.0) -> CardReaderHarness:
    """The card reader of the shared ``tellerhal sim`` process, reached through
    ``hal.open("zmq://...")``; the stimulus is its control socket.

    The world is reset first (``Control.Reset``), so each case gets a clean reader.
    """
    assert shared is not None, "the zmq harness needs the sim process fixture"
    stimulus = RemoteCardReaderControl(shared.control)
    # A blocking call from a synchronous factory: run it on a thread of its own (its
    # loop, its ZeroMQ context), gone when it returns.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, stimulus.reset()).result(timeout=30)
    address = shared.address()

    def open_reader() -> CardReader:
        device = hal.open(address)
        assert isinstance(device, CardReader)
        return device

    return Harness(open=open_reader, stimulus=stimulus, patience=patience)
