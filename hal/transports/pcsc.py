"""The ``pcsc`` transport: one PC/SC smart-card reader, through pyscard and pcscd.

Address (entry point ``pcsc`` in group ``tellerhal.transports``; the ``pcsc`` card
reader driver takes the same address and options)::

    pcsc://READER[?share=exclusive&protocol=any&wait_slice=0.25]
    pcsc://Virtual%20PCD%2000%2000           (a reader by its full PC/SC name)
    pcsc://ACS%20ACR39U                       (or by a prefix naming exactly one reader)
    pcsc://?index=1                           (the second reader pcscd lists)
    pcsc://                                   (the first reader pcscd lists)

The reader is the authority (percent-encoded: a space is ``%20``): its full name as
``SCardListReaders`` gives it, or a prefix that names exactly one of them. Options
(`PcscOptions`): ``index`` picks the reader by its place in the list instead;
``share`` ``exclusive`` (default: no other application may talk to the card meanwhile)
or ``shared``; ``protocol`` ``any`` (T=0 or T=1, as the card offers), ``T0`` or ``T1``;
``wait_slice`` the longest single ``SCardGetStatusChange`` wait in seconds (a bound on
how long a wait the cancel missed can hold the reader's thread).

**The contract** (this is no byte stream, so not `hal.transports.base.Transport`):

- `PcscReader.open()` establishes a PC/SC context and finds the reader; ``close()``
  (idempotent) disconnects leaving the card as it is, releases the context and stops
  the reader's thread. Both are safe to call again.
- Every pyscard call is blocking, so each `PcscReader` owns **one executor thread**
  and every call runs there, in the order made: the library never sees two calls on
  the reader's context at once, and the event loop never blocks (pyscard releases the
  GIL inside the calls).
- `state()` is the reader's state now (card present, mute, the ATR pcscd read at
  insertion). `wait_change(known, timeout)` waits until it differs from ``known``
  (pcscd counts events, so a card pulled and pushed back in between still counts);
  `wait_present`/`wait_absent` wait for a card. A wait runs in slices of at most
  ``wait_slice`` seconds; cancelling it (or any other call made meanwhile) sends
  ``SCardCancel``, so neither a cancel nor a command waits behind a slice. A wait
  takes the thread only once the reader has had no other call for 50 ms, so a run of
  APDU exchanges never has to cancel it (a change is then seen up to 50 ms later).
- `connect()` powers the card (pcscd's cold reset if it was unpowered) and returns the
  protocol agreed and the ATR; `reconnect(Init.RESET)` is a warm reset,
  `reconnect(Init.UNPOWER)` a power cycle (cold reset); `transmit(apdu)` exchanges one
  APDU as it is (a T=0 ``61xx`` answer is the caller's to follow with GET RESPONSE);
  `disconnect(disposition)` leaves, resets, unpowers or ejects the card.
- Errors: `ConnectionLost` when pcscd or the reader went away (the next call tries a
  fresh context, so the reader recovers when it comes back); `NoMedia` for no card or
  a card pulled out (``SCARD_E_NO_SMARTCARD``, ``SCARD_W_REMOVED_CARD``, and
  ``SCARD_W_UNPOWERED_CARD``, which is what a connect gets when the card was pulled
  out just before pcscd noticed);
  `InvalidMedia` for a card that gives no usable answer to reset (mute, unsupported,
  no protocol in common); `HalTimeout` when a wait runs out; `TransportError` for the
  rest (another application holds the reader, a transmit that failed). Messages name
  the reader and the PC/SC code, never APDU data.

pyscard is imported on first use, so this module imports without the ``pcsc`` extra;
using a reader without it raises `ConfigurationError` saying to install
``tellerhal[pcsc]``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import importlib
import logging
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, Literal, TypeVar

from hal.address import DeviceAddress
from hal.errors import (
    ConfigurationError,
    ConnectionLost,
    HalTimeout,
    InvalidMedia,
    NoMedia,
    TransportError,
)
from hal.registry import TransportSpec

__all__ = [
    "PCSC_TRANSPORT",
    "Disposition",
    "Init",
    "PcscOptions",
    "PcscReader",
    "ReaderState",
    "open_pcsc_transport",
    "pcsc_available",
    "reader_from_address",
    "scard_module",
]

log = logging.getLogger(__name__)

T = TypeVar("T")

# PC/SC result codes (pcsclite.h), as unsigned 32-bit values.
SCARD_S_SUCCESS = 0
SCARD_F_INTERNAL_ERROR = 0x80100001
SCARD_E_CANCELLED = 0x80100002
SCARD_E_INVALID_HANDLE = 0x80100003
SCARD_E_UNKNOWN_READER = 0x80100009
SCARD_E_TIMEOUT = 0x8010000A
SCARD_E_SHARING_VIOLATION = 0x8010000B
SCARD_E_NO_SMARTCARD = 0x8010000C
SCARD_E_PROTO_MISMATCH = 0x8010000F
SCARD_E_NOT_READY = 0x80100010
SCARD_F_COMM_ERROR = 0x80100013
SCARD_E_NOT_TRANSACTED = 0x80100016
SCARD_E_READER_UNAVAILABLE = 0x80100017
SCARD_E_CARD_UNSUPPORTED = 0x8010001C
SCARD_E_NO_SERVICE = 0x8010001D
SCARD_E_SERVICE_STOPPED = 0x8010001E
SCARD_E_NO_READERS_AVAILABLE = 0x8010002E
SCARD_W_UNSUPPORTED_CARD = 0x80100065
SCARD_W_UNRESPONSIVE_CARD = 0x80100066
SCARD_W_UNPOWERED_CARD = 0x80100067
SCARD_W_RESET_CARD = 0x80100068
SCARD_W_REMOVED_CARD = 0x80100069

#: Results that mean pcscd or the reader is gone (or was restarted under us).
_LOST = frozenset(
    {
        SCARD_E_INVALID_HANDLE,
        SCARD_E_UNKNOWN_READER,
        SCARD_F_COMM_ERROR,
        SCARD_E_READER_UNAVAILABLE,
        SCARD_E_NO_SERVICE,
        SCARD_E_SERVICE_STOPPED,
        SCARD_E_NO_READERS_AVAILABLE,
    }
)
# pcscd answers a connect to a card pulled out before it noticed with "unpowered"
# (its power-up found the card removed).
_NO_CARD = frozenset({SCARD_E_NO_SMARTCARD, SCARD_W_REMOVED_CARD, SCARD_W_UNPOWERED_CARD})
_BAD_CARD = frozenset(
    {
        SCARD_E_PROTO_MISMATCH,
        SCARD_E_CARD_UNSUPPORTED,
        SCARD_W_UNSUPPORTED_CARD,
        SCARD_W_UNRESPONSIVE_CARD,
    }
)

# Reader state bits (SCARD_STATE_*); the high 16 bits count events.
_STATE_CHANGED = 0x0002
_STATE_UNKNOWN = 0x0004
_STATE_UNAVAILABLE = 0x0008
_STATE_PRESENT = 0x0020
_STATE_EXCLUSIVE = 0x0080
_STATE_INUSE = 0x0100
_STATE_MUTE = 0x0200

_SCOPE_USER = 0
_SHARE = {"shared": 2, "exclusive": 1}
_PROTOCOL_T0, _PROTOCOL_T1 = 1, 2
_PROTOCOLS = {"any": _PROTOCOL_T0 | _PROTOCOL_T1, "T0": _PROTOCOL_T0, "T1": _PROTOCOL_T1}
_PROTOCOL_NAMES = {_PROTOCOL_T0: "T0", _PROTOCOL_T1: "T1"}

#: How often an interrupted wait is cancelled again while it has not returned.
_CANCEL_RETRY = 0.005
#: How long the reader must have been idle before a status wait takes its thread.
_QUIET = 0.05

_scard: Any = None
_scard_lock = threading.Lock()


def scard_module() -> Any:
    """pyscard's ``smartcard.scard`` (imported on first use).

    Raises:
        ConfigurationError: pyscard is not installed.
    """
    global _scard
    with _scard_lock:
        if _scard is None:
            try:
                _scard = importlib.import_module("smartcard.scard")
            except ImportError as exc:
                raise ConfigurationError(
                    "PC/SC needs pyscard: install tellerhal[pcsc] "
                    f"(pip install 'tellerhal[pcsc]'; it builds against libpcsclite-dev): {exc}"
                ) from exc
        return _scard


def pcsc_available() -> bool:
    """True if pyscard imports (the ``pcsc`` extra is installed)."""
    try:
        scard_module()
    except ConfigurationError:
        return False
    return True


class Disposition(IntEnum):
    """What ``disconnect`` does with the card (``SCARD_*_CARD``)."""

    LEAVE = 0
    RESET = 1
    UNPOWER = 2
    EJECT = 3


class Init(IntEnum):
    """How ``reconnect`` re-initialises the card: a warm reset or a power cycle."""

    RESET = 1
    UNPOWER = 2


@dataclass(frozen=True)
class PcscOptions:
    """The options of a ``pcsc`` address (the reader itself is the authority).

    Attributes:
        index: the reader's place in pcscd's list (0 first), used when the address
            names no reader; empty: the first.
        share: ``exclusive`` (no other application meanwhile) or ``shared``.
        protocol: ``any``, ``T0`` or ``T1``: what ``connect`` offers the card.
        wait_slice: the longest single status-change wait, in seconds.

    Raises:
        ConfigurationError: a value out of range.
    """

    index: int | None = None
    share: Literal["exclusive", "shared"] = "exclusive"
    protocol: Literal["any", "T0", "T1"] = "any"
    wait_slice: float = 0.25

    def __post_init__(self) -> None:
        if self.index is not None and self.index < 0:
            raise ConfigurationError(f"index must be >= 0, got {self.index}")
        if not (math.isfinite(self.wait_slice) and 0.01 <= self.wait_slice <= 10):
            raise ConfigurationError(f"wait_slice must be 0.01 to 10 s, got {self.wait_slice}")


@dataclass(frozen=True, repr=False)
class ReaderState:
    """What pcscd says about the reader (``SCardGetStatusChange``).

    Attributes:
        present: a card is in the reader.
        mute: a card is in but gave no answer to reset pcscd could use.
        atr: the answer to reset pcscd read at insertion (empty without a card).
        in_use: some application is connected to the card.
        exclusive: an application holds the card exclusively.
        raw: the event state as pcscd reports it (bits and the event counter).
    """

    present: bool
    mute: bool
    atr: bytes
    in_use: bool
    exclusive: bool
    raw: int

    @property
    def events(self) -> int:
        """pcscd's count of card events on the reader (insertions and removals)."""
        return self.raw >> 16

    @property
    def usable(self) -> bool:
        """A card is in and its ATR starts with a valid TS byte (3B or 3F)."""
        return self.present and not self.mute and self.atr[:1] in (b"\x3b", b"\x3f")

    @classmethod
    def from_raw(cls, raw: int, atr: bytes) -> ReaderState:
        present = bool(raw & _STATE_PRESENT)
        return cls(
            present=present,
            mute=bool(raw & _STATE_MUTE),
            atr=atr if present else b"",
            in_use=bool(raw & _STATE_INUSE),
            exclusive=bool(raw & _STATE_EXCLUSIVE),
            raw=raw & ~_STATE_CHANGED,
        )

    def __repr__(self) -> str:
        return (
            f"ReaderState(present={self.present}, mute={self.mute}, "
            f"atr=<{len(self.atr)} bytes>, events={self.events})"
        )


