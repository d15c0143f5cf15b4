"""The simulated cash dispensers' builds: cash units, capabilities and timings.

A `CashProfile` says what a simulated dispenser is made of: its cash units (`UnitSpec`:
id, type, currency, note value, the notes physically in it at start, capacity, the
near-end sensor's level), its `CashDispenserCapabilities` and how long its mechanism
takes (simulated seconds, scaled by the world's clock). `cash_profile` gives a shipped
one by name, optionally with other counts, currency or note values:

``default``
    A teller machine's dispenser: four cash-out cassettes of CNY 100, 50, 20 and 10
    (note values 10000, 5000, 2000, 1000 fen; ``unit1``..``unit4``, 500 notes each), a
    ``reject`` and a ``retract`` unit, an intermediate stacker, a shutter and an
    items-taken sensor; it remembers its operations (``knows_operations``).
``lcdm1000``, ``lcdm2000``, ``lcdm4000``
    Puloon LCDM dispensers with one, two or four cassettes and a reject tray: notes go
    straight to the customer (``dispense_to`` `CUSTOMER`); no stacker, shutter,
    present, retract or count; a test dispense moves one note to the reject tray; they
    cannot tell what an interrupted operation did (``knows_operations`` false). The
    LCDM-1000/2000 take at most 60 notes per cassette and dispense (their two-digit
    counts); the LCDM-4000 at most 100 per dispense (its "too many notes" limit).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field

from hal.devices.cash_model import (
    CUSTOMER,
    CashDispenserCapabilities,
    CashUnitInfo,
    CashUnitType,
    RetractArea,
)
from hal.errors import ConfigurationError, InvalidData

__all__ = ["CASH_PROFILES", "CashProfile", "UnitSpec", "cash_profile"]


@dataclass(frozen=True)
class UnitSpec:
    """One cash unit of a simulated dispenser.

    Attributes:
        id: the unit's id (``unit1``, ``reject``).
        type: what it is for.
        currency: ISO 4217 code of its notes (``None`` for a reject or retract unit).
        value: one note's value in minor units (0 for mixed units).
        count: the notes physically in it when the model is made.
        capacity: how many notes fit (``None``: unknown); the full sensor is on at it.
        low: the near-end sensor is on at this many notes or fewer (``None``: no sensor).
        max_per_dispense: the most notes one dispense may take from it.
        position_name: where it sits, for people.
    """

    id: str
    type: CashUnitType
    currency: str | None = None
    value: int = 0
    count: int = 0
    capacity: int | None = None
    low: int | None = None
    max_per_dispense: int | None = None
    position_name: str = ""

    def __post_init__(self) -> None:
        self.info()  # the checks of CashUnitInfo
        for what in ("count", "capacity", "low", "max_per_dispense"):
            number = getattr(self, what)
            if number is None and what != "count":
                continue
            if isinstance(number, bool) or not isinstance(number, int) or number < 0:
                raise ConfigurationError(
                    f"cash unit {self.id}: {what} is an integer >= 0, got {number!r}"
                )
        if self.capacity is not None and self.count > self.capacity:
            raise ConfigurationError(
                f"cash unit {self.id}: {self.count} notes do not fit in {self.capacity}"
            )

    def info(self) -> CashUnitInfo:
        """The unit as the device reports it (`CashDispenserBackend.units`)."""
        try:
            return CashUnitInfo(
                id=self.id,
                type=self.type,
                currency=self.currency,
                value=self.value,
                capacity=self.capacity,
                max_per_dispense=self.max_per_dispense,
                position_name=self.position_name,
            )
        except InvalidData as exc:
            raise ConfigurationError(str(exc)) from None

    @property
    def item(self) -> str:
        """Its notes' ledger item (``CNY:10000``), or ``*`` for a mixed unit."""
        return self.info().item


