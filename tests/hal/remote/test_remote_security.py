"""Who may reach a served device: the endpoint policy and CurveZMQ keys."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
import zmq
import zmq.auth

import hal
from hal.errors import ConfigurationError, ConnectionLost
from hal.remote import (
    ANY,
    CurveClientKeys,
    CurveServerKeys,
    RemoteCardReader,
    RemoteServer,
    check_endpoint_security,
)
from simulator.world import World


def keys() -> tuple[bytes, bytes]:
    public, secret = zmq.curve_keypair()
    return secret, public


@pytest.fixture
def server_keys() -> tuple[bytes, bytes]:
    return keys()


# --- the policy -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("endpoint", "simulator"),
    [
        ("tcp://127.0.0.1:5740", True),
        ("tcp://127.0.0.2:0", True),
        ("tcp://[::1]:5740", True),
        ("tcp://localhost:5740", True),
        ("inproc://kiosk", False),
        ("ipc://@tellerhal-sim", True),
    ],
)
def test_allowed_without_keys(endpoint: str, simulator: bool) -> None:
    check_endpoint_security(endpoint, None, simulator=simulator)


@pytest.mark.parametrize(
    ("endpoint", "simulator", "why"),
    [
        ("tcp://127.0.0.1:5740", False, "plaintext TCP is refused"),
        ("tcp://0.0.0.0:5740", True, "plaintext TCP is refused"),
        ("tcp://*:5740", True, "plaintext TCP is refused"),
        ("tcp://10.0.0.5:5740", True, "plaintext TCP is refused"),
        ("ipc://@tellerhal", False, "abstract socket"),
        ("udp://127.0.0.1:5740", True, "expected tcp://"),
        ("127.0.0.1:5740", True, "expected tcp://"),
    ],
)
def test_refused_without_keys(endpoint: str, simulator: bool, why: str) -> None:
    with pytest.raises(ConfigurationError, match=why):
        check_endpoint_security(endpoint, None, simulator=simulator)


def test_tcp_anywhere_with_keys(server_keys: tuple[bytes, bytes]) -> None:
    curve = CurveServerKeys(*server_keys, ANY)
    check_endpoint_security("tcp://0.0.0.0:5740", curve, simulator=False)


def test_an_ipc_directory_is_created_private(ipc_dir: Path) -> None:
    socket = ipc_dir / "run" / "tellerhal" / "kiosk.sock"
    check_endpoint_security(f"ipc://{socket}", None, simulator=False)
    assert (socket.parent.stat().st_mode & 0o777) == 0o700


def test_an_ipc_directory_open_to_others_is_refused(ipc_dir: Path) -> None:
    shared = ipc_dir / "shared"
    shared.mkdir(mode=0o755)
    shared.chmod(0o755)
    with pytest.raises(ConfigurationError, match="mode 0755"):
        check_endpoint_security(f"ipc://{shared}/kiosk.sock", None, simulator=True)


async def test_the_server_refuses_plaintext_tcp_and_opens_nothing(world: World) -> None:
    service = world.open_card_reader()
    served = RemoteServer({"card_reader": service}, "tcp://127.0.0.1:0")
    with pytest.raises(ConfigurationError, match="plaintext TCP is refused"):
        await served.start()
    assert not served.running
    assert not service.is_open


# --- keys -------------------------------------------------------------------------------


def test_keys_are_checked_and_never_printed(server_keys: tuple[bytes, bytes]) -> None:
    secret, public = server_keys
    client_secret, client_public = keys()
    curve = CurveServerKeys(secret, public, frozenset({client_public}))
    assert secret.decode() not in repr(curve)
    client = CurveClientKeys(client_secret, client_public, public)
    assert client_secret.decode() not in repr(client)
    with pytest.raises(ConfigurationError, match="does not belong"):
        CurveServerKeys(secret, client_public, ANY)
    with pytest.raises(ConfigurationError, match="40 characters"):
        CurveClientKeys(b"short", client_public, public)
    with pytest.raises(ConfigurationError, match="not Z85"):
        CurveServerKeys(secret, public, frozenset({b"~" * 40}))


def serve_curve(world: World, curve: CurveServerKeys) -> RemoteServer:
    return RemoteServer({"card_reader": world.open_card_reader()}, "tcp://127.0.0.1:0", curve=curve)


async def test_the_right_keys_work(world: World, server_keys: tuple[bytes, bytes]) -> None:
    secret, public = server_keys
    client_secret, client_public = keys()
    allowed = CurveServerKeys(secret, public, frozenset({client_public}))
    async with serve_curve(world, allowed) as served:
        curve = CurveClientKeys(client_secret, client_public, public)
        async with RemoteCardReader(served.endpoint, curve=curve, timeout=2) as reader:
            assert (await reader.status()).device.value == "online"


async def test_any_client_key_when_the_server_allows_any(
    world: World, server_keys: tuple[bytes, bytes]
) -> None:
    secret, public = server_keys
    async with serve_curve(world, CurveServerKeys(secret, public, ANY)) as served:
        curve = CurveClientKeys(*keys(), public)
        async with RemoteCardReader(served.endpoint, curve=curve, timeout=2) as reader:
            assert (await reader.status()).device.value == "online"


@pytest.mark.parametrize("wrong", ["client key", "server key", "no key"])
async def test_a_wrong_key_fails_the_handshake_clearly_within_the_timeout(
    world: World, server_keys: tuple[bytes, bytes], wrong: str
) -> None:
    secret, public = server_keys
    client_secret, client_public = keys()
    allowed = CurveServerKeys(secret, public, frozenset({client_public}))
    async with serve_curve(world, allowed) as served:
        if wrong == "client key":
            curve: CurveClientKeys | None = CurveClientKeys(*keys(), public)
        elif wrong == "server key":
            curve = CurveClientKeys(client_secret, client_public, keys()[1])
        else:
            curve = None
        reader = RemoteCardReader(served.endpoint, curve=curve, timeout=0.3)
        started = time.monotonic()
        with pytest.raises(ConnectionLost) as info:
            await reader.open()
        assert time.monotonic() - started < 1.5
        assert str(info.value) == (
            f"no answer from {served.endpoint} within 0.3 s: the server is down or "
            "refused our CURVE key"
        )
        assert served.session_count == 0


async def test_keys_from_certificate_files(world: World, tmp_path: Path) -> None:
    server_public_file, server_secret_file = zmq.auth.create_certificates(tmp_path, "server")
    clients = tmp_path / "clients"
    clients.mkdir()
    client_public_file, client_secret_file = zmq.auth.create_certificates(tmp_path, "client")
    os.rename(client_public_file, clients / "client.key")
    curve = CurveServerKeys.from_files(server_secret_file, clients)
    async with serve_curve(world, curve) as served:
        port = served.endpoint.rpartition(":")[2]
        query = f"server_key={server_public_file}&client_key={client_secret_file}&timeout=2"
        async with hal.open(f"zmq://127.0.0.1:{port}/card_reader?{query}") as reader:
            assert (await reader.status()).device.value == "online"
    with pytest.raises(ConfigurationError, match="no secret key"):
        CurveClientKeys.from_files(clients / "client.key", server_public_file)
