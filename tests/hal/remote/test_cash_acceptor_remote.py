"""`RemoteCashAcceptor` against a real `RemoteServer` on a real ZeroMQ socket.

The server serves the simulator's cash acceptor (``sim``'s `CashAcceptorModel` under its
`CashAcceptorService`); the test plays the customer and fate in-process with the world's
`CashAcceptorControl`. The same script run in-process and remote gives the same values;
a cash-in's events arrive in order, with the command's id, before its completion; the
typed errors keep their class, ``error_code`` and text; a cancel or a timeout of a
`cash_in` crosses the wire and leaves the notes already in the escrow in the books and
in the open transaction; a float limit never reaches the wire.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest

import hal
from hal.devices.cash_acceptor import (
    CashAcceptor,
    CashInState,
    InputRefuse,
    InsertItems,
    ItemsInserted,
    ItemsTaken,
    NoteLevel,
    RefuseReason,
    SubCashIn,
)
from hal.errors import (
    CashInActive,
    HalError,
    HalTimeout,
    InvalidData,
    MediaJam,
    NoCashInActive,
    NoItems,
    TooManyItems,
)
from hal.events import Event, StatusChanged, Subscription
from hal.money import Money
from hal.remote import RemoteCashAcceptor, RemoteCashDispenser, RemoteServer
from hal.stimulus import NoteSample
from simulator.cash_in_control import CashAcceptorControl
from simulator.world import World
from tests.hal.remote.conftest import RawClient
from tests.remote_tap import FrameTap

CNY = "CNY"
SCALE = 0.001


@dataclass
class Rig:
    world: World
    control: CashAcceptorControl
    server: RemoteServer


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    world = World("remote_cash_in", seed=3, clock_scale=SCALE)
    service = world.open_cash_acceptor()
    async with RemoteServer(
        {"cash_acceptor": service}, "tcp://127.0.0.1:0", simulator=True, heartbeat_interval=0.5
    ) as server:
        yield Rig(world, world.cash_acceptor_control(), server)


@pytest.fixture
async def remote(rig: Rig) -> AsyncIterator[RemoteCashAcceptor]:
    async with RemoteCashAcceptor(rig.server.endpoint, timeout=2.0) as acceptor:
        yield acceptor


def drain(sub: Subscription) -> list[Event]:
    return [e for e in sub.drain() if not isinstance(e, StatusChanged)]


async def script(acceptor: CashAcceptor, control: CashAcceptorControl) -> list[Any]:
    """Every method once or more, with results and errors: what a caller sees."""
    seen: list[Any] = []

    async def step(name: str, call: Callable[[], Awaitable[Any]]) -> None:
        try:
            seen.append((name, await call()))
        except HalError as exc:
            seen.append((name, type(exc).__name__, exc.error_code, str(exc)))

    await step("status", acceptor.status)
    await step("capabilities", acceptor.capabilities)
    await step("note types", acceptor.note_types)
    await step("units", acceptor.cash_units)
    await step("cash in, none open", lambda: acceptor.cash_in(timeout=5))
    await step("cash-in status before", acceptor.get_cash_in_status)
    await step("end, none open", lambda: acceptor.cash_in_end(timeout=5))
    await step("configure", lambda: acceptor.configure_note_types(["CNY:10000", "CNY:5000"]))
    await step("configure unknown", lambda: acceptor.configure_note_types(["XXX:1"]))
    await step(
        "start", lambda: acceptor.cash_in_start(max_items=4, max_amount=Decimal(500), currency=CNY)
    )
    await step("start again", acceptor.cash_in_start)
    await step("configure while open", lambda: acceptor.configure_note_types(["CNY:10000"]))
    await step("exchange while open", acceptor.start_exchange)
    await control.insert_notes(
        [
            "CNY:10000",
            NoteSample("CNY:5000", NoteLevel.UNFIT),
            NoteSample("CNY:10000", NoteLevel.COUNTERFEIT),
            "CNY:2000",  # not enabled
            "CNY:10000",
            "CNY:10000",  # over the item limit
        ]
    )
    await step("cash in", lambda: acceptor.cash_in(timeout=5))
    await step("status open", acceptor.get_cash_in_status)
    await step("cash in, limit reached", lambda: acceptor.cash_in(timeout=5))
    await step("end", lambda: acceptor.cash_in_end(timeout=5))
    await step("status ended", acceptor.get_cash_in_status)
    await step("units after", acceptor.cash_units)
    await step("start for a rollback", acceptor.cash_in_start)
    await control.insert_notes(["CNY:5000", "CNY:5000"])
    await step("cash in again", lambda: acceptor.cash_in(timeout=5))
    await step("rollback", lambda: acceptor.cash_in_rollback(timeout=5))
    await step("status rolled back", acceptor.get_cash_in_status)
    await step("customer takes", lambda: control.take_returned(timeout=5))
    await step("rollback, none open", lambda: acceptor.cash_in_rollback(timeout=5))
    await step("retract nothing", lambda: acceptor.retract(timeout=5))
    await step("start, end empty", acceptor.cash_in_start)
    await step("end empty", lambda: acceptor.cash_in_end(timeout=5))
    await step("exchange", lambda: acceptor.start_exchange(timeout=5))
    await step("set unit", lambda: acceptor.set_cash_unit("retract", thresholds=(None, 150)))
    await step("end exchange", lambda: acceptor.end_exchange(timeout=5))
    await step("reset", lambda: acceptor.reset(timeout=5))
    await step("status reset", acceptor.get_cash_in_status)
    await step("truth", control.ground_truth)
    return seen


async def test_the_same_script_gives_the_same_values_in_process_and_remote(
    remote: RemoteCashAcceptor, rig: Rig
) -> None:
    local_world = World("local_cash_in", seed=3, clock_scale=SCALE)
    async with local_world.open_cash_acceptor() as local:
        expected = await script(local, local_world.cash_acceptor_control())
    got = await script(remote, rig.control)
    assert [s[0] for s in got] == [s[0] for s in expected]
    for mine, theirs in zip(got, expected, strict=True):
        assert mine == theirs
    results = {s[0]: s[1:] for s in got}
    # The script did reach what it means to test (a script that passes for the wrong
    # reason would pass on both sides).
    assert results["cash in, none open"][0] == "NoCashInActive"
    assert results["start again"][0] == "CashInActive"
    assert results["configure unknown"][0] == "InvalidData"
    assert results["cash in, limit reached"][0] == "TooManyItems"
    assert results["end empty"][0] == "NoItems"
    (cash_in,) = results["cash in"]
    assert dict(cash_in.accepted) == {"CNY:10000": 2, "CNY:5000": 1}
    assert dict(cash_in.retained) == {"CNY:10000": 1}
    assert dict(cash_in.refused) == {
        RefuseReason.INVALID_BILL: 1,
        RefuseReason.LIMIT_OVER_TOTAL_ITEMS: 1,
    }
    assert cash_in.levels[NoteLevel.COUNTERFEIT] == 1
    (ended,) = results["end"]
    assert ended.notes() == 4
    assert dict(ended.credited) == {CNY: Money(25000, CNY)}
    assert results["status ended"][0].status is CashInState.OK
    (rolled,) = results["rollback"]
    assert dict(rolled.returned) == {"CNY:5000": 2}
    assert results["status rolled back"][0].status is CashInState.ROLLBACK
    # reset ends an open transaction only: the last one ended with "end empty".
    assert results["status reset"][0].status is CashInState.OK
    (truth,) = results["truth"]
    units = {u.info.id: u.count for u in results["units after"][0]}
    assert units == {unit: truth[unit] for unit in units}


async def test_a_cash_in_s_events_arrive_in_order_with_its_command_id(
    remote: RemoteCashAcceptor, rig: Rig
) -> None:
    await remote.cash_in_start()
    sub = remote.events()
    task = asyncio.create_task(remote.cash_in(timeout=5))
    first = await asyncio.wait_for(sub.get(), 2.0)
    while isinstance(first, StatusChanged):
        first = await asyncio.wait_for(sub.get(), 2.0)
    assert isinstance(first, InsertItems)
    assert first.command_id is not None
    await rig.control.insert_notes(["CNY:10000", "XXX:100", "CNY:100", "USD:100"])
    result = await task
    # Everything the cash-in caused is here when it returns.
    events = drain(sub)
    assert [type(e) for e in events] == [ItemsInserted, InputRefuse, SubCashIn]
    inserted, refuse, sub_cash_in = events
    assert inserted.command_id is None  # unsolicited: the customer's hand
    assert isinstance(refuse, InputRefuse)
    assert (refuse.reason, refuse.count) == (RefuseReason.INVALID_BILL, 2)
    assert refuse.command_id == first.command_id
    assert isinstance(sub_cash_in, SubCashIn)
    assert sub_cash_in.command_id == first.command_id
    assert dict(sub_cash_in.accepted) == {"CNY:10000": 1, "CNY:100": 1}
    assert dict(sub_cash_in.accepted) == dict(result.accepted)
    assert sub_cash_in.device == "cash_acceptor"
    # A rollback, and the customer taking the notes back: ItemsTaken, unsolicited.
    await remote.cash_in_rollback(timeout=5)
    assert await rig.control.take_returned(timeout=5) == 2
    taken = await asyncio.wait_for(sub.get(), 2.0)
    while not isinstance(taken, ItemsTaken):
        taken = await asyncio.wait_for(sub.get(), 2.0)
    assert taken.command_id is None
    assert (await remote.status()).exit_items is False
    sub.close()


async def test_a_jam_is_a_media_jam_and_the_notes_stay_in_the_transaction(
    remote: RemoteCashAcceptor, rig: Rig
) -> None:
    await remote.cash_in_start()
    await rig.control.insert_notes(["CNY:10000"])
    first = await remote.cash_in(timeout=5)
    assert first.escrow == 1
    await rig.control.jam_next_note()
    await rig.control.insert_notes(["CNY:5000", "CNY:5000"])
    with pytest.raises(MediaJam) as jam:
        await remote.cash_in(timeout=5)
    assert jam.value.error_code == "mediaJam"
    status = await remote.get_cash_in_status()
    assert status.status is CashInState.ACTIVE
    assert dict(status.notes) == {"CNY:10000": 1}
    truth = await rig.control.ground_truth()
    assert (truth["escrow"], truth["transport"]) == (1, 1)
    await remote.reset(timeout=5)
    assert (await remote.get_cash_in_status()).status is CashInState.RESET
    truth = await rig.control.ground_truth()
    assert truth["escrow"] == truth["transport"] == 0
    units = {u.info.id: u.count for u in await remote.cash_units()}
    assert units == {unit: truth[unit] for unit in units}


async def test_cancelling_a_remote_cash_in_keeps_what_reached_the_escrow(
    remote: RemoteCashAcceptor, rig: Rig
) -> None:
    await remote.cash_in_start()
    await rig.control.note_time(20.0)  # simulated: 20 ms a note
    sub = remote.events(kinds=[InsertItems, SubCashIn])
    await rig.control.insert_notes(["CNY:10000"] * 20)
    task = asyncio.create_task(remote.cash_in())
    assert isinstance(await asyncio.wait_for(sub.get(), 2.0), InsertItems)
    await asyncio.sleep(0.1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # The notes taken before the cancel are journalled and reported first.
    [sub_cash_in] = sub.drain()
    assert isinstance(sub_cash_in, SubCashIn)
    taken = sub_cash_in.accepted["CNY:10000"]
    assert 0 < taken < 20
    truth = await rig.control.ground_truth()
    assert truth["escrow"] == taken
    status = await remote.get_cash_in_status()
    assert status.status is CashInState.ACTIVE
    assert dict(status.notes) == {"CNY:10000": taken}
    assert status.escrow == taken
    # The session and the transaction go on: the rest comes in, then the end.
    await rig.control.note_time(0.0)
    await remote.cash_in(timeout=5)
    ended = await remote.cash_in_end(timeout=5)
    assert ended.notes() == 20
    sub.close()


async def test_a_cash_in_that_times_out_leaves_the_transaction_open(
    remote: RemoteCashAcceptor, rig: Rig
) -> None:
    await remote.cash_in_start()
    with pytest.raises(HalTimeout):
        await remote.cash_in(timeout=0.2)  # nobody inserts anything
    status = await remote.get_cash_in_status()
    assert (status.status, status.escrow) == (CashInState.ACTIVE, 0)
    with pytest.raises(CashInActive):
        await remote.cash_in_start()
    await rig.control.insert_notes(["CNY:5000"])
    assert dict((await remote.cash_in(timeout=5)).accepted) == {"CNY:5000": 1}
    await remote.cash_in_rollback(timeout=5)


async def test_typed_errors_keep_class_code_and_text(remote: RemoteCashAcceptor) -> None:
    with pytest.raises(NoCashInActive) as none:
        await remote.cash_in(timeout=1)
    assert none.value.error_code == "noCashInActive"
    assert "cash_acceptor" in str(none.value)
    with pytest.raises(NoCashInActive):
        await remote.cash_in_rollback(timeout=1)
    await remote.cash_in_start(max_items=1)
    with pytest.raises(CashInActive) as active:
        await remote.cash_in_start()
    assert active.value.error_code == "cashInActive"
    with pytest.raises(NoItems):
        await remote.cash_in_end(timeout=1)
    await remote.cash_in_start(max_items=0)
    with pytest.raises(TooManyItems) as many:
        await remote.cash_in(timeout=1)
    assert many.value.error_code == "tooManyItems"
    with pytest.raises(InvalidData):
        await remote.configure_note_types(["CNY:1"])  # a note the reader does not know
    assert (await remote.get_cash_in_status()).status is CashInState.ACTIVE
    with pytest.raises(NoItems):
        await remote.cash_in_rollback(timeout=1)


def commands(tap: FrameTap) -> list[str]:
    return [n for n in tap.names("to_server") if n != "Common.Heartbeat"]


async def test_limits_travel_as_integers_and_a_float_never_reaches_the_wire(rig: Rig) -> None:
    async with FrameTap(rig.server.endpoint) as tap:
        async with hal.open(tap.address("cash_acceptor")) as acceptor:
            assert isinstance(acceptor, RemoteCashAcceptor)
            before = commands(tap)
            with pytest.raises(TypeError):
                await acceptor.cash_in_start(max_amount=12.5, currency=CNY)  # type: ignore[arg-type]
            with pytest.raises(TypeError):
                await acceptor.cash_in_start(max_items=3.0)  # type: ignore[arg-type]
            with pytest.raises(InvalidData):
                await acceptor.cash_in_start(max_amount=100)  # no currency
            with pytest.raises(InvalidData):
                await acceptor.cash_in_start(max_amount=Money(100, CNY), currency="USD")
            with pytest.raises(TypeError):
                await acceptor.configure_note_types("CNY:10000")
            assert commands(tap) == before
            await acceptor.cash_in_start(max_items=3, max_amount=Decimal("300.00"), currency=CNY)
        sent = [m for m in tap.messages if m.header.get("name") == "CashAcceptor.CashInStart"]
        assert [m.payload for m in sent if m.header["type"] == "command"] == [
            {
                "totalItemsLimit": 3,
                "amountLimit": {"minor": 30000, "currency": "CNY"},
                "useRecycleUnits": True,
            }
        ]
        [done] = [m for m in sent if m.header["type"] == "completion"]
        assert done.payload == {
            "status": "active",
            "refused": 0,
            "notes": {},
            "retained": {},
            "escrow": 0,
        }


async def test_serve_offers_the_acceptor_by_address(rig: Rig) -> None:
    host_port = rig.server.endpoint.removeprefix("tcp://")
    acceptor = hal.open(f"zmq://{host_port}/cash_acceptor?timeout=2")
    assert isinstance(acceptor, RemoteCashAcceptor)
    async with acceptor:
        assert (await acceptor.capabilities()).escrow is True
        assert {t.item for t in await acceptor.note_types()} >= {"CNY:10000"}


def test_tellerhal_devices_lists_the_remote_and_simulated_acceptor(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from tellerhal.cli.main import main

    assert main(["devices", "--json"]) == 0
    drivers = {d["name"]: d for d in json.loads(capsys.readouterr().out)["drivers"]}
    assert "cash_acceptor" in drivers["zmq"]["device_classes"]
    assert "cash_acceptor" in drivers["sim"]["device_classes"]


async def test_a_recycler_served_as_both_interfaces_pays_out_what_was_deposited() -> None:
    world = World("remote_recycler", seed=5, clock_scale=SCALE)
    control = world.cash_acceptor_control()
    devices = {
        "cash_acceptor": world.open_cash_acceptor(),
        "cash_dispenser": world.open_cash_dispenser(recycler="cash_acceptor"),
    }
    async with (
        RemoteServer(devices, "tcp://127.0.0.1:0", simulator=True) as server,
        RemoteCashAcceptor(server.endpoint, timeout=2.0) as acceptor,
        RemoteCashDispenser(server.endpoint, timeout=2.0) as dispenser,
    ):
        await acceptor.cash_in_start()
        await control.insert_notes(["CNY:10000"] * 3)
        await acceptor.cash_in(timeout=5)
        ended = await acceptor.cash_in_end(timeout=5)
        assert dict(ended.stored) == {"recycle100": {"CNY:10000": 3}}
        # One set of books: the dispenser side counts the deposited notes at once.
        counts = {u.info.id: u.count for u in await dispenser.cash_units()}
        assert counts["recycle100"] == 3
        dispensed = await dispenser.dispense(Money(20000, CNY))
        assert dict(dispensed.counts) == {"recycle100": 2}
        units = {u.info.id: u.count for u in await acceptor.cash_units()}
        assert units["recycle100"] == 1
        truth = await control.ground_truth()
        assert truth["recycle100"] == 1


async def test_the_wire_refuses_what_does_not_fit(
    rig: Rig, raw_client: Callable[[str], RawClient]
) -> None:
    raw = raw_client(rig.server.endpoint)
    await raw.handshake()
    await raw.open("cash_acceptor")
    good = {"totalItemsLimit": 5, "amountLimit": None, "useRecycleUnits": True}
    bad = [
        {**good, "operatorPin": "1234"},  # an unknown field never reaches the service
        {"totalItemsLimit": 5, "amountLimit": None},
        {**good, "totalItemsLimit": 5.0},
        {**good, "amountLimit": {"minor": 100.5, "currency": "CNY"}},
        {**good, "amountLimit": {"minor": 100, "currency": "XXX"}},
    ]
    for payload in bad:
        rid = await raw.command("CashAcceptor.CashInStart", None, payload, device="cash_acceptor")
        ack = await raw.next_ack()
        assert ack.header["requestId"] == rid
        assert ack.header["status"] == "invalidMessage", payload
    await raw.command(
        "CashAcceptor.ConfigureNoteTypes", None, {"enabled": "CNY:100"}, device="cash_acceptor"
    )
    assert (await raw.next_ack()).header["status"] == "invalidMessage"
    # Nothing was started by the refused ones.
    status = await raw.call("CashAcceptor.GetCashInStatus", {}, device="cash_acceptor")
    assert status.payload["status"] == "unknown"
    started = await raw.call("CashAcceptor.CashInStart", good, device="cash_acceptor")
    assert started.header["completionCode"] == "success"
    assert started.payload["status"] == "active"
    again = await raw.call("CashAcceptor.CashInStart", good, device="cash_acceptor")
    assert (again.header["completionCode"], again.header["errorCode"]) == (
        "commandErrorCode",
        "cashInActive",
    )
