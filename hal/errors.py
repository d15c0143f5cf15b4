"""The one error tree of tellerhal.

Every error carries an XFS4IoT ``completion`` code and, for command errors, an
``error_code`` from the command's XFS4IoT ``errorCode`` enum, so the ZeroMQ remote can
put them on the wire unchanged and a remote client can rebuild the same class.

Messages say what was expected and what came, and never carry a PIN, a key, a full PAN,
track data or an ID number.

Cancellation is not a `HalError`: a cancelled command settles with the device and then
raises `asyncio.CancelledError`, as asyncio code expects.
"""

from __future__ import annotations

from enum import StrEnum

from protocols.errors import (
    ChecksumError,
    Completion,
    FramingError,
    HalError,
    ProtocolError,
    UnknownCodeError,
)

__all__ = [
    "AtrNotObtained",
    "CardTooLong",
    "CardTooShort",
    "ChecksumError",
    "ChipPowerNotSupported",
    "Completion",
    "ConfigurationError",
    "ConnectionLost",
    "DeviceError",
    "DeviceNotReady",
    "DriverNotFound",
    "ErrorCode",
    "FramingError",
    "HalError",
    "HalTimeout",
    "HardwareError",
    "InvalidData",
    "InvalidMedia",
    "LedgerError",
    "MediaJam",
    "MediaRetained",
    "NoMedia",
    "Occupied",
    "ProtocolError",
    "ProtocolNotSupported",
    "RetainBinFull",
    "SecurityFail",
    "SequenceError",
    "ShutterFail",
    "TooManyRequests",
    "TransportError",
    "UnknownCodeError",
    "UnsupportedOperation",
    "WriteMethod",
    "error_class_for",
]


class ErrorCode(StrEnum):
    """XFS4IoT command ``errorCode`` values, spelled as on the wire."""

    MEDIA_JAM = "mediaJam"
    SHUTTER_FAIL = "shutterFail"
    NO_MEDIA = "noMedia"
    INVALID_MEDIA = "invalidMedia"
    CARD_TOO_SHORT = "cardTooShort"
    CARD_TOO_LONG = "cardTooLong"
    SECURITY_FAIL = "securityFail"
    CARD_COLLISION = "cardCollision"
    OCCUPIED = "occupied"
    FULL = "full"
    MEDIA_RETAINED = "mediaRetained"
    RETAIN_BIN_FULL = "retainBinFull"
    WRITE_METHOD = "writeMethod"
    PROTOCOL_NOT_SUPPORTED = "protocolNotSupported"
    ATR_NOT_OBTAINED = "atrNotObtained"
    CHIP_POWER_NOT_SUPPORTED = "chipPowerNotSupported"
    INVALID_DATA = "invalidData"


class ConfigurationError(HalError, ValueError):
    """A bad address, option, kiosk file or registration: a caller mistake."""

    default_completion = Completion.INVALID_DATA


class DriverNotFound(ConfigurationError):
    """No driver or transport is registered under the scheme an address names."""


class UnsupportedOperation(HalError):
    """The device's capabilities do not include what was asked."""

    default_completion = Completion.UNSUPPORTED_COMMAND


class InvalidData(HalError, ValueError):
    """An argument outside what the device's capabilities allow."""

    default_completion = Completion.INVALID_DATA


class TooManyRequests(HalError):
    """The device's command queue is full (XFS4IoT ack status ``tooManyRequests``)."""

    default_completion = Completion.DEVICE_NOT_READY


class DeviceNotReady(HalError):
    """The device is closed, offline or powered off."""

    default_completion = Completion.DEVICE_NOT_READY


class SequenceError(HalError):
    """A command given in a state where it makes no sense (device not open, ...)."""

    default_completion = Completion.SEQUENCE_ERROR


class LedgerError(HalError):
    """The ledger could not be written or read: no card or note moves (fail closed)."""

    default_completion = Completion.HARDWARE_ERROR


