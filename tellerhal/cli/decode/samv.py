"""``tellerhal decode samv``: a SAM_V (China ID card reader) byte stream, frame by frame,
both directions.

A SAM_V frame does not carry its direction, but the byte after LEN does: a reply's SW1
is 00 in all observed traffic and no command's CMD is (`protocols.samv.direction_of`),
so one capture may hold a whole conversation and each frame is read the way it goes.

Each frame is one JSON object: ``kind`` ``command`` (its name, CMD PARA and meaning) or
``reply`` (SW1 SW2, the SW3 result's name and meaning) and the DATA's fields. A reply's
DATA is read as the answer to the last command before it in the capture, or, with none,
by its size: a base message (text block decoded; the photo and fingerprint block as
sizes only, never their bytes), the newest address, the SAM ID. A stray ``AA 00``
before a preamble (a firmware quirk) is one ``quirk`` object.

Personal data is masked unless ``--reveal``: names and numbers keep a first and last
character or two (`hal.devices.id_scanner_model.mask_name` / `mask_number`), the
address, the newest address and the birth date are hidden, the card serial from select
is hidden; the photo and fingerprints are never shown, even with ``--reveal``.

Noise outside frames, a bad checksum, a wrong LEN, an unknown command or result code,
or a body that does not parse stop the run with one stderr line and exit status 2,
after the objects decoded before it.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from dataclasses import fields

from hal.devices.id_scanner_model import mask_name, mask_number
from protocols.cn_id import validate_id_number
from protocols.errors import ProtocolError
from protocols.samv import (
    FINGERPRINT_SIZE,
    HEADER,
    NEWEST_ADDRESS_SIZE,
    PHOTO_SIZE,
    PREAMBLE,
    SAM_ID_SIZE,
    Command,
    CommandFrame,
    ReplyFrame,
    Sw3,
    direction_of,
    parse_base_message,
    parse_command,
    parse_newest_address,
    parse_reply,
    sam_id_string,
)
from protocols.samv_text import (
    SEX_CODES,
    TEXT_SIZE,
    TextBlock,
    ethnicity_name,
    parse_text_block,
)
from tellerhal.cli.decode.fields import Entry, Failure, hex_text, secret_bytes

__all__ = ["decode_samv", "text_block_fields"]

_QUIRK = b"\xaa\x00"
_VENDOR_CMDS = (0x60, 0x61)
_NAMES = {"name", "name_latin"}
_NUMBERS = {"number", "permit_number", "old_number_link"}
_HIDDEN = {"address", "birth_date"}
#: DATA sizes of the successful bodies, for a reply with no command before it.
_BASE = 4 + TEXT_SIZE + PHOTO_SIZE
_BASE_PRINTS = (6 + TEXT_SIZE + PHOTO_SIZE, 6 + TEXT_SIZE + PHOTO_SIZE + FINGERPRINT_SIZE)


def _hidden(text: str) -> str:
    return f"<{len(text)} characters hidden>" if text else ""


def text_block_fields(block: TextBlock, reveal: bool) -> Entry:
    """A text block's fields for people, personal ones masked unless ``reveal``."""
    out: Entry = {"layout": block.kind.name.lower(), "type_flag": block.kind.value}
    for item in fields(block):
        value: str = getattr(block, item.name)
        if reveal:
            out[item.name] = value
        elif item.name in _NAMES:
            out[item.name] = mask_name(value)
        elif item.name in _NUMBERS:
            out[item.name] = mask_number(value)
        elif item.name in _HIDDEN:
            out[item.name] = _hidden(value)
        else:
            out[item.name] = value
    sex = getattr(block, "sex", "")
    if sex:
        out["sex_meaning"] = SEX_CODES.get(sex, "not a GB/T 2261.1 code")
    ethnicity = getattr(block, "ethnicity", "")
    if ethnicity:
        out["ethnicity_name"] = ethnicity_name(ethnicity) or "not a GB 3304 code"
    number = getattr(block, "number", "")
    if block.kind.value in " JY" and number:
        result = validate_id_number(number)
        out["number_check"] = {"valid": result.ok, "reason": result.reason}
    return out


def _command_entry(frame: CommandFrame) -> Entry:
    known = frame.command
    code = f"{frame.cmd:02X} {frame.para:02X}"
    if known is not None:
        entry: Entry = {"command": {"name": known.name, "code": code}, "meaning": known.meaning}
    elif frame.cmd in _VENDOR_CMDS:
        entry = {
            "command": {"name": "VENDOR", "code": code},
            "meaning": "vendor-specific management command (baud rate and others)",
        }
    else:
        raise ProtocolError(f"unknown SAM_V command {code}")
    entry["fields"] = {"data": hex_text(frame.data)} if frame.data else {}
    return entry


