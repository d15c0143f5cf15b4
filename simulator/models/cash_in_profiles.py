"""The simulated cash acceptors' builds: cash units, note types, capabilities, timings.

A `CashInProfile` says what a simulated acceptor is made of: its cash units (the
dispenser's `UnitSpec`: id, type, currency, note value, notes in it at start,
capacity), the notes its reader recognises (`NoteType`), its
`CashAcceptorCapabilities`, and, for a recycler, what its dispenser side can do
(``payout``: `CashDispenserCapabilities`). `cash_in_profile` gives a shipped one by name:

``default``
    A deposit module / recycler: an escrow of 100 notes, a shutter, an items-taken
    sensor; it classifies notes (counterfeit and suspect notes are retained) and
    remembers its operations. Units ``cashin`` (cashIn, mixed, 2000 notes),
    ``recycle100`` (recycling CNY 100, 500), ``recycle50`` (recycling CNY 50, 500) and
    ``retract`` (retract, mixed, 200). Its dispenser side pays the recycling units out
    to a stacker, presents them at the exit behind the shutter and retracts them.
``id003``
    A JCM bill validator (ID-003): an escrow of one note, no shutter, no items-taken
    sensor; a rollback hands the note back to the customer; no retract unit; it only
    accepts or refuses (no classification) and cannot tell what an interrupted
    operation did, but senses the note it holds in escrow. Unit ``cashbox`` (cashIn,
    mixed, 1000).
``nv200``
    An ITL NV200 validator (SSP): as ``id003`` with a ``cashbox`` of 500.
``nv11``
    An ITL NV11 recycler: an ``nv200`` with one recycling unit ``payout`` of one note
    value (CNY 20 unless `cash_in_profile` says another), 30 notes; its dispenser side
    pays notes straight to the customer (like an LCDM: no stacker, shutter or retract).

Every profile recognises CNY 1, 5, 10, 20, 50 and 100 yuan notes (values in fen), all
enabled. Times are simulated seconds.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

from hal.devices.cash_in_model import BILL_VALIDATOR, CashAcceptorCapabilities, NoteType
from hal.devices.cash_model import (
    CUSTOMER,
    EXIT,
    STACKER,
    CashDispenserCapabilities,
    CashUnitType,
    RetractArea,
)
from hal.errors import ConfigurationError
from simulator.models.cash_profiles import CASH_PROFILES, CashProfile, UnitSpec

__all__ = [
    "CASH_IN_PROFILES",
    "CNY_NOTES",
    "CashInProfile",
    "MachineProfile",
    "cash_in_profile",
]

#: The CNY notes every shipped profile recognises (values in fen).
CNY_NOTES: tuple[NoteType, ...] = tuple(
    NoteType("CNY", value) for value in (100, 500, 1000, 2000, 5000, 10000)
)


@dataclass(frozen=True)
class MachineProfile(CashProfile):
    """The physical machine under an acceptor (`simulator.models.cash_acceptor`): a
    `CashProfile` that may have no dispensing unit (a bill validator) and no reject unit
    (rejected notes go to the cash-in unit). Made by `CashInProfile.machine`."""

    def __post_init__(self) -> None:
        """Checked by the `CashInProfile` it comes from."""


@dataclass(frozen=True)
class CashInProfile:
    """How a simulated cash acceptor is built.

    Attributes:
        name: the profile's name.
        units: its cash units (exactly one ``cashIn`` unit; ``recycling`` units of
            notes it recognises; a ``retract`` unit when it retracts).
        capabilities: what its acceptor side can do.
        note_types: the notes its reader recognises (and whether each is enabled).
        payout: what its dispenser side can do (recyclers only; ``None`` otherwise).
        note_time: simulated seconds one note takes from the input through the reader
            (into the escrow, or back to the customer).
        store_time: simulated seconds one note takes from the escrow to a unit.
        return_time: simulated seconds to give the escrow's notes back, retract or reset.
        pick_time, present_time: the dispenser side's per-note pick and present times.

    Raises:
        ConfigurationError: a build that does not hold together (see the checks).
    """

    name: str
    units: tuple[UnitSpec, ...]
    capabilities: CashAcceptorCapabilities
    note_types: tuple[NoteType, ...] = CNY_NOTES
    payout: CashDispenserCapabilities | None = None
    note_time: float = 0.05
    store_time: float = 0.02
    return_time: float = 0.5
    pick_time: float = 0.05
    present_time: float = 0.5

    def __post_init__(self) -> None:
        ids = [unit.id for unit in self.units]
        if len(set(ids)) != len(ids):
            raise ConfigurationError(f"cash-in profile {self.name}: unit ids repeat: {ids}")
        kinds = [unit.type for unit in self.units]
        if kinds.count(CashUnitType.CASH_IN) != 1:
            raise ConfigurationError(f"cash-in profile {self.name}: needs one cashIn unit")
        if kinds.count(CashUnitType.RETRACT) > 1:
            raise ConfigurationError(f"cash-in profile {self.name}: more than one retract unit")
        known = {note.item for note in self.note_types}
        if len(known) != len(self.note_types):
            raise ConfigurationError(f"cash-in profile {self.name}: note types repeat")
        for unit in self.units:
            if unit.type is CashUnitType.CASH_OUT or unit.type is CashUnitType.REJECT:
                raise ConfigurationError(
                    f"cash-in profile {self.name}: {unit.id} is a {unit.type} unit; an "
                    "acceptor has cashIn, recycling and retract units"
                )
            if unit.type is CashUnitType.RECYCLING and unit.item not in known:
                raise ConfigurationError(
                    f"cash-in profile {self.name}: {unit.id} recycles {unit.item}, a note "
                    "the reader does not recognise"
                )
        caps = self.capabilities
        recycles = CashUnitType.RECYCLING in kinds
        if caps.recycling != recycles or (self.payout is not None) != recycles:
            raise ConfigurationError(
                f"cash-in profile {self.name}: a recycler has recycling units, the "
                "recycling capability and a payout (dispenser side); others none of them"
            )
        if caps.retract_areas - {RetractArea.RETRACT}:
            raise ConfigurationError(
                f"cash-in profile {self.name}: an acceptor retracts to its retract unit only"
            )
        if caps.retract_areas and CashUnitType.RETRACT not in kinds:
            raise ConfigurationError(f"cash-in profile {self.name}: retracts, but no retract unit")
        if caps.return_to not in (EXIT, CUSTOMER):
            raise ConfigurationError(
                f"cash-in profile {self.name}: return_to is exit or customer, not {caps.return_to}"
            )
        if caps.max_cash_in_items < 1:
            raise ConfigurationError(f"cash-in profile {self.name}: an escrow holds >= 1 note")
        if self.payout is not None:
            if self.payout.knows_operations != caps.knows_operations:
                raise ConfigurationError(
                    f"cash-in profile {self.name}: both sides of one machine know its "
                    "operations, or neither"
                )
            if self.payout.reject or self.payout.count:
                raise ConfigurationError(
                    f"cash-in profile {self.name}: a recycler's dispenser side has no "
                    "reject unit to reject or count to"
                )
            wanted = set(self.payout.retract_areas)
            if wanted - {RetractArea.RETRACT} or (wanted and CashUnitType.RETRACT not in kinds):
                raise ConfigurationError(
                    f"cash-in profile {self.name}: the dispenser side retracts to the "
                    "retract unit only"
                )
        for what in ("note_time", "store_time", "return_time", "pick_time", "present_time"):
            seconds = getattr(self, what)
            if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
                raise ConfigurationError(
                    f"cash-in profile {self.name}: {what} is a number >= 0, got {seconds!r}"
                )

    def unit(self, unit_id: str) -> UnitSpec:
        """The unit ``unit_id``.

        Raises:
            ConfigurationError: no such unit.
        """
        return self.machine().unit(unit_id)

    def machine(self) -> MachineProfile:
        """The machine's build as the dispenser mechanism takes it: these units, the
        dispenser side's capabilities (a validator's: a dispenser that never dispenses)
        and the timings."""
        payout = self.payout
        if payout is None:
            payout = CashDispenserCapabilities(
                intermediate_stacker=False,
                shutter=self.capabilities.shutter,
                items_taken_sensor=False,
                retract_areas=frozenset(),
                reject=False,
                count=False,
                test_cash_units=False,
                knows_operations=self.capabilities.knows_operations,
                dispense_to=CUSTOMER,
            )
        return MachineProfile(
            name=self.name,
            units=self.units,
            capabilities=payout,
            pick_time=self.pick_time,
            present_time=self.present_time,
            retract_time=self.return_time,
        )

    def with_units(
        self,
        counts: Mapping[str, int] | None = None,
        *,
        values: Mapping[str, int] | None = None,
    ) -> CashInProfile:
        """This profile with other starting counts, or other note values for its
        recycling units.

        Raises:
            ConfigurationError: a unit it does not have, a value for a mixed unit, or a
                bad count.
        """
        counts = dict(counts or {})
        values = dict(values or {})
        for unit_id in (*counts, *values):
            self.unit(unit_id)
        units = []
        for unit in self.units:
            if unit.id in values and unit.type is not CashUnitType.RECYCLING:
                raise ConfigurationError(f"{unit.id} holds mixed notes; it has no note value")
            units.append(
                dataclasses.replace(
                    unit,
                    count=counts.get(unit.id, unit.count),
                    value=values.get(unit.id, unit.value),
                )
            )
        return dataclasses.replace(self, units=tuple(units))


def _default() -> CashInProfile:
    return CashInProfile(
        name="default",
        units=(
            UnitSpec("cashin", CashUnitType.CASH_IN, capacity=2000, position_name="cash-in"),
            UnitSpec(
                "recycle100",
                CashUnitType.RECYCLING,
                "CNY",
                10000,
                capacity=500,
                low=10,
                position_name="recycler 1",
            ),
            UnitSpec(
                "recycle50",
                CashUnitType.RECYCLING,
                "CNY",
                5000,
                capacity=500,
                low=10,
                position_name="recycler 2",
            ),
            UnitSpec("retract", CashUnitType.RETRACT, capacity=200, position_name="retract"),
        ),
        capabilities=CashAcceptorCapabilities(
            max_cash_in_items=100,
            shutter=True,
            items_taken_sensor=True,
            recycling=True,
            return_to=EXIT,
            classifies=True,
            knows_operations=True,
            senses_escrow=True,
        ),
        payout=CashDispenserCapabilities(
            max_dispense_items=100,
            intermediate_stacker=True,
            shutter=True,
            items_taken_sensor=True,
            retract_areas=frozenset({RetractArea.RETRACT}),
            reject=False,
            count=False,
            test_cash_units=False,
            knows_operations=True,
            dispense_to=STACKER,
        ),
    )


def _validator(name: str, cashbox: int) -> CashInProfile:
    return CashInProfile(
        name=name,
        units=(
            UnitSpec("cashbox", CashUnitType.CASH_IN, capacity=cashbox, position_name="cashbox"),
        ),
        capabilities=BILL_VALIDATOR,
        note_time=0.2,
        store_time=0.3,
        return_time=0.3,
    )


def _nv11() -> CashInProfile:
    nv200 = _validator("nv11", 500)
    return dataclasses.replace(
        nv200,
        units=(
            *nv200.units,
            UnitSpec(
                "payout", CashUnitType.RECYCLING, "CNY", 2000, capacity=30, position_name="payout"
            ),
        ),
        capabilities=dataclasses.replace(BILL_VALIDATOR, recycling=True),
        # pays out like an LCDM: straight to the customer, no stacker, shutter or retract
        payout=dataclasses.replace(
            CASH_PROFILES["lcdm1000"].capabilities, max_dispense_items=30, test_cash_units=False
        ),
        pick_time=0.3,
    )


CASH_IN_PROFILES: Mapping[str, CashInProfile] = {
    profile.name: profile
    for profile in (_default(), _validator("id003", 1000), _validator("nv200", 500), _nv11())
}
"""The shipped cash-in profiles by name."""


def cash_in_profile(
    name: str = "default",
    counts: Mapping[str, int] | None = None,
    *,
    values: Mapping[str, int] | None = None,
) -> CashInProfile:
    """The shipped profile ``name``, optionally with other counts or recycling values.

    Raises:
        ConfigurationError: no such profile (the known ones are listed), or a change
            naming a unit it does not have.
    """
    profile = CASH_IN_PROFILES.get(name)
    if profile is None:
        raise ConfigurationError(
            f"no cash-in profile named {name!r}; known: {', '.join(sorted(CASH_IN_PROFILES))}"
        )
    if counts or values:
        return profile.with_units(counts, values=values)
    return profile
