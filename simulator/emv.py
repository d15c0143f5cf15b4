"""An EMV contact chip application that answers command APDUs from a card profile.

What a terminal does with a contact EMV card, and what this chip answers (EMV 4.4
Book 1 §11-12, Book 3 §6; ISO/IEC 7816-4 status words, reference/protocols.md §2.5):

- ``00 A4 04 00 0E "1PAY.SYS.DDF01" 00``: SELECT the payment system environment;
  FCI ``6F{84 name, A5{88 SFI of the directory, 5F2D language}}``.
- ``00 B2 01 0C 00``: READ RECORD 1 of the directory (SFI 1):
  ``70{61{4F AID, 50 label, 87 priority}...}``.
- ``00 A4 04 00 Lc AID 00``: SELECT the application (exact or partial AID; P2 ``02``
  for the next occurrence); FCI ``6F{84 AID, A5{50 label, 87 priority, 9F38 PDOL,
  5F2D language}}``.
- ``80 A8 00 00 Lc 83 L PDOL-data 00``: GET PROCESSING OPTIONS; format 2 answer
  ``77{82 AIP, 94 AFL}``. The 83 value must be exactly as long as the PDOL asks.
- ``00 B2 rr (SFI<<3|4) 00``: READ RECORD of the records the AFL names: ``70{...}``.

Transport: under T=1 every answer comes back at once with ``9000``. Under T=0 a card
cannot send data in the same exchange as it receives command data, so a command with
data (SELECT, GPO) that has an answer gets ``61xx``, and the terminal fetches it with
GET RESPONSE ``00 C0 00 00 xx``; a command without data whose Le does not match the
answer's length gets ``6Cxx`` (resend with Le = xx), as real T=0 cards do.

Errors: wrong class ``6E00``; unknown instruction ``6D00``; no such file or application
``6A82``; no such record ``6A83``; bad P1/P2 ``6A86``; bad data field ``6A80``; wrong
length ``6700``; GPO (or READ RECORD, or GET RESPONSE) when the state does not allow it
``6985``.
"""

from __future__ import annotations

from protocols.apdu import CommandApdu, parse_command
from protocols.errors import ProtocolError
from protocols.tlv import Tlv, build, parse
from simulator.profiles import ChipProfile, EmvApplication, dol_length

__all__ = ["PSE_NAME", "PSE_SFI", "EmvChip", "StatusWord"]

PSE_NAME = b"1PAY.SYS.DDF01"
PSE_SFI = 1

_SELECT, _READ_RECORD, _GPO, _GET_RESPONSE = 0xA4, 0xB2, 0xA8, 0xC0
# The class byte each instruction is sent with (EMV Book 3 §6.5).
_CLASS_OF = {_SELECT: 0x00, _READ_RECORD: 0x00, _GET_RESPONSE: 0x00, _GPO: 0x80}


class StatusWord:
    """The ISO/IEC 7816-4 status words the chip answers with."""

    OK = 0x9000
    WRONG_LENGTH = 0x6700
    CONDITIONS_NOT_SATISFIED = 0x6985
    WRONG_DATA = 0x6A80
    FILE_NOT_FOUND = 0x6A82
    RECORD_NOT_FOUND = 0x6A83
    WRONG_P1P2 = 0x6A86
    INS_NOT_SUPPORTED = 0x6D00
    CLA_NOT_SUPPORTED = 0x6E00


class _Fail(Exception):
    """Ends a command with a status word and no data."""

    def __init__(self, sw: int) -> None:
        super().__init__(f"SW {sw:04X}")
        self.sw = sw


def _sw(sw: int) -> bytes:
    return sw.to_bytes(2, "big")


