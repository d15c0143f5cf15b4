"""The steps the IdScanner contract cases share: presenting a document and reading it,
giving it back, comparing what was read with what the document holds, and watching that
nothing personal leaks into an event or an error.

Internal to the conformance suite: `tellerhal.conformance.id_scanner` holds the cases.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from hal.devices.id_scanner import (
    CheckName,
    DocumentKind,
    DocumentRemoved,
    DocumentStatus,
    IdentityDocument,
    IdScanner,
    InsertDocument,
)
from hal.events import Event, Subscription
from hal.stimulus import DocumentSample, IdScannerStimulus
from tellerhal.conformance.framework import (
    ContractFailure,
    Harness,
    MissingCapability,
    check,
)

__all__ = [
    "CHIP_PROFILES",
    "FINGER_POSITIONS",
    "MRZ_PROFILES",
    "IdScannerHarness",
    "Outcome",
    "Seen",
    "base_profile",
    "check_document",
    "expected_read",
    "give_back",
    "media_while_there",
    "need",
    "next_event",
    "present_and_read",
    "read_ok",
    "senses_document",
]

IdScannerHarness = Harness[IdScanner, IdScannerStimulus]

#: Profiles a chip reader offers beyond ``resident``, ``bad_check`` and ``unreadable``
#: (`hal.stimulus.IdScannerStimulus.present_document`).
CHIP_PROFILES = ("resident_fingerprints", "hmt", "foreigner_2017", "foreigner_2023")
#: Profiles an MRZ reader offers beyond the common ones.
MRZ_PROFILES = ("passport", "id_td1", "visa_td2", "travel_permit")

#: Finger position codes a template may carry (GA 1011: 11-15 right, 16-20 left; 97-99
#: unknown finger; 0 when the card tells none).
FINGER_POSITIONS = frozenset({0, *range(11, 21), 97, 98, 99})

#: Kinds whose number carries a MOD 11-2 check character the service checks.
_NUMBER_CHECKED = frozenset(
    {
        DocumentKind.CN_RESIDENT_ID,
        DocumentKind.CN_HMT_RESIDENCE_PERMIT,
        DocumentKind.CN_FOREIGNER_PERMANENT_2023,
    }
)
#: Kinds read from a machine-readable zone.
_MRZ_KINDS = frozenset(
    {DocumentKind.PASSPORT, DocumentKind.TRAVEL_DOCUMENT, DocumentKind.CN_TRAVEL_PERMIT}
)

#: What a read ended with: the document, or the exception it raised.
Outcome = IdentityDocument | BaseException


async def next_event(sub: Subscription, kind: type[Event], patience: float, what: str) -> Event:
    try:
        return await sub.wait_for(kind, timeout=patience)
    except TimeoutError:
        raise ContractFailure(f"{what}: no {kind.__name__} event within {patience} s") from None


def need(features: frozenset[str], *needed: str, why: str = "") -> None:
    """Raise `MissingCapability` unless the scanner has every feature ``needed``."""
    missing = frozenset(needed) - features
    if missing:
        raise MissingCapability(missing, why)


async def base_profile(scanner: IdScanner) -> str:
    """The profile a case reads when any readable document will do: ``resident`` on a
    chip reader, ``passport`` on an MRZ-only one."""
    features = (await scanner.capabilities()).features()
    return "resident" if "chip" in features else "passport"


async def senses_document(scanner: IdScanner) -> bool:
    """Whether the scanner can still sense a document after reading it: it searches a
    chip field, holds the document with its motor, or has a removal sensor. One that
    cannot (an OCR reader reads a document on its window once) needs it laid down again
    for another read."""
    features = (await scanner.capabilities()).features()
    return bool(features & {"chip", "eject", "removal_sensor"})


async def media_while_there(scanner: IdScanner) -> tuple[DocumentStatus, ...]:
    """What ``status().media`` may say while a document read is still in or on the
    scanner: ``present`` (or ``unknown``); also ``notPresent`` from a scanner that
    cannot sense it there (`senses_document`)."""
    if await senses_document(scanner):
        return (DocumentStatus.PRESENT, DocumentStatus.UNKNOWN)
    return (DocumentStatus.PRESENT, DocumentStatus.UNKNOWN, DocumentStatus.NOT_PRESENT)


class Seen:
    """Everything a case saw (events, errors, document reprs) and the personal data of
    every document it presented, so the case can check at its end that none of that
    data appears in full in any of it.

    Personal data here: the names and the numbers (document, permit), and the MRZ
    lines; short strings (a one-letter name) are left out, as they would match by
    chance.
    """

    def __init__(self) -> None:
        self.texts: list[tuple[str, str]] = []
        self.secrets: dict[str, str] = {}

    def document(self, sample: DocumentSample) -> None:
        """Remember what is personal on ``sample``'s document."""
        doc = sample.expected
        if doc is None:
            return
        fields = {
            "name": (doc.name, 2),
            "name_latin": (doc.name_latin, 4),
            "document_number": (doc.document_number, 6),
            "permit_number": (doc.permit_number, 6),
        }
        for line in doc.mrz:
            fields[f"MRZ line {len(fields) - 3}"] = (line, 10)
        for field, (value, shortest) in fields.items():
            if len(value.strip()) >= shortest:
                self.secrets[value.strip()] = f"the {sample.profile!r} document's {field}"

    def events(self, events: Iterable[Event]) -> None:
        for event in events:
            self.texts.append((f"{type(event).__name__} event", f"{event!s} {event!r}"))

    def error(self, exc: BaseException) -> None:
        """Remember an exception's text, its causes' and its notes."""
        chain: list[BaseException] = []
        current: BaseException | None = exc
        while current is not None and current not in chain:
            chain.append(current)
            current = current.__cause__ or current.__context__
        for item in chain:
            notes = " ".join(getattr(item, "__notes__", []))
            self.texts.append((f"{type(item).__name__} error", f"{item!s} {item!r} {notes}"))

    def outcome(self, outcome: object) -> None:
        if isinstance(outcome, BaseException):
            self.error(outcome)
        elif isinstance(outcome, IdentityDocument):
            self.texts.append(("IdentityDocument repr", repr(outcome)))

    @contextmanager
    def logs(self) -> Iterator[None]:
        """Record every log record emitted while the block runs, at every level.

        A handler at DEBUG goes on the root logger and the root's level is lowered to
        DEBUG for the block (a record below a logger's effective level is never made);
        both are put back after. Records of a logger with a level of its own above DEBUG,
        or that does not propagate, are not seen.
        """
        handler = _Recorder(self)
        root = logging.getLogger()
        level = root.level
        root.addHandler(handler)
        root.setLevel(logging.DEBUG)
        try:
            yield
        finally:
            root.setLevel(level)
            root.removeHandler(handler)

    @contextmanager
    def watch(self, scanner: IdScanner) -> Iterator[Subscription]:
        """Record every event ``scanner`` publishes while the block runs."""
        with scanner.events(maxsize=4096) as sub:
            try:
                yield sub
            finally:
                self.events(sub.drain())

    def check(self) -> None:
        """Fail if a name or number seen on a document appears in full anywhere."""
        for where, text in self.texts:
            folded = text.casefold()
            for secret, what in self.secrets.items():
                if secret.casefold() in folded:
                    raise ContractFailure(f"{what} appears in full in {_article(where)} {where}")


