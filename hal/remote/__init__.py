"""The ZeroMQ remote: serve devices from one process, use them from others.

Server side (``tellerhal serve`` builds on it)::

    from hal.remote import RemoteServer

    async with RemoteServer({"card_reader": reader}, "ipc:///run/tellerhal/kiosk.sock"):
        ...

Client side: ``hal.open("zmq://127.0.0.1:5740/card_reader")`` or
``hal.open("zmq+ipc:///run/tellerhal/kiosk.sock/card_reader")`` gives a
`RemoteCardReader`, which behaves like the in-process reader; ``.../pin_pad`` a
`RemotePinPad`, ``.../cash_dispenser`` a `RemoteCashDispenser`, ``.../cash_acceptor`` a
`RemoteCashAcceptor`, ``.../id_scanner`` a `RemoteIdScanner`, ``.../camera`` a
`RemoteCamera`, ``.../receipt_printer`` and ``.../journal_printer`` a `RemotePrinter`.
The wire format is in ``docs/remote.md`` and `hal.remote.messages`.
"""

from __future__ import annotations

from hal.remote.camera import RemoteCamera
from hal.remote.card_reader import RemoteCardReader
from hal.remote.cash_acceptor import RemoteCashAcceptor
from hal.remote.cash_dispenser import RemoteCashDispenser
from hal.remote.client import Session, session_for
from hal.remote.id_scanner import RemoteIdScanner
from hal.remote.messages import VERSION, AckStatus, Header, Message, MessageType
from hal.remote.pin_pad import RemotePinPad
from hal.remote.printer import RemotePrinter
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
    "RemoteCamera",
    "RemoteCardReader",
    "RemoteCashAcceptor",
    "RemoteCashDispenser",
    "RemoteIdScanner",
    "RemotePinPad",
    "RemotePrinter",
    "RemoteServer",
    "Session",
    "check_endpoint_security",
    "session_for",
]
