"""The Creator protocols' ``spy+`` maskers (see `hal.transports.spy_maskers`), which the
``crt310`` and ``crt591`` drivers declare as their ``DriverSpec.masker``.

- `Crt310Masker`: track characters in track-read replies, the C-APDU after its header (a
  VERIFY carries a PIN block) and the R-APDU before its status word, and the DATA of
  commands not known to be plain.
- `Crt591Masker`: the C-APDU of a CPU-card APDU command (51 33/34/39) after CLA INS P1
  P2, the R-APDU of its reply before SW1 SW2, the card serial number (A2), the DATA of
  SAM, memory-card and RF commands and of their replies; st0 st1 st2, error codes, the
  firmware's version and configuration and an ATR stay visible.
"""

from __future__ import annotations

import re

from hal.transports.spy_maskers import RX, TX, hex_masked
from protocols import crt591
from protocols.crt310 import (
    ApduReply,
    BadFrame,
    BadFrameReason,
    Command,
    Control,
    Crt310StreamDecoder,
    ErrorReply,
    Frame,
    OperationStatus,
    PlainReply,
    TrackReadReply,
    TrackStatus,
    decode_command,
    decode_reply,
)
from protocols.errors import ProtocolError

__all__ = ["Crt310Masker", "Crt591Masker"]


# Commands whose DATA (and whose replies' DATA) never holds card data or keys.
_PLAIN_COMMANDS = frozenset(
    {
        Command.RESET,
        Command.RESET_EJECT_FRONT,
        Command.RESET_EJECT_REAR,
        Command.READ_SERIAL,
        Command.ENTRY_CONTROL,
        Command.STOP_POSITION,
        Command.STATUS,
        Command.CARD_TYPE,
        Command.SENSORS_V2,
        Command.SENSORS_V3,
        Command.MOVE_TO_RF,
        Command.MOVE_TO_IC,
        Command.MOVE_FRONT_NO_HOLD,
        Command.MOVE_FRONT_HOLD,
        Command.MOVE_REAR_HOLD,
        Command.CAPTURE,
        Command.CLEAR_REAR,
        Command.IC_POWER_ON,
        Command.IC_POWER_OFF,
        Command.SET_BAUD,
        Command.CPU_COLD_RESET,
        Command.CPU_WARM_RESET,
        Command.READ_TRACKS,
        Command.REREAD_TRACKS,
        Command.LIGHT_ON,
        Command.LIGHT_OFF,
        Command.LIGHT_BLINK,
        Command.PASS_THROUGH_ON,
        Command.PASS_THROUGH_OFF,
    }
)
_DATA = 5  # index of DATA in a frame: STX LEN_H LEN_L CM PM


class Crt310Masker:
    """CRT-310 traffic, frame by frame (see the module header for what is masked)."""

    def __init__(self, reveal: bool = False) -> None:
        self.reveal = reveal
        self._decoders = {TX: Crt310StreamDecoder(), RX: Crt310StreamDecoder()}
        self._request: Command | None = None

    def reset(self) -> None:
        """Forget partial frames and the last command (the port was reopened)."""
        for decoder in self._decoders.values():
            decoder.reset()
        self._request = None

    def lines(self, direction: str, data: bytes) -> list[str]:
        return [self._line(direction, item) for item in self._decoders[direction].feed(data)]

    def _line(self, direction: str, item: Control | Frame | BadFrame) -> str:
        if isinstance(item, Control):
            return f"{1:3d} {item.name}: {item.value:02X}"
        if isinstance(item, BadFrame):
            label = "BAD BCC" if item.reason is BadFrameReason.BCC else "NOISE"
            raw = item.raw
            return f"{len(raw):3d} {label}: {hex_masked(raw, range(len(raw)), self.reveal)}"
        raw = item.to_bytes()
        if direction == TX:
            label, hidden = self._command(item)
        else:
            label, hidden = self._reply(item)
        if hidden:
            hidden.append(len(raw) - 1)  # the BCC would leak a parity of the data
        return f"{len(raw):3d} {label}: {hex_masked(raw, hidden, self.reveal)}"

    def _command(self, frame: Frame) -> tuple[str, list[int]]:
        everything = [_DATA + i for i in range(len(frame.data))]
        try:
            request = decode_command(frame)
        except ProtocolError:
            self._request = None
            return f"CM {frame.cm:02X} PM {frame.pm:02X}", everything
        command = request.command
        self._request = command
        if command in (Command.APDU_T0, Command.APDU_T1):
            # LEN_H LEN_L CLA INS P1 P2 stay visible; Lc, the data and Le do not.
            return command.name, everything[6:]
        return command.name, [] if command in _PLAIN_COMMANDS else everything

    def _reply(self, frame: Frame) -> tuple[str, list[int]]:
        everything = [_DATA + i for i in range(len(frame.data))]
        request = self._request
        try:
            reply = decode_reply(frame, request)
        except ProtocolError:
            return f"CM {frame.cm:02X} PM {frame.pm:02X}", everything
        if isinstance(reply, ErrorReply):
            return "ERROR", []
        label = reply.command.name
        if isinstance(reply, TrackReadReply):
            return label, _track_payloads(frame.data)
        if isinstance(reply, ApduReply):
            if reply.status is not OperationStatus.SUCCESS or len(reply.response) < 2:
                return label, everything[3:]
            return label, everything[3:-2]  # P, LEN_H, LEN_L and SW1 SW2 stay visible
        if isinstance(reply, PlainReply) and reply.command not in _PLAIN_COMMANDS:
            return label, everything
        return label, []


