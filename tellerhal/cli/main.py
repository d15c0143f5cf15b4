"""The ``tellerhal`` command line: one sub-command per module in this package.

Each sub-command module exposes ``register(subparsers)``, which adds its parser and sets
``func`` (``Callable[[argparse.Namespace], int]``) as a default. The exit code is what
``func`` returns.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from typing import cast

# Sub-command modules, in the order ``--help`` lists them.
SUBCOMMANDS = (
    "tellerhal.cli.demo",
    "tellerhal.cli.devices",
    "tellerhal.cli.decode",
    "tellerhal.cli.receipt",
    "tellerhal.cli.crypto",
    "tellerhal.cli.ledger",
    "tellerhal.cli.conformance",
    "tellerhal.cli.certify",
    "tellerhal.cli.serve",
    "tellerhal.cli.sim",
    "tellerhal.cli.sim_control",
    "tellerhal.cli.keys",
)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser, with every available sub-command registered."""
    parser = argparse.ArgumentParser(
        prog="tellerhal",
        description="Hardware abstraction layer and simulator for self-service teller machines.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in SUBCOMMANDS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``tellerhal`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    func = cast(Callable[[argparse.Namespace], int], args.func)
    try:
        return func(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
