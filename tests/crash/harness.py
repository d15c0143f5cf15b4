"""The crash harness (docs/crash.md): a model process that outlives a HAL process the
harness SIGKILLs at random instants, restarts and checks against the model's ground
truth.

`ModelProcess` runs ``python -m simulator.model_link`` (one model per run, long-lived).
`run_crashes` starts ``tests.crash.child`` over it again and again: each child opens the
cash dispenser over the same ledger file (reconciling what its killed predecessor left
pending), says ``ready``; the harness checks the books against the model, says ``go``,
waits for the child to reach a phase (drawn in turn from the phases still short of
kills) and kills it a random time into it. The phase the kill landed in is the last
``phase`` line the child printed. `CrashRun` tallies the kills and the checks.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import select
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hal.devices.cash_books import cut_after
from hal.ledger import Ledger, Outcome
from simulator.model_link_client import LinkControl

ROOT = Path(__file__).resolve().parents[2]
DEVICE = "cash_dispenser"
#: The cassettes of the lcdm profiles, as an lcdm address's ``units=`` says them.
LCDM_UNITS = {
    1000: "CNY:10000:2500",
    2000: "CNY:10000:2500,CNY:5000:2500",
    4000: "CNY:10000:2500,CNY:5000:2500,CNY:2000:2500,CNY:1000:2500",
}

#: The phases a run against a dispenser with a stacker must land kills in (the issue's
#: dispense, present, retract, and the customer's take).
STACKER_PHASES = ("dispense", "present", "retract", "take")
#: Real seconds into a phase the kill may land, by phase (about the phase's length at
#: clock scale 1: the model's pick time is 0.05 s a note, present and retract 0.5 s).
WINDOWS = {
    "dispense": 0.35,
    "present": 0.6,
    "retract": 0.6,
    "reject": 0.6,
    "take": 0.03,  # from the customer's call: the take, the event, the journal
    "exit_wait": 0.2,
    "reset": 0.6,
    "open": 0.4,
}


#: How the service settles what a reconcile finds (from its settlements' details).
RECONCILED = {
    "reconciled from the device's record": "from the device's record",
    "the device never got it": "not received",
    "the device cannot tell": "unknown",
    "taken while the HAL was down": "taken while the HAL was down",
    "found in the escrow after the HAL stopped": "from the escrow sensed",
    "the escrow still holds the notes after the HAL stopped": "from the escrow sensed",
}


class ModelProcess:
    """``python -m simulator.model_link`` in a process of its own.

    Args:
        directory: where its ready file and output go.
        profile: the model's profile.
    """

    def __init__(
        self,
        directory: Path,
        profile: str = "default",
        *,
        lcdm: bool = False,
        clock_scale: float = 1.0,
        device: str = DEVICE,
        wire: str | None = None,
    ) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self.ready_file = directory / "model-ready.json"
        self.args = [
            sys.executable,
            "-m",
            "simulator.model_link",
            "--profile",
            profile,
            "--endpoint",
            "tcp://127.0.0.1:0",
            "--ready-file",
            str(self.ready_file),
            "--clock-scale",
            str(clock_scale),
            "--device",
            device,
        ]
        self.clock_scale = clock_scale
        wire = "lcdm" if lcdm else wire
        if wire is not None:  # lcdm, id003 or ssp: the model behind its wire emulator
            self.args += [f"--{wire}-pty", str(directory / "pty")]
        self.proc: subprocess.Popen[bytes] | None = None
        self.ready: dict[str, Any] = {}

    def start(self, timeout: float = 20.0) -> ModelProcess:
        begin = time.monotonic()
        with open(self.directory / "model-stderr.txt", "ab") as err:
            self.proc = subprocess.Popen(
                self.args,
                cwd=ROOT,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=err,
                env={**os.environ, "PYTHONPATH": str(ROOT)},
            )
        while not self.ready_file.exists():
            if self.proc.poll() is not None or time.monotonic() - begin > timeout:
                self.stop()
                raise AssertionError(f"the model did not start: {self.stderr}")
            time.sleep(0.01)
        self.ready = json.loads(self.ready_file.read_text(encoding="utf-8"))
        return self

    @property
    def endpoint(self) -> str:
        return self.ready["endpoint"]

    @property
    def address(self) -> str:
        """The HAL's address of the model: ``simlink://...``, or for a model behind the
        LCDM emulator the ``lcdm+serial://`` address of its pty (the ``id003+serial://``
        or ``ssp+serial://`` one behind a validator's)."""
        protocol = self.ready.get("protocol")
        if self.ready.get("serial") and protocol == "id003":
            fast = "reply_timeout=0.5&poll_interval=0.01&note_timeout=5&retries=3"
            return f"id003+serial://{self.ready['serial']}?baud=115200&{fast}"
        if self.ready.get("serial") and protocol == "ssp":
            fast = "poll_interval=0.02&hold_interval=0.2&reply_timeout=0.5&retries=3"
            options = f"baud=115200&profile={self.ready['profile']}&{fast}"
            return f"ssp+serial://{self.ready['serial']}?{options}"
        if self.ready.get("serial"):
            number = int(self.ready["lcdm_model"])
            options = f"model={number}&units={LCDM_UNITS[number]}&baud=115200"
            return f"lcdm+serial://{self.ready['serial']}?{options}"
        return self.ready["address"]

    @property
    def stderr(self) -> str:
        path = self.directory / "model-stderr.txt"
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it lingers; always waited for."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.proc.wait()

    def __enter__(self) -> ModelProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def control_call(endpoint: str, name: str, target: str = "model", **args: object) -> object:
    """One control call from synchronous code."""
    return asyncio.run(LinkControl(endpoint, timeout=10).call(name, target=target, **args))


