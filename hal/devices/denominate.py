"""Denomination: which notes, from which cassettes, make an amount. Pure, no I/O.

XFS4IoT ``CashDispenser.Denominate`` chooses the notes of a dispense by a *mix*: an
algorithm or a mix table. Three mixes are here:

- `fewest_notes`: the fewest notes that make the amount exactly. Not greedy: 60 from
  50s and 20s is 3 x 20, which greedy (50 first, then stuck at 10) misses. An exact
  search over the denominations, largest first, memoised on (denomination, remainder)
  and pruned by bounds that never cut off an optimum.
- `equal_emptying`: of all exact ways to make the amount, one whose largest number of
  notes left in any one cassette is smallest (so the cassettes empty together); among
  those, the fewest notes. Found by a binary search on that largest remainder, each
  step a `fewest_notes` search with lower bounds per cassette.
- `mix_table`: explicit rows (an amount and a count per denomination), tried in the
  order given; the first row the cassettes can serve wins (XFS4IoT ``SetMixTable``).

A result is a dict ``{cassette id: number of notes}`` (cassettes that give nothing left
out) whose notes sum exactly to the amount and never exceed a cassette's count or its
per-dispense limit. No way at all is `NotDispensable` (``notDispensable``); ways that
all need more than ``max_items`` notes is `TooManyItems` (``tooManyItems``).

Only cassettes of the amount's currency take part. Within one denomination, notes are
taken from the fullest cassettes first.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from math import gcd
from typing import Literal

from hal.errors import InvalidData, NotDispensable, TooManyItems
from hal.money import Money, minor_exponent

__all__ = [
    "Cassette",
    "MixTable",
    "denominate",
    "equal_emptying",
    "fewest_notes",
    "mix_table",
]

_INF = 1 << 62


def _nonneg_int(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be an int, got {type(value).__name__}")
    if value < 0:
        raise InvalidData(f"{what} must be >= 0, got {value}")
    return value


@dataclass(frozen=True, slots=True)
class Cassette:
    """One cash-out unit as denomination sees it.

    ``value`` is the note value in minor units of ``currency``; ``count`` the notes in
    it; ``max_per_dispense`` (``None``: no limit) caps the notes one dispense takes.
    """

    id: str
    currency: str
    value: int
    count: int
    max_per_dispense: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id:
            raise InvalidData(f"a cassette id must be a non-empty str, got {self.id!r}")
        minor_exponent(self.currency)
        if _nonneg_int(self.value, "a note value") == 0:
            raise InvalidData(f"cassette {self.id}: a note value must be > 0")
        _nonneg_int(self.count, "a note count")
        if self.max_per_dispense is not None:
            _nonneg_int(self.max_per_dispense, "max_per_dispense")

    @property
    def limit(self) -> int:
        """The most notes one dispense may take from this cassette now."""
        if self.max_per_dispense is None:
            return self.count
        return min(self.count, self.max_per_dispense)


def _usable(cassettes: Iterable[Cassette], amount: object) -> tuple[list[Cassette], int]:
    if not isinstance(amount, Money):
        raise TypeError(f"amount must be Money, got {type(amount).__name__}")
    if amount.minor <= 0:
        raise InvalidData(f"amount must be > 0, got {amount}")
    units = list(cassettes)
    seen: set[str] = set()
    for unit in units:
        if not isinstance(unit, Cassette):
            raise TypeError(f"expected Cassette, got {type(unit).__name__}")
        if unit.id in seen:
            raise InvalidData(f"cassette id {unit.id!r} appears twice")
        seen.add(unit.id)
    return [u for u in units if u.currency == amount.currency and u.limit > 0], amount.minor


def _check_max_items(max_items: int | None) -> int:
    if max_items is None:
        return _INF
    return _nonneg_int(max_items, "max_items")


def _min_notes(groups: Sequence[tuple[int, int]], target: int) -> list[int] | None:
    """Counts per (value, cap) group, values strictly descending, summing to ``target``
    with the fewest notes; ``None`` if no such counts exist.

    f(i, r) = min over c of c + f(i+1, r - c*v_i). For c tried from high to low, the
    bound ``c + ceil(r'/v_{i+1})`` never decreases (v_i > v_{i+1}), so the loop stops at
    the first c whose bound cannot beat the best; and it stops when the rest cannot hold
    the remainder any more (which only grows as c falls). Both cuts are exact.
    """
    n = len(groups)
    room = [0] * (n + 1)  # value the groups i.. can hold together
    div = [0] * (n + 1)  # gcd of the values of groups i..
    for i in range(n - 1, -1, -1):
        value, cap = groups[i]
        room[i] = room[i + 1] + value * cap
        div[i] = gcd(div[i + 1], value)
    memo: dict[tuple[int, int], tuple[int, int]] = {}

    def best(i: int, rest: int) -> int:
        if rest == 0:
            return 0
        if i == n or rest > room[i] or rest % div[i]:
            return _INF
        key = (i, rest)
        hit = memo.get(key)
        if hit is not None:
            return hit[0]
        value, cap = groups[i]
        top = min(cap, rest // value)
        found, choice = _INF, -1
        if i + 1 == n:
            if rest == top * value:
                found, choice = top, top
        else:
            following, after = groups[i + 1][0], room[i + 1]
            for count in range(top, -1, -1):
                left = rest - count * value
                if left > after or count + -(-left // following) >= found:
                    break
                total = count + best(i + 1, left)
                if total < found:
                    found, choice = total, count
        memo[key] = (found, choice)
        return found

    if best(0, target) >= _INF:
        return None
    counts: list[int] = []
    rest = target
    for i in range(n):
        if rest == 0:
            counts.append(0)
            continue
        choice = memo[(i, rest)][1] if (i, rest) in memo else 0
        counts.append(choice)
        rest -= choice * groups[i][0]
    return counts


def _fewest(
    units: Sequence[Cassette], lows: Sequence[int], highs: Sequence[int], target: int
) -> tuple[int, list[tuple[int, int]], list[int]] | None:
    """(total notes, (value, cap) groups, extra count per group) of the fewest-notes way
    with ``lows[k] <= n_k <= highs[k]`` per cassette, or ``None``."""
    rest = target - sum(low * u.value for low, u in zip(lows, units, strict=True))
    if rest < 0 or any(low > high for low, high in zip(lows, highs, strict=True)):
        return None
    caps: dict[int, int] = {}
    for unit, low, high in zip(units, lows, highs, strict=True):
        caps[unit.value] = caps.get(unit.value, 0) + high - low
    groups = sorted(caps.items(), reverse=True)
    counts = _min_notes(groups, rest)
    if counts is None:
        return None
    return sum(lows) + sum(counts), groups, counts


def _solve(
    units: Sequence[Cassette], lows: Sequence[int], highs: Sequence[int], target: int
) -> dict[str, int] | None:
    """Fewest-notes counts per cassette with ``lows[k] <= n_k <= highs[k]``, or ``None``.

    The lows are taken first; the rest is solved per denomination, then spread within
    one denomination to the cassettes with the most notes left (`_fill`).
    """
    plan = _fewest(units, lows, highs, target)
    if plan is None:
        return None
    _, groups, counts = plan
    taken = list(lows)
    for (value, _), extra in zip(groups, counts, strict=True):
        _fill(units, value, extra, taken, highs)
    return {unit.id: n for unit, n in zip(units, taken, strict=True) if n}


def _fill(
    units: Sequence[Cassette], value: int, extra: int, taken: list[int], highs: Sequence[int]
) -> None:
    """Add ``extra`` notes of ``value`` to ``taken``, each from the cassette of that value
    with the most notes left (the lower index on a tie) that may still give one.

    Done as water-filling rather than note by note: find the lowest level ``L`` such that
    bringing every cassette down to ``L`` (as far as its limit lets it) takes at most
    ``extra`` notes, then take the few notes left over from cassettes at ``L``, in order.
    """
    members = [k for k, unit in enumerate(units) if unit.value == value]
    if not extra or not members:
        return
    if len(members) == 1:
        taken[members[0]] += extra
        return
    left = {k: units[k].count - taken[k] for k in members}
    spare = {k: highs[k] - taken[k] for k in members}

    def takes(level: int) -> int:
        return sum(min(spare[k], max(0, left[k] - level)) for k in members)

    low, high = 0, max(left.values())
    while low < high:
        middle = (low + high) // 2
        if takes(middle) <= extra:
            high = middle
        else:
            low = middle + 1
    rest = extra
    at_level: list[int] = []
    for k in members:
        give = min(spare[k], max(0, left[k] - low))
        taken[k] += give
        rest -= give
        if left[k] - give == low and give < spare[k]:
            at_level.append(k)
    for k in at_level[:rest]:
        taken[k] += 1
    if rest > len(at_level):
        raise AssertionError("denomination spread more notes than the cassettes allow")


def _total(result: dict[str, int]) -> int:
    return sum(result.values())


def fewest_notes(
    cassettes: Iterable[Cassette], amount: Money, *, max_items: int | None = None
) -> dict[str, int]:
    """The fewest notes that make ``amount`` exactly: ``{cassette id: notes}``.

    Raises `NotDispensable` if no notes make it, `TooManyItems` if every way needs more
    than ``max_items`` notes.
    """
    units, target = _usable(cassettes, amount)
    limit = _check_max_items(max_items)
    result = _solve(units, [0] * len(units), [u.limit for u in units], target)
    if result is None:
        raise NotDispensable(f"{amount} cannot be made from the notes available")
    if _total(result) > limit:
        raise TooManyItems(f"{amount} needs {_total(result)} notes; at most {limit} allowed")
    return result


def equal_emptying(
    cassettes: Iterable[Cassette], amount: Money, *, max_items: int | None = None
) -> dict[str, int]:
    """Notes that make ``amount`` and leave the largest cassette count as low as it can be.

    Invariant: no exact way within the limits (and ``max_items``) leaves a smaller
    maximum of ``count - taken`` over the cassettes of the currency; among the ways that
    reach it, this one has the fewest notes. Same errors as `fewest_notes`.
    """
    everything = list(cassettes)
    units, target = _usable(everything, amount)
    limit = _check_max_items(max_items)
    highs = [u.limit for u in units]
    # Cassettes of the currency that cannot give a note still count in the maximum left.
    floor = max(
        (u.count for u in everything if u.currency == amount.currency and u.limit == 0),
        default=0,
    )

    def lows(ceiling: int) -> list[int]:
        return [max(0, u.count - ceiling) for u in units]

    def notes(ceiling: int) -> int | None:
        plan = _fewest(units, lows(ceiling), highs, target)
        return None if plan is None else plan[0]

    top = max((u.count for u in units), default=floor)
    loosest = notes(top)
    if loosest is None:
        raise NotDispensable(f"{amount} cannot be made from the notes available")
    if loosest > limit:
        raise TooManyItems(f"{amount} needs {loosest} notes; at most {limit} allowed")
    # The fewest notes under a ceiling never grow as the ceiling rises: search the lowest
    # ceiling that still has a way within max_items.
    low, high = min(floor, top), top
    while low < high:
        middle = (low + high) // 2
        total = notes(middle)
        if total is not None and total <= limit:
            high = middle
        else:
            low = middle + 1
    result = _solve(units, lows(low), highs, target)
    if result is None:  # pragma: no cover - the search found this ceiling feasible
        raise AssertionError("equal_emptying lost its own solution")
    return result


@dataclass(frozen=True, slots=True)
class MixTable:
    """An XFS4IoT mix table: a header of note values (minor units) and rows.

    Each row is ``(amount in minor units, counts)`` with one count per header value; the
    counts must make the row's amount. Rows for the same amount are tried in order.
    """

    currency: str
    values: tuple[int, ...]
    rows: tuple[tuple[int, tuple[int, ...]], ...]

    def __post_init__(self) -> None:
        minor_exponent(self.currency)
        if len(set(self.values)) != len(self.values) or not self.values:
            raise InvalidData(f"mix table values must be distinct and not empty: {self.values}")
        for value in self.values:
            if _nonneg_int(value, "a mix table value") == 0:
                raise InvalidData("a mix table value must be > 0")
        for number, (total, counts) in enumerate(self.rows):
            _nonneg_int(total, "a mix table amount")
            if len(counts) != len(self.values):
                raise InvalidData(
                    f"mix row {number}: {len(counts)} counts for {len(self.values)} values"
                )
            made = sum(
                _nonneg_int(c, "a mix count") * v for c, v in zip(counts, self.values, strict=True)
            )
            if made != total:
                raise InvalidData(f"mix row {number}: counts make {made}, not {total}")


def mix_table(
    cassettes: Iterable[Cassette],
    amount: Money,
    table: MixTable,
    *,
    max_items: int | None = None,
) -> dict[str, int]:
    """The first row of ``table`` for ``amount`` that the cassettes can serve.

    `NotDispensable` if the table has no row for the amount or no such row can be
    served; `TooManyItems` if the only servable rows exceed ``max_items``.
    """
    units, target = _usable(cassettes, amount)
    limit = _check_max_items(max_items)
    if table.currency != amount.currency:
        raise InvalidData(f"mix table is for {table.currency}, amount is {amount.currency}")
    rows = [counts for total, counts in table.rows if total == target]
    if not rows:
        raise NotDispensable(f"{amount} is not in the mix table")
    too_many = False
    for counts in rows:
        servable = all(
            sum(u.limit for u in units if u.value == value) >= wanted
            for value, wanted in zip(table.values, counts, strict=True)
        )
        if not servable:
            continue
        if sum(counts) > limit:
            too_many = True
            continue
        return _spread(units, table.values, counts)
    if too_many:
        raise TooManyItems(f"every mix row for {amount} needs more than {limit} notes")
    raise NotDispensable(f"no mix table row for {amount} can be served by the cassettes")


def _spread(
    units: Sequence[Cassette], values: Sequence[int], counts: Sequence[int]
) -> dict[str, int]:
    taken = [0] * len(units)
    highs = [u.limit for u in units]
    for value, wanted in zip(values, counts, strict=True):
        _fill(units, value, wanted, taken, highs)
    return {unit.id: n for unit, n in zip(units, taken, strict=True) if n}


Mix = Literal["fewestNotes", "equalEmptying"] | MixTable


def denominate(
    cassettes: Iterable[Cassette],
    amount: Money,
    mix: Mix,
    *,
    max_items: int | None = None,
) -> dict[str, int]:
    """Denominate ``amount`` by ``mix``: ``"fewestNotes"``, ``"equalEmptying"`` or a table."""
    if isinstance(mix, MixTable):
        return mix_table(cassettes, amount, mix, max_items=max_items)
    if mix == "fewestNotes":
        return fewest_notes(cassettes, amount, max_items=max_items)
    if mix == "equalEmptying":
        return equal_emptying(cassettes, amount, max_items=max_items)
    raise InvalidData(f"unknown mix {mix!r}: expected fewestNotes, equalEmptying or a MixTable")
