"""`remote_address` (what servers print) inverts `remote_endpoint`; ipc files go away."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

import hal
from hal.address import DeviceAddress
from hal.errors import ConfigurationError
from hal.remote.registration import remote_address, remote_endpoint
from hal.remote.security import remove_ipc_socket


@pytest.mark.parametrize(
    ("endpoint", "address"),
    [
        ("tcp://127.0.0.1:5740", "zmq://127.0.0.1:5740/card_reader"),
        ("tcp://[::1]:5740", "zmq://[::1]:5740/card_reader"),
        ("tcp://0.0.0.0:5740", "zmq://127.0.0.1:5740/card_reader"),
        ("tcp://[::]:5740", "zmq://[::1]:5740/card_reader"),
        ("ipc:///run/tellerhal/kiosk.sock", "zmq+ipc:///run/tellerhal/kiosk.sock/card_reader"),
        ("ipc:///tmp/a b/k.sock", "zmq+ipc:///tmp/a%20b/k.sock/card_reader"),
    ],
)
def test_remote_address_is_what_remote_endpoint_reads(endpoint: str, address: str) -> None:
    assert remote_address(endpoint, "card_reader") == address
    parsed = DeviceAddress.parse(address)
    if "0.0.0.0" not in endpoint and "[::]" not in endpoint:
        assert remote_endpoint(parsed) == (endpoint, "card_reader")
    assert isinstance(hal.open(address), hal.CardReader)


@pytest.mark.parametrize("endpoint", ["inproc://x", "ipc://@abstract", "ipc://relative.sock"])
def test_no_address_reaches_some_endpoints(endpoint: str) -> None:
    with pytest.raises(ConfigurationError, match="no zmq:// address reaches it"):
        remote_address(endpoint, "card_reader")


def test_only_a_socket_file_is_removed(tmp_path: Path) -> None:
    path = tmp_path / "k.sock"
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(path))
    listener.close()
    plain = tmp_path / "plain"
    plain.write_text("mine")
    remove_ipc_socket(f"ipc://{path}")
    remove_ipc_socket(f"ipc://{plain}")
    remove_ipc_socket(f"ipc://{tmp_path / 'missing'}")
    remove_ipc_socket("ipc://@abstract")
    assert not path.exists()
    assert plain.exists()
