"""``tellerhal decode lcdm``: the Puloon LCDM cash-dispenser byte stream, frame by frame.

A frame's first byte gives its direction (EOT: host command, SOH: dispenser reply), so
no ``--direction`` is needed. The model decides the command codes and layouts: with
``--model 1000|2000|4000`` every frame is read as that model's (a frame with another
model's ID is an error); without it, ID 30h reads as an LCDM-4000 and ID 50h as an
LCDM-1000 (the LCDM-2000 shares ID 50h: give ``--model 2000`` for its captures).
Control bytes (ACK/NAK) decode as themselves.

Nothing is masked: cash-dispenser frames carry note counts, error codes and sensor bits,
never cardholder data, so ``--reveal`` changes nothing here.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator

from protocols.errors import ProtocolError
from protocols.lcdm import Direction, Frame, LcdmStreamDecoder, Model
from protocols.lcdm_commands import Command, Op, parse_command
from protocols.lcdm_replies import (
    DispenseReply,
    PurgeReply,
    RawReply,
    Reply,
    RomReply,
    StatusReply,
    parse_reply,
)
from tellerhal.cli.decode.creator import walk_capture
from tellerhal.cli.decode.fields import Entry, hex_text

__all__ = ["MODELS", "decode_lcdm"]

MODELS = ("1000", "2000", "4000")


def _model(frame: Frame, chosen: str | None) -> Model:
    if chosen is not None:
        return Model(int(chosen))
    return Model.LCDM4000 if frame.frame_id == Model.LCDM4000.frame_id else Model.LCDM1000


def _error(error: int, meaning: str, name: str) -> Entry:
    return {"error": name, "code": f"{error:02X}", "description": meaning}


def _command_fields(command: Command) -> Entry:
    fields: Entry = {}
    if command.counts:
        fields["counts"] = list(command.counts)
    if command.op is Op.DISPENSE and command.model is Model.LCDM4000:
        fields["to"] = hex_text(command.to)
    if command.data:
        fields["data"] = hex_text(command.data)
    return fields


def _reply_fields(reply: Reply) -> Entry:
    if isinstance(reply, RawReply):
        return {"data": hex_text(reply.data)} if reply.data else {}
    if isinstance(reply, RomReply):
        named = reply.named_model
        return {
            "version": reply.version,
            "checksum": reply.checksum,
            "named_model": None if named is None else named.value,
        }
    fields = _error(reply.error, reply.error.meaning, reply.error.name)
    if isinstance(reply, DispenseReply):
        fields.update(
            check=reply.check,
            exit=reply.exit,
            cassette=reply.cassette.name,
            rejects=reply.rejects,
        )
    elif isinstance(reply, StatusReply):
        fields.update(
            head=f"{reply.head:02X}",
            sensor0=f"{reply.sensor0:02X}",
            sensor1=f"{reply.sensor1:02X}",
            sensors=reply.sensors,
        )
    else:
        assert isinstance(reply, PurgeReply)
    return fields


def _frame_entry(frame: Frame, chosen: str | None) -> Entry:
    model = _model(frame, chosen)
    head: Entry = {"model": model.value, "id": f"{frame.frame_id:02X}"}
    if frame.direction is Direction.COMMAND:
        command = parse_command(frame, model)
        return {
            "kind": "command",
            **head,
            "command": {"name": command.op.name, "code": f"{frame.cmd:02X}"},
            "fields": _command_fields(command),
        }
    reply = parse_reply(frame, model)
    return {
        "kind": "reply",
        **head,
        "command": {"name": reply.op.name, "code": f"{frame.cmd:02X}"},
        "fields": _reply_fields(reply),
    }


def decode_lcdm(capture: bytes, args: argparse.Namespace) -> Iterator[Entry]:
    """One entry per control byte and frame of ``capture``, in stream order.

    Raises:
        Failure: a bad BCC, noise between frames, a frame that does not decode, or a
            capture that ends inside a frame (after the entries before it).
    """
    decoder = LcdmStreamDecoder()
    chosen: str | None = getattr(args, "model", None)
    return walk_capture(
        decoder,
        capture,
        lambda frame: _frame_entry(frame, chosen),
        errors=(ProtocolError, ValueError),
        truncated=lambda: f"{decoder.pending} bytes of an incomplete frame",
    )
