"""ISO/IEC 7811 / 7813 magnetic-stripe tracks 1, 2 and 3: parse, build, LRC and masking.

Spoken by every magnetic (or hybrid) card reader: the CRT-310 and Sankyo ICT3Q8 return
track characters in their replies, usually without the start sentinel (SS), end sentinel
(ES) and LRC; some readers pass them through. This module accepts both.

| track | bits/char | base | character set | SS | separator | max characters |
|-------|-----------|------|---------------|----|-----------|----------------|
| 1     | 6 + parity | 0x20 | 0x20-0x5F    | %  | ^         | 79             |
| 2     | 4 + parity | 0x30 | 0x30-0x3F    | ;  | =         | 40             |
| 3     | 4 + parity | 0x30 | 0x30-0x3F    | ;  | =         | 107            |

The maximum counts the SS, ES (``?``) and LRC, so the content between the sentinels is
at most 76 / 37 / 104 characters. The LRC is the XOR of the data bits (parity excluded)
of every character from SS through ES; it is itself a track character.

Layouts (ISO/IEC 7813 financial cards)::

    track 1:  %B PAN ^ NAME ^ YYMM SVC discretionary ? LRC
    track 2:  ;  PAN = YYMM SVC discretionary ? LRC

Source of facts: reference/protocols.md §2.4 and §7 (Track LRC rows, constructed there).
Track data is cardholder data: the dataclasses here mask the PAN and hide the name and
discretionary data in ``repr()``, and no error message carries track characters.
"""

from __future__ import annotations

from dataclasses import dataclass

from protocols.checksums import xor_of_values
from protocols.errors import ChecksumError, FramingError, ProtocolError

__all__ = [
    "RawTrack",
    "Track1Data",
    "Track2Data",
    "Track3Data",
    "build_track1",
    "build_track2",
    "build_track3",
    "charset",
    "content_problem",
    "encode_track",
    "hidden",
    "lrc",
    "luhn_valid",
    "mask_pan",
    "parse_track1",
    "parse_track2",
    "parse_track3",
    "read_track",
]

END_SENTINEL = "?"


@dataclass(frozen=True, slots=True)
class _Spec:
    number: int
    base: int
    mask: int
    start: str
    separator: str
    max_chars: int

    @property
    def high(self) -> int:
        return self.base + self.mask

    @property
    def max_content(self) -> int:
        return self.max_chars - 3


_SPECS = {
    1: _Spec(1, 0x20, 0x3F, "%", "^", 79),
    2: _Spec(2, 0x30, 0x0F, ";", "=", 40),
    3: _Spec(3, 0x30, 0x0F, ";", "=", 107),
}


def _spec(track_no: int) -> _Spec:
    try:
        return _SPECS[track_no]
    except KeyError:
        raise ValueError(f"track number must be 1, 2 or 3, got {track_no!r}") from None


def _as_bytes(track_no: int, chars: bytes | bytearray | str) -> bytes:
    if isinstance(chars, str):
        try:
            return chars.encode("ascii")
        except UnicodeEncodeError as exc:
            raise ProtocolError(
                f"track {track_no}: character at position {exc.start} is not ASCII"
            ) from exc
    return bytes(chars)


def _check_charset(spec: _Spec, raw: bytes) -> None:
    for index, byte in enumerate(raw):
        if not spec.base <= byte <= spec.high:
            raise ProtocolError(
                f"track {spec.number}: character 0x{byte:02X} at position {index} is outside "
                f"0x{spec.base:02X}-0x{spec.high:02X}"
            )


def lrc(track_no: int, chars: bytes | bytearray | str) -> str:
    """The LRC character of a track, computed over ``chars``.

    Args:
        track_no: 1, 2 or 3.
        chars: the characters from the start sentinel through the end sentinel.

    Returns:
        The LRC as a one-character string of the track's character set.

    Raises:
        ProtocolError: a character is outside the track's character set.
    """
    spec = _spec(track_no)
    raw = _as_bytes(track_no, chars)
    _check_charset(spec, raw)
    return chr(spec.base + (xor_of_values(raw, spec.base) & spec.mask))


