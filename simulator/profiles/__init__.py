"""Test card profiles: what a simulated card holds, as versioned TOML data files.

Each ``<name>.toml`` beside this module describes one card::

    version = 1                  # required; other versions are refused
    description = "..."
    extends = "visa"             # optional: start from another profile, replace sections

    [behaviour]
    jams = false                 # the card jams on its way in (mediaJam)
    never_taken = false          # its customer never takes it back from the exit

    [tracks]                     # characters without start/end sentinel and LRC
    track1 = "B4761739001010010^TEST/VISA CARD^2812201..."
    track2 = "4761739001010010=2812201..."
    track3 = "..."
    invalid = ["track1"]         # tracks holding garbled data (read as dataInvalid)

    [chip]                       # absent: no chip
    protocol = "T1"              # the protocol the card offers first
    atr_t0 = "3B 69 ..."         # the ATR when it runs T=0 (hex)
    atr_t1 = "3B E9 ..."         # the ATR when it runs T=1 (hex)
    pse = true                   # it has the 1PAY.SYS.DDF01 directory

    [[chip.applications]]
    aid = "A0000000031010"
    label = "VISA CREDIT"
    priority = 1
    pdol = ""                    # hex of the PDOL (tag/length list), optional
    aip = "1800"
    afl = "08010100 10010201"
    [[chip.applications.records]]
    sfi = 1
    record = 1
    data = "57 13 ..."           # hex of the record's BER-TLV objects (inside template 70)

Hex may contain spaces and newlines. Track data and chip data are secrets: the
dataclasses here never print them.
"""

from __future__ import annotations

import functools
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

from hal.devices.card_reader import Track
from hal.errors import ConfigurationError
from hal.stimulus import CardSample
from protocols import tlv
from protocols.errors import ProtocolError
from protocols.tracks import content_problem
from simulator.tomlcheck import check_keys, typed

__all__ = [
    "PROFILE_VERSION",
    "CardProfile",
    "ChipProfile",
    "EmvApplication",
    "EmvRecord",
    "dol_length",
    "load_card_profile",
    "load_card_profile_file",
    "profile_names",
]

PROFILE_VERSION = 1

_NAME = re.compile(r"^[a-z0-9_]+$")
_TOP_KEYS = frozenset({"version", "description", "extends", "behaviour", "tracks", "chip"})
_BEHAVIOUR_KEYS = frozenset({"jams", "never_taken"})
_TRACK_KEYS = frozenset({"track1", "track2", "track3", "invalid"})
_CHIP_KEYS = frozenset({"protocol", "atr_t0", "atr_t1", "pse", "applications"})
_APP_KEYS = frozenset({"aid", "label", "priority", "language", "pdol", "aip", "afl", "records"})
_RECORD_KEYS = frozenset({"sfi", "record", "data"})
_MAG_TRACKS = (Track.TRACK1, Track.TRACK2, Track.TRACK3)


@dataclass(frozen=True, repr=False)
class EmvRecord:
    """One record of an application elementary file.

    Attributes:
        sfi: the short file identifier (1-30).
        record: the record number (1-254).
        data: the TLV objects inside the record's ``70`` template.
    """

    sfi: int
    record: int
    data: bytes

    def __repr__(self) -> str:
        return f"EmvRecord(sfi={self.sfi}, record={self.record}, data=<{len(self.data)} bytes>)"


@dataclass(frozen=True, repr=False)
class EmvApplication:
    """An EMV payment application on the chip.

    Attributes:
        aid: the application identifier (5-16 bytes).
        label: the application label (tag 50).
        priority: the application priority indicator (tag 87), or ``None``.
        language: the language preference (tag 5F2D), e.g. ``en``; empty for none.
        pdol: the processing options data object list (tag 9F38), empty for none.
        aip: the application interchange profile (tag 82, 2 bytes).
        afl: the application file locator (tag 94, 4 bytes per entry).
        records: the records the AFL points at.
    """

    aid: bytes
    label: str
    priority: int | None
    language: str
    pdol: bytes
    aip: bytes
    afl: bytes
    records: tuple[EmvRecord, ...]

    def record(self, sfi: int, number: int) -> EmvRecord | None:
        """The record ``number`` of file ``sfi``, or ``None``."""
        return next((r for r in self.records if (r.sfi, r.record) == (sfi, number)), None)

    def __repr__(self) -> str:
        return f"EmvApplication(aid={self.aid.hex().upper()}, label={self.label!r})"


