"""The printer's stimulus: in-process (SimPrinterControl, through hal.open) and over a
real control socket (RemotePrinterControl, tellerhal sim-control)."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from PIL import Image

import hal
from hal.devices.printer import (
    Align,
    CodePage,
    Cut,
    Document,
    Line,
    MediaPresented,
    MediaTaken,
    PaperStatus,
    PaperThreshold,
    Printer,
)
from hal.errors import (
    ConfigurationError,
    CoverOpen,
    HalTimeout,
    MediaJam,
    NoMedia,
    PaperOut,
    UnsupportedOperation,
)
from protocols.errors import ProtocolError
from simulator.remote_control import RemotePrinterControl
from simulator.scenario import parse_scenario
from simulator.server import ControlServer, SimServer
from simulator.world import World, get_world
from tellerhal.cli.main import main

RECEIPT = Document(
    (
        Line.of("收据 RECEIPT", align=Align.CENTER, bold=True),
        Line.of("Cash 200.00"),
        Cut(),
    ),
    CodePage.GB18030,
)
LINES = [" " * 18 + "收据 RECEIPT", "Cash 200.00", "[CUT]"]


async def test_hal_open_sim_receipt_printer_with_the_stimulus() -> None:
    device = hal.open("sim://receipt_printer?world=printer-hal&paper_length=40")
    assert isinstance(device, Printer)
    control = get_world("printer-hal").printer_control()
    async with device as printer:
        events = printer.events()
        result = await printer.print_document(RECEIPT, timeout=5)
        assert result.complete
        assert await control.printed_lines() == LINES
        assert control.last_receipt_text() == "".join(line + "\n" for line in LINES)
        await control.take_receipt(timeout=1)
        kinds = []
        async with asyncio.timeout(2):
            async for event in events:
                kinds.append(type(event))
                if isinstance(event, MediaTaken):
                    break
        assert MediaPresented in kinds
        with pytest.raises(HalTimeout):
            await control.take_receipt(timeout=0.05)

        await control.paper_runs_out(after_lines=1)
        with pytest.raises(PaperOut) as stopped:
            await printer.print_document(RECEIPT, timeout=5)
        assert (stopped.value.printed_blocks, stopped.value.total_blocks) == (1, 3)
        assert (await printer.status()).paper is PaperStatus.OUT
        await control.replenish()
        await control.open_cover()
        with pytest.raises(CoverOpen):
            await printer.print_document(RECEIPT, timeout=5)
        await control.close_cover()
        await control.jam_next()
        with pytest.raises(MediaJam):
            await printer.print_raw(b"jam\n", timeout=5)
        await printer.reset(timeout=5)
        await control.paper_low()
        assert (await printer.status()).paper is PaperStatus.LOW
        events.close()


async def test_the_journal_printer_has_no_cutter() -> None:
    device = hal.open("sim://journal_printer?world=printer-journal")
    control = get_world("printer-journal").printer_control("journal_printer")
    async with device as journal:
        assert isinstance(journal, Printer)
        with pytest.raises(UnsupportedOperation):
            await journal.print_document(RECEIPT, timeout=5)
        await journal.print_raw(b"card inserted\n", timeout=5)
        assert await control.printed_lines() == ["card inserted"]
        with pytest.raises(UnsupportedOperation):
            await control.take_receipt(timeout=0.1)


@pytest.fixture
async def controlled() -> AsyncIterator[tuple[World, RemotePrinterControl]]:
    world = World("remote-printer", clock_scale=0.01)
    world.printer()
    server = ControlServer("tcp://127.0.0.1:0", lambda: world)
    await server.start()
    try:
        yield world, RemotePrinterControl(server.endpoint, timeout=2.0)
    finally:
        await server.stop()


async def test_the_printer_commands_over_zeromq(
    controlled: tuple[World, RemotePrinterControl],
) -> None:
    world, remote = controlled
    model = world.printer()
    with pytest.raises(NoMedia):
        await remote.last_receipt()
    async with world.open_printer() as printer:
        events = printer.events()
        await printer.print_document(RECEIPT, timeout=5)
        assert await remote.printed_lines() == LINES
        assert await remote.printed_lines() == []
        text, png = await remote.last_receipt()
        assert text.splitlines() == LINES
        picture = Image.open(io.BytesIO(png))
        assert picture.width == 576
        await remote.take_receipt(timeout=2)
        assert model.taken == 1

        await remote.paper_low()
        await remote.paper_runs_out(after_lines=1)
        assert model.paper_left == 1
        with pytest.raises(PaperOut):
            await printer.print_document(RECEIPT, timeout=5)
        await remote.replenish()
        assert model.paper_left == model.paper_length
        await remote.open_cover()
        assert model.cover_open
        await remote.close_cover()
        await remote.jam_next(after_lines=1)
        with pytest.raises(MediaJam):
            await printer.print_document(RECEIPT, timeout=5)
        await remote.power_loss()
        await remote.power_loss(on=False)
        seen = []
        async with asyncio.timeout(2):
            async for event in events:
                if isinstance(event, PaperThreshold):
                    seen.append(event.paper)
                if len(seen) == 3:
                    break
        assert seen == [PaperStatus.LOW, PaperStatus.OUT, PaperStatus.FULL]
        events.close()
    # A printer command sent to another kind of device is refused before it runs.
    world.card_reader()
    wrong = RemotePrinterControl(remote.endpoint, "card_reader", timeout=2.0)
    with pytest.raises(ProtocolError, match="offered: receipt_printer"):
        await wrong.paper_low()


async def test_sim_control_cli_acts_on_the_printer(
    controlled: tuple[World, RemotePrinterControl],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    world, remote = controlled
    model = world.printer()

    def cli(*args: str) -> tuple[int, str]:
        status = main(["sim-control", "--control", remote.endpoint, *args])
        return status, capsys.readouterr().out.strip()

    assert await asyncio.to_thread(cli, "paper-out", "--after", "7") == (0, '{"ok": true}')
    assert model.paper_left == 7
    for action, check in (
        ("replenish-paper", lambda: model.paper_left == model.paper_length),
        ("paper-low", lambda: model.paper_left == model.near_end_lines),
        ("open-cover", lambda: model.cover_open),
        ("close-cover", lambda: not model.cover_open),
    ):
        status, _ = await asyncio.to_thread(cli, action)
        assert status == 0, action
        assert check(), action
    assert (await asyncio.to_thread(cli, "jam-printer"))[0] == 0
    with pytest.raises(MediaJam):
        await model.print_raw(b"hello\n\x1dV\x00")
    out = tmp_path / "receipt.png"
    status, text = await asyncio.to_thread(cli, "printed")
    assert (status, json.loads(text)) == (0, {"ok": True, "lines": []})  # the jam
    status, _ = await asyncio.to_thread(cli, "printed", "--png", str(out))
    assert status == 1  # nothing printed yet: no receipt to save
    await model.reset()
    await model.print_raw(b"hello\n\x1dV\x00")
    status, text = await asyncio.to_thread(cli, "printed", "--png", str(out))
    assert json.loads(text)["lines"] == ["hello", "[CUT]"]
    assert Image.open(out).width == 576
    status, text = await asyncio.to_thread(cli, "take-receipt")
    assert (status, model.taken) == (0, 1)


async def test_tellerhal_sim_serves_a_scenarios_printers_and_the_customer_takes_the_receipt() -> (
    None
):
    scenario = parse_scenario(
        "version = 1\n"
        '[devices.receipt_printer]\nprofile = "receipt58"\npaper_length = 30\n'
        "[devices.journal_printer]\n"
        "[[customer]]\n"
        'device = "receipt_printer"\nwait_for = "receipt_waiting"\naction = "take_receipt"\n',
        name="printers",
    )
    async with SimServer(
        scenario, "tcp://127.0.0.1:0", heartbeat_interval=0.5, customer=True
    ) as sim:
        model = sim.world.printer("receipt_printer")
        assert model.profile.name == "receipt58"
        assert sim.world.printer("journal_printer").profile.name == "journal"
        remote = RemotePrinterControl(sim.control_endpoint, timeout=2.0)
        device = hal.open(sim.addresses["receipt_printer"])
        assert isinstance(device, Printer)
        async with device as printer:
            assert (await printer.capabilities()).dots_per_line == 384
            await printer.print_document(RECEIPT, timeout=10)
            async with asyncio.timeout(5):
                await model.wait_until(lambda: model.taken == 1)
            assert await remote.printed_lines() == [
                " " * 10 + "收据 RECEIPT",
                "Cash 200.00",
                "[CUT]",
            ]
            await remote.paper_runs_out()
            with pytest.raises(PaperOut):
                await printer.print_document(RECEIPT, timeout=10)


def test_a_scenarios_printer_table_is_checked() -> None:
    with pytest.raises(ConfigurationError, match="no printer profile named 'laser'"):
        parse_scenario('version = 1\n[devices.receipt_printer]\nprofile = "laser"\n')
    with pytest.raises(ConfigurationError, match="a receipt_printer has no action 'take_card'"):
        parse_scenario(
            'version = 1\n[[customer]]\ndevice = "receipt_printer"\naction = "take_card"\n'
        )


async def test_a_job_timed_out_through_the_service_stops_after_a_whole_block() -> None:
    world = World("printer-timeout")
    control = world.printer_control()
    await control.slow_print(0.01)
    doc = Document(tuple(Line.of(f"row {i}") for i in range(40)), CodePage.CP437)
    async with world.open_printer() as printer:
        with pytest.raises(HalTimeout):
            await printer.print_document(doc, timeout=0.08)
        printed = await control.printed_lines()
        assert printed is not None
        assert 1 <= len(printed) < 40
        assert printed == [f"row {i}" for i in range(len(printed))]


def test_sim_printer_addresses_and_their_options() -> None:
    hal.open("sim://receipt_printer?world=printer-options&printer_profile=receipt58")
    world = get_world("printer-options")
    assert world.printer().profile.name == "receipt58"
    hal.open("sim://receipt_printer?world=printer-options")  # the same model
    with pytest.raises(ConfigurationError, match="cannot rebuild"):
        hal.open("sim://receipt_printer?world=printer-options&printer_profile=receipt")
    short = hal.open("sim://journal_printer?world=printer-options&paper_length=40")
    assert isinstance(short, Printer)
    journal = world.printer("journal_printer")
    assert (journal.profile.name, journal.paper_length, journal.near_end_lines) == (
        "journal",
        40,
        2,
    )
    with pytest.raises(ConfigurationError, match="printer_profile 'laser' is not a printer build"):
        hal.open("sim://receipt_printer?world=printer-options2&printer_profile=laser")
    with pytest.raises(ConfigurationError, match="is a printer option"):
        hal.open("sim://card_reader?world=printer-options3&paper_length=10")
    with pytest.raises(ConfigurationError, match="receipt_printer is a printer"):
        world.camera("receipt_printer")