def hidden(text: str) -> str:
    """How a secret text field appears in a ``repr()``: its length only."""
    return f"<{len(text)} chars hidden>"


def mask_pan(pan: str) -> str:
    """Mask a primary account number for display.

    PANs of 15 or more characters keep the first 6 and last 4 (the PCI DSS maximum);
    10 to 14 keep only the last 4; shorter ones are masked entirely. Every other
    character becomes ``*`` so the length stays visible.

    Args:
        pan: the PAN digits (any text is masked the same way).

    Returns:
        The masked PAN.
    """
    n = len(pan)
    if n >= 15:
        return pan[:6] + "*" * (n - 10) + pan[-4:]
    if n >= 10:
        return "*" * (n - 4) + pan[-4:]
    return "*" * n


def luhn_valid(pan: str) -> bool:
    """Whether ``pan`` is a non-empty string of ASCII digits passing the Luhn check."""
    if not pan or not pan.isascii() or not pan.isdigit():
        return False
    total = 0
    for index, char in enumerate(reversed(pan)):
        digit = ord(char) - 0x30
        if index % 2:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


@dataclass(frozen=True, slots=True, repr=False)
class RawTrack:
    """One track as a reader returned it, validated, with what framing it carried.

    Attributes:
        track: 1, 2 or 3.
        content: the characters between the sentinels.
        start_sentinel: the input began with the start sentinel.
        end_sentinel: the input carried the end sentinel.
        lrc: the input carried an LRC after the end sentinel (it was verified).
    """

    track: int
    content: str
    start_sentinel: bool = True
    end_sentinel: bool = True
    lrc: bool = True

    def __post_init__(self) -> None:
        spec = _spec(self.track)
        message = _content_problem(spec, self.content)
        if message:
            raise ValueError(message)
        if self.lrc and not self.end_sentinel:
            raise ValueError("an LRC follows the end sentinel: lrc requires end_sentinel")

    def to_bytes(self) -> bytes:
        """The track characters with exactly the framing this object records."""
        spec = _SPECS[self.track]
        framed = spec.start + self.content + END_SENTINEL
        out = spec.start if self.start_sentinel else ""
        out += self.content
        if self.end_sentinel:
            out += END_SENTINEL
        if self.lrc:
            out += lrc(self.track, framed)
        return out.encode("ascii")

    def __repr__(self) -> str:
        return (
            f"RawTrack(track={self.track}, content={hidden(self.content)}, "
            f"start_sentinel={self.start_sentinel}, end_sentinel={self.end_sentinel}, "
            f"lrc={self.lrc})"
        )


def charset(track_no: int) -> tuple[int, int]:
    """The lowest and highest character code track ``track_no`` (1, 2 or 3) can hold."""
    spec = _spec(track_no)
    return spec.base, spec.high


def content_problem(track_no: int, content: str | bytes | bytearray) -> str | None:
    """Why ``content`` cannot sit between the sentinels of a track, or None if it can.

    For callers that validate track data for their own error class (a service's
    ``InvalidData``, a profile's ``ConfigurationError``). The message names a length,
    a position and a character code, never the data.

    Args:
        track_no: 1, 2 or 3.
        content: the characters without sentinels and LRC (bytes are taken one
            character per byte).
    """
    text = content if isinstance(content, str) else bytes(content).decode("latin-1")
    return _content_problem(_spec(track_no), text)


def _content_problem(spec: _Spec, content: str) -> str | None:
    """Why ``content`` cannot sit between a track's sentinels, or None if it can."""
    if len(content) > spec.max_content:
        return (
            f"track {spec.number}: content is {len(content)} characters, at most "
            f"{spec.max_content} fit ({spec.max_chars} with sentinels and LRC)"
        )
    for index, char in enumerate(content):
        code = ord(char)
        if not spec.base <= code <= spec.high:
            return (
                f"track {spec.number}: character 0x{code:02X} at position {index} is outside "
                f"0x{spec.base:02X}-0x{spec.high:02X}"
            )
        if char in (spec.start, END_SENTINEL):
            return f"track {spec.number}: sentinel 0x{code:02X} inside the data at position {index}"
    return None


