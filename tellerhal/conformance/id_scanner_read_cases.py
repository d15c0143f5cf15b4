"""The IdScanner contract's reading cases (`tellerhal.conformance.id_scanner` holds the
table of every case and the media-handling ones): capabilities and status, documents
read field by field, checks that fail coming back on the document, unreadable and forged
documents, the read's events, a timeout, a cancel, fingerprints and the newest address.
"""

from __future__ import annotations

import asyncio

from hal.devices.id_scanner import (
    CheckName,
    DocumentInserted,
    DocumentKind,
    DocumentStatus,
    IdentityDocument,
    InsertDocument,
    InvalidDocument,
)
from hal.errors import (
    Completion,
    HalTimeout,
    InvalidMedia,
    SecurityFail,
    UnsupportedOperation,
)
from hal.events import StatusChanged
from tellerhal.conformance.framework import (
    ContractFailure,
    check,
    expect_raises,
)
from tellerhal.conformance.id_scanner_steps import (
    CHIP_PROFILES,
    FINGER_POSITIONS,
    MRZ_PROFILES,
    IdScannerHarness,
    Seen,
    base_profile,
    check_document,
    give_back,
    media_while_there,
    need,
    next_event,
    present_and_read,
    read_ok,
    senses_document,
)

__all__ = [
    "bad_check_is_returned",
    "bad_mrz_is_returned",
    "cancel_mid_wait",
    "capabilities_and_status",
    "command_events_carry_the_command_id",
    "fingerprints",
    "forged_card",
    "newest_address",
    "read_chip_documents",
    "read_mrz_documents",
    "read_valid_document",
    "timeout_without_a_document",
    "unreadable_document",
]


async def capabilities_and_status(h: IdScannerHarness) -> None:
    seen = Seen()
    async with h.open() as scanner:
        caps = await scanner.capabilities()
        features = caps.features()
        check(caps.kinds, "the scanner reads no document kind")
        check("chip" in features or "mrz" in features, "the scanner reads neither chip nor MRZ")
        for feature in ("fingerprints", "newest_address"):
            if feature in features:
                check("chip" in features, f"{feature} without a chip reader")
        check(
            bool(caps.images) == bool(caps.image_formats),
            "image sides and image formats must be given together",
        )
        check(caps.retain_capacity >= 0, f"retain capacity {caps.retain_capacity}")
        if "retain" in features:
            check("eject" in features, "a retain bin without a motor to move the document")
        status = await scanner.status()
        check(
            status.device.value == "online",
            f"an idle scanner is {status.device.value!r}, not online",
        )
        check(
            status.media in (DocumentStatus.NOT_PRESENT, DocumentStatus.UNKNOWN),
            f"no document was presented, yet media is {status.media.value!r}",
        )
        check(status.security_module == "ok", f"security module {status.security_module!r}")
        if "retain" in features:
            bin_ = await scanner.retain_bin()
            check(bin_.capacity == caps.retain_capacity, f"bin capacity {bin_.capacity}")
            check(bin_.count >= 0 and bin_.pending == 0, f"retain bin {bin_}")
        else:
            await expect_raises(
                UnsupportedOperation, scanner.retain_bin(), "retain_bin without a retain bin"
            )
    seen.check()


async def read_valid_document(h: IdScannerHarness) -> None:
    """The scanner's base profile (``resident`` on a chip reader, else ``passport``):
    every field, the photo unchanged, checks ok."""
    seen = Seen()
    async with h.open() as scanner:
        document, sample, _ = await read_ok(h, scanner, await base_profile(scanner), seen)
        check(sample.valid, f"the {sample.profile!r} test document must be valid")
        check_document(document, sample)
        check(
            all(c.ok for c in document.checks),
            f"failed checks on a valid document: {[c.name.value for c in document.checks]}",
        )
        status = await scanner.status()
        check(
            status.media in await media_while_there(scanner),
            f"after a read media is {status.media.value!r}",
        )
        await give_back(h, scanner, seen)
    seen.check()


async def _read_profiles(h: IdScannerHarness, profiles: tuple[str, ...]) -> None:
    seen = Seen()
    async with h.open() as scanner:
        kinds: list[DocumentKind] = []
        for profile in profiles:
            try:
                document, sample, _ = await read_ok(h, scanner, profile, seen)
            except UnsupportedOperation as exc:
                raise ContractFailure(
                    f"the stimulus cannot present {profile!r}, which a scanner of these "
                    f"features reads: {exc}"
                ) from None
            check_document(document, sample)
            check(sample.valid and document.valid, f"{profile!r} must read valid")
            kinds.append(document.kind)
            await give_back(h, scanner, seen)
        caps = await scanner.capabilities()
        unknown = sorted(k.value for k in kinds if k not in caps.kinds)
        check(not unknown, f"read kinds the capabilities do not list: {unknown}")
    seen.check()


