"""The ``sim`` driver: options, the factory, and ``hal.open`` through the entry point."""

from __future__ import annotations

from pathlib import Path

import pytest

import hal
from hal import registry
from hal.address import DeviceAddress
from hal.devices.card_reader import MediaStatus, MoveTarget, Track
from hal.devices.card_reader_service import CardReaderService
from hal.errors import ConfigurationError
from simulator.broken import ReadsWrongTrack
from simulator.registration import SIM_DRIVER, SimOptions, open_sim_device
from simulator.world import CardReaderSetup, get_world


def test_the_entry_point_gives_the_sim_driver() -> None:
    assert registry.driver("sim") is SIM_DRIVER
    assert SIM_DRIVER.device_classes == {
        "card_reader",
        "pin_pad",
        "cash_dispenser",
        "cash_acceptor",
        "id_scanner",
        "camera",
        "receipt_printer",
        "journal_printer",
    }
    assert SIM_DRIVER.options is SimOptions


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"profile": "amex"}, "profile 'amex' is not a card profile; known: jamming"),
        ({"world": "a b"}, "world is letters"),
        ({"clock_scale": 0.0}, "clock_scale must be finite and > 0"),
        ({"clock_scale": float("inf")}, "clock_scale must be finite"),
        ({"retain_capacity": -1}, "retain_capacity is an integer >= 0"),
        ({"stacker_capacity": -3}, "stacker_capacity is an integer >= 0"),
        ({"variant": "sloppy"}, "variant 'sloppy' is not a broken variant; known: double"),
        ({"seed": "7"}, "seed is an integer"),
    ],
)
def test_bad_options_are_refused(options: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        SimOptions(**options)  # type: ignore[arg-type]


def test_address_options_are_parsed_and_checked() -> None:
    with pytest.raises(
        ConfigurationError,
        match="unknown option 'colour'; allowed: books, camera_profile, camera_variant, "
        "cash_in_profile",
    ):
        hal.open("sim://card_reader?colour=red")
    with pytest.raises(ConfigurationError, match="clock_scale"):
        hal.open("sim://card_reader?clock_scale=-2")


def test_an_unknown_device_lists_what_the_simulator_offers() -> None:
    address = DeviceAddress.parse("sim://coin_hopper")
    with pytest.raises(
        ConfigurationError,
        match="the simulator offers camera, card_reader, cash_acceptor, cash_dispenser, "
        "id_scanner, journal_printer, pin_pad, receipt_printer; got 'coin_hopper'",
    ):
        open_sim_device(address, SimOptions())


async def test_hal_open_reaches_the_worlds_model() -> None:
    device = hal.open("sim://card_reader?world=reg&clock_scale=0.005&seed=3&profile=visa")
    assert isinstance(device, CardReaderService)
    world = get_world("reg")
    assert (world.seed, world.clock.scale) == (3, 0.005)
    control = world.card_reader_control()
    assert await control.card_position() == "exit"  # waiting in the slot
    async with device as reader:
        # The card given in the address is read without anyone inserting it.
        result = await reader.read_raw_data([Track.TRACK2], timeout=1)
        assert result[Track.TRACK2].data.startswith(b"4761739001010010=")
        await reader.move(MoveTarget.EXIT)
        await control.take_card(timeout=1)
    # A second address naming the world reaches the same model (options not repeated
    # keep what the world was made with).
    again = hal.open("sim://card_reader?world=reg")
    async with again as reader:
        assert (await reader.status()).media is MediaStatus.NOT_PRESENT
    with pytest.raises(ConfigurationError, match="already runs with seed 3"):
        hal.open("sim://card_reader?world=reg&seed=4")
    with pytest.raises(ConfigurationError, match="already has card_reader built"):
        hal.open("sim://card_reader?world=reg&retain_capacity=3")


async def test_a_variant_and_a_ledger_file(tmp_path: Path) -> None:
    ledger = tmp_path / "sim.sqlite"
    address = (
        f"sim://card_reader?world=v&clock_scale=0.005&variant=reads_wrong_track&ledger={ledger}"
    )
    device = hal.open(address)
    model = get_world("v").card_reader()
    assert isinstance(model, ReadsWrongTrack)
    control = get_world("v").card_reader_control()
    async with device as reader:
        await control.insert_card("visa")
        await reader.read_raw_data([Track.TRACK2], timeout=1)
        await reader.move(MoveTarget.RETAIN)
    assert ledger.exists()
    async with hal.open(f"sim://card_reader?world=v&ledger={ledger}") as reader:
        assert (await reader.retain_bin()).count == 1


def test_an_address_repeating_one_setting_keeps_the_others() -> None:
    # The variant, motion time and take timeout the model was built with are kept when
    # a later address names only the retain capacity (the same one).
    world = get_world("keep", clock_scale=0.005)
    built = world.card_reader(setup=CardReaderSetup(motion_time=0.1, variant="reads_wrong_track"))
    device = hal.open("sim://card_reader?world=keep&retain_capacity=50")
    assert isinstance(device, CardReaderService)
    assert world.card_reader() is built
    assert hal.open("sim://card_reader?world=keep&variant=reads_wrong_track") is not None
    with pytest.raises(ConfigurationError, match="already has card_reader built"):
        hal.open("sim://card_reader?world=keep&variant=no_jam_error")


async def test_the_address_sets_the_card_stacker() -> None:
    device = hal.open("sim://card_reader?world=issuer&stacker_capacity=7")
    assert isinstance(device, CardReaderService)
    assert get_world("issuer").card_reader().stacker_count == 7
    async with device as reader:
        assert (await reader.capabilities()).dispense_capacity == 7
    plain = hal.open("sim://card_reader?world=plain&stacker_capacity=0")
    async with plain as reader:
        assert "issue" not in (await reader.capabilities()).features()
