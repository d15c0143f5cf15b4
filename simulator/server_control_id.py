"""What the control socket (`simulator.server_control.ControlServer`) does to a simulated
ID scanner for each of its control commands (`simulator.control_commands_id`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Final

from simulator.control_commands import (
    CountCompletion,
    DocumentPresentedCompletion,
    PositionCompletion,
)
from simulator.id_control import IdScannerControl

__all__ = ["ID_ACTIONS"]


async def _present_document(control: IdScannerControl, payload: Any) -> Any:
    sample = await control.present_document(payload.profile)
    kind = sample.expected.kind.value if sample.expected is not None else ""
    return DocumentPresentedCompletion(sample.profile, kind, sample.valid)


async def _document_position(control: IdScannerControl, payload: Any) -> Any:
    return PositionCompletion(await control.document_position())


async def _documents_retained(control: IdScannerControl, payload: Any) -> Any:
    return CountCompletion(await control.retained_count())


async def _documents_emptied(control: IdScannerControl, payload: Any) -> Any:
    return CountCompletion(await control.empty_retain_bin())


ID_ACTIONS: Final[dict[str, Callable[[IdScannerControl, Any], Awaitable[Any]]]] = {
    "Control.PresentDocument": _present_document,
    "Control.RemoveDocument": lambda c, p: c.remove_document(timeout=p.timeout),
    "Control.DocumentPosition": _document_position,
    "Control.RetainedCount": _documents_retained,
    "Control.EmptyRetainBin": _documents_emptied,
    "Control.WaitFor": lambda c, p: c.wait_for(p.condition, timeout=p.timeout),
    "Control.ClearJam": lambda c, p: c.clear_jam(),
    "Control.JamDocument": lambda c, p: c.jam(),
    "Control.SamFailure": lambda c, p: c.sam_failure(p.on),
    "Control.FailRead": lambda c, p: c.fail_next_read(),
    "Control.SlowRead": lambda c, p: c.slow_read(p.seconds),
    "Control.PowerLoss": lambda c, p: c.power_loss(p.on),
    "Control.SlowReplies": lambda c, p: c.slow_replies(p.seconds),
}
