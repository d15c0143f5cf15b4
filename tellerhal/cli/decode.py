"""``tellerhal decode``: turn captured bytes into JSON lines, masking cardholder data.

For vendors and support staff reading a capture (from ``spy+`` or a serial sniffer).
Each INPUT is one capture; every frame, control byte, track or object in it becomes one
JSON object on stdout. The first bad checksum, truncation or unknown code stops the run
after what was decoded so far, with one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import json
import string
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from protocols import apdu as apdu_codec
from protocols import crt310, tlv, tracks
from protocols.errors import ProtocolError

__all__ = ["register", "run"]

PROTOCOLS = ("crt310", "track1", "track2", "track3", "tlv", "apdu")
EXIT_INPUT = 1
EXIT_PROTOCOL = 2

DESCRIPTION = """\
Decode captured bytes of a teller-machine protocol into JSON lines (one object per frame,
control byte, track or TLV object).

INPUT is one capture per argument:
  hex digits, optionally separated by spaces or colons ("02 00 02 31 30 03 02"), or
  @FILE: a text file with one capture per line (blank lines and lines starting with #
  are skipped); @- reads standard input the same way.
For track1/track2/track3 a capture is the track text as the reader returns it, with or
without sentinels and LRC (quote it for the shell: ';4111111111111111=2512101?'), or hex
of those characters with --hex.

Protocols:
  crt310  Creator CRT-310 byte stream: frames and control bytes (ACK/NAK/ENQ/EOT).
          Commands and replies share one layout and cannot always be told apart from
          the bytes alone: frames decode as host commands unless --direction reply (or
          --from-device) is given. Decode the two directions of a conversation as
          separate captures. A reply 33 30 / 33 31 decodes as IC power (it could also
          be the baud-rate echo for 1200 / 2400 bps).
  track1, track2, track3  ISO/IEC 7811/7813 magnetic tracks (LRC checked when present).
  tlv     EMV BER-TLV objects, nested objects decoded recursively.
  apdu    ISO/IEC 7816-4 command APDU; with --response a response APDU (data SW1 SW2),
          whose data is shown as TLV when it parses as TLV.

Cardholder data is masked unless --reveal: PANs keep their first 6 and last 4 digits;
names, discretionary data, track-equivalent and PIN tags, PIN commands (VERIFY), memory
card and Mifare data, and response data that is not TLV are hidden.
"""

EPILOG = """\
exit status: 0 all decoded; 1 unreadable input (not hex, missing @FILE);
2 protocol error (bad checksum, truncation, unknown code, malformed data), reported on
one stderr line after the objects decoded before it.

example:
  tellerhal decode crt310 "06 02 00 02 31 30 03 02"
  tellerhal decode --from-device crt310 @capture.hex
  tellerhal decode track2 ';4111111111111111=25121010000000000000?8'
