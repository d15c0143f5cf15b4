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
  the reader's thread. Both are safe to call again. An open that a close overtakes
  raises `ConnectionLost` (it does not return with the reader closed); an open made
  while a close runs waits for it.
- Every pyscard call is blocking, so each `PcscReader` owns **one executor thread**
  (a daemon, `hal.transports.pcsc_thread.ReaderThread`) and every call runs there, in
  the order made: the library never sees two calls on the reader's context at once,
  and the event loop never blocks (pyscard releases the GIL inside the calls).
- ``close()`` takes at most ``close_timeout`` seconds (3 by default). A pyscard call
  that never returns (pcscd, vpcd or the card froze in the middle of an APDU:
  ``SCardCancel`` interrupts only status waits) would otherwise hold it for ever: at
  the bound the reader is marked `PcscReader.lost`, the warning is logged, the callers
  waiting on the reader get `ConnectionLost`, and the thread is abandoned, not joined
  (it releases its PC/SC context and ends by itself if the call ever returns). A later
  `open()` starts afresh.
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
  `disconnect(disposition)` leaves, resets, unpowers or ejects the card. When another
  application sharing the card resets it, pcscd refuses our next transmit with
  ``SCARD_W_RESET_CARD`` (before sending anything); `transmit` then reconnects once,
  leaving the card as it is, and sends the APDU again (the card lost its state in
  that reset, as the answers will show).
- `firmware()` is what the reader's driver tells of its firmware through
  ``SCardGetAttrib`` (``SCARD_ATTR_VENDOR_IFD_VERSION``, after the vendor name): empty
  when it tells nothing, as vpcd (``SCARD_E_UNSUPPORTED_FEATURE``).
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

The code: this module holds `PcscReader` (the waits and their cancelling, the bounded
close) and the registry entry; `hal.transports.pcsc_thread` the reader's thread;
`hal.transports.pcsc_session` the blocking pyscard calls on the reader's thread;
`hal.transports.pcsc_errors` the PC/SC result codes and the exception each becomes;
`hal.transports.pcsc_types` the options, `ReaderState`, `Disposition` and `Init`.
Import all of them from here.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import math
from collections.abc import Callable
from typing import Any, TypeVar

from hal.address import DeviceAddress
from hal.errors import ConfigurationError, ConnectionLost, HalTimeout, TransportError
from hal.registry import TransportSpec
from hal.transports.pcsc_session import ScardSession, pcsc_available, scard_module
from hal.transports.pcsc_thread import ReaderThread
from hal.transports.pcsc_types import PROTOCOL_NAMES, Disposition, Init, PcscOptions, ReaderState

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

T = TypeVar("T")

log = logging.getLogger(__name__)

#: How long `PcscReader.close` waits for a pyscard call in progress before it gives the
#: reader's thread up (seconds).
CLOSE_TIMEOUT = 3.0

#: How often an interrupted wait is cancelled again while it has not returned.
_CANCEL_RETRY = 0.005
#: How long the reader must have been idle before a status wait takes its thread.
_QUIET = 0.05


