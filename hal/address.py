"""Device addresses: ``[spy+]DRIVER[+TRANSPORT]://[AUTHORITY][/PATH][?KEY=VALUE&...]``.

A strict parser of our own (not `urllib`, which accepts almost anything and guesses),
in the manner of PyVISA's resource names: a `DeviceAddress` is a frozen dataclass with
decoded fields and a canonical `str()`, and a bad address is a `ConfigurationError`
saying at which column what was expected.

Examples::

    crt310+serial:///dev/ttyUSB0?baud=9600
    escpos+usb://?vid=0x0416&pid=0x5011&serial=A1
    pcsc://ACS%20ACR39U%2000
    zmq://127.0.0.1:5740/card_reader
    zmq+ipc:///run/tellerhal/kiosk.sock/card_reader
    sim://card_reader?profile=visa
    spy+crt310+serial:///dev/ttyS0

The grammar:

- the **scheme** is one to three names joined by ``+``: an optional ``spy`` prefix (a
  transport wrapper that hex-dumps the traffic), the driver, an optional transport.
  A name is a lower-case ASCII letter followed by letters, digits, ``_`` or ``-``;
- ``://`` follows the scheme;
- the **authority** runs to the first ``/`` or ``?``; the **path**, which keeps its
  leading ``/``, runs to the first ``?``;
- the **options** follow ``?``: ``KEY=VALUE`` items joined by ``&``. A key is a Python
  identifier; a value runs to the next ``&`` (so it may hold ``=``); a key may appear
  once. ``+`` is a plus sign, not a space (this is not HTML form encoding).

Anything outside the characters each part allows raw (a space, ``%``, ``#``, a
non-ASCII letter, ``/`` inside the authority, ``&`` inside a value...) is written as
``%XX`` escapes of its UTF-8 bytes. Fields hold the decoded text; `str()` writes the
canonical form, escaping exactly what must be escaped, so ``parse(str(a)) == a``.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from hal.errors import ConfigurationError

__all__ = ["SPY", "DeviceAddress", "is_name"]

#: The scheme prefix that wraps the transport in a traffic dump.
SPY = "spy"

_NAME = re.compile(r"[a-z][a-z0-9_-]*\Z")
_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_SCHEME_CHARS = frozenset(string.ascii_lowercase + string.digits + "_-+")
_UNRESERVED = frozenset(string.ascii_letters + string.digits + "-._~")
_SUB_DELIMS = frozenset("!$&'()*+,;=")
# What each part may hold without escaping; everything else is %XX.
_AUTHORITY_RAW = _UNRESERVED | _SUB_DELIMS | frozenset(":@[]")
_PATH_RAW = _UNRESERVED | _SUB_DELIMS | frozenset(":@/")
_VALUE_RAW = (_UNRESERVED | _SUB_DELIMS | frozenset(":@/?")) - {"&"}
_HEX = frozenset(string.hexdigits)


def is_name(text: str) -> bool:
    """True if ``text`` can be a driver or transport name in a scheme."""
    return bool(_NAME.match(text))


class _Options(Mapping[str, str]):
    """An immutable, ordered ``str -> str`` mapping (the options of an address)."""

    __slots__ = ("_items",)

    def __init__(self, items: Mapping[str, str] | None = None) -> None:
        self._items: dict[str, str] = dict(items or {})

    def __getitem__(self, key: str) -> str:
        return self._items[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        return hash(frozenset(self._items.items()))

    def __repr__(self) -> str:
        return repr(self._items)


@dataclass(frozen=True, kw_only=True, repr=False)
class DeviceAddress:
    """A parsed device address; build one with `parse()` or by keywords.

    Two addresses are equal when every field is; options given in another order are
    still equal (``str()`` keeps the order given).

    Attributes:
        driver: the driver's registry name (``crt310``, ``sim``, ``zmq``).
        transport: the transport's registry name (``serial``, ``usb``), or ``None``.
        authority: the decoded authority (``127.0.0.1:5740``, ``ACS ACR39U 00``).
        path: the decoded path with its leading ``/``, or ``""``.
        options: the decoded ``KEY=VALUE`` options, in the order given.
        spy: the ``spy+`` prefix: dump the transport's traffic.
    """

    driver: str
    transport: str | None = None
    authority: str = ""
    path: str = ""
    options: Mapping[str, str] = field(default_factory=_Options)
    spy: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.driver, str) or not is_name(self.driver) or self.driver == SPY:
            raise ConfigurationError(
                f"a driver name is a lower-case letter followed by letters, digits, '_' or "
                f"'-', and not {SPY!r}; got {self.driver!r}"
            )
        if self.transport is not None and (not is_name(self.transport) or self.transport == SPY):
            raise ConfigurationError(
                f"a transport name is a lower-case letter followed by letters, digits, '_' "
                f"or '-', and not {SPY!r}; got {self.transport!r}"
            )
        _check_text("authority", self.authority)
        _check_text("path", self.path)
        if self.path and not self.path.startswith("/"):
            raise ConfigurationError(f"a path starts with '/'; got {self.path!r}")
        options = _Options(self.options)
        for key, value in options.items():
            if not isinstance(key, str) or not _KEY.match(key):
                raise ConfigurationError(f"an option name is an identifier; got {key!r}")
            _check_text(f"option {key!r}", value)
        object.__setattr__(self, "options", options)

    @classmethod
    def parse(cls, text: str) -> DeviceAddress:
        """Parse an address.

        Args:
            text: ``[spy+]DRIVER[+TRANSPORT]://[AUTHORITY][/PATH][?KEY=VALUE&...]``.

        Raises:
            ConfigurationError: ``text`` is not such an address; the message quotes it
                and says at which (1-based) column what was expected.
        """
        if not isinstance(text, str):
            raise TypeError(f"an address is a str, not {type(text).__name__}")
        return _Parser(text).parse()

    @property
    def scheme(self) -> str:
        """The scheme as written: ``spy+crt310+serial``."""
        names = [SPY] if self.spy else []
        names.append(self.driver)
        if self.transport is not None:
            names.append(self.transport)
        return "+".join(names)

    @property
    def location(self) -> str:
        """The address without its options: ``crt310+serial:///dev/ttyUSB0``."""
        return (
            f"{self.scheme}://{_encode(self.authority, _AUTHORITY_RAW)}"
            f"{_encode(self.path, _PATH_RAW)}"
        )

    def with_options(self, updates: Mapping[str, str | None]) -> DeviceAddress:
        """A copy with options set (``None`` removes one); others keep their order.

        Args:
            updates: options to set or, with ``None``, to remove. New keys go last.

        Raises:
            ConfigurationError: a key is not an identifier.
        """
        merged = dict(self.options)
        for key, value in updates.items():
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = value
        return DeviceAddress(
            driver=self.driver,
            transport=self.transport,
            authority=self.authority,
            path=self.path,
            options=merged,
            spy=self.spy,
        )

    def __str__(self) -> str:
        if not self.options:
            return self.location
        query = "&".join(f"{k}={_encode(v, _VALUE_RAW)}" for k, v in self.options.items())
        return f"{self.location}?{query}"

    def __repr__(self) -> str:
        return f"DeviceAddress({str(self)!r})"


