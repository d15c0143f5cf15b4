"""Deliberately broken card readers and ID scanners, for proving that the conformance
suites bite.

Each card reader class is the simulator's `CardReaderModel` with exactly one defect, of
the kind a real driver could have. Run the contract suite against each (``sim://card_reader?
variant=forgets_media_removed``): at least one case must fail, or the suite is not
checking what it claims to. The ID scanners (`ID_SCANNER_BROKEN_VARIANTS`) are the
simulator's `IdScannerModel` with one defect each, run by
``tests/conformance/test_id_scanner_contract.py``; the printers
(`PRINTER_BROKEN_VARIANTS`) the simulator's `PrinterModel` with one defect each, run by
``tests/conformance/test_printer_contract.py``.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from hal.devices.card_reader import (
    CardAction,
    CardData,
    InsertCard,
    MediaInserted,
    MoveTarget,
    Track,
)
from hal.devices.id_scanner import DocumentInserted, IdentityDocument, InvalidDocument, Photo
from hal.devices.printer import Align, Cut, Document, Line, PrintResult
from hal.errors import HalError, PaperOut
from hal.events import Event
from simulator.models.card_reader import Card, CardPosition, CardReaderModel
from simulator.models.id_scanner import IdScannerModel
from simulator.models.printer import PrinterModel

__all__ = [
    "BROKEN_VARIANTS",
    "ID_SCANNER_BROKEN_VARIANTS",
    "PRINTER_BROKEN_VARIANTS",
    "ChangesPhoto",
    "CjkOneColumn",
    "DoubleCountsRetain",
    "DoublePick",
    "DropsFingerprints",
    "DropsLineBeforeCut",
    "EventsOutOfOrder",
    "ForgetsDocumentInserted",
    "ForgetsMediaRemoved",
    "IssueIgnoresExit",
    "LeaksNumber",
    "LogsNumber",
    "LosesCardOnCancel",
    "NoJamError",
    "PaperOutWithoutCounts",
    "ReadsWrongTrack",
    "RetainNotPersisted",
]


class ForgetsMediaRemoved(CardReaderModel):
    """Never reports ``MediaRemoved`` when the customer takes the card."""

    def _announce_removed(self) -> None:
        pass


class LosesCardOnCancel(CardReaderModel):
    """A card that comes in as the wait for it is cancelled vanishes from the books.

    ``MediaInserted`` was reported, yet the ground truth says ``none`` (nobody knows
    where it went) and the status ``notPresent``, although the customer inserted it.
    """

    def _intake_cancelled(self) -> None:
        if self._card is not None:
            self._card.position = CardPosition.NONE


class NoJamError(CardReaderModel):
    """A jam is reported as success: the card is stuck but the command says all is well."""

    def _jammed(self, what: str) -> HalError | None:
        return None


class ReadsWrongTrack(CardReaderModel):
    """Returns the data of track 1 when asked for track 2."""

    def _track_data(self, card: Card, track: Track) -> CardData:
        return super()._track_data(card, Track.TRACK1 if track is Track.TRACK2 else track)


class RetainNotPersisted(CardReaderModel):
    """Reports a capture as done, but the card actually goes to the exit."""

    def _retain(self, card: Card) -> None:
        card.position = CardPosition.EXIT
        card.presented = True
        self._start_take_timer(card)


class DoubleCountsRetain(CardReaderModel):
    """Captures the card and then also reports it as captured by itself.

    The bin holds one more card, but the extra ``CardAction`` makes the service journal
    a second capture: the books count two.
    """

    def _retain(self, card: Card) -> None:
        super()._retain(card)
        self._emit(CardAction(source="transport", to="retain"))


class EventsOutOfOrder(CardReaderModel):
    """Announces ``InsertCard`` late: not when the entry opens, only after
    ``MediaInserted``, once the card is already in (an app waiting for the prompt
    never sees it in time)."""

    def _announce_insert_card(self) -> None:
        pass

    def _announce_inserted(self) -> None:
        self._emit(MediaInserted())
        self._emit(InsertCard())


class DoublePick(CardReaderModel):
    """Feeds two cards from the stacker for one issue (a double pick it never reports):
    the second falls into the machine, and the books are one card out."""

    def _pick(self) -> None:
        self._stacker -= min(2, self._stacker)


class IssueIgnoresExit(CardReaderModel):
    """Issues a card asked for at the exit into the transport (a wrong position code):
    the customer waits at an empty slot."""

    def _issue_target(self, to: MoveTarget) -> MoveTarget:
        return MoveTarget.TRANSPORT


BROKEN_VARIANTS: dict[str, type[CardReaderModel]] = {
    "forgets_media_removed": ForgetsMediaRemoved,
    "loses_card_on_cancel": LosesCardOnCancel,
    "no_jam_error": NoJamError,
    "reads_wrong_track": ReadsWrongTrack,
    "retain_not_persisted": RetainNotPersisted,
    "double_counts_retain": DoubleCountsRetain,
    "events_out_of_order": EventsOutOfOrder,
    "double_pick": DoublePick,
    "issue_ignores_exit": IssueIgnoresExit,
}
"""Each broken reader by the name a ``variant`` option gives it."""


# --- ID scanners ----------------------------------------------------------------------


class ForgetsDocumentInserted(IdScannerModel):
    """Never reports ``DocumentInserted``: an app waiting to tell the customer "reading,
    please wait" never hears the document arrive."""

    def _emit(self, event: Event) -> None:
        if not isinstance(event, DocumentInserted):
            super()._emit(event)


