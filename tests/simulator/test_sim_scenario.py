"""Scenario files: parsing (good and bad) and running the scripted customer."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from hal.devices.camera import check_quality
from hal.devices.card_reader import DISPENSE_UNIT, CardAction, MediaRemoved, MoveTarget, Track
from hal.devices.cash_dispenser import EXIT, ItemsTaken
from hal.devices.printer import Cut, Document, Line, MediaTaken
from hal.errors import ConfigurationError
from hal.money import Money
from simulator.scenario import (
    build_world,
    load_scenario,
    parse_scenario,
    run_customer,
    scenario_names,
)
from simulator.world import CardReaderSetup

FAST = 0.002


def test_the_shipped_scenarios_parse() -> None:
    assert {"demo", "forgetful"} <= set(scenario_names())
    demo = load_scenario("demo")
    assert demo.seed == 0
    assert demo.clock_scale == 1.0
    assert demo.card_readers["card_reader"] == CardReaderSetup(retain_capacity=50)
    assert demo.id_scanners["id_scanner"].build == "kiosk"
    assert demo.cameras["camera"].scene == "blurred"
    actions = [s.action for s in demo.customer]
    assert actions == [
        "present_document",  # the identity check first
        "remove_document",
        "set_scene",  # holds still after the first, blurred picture
        "insert_card",
        "type_pin",
        "take_card",
        "take_notes",
        "insert_notes",
        None,  # waits for the acceptor to take the notes in
        "take_card",
        "take_receipt",  # the demo ends with the receipt
    ]
    assert (demo.customer[0].device, demo.customer[0].profile) == ("id_scanner", "resident")
    assert (demo.customer[2].wait_for, demo.customer[2].scene) == ("picture_taken", "face")
    card = demo.customer[3:]  # the card, the PIN and the money, as before
    assert card[0].wait_for == "gate_open"
    assert card[0].profile == "visa"
    assert (card[1].device, card[1].wait_for) == ("pin_pad", "entry_active")
    assert card[2].wait_for == "card_at_exit"
    assert (card[3].device, card[3].wait_for) == (
        "cash_dispenser",
        "notes_at_exit",
    )
    assert card[4].device == "cash_acceptor"
    assert [n.item for n in card[4].notes or ()] == [
        "CNY:10000",
        "CNY:10000",
        "CNY:5000",
        "XTS:100",
    ]
    assert (card[5].device, card[5].wait_for) == (
        "cash_acceptor",
        "input_empty",
    )
    assert card[6].wait_for == "card_at_exit"  # the new card the demo issues


def test_a_scenario_file_by_path(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(
        "version = 1\nseed = 7\nclock_scale = 0.01\n[devices.card_reader]\ntake_timeout = 0\n"
        'variant = "no_jam_error"\n[[customer]]\nat = 1.5\naction = "jam"\n'
    )
    scenario = load_scenario(path)
    assert scenario.name == "mine"
    assert (scenario.seed, scenario.clock_scale) == (7, 0.01)
    setup = scenario.card_readers["card_reader"]
    assert setup.take_timeout is None
    assert setup.variant == "no_jam_error"
    assert scenario.customer[0].at == 1.5
    world = build_world(scenario)
    assert world.seed == 7
    assert type(world.card_reader()).__name__ == "NoJamError"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("version = 2\n", "version 2 is not supported"),
        ("seed = 1\n", "version None is not supported"),
        ("version = 1\nspeed = 2\n", r"unknown key\(s\) speed; allowed: clock_scale, customer"),
        (
            "version = 1\n[devices.coin_hopper]\n",
            "unknown key.*coin_hopper; allowed: camera, card_reader, cash_acceptor, cash_dispenser",
        ),
        (
            "version = 1\n[devices.card_reader]\ncolour = 1\n",
            "allowed: motion_time, retain_capacity",
        ),
        (
            "version = 1\n[devices.card_reader]\nvariant = 'nope'\n",
            "no broken variant named 'nope'",
        ),
        ("version = 1\nclock_scale = 0\n", "clock_scale must be > 0"),
        ("version = 1\nseed = 'x'\n", "'seed' must be a int"),
        (
            "version = 1\n[[customer]]\nwhen = 1\n",
            r"unknown key\(s\) when; allowed: action, after, at",
        ),
        (
            "version = 1\n[[customer]]\naction = 'dance'\n",
            "unknown action 'dance'; actions: clear_jam",
        ),
        (
            "version = 1\n[[customer]]\naction = 'insert_card'\n",
            "'profile' goes with action insert_card",
        ),
        ("version = 1\n[[customer]]\naction = 'jam'\nprofile = 'visa'\n", "'profile' goes with"),
        (
            "version = 1\n[[customer]]\naction = 'insert_card'\nprofile = 'amex'\n",
            "no card profile named 'amex'",
        ),
        ("version = 1\n[[customer]]\naction = 'slow_replies'\n", "'seconds' goes with"),
        ("version = 1\n[[customer]]\nwait_for = 'rain'\n", "unknown condition 'rain'; conditions:"),
        ("version = 1\n[[customer]]\nat = -1\n", "'at' must be >= 0"),
        ("version = 1\n[[customer]]\nafter = 'soon'\n", "'after' must be a finite number"),
        ("version = 1\n[[customer]]\ndevice = 'coin_hopper'\n", "device 'coin_hopper'"),
        ("version = 1\ncustomer = [1]\n", "customer step 1: expected a table"),
        ("version = = 1\n", "not valid TOML"),
    ],
)
def test_bad_scenarios_are_refused(text: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        parse_scenario(text, name="bad")


def test_unknown_scenarios_list_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"known: .*demo"):
        load_scenario("nothing_like_it")
    with pytest.raises(ConfigurationError, match="cannot read"):
        load_scenario(tmp_path / "missing.toml")


async def test_the_demo_customer_through_a_read_and_an_eject() -> None:
    demo = load_scenario("demo")
    world = build_world(demo, clock_scale=FAST)  # the same demo, 500 times faster
    assert world.clock.scale == FAST
    async with world.open_card_reader() as reader:
        customer = asyncio.create_task(run_customer(world, demo))
        try:
            # The identity check: the ID card read and handed back, a blurred picture,
            # then the customer holds still.
            async with world.open_id_scanner() as scanner:
                assert (await scanner.read_document(timeout=5)).valid
                await scanner.eject()
            await world.id_scanner_control().wait_for("document_taken", timeout=5)
            async with world.open_camera() as camera:
                assert not check_quality(await camera.take_picture(timeout=5)).ok
                model = world.camera()
                await asyncio.wait_for(model.wait_until(lambda: model.scene() == "face"), 5)
                assert check_quality(await camera.take_picture(timeout=5)).ok
            with reader.events(kinds=[MediaRemoved]) as sub:
                result = await reader.read_raw_data([Track.TRACK2], timeout=5)
                assert result[Track.TRACK2].data.startswith(b"4761739001010010=")
                async with world.open_pin_pad() as pad:  # the customer types a PIN
                    assert (await pad.pin_entry(timeout=5)).digits == 4
                await reader.move(MoveTarget.EXIT)
                await sub.wait_for(MediaRemoved, timeout=5)
                # The demo pays out cash, which the customer takes.
                async with world.open_cash_dispenser() as cash:
                    with cash.events(kinds=[ItemsTaken]) as taken:
                        notes = await cash.dispense(Money(38000, "CNY"))
                        assert await cash.present() == sum(notes.counts.values())
                        await taken.get(timeout=5)
                    assert world.cash_dispenser().notes_at(EXIT) == 0
                # The customer deposits notes; the foreign one comes back at once.
                async with world.open_cash_acceptor() as acceptor:
                    await acceptor.cash_in_start()
                    taken_in = await acceptor.cash_in(timeout=5)
                    assert dict(taken_in.accepted) == {"CNY:10000": 2, "CNY:5000": 1}
                    assert sum(taken_in.refused.values()) == 1
                    await acceptor.cash_in_end()
                # The demo then issues a new card, which the customer takes too.
                await reader.load_stacker(100)
                await reader.move(MoveTarget.EXIT, from_unit=DISPENSE_UNIT)
                await sub.wait_for(MediaRemoved, timeout=5)
            # The receipt last: the customer takes it from the presenter.
            async with world.open_printer() as printer:
                with printer.events(kinds=[MediaTaken]) as receipt_taken:
                    await printer.print_document(Document((Line.of("receipt"), Cut())))
                    await receipt_taken.get(timeout=5)
            await asyncio.wait_for(customer, timeout=5)
        finally:
            customer.cancel()
            await asyncio.gather(customer, return_exceptions=True)
    assert world.card_reader().position == "customer"


async def test_the_forgetful_customer_loses_the_card_to_the_bin() -> None:
    scenario = parse_scenario(
        "version = 1\nclock_scale = 0.002\n[devices.card_reader]\ntake_timeout = 10.0\n"
        "[[customer]]\nwait_for = 'gate_open'\naction = 'insert_card'\n"
        "profile = 'never_taken'\n[[customer]]\nwait_for = 'card_retained'\n",
        name="forgetful_fast",
    )
    world = build_world(scenario)
    async with world.open_card_reader() as reader:
        customer = asyncio.create_task(run_customer(world, scenario))
        try:
            with reader.events(kinds=[CardAction]) as sub:
                await reader.read_raw_data([Track.TRACK2], timeout=5)
                await reader.move(MoveTarget.EXIT)
                await sub.wait_for(CardAction, timeout=5)
            await asyncio.wait_for(customer, timeout=5)
        finally:
            customer.cancel()
            await asyncio.gather(customer, return_exceptions=True)
        assert (await reader.retain_bin()).count == 1


async def test_timed_steps_and_faults() -> None:
    scenario = parse_scenario(
        "version = 1\nclock_scale = 0.002\n"
        "[[customer]]\nat = 5.0\naction = 'power_off'\n"
        "[[customer]]\nafter = 5.0\naction = 'power_on'\n"
        "[[customer]]\naction = 'slow_replies'\nseconds = 2.5\n"
        "[[customer]]\naction = 'jam'\n[[customer]]\naction = 'clear_jam'\n"
        "[[customer]]\naction = 'empty_retain_bin'\n",
        name="faults",
    )
    world = build_world(scenario)
    model = world.card_reader()
    start = world.clock.now()
    await run_customer(world, scenario)
    assert world.clock.now() - start >= 10.0
    assert model.powered
    assert model._reply_delay_s == 2.5
    assert not model._jam_next
