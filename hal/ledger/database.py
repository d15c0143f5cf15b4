"""The ledger's SQLite connection: opening, ownership, transactions, failing closed.

Durability: every write is one ``BEGIN IMMEDIATE ... COMMIT`` on a WAL file with
``synchronous=FULL``, so when a write returns, its row has been fsynced; when it raises,
the caller must assume nothing was written and must not move the card or the note.

Failure: any SQLite error becomes a `LedgerError` with the cause chained. A failed write
also puts the database out of service: in-process state may now disagree with the file
(a settlement that did not land leaves its movement pending), so every later write is
refused until the ledger is reopened and reconciled with the devices.

Threads: the connection belongs to the thread that opened it (the asyncio loop thread of
the devices it journals for); SQLite's own ``check_same_thread`` stays on and a call from
another thread is refused with a `LedgerError`. Each call is a few short statements plus
one fsync per write, cheap enough to run on the loop without an executor.

Ownership: one process writes a ledger file. A writable open takes an exclusive
``flock`` on ``<file>.lock`` (a separate file: closing any descriptor of the database
itself would drop SQLite's POSIX locks); the kernel releases it when the process dies,
even by SIGKILL. Tools that only look (``tellerhal ledger``) open read-only and take no
lock.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hal.errors import LedgerError
from hal.ledger.model import LedgerInfo
from hal.ledger.schema import SCHEMA_VERSION, migrate, schema_version, transaction

__all__ = ["MEMORY", "Database"]

MEMORY = ":memory:"
"""The path of a ledger that lives in memory only (tests, demos): nothing is durable."""

_SYNCHRONOUS = {0: "off", 1: "normal", 2: "full", 3: "extra"}


class _OwnerLock:
    """An exclusive ``flock`` on ``<ledger>.lock``, held while the ledger is open."""

    def __init__(self, path: Path) -> None:
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = os.read(self._fd, 32).decode("ascii", "replace").strip() or "?"
            os.close(self._fd)
            raise LedgerError(
                f"ledger {path.with_suffix('')} is already open for writing by pid {owner}"
            ) from None
        except BaseException:
            os.close(self._fd)
            raise
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, f"{os.getpid()}\n".encode("ascii"), 0)

    def release(self) -> None:
        os.close(self._fd)


class Database:
    """One configured SQLite connection to a ledger file, guarded for failing closed.

    Args:
        path: the SQLite file, or `MEMORY`.
        read_only: open without writing: no lock, no migration, writes refused.
        busy_timeout: seconds a write waits for another connection's lock.

    Raises:
        LedgerError: the file cannot be opened, locked, configured, checked or migrated,
            or its schema is newer than this code.
    """

    def __init__(self, path: str, *, read_only: bool, busy_timeout: float) -> None:
        self.path = path
        self.read_only = read_only
        self._broken: LedgerError | None = None
        self._thread = threading.get_ident()
        self._lock: _OwnerLock | None = None
        self._conn: sqlite3.Connection | None = None
        memory = path == MEMORY
        try:
            if not memory and not read_only:
                self._lock = _OwnerLock(Path(path + ".lock"))
            self._conn = self._connect(memory, busy_timeout)
        except OSError as exc:
            self._release()
            raise LedgerError(f"ledger {path}: cannot open: {exc}") from exc
        except BaseException:
            self._release()
            raise

    def _connect(self, memory: bool, busy_timeout: float) -> sqlite3.Connection:
        uri = self.read_only and not memory
        target = Path(self.path).absolute().as_uri() + "?mode=ro" if uri else self.path
        conn: sqlite3.Connection | None = None
        try:
            # isolation_level=None: we issue BEGIN/COMMIT ourselves, so a commit happens
            # exactly where the code says and not when the sqlite3 module decides.
            conn = sqlite3.connect(
                target,
                timeout=busy_timeout,
                isolation_level=None,
                check_same_thread=True,
                uri=uri,
            )
            conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
            conn.execute("PRAGMA foreign_keys = ON")
            # REPLACE deletes without firing DELETE triggers unless this is on.
            conn.execute("PRAGMA recursive_triggers = ON")
            # A reader cannot change the file's mode (the writer that created it did).
            mode = conn.execute(f"PRAGMA journal_mode{'' if uri else ' = WAL'}").fetchone()[0]
            if not uri and mode != ("memory" if memory else "wal"):
                raise LedgerError(f"ledger {self.path}: journal_mode is {mode!r}, not 'wal'")
            conn.execute("PRAGMA synchronous = FULL")
            check = [row[0] for row in conn.execute("PRAGMA quick_check")]
            if check != ["ok"]:
                raise LedgerError(f"ledger {self.path} is corrupt: {'; '.join(check[:5])}")
            if self.read_only:
                version = schema_version(conn)
                if version != SCHEMA_VERSION:
                    raise LedgerError(
                        f"ledger {self.path} has schema version {version}; this code reads "
                        f"version {SCHEMA_VERSION} (open it writable once to migrate)"
                    )
            else:
                migrate(conn)
                # SQLite opens a file it may not write read-only without a word: prove
                # now that writes land, so the device refuses to start rather than fail
                # at the first card.
                conn.execute("BEGIN IMMEDIATE")
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if conn is not None:
                conn.close()
            raise LedgerError(f"ledger {self.path}: cannot open: {exc}") from exc
        except BaseException:
            if conn is not None:
                conn.close()
            raise
        return conn

    @property
    def closed(self) -> bool:
        """Whether `close` has been called."""
        return self._conn is None

    def close(self) -> None:
        """Close the connection and release the ownership lock; twice is harmless.

        Raises:
            LedgerError: called from another thread than the one that opened it.
        """
        if self._conn is None:
            return
        self._check_thread("close")
        try:
            self._conn.close()
        except sqlite3.Error as exc:
            raise LedgerError(f"ledger {self.path}: cannot close: {exc}") from exc
        finally:
            self._conn = None
            self._release()

    def _release(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def _check_thread(self, what: str) -> None:
        if threading.get_ident() != self._thread:
            raise LedgerError(
                f"ledger {self.path}: cannot {what} from thread {threading.get_ident()}; "
                f"it belongs to thread {self._thread}, which opened it"
            )

    def _usable(self, what: str) -> sqlite3.Connection:
        if self._conn is None:
            raise LedgerError(f"ledger {self.path} is closed: cannot {what}")
        self._check_thread(what)
        return self._conn

    @contextmanager
    def read(self, what: str) -> Iterator[sqlite3.Connection]:
        """A read transaction: the queries inside see one snapshot of the file.

        Args:
            what: what the caller is doing, for the error message.

        Yields:
            The connection, inside ``BEGIN``.

        Raises:
            LedgerError: the ledger is closed, used from another thread, or SQLite failed.
        """
        conn = self._usable(what)
        try:
            with transaction(conn, "BEGIN"):
                yield conn
        except sqlite3.Error as exc:
            raise LedgerError(f"ledger {self.path}: cannot {what}: {exc}") from exc

    @contextmanager
    def write(self, what: str) -> Iterator[sqlite3.Connection]:
        """A write transaction, committed (and fsynced) when the block ends normally.

        An exception raised in the block rolls the transaction back and passes through;
        a SQLite error becomes a `LedgerError` and puts the database out of service.

        Args:
            what: what the caller is doing, for the error message.

        Yields:
            The connection, inside ``BEGIN IMMEDIATE`` (the write lock is held).

        Raises:
            LedgerError: closed, read-only, out of service, another thread, or SQLite
                failed (nothing of the block was committed).
        """
        conn = self._usable(what)
        if self.read_only:
            raise LedgerError(f"ledger {self.path} is read-only: cannot {what}")
        if self._broken is not None:
            raise LedgerError(
                f"ledger {self.path} is out of service after a failed write "
                f"({self._broken.message}): cannot {what}; reopen it and reconcile"
            ) from self._broken
        try:
            with transaction(conn, "BEGIN IMMEDIATE"):
                yield conn
        except sqlite3.Error as exc:
            error = LedgerError(f"ledger {self.path}: cannot {what}: {exc}")
            self._broken = error
            raise error from exc

    def info(self) -> LedgerInfo:
        """What SQLite says about this connection, read back rather than remembered.

        Returns:
            The settings in effect.

        Raises:
            LedgerError: the ledger is closed or cannot be read.
        """
        conn = self._usable("read its settings")
        try:
            pragma = {
                name: conn.execute(f"PRAGMA {name}").fetchone()[0]
                for name in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")
            }
            version = schema_version(conn)
        except sqlite3.Error as exc:
            raise LedgerError(f"ledger {self.path}: cannot read its settings: {exc}") from exc
        return LedgerInfo(
            path=self.path,
            schema_version=version,
            journal_mode=str(pragma["journal_mode"]),
            synchronous=_SYNCHRONOUS.get(int(pragma["synchronous"]), str(pragma["synchronous"])),
            foreign_keys=bool(pragma["foreign_keys"]),
            busy_timeout_ms=int(pragma["busy_timeout"]),
            read_only=self.read_only,
        )