def _code(hresult: int) -> int:
    return hresult & 0xFFFFFFFF


class PcscReader:
    """One PC/SC reader (see the module header for the contract).

    Args:
        reader: the reader's full name, or a prefix naming exactly one; empty: pick by
            ``options.index`` (or the first reader).
        options: share mode, protocol, wait slice.
        label: how messages name the reader's user (the device name).
    """

    def __init__(
        self, reader: str = "", options: PcscOptions | None = None, *, label: str = "pcsc"
    ) -> None:
        self.wanted = reader
        self.options = options if options is not None else PcscOptions()
        self.label = label
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._context: Any = None  # valid only in the reader's thread's calls
        self._name = ""
        self._handle: Any = None
        self._protocol: int = 0
        self._atr = b""
        self._slice: asyncio.Future[Any] | None = None  # the status wait running now
        self._busy = 0  # calls other than status waits, queued or running
        self._idle = asyncio.Event()
        self._idle.set()
        self._last_call = -math.inf

    # --- lifecycle -------------------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        return self._executor is not None

    @property
    def name(self) -> str:
        """The reader's full PC/SC name (known after `open()`)."""
        return self._name

    @property
    def connected(self) -> bool:
        """A connection to the card is open (it is powered)."""
        return self._handle is not None

    @property
    def protocol(self) -> str | None:
        """``T0`` or ``T1`` while connected, else ``None``."""
        return _PROTOCOL_NAMES.get(self._protocol) if self._handle is not None else None

    @property
    def atr(self) -> bytes:
        """The ATR of the last connect or reconnect (empty when not connected)."""
        return self._atr if self._handle is not None else b""

    async def open(self) -> None:
        """Establish a context and find the reader.

        Raises:
            ConfigurationError: pyscard is not installed.
            ConnectionLost: pcscd does not answer, or no such reader.
        """
        if self._executor is not None:
            return
        scard_module()
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix=f"pcsc {self.wanted or self.label}"
        )
        try:
            await self._run(self._find_reader)
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        """Disconnect (card left as it is), release the context, stop the thread."""
        executor, self._executor = self._executor, None
        if executor is None:
            return
        loop = asyncio.get_running_loop()
        release = loop.run_in_executor(executor, self._release)
        try:
            while not release.done() and self._slice is not None and not self._slice.done():
                self._interrupt()
                await asyncio.wait([self._slice], timeout=_CANCEL_RETRY)
            await asyncio.shield(release)
        finally:
            executor.shutdown(wait=True)  # idle by now: the thread ends at once
            self._slice = None

    async def __aenter__(self) -> PcscReader:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # --- the reader's state -------------------------------------------------------------

    async def list_readers(self) -> list[str]:
        """The readers pcscd knows now."""
        return await self._run(self._list)

    async def state(self) -> ReaderState:
        """The reader's state now."""
        return await self._run(self._current)

    async def wait_change(
        self, known: ReaderState | None, timeout: float | None = None
    ) -> ReaderState:
        """Wait until the reader's state differs from ``known`` (now, if ``None``).

        Raises:
            HalTimeout: nothing changed within ``timeout`` seconds.
            ConnectionLost: pcscd or the reader went away.
        """
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        if known is None:
            known = await self.state()
        while True:
            slice_s = self.options.wait_slice
            if deadline is not None:
                left = deadline - loop.time()
                if left <= 0:
                    raise HalTimeout(
                        f"{self.label}: the reader {self._name!r} did not change within {timeout} s"
                    )
                slice_s = min(slice_s, left)
            await self._quiet()
            if deadline is not None:
                slice_s = min(slice_s, max(0.0, deadline - loop.time()))
            state = await self._wait_slice(known, max(1, int(slice_s * 1000)))
            if state is not None and state.raw != known.raw:
                return state

    async def wait_present(self, timeout: float | None = None) -> ReaderState:
        """Wait until a card is in the reader (at once if one is)."""
        return await self._wait_until(lambda s: s.present, timeout, "a card came")

    async def wait_absent(self, timeout: float | None = None) -> ReaderState:
        """Wait until the reader is empty (at once if it is)."""
        return await self._wait_until(lambda s: not s.present, timeout, "the card left")

    async def _wait_until(
        self, done: Callable[[ReaderState], bool], timeout: float | None, what: str
    ) -> ReaderState:
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        state = await self.state()
        while not done(state):
            left = None if deadline is None else max(0.0, deadline - loop.time())
            try:
                state = await self.wait_change(state, left)
            except HalTimeout:
                raise HalTimeout(
                    f"{self.label}: on {self._name!r}, not {what} within {timeout} s"
                ) from None
        return state

    async def _wait_slice(self, known: ReaderState, timeout_ms: int) -> ReaderState | None:
        """One bounded wait; ``None`` if it was cancelled to let a command through."""
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._require(), self._status_change, known, timeout_ms)
        self._slice = future
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            self._interrupt()
            raise
        finally:
            if self._slice is future:
                self._slice = None

    # --- the card ----------------------------------------------------------------------------

    async def connect(self) -> tuple[str, bytes]:
        """Connect to the card (powering it if it was not): the protocol and the ATR.

        Raises:
            NoMedia: no card in the reader.
            InvalidMedia: the card gives no usable answer, or no protocol in common.
        """
        return await self._run(self._connect)

    async def reconnect(self, init: Init) -> tuple[str, bytes]:
        """Warm reset (`Init.RESET`) or power cycle (`Init.UNPOWER`) the connected card."""
        return await self._run(self._reconnect, init)

    async def disconnect(self, disposition: Disposition = Disposition.LEAVE) -> None:
        """Close the connection to the card (nothing if none is open)."""
        await self._run(self._disconnect, disposition)

    async def transmit(self, apdu: bytes) -> bytes:
        """Send one command APDU to the connected card; return the response APDU.

        Raises:
            NoMedia: not connected, or the card was pulled out.
        """
        return await self._run(self._transmit, bytes(apdu))

    # --- running calls on the reader's thread ------------------------------------------

    def _require(self) -> concurrent.futures.ThreadPoolExecutor:
        if self._executor is None:
            raise TransportError(f"{self.label}: the PC/SC reader is not open")
        return self._executor

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._require(), fn, *args)
        self._busy += 1
        self._idle.clear()
        try:
            # A status wait ahead of us holds the thread: cancel it until it lets go (a
            # cancel sent just before the wait began is lost, hence the retries).
            while not future.done() and self._slice is not None and not self._slice.done():
                self._interrupt()
                await asyncio.wait([self._slice], timeout=_CANCEL_RETRY)
            return await future
        finally:
            self._busy -= 1
            self._last_call = loop.time()
            if not self._busy:
                self._idle.set()

    async def _quiet(self) -> None:
        """Wait until no call is running and none ran for `_QUIET` seconds, so a status
        wait does not make back-to-back calls (an APDU exchange) cancel it each time."""
        loop = asyncio.get_running_loop()
        while True:
            if self._busy:
                await self._idle.wait()
                continue
            gap = self._last_call + _QUIET - loop.time()
            if gap <= 0:
                return
            await asyncio.sleep(gap)

    def _interrupt(self) -> None:
        """Make a status wait in progress return now (``SCardCancel`` is thread-safe)."""
        context = self._context
        if context is not None and self._slice is not None and not self._slice.done():
            scard_module().SCardCancel(context)

    # --- the blocking calls (the reader's thread only) ---------------------------------

    def _fail(self, hresult: int, what: str) -> Exception:
        code = _code(hresult)
        text = scard_module().SCardGetErrorMessage(hresult)
        message = (
            f"{self.label}: {what} on {self._name or self.wanted or 'PC/SC'}: {text} (0x{code:08X})"
        )
        if code in _LOST:
            self._forget()
            return ConnectionLost(message)
        if code in _NO_CARD:
            self._drop_handle()
            return NoMedia(message)
        if code in _BAD_CARD:
            return InvalidMedia(message)
        return TransportError(message)

    def _drop_handle(self) -> None:
        """The card went: close its handle (pcscd keeps a share on the reader until then)."""
        handle, self._handle, self._atr = self._handle, None, b""
        if handle is not None:
            try:
                scard_module().SCardDisconnect(handle, int(Disposition.LEAVE))
            except Exception:
                log.debug("%s: closing the handle of a card that went failed", self.label)

    def _forget(self) -> None:
        """pcscd or the reader is gone: drop the context and the card handle."""
        context, self._context, self._handle = self._context, None, None
        if context is not None:
            try:
                scard_module().SCardReleaseContext(context)
            except Exception:  # a context pcscd forgot; nothing to release
                log.debug("%s: releasing a stale PC/SC context failed", self.label)

    def _ensure_context(self) -> Any:
        if self._context is None:
            scard = scard_module()
            hresult, context = scard.SCardEstablishContext(_SCOPE_USER)
            if _code(hresult) != SCARD_S_SUCCESS:
                raise self._fail(hresult, "establish a PC/SC context (is pcscd running?)")
            self._context = context
        return self._context

    def _list(self) -> list[str]:
        context = self._ensure_context()
        hresult, readers = scard_module().SCardListReaders(context, [])
        if _code(hresult) == SCARD_E_NO_READERS_AVAILABLE:
            return []
        if _code(hresult) != SCARD_S_SUCCESS:
            raise self._fail(hresult, "list the readers")
        return [str(r) for r in readers]

    def _find_reader(self) -> None:
        readers = self._list()
        known = ", ".join(repr(r) for r in readers) or "none"
        if self.wanted:
            matches = [r for r in readers if r == self.wanted] or [
                r for r in readers if r.startswith(self.wanted)
            ]
            if len(matches) != 1:
                problem = "no reader" if not matches else f"{len(matches)} readers"
                raise ConnectionLost(
                    f"{self.label}: {problem} named {self.wanted!r}; pcscd has: {known}"
                )
            self._name = matches[0]
        else:
            index = self.options.index or 0
            if index >= len(readers):
                raise ConnectionLost(
                    f"{self.label}: no PC/SC reader at index {index}; pcscd has: {known}"
                )
            self._name = readers[index]

    def _status_change(self, known: ReaderState | None, timeout_ms: int) -> ReaderState | None:
        scard = scard_module()
        context = self._ensure_context()
        current = 0 if known is None else known.raw
        hresult, states = scard.SCardGetStatusChange(context, timeout_ms, [(self._name, current)])
        code = _code(hresult)
        if code in (SCARD_E_TIMEOUT, SCARD_E_CANCELLED):
            return None
        if code != SCARD_S_SUCCESS:
            raise self._fail(hresult, "watch the reader")
        _, raw, atr = states[0]
        if raw & (_STATE_UNKNOWN | _STATE_UNAVAILABLE):
            self._forget()
            raise ConnectionLost(f"{self.label}: the reader {self._name!r} is gone")
        return ReaderState.from_raw(int(raw), bytes(atr))

    def _current(self) -> ReaderState:
        while True:  # an unaware query returns at once; a stray cancel is asked again
            state = self._status_change(None, 0)
            if state is not None:
                return state

    def _connect(self) -> tuple[str, bytes]:
        if self._handle is not None:
            return _PROTOCOL_NAMES.get(self._protocol, "T1"), self._atr
        scard = scard_module()
        context = self._ensure_context()
        hresult, handle, protocol = scard.SCardConnect(
            context,
            self._name,
            _SHARE[self.options.share],
            _PROTOCOLS[self.options.protocol],
        )
        if _code(hresult) != SCARD_S_SUCCESS:
            raise self._fail(hresult, "connect to the card")
        self._handle, self._protocol = handle, int(protocol)
        self._read_atr()
        return _PROTOCOL_NAMES.get(self._protocol, "T1"), self._atr

    def _read_atr(self) -> None:
        hresult, _reader, _state, protocol, atr = scard_module().SCardStatus(self._handle)
        if _code(hresult) != SCARD_S_SUCCESS:
            raise self._fail(hresult, "read the card's status")
        self._protocol = int(protocol) or self._protocol
        self._atr = bytes(atr)

    def _reconnect(self, init: Init) -> tuple[str, bytes]:
        if self._handle is None:
            raise NoMedia(f"{self.label}: not connected to a card on {self._name!r}")
        hresult, protocol = scard_module().SCardReconnect(
            self._handle,
            _SHARE[self.options.share],
            _PROTOCOLS[self.options.protocol],
            int(init),
        )
        if _code(hresult) != SCARD_S_SUCCESS:
            raise self._fail(hresult, "reset the card")
        self._protocol = int(protocol)
        self._read_atr()
        return _PROTOCOL_NAMES.get(self._protocol, "T1"), self._atr

    def _disconnect(self, disposition: Disposition) -> None:
        handle, self._handle, self._atr = self._handle, None, b""
        if handle is None:
            return
        hresult = scard_module().SCardDisconnect(handle, int(disposition))
        code = _code(hresult)
        if code != SCARD_S_SUCCESS and code not in _NO_CARD:
            raise self._fail(hresult, "disconnect from the card")

    def _transmit(self, apdu: bytes) -> bytes:
        if self._handle is None:
            raise NoMedia(f"{self.label}: not connected to a card on {self._name!r}")
        hresult, response = scard_module().SCardTransmit(self._handle, self._protocol, list(apdu))
        if _code(hresult) != SCARD_S_SUCCESS:
            raise self._fail(hresult, "transmit an APDU")
        return bytes(response)

    def _release(self) -> None:
        try:
            if self._handle is not None:
                self._disconnect(Disposition.LEAVE)
        except Exception as exc:
            log.debug("%s: disconnect at close: %s", self.label, exc)
        self._handle = None
        self._forget()


def reader_from_address(
    address: DeviceAddress, options: PcscOptions, *, label: str = "pcsc"
) -> PcscReader:
    """The (unopened) reader an address names: its authority (or path), else the index.

    Raises:
        ConfigurationError: both a reader name and ``index`` are given.
    """
    reader = address.authority + (address.path if address.path != "/" else "")
    if reader and options.index is not None:
        raise ConfigurationError(f"{address.location}: name the reader or give index, not both")
    return PcscReader(reader, options, label=label)


def open_pcsc_transport(address: DeviceAddress, options: PcscOptions) -> PcscReader:
    """The registry factory: the (unopened) reader the address names."""
    return reader_from_address(address, options)


PCSC_TRANSPORT = TransportSpec(
    name="pcsc",
    options=PcscOptions,
    factory=open_pcsc_transport,
    description="a PC/SC smart-card reader through pcscd, e.g. pcsc://Virtual%20PCD%2000%2000",
)
"""The ``pcsc`` transport, registered through the ``tellerhal.transports`` entry point."""