class Child:
    """One HAL child process; its stdout lines are read with a deadline."""

    def __init__(self, run: CrashRun, seed: int, *, setup: bool = False) -> None:
        args = [
            sys.executable,
            "-m",
            run.child_module,
            "--address",
            run.address,
            "--control",
            run.endpoint,
            "--ledger",
            str(run.ledger),
            "--seed",
            str(seed),
        ]
        if setup:
            args.append("--setup")
        if run.device != DEVICE:  # a cash-in child: the ledger's device name
            args += ["--books", run.device]
        self.stderr_path = run.directory / "child-stderr.txt"
        with open(self.stderr_path, "ab") as err:
            self.proc = subprocess.Popen(
                args,
                cwd=ROOT,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=err,
                env={**os.environ, "PYTHONPATH": str(ROOT)},
            )
        self.lines: list[str] = []
        self._buffer = b""

    def _read(self, timeout: float) -> bool:
        """Read what is there within ``timeout``; False at end of file."""
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        ready, _, _ = select.select([fd], [], [], max(timeout, 0))
        if not ready:
            return True
        chunk = os.read(fd, 65536)
        if not chunk:
            return False
        self._buffer += chunk
        *complete, self._buffer = self._buffer.split(b"\n")
        self.lines.extend(line.decode() for line in complete)
        return True

    def wait_line(self, wanted: str, timeout: float) -> bool:
        """Wait until a line equal to ``wanted`` was printed (True), or the child exited
        or ``timeout`` passed (False)."""
        deadline = time.monotonic() + timeout
        start = len(self.lines)
        while wanted not in self.lines[start:]:
            left = deadline - time.monotonic()
            if left <= 0 or not self._read(min(left, 0.05)):
                return wanted in self.lines[start:]
        return True

    def wait_seen(self, wanted: str, timeout: float) -> bool:
        """Like `wait_line`, counting lines printed before the call too."""
        return wanted in self.lines or self.wait_line(wanted, timeout)

    @property
    def phase(self) -> str:
        """The last phase the child said it entered."""
        for line in reversed(self.lines):
            if line.startswith("phase "):
                return line.removeprefix("phase ")
        return "start"

    def say(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()

    def kill(self) -> None:
        """SIGKILL; then read what it printed before it died."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        while self._read(0):
            pass

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()

    def failure(self, what: str) -> AssertionError:
        err = self.stderr_path.read_text(encoding="utf-8", errors="replace")
        return AssertionError(f"{what}; child said {self.lines[-5:]}; stderr:\n{err[-3000:]}")


@dataclass
class CrashRun:
    """One crash run's state and tallies.

    Attributes:
        allow_unknown: movements may settle unknown (a device that cannot tell what an
            interrupted operation did), but only movements that were pending at a kill.
        phases: the phases each kill is aimed at, in turn (the least-hit first).
        clock_scale: the model's clock scale (real seconds per simulated second).
    """

    directory: Path
    endpoint: str
    address: str
    allow_unknown: bool = False
    phases: tuple[str, ...] = (*STACKER_PHASES, "reject", "exit_wait")
    clock_scale: float = 1.0  # the model's: the kill windows scale with it
    device: str = DEVICE  # the ledger's device name
    child_module: str = "tests.crash.child"
    take_call: str = "take_notes"  # the control's method for the customer's take
    windows: dict[str, float] = field(default_factory=lambda: dict(WINDOWS))
    ledger: Path = field(init=False)
    child: Child | None = field(default=None, init=False)  # the one being checked
    stuck: bool = False  # a child said its books cannot move on (the run stops there)
    kills: Counter[str] = field(default_factory=Counter)
    mid_movement: int = 0  # kills that left a movement pending
    in_flight: set[int] = field(default_factory=set)  # ids of movements pending at a kill
    checks: int = 0
    unknowns: int = 0
    reconciled: Counter[str] = field(default_factory=Counter)  # movements, by how
    seconds: float = 0.0

    def __post_init__(self) -> None:
        self.ledger = self.directory / "cash.sqlite"

    # --- the checks ---------------------------------------------------------------------

    def check(self) -> None:
        """(a)-(c) of docs/crash.md, against the model's ground truth now."""
        control_call(self.endpoint, "wait_idle", target="link")
        truth_raw = control_call(self.endpoint, "ground_truth")
        assert isinstance(truth_raw, dict)
        truth = {str(k): int(v) for k, v in truth_raw.items()}
        with Ledger.open(self.ledger, read_only=True) as view:
            violations = view.check_invariants(self.device)
            counters = {c.location.name: c for c in view.counters(self.device)}
            records = view.history(self.device, limit=10**9)
            pending = view.pending(self.device)
            unknown = view.unknown(self.device)
        assert not pending, f"still pending after the reconcile: {pending}"
        self.reconciled = Counter()
        for record in records:
            detail = record.settlement.detail if record.settlement is not None else ""
            for mark, name in RECONCILED.items():
                if mark in detail:
                    self.reconciled[name] += 1
        # (a) the ledger's invariants, and every count replayed from the journal (from
        # the location's latest initial count on: a recount mid-run cuts it).
        assert not violations, violations
        replay: Counter[str] = Counter({name: c.initial for name, c in counters.items()})
        cuts = {name: cut_after(name, records, c) for name, c in counters.items()}
        for record in records:
            settlement, m = record.settlement, record.movement
            if settlement is not None and settlement.outcome is Outcome.DONE:
                assert settlement.moved is not None
                if m.id > cuts.get(m.source, 0):
                    replay[m.source] -= settlement.moved
                if m.id > cuts.get(m.destination, 0):
                    replay[m.destination] += settlement.moved
        for name, c in counters.items():
            assert c.initial + c.moved_in - c.moved_out == c.count
            if name != "customer":
                assert c.count == replay[name], (name, c, replay[name])
        # (b) every location against the ground truth, save what unknown movements touch.
        # Every movement settled unknown, also one a recount of one end no longer lists
        # (an acceptor's escrow recounted from what it senses: the note went out, to a
        # place not counted again, or to the customer).
        unknown = [
            r.movement
            for r in records
            if r.settlement is not None and r.settlement.outcome is Outcome.UNKNOWN
        ]
        unknown_ids = {m.id for m in unknown}
        self.unknowns = len(unknown_ids)
        if not self.allow_unknown:
            assert not unknown, f"settled unknown on a device that can tell: {unknown}"
        # ... or that the device itself reported uncertain (a validator's note jammed on
        # its way in: ``customer -> transport``, "may have moved, uncounted").
        uncertain = {m.id for m in unknown if m.reason.endswith("may have moved, uncounted")}
        stray = unknown_ids - self.in_flight - uncertain
        assert not stray, f"unknown movements that were not in flight at a kill: {stray}"
        # An unknown movement of n notes moved between 0 and n: a location may hold up to
        # what unknown movements could have brought in more than the ledger says, and up
        # to what they could have taken out less.
        could_in: Counter[str] = Counter()
        could_out: Counter[str] = Counter()
        for movement in unknown:
            could_out[movement.source] += movement.count
            could_in[movement.destination] += movement.count
        for location in sorted(set(truth) | set(replay)):
            difference = truth.get(location, 0) - replay.get(location, 0)
            assert -could_out[location] <= difference <= could_in[location], (
                f"{location}: the model holds {truth.get(location, 0)}, the ledger "
                f"{replay.get(location, 0)} (unknown movements: up to {could_in[location]} "
                f"in, {could_out[location]} out)"
            )
        # (c) nothing vanishes: all notes, the customer's included, add up, save the
        # notes of unknown movements an end of which was recounted after them (the
        # recount takes them off that end; where they went stays unknown).
        recounted = sum(
            m.count
            for m in unknown
            if m.id <= max(cuts.get(m.source, 0), cuts.get(m.destination, 0))
        )
        lost = sum(truth.values()) - sum(replay.values())
        assert abs(lost) <= recounted, (truth, dict(replay), recounted)
        self.checks += 1

    def note_pending(self) -> None:
        """After a kill: the movements it left pending are the ones in flight."""
        with Ledger.open(self.ledger, read_only=True) as view:
            pending = view.pending(self.device)
        if pending:
            self.mid_movement += 1
        self.in_flight.update(m.id for m in pending)

    # --- the run ------------------------------------------------------------------------

    def setup(self) -> None:
        """Initial counts from the model (a child that only does that)."""
        child = Child(self, 0, setup=True)
        try:
            if not child.wait_line("setup", 60):
                raise child.failure("the setup child did not finish")
        finally:
            child.close()

    def run(self, kills: int, seed: int) -> None:
        """``kills`` SIGKILLs, each followed by a restart and the checks."""
        rng = random.Random(seed)
        begin = time.monotonic()
        if not self.ledger.exists():
            self.setup()
        for n in range(kills):
            target = min(self.phases, key=lambda p: (self.kills[p], rng.random()))
            if rng.random() < 0.05:
                target = "open"
            child = Child(self, rng.randrange(2**32))
            try:
                self._one(child, target, rng)
            except BaseException:
                child.kill()
                child.close()
                raise
            child.close()
            if self.stuck:
                break
            assert n + 1 == sum(self.kills.values())
        # The last restart: reconcile, check, and close cleanly.
        child = Child(self, rng.randrange(2**32))
        try:
            if not child.wait_line("ready", 60):
                raise child.failure("the last child never got ready")
            self.child = child
            self.check()
            child.say("quit")
            if child.proc.wait(30) != 0:
                raise child.failure("the last child did not close cleanly")
        finally:
            child.close()
        self.seconds = time.monotonic() - begin

    def _one(self, child: Child, target: str, rng: random.Random) -> None:
        if target == "open":
            if not child.wait_line("phase open", 30):
                raise child.failure("the child never started")
            time.sleep(rng.uniform(0, self.windows["open"]))
            child.kill()
        else:
            if not child.wait_line("ready", 60):
                raise child.failure("the child never got ready")
            self.child = child
            self.check()
            child.say(f"go {target}")
            if not child.wait_line(f"phase {target}", 60):
                if "phase stuck" in child.lines:  # the books cannot move on: see docs
                    child.kill()
                    self.stuck = True
                    return
                raise child.failure(f"the child never reached {target}")
            customer = None
            if target == "take":
                # The parent is the customer: the kill lands before the take (taken while
                # the HAL is down), while the event is on its way, or around the journal.
                customer = threading.Thread(
                    target=control_call, args=(self.endpoint, self.take_call, "control")
                )
                customer.start()
            window = self.windows.get(target, 0.3)
            if target != "take":  # the take's window is the HAL's own work
                window *= self.clock_scale
            time.sleep(rng.uniform(0, window))
            if child.proc.poll() is not None:
                child.kill()  # reads what it printed
                if "phase stuck" in child.lines:  # the books cannot move on: see docs
                    self.stuck = True
                    if customer is not None:
                        customer.join()
                    return
                raise child.failure("the child exited before the kill")
            child.kill()
            if customer is not None:
                customer.join()
        phase = child.phase
        if phase == "open" and "ready" in child.lines:
            phase = "ready"  # reconciled and waiting: nothing in flight
        self.kills[phase] += 1
        self.note_pending()
        if phase == "stuck":  # killed just as it said its books cannot move on
            self.stuck = True

    def summary(self) -> str:
        phases = ", ".join(f"{p} {n}" for p, n in sorted(self.kills.items()))
        how = ", ".join(f"{n} {name}" for name, n in sorted(self.reconciled.items()))
        return (
            f"{sum(self.kills.values())} kills in {self.seconds:.1f} s ({phases}); "
            f"{self.mid_movement} left a movement pending; {self.checks} checks; "
            f"{self.unknowns} unknown; movements reconciled: {how or 'none'}"
        )
