"""`MrzSerialEmulator`: a simulated OCR MRZ reader on the device side of a wire.

The reader needs no host commands: when a document is presented it sends the MRZ lines
in its framing (`protocols.mrz_framing.encode_block`). Bytes from the host are counted
and ignored. The real driver (`drivers.id_scanner.mrz_serial`), unmodified, runs
against it over a pty (`simulator.wire.pty.PtyBridge`) or a memory pair.

Documents: `present` takes MRZ lines; `present_profile` sends the MRZ of one of the
simulator's document profiles (`simulator.id_profiles`: ``passport``, ``id_td1``,
``visa_td2``, ``travel_permit``, ``bad_mrz``); `present_sample` sends a
`DocumentSample`'s ``expected.mrz``.

Faults, for driver tests: garbage before the next block (or at once), the next block
cut short (`truncate_next`), a check digit of the next block made wrong
(`bad_check_next`), the next block sent with a line too long (`overlong_next`), slow
sending (``baud`` paces like a UART), a muted reader (nothing sent).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from hal.errors import UnsupportedOperation
from hal.stimulus import DocumentSample
from protocols import mrz
from protocols.mrz_framing import Framing, encode_block
from simulator.id_profiles import Medium, document_profile
from simulator.wire.emulator_base import FaultyEmulator
from simulator.wire.link import WireLink, WirePacer

__all__ = ["MrzSerialEmulator", "MrzSerialStats", "wrong_check_digit"]

log = logging.getLogger(__name__)


@dataclass
class MrzSerialStats:
    """What crossed the wire.

    Attributes:
        bytes_in, bytes_out: bytes received from / sent to the host (garbage included).
        blocks: blocks sent (faulty ones included).
    """

    bytes_in: int = 0
    bytes_out: int = 0
    blocks: int = 0


def wrong_check_digit(lines: Sequence[str], field: str = "document_number") -> tuple[str, ...]:
    """``lines`` with the check digit of ``field`` changed (``composite`` too, then,
    where the field is inside it).

    Raises:
        ProtocolError: the lines are no MRZ.
        KeyError: the format has no such check digit.
    """
    parsed = mrz.parse(lines)
    line, column = mrz.CHECK_POSITIONS[parsed.format][field]
    out = list(parsed.lines)
    found = out[line][column]
    wrong = "1" if found in ("0", "<") else str((int(found) + 1) % 10) if found.isdigit() else "0"
    out[line] = out[line][:column] + wrong + out[line][column + 1 :]
    return tuple(out)


class MrzSerialEmulator(FaultyEmulator):
    """An OCR MRZ reader on ``link``.

    Args:
        link: the device side of the wire.
        framing: how the reader frames a block.
        prefix: a header sent before each block.
        baud: paces the bytes like a UART at this rate (``None``: as fast as the link).
    """

    def __init__(
        self,
        link: WireLink,
        *,
        framing: Framing | str = Framing.CR,
        prefix: str = "",
        baud: int | None = None,
    ) -> None:
        self.stats = MrzSerialStats()
        super().__init__(
            link, WirePacer(baud), task_name="mrz-serial-emulator", power=None, stats=self.stats
        )
        self.framing = Framing(framing)
        self.prefix = prefix
        self._truncate: int | None = None
        self._bad_field: str | None = None
        self._overlong = False

    # --- faults ------------------------------------------------------------------------

    def truncate_next(self, keep: int) -> None:
        """Send only the first ``keep`` bytes of the next block."""
        if keep < 0:
            raise ValueError(f"keep is >= 0, got {keep}")
        self._truncate = keep

    def bad_check_next(self, field: str = "document_number") -> None:
        """Make the check digit of ``field`` wrong in the next block."""
        self._bad_field = field

    def overlong_next(self) -> None:
        """Send the next block's first line with 30 more characters."""
        self._overlong = True

    # --- documents ---------------------------------------------------------------------

    async def present(self, lines: Sequence[str]) -> bytes:
        """A document is read: send its MRZ block (with the faults set); return the
        bytes sent (garbage not included). A muted reader sends nothing."""
        out = tuple(lines)
        if self._bad_field is not None:
            out, self._bad_field = wrong_check_digit(out, self._bad_field), None
        if self._overlong:
            self._overlong = False
            out = (out[0] + "<" * 30, *out[1:])
        data = encode_block(out, self.framing, prefix=self.prefix)
        if self._truncate is not None:
            data, self._truncate = data[: self._truncate], None
        if self._muted:
            return b""
        self.stats.blocks += 1
        await self._send(data)
        return data

    async def present_sample(self, sample: DocumentSample) -> bytes:
        """Send the MRZ of a document profile's sample.

        Raises:
            UnsupportedOperation: the sample has no MRZ (a chip card, an unreadable one).
        """
        if sample.expected is None or not sample.expected.mrz:
            raise UnsupportedOperation(f"an MRZ reader cannot read {sample.profile!r}")
        return await self.present(sample.expected.mrz)

    async def present_profile(self, name: str) -> DocumentSample:
        """Send the MRZ of the simulator's document profile ``name``; return its sample.

        Raises:
            ConfigurationError: no such profile.
            UnsupportedOperation: it is no MRZ document.
        """
        profile = document_profile(name)
        if profile.medium is not Medium.MRZ or not profile.mrz:
            raise UnsupportedOperation(f"an MRZ reader cannot read {name!r}")
        await self.present(profile.mrz)
        return profile.sample()

    async def _serve(self) -> None:
        while True:
            data = await self.link.receive()
            self.stats.bytes_in += len(data)
