"""The `Stimulus` interfaces: how the conformance suite makes the world act.

A contract test needs a customer: someone to insert a card, take it, or jam the
reader. In CI the simulator's control API implements these interfaces; on a vendor's
bench a person does it when prompted. The contract tests see only these methods.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from hal.devices.id_scanner_model import IdentityDocument
from hal.errors import UnsupportedOperation

__all__ = [
    "CameraStimulus",
    "CardReaderStimulus",
    "CardSample",
    "CashAcceptorStimulus",
    "CashDispenserStimulus",
    "DocumentSample",
    "IdScannerStimulus",
    "NoteSample",
    "PinPadStimulus",
    "PrinterStimulus",
]


@dataclass(frozen=True, repr=False)
class CardSample:
    """What a test card holds, so a contract test can check what was read.

    Attributes:
        profile: the card's name (``visa``, ``unreadable``...).
        track1, track2, track3: track characters as a reader returns them (no
            sentinels, no LRC); ``None`` for an empty track.
        has_chip: the card has an EMV chip the reader can power.
        pan: the primary account number on the card, if any.
        atr: the chip's answer to reset in its own protocol (what a chip-only reader
            returns as the ``chip`` source); ``None`` without a chip.
    """

    profile: str
    track1: bytes | None = None
    track2: bytes | None = None
    track3: bytes | None = None
    has_chip: bool = False
    pan: str | None = None
    atr: bytes | None = None

    def __repr__(self) -> str:
        return f"CardSample(profile={self.profile!r}, has_chip={self.has_chip})"


class CardReaderStimulus(ABC):
    """What a customer, an operator or fate does to a card reader."""

    @abstractmethod
    async def insert_card(self, profile: str = "visa") -> CardSample:
        """Insert a card of the given profile (the reader must be accepting or will be).

        The card goes in when the reader next opens its entry; this returns at once.
        Profiles every implementation offers: ``visa`` (tracks 1-3 and an EMV chip),
        ``mag_only`` (tracks, no chip), ``unreadable`` (blank tracks, no chip),
        ``jamming`` (jams on the way in), ``never_taken`` (the customer never takes it).
        """

    @abstractmethod
    async def take_card(self, timeout: float = 10.0) -> None:
        """The customer takes the card from the exit (waiting for it to get there)."""

    @abstractmethod
    async def jam(self) -> None:
        """The next card movement jams."""

    @abstractmethod
    async def clear_jam(self) -> None:
        """An operator clears a jam (the card stays in the reader)."""

    @abstractmethod
    async def card_position(self) -> str:
        """Where the card really is: ``none``, ``exit``, ``inside``, ``jammed``,
        ``retained`` or ``customer``; the ground truth the suite checks against."""

    @abstractmethod
    async def retained_count(self) -> int:
        """Cards physically in the retain bin (ground truth)."""

    async def stacker_count(self) -> int:
        """Cards physically in the card stacker of an issuing reader (ground truth).

        Raises:
            UnsupportedOperation: this stimulus cannot tell (the reader issues no cards).
        """
        raise UnsupportedOperation(f"{type(self).__name__} cannot count a card stacker")


class PinPadStimulus(ABC):
    """What a customer does to a PIN pad's keyboard."""

    @abstractmethod
    async def press_keys(self, keys: Sequence[str], *, timeout: float = 10.0) -> None:
        """Press ``keys`` (XFS4IoT key names: ``zero``..``nine``, ``enter``, ``cancel``,
        ``clear``, ``backspace``, ``fdk01``...) one after another.

        Waits (up to ``timeout``) until an entry is under way on the pad, then presses
        them in order; returns once the pad has taken them all.
        """

    @abstractmethod
    async def entry_active(self) -> bool:
        """Whether the pad is in an entry now (its keyboard accepting keys)."""


