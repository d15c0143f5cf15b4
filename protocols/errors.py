"""The root of tellerhal's error tree and the codec errors.

`protocols` is the bottom layer and may import nothing of ours, yet a codec given bad
bytes must raise the same `ProtocolError` an app catches from `hal`. So the root of the
one error tree (`HalError`, with its XFS4IoT completion code) and the codec errors live
here; `hal.errors` re-exports them and grows the rest of the tree.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import ClassVar


class Completion(StrEnum):
    """XFS4IoT completion codes (header ``completionCode``), spelled as on the wire."""

    SUCCESS = "success"
    COMMAND_ERROR_CODE = "commandErrorCode"
    CANCELED = "canceled"
    DEVICE_NOT_READY = "deviceNotReady"
    HARDWARE_ERROR = "hardwareError"
    INTERNAL_ERROR = "internalError"
    INVALID_COMMAND = "invalidCommand"
    INVALID_REQUEST_ID = "invalidRequestID"
    TIME_OUT = "timeOut"
    UNSUPPORTED_COMMAND = "unsupportedCommand"
    INVALID_DATA = "invalidData"
    USER_ERROR = "userError"
    UNSUPPORTED_DATA = "unsupportedData"
    FRAUD_ATTEMPT = "fraudAttempt"
    SEQUENCE_ERROR = "sequenceError"


class HalError(Exception):
    """Root of every error tellerhal raises on purpose.

    Attributes:
        completion: the XFS4IoT completion code a remote client would see.
        error_code: for ``commandErrorCode`` completions, the command-specific XFS4IoT
            ``errorCode`` (``mediaJam``, ``noMedia``...); ``None`` otherwise.
    """

    default_completion: Completion = Completion.INTERNAL_ERROR
    default_error_code: str | None = None
    #: Attributes that travel with the error over the remote, in its completion's
    #: payload, each with the one type it may have (``int``, ``str`` or ``bool``; ``None``
    #: always does), and come back as keyword arguments of ``__init__`` (`PaperOut`'s
    #: counts). A value of another type travels, and is taken back, as ``None``. Empty:
    #: the message and codes only.
    wire_details: ClassVar[Mapping[str, type]] = MappingProxyType({})

    def __init__(
        self,
        message: str,
        *,
        completion: Completion | None = None,
        error_code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.completion = completion if completion is not None else self.default_completion
        self.error_code = error_code if error_code is not None else self.default_error_code

    def __repr__(self) -> str:
        code = f", error_code={self.error_code!r}" if self.error_code else ""
        return (
            f"{type(self).__name__}({self.message!r}, completion={self.completion.value!r}{code})"
        )


class ProtocolError(HalError):
    """Bytes that do not follow the protocol: the only error a codec raises."""

    default_completion = Completion.HARDWARE_ERROR


class ChecksumError(ProtocolError):
    """A frame whose checksum (BCC, LRC, CRC) does not match its contents."""


class FramingError(ProtocolError):
    """A frame that is truncated, too long, or missing its delimiters."""


class UnknownCodeError(ProtocolError):
    """A command, status or error code the protocol does not define."""