class _Recorder(logging.Handler):
    """Keeps each record's formatted text (with any traceback) in a `Seen`."""

    def __init__(self, seen: Seen) -> None:
        super().__init__(logging.DEBUG)
        self.seen = seen
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record)
        except Exception:  # a record whose arguments do not fit its message
            text = f"{record.msg!s} {record.args!r}"
        self.seen.texts.append(("log record", text))


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


def expected_read(
    sample: DocumentSample, *, fingerprints: bool, newest_address: bool
) -> IdentityDocument:
    """The document ``sample`` holds as a read with these options returns it.

    The stimulus gives the document as read with everything asked for (with
    ``fingerprints_present`` saying whether the card holds templates): without
    ``fingerprints`` no template comes back and ``fingerprints_present`` is ``None``
    (not asked); without ``newest_address`` the newest address is ``""``.
    """
    expected = sample.expected
    check(expected is not None, f"the {sample.profile!r} document holds nothing to read")
    assert expected is not None
    if not fingerprints:
        expected = dataclasses.replace(expected, fingerprints=(), fingerprints_present=None)
    if not newest_address:
        expected = dataclasses.replace(expected, newest_address="")
    return expected


def check_document(
    document: IdentityDocument,
    sample: DocumentSample,
    *,
    fingerprints: bool = False,
    newest_address: bool = False,
) -> None:
    """``document`` holds exactly what ``sample``'s document holds, field by field (the
    photo byte for byte), and carries the checks the service runs, passed or failed as
    the sample says. Messages name fields, never their values."""
    expected = expected_read(sample, fingerprints=fingerprints, newest_address=newest_address)
    what = f"the {sample.profile!r} document"
    check(
        document.kind is expected.kind,
        f"{what} read as {document.kind.value!r}, it is {expected.kind.value!r}",
    )
    if expected.photo is not None:
        check(document.photo is not None, f"{what} has a photo; none was delivered")
        assert document.photo is not None
        check(
            document.photo.format is expected.photo.format,
            f"{what}'s photo came as {document.photo.format.value!r}, "
            f"it is {expected.photo.format.value!r}",
        )
        check(
            document.photo.data == expected.photo.data,
            f"{what}'s photo was changed: {len(document.photo.data)} bytes delivered, "
            f"the document's are {len(expected.photo.data)} bytes",
        )
    if expected.fingerprints:
        got = [(f.position, len(f.template)) for f in document.fingerprints]
        want = [(f.position, len(f.template)) for f in expected.fingerprints]
        check(got == want, f"{what}'s fingerprints came as {got} (position, bytes), not {want}")
        check(
            [f.template for f in document.fingerprints]
            == [f.template for f in expected.fingerprints],
            f"{what}'s fingerprint templates differ from the card's",
        )
    differ = [
        field.name
        for field in dataclasses.fields(IdentityDocument)
        if field.name != "checks" and getattr(document, field.name) != getattr(expected, field.name)
    ]
    check(not differ, f"{what} was read with these fields wrong: {', '.join(differ)}")
    names = {c.name for c in document.checks}
    check(document.checks, f"{what} came back with no checks run on it")
    check(len(names) == len(document.checks), f"{what} carries a check twice")
    wanted: set[CheckName] = set()
    if expected.kind in _NUMBER_CHECKED and expected.document_number:
        wanted.add(CheckName.ID_NUMBER)
    if expected.kind in _MRZ_KINDS and expected.mrz:
        wanted.add(CheckName.MRZ_DOCUMENT_NUMBER)
    if expected.valid_to is not None or expected.long_term:
        wanted.add(CheckName.NOT_EXPIRED)
    missing = sorted(c.value for c in wanted - names)
    check(not missing, f"{what} came back without the checks {missing}")
    failed = [c.name.value for c in document.failed_checks()]
    if sample.valid:
        check(document.valid, f"{what} is valid, yet these checks failed: {failed}")
    else:
        check(not document.valid, f"{what} fails a check, yet every check passed")


