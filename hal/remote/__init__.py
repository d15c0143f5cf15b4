"""The ZeroMQ remote: serve devices from one process, use them from others.

Server side (``tellerhal serve`` builds on it)::

    from hal.remote import RemoteServer

    async with RemoteServer({"card_reader": reader}, "ipc:///run/tellerhal/kiosk.sock"):
        ...

The wire format is in `hal.remote.messages`; the client follows.
"""

from __future__ import annotations

from hal.remote.messages import VERSION, AckStatus, Header, Message, MessageType
from hal.remote.security import (
    ANY,
    CurveClientKeys,
    CurveServerKeys,
    check_endpoint_security,
)
from hal.remote.server import RemoteServer

__all__ = [
    "ANY",
    "VERSION",
    "AckStatus",
    "CurveClientKeys",
    "CurveServerKeys",
    "Header",
    "Message",
    "MessageType",
    "RemoteServer",
    "check_endpoint_security",
]
