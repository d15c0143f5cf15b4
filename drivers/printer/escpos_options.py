"""The options of an ``escpos`` address.

::

    escpos+usb://0416:5011[?profile=80mm&progress=process_id&status_interval=0.5...]
    escpos+serial:///dev/ttyUSB0[?baud=115200&profile=58mm&presenter=true...]

The line's options (``baud``, ``serial``, ``backend``...) are the transport's; the
driver makes ``baud=115200`` the default on a serial line when the address gives none.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

from hal.devices.printer_model import CodePage, PrinterType
from hal.errors import ConfigurationError

__all__ = ["ESCPOS_BAUD", "PROFILES", "EscPosOptions", "Progress"]

#: The serial rate the driver uses when the address names none.
ESCPOS_BAUD = 115200

#: Paper profiles: name -> (dots per line, columns of font A).
PROFILES: dict[str, tuple[int, int]] = {"80mm": (576, 48), "58mm": (384, 32)}


class Progress(StrEnum):
    """How the driver learns that a block has printed (docs/escpos_driver.md)."""

    PROCESS_ID = "process_id"  # GS ( H fn 48 after each block: the printer answers when done
    STATUS = "status"  # DLE EOT 1 (and 2-4 when offline) after each block [U: see docs]


@dataclass(frozen=True)
class EscPosOptions:
    """The options of an ``escpos`` address.

    Attributes:
        type: ``receipt`` or ``journal`` (the capability ``type``).
        profile: ``80mm`` (576 dots, 48 columns) or ``58mm`` (384, 32).
        dots_per_line, columns: override the profile's (0: the profile's).
        code_pages: the code pages the printer has, comma separated (``cp437,cp858,
            cp1252,gb18030``: all four by default).
        presenter: the printer holds cut receipts at its exit (Custom/Citizen kiosk
            printers: 1D 65 eject/retract, the full status 10 04 14 for the ticket
            sensor).
        retract_capacity: receipts its retract bin holds (with a presenter).
        near_end_sensor: it has a paper near-end sensor.
        progress: ``process_id`` (GS ( H fn 48 per block) or ``status`` (DLE EOT per
            block).
        status_interval: seconds between two status polls while idle, and the slice a
            job waits for a block before it asks the printer whether it stopped.
        reply_timeout: seconds the printer has to answer one status request.
        status_retries: times a status request is sent again when no status byte came
            in time (0 to 3; a garbled answer is skipped as noise).
        block_timeout: seconds one block may take to print once sent.
        identify_timeout: seconds GS I (model, firmware) may take at open; a printer
            that ignores GS I costs this once.
        chunk_size: bytes per write of `print_raw` (a DLE EOT 1 after each).
        window: blocks sent ahead of the last one known printed with
            ``progress=process_id`` (1: each block waits for the one before; 2, the
            default, keeps the printer busy while an ID answer travels). The count
            printed stays exact (each ID says which block printed).
    """

    type: str = "receipt"
    profile: str = "80mm"
    dots_per_line: int = 0
    columns: int = 0
    code_pages: str = "cp437,cp858,cp1252,gb18030"
    presenter: bool = False
    retract_capacity: int = 0
    near_end_sensor: bool = True
    progress: str = "process_id"
    status_interval: float = 0.5
    reply_timeout: float = 1.0
    status_retries: int = 1
    block_timeout: float = 10.0
    identify_timeout: float = 0.3
    chunk_size: int = 1024
    window: int = 2

    def __post_init__(self) -> None:
        try:
            PrinterType(self.type)
        except ValueError:
            raise ConfigurationError(
                f"type must be receipt or journal, got {self.type!r}"
            ) from None
        if self.profile not in PROFILES:
            raise ConfigurationError(
                f"profile must be one of {', '.join(PROFILES)}, got {self.profile!r}"
            )
        if self.dots_per_line < 0 or (self.dots_per_line and self.dots_per_line < 8):
            raise ConfigurationError(f"dots_per_line must be >= 8, got {self.dots_per_line}")
        if self.columns < 0:
            raise ConfigurationError(f"columns must be >= 1, got {self.columns}")
        self.pages()
        try:
            Progress(self.progress)
        except ValueError:
            raise ConfigurationError(
                f"progress must be process_id or status, got {self.progress!r}"
            ) from None
        for name in ("status_interval", "reply_timeout", "block_timeout", "identify_timeout"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ConfigurationError(f"{name} must be > 0 s, got {value}")
        if not 0 <= self.status_retries <= 3:
            raise ConfigurationError(f"status_retries must be 0 to 3, got {self.status_retries}")
        if not 1 <= self.window <= 8:
            raise ConfigurationError(f"window must be 1 to 8 blocks, got {self.window}")
        if self.chunk_size < 1:
            raise ConfigurationError(f"chunk_size must be >= 1, got {self.chunk_size}")
        if self.retract_capacity < 0:
            raise ConfigurationError(f"retract_capacity must be >= 0, got {self.retract_capacity}")

    def pages(self) -> frozenset[CodePage]:
        """The code pages named by ``code_pages``."""
        out: set[CodePage] = set()
        for name in filter(None, (p.strip().lower() for p in self.code_pages.split(","))):
            try:
                out.add(CodePage(name))
            except ValueError:
                raise ConfigurationError(
                    f"code page {name!r} is not one of {', '.join(p.value for p in CodePage)}"
                ) from None
        if not out:
            raise ConfigurationError("code_pages names no code page")
        return frozenset(out)

    def geometry(self) -> tuple[int, int]:
        """(dots per line, columns)."""
        dots, columns = PROFILES[self.profile]
        return self.dots_per_line or dots, self.columns or columns
