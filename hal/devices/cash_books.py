"""The cash dispenser's books: what its ledger history says, as XFS4IoT counts.

Pure functions over ledger rows (`MovementRecord`, `Counters`) and the units'
configuration; no I/O, no clock. `CashDispenserService` reads the ledger and hands the
rows here:

- `replay`: every unit's ``count.out`` (`OutCounts`) and ``count.in`` (`InCounts`), and
  what each position holds by origin unit. Notes carry their origin unit through the
  stacker, transport and exit, first in first out, so notes retracted or taken later are
  counted against the unit they came from.
- `replenishment`: a unit's fill state from its thresholds, or its sensors.
- `present_status`: `PresentStatus` of the last dispense, from the history alone.

Which movements count: a unit's ``out`` and ``in`` restart at its latest initial count
(XFS4IoT: setting ``initial`` resets ``in`` and ``out``). The ledger does not hand out
where that cut lies, but its counters are exactly the sums of the movements after it, so
`cut_after` finds it by walking the history back until the sums match (unambiguous:
the sums only grow going back, and movements that move nothing count for nothing).
``stacked`` and ``transport`` are what is there now, whatever the cut (XFS4IoT: they
are not reset by ``initial``).

Deposits (the cash acceptor, a recycler's other face): notes come from the customer
into the escrow and from the escrow into a unit. A unit's ``in.deposited`` counts the
notes that came into it from the customer (straight, or through the escrow); notes
from the escrow into a retract unit (counterfeit and suspect notes retained, a reset
clearing the escrow) count as ``in.retracted``. `items_at` gives a position's content
by note item (the escrow's, for `cash_in_end`). A position's initial count (the
acceptor's recount of its escrow, rule 6 of docs/cash_in.md) cuts its content as a
unit's cuts its counts: `items_at` and `replay` start it again there.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from hal.devices.cash_in_model import ESCROW
from hal.devices.cash_model import (
    CUSTOMER,
    EXIT,
    STACKER,
    TRANSPORT,
    CashUnit,
    CashUnitInfo,
    CashUnitType,
    Denomination,
    InCounts,
    OutCounts,
    PresentState,
    PresentStatus,
    ReplenishmentStatus,
    UnitSensor,
    UnitStatus,
)
from hal.ledger import ANY_ITEM, Counters, LocationKind, MovementRecord, Outcome
from hal.money import Money

__all__ = [
    "DISPENSE",
    "PRESENT",
    "Books",
    "at_recount",
    "cash_units",
    "cut_after",
    "items_and_cut",
    "items_at",
    "location_kind",
    "present_status",
    "replay",
    "replenishment",
]

#: The ``reason`` of the movements a dispense journals (`present_status` looks for it).
DISPENSE = "dispense"
#: The ``reason`` of the movements a present journals.
PRESENT = "present"

_HELD = (STACKER, TRANSPORT, EXIT, ESCROW)


def location_kind(unit_type: CashUnitType) -> LocationKind:
    """The ledger kind of a unit: cassettes dispense or take notes, bins keep them."""
    if unit_type is CashUnitType.REJECT:
        return LocationKind.REJECT
    if unit_type is CashUnitType.RETRACT:
        return LocationKind.RETAIN
    return LocationKind.CASSETTE


def _moved(record: MovementRecord) -> int:
    s = record.settlement
    if s is None or s.outcome is not Outcome.DONE or s.moved is None:
        return 0
    return s.moved


def _unknown(record: MovementRecord) -> int:
    s = record.settlement
    return record.movement.count if s is not None and s.outcome is Outcome.UNKNOWN else 0


def cut_after(unit: str, newest_first: Sequence[MovementRecord], counters: Counters) -> int:
    """The id of the last movement before ``unit``'s latest initial count (``0``: none).

    Walks the history back from the newest movement, summing the unit's done and unknown
    flows, and stops where they equal its counters and the next older movement would
    add to them.
    """
    target = (counters.moved_in, counters.moved_out, counters.unknown_in, counters.unknown_out)
    sums = [0, 0, 0, 0]
    for record in newest_first:
        m = record.movement
        add = [0, 0, 0, 0]
        if m.destination == unit:
            add[0], add[2] = _moved(record), _unknown(record)
        if m.source == unit:
            add[1], add[3] = _moved(record), _unknown(record)
        if any(add) and tuple(sums) == target:
            return m.id
        sums = [a + b for a, b in zip(sums, add, strict=True)]
    return 0


@dataclass
class _Out:
    presented: int = 0
    rejected: int = 0
    distributed: int = 0
    unknown: int = 0
    retracted: int = 0


@dataclass
class _In:
    deposited: int = 0
    retracted: int = 0
    rejected: int = 0
    unknown: int = 0


@dataclass(frozen=True)
class Books:
    """What `replay` found.

    Attributes:
        out: ``{unit id: OutCounts}`` for every unit.
        in_: ``{unit id: InCounts}`` for every unit.
        positions: ``{position: {origin unit id: notes}}`` for the stacker, transport,
            exit and escrow; notes of no known origin (the customer's) under ``"?"``.
    """

    out: Mapping[str, OutCounts]
    in_: Mapping[str, InCounts]
    positions: Mapping[str, Mapping[str, int]] = field(default_factory=dict)


class _Fifo:
    """The notes of one position as ``(origin, n)`` runs, oldest first."""

    def __init__(self) -> None:
        self.runs: deque[tuple[str, int]] = deque()

    def push(self, origin: str, n: int) -> None:
        if self.runs and self.runs[-1][0] == origin:
            self.runs[-1] = (origin, self.runs[-1][1] + n)
        else:
            self.runs.append((origin, n))

    def pop(self, n: int) -> list[tuple[str, int]]:
        taken: list[tuple[str, int]] = []
        while n > 0 and self.runs:
            origin, have = self.runs[0]
            part = min(have, n)
            taken.append((origin, part))
            n -= part
            if part == have:
                self.runs.popleft()
            else:
                self.runs[0] = (origin, have - part)
        if n > 0:
            taken.append(("?", n))  # more left than the books put there
        return taken

    def recount(self, n: int) -> None:
        """The position was counted at ``n`` notes: the oldest go (they are the ones a
        move settled ``unknown`` took), a shortfall is of no known origin."""
        have = sum(k for _, k in self.runs)
        if have > n:
            self.pop(have - n)
        elif have < n:
            self.push("?", n - have)

    def by_origin(self) -> dict[str, int]:
        found: dict[str, int] = {}
        for origin, n in self.runs:
            found[origin] = found.get(origin, 0) + n
        return found


def replay(
    newest_first: Sequence[MovementRecord],
    units: Iterable[CashUnitInfo],
    counters: Mapping[str, Counters],
) -> Books:
    """Replay a device's whole ledger history into XFS4IoT counts.

    Args:
        newest_first: the device's movements with their settlements, as
            `hal.ledger.Ledger.history` returns them (newest first).
        units: the units fitted.
        counters: the ledger's counters by location name (to find each unit's cut).

    Returns:
        The counts and the positions' contents by origin.
    """
    infos = {u.id: u for u in units}
    cuts = {
        uid: cut_after(uid, newest_first, counters[uid]) if uid in counters else 0 for uid in infos
    }
    outs = {uid: _Out() for uid in infos}
    ins = {uid: _In() for uid in infos}
    held = {p: _Fifo() for p in _HELD}
    # A position's initial count (the acceptor's recount of its escrow) is a cut too:
    # its notes are recounted there (`_Fifo.recount`), the moves after it go on.
    recounts: dict[str, tuple[int, int]] = {}
    for p in _HELD:
        if p in counters:
            cut = cut_after(p, newest_first, counters[p])
            if cut or counters[p].initial:
                recounts[p] = (cut, counters[p].initial)

    for record in reversed(newest_first):
        m = record.movement
        for p, (cut, n) in list(recounts.items()):
            if m.id > cut:
                held[p].recount(n)
                del recounts[p]
        moved, unknown = _moved(record), _unknown(record)
        src, dst = m.source, m.destination
        if src in infos and m.id > cuts[src] and unknown:
            outs[src].unknown += unknown
        if dst in infos and m.id > cuts[dst] and unknown:
            ins[dst].unknown += unknown
        if not moved:
            continue
        # Where the notes came from, by origin unit.
        if src in infos:
            origins = [(src, moved)]
        elif src in held:
            origins = held[src].pop(moved)
        else:  # from the customer
            origins = [("?", moved)]
        for origin, n in origins:
            if origin not in infos or m.id <= cuts[origin]:
                continue
            o = outs[origin]
            if dst == EXIT or (dst == CUSTOMER and src != EXIT):
                o.presented += n
            if dst == CUSTOMER:
                o.distributed += n
            if src == EXIT:
                pass  # presented, then retracted: counted as presented (and in ``in``)
            elif dst in infos and infos[dst].type is CashUnitType.REJECT:
                o.rejected += n
            elif dst in infos and src in (STACKER, TRANSPORT):
                o.retracted += n
        if dst in held:
            for origin, n in origins:
                held[dst].push(origin, n)
        elif dst in infos and m.id > cuts[dst]:
            i = ins[dst]
            if src == EXIT:
                i.retracted += moved
            elif src == CUSTOMER or (src == ESCROW and infos[dst].type is not CashUnitType.RETRACT):
                i.deposited += moved
            elif infos[dst].type is CashUnitType.RETRACT:
                i.retracted += moved
            else:
                i.rejected += moved

    for p, (_, n) in recounts.items():
        held[p].recount(n)
    positions = {p: held[p].by_origin() for p in _HELD}
    out: dict[str, OutCounts] = {}
    for uid, o in outs.items():
        out[uid] = OutCounts(
            presented=o.presented,
            rejected=o.rejected,
            distributed=o.distributed,
            unknown=o.unknown,
            stacked=positions[STACKER].get(uid, 0),
            transport=positions[TRANSPORT].get(uid, 0),
            retracted=o.retracted,
        )
    in_ = {
        uid: InCounts(
            deposited=i.deposited, retracted=i.retracted, rejected=i.rejected, unknown=i.unknown
        )
        for uid, i in ins.items()
    }
    return Books(out=out, in_=in_, positions=positions)


def items_at(
    newest_first: Sequence[MovementRecord],
    position: str,
    counters: Counters | None = None,
) -> dict[str, int]:
    """What ``position`` holds by note item, replaying the done moves in and out of it.

    Movements of `ANY_ITEM` out of it take notes of the items there in sorted order
    (a cash acceptor journals every move by item; a dispenser's present does not); a
    movement of `ANY_ITEM` into it adds to ``"*"``.

    With the position's ``counters``, its latest initial count (a recount) is a cut:
    what it held then is `at_recount` of the moves up to the cut, the moves after the
    cut replayed on it. Without them (or with no initial count) the whole history.
    """
    return items_and_cut(newest_first, position, counters)[0]


def items_and_cut(
    newest_first: Sequence[MovementRecord],
    position: str,
    counters: Counters | None = None,
) -> tuple[dict[str, int], int]:
    """`items_at` and the `cut_after` it found (``0`` without ``counters``), walking
    the history back once.

    Only the movements into or out of ``position`` count: ``newest_first`` may be the
    device's whole history or just those (`Ledger.touching`), with the same result.
    """
    cut = 0
    if counters is not None:
        cut = cut_after(position, newest_first, counters)
    oldest_first = list(reversed(newest_first))
    if counters is not None and (cut or counters.initial):
        held = at_recount(
            [r for r in oldest_first if r.movement.id <= cut], position, counters.initial
        )
        oldest_first = [r for r in oldest_first if r.movement.id > cut]
    else:
        held = {}
    _replay_items(held, oldest_first, position)
    return {item: n for item, n in held.items() if n}, cut


def at_recount(oldest_first: Sequence[MovementRecord], position: str, count: int) -> dict[str, int]:
    """What ``position`` held by item when it was recounted at ``count`` notes.

    The done moves replayed, then, where they leave more than ``count``, the moves out
    of it settled ``unknown`` taken off, newest first (the recount is what tells that
    they moved); any excess left is taken off in sorted item order, a shortfall is
    ``"*"``. The acceptor recounts its escrow only when this gives what the device
    senses by item (`CashAcceptorBase._recount_escrow`).
    """
    held: dict[str, int] = {}
    _replay_items(held, oldest_first, position)
    excess = sum(held.values()) - count
    for record in reversed(oldest_first):
        if excess <= 0:
            break
        m = record.movement
        if m.source != position or not _unknown(record):
            continue
        excess -= _take(held, m.item, min(m.count, excess))
    if excess > 0:
        _take(held, ANY_ITEM, excess)
    elif excess < 0:
        held[ANY_ITEM] = held.get(ANY_ITEM, 0) - excess
    return {item: n for item, n in held.items() if n > 0}


def _take(held: dict[str, int], item: str, n: int) -> int:
    """Take up to ``n`` notes of ``item`` (any, in sorted order, for `ANY_ITEM`) out
    of ``held``, no more than it holds; returns how many."""
    keys = [item] if item != ANY_ITEM else sorted(held, key=lambda k: (k == ANY_ITEM, k))
    taken = 0
    for key in keys:
        part = min(max(held.get(key, 0), 0), n - taken)
        if part:
            held[key] -= part
            taken += part
    return taken


def _replay_items(
    held: dict[str, int], oldest_first: Iterable[MovementRecord], position: str
) -> None:
    """Apply the done moves in and out of ``position`` to ``held`` (by item)."""
    for record in oldest_first:
        m = record.movement
        moved = _moved(record)
        if not moved or position not in (m.source, m.destination):
            continue
        if m.destination == position:
            held[m.item] = held.get(m.item, 0) + moved
            continue
        keys = [m.item] if m.item != ANY_ITEM else sorted(held, key=lambda k: (k == ANY_ITEM, k))
        keys = keys or [ANY_ITEM]
        for key in keys:
            part = min(held.get(key, 0), moved) if key != keys[-1] else moved
            held[key] = held.get(key, 0) - part
            moved -= part
            if not moved:
                break


def cash_units(
    newest_first: Sequence[MovementRecord],
    counters: Iterable[Counters],
    units: Iterable[CashUnitInfo],
    thresholds: Mapping[str, tuple[int | None, int | None]],
    sensors: Mapping[str, UnitSensor],
) -> tuple[CashUnit, ...]:
    """Every unit as `CashUnit`: its counts from the ledger (``counters`` and the
    `replay` of ``newest_first``), its thresholds and what its sensors say."""
    by_name = {c.location.name: c for c in counters}
    infos = list(units)
    books = replay(newest_first, infos, by_name)
    out = []
    for info in infos:
        c = by_name[info.id]
        low, high = thresholds.get(info.id, (None, None))
        sensor = sensors.get(info.id)
        out.append(
            CashUnit(
                info=info,
                status=sensor.status if sensor is not None else UnitStatus.OK,
                initial=c.initial,
                count=c.count,
                out=books.out[info.id],
                in_=books.in_[info.id],
                replenishment=replenishment(info, c.count, thresholds.get(info.id), sensor),
                low_threshold=low,
                high_threshold=high,
            )
        )
    return tuple(out)


def replenishment(
    info: CashUnitInfo,
    count: int,
    thresholds: tuple[int | None, int | None] | None,
    sensor: UnitSensor | None,
) -> ReplenishmentStatus:
    """A unit's fill state (XFS4IoT ``replenishmentStatus``).

    ``full`` at its capacity; a dispensing unit is ``empty`` at 0. Between, the
    thresholds ``(low, high)`` decide (``low`` at or below low, ``high`` at or above
    high); a unit with no threshold set reports its sensors (XFS4IoT: null thresholds
    mean the hardware sensors are used).
    """
    if info.capacity is not None and count >= info.capacity:
        return ReplenishmentStatus.FULL
    if info.type.dispenses and count <= 0:
        return ReplenishmentStatus.EMPTY
    low, high = thresholds if thresholds is not None else (None, None)
    if low is None and high is None:
        if sensor is not None and sensor.full:
            return ReplenishmentStatus.FULL
        if sensor is not None and sensor.low:
            return ReplenishmentStatus.LOW
        return ReplenishmentStatus.OK
    if high is not None and count >= high:
        return ReplenishmentStatus.HIGH
    if low is not None and count <= low:
        return ReplenishmentStatus.LOW
    return ReplenishmentStatus.OK


def present_status(
    newest_first: Sequence[MovementRecord],
    units: Iterable[CashUnitInfo],
    dispense_to: str,
) -> PresentStatus:
    """`PresentStatus` of the last dispense, from the history alone (after a restart).

    The last dispense is the newest token with `DISPENSE` movements; its denomination is
    what its movements settled as moved to ``dispense_to``. It is presented when it went
    straight to the exit or the customer, or when a stacker->exit move followed it
    (``unknown`` if that move was settled unknown); taken when an exit->customer move
    followed, not taken when it was retracted or is still out there.
    """
    infos = {u.id: u for u in units}
    token: int | None = None
    for record in newest_first:
        if record.movement.reason == DISPENSE and record.movement.command_id is not None:
            token = record.movement.command_id
            break
    if token is None:
        return PresentStatus(PresentState.NOT_PRESENTED)
    counts: dict[str, int] = {}
    first_id: int | None = None
    for record in reversed(newest_first):
        m = record.movement
        if m.command_id != token:
            continue
        first_id = m.id if first_id is None else min(first_id, m.id)
        if m.source in infos and m.destination == dispense_to and _moved(record):
            counts[m.source] = counts.get(m.source, 0) + _moved(record)
    denomination = _denomination(counts, infos)
    if dispense_to == CUSTOMER:
        return PresentStatus(PresentState.PRESENTED, denomination, taken=True)
    state = PresentState.PRESENTED if dispense_to == EXIT else PresentState.NOT_PRESENTED
    taken: bool | None = False
    assert first_id is not None
    for record in reversed(newest_first):
        m = record.movement
        if m.id < first_id or m.command_id == token:
            continue
        if m.source == STACKER and m.destination == EXIT and state is not PresentState.PRESENTED:
            if _unknown(record):
                state = PresentState.UNKNOWN
            elif _moved(record):
                state = PresentState.PRESENTED
        elif m.source == EXIT and m.destination == CUSTOMER and _moved(record):
            taken = True
        elif m.source == EXIT and m.destination == CUSTOMER and _unknown(record):
            taken = None
        elif m.source == STACKER and m.destination != EXIT and _moved(record):
            break  # rejected or retracted before any present: this dispense ended there
    return PresentStatus(state, denomination, taken=taken)


def _denomination(
    counts: Mapping[str, int], infos: Mapping[str, CashUnitInfo]
) -> Denomination | None:
    currencies = {infos[u].currency for u in counts}
    if not counts:
        # Nothing moved: an amount of nothing in the dispensing units' currency.
        currencies = {u.currency for u in infos.values() if u.type.dispenses}
    if len(currencies) != 1:
        return None  # no currency, or (never from this service) several in one dispense
    currency = currencies.pop()
    assert currency is not None  # dispensing units have one
    total = sum(infos[u].value * n for u, n in counts.items())
    return Denomination(Money(total, currency), counts)
