"""The one error tree of tellerhal.

Every error carries an XFS4IoT ``completion`` code and, for command errors, an
``error_code`` from the command's XFS4IoT ``errorCode`` enum, so the ZeroMQ remote can
put them on the wire unchanged and a remote client can rebuild the same class.

Messages say what was expected and what came, and never carry a PIN, a key, a full PAN,
track data or an ID number.

The XFS4IoT ``errorCode`` values (`ErrorCode`) and the per-device error classes
(`DeviceError` and its subclasses) live in `hal.errors_devices`; this module re-exports
them, so every name of the tree imports from here.

Cancellation is not a `HalError`: a cancelled command settles with the device and then
raises `asyncio.CancelledError`, as asyncio code expects.
"""

from __future__ import annotations

from hal.errors_devices import (
    AtrNotObtained,
    CameraInoperable,
    CameraNotSupported,
    CardTooLong,
    CardTooShort,
    CashInActive,
    CashUnitError,
    ChipPowerNotSupported,
    CoverOpen,
    DeviceError,
    DukptOverflow,
    DuplicateKey,
    ErrorCode,
    ExchangeActive,
    FormatNotSupported,
    InvalidCurrency,
    InvalidKeyLength,
    InvalidMedia,
    ItemsLeft,
    KcvMismatch,
    KeyInvalid,
    KeyNotFound,
    KeyNotSupported,
    KeyNoValue,
    MediaJam,
    MediaRetained,
    ModeNotSupported,
    NoCashInActive,
    NoExchangeActive,
    NoItems,
    NoKeyRam,
    NoMedia,
    NotDispensable,
    Occupied,
    PaperOut,
    PositionNotEmpty,
    ProtocolNotSupported,
    RetainBinFull,
    SafeDoorOpen,
    SecurityFail,
    ShutterFail,
    ShutterOpen,
    TooManyItems,
    TransactionActive,
    UseViolation,
    WriteMethod,
)
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
    "CameraInoperable",
    "CameraNotSupported",
    "CardTooLong",
    "CardTooShort",
    "CashInActive",
    "CashUnitError",
    "ChecksumError",
    "ChipPowerNotSupported",
    "Completion",
    "ConfigurationError",
    "ConnectionLost",
    "CoverOpen",
    "DeviceError",
    "DeviceNotReady",
    "DriverNotFound",
    "DukptOverflow",
    "DuplicateKey",
    "ErrorCode",
    "ExchangeActive",
    "FormatNotSupported",
    "FramingError",
    "HalError",
    "HalTimeout",
    "HardwareError",
    "InvalidCurrency",
    "InvalidData",
    "InvalidKeyLength",
    "InvalidMedia",
    "ItemsLeft",
    "KcvMismatch",
    "KeyInvalid",
    "KeyNoValue",
    "KeyNotFound",
    "KeyNotSupported",
    "LedgerError",
    "MediaJam",
    "MediaRetained",
    "ModeNotSupported",
    "NoCashInActive",
    "NoExchangeActive",
    "NoItems",
    "NoKeyRam",
    "NoMedia",
    "NotDispensable",
    "Occupied",
    "PaperOut",
    "PositionNotEmpty",
    "ProtocolError",
    "ProtocolNotSupported",
    "RetainBinFull",
    "SafeDoorOpen",
    "SecurityFail",
    "SequenceError",
    "ShutterFail",
    "ShutterOpen",
    "TooManyItems",
    "TooManyRequests",
    "TransactionActive",
    "TransportError",
    "UnknownCodeError",
    "UnsupportedOperation",
    "UseViolation",
    "WriteMethod",
    "error_class_for",
]


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
        KeyNotFound,
        KeyNoValue,
        UseViolation,
        KcvMismatch,
        InvalidKeyLength,
        FormatNotSupported,
        ModeNotSupported,
        DuplicateKey,
        NoKeyRam,
        DukptOverflow,
        KeyInvalid,
        KeyNotSupported,
        NotDispensable,
        TooManyItems,
        CashUnitError,
        ExchangeActive,
        NoExchangeActive,
        TransactionActive,
        ItemsLeft,
        NoItems,
        ShutterOpen,
        SafeDoorOpen,
        InvalidCurrency,
        CashInActive,
        NoCashInActive,
        PositionNotEmpty,
        CameraNotSupported,
        CameraInoperable,
        PaperOut,
        CoverOpen,
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
