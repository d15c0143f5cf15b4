"""The CashDispenser payloads through the remote's codec: hypothesis round trips of
every command payload and completion through JSON text, and the strict refusals.

Amounts are integer minor units with an ISO 4217 code; counts JSON objects; a mix table
its own JSON object. What decodes is what was encoded, and nothing else decodes.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hal.devices.cash_dispenser import (
    CashUnit,
    CashUnitInfo,
    CashUnitType,
    Denomination,
    Dispensed,
    InCounts,
    OutCounts,
    PresentState,
    PresentStatus,
    ReplenishmentStatus,
    RetractArea,
    UnitStatus,
)
from hal.devices.denominate import MixTable
from hal.money import CURRENCY_EXPONENTS, Money
from hal.remote.codec import WireValueError, codec_for
from hal.remote.interfaces_cash import (
    CASH_DISPENSER,
    CashUnitsCompletion,
    CountPayload,
    CountsCompletion,
    DenominatePayload,
    DispensePayload,
    MixTablePayload,
    RetractPayload,
    SetStoragePayload,
    Thresholds,
    mix_of,
    mix_wire,
)

currencies = st.sampled_from(sorted(CURRENCY_EXPONENTS))
money = st.builds(Money, st.integers(-(2**62), 2**62), currencies)
ids = st.text("abcdefghijklmnopqrstuvwxyz0123456789_", min_size=1, max_size=12).filter(
    lambda s: s not in ("stacker", "transport", "exit", "customer")
)
counts = st.dictionaries(ids, st.integers(0, 10_000), max_size=6)
denominations = st.builds(Denomination, money, counts)


@st.composite
def mix_tables(draw: st.DrawFn) -> MixTable:
    values = draw(st.lists(st.integers(1, 10**6), min_size=1, max_size=5, unique=True))
    rows = []
    for _ in range(draw(st.integers(0, 4))):
        row = tuple(draw(st.integers(0, 50)) for _ in values)
        rows.append((sum(c * v for c, v in zip(row, values, strict=True)), row))
    return MixTable(draw(currencies), tuple(values), tuple(rows))


mixes = st.one_of(st.sampled_from(["fewestNotes", "equalEmptying"]), mix_tables())
optional_int = st.none() | st.integers(0, 10**9)
infos = st.one_of(
    st.builds(
        CashUnitInfo,
        ids,
        st.sampled_from([CashUnitType.CASH_OUT, CashUnitType.RECYCLING]),
        currencies,
        st.integers(1, 10**6),
        optional_int,
        optional_int,
        st.text(max_size=10),
    ),
    st.builds(
        CashUnitInfo,
        ids,
        st.sampled_from([CashUnitType.REJECT, CashUnitType.RETRACT]),
        capacity=optional_int,
    ),
)
units = st.builds(
    CashUnit,
    infos,
    st.sampled_from(list(UnitStatus)),
    st.integers(0, 10**6),
    st.integers(-(10**6), 10**6),
    st.builds(OutCounts, *(st.integers(0, 10**6) for _ in range(7))),
    st.builds(InCounts, *(st.integers(0, 10**6) for _ in range(5))),
    st.sampled_from(list(ReplenishmentStatus)),
    optional_int,
    optional_int,
)


def through_json(value: Any) -> Any:
    """Encode, write as JSON text, read back, decode: the wire minus the sockets."""
    codec = codec_for(type(value))
    blobs: list[bytes] = []
    text = json.dumps(codec.encode(value, blobs), allow_nan=False)
    assert blobs == []  # notes hold no secret and no bytes
    return codec.decode(json.loads(text), blobs, "")


@settings(max_examples=150, deadline=None)
@given(money, mixes)
def test_denominate_round_trips(amount: Money, mix: Any) -> None:
    name, table = mix_wire(mix)
    back = through_json(DenominatePayload(amount, name, table))
    assert back.amount == amount
    assert mix_of(back.mix, back.mix_table) == mix


@settings(max_examples=150, deadline=None)
@given(st.one_of(denominations, money), mixes)
def test_dispense_round_trips(what: Any, mix: Any) -> None:
    name, table = mix_wire(mix)
    denomination = what if isinstance(what, Denomination) else None
    amount = what if isinstance(what, Money) else None
    back = through_json(DispensePayload(denomination, amount, name, table))
    method, arguments = CASH_DISPENSER.commands["CashDispenser.Dispense"].call_of(back)
    assert method == "dispense"
    assert arguments == {"what": what, "mix": mix}


@settings(max_examples=100, deadline=None)
@given(
    ids,
    optional_int,
    st.none() | st.builds(Thresholds, optional_int, optional_int),
    st.none() | st.lists(ids, max_size=5).map(tuple),
    st.sampled_from(list(RetractArea)),
)
def test_storage_count_and_retract_round_trip(
    unit: str,
    initial: int | None,
    thresholds: Thresholds | None,
    count_units: tuple[str, ...] | None,
    area: RetractArea,
) -> None:
    payload = SetStoragePayload(unit, initial, thresholds)
    method, arguments = CASH_DISPENSER.commands["Storage.SetStorage"].call_of(through_json(payload))
    assert method == "set_cash_unit"
    expected = None if thresholds is None else (thresholds.low, thresholds.high)
    assert arguments == {"unit": unit, "initial": initial, "thresholds": expected}
    assert through_json(CountPayload(count_units)) == CountPayload(count_units)
    assert through_json(RetractPayload(area)) == RetractPayload(area)


@settings(max_examples=100, deadline=None)
@given(st.lists(units, max_size=4), money, counts, counts, denominations, st.booleans())
def test_completions_round_trip(
    cash_units: list[CashUnit],
    amount: Money,
    done: dict[str, int],
    rejected: dict[str, int],
    last: Denomination,
    taken: bool,
) -> None:
    completion = CashUnitsCompletion(tuple(cash_units))
    assert through_json(completion) == completion
    dispensed = Dispensed(amount, done, rejected)
    assert through_json(dispensed) == dispensed
    assert through_json(CountsCompletion(done)).counts == done
    status = PresentStatus(PresentState.PRESENTED, last, taken)
    assert through_json(status) == status


@pytest.mark.parametrize(
    "payload",
    [
        {"amount": {"minor": 1.5, "currency": "CNY"}, "mix": "fewestNotes", "mixTable": None},
        {"amount": {"minor": True, "currency": "CNY"}, "mix": "fewestNotes", "mixTable": None},
        {"amount": {"minor": 100, "currency": "cny"}, "mix": "fewestNotes", "mixTable": None},
        {"amount": {"minor": 100}, "mix": "fewestNotes", "mixTable": None},
        {"amount": {"minor": 100, "currency": "CNY"}, "mix": "fewestNotes"},
        {"amount": {"minor": 100, "currency": "CNY"}, "mix": "fewest", "mixTable": None},
        {
            "amount": {"minor": 100, "currency": "CNY"},
            "mix": "fewestNotes",
            "mixTable": {"currency": "CNY", "values": [100], "rows": []},
        },
        {
            "amount": {"minor": 100, "currency": "CNY"},
            "mix": "mixTable",
            "mixTable": {"currency": "CNY", "values": [100, 100], "rows": []},
        },
    ],
)
def test_denominate_refusals(payload: dict[str, Any]) -> None:
    with pytest.raises(WireValueError):
        codec_for(DenominatePayload).decode(payload, [], "")


def test_a_denomination_with_a_negative_count_is_refused() -> None:
    bad = {"amount": {"minor": 100, "currency": "CNY"}, "counts": {"unit1": -1}}
    with pytest.raises(WireValueError):
        codec_for(Denomination).decode(bad, [], "")


def test_mix_table_payload_is_the_table() -> None:
    table = MixTable("EUR", (2000, 1000), ((3000, (1, 1)), (3000, (0, 3))))
    wire = MixTablePayload.of(table)
    assert wire.table() == table
