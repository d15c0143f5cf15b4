"""``tellerhal decode id003``: a JCM ID-003 bill validator byte stream, frame by frame.

ID-003 frames do not say their direction, and the same code means different things
each way (11h: Status Request from the host, IDLING from the validator; 40h-45h: Reset
.. Wait from the host, power-up, stacker and jam statuses from the validator). So, as
for the Creator readers, a capture decodes as host commands unless ``--direction
reply`` (``--from-device``) is given: decode the two directions of a conversation as
separate captures.

Each frame is one JSON object: ``kind`` (``command`` from the host; ``status``,
``ack``, ``echo`` or ``text`` from the validator), its code and name, a ``meaning`` for
people and the DATA's fields (the escrow's denomination code, the reject reason, the
failure code, the denominations a C0 mask enables, the inhibit flag). The first bad CRC,
noise, truncation, unknown code or wrong DATA length stops the run with one stderr line
and exit status 2, after the objects decoded before it.

Nothing is masked: a validator's frames carry statuses, denomination codes and
settings, never cardholder data, so ``--reveal`` changes nothing here.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator

from protocols.errors import ProtocolError
from protocols.id003 import MIN_FRAME, BadFrame, BadFrameReason, Frame, Id003StreamDecoder
from protocols.id003_messages import (
    Ack,
    Command,
    CommandCode,
    Echo,
    Reply,
    Status,
    enabled_denominations,
    parse_command,
    parse_reply,
)
from tellerhal.cli.decode.fields import Entry, Failure, hex_text

__all__ = ["decode_id003"]


def _named(name: str, code: int) -> Entry:
    return {"name": name, "code": f"{code:02X}"}


def _setting_fields(code: int, data: bytes) -> Entry:
    if code in (CommandCode.SET_DENOMINATION, CommandCode.GET_DENOMINATION):
        return {
            "mask": hex_text(data),
            "enabled": [f"{c:02X}" for c in enabled_denominations(data)],
        }
    if code in (CommandCode.SET_INHIBIT, CommandCode.GET_INHIBIT):
        return {"inhibited": data != b"\x00"}
    return {"data": hex_text(data)} if data else {}


def _command_entry(command: Command) -> Entry:
    return {
        "kind": "command",
        "command": _named(command.code.name, command.code),
        "meaning": command.meaning,
        "fields": _setting_fields(command.code, command.data),
    }


def _reply_entry(reply: Reply) -> Entry:
    if isinstance(reply, Status):
        fields: Entry = {}
        if reply.denomination is not None:
            fields["denomination"] = f"{reply.denomination:02X}"
        if reply.reason is not None:
            fields["reason"] = _named(reply.reason.name, reply.reason)
        if reply.failure is not None:
            fields["failure"] = _named(reply.failure.name, reply.failure)
        return {
            "kind": "status",
            "status": _named(reply.code.name, reply.code),
            "meaning": reply.meaning,
            "fields": fields,
        }
    if isinstance(reply, Ack):
        return {"kind": "ack", "meaning": reply.meaning, "fields": {}}
    if isinstance(reply, Echo):
        return {
            "kind": "echo",
            "command": _named(reply.code.name, reply.code),
            "meaning": reply.meaning,
            "fields": _setting_fields(reply.code, reply.data),
        }
    return {
        "kind": "text",
        "command": _named(reply.code.name, reply.code),
        "meaning": reply.meaning,
        "fields": {"text": reply.data.decode("ascii", "replace"), "data": hex_text(reply.data)},
    }


def _frame_entry(frame: Frame, from_device: bool) -> Entry:
    if from_device:
        return _reply_entry(parse_reply(frame))
    return _command_entry(parse_command(frame))


def decode_id003(capture: bytes, args: argparse.Namespace) -> Iterator[Entry]:
    """One entry per frame of ``capture``, in stream order.

    Raises:
        Failure: a bad CRC, noise between frames, a frame that does not decode, or a
            capture that ends inside a frame (after the entries before it).
    """
    from_device = getattr(args, "direction", "command") == "reply"
    decoder = Id003StreamDecoder()
    offset = 0
    number = 0
    for item in decoder.feed(capture):
        if isinstance(item, BadFrame):
            if item.reason is BadFrameReason.NOISE:
                raise Failure(
                    f"byte {offset}: {len(item.raw)} bytes outside any frame "
                    f"({hex_text(item.raw[:8])}{'...' if len(item.raw) > 8 else ''})"
                )
            raise Failure(f"frame {number + 1} at byte {offset}: CRC mismatch")
        number += 1
        try:
            entry = _frame_entry(item, from_device)
        except ProtocolError as exc:
            raise Failure(f"frame {number} at byte {offset}: {exc.message}") from exc
        yield {"kind": entry.pop("kind"), "frame": number, "offset": offset, **entry}
        offset += len(item.data) + MIN_FRAME
    if decoder.pending:
        raise Failure(
            f"frame {number + 1} at byte {offset}: truncated: {decoder.pending} bytes of an "
            "incomplete frame"
        )
