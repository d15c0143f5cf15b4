"""The printer's font: a CJK outline font drawn into the printer's bitmap cells.

A thermal receipt printer has bitmap fonts: font A is 12x24 dots for ASCII, and in
Chinese mode a 24x24 font for GB18030 characters. The simulator draws both with one
outline font, Noto Sans Mono CJK SC (Debian package ``fonts-noto-cjk``: the collection
``NotoSansCJK-Regular.ttc``), whose half-width Latin fits the 12-dot cell and whose
ideographs fit the 24-dot one.

A character the font has no glyph for is never drawn as a box: `PrinterFont.covers`
reads the font's own character map (the ``cmap`` table of the chosen face, formats 4
and 12, parsed here: no extra dependency at run time; the tests check it against
fontTools), and the renderer draws a character without a glyph as a blank cell and
reports it (`simulator.printer_render.Rendering.missing_glyphs`).
"""

from __future__ import annotations

import bisect
import shutil
import struct
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

__all__ = [
    "FONT_FAMILY",
    "FONT_PACKAGE",
    "KNOWN_FONT_PATHS",
    "CharMap",
    "PrinterFont",
    "PrinterFontError",
    "find_cjk_font",
    "load_printer_font",
    "read_cmap",
]

#: The Debian package that provides the font.
FONT_PACKAGE = "fonts-noto-cjk"
#: The face used: monospaced, half-width Latin (12 dots at 24 px) and full-width CJK.
FONT_FAMILY = "Noto Sans Mono CJK SC"
#: What fc-match is asked for (the same collection file holds the mono face).
FC_PATTERN = "Noto Sans CJK SC"
#: Where Debian and Ubuntu put the collection.
KNOWN_FONT_PATHS: tuple[Path, ...] = (
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
    Path("/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc"),
    Path("/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc"),
)

#: Cell geometry in dots: font A (half width) and the CJK font (full width).
CELL_HEIGHT = 24
HALF_WIDTH = 12
FULL_WIDTH = 24
# Outline sizes (pixels per em) and baselines within the 24-dot cell: Latin a little
# smaller than the em so capitals and descenders both fit, as in font A; CJK at 24.
_HALF_SIZE, _HALF_BASELINE = 22, 19
_FULL_SIZE, _FULL_BASELINE = 24, 21


class PrinterFontError(RuntimeError):
    """The printer font is not installed or cannot be read."""


def find_cjk_font(
    candidates: Sequence[Path] = KNOWN_FONT_PATHS, *, use_fc_match: bool = True
) -> Path:
    """The path of the Noto Sans CJK collection.

    Asks fontconfig first (``fc-match 'Noto Sans CJK SC'``; its answer counts only when
    the family it matched is a Noto Sans CJK one, as fc-match falls back to any font),
    then the known paths.

    Raises:
        PrinterFontError: no such font; the message names the package to install.
    """
    if use_fc_match and shutil.which("fc-match"):
        try:
            answer = subprocess.run(
                ["fc-match", "-f", "%{family}\n%{file}", FC_PATTERN],
                capture_output=True,
                text=True,
                timeout=10,
                check=False,
            ).stdout
        except (OSError, subprocess.SubprocessError):
            answer = ""
        family, _, file = answer.partition("\n")
        if "Noto Sans CJK" in family and file and Path(file).is_file():
            return Path(file)
    for path in candidates:
        if path.is_file():
            return path
    raise PrinterFontError(
        f"no CJK font for the printer: {FONT_FAMILY!r} was not found by fc-match nor at "
        f"{', '.join(str(p) for p in candidates) or 'any known path'}; install the Debian "
        f"package {FONT_PACKAGE} (apt-get install {FONT_PACKAGE}); .ci/run installs it"
    )


