"""The IdScanner contract: what every ID-document scanner implementation must do.

Each case drives the scanner only through `hal.IdScanner` and makes the customer act
only through `hal.stimulus.IdScannerStimulus`: present a document of a profile, take it
away, and say where it physically is (the ground truth). What a read returns is checked
field by field against the `DocumentSample` the stimulus gives back, the photo byte for
byte; the checks the service runs must be on the document, a failed one included,
never raised and never dropped.

The cases adapt to the scanner's capability features
(`hal.devices.id_scanner.IdScannerCapabilities.features`, vocabulary `ID_FEATURES`): a
chip reader reads the chip profiles and a forged card, an MRZ reader the travel
documents and a bad check digit; fingerprints, the newest address, images, eject,
retain and the removal sensor each have their case. A case whose behaviour cannot exist
on the scanner raises `MissingCapability` naming the features it needs.

Every case also watches what it sees: no event, error or document ``repr`` may hold a
document's name, number or MRZ line in full.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial

from hal.devices.id_scanner import (
    DocumentStatus,
    IdScanner,
    ImageFormat,
    ImageSide,
)
from hal.errors import (
    NoMedia,
    UnsupportedOperation,
)
from hal.events import StatusChanged
from hal.stimulus import IdScannerStimulus
from tellerhal.conformance.framework import (
    ContractCase,
    check,
    expect_raises,
)
from tellerhal.conformance.id_scanner_read_cases import (
    bad_check_is_returned,
    bad_mrz_is_returned,
    cancel_mid_wait,
    capabilities_and_status,
    command_events_carry_the_command_id,
    fingerprints,
    forged_card,
    newest_address,
    read_chip_documents,
    read_mrz_documents,
    read_valid_document,
    timeout_without_a_document,
    unreadable_document,
)
from tellerhal.conformance.id_scanner_steps import (
    IdScannerHarness,
    Seen,
    base_profile,
    check_document,
    give_back,
    need,
    present_and_read,
    read_ok,
)

__all__ = ["ID_SCANNER_CASES", "IdScannerCase", "IdScannerHarness"]

IdScannerCase = ContractCase[IdScanner, IdScannerStimulus]

#: The first bytes of each image format a scan may deliver.
_MAGIC = {
    ImageFormat.JPEG: b"\xff\xd8",
    ImageFormat.PNG: b"\x89PNG",
    ImageFormat.BMP: b"BM",
}


async def scan_images(h: IdScannerHarness) -> None:
    seen = Seen()
    async with h.open() as scanner:
        caps = await scanner.capabilities()
        need(caps.features(), "images")
        await read_ok(h, scanner, await base_profile(scanner), seen)
        for side in sorted(caps.images):
            for fmt in sorted(caps.image_formats):
                image = await scanner.scan_image(side, format=fmt, timeout=h.patience)
                seen.texts.append(("ScannedImage repr", repr(image)))
                check(
                    image.side is side and image.format is fmt,
                    f"asked {side.value} {fmt.value}, got {image.side.value} {image.format.value}",
                )
                check(image.width > 0 and image.height > 0, f"image {image.width}x{image.height}")
                magic = _MAGIC.get(fmt, b"")
                check(
                    image.data.startswith(magic) and len(image.data) > len(magic),
                    f"the {side.value} image is not {fmt.value} data",
                )
        await give_back(h, scanner, seen)
        with seen.watch(scanner):
            exc = await expect_raises(
                NoMedia,
                scanner.scan_image(sorted(caps.images)[0], timeout=h.patience),
                "scan_image with no document",
            )
        seen.error(exc)
    seen.check()


async def eject_and_remove(h: IdScannerHarness) -> None:
    seen = Seen()
    async with h.open() as scanner:
        need((await scanner.capabilities()).features(), "eject")
        await read_ok(h, scanner, await base_profile(scanner), seen)
        check(
            await h.stimulus.document_position() == "reader",
            "a motorised scanner holds the document it read",
        )
        status = await scanner.status()
        check(status.media is DocumentStatus.PRESENT, f"media is {status.media.value!r}")
        await give_back(h, scanner, seen)  # eject, exit, taken (DocumentRemoved)
        with seen.watch(scanner):
            exc = await expect_raises(
                NoMedia, scanner.eject(timeout=h.patience), "eject with no document"
            )
        seen.error(exc)
    seen.check()


async def removal_sensor(h: IdScannerHarness) -> None:
    seen = Seen()
    async with h.open() as scanner:
        need((await scanner.capabilities()).features(), "removal_sensor")
        await read_ok(h, scanner, await base_profile(scanner), seen)
        await give_back(h, scanner, seen)  # requires DocumentRemoved and notPresent
    seen.check()


async def retain_is_counted(h: IdScannerHarness) -> None:
    seen = Seen()
    async with h.open() as scanner:
        need((await scanner.capabilities()).features(), "retain")
        before = (await scanner.retain_bin()).count
        physical_before = await h.stimulus.retained_count()
        await read_ok(h, scanner, await base_profile(scanner), seen)
        with seen.watch(scanner):
            await scanner.retain(timeout=h.patience)
        after = await scanner.retain_bin()
        check(after.count == before + 1, f"retain count went {before} -> {after.count}")
        check(after.pending == 0, f"{after.pending} retains left pending")
        physical = await h.stimulus.retained_count()
        check(physical == physical_before + 1, f"bin holds {physical}, was {physical_before}")
        position = await h.stimulus.document_position()
        check(position == "retained", f"the retained document is at {position!r}")
        status = await scanner.status()
        check(status.media is DocumentStatus.NOT_PRESENT, f"media is {status.media.value!r}")
        with seen.watch(scanner):
            exc = await expect_raises(
                NoMedia, scanner.retain(timeout=h.patience), "retain with no document"
            )
        seen.error(exc)
    async with h.open() as scanner:
        again = await scanner.retain_bin()
        check(again.count == before + 1, f"after reopening the count is {again.count}")
    seen.check()


async def reset(h: IdScannerHarness) -> None:
    seen = Seen()
    async with h.open() as scanner:
        features = (await scanner.capabilities()).features()
        await read_ok(h, scanner, await base_profile(scanner), seen)
        with seen.watch(scanner):
            await scanner.reset(timeout=h.patience)
        status = await scanner.status()
        check(status.device.value == "online", f"after a reset the scanner is {status.device}")
        position = await h.stimulus.document_position()
        if "eject" in features:
            # A motorised scanner hands the document back, or keeps it in its bin.
            check(
                position in ("exit", "retained"), f"after a reset the document is at {position!r}"
            )
            # At the exit the document is in the entrance (XFS4IoT ``entering``).
            media = {"exit": DocumentStatus.ENTERING, "retained": DocumentStatus.NOT_PRESENT}
            check(
                status.media in (media[position], DocumentStatus.UNKNOWN),
                f"after a reset the document is at {position!r}, media {status.media.value!r}",
            )
        else:
            check(
                position == "reader", f"a reset moved the document on a flat reader to {position!r}"
            )
        if position != "retained":
            await h.stimulus.remove_document(timeout=h.patience)
        # The scanner reads after a reset.
        document, sample, _ = await read_ok(h, scanner, await base_profile(scanner), seen)
        check_document(document, sample)
        await give_back(h, scanner, seen)
    seen.check()


async def unsupported_operations(h: IdScannerHarness) -> None:
    seen = Seen()
    async with h.open() as scanner:
        caps = await scanner.capabilities()
        features = caps.features()
        position = await h.stimulus.document_position()
        refused: list[tuple[str, Callable[[], Awaitable[object]]]] = []
        if "fingerprints" not in features:
            refused.append(
                ("fingerprints", lambda: scanner.read_document(fingerprints=True, timeout=1))
            )
        if "newest_address" not in features:
            refused.append(
                ("newest address", lambda: scanner.read_document(newest_address=True, timeout=1))
            )
        if "eject" not in features:
            refused.append(("eject", lambda: scanner.eject(timeout=1)))
        if "retain" not in features:
            refused.append(("retain", lambda: scanner.retain(timeout=1)))
            refused.append(
                ("empty_retain_bin", lambda: scanner.empty_retain_bin(reason="conformance"))
            )
        for side in ImageSide:
            if side not in caps.images:
                refused.append(
                    (f"scan_image({side.value})", partial(scanner.scan_image, side, timeout=1))
                )
        if caps.images:
            first = sorted(caps.images)[0]
            for fmt in ImageFormat:
                if fmt not in caps.image_formats:
                    refused.append(
                        (
                            f"scan_image({first.value}, {fmt.value})",
                            partial(scanner.scan_image, first, format=fmt, timeout=1),
                        )
                    )
        with seen.watch(scanner) as sub:
            for what, call in refused:
                exc = await expect_raises(
                    UnsupportedOperation, call(), f"{what} on a scanner without it"
                )
                seen.error(exc)
            kinds = [type(e).__name__ for e in sub.drain() if not isinstance(e, StatusChanged)]
        check(not kinds, f"a refused command gave events {kinds}")
        after = await h.stimulus.document_position()
        check(
            after == position, f"a refused command moved a document from {position!r} to {after!r}"
        )
        # A read asking only for what the scanner has still works.
        await read_ok(h, scanner, await base_profile(scanner), seen)
        await give_back(h, scanner, seen)
    seen.check()


async def privacy(h: IdScannerHarness) -> None:
    """Every kind of ending a read can have, with every event, error and log record
    (every logger, down to DEBUG) watched."""
    seen = Seen()
    with seen.logs():
        await _privacy_reads(h, seen)
    seen.check()


async def _privacy_reads(h: IdScannerHarness, seen: Seen) -> None:
    async with h.open() as scanner:
        features = (await scanner.capabilities()).features()
        profiles = ["unreadable"]
        if "chip" in features:
            profiles += ["resident", "bad_check", "hmt", "foreigner_2023", "forged"]
        if "mrz" in features:
            profiles += ["passport", "bad_mrz"]
        for profile in profiles:
            await present_and_read(
                h,
                scanner,
                profile,
                seen,
                fingerprints="fingerprints" in features,
                newest_address="newest_address" in features,
            )
            await give_back(h, scanner, seen)
        check(seen.secrets, "no document read held a name or number to look for")


ID_SCANNER_CASES: tuple[IdScannerCase, ...] = (
    ContractCase(
        "id_scanner.capabilities_status",
        "capabilities are consistent; an idle scanner is online with no document",
        capabilities_and_status,
    ),
    ContractCase(
        "id_scanner.read_valid",
        "a valid resident card reads field by field, photo unchanged, every check ok",
        read_valid_document,
    ),
    ContractCase(
        "id_scanner.read_chip_documents",
        "the chip profiles (fingerprints, J, I, Y cards) read field by field and valid",
        read_chip_documents,
    ),
    ContractCase(
        "id_scanner.read_mrz_documents",
        "the MRZ profiles (TD3, TD1, TD2, 3x30) read field by field and valid",
        read_mrz_documents,
    ),
    ContractCase(
        "id_scanner.bad_check",
        "a number failing its check character comes back with the failed idNumberCheck",
        bad_check_is_returned,
    ),
    ContractCase(
        "id_scanner.bad_mrz",
        "an MRZ with a wrong check digit comes back with the failed MRZ check",
        bad_mrz_is_returned,
    ),
    ContractCase(
        "id_scanner.unreadable",
        "an unreadable document gives invalidMedia and InvalidDocument; reads go on",
        unreadable_document,
    ),
    ContractCase(
        "id_scanner.forged",
        "a card failing authentication gives securityFail; reads go on",
        forged_card,
    ),
    ContractCase(
        "id_scanner.command_event_ids",
        "InsertDocument then DocumentInserted, once each, with the read's command id",
        command_events_carry_the_command_id,
    ),
    ContractCase(
        "id_scanner.timeout_without_document",
        "a read with no document times out with timeOut and the scanner still reads",
        timeout_without_a_document,
    ),
    ContractCase(
        "id_scanner.cancel_mid_wait",
        "cancelling a read as the document comes loses no document",
        cancel_mid_wait,
    ),
    ContractCase(
        "id_scanner.fingerprints",
        "fingerprint templates come with their positions; a card without any says so",
        fingerprints,
    ),
    ContractCase(
        "id_scanner.newest_address",
        "the newest address comes as the card holds it",
        newest_address,
    ),
    ContractCase(
        "id_scanner.scan_images",
        "each side scans in each format; no document -> noMedia",
        scan_images,
    ),
    ContractCase(
        "id_scanner.eject",
        "a motorised scanner holds the document, ejects it to the exit; none -> noMedia",
        eject_and_remove,
    ),
    ContractCase(
        "id_scanner.removal_sensor",
        "the customer taking the document gives DocumentRemoved and media notPresent",
        removal_sensor,
    ),
    ContractCase(
        "id_scanner.retain",
        "a retain is counted once, matches the bin, and survives reopening",
        retain_is_counted,
    ),
    ContractCase(
        "id_scanner.reset",
        "a reset hands a document back or retains it, and the scanner reads after",
        reset,
    ),
    ContractCase(
        "id_scanner.unsupported",
        "operations outside the capabilities raise unsupportedCommand and move nothing",
        unsupported_operations,
    ),
    ContractCase(
        "id_scanner.privacy",
        "no event, error or repr holds a document's name, number or MRZ line in full",
        privacy,
    ),
)