@dataclass(frozen=True, repr=False)
class ChipProfile:
    """The EMV contact chip of a test card.

    Attributes:
        protocol: the protocol the card offers first (``T0`` or ``T1``).
        atrs: the card's answer to reset for each protocol it can run.
        pse: the card has the payment system environment ``1PAY.SYS.DDF01``.
        applications: its payment applications.
    """

    protocol: str
    atrs: Mapping[str, bytes]
    pse: bool
    applications: tuple[EmvApplication, ...]

    def select_protocol(self, supported: frozenset[str]) -> str | None:
        """The protocol the card runs in a reader supporting ``supported``, or ``None``."""
        if self.protocol in supported and self.protocol in self.atrs:
            return self.protocol
        return next((p for p in sorted(self.atrs) if p in supported), None)

    def __repr__(self) -> str:
        return f"ChipProfile(protocol={self.protocol!r}, applications={self.applications!r})"


@dataclass(frozen=True, repr=False)
class CardProfile:
    """A test card: its tracks, its chip and how it behaves.

    Attributes:
        name: the profile's name (``visa``).
        description: one line for people.
        tracks: the characters of each track that holds readable data.
        invalid_tracks: tracks that hold data no reader can decode.
        chip: the EMV chip, or ``None``.
        jams: the card jams on its way in.
        never_taken: its customer never takes it back from the exit.
    """

    name: str
    description: str
    tracks: Mapping[Track, bytes] = field(default_factory=dict)
    invalid_tracks: frozenset[Track] = frozenset()
    chip: ChipProfile | None = None
    jams: bool = False
    never_taken: bool = False

    @property
    def readable(self) -> bool:
        """A reader finds something on the card: a decodable track or a chip."""
        return bool(self.tracks) or self.chip is not None

    @property
    def pan(self) -> str | None:
        """The primary account number from track 2 (or track 1), if any."""
        track2 = self.tracks.get(Track.TRACK2)
        if track2:
            return track2.split(b"=", 1)[0].decode("ascii")
        track1 = self.tracks.get(Track.TRACK1)
        if track1 and track1[:1] == b"B":
            return track1[1:].split(b"^", 1)[0].decode("ascii")
        return None

    def sample(self) -> CardSample:
        """What a contract test may check a read against."""
        return CardSample(
            profile=self.name,
            track1=self.tracks.get(Track.TRACK1),
            track2=self.tracks.get(Track.TRACK2),
            track3=self.tracks.get(Track.TRACK3),
            has_chip=self.chip is not None,
            pan=self.pan,
            atr=self.chip.atrs.get(self.chip.protocol) if self.chip is not None else None,
        )

    def __repr__(self) -> str:
        return (
            f"CardProfile(name={self.name!r}, tracks={sorted(t.value for t in self.tracks)}, "
            f"chip={self.chip is not None})"
        )


def dol_length(dol: bytes) -> int:
    """Total length of the values a data object list (PDOL, CDOL) asks for.

    A DOL is a list of tags (1 or more bytes: if the low five bits of the first are all
    set, more follow while bit 8 is set) each followed by a one-byte length.

    Raises:
        ValueError: the list ends inside an entry.
    """
    total, pos = 0, 0
    while pos < len(dol):
        first = dol[pos]
        pos += 1
        if first & 0x1F == 0x1F:
            while pos < len(dol) and dol[pos] & 0x80:
                pos += 1
            pos += 1
        if pos >= len(dol):
            raise ValueError(f"the data object list {dol.hex().upper()} ends inside an entry")
        total += dol[pos]
        pos += 1
    return total


def profile_names() -> list[str]:
    """The names of the profiles shipped with the simulator."""
    root = resources.files(__name__)
    return sorted(
        entry.name.removesuffix(".toml")
        for entry in root.iterdir()
        if entry.name.endswith(".toml") and _NAME.match(entry.name.removesuffix(".toml"))
    )


def load_card_profile(name: str) -> CardProfile:
    """The shipped profile called ``name``.

    Raises:
        ConfigurationError: no such profile (the message lists the known ones), or
            its file is malformed.
    """
    if not isinstance(name, str) or not _NAME.match(name):
        raise ConfigurationError(
            f"a card profile name is lower-case letters, digits and '_'; got {name!r}"
        )
    return _load_packaged(name, ())


