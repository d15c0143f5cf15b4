"""The vendor's bench: a person does what the suite asks (`CardReaderStimulus`,
`PinPadStimulus`).

The contract cases need a customer (insert a card, take it) and a witness (where is the
card now? how many cards are in the retain bin?). On real hardware this stimulus asks a
person at the terminal, and reads the test cards' expected contents from a TOML file:

.. code-block:: toml

    version = 1
    [cards.visa]          # one table per profile the suite uses
    track1 = "B4761739001010010^TEST/VISA CARD^28122011000012300000"
    track2 = "4761739001010010=28122011000012300000"
    track3 = ""           # empty: the track is blank on this card
    chip = true
    atr = "3B 68 00 00 ..."  # optional: the chip's ATR (hex); a chip-only reader's
                             # read is compared with it

Profiles the suite uses: ``visa`` (tracks and a chip), ``unreadable`` (blank stripe, no
chip), ``never_taken`` (any card; the person leaves it at the exit).

A PIN pad needs no file: the person is asked to press keys (test PINs such as
``4 7 2 9 ENTER``) when the pad asks for input, and whether the pad is waiting for keys.
"""

from __future__ import annotations

import asyncio
import queue
import sys
import threading
import tomllib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

from hal.devices.pin_pad_model import DIGIT_KEYS
from hal.errors import ConfigurationError, HalTimeout
from hal.stimulus import (
    CardReaderStimulus,
    CardSample,
    CashAcceptorStimulus,
    CashDispenserStimulus,
    NoteSample,
    PinPadStimulus,
)

__all__ = [
    "BenchCardReaderStimulus",
    "BenchCashAcceptorStimulus",
    "BenchCashDispenserStimulus",
    "BenchPinPadStimulus",
    "key_label",
    "load_bench_cards",
]

POSITIONS = ("none", "exit", "inside", "jammed", "retained", "customer")


def load_bench_cards(path: Path) -> dict[str, CardSample]:
    """The test cards a bench has, from a TOML file (see the module docstring).

    Raises:
        ConfigurationError: the file is missing, malformed or of another version.
    """
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigurationError(f"{path}: cannot read the bench cards: {exc}") from exc
    if raw.get("version") != 1:
        raise ConfigurationError(f"{path}: 'version = 1' expected, got {raw.get('version')!r}")
    unknown = set(raw) - {"version", "cards"}
    if unknown:
        raise ConfigurationError(f"{path}: unknown keys {sorted(unknown)}; allowed: cards, version")
    cards: dict[str, CardSample] = {}
    for name, table in dict(raw.get("cards", {})).items():
        cards[name] = _card(path, name, table)
    return cards


def _card(path: Path, name: str, table: Any) -> CardSample:
    where = f"{path}: [cards.{name}]"
    if not isinstance(table, dict):
        raise ConfigurationError(f"{where} must be a table")
    allowed = {"track1", "track2", "track3", "chip", "atr"}
    if set(table) - allowed:
        raise ConfigurationError(
            f"{where}: unknown keys {sorted(set(table) - allowed)}; allowed: {sorted(allowed)}"
        )
    tracks: list[bytes | None] = []
    for key in ("track1", "track2", "track3"):
        value = table.get(key, "")
        if not isinstance(value, str) or not value.isascii():
            raise ConfigurationError(f"{where}: {key} is ASCII text")
        tracks.append(value.encode("ascii") or None)
    chip = table.get("chip", False)
    if not isinstance(chip, bool):
        raise ConfigurationError(f"{where}: chip is true or false")
    atr_text = table.get("atr")
    atr = None
    if atr_text is not None:
        try:
            atr = bytes.fromhex(atr_text) if isinstance(atr_text, str) else None
        except ValueError:
            atr = None
        if not atr:
            raise ConfigurationError(f'{where}: atr is the ATR in hex ("3B 68 ...")')
        if not chip:
            raise ConfigurationError(f"{where}: a card with an atr has chip = true")
    track2 = tracks[1]
    pan = track2.split(b"=")[0].decode() if track2 and b"=" in track2 else None
    return CardSample(name, tracks[0], tracks[1], tracks[2], has_chip=chip, pan=pan, atr=atr)


