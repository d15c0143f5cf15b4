"""The simulated PIN pad as apps reach it: the world, ``sim://pin_pad`` (a real
`PinPadService`), scenarios, and ``tellerhal sim``'s control socket with a ``zmq://``
app on the other side. The customer types through `PinPadControl` or
`RemotePinPadControl`; PIN blocks are deciphered with protocols.pinblock."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest

import hal
from hal.devices.pin_pad import (
    FEATURES,
    EntryCompletion,
    KeyAlgorithm,
    KeyEvent,
    KeyUsage,
    ModeOfUse,
    PinFormat,
    PinPad,
)
from hal.devices.pin_pad_service import PinPadService
from hal.errors import (
    ConfigurationError,
    HalTimeout,
    InvalidData,
    ProtocolError,
    SequenceError,
    UseViolation,
)
from protocols import crypto_primitives as prim
from protocols import pinblock
from protocols.kcv import compute_kcv
from simulator.registration import SIM_DRIVER
from simulator.remote_control import RemotePinPadControl
from simulator.scenario import build_world, parse_scenario, run_customer
from simulator.server import SimServer
from simulator.world import PinPadSetup, World, get_world

SCALE = 0.005
TDES = KeyAlgorithm.TDES
KEK = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
COMPONENT_1 = bytes.fromhex("5DB50B454F8389ADCE573BE50861F2BF")
COMPONENT_2 = bytes.fromhex("5C964E22C6284442308B817D7E35C0AF")
PIN_KEY = bytes.fromhex("F039121BEC83D26B169BDCD5B22AAF8F")
PIN = "730915"
PAN = "4761739001010010"

SCENARIO = """
version = 1
clock_scale = 0.005

[devices.pin_pad]
pin_max = 8

