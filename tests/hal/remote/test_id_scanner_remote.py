"""`RemoteIdScanner` against a real `RemoteServer` on real ZeroMQ sockets.

The server serves an `IdScannerService` over the scripted backend (`tests.id_backend`);
the test plays the customer. A document read remotely equals the one read in-process,
checks included; events arrive with the command; errors keep their class; and a tap on
the wire finds no name, number, address, birth date or MRZ text in any JSON frame (the
blobs carry them, which the tap also checks, so the test would see a leak).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

import hal
from hal.devices.id_scanner import (
    CheckName,
    DocumentInserted,
    DocumentKind,
    DocumentRemoved,
    DocumentStatus,
    Fingerprint,
    IdentityDocument,
    IdScanner,
    ImageFormat,
    ImageSide,
    InsertDocument,
    InvalidDocument,
    Sex,
)
from hal.devices.id_scanner_service import IdScannerService
from hal.errors import InvalidMedia, NoMedia, RetainBinFull, UnsupportedOperation
from hal.events import StatusChanged
from hal.remote import RemoteIdScanner, RemoteServer
from hal.remote.codec import WireValueError, codec_for
from hal.remote.interfaces import INTERFACES
from hal.remote.interfaces_id_scanner import ID_SCANNER, DocumentCompletion
from tests.id_backend import ADDRESS, NAME, NUMBER, ScriptedIdBackend, motorised_caps, resident_card
from tests.remote_tap import FrameTap

TODAY = dt.date(2026, 11, 29)
LATIN = "TESTPERSON<<ALPHA"
MRZ = (
    "P<UTOTESTPERSON<<ALPHA<<<<<<<<<<<<<<<<<<<<<<",
    "T220001293UTO9001011F3501011<<<<<<<<<<<<<<00",
)


@dataclass
class Rig:
    backend: ScriptedIdBackend
    service: IdScannerService
    server: RemoteServer


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    backend = ScriptedIdBackend(motorised_caps(retain_capacity=1))
    service = IdScannerService(backend, today=lambda: TODAY)
    async with (
        service,
        RemoteServer(
            {"id_scanner": service}, "tcp://127.0.0.1:0", simulator=True, heartbeat_interval=0.5
        ) as server,
    ):
        yield Rig(backend, service, server)


def full_card() -> IdentityDocument:
    return resident_card(
        newest_address="北京市朝阳区示例街二号",
        fingerprints=(Fingerprint(11, bytes(range(256)) * 2), Fingerprint(16, b"\x01" * 512)),
        fingerprints_present=True,
        raw={"valid_to": "20400101"},
    )


def test_the_interface_is_registered() -> None:
    assert INTERFACES["IdScanner"] is ID_SCANNER
    assert set(ID_SCANNER.commands) >= {
        "IdScanner.ReadDocument",
        "IdScanner.ScanImage",
        "IdScanner.Eject",
        "IdScanner.Retain",
        "IdScanner.Reset",
        "IdScanner.GetRetainBin",
        "IdScanner.EmptyRetainBin",
    }


@pytest.mark.parametrize(
    "document",
    [
        full_card(),
        IdentityDocument(kind=DocumentKind.PASSPORT, name_latin="TESTPERSON ALPHA", mrz=MRZ),
        IdentityDocument(kind=DocumentKind.CN_FOREIGNER_PERMANENT_2017, long_term=True),
    ],
    ids=["resident", "passport", "empty"],
)
def test_a_document_completion_round_trips_with_personal_fields_as_blobs(
    document: IdentityDocument,
) -> None:
    blobs: list[bytes] = []
    wire = codec_for(DocumentCompletion).encode(DocumentCompletion.of(document), blobs)
    text = json.dumps(wire, ensure_ascii=False)
    for secret in (NAME, NUMBER, ADDRESS, "1949-12-31", "TESTPERSON", MRZ[1][:9]):
        assert secret not in text
    back = codec_for(DocumentCompletion).decode(json.loads(text), blobs, "").to_document()
    assert back == document
    assert NAME not in repr(DocumentCompletion.of(document))


def test_a_completion_with_bad_blobs_is_refused_without_quoting_them() -> None:
    blobs: list[bytes] = []
    wire = codec_for(DocumentCompletion).encode(DocumentCompletion.of(full_card()), blobs)
    for field, bad in (("name", b"\xff" + NAME.encode()), ("birthDate", NUMBER.encode())):
        broken = list(blobs)
        broken[wire[field]["$blob"]] = bad
        with pytest.raises(WireValueError) as caught:
            codec_for(DocumentCompletion).decode(wire, broken, "")
        assert NAME not in str(caught.value)
        assert NUMBER not in str(caught.value)


async def test_remote_reads_equal_in_process_reads_and_events_arrive(rig: Rig) -> None:
    async with RemoteIdScanner(rig.server.endpoint, timeout=2.0) as remote:
        assert isinstance(remote, IdScanner)
        assert await remote.capabilities() == await rig.service.capabilities()
        assert (await remote.status()).media is DocumentStatus.NOT_PRESENT
        sub = remote.events()
        task = asyncio.create_task(
            remote.read_document(fingerprints=True, newest_address=True, timeout=5)
        )
        async with asyncio.timeout(2):
            while "accept" not in rig.backend.calls:  # noqa: ASYNC110 (the backend's state)
                await asyncio.sleep(0.005)
        rig.backend.present(full_card())
        document = await task
        local = await rig.service.read_document(fingerprints=True, newest_address=True)
        assert document == local
        assert document.valid
        assert document.checks[0].name is CheckName.ID_NUMBER
        assert document.name == NAME
        assert document.sex is Sex.FEMALE
        kinds = [type(e) for e in sub.drain() if not isinstance(e, StatusChanged)]
        assert kinds[:2] == [InsertDocument, DocumentInserted]

        image = await remote.scan_image(ImageSide.FRONT, timeout=2)
        assert (image.side, image.format, image.data[:2]) == (
            ImageSide.FRONT,
            ImageFormat.JPEG,
            b"\xff\xd8",
        )
        with pytest.raises(UnsupportedOperation, match="back side"):
            await remote.scan_image(ImageSide.BACK, timeout=2)

        await remote.retain(timeout=2)
        counts = await remote.retain_bin()
        assert (counts.count, counts.capacity) == (1, 1)
        with pytest.raises(NoMedia):
            await remote.eject(timeout=2)
        rig.backend.present(resident_card())
        await remote.read_document(timeout=2)
        with pytest.raises(RetainBinFull):
            await remote.retain(timeout=2)
        await remote.empty_retain_bin(reason="test")
        assert (await remote.retain_bin()).count == 0
        await remote.eject(timeout=2)
        removed = remote.events(kinds=[DocumentRemoved])
        rig.backend.take()
        async with asyncio.timeout(2):
            event = await removed.get()
        assert isinstance(event, DocumentRemoved)

        rig.backend.present(resident_card())
        rig.backend.invalid_next = True
        invalid = remote.events(kinds=[InvalidDocument])
        with pytest.raises(InvalidMedia):
            await remote.read_document(timeout=2)
        (bad,) = invalid.drain()
        assert bad.reason == "unknown card type"
        await remote.reset(timeout=2)


async def test_no_personal_data_in_any_json_frame(rig: Rig) -> None:
    passport = IdentityDocument(
        kind=DocumentKind.PASSPORT,
        name_latin="TESTPERSON ALPHA",
        document_number="T22000129",
        birth_date=dt.date(1990, 1, 1),
        mrz=MRZ,
    )
    async with (
        FrameTap(rig.server.endpoint) as tap,
        hal.open(tap.address("id_scanner")) as scanner,
    ):
        assert isinstance(scanner, RemoteIdScanner)
        for document in (full_card(), passport):
            rig.backend.present(document)
            got = await scanner.read_document(timeout=2)
            assert got.document_number == document.document_number
            await scanner.eject(timeout=2)
            rig.backend.take()
    secrets = [NAME, NUMBER, ADDRESS, "北京市朝阳区", "1949-12-31", "19491231", "TESTPERSON"]
    secrets += ["T22000129", "1990-01-01", *MRZ]
    json_frames = [frame for message in tap.messages for frame in message.frames[:2]]
    for frame in json_frames:
        text = frame.decode()
        shown = json.dumps(json.loads(text))  # the \\u-escaped spelling too
        for secret in secrets:
            assert secret not in text, secret
            assert json.dumps(secret)[1:-1] not in shown, secret
    blobs = b"".join(blob for message in tap.messages for blob in message.blobs)
    assert NAME.encode() in blobs  # the data did cross, as blobs
    assert MRZ[1].encode() in blobs