@dataclass(frozen=True)
class CharMap:
    """The characters a font face maps to a glyph: sorted, non-overlapping code point
    ranges ``[start, end]`` (inclusive)."""

    starts: tuple[int, ...]
    ends: tuple[int, ...]

    def __contains__(self, codepoint: object) -> bool:
        if not isinstance(codepoint, int):
            return False
        index = bisect.bisect_right(self.starts, codepoint) - 1
        return index >= 0 and codepoint <= self.ends[index]

    def codepoints(self) -> Iterable[int]:
        """Every mapped code point, ascending."""
        for start, end in zip(self.starts, self.ends, strict=True):
            yield from range(start, end + 1)

    @classmethod
    def from_codepoints(cls, codepoints: Iterable[int]) -> CharMap:
        """The ranges covering ``codepoints``."""
        starts: list[int] = []
        ends: list[int] = []
        for cp in sorted(set(codepoints)):
            if ends and cp == ends[-1] + 1:
                ends[-1] = cp
            else:
                starts.append(cp)
                ends.append(cp)
        return cls(tuple(starts), tuple(ends))


def _u16(data: bytes, offset: int) -> int:
    return int.from_bytes(data[offset : offset + 2], "big")


def _u32(data: bytes, offset: int) -> int:
    return int.from_bytes(data[offset : offset + 4], "big")


def _face_offsets(data: bytes) -> list[int]:
    if data[:4] == b"ttcf":
        count = _u32(data, 8)
        return [_u32(data, 12 + 4 * i) for i in range(count)]
    return [0]


def _table(data: bytes, face_offset: int, tag: bytes) -> tuple[int, int]:
    count = _u16(data, face_offset + 4)
    for i in range(count):
        record = face_offset + 12 + 16 * i
        if data[record : record + 4] == tag:
            return _u32(data, record + 8), _u32(data, record + 12)
    raise PrinterFontError(f"the font has no {tag.decode()} table")


def _cmap_format12(data: bytes, sub: int) -> list[int]:
    groups = _u32(data, sub + 12)
    found: list[int] = []
    for i in range(groups):
        start, end, glyph = struct.unpack_from(">III", data, sub + 16 + 12 * i)
        # A group mapping its first code point to glyph 0 (.notdef) does not cover it.
        found.extend(range(start + (1 if glyph == 0 else 0), end + 1))
    return found


def _cmap_format4(data: bytes, sub: int) -> list[int]:
    segments = _u16(data, sub + 6) // 2
    ends_at = sub + 14
    starts_at = ends_at + 2 * segments + 2
    deltas_at = starts_at + 2 * segments
    range_offsets_at = deltas_at + 2 * segments
    found: list[int] = []
    for s in range(segments):
        end = _u16(data, ends_at + 2 * s)
        start = _u16(data, starts_at + 2 * s)
        delta = _u16(data, deltas_at + 2 * s)
        range_offset = _u16(data, range_offsets_at + 2 * s)
        for cp in range(start, end + 1):
            if cp == 0xFFFF:
                continue
            if range_offset == 0:
                glyph = (cp + delta) & 0xFFFF
            else:
                at = range_offsets_at + 2 * s + range_offset + 2 * (cp - start)
                glyph = _u16(data, at)
                if glyph:
                    glyph = (glyph + delta) & 0xFFFF
            if glyph:
                found.append(cp)
    return found


def read_cmap(path: Path, face_index: int = 0) -> CharMap:
    """The characters face ``face_index`` of the font file at ``path`` has glyphs for,
    from its ``cmap`` table: the Unicode full-repertoire subtable (format 12) when it
    has one, else the BMP one (format 4).

    Raises:
        PrinterFontError: the file is not a font this reads or has no Unicode cmap.
    """
    try:
        data = path.read_bytes()
        faces = _face_offsets(data)
        if not 0 <= face_index < len(faces):
            raise PrinterFontError(f"{path} has {len(faces)} faces, no face {face_index}")
        cmap, _ = _table(data, faces[face_index], b"cmap")
        best: tuple[int, int] | None = None  # (preference, subtable offset)
        for i in range(_u16(data, cmap + 2)):
            platform, encoding, offset = struct.unpack_from(">HHI", data, cmap + 4 + 8 * i)
            sub = cmap + offset
            fmt = _u16(data, sub)
            unicode_table = platform == 0 or (platform == 3 and encoding in (1, 10))
            if not unicode_table or fmt not in (4, 12):
                continue
            preference = 2 if fmt == 12 else 1
            if best is None or preference > best[0]:
                best = (preference, sub)
        if best is None:
            raise PrinterFontError(f"{path} face {face_index} has no Unicode cmap")
        sub = best[1]
        if _u16(data, sub) == 12:
            return CharMap.from_codepoints(_cmap_format12(data, sub))
        return CharMap.from_codepoints(_cmap_format4(data, sub))
    except (OSError, struct.error, IndexError) as exc:
        raise PrinterFontError(f"cannot read the font {path}: {exc}") from exc


