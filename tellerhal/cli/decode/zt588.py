"""``tellerhal decode zt588``: the Zhengtong ZT588 EPP byte stream, frame by frame.

A capture is hex (one direction of the line), or a line of a ``spy+`` trace
(``LABEL TX|RX SIZE NAME: HEX``, any logging prefix before it), which says its own
direction. Commands and replies share one frame layout, so a hex capture decodes as host
commands unless ``--direction reply`` / ``--from-device``; the pad's key presses, which
travel between frames, decode only in the pad's direction. A reply is read as the answer
to the last command of the same run (spy traces give both directions in order); without
one, its payload is shown undissected (hidden unless ``--reveal``).

Masked unless ``--reveal``: keys in load-key commands, authentication data, PIN blocks,
undissected payloads, and PANs (``protocols.tracks.mask_pan``). Digits typed outside PIN
mode are shown (the pad sends them in clear); a PIN-mode press shows as '*'. A clear-PIN
request ('@', which this project never sends) is flagged ``"clear_pin": true``. A masked
spy line cannot be decoded: it is reported as such, with its label and size.
"""

from __future__ import annotations

import argparse
import re
import string
from collections.abc import Iterator
from dataclasses import dataclass

from protocols import zt588
from protocols.errors import ProtocolError
from protocols.tracks import mask_pan
from tellerhal.cli.decode.fields import EXIT_INPUT, Entry, Failure, hex_text, secret_bytes

__all__ = ["decode_zt588"]

_SPY_LINE = re.compile(
    r"(?:^|\s)(?P<direction>TX|RX)\s+(?P<size>\d+)\s+(?P<label>[^:]*):\s*"
    r"(?P<bytes>(?:[0-9A-Fa-f]{2}|\*\*)(?:\s+(?:[0-9A-Fa-f]{2}|\*\*))*)\s*$"
)
_SPY_NOTE = re.compile(r"\s--\s(?P<note>open|closed|reopened|\d+ bytes received .*)$")


@dataclass
class _Run:
    """What one run of the command line remembers between captures."""

    request: zt588.Command | zt588.ClearPinRequest | None = None


def _run_state(args: argparse.Namespace) -> _Run:
    state = getattr(args, "zt588_run", None)
    if not isinstance(state, _Run):
        state = _Run()
        args.zt588_run = state
    return state


def _hex_bytes(text: str) -> bytes:
    digits = "".join(text.replace(":", " ").split())
    try:
        return bytes.fromhex(digits)
    except ValueError as exc:
        # Name the problem, not the input: a mistyped capture may hold a PAN.
        bad = next((i for i, c in enumerate(digits) if c not in string.hexdigits), None)
        problem = f"non-hex character at digit {bad}" if bad is not None else "odd digit count"
        raise Failure(f"input is not hex: {problem}", EXIT_INPUT) from exc


# ----------------------------------------------------------------------------- fields


def _pan(pan: str, reveal: bool) -> str:
    return pan if reveal else mask_pan(pan)


def _command_fields(command: zt588.Command | zt588.ClearPinRequest, reveal: bool) -> Entry:
    if isinstance(command, zt588.LoadPlainKey | zt588.LoadEncryptedKey):
        fields: Entry = {"slot": f"{command.slot:02X}"}
        if isinstance(command, zt588.LoadEncryptedKey):
            fields["under"] = f"{command.under:02X}"
        length = zt588.KeyLength.of(command.key)
        fields.update(
            key_type=command.key_type.name,
            length=length.name,
            key=secret_bytes(command.key, reveal),
        )
        return fields
    if isinstance(command, zt588.EraseKey):
        return {"slot": f"{command.slot:02X}", "under": f"{command.under:02X}", "erase": True}
    if isinstance(command, zt588.WriteUserInfo):
        return {"user_info": command.text}
    if isinstance(command, zt588.LoadScancodes):
        return {"table": hex_text(command.table)}
    if isinstance(command, zt588.Control):
        return _control_fields(command)
    if isinstance(command, zt588.StartPinEntry):
        return {
            "slot": f"{command.slot:02X}",
            "format": command.format.name,
            "hint": command.hint,
            "length": command.length,
            "pan": _pan(command.pan, reveal),
        }
    if isinstance(command, zt588.ClearPinRequest):
        return {
            "slot": f"{command.slot:02X}",
            "format": "ASCII",
            "clear_pin": True,
            "warning": "a request for the clear PIN ('@'): the pad would send the PIN itself",
            "hint": command.hint,
            "length": command.length,
            "pan": _pan(command.pan, reveal),
        }
    if isinstance(command, zt588.Authenticate):
        names = {code.value: code.name for code in zt588.AuthCode}
        return {
            "code": f"{command.code:02X}",
            "operation": names.get(command.code, "KEY_SLOT"),
            "data": secret_bytes(command.data, reveal),
        }
    return {}  # QueryUserInfo, GetPinBlock


def _control_fields(command: zt588.Control) -> Entry:
    fields: Entry = {"sub": command.sub.name, "value": hex_text(command.value)}
    operation = command.operation
    if operation is not None:
        fields["operation"] = operation.name
        if isinstance(operation, zt588.Communication) and operation.baud:
            fields["baud"] = operation.baud
    elif command.sub in (zt588.ControlCode.MISC, zt588.ControlCode.COMMUNICATION):
        fields["operation"] = None  # a value the reference does not name
    elif len(command.value) == 1:
        number = command.value[0]
        if command.sub is zt588.ControlCode.BEEP_TIME:
            fields["milliseconds"] = number * 10
        elif command.sub is zt588.ControlCode.INPUT_TIME_LIMIT:
            fields["seconds"] = number
        elif command.sub is zt588.ControlCode.PIN_MASK:
            fields["mask"] = chr(number) if 0x20 < number < 0x7F else f"{number:02X}"
        else:
            fields["digits"] = number
    return fields


