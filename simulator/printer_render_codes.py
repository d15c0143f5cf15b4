"""Barcode modules and QR matrices, as a printer's own engines make them.

CODE128 and EAN13 are encoded here from their symbol tables (ISO/IEC 15417, EAN/UPC),
not with python-barcode: an ESC/POS printer encodes CODE128 in exactly the code sets
the stream selects (``{A``, ``{B``, ``{C``, shifts and FNC characters), while
python-barcode picks its own code sets, so it cannot draw what the printer draws. The
tables are checked against python-barcode's in the tests.

QR codes come from segno (pure Python, no dependencies, typed, ISO/IEC 18004 complete:
the ECC level is taken as given, ``boost_error=False``, with the smallest version that
holds the data, as a printer's QR engine does).
"""

from __future__ import annotations

import segno

from protocols import escpos_ops as ops

__all__ = [
    "CODE128_PATTERNS",
    "BarcodeError",
    "code128_modules",
    "code128_values",
    "ean13_modules",
    "qr_matrix",
]

#: CODE128 symbol values 0-106 as bar/space widths (bar first); 106 is the stop.
CODE128_PATTERNS: tuple[str, ...] = (
    "212222", "222122", "222221", "121223", "121322", "131222", "122213", "122312",
    "132212", "221213", "221312", "231212", "112232", "122132", "122231", "113222",
    "123122", "123221", "223211", "221132", "221231", "213212", "223112", "312131",
    "311222", "321122", "321221", "312212", "322112", "322211", "212123", "212321",
    "232121", "111323", "131123", "131321", "112313", "132113", "132311", "211313",
    "231113", "231311", "112133", "112331", "132131", "113123", "113321", "133121",
    "313121", "211331", "231131", "213113", "213311", "213131", "311123", "311321",
    "331121", "312113", "312311", "332111", "314111", "221411", "431111", "111224",
    "111422", "121124", "121421", "141122", "141221", "112214", "112412", "122114",
    "122411", "142112", "142211", "241211", "221114", "413111", "241112", "134111",
    "111242", "121142", "121241", "114212", "124112", "124211", "411212", "421112",
    "421211", "212141", "214121", "412121", "111143", "111341", "131141", "114113",
    "114311", "411113", "411311", "113141", "114131", "311141", "411131", "211412",
    "211214", "211232", "2331112",
)  # fmt: skip

_START = {"A": 103, "B": 104, "C": 105}
_SWITCH = {  # (current set, target set) -> the code value
    ("A", "B"): 100,
    ("A", "C"): 99,
    ("B", "A"): 101,
    ("B", "C"): 99,
    ("C", "A"): 101,
    ("C", "B"): 100,
}
_FNC = {"1": 102, "2": 97, "3": 96}
_SHIFT = 98
_STOP = 106

# EAN-13 digit patterns: L (odd parity), with G and R derived; parity of the left half
# chosen by the first digit.
_EAN_L = (
    "0001101", "0011001", "0010011", "0111101", "0100011",
    "0110001", "0101111", "0111011", "0110111", "0001011",
)  # fmt: skip
_EAN_R = tuple("".join("1" if b == "0" else "0" for b in code) for code in _EAN_L)
_EAN_G = tuple(code[::-1] for code in _EAN_R)
_EAN_PARITY = (
    "LLLLLL", "LLGLGG", "LLGGLG", "LLGGGL", "LGLLGG",
    "LGGLLG", "LGGGLL", "LGLGLG", "LGLGGL", "LGGLGL",
)  # fmt: skip


class BarcodeError(ValueError):
    """Data the printer cannot encode in the symbology (it prints nothing)."""