def _face_index(path: Path, family: str) -> int:
    count = len(_face_offsets(path.read_bytes()[:4096]))
    for index in range(count):
        face = ImageFont.truetype(str(path), HALF_WIDTH, index=index)
        if face.getname()[0] == family:
            return index
    raise PrinterFontError(f"{path} holds no face {family!r}; install {FONT_PACKAGE}")


class PrinterFont:
    """The printer's bitmap fonts drawn from the CJK outline font.

    `glyph` gives a character's cell as a black-on-transparent 8-bit mask (0 blank,
    255 black), cached; `covers` says whether the font has a glyph for it.
    """

    def __init__(self, path: Path, face_index: int | None = None) -> None:
        self.path = path
        self.face_index = _face_index(path, FONT_FAMILY) if face_index is None else face_index
        self.charmap = read_cmap(path, self.face_index)
        self._half = ImageFont.truetype(str(path), _HALF_SIZE, index=self.face_index)
        self._full = ImageFont.truetype(str(path), _FULL_SIZE, index=self.face_index)
        self._cache: dict[tuple[str, bool], Image.Image] = {}

    @property
    def family(self) -> str:
        """The face's family name."""
        return str(self._half.getname()[0])

    def covers(self, char: str) -> bool:
        """Whether the font has a glyph for ``char`` (one character)."""
        return ord(char) in self.charmap

    def glyph(self, char: str, full_width: bool) -> Image.Image:
        """The ``L`` mask of ``char`` in a 12x24 (half) or 24x24 (full width) cell:
        centred, squeezed to the cell when the outline is wider, clipped at its top and
        bottom. A space, or a character the font does not cover, is a blank cell."""
        key = (char, full_width)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        width = FULL_WIDTH if full_width else HALF_WIDTH
        cell = Image.new("L", (width, CELL_HEIGHT), 0)
        if char.strip() and self.covers(char):
            font = self._full if full_width else self._half
            baseline = _FULL_BASELINE if full_width else _HALF_BASELINE
            advance = max(1, round(font.getlength(char)))
            drawn = Image.new("L", (max(advance, width), CELL_HEIGHT), 0)
            ImageDraw.Draw(drawn).text((0, baseline), char, fill=255, font=font, anchor="ls")
            if advance > width:
                drawn = drawn.crop((0, 0, advance, CELL_HEIGHT)).resize(
                    (width, CELL_HEIGHT), Image.Resampling.BILINEAR
                )
                cell.paste(drawn, (0, 0))
            else:
                cell.paste(drawn.crop((0, 0, advance, CELL_HEIGHT)), ((width - advance) // 2, 0))
            # A thermal head has no grey: a dot is black or not.
            cell = cell.point(lambda v: 255 if v >= 112 else 0)
        self._cache[key] = cell
        return cell


_LOADED: dict[Path | None, PrinterFont] = {}


def load_printer_font(path: Path | None = None) -> PrinterFont:
    """The printer font (found with `find_cjk_font` unless ``path`` is given), found and
    loaded once per process.

    Raises:
        PrinterFontError: the font is not installed (the message names the package).
    """
    loaded = _LOADED.get(path)
    if loaded is None:
        loaded = load_printer_font(find_cjk_font()) if path is None else PrinterFont(path)
        _LOADED[path] = loaded
    return loaded
