"""``tellerhal decode id003``: being written (issue 7); replaced by the real decoder."""

from __future__ import annotations

import argparse
from collections.abc import Iterator

from tellerhal.cli.decode.fields import Entry, Failure

__all__ = ["decode_id003"]


def decode_id003(capture: bytes, args: argparse.Namespace) -> Iterator[Entry]:
    """Placeholder until the id003 decoder lands: refuses every capture."""
    raise Failure("the id003 decoder is not written yet")
    yield {}