class PcscReader:
    """One PC/SC reader (see the module header for the contract).

    Args:
        reader: the reader's full name, or a prefix naming exactly one; empty: pick by
            ``options.index`` (or the first reader).
        options: share mode, protocol, wait slice.
        label: how messages name the reader's user (the device name).
        close_timeout: the longest `close()` waits for a pyscard call in progress.
    """

    def __init__(
        self,
        reader: str = "",
        options: PcscOptions | None = None,
        *,
        label: str = "pcsc",
        close_timeout: float = CLOSE_TIMEOUT,
    ) -> None:
        self.options = options if options is not None else PcscOptions()
        self.close_timeout = close_timeout
        self._session = ScardSession(reader, self.options, label)
        self._executor: ReaderThread | None = None
        self._closing: asyncio.Future[None] | None = None  # a close in progress
        self._lost = False
        self._slice: asyncio.Future[Any] | None = None  # the status wait running now
        self._busy = 0  # calls other than status waits, queued or running
        self._idle = asyncio.Event()
        self._idle.set()
        self._last_call = -math.inf

    # --- lifecycle -------------------------------------------------------------------------

    @property
    def wanted(self) -> str:
        """The reader as the address named it (a full name, a prefix, or empty)."""
        return self._session.wanted

    @property
    def label(self) -> str:
        """How messages name the reader's user (the device name)."""
        return self._session.label

    @label.setter
    def label(self, value: str) -> None:
        self._session.label = value

    @property
    def is_open(self) -> bool:
        return self._executor is not None

    @property
    def lost(self) -> bool:
        """The last `close()` had to give up a pyscard call that did not return (pcscd,
        the reader or the card froze); a successful `open()` clears it."""
        return self._lost

    @property
    def name(self) -> str:
        """The reader's full PC/SC name (known after `open()`)."""
        return self._session.name

    @property
    def connected(self) -> bool:
        """A connection to the card is open (it is powered)."""
        return self._session.handle is not None

    @property
    def protocol(self) -> str | None:
        """``T0`` or ``T1`` while connected, else ``None``."""
        return PROTOCOL_NAMES.get(self._session.protocol) if self.connected else None

    @property
    def atr(self) -> bytes:
        """The ATR of the last connect or reconnect (empty when not connected)."""
        return self._session.atr if self.connected else b""

    async def open(self) -> None:
        """Establish a context and find the reader.

        Raises:
            ConfigurationError: pyscard is not installed.
            ConnectionLost: pcscd does not answer, or no such reader, or `close()` was
                called while it opened.
        """
        if self._closing is not None:  # a close in progress: let it finish first
            await asyncio.shield(self._closing)
        if self._executor is not None:
            return
        scard_module()
        executor = ReaderThread(f"pcsc {self.wanted or self.label}")
        self._executor = executor
        try:
            await self._run(self._session.find_reader)
        except BaseException:
            if self._executor is executor:
                await self.close()
            raise
        if self._executor is not executor:
            raise ConnectionLost(f"{self.label}: the PC/SC reader was closed while it opened")
        self._lost = False

    async def close(self) -> None:
        """Disconnect (card left as it is), release the context, stop the thread.

        A pyscard call that does not return (pcscd, the reader or the card froze in the
        middle of an APDU; ``SCardCancel`` interrupts only status waits) bounds this to
        ``close_timeout`` seconds: then the reader is marked `lost`, its callers get
        `ConnectionLost`, and the thread is abandoned, not joined (it releases the
        context and ends by itself if the call ever returns). A later `open()` starts
        afresh.
        """
        if self._closing is not None:  # another close runs: it is done when that is
            await asyncio.shield(self._closing)
            return
        executor, self._executor = self._executor, None
        if executor is None:
            return
        loop = asyncio.get_running_loop()
        self._closing = closing = loop.create_future()
        release = executor.submit(self._session.release)
        try:
            await asyncio.wait_for(self._free_and_wait(release), self.close_timeout)
        except TimeoutError:
            self._abandon(executor, release)
        except BaseException:  # cancelled: the thread ends once the release ran
            executor.shutdown(wait=False)
            raise
        else:
            executor.shutdown(wait=True)  # idle by now: the thread ends at once
        finally:
            self._slice = None
            self._closing = None
            closing.set_result(None)

    async def _free_and_wait(self, release: concurrent.futures.Future[None]) -> None:
        """Cancel the status wait in the way of the release, then wait for the release
        (shielded: a timeout must not cancel it, the abandoned thread still runs it)."""
        waiting = asyncio.wrap_future(release)
        await self._free_thread(waiting)
        await asyncio.shield(waiting)

    def _abandon(self, executor: ReaderThread, release: concurrent.futures.Future[None]) -> None:
        """Give up the reader's thread, stuck in a call that does not return."""
        self._lost = True
        where = self.name or self.wanted or "PC/SC"
        log.warning(
            "%s: a PC/SC call on %r did not return within %s s (pcscd, the reader or the "
            "card froze); the reader is lost and its thread abandoned",
            self.label,
            where,
            self.close_timeout,
        )
        executor.abandon(
            lambda: ConnectionLost(
                f"{self.label}: the PC/SC reader {where!r} stopped answering and was closed"
            ),
            keep=release,
        )
        # The stuck thread keeps the old session (and releases it if it ever can); a
        # later open starts from a fresh one.
        old = self._session
        self._session = ScardSession(old.wanted, self.options, old.label)

    async def __aenter__(self) -> PcscReader:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # --- the reader's state -------------------------------------------------------------

    async def list_readers(self) -> list[str]:
        """The readers pcscd knows now."""
        return await self._run(self._session.list_readers)

    async def state(self) -> ReaderState:
        """The reader's state now."""
        return await self._run(self._session.current)

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
                        f"{self.label}: the reader {self.name!r} did not change within {timeout} s"
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
                    f"{self.label}: on {self.name!r}, not {what} within {timeout} s"
                ) from None
        return state

    async def _wait_slice(self, known: ReaderState, timeout_ms: int) -> ReaderState | None:
        """One bounded wait; ``None`` if it was cancelled to let a command through."""
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(
            self._require(), self._session.status_change, known, timeout_ms
        )
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
        return await self._run(self._session.connect)

    async def reconnect(self, init: Init) -> tuple[str, bytes]:
        """Warm reset (`Init.RESET`) or power cycle (`Init.UNPOWER`) the connected card."""
        return await self._run(self._session.reconnect, init)

    async def disconnect(self, disposition: Disposition = Disposition.LEAVE) -> None:
        """Close the connection to the card (nothing if none is open)."""
        await self._run(self._session.disconnect, disposition)

    async def firmware(self) -> str:
        """The reader's firmware version as its driver tells it (``SCardGetAttrib``);
        empty when it tells none (vpcd tells none)."""
        return await self._run(self._session.firmware)

    async def transmit(self, apdu: bytes) -> bytes:
        """Send one command APDU to the connected card; return the response APDU.

        Raises:
            NoMedia: not connected, or the card was pulled out.
        """
        return await self._run(self._session.transmit, bytes(apdu))

    # --- running calls on the reader's thread ------------------------------------------

    def _require(self) -> ReaderThread:
        if self._executor is None:
            raise TransportError(f"{self.label}: the PC/SC reader is not open")
        return self._executor

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._require(), fn, *args)
        self._busy += 1
        self._idle.clear()
        try:
            await self._free_thread(future)
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

    async def _free_thread(self, call: asyncio.Future[Any]) -> None:
        """Until ``call`` (queued on the reader's thread) is done, cancel the status wait
        holding the thread, again and again: a cancel sent just before the wait began is
        lost."""
        while not call.done() and self._slice is not None and not self._slice.done():
            self._interrupt()
            await asyncio.wait([self._slice], timeout=_CANCEL_RETRY)

    def _interrupt(self) -> None:
        """Make a status wait in progress return now."""
        if self._slice is not None and not self._slice.done():
            self._session.cancel()


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