def _check_text(what: str, value: Any) -> None:
    if not isinstance(value, str):
        raise ConfigurationError(f"the {what} of an address is a str; got {value!r}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ConfigurationError(f"the {what} of an address is not valid text: {exc}") from exc


def _key_char(c: str, index: int) -> bool:
    """True if ``c`` may stand at ``index`` of an option name (an identifier)."""
    return c.isascii() and (c.isalpha() or c == "_" or (index > 0 and c.isdigit()))


def _encode(text: str, raw: frozenset[str]) -> str:
    return "".join(c if c in raw else "".join(f"%{b:02X}" for b in c.encode()) for c in text)


class _Parser:
    """One pass over an address, left to right, with positions for the errors."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def error(self, message: str, pos: int) -> ConfigurationError:
        shown = self.text if len(self.text) <= 200 else self.text[:200] + "..."
        quoted = f'"{shown}"' if shown.isprintable() else repr(shown)
        return ConfigurationError(f"{quoted}: {message} at column {pos + 1}")

    def parse(self) -> DeviceAddress:
        spy, driver, transport = self.scheme()
        authority = self.component("/?", _AUTHORITY_RAW)
        path = self.component("?", _PATH_RAW) if self.peek() == "/" else ""
        options: dict[str, str] = {}
        if self.peek() == "?":
            self.pos += 1
            options = self.options()
        return DeviceAddress(
            spy=spy,
            driver=driver,
            transport=transport,
            authority=authority,
            path=path,
            options=options,
        )

    def peek(self) -> str:
        return self.text[self.pos : self.pos + 1]

    def scheme(self) -> tuple[bool, str, str | None]:
        text = self.text
        end = 0
        while end < len(text) and text[end] in _SCHEME_CHARS:
            end += 1
        if not text.startswith("://", end):
            if end == 0 and text[:1] in ("", ":"):
                raise self.error("expected a driver name", 0)
            if end < len(text) and text[end] != ":":
                raise self.error(
                    f"illegal character {text[end]!r} in the scheme: expected a lower-case "
                    f"letter, digit, '_', '-', '+' or '://'",
                    end,
                )
            raise self.error("expected '://' after the scheme", end)
        names: list[tuple[str, int]] = []
        start = 0
        for part in text[:end].split("+"):
            names.append((part, start))
            start += len(part) + 1
        for name, at in names:
            if not name:
                raise self.error("expected a name in the scheme", at)
            if not name[0].isalpha():
                raise self.error(f"a scheme name starts with a letter, not {name[0]!r}", at)
        spy = names[0][0] == SPY
        if spy:
            names = names[1:]
            if not names:
                raise self.error(f"{SPY!r} is a prefix: expected 'spy+DRIVER'", len(SPY))
        if len(names) > 2:
            raise self.error(
                "too many names in the scheme: expected [spy+]DRIVER[+TRANSPORT]",
                names[2][1] - 1,
            )
        for name, at in names:
            if name == SPY:
                raise self.error(f"{SPY!r} may only come first in the scheme", at)
        self.pos = end + 3
        return spy, names[0][0], names[1][0] if len(names) == 2 else None

    def component(self, stops: str, raw: frozenset[str]) -> str:
        """Decode up to (not including) the first character of ``stops`` or the end."""
        start = self.pos
        end = start
        while end < len(self.text) and self.text[end] not in stops:
            end += 1
        self.pos = end
        return self.decode(start, end, raw)

    def decode(self, start: int, end: int, raw: frozenset[str]) -> str:
        text = self.text
        out = bytearray()
        i = start
        while i < end:
            c = text[i]
            if c == "%":
                hex_digits = text[i + 1 : i + 3]
                if len(hex_digits) < 2 or i + 3 > end or not set(hex_digits) <= _HEX:
                    bad = text[i : min(i + 3, end)]
                    raise self.error(
                        f"bad percent escape {bad!r}: expected '%' and two hex digits", i
                    )
                out.append(int(hex_digits, 16))
                i += 3
                continue
            if c not in raw:
                escaped = _encode(c, frozenset())
                raise self.error(f"character {c!r} must be percent-encoded ({escaped})", i)
            out.append(ord(c))
            i += 1
        try:
            return out.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise self.error(
                "the percent escapes do not form UTF-8 text", self._byte_column(start, exc.start)
            ) from exc

    def _byte_column(self, start: int, byte_index: int) -> int:
        """The column of the character that produced byte ``byte_index`` of a part."""
        i, seen = start, 0
        while seen < byte_index:
            i += 3 if self.text[i] == "%" else 1
            seen += 1
        return i

    def options(self) -> dict[str, str]:
        text = self.text
        options: dict[str, str] = {}
        columns: dict[str, int] = {}
        if self.pos == len(text):
            raise self.error("expected an option after '?'", self.pos)
        while True:
            start = self.pos
            end = text.find("&", start)
            end = len(text) if end < 0 else end
            if start == end:
                raise self.error("expected an option (KEY=VALUE)", start)
            equals = text.find("=", start, end)
            key_end = end if equals < 0 else equals
            key = text[start:key_end]
            bad = next((i for i, c in enumerate(key) if not _key_char(c, i)), None)
            if bad is not None:
                wanted = "a letter or '_'" if bad == 0 else "a letter, digit or '_'"
                raise self.error(
                    f"illegal character {key[bad]!r} in an option name: expected {wanted}",
                    start + bad,
                )
            if not key:
                raise self.error("expected an option name before '='", start)
            if equals < 0:
                raise self.error(f"expected '=' after option {key!r}", end)
            if key in options:
                raise self.error(
                    f"duplicate option {key!r} (already given at column {columns[key] + 1})",
                    start,
                )
            options[key] = self.decode(equals + 1, end, _VALUE_RAW)
            columns[key] = start
            if end == len(text):
                return options
            self.pos = end + 1
