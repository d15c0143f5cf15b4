"""The hands and faults acting on a simulated ID scanner: `IdScannerControl`.

It implements `hal.stimulus.IdScannerStimulus` (what the conformance suite drives) over
an `IdScannerModel`, plus faults the suite's interface does not name: the security
module failing, a read failing, slow reads, slow replies, power loss. It acts on the
model's hardware, never through the hal service. Timeouts are real seconds; durations
given to the model are simulated seconds.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from hal.errors import HalTimeout
from hal.stimulus import DocumentSample, IdScannerStimulus
from simulator.id_profiles import DocumentProfile, document_profile
from simulator.models.id_scanner import DocumentPosition, IdScannerModel

__all__ = ["ID_CONDITIONS", "IdScannerControl", "stimulus_position"]


def _conditions() -> dict[str, Callable[[IdScannerModel], bool]]:
    return {
        "accepting": lambda m: m.accepting,
        "document_presented": lambda m: m.position is DocumentPosition.PRESENTED,
        "document_inside": lambda m: m.position is DocumentPosition.INSIDE,
        "document_at_exit": lambda m: m.position is DocumentPosition.EXIT,
        "document_jammed": lambda m: m.position is DocumentPosition.JAMMED,
        "document_retained": lambda m: m.position is DocumentPosition.RETAINED,
        "document_taken": lambda m: m.position is DocumentPosition.CUSTOMER,
        "no_document": lambda m: m.position in (DocumentPosition.NONE, DocumentPosition.CUSTOMER),
    }


#: What `IdScannerControl.wait_for` can wait for, by name.
ID_CONDITIONS: dict[str, Callable[[IdScannerModel], bool]] = _conditions()


def stimulus_position(model: IdScannerModel) -> str:
    """The model's position in the words of `IdScannerStimulus.document_position`:
    ``reader`` on a flat reader's field or inside a motorised scanner, ``exit`` at a
    motorised scanner's entry/exit slot (handed back, or held there before it is taken
    in), else the position's own name."""
    position = model.position
    if position is DocumentPosition.INSIDE:
        return "reader"
    if position is DocumentPosition.PRESENTED:
        return "exit" if model.motorised else "reader"
    return position.value


class IdScannerControl(IdScannerStimulus):
    """The customer, the operator and fate at one simulated ID scanner.

    Args:
        model: the scanner they act on.
    """

    def __init__(self, model: IdScannerModel) -> None:
        self._model = model

    @property
    def model(self) -> IdScannerModel:
        """The scanner acted on."""
        return self._model

    # --- IdScannerStimulus -----------------------------------------------------------

    async def present_document(self, profile: str = "resident") -> DocumentSample:
        """The customer presents a document of the shipped profile ``profile``.

        Raises:
            ConfigurationError: no such profile.
            UnsupportedOperation: this build cannot read that kind of document.
            SequenceError: a document is already there.
        """
        return await self.present(document_profile(profile))

    async def present(self, profile: DocumentProfile) -> DocumentSample:
        """The same, for any `DocumentProfile`."""
        self._model.customer_presents(profile)
        return profile.sample()

    async def remove_document(self, *, timeout: float = 10.0) -> None:
        """The customer takes the document: off the field at once, or from a motorised
        scanner's exit once it gets there (waiting ``timeout`` real seconds).

        Raises:
            HalTimeout: the document did not come within ``timeout``.
            SequenceError: there is no document the customer can take.
        """
        model = self._model
        if model.motorised and model.position in (
            DocumentPosition.INSIDE,
            DocumentPosition.JAMMED,
        ):
            await self.wait_for("document_at_exit", timeout=timeout)
        model.customer_removes()

    async def document_position(self) -> str:
        """Where the document really is (`stimulus_position`)."""
        return stimulus_position(self._model)

    async def retained_count(self) -> int:
        """Documents physically in the retain bin."""
        return self._model.retained_count

    async def jam(self) -> None:
        """The next document movement jams (`UnsupportedOperation` on a flat reader)."""
        self._model.jam_next_movement()

    # --- more of fate ------------------------------------------------------------------

    async def model_position(self) -> str:
        """The model's own position: ``none``, ``presented``, ``inside``, ``exit``,
        ``customer``, ``retained`` or ``jammed``."""
        return self._model.position.value

    async def clear_jam(self) -> None:
        """An operator clears a jam; the document stays inside."""
        self._model.clear_jam()

    async def sam_failure(self, failed: bool = True) -> None:
        """The security module fails its self-test (``False``: it works again)."""
        self._model.set_sam_failure(failed)

    async def fail_next_read(self) -> None:
        """The next read fails (``InvalidMedia``)."""
        self._model.fail_next_read()

    async def slow_read(self, seconds: float) -> None:
        """Every read takes ``seconds`` simulated seconds longer (0: normal)."""
        self._model.set_slow_read(seconds)

    async def power_loss(self, on: bool = True) -> None:
        """Cut the power (``on=True``) or restore it (``on=False``)."""
        self._model.set_power(not on)

    async def slow_replies(self, seconds: float) -> None:
        """Delay every reply by ``seconds`` simulated seconds (0: none)."""
        self._model.set_reply_delay(seconds)

    async def empty_retain_bin(self) -> int:
        """An operator empties the retain bin; returns how many documents came out."""
        return self._model.empty_retain_bin()

    async def wait_for(self, condition: str, timeout: float | None = None) -> None:
        """Wait until ``condition`` (a key of `ID_CONDITIONS`) holds.

        Raises:
            ValueError: an unknown condition.
            HalTimeout: it did not hold within ``timeout`` real seconds.
        """
        check = ID_CONDITIONS.get(condition)
        if check is None:
            raise ValueError(
                f"unknown condition {condition!r}; known: {', '.join(sorted(ID_CONDITIONS))}"
            )
        model = self._model
        try:
            async with asyncio.timeout(timeout):
                await model.wait_until(lambda: check(model))
        except TimeoutError as exc:
            raise HalTimeout(
                f"{model.name}: {condition} did not happen within {timeout} s "
                f"(the document is {model.position.value})"
            ) from exc

    def __repr__(self) -> str:
        return f"IdScannerControl({self._model.name!r})"
