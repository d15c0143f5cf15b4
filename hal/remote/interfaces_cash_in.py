"""The CashAcceptor over the remote: its payloads, completions and `CASH_ACCEPTOR`.

XFS4IoT CashAcceptor, the cash-in half of CashManagement and Storage, served as one
device (``interface`` ``CashAcceptor``). Names follow XFS4IoT: ``CashAcceptor.CashInStart``,
``CashAcceptor.CashIn``, ``CashAcceptor.CashInEnd``, ``CashAcceptor.CashInRollback``,
``CashAcceptor.GetCashInStatus``, ``CashAcceptor.ConfigureNoteTypes``,
``CashManagement.GetBankNoteTypes``, ``CashManagement.Retract``, ``CashManagement.Reset``
and the ``Storage`` commands. Each command calls one method of
`hal.devices.cash_acceptor.CashAcceptor` on the server, whose service keeps the books.

What the cash dispenser already carries is reused, not copied: ``CashManagement.Retract``
(`RETRACT_COMMAND`), the ``Storage`` commands and ``CashManagement.Reset``
(`STORAGE_COMMANDS`), with their payloads and completions, and the events `ItemsTaken`
and `CashUnitThreshold`.

Money travels as ``{"minor": int, "currency": "CNY"}`` (never a float); note counts as
JSON objects ``{"CNY:10000": notes}``, note levels and refusal reasons by their
XFS4IoT names. Notes carry no secret: nothing here is hidden, and every payload is
decoded strictly (an unknown or missing field is refused, as everywhere on the wire).

Every name here is also importable from `hal.remote.interfaces`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from hal.devices.cash_acceptor import (
    CashAcceptorCapabilities,
    CashAcceptorStatus,
    CashInEnded,
    CashInResult,
    CashInStatus,
    CashUnitThreshold,
    InputRefuse,
    InsertItems,
    ItemsInserted,
    ItemsTaken,
    NoteType,
    SubCashIn,
)
from hal.money import Money
from hal.remote.interfaces import Command, build_interface
from hal.remote.interfaces_cash import RETRACT_COMMAND, STORAGE_COMMANDS

__all__ = [
    "CASH_ACCEPTOR",
    "CashInStartPayload",
    "ConfigureNoteTypesPayload",
    "NoteTypesCompletion",
]


@dataclass(frozen=True)
class NoteTypesCompletion:
    """The notes the reader recognises, each with whether it is accepted now
    (``CashManagement.GetBankNoteTypes``, ``CashAcceptor.ConfigureNoteTypes``)."""

    items: tuple[NoteType, ...]


@dataclass(frozen=True)
class ConfigureNoteTypesPayload:
    """``CashAcceptor.ConfigureNoteTypes``: the note items (``CNY:10000``) to accept."""

    enabled: tuple[str, ...]


@dataclass(frozen=True)
class CashInStartPayload:
    """``CashAcceptor.CashInStart``: the transaction's limits (XFS4IoT
    ``totalItemsLimit``, ``amountLimit``) and ``useRecycleUnits``; ``null``: no limit."""

    total_items_limit: int | None
    amount_limit: Money | None
    use_recycle_units: bool


def _cash_in_start(payload: CashInStartPayload) -> tuple[str, dict[str, Any]]:
    return "cash_in_start", {
        "max_items": payload.total_items_limit,
        "max_amount": payload.amount_limit,
        "use_recycle_units": payload.use_recycle_units,
    }


CASH_ACCEPTOR: Final = build_interface(
    "CashAcceptor",
    CashAcceptorStatus,
    CashAcceptorCapabilities,
    (
        Command(
            "CashManagement.GetBankNoteTypes",
            "note_types",
            completion=NoteTypesCompletion,
            result_field="items",
            queued=False,
        ),
        Command(
            "CashAcceptor.ConfigureNoteTypes",
            "configure_note_types",
            ConfigureNoteTypesPayload,
            NoteTypesCompletion,
            "items",
        ),
        Command(
            "CashAcceptor.CashInStart",
            "cash_in_start",
            CashInStartPayload,
            CashInStatus,
            route=_cash_in_start,
        ),
        Command("CashAcceptor.CashIn", "cash_in", completion=CashInResult),
        Command("CashAcceptor.CashInEnd", "cash_in_end", completion=CashInEnded),
        Command("CashAcceptor.CashInRollback", "cash_in_rollback", completion=CashInEnded),
        Command("CashAcceptor.GetCashInStatus", "get_cash_in_status", completion=CashInStatus),
        RETRACT_COMMAND,
        *STORAGE_COMMANDS,
    ),
    (InsertItems, ItemsInserted, InputRefuse, SubCashIn, ItemsTaken, CashUnitThreshold),
)
