"""``tellerhal decode crt591``: the Creator CRT-591 byte stream, frame by frame.

Unlike the CRT-310's, a CRT-591 frame says which way it went: its TEXT starts with 'C'
(a host command), 'P' (a positive reply) or 'N'/'E' (a negative reply), so no
``--direction`` is needed. Control bytes (ACK/NAK/EOT) decode as themselves. APDUs
inside CPU-card frames are shown through `tellerhal.cli.decode.fields`, masked unless
``--reveal``; other DATA is shown only where it is the unit's own text (version,
configuration) and hidden whole otherwise (SAM, memory-card, RF data, anything unknown).
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterator

from protocols import apdu as apdu_codec
from protocols import crt591
from protocols.errors import ProtocolError
from tellerhal.cli.decode.creator import walk_capture
from tellerhal.cli.decode.fields import (
    Entry,
    command_apdu_fields,
    hex_text,
    printable,
    response_apdu_fields,
    secret_bytes,
)

__all__ = ["decode_crt591"]

C = crt591.Command
APDUS = {
    crt591.CpuOperation.APDU_T0: "T=0",
    crt591.CpuOperation.APDU_T1: "T=1",
    crt591.CpuOperation.APDU_AUTO: "auto",
}
RESETS = {crt591.CpuOperation.COLD_RESET, crt591.CpuOperation.WARM_RESET}
TEXT_COMMANDS = {C.INITIALIZE, C.VERSION, C.CONFIGURATION}


def _command_name(cm: int, pm: int) -> tuple[crt591.Command, str]:
    command = crt591.Command.lookup(cm, pm)
    kinds = {C.INITIALIZE: crt591.InitMode, C.MOVE: crt591.Position, C.CPU: crt591.CpuOperation}
    kind = kinds.get(command)
    name = command.name if kind is None else f"{command.name} {kind(pm).name}"
    return command, name


_LONG_DIGITS = re.compile(r"[0-9]{12,}")


def _data_fields(command: crt591.Command, data: bytes, reveal: bool, *, reply: bool) -> Entry:
    """DATA the decoder does not dissect: shown for the commands whose DATA is the unit's
    own text (a reply's version or configuration), hidden for any other (it might be card
    data on a unit that speaks a dialect we do not know)."""
    if not data:
        return {}
    text = printable(data)
    if (
        not reply
        or command not in TEXT_COMMANDS
        # The unit's text is printable and holds no account-number-long run of digits:
        # anything else there (a fuzzed or foreign reply) may be card data.
        or text is None
        or _LONG_DIGITS.search(text)
    ):
        return {"data": secret_bytes(data, reveal)}
    return {"data": hex_text(data), "text": text}


def _request_fields(command: crt591.Command, request: crt591.Request, reveal: bool) -> Entry:
    data = request.data
    if command is C.CPU and request.pm in APDUS:
        capdu = apdu_codec.parse_command(data)
        protocol = APDUS[crt591.CpuOperation(request.pm)]
        return {"protocol": protocol, "apdu": command_apdu_fields(capdu, reveal)}
    if command is C.BIN_COUNTER_SET:
        return {"counter": crt591.parse_bin_counter(data)}
    return _data_fields(command, data, reveal, reply=False)


def _reply_fields(command: crt591.Command, reply: crt591.Reply, reveal: bool) -> Entry:
    fields: Entry = {
        "card": reply.card.name,
        "stacker": reply.stacker.name,
        "reject_bin": reply.bin.name,
        "status": f"{reply.card.meaning}; {reply.stacker.meaning}; {reply.bin.meaning}",
    }
    data = reply.data
    if command is C.CPU and reply.pm in RESETS:
        reset = crt591.parse_cpu_reset(data)
        fields.update(protocol="T=1" if reset.t1 else "T=0", atr=hex_text(reset.atr))
    elif command is C.CPU and reply.pm in APDUS:
        fields["response"] = response_apdu_fields(apdu_codec.parse_response(data), reveal)
    elif command is C.CPU and reply.pm == crt591.CpuOperation.STATUS:
        if len(data) != 1:
            raise ProtocolError(f"a CPU status reply carries 1 byte, got {len(data)}")
        fields["cpu"] = crt591.CpuState(data[0]).name if data[0] in (0x30, 0x31, 0x32) else None
        if fields["cpu"] is None:
            raise ProtocolError(f"unknown CPU state 0x{data[0]:02X}")
    elif command is C.SENSORS:
        flags = crt591.parse_sensors(data)
        fields["sensors"] = dict(zip(crt591.SENSOR_NAMES, flags, strict=True))
    elif command is C.BIN_COUNTER_READ:
        fields["counter"] = crt591.parse_bin_counter(data)
    else:
        fields.update(_data_fields(command, data, reveal, reply=True))
    return fields


def _frame_entry(frame: crt591.Frame, reveal: bool) -> Entry:
    message = crt591.decode_frame(frame)
    code = f"{message.cm:02X}{message.pm:02X}"
    if isinstance(message, crt591.Refusal):
        try:
            name: str | None = _command_name(message.cm, message.pm)[1]
        except ProtocolError:
            name = None
        return {
            "kind": "negative",
            "address": frame.address,
            "command": {"name": name, "code": code},
            "fields": {
                "head": chr(message.head),
                "error": message.error.name,
                "code": message.error.value,
                "description": message.error.meaning,
            },
        }
    command, name = _command_name(message.cm, message.pm)
    if isinstance(message, crt591.Request):
        return {
            "kind": "command",
            "address": frame.address,
            "command": {"name": name, "code": code},
            "fields": _request_fields(command, message, reveal),
        }
    return {
        "kind": "reply",
        "address": frame.address,
        "command": {"name": name, "code": code},
        "fields": _reply_fields(command, message, reveal),
    }


def decode_crt591(capture: bytes, args: argparse.Namespace) -> Iterator[Entry]:
    """One entry per control byte and frame of ``capture``, in stream order.

    Raises:
        Failure: a bad BCC, noise between frames, a frame that does not decode, or a
            capture that ends inside a frame (after the entries before it).
    """
    decoder = crt591.Crt591StreamDecoder()
    return walk_capture(
        decoder,
        capture,
        lambda frame: _frame_entry(frame, args.reveal),
        errors=(ProtocolError, ValueError),
        truncated=lambda: f"{decoder.pending} bytes of an incomplete frame",
    )
