"""``tellerhal serve`` in a second process (ipc by default, TCP only with CurveZMQ keys),
and ``tellerhal keys generate``."""

from __future__ import annotations

import asyncio
import json
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

import hal
from hal.devices.card_reader import CardReader, MediaStatus, Track
from hal.errors import ConnectionLost
from tellerhal.cli import serving
from tellerhal.cli.main import main
from tests.sim_process import ServerProcess

KIOSK = """
[card_reader]
address = "sim://card_reader?profile=visa&clock_scale=0.005"
"""


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """A short private directory for ipc:// sockets (socket paths are < 108 bytes)."""
    path = Path(tempfile.mkdtemp(prefix="ths-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def kiosk(tmp_path: Path) -> Path:
    path = tmp_path / "kiosk.toml"
    path.write_text(KIOSK)
    return path


async def _read(address: str) -> tuple[MediaStatus, bytes | None]:
    async with hal.open(address) as reader:
        assert isinstance(reader, CardReader)
        media = (await reader.status()).media
        result = await reader.read_raw_data([Track.TRACK2], timeout=5)
        track2 = result.get(Track.TRACK2)
        return media, track2.data if track2 is not None else None


def test_serve_on_ipc_in_a_private_directory(tmp_path: Path, kiosk: Path, short_dir: Path) -> None:
    socket_dir = short_dir / "run"
    endpoint = f"ipc://{socket_dir}/kiosk.sock"
    with ServerProcess(tmp_path / "out", "serve", str(kiosk), "--endpoint", endpoint) as proc:
        address = f"zmq+ipc://{socket_dir}/kiosk.sock/card_reader"
        assert proc.ready["endpoint"] == endpoint
        assert proc.ready["control"] is None  # serve never opens a control socket
        assert proc.ready["devices"] == {"card_reader": address}
        assert proc.out == f"card_reader {address}\n"
        assert stat.S_IMODE(socket_dir.stat().st_mode) == 0o700
        media, track2 = asyncio.run(_read(address))
        assert media is MediaStatus.ENTERING  # the profile's card waits in the slot
        assert track2 is not None
        assert proc.stop() == 0
        assert not (socket_dir / "kiosk.sock").exists()
        assert not proc.ready_file.exists()
        assert "Traceback" not in proc.err


def test_serve_refuses_plaintext_tcp_and_open_directories(
    kiosk: Path, short_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["serve", str(kiosk), "--endpoint", "tcp://127.0.0.1:0"]) == 2
    assert "plaintext TCP is refused" in capsys.readouterr().err
    short_dir.chmod(0o755)
    assert main(["serve", str(kiosk), "--endpoint", f"ipc://{short_dir}/k.sock"]) == 2
    assert "has mode 0755" in capsys.readouterr().err
    assert main(["serve", str(kiosk), "--endpoint", "ipc://@abstract"]) == 2
    assert "no zmq:// address reaches it" in capsys.readouterr().err


def test_serve_refuses_bad_arguments(
    tmp_path: Path, kiosk: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[card_reader]\naddress = "nosuchdriver://x"\n')
    assert main(["serve", str(bad)]) == 2
    assert "nosuchdriver" in capsys.readouterr().err
    assert main(["serve", str(kiosk), "--curve-secret", "x.key_secret"]) == 2
    assert "--curve-clients DIR or --curve-allow-any" in capsys.readouterr().err
    assert main(["serve", str(kiosk), "--curve-allow-any"]) == 2
    missing = str(tmp_path / "none.key_secret")
    assert main(["serve", str(kiosk), "--curve-secret", missing, "--curve-allow-any"]) == 2
    assert "cannot load the CURVE certificate" in capsys.readouterr().err
    assert main(["serve", str(kiosk), "--heartbeat", "0"]) == 2


def test_serve_over_tcp_with_curve_keys(
    tmp_path: Path, kiosk: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    keys = tmp_path / "keys"
    assert main(["keys", "generate", str(keys)]) == 0
    capsys.readouterr()
    args = ["--endpoint", "tcp://127.0.0.1:0", "--curve-secret", str(keys / "server.key_secret")]
    with ServerProcess(
        tmp_path / "out", "serve", str(kiosk), *args, "--curve-clients", str(keys / "clients")
    ) as proc:
        assert proc.address() == f"zmq://127.0.0.1:{proc.port}/card_reader"
        with_keys = (
            f"{proc.address()}?server_key={keys / 'server.key'}"
            f"&client_key={keys / 'client.key_secret'}"
        )
        _, track2 = asyncio.run(_read(with_keys))
        assert track2 is not None
        with pytest.raises(ConnectionLost, match="refused our CURVE key"):
            asyncio.run(_read(f"{proc.address()}?timeout=0.3"))
        assert proc.stop() == 0


def test_keys_generate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    keys = tmp_path / "k"
    assert main(["keys", "generate", str(keys)]) == 0
    out = capsys.readouterr().out
    assert f"--curve-secret {keys / 'server.key_secret'} --curve-clients {keys / 'clients'}" in out
    assert stat.S_IMODE(keys.stat().st_mode) == 0o700
    for name in ("server", "client"):
        assert stat.S_IMODE((keys / f"{name}.key_secret").stat().st_mode) == 0o600
        assert (keys / f"{name}.key").exists()
    assert (keys / "clients" / "client.key").read_bytes() == (keys / "client.key").read_bytes()
    assert not (keys / "clients" / "server.key").exists()
    # Never overwritten.
    before = (keys / "server.key_secret").read_bytes()
    assert main(["keys", "generate", str(keys)]) == 1
    assert "not overwriting" in capsys.readouterr().err
    assert (keys / "server.key_secret").read_bytes() == before
    assert main(["keys", "generate", str(keys), "--name", "kiosk-7"]) == 0
    assert (keys / "clients" / "kiosk-7.key").exists()
    assert main(["keys", "generate", str(keys), "--name", "../up"]) == 2


def test_the_default_ipc_directory(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(serving.os, "geteuid", lambda: 0)
    assert serving.default_ipc_dir() == Path("/run/tellerhal")
    monkeypatch.setattr(serving.os, "geteuid", lambda: 1000)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    assert serving.default_ipc_dir() == tmp_path / "tellerhal"
    monkeypatch.setenv("XDG_RUNTIME_DIR", "relative/dir")
    assert serving.default_ipc_dir() == Path(tempfile.gettempdir()) / "tellerhal-1000"
    monkeypatch.delenv("XDG_RUNTIME_DIR")
    assert serving.default_ipc_dir() == Path(tempfile.gettempdir()) / "tellerhal-1000"


def test_the_ready_file_is_written_whole_and_removed_only_by_its_writer(tmp_path: Path) -> None:
    ready = tmp_path / "ready.json"
    serving.write_ready_file(ready, "tcp://127.0.0.1:1", {"card_reader": "zmq://x:1/card_reader"})
    content = json.loads(ready.read_text())
    assert content["control"] is None
    assert list(tmp_path.iterdir()) == [ready]  # no temporary file left
    ready.write_text(json.dumps(content | {"pid": 1}))
    serving.remove_ready_file(ready)
    assert ready.exists()  # another process's file
    serving.write_ready_file(ready, "tcp://127.0.0.1:1", {})
    serving.remove_ready_file(ready)
    assert not ready.exists()
