"""One lock per set of books: what lets two services keep one device's books.

A recycler is one device seen as a `CashAcceptor` and a `CashDispenser`; both services
write their movements under one ledger device name (their ``books``). Each journals a
plan, lets the device act and applies the report; a reconcile settles whatever is
pending. Were the two to interleave, one could reconcile the other's operation while
it is still in flight (settling it ``unknown`` or ``failed`` under the device's feet).
`books_lock` hands both the same `asyncio.Lock` for one ledger (the same file, or the
same `Ledger` object in memory) and one books name; each service holds it around every
queued command and every reconcile.

Two more things keep the two services apart (docs/cash_in.md, "Recycler"):

- who reconciles what: every pending operation is reconciled by the kind of service
  that made it, told by the reason of its movements (`is_acceptor_reason`): the
  acceptor's all start with `ACCEPTOR_REASON`, the dispenser's never do. A dispenser
  cannot judge an interrupted cash-in (it does not sense the escrow nor join the
  notes to the open transaction), and leaves it pending for the acceptor;
- what is in flight: `in_flight` is the set of tokens whose operation is between its
  journal and its apply in this process (per books), which a reconcile that runs
  without the lock (an open while the other service waits for a customer) skips.
"""

from __future__ import annotations

import asyncio
import os
import weakref

from hal.ledger import MEMORY, Ledger

__all__ = ["ACCEPTOR_REASON", "books_key", "books_lock", "in_flight", "is_acceptor_reason"]

_LOCKS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[str, str], asyncio.Lock]]
_LOCKS = weakref.WeakKeyDictionary()
_IN_FLIGHT: dict[tuple[str, str], set[int]] = {}

#: What the reason of every movement a cash acceptor's service journals starts with.
ACCEPTOR_REASON = "cash-in"


def is_acceptor_reason(reason: str) -> bool:
    """Whether a movement with this reason is a cash acceptor's (else a dispenser's)."""
    return reason.startswith(ACCEPTOR_REASON)


def books_key(ledger: Ledger, books: str) -> tuple[str, str]:
    """What names one set of books: the ledger's file (resolved, so two services that
    open the same file by different paths agree) or, for a ledger in memory, the
    object; and the books' device name."""
    if ledger.path == MEMORY:
        return (f"memory:{id(ledger)}", books)
    return (os.path.realpath(ledger.path), books)


def books_lock(ledger: Ledger, books: str) -> asyncio.Lock:
    """The lock of ``books`` in ``ledger`` for the running event loop (an asyncio lock
    belongs to one loop; a process that runs several loops gets one lock each)."""
    loop = asyncio.get_running_loop()
    locks = _LOCKS.setdefault(loop, {})
    key = books_key(ledger, books)
    lock = locks.get(key)
    if lock is None:
        lock = locks[key] = asyncio.Lock()
    return lock


def in_flight(ledger: Ledger, books: str) -> set[int]:
    """The tokens of ``books`` whose operation is in flight in this process (between
    its journal and its apply); the caller adds and discards its own."""
    return _IN_FLIGHT.setdefault(books_key(ledger, books), set())