def _answers(frame: ReplyFrame, last: Command | None) -> Command | None:
    """The command a successful reply answers: the last one sent, else by its size."""
    if last is not None:
        return last
    size = len(frame.data)
    if size == _BASE:
        return Command.READ_BASE
    if size in _BASE_PRINTS:
        return Command.READ_BASE_FINGERPRINT
    if size == NEWEST_ADDRESS_SIZE:
        return Command.READ_NEWEST_ADDRESS
    if size == SAM_ID_SIZE:
        return Command.READ_SAM_ID
    return None


def _reply_fields(frame: ReplyFrame, last: Command | None, reveal: bool) -> Entry:
    if frame.status is not Sw3.SUCCESS or not frame.data:
        return {"data": hex_text(frame.data)} if frame.data else {}
    answers = _answers(frame, last)
    if answers in (Command.READ_BASE, Command.READ_BASE_FINGERPRINT):
        with_prints = answers is Command.READ_BASE_FINGERPRINT
        body = parse_base_message(frame.data, fingerprint=with_prints)
        out: Entry = {
            "answers": answers.name,
            "text": text_block_fields(parse_text_block(body.text), reveal),
            "photo": {"format": "wlt", "bytes": len(body.photo)},
        }
        if body.fingerprint is not None:
            out["fingerprint"] = {
                "bytes": len(body.fingerprint),
                "templates": len(body.fingerprint) // 512,
            }
        return out
    if answers is Command.READ_NEWEST_ADDRESS:
        address = parse_newest_address(frame.data)
        return {"answers": answers.name, "newest_address": address if reveal else _hidden(address)}
    if answers is Command.READ_SAM_ID:
        return {"answers": answers.name, "sam_id": sam_id_string(frame.data)}
    if answers is Command.SELECT_CARD:
        return {"answers": answers.name, "card_serial": secret_bytes(frame.data, reveal)}
    name = {"answers": answers.name} if answers is not None else {}
    return {**name, "data": secret_bytes(frame.data, reveal)}


def _reply_entry(frame: ReplyFrame, last: Command | None, reveal: bool) -> Entry:
    known = frame.status
    if known is None:
        raise ProtocolError(f"unknown SAM_V result code SW3 {frame.sw3:02X}")
    return {
        "status": {"name": known.name, "code": f"{frame.sw3:02X}"},
        "sw1sw2": f"{frame.sw1:02X}{frame.sw2:02X}",
        "meaning": frame.meaning,
        "fields": _reply_fields(frame, last, reveal),
    }


def decode_samv(capture: bytes, args: argparse.Namespace) -> Iterator[Entry]:
    """One entry per frame (and per stray ``AA 00``) of ``capture``, in stream order.

    Raises:
        Failure: bytes outside any frame, a truncated frame, a bad LEN or checksum, an
            unknown code or a body that does not parse (after the entries before it).
    """
    reveal = bool(getattr(args, "reveal", False))
    offset = 0
    number = 0
    last: Command | None = None
    lost = 0  # 1 when the frame after an AA 00 lost its preamble's first AA
    while offset < len(capture):
        rest = capture[offset:]
        after = rest[2:]
        if rest.startswith(_QUIRK) and (
            after.startswith(PREAMBLE) or after.startswith(PREAMBLE[1:])
        ):
            yield {
                "kind": "quirk",
                "offset": offset,
                "meaning": "stray AA 00 before a preamble (a firmware quirk)",
            }
            offset += 2
            # The form one project logged: the preamble's first AA gone after the AA 00.
            lost = 0 if after.startswith(PREAMBLE) else 1
            continue
        rest = PREAMBLE[:lost] + rest
        if not rest.startswith(PREAMBLE):
            if PREAMBLE.startswith(rest):
                raise Failure(f"byte {offset}: truncated: {len(rest)} bytes of a preamble")
            found = rest.find(PREAMBLE)
            noise = rest if found < 0 else rest[:found]
            # Noise may be a broken base message: its bytes only with --reveal.
            shown = hex_text(noise[:8]) + ("..." if len(noise) > 8 else "")
            raise Failure(
                f"byte {offset}: {len(noise)} bytes outside any frame"
                + (f" ({shown})" if reveal else "")
                + "; a frame starts with AA AA AA 96 69"
            )
        number += 1
        where = f"frame {number} at byte {offset}"
        if len(rest) < HEADER:
            raise Failure(f"{where}: truncated in LEN: {len(rest) - lost} bytes")
        length = int.from_bytes(rest[5:7], "big")
        if len(rest) < HEADER + length:
            raise Failure(
                f"{where}: truncated: LEN says {length} bytes after it, the capture has "
                f"{len(rest) - HEADER}"
            )
        raw = rest[: HEADER + length]
        try:
            if direction_of(raw) == "command":
                command = parse_command(raw)
                entry = {"kind": "command", **_command_entry(command)}
                last = command.command
            else:
                reply = parse_reply(raw)
                entry = {"kind": "reply", **_reply_entry(reply, last, reveal)}
                last = None
        except ProtocolError as exc:
            raise Failure(f"{where}: {exc.message}") from exc
        yield {"kind": entry.pop("kind"), "frame": number, "offset": offset, **entry}
        offset += len(raw) - lost
        lost = 0
