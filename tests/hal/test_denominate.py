"""Denomination: exact sums, limits respected, fewest notes minimal, equal emptying balanced.

The properties are checked against a brute force over every count vector on small
instances (at most 4 cassettes of at most 5 notes each).
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from itertools import product

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hal.devices.denominate import (
    Cassette,
    MixTable,
    denominate,
    equal_emptying,
    fewest_notes,
    mix_table,
)
from hal.errors import InvalidData, NotDispensable, TooManyItems, error_class_for
from hal.money import Money


def usd(major: int) -> Money:
    return Money.of(major, "USD")


def unit(ident: str, value: int, count: int, limit: int | None = None) -> Cassette:
    """A USD cassette of ``value`` whole dollars."""
    return Cassette(ident, "USD", value * 100, count, limit)


def notes_value(cassettes: list[Cassette], result: dict[str, int]) -> int:
    by_id = {c.id: c for c in cassettes}
    return sum(by_id[k].value * n for k, n in result.items())


# --- unit cases -----------------------------------------------------------------------


def test_greedy_fails_sixty_from_fifties_and_twenties() -> None:
    cassettes = [unit("c50", 50, 10), unit("c20", 20, 10)]
    assert fewest_notes(cassettes, usd(60)) == {"c20": 3}
    assert equal_emptying(cassettes, usd(60)) == {"c20": 3}


def test_greedy_fails_with_availability() -> None:
    # 130 from 100x1, 50x2, 20x4: greedy takes 100, then 20x1 and is stuck at 10;
    # the answer is 50 + 20x4.
    cassettes = [unit("a", 100, 1), unit("b", 50, 2), unit("c", 20, 4)]
    result = fewest_notes(cassettes, usd(130))
    assert result == {"b": 1, "c": 4}


def test_fewest_beats_greedy_on_non_canonical_values() -> None:
    # 40 from 25, 20, 5: greedy gives 25+5+5+5 (4 notes), best is 20+20.
    cassettes = [unit("q", 25, 9), unit("t", 20, 9), unit("f", 5, 9)]
    assert fewest_notes(cassettes, usd(40)) == {"t": 2}


def test_fewest_notes_simple_cny() -> None:
    cassettes = [
        Cassette("100", "CNY", 10000, 500),
        Cassette("50", "CNY", 5000, 200),
        Cassette("20", "CNY", 2000, 200),
        Cassette("10", "CNY", 1000, 200),
    ]
    result = fewest_notes(cassettes, Money.of(Decimal("1880"), "CNY"))
    assert result == {"100": 18, "50": 1, "20": 1, "10": 1}


def test_only_the_amounts_currency_is_used() -> None:
    cassettes = [Cassette("eur", "EUR", 1000, 50), unit("usd", 20, 5)]
    assert fewest_notes(cassettes, usd(40)) == {"usd": 2}
    with pytest.raises(NotDispensable):
        fewest_notes(cassettes, Money.of(20, "GBP"))


def test_per_dispense_limit_is_respected() -> None:
    cassettes = [unit("a", 100, 50, limit=2), unit("b", 20, 50)]
    assert fewest_notes(cassettes, usd(300)) == {"a": 2, "b": 5}


def test_same_value_in_two_cassettes_takes_from_the_fullest() -> None:
    cassettes = [unit("a", 20, 3), unit("b", 20, 8)]
    assert fewest_notes(cassettes, usd(100)) == {"b": 5}  # leaves 3 and 3
    assert fewest_notes(cassettes, usd(140)) == {"a": 1, "b": 6}  # leaves 2 and 2


def test_equal_emptying_balances_counts() -> None:
    # 200 from 100s (count 10) and 20s (count 3): the fewest is 2x100 (leaves 8 and 3);
    # taking 100 + 5x20 is impossible (3 twenties), so 2x100 stays; with 20s at 12 the
    # balanced answer takes twenties: 100x1 + 20x5 leaves 9 and 7 (max 9) vs. 10 - 0 and
    # 12 - 10 (max 10) vs. 8 and 12 (max 12).
    assert equal_emptying([unit("h", 100, 10), unit("t", 20, 3)], usd(200)) == {"h": 2}
    result = equal_emptying([unit("h", 100, 10), unit("t", 20, 12)], usd(200))
    assert result == {"h": 1, "t": 5}
    assert fewest_notes([unit("h", 100, 10), unit("t", 20, 12)], usd(200)) == {"h": 2}


def test_impossible_amounts_raise_not_dispensable() -> None:
    cassettes = [unit("a", 50, 10), unit("b", 20, 10)]
    for amount in (usd(10), usd(30), Money(6001, "USD"), usd(10_000)):
        for solver in (fewest_notes, equal_emptying):
            with pytest.raises(NotDispensable) as caught:
                solver(cassettes, amount)
            assert caught.value.error_code == "notDispensable"
    assert error_class_for("commandErrorCode", "notDispensable") is NotDispensable


def test_empty_cassettes_and_no_cassettes() -> None:
    with pytest.raises(NotDispensable):
        fewest_notes([], usd(20))
    with pytest.raises(NotDispensable):
        equal_emptying([unit("a", 20, 0)], usd(20))


def test_too_many_items() -> None:
    cassettes = [unit("a", 20, 100)]
    assert fewest_notes(cassettes, usd(200), max_items=10) == {"a": 10}
    for solver in (fewest_notes, equal_emptying):
        with pytest.raises(TooManyItems) as caught:
            solver(cassettes, usd(220), max_items=10)
        assert caught.value.error_code == "tooManyItems"
    assert error_class_for("commandErrorCode", "tooManyItems") is TooManyItems


def test_equal_emptying_respects_max_items() -> None:
    # Balanced would take many twenties; max_items forces hundreds.
    cassettes = [unit("h", 100, 10), unit("t", 20, 40)]
    free = equal_emptying(cassettes, usd(400))
    assert sum(free.values()) > 4
    assert equal_emptying(cassettes, usd(400), max_items=4) == {"h": 4}


@pytest.mark.parametrize("bad", [60.0, 60, Decimal("60")])
def test_amount_must_be_money(bad: object) -> None:
    cassettes = [unit("a", 20, 10)]
    for solver in (fewest_notes, equal_emptying):
        with pytest.raises(TypeError):
            solver(cassettes, bad)  # type: ignore[arg-type]


def test_float_counts_and_values_raise_type_error() -> None:
    with pytest.raises(TypeError):
        Cassette("a", "USD", 20.0, 10)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Cassette("a", "USD", 2000, 10.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Cassette("a", "USD", 2000, 10, 2.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        fewest_notes([unit("a", 20, 10)], usd(20), max_items=3.0)  # type: ignore[arg-type]


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(InvalidData):
        Cassette("a", "USD", 0, 10)
    with pytest.raises(InvalidData):
        Cassette("a", "XXX", 100, 10)
    with pytest.raises(InvalidData):
        Cassette("a", "USD", 100, -1)
    with pytest.raises(InvalidData, match="twice"):
        fewest_notes([unit("a", 20, 1), unit("a", 50, 1)], usd(20))
    with pytest.raises(InvalidData):
        fewest_notes([unit("a", 20, 1)], usd(0))
    with pytest.raises(InvalidData):
        fewest_notes([unit("a", 20, 1)], usd(-20))


def test_mix_table_rows_in_order() -> None:
    table = MixTable(
        "USD",
        (10000, 5000, 2000),
        (
            (15000, (1, 1, 0)),
            (15000, (0, 3, 0)),
            (15000, (0, 1, 5)),
            (6000, (0, 0, 3)),
        ),
    )
    full = [unit("h", 100, 5), unit("f", 50, 5), unit("t", 20, 5)]
    assert mix_table(full, usd(150), table) == {"h": 1, "f": 1}
    no_hundreds = [unit("h", 100, 0), unit("f", 50, 5), unit("t", 20, 5)]
    assert mix_table(no_hundreds, usd(150), table) == {"f": 3}
    one_fifty = [unit("h", 100, 0), unit("f", 50, 1), unit("t", 20, 5)]
    assert mix_table(one_fifty, usd(150), table) == {"f": 1, "t": 5}
    assert denominate(full, usd(60), table) == {"t": 3}
    with pytest.raises(NotDispensable, match="not in the mix table"):
        mix_table(full, usd(70), table)
    with pytest.raises(NotDispensable):
        mix_table([unit("t", 20, 5)], usd(150), table)
    with pytest.raises(TooManyItems):
        mix_table(one_fifty, usd(150), table, max_items=4)


def test_mix_table_validation() -> None:
    with pytest.raises(InvalidData, match="make"):
        MixTable("USD", (10000, 5000), ((15000, (1, 2)),))
    with pytest.raises(InvalidData, match="counts for"):
        MixTable("USD", (10000, 5000), ((10000, (1,)),))
    with pytest.raises(InvalidData):
        MixTable("USD", (10000, 10000), ())
    with pytest.raises(TypeError):
        MixTable("USD", (10000,), ((10000, (1.0,)),))  # type: ignore[arg-type]
    table = MixTable("EUR", (1000,), ((1000, (1,)),))
    with pytest.raises(InvalidData, match="EUR"):
        mix_table([unit("a", 10, 5)], usd(10), table)


def test_denominate_dispatch() -> None:
    cassettes = [unit("h", 100, 10), unit("t", 20, 12)]
    assert denominate(cassettes, usd(200), "fewestNotes") == {"h": 2}
    assert denominate(cassettes, usd(200), "equalEmptying") == {"h": 1, "t": 5}
    with pytest.raises(InvalidData, match="unknown mix"):
        denominate(cassettes, usd(200), "random")  # type: ignore[arg-type]


def test_large_machine_is_fast_and_exact() -> None:
    cassettes = [
        Cassette(f"c{i}", "CNY", value, 2000, 200)
        for i, value in enumerate((10000, 10000, 5000, 5000, 2000, 2000, 1000, 1000))
    ]
    for major in (100, 1880, 9990, 20000, 39990):
        amount = Money.of(major, "CNY")
        for solver in (fewest_notes, equal_emptying):
            result = solver(cassettes, amount)
            assert notes_value(cassettes, result) == amount.minor


# --- properties against a brute force -------------------------------------------------


def all_ways(cassettes: list[Cassette], target: int) -> Iterator[tuple[int, ...]]:
    """Every count vector within the limits that makes ``target`` exactly."""
    for counts in product(*(range(c.limit + 1) for c in cassettes)):
        if sum(n * c.value for n, c in zip(counts, cassettes, strict=True)) == target:
            yield counts


def as_vector(cassettes: list[Cassette], result: dict[str, int]) -> tuple[int, ...]:
    return tuple(result.get(c.id, 0) for c in cassettes)


def max_left(cassettes: list[Cassette], counts: tuple[int, ...]) -> int:
    return max(c.count - n for c, n in zip(cassettes, counts, strict=True))


@st.composite
def machines(draw: st.DrawFn) -> tuple[list[Cassette], Money, int | None]:
    size = draw(st.integers(min_value=1, max_value=4))
    values = draw(
        st.lists(st.sampled_from([1, 2, 5, 10, 20, 25, 50, 100]), min_size=size, max_size=size)
    )
    cassettes = [
        Cassette(
            f"u{i}",
            "USD",
            value,
            draw(st.integers(min_value=0, max_value=5)),
            draw(st.none() | st.integers(min_value=0, max_value=5)),
        )
        for i, value in enumerate(values)
    ]
    if draw(st.booleans()):
        # Most random amounts cannot be made from a few notes; make half of them possible.
        made = sum(c.value * draw(st.integers(0, c.limit)) for c in cassettes)
        amount = Money(max(made, 1), "USD")
    else:
        amount = Money(draw(st.integers(min_value=1, max_value=400)), "USD")
    max_items = draw(st.none() | st.integers(min_value=0, max_value=12))
    return cassettes, amount, max_items


@settings(max_examples=400, deadline=None)
@given(machines())
def test_fewest_notes_against_brute_force(case: tuple[list[Cassette], Money, int | None]) -> None:
    cassettes, amount, max_items = case
    ways = list(all_ways(cassettes, amount.minor))
    if not ways:
        with pytest.raises(NotDispensable):
            fewest_notes(cassettes, amount, max_items=max_items)
        return
    fewest = min(sum(w) for w in ways)
    if max_items is not None and fewest > max_items:
        with pytest.raises(TooManyItems):
            fewest_notes(cassettes, amount, max_items=max_items)
        return
    result = fewest_notes(cassettes, amount, max_items=max_items)
    counts = as_vector(cassettes, result)
    assert counts in ways  # exact sum, within every count and per-dispense limit
    assert sum(counts) == fewest
    assert all(n > 0 for n in result.values())


@settings(max_examples=400, deadline=None)
@given(machines())
def test_equal_emptying_against_brute_force(
    case: tuple[list[Cassette], Money, int | None],
) -> None:
    cassettes, amount, max_items = case
    ways = list(all_ways(cassettes, amount.minor))
    allowed = [w for w in ways if max_items is None or sum(w) <= max_items]
    if not ways:
        with pytest.raises(NotDispensable):
            equal_emptying(cassettes, amount, max_items=max_items)
        return
    if not allowed:
        with pytest.raises(TooManyItems):
            equal_emptying(cassettes, amount, max_items=max_items)
        return
    counts = as_vector(cassettes, equal_emptying(cassettes, amount, max_items=max_items))
    assert counts in allowed
    # The invariant: no allowed way leaves a lower maximum count in any cassette, and
    # among the ways that reach that maximum, none uses fewer notes.
    best = min(max_left(cassettes, w) for w in allowed)
    assert max_left(cassettes, counts) == best
    assert sum(counts) == min(sum(w) for w in allowed if max_left(cassettes, w) == best)
    # Hence never less balanced than fewest_notes.
    fewest = as_vector(cassettes, fewest_notes(cassettes, amount, max_items=max_items))
    assert max_left(cassettes, counts) <= max_left(cassettes, fewest)


def one_note_at_a_time(cassettes: list[Cassette], extra: int) -> dict[str, int]:
    """The spreading rule written plainly: each note from the fullest (lowest index on a tie)."""
    taken = [0] * len(cassettes)
    for _ in range(extra):
        k = max(
            (k for k, c in enumerate(cassettes) if taken[k] < c.limit),
            key=lambda k: (cassettes[k].count - taken[k], -k),
        )
        taken[k] += 1
    return {c.id: n for c, n in zip(cassettes, taken, strict=True) if n}


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 40), st.none() | st.integers(0, 40)), min_size=1, max_size=5),
    st.data(),
)
def test_spreading_within_one_value(
    stocks: list[tuple[int, int | None]], data: st.DataObject
) -> None:
    cassettes = [unit(f"u{i}", 20, count, limit) for i, (count, limit) in enumerate(stocks)]
    room = sum(c.limit for c in cassettes)
    if room == 0:
        return
    extra = data.draw(st.integers(1, room))
    assert fewest_notes(cassettes, usd(20 * extra)) == one_note_at_a_time(cassettes, extra)


def test_equal_emptying_counts_cassettes_that_cannot_give() -> None:
    # "s" may give nothing this dispense (limit 0) and keeps 10 notes whatever happens,
    # so the maximum left is 10 anyway: no reason to take 5 twenties instead of one 100.
    cassettes = [unit("s", 5, 10, limit=0), unit("h", 100, 8), unit("t", 20, 10)]
    assert equal_emptying(cassettes, usd(100)) == {"h": 1}
    assert equal_emptying(cassettes[1:], usd(100)) == {"t": 5}
