"""One lock per set of books: what lets two services keep one device's books.

A recycler is one device seen as a `CashAcceptor` and a `CashDispenser`; both services
write their movements under one ledger device name (their ``books``). Each journals a
plan, lets the device act and applies the report; a reconcile settles whatever is
pending. Were the two to interleave, one could reconcile the other's operation while
it is still in flight (settling it ``unknown`` or ``failed`` under the device's feet).
`books_lock` hands both the same `asyncio.Lock` for one ledger (the same file, or the
same `Ledger` object in memory) and one books name; each service holds it around every
queued command and every reconcile.
"""

from __future__ import annotations

import asyncio
import os
import weakref

from hal.ledger import MEMORY, Ledger

__all__ = ["books_key", "books_lock"]

_LOCKS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[str, str], asyncio.Lock]]
_LOCKS = weakref.WeakKeyDictionary()


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
