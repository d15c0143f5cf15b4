"""LCDM status replies read as the dispenser's status and its units' sensors.

LCDM-1000/2000 STATUS (reference §3.1): SENSOR0 bits CHK1, CHK2, DIV1, DIV2, EJT, EXIT,
NEAREND; SENSOR1 bits REJECT_TRAY (0 = present), CASSETTE, SOL. [U] a set bit means
"note sensed" for the path sensors, "near end" for NEAREND and "fitted" for CASSETTE:
the reference gives only the reject tray's polarity. [U] the LCDM-2000 answers in the
same layout, whose one CASSETTE / NEAREND pair is read as the upper cassette's; the
lower cassette's sensors are not known.

LCDM-4000 STATUS [S] (`protocols.lcdm_layouts.Status4000`): TYPE per cassette says if
it is fitted; DISP bits DVTL, DVTR, EJT, EXIT are the path sensors. No near-end bit
(error 45h says it during a dispense), no reject-tray bit.
"""

from __future__ import annotations

from collections.abc import Sequence

from drivers.cash.lcdm_options import REJECT
from drivers.cash.lcdm_report import GOOD
from hal.device import DeviceState
from hal.devices.cash_model import (
    CashDispenserStatus,
    CashUnitInfo,
    ShutterState,
    StackerState,
    TransportState,
    UnitSensor,
    UnitStatus,
)
from protocols.lcdm import Model
from protocols.lcdm_layouts import Status4000
from protocols.lcdm_replies import StatusReply

__all__ = ["dispenser_status", "unit_sensors"]

_PATH_1000 = ("CHK1", "CHK2", "DIV1", "DIV2", "EJT", "EXIT")
_PATH_4000 = ("DVTL", "DVTR", "EJT", "EXIT")


def dispenser_status(model: Model, status: StatusReply | Status4000) -> CashDispenserStatus:
    """No stacker, no shutter, no exit sensing; the transport from the path sensors;
    ``hardwareError`` while the status carries an error code."""
    sensors = status.sensors
    path = _PATH_4000 if isinstance(status, Status4000) else _PATH_1000
    busy = any(sensors[name] for name in path)
    ok = int(status.error) == GOOD[model]
    return CashDispenserStatus(
        device=DeviceState.ONLINE if ok else DeviceState.HARDWARE_ERROR,
        stacker=StackerState.NOT_SUPPORTED,
        shutter=ShutterState.NOT_SUPPORTED,
        transport=TransportState.NOT_EMPTY if busy else TransportState.EMPTY,
        exit_items=None,
    )


def unit_sensors(
    status: StatusReply | Status4000, cassettes: Sequence[CashUnitInfo]
) -> tuple[UnitSensor, ...]:
    """What the status says of each cassette and of the reject tray (see the header)."""
    out: list[UnitSensor] = []
    if isinstance(status, Status4000):
        for unit, (_stat, present, _opac, _leng) in zip(cassettes, status.cassettes, strict=True):
            out.append(UnitSensor(unit.id, UnitStatus.OK if present else UnitStatus.MISSING))
        out.append(UnitSensor(REJECT))
        return tuple(out)
    sensors = status.sensors
    first = UnitStatus.OK if sensors["CASSETTE"] else UnitStatus.MISSING
    out.append(UnitSensor(cassettes[0].id, first, low=sensors["NEAREND"]))
    out.extend(UnitSensor(unit.id) for unit in cassettes[1:])
    tray = UnitStatus.MISSING if sensors["REJECT_TRAY"] else UnitStatus.OK
    out.append(UnitSensor(REJECT, tray))
    return tuple(out)