class TransportError(HalError):
    """The link to the device failed."""

    default_completion = Completion.HARDWARE_ERROR


class ConnectionLost(TransportError):
    """The port, USB device, reader or server went away."""


class HalTimeout(TransportError, TimeoutError):
    """A command or an exchange did not finish within its timeout."""

    default_completion = Completion.TIME_OUT


class HardwareError(HalError):
    """The device reported a fault that is not a specific command error."""

    default_completion = Completion.HARDWARE_ERROR


class DeviceError(HalError):
    """A command-specific failure (``commandErrorCode`` plus an ``error_code``)."""

    default_completion = Completion.COMMAND_ERROR_CODE


class MediaJam(DeviceError):
    """The card or item is jammed."""

    default_error_code = ErrorCode.MEDIA_JAM.value


class ShutterFail(DeviceError):
    """The shutter failed."""

    default_error_code = ErrorCode.SHUTTER_FAIL.value


class NoMedia(DeviceError):
    """No card where one was needed."""

    default_error_code = ErrorCode.NO_MEDIA.value


class InvalidMedia(DeviceError):
    """The card is unreadable or of the wrong kind."""

    default_error_code = ErrorCode.INVALID_MEDIA.value


class CardTooShort(DeviceError):
    """The card is short."""

    default_error_code = ErrorCode.CARD_TOO_SHORT.value


class CardTooLong(DeviceError):
    """The card is long."""

    default_error_code = ErrorCode.CARD_TOO_LONG.value


class SecurityFail(DeviceError):
    """The security module rejected the card."""

    default_error_code = ErrorCode.SECURITY_FAIL.value


class Occupied(DeviceError):
    """The target position is occupied."""

    default_error_code = ErrorCode.OCCUPIED.value


class MediaRetained(DeviceError):
    """The card was retained by the device."""

    default_error_code = ErrorCode.MEDIA_RETAINED.value


class RetainBinFull(DeviceError):
    """The retain bin cannot take another card."""

    default_error_code = ErrorCode.RETAIN_BIN_FULL.value


class WriteMethod(DeviceError):
    """The track cannot be written that way."""

    default_error_code = ErrorCode.WRITE_METHOD.value


class ProtocolNotSupported(DeviceError):
    """The chip protocol is unsupported."""

    default_error_code = ErrorCode.PROTOCOL_NOT_SUPPORTED.value


class AtrNotObtained(DeviceError):
    """The chip gave no answer to reset."""

    default_error_code = ErrorCode.ATR_NOT_OBTAINED.value


class ChipPowerNotSupported(DeviceError):
    """The chip power action is unsupported."""

    default_error_code = ErrorCode.CHIP_POWER_NOT_SUPPORTED.value


_BY_ERROR_CODE: dict[str, type[DeviceError]] = {
    str(cls.default_error_code): cls
    for cls in (
        MediaJam,
        ShutterFail,
        NoMedia,
        InvalidMedia,
        CardTooShort,
        CardTooLong,
        SecurityFail,
        Occupied,
        MediaRetained,
        RetainBinFull,
        WriteMethod,
        ProtocolNotSupported,
        AtrNotObtained,
        ChipPowerNotSupported,
    )
}


def error_class_for(completion: str, error_code: str | None) -> type[HalError]:
    """The most specific class for a completion/errorCode pair from the wire."""
    if error_code is not None and error_code in _BY_ERROR_CODE:
        return _BY_ERROR_CODE[error_code]
    by_completion: dict[str, type[HalError]] = {
        Completion.COMMAND_ERROR_CODE: DeviceError,
        Completion.TIME_OUT: HalTimeout,
        Completion.HARDWARE_ERROR: HardwareError,
        Completion.UNSUPPORTED_COMMAND: UnsupportedOperation,
        Completion.INVALID_DATA: InvalidData,
        Completion.SEQUENCE_ERROR: SequenceError,
        Completion.DEVICE_NOT_READY: DeviceNotReady,
    }
    return by_completion.get(completion, HalError)
