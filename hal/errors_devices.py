"""The XFS4IoT command error codes and the per-device error classes of tellerhal.

`ErrorCode` spells each command ``errorCode`` as on the wire; `DeviceError` and its
subclasses (card reader, PIN pad, cash units, camera, printer) carry one each. They are
part of the one error tree: import them from `hal.errors`, which re-exports every name
here and maps an ``errorCode`` back to its class (`hal.errors.error_class_for`).

Messages never carry a PIN, a key, a full PAN, track data or an ID number.
"""

from __future__ import annotations

from enum import StrEnum
from types import MappingProxyType

from protocols.errors import Completion, HalError

__all__ = [
    "AtrNotObtained",
    "CameraInoperable",
    "CameraNotSupported",
    "CardTooLong",
    "CardTooShort",
    "CashInActive",
    "CashUnitError",
    "ChipPowerNotSupported",
    "CoverOpen",
    "DeviceError",
    "DukptOverflow",
    "DuplicateKey",
    "ErrorCode",
    "ExchangeActive",
    "FormatNotSupported",
    "InvalidCurrency",
    "InvalidKeyLength",
    "InvalidMedia",
    "ItemsLeft",
    "KcvMismatch",
    "KeyInvalid",
    "KeyNoValue",
    "KeyNotFound",
    "KeyNotSupported",
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
    "ProtocolNotSupported",
    "RetainBinFull",
    "SafeDoorOpen",
    "SecurityFail",
    "ShutterFail",
    "ShutterOpen",
    "TooManyItems",
    "TransactionActive",
    "UseViolation",
    "WriteMethod",
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
    # PinPad, KeyManagement, Crypto and Keyboard
    KEY_NOT_FOUND = "keyNotFound"
    KEY_NO_VALUE = "keyNoValue"
    USE_VIOLATION = "useViolation"
    KCV_VERIFICATION_FAIL = "kcvVerificationFail"
    INVALID_KEY_LENGTH = "invalidKeyLength"
    FORMAT_NOT_SUPPORTED = "formatNotSupported"
    MODE_NOT_SUPPORTED = "modeNotSupported"
    DUPLICATE_KEY = "duplicateKey"
    NO_KEY_RAM = "noKeyRam"
    DUKPT_OVERFLOW = "dukptOverflow"
    KEY_INVALID = "keyInvalid"
    KEY_NOT_SUPPORTED = "keyNotSupported"
    NO_TERMINATE_KEYS = "noTerminatekeys"
    MINIMUM_LENGTH = "minimumLength"
    # CashDispenser
    NOT_DISPENSABLE = "notDispensable"
    TOO_MANY_ITEMS = "tooManyItems"
    CASH_UNIT_ERROR = "cashUnitError"
    EXCHANGE_ACTIVE = "exchangeActive"
    NO_EXCHANGE_ACTIVE = "noExchangeActive"
    TRANSACTION_ACTIVE = "transactionActive"
    ITEMS_LEFT = "itemsLeft"
    NO_ITEMS = "noItems"
    SHUTTER_OPEN = "shutterOpen"
    SAFE_DOOR_OPEN = "safeDoorOpen"
    INVALID_CURRENCY = "invalidCurrency"
    # CashAcceptor
    CASH_IN_ACTIVE = "cashInActive"
    NO_CASH_IN_ACTIVE = "noCashInActive"
    POSITION_NOT_EMPTY = "positionNotEmpty"
    # Camera
    CAMERA_NOT_SUPPORTED = "cameraNotSupported"
    CAMERA_INOPERABLE = "cameraInoperable"
    # Printer
    PAPER_OUT = "paperOut"
    COVER_OPEN = "coverOpen"


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


class KeyNotFound(DeviceError):
    """No key of that name is loaded in the PIN pad."""

    default_error_code = ErrorCode.KEY_NOT_FOUND.value


class KeyNoValue(DeviceError):
    """The key's name exists but it has no value yet (its components are incomplete)."""

    default_error_code = ErrorCode.KEY_NO_VALUE.value


class UseViolation(DeviceError):
    """A key used outside its usage or mode of use (a MAC key asked for a PIN block)."""

    default_error_code = ErrorCode.USE_VIOLATION.value


class KcvMismatch(DeviceError):
    """A key whose check value differs from the one that came with it; not loaded."""

    default_error_code = ErrorCode.KCV_VERIFICATION_FAIL.value


class InvalidKeyLength(DeviceError):
    """A key of a length its algorithm does not have."""

    default_error_code = ErrorCode.INVALID_KEY_LENGTH.value


class FormatNotSupported(DeviceError):
    """A PIN block format (or key block version) the PIN pad does not make."""

    default_error_code = ErrorCode.FORMAT_NOT_SUPPORTED.value


class ModeNotSupported(DeviceError):
    """A cipher mode or algorithm the PIN pad does not offer for that key."""

    default_error_code = ErrorCode.MODE_NOT_SUPPORTED.value


class DuplicateKey(DeviceError):
    """A key of that name already exists and cannot be replaced that way."""

    default_error_code = ErrorCode.DUPLICATE_KEY.value


class NoKeyRam(DeviceError):
    """The PIN pad has no room for another key."""

    default_error_code = ErrorCode.NO_KEY_RAM.value


class DukptOverflow(DeviceError):
    """The DUKPT key's transaction counter is exhausted: no more PIN blocks from it."""

    default_error_code = ErrorCode.DUKPT_OVERFLOW.value


class KeyInvalid(DeviceError):
    """A key name in active or terminate keys that is no key of this keyboard."""

    default_error_code = ErrorCode.KEY_INVALID.value


class KeyNotSupported(DeviceError):
    """A key the keyboard has but cannot use in this entry."""

    default_error_code = ErrorCode.KEY_NOT_SUPPORTED.value


class NotDispensable(DeviceError):
    """The amount cannot be made from the notes available (in the mix asked for)."""

    default_error_code = ErrorCode.NOT_DISPENSABLE.value


class TooManyItems(DeviceError):
    """The amount needs more notes than one dispense may hold."""

    default_error_code = ErrorCode.TOO_MANY_ITEMS.value


class CashUnitError(DeviceError):
    """A cash unit cannot be used (missing, empty, inoperative, full)."""

    default_error_code = ErrorCode.CASH_UNIT_ERROR.value


class ExchangeActive(DeviceError):
    """A replenishment (exchange) is under way: cash commands wait for its end."""

    default_error_code = ErrorCode.EXCHANGE_ACTIVE.value


class NoExchangeActive(DeviceError):
    """The command needs an exchange under way, and none is."""

    default_error_code = ErrorCode.NO_EXCHANGE_ACTIVE.value


class TransactionActive(DeviceError):
    """Notes of a transaction are still in the device (an exchange cannot start)."""

    default_error_code = ErrorCode.TRANSACTION_ACTIVE.value


class ItemsLeft(DeviceError):
    """Notes of an earlier operation are still in the stacker or at the exit."""

    default_error_code = ErrorCode.ITEMS_LEFT.value


class NoItems(DeviceError):
    """There are no notes to present, retract or reject."""

    default_error_code = ErrorCode.NO_ITEMS.value


class ShutterOpen(DeviceError):
    """The shutter is open (or jammed open) and must be closed first."""

    default_error_code = ErrorCode.SHUTTER_OPEN.value


class SafeDoorOpen(DeviceError):
    """The safe door is open: no cash moves."""

    default_error_code = ErrorCode.SAFE_DOOR_OPEN.value


class InvalidCurrency(DeviceError):
    """No unit holds notes of the currency asked for."""

    default_error_code = ErrorCode.INVALID_CURRENCY.value


class CashInActive(DeviceError):
    """A cash-in transaction is open: end or roll it back first."""

    default_error_code = ErrorCode.CASH_IN_ACTIVE.value


class NoCashInActive(DeviceError):
    """No cash-in transaction is open: start one first."""

    default_error_code = ErrorCode.NO_CASH_IN_ACTIVE.value


class PositionNotEmpty(DeviceError):
    """Notes are still at the input/output position: the customer must take them."""

    default_error_code = ErrorCode.POSITION_NOT_EMPTY.value


class CameraNotSupported(DeviceError):
    """The camera position asked for (``person``, ``document``, ``room``) is not there."""

    default_error_code = ErrorCode.CAMERA_NOT_SUPPORTED.value


class CameraInoperable(DeviceError):
    """The camera is there but cannot take a picture (gone from the bus, no frames)."""

    default_error_code = ErrorCode.CAMERA_INOPERABLE.value


class PaperOut(DeviceError):
    """The printer ran out of paper (XFS4IoT ``paperOut``); mid-job, what was printed
    stays printed and the error says how far the job got.

    Attributes:
        printed_blocks: blocks of the document printed in full before the paper ran
            out (``None``: not a document job, or the printer cannot tell).
        total_blocks: blocks the document had (``None`` as above).
        bytes_sent: bytes the printer took before it stopped (``None``: unknown).
    """

    default_error_code = ErrorCode.PAPER_OUT.value
    wire_details = MappingProxyType({"printed_blocks": int, "total_blocks": int, "bytes_sent": int})

    def __init__(
        self,
        message: str,
        *,
        printed_blocks: int | None = None,
        total_blocks: int | None = None,
        bytes_sent: int | None = None,
        completion: Completion | None = None,
        error_code: str | None = None,
    ) -> None:
        super().__init__(message, completion=completion, error_code=error_code)
        self.printed_blocks = printed_blocks
        self.total_blocks = total_blocks
        self.bytes_sent = bytes_sent


class CoverOpen(DeviceError):
    """The printer's cover is open: it prints nothing until it is closed (our
    extension: XFS4IoT has no such error code)."""

    default_error_code = ErrorCode.COVER_OPEN.value
