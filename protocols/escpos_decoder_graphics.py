"""Decoding the ESC/POS picture commands (`protocols.escpos_decoder`): images,
barcodes and QR codes."""

from __future__ import annotations

from protocols.errors import FramingError
from protocols.escpos_commands import BARCODE_NAMES
from protocols.escpos_decoder_state import DecoderState, NeedMore
from protocols.escpos_ops import (
    Barcode,
    HriPosition,
    ProcessIdRequest,
    QrCode,
    QrErrorCorrection,
    RasterImage,
    Unknown,
)

__all__ = ["MAX_NUL_BARCODE", "GraphicsHandlers"]

_HRI = {0: HriPosition.NONE, 1: HriPosition.ABOVE, 2: HriPosition.BELOW, 3: HriPosition.BOTH}
_HRI |= {48 + k: v for k, v in _HRI.items()}
_ECC = {0x30: QrErrorCorrection.L, 0x31: QrErrorCorrection.M}
_ECC |= {0x32: QrErrorCorrection.Q, 0x33: QrErrorCorrection.H}
_QR_MODELS = {0x31: 1, 0x32: 2, 0x33: 3}
#: GS k NUL-terminated form: at most this many data bytes before the NUL.
MAX_NUL_BARCODE = 255


class GraphicsHandlers(DecoderState):
    """The handlers of the commands that print pictures: ESC * bit images, GS v 0
    raster images, the barcode settings and GS k, GS ( k QR codes (and the other
    GS ( / ESC ( / FS ( functions), GS ( H process IDs, GS 8 L and GS *; each takes
    the buffer and the command's offset and returns the offset after it."""

    def _esc_bit_image(self, buf: bytearray, pos: int) -> int:
        self._need(buf, pos, 5, "ESC * (bit image)")
        mode = buf[pos + 2]
        columns = buf[pos + 3] | buf[pos + 4] << 8
        if mode not in (0, 1, 32, 33):
            return self._other(buf, pos, 5, "ESC *")
        tall = mode >= 32
        stripe = 3 if tall else 1  # bytes per column
        length = 5 + columns * stripe
        self._need(buf, pos, length, "ESC * (bit image)")
        data = bytes(buf[pos + 5 : pos + length])
        height = 8 * stripe
        row_bytes = (columns + 7) // 8
        pixels = bytearray(row_bytes * height)
        for x in range(columns):
            mask = 0x80 >> (x % 8)
            for k in range(stripe):
                column_byte = data[x * stripe + k]
                if not column_byte:
                    continue
                for bit in range(8):
                    if column_byte & (0x80 >> bit):
                        pixels[(k * 8 + bit) * row_bytes + x // 8] |= mask
        self._emit(
            RasterImage(
                width=columns,
                height=height,
                pixels=bytes(pixels),
                scale_x=2 if mode in (0, 32) else 1,
                scale_y=1 if tall else 3,
                mode=mode,
                command="ESC *",
                align=self._style.align,
            )
        )
        return pos + length

    def _gs_barcode_height(self, buf: bytearray, pos: int) -> int:
        self._bar_height = self._arg(buf, pos, "GS h")
        return pos + 3

    def _gs_barcode_width(self, buf: bytearray, pos: int) -> int:
        self._bar_width = self._arg(buf, pos, "GS w")
        return pos + 3

    def _gs_hri(self, buf: bytearray, pos: int) -> int:
        hri = _HRI.get(self._arg(buf, pos, "GS H"))
        if hri is not None:
            self._bar_hri = hri
        return pos + 3

    def _gs_hri_font(self, buf: bytearray, pos: int) -> int:
        n = self._arg(buf, pos, "GS f")
        self._bar_font = n - 48 if n >= 48 else n
        return pos + 3

    def _gs_barcode(self, buf: bytearray, pos: int) -> int:
        m = self._arg(buf, pos, "GS k")
        if m <= 6:
            end = buf.find(0, pos + 3, pos + 3 + MAX_NUL_BARCODE + 1)
            if end < 0:
                if len(buf) - pos - 3 > MAX_NUL_BARCODE:
                    raise FramingError(
                        f"GS k (m={m}) at byte {self._offset + pos}: no NUL terminator "
                        f"within {MAX_NUL_BARCODE} data bytes"
                    )
                raise NeedMore(f"GS k (m={m})", pos, 1, "its NUL terminator")
            data = bytes(buf[pos + 3 : end])
            length = end + 1 - pos
        elif 65 <= m <= 79:
            self._need(buf, pos, 4, f"GS k (m={m})")
            count = buf[pos + 3]
            length = 4 + count
            self._need(buf, pos, length, f"GS k (m={m})")
            data = bytes(buf[pos + 4 : pos + length])
        else:
            self._emit(Unknown(bytes(buf[pos : pos + 3])))
            return pos + 3
        self._emit(
            Barcode(
                symbology=BARCODE_NAMES[m],
                data=data,
                m=m,
                height=self._bar_height,
                module_width=self._bar_width,
                hri=self._bar_hri,
                hri_font=self._bar_font,
                align=self._style.align,
            )
        )
        return pos + length

    def _gs_raster(self, buf: bytearray, pos: int) -> int:
        self._need(buf, pos, 3, "GS v")
        if buf[pos + 2] != 0x30:
            self._emit(Unknown(bytes(buf[pos : pos + 3])))
            return pos + 3
        self._need(buf, pos, 8, "GS v 0 (raster image)")
        mode = buf[pos + 3]
        row_bytes = buf[pos + 4] | buf[pos + 5] << 8
        rows = buf[pos + 6] | buf[pos + 7] << 8
        length = 8 + row_bytes * rows
        self._need(buf, pos, length, "GS v 0 (raster image)")
        scale = mode & 0x03 if mode in (0, 1, 2, 3, 48, 49, 50, 51) else 0
        self._emit(
            RasterImage(
                width=row_bytes * 8,
                height=rows,
                pixels=bytes(buf[pos + 8 : pos + length]),
                scale_x=2 if scale & 1 else 1,
                scale_y=2 if scale & 2 else 1,
                mode=mode,
                align=self._style.align,
            )
        )
        return pos + length

    def _gs_paren(self, buf: bytearray, pos: int) -> int:
        self._need(buf, pos, 5, "GS (")
        kind = buf[pos + 2]
        length = 5 + (buf[pos + 3] | buf[pos + 4] << 8)
        if kind == 0x6B:
            self._need(buf, pos, length, "GS ( k")
            return self._qr(buf, pos, length)
        if kind == 0x48:
            self._need(buf, pos, length, "GS ( H")
            if length == 11 and buf[pos + 5] == 0x30 and buf[pos + 6] == 0x30:
                self._emit(ProcessIdRequest(bytes(buf[pos + 7 : pos + 11])))
                return pos + length
        return self._paren(buf, pos, "GS (")

    def _qr(self, buf: bytearray, pos: int, length: int) -> int:
        body = buf[pos + 5 : pos + length]
        if len(body) < 2 or body[0] != 0x31:  # cn 49: QR; others (PDF417, MaxiCode...)
            return self._other(buf, pos, length, "GS ( k")
        fn = body[1]
        if fn == 0x41 and len(body) >= 3 and body[2] in _QR_MODELS:
            self._qr_model = _QR_MODELS[body[2]]
        elif fn == 0x43 and len(body) >= 3:
            self._qr_size = body[2]
        elif fn == 0x45 and len(body) >= 3 and body[2] in _ECC:
            self._qr_ecc = _ECC[body[2]]
        elif fn == 0x50 and len(body) >= 3:
            self._qr_data = bytes(body[3:])
        elif fn == 0x51:
            self._emit(
                QrCode(
                    data=self._qr_data,
                    model=self._qr_model,
                    module_size=self._qr_size,
                    error_correction=self._qr_ecc,
                    align=self._style.align,
                )
            )
        else:
            return self._other(buf, pos, length, "GS ( k")
        return pos + length

    def _paren(self, buf: bytearray, pos: int, prefix: str) -> int:
        self._need(buf, pos, 5, prefix)
        name = f"{prefix} {chr(buf[pos + 2]) if 0x20 < buf[pos + 2] < 0x7F else '?'}"
        return self._other(buf, pos, 5 + (buf[pos + 3] | buf[pos + 4] << 8), name)

    def _gs_eight(self, buf: bytearray, pos: int) -> int:
        # GS 8 L p1 p2 p3 p4 ...: a GS ( L with a 32-bit length.
        self._need(buf, pos, 7, "GS 8")
        if buf[pos + 2] != 0x4C:
            self._emit(Unknown(bytes(buf[pos : pos + 2])))
            return pos + 2
        size = int.from_bytes(buf[pos + 3 : pos + 7], "little")
        return self._other(buf, pos, 7 + size, "GS 8 L")

    def _gs_define_image(self, buf: bytearray, pos: int) -> int:
        # GS * x y d1..d(x*y*8): define a downloaded bit image.
        self._need(buf, pos, 4, "GS *")
        return self._other(buf, pos, 4 + buf[pos + 2] * buf[pos + 3] * 8, "GS *")