def _reply_fields(reply: zt588.Reply, reveal: bool) -> Entry:
    if isinstance(reply, zt588.ErrorReply):
        error = reply.error
        fields: Entry = {
            "error": None if error is None else error.name,
            "code": f"{reply.code:02X}",
            "description": reply.message,
        }
        if reply.extra:
            fields["extra"] = secret_bytes(reply.extra, reveal)
        return fields
    fields = {"head": f"{reply.head:02X}"}
    if isinstance(reply, zt588.KeyLoaded):
        fields["kcv"] = hex_text(reply.kcv)
    elif isinstance(reply, zt588.PinBlockReply):
        fields.update(track=reply.track, length=reply.length)
        fields["block"] = secret_bytes(reply.block, reveal)
    elif isinstance(reply, zt588.AuthReply):
        fields["data"] = secret_bytes(reply.data, reveal)
    elif isinstance(reply, zt588.UserInfo):
        settings = reply.settings
        fields.update(
            user_info=reply.user_info.rstrip(" \x00"),
            scancodes=hex_text(reply.scancodes),
            settings={
                "raw": hex_text(settings.raw),
                "blank": settings.blank,
                "input_enabled": settings.input_enabled,
                "sound": settings.sound,
                "input_time_limit": settings.input_time_limit,
                "pin_mask": f"{settings.pin_mask:02X}",
                "min_pin_length": settings.min_pin_length,
                "max_pin_length": settings.max_pin_length,
                "baud": settings.baud,
                "broken_hex": settings.broken_hex,
                "beep_time_ms": settings.beep_time_ms,
            },
            function_code=reply.function_code.rstrip(),
            model=reply.model.rstrip(),
            hardware_version=reply.hardware_version.rstrip(),
            software_version=reply.software_version.rstrip(),
            production_date=reply.production_date,
            serial=reply.serial,
        )
    elif reply.payload:
        fields["payload"] = secret_bytes(reply.payload, reveal)
    return fields


# ----------------------------------------------------------------------------- walk


def _frame_entry(frame: zt588.Frame, reply: bool, state: _Run, reveal: bool) -> Entry:
    if not reply:
        command = zt588.decode_command(frame)
        state.request = command
        return {
            "kind": "command",
            "command": {
                "name": command.command_code.name,
                "code": command.command_code.value,
                "type": type(command).__name__,
            },
            "fields": _command_fields(command, reveal),
        }
    request = state.request
    answered = zt588.decode_reply(frame, request)
    entry: Entry = {"kind": "error" if isinstance(answered, zt588.ErrorReply) else "reply"}
    code = None if request is None else request.command_code
    entry["command"] = None if code is None else {"name": code.name, "code": code.value}
    entry["reply"] = type(answered).__name__
    entry["fields"] = _reply_fields(answered, reveal)
    return entry


def _walk(data: bytes, reply: bool, state: _Run, reveal: bool) -> Iterator[Entry]:
    decoder = zt588.Zt588Decoder()
    items = decoder.feed(data) + decoder.flush()
    offset = 0
    frame_number = 0
    for item in items:
        if isinstance(item, zt588.KeyPress):
            if not reply:
                raise Failure(
                    f"byte {offset}: 0x{item.raw:02X} outside any frame "
                    "(the host sends no key presses; --from-device for the pad's side)"
                )
            entry: Entry = {"kind": "key", "offset": offset, "key": item.key.value}
            entry["code"] = f"{item.raw:02X}"
            if item.key is zt588.Key.DIGIT:
                entry["value"] = item.digit
            elif item.key is zt588.Key.MASKED:
                entry["value"] = "*"
            elif item.key is zt588.Key.DOUBLE_ZERO:
                entry["value"] = "00"
            yield entry
            offset += 1
            continue
        if isinstance(item, zt588.BadFrame):
            if item.reason is zt588.BadFrameReason.NOISE:
                raise Failure(f"byte {offset}: {item.detail}")
            raise Failure(f"frame {frame_number + 1} at byte {offset}: {item.detail}")
        frame_number += 1
        try:
            entry = _frame_entry(item, reply, state, reveal)
        except (ProtocolError, ValueError) as exc:
            raise Failure(f"frame {frame_number} at byte {offset}: {exc}") from exc
        yield {"kind": entry.pop("kind"), "frame": frame_number, "offset": offset, **entry}
        offset += item.wire_size


def decode_zt588(capture: bytes, args: argparse.Namespace) -> Iterator[Entry]:
    """One entry per frame and key press of ``capture`` (hex, or a spy+ trace line).

    Raises:
        Failure: not hex (status 1); a bad CHK, a bad LEN, noise, a frame that does not
            decode, or a capture ending inside a frame (status 2, after the entries
            before it).
    """
    text = capture.decode("utf-8", "surrogateescape").strip()
    state = _run_state(args)
    reveal = bool(args.reveal)
    note = _SPY_NOTE.search(text)
    if note is not None:
        if note["note"] == "reopened":
            state.request = None
        yield {"kind": "note", "note": note["note"]}
        return
    line = _SPY_LINE.search(text)
    if line is None:
        yield from _walk(_hex_bytes(text), args.direction == "reply", state, reveal)
        return
    direction = line["direction"]
    shown = line["bytes"].split()
    if "**" in shown:
        yield {
            "kind": "masked",
            "direction": direction,
            "label": line["label"].strip(),
            "size": len(shown),
        }
        return
    for entry in _walk(bytes.fromhex("".join(shown)), direction == "RX", state, reveal):
        yield {"direction": direction, **entry}