class EmvChip:
    """The chip of a test card after a reset, answering APDUs over ``protocol``.

    Args:
        profile: the card's chip: its applications and whether it has a PSE.
        protocol: ``T0`` or ``T1``.
    """

    def __init__(self, profile: ChipProfile, protocol: str) -> None:
        if protocol not in ("T0", "T1"):
            raise ValueError(f"protocol is T0 or T1, got {protocol!r}")
        self.profile = profile
        self.protocol = protocol
        self._pse_selected = False
        self._app: EmvApplication | None = None
        self._gpo_done = False
        self._pending = b""

    @property
    def selected(self) -> EmvApplication | None:
        """The selected application, or ``None``."""
        return self._app

    def exchange(self, apdu: bytes) -> bytes:
        """Process one command APDU and return the response APDU (data + SW1 SW2)."""
        try:
            command = parse_command(apdu)
        except ProtocolError:
            self._pending = b""
            return _sw(StatusWord.WRONG_LENGTH)
        if command.ins != _GET_RESPONSE:
            self._pending = b""
        try:
            return self._dispatch(command)
        except _Fail as fail:
            return _sw(fail.sw)

    # --- commands ------------------------------------------------------------------------

    def _dispatch(self, command: CommandApdu) -> bytes:
        if command.cla not in (0x00, 0x80):
            raise _Fail(StatusWord.CLA_NOT_SUPPORTED)
        expected_class = _CLASS_OF.get(command.ins)
        if expected_class is None:
            raise _Fail(StatusWord.INS_NOT_SUPPORTED)
        if command.cla != expected_class:
            raise _Fail(StatusWord.CLA_NOT_SUPPORTED)
        if command.ins == _SELECT:
            return self._answer(command, self._select(command))
        if command.ins == _READ_RECORD:
            return self._answer(command, self._read_record(command))
        if command.ins == _GPO:
            return self._answer(command, self._get_processing_options(command))
        return self._get_response(command)

    def _select(self, command: CommandApdu) -> bytes:
        if command.p1 != 0x04 or command.p2 not in (0x00, 0x02):
            raise _Fail(StatusWord.WRONG_P1P2)
        name = command.data
        if not 1 <= len(name) <= 16:
            raise _Fail(StatusWord.WRONG_LENGTH)
        if name == PSE_NAME:
            if not self.profile.pse or command.p2 != 0x00:
                raise _Fail(StatusWord.FILE_NOT_FOUND)
            self._pse_selected, self._app, self._gpo_done = True, None, False
            proprietary = [Tlv(0x88, bytes([PSE_SFI]))]
            language = self._language()
            if language:
                proprietary.append(Tlv(0x5F2D, language))
            return build([Tlv(0x6F, build([Tlv(0x84, PSE_NAME), Tlv(0xA5, build(proprietary))]))])
        matches = [a for a in self.profile.applications if a.aid.startswith(name)]
        if command.p2 == 0x02 and self._app in matches:
            matches = matches[matches.index(self._app) + 1 :]
        if not matches:
            raise _Fail(StatusWord.FILE_NOT_FOUND)
        app = matches[0]
        self._pse_selected, self._app, self._gpo_done = False, app, False
        proprietary = [Tlv(0x50, app.label.encode("ascii", errors="replace"))]
        if app.priority is not None:
            proprietary.append(Tlv(0x87, bytes([app.priority])))
        if app.pdol:
            proprietary.append(Tlv(0x9F38, app.pdol))
        if app.language:
            proprietary.append(Tlv(0x5F2D, app.language.encode("ascii", errors="replace")))
        return build([Tlv(0x6F, build([Tlv(0x84, app.aid), Tlv(0xA5, build(proprietary))]))])

    def _read_record(self, command: CommandApdu) -> bytes:
        number, sfi = command.p1, command.p2 >> 3
        if command.p2 & 0x07 != 0x04 or number == 0 or sfi == 0:
            raise _Fail(StatusWord.WRONG_P1P2)
        if command.data:
            raise _Fail(StatusWord.WRONG_LENGTH)
        if self._pse_selected:
            if sfi != PSE_SFI:
                raise _Fail(StatusWord.FILE_NOT_FOUND)
            if number != 1:
                raise _Fail(StatusWord.RECORD_NOT_FOUND)
            return build([Tlv(0x70, build(self._directory_entries()))])
        app = self._app
        if app is None:
            raise _Fail(StatusWord.CONDITIONS_NOT_SATISFIED)
        if not any(r.sfi == sfi for r in app.records):
            raise _Fail(StatusWord.FILE_NOT_FOUND)
        record = app.record(sfi, number)
        if record is None:
            raise _Fail(StatusWord.RECORD_NOT_FOUND)
        return build([Tlv(0x70, record.data)])

    def _get_processing_options(self, command: CommandApdu) -> bytes:
        app = self._app
        if app is None or self._gpo_done:
            raise _Fail(StatusWord.CONDITIONS_NOT_SATISFIED)
        if command.p1 != 0x00 or command.p2 != 0x00:
            raise _Fail(StatusWord.WRONG_P1P2)
        try:
            items = parse(command.data)
        except ProtocolError:
            raise _Fail(StatusWord.WRONG_DATA) from None
        if len(items) != 1 or items[0].tag != 0x83:
            raise _Fail(StatusWord.WRONG_DATA)
        if len(items[0].value) != dol_length(app.pdol):
            raise _Fail(StatusWord.WRONG_LENGTH)
        self._gpo_done = True
        return build([Tlv(0x77, build([Tlv(0x82, app.aip), Tlv(0x94, app.afl)]))])

    def _get_response(self, command: CommandApdu) -> bytes:
        if command.p1 != 0x00 or command.p2 != 0x00:
            raise _Fail(StatusWord.WRONG_P1P2)
        pending = self._pending
        if not pending:
            raise _Fail(StatusWord.CONDITIONS_NOT_SATISFIED)
        wanted = command.le if command.le is not None else 0x100
        if wanted > len(pending):
            return _sw(0x6C00 | (len(pending) & 0xFF))
        self._pending = pending[wanted:]
        if self._pending:
            return pending[:wanted] + _sw(0x6100 | (len(self._pending) & 0xFF))
        return pending + _sw(StatusWord.OK)

    # --- helpers -------------------------------------------------------------------------

    def _answer(self, command: CommandApdu, data: bytes) -> bytes:
        """Deliver ``data`` as the transport protocol lets the card."""
        if self.protocol == "T1" or not data:
            return data + _sw(StatusWord.OK)
        if command.data:
            # T=0 case 4: the answer waits for GET RESPONSE.
            self._pending = data
            return _sw(0x6100 | (min(len(data), 0x100) & 0xFF))
        if command.le != len(data):
            return _sw(0x6C00 | (len(data) & 0xFF))
        return data + _sw(StatusWord.OK)

    def _directory_entries(self) -> list[Tlv]:
        entries = []
        for app in self.profile.applications:
            inner = [Tlv(0x4F, app.aid), Tlv(0x50, app.label.encode("ascii", errors="replace"))]
            if app.priority is not None:
                inner.append(Tlv(0x87, bytes([app.priority])))
            entries.append(Tlv(0x61, build(inner)))
        return entries

    def _language(self) -> bytes:
        languages = [a.language for a in self.profile.applications if a.language]
        return "".join(dict.fromkeys(languages)).encode("ascii", errors="replace")

    def __repr__(self) -> str:
        return f"EmvChip(protocol={self.protocol!r}, selected={self._app!r})"