@dataclass(frozen=True)
class CashProfile:
    """How a simulated cash dispenser is built.

    Attributes:
        name: the profile's name.
        units: its cash units, in pick order (dispensing units first by convention).
        capabilities: what it can do.
        pick_time: simulated seconds one note takes from its cassette to the stacker
            (or the customer): a dispense of n notes takes n times this.
        present_time: simulated seconds to move the stacker's notes to the exit.
        retract_time: simulated seconds for a retract, a reject or a reset.

    Raises:
        ConfigurationError: duplicate unit ids, no dispensing unit, a reject or retract
            the capabilities need and no unit for it, or a negative time.
    """

    name: str
    units: tuple[UnitSpec, ...]
    capabilities: CashDispenserCapabilities = field(default_factory=CashDispenserCapabilities)
    pick_time: float = 0.05
    present_time: float = 0.5
    retract_time: float = 0.5

    def __post_init__(self) -> None:
        ids = [unit.id for unit in self.units]
        if len(set(ids)) != len(ids):
            raise ConfigurationError(f"cash profile {self.name}: unit ids repeat: {ids}")
        if not any(unit.type.dispenses for unit in self.units):
            raise ConfigurationError(f"cash profile {self.name}: no unit dispenses")
        types = {unit.type for unit in self.units}
        if CashUnitType.REJECT not in types:
            raise ConfigurationError(f"cash profile {self.name}: needs a reject unit")
        if RetractArea.RETRACT in self.capabilities.retract_areas and (
            CashUnitType.RETRACT not in types
        ):
            raise ConfigurationError(
                f"cash profile {self.name}: retracts to a retract unit, but has none"
            )
        for what in ("pick_time", "present_time", "retract_time"):
            seconds = getattr(self, what)
            if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
                raise ConfigurationError(
                    f"cash profile {self.name}: {what} is a number >= 0, got {seconds!r}"
                )

    def unit(self, unit_id: str) -> UnitSpec:
        """The unit ``unit_id``.

        Raises:
            ConfigurationError: no such unit.
        """
        for unit in self.units:
            if unit.id == unit_id:
                return unit
        raise ConfigurationError(
            f"cash profile {self.name} has no unit {unit_id!r}; "
            f"units: {', '.join(u.id for u in self.units)}"
        )

    def with_units(
        self,
        counts: Mapping[str, int] | None = None,
        *,
        currency: str | None = None,
        values: Mapping[str, int] | None = None,
    ) -> CashProfile:
        """This profile with other starting counts, currency or note values.

        Args:
            counts: ``{unit id: notes}`` for the units named (the others keep theirs).
            currency: the currency of every dispensing unit.
            values: ``{unit id: note value in minor units}``.

        Raises:
            ConfigurationError: a unit that does not exist, or a bad value.
        """
        counts = dict(counts or {})
        values = dict(values or {})
        for unit_id in (*counts, *values):
            self.unit(unit_id)
        units = []
        for unit in self.units:
            units.append(
                dataclasses.replace(
                    unit,
                    count=counts.get(unit.id, unit.count),
                    value=values.get(unit.id, unit.value),
                    currency=currency
                    if currency is not None and unit.type.dispenses
                    else unit.currency,
                )
            )
        return dataclasses.replace(self, units=tuple(units))


def _cassette(number: int, currency: str, value: int, count: int, *, limit: int | None) -> UnitSpec:
    return UnitSpec(
        id=f"unit{number}",
        type=CashUnitType.CASH_OUT,
        currency=currency,
        value=value,
        count=count,
        capacity=2500,
        low=20,
        max_per_dispense=limit,
        position_name=f"slot {number}",
    )


def _default() -> CashProfile:
    cassettes = tuple(
        _cassette(n, "CNY", value, 500, limit=None)
        for n, value in enumerate((10000, 5000, 2000, 1000), 1)
    )
    return CashProfile(
        name="default",
        units=(
            *cassettes,
            UnitSpec("reject", CashUnitType.REJECT, capacity=300, position_name="reject"),
            UnitSpec("retract", CashUnitType.RETRACT, capacity=200, position_name="retract"),
        ),
        capabilities=CashDispenserCapabilities(),
    )


def _lcdm(name: str, cassettes: int, max_items: int, limit: int | None) -> CashProfile:
    values = (10000, 5000, 2000, 1000)[:cassettes]
    return CashProfile(
        name=name,
        units=(
            *(_cassette(n, "CNY", v, 500, limit=limit) for n, v in enumerate(values, 1)),
            UnitSpec("reject", CashUnitType.REJECT, capacity=200, position_name="reject tray"),
        ),
        capabilities=CashDispenserCapabilities(
            max_dispense_items=max_items,
            intermediate_stacker=False,
            shutter=False,
            items_taken_sensor=False,
            retract_areas=frozenset(),
            reject=False,
            count=False,
            test_cash_units=True,
            knows_operations=False,
            dispense_to=CUSTOMER,
        ),
        pick_time=0.1,
    )


CASH_PROFILES: Mapping[str, CashProfile] = {
    profile.name: profile
    for profile in (
        _default(),
        _lcdm("lcdm1000", 1, 60, 60),
        _lcdm("lcdm2000", 2, 120, 60),
        _lcdm("lcdm4000", 4, 100, None),
    )
}
"""The shipped profiles by name."""


def cash_profile(
    name: str = "default",
    counts: Mapping[str, int] | None = None,
    *,
    currency: str | None = None,
    values: Mapping[str, int] | None = None,
) -> CashProfile:
    """The shipped profile ``name``, optionally with other counts, currency or values.

    Raises:
        ConfigurationError: no such profile (the known ones are listed), or a change
            naming a unit it does not have.
    """
    profile = CASH_PROFILES.get(name)
    if profile is None:
        raise ConfigurationError(
            f"no cash profile named {name!r}; known: {', '.join(sorted(CASH_PROFILES))}"
        )
    if counts or currency is not None or values:
        return profile.with_units(counts, currency=currency, values=values)
    return profile
