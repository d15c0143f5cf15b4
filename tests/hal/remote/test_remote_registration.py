"""The ``zmq`` driver: addresses, options, the registry and the entry point."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

import pytest

import hal
from hal import registry
from hal.address import DeviceAddress
from hal.errors import ConfigurationError
from hal.remote import RemoteCardReader, RemoteCashAcceptor, RemoteCashDispenser, RemotePinPad
from hal.remote.registration import ZMQ_DRIVER, ZmqOptions, remote_endpoint


@pytest.mark.parametrize(
    ("address", "endpoint", "device"),
    [
        ("zmq://127.0.0.1:5740/card_reader", "tcp://127.0.0.1:5740", "card_reader"),
        ("zmq://[::1]:5740/card_reader", "tcp://[::1]:5740", "card_reader"),
        ("zmq://kiosk.local:1/card_reader", "tcp://kiosk.local:1", "card_reader"),
        (
            "zmq+ipc:///run/tellerhal/kiosk.sock/card_reader",
            "ipc:///run/tellerhal/kiosk.sock",
            "card_reader",
        ),
    ],
)
def test_addresses_name_an_endpoint_and_a_device(address: str, endpoint: str, device: str) -> None:
    assert remote_endpoint(DeviceAddress.parse(address)) == (endpoint, device)


@pytest.mark.parametrize(
    "address",
    [
        "zmq://127.0.0.1:5740",
        "zmq://127.0.0.1:5740/",
        "zmq://127.0.0.1/card_reader",
        "zmq://127.0.0.1:0/card_reader",
        "zmq://127.0.0.1:70000/card_reader",
        "zmq://:5740/card_reader",
        "zmq://127.0.0.1:5740/a/card_reader",
        "zmq+ipc://host/run/x.sock/card_reader",
        "zmq+ipc:///card_reader",
    ],
)
def test_bad_addresses_are_refused(address: str) -> None:
    with pytest.raises(ConfigurationError):
        hal.open(address)


def test_hal_open_builds_a_remote_reader_with_its_options() -> None:
    device = hal.open("zmq://127.0.0.1:5740/card_reader?timeout=0.5&heartbeat=0.2")
    assert isinstance(device, RemoteCardReader)
    assert device.endpoint == "tcp://127.0.0.1:5740"
    assert device.name == "card_reader"
    assert isinstance(hal.open("zmq+ipc:///tmp/x.sock/card_reader"), RemoteCardReader)


@pytest.mark.parametrize(
    ("query", "why"),
    [
        ("timeout=0", "timeout must be > 0"),
        ("heartbeat=-1", "heartbeat must be > 0"),
        ("server_key=/tmp/s.key", "both server_key and client_key"),
        ("colour=red", "unknown option 'colour'"),
    ],
)
def test_bad_options_are_refused(query: str, why: str) -> None:
    with pytest.raises(ConfigurationError, match=why):
        hal.open(f"zmq://127.0.0.1:5740/card_reader?{query}")


def test_hal_open_builds_a_remote_pin_pad() -> None:
    device = hal.open("zmq://127.0.0.1:5740/pin_pad?timeout=0.5")
    assert isinstance(device, RemotePinPad)
    assert device.endpoint == "tcp://127.0.0.1:5740"
    assert device.name == "pin_pad"
    assert isinstance(hal.open("zmq+ipc:///tmp/x.sock/pin_pad"), RemotePinPad)


def test_hal_open_builds_a_remote_cash_dispenser() -> None:
    device = hal.open("zmq://127.0.0.1:5740/cash_dispenser?timeout=0.5")
    assert isinstance(device, RemoteCashDispenser)
    assert device.endpoint == "tcp://127.0.0.1:5740"
    assert device.name == "cash_dispenser"
    assert isinstance(hal.open("zmq+ipc:///tmp/x.sock/cash_dispenser"), RemoteCashDispenser)


def test_hal_open_builds_a_remote_cash_acceptor() -> None:
    device = hal.open("zmq://127.0.0.1:5740/cash_acceptor?timeout=0.5")
    assert isinstance(device, RemoteCashAcceptor)
    assert device.endpoint == "tcp://127.0.0.1:5740"
    assert device.name == "cash_acceptor"
    assert isinstance(hal.open("zmq+ipc:///tmp/x.sock/cash_acceptor"), RemoteCashAcceptor)


def test_devices_without_a_remote_client_are_refused() -> None:
    with pytest.raises(
        ConfigurationError,
        match=r"knows camera, card_reader, cash_acceptor, cash_dispenser, .*pin_pad, "
        r"receipt_printer devices; got 'coin_hopper'",
    ):
        hal.open("zmq://127.0.0.1:5740/coin_hopper")


def test_missing_key_files_are_a_configuration_error(tmp_path: Path) -> None:
    query = f"server_key={tmp_path}/s.key&client_key={tmp_path}/c.key_secret"
    with pytest.raises(ConfigurationError, match="cannot load the CURVE certificate"):
        hal.open(f"zmq://127.0.0.1:5740/card_reader?{query}")


def test_the_driver_is_registered_through_its_entry_point() -> None:
    names = {e.name: e.value for e in metadata.entry_points(group=registry.DRIVER_GROUP)}
    assert names["zmq"] == "hal.remote.registration:ZMQ_DRIVER"
    assert registry.driver("zmq") is ZMQ_DRIVER
    assert ZMQ_DRIVER.transport_optional
    assert registry.transport("ipc").name == "ipc"
    assert ZmqOptions().timeout == 5.0