class DropsFingerprints(IdScannerModel):
    """Says the card holds fingerprints but returns no template (a driver that never
    asks the module for the fingerprint block)."""

    async def read_document(self, *, fingerprints: bool, newest_address: bool) -> IdentityDocument:
        document = await super().read_document(
            fingerprints=fingerprints, newest_address=newest_address
        )
        return replace(document, fingerprints=())


class ChangesPhoto(IdScannerModel):
    """Cuts the photo's last byte (a driver that miscounts the photo block's length):
    the WLT blob is no longer what the chip holds."""

    async def read_document(self, *, fingerprints: bool, newest_address: bool) -> IdentityDocument:
        document = await super().read_document(
            fingerprints=fingerprints, newest_address=newest_address
        )
        photo = document.photo
        if photo is None:
            return document
        return replace(document, photo=Photo(photo.data[:-1], photo.format))


class LeaksNumber(IdScannerModel):
    """Checks the number itself and complains in an ``InvalidDocument`` event quoting
    the number in full (validation is the service's job, and numbers are never shown)."""

    async def read_document(self, *, fingerprints: bool, newest_address: bool) -> IdentityDocument:
        document = await super().read_document(
            fingerprints=fingerprints, newest_address=newest_address
        )
        profile = self.profile
        if profile is not None and not profile.valid:
            self._emit(InvalidDocument(reason=f"number {document.document_number} looks wrong"))
        return document


class LogsNumber(IdScannerModel):
    """Logs each document's number in full at DEBUG (a driver's leftover debug line):
    no event or error shows it, only the log."""

    async def read_document(self, *, fingerprints: bool, newest_address: bool) -> IdentityDocument:
        document = await super().read_document(
            fingerprints=fingerprints, newest_address=newest_address
        )
        logging.getLogger(__name__).debug("read document %s", document.document_number)
        return document


ID_SCANNER_BROKEN_VARIANTS: dict[str, type[IdScannerModel]] = {
    "forgets_document_inserted": ForgetsDocumentInserted,
    "drops_fingerprints": DropsFingerprints,
    "changes_photo": ChangesPhoto,
    "leaks_number": LeaksNumber,
    "logs_number": LogsNumber,
}
"""Each broken ID scanner by name."""


# --- printers -------------------------------------------------------------------------


class DropsLineBeforeCut(PrinterModel):
    """Loses the last line before each cut (a driver that sends the cut before the
    printer's line buffer is printed), yet reports every block printed."""

    async def print_document(self, document: Document) -> PrintResult:
        blocks = list(document.blocks)
        kept = [
            block
            for index, block in enumerate(blocks)
            if not (
                isinstance(block, Line)
                and index + 1 < len(blocks)
                and isinstance(blocks[index + 1], Cut)
            )
        ]
        result = await super().print_document(Document(tuple(kept), document.code_page))
        return PrintResult(len(blocks), len(blocks), result.bytes_sent, result.complete)


class PaperOutWithoutCounts(PrinterModel):
    """Reports paper out mid-job without saying how far the job got (a driver that
    never asks the printer for its progress)."""

    async def print_document(self, document: Document) -> PrintResult:
        try:
            return await super().print_document(document)
        except PaperOut as exc:
            raise PaperOut(f"{self.name}: out of paper") from exc


class CjkOneColumn(PrinterModel):
    """Centres and right-aligns lines itself with leading spaces, counting a CJK
    character as one column (a driver that measures text with ``len``): Chinese lines
    land off centre."""

    async def print_document(self, document: Document) -> PrintResult:
        columns = self.profile.columns
        blocks = []
        for block in document.blocks:
            if isinstance(block, Line) and block.align is not Align.LEFT and block.runs:
                free = max(0, columns - len(block.text))
                pad = free // 2 if block.align is Align.CENTER else free
                first = block.runs[0]
                runs = (replace(first, text=" " * pad + first.text), *block.runs[1:])
                block = Line(runs, Align.LEFT)
            blocks.append(block)
        return await super().print_document(Document(tuple(blocks), document.code_page))


PRINTER_BROKEN_VARIANTS: dict[str, type[PrinterModel]] = {
    "drops_line_before_cut": DropsLineBeforeCut,
    "paper_out_without_counts": PaperOutWithoutCounts,
    "cjk_one_column": CjkOneColumn,
}
"""Each broken printer by name."""
