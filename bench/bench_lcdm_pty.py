"""LCDM-2000 over a pty: one withdrawal, against the wire time of the bytes it took.

Run: ``python bench/bench_lcdm_pty.py [--cycles N] [--bauds 9600,115200]``

The real ``lcdm`` driver, opened through ``hal.open`` on the ``serial`` transport with a
ledger file (so through the `CashDispenserService`, whose journal is fsynced on every
write), dispenses from the LCDM emulator on a `PtyBridge`, over a `CashDispenserModel`
of profile ``lcdm2000`` that picks in no time. The emulator paces both directions like a
UART at the line rate (10 bits a byte, precise mode), so the wire time of the bytes is
the floor a cycle can reach.

First the operator counts the cassettes in (an exchange that sets each unit's count from
the model's ground truth). One cycle: ``dispense`` of CNY 250 by fewest notes, two notes
from the upper cassette and one from the lower (the LCDM dispenses straight to the
customer): on the line STATUS, UPPER_LOWER DISPENSE, STATUS (69 bytes), and in the
ledger the journal and settle writes. Wire time = bytes the emulator received and sent
in the cycle x 10 bits / baud; the ratio is elapsed over wire time (goal: 1.2 at most).
The unpaced row is the same cycle with no pacing: what the pty, asyncio, both sides'
Python and the ledger's fsyncs cost alone.

Before its row is printed, each run checks that the ledger's counts (through the API and
read back from the file) equal the model's ground truth.

Exit status 1 if a paced ratio misses the goal.
"""

from __future__ import annotations

import tempfile
from decimal import Decimal
from pathlib import Path

from pty_cycle import GOAL, register, report, run, timed_cycles

import hal
from drivers.cash.lcdm import LCDM_DRIVER
from hal.devices.cash_dispenser import CashDispenser
from hal.devices.cash_model import TRANSPORT
from hal.ledger import Ledger
from hal.money import Money
from protocols.lcdm import Model
from simulator.models.cash_dispenser import CashDispenserModel
from simulator.models.cash_profiles import cash_profile
from simulator.wire.lcdm import LcdmEmulator
from simulator.wire.pty import PtyBridge

#: The lcdm2000 profile's cassettes: CNY 100 upper, CNY 50 lower (values in fen).
UNITS = "CNY:10000:2500,CNY:5000:2500"
#: Notes loaded in each cassette: enough for every cycle of a long run.
LOADED = 2000
#: CNY 250 by fewest notes: 2 x 100 from unit1 and 1 x 50 from unit2.
AMOUNT = Money.of(Decimal(250), "CNY")
EXPECTED = {"unit1": 2, "unit2": 1}
#: The ledger's device name (the service's default name).
DEVICE = "cash_dispenser"


async def withdraw(dispenser: CashDispenser) -> None:
    """One withdrawal through the public API: the notes go straight to the customer."""
    done = await dispenser.dispense(AMOUNT, timeout=30)
    assert dict(done.counts) == EXPECTED, done
    assert done.amount == AMOUNT, done


async def count_in(dispenser: CashDispenser, model: CashDispenserModel) -> None:
    """What the operator does first: set each unit's count from what is really there."""
    truth = model.ground_truth()
    await dispenser.start_exchange(timeout=30)
    for unit in await dispenser.cash_units():
        await dispenser.set_cash_unit(unit.id, initial=truth[unit.id], timeout=30)
    await dispenser.end_exchange(timeout=30)


def check_books(
    units: dict[str, int], ledger: Path, model: CashDispenserModel, cycles: int
) -> None:
    """The ledger's counts (from the API and the file) equal the model's ground truth."""
    truth = model.ground_truth()
    wanted = {unit: truth[unit] for unit in units}
    if units != wanted:
        raise SystemExit(f"the ledger's unit counts {units} are not the ground truth {wanted}")
    books = Ledger.open(ledger, read_only=True)
    try:
        counts = books.counts(DEVICE)
        pending = books.pending(DEVICE)
    finally:
        books.close()
    for location in (*units, TRANSPORT):
        if counts.get(location, 0) != truth[location]:
            raise SystemExit(
                f"the ledger file has {counts.get(location, 0)} notes at {location}, "
                f"the model {truth[location]}"
            )
    if pending:
        raise SystemExit(f"{len(pending)} movements left pending in the ledger")
    # The warm-up and the measured cycles, each EXPECTED notes out of its cassette.
    for unit, notes in EXPECTED.items():
        if truth[unit] != LOADED - notes * (cycles + 1):
            raise SystemExit(f"{unit} holds {truth[unit]} notes: a cycle did not dispense")


async def measure(baud: int | None, cycles: int, line_baud: int) -> tuple[int, float, float]:
    """(bytes per cycle, wire seconds per cycle, elapsed seconds per cycle), medians."""
    profile = cash_profile("lcdm2000", {"unit1": LOADED, "unit2": LOADED})
    model = CashDispenserModel(profile, name="lcdm2000", pick_time=0.0)
    # On the disk, not in memory: the journal's fsyncs are part of what is measured.
    with tempfile.TemporaryDirectory(prefix="bench-lcdm-") as directory:
        ledger = Path(directory) / "ledger.sqlite"
        address = (
            f"lcdm+serial://{Path(directory) / 'lcdm'}?model=2000&units={UNITS}"
            f"&ledger={ledger}&baud={line_baud}&reply_timeout=10&status_timeout=5"
        )
        async with (
            PtyBridge("lcdm", directory=directory) as bridge,
            LcdmEmulator(model, bridge, model=Model.LCDM2000, baud=baud) as emulator,
        ):
            emulator.pacer.precise = True
            dispenser = hal.open(address)
            assert isinstance(dispenser, CashDispenser)
            async with dispenser:
                await count_in(dispenser, model)
                await withdraw(dispenser)  # warm-up: imports, first frames
                result = await timed_cycles(
                    emulator.stats,  # type: ignore[arg-type]  # has bytes_in, bytes_out
                    cycles,
                    lambda: withdraw(dispenser),
                    line_baud,
                )
                units = {unit.id: unit.count for unit in await dispenser.cash_units()}
        check_books(units, ledger, model, cycles)
    return result


async def main(cycles: int, bauds: list[int]) -> int:
    register(LCDM_DRIVER)
    title = (
        f"LCDM-2000 over a pty, ledger on disk: one withdrawal ({AMOUNT}, 2+1 notes), "
        f"median of {cycles} (goal: <= {GOAL}x wire)"
    )
    status = await report(title, measure, cycles, bauds)
    print("every cycle includes the ledger's fsynced journal and settle writes;")
    print("after each row's run the ledger's counts equal the model's ground truth")
    return status


if __name__ == "__main__":
    run(__doc__, "9600,115200", main)