class _TerminalLines:
    """Lines the person types, read by one daemon thread for the whole run.

    A prompt that expired must not swallow the answer to the next one, and a run that
    ends while a prompt waits must not hang at exit on a blocked ``input()``: so one
    thread reads standard input for good, and a prompt takes only lines typed after it.
    """

    def __init__(self, stream: TextIO) -> None:
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._ended = False  # standard input reached its end
        self._thread = threading.Thread(
            target=self._read, args=(stream,), name="bench stdin", daemon=True
        )
        self._thread.start()

    def _read(self, stream: TextIO) -> None:
        for line in stream:
            self._lines.put(line)
        self._lines.put(None)  # end of input

    async def next_line(self, timeout: float | None) -> str:
        """The next line typed from now on (earlier ones are dropped).

        Raises:
            HalTimeout: none within ``timeout`` seconds.
            ConfigurationError: standard input ended.
        """
        while not self._ended:  # typed before the prompt: an answer to something else
            try:
                self._ended = self._lines.get_nowait() is None
            except queue.Empty:
                break
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while not self._ended:
            left = 0.5 if deadline is None else min(0.5, deadline - loop.time())
            if left <= 0:
                raise HalTimeout(f"no answer within {timeout} s")
            try:
                line = await asyncio.to_thread(self._lines.get, True, left)
            except queue.Empty:
                continue
            if line is None:
                self._ended = True
            else:
                return line
        raise ConfigurationError("standard input ended: nobody is at the bench")


class _Person:
    """Asks a person at the bench and reads the answers.

    Args:
        ask: how a question reaches the person and the answer comes back; default: the
            terminal (prompts on ``out``, answers read from standard input).
        out: where instructions are written.
    """

    def __init__(
        self, *, ask: Callable[[str], str] | None = None, out: TextIO = sys.stderr
    ) -> None:
        self._ask = ask
        self._out = out
        self._terminal: _TerminalLines | None = None

    async def _prompt(self, text: str, timeout: float | None = None) -> str:
        """Ask; with ``timeout``, give up (telling the person) after that many seconds."""
        question = f"\n>>> {text} "
        try:
            if self._ask is not None:
                # A blocking callable: in a thread, so the device's loop keeps running.
                answer = await asyncio.wait_for(asyncio.to_thread(self._ask, question), timeout)
            else:
                if self._terminal is None:
                    self._terminal = _TerminalLines(sys.stdin)
                self._out.write(question)
                self._out.flush()
                answer = await self._terminal.next_line(timeout)
        except TimeoutError:
            self._out.write(f"\n(time is up after {timeout} s: that step is abandoned)\n")
            raise HalTimeout(f"the person did not answer within {timeout} s: {text}") from None
        return answer.strip()

    async def _count(self, question: str, timeout: float | None = None) -> int:
        """Ask until the person types a number."""
        while True:
            answer = (await self._prompt(question, timeout)).strip()
            if answer.isdigit():
                return int(answer)
            self._out.write("Please answer with a number.\n")


class BenchCardReaderStimulus(_Person, CardReaderStimulus):
    """Asks a person to act and to say what they see.

    Args:
        cards: the bench's test cards by profile name.
        ask: how a question reaches the person and the answer comes back; default: the
            terminal (prompts on ``out``, answers read from standard input).
        out: where instructions are written.
    """

    def __init__(
        self,
        cards: dict[str, CardSample],
        *,
        ask: Callable[[str], str] | None = None,
        out: TextIO = sys.stderr,
    ) -> None:
        super().__init__(ask=ask, out=out)
        self._cards = cards

    async def insert_card(self, profile: str = "visa") -> CardSample:
        card = self._cards.get(profile)
        if card is None:
            raise ConfigurationError(
                f"the bench has no {profile!r} test card; it has {sorted(self._cards)}"
            )
        await self._prompt(f"Insert the {profile!r} test card, then press Enter.")
        return card

    async def take_card(self, timeout: float = 10.0) -> None:
        await self._prompt(
            f"Take the card (from the exit, or out of a dip reader's slot), then press Enter "
            f"(within {timeout:g} s).",
            timeout,
        )

    async def jam(self) -> None:
        await self._prompt("Block the card path so the next movement jams, then press Enter.")

    async def clear_jam(self) -> None:
        await self._prompt("Clear the jam, leaving the card in the reader, then press Enter.")

    async def card_position(self) -> str:
        while True:
            answer = await self._prompt(f"Where is the card now? ({', '.join(POSITIONS)})")
            if answer in POSITIONS:
                return answer
            self._out.write(f"Please answer one of: {', '.join(POSITIONS)}\n")

    async def retained_count(self) -> int:
        return await self._count("How many cards are in the retain bin?")

    async def stacker_count(self) -> int:
        return await self._count("How many cards are in the card stacker?")


