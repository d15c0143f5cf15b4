"""Encoding messages to frames: the hot path of every message the remote sends.

`encode` gives a message's frames; `header_json` writes a `Header` as compact JSON
without building a dict; `plain_header_json` serves the common headers (a command's ack,
its completion, an event) from cached templates with only the ids filled in. Every
function gives the bytes ``dump_json(header.to_json())`` would, byte for byte (the tests
check it on random headers).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from enum import StrEnum
from typing import Any

from hal.remote.messages import OPTIONAL_KEYS, Header, MessageType

__all__ = ["dump_json", "encode", "header_json", "plain_header_json"]


_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)
_quote: Callable[[str], str] = json.encoder.encode_basestring


def dump_json(value: Any) -> bytes:
    """Compact UTF-8 JSON; ``NaN`` and infinities are refused (`ValueError`)."""
    return _ENCODER.encode(value).encode()


_EMPTY_PAYLOAD = b"{}"


def encode(
    header: Header, payload: Mapping[str, Any] | None = None, blobs: Iterable[bytes] = ()
) -> list[bytes]:
    """The frames of a message (without a routing id)."""
    return [
        header_json(header),
        dump_json(payload) if payload else _EMPTY_PAYLOAD,
        *blobs,
    ]


def header_json(header: Header) -> bytes:
    """``dump_json(header.to_json())``, byte for byte, without the intermediate dict.

    Every message has a header, so this is on the hot path: strings are quoted by the
    json module's C escaper and integers written directly; anything else (a float
    deadline) goes through `dump_json`.
    """
    parts = [
        '{"version":',
        _quote(header.version),
        ',"name":',
        _quote(header.name),
        ',"type":',
        _quote(header.type.value),
    ]
    for attr, key in OPTIONAL_KEYS:
        value = getattr(header, attr)
        if value is None:
            continue
        parts.append(f',"{key}":')
        if type(value) is str:
            parts.append(_quote(value))
        elif type(value) is int:
            parts.append(int.__repr__(value))
        elif isinstance(value, StrEnum):
            parts.append(_quote(value.value))
        else:
            parts.append(dump_json(value).decode())
    if header.type is MessageType.ACKNOWLEDGE:
        if header.request_id is None:
            parts.append(',"requestId":null')
        if header.status is None:
            parts.append(',"status":null')
    parts.append("}")
    return "".join(parts).encode()


_TEMPLATES: dict[tuple[Any, ...], tuple[bytes, bytes]] = {}
_TEMPLATES_MAX = 4096


def plain_header_json(
    kind: MessageType,
    name: str,
    request_id: int,
    *,
    device: str | None = None,
    session: str | None = None,
    timeout: int | None = None,
    completion_code: str | None = None,
) -> bytes:
    """``header_json`` of a header with only these fields, from a cached template.

    The hot messages (a command, its accepting acknowledge, a successful completion)
    differ from the previous one of their kind only in ``requestId``: the bytes around
    it are kept by the other fields (a bounded cache), and the id is put in between.
    """
    key = (kind, name, device, session, timeout, completion_code)
    template = _TEMPLATES.get(key)
    if template is None:
        whole = header_json(
            Header(
                kind,
                name,
                1,
                timeout=timeout,
                completion_code=completion_code,
                device=device,
                session=session,
            )
        )
        # requestId is the first key after type; the strings before it are quoted, so
        # the first occurrence is the key itself.
        cut = whole.index(b',"requestId":1') + len(b',"requestId":')
        template = (whole[:cut], whole[cut + 1 :])
        if len(_TEMPLATES) >= _TEMPLATES_MAX:
            _TEMPLATES.clear()
        _TEMPLATES[key] = template
    return b"%b%d%b" % (template[0], request_id, template[1])
