"""``tellerhal decode crt310``: the Creator CRT-310 byte stream, frame by frame.

Frames decode as host commands, or as device replies with ``--direction reply``; control
bytes (ACK/NAK/ENQ/EOT) as themselves. Track data, APDUs and memory-card data inside
frames are shown through `tellerhal.cli.decode.fields`, masked unless ``--reveal``.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator

from protocols import apdu as apdu_codec
from protocols import crt310
from protocols.errors import ProtocolError
from tellerhal.cli.decode.creator import walk_capture
from tellerhal.cli.decode.fields import (
    Entry,
    command_apdu_fields,
    hex_text,
    printable,
    response_apdu_fields,
    secret_bytes,
    track_fields,
)

__all__ = ["decode_crt310"]

ERROR_TEXT = {
    crt310.ErrorCode.BAD_COMMAND: "undefined command byte",
    crt310.ErrorCode.BAD_PARAMETER: "bad parameter",
    crt310.ErrorCode.CANNOT_EXECUTE: "cannot execute (function not fitted)",
    crt310.ErrorCode.BAD_DATA: "bad command data",
    crt310.ErrorCode.VOLTAGE: "supply voltage outside 10.8-14.5 V",
    crt310.ErrorCode.ABNORMAL_CARD: "abnormal (long or short) card inside",
    crt310.ErrorCode.ON_BACKUP_POWER: "main power lost, running on backup",
}
MEMORY_COMMANDS = {
    crt310.Command.MIFARE,
    crt310.Command.SLE4442,
    crt310.Command.SLE4428,
    crt310.Command.AT88,
}


def _request_fields(request: crt310.Request, reveal: bool) -> Entry:
    command, pm, data = request.command, request.pm, request.data
    C = crt310.Command
    if command in (C.READ_TRACKS, C.REREAD_TRACKS):
        mode, selector = crt310.parse_track_request(data)
        return {"mode": mode.name, "tracks": list(selector.tracks)}
    if command in (C.APDU_T0, C.APDU_T1):
        capdu = apdu_codec.parse_command(crt310.parse_apdu_request(data))
        protocol = "T=0" if command is C.APDU_T0 else "T=1"
        return {"protocol": protocol, "apdu": command_apdu_fields(capdu, reveal)}
    if command is C.ENTRY_CONTROL:
        front, rear = crt310.parse_entry_control(pm, data)
        return {"front": front.name, "rear_allowed": rear}
    if command is C.SET_BAUD:
        if pm not in crt310.BAUD_RATES:
            raise ProtocolError(f"unknown baud-rate code 0x{pm:02X}")
        return {"baud": crt310.BAUD_RATES[pm]}
    if command is C.LIGHT_BLINK:
        if len(data) != 1:
            raise ProtocolError(f"blink: DATA is {len(data)} bytes, expected 1")
        return {"on_seconds": pm * 0.25, "off_seconds": data[0] * 0.25}
    if command is C.STOP_POSITION:
        return {"position": f"{pm:02X}"}
    if command in MEMORY_COMMANDS:
        return {"pm": f"{pm:02X}", "data": secret_bytes(data, reveal)} if data else {}
    if command is C.WRITE_SERIAL:
        return {"serial": printable(data) or hex_text(data)}
    return {"data": hex_text(data)} if data else {}


def _reply_fields(reply: crt310.Reply, reveal: bool) -> Entry:
    if isinstance(reply, crt310.StatusReply):
        return {
            "position": reply.position.name,
            "front_entry": reply.front.name,
            "rear_entry": reply.rear.name,
        }
    if isinstance(reply, crt310.SensorReply):
        return {"sensors": list(reply.sensors), "shutter": reply.shutter, "switch": reply.switch}
    if isinstance(reply, crt310.CardTypeReply):
        return {"card_type": reply.card_type.name, "s2": f"{reply.variant:02X}"}
    if isinstance(reply, crt310.TrackReadReply):
        return {
            "mode": reply.mode.name,
            "tracks": [_track_record(record, reveal) for record in reply.tracks],
        }
    if isinstance(reply, crt310.CpuResetReply):
        fields: Entry = {"status": reply.status.name}
        if reply.status is crt310.OperationStatus.SUCCESS:
            fields.update(protocol="T=0", atr=hex_text(reply.atr))
        elif reply.status is crt310.OperationStatus.SUCCESS_T1:
            fields.update(protocol="T=1", atr=hex_text(reply.atr))
        return fields
    if isinstance(reply, crt310.ApduReply):
        fields = {"status": reply.status.name}
        if reply.status is crt310.OperationStatus.SUCCESS:
            response = apdu_codec.parse_response(reply.response)
            fields["response"] = response_apdu_fields(response, reveal)
        return fields
    assert isinstance(reply, crt310.PlainReply)
    fields = {"succeeded": reply.succeeded}
    if reply.data:
        if reply.command in MEMORY_COMMANDS:
            fields["data"] = secret_bytes(reply.data, reveal)
        else:
            fields["data"] = hex_text(reply.data)
            text = printable(reply.data)
            if text is not None:
                fields["text"] = text
    return fields


def _track_record(record: crt310.TrackRecord, reveal: bool) -> Entry:
    entry: Entry = {"track": record.track, "status": record.status.name}
    if record.error is not None:
        entry["error"] = record.error.name
        return entry
    try:
        entry.update(track_fields(record.track, record.data, reveal))
    except ProtocolError as exc:
        # A readable stripe that is not ISO 7813 (a loyalty card...): not a wire error.
        entry.update(characters=len(record.data), format=f"not ISO 7813: {exc}")
        if reveal:
            entry["data"] = record.data.decode("ascii")
    return entry


def _frame_entry(frame: crt310.Frame, args: argparse.Namespace) -> Entry:
    code = f"{frame.cm:02X}{frame.pm:02X}"
    if args.direction == "command":
        request = crt310.decode_command(frame)
        return {
            "kind": "command",
            "command": {"name": request.command.name, "code": code},
            "fields": _request_fields(request, args.reveal),
        }
    reply = crt310.decode_reply(frame)
    if isinstance(reply, crt310.ErrorReply):
        names = [c.name for c in crt310.Command if c.cm == reply.cm]
        return {
            "kind": "error",
            "command": {"name": names[0] if len(names) == 1 else None, "code": f"{reply.cm:02X}"},
            "fields": {
                "error": reply.code.name,
                "code": f"{reply.code.value:02X}",
                "description": ERROR_TEXT[reply.code],
            },
        }
    return {
        "kind": "reply",
        "command": {"name": reply.command.name, "code": code},
        "fields": _reply_fields(reply, args.reveal),
    }


def decode_crt310(capture: bytes, args: argparse.Namespace) -> Iterator[Entry]:
    """One entry per control byte and frame of ``capture``, in stream order.

    Raises:
        Failure: a bad BCC, noise between frames, a frame that does not decode, or a
            capture that ends inside a frame (after the entries before it).
    """
    decoder = crt310.Crt310StreamDecoder()

    def truncated() -> str:
        size = decoder.pending_frame_size
        if size:
            return f"LEN needs {size} bytes, only {decoder.pending} arrived"
        return f"{decoder.pending} bytes, no complete header"

    return walk_capture(
        decoder,
        capture,
        lambda frame: _frame_entry(frame, args),
        errors=(ProtocolError,),
        truncated=truncated,
    )
