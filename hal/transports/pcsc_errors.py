"""PC/SC result codes, and the `hal.errors` exception each kind of failure becomes.

The codes are pcsclite.h's (``SCARD_S_SUCCESS``, ``SCARD_E_*``, ``SCARD_F_*``,
``SCARD_W_*``) as unsigned 32-bit values; pyscard hands them over as Python ints that may
be negative, hence `scard_code`. `error_for` sorts them:

- pcscd or the reader gone (or pcscd restarted under us): `ConnectionLost`;
- no card, a card pulled out, or a connect to a card pulled out just before pcscd noticed
  (pcscd then answers "unpowered"): `NoMedia`;
- a card with no usable answer to reset or no protocol in common: `InvalidMedia`;
- the rest (another application holds the reader, a transmit that failed):
  `TransportError`.
"""

from __future__ import annotations

from hal.errors import ConnectionLost, HalError, InvalidMedia, NoMedia, TransportError

__all__ = ["error_for", "scard_code"]

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
SCARD_E_UNSUPPORTED_FEATURE = 0x8010001F
SCARD_E_NO_READERS_AVAILABLE = 0x8010002E
SCARD_W_UNSUPPORTED_CARD = 0x80100065
SCARD_W_UNRESPONSIVE_CARD = 0x80100066
SCARD_W_UNPOWERED_CARD = 0x80100067
SCARD_W_RESET_CARD = 0x80100068
SCARD_W_REMOVED_CARD = 0x80100069

#: Results that mean pcscd or the reader is gone (or was restarted under us).
LOST = frozenset(
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
#: Results that mean no card. pcscd answers a connect to a card pulled out before it
#: noticed with "unpowered" (its power-up found the card removed).
NO_CARD = frozenset({SCARD_E_NO_SMARTCARD, SCARD_W_REMOVED_CARD, SCARD_W_UNPOWERED_CARD})
#: Results that mean a card the reader cannot use.
BAD_CARD = frozenset(
    {
        SCARD_E_PROTO_MISMATCH,
        SCARD_E_CARD_UNSUPPORTED,
        SCARD_W_UNSUPPORTED_CARD,
        SCARD_W_UNRESPONSIVE_CARD,
    }
)


def scard_code(hresult: int) -> int:
    """A PC/SC result as the unsigned 32-bit code pcsclite.h names."""
    return hresult & 0xFFFFFFFF


def error_for(code: int, message: str) -> HalError:
    """The exception a failed PC/SC call with result ``code`` raises (see the header)."""
    if code in LOST:
        return ConnectionLost(message)
    if code in NO_CARD:
        return NoMedia(message)
    if code in BAD_CARD:
        return InvalidMedia(message)
    return TransportError(message)