def code128_values(data: bytes) -> list[int]:
    """The CODE128 symbol values of ESC/POS GS k CODE128 data (its ``{A``/``{B``/``{C``
    code-set selectors, ``{S`` shift, ``{1``-``{4`` function characters, ``{{``), start
    and check values included, stop excluded. Data that does not start with a selector
    is taken as code set B.

    Raises:
        BarcodeError: a byte its code set has no value for.
    """
    values: list[int] = []
    code_set = ""
    shift = False
    index = 0
    if not data.startswith((b"{A", b"{B", b"{C")):
        code_set = "B"
        values.append(_START["B"])
    while index < len(data):
        byte = data[index]
        if byte == 0x7B and index + 1 < len(data) and data[index + 1] != 0x7B:
            selector = chr(data[index + 1])
            index += 2
            if selector in _START:
                if not code_set:
                    values.append(_START[selector])
                elif selector != code_set:
                    values.append(_SWITCH[(code_set, selector)])
                code_set = selector
            elif selector == "S" and code_set in ("A", "B"):
                values.append(_SHIFT)
                shift = True
            elif selector in _FNC:
                values.append(_FNC[selector])
            elif selector == "4" and code_set in ("A", "B"):
                values.append(101 if code_set == "A" else 100)
            else:
                raise BarcodeError(f"CODE128: no selector {{{selector} in code set {code_set}")
            continue
        if byte == 0x7B:  # "{{" is one "{"
            index += 1
        index += 1
        effective = code_set
        if shift:
            effective = "A" if code_set == "B" else "B"
            shift = False
        if effective == "C":
            if byte > 99:
                raise BarcodeError(f"CODE128: byte {byte} is not a code set C pair (0-99)")
            values.append(byte)
        elif effective == "A":
            if byte < 0x20:
                values.append(byte + 64)
            elif byte < 0x60:
                values.append(byte - 32)
            else:
                raise BarcodeError(f"CODE128: {byte:#04x} is not in code set A")
        else:
            if not 0x20 <= byte <= 0x7F:
                raise BarcodeError(f"CODE128: {byte:#04x} is not in code set B")
            values.append(byte - 32)
    if len(values) < 2:
        raise BarcodeError("CODE128: no data")
    check = (values[0] + sum(i * v for i, v in enumerate(values[1:], start=1))) % 103
    values.append(check)
    return values


def _widths_to_modules(widths: str) -> str:
    return "".join(("1" if i % 2 == 0 else "0") * int(w) for i, w in enumerate(widths))


def code128_modules(data: bytes) -> str:
    """The modules of a CODE128 symbol (``1`` bar, ``0`` space), stop included."""
    values = code128_values(data)
    return "".join(_widths_to_modules(CODE128_PATTERNS[v]) for v in [*values, _STOP])


def ean13_modules(data: bytes) -> tuple[str, str]:
    """The modules of an EAN-13 symbol of 12 digits (the check digit added) or 13 (the
    check digit checked), and its 13 digits.

    Raises:
        BarcodeError: not 12 or 13 digits, or a wrong check digit.
    """
    text = data.decode("ascii", "replace")
    if not (text.isascii() and text.isdigit() and len(text) in (12, 13)):
        raise BarcodeError(f"EAN13: 12 or 13 digits, got {text!r}")
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(text[:12]))
    check = str((10 - total % 10) % 10)
    if len(text) == 13 and text[12] != check:
        raise BarcodeError(f"EAN13: check digit {text[12]}, expected {check}")
    digits = text[:12] + check
    parity = _EAN_PARITY[int(digits[0])]
    left = "".join(
        (_EAN_L if p == "L" else _EAN_G)[int(d)] for p, d in zip(parity, digits[1:7], strict=True)
    )
    right = "".join(_EAN_R[int(d)] for d in digits[7:])
    return "101" + left + "01010" + right + "101", digits


def qr_matrix(qr: ops.QrCode) -> list[list[bool]]:
    """The module matrix (quiet zone excluded) the printer's QR engine prints for
    ``qr``: model 2 (model 1 is printed as model 2: segno has no model 1; model 3 is
    micro QR), the ECC level given, the smallest version that holds the payload; an
    ASCII payload in the modes that fit it best, other bytes in byte mode.

    Raises:
        BarcodeError: the payload does not fit a QR code at that level.
    """
    payload: str | bytes
    try:
        payload = qr.data.decode("ascii")
    except UnicodeDecodeError:
        payload = qr.data
    try:
        code = segno.make(
            payload,
            error=qr.error_correction.value,
            micro=qr.model == 3,
            boost_error=False,
        )
    except (segno.DataOverflowError, ValueError) as exc:
        raise BarcodeError(f"QR: {exc}") from exc
    return [[bool(v) for v in row] for row in code.matrix]