[[customer]]
device = "pin_pad"
wait_for = "entry_active"
action = "type_pin"
pin = "730915"
timeout = 1000.0
"""


async def load_keys(pad: PinPad) -> None:
    """A KEK from two components, then a TDES PIN key under it, through the public API."""
    for component in (COMPONENT_1, COMPONENT_2):
        await pad.import_key_component(
            "kek", component, algorithm=TDES, kcv=compute_kcv(TDES, component)
        )
    await pad.activate_key("kek", kcv=compute_kcv(TDES, KEK))
    await pad.import_key(
        "pin",
        prim.encrypt_ecb(TDES, KEK, PIN_KEY),
        kek="kek",
        usage=KeyUsage.PIN,
        algorithm=TDES,
        mode_of_use=ModeOfUse.ENCRYPT,
        kcv=compute_kcv(TDES, PIN_KEY),
    )


async def pin_of_the_block(pad: PinPad) -> str:
    block = await pad.get_pin_block("pin", format=PinFormat.ISO0, customer_data=PAN)
    return pinblock.decipher_pin_block(0, PIN_KEY, block.block, PAN)


# --- the world ------------------------------------------------------------------------


async def test_the_world_keeps_the_pad_and_its_keys_across_services() -> None:
    world = World("w", clock_scale=SCALE)
    model = world.pin_pad()
    assert world.pin_pad() is model
    assert world.pin_pads == {"pin_pad": model}
    assert "pin_pad" in world.models
    assert "pin_pad" in repr(world)
    async with world.open_pin_pad() as pad:
        await load_keys(pad)
    async with world.open_pin_pad() as pad:
        assert [detail.name for detail in await pad.keys()] == ["kek", "pin"]
        control = world.pin_pad_control()
        entry = asyncio.create_task(pad.pin_entry(timeout=5))
        await control.type_pin(PIN, timeout=5)
        result = await entry
        assert (result.digits, result.completion) == (6, EntryCompletion.ENTER)
        assert await pin_of_the_block(pad) == PIN


def test_world_name_clashes_and_setups() -> None:
    world = World("w", clock_scale=SCALE)
    world.card_reader()
    world.pin_pad("pin_pad", PinPadSetup(pin_max=6))
    assert world.pin_pad_setup() == PinPadSetup(pin_max=6)
    with pytest.raises(ConfigurationError, match="is a card reader"):
        world.pin_pad("card_reader")
    with pytest.raises(ConfigurationError, match="is a PIN pad"):
        world.card_reader("pin_pad")
    with pytest.raises(ConfigurationError, match="cannot rebuild"):
        world.pin_pad("pin_pad", PinPadSetup(pin_max=12))
    with pytest.raises(ConfigurationError, match="pin_max"):
        PinPadSetup(pin_max=13)
    assert world.pin_pad().capabilities().pin_max == 6


# --- sim://pin_pad --------------------------------------------------------------------


def test_the_sim_driver_promises_what_the_model_has() -> None:
    assert "pin_pad" in SIM_DRIVER.device_classes
    assert SIM_DRIVER.capabilities["pin_pad"] == FEATURES


async def test_sim_pin_pad_through_hal_open() -> None:
    pad = hal.open("sim://pin_pad?world=pp&clock_scale=0.005")
    assert isinstance(pad, PinPadService)
    control = get_world("pp").pin_pad_control()
    async with pad:
        await load_keys(pad)
        with pad.events() as events:
            entry = asyncio.create_task(pad.pin_entry(min_len=4, max_len=5, timeout=5))
            # The sixth digit is past max_len: the pad ignores it.
            await control.press_keys(["seven", "three", "zero", "nine", "one", "five", "enter"])
            result = await entry
        assert result.digits == 5
        assert await pin_of_the_block(pad) == "73091"
        with pytest.raises(SequenceError):
            await pad.get_pin_block("pin", format=PinFormat.ISO0, customer_data=PAN)
        with pytest.raises(UseViolation):  # a KEK makes no PIN block
            await pad.get_pin_block("kek", format=PinFormat.ISO0, customer_data=PAN)
        seen = [e for e in events.drain() if isinstance(e, KeyEvent)]
        assert [e.digit for e in seen] == [None] * 5 + ["enter"]


async def test_card_reader_options_are_refused_for_the_pin_pad() -> None:
    with pytest.raises(ConfigurationError, match="profile is a card reader option"):
        hal.open("sim://pin_pad?world=pp2&profile=visa")


async def test_a_service_timeout_wipes_what_was_typed() -> None:
    pad = hal.open("sim://pin_pad?world=pp3&clock_scale=0.005")
    assert isinstance(pad, PinPadService)
    control = get_world("pp3").pin_pad_control()
    async with pad:
        await load_keys(pad)
        entry = asyncio.create_task(pad.pin_entry(timeout=0.2))
        await control.type_pin("7309", enter=False, timeout=5)
        with pytest.raises(HalTimeout):
            await entry
        assert not control.model.pin_held
        assert not await control.entry_active()
        with pytest.raises(SequenceError):
            await pad.get_pin_block("pin", format=PinFormat.ISO0, customer_data=PAN)


# --- scenarios ------------------------------------------------------------------------


async def test_a_scripted_customer_types_the_pin() -> None:
    scenario = parse_scenario(SCENARIO, name="pin")
    assert scenario.pin_pads == {"pin_pad": PinPadSetup(pin_max=8)}
    assert PIN not in repr(scenario)
    world = build_world(scenario)
    async with world.open_pin_pad() as pad:
        await load_keys(pad)
        customer = asyncio.create_task(run_customer(world, scenario))
        result = await pad.pin_entry(max_len=8, timeout=5)
        await asyncio.wait_for(customer, 5)
        assert result.digits == 6
        assert await pin_of_the_block(pad) == PIN


@pytest.mark.parametrize(
    ("step", "message"),
    [
        ("action = 'type_pin'\npin = '12'", "'pin' is 4 to 12 digits"),
        ("action = 'type_pin'", "'pin' goes with action type_pin"),
        ("action = 'press_keys'\nkeys = ['seven', 'help']", "'keys' is a non-empty list"),
        ("action = 'insert_card'\nprofile = 'visa'", "a pin_pad has no action 'insert_card'"),
        ("wait_for = 'gate_open'", "unknown condition 'gate_open'; conditions: entry_active"),
    ],
)
def test_bad_pin_pad_steps(step: str, message: str) -> None:
    text = f"version = 1\n[[customer]]\ndevice = 'pin_pad'\n{step}\n"
    with pytest.raises(ConfigurationError, match=message) as caught:
        parse_scenario(text)
    assert "'12'" not in str(caught.value)


def test_bad_pin_pad_setup() -> None:
    with pytest.raises(ConfigurationError, match="colour"):
        parse_scenario("version = 1\n[devices.pin_pad]\ncolour = 1\n")


# --- tellerhal sim: the control socket and a zmq:// app --------------------------------


@pytest.fixture
async def sim() -> AsyncIterator[SimServer]:
    server = SimServer(parse_scenario(SCENARIO, name="pin"), "tcp://127.0.0.1:0")
    async with server:
        yield server


async def test_a_remote_app_and_a_remote_customer_run_a_pin_entry(
    sim: SimServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    assert set(sim.addresses) == {"card_reader", "pin_pad"}
    customer = RemotePinPadControl(sim.control_endpoint, timeout=2.0)
    pad = hal.open(sim.addresses["pin_pad"])
    assert isinstance(pad, PinPad)
    async with pad:
        await load_keys(pad)
        assert not await customer.entry_active()
        entry = asyncio.create_task(pad.pin_entry(max_len=8, timeout=10))
        await customer.wait_for_entry(timeout=5)
        assert await customer.entry_active()
        await customer.type_pin(PIN, timeout=5)
        result = await entry
        assert (result.digits, result.completion) == (6, EntryCompletion.ENTER)
        assert await pin_of_the_block(pad) == PIN
        with pytest.raises(InvalidData, match="no key 'help'"):
            await customer.press_keys(["seven", "help"])
        with pytest.raises(HalTimeout):
            await customer.press_keys(["seven"], timeout=0.05)
        await customer.slow_replies(0.0)
        await customer.power_loss()
        assert sim.world.pin_pad().powered is False
        await customer.power_loss(on=False)
    ascii_hex = PIN.encode().hex()
    for record in caplog.records:
        text = record.getMessage()
        assert PIN not in text, text
        assert ascii_hex not in text.lower(), text


async def test_pin_pad_commands_need_a_pin_pad(sim: SimServer) -> None:
    wrong = RemotePinPadControl(sim.control_endpoint, "card_reader", timeout=2.0)
    with pytest.raises(ProtocolError, match="no device 'card_reader'; offered: pin_pad"):
        await wrong.entry_active()