def read_track(track_no: int, raw: bytes | bytearray | str) -> RawTrack:
    """Validate one track and split off its sentinels and LRC.

    Accepts ``[SS] content [ES [LRC]]``: readers differ in what framing they pass on.
    When the LRC is there it is verified (an absent SS counts as present, since the
    LRC always covers it).

    Args:
        track_no: 1, 2 or 3.
        raw: the characters as bytes, or as text.

    Returns:
        The validated track.

    Raises:
        FramingError: empty input, or more than one character after the end sentinel.
        ChecksumError: the LRC does not match.
        ProtocolError: a character outside the track's set, or too long.
    """
    spec = _spec(track_no)
    data = _as_bytes(track_no, raw)
    if not data:
        raise FramingError(f"track {track_no}: no characters")
    _check_charset(spec, data)
    text = data.decode("ascii")
    start = text.startswith(spec.start)
    body = text[1:] if start else text
    end_at = body.find(END_SENTINEL)
    has_lrc = False
    if end_at < 0:
        content = body
    else:
        content, tail = body[:end_at], body[end_at + 1 :]
        if len(tail) > 1:
            raise FramingError(
                f"track {track_no}: {len(tail)} characters after the end sentinel, "
                "expected at most 1 (the LRC)"
            )
        if tail:
            has_lrc = True
            expected = lrc(track_no, spec.start + content + END_SENTINEL)
            if tail != expected:
                raise ChecksumError(f"track {track_no}: LRC is {tail!r}, expected {expected!r}")
    problem = _content_problem(spec, content)
    if problem:
        raise ProtocolError(problem)
    return RawTrack(track_no, content, start, end_at >= 0, has_lrc)


def encode_track(track_no: int, content: str) -> bytes:
    """``SS content ES LRC`` for a track.

    Raises:
        ValueError: ``content`` does not fit the track (a caller mistake).
    """
    return RawTrack(track_no, content).to_bytes()


def _digits(text: str) -> bool:
    return text.isascii() and text.isdigit()


def _tail_problem(track_no: int, expiry: str, service_code: str) -> str | None:
    if len(expiry) != 4 or not _digits(expiry):
        return f"track {track_no}: expiry must be 4 digits YYMM"
    if len(service_code) != 3 or not _digits(service_code):
        return f"track {track_no}: service code must be 3 digits"
    return None


def _pan_problem(track_no: int, pan: str) -> str | None:
    if not 1 <= len(pan) <= 19 or not _digits(pan):
        return f"track {track_no}: PAN must be 1 to 19 digits, got {len(pan)} characters"
    return None


@dataclass(frozen=True, slots=True, repr=False)
class Track1Data:
    """The fields of an ISO/IEC 7813 track 1 (format code B).

    Attributes:
        pan: primary account number, 1 to 19 digits.
        name: cardholder name, 2 to 26 characters, conventionally ``SURNAME/GIVEN``.
        expiry: ``YYMM``.
        service_code: 3 digits.
        discretionary: issuer data (may hold the CVV and PIN verification data).
    """

    pan: str
    name: str
    expiry: str
    service_code: str
    discretionary: str = ""

    def __post_init__(self) -> None:
        problem = _track1_problem(self)
        if problem:
            raise ValueError(problem)

    def __repr__(self) -> str:
        return (
            f"Track1Data(pan={mask_pan(self.pan)!r}, name={hidden(self.name)}, "
            f"expiry={self.expiry!r}, service_code={self.service_code!r}, "
            f"discretionary={hidden(self.discretionary)})"
        )


def _track1_problem(data: Track1Data) -> str | None:
    problem = _pan_problem(1, data.pan) or _tail_problem(1, data.expiry, data.service_code)
    if problem:
        return problem
    if not 2 <= len(data.name) <= 26 or "^" in data.name:
        return f"track 1: name must be 2 to 26 characters without '^', got {len(data.name)}"
    return _content_problem(_SPECS[1], _track1_content(data))


