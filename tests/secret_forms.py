"""Searching captured text and bytes for a secret in every form it could leak in.

A PIN or a key can leave a program in many spellings: the digits as text, their hex
(either case, with or without separators), UTF-16 (UCS-2LE), base64 at any alignment
inside a longer base64 string, packed BCD (``4729`` as ``47 29``) as raw bytes or as a
bytes repr, the names of the keys pressed. `Secret` lists those spellings; `leaks`
finds every one in a set of haystacks (strings or bytes) and says where.

The forms are long enough (a test PIN of 8 digits, 16-byte keys) that a chance match
in random key material, ciphertext or timestamps is practically impossible: every form
is at least 4 bytes, and every base64 form at least 4 characters.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

__all__ = ["Found", "Secret", "b64_forms", "key_secret", "leaks", "pin_secret"]

_DIGIT_NAMES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


def b64_forms(raw: bytes) -> list[bytes]:
    """The base64 characters that encode ``raw`` alone, at each of the three alignments
    it can have inside a longer base64 string (characters mixing in a neighbour's bits,
    or padding, are left out)."""
    forms: list[bytes] = []
    for offset in range(3):
        encoded = base64.b64encode(bytes(offset) + raw)
        start_bit, end_bit = 8 * offset, 8 * (offset + len(raw))
        chars = [
            encoded[i : i + 1]
            for i in range(len(encoded))
            if 6 * i >= start_bit and 6 * i + 6 <= end_bit
        ]
        forms.append(b"".join(chars))
    return forms


def _hex_forms(raw: bytes) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    for case, text in (("lower", raw.hex()), ("upper", raw.hex().upper())):
        out[f"hex {case}"] = text.encode()
        for sep, label in ((" ", "spaced"), (":", "colons"), ("-", "dashes")):
            spaced = sep.join(text[i : i + 2] for i in range(0, len(text), 2))
            out[f"hex {case} {label}"] = spaced.encode()
        out[f"hex {case} UCS-2LE"] = text.encode("utf-16-le")
        out[f"hex {case} \\x escapes"] = "".join(
            f"\\x{text[i : i + 2]}" for i in range(0, len(text), 2)
        ).encode()
    return out


@dataclass(frozen=True, repr=False)
class Secret:
    """A secret and the byte patterns (and regular expressions) that would reveal it.

    Attributes:
        name: what it is, for messages (never its value).
        patterns: form name -> bytes that must not appear.
        regexes: form name -> a pattern over text that must not match.
    """

    name: str
    patterns: dict[str, bytes] = field(default_factory=dict)
    regexes: dict[str, re.Pattern[bytes]] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"Secret({self.name!r}, {len(self.patterns) + len(self.regexes)} forms)"

    def forms(self) -> list[str]:
        return [*self.patterns, *self.regexes]


def pin_secret(pin: str, name: str = "PIN") -> Secret:
    """The forms of a PIN: ASCII, hex of the ASCII (both cases, separated or not),
    UCS-2LE, base64 of the ASCII and of the BCD, BCD nibbles (packed digits, as raw
    bytes and as a bytes repr), and the names of the digit keys in order."""
    if not pin.isdigit() or len(pin) % 2 or len(pin) < 8:
        raise ValueError("the secrecy tests use an even PIN of at least 8 digits")
    ascii_ = pin.encode()
    bcd = bytes.fromhex(pin)
    patterns: dict[str, bytes] = {
        "ASCII": ascii_,
        "UCS-2LE": pin.encode("utf-16-le"),
        "UCS-2BE": pin.encode("utf-16-be"),
        "UCS-2LE repr": repr(pin.encode("utf-16-le"))[2:-1].encode(),
        "BCD": bcd,
        "BCD repr": repr(bcd)[2:-1].encode(),
    }
    patterns.update({f"ASCII {k}": v for k, v in _hex_forms(ascii_).items()})
    # The hex of the BCD is the digits themselves ("ASCII"); spaced, it is not.
    patterns.update(
        {f"BCD {k}": v for k, v in _hex_forms(bcd).items() if "spaced" in k or "colons" in k}
    )
    for n, form in enumerate(b64_forms(ascii_)):
        patterns[f"base64 of ASCII, alignment {n}"] = form
    for n, form in enumerate(b64_forms(bcd)):
        patterns[f"base64 of BCD, alignment {n}"] = form
    names = rb"\W{0,8}".join(_DIGIT_NAMES[int(d)].encode() for d in pin)
    regexes = {"digit key names": re.compile(names, re.IGNORECASE)}
    return Secret(name, patterns, regexes)


def key_secret(key: bytes, name: str) -> Secret:
    """The forms of a key: raw bytes, hex (both cases, separated or not; of the whole
    key and of each 8-byte half), UCS-2LE of the hex, base64, a bytes repr."""
    if len(key) < 8:
        raise ValueError("keys are at least 8 bytes")
    patterns: dict[str, bytes] = {}
    parts = {"whole": key}
    if len(key) >= 16:
        parts.update({"first half": key[: len(key) // 2], "second half": key[len(key) // 2 :]})
    for part, raw in parts.items():
        patterns[f"{part} raw"] = raw
        patterns[f"{part} repr"] = repr(raw)[2:-1].encode()
        patterns.update({f"{part} {k}": v for k, v in _hex_forms(raw).items()})
        for n, form in enumerate(b64_forms(raw)):
            patterns[f"{part} base64, alignment {n}"] = form
    return Secret(name, patterns)


@dataclass(frozen=True)
class Found:
    """One leak: which secret, in which form, in which haystack."""

    secret: str
    form: str
    where: str


def _as_bytes(hay: str | bytes) -> bytes:
    return hay.encode("utf-8", "surrogatepass") if isinstance(hay, str) else bytes(hay)


def leaks(secrets: Sequence[Secret], haystacks: Iterable[tuple[str, str | bytes]]) -> list[Found]:
    """Every form of every secret found in the haystacks (``(where, text or bytes)``)."""
    found: list[Found] = []
    for where, hay in haystacks:
        data = _as_bytes(hay)
        for secret in secrets:
            for form, pattern in secret.patterns.items():
                if pattern in data:
                    found.append(Found(secret.name, form, where))
            for form, regex in secret.regexes.items():
                if regex.search(data):
                    found.append(Found(secret.name, form, where))
    return found
