"""`RemoteIdScannerControl`: the customer, the operator and fate at an ID scanner of a
``tellerhal sim``, over its control socket (re-exported by `simulator.remote_control`).
"""

from __future__ import annotations

from hal.errors import ProtocolError
from hal.stimulus import (
    DocumentSample,
    IdScannerStimulus,
)
from simulator.control_commands import (
    DocumentPresentedCompletion,
    FlagPayload,
    PositionCompletion,
    PresentDocumentPayload,
    SlowReadPayload,
    TakeCardPayload,
    WaitForPayload,
)
from simulator.remote_control_base import _RemoteDeviceControl


class RemoteIdScannerControl(_RemoteDeviceControl, IdScannerStimulus):
    """The customer, the operator and fate at an ID scanner of a ``tellerhal sim`` (the
    methods of `simulator.id_control.IdScannerControl`).

    The control socket carries no personal data: `present_document` gets the profile's
    name, kind and validity back and takes the expected document from this process's
    own `simulator.id_profiles` (the same shipped profiles).

    Args:
        endpoint: the simulator's control socket.
        device: the scanner's device name.
        timeout: seconds to reach the simulator and get each acknowledge.

    Raises:
        ConfigurationError: a bad endpoint.
        ValueError: a bad device name or timeout.
    """

    def __init__(self, endpoint: str, device: str = "id_scanner", *, timeout: float = 5.0) -> None:
        super().__init__(endpoint, device, timeout=timeout)

    # --- IdScannerStimulus -------------------------------------------------------------

    async def present_document(self, profile: str = "resident") -> DocumentSample:
        """The customer presents a document of the shipped profile ``profile``.

        Raises:
            InvalidData: no such profile.
            UnsupportedOperation: the scanner cannot read that kind of document.
            SequenceError: a document is already there.
            ProtocolError: the simulator's profile differs from this process's.
        """
        from simulator.id_profiles import document_profile

        done = await self._call("Control.PresentDocument", PresentDocumentPayload(profile))
        assert isinstance(done, DocumentPresentedCompletion)
        sample = document_profile(done.profile).sample()
        kind = sample.expected.kind.value if sample.expected is not None else ""
        if (kind, sample.valid) != (done.kind, done.valid):
            raise ProtocolError(
                f"{self.endpoint}: the simulator's {profile} document ({done.kind or 'none'}, "
                f"valid={done.valid}) is not this process's ({kind or 'none'}, "
                f"valid={sample.valid}); are both the same version?"
            )
        return sample

    async def remove_document(self, *, timeout: float = 10.0) -> None:
        """The customer takes the document (from a motorised scanner's exit once it gets
        there, waiting ``timeout`` real seconds)."""
        await self._call("Control.RemoveDocument", TakeCardPayload(timeout), wait=timeout)

    async def document_position(self) -> str:
        """Where the document really is."""
        done = await self._call("Control.DocumentPosition")
        assert isinstance(done, PositionCompletion)
        return done.position

    async def retained_count(self) -> int:
        """Documents physically in the retain bin."""
        return await self._count("Control.RetainedCount")

    async def jam(self) -> None:
        """The next document movement jams."""
        await self._call("Control.JamDocument")

    # --- more of fate ------------------------------------------------------------------

    async def clear_jam(self) -> None:
        """An operator clears a jam; the document stays inside."""
        await self._call("Control.ClearJam")

    async def sam_failure(self, failed: bool = True) -> None:
        """The security module fails its self-test (``False``: it works again)."""
        await self._call("Control.SamFailure", FlagPayload(failed))

    async def fail_next_read(self) -> None:
        """The next read fails (``InvalidMedia``)."""
        await self._call("Control.FailRead")

    async def slow_read(self, seconds: float) -> None:
        """Every read takes ``seconds`` simulated seconds longer (0: normal)."""
        await self._call("Control.SlowRead", SlowReadPayload(seconds))

    async def empty_retain_bin(self) -> int:
        """An operator empties the retain bin; returns how many documents came out."""
        return await self._count("Control.EmptyRetainBin")

    async def wait_for(self, condition: str, timeout: float = 10.0) -> None:
        """Wait until ``condition`` (see `simulator.id_control.ID_CONDITIONS`) holds.

        Raises:
            HalTimeout: it did not hold within ``timeout`` real seconds.
            InvalidData: an unknown condition.
        """
        await self._call("Control.WaitFor", WaitForPayload(condition, timeout), wait=timeout)
