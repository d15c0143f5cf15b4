"""Privacy (identity rule 3): across a busy session of the ID scanner's service, in
process and over the remote, no log record at DEBUG, no exception text, no event and no
repr holds the holder's name, number, address, birth date or MRZ lines in full."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging

import pytest

from hal.devices.id_scanner import (
    DocumentKind,
    DocumentStatus,
    IdentityDocument,
    ImageSide,
)
from hal.devices.id_scanner_service import IdScannerService
from hal.errors import HalError
from hal.remote import RemoteIdScanner, RemoteServer
from hal.remote.interfaces_id_scanner import DocumentCompletion
from tests.id_backend import (
    ADDRESS,
    NAME,
    NUMBER,
    ScriptedIdBackend,
    id_number,
    motorised_caps,
    resident_card,
)

TODAY = dt.date(2026, 11, 29)
MRZ = (
    "P<UTOTESTPERSON<<ALPHA<<<<<<<<<<<<<<<<<<<<<<",
    "T220001293UTO9001011F3501011<<<<<<<<<<<<<<00",
)
WRONG = id_number(NUMBER[:17], wrong=True)
SECRETS = (
    NAME,
    NAME[1:],
    NUMBER,
    NUMBER[3:-2],
    WRONG,
    ADDRESS,
    ADDRESS[3:],
    "19491231",
    "1949-12-31",
    "TESTPERSON",
    "T22000129",
    *MRZ,
)


def leaked(text: str) -> list[str]:
    return [secret for secret in SECRETS if secret in text]


async def session(
    scanner: IdScannerService | RemoteIdScanner, backend: ScriptedIdBackend
) -> list[str]:
    """Everything an app does, good and bad; what it saw, as text."""
    seen: list[str] = []
    passport = IdentityDocument(
        kind=DocumentKind.PASSPORT,
        name_latin="TESTPERSON ALPHA",
        document_number="T22000129",
        birth_date=dt.date(1990, 1, 1),
        valid_to=dt.date(2020, 1, 1),  # expired: a failed check on the record
        mrz=MRZ,
    )
    documents = [
        resident_card(),
        resident_card(document_number=WRONG),
        resident_card(birth_date=dt.date(1949, 12, 30), valid_to=dt.date(2001, 1, 1)),
        passport,
    ]
    sub = scanner.events()
    for document in documents:
        backend.present(document)
        got = await scanner.read_document(fingerprints=True, newest_address=True, timeout=2)
        seen += [repr(got), str(got), *(repr(c) for c in got.checks)]
        seen.append(repr(await scanner.scan_image(ImageSide.FRONT, timeout=2)))
        await scanner.eject(timeout=2)
        backend.take()
    backend.present(resident_card())
    backend.invalid_next = True
    calls = [
        lambda: scanner.read_document(timeout=2),
        lambda: scanner.retain(timeout=2),
        lambda: scanner.read_document(timeout=0.02),
        lambda: scanner.eject(timeout=2),
    ]
    for call in calls:
        try:
            await call()
        except HalError as exc:
            seen += [str(exc), repr(exc)]
    backend.present(resident_card())
    await asyncio.sleep(0)
    await scanner.read_document(timeout=2)
    await scanner.retain(timeout=2)
    backend.present(resident_card(name="测试人乙"))
    await scanner.read_document(timeout=2)
    backend.media = DocumentStatus.JAMMED
    await scanner.reset(timeout=2)
    seen.append(repr(await scanner.retain_bin()))
    seen.append(repr(await scanner.status()))
    seen.append(repr(scanner))
    seen += [repr(event) for event in sub.drain()]
    return seen


async def test_in_process_nothing_personal_in_logs_errors_events_or_reprs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    backend = ScriptedIdBackend(motorised_caps(), intake=0.001)
    async with IdScannerService(backend, today=lambda: TODAY) as scanner:
        seen = await session(scanner, backend)
    assert any("failed checks" in r.getMessage() for r in caplog.records)  # it does log
    assert any("110*" in r.getMessage() for r in caplog.records)  # masked, not absent
    for text in seen:
        assert not leaked(text), text
    for record in caplog.records:
        assert not leaked(record.getMessage()), record.getMessage()
    assert not leaked(caplog.text)


async def test_over_the_remote_nothing_personal_in_either_sides_logs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    backend = ScriptedIdBackend(motorised_caps(), intake=0.001)
    service = IdScannerService(backend, today=lambda: TODAY)
    async with (
        service,
        RemoteServer({"id_scanner": service}, "tcp://127.0.0.1:0", simulator=True) as server,
        RemoteIdScanner(server.endpoint, timeout=2.0) as remote,
    ):
        seen = await session(remote, backend)
    for text in seen:
        assert not leaked(text), text
    assert not leaked(caplog.text)


def test_a_completion_repr_hides_the_document() -> None:
    completion = DocumentCompletion.of(resident_card())
    for text in (repr(completion), str(completion)):
        assert not leaked(text)