async def present_and_read(
    h: IdScannerHarness,
    scanner: IdScanner,
    profile: str,
    seen: Seen,
    *,
    fingerprints: bool = False,
    newest_address: bool = False,
) -> tuple[Outcome, DocumentSample, list[Event]]:
    """Start a read, wait for InsertDocument, present the document, and return how the
    read ended (the document or the exception) with every event it caused."""
    with seen.watch(scanner) as record, scanner.events(kinds=[InsertDocument]) as ready:
        task = asyncio.create_task(
            scanner.read_document(
                fingerprints=fingerprints,
                newest_address=newest_address,
                timeout=h.patience * 4,
            )
        )
        try:
            await next_event(ready, InsertDocument, h.patience, "read_document with no document")
            sample = await h.stimulus.present_document(profile)
            seen.document(sample)
            outcome: Outcome = (await asyncio.gather(task, return_exceptions=True))[0]
        finally:
            # Never leave the read running, nor its exception unretrieved.
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        events = record.drain()
    seen.events(events)
    seen.outcome(outcome)
    return outcome, sample, events


async def read_ok(
    h: IdScannerHarness,
    scanner: IdScanner,
    profile: str,
    seen: Seen,
    *,
    fingerprints: bool = False,
    newest_address: bool = False,
) -> tuple[IdentityDocument, DocumentSample, list[Event]]:
    """`present_and_read`, failing the case unless a document came back."""
    outcome, sample, events = await present_and_read(
        h, scanner, profile, seen, fingerprints=fingerprints, newest_address=newest_address
    )
    if isinstance(outcome, asyncio.CancelledError):
        raise outcome
    if not isinstance(outcome, IdentityDocument):
        raise ContractFailure(
            f"reading the {profile!r} document: expected the document, got {outcome!r}"
        )
    return outcome, sample, events


async def give_back(h: IdScannerHarness, scanner: IdScanner, seen: Seen) -> None:
    """The document goes back to the customer: a motorised scanner ejects it and the
    customer takes it from the exit; from a flat reader the customer picks it up. A
    scanner with a removal sensor reports DocumentRemoved (no command id) and media
    ``notPresent``."""
    features = (await scanner.capabilities()).features()
    with seen.watch(scanner), scanner.events(kinds=[DocumentRemoved]) as removed:
        if "eject" in features and await h.stimulus.document_position() == "reader":
            await scanner.eject(timeout=h.patience)
            position = await h.stimulus.document_position()
            check(position == "exit", f"after eject the document is at {position!r}, not 'exit'")
        await h.stimulus.remove_document(timeout=h.patience)
        if "removal_sensor" in features:
            event = await next_event(removed, DocumentRemoved, h.patience, "the customer took it")
            check(event.command_id is None, "DocumentRemoved is unsolicited: no command id")
    position = await h.stimulus.document_position()
    check(position == "customer", f"after the customer took the document it is at {position!r}")
    if "removal_sensor" in features:
        status = await scanner.status()
        check(
            status.media is DocumentStatus.NOT_PRESENT,
            f"the document was taken, yet media is {status.media.value!r}",
        )