"""

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
TEXT_TAGS = {0x50, 0x5F20, 0x5F2D, 0x9F12, 0x84}

Entry = dict[str, Any]


class _Failure(Exception):
    """Stops the run: one line for stderr and the exit status."""

    def __init__(self, message: str, status: int = EXIT_PROTOCOL) -> None:
        super().__init__(message)
        self.status = status


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``decode`` sub-command to the ``tellerhal`` parser."""
    parser = sub.add_parser(
        "decode",
        help="decode captured protocol bytes into JSON lines",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "protocol", metavar="PROTOCOL", choices=PROTOCOLS, help=", ".join(PROTOCOLS)
    )
    parser.add_argument("inputs", metavar="INPUT", nargs="+", help="hex capture or @FILE")
    parser.add_argument(
        "--direction",
        choices=("command", "reply"),
        default="command",
        help="crt310: decode frames as host commands (default) or device replies",
    )
    parser.add_argument(
        "--from-device",
        dest="direction",
        action="store_const",
        const="reply",
        help="crt310: same as --direction reply",
    )
    parser.add_argument(
        "--response", action="store_true", help="apdu: decode response APDUs (data SW1 SW2)"
    )
    parser.add_argument("--hex", action="store_true", help="track1/2/3: INPUT is hex")
    parser.add_argument(
        "--reveal", action="store_true", help="show PANs, names and other secrets in full"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Decode every capture; return the exit status."""
    protocol: str = args.protocol
    try:
        captures = _read_captures(args.inputs, text=protocol.startswith("track") and not args.hex)
    except _Failure as failure:
        print(f"tellerhal decode: {protocol}: {failure}", file=sys.stderr)
        return failure.status
    decode = DECODERS[protocol]
    for number, capture in enumerate(captures, start=1):
        where = f"capture {number}: " if len(captures) > 1 else ""
        try:
            for entry in decode(capture, args):
                head: Entry = {"protocol": protocol}
                if len(captures) > 1:
                    head["capture"] = number
                print(json.dumps({**head, **entry}), flush=True)
        except _Failure as failure:
            print(f"tellerhal decode: {protocol}: {where}{failure}", file=sys.stderr)
            return failure.status
    return 0


# ----------------------------------------------------------------------------- input


def _read_captures(inputs: list[str], *, text: bool) -> list[bytes]:
    captures: list[bytes] = []
    for argument in inputs:
        if argument.startswith("@"):
            name = argument[1:]
            try:
                content = sys.stdin.read() if name == "-" else Path(name).read_text("utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise _Failure(f"cannot read {name}: {exc}", EXIT_INPUT) from exc
            lines = [line.strip() for line in content.splitlines()]
            captures += [_capture(line, text) for line in lines if line and line[0] != "#"]
        else:
            captures.append(_capture(argument, text))
    return captures


def _capture(value: str, text: bool) -> bytes:
    if text:
        return value.encode("utf-8", "surrogateescape")
    digits = "".join(value.replace(":", " ").split())
    try:
        return bytes.fromhex(digits)
    except ValueError as exc:
        # Name the problem, not the input: a mistyped capture may still hold a PAN.
        bad = next((i for i, c in enumerate(digits) if c not in string.hexdigits), None)
        problem = f"non-hex character at digit {bad}" if bad is not None else "odd digit count"
        raise _Failure(f"input is not hex: {problem}", EXIT_INPUT) from exc


# ----------------------------------------------------------------------------- helpers


def _hex(data: bytes) -> str:
    return data.hex().upper()


def _printable(data: bytes) -> str | None:
    return data.decode("ascii") if data and all(0x20 <= b < 0x7F for b in data) else None


def _secret_bytes(data: bytes, reveal: bool) -> str:
    return _hex(data) if reveal else f"<{len(data)} bytes hidden>"


def _secret_text(text: str, reveal: bool) -> str:
    return text if reveal else tracks.hidden(text)


def _pan(pan: str, reveal: bool) -> str:
    return pan if reveal else tracks.mask_pan(pan)


def _tlv_nodes(items: tuple[tlv.Tlv, ...], reveal: bool, depth: int = 0) -> list[Entry]:
    if depth > tlv.MAX_DEPTH:
        raise ProtocolError(f"TLV nesting deeper than {tlv.MAX_DEPTH} levels")
    nodes = []
    for item in items:
        node: Entry = {
            "tag": _hex(tlv.encode_tag(item.tag)),
            "name": item.name,
            "length": len(item.value),
        }
        if item.sensitive and not reveal:
            node["value"] = tlv.redact(item)
            node["masked"] = True
        elif item.constructed:
            node["children"] = _tlv_nodes(item.children(), reveal, depth + 1)
        else:
            node["value"] = _hex(item.value)
            text = _printable(item.value)
            if text is not None and (item.tag in TEXT_TAGS or item.sensitive):
                node["text"] = text
        nodes.append(node)
    return nodes


def _command_apdu_fields(command: apdu_codec.CommandApdu, reveal: bool) -> Entry:
    fields: Entry = {
        "cla": f"{command.cla:02X}",
        "ins": f"{command.ins:02X}",
        "name": command.name,
        "p1": f"{command.p1:02X}",
        "p2": f"{command.p2:02X}",
        "case": command.case,
        "lc": len(command.data) or None,
        "le": command.le,
    }
    if command.data:
        if command.ins in apdu_codec.SENSITIVE_INS:
            fields["data"] = _secret_bytes(command.data, reveal)
        else:
            fields["data"] = _hex(command.data)
            text = _printable(command.data)
            if text is not None and command.ins == 0xA4:
                fields["text"] = text
    return fields


def _response_apdu_fields(response: apdu_codec.ResponseApdu, reveal: bool) -> Entry:
    fields: Entry = {"sw": f"{response.sw:04X}", "description": response.description}
    if response.data:
        try:
            fields["tlv"] = _tlv_nodes(tlv.parse(response.data), reveal)
        except ProtocolError:
            fields["data"] = (
                _hex(response.data)
                if reveal
                else (f"<{len(response.data)} bytes, not TLV, hidden>")
            )
    return fields


def _track_fields(track: int, chars: bytes, reveal: bool) -> Entry:
    """The fields of one track's characters; raises ProtocolError if malformed."""
    raw = tracks.read_track(track, chars)
    fields: Entry = {
        "characters": len(raw.content),
        "start_sentinel": raw.start_sentinel,
        "end_sentinel": raw.end_sentinel,
        "lrc": "ok" if raw.lrc else "absent",
    }
    if track == 1:
        t1 = tracks.parse_track1(chars)
        fields.update(
            pan=_pan(t1.pan, reveal),
            name=_secret_text(t1.name, reveal),
            expiry=t1.expiry,
            service_code=t1.service_code,
            discretionary=_secret_text(t1.discretionary, reveal),
            luhn_valid=tracks.luhn_valid(t1.pan),
        )
    elif track == 2:
        t2 = tracks.parse_track2(chars)
        fields.update(
            pan=_pan(t2.pan, reveal),
            expiry=t2.expiry,
            service_code=t2.service_code,
            discretionary=_secret_text(t2.discretionary, reveal),
            luhn_valid=tracks.luhn_valid(t2.pan),
        )
    else:
        fields["content"] = _secret_text(raw.content, reveal)
    return fields


# ----------------------------------------------------------------------------- crt310


def _request_fields(request: crt310.Request, reveal: bool) -> Entry:
    command, pm, data = request.command, request.pm, request.data
    C = crt310.Command
    if command in (C.READ_TRACKS, C.REREAD_TRACKS):
        mode, selector = crt310.parse_track_request(data)
        return {"mode": mode.name, "tracks": list(selector.tracks)}
    if command in (C.APDU_T0, C.APDU_T1):
        capdu = apdu_codec.parse_command(crt310.parse_apdu_request(data))
        protocol = "T=0" if command is C.APDU_T0 else "T=1"
        return {"protocol": protocol, "apdu": _command_apdu_fields(capdu, reveal)}
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
        return {"pm": f"{pm:02X}", "data": _secret_bytes(data, reveal)} if data else {}
    if command is C.WRITE_SERIAL:
        return {"serial": _printable(data) or _hex(data)}
    return {"data": _hex(data)} if data else {}


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
            fields.update(protocol="T=0", atr=_hex(reply.atr))
        elif reply.status is crt310.OperationStatus.SUCCESS_T1:
            fields.update(protocol="T=1", atr=_hex(reply.atr))
        return fields
    if isinstance(reply, crt310.ApduReply):
        fields = {"status": reply.status.name}
        if reply.status is crt310.OperationStatus.SUCCESS:
            response = apdu_codec.parse_response(reply.response)
            fields["response"] = _response_apdu_fields(response, reveal)
        return fields
    assert isinstance(reply, crt310.PlainReply)
    fields = {"succeeded": reply.succeeded}
    if reply.data:
        if reply.command in MEMORY_COMMANDS:
            fields["data"] = _secret_bytes(reply.data, reveal)
        else:
            fields["data"] = _hex(reply.data)
            text = _printable(reply.data)
            if text is not None:
                fields["text"] = text
    return fields


def _track_record(record: crt310.TrackRecord, reveal: bool) -> Entry:
    entry: Entry = {"track": record.track, "status": record.status.name}
    if record.error is not None:
        entry["error"] = record.error.name
        return entry
    try:
        entry.update(_track_fields(record.track, record.data, reveal))
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


def _decode_crt310(capture: bytes, args: argparse.Namespace) -> Iterator[Entry]:
    decoder = crt310.Crt310StreamDecoder()
    offset = 0
    frame_number = 0
    for item in decoder.feed(capture):
        if isinstance(item, crt310.Control):
            yield {
                "kind": "control",
                "offset": offset,
                "control": {"name": item.name, "code": f"{item.value:02X}"},
            }
            offset += 1
            continue
        frame_number += 1
        where = f"frame {frame_number} at byte {offset}"
        if isinstance(item, crt310.BadFrame):
            if item.reason is crt310.BadFrameReason.NOISE:
                raise _Failure(f"byte {offset}: {item.detail}")
            raise _Failure(f"{where}: {item.detail}")
        try:
            entry = _frame_entry(item, args)
        except ProtocolError as exc:
            raise _Failure(f"{where}: {exc}") from exc
        yield {"kind": entry.pop("kind"), "frame": frame_number, "offset": offset, **entry}
        offset += item.wire_size
    if decoder.pending:
        size = decoder.pending_frame_size
        detail = (
            f"truncated: LEN needs {size} bytes, only {decoder.pending} arrived"
            if size
            else f"truncated: {decoder.pending} bytes, no complete header"
        )
        raise _Failure(f"frame {frame_number + 1} at byte {offset}: {detail}")


# ----------------------------------------------------------------------------- others


def _decode_track(track: int) -> Callable[[bytes, argparse.Namespace], Iterator[Entry]]:
    def decode(capture: bytes, args: argparse.Namespace) -> Iterator[Entry]:
        try:
            fields = _track_fields(track, capture, args.reveal)
        except ProtocolError as exc:
            raise _Failure(str(exc)) from exc
        yield {"kind": "track", "fields": fields}

    return decode


def _decode_tlv(capture: bytes, args: argparse.Namespace) -> Iterator[Entry]:
    try:
        items = tlv.parse(capture)
    except ProtocolError as exc:
        raise _Failure(str(exc)) from exc
    for number, item in enumerate(items, start=1):
        try:
            (node,) = _tlv_nodes((item,), args.reveal)
        except ProtocolError as exc:
            raise _Failure(f"object {number} (tag {item.tag:X}): {exc}") from exc
        yield {"kind": "tlv", "fields": node}


def _decode_apdu(capture: bytes, args: argparse.Namespace) -> Iterator[Entry]:
    try:
        if args.response:
            fields = _response_apdu_fields(apdu_codec.parse_response(capture), args.reveal)
            yield {"kind": "response", "fields": fields}
        else:
            fields = _command_apdu_fields(apdu_codec.parse_command(capture), args.reveal)
            yield {"kind": "command", "fields": fields}
    except ProtocolError as exc:
        raise _Failure(str(exc)) from exc


DECODERS: dict[str, Callable[[bytes, argparse.Namespace], Iterator[Entry]]] = {
    "crt310": _decode_crt310,
    "track1": _decode_track(1),
    "track2": _decode_track(2),
    "track3": _decode_track(3),
    "tlv": _decode_tlv,
    "apdu": _decode_apdu,
}
