"""``tellerhal sim`` in a second process and ``tellerhal sim-control`` against it: the
ready file in under 2 s, a client driving the reader, a graceful stop."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from pathlib import Path

import pytest

import hal
from hal.devices.card_reader import CardReader, MoveTarget, Track
from hal.errors import HalError
from tellerhal.cli.main import main
from tests.sim_process import ServerProcess, sim


def _control(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = main(["sim-control", *args])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


async def _read_and_eject(address: str, ready_file: Path) -> bytes | None:
    async with hal.open(address) as reader:
        assert isinstance(reader, CardReader)
        result = await reader.read_raw_data([Track.TRACK2], timeout=5)
        await reader.move(MoveTarget.EXIT, timeout=5)
        data = result.get(Track.TRACK2)
        return data.data if data is not None else None


def test_sim_starts_fast_and_another_process_drives_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with sim(tmp_path) as proc:
        # About 0.4 s on an idle box (docs/remote.md); the suite runs on 4 workers over 2
        # cores, so the wall-clock bound leaves room for a loaded machine while still
        # catching a start-up that went slow (an import of the world, a blocking probe).
        assert proc.started_in < 8.0, f"ready after {proc.started_in:.2f} s"
        ready = proc.ready
        assert set(ready) == {"endpoint", "control", "devices", "pid"}
        assert ready["pid"] == proc.proc.pid if proc.proc else False
        assert ready["endpoint"].startswith("tcp://127.0.0.1:")
        assert ready["control"].startswith("tcp://127.0.0.1:")
        assert ready["control"] != ready["endpoint"]
        assert ready["devices"] == {"card_reader": f"zmq://127.0.0.1:{proc.port}/card_reader"}
        assert proc.out.splitlines()[:2] == [
            f"card_reader {proc.address()}",
            f"control {proc.control}",
        ]
        rf = str(proc.ready_file)

        status, out, _ = _control(capsys, "--ready-file", rf, "insert-card", "visa")
        assert status == 0
        assert json.loads(out) == {
            "ok": True,
            "profile": "visa",
            "hasChip": True,
            "pan": "476173******0010",
        }
        track2 = asyncio.run(_read_and_eject(proc.address(), proc.ready_file))
        assert track2 is not None
        assert track2.startswith(b"4761739001010010=")
        assert _control(capsys, "--control", proc.control, "position")[1] == (
            '{"ok": true, "position": "exit"}\n'
        )
        # --timeout bounds the control request too: 2 s was too short on a loaded CI box.
        assert _control(capsys, "--ready-file", rf, "take-card", "--timeout", "10")[0] == 0
        assert json.loads(_control(capsys, "--ready-file", rf, "position")[1])["position"] == (
            "customer"
        )
        assert _control(capsys, "--ready-file", rf, "power", "off")[:2] == (0, '{"ok": true}\n')
        assert _control(capsys, "--ready-file", rf, "power", "on")[0] == 0
        assert _control(capsys, "--ready-file", rf, "slow", "0")[0] == 0
        assert _control(capsys, "--ready-file", rf, "retained")[1] == (
            '{"ok": true, "retained": 0}\n'
        )
        assert _control(capsys, "--ready-file", rf, "reset")[0] == 0

        status, out, err = _control(
            capsys, "--ready-file", rf, "--timeout", "0.1", "wait-for", "card_inside"
        )
        assert (status, out) == (1, "")
        assert err == (
            "tellerhal sim-control: HalTimeout: card_reader: card_inside did not happen "
            "within 0.1 s (the card is none)\n"
        )
        status, _, err = _control(capsys, "--ready-file", rf, "insert-card", "gold")
        assert status == 1
        assert err.startswith("tellerhal sim-control: InvalidData: no card profile named 'gold'")
        assert err.count("\n") == 1

        assert proc.stop() == 0
        assert not proc.ready_file.exists()  # removed on the way out
        assert "Traceback" not in proc.err


def test_sim_control_errors_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = _control(capsys, "--control", "tcp://127.0.0.1:1", "--timeout", "0.2", "jam")
    assert (status, out) == (1, "")
    assert err == (
        "tellerhal sim-control: ConnectionLost: tcp://127.0.0.1:1: cannot send "
        "Control.Jam within 0.2 s\n"
    )
    status, _, err = _control(capsys, "--ready-file", str(tmp_path / "none.json"), "jam")
    assert status == 2
    assert "cannot read the ready file" in err
    serve_ready = tmp_path / "serve.json"
    serve_ready.write_text('{"endpoint": "ipc:///x", "control": null, "devices": {}}')
    status, _, err = _control(capsys, "--ready-file", str(serve_ready), "jam")
    assert status == 2
    assert "names no control socket" in err
    assert _control(capsys, "--device", "Bad", "jam")[0] == 2
    assert _control(capsys, "slow", "-1")[0] == 2


def test_sim_refuses_what_it_cannot_serve(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["sim", "--endpoint", "tcp://10.1.2.3:0"]) == 2
    assert "plaintext TCP is refused" in capsys.readouterr().err
    assert main(["sim", "--clock-scale", "0"]) == 2
    assert main(["sim", "nosuchscenario"]) == 2
    assert "no scenario named 'nosuchscenario'" in capsys.readouterr().err
    assert main(["sim", "--customer"]) == 2
    assert main(["sim", "--endpoint", "ipc://@abstract"]) == 2
    assert "no zmq:// address reaches it" in capsys.readouterr().err
    # The control socket is held to the same rule: loopback only, without keys.
    assert main(["sim", "--endpoint", "tcp://127.0.0.1:0", "--control", "tcp://0.0.0.0:0"]) == 2
    assert "plaintext TCP is refused" in capsys.readouterr().err


def test_sim_stops_gracefully_on_sigint_with_a_command_pending(tmp_path: Path) -> None:
    with sim(tmp_path) as proc:

        async def pending_read() -> BaseException | None:
            # Short heartbeats: closing the reader finds the server gone in 0.3 s.
            async with hal.open(f"{proc.address()}?heartbeat=0.1") as reader:
                assert isinstance(reader, CardReader)
                read = asyncio.create_task(reader.read_raw_data([Track.TRACK2], timeout=30))
                await asyncio.sleep(0.2)  # the read waits for a card
                assert proc.proc is not None
                os.kill(proc.proc.pid, signal.SIGINT)
                try:
                    await read
                except HalError as exc:
                    return exc
            return None

        error = asyncio.run(pending_read())
        # The server cancelled the read and told us so before it went: no lost session.
        assert isinstance(error, HalError)
        assert error.completion.value == "canceled", repr(error)
        # SIGINT alone stops it: wait for its own exit (a SIGTERM sent now would land in
        # the middle of the graceful shutdown and be what ends it).
        assert proc.proc is not None
        assert proc.proc.wait(15) == 0, proc.err
        assert "Traceback" not in proc.err


def test_a_scenario_file_and_its_customer(tmp_path: Path) -> None:
    scenario = tmp_path / "walk_in.toml"
    scenario.write_text(
        'version = 1\nseed = 3\n[[customer]]\nwait_for = "gate_open"\n'
        'action = "insert_card"\nprofile = "mag_only"\n'
    )
    with ServerProcess(
        tmp_path, "sim", str(scenario), "--customer", "--endpoint", "tcp://127.0.0.1:0"
    ) as proc:

        async def read() -> bool:
            async with hal.open(proc.address()) as reader:
                assert isinstance(reader, CardReader)
                result = await reader.read_raw_data([Track.TRACK2], timeout=5)
                return result.get(Track.TRACK2) is not None

        assert asyncio.run(read())
        assert proc.stop() == 0
