"""The demo's identity check: the ID document read and checked, the customer's photo
taken and judged, with one retake when it is not good enough.

A bank issues a new card (or opens an account, or pays out a large sum) only to a
customer whose original ID document it has read and checked, and whose face it has
photographed on the spot. The app here uses only the public API (``sim://id_scanner``,
``sim://camera``); the customer is the scenario's. Names and numbers are printed
masked only, birth dates and addresses not at all, the photo and the picture never.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from hal.devices.camera import (
    Camera,
    CameraPosition,
    Picture,
    QualityVerdict,
    check_quality,
)
from hal.devices.id_scanner import DocumentKind, DocumentRemoved, IdentityDocument, IdScanner

__all__ = ["IdentityResult", "identity_check"]

#: How the demo names each document kind.
_KIND_NAMES = {
    DocumentKind.CN_RESIDENT_ID: "China resident ID card",
    DocumentKind.CN_HMT_RESIDENCE_PERMIT: "HK/Macao/Taiwan residence permit",
    DocumentKind.CN_FOREIGNER_PERMANENT_2017: "foreigner permanent residence card (2017)",
    DocumentKind.CN_FOREIGNER_PERMANENT_2023: "foreigner permanent residence card (2023)",
    DocumentKind.PASSPORT: "passport",
    DocumentKind.TRAVEL_DOCUMENT: "travel document",
    DocumentKind.CN_TRAVEL_PERMIT: "China travel permit",
}

T = TypeVar("T")

#: Pictures the app takes at most: the first and one retake.
PICTURES = 2


@dataclass
class IdentityResult:
    """What the identity check found (masked forms only).

    Attributes:
        kind: the document's kind.
        masked_name: the holder's name as a log may show it.
        masked_number: the document number as a log may show it.
        checks: each check the service ran and whether it passed.
        document_valid: every check passed.
        photo_bytes: the size of the photo the document delivered (0: none).
        verdicts: the quality verdict of each picture taken, in order.
        passed: the document is valid and the last picture is good enough.
    """

    kind: DocumentKind | None = None
    masked_name: str = ""
    masked_number: str = ""
    checks: list[tuple[str, bool]] = field(default_factory=list)
    document_valid: bool = False
    photo_bytes: int = 0
    verdicts: list[QualityVerdict] = field(default_factory=list)
    passed: bool = False


class StepRunner(Protocol):
    """Runs one app step, timing and printing it (`tellerhal.demo._Steps`)."""

    async def __call__(self, what: str, action: Awaitable[T]) -> T: ...


async def identity_check(
    scanner: IdScanner,
    camera: Camera,
    step: StepRunner,
    say: Callable[[str, str], None],
    *,
    patience: float,
    hold_still: float,
) -> IdentityResult:
    """Read the customer's ID document, then photograph them (one retake).

    Args:
        scanner, camera: the devices, already open. A motorised scanner hands the
            document back after the read.
        step: runs one timed, printed step.
        say: prints one line.
        patience: real seconds to wait for the customer to present the document.
        hold_still: real seconds the app gives the customer after asking for a retake.
    """
    result = IdentityResult()
    caps = await scanner.capabilities()
    say("app", f"ID scanner features: {', '.join(sorted(caps.features()))}")
    say("app", "read_document: please place your ID card on the reader")
    document = await step("read_document returned", scanner.read_document(timeout=patience))
    _show_document(document, say, result)
    features = caps.features()
    if "eject" in features:
        with scanner.events(kinds=[DocumentRemoved]) as taken:
            await step("eject: please take your ID card", scanner.eject(timeout=patience))
            if "removal_sensor" in features:
                await step("the customer took the ID card", taken.get(timeout=patience))
    for number in range(1, PICTURES + 1):
        picture = await step(
            f"take_picture(person): picture {number}",
            camera.take_picture(CameraPosition.PERSON, timeout=patience),
        )
        verdict = check_quality(picture)
        result.verdicts.append(verdict)
        say("app", _picture_text(picture, verdict))
        if verdict.ok:
            break
        if number < PICTURES:
            say("app", f"retake: {verdict.advice}")
            await asyncio.sleep(hold_still)
    result.passed = result.document_valid and bool(result.verdicts) and result.verdicts[-1].ok
    outcome = "passed" if result.passed else "FAILED"
    say(
        "app",
        f"identity check {outcome}: document {_yes(result.document_valid)}, "
        f"photo {_yes(bool(result.verdicts) and result.verdicts[-1].ok)}",
    )
    return result


def _yes(ok: bool) -> str:
    return "ok" if ok else "not ok"


def _show_document(
    document: IdentityDocument, say: Callable[[str, str], None], result: IdentityResult
) -> None:
    result.kind = document.kind
    result.masked_name = document.masked_name
    result.masked_number = document.masked_number
    result.checks = [(c.name.value, c.ok) for c in document.checks]
    result.document_valid = document.valid
    result.photo_bytes = len(document.photo.data) if document.photo is not None else 0
    photo = (
        f"{document.photo.format.value} photo, {result.photo_bytes} bytes"
        if document.photo is not None
        else "no photo"
    )
    say(
        "app",
        f"{_KIND_NAMES.get(document.kind, document.kind.value)}: name {result.masked_name}, "
        f"number {result.masked_number}, {photo}",
    )
    checks = ", ".join(
        f"{c.name.value} {'ok' if c.ok else 'FAILED (' + c.detail + ')'}" for c in document.checks
    )
    say(
        "app",
        f"checks: {checks or 'none'}; the document is {'valid' if document.valid else 'NOT valid'}",
    )


def _picture_text(picture: Picture, verdict: QualityVerdict) -> str:
    quality = picture.quality
    faces = len(quality.faces)
    face = f", face {quality.faces[0].width}x{quality.faces[0].height}" if quality.faces else ""
    measured = (
        f"{picture.format.value} {picture.width}x{picture.height}: sharpness "
        f"{quality.sharpness:.0f}, brightness {quality.brightness:.0f}, "
        f"{faces} face{'s' if faces != 1 else ''}{face}"
    )
    if verdict.ok:
        return f"{measured} -> good"
    problems = ", ".join(p.value for p in verdict.problems)
    return f"{measured} -> retake ({problems})"