async def read_chip_documents(h: IdScannerHarness) -> None:
    async with h.open() as scanner:
        need((await scanner.capabilities()).features(), "chip")
    await _read_profiles(h, CHIP_PROFILES)


async def read_mrz_documents(h: IdScannerHarness) -> None:
    async with h.open() as scanner:
        need((await scanner.capabilities()).features(), "mrz")
    await _read_profiles(h, MRZ_PROFILES)


async def bad_check_is_returned(h: IdScannerHarness) -> None:
    seen = Seen()
    async with h.open() as scanner:
        need((await scanner.capabilities()).features(), "chip", why="an ID number is on a chip")
        outcome, sample, _ = await present_and_read(h, scanner, "bad_check", seen)
        if not isinstance(outcome, IdentityDocument):
            raise ContractFailure(
                f"a document failing its number check must come back with the failure on "
                f"it, not end the read with {outcome!r}"
            )
        check(not sample.valid, "the 'bad_check' test document must be invalid")
        check_document(outcome, sample)
        failed = {c.name for c in outcome.failed_checks()}
        check(
            CheckName.ID_NUMBER in failed,
            f"the number's check character is wrong, yet the failed checks are "
            f"{sorted(c.value for c in failed)}",
        )
        (number_check,) = [c for c in outcome.checks if c.name is CheckName.ID_NUMBER]
        check(number_check.detail, "the failed idNumberCheck says nothing of why")
        await give_back(h, scanner, seen)
    seen.check()


async def bad_mrz_is_returned(h: IdScannerHarness) -> None:
    seen = Seen()
    async with h.open() as scanner:
        need((await scanner.capabilities()).features(), "mrz")
        outcome, sample, _ = await present_and_read(h, scanner, "bad_mrz", seen)
        if not isinstance(outcome, IdentityDocument):
            raise ContractFailure(
                f"an MRZ with a wrong check digit must come back with the failure on it, "
                f"not end the read with {outcome!r}"
            )
        check(not sample.valid, "the 'bad_mrz' test document must be invalid")
        check_document(outcome, sample)
        failed = [c for c in outcome.failed_checks() if c.name.value.startswith("mrz")]
        check(failed, "a check digit is wrong, yet no MRZ check failed")
        check(all(c.detail for c in failed), "a failed MRZ check says nothing of why")
        await give_back(h, scanner, seen)
    seen.check()


async def unreadable_document(h: IdScannerHarness) -> None:
    seen = Seen()
    async with h.open() as scanner:
        outcome, sample, events = await present_and_read(h, scanner, "unreadable", seen)
        if not isinstance(outcome, InvalidMedia):
            raise ContractFailure(
                f"reading an unreadable document: expected InvalidMedia, got {outcome!r}"
            )
        check(sample.expected is None, "the 'unreadable' sample must hold no document")
        check(
            getattr(outcome, "error_code", None) == "invalidMedia",
            f"error_code of {outcome!r}",
        )
        invalid = [e for e in events if isinstance(e, InvalidDocument)]
        kinds = [type(e).__name__ for e in events if not isinstance(e, StatusChanged)]
        check(invalid, f"no InvalidDocument event; events were {kinds}")
        check(
            all(e.command_id is not None for e in invalid),
            "InvalidDocument is a command event and carries the read's command id",
        )
        await give_back(h, scanner, seen)
        # The scanner still reads after refusing a document.
        await read_ok(h, scanner, await base_profile(scanner), seen)
        await give_back(h, scanner, seen)
    seen.check()


async def forged_card(h: IdScannerHarness) -> None:
    seen = Seen()
    async with h.open() as scanner:
        need((await scanner.capabilities()).features(), "chip")
        outcome, _, _ = await present_and_read(h, scanner, "forged", seen)
        if not isinstance(outcome, SecurityFail):
            raise ContractFailure(
                f"a card that fails authentication: expected SecurityFail, got {outcome!r}"
            )
        check(getattr(outcome, "error_code", None) == "securityFail", f"error_code of {outcome!r}")
        await give_back(h, scanner, seen)
        await read_ok(h, scanner, await base_profile(scanner), seen)
        await give_back(h, scanner, seen)
    seen.check()


async def command_events_carry_the_command_id(h: IdScannerHarness) -> None:
    seen = Seen()
    async with h.open() as scanner:
        _, _, events = await read_ok(h, scanner, await base_profile(scanner), seen)
        order = [e for e in events if isinstance(e, InsertDocument | DocumentInserted)]
        names = [type(e).__name__ for e in order]
        check(
            names == ["InsertDocument", "DocumentInserted"],
            f"a read gave {names}, expected InsertDocument then DocumentInserted once each",
        )
        ids = {e.command_id for e in order}
        check(None not in ids and len(ids) == 1, f"the read's events carry command ids {ids}")
        await give_back(h, scanner, seen)
    seen.check()