class CashDispenserStimulus(ABC):
    """What a customer, an operator or fate does to a cash dispenser.

    On the simulator every method acts; on a bench a person is asked. `ground_truth`
    is what only a simulator knows: where every note physically is.
    """

    @abstractmethod
    async def take_notes(self, *, timeout: float = 10.0) -> int:
        """The customer takes the notes at the exit (waits up to ``timeout`` for some).

        Returns:
            How many notes were taken.
        """

    @abstractmethod
    async def notes_at_exit(self) -> int:
        """How many notes are at the exit now."""

    async def jam_next_dispense(self, after_notes: int = 1) -> None:
        """The next dispense jams in the transport after ``after_notes`` notes.

        Raises:
            UnsupportedOperation: this stimulus cannot cause a jam.
        """
        raise UnsupportedOperation(f"{type(self).__name__} cannot cause a jam")

    async def double_note_next_pick(self, unit: str) -> None:
        """The next note picked from ``unit`` is a double note (rejected).

        Raises:
            UnsupportedOperation: this stimulus cannot cause one.
        """
        raise UnsupportedOperation(f"{type(self).__name__} cannot cause a double note")

    async def clear_jam(self) -> None:
        """An engineer clears a jam; the notes in the transport go to the reject unit."""
        raise UnsupportedOperation(f"{type(self).__name__} cannot clear a jam")

    async def replenish(self, unit: str, count: int) -> None:
        """The operator fills ``unit`` so that it holds ``count`` notes (physically).

        Raises:
            UnsupportedOperation: this stimulus cannot (a bench asks a person).
        """
        raise UnsupportedOperation(f"{type(self).__name__} cannot replenish")

    async def ground_truth(self) -> Mapping[str, int] | None:
        """Where every note is: ``{unit id or position: notes}`` with the positions
        ``stacker``, ``transport``, ``exit`` and ``customer``; ``None`` when this
        stimulus cannot know (real hardware)."""
        return None


@dataclass(frozen=True)
class NoteSample:
    """A note a test customer inserts.

    Attributes:
        item: its ledger item (``CNY:10000``); a note the reader does not know (``XXX:1``)
            is refused.
        level: how the reader will classify it (``fit``, ``unfit``, ``suspect``,
            ``counterfeit``, ``unrecognized``); a bill validator refuses all but ``fit``
            and ``unfit``.
    """

    item: str
    level: str = "fit"


class CashAcceptorStimulus(ABC):
    """What a customer, an operator or fate does to a cash acceptor.

    On the simulator every method acts; on a bench a person is asked. `ground_truth`
    is what only a simulator knows: where every note physically is.
    """

    @abstractmethod
    async def insert_notes(self, notes: Sequence[NoteSample | str]) -> None:
        """The customer puts ``notes`` (a bunch; a validator takes them one at a time)
        into the input; returns at once. A plain string is a fit note of that item."""

    @abstractmethod
    async def take_returned(self, *, timeout: float = 10.0) -> int:
        """The customer takes the notes given back at the exit (waits up to
        ``timeout`` for some).

        Returns:
            How many notes were taken.
        """

    @abstractmethod
    async def notes_at_exit(self) -> int:
        """How many notes are at the exit now."""

    async def jam_next_note(self) -> None:
        """The next note taken in jams in the transport.

        Raises:
            UnsupportedOperation: this stimulus cannot cause a jam.
        """
        raise UnsupportedOperation(f"{type(self).__name__} cannot cause a jam")

    async def clear_jam(self) -> None:
        """An engineer clears a jam; the note in the transport goes to the cash-in unit."""
        raise UnsupportedOperation(f"{type(self).__name__} cannot clear a jam")

    async def empty_unit(self, unit: str) -> int:
        """The operator empties ``unit`` (the cash box); returns the notes taken out.

        Raises:
            UnsupportedOperation: this stimulus cannot (a bench asks a person).
        """
        raise UnsupportedOperation(f"{type(self).__name__} cannot empty a unit")

    async def ground_truth(self) -> Mapping[str, int] | None:
        """Where every note is: ``{unit id or position: notes}`` with the positions
        ``escrow``, ``transport``, ``exit`` and ``customer`` (notes the customer gave
        in net: negative after a deposit); ``None`` when this stimulus cannot know."""
        return None


@dataclass(frozen=True, repr=False)
class DocumentSample:
    """What a test document holds, so a contract test can check what was read.

    Attributes:
        profile: the document's name (``resident``, ``passport``...).
        expected: the document as a scanner should read it (``checks`` empty: the
            service adds them); ``None`` for a document no scanner can read.
        valid: whether every check the service runs should pass.
    """

    profile: str
    expected: IdentityDocument | None
    valid: bool = True

    def __repr__(self) -> str:
        kind = self.expected.kind.value if self.expected is not None else None
        return f"DocumentSample(profile={self.profile!r}, kind={kind!r}, valid={self.valid})"


