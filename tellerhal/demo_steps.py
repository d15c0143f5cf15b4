"""The demo's step machinery: its timed lines, its app steps and its event watchers.

`tellerhal.demo` and its parts (`tellerhal.demo_cash`, `tellerhal.demo_pin`) print
through a `StepPrinter`, run each app step through `Steps` (timed, printed, recorded
in the `tellerhal.demo.DemoResult`) and print a device's events with `watch`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TextIO, TypeVar

from hal.devices.pin_pad import KeyEvent
from hal.events import Event, StatusChanged, Subscription

if TYPE_CHECKING:
    from tellerhal.demo import DemoResult

__all__ = ["StepPrinter", "Steps", "event_text", "watch"]

T = TypeVar("T")


class StepPrinter:
    """Prints the demo's lines, each with its time since the start and what it took."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.start = time.perf_counter()

    def line(self, who: str, text: str, took: float | None = None) -> None:
        now = time.perf_counter() - self.start
        took_text = f"{took * 1000:8.1f} ms" if took is not None else " " * 11
        self.out.write(f"[{now:7.3f} s] {took_text}  {who:<8} {text}\n")
        self.out.flush()


class Steps:
    """Runs the app's steps, timing and printing each one."""

    def __init__(self, printer: StepPrinter, result: DemoResult) -> None:
        self.printer = printer
        self.result = result

    async def __call__(self, what: str, action: Awaitable[T]) -> T:
        start = time.perf_counter()
        value = await action
        took = time.perf_counter() - start
        self.result.steps.append((what, took))
        self.printer.line("app", what, took)
        for _ in range(3):  # let the event watcher print what this step caused
            await asyncio.sleep(0)
        return value


async def watch(
    sub: Subscription, say: Callable[[str, str], None], result: DemoResult, who: str = "event"
) -> None:
    """Print the events of ``sub`` as they come, and note their kinds in ``result``."""
    async for event in sub:
        if isinstance(event, StatusChanged):
            fields = ", ".join(
                f"{f} {getattr(event.old, f)}->{getattr(event.new, f)}"
                for f in sorted(event.changed)
            )
            text = f"StatusChanged ({fields})"
        else:
            text = event_text(event)
        result.events.append(type(event).__name__)
        say(who, text)


def event_text(event: Event) -> str:
    """An event as the demo prints it (a PIN entry's key event names no digit)."""
    command = f" (command {event.command_id})" if event.command_id is not None else ""
    if isinstance(event, KeyEvent):
        # In a PIN entry the event names no digit; a function key it does name.
        named = event.digit is not None and event.digit != event.completion.value
        key = f" ({event.digit})" if named else ""
        return f"KeyEvent{command}: {event.completion.value}{key}"
    return f"{type(event).__name__}{command}"
