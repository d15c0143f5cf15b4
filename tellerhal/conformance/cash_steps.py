"""Steps both cash contracts take (`tellerhal.conformance.cash_dispenser`,
`tellerhal.conformance.cash_acceptor`): a device's features, the units' counts, the
events already delivered, and the units' counts against the ground truth."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from typing import Protocol

from hal.devices.cash_model import CashUnit
from hal.events import Event, Subscription
from tellerhal.conformance.framework import MissingCapability, check

__all__ = ["counts_of", "drain", "features_of", "units_agree"]


class _Features(Protocol):
    def features(self) -> frozenset[str]: ...


class _CashDevice(Protocol):
    async def capabilities(self) -> _Features: ...

    async def cash_units(self) -> tuple[CashUnit, ...]: ...


async def features_of(device: _CashDevice, *needed: str) -> frozenset[str]:
    """The device's features; `MissingCapability` if any of ``needed`` is absent."""
    features = (await device.capabilities()).features()
    missing = set(needed) - features
    if missing:
        raise MissingCapability(missing)
    return features


def counts_of(units: Iterable[CashUnit]) -> dict[str, int]:
    return {u.id: u.count for u in units}


async def drain(events: Subscription, seconds: float = 0.05) -> list[Event]:
    """The events already delivered (waiting ``seconds`` for stragglers)."""
    got: list[Event] = []
    while True:
        try:
            got.append(await asyncio.wait_for(events.get(), seconds))
        except TimeoutError:
            return got


async def units_agree(device: _CashDevice, truth: Mapping[str, int], when: str) -> None:
    """Every unit's count must equal ``truth`` (the stimulus's ground truth), except
    for notes the device reported it could not count (``unknown``): the truth must then
    lie within them, never outside."""
    for unit in await device.cash_units():
        there = truth.get(unit.id)
        low, high = unit.count - unit.out.unknown, unit.count + unit.in_.unknown
        check(
            there is not None and low <= there <= high,
            f"{when}: {unit.id} counts {unit.count} notes"
            + (f" ({unit.out.unknown} out, {unit.in_.unknown} in unknown)" if low < high else "")
            + f", {there} are in it",
        )
