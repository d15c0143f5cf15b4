"""tellerhal's hardware abstraction layer: what a kiosk app imports.

One device::

    import hal

    async with hal.open("sim://card_reader?profile=visa") as reader:
        result = await reader.read_raw_data([hal.Track.TRACK2], timeout=30)

A whole kiosk, from a TOML file (see `hal.config`)::

    async with hal.Kiosk.from_config("kiosk.toml") as kiosk:
        await kiosk.card_reader.move(hal.MoveTarget.EXIT)

Scripts and GUI threads without an event loop use `hal.sync` (``import hal.sync``).
"""

from __future__ import annotations

from typing import Any

from hal import registry
from hal.address import DeviceAddress
from hal.config import Kiosk
from hal.device import Device, DeviceState
from hal.devices.card_reader import (
    CardAction,
    CardData,
    CardReader,
    CardReaderCapabilities,
    CardReaderStatus,
    ChipPower,
    ChipPowerAction,
    DataStatus,
    InsertCard,
    InvalidMediaEvent,
    MediaDetected,
    MediaInserted,
    MediaRemoved,
    MediaStatus,
    MoveTarget,
    ReaderType,
    ReadResult,
    ReplenishmentStatus,
    ResetAction,
    RetainBin,
    Track,
)
from hal.devices.pin_pad import (
    CipherMode,
    DataEntryResult,
    EncryptionState,
    EnterData,
    EntryCompletion,
    IllegalKeyAccess,
    Initialized,
    KcvMethod,
    KeyAlgorithm,
    KeyAttributes,
    KeyDetail,
    KeyEvent,
    KeyState,
    KeyUsage,
    ModeOfUse,
    PinBlock,
    PinEntryResult,
    PinFormat,
    PinPad,
    PinPadCapabilities,
    PinPadStatus,
)
from hal.errors import (
    AtrNotObtained,
    CardTooLong,
    CardTooShort,
    ChecksumError,
    ChipPowerNotSupported,
    Completion,
    ConfigurationError,
    ConnectionLost,
    DeviceError,
    DeviceNotReady,
    DriverNotFound,
    DukptOverflow,
    DuplicateKey,
    ErrorCode,
    FormatNotSupported,
    FramingError,
    HalError,
    HalTimeout,
    HardwareError,
    InvalidData,
    InvalidKeyLength,
    InvalidMedia,
    KcvMismatch,
    KeyInvalid,
    KeyNotFound,
    KeyNotSupported,
    KeyNoValue,
    LedgerError,
    MediaJam,
    MediaRetained,
    ModeNotSupported,
    NoKeyRam,
    NoMedia,
    Occupied,
    ProtocolError,
    ProtocolNotSupported,
    RetainBinFull,
    SecurityFail,
    SequenceError,
    ShutterFail,
    TooManyRequests,
    TransportError,
    UnknownCodeError,
    UnsupportedOperation,
    UseViolation,
    WriteMethod,
)
from hal.events import Event, EventsLost, StatusChanged, Subscription

__all__ = [
    "AtrNotObtained",
    "CardAction",
    "CardData",
    "CardReader",
    "CardReaderCapabilities",
    "CardReaderStatus",
    "CardTooLong",
    "CardTooShort",
    "ChecksumError",
    "ChipPower",
    "ChipPowerAction",
    "ChipPowerNotSupported",
    "CipherMode",
    "Completion",
    "ConfigurationError",
    "ConnectionLost",
    "DataEntryResult",
    "DataStatus",
    "Device",
    "DeviceAddress",
    "DeviceError",
    "DeviceNotReady",
    "DeviceState",
    "DriverNotFound",
    "DukptOverflow",
    "DuplicateKey",
    "EncryptionState",
    "EnterData",
    "EntryCompletion",
    "ErrorCode",
    "Event",
    "EventsLost",
    "FormatNotSupported",
    "FramingError",
    "HalError",
    "HalTimeout",
    "HardwareError",
    "IllegalKeyAccess",
    "Initialized",
    "InsertCard",
    "InvalidData",
    "InvalidKeyLength",
    "InvalidMedia",
    "InvalidMediaEvent",
    "KcvMethod",
    "KcvMismatch",
    "KeyAlgorithm",
    "KeyAttributes",
    "KeyDetail",
    "KeyEvent",
    "KeyInvalid",
    "KeyNoValue",
    "KeyNotFound",
    "KeyNotSupported",
    "KeyState",
    "KeyUsage",
    "Kiosk",
    "LedgerError",
    "MediaDetected",
    "MediaInserted",
    "MediaJam",
    "MediaRemoved",
    "MediaRetained",
    "MediaStatus",
    "ModeNotSupported",
    "ModeOfUse",
    "MoveTarget",
    "NoKeyRam",
    "NoMedia",
    "Occupied",
    "PinBlock",
    "PinEntryResult",
    "PinFormat",
    "PinPad",
    "PinPadCapabilities",
    "PinPadStatus",
    "ProtocolError",
    "ProtocolNotSupported",
    "ReadResult",
    "ReaderType",
    "ReplenishmentStatus",
    "ResetAction",
    "RetainBin",
    "RetainBinFull",
    "SecurityFail",
    "SequenceError",
    "ShutterFail",
    "StatusChanged",
    "Subscription",
    "TooManyRequests",
    "Track",
    "TransportError",
    "UnknownCodeError",
    "UnsupportedOperation",
    "UseViolation",
    "WriteMethod",
    "open",
]


def open(address: str | DeviceAddress) -> Device[Any, Any]:
    """The device an address names, not yet opened.

    Open it with ``async with`` (or ``await device.open()``). The scheme resolves only
    through `hal.registry`; options are checked against the driver's (and transport's)
    options dataclass.

    Args:
        address: e.g. ``"sim://card_reader?profile=visa"`` or a `DeviceAddress`.

    Raises:
        ConfigurationError: a malformed address, a transport the driver does not run
            over, an unknown option or one that does not convert.
        DriverNotFound: no driver (or transport) is registered under the scheme.
    """
    if not isinstance(address, DeviceAddress):
        address = DeviceAddress.parse(address)
    return registry.open_device(address)
