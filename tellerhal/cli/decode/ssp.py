"""``tellerhal decode ssp``: being written (issue 7); replaced by the real decoder."""

from __future__ import annotations

import argparse
from collections.abc import Iterator

from tellerhal.cli.decode.fields import Entry, Failure

__all__ = ["decode_ssp"]


def decode_ssp(capture: bytes, args: argparse.Namespace) -> Iterator[Entry]:
    """Placeholder until the ssp decoder lands: refuses every capture."""
    raise Failure("the ssp decoder is not written yet")
    yield {}
