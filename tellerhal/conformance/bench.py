"""A `CardReaderStimulus` for the vendor's bench: a person does what the suite asks.

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
"""

from __future__ import annotations

import asyncio
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from hal.errors import ConfigurationError
from hal.stimulus import CardReaderStimulus, CardSample

__all__ = ["BenchCardReaderStimulus", "load_bench_cards"]

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


class BenchCardReaderStimulus(CardReaderStimulus):
    """Asks a person to act and to say what they see.

    Args:
        cards: the bench's test cards by profile name.
        ask: how a question reaches the person (default: the terminal).
        out: where instructions are written.
    """

    def __init__(
        self,
        cards: dict[str, CardSample],
        *,
        ask: Callable[[str], str] = input,
        out: TextIO = sys.stderr,
    ) -> None:
        self._cards = cards
        self._ask = ask
        self._out = out

    async def _prompt(self, text: str) -> str:
        # input() blocks: ask in a thread so the device's loop keeps running.
        return (await asyncio.to_thread(self._ask, f"\n>>> {text} ")).strip()

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
            "Take the card (from the exit, or out of a dip reader's slot), then press Enter."
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

    async def _count(self, question: str) -> int:
        while True:
            answer = await self._prompt(question)
            if answer.isdigit():
                return int(answer)
            self._out.write("Please answer with a number.\n")