def load_card_profile_file(path: str | Path) -> CardProfile:
    """A profile from a TOML file outside the package (named after the file).

    Raises:
        ConfigurationError: the file cannot be read or is malformed.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(f"cannot read card profile {str(path)!r}: {exc}") from exc
    return _parse(path.stem, text, str(path), ())


@functools.lru_cache(maxsize=64)
def _load_packaged(name: str, chain: tuple[str, ...]) -> CardProfile:
    if name in chain:
        raise ConfigurationError(
            f"card profiles extend each other in a loop: {' -> '.join((*chain, name))}"
        )
    entry = resources.files(__name__).joinpath(f"{name}.toml")
    if not entry.is_file():
        raise ConfigurationError(
            f"no card profile named {name!r}; known profiles: {', '.join(profile_names())}"
        )
    return _parse(name, entry.read_text(encoding="utf-8"), f"{name}.toml", chain)


def _parse(name: str, text: str, source: str, chain: tuple[str, ...]) -> CardProfile:
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"card profile {source}: not valid TOML: {exc}") from exc
    check_keys(doc, _TOP_KEYS, source)
    version = doc.get("version")
    if version != PROFILE_VERSION:
        raise ConfigurationError(
            f"card profile {source}: version {version!r} is not supported; "
            f"this simulator reads version {PROFILE_VERSION}"
        )
    base: CardProfile | None = None
    extends = doc.get("extends")
    if extends is not None:
        if not isinstance(extends, str) or not _NAME.match(extends):
            raise ConfigurationError(f"card profile {source}: 'extends' must name a profile")
        base = _load_packaged(extends, (*chain, name))
    description = typed(doc, "description", str, source, base.description if base else "")
    tracks, invalid = (base.tracks, base.invalid_tracks) if base else ({}, frozenset())
    if "tracks" in doc:
        tracks, invalid = _parse_tracks(_table(doc, "tracks", source), source)
    chip = base.chip if base else None
    if "chip" in doc:
        chip = _parse_chip(_table(doc, "chip", source), source)
    jams, never_taken = (base.jams, base.never_taken) if base else (False, False)
    if "behaviour" in doc:
        behaviour = _table(doc, "behaviour", source)
        check_keys(behaviour, _BEHAVIOUR_KEYS, f"{source} [behaviour]")
        jams = typed(behaviour, "jams", bool, source, False)
        never_taken = typed(behaviour, "never_taken", bool, source, False)
    return CardProfile(
        name=name,
        description=description,
        tracks=MappingProxyType(dict(tracks)),
        invalid_tracks=invalid,
        chip=chip,
        jams=jams,
        never_taken=never_taken,
    )


def _parse_tracks(
    table: dict[str, Any], source: str
) -> tuple[dict[Track, bytes], frozenset[Track]]:
    where = f"{source} [tracks]"
    check_keys(table, _TRACK_KEYS, where)
    invalid_names = typed(table, "invalid", list, where, [])
    try:
        invalid = frozenset(Track(t) for t in invalid_names)
    except ValueError as exc:
        raise ConfigurationError(
            f"{where}: 'invalid' lists tracks among track1, track2, track3; got {invalid_names}"
        ) from exc
    if Track.CHIP in invalid:
        raise ConfigurationError(f"{where}: 'invalid' lists magnetic tracks only")
    tracks: dict[Track, bytes] = {}
    for track in _MAG_TRACKS:
        chars = typed(table, track.value, str, where, "")
        if not chars:
            continue
        if track in invalid:
            raise ConfigurationError(f"{where}: {track.value} is listed invalid and has data")
        problem = content_problem(_MAG_TRACKS.index(track) + 1, chars)
        if problem:
            raise ConfigurationError(f"{where}: {track.value}: {problem}")
        tracks[track] = chars.encode("ascii")
    return tracks, invalid


def _parse_chip(table: dict[str, Any], source: str) -> ChipProfile:
    where = f"{source} [chip]"
    check_keys(table, _CHIP_KEYS, where)
    atrs = {
        proto: _hex(table, key, where, 2, 33)
        for proto, key in (("T0", "atr_t0"), ("T1", "atr_t1"))
        if key in table
    }
    if not atrs:
        raise ConfigurationError(f"{where}: a chip needs atr_t0, atr_t1 or both")
    for proto, atr in atrs.items():
        if atr[0] not in (0x3B, 0x3F):
            raise ConfigurationError(f"{where}: the {proto} ATR starts with 3B or 3F")
    protocol = typed(table, "protocol", str, where, sorted(atrs)[0])
    if protocol not in atrs:
        raise ConfigurationError(
            f"{where}: protocol {protocol!r} has no ATR; ATRs given for {sorted(atrs)}"
        )
    apps_raw = typed(table, "applications", list, where, [])
    apps = tuple(_parse_app(a, f"{where} application {i + 1}") for i, a in enumerate(apps_raw))
    return ChipProfile(
        protocol=protocol,
        atrs=MappingProxyType(atrs),
        pse=typed(table, "pse", bool, where, False),
        applications=apps,
    )


def _parse_app(raw: object, where: str) -> EmvApplication:
    if not isinstance(raw, dict):
        raise ConfigurationError(f"{where}: expected a table")
    check_keys(raw, _APP_KEYS, where)
    for key in ("aid", "label", "aip", "afl"):
        if key not in raw:
            raise ConfigurationError(f"{where}: '{key}' is required")
    priority = raw.get("priority")
    if priority is not None and (
        not isinstance(priority, int) or isinstance(priority, bool) or not 0 <= priority <= 255
    ):
        raise ConfigurationError(f"{where}: priority is an integer 0-255, got {priority!r}")
    records = tuple(
        _parse_record(r, f"{where} record {i + 1}")
        for i, r in enumerate(typed(raw, "records", list, where, []))
    )
    afl = _hex(raw, "afl", where, 4, 252)
    pdol = _hex(raw, "pdol", where, 0, 252) if "pdol" in raw else b""
    try:
        dol_length(pdol)
    except ValueError as exc:
        raise ConfigurationError(f"{where}: {exc}") from exc
    if len(afl) % 4:
        raise ConfigurationError(f"{where}: the AFL is 4 bytes per entry, got {len(afl)} bytes")
    app = EmvApplication(
        aid=_hex(raw, "aid", where, 5, 16),
        label=typed(raw, "label", str, where, ""),
        priority=priority,
        language=typed(raw, "language", str, where, ""),
        pdol=pdol,
        aip=_hex(raw, "aip", where, 2, 2),
        afl=afl,
        records=records,
    )
    for i in range(0, len(afl), 4):
        sfi, first, last = afl[i] >> 3, afl[i + 1], afl[i + 2]
        if not 1 <= sfi <= 30 or first == 0 or last < first:
            raise ConfigurationError(f"{where}: AFL entry {afl[i : i + 4].hex()} is malformed")
        missing = [n for n in range(first, last + 1) if app.record(sfi, n) is None]
        if missing:
            raise ConfigurationError(f"{where}: the AFL names SFI {sfi} records {missing}, absent")
    return app


def _parse_record(raw: object, where: str) -> EmvRecord:
    if not isinstance(raw, dict):
        raise ConfigurationError(f"{where}: expected a table")
    check_keys(raw, _RECORD_KEYS, where)
    sfi = typed(raw, "sfi", int, where, 0)
    number = typed(raw, "record", int, where, 0)
    if not 1 <= sfi <= 30 or not 1 <= number <= 254:
        raise ConfigurationError(f"{where}: sfi is 1-30 and record 1-254; got {sfi}, {number}")
    data = _hex(raw, "data", where, 1, 252)
    try:
        tlv.parse(data)
    except ProtocolError as exc:
        raise ConfigurationError(f"{where}: 'data' is not BER-TLV: {exc.message}") from exc
    return EmvRecord(sfi=sfi, record=number, data=data)


def _table(doc: Mapping[str, Any], key: str, source: str) -> dict[str, Any]:
    value = doc[key]
    if not isinstance(value, dict):
        raise ConfigurationError(f"{source}: [{key}] must be a table")
    return value


def _hex(table: Mapping[str, Any], key: str, where: str, shortest: int, longest: int) -> bytes:
    text = typed(table, key, str, where, "")
    try:
        value = bytes.fromhex("".join(text.split()))
    except ValueError as exc:
        raise ConfigurationError(f"{where}: '{key}' is not hex: {exc}") from exc
    if not shortest <= len(value) <= longest:
        raise ConfigurationError(
            f"{where}: '{key}' is {shortest}-{longest} bytes, got {len(value)} bytes"
        )
    return value