def _track1_content(data: Track1Data) -> str:
    return f"B{data.pan}^{data.name}^{data.expiry}{data.service_code}{data.discretionary}"


@dataclass(frozen=True, slots=True, repr=False)
class Track2Data:
    """The fields of an ISO/IEC 7813 track 2.

    Attributes:
        pan: primary account number, 1 to 19 digits.
        expiry: ``YYMM``.
        service_code: 3 digits.
        discretionary: issuer data (may hold the CVV and PIN verification data).
    """

    pan: str
    expiry: str
    service_code: str
    discretionary: str = ""

    def __post_init__(self) -> None:
        problem = _pan_problem(2, self.pan) or _tail_problem(2, self.expiry, self.service_code)
        problem = problem or _content_problem(_SPECS[2], _track2_content(self))
        if problem:
            raise ValueError(problem)

    def __repr__(self) -> str:
        return (
            f"Track2Data(pan={mask_pan(self.pan)!r}, expiry={self.expiry!r}, "
            f"service_code={self.service_code!r}, discretionary={hidden(self.discretionary)})"
        )


def _track2_content(data: Track2Data) -> str:
    return f"{data.pan}={data.expiry}{data.service_code}{data.discretionary}"


@dataclass(frozen=True, slots=True, repr=False)
class Track3Data:
    """Track 3 content: validated characters, no field layout imposed.

    Attributes:
        content: the characters between the sentinels.
    """

    content: str

    def __post_init__(self) -> None:
        problem = _content_problem(_SPECS[3], self.content)
        if problem:
            raise ValueError(problem)

    def __repr__(self) -> str:
        return f"Track3Data(content={hidden(self.content)})"


def parse_track1(raw: bytes | bytearray | str) -> Track1Data:
    """Parse track 1 (format code B), with or without SS / ES / LRC.

    Raises:
        ProtocolError: (or its ``ChecksumError``/``FramingError`` subclasses) the track
            is malformed; the message names the field, never its value.
    """
    content = read_track(1, raw).content
    if not content.startswith("B"):
        shown = f"0x{ord(content[0]):02X}" if content else "nothing"
        raise ProtocolError(f"track 1: format code is {shown}, expected 'B'")
    parts = content[1:].split("^", 2)
    if len(parts) != 3:
        raise ProtocolError(f"track 1: expected 2 field separators '^', found {len(parts) - 1}")
    pan, name, tail = parts
    problem = _pan_problem(1, pan) or _tail_problem(1, tail[:4], tail[4:7])
    if problem:
        raise ProtocolError(problem)
    if not 2 <= len(name) <= 26:
        raise ProtocolError(f"track 1: name must be 2 to 26 characters, got {len(name)}")
    return Track1Data(pan, name, tail[:4], tail[4:7], tail[7:])


def parse_track2(raw: bytes | bytearray | str) -> Track2Data:
    """Parse track 2, with or without SS / ES / LRC.

    Raises:
        ProtocolError: (or a subclass) the track is malformed.
    """
    content = read_track(2, raw).content
    pan, separator, tail = content.partition("=")
    if not separator:
        raise ProtocolError("track 2: no field separator '='")
    problem = _pan_problem(2, pan) or _tail_problem(2, tail[:4], tail[4:7])
    if problem:
        raise ProtocolError(problem)
    return Track2Data(pan, tail[:4], tail[4:7], tail[7:])


def parse_track3(raw: bytes | bytearray | str) -> Track3Data:
    """Parse track 3, with or without SS / ES / LRC: validated content only.

    Raises:
        ProtocolError: (or a subclass) the track is malformed.
    """
    return Track3Data(read_track(3, raw).content)


def build_track1(data: Track1Data) -> bytes:
    """``%B PAN ^ NAME ^ YYMM SVC DD ? LRC``."""
    return encode_track(1, _track1_content(data))


def build_track2(data: Track2Data) -> bytes:
    """``; PAN = YYMM SVC DD ? LRC``."""
    return encode_track(2, _track2_content(data))


def build_track3(data: Track3Data) -> bytes:
    """``; content ? LRC``."""
    return encode_track(3, data.content)
