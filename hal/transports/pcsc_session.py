"""The blocking half of a PC/SC reader: pyscard's calls, on the reader's own thread.

`ScardSession` holds what pcscd handed out for one reader (the context, the card
handle, the protocol agreed, the ATR) and makes the ``SCard*`` calls. Every method but
`ScardSession.cancel` blocks and must run on the reader's executor thread
(`hal.transports.pcsc.PcscReader` sees to it), so the library never sees two calls on
one context at once. A failed call raises what `hal.transports.pcsc_errors.error_for`
says, after dropping what the failure made stale: the context when pcscd or the reader
went away (the next call establishes a fresh one), the card handle when the card went.

pyscard is imported on first use (`scard_module`), so this module imports without the
``pcsc`` extra.
"""

from __future__ import annotations

import importlib
import logging
import threading
from typing import Any

from hal.errors import ConfigurationError, ConnectionLost, HalError, NoMedia
from hal.transports.pcsc_errors import (
    LOST,
    NO_CARD,
    SCARD_E_CANCELLED,
    SCARD_E_NO_READERS_AVAILABLE,
    SCARD_E_TIMEOUT,
    SCARD_S_SUCCESS,
    SCARD_W_RESET_CARD,
    error_for,
    scard_code,
)
from hal.transports.pcsc_types import (
    ATTR_VENDOR_IFD_VERSION,
    ATTR_VENDOR_NAME,
    PROTOCOL_NAMES,
    PROTOCOLS,
    SHARE,
    SHARE_DIRECT,
    STATE_UNAVAILABLE,
    STATE_UNKNOWN,
    Disposition,
    Init,
    PcscOptions,
    ReaderState,
    firmware_text,
)

__all__ = ["ScardSession", "pcsc_available", "scard_module"]

# The reader's logger: the session is its inside.
log = logging.getLogger("hal.transports.pcsc")

_SCOPE_USER = 0

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


