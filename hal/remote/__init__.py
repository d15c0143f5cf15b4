"""The ZeroMQ remote: serve devices from one process, use them from others.

This package holds the wire format (`hal.remote.messages`) and the typed codec
(`hal.remote.codec`, `hal.remote.interfaces`); the server and client follow.
"""

from __future__ import annotations

from hal.remote.messages import VERSION, AckStatus, Header, Message, MessageType

__all__ = ["VERSION", "AckStatus", "Header", "Message", "MessageType"]