class IdScannerStimulus(ABC):
    """What a customer, an operator or fate does to an ID-document scanner.

    Synthetic people only: every profile is made up.
    """

    @abstractmethod
    async def present_document(self, profile: str = "resident") -> DocumentSample:
        """The customer presents a document of the given profile (places it on the
        reader or inserts it); returns at once.

        Profiles by what the scanner reads (a scanner reading both offers both sets):
        chip readers ``resident`` (a valid China resident ID card), ``bad_check`` (its
        ID number fails the check character), ``unreadable`` (the read fails),
        ``resident_fingerprints``, ``hmt`` (HMT residence permit, ``J``),
        ``foreigner_2017`` (``I``), ``foreigner_2023`` (``Y``) and ``forged`` (fails
        authentication); MRZ readers ``passport`` (TD3), ``id_td1``, ``visa_td2``,
        ``travel_permit`` (3x30) and ``bad_mrz`` (a check digit wrong).

        Raises:
            UnsupportedOperation: this scanner cannot read that profile.
        """

    @abstractmethod
    async def remove_document(self, *, timeout: float = 10.0) -> None:
        """The customer takes the document away (from the reader's field or from the
        exit of a motorised scanner, waiting for it to get there)."""

    @abstractmethod
    async def document_position(self) -> str:
        """Where the document really is: ``none``, ``reader`` (on a flat reader's field
        or inside a motorised one), ``exit``, ``jammed``, ``retained`` or
        ``customer``: the ground truth the suite checks against."""

    async def retained_count(self) -> int:
        """Documents physically in the retain bin (ground truth).

        Raises:
            UnsupportedOperation: this stimulus cannot tell.
        """
        raise UnsupportedOperation(f"{type(self).__name__} cannot count a retain bin")

    async def jam(self) -> None:
        """The next document movement jams.

        Raises:
            UnsupportedOperation: this stimulus cannot cause a jam.
        """
        raise UnsupportedOperation(f"{type(self).__name__} cannot cause a jam")


class CameraStimulus(ABC):
    """What the customer in front of the camera, the light and fate do.

    Scenes every implementation offers for the ``person`` camera: ``face`` (one sharp,
    well-lit face), ``blurred`` (the same, out of focus or moving), ``dark`` (the same,
    in poor light), ``no_face`` (nobody there); ``two_faces`` where it can.
    """

    @abstractmethod
    async def set_scene(self, scene: str, *, camera: str = "person") -> None:
        """What ``camera`` sees from its next frame on.

        Raises:
            UnsupportedOperation: this stimulus cannot show that scene.
        """

    async def unplug(self, *, camera: str = "person") -> None:
        """The camera goes away (unplugged, broken): it gives no frames.

        Raises:
            UnsupportedOperation: this stimulus cannot.
        """
        raise UnsupportedOperation(f"{type(self).__name__} cannot unplug a camera")

    async def replug(self, *, camera: str = "person") -> None:
        """The camera is back."""
        raise UnsupportedOperation(f"{type(self).__name__} cannot replug a camera")


class PrinterStimulus(ABC):
    """What a customer, an operator or fate does to a receipt or journal printer.

    On the simulator every method acts; on a bench a person is asked. `printed_lines`
    is what only a simulator (or a person reading the paper) knows.
    """

    @abstractmethod
    async def take_receipt(self, *, timeout: float = 10.0) -> None:
        """The customer takes the receipt from the exit (waiting for one to be there)."""

    async def paper_runs_out(self, *, after_lines: int = 0) -> None:
        """The paper runs out after ``after_lines`` more printed lines (0: now).

        Raises:
            UnsupportedOperation: this stimulus cannot.
        """
        raise UnsupportedOperation(f"{type(self).__name__} cannot run the paper out")

    async def paper_low(self) -> None:
        """The roll reaches its near end (``paper == low``)."""
        raise UnsupportedOperation(f"{type(self).__name__} cannot make the paper low")

    async def replenish(self) -> None:
        """An operator puts in a new roll (``paper == full``)."""
        raise UnsupportedOperation(f"{type(self).__name__} cannot replenish paper")

    async def open_cover(self) -> None:
        """Someone opens the printer's cover."""
        raise UnsupportedOperation(f"{type(self).__name__} cannot open the cover")

    async def close_cover(self) -> None:
        """The cover is closed again."""
        raise UnsupportedOperation(f"{type(self).__name__} cannot close the cover")

    async def jam_next(self) -> None:
        """The paper jams during the next job."""
        raise UnsupportedOperation(f"{type(self).__name__} cannot cause a jam")

    async def printed_lines(self) -> Sequence[str] | None:
        """The text lines printed since the last call, as the paper shows them (CJK
        characters count two columns; barcodes, QR codes and images as the renderer
        marks them); ``None`` when this stimulus cannot know."""
        return None