class ScardSession:
    """One reader's PC/SC context and card connection (the reader's thread only).

    Args:
        wanted: the reader's full name, or a prefix naming exactly one; empty: pick by
            ``options.index`` (or the first reader).
        options: share mode and protocol (and the index).
        label: how messages name the reader's user (the device name).
    """

    def __init__(self, wanted: str, options: PcscOptions, label: str) -> None:
        self.wanted = wanted
        self.options = options
        self.label = label
        self.name = ""  # the reader's full name, once found
        self.context: Any = None
        self.handle: Any = None
        self.protocol = 0
        self.atr = b""

    # --- any thread ----------------------------------------------------------------------

    def cancel(self) -> None:
        """Make a status wait in progress return now (``SCardCancel`` is thread-safe)."""
        context = self.context
        if context is not None:
            scard_module().SCardCancel(context)

    # --- failures ------------------------------------------------------------------------

    def _check(self, hresult: int, what: str) -> None:
        if scard_code(hresult) != SCARD_S_SUCCESS:
            raise self._fail(hresult, what)

    def _fail(self, hresult: int, what: str) -> HalError:
        code = scard_code(hresult)
        text = scard_module().SCardGetErrorMessage(hresult)
        where = self.name or self.wanted or "PC/SC"
        error = error_for(code, f"{self.label}: {what} on {where}: {text} (0x{code:08X})")
        if isinstance(error, ConnectionLost):
            self.forget()
        elif isinstance(error, NoMedia):
            self._drop_handle()
        return error

    def _drop_handle(self) -> None:
        """The card went: close its handle (pcscd keeps a share on the reader until then)."""
        handle, self.handle, self.atr = self.handle, None, b""
        if handle is not None:
            try:
                scard_module().SCardDisconnect(handle, int(Disposition.LEAVE))
            except Exception:
                log.debug("%s: closing the handle of a card that went failed", self.label)

    def forget(self) -> None:
        """pcscd or the reader is gone: drop the context and the card handle."""
        context, self.context, self.handle = self.context, None, None
        if context is not None:
            try:
                scard_module().SCardReleaseContext(context)
            except Exception:  # a context pcscd forgot; nothing to release
                log.debug("%s: releasing a stale PC/SC context failed", self.label)

    # --- the reader ----------------------------------------------------------------------

    def _ensure_context(self) -> Any:
        if self.context is None:
            hresult, context = scard_module().SCardEstablishContext(_SCOPE_USER)
            self._check(hresult, "establish a PC/SC context (is pcscd running?)")
            self.context = context
        return self.context

    def list_readers(self) -> list[str]:
        """The readers pcscd knows now."""
        context = self._ensure_context()
        hresult, readers = scard_module().SCardListReaders(context, [])
        if scard_code(hresult) == SCARD_E_NO_READERS_AVAILABLE:
            return []
        self._check(hresult, "list the readers")
        return [str(r) for r in readers]

    def find_reader(self) -> None:
        """Pick the reader ``wanted`` (or ``options.index``) names among pcscd's.

        Raises:
            ConnectionLost: no such reader, or a prefix that names several.
        """
        readers = self.list_readers()
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
            self.name = matches[0]
        else:
            index = self.options.index or 0
            if index >= len(readers):
                raise ConnectionLost(
                    f"{self.label}: no PC/SC reader at index {index}; pcscd has: {known}"
                )
            self.name = readers[index]

    def status_change(self, known: ReaderState | None, timeout_ms: int) -> ReaderState | None:
        """Wait up to ``timeout_ms`` for a state other than ``known`` (``None``: any);
        ``None`` if the wait timed out or was cancelled."""
        context = self._ensure_context()
        current = 0 if known is None else known.raw
        hresult, states = scard_module().SCardGetStatusChange(
            context, timeout_ms, [(self.name, current)]
        )
        if scard_code(hresult) in (SCARD_E_TIMEOUT, SCARD_E_CANCELLED):
            return None
        self._check(hresult, "watch the reader")
        _, raw, atr = states[0]
        if raw & (STATE_UNKNOWN | STATE_UNAVAILABLE):
            self.forget()
            raise ConnectionLost(f"{self.label}: the reader {self.name!r} is gone")
        return ReaderState.from_raw(int(raw), bytes(atr))

    def current(self) -> ReaderState:
        """The reader's state now."""
        while True:  # an unaware query returns at once; a stray cancel is asked again
            state = self.status_change(None, 0)
            if state is not None:
                return state

    # --- the card ------------------------------------------------------------------------

    def _agreed(self) -> tuple[str, bytes]:
        return PROTOCOL_NAMES.get(self.protocol, "T1"), self.atr

    def connect(self) -> tuple[str, bytes]:
        """Connect to (and so power) the card: the protocol agreed and the ATR."""
        if self.handle is not None:
            return self._agreed()
        context = self._ensure_context()
        hresult, handle, protocol = scard_module().SCardConnect(
            context,
            self.name,
            SHARE[self.options.share],
            PROTOCOLS[self.options.protocol],
        )
        self._check(hresult, "connect to the card")
        self.handle, self.protocol = handle, int(protocol)
        self._read_atr()
        return self._agreed()

    def _read_atr(self) -> None:
        hresult, _reader, _state, protocol, atr = scard_module().SCardStatus(self.handle)
        self._check(hresult, "read the card's status")
        self.protocol = int(protocol) or self.protocol
        self.atr = bytes(atr)

    def reconnect(self, init: Init) -> tuple[str, bytes]:
        """Warm reset or power cycle the connected card: the protocol and the new ATR."""
        if self.handle is None:
            raise NoMedia(f"{self.label}: not connected to a card on {self.name!r}")
        hresult, protocol = scard_module().SCardReconnect(
            self.handle,
            SHARE[self.options.share],
            PROTOCOLS[self.options.protocol],
            int(init),
        )
        self._check(hresult, "reset the card")
        self.protocol = int(protocol)
        self._read_atr()
        return self._agreed()

    def disconnect(self, disposition: Disposition) -> None:
        """Close the connection to the card, if one is open; a card gone is no error."""
        handle, self.handle, self.atr = self.handle, None, b""
        if handle is None:
            return
        hresult = scard_module().SCardDisconnect(handle, int(disposition))
        code = scard_code(hresult)
        if code != SCARD_S_SUCCESS and code not in NO_CARD:
            raise self._fail(hresult, "disconnect from the card")

    def transmit(self, apdu: bytes) -> bytes:
        """One command APDU to the connected card; the response APDU.

        If another application reset the card (shared access), pcscd refuses every
        transmit on our handle with ``SCARD_W_RESET_CARD`` until we reconnect: the
        handle is reconnected once (leaving the card as it is) and the APDU sent again.
        pcscd refuses before it sends anything, so the card never saw the first try;
        it did lose what it was doing (the application selected, say) in the reset.
        """
        if self.handle is None:
            raise NoMedia(f"{self.label}: not connected to a card on {self.name!r}")
        hresult, response = scard_module().SCardTransmit(self.handle, self.protocol, list(apdu))
        if scard_code(hresult) == SCARD_W_RESET_CARD:
            log.warning(
                "%s: another application reset the card in %r; reconnecting",
                self.label,
                self.name,
            )
            self._resume()
            hresult, response = scard_module().SCardTransmit(self.handle, self.protocol, list(apdu))
        self._check(hresult, "transmit an APDU")
        return bytes(response)

    def _resume(self) -> None:
        """Make a handle pcscd refuses after another application's reset usable again."""
        hresult, protocol = scard_module().SCardReconnect(
            self.handle,
            SHARE[self.options.share],
            PROTOCOLS[self.options.protocol],
            int(Disposition.LEAVE),
        )
        self._check(hresult, "reconnect to the card after another application reset it")
        self.protocol = int(protocol)
        self._read_atr()

    def firmware(self) -> str:
        """The reader's firmware as its driver tells it (``SCardGetAttrib`` of
        ``SCARD_ATTR_VENDOR_IFD_VERSION`` and ``..._VENDOR_NAME`` on a direct connection,
        which powers no card); empty when the driver refuses the attributes (vpcd does:
        ``SCARD_E_UNSUPPORTED_FEATURE``) or the reader is held by someone else.

        Raises:
            ConnectionLost: pcscd or the reader went away.
        """
        context = self._ensure_context()
        hresult, handle, _ = scard_module().SCardConnect(context, self.name, SHARE_DIRECT, 0)
        if scard_code(hresult) != SCARD_S_SUCCESS:
            if scard_code(hresult) in LOST:
                raise self._fail(hresult, "connect to the reader")
            log.debug(
                "%s: no direct connection to %r for its firmware: 0x%08X",
                self.label,
                self.name,
                scard_code(hresult),
            )
            return ""
        try:
            version = self._attribute(handle, ATTR_VENDOR_IFD_VERSION, "IFD version")
            vendor = self._attribute(handle, ATTR_VENDOR_NAME, "vendor name")
        finally:
            scard_module().SCardDisconnect(handle, int(Disposition.LEAVE))
        return firmware_text(vendor, version)

    def _attribute(self, handle: Any, attribute: int, what: str) -> bytes | None:
        hresult, value = scard_module().SCardGetAttrib(handle, attribute)
        if scard_code(hresult) != SCARD_S_SUCCESS:
            log.debug(
                "%s: the reader %r gives no %s: 0x%08X",
                self.label,
                self.name,
                what,
                scard_code(hresult),
            )
            return None
        return bytes(value)

    def release(self) -> None:
        """Leave the card as it is and release the context; never raises."""
        try:
            if self.handle is not None:
                self.disconnect(Disposition.LEAVE)
        except Exception as exc:
            log.debug("%s: disconnect at close: %s", self.label, exc)
        self.handle = None
        self.forget()