async def timeout_without_a_document(h: IdScannerHarness) -> None:
    seen = Seen()
    async with h.open() as scanner:
        with seen.watch(scanner):
            exc = await expect_raises(
                HalTimeout,
                scanner.read_document(timeout=0.2),
                "read_document with no document and timeout 0.2 s",
            )
        seen.error(exc)
        check(
            getattr(exc, "completion", None) == Completion.TIME_OUT,
            f"completion is {getattr(exc, 'completion', None)!r}",
        )
        status = await scanner.status()
        check(
            status.media in (DocumentStatus.NOT_PRESENT, DocumentStatus.UNKNOWN),
            f"no document came, yet media is {status.media.value!r}",
        )
        # The scanner still works after a timeout.
        document, sample, _ = await read_ok(h, scanner, await base_profile(scanner), seen)
        check_document(document, sample)
        await give_back(h, scanner, seen)
    seen.check()


async def cancel_mid_wait(h: IdScannerHarness) -> None:
    seen = Seen()
    async with h.open() as scanner:
        with seen.watch(scanner), scanner.events(kinds=[InsertDocument]) as ready:
            task = asyncio.create_task(scanner.read_document(timeout=h.patience * 4))
            await next_event(ready, InsertDocument, h.patience, "read_document")
            # The customer presents the document just as the app gives up.
            seen.document(await h.stimulus.present_document(await base_profile(scanner)))
            task.cancel()
            outcome = (await asyncio.gather(task, return_exceptions=True))[0]
        seen.outcome(outcome)
        check(
            isinstance(outcome, asyncio.CancelledError | IdentityDocument),
            f"a cancelled read ended with {outcome!r}",
        )
        position = await h.stimulus.document_position()
        check(
            position in ("none", "reader"),
            f"after cancelling the read the document is at {position!r}",
        )
        if position == "reader":
            status = await scanner.status()
            check(
                status.media in await media_while_there(scanner),
                f"the document is in the reader, yet media is {status.media.value!r}",
            )
        if position == "reader" and not await senses_document(scanner):
            # Still on the window of a reader that reads a document once: not lost, but
            # the customer lays it down again.
            await h.stimulus.remove_document(timeout=h.patience)
            await h.stimulus.present_document(await base_profile(scanner))
        # Whether it was taken in or not, the next read gets it.
        with seen.watch(scanner):
            try:
                document = await scanner.read_document(timeout=h.patience * 4)
            except HalTimeout:
                raise ContractFailure(
                    f"the document presented as the read was cancelled is lost: the "
                    f"stimulus puts it at {position!r}, yet the next read found none"
                ) from None
        seen.outcome(document)
        check(document.valid, "the document read after a cancel fails its checks")
        await give_back(h, scanner, seen)
    seen.check()


async def fingerprints(h: IdScannerHarness) -> None:
    seen = Seen()
    async with h.open() as scanner:
        need((await scanner.capabilities()).features(), "fingerprints")
        document, sample, _ = await read_ok(
            h, scanner, "resident_fingerprints", seen, fingerprints=True
        )
        check_document(document, sample, fingerprints=True)
        check(document.fingerprints_present is True, "fingerprints_present is not True")
        check(document.fingerprints, "the card holds fingerprints; none came back")
        positions = [f.position for f in document.fingerprints]
        check(
            all(p in FINGER_POSITIONS for p in positions),
            f"finger positions {positions} are not finger position codes",
        )
        check(all(f.template for f in document.fingerprints), "an empty fingerprint template")
        await give_back(h, scanner, seen)
        # A card without fingerprints says so; asking is no error.
        plain, sample, _ = await read_ok(h, scanner, "resident", seen, fingerprints=True)
        check_document(plain, sample, fingerprints=True)
        if sample.expected is not None and not sample.expected.fingerprints:
            check(
                plain.fingerprints_present is False and not plain.fingerprints,
                f"a card without fingerprints read with fingerprints_present="
                f"{plain.fingerprints_present} and {len(plain.fingerprints)} templates",
            )
        await give_back(h, scanner, seen)
        # Not asked: none read.
        document, sample, _ = await read_ok(h, scanner, "resident_fingerprints", seen)
        check_document(document, sample)
        await give_back(h, scanner, seen)
    seen.check()


async def newest_address(h: IdScannerHarness) -> None:
    seen = Seen()
    async with h.open() as scanner:
        need((await scanner.capabilities()).features(), "newest_address")
        for profile in ("resident", "resident_fingerprints"):
            document, sample, _ = await read_ok(h, scanner, profile, seen, newest_address=True)
            check_document(document, sample, newest_address=True)
            await give_back(h, scanner, seen)
    seen.check()
