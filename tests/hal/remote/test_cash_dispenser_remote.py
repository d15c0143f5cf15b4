"""`RemoteCashDispenser` against a real `RemoteServer` over ZeroMQ sockets.

The server serves `ScriptedCashDispenser` (tests/hal/remote/cash_scripted.py: a small
dispenser with state, not a mock). The same script run in-process and remote gives the
same values; events arrive in order before their completion; errors keep their class,
``error_code`` and text; a float amount never reaches the wire; a cancelled remote
dispense settles with the device (IncompleteDispense) before `CancelledError`; the wire
carries Money as integers and a mix table as JSON, and refuses what does not fit.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest

import hal
from hal.devices.cash_dispenser import (
    CashDispenser,
    CashUnitThreshold,
    Denomination,
    IncompleteDispense,
    IncompleteRetract,
    ItemsPresented,
    ItemsTaken,
    MixTable,
    NoteError,
    NoteErrorReason,
    PresentState,
    ReplenishmentStatus,
    RetractArea,
    StartDispense,
)
from hal.errors import (
    ExchangeActive,
    HalError,
    InvalidData,
    ItemsLeft,
    MediaJam,
    NoExchangeActive,
    NoItems,
    NotDispensable,
    TooManyItems,
    TransactionActive,
    UnsupportedOperation,
)
from hal.events import Event, StatusChanged, Subscription
from hal.money import Money
from hal.remote import RemoteCashDispenser, RemoteServer
from tests.hal.remote.cash_scripted import ScriptedCashDispenser
from tests.hal.remote.conftest import RawClient
from tests.remote_tap import FrameTap

CNY = "CNY"


@dataclass
class Rig:
    device: ScriptedCashDispenser
    server: RemoteServer


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    device = ScriptedCashDispenser()
    async with RemoteServer(
        {"cash_dispenser": device}, "tcp://127.0.0.1:0", simulator=True, heartbeat_interval=0.5
    ) as server:
        yield Rig(device, server)


@pytest.fixture
async def remote(rig: Rig) -> AsyncIterator[RemoteCashDispenser]:
    async with RemoteCashDispenser(rig.server.endpoint, timeout=2.0) as cash:
        yield cash


def drain(sub: Subscription, kinds: tuple[type[Event], ...] | None = None) -> list[Event]:
    events = sub.drain()
    if kinds is None:
        return [e for e in events if not isinstance(e, StatusChanged)]
    return [e for e in events if isinstance(e, kinds)]


async def script(cash: CashDispenser, take: Callable[[], object]) -> list[Any]:
    """Every method once, with results and errors: what a caller sees."""
    seen: list[Any] = []

    async def step(name: str, call: Callable[[], Any]) -> None:
        try:
            seen.append((name, await call()))
        except HalError as exc:
            seen.append((name, type(exc).__name__, exc.error_code, str(exc)))

    table = MixTable(CNY, (10000, 5000, 2000), ((18000, (0, 2, 4)), (18000, (1, 0, 4))))
    await step("status", cash.status)
    await step("capabilities", cash.capabilities)
    await step("units", cash.cash_units)
    await step("denominate fewest", lambda: cash.denominate(Decimal("380.00"), CNY))
    await step("denominate int", lambda: cash.denominate(38000, CNY, mix="equalEmptying"))
    await step("denominate table", lambda: cash.denominate(Money(18000, CNY), mix=table))
    await step("denominate no", lambda: cash.denominate(Money(1000, CNY)))
    await step("denominate many", lambda: cash.denominate(Money(700000, CNY)))
    await step("present empty", cash.present)
    await step("present status before", cash.get_present_status)
    plan = Denomination(Money(17000, CNY), {"unit1": 1, "unit2": 1, "unit3": 1})
    await step("dispense plan", lambda: cash.dispense(plan))
    await step("dispense again", lambda: cash.dispense(Money(10000, CNY)))
    await step("exchange busy", cash.start_exchange)
    await step("present", cash.present)
    await step("present status", cash.get_present_status)
    await step("retract transport", lambda: cash.retract(RetractArea.TRANSPORT))
    await step("retract", cash.retract)
    await step("retract nothing", lambda: cash.retract(RetractArea.REJECT))
    await step("dispense amount", lambda: cash.dispense(Money(7000, CNY), mix="equalEmptying"))
    await step("reject", cash.reject)
    await step("dispense table", lambda: cash.dispense(Money(18000, CNY), mix=table))
    await step("present 2", cash.present)
    take()
    await step("present status taken", cash.get_present_status)
    await step("count", lambda: cash.count(["unit3"]))
    await step("test units", cash.test_cash_units)
    await step("set outside exchange", lambda: cash.set_cash_unit("unit3", initial=30))
    await step("start exchange", cash.start_exchange)
    await step("dispense in exchange", lambda: cash.dispense(Money(10000, CNY)))
    await step("set unit3", lambda: cash.set_cash_unit("unit3", initial=30, thresholds=(5, None)))
    await step("set unit1", lambda: cash.set_cash_unit("unit1", thresholds=(None, 100)))
    await step("set unknown", lambda: cash.set_cash_unit("unit9", initial=1))
    await step("end exchange", cash.end_exchange)
    await step("end again", cash.end_exchange)
    await step("count all", cash.count)
    await step("reset", cash.reset)
    await step("units after", cash.cash_units)
    await step("status after", cash.status)
    return seen


async def test_every_method_gives_the_same_values_and_errors_as_in_process(
    remote: RemoteCashDispenser, rig: Rig
) -> None:
    local = ScriptedCashDispenser()
    async with local:
        expected = await script(local, local.take)
    got = await script(remote, rig.device.take)
    assert got == expected
    # The script reached every public method of the interface, remote as in-process.
    assert set(rig.device.calls) == set(local.calls)
    outcomes = {s[0]: s[1:] for s in got}
    assert outcomes["denominate no"][0] == "NotDispensable"
    assert outcomes["denominate many"][0] == "TooManyItems"
    assert outcomes["dispense again"][:2] == ("ItemsLeft", "itemsLeft")
    assert outcomes["exchange busy"][:2] == ("TransactionActive", "transactionActive")
    assert outcomes["retract transport"][0] == "UnsupportedOperation"
    assert outcomes["set outside exchange"][:2] == ("NoExchangeActive", "noExchangeActive")
    assert outcomes["dispense in exchange"][:2] == ("ExchangeActive", "exchangeActive")
    assert outcomes["set unknown"][0] == "InvalidData"
    assert outcomes["denominate table"][0].counts == {"unit2": 2, "unit3": 4}
    status = outcomes["present status taken"][0]
    assert (status.state, status.taken) == (PresentState.PRESENTED, True)
    assert status.denomination.amount == Money(18000, CNY)


async def test_errors_keep_their_class_code_and_text(remote: RemoteCashDispenser, rig: Rig) -> None:
    cases: list[tuple[type[HalError], str, Callable[[], Any]]] = [
        (NotDispensable, "notDispensable", lambda: remote.denominate(Money(1000, CNY))),
        (TooManyItems, "tooManyItems", lambda: remote.denominate(Money(700000, CNY))),
        (NoItems, "noItems", remote.present),
        (UnsupportedOperation, "", lambda: remote.retract(RetractArea.STACKER)),
        (NoExchangeActive, "noExchangeActive", remote.end_exchange),
    ]
    for cls, code, call in cases:
        with pytest.raises(cls) as caught:
            await call()
        assert type(caught.value) is cls
        assert caught.value.error_code == (code or caught.value.error_code)
    rig.device.jam_after = 3
    with pytest.raises(MediaJam) as jam:
        await remote.dispense(Money(50000, CNY))
    assert jam.value.error_code == "mediaJam"
    assert "after 3 notes dispensed" in str(jam.value)
    rig.device.jam_after = None
    await remote.reset()
    await remote.start_exchange()
    with pytest.raises(ExchangeActive):
        await remote.present()
    with pytest.raises(InvalidData):
        await remote.set_cash_unit("nope", initial=1)
    await remote.end_exchange()
    await remote.dispense(Money(10000, CNY))
    with pytest.raises(ItemsLeft):
        await remote.dispense(Money(10000, CNY))
    with pytest.raises(TransactionActive):
        await remote.start_exchange()


async def test_events_arrive_in_order_before_the_completion(
    remote: RemoteCashDispenser, rig: Rig
) -> None:
    sub = remote.events()
    rig.device.double_note_at = 2
    await remote.start_exchange()
    await remote.set_cash_unit("unit3", thresholds=(28, None))
    await remote.end_exchange()
    drain(sub)
    dispensed = await remote.dispense(Money(6000, CNY))  # 3 x 20
    # Everything the dispense caused is already here when it returns.
    events = drain(sub)
    assert [type(e) for e in events] == [StartDispense, NoteError, CashUnitThreshold]
    start, note, threshold = events
    assert start.command_id is not None
    assert note.command_id == start.command_id
    assert isinstance(note, NoteError)
    assert note.reason == NoteErrorReason.DOUBLE_NOTE
    assert isinstance(threshold, CashUnitThreshold)
    assert (threshold.unit, threshold.replenishment) == ("unit3", ReplenishmentStatus.LOW)
    assert threshold.command_id is None  # unsolicited
    assert dispensed.counts == {"unit3": 3}
    assert dispensed.rejected == {"unit3": 1}
    count = await remote.present()
    assert count == 3
    presented = drain(sub)
    assert [type(e) for e in presented] == [ItemsPresented]
    assert presented[0].count == 3  # type: ignore[attr-defined]
    # Unsolicited: the customer takes the notes on the device's side.
    rig.device.take()
    taken = await asyncio.wait_for(sub.get(), 2.0)
    while isinstance(taken, StatusChanged):
        taken = await asyncio.wait_for(sub.get(), 2.0)
    assert isinstance(taken, ItemsTaken)
    assert taken.count == 3
    status = await remote.status()
    assert status.exit_items is False
    sub.close()


async def test_incomplete_retract_travels(remote: RemoteCashDispenser, rig: Rig) -> None:
    rig.device.units["retract"].count = 199  # room for one note
    await remote.dispense(Money(30000, CNY))
    await remote.present()
    sub = remote.events()
    assert await remote.retract() == 1
    [event] = drain(sub)
    assert isinstance(event, IncompleteRetract)
    assert (event.reason, event.retracted, event.left) == ("retractAreaFull", 1, 2)
    sub.close()


async def test_status_changes_carry_the_cash_status(remote: RemoteCashDispenser, rig: Rig) -> None:
    sub = remote.events(kinds=[StatusChanged])
    await remote.start_exchange()
    change = await asyncio.wait_for(sub.get(), 2.0)
    assert isinstance(change, StatusChanged)
    assert change.changed == frozenset({"exchange_active"})
    assert change.new.exchange_active
    assert not change.old.exchange_active
    await remote.end_exchange()
    sub.close()


def commands(tap: FrameTap) -> list[str]:
    return [n for n in tap.names("to_server") if n != "Common.Heartbeat"]


async def test_a_float_amount_is_refused_before_the_wire(rig: Rig) -> None:
    async with FrameTap(rig.server.endpoint) as tap:
        async with hal.open(tap.address("cash_dispenser")) as cash:
            assert isinstance(cash, RemoteCashDispenser)
            before = commands(tap)
            calls = list(rig.device.calls)
            with pytest.raises(TypeError):
                await cash.denominate(12.5, CNY)  # type: ignore[arg-type]
            with pytest.raises(TypeError):
                await cash.dispense(100.0)  # type: ignore[arg-type]
            with pytest.raises(TypeError):
                await cash.set_cash_unit("unit1", initial=3.0)  # type: ignore[arg-type]
            with pytest.raises(TypeError):
                await cash.denominate(True, CNY)
            with pytest.raises(InvalidData):
                await cash.denominate(Decimal("1.005"), CNY)  # more places than CNY has
            with pytest.raises(InvalidData):
                await cash.denominate(100, None)
            with pytest.raises(InvalidData):
                await cash.denominate(Money(100, CNY), "USD")
            assert commands(tap) == before
            assert rig.device.calls == calls
            # What does travel: Money as integer minor units, a mix table as JSON.
            table = MixTable(CNY, (10000, 2000), ((12000, (1, 1)),))
            await cash.denominate(Decimal("120.00"), CNY, mix=table)
        sent = [m for m in tap.messages if m.header.get("name") == "CashDispenser.Denominate"]
        assert sent[0].payload == {
            "amount": {"minor": 12000, "currency": "CNY"},
            "mix": "mixTable",
            "mixTable": {
                "currency": "CNY",
                "values": [10000, 2000],
                "rows": [{"amount": 12000, "counts": [1, 1]}],
            },
        }
        answer = [
            m
            for m in tap.messages
            if m.header.get("name") == "CashDispenser.Denominate"
            and m.header["type"] == "completion"
        ]
        assert answer[0].payload == {
            "amount": {"minor": 12000, "currency": "CNY"},
            "counts": {"unit1": 1, "unit3": 1},
        }


async def test_cancelling_a_remote_dispense_settles_first(
    remote: RemoteCashDispenser, rig: Rig
) -> None:
    rig.device.note_delay = 0.02
    sub = remote.events(kinds=[StartDispense, IncompleteDispense])
    task = asyncio.create_task(remote.dispense(Money(50000, CNY)))  # 5 x 100
    first = await asyncio.wait_for(sub.get(), 2.0)
    assert isinstance(first, StartDispense)
    await asyncio.sleep(0.05)  # a few notes picked
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # The IncompleteDispense is here by the time CancelledError is raised.
    [incomplete] = sub.drain()
    assert isinstance(incomplete, IncompleteDispense)
    assert incomplete.error_code == "canceled"
    picked = incomplete.counts.get("unit1", 0)
    assert 0 < picked < 5
    assert rig.device.books.stacker == {"unit1": picked}
    units = {u.id: u for u in await remote.cash_units()}
    assert units["unit1"].count == 50 - picked
    # The device is usable afterwards; the remote session too.
    assert await remote.reject() == picked
    sub.close()


async def test_the_wire_refuses_what_does_not_fit(
    rig: Rig, raw_client: Callable[[str], RawClient]
) -> None:
    raw = raw_client(rig.server.endpoint)
    await raw.handshake()
    await raw.open("cash_dispenser")
    bad = [
        {"amount": {"minor": 100.0, "currency": "CNY"}, "mix": "fewestNotes", "mixTable": None},
        {"amount": {"minor": 100, "currency": "XXX"}, "mix": "fewestNotes", "mixTable": None},
        {"amount": {"minor": 100, "currency": "CNY"}, "mix": "greedy", "mixTable": None},
        {"amount": {"minor": 100, "currency": "CNY"}, "mix": "mixTable", "mixTable": None},
        {
            "amount": {"minor": 100, "currency": "CNY"},
            "mix": "mixTable",
            "mixTable": {
                "currency": "CNY",
                "values": [100],
                "rows": [{"amount": 100, "counts": [2]}],
            },
        },
        {"amount": "100.00 CNY", "mix": "fewestNotes", "mixTable": None},
    ]
    for payload in bad:
        rid = await raw.command("CashDispenser.Denominate", None, payload, device="cash_dispenser")
        ack = await raw.next_ack()
        assert ack.header["requestId"] == rid
        assert ack.header["status"] == "invalidMessage", payload
    both = {
        "denomination": {"amount": {"minor": 100, "currency": "CNY"}, "counts": {}},
        "amount": {"minor": 100, "currency": "CNY"},
        "mix": "fewestNotes",
        "mixTable": None,
    }
    await raw.command("CashDispenser.Dispense", None, both, device="cash_dispenser")
    assert (await raw.next_ack()).header["status"] == "invalidMessage"
    assert rig.device.calls == []
    good = await raw.call("CashDispenser.Count", {"units": ["unit3"]}, device="cash_dispenser")
    assert good.header["completionCode"] == "success"
    assert good.payload == {"counts": {"unit3": 30}}
    err = await raw.call("CashDispenser.Present", {}, device="cash_dispenser")
    assert (err.header["completionCode"], err.header["errorCode"]) == (
        "commandErrorCode",
        "noItems",
    )
    json.dumps(err.payload)


async def test_hal_open_gives_a_remote_cash_dispenser(rig: Rig) -> None:
    port = rig.server.endpoint.rpartition(":")[2]
    async with hal.open(f"zmq://127.0.0.1:{port}/cash_dispenser") as cash:
        assert isinstance(cash, RemoteCashDispenser)
        assert isinstance(cash, CashDispenser)
        units = await cash.cash_units()
        assert [u.id for u in units] == ["unit1", "unit2", "unit3", "reject", "retract"]
        assert units[0].info.value == 10000
        assert units[0].count == 50


async def test_cash_units_travel_with_xfs4iot_names(rig: Rig) -> None:
    async with FrameTap(rig.server.endpoint) as tap:
        async with RemoteCashDispenser(tap.endpoint, timeout=2.0) as cash:
            units = await cash.cash_units()
        [completion] = [
            m
            for m in tap.messages
            if m.header.get("name") == "Storage.GetStorage" and m.header["type"] == "completion"
        ]
    first = completion.payload["units"][0]
    assert set(first) == {
        "info",
        "status",
        "initial",
        "count",
        "out",
        "in",
        "replenishment",
        "lowThreshold",
        "highThreshold",
    }
    assert first["info"]["type"] == "cashOut"
    assert first["info"]["value"] == 10000
    assert first["in"] == {
        "deposited": 0,
        "retracted": 0,
        "rejected": 0,
        "transport": 0,
        "unknown": 0,
    }
    assert units[0].in_.deposited == 0


def test_every_cash_event_round_trips_through_json() -> None:
    from hal.devices.cash_dispenser import CashDispenserStatus, DelayedDispense, ShutterState
    from hal.remote.interfaces import CASH_DISPENSER, INTERFACES

    assert INTERFACES["CashDispenser"] is CASH_DISPENSER
    samples: list[Event] = [
        StartDispense(),
        DelayedDispense(delay=1.5),
        IncompleteDispense(counts={"unit1": 2, "unit3": 1}, error_code="cashUnitError"),
        NoteError(reason=NoteErrorReason.SKEWED_NOTE),
        ItemsPresented(count=7),
        ItemsTaken(count=7),
        IncompleteRetract(reason="retractFailure", retracted=3, left=None),
        CashUnitThreshold(unit="unit2", replenishment=ReplenishmentStatus.HIGH),
    ]
    # Every event class the interface lists has a sample here.
    assert {type(e) for e in samples} == set(CASH_DISPENSER.events)
    for event in samples:
        blobs: list[bytes] = []
        name, payload = CASH_DISPENSER.encode_event(event, blobs)
        assert name == event.xfs_name
        assert blobs == []
        back = CASH_DISPENSER.decode_event(name, json.loads(json.dumps(payload)), [])
        assert back == event
    old = CashDispenserStatus()
    new = CashDispenserStatus(shutter=ShutterState.OPEN, exit_items=True)
    change = StatusChanged(old=old, new=new, changed=frozenset({"shutter", "exit_items"}))
    name, payload = CASH_DISPENSER.encode_event(change, [])
    assert set(payload) == {"shutter", "exitItems", "old"}
    back = CASH_DISPENSER.decode_event(name, json.loads(json.dumps(payload)), [])
    assert back == change