def _track_payloads(data: bytes) -> list[int]:
    """Frame indexes of the characters of the tracks read OK (mode, selector, 1F and
    status bytes, and the error code of a failed track, stay visible)."""
    hidden: list[int] = []
    index = 2
    status: int | None = None
    while index < len(data):
        byte = data[index]
        if byte == 0x1F:
            status = data[index + 1] if index + 1 < len(data) else None
            index += 2
            continue
        if status == TrackStatus.OK:
            hidden.append(_DATA + index)
        index += 1
    return hidden


# --- CRT-591 ------------------------------------------------------------------------------

C591 = crt591.Command
CPU = crt591.CpuOperation
_TEXT = 4  # index of TEXT in a CRT-591 frame: STX ADDR LEN_H LEN_L
_COMMAND_DATA = _TEXT + 3  # 'C' CM PM
_REPLY_DATA = _TEXT + 6  # 'P' CM PM st0 st1 st2
_APDUS = frozenset({CPU.APDU_T0, CPU.APDU_T1, CPU.APDU_AUTO})
_APDU_HEADER = 4  # CLA INS P1 P2
_SW = 2  # SW1 SW2
# Commands whose DATA (both ways) is the unit's own: parameters, the version, the
# configuration, counters, the chip's ATR and state. The CPU command's APDUs are not.
_PLAIN_591 = frozenset(
    {
        C591.INITIALIZE,
        C591.STATUS,
        C591.SENSORS,
        C591.MOVE,
        C591.ENTRY_ENABLE,
        C591.ENTRY_DISABLE,
        C591.IC_TYPE,
        C591.RF_TYPE,
        C591.CONFIGURATION,
        C591.VERSION,
        C591.BIN_COUNTER_READ,
        C591.BIN_COUNTER_SET,
    }
)


class Crt591Masker:
    """CRT-591 traffic, frame by frame (see the module header for what is masked).

    A CRT-591 frame says which way it goes (its TEXT starts with 'C', 'P', 'N' or 'E'),
    so the masker keeps no state between a command and its reply.
    """

    def __init__(self, reveal: bool = False) -> None:
        self.reveal = reveal
        self._decoders = {TX: crt591.Crt591StreamDecoder(), RX: crt591.Crt591StreamDecoder()}

    def reset(self) -> None:
        """Forget partial frames (the port was reopened)."""
        for decoder in self._decoders.values():
            decoder.reset()

    def lines(self, direction: str, data: bytes) -> list[str]:
        return [self._line(item) for item in self._decoders[direction].feed(data)]

    def _line(self, item: crt591.Item) -> str:
        if isinstance(item, crt591.Control):
            return f"{1:3d} {item.name}: {item.value:02X}"
        if isinstance(item, crt591.BadFrame):
            label = "BAD BCC" if item.reason is crt591.BadFrameReason.BCC else "NOISE"
            raw = item.raw
            return f"{len(raw):3d} {label}: {hex_masked(raw, range(len(raw)), self.reveal)}"
        raw = item.to_bytes()
        label, hidden = self._frame(item, len(raw))
        if hidden:
            hidden.append(len(raw) - 1)  # the BCC would leak a parity of the data
        return f"{len(raw):3d} {label}: {hex_masked(raw, hidden, self.reveal)}"

    def _frame(self, frame: crt591.Frame, size: int) -> tuple[str, list[int]]:
        """The label and the hidden indexes of a frame with a good BCC."""
        etx = size - 2
        try:
            message = crt591.decode_frame(frame)
            command = crt591.Command.lookup(message.cm, message.pm)
        except ProtocolError:
            # Unknown: only STX ADDR LEN and the head, CM, PM stay visible.
            text = frame.text
            label = f"CM {text[1]:02X} PM {text[2]:02X}" if len(text) >= 3 else "TEXT"
            return label, list(range(min(_COMMAND_DATA, etx), etx))
        name = _name_591(command, message.pm)
        if isinstance(message, crt591.Refusal):
            return f"{name} REFUSED", []
        if isinstance(message, crt591.Request):
            start = _COMMAND_DATA
            if command is C591.CPU and message.pm in _APDUS:
                return name, list(range(start + _APDU_HEADER, etx))
            plain = _plain_591(command, message.pm) and not _looks_like_a_pan(message.data)
            return name, [] if plain else list(range(start, etx))
        start = _REPLY_DATA
        if command is C591.CPU and message.pm in _APDUS:
            if etx - start < _SW:
                return name, list(range(start, etx))
            return name, list(range(start, etx - _SW))
        plain = _plain_591(command, message.pm) and not _looks_like_a_pan(message.data)
        return name, [] if plain else list(range(start, etx))


# Account numbers are 12-19 digits (ISO/IEC 7812). In packed BCD a run starts at 13
# digits, as ATRs hold runs of 12 (``00 00 80 31 80 66``).
_ASCII_PAN = re.compile(r"[0-9]{12,}")
_BCD_PAN = re.compile(r"[0-9]{13,}")


def _looks_like_a_pan(data: bytes) -> bool:
    """Whether DATA the unit should own holds an account-number-long run of digits, as
    ASCII or as packed BCD (a foreign dialect, a fuzzed reply, a chip record): then it is
    hidden like card data."""
    return bool(_BCD_PAN.search(data.hex()) or _ASCII_PAN.search(data.decode("latin-1")))


def _plain_591(command: crt591.Command, pm: int) -> bool:
    """Whether the DATA of this command and of its reply is the unit's own."""
    if command is C591.CPU:
        return pm not in _APDUS  # resets (the ATR), power off, the chip's state
    return command in _PLAIN_591


def _name_591(command: crt591.Command, pm: int) -> str:
    kinds = {C591.INITIALIZE: crt591.InitMode, C591.MOVE: crt591.Position, C591.CPU: CPU}
    kind = kinds.get(command)
    return command.name if kind is None else f"{command.name} {kind(pm).name}"


#: The protocols the spy can decode, by the driver name in an address.
