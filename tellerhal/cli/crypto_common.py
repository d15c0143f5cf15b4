"""What the ``tellerhal crypto`` actions share: argument parsing, hex input, running, output.

`run` is the function every action's parser calls: it runs the action, prints its result as
``name: value`` lines or one JSON object, and turns `InputError` and `HalError` into one
``error: ...`` line on stderr and exit 2 (a MAC that does not verify exits 1).
"""

from __future__ import annotations

import argparse
import json
import string
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from protocols.errors import HalError

__all__ = [
    "Action",
    "InputError",
    "Parser",
    "Result",
    "group",
    "hex_arg",
    "leaf",
    "run",
    "upper_hex",
]

_HEXDIGITS = frozenset(string.hexdigits)

Result = dict[str, Any]
Action = Callable[[argparse.Namespace], Result]


class InputError(Exception):
    """An argument this module refuses before any library sees it (message has no value)."""


class Parser(argparse.ArgumentParser):
    """Argument errors as one ``error: ...`` line and exit 2 (no usage block).

    Leftover arguments are refused here, without echoing them (they may hold a key),
    instead of being handed up to the top-level parser, which would quote them.
    """

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        parsed, extras = super().parse_known_args(args, namespace)
        if extras:
            self.error("unrecognized arguments")
        return parsed, extras

    def error(self, message: str) -> NoReturn:
        if message.startswith("unrecognized arguments"):
            message = "unrecognized arguments (see --help)"  # they may hold a key: not echoed
        self.exit(2, f"error: {self.prog}: {message}\n")


# --- argument helpers -----------------------------------------------------------------


def hex_arg(value: str | None, what: str, *, empty: bool = False) -> bytes:
    """Hex text (spaces allowed) as bytes; the message names the option, never the value."""
    if value is None:
        raise InputError(f"{what} is required")
    text = "".join(value.split())
    if not set(text) <= _HEXDIGITS:
        raise InputError(f"{what} must be hex digits (0-9, A-F)")
    if len(text) % 2:
        raise InputError(f"{what} has an odd number of hex digits ({len(text)})")
    if not text and not empty:
        raise InputError(f"{what} is empty")
    return bytes.fromhex(text)


def upper_hex(data: bytes) -> str:
    return data.hex().upper()


def _add_json(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def leaf(
    actions: argparse._SubParsersAction[Any], name: str, action: Action, help_text: str
) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = actions.add_parser(
        name, help=help_text, description=help_text
    )
    _add_json(parser)
    parser.set_defaults(func=run, action_func=action)
    return parser


def group(parser: argparse.ArgumentParser, dest: str) -> argparse._SubParsersAction[Any]:
    actions = parser.add_subparsers(dest=dest, metavar="ACTION", parser_class=Parser)
    actions.required = True
    return actions


def _print(result: Result, as_json: bool) -> None:
    if as_json:
        print(json.dumps(result))
        return
    for name, value in result.items():
        if isinstance(value, dict):
            for inner, item in value.items():
                print(f"{inner}: {_text(item)}")
        else:
            print(f"{name}: {_text(value)}")


def _text(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return " ".join(f"{b['id']}={b['data']}" for b in value) or "-"
    return str(value)


def run(args: argparse.Namespace) -> int:
    """Run one action; 0 done, 1 a MAC that does not verify, 2 bad input."""
    action: Action = args.action_func
    try:
        result = action(args)
    except (InputError, HalError) as exc:
        message = exc.message if isinstance(exc, HalError) else str(exc)
        if args.json:
            print(json.dumps({"error": message}), file=sys.stderr)
        else:
            print(f"error: {message}", file=sys.stderr)
        return 2
    _print(result, args.json)
    return 1 if result.get("verified") is False else 0
