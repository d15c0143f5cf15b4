"""The fields ``tellerhal decode`` shows, masked unless revealed, shared by its dissectors.

Track, TLV and APDU renderers used by every protocol that carries them (the CRT-310
carries all three), the JSON ``Entry`` they produce, and `Failure`, which stops a run
with one line and an exit status.
"""

from __future__ import annotations

from typing import Any

from protocols import apdu as apdu_codec
from protocols import tlv, tracks
from protocols.errors import ProtocolError

__all__ = [
    "EXIT_INPUT",
    "EXIT_PROTOCOL",
    "Entry",
    "Failure",
    "command_apdu_fields",
    "hex_text",
    "printable",
    "response_apdu_fields",
    "secret_bytes",
    "tlv_nodes",
    "track_fields",
]

EXIT_INPUT = 1
EXIT_PROTOCOL = 2

TEXT_TAGS = {0x50, 0x5F20, 0x5F2D, 0x9F12, 0x84}

Entry = dict[str, Any]


class Failure(Exception):
    """Stops the run: one line for stderr and the exit status."""

    def __init__(self, message: str, status: int = EXIT_PROTOCOL) -> None:
        super().__init__(message)
        self.status = status


def hex_text(data: bytes) -> str:
    """Upper-case hex, no spaces: how every byte field is shown."""
    return data.hex().upper()


def printable(data: bytes) -> str | None:
    """``data`` as text when it is all printable ASCII, else None."""
    return data.decode("ascii") if data and all(0x20 <= b < 0x7F for b in data) else None


def secret_bytes(data: bytes, reveal: bool) -> str:
    """Hex with ``--reveal``, else only the length."""
    return hex_text(data) if reveal else f"<{len(data)} bytes hidden>"


def _secret_text(text: str, reveal: bool) -> str:
    return text if reveal else tracks.hidden(text)


def _pan(pan: str, reveal: bool) -> str:
    return pan if reveal else tracks.mask_pan(pan)


def tlv_nodes(items: tuple[tlv.Tlv, ...], reveal: bool, depth: int = 0) -> list[Entry]:
    """One node per object, constructed ones with their children; sensitive tags masked.

    Raises:
        ProtocolError: a constructed value is not TLV, or nests past ``MAX_DEPTH``.
    """
    if depth > tlv.MAX_DEPTH:
        raise ProtocolError(f"TLV nesting deeper than {tlv.MAX_DEPTH} levels")
    nodes = []
    for item in items:
        node: Entry = {
            "tag": hex_text(tlv.encode_tag(item.tag)),
            "name": item.name,
            "length": len(item.value),
        }
        if item.sensitive and not reveal:
            node["value"] = tlv.redact(item)
            node["masked"] = True
        elif item.constructed:
            node["children"] = tlv_nodes(item.children(), reveal, depth + 1)
        else:
            node["value"] = hex_text(item.value)
            text = printable(item.value)
            if text is not None and (item.tag in TEXT_TAGS or item.sensitive):
                node["text"] = text
        nodes.append(node)
    return nodes


def command_apdu_fields(command: apdu_codec.CommandApdu, reveal: bool) -> Entry:
    """The header, case and lengths of a C-APDU; PIN commands' data masked."""
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
            fields["data"] = secret_bytes(command.data, reveal)
        else:
            fields["data"] = hex_text(command.data)
            text = printable(command.data)
            if text is not None and command.ins == 0xA4:
                fields["text"] = text
    return fields


def response_apdu_fields(response: apdu_codec.ResponseApdu, reveal: bool) -> Entry:
    """The status word, and the data as masked TLV (hidden whole if it is not TLV)."""
    fields: Entry = {"sw": f"{response.sw:04X}", "description": response.description}
    if response.data:
        try:
            fields["tlv"] = tlv_nodes(tlv.parse(response.data), reveal)
        except ProtocolError:
            fields["data"] = (
                hex_text(response.data)
                if reveal
                else (f"<{len(response.data)} bytes, not TLV, hidden>")
            )
    return fields


def track_fields(track: int, chars: bytes, reveal: bool) -> Entry:
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
