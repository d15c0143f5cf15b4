"""Parsing a scenario's cash devices and notes, and its numbers.

`cash_setup` and `cash_in_setup` read the ``[devices.cash_dispenser]`` and
``[devices.cash_acceptor]`` tables, `parse_notes` the ``notes`` of an ``insert_notes``
step, `finite_number` any number of a scenario. Used by `simulator.scenario`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from hal.devices.cash_in_model import NoteLevel
from hal.errors import ConfigurationError
from hal.stimulus import NoteSample
from simulator.tomlcheck import check_keys, typed
from simulator.world import CashAcceptorSetup, CashDispenserSetup

__all__ = ["cash_in_setup", "cash_setup", "finite_number", "parse_notes"]

_CASH_KEYS = frozenset({"profile", "counts", "pick_time"})
_CASH_IN_KEYS = frozenset({"profile", "counts", "note_time"})
_NOTE_KEYS = frozenset({"item", "level"})


def _unit_counts(table: Mapping[str, Any], at: str) -> tuple[tuple[str, int], ...]:
    counts = typed(table, "counts", dict, at, {})
    for unit, notes in counts.items():
        if isinstance(notes, bool) or not isinstance(notes, int):
            raise ConfigurationError(f"{at}: counts.{unit} must be an int")
    return tuple(counts.items())


def cash_setup(table: Mapping[str, Any], at: str) -> CashDispenserSetup:
    """A ``[devices.cash_dispenser]`` table."""
    check_keys(table, _CASH_KEYS, at)
    try:
        return CashDispenserSetup(
            profile=typed(table, "profile", str, at, "default"),
            counts=_unit_counts(table, at),
            pick_time=finite_number(table, "pick_time", at, None),
        )
    except ConfigurationError as exc:
        raise ConfigurationError(f"{at}: {exc}") from None


def cash_in_setup(table: Mapping[str, Any], at: str) -> CashAcceptorSetup:
    """A ``[devices.cash_acceptor]`` table."""
    check_keys(table, _CASH_IN_KEYS, at)
    try:
        return CashAcceptorSetup(
            profile=typed(table, "profile", str, at, "default"),
            counts=_unit_counts(table, at),
            note_time=finite_number(table, "note_time", at, None),
        )
    except ConfigurationError as exc:
        raise ConfigurationError(f"{at}: {exc}") from None


def parse_notes(raw: object, where: str) -> tuple[NoteSample, ...]:
    """The ``notes`` of ``insert_notes``: items, or ``{ item, level }`` tables."""
    if not isinstance(raw, list) or not raw:
        raise ConfigurationError(f"{where}: 'notes' is a non-empty list of notes")
    notes = []
    for note in raw:
        if isinstance(note, str):
            notes.append(NoteSample(note))
            continue
        if not isinstance(note, dict):
            raise ConfigurationError(f"{where}: a note is an item or a table {{ item, level }}")
        check_keys(note, _NOTE_KEYS, f"{where} note")
        item = typed(note, "item", str, where, None)
        level = typed(note, "level", str, where, "fit")
        if item is None:
            raise ConfigurationError(f"{where}: a note table needs an 'item'")
        if level not in set(NoteLevel):
            raise ConfigurationError(
                f"{where}: unknown note level {level!r}; levels: {', '.join(sorted(NoteLevel))}"
            )
        notes.append(NoteSample(item, level))
    return tuple(notes)


def finite_number(table: Mapping[str, Any], key: str, where: str, default: Any) -> Any:
    """``table[key]`` as a float (``default`` when absent), refusing a bool, a
    non-number, an infinity and a NaN."""
    if key not in table:
        return default
    value = table[key]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigurationError(f"{where}: '{key}' must be a finite number, got {value!r}")
    return float(value)
