"""The CashAcceptor payloads, completions and events through the remote's codec:
hypothesis round trips through JSON text, and the strict refusals.

Note counts are JSON objects ``{item: notes}``, levels and refusal reasons their
XFS4IoT names, an amount limit integer minor units with its currency. What decodes is
what was encoded, and nothing else decodes: an unknown or missing field, a negative or
fractional count, a level or reason nobody knows are `WireValueError`.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hal.device import DeviceState
from hal.devices.cash_acceptor import (
    CashAcceptor,
    CashAcceptorCapabilities,
    CashAcceptorStatus,
    CashInEnded,
    CashInResult,
    CashInState,
    CashInStatus,
    CashUnitThreshold,
    InputRefuse,
    InsertItems,
    ItemsInserted,
    ItemsTaken,
    NoteLevel,
    NoteReaderState,
    NoteType,
    RefuseReason,
    SubCashIn,
)
from hal.devices.cash_model import (
    CashUnit,
    ReplenishmentStatus,
    RetractArea,
    ShutterState,
    StackerState,
    TransportState,
)
from hal.events import Event, StatusChanged
from hal.money import CURRENCY_EXPONENTS, Money
from hal.remote.codec import WireValueError, codec_for
from hal.remote.interfaces import INTERFACES, Empty
from hal.remote.interfaces_cash import CASH_DISPENSER, CashUnitsCompletion, RetractPayload
from hal.remote.interfaces_cash_in import (
    CASH_ACCEPTOR,
    CashInStartPayload,
    ConfigureNoteTypesPayload,
    NoteTypesCompletion,
)

currencies = st.sampled_from(sorted(CURRENCY_EXPONENTS))
money = st.builds(Money, st.integers(0, 2**62), currencies)
items = st.builds(
    lambda c, v: f"{c}:{v}", st.sampled_from(["CNY", "EUR", "USD"]), st.integers(1, 10**6)
)
counts = st.dictionaries(items, st.integers(1, 10_000), max_size=4)
unit_ids = st.text("abcdefghijklmnopqrstuvwxyz0123456789_", min_size=1, max_size=12).filter(
    lambda s: s not in ("escrow", "transport", "exit", "customer", "stacker")
)
note_types = st.builds(
    NoteType, st.sampled_from(["CNY", "EUR", "USD"]), st.integers(1, 10**6), st.booleans()
)
results = st.builds(
    CashInResult,
    counts,
    counts,
    st.dictionaries(st.sampled_from(list(NoteLevel)), st.integers(0, 100)),
    st.dictionaries(st.sampled_from(list(RefuseReason)), st.integers(0, 100)),
    st.integers(0, 10**4),
)
statuses = st.builds(
    CashInStatus,
    st.sampled_from(list(CashInState)),
    st.integers(0, 10**4),
    counts,
    counts,
    st.integers(0, 10**4),
)
endings = st.builds(
    CashInEnded,
    st.dictionaries(unit_ids, counts, max_size=4),
    counts,
    st.dictionaries(currencies, st.integers(0, 10**9)).map(
        lambda d: {c: Money(v, c) for c, v in d.items()}
    ),
)
device_statuses = st.builds(
    CashAcceptorStatus,
    st.sampled_from(list(DeviceState)),
    st.sampled_from(list(StackerState)),
    st.sampled_from(list(NoteReaderState)),
    st.sampled_from(list(TransportState)),
    st.sampled_from(list(ShutterState)),
    st.none() | st.booleans(),
    st.booleans(),
    st.booleans(),
    st.booleans(),
)
capabilities = st.builds(
    CashAcceptorCapabilities,
    st.integers(1, 500),
    st.booleans(),
    st.booleans(),
    st.booleans(),
    st.booleans(),
    st.booleans(),
    st.booleans(),
    st.frozensets(st.sampled_from(list(RetractArea))),
    st.sampled_from(["exit", "customer"]),
    st.booleans(),
    st.booleans(),
    st.booleans(),
)
events = st.one_of(
    st.builds(InsertItems),
    st.builds(ItemsInserted, position=st.sampled_from(["input", "inputOutput"])),
    st.builds(InputRefuse, reason=st.sampled_from(list(RefuseReason)), count=st.integers(1, 1000)),
    st.builds(SubCashIn, accepted=counts, retained=counts),
    st.builds(ItemsTaken, count=st.integers(0, 1000)),
    st.builds(
        CashUnitThreshold, unit=unit_ids, replenishment=st.sampled_from(list(ReplenishmentStatus))
    ),
)


def through_json(value: Any) -> Any:
    """Encode, write as JSON text, read back, decode: the wire minus the sockets."""
    codec = codec_for(type(value))
    blobs: list[bytes] = []
    text = json.dumps(codec.encode(value, blobs), allow_nan=False)
    assert blobs == []  # notes hold no secret and no bytes
    return codec.decode(json.loads(text), blobs, "")


@settings(max_examples=100, deadline=None)
@given(st.none() | st.integers(0, 10**6), st.none() | money, st.booleans())
def test_cash_in_start_round_trips_to_the_method_s_arguments(
    limit: int | None, amount: Money | None, recycle: bool
) -> None:
    back = through_json(CashInStartPayload(limit, amount, recycle))
    method, arguments = CASH_ACCEPTOR.commands["CashAcceptor.CashInStart"].call_of(back)
    assert method == "cash_in_start"
    assert arguments == {"max_items": limit, "max_amount": amount, "use_recycle_units": recycle}


@settings(max_examples=100, deadline=None)
@given(st.lists(items, max_size=8).map(tuple), st.lists(note_types, max_size=8).map(tuple))
def test_note_types_round_trip(enabled: tuple[str, ...], types: tuple[NoteType, ...]) -> None:
    command = CASH_ACCEPTOR.commands["CashAcceptor.ConfigureNoteTypes"]
    method, arguments = command.call_of(through_json(ConfigureNoteTypesPayload(enabled)))
    assert (method, arguments) == ("configure_note_types", {"enabled": enabled})
    completion = command.completion_of(types)
    assert command.result_of(through_json(completion)) == types


@settings(max_examples=50, deadline=None)
@given(results, statuses, endings)
def test_the_transaction_s_completions_round_trip(
    result: CashInResult, status: CashInStatus, ended: CashInEnded
) -> None:
    assert through_json(result) == result
    assert through_json(result).levels == result.levels
    assert through_json(status) == status
    back = through_json(ended)
    assert back == ended
    assert back.notes() == ended.notes()


@settings(max_examples=100, deadline=None)
@given(device_statuses, capabilities)
def test_status_and_capabilities_round_trip(
    status: CashAcceptorStatus, caps: CashAcceptorCapabilities
) -> None:
    assert through_json(status) == status
    back = through_json(caps)
    assert back == caps
    assert back.features() == caps.features()


@settings(max_examples=150, deadline=None)
@given(events)
def test_events_round_trip_by_their_xfs_names(event: Event) -> None:
    blobs: list[bytes] = []
    name, payload = CASH_ACCEPTOR.encode_event(event, blobs)
    assert name == event.xfs_name
    back = CASH_ACCEPTOR.decode_event(name, json.loads(json.dumps(payload)), blobs)
    assert type(back) is type(event)
    own = [f.name for f in dataclasses.fields(event) if f.name not in ("device", "command_id")]
    own.remove("timestamp")
    assert [getattr(back, f) for f in own] == [getattr(event, f) for f in own]


@settings(max_examples=50, deadline=None)
@given(device_statuses, device_statuses)
def test_a_status_change_travels_as_a_delta(
    old: CashAcceptorStatus, new: CashAcceptorStatus
) -> None:
    changed = frozenset(
        f.name for f in dataclasses.fields(old) if getattr(old, f.name) != getattr(new, f.name)
    )
    event = StatusChanged(old=old, new=new, changed=changed)
    name, payload = CASH_ACCEPTOR.encode_event(event, [])
    back = CASH_ACCEPTOR.decode_event(name, json.loads(json.dumps(payload)), [])
    assert isinstance(back, StatusChanged)
    assert (back.old, back.new, back.changed) == (old, new, changed)


def test_the_interface_is_registered_and_shares_the_dispenser_s_storage_types() -> None:
    assert INTERFACES["CashAcceptor"] is CASH_ACCEPTOR
    names = set(CASH_ACCEPTOR.commands)
    assert {
        "CashAcceptor.CashInStart",
        "CashAcceptor.CashIn",
        "CashAcceptor.CashInEnd",
        "CashAcceptor.CashInRollback",
        "CashAcceptor.GetCashInStatus",
        "CashAcceptor.ConfigureNoteTypes",
        "CashManagement.GetBankNoteTypes",
        "CashManagement.Retract",
        "CashManagement.Reset",
    } <= names
    for shared in ("Storage.GetStorage", "Storage.SetStorage", "CashManagement.Retract"):
        mine, theirs = CASH_ACCEPTOR.commands[shared], CASH_DISPENSER.commands[shared]
        assert (mine.payload, mine.completion) == (theirs.payload, theirs.completion)
    assert CASH_ACCEPTOR.commands["Storage.GetStorage"].completion is CashUnitsCompletion
    assert CASH_ACCEPTOR.commands["CashManagement.Retract"].payload is RetractPayload
    assert CASH_ACCEPTOR.commands["Storage.SetStorage"].completion is CashUnit
    # Every method of the interface has its command, and no command calls a method
    # the interface lacks.
    methods = {c.method for c in CASH_ACCEPTOR.commands.values()}
    abstract = set(CashAcceptor.__abstractmethods__) - {"open", "close", "events", "name"}
    assert methods == abstract | {"status", "capabilities"}


GOOD_START = {
    "totalItemsLimit": 5,
    "amountLimit": {"minor": 50000, "currency": "CNY"},
    "useRecycleUnits": True,
}


@pytest.mark.parametrize(
    ("tp", "payload"),
    [
        (CashInStartPayload, {**GOOD_START, "pin": "1234"}),  # unknown fields never pass
        (CashInStartPayload, {k: v for k, v in GOOD_START.items() if k != "useRecycleUnits"}),
        (CashInStartPayload, {**GOOD_START, "totalItemsLimit": 5.0}),
        (CashInStartPayload, {**GOOD_START, "totalItemsLimit": True}),
        (CashInStartPayload, {**GOOD_START, "amountLimit": {"minor": 1.5, "currency": "CNY"}}),
        (CashInStartPayload, {**GOOD_START, "amountLimit": {"minor": 100, "currency": "cny"}}),
        (CashInStartPayload, {**GOOD_START, "useRecycleUnits": 1}),
        (ConfigureNoteTypesPayload, {"enabled": "CNY:10000"}),
        (ConfigureNoteTypesPayload, {"enabled": [10000]}),
        (ConfigureNoteTypesPayload, {"enabled": [], "extra": 1}),
        (NoteTypesCompletion, {"items": [{"currency": "CNY", "value": 0, "enabled": True}]}),
        (NoteTypesCompletion, {"items": [{"currency": "CNY", "value": 100}]}),
        (
            CashInResult,
            {"accepted": {"CNY:100": -1}, "retained": {}, "levels": {}, "refused": {}, "escrow": 0},
        ),
        (
            CashInResult,
            {"accepted": {}, "retained": {}, "levels": {"shiny": 1}, "refused": {}, "escrow": 0},
        ),
        (
            CashInResult,
            {"accepted": {}, "retained": {}, "levels": {}, "refused": {"bored": 1}, "escrow": 0},
        ),
        (
            CashInStatus,
            {"status": "done", "refused": 0, "notes": {}, "retained": {}, "escrow": 0},
        ),
        (
            CashInStatus,
            {"status": "ok", "refused": 0, "notes": {"CNY:100": 1.0}, "retained": {}, "escrow": 0},
        ),
        (CashInEnded, {"stored": {"cashin": {"CNY:100": -2}}, "returned": {}, "credited": {}}),
        (CashInEnded, {"stored": {}, "returned": {}}),
    ],
)
def test_refusals(tp: type[Any], payload: dict[str, Any]) -> None:
    with pytest.raises(WireValueError):
        codec_for(tp).decode(payload, [], "")


def test_every_payload_and_completion_refuses_an_unknown_field() -> None:
    samples: dict[type[Any], Any] = {
        CashInStartPayload: CashInStartPayload(1, Money(100, "CNY"), True),
        ConfigureNoteTypesPayload: ConfigureNoteTypesPayload(("CNY:100",)),
        NoteTypesCompletion: NoteTypesCompletion((NoteType("CNY", 100),)),
        CashInResult: CashInResult({"CNY:100": 1}),
        CashInStatus: CashInStatus(CashInState.ACTIVE),
        CashInEnded: CashInEnded({"cashin": {"CNY:100": 1}}),
        CashAcceptorStatus: CashAcceptorStatus(),
        CashAcceptorCapabilities: CashAcceptorCapabilities(),
    }
    checked = set()
    for command in CASH_ACCEPTOR.commands.values():
        for tp in (command.payload, command.completion):
            if tp is None or tp is Empty or tp not in samples:
                continue
            wire = codec_for(tp).encode(samples[tp], [])
            assert codec_for(tp).decode(wire, [], "") == samples[tp]
            with pytest.raises(WireValueError, match="unknown"):
                codec_for(tp).decode({**wire, "track2": "x"}, [], "")
            checked.add(tp)
    assert checked == set(samples)
    with pytest.raises(WireValueError):
        CASH_ACCEPTOR.decode_event("CashAcceptor.SubCashInEvent", {"accepted": {}}, [])
    with pytest.raises(WireValueError):
        CASH_ACCEPTOR.decode_event("CashDispenser.StartDispenseEvent", {}, [])
