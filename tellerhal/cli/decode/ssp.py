"""``tellerhal decode ssp``: an ITL SSP / eSSP byte stream (NV200, NV11...), frame by frame.

SSP frames do not say their direction. A frame whose first DATA byte is a generic reply
code (F0..FA) is a reply, any other clear frame a command; an encrypted frame (DATA 7E
...) is a reply when it follows a command with the same sequence flag, else a command.
``--direction reply`` reads every frame as a reply. A reply is read against the last
command (a POLL's events, a SETUP REQUEST's channels).

An encrypted frame is shown as encrypted (its length only). It is decrypted only with
a session key: ``tellerhal decode ssp --key-file PATH`` (a file holding 32 hex digits:
the fixed key then the negotiated key, 16 + 16; ``key_file`` in the namespace): then
its counter and the command or reply inside are shown too, never the key. The key exchange's
numbers (generator, modulus, inter keys: 64-bit DH is weak enough to be broken from
them) and SET FIXED KEY's DATA are hidden unless ``--reveal``.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path

from protocols.errors import ProtocolError
from protocols.essp import SessionKey, decrypt_packet
from protocols.ssp import BadFrame, BadFrameReason, Frame, SspStreamDecoder
from protocols.ssp_commands import (
    Cmd,
    Generic,
    parse_payout_amount,
    parse_payout_by_denomination,
    parse_set_inhibits,
    parse_setup,
)
from protocols.ssp_events import Event, parse_events
from tellerhal.cli.decode.fields import Entry, Failure, hex_text

__all__ = ["decode_ssp"]

_GENERIC = frozenset(int(g) for g in Generic)
_SECRET = frozenset(
    {Cmd.SET_GENERATOR, Cmd.SET_MODULUS, Cmd.REQUEST_KEY_EXCHANGE, Cmd.SET_FIXED_KEY}
)


def _session_key(args: argparse.Namespace) -> SessionKey | None:
    key_file = getattr(args, "key_file", None)
    if not key_file:
        return None
    try:
        text = Path(key_file).read_text("ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise Failure(f"cannot read the key file: {type(exc).__name__}", 1) from None
    digits = "".join(text.split())
    if len(digits) != 32 or any(c not in "0123456789abcdefABCDEF" for c in digits):
        raise Failure("the key file must hold 32 hex digits (fixed key, then negotiated key)", 1)
    return SessionKey(int(digits[:16], 16), int(digits[16:], 16))


def _command(data: bytes, reveal: bool) -> Entry:
    code = data[0]
    try:
        name = Cmd(code).name
    except ValueError:
        raise ProtocolError(f"unknown command {code:02X}h") from None
    fields: Entry = {}
    params = data[1:]
    if code in _SECRET and not reveal:
        fields["parameters"] = "hidden" if params else ""
    elif code == Cmd.SET_INHIBITS:
        fields["channels"] = sorted(parse_set_inhibits(data))
    elif code == Cmd.PAYOUT_BY_DENOMINATION:
        notes, test = parse_payout_by_denomination(data)
        fields["notes"] = [{"currency": c, "value": v, "count": n} for (c, v), n in notes.items()]
        fields["test"] = test
    elif code == Cmd.PAYOUT_AMOUNT:
        currency, value, test = parse_payout_amount(data)
        fields.update(currency=currency, value=value, test=test)
    elif params:
        fields["data"] = hex_text(params)
    return {"command": {"name": name, "code": f"{code:02X}"}, "fields": fields}


def _reply(data: bytes, last: int | None, reveal: bool) -> Entry:
    code = data[0]
    try:
        name = Generic(code).name
    except ValueError:
        raise ProtocolError(f"unknown reply code {code:02X}h") from None
    fields: Entry = {}
    rest = data[1:]
    if code == Generic.OK and last in (Cmd.POLL, Cmd.POLL_WITH_ACK):
        fields["events"] = [_event(e) for e in parse_events(rest)]
    elif code == Generic.OK and last == Cmd.SETUP_REQUEST:
        setup = parse_setup(rest)
        fields.update(
            unit_type=setup.unit_type,
            firmware=setup.firmware,
            protocol=setup.protocol,
            channels=[
                {"channel": n, "currency": c, "value": v}
                for n in range(1, len(setup.values) + 1)
                for c, v in (setup.note_value(n),)
            ],
        )
    elif code == Generic.OK and last == Cmd.REQUEST_KEY_EXCHANGE and not reveal:
        fields["inter_key"] = "hidden"
    elif rest:
        fields["data"] = hex_text(rest)
    return {"reply": {"name": name, "code": f"{code:02X}"}, "fields": fields}


def _event(event: Event) -> Entry:
    out: Entry = {"name": event.code.name, "code": f"{event.code:02X}"}
    if event.channel is not None:
        out["channel"] = event.channel
    if event.values:
        out["values"] = [{"value": v, "currency": c} for v, c in event.values]
    return out


def decode_ssp(capture: bytes, args: argparse.Namespace) -> Iterator[Entry]:
    """One entry per frame of ``capture``, in stream order.

    Raises:
        Failure: a bad CRC, noise, an unknown code, or a capture ending inside a frame.
    """
    key = _session_key(args)
    reveal = bool(getattr(args, "reveal", False))
    replies_only = getattr(args, "direction", "command") == "reply"
    decoder = SspStreamDecoder()
    offset = 0
    last_command: int | None = None
    last_seq: bool | None = None
    last_was_command = False
    for number, item in enumerate(decoder.feed(capture), start=1):
        if isinstance(item, BadFrame):
            size = len(item.raw)
            if item.reason is BadFrameReason.CRC:
                raise Failure(f"frame {number} at byte {offset}: bad CRC")
            raise Failure(f"byte {offset}: {size} bytes outside any frame")
        assert isinstance(item, Frame)
        size = len(item.to_bytes())
        head: Entry = {"offset": offset, "seq": int(item.seq), "address": item.address}
        data = item.data
        try:
            if not data:
                raise ProtocolError("a frame without DATA")
            if item.encrypted:
                is_reply = replies_only or (last_was_command and item.seq == last_seq)
                entry: Entry = {
                    "kind": "reply" if is_reply else "command",
                    **head,
                    "encrypted": True,
                    "length": len(data) - 1,
                }
                if key is not None:
                    count, inner = decrypt_packet(key, data)
                    entry["count"] = count
                    if inner:
                        if is_reply:
                            entry.update(_reply(inner, last_command, reveal))
                        else:
                            entry.update(_command(inner, reveal))
                            last_command = inner[0]
            else:
                is_reply = replies_only or data[0] in _GENERIC
                if is_reply:
                    entry = {"kind": "reply", **head, **_reply(data, last_command, reveal)}
                else:
                    entry = {"kind": "command", **head, **_command(data, reveal)}
                    last_command = data[0]
        except (ProtocolError, ValueError) as exc:
            raise Failure(f"frame {number} at byte {offset}: {exc}") from None
        last_seq, last_was_command = item.seq, entry["kind"] == "command"
        if entry["kind"] == "command" and item.encrypted and key is None:
            last_command = None
        yield entry
        offset += size
    if decoder.pending:
        raise Failure(f"{decoder.pending} bytes of an incomplete frame at the end")
