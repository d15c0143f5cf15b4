"""ESC/POS constants the encoder and the decoder share: prefixes, the ESC t character
tables, barcode types, QR parameters, the process-ID command.

Sources: the Epson ESC/POS reference (download4.epson.biz, TM-T88V/TM-T20 pages) [S];
the ESC t table numbers agree with the python-escpos 3.1 capability database
(escpos-printer-db, profiles ``default``/``TM-T88V``) [V], which the tests check.
"""

from __future__ import annotations

from protocols.print_document import Align, CodePage, HriPosition, QrErrorCorrection, Symbology

__all__ = [
    "ALIGN_BYTE",
    "BARCODE_NAMES",
    "CODE_PAGE_TABLE",
    "DLE",
    "ESC",
    "FS",
    "GS",
    "HRI_BYTE",
    "QR_ECC_BYTE",
    "SYMBOLOGY_M",
    "TABLE_ENCODINGS",
    "process_id_command",
]

ESC = 0x1B
GS = 0x1D
FS = 0x1C
DLE = 0x10

#: ESC t n: the table number -> the Python codec that reads it (Epson's numbering).
#: Tables without a Python codec (1 Katakana, 6 Hiragana, 11 PC851, 12 PC853, 20-26
#: Thai, 30-31 TCVN-3, 41 PC1098, 42-43 PC1118/1119, 53 KZ-1048, 254-255 user) are absent.
TABLE_ENCODINGS: dict[int, str] = {
    0: "cp437",
    2: "cp850",
    3: "cp860",
    4: "cp863",
    5: "cp865",
    13: "cp857",
    14: "cp737",
    15: "iso8859_7",
    16: "cp1252",
    17: "cp866",
    18: "cp852",
    19: "cp858",
    32: "cp720",
    33: "cp775",
    34: "cp855",
    35: "cp861",
    36: "cp862",
    37: "cp864",
    38: "cp869",
    39: "iso8859_2",
    40: "iso8859_15",
    44: "cp1125",
    45: "cp1250",
    46: "cp1251",
    47: "cp1253",
    48: "cp1254",
    49: "cp1255",
    50: "cp1256",
    51: "cp1257",
    52: "cp1258",
}

#: The document's single-byte code pages -> their ESC t n.
CODE_PAGE_TABLE: dict[CodePage, int] = {
    CodePage.CP437: 0,
    CodePage.CP1252: 16,
    CodePage.CP858: 19,
}

#: ESC a n.
ALIGN_BYTE: dict[Align, int] = {Align.LEFT: 0, Align.CENTER: 1, Align.RIGHT: 2}

#: GS H n.
HRI_BYTE: dict[HriPosition, int] = {
    HriPosition.NONE: 0,
    HriPosition.ABOVE: 1,
    HriPosition.BELOW: 2,
    HriPosition.BOTH: 3,
}

#: GS ( k fn 69 (cn 49): the ECC level byte.
QR_ECC_BYTE: dict[QrErrorCorrection, int] = {
    QrErrorCorrection.L: 0x30,
    QrErrorCorrection.M: 0x31,
    QrErrorCorrection.Q: 0x32,
    QrErrorCorrection.H: 0x33,
}

#: GS k m: the symbology names (m 0-6 NUL-terminated form, 65-79 length-prefixed).
BARCODE_NAMES: dict[int, str] = {
    0: "UPC-A",
    1: "UPC-E",
    2: "EAN13",
    3: "EAN8",
    4: "CODE39",
    5: "ITF",
    6: "CODABAR",
    65: "UPC-A",
    66: "UPC-E",
    67: "EAN13",
    68: "EAN8",
    69: "CODE39",
    70: "ITF",
    71: "CODABAR",
    72: "CODE93",
    73: "CODE128",
    74: "GS1-128",
    75: "GS1 DataBar Omnidirectional",
    76: "GS1 DataBar Truncated",
    77: "GS1 DataBar Limited",
    78: "GS1 DataBar Expanded",
    79: "CODE128 auto",
}

#: The document's symbologies -> GS k m (length-prefixed form).
SYMBOLOGY_M: dict[Symbology, int] = {Symbology.CODE128: 73, Symbology.EAN13: 67}


def process_id_command(ident: bytes) -> bytes:
    """GS ( H fn 48 (``1D 28 48 06 00 30 30 d1 d2 d3 d4``): once the data before it has
    been processed (printed), the printer answers ``37 22 d1 d2 d3 d4 00`` [S: Epson
    ESC/POS reference, GS ( H Function 48; TM-T88IV/V, TM-T20, TM-m30...; which kiosk
    printers implement it is U].

    Raises:
        ValueError: ``ident`` is not 4 bytes of 0x20-0x7E.
    """
    if len(ident) != 4 or any(not 0x20 <= b <= 0x7E for b in ident):
        raise ValueError("a process ID is 4 bytes of 0x20-0x7E")
    return bytes((GS, 0x28, 0x48, 6, 0, 0x30, 0x30)) + ident