#: How a key is labelled for the person at the bench.
_KEY_LABELS = {
    **{name: str(digit) for digit, name in enumerate(DIGIT_KEYS)},
    "enter": "ENTER",
    "cancel": "CANCEL",
    "clear": "CLEAR",
    "backspace": "BACKSPACE",
    "help": "HELP",
    "decPoint": ".",
    "doubleZero": "00",
}


def key_label(name: str) -> str:
    """The label of the key ``name`` as printed on a PIN pad (``fdk01``: ``F1``)."""
    if name in _KEY_LABELS:
        return _KEY_LABELS[name]
    if name.startswith("fdk") and name[3:].isdigit():
        return f"F{int(name[3:])}"
    return name


class BenchPinPadStimulus(_Person, PinPadStimulus):
    """Asks a person at the bench to press keys on the PIN pad under test.

    The keys the suite asks for are test PINs (never a real customer's): they are shown
    to the person, one label per key (``4 7 2 9 ENTER``).
    """

    async def press_keys(self, keys: Sequence[str], *, timeout: float = 10.0) -> None:
        labels = " ".join(key_label(k) for k in keys)
        await self._prompt(
            f"When the PIN pad asks for input, press these keys on it, in order: {labels}  "
            f"-- then press Enter here (within {timeout:g} s).",
            timeout,
        )

    async def entry_active(self) -> bool:
        while True:
            answer = (await self._prompt("Is the PIN pad waiting for keys now? (yes/no)")).lower()
            if answer in ("yes", "y", "no", "n"):
                return answer.startswith("y")
            self._out.write("Please answer yes or no.\n")


class BenchCashDispenserStimulus(_Person, CashDispenserStimulus):
    """Asks a person at the bench to take notes and say what they see.

    A bench cannot see inside the dispenser: `ground_truth` is ``None``, and faults
    (jams, double notes) cannot be caused, so the cases that need them report the
    missing capability. Use test notes, never a bank's cash.
    """

    async def take_notes(self, *, timeout: float = 10.0) -> int:
        return await self._count(
            f"Take the notes from the dispenser's exit (within {timeout:g} s), count them, "
            "and type how many:",
            timeout,
        )

    async def notes_at_exit(self) -> int:
        return await self._count("How many notes are at the dispenser's exit now?", None)


class BenchCashAcceptorStimulus(_Person, CashAcceptorStimulus):
    """Asks a person at the bench to insert notes and take back what is returned.

    A bench cannot see inside the acceptor: `ground_truth` is ``None``, and faults
    (jams) cannot be caused, so the cases that need them report the missing capability.
    A note "no reader knows" is any paper the size of a note. Use test notes, never a
    bank's cash.
    """

    async def insert_notes(self, notes: Sequence[NoteSample | str]) -> None:
        names = ", ".join(n if isinstance(n, str) else f"{n.item} ({n.level})" for n in notes)
        await self._prompt(
            f"When the acceptor opens, insert these notes one at a time: {names}. "
            "Press Enter once you are ready:",
            None,
        )

    async def take_returned(self, *, timeout: float = 10.0) -> int:
        return await self._count(
            f"Take the notes the acceptor gave back (within {timeout:g} s), count them, "
            "and type how many:",
            timeout,
        )

    async def notes_at_exit(self) -> int:
        return await self._count("How many notes are at the acceptor's exit now?", None)
