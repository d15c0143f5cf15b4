"""The capture walk both Creator decoders share (``crt310``, ``crt591``).

A capture is fed to the protocol's stream decoder whole; each control byte becomes a
``control`` entry, each frame the entry the protocol's dissector makes of it, numbered
and placed by its byte offset. The first bad BCC, noise between frames, frame that does
not decode or capture that ends inside a frame stops the walk with a `Failure`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Protocol

from protocols.creator_frames import BadFrame, BadFrameReason
from tellerhal.cli.decode.fields import Entry, Failure

__all__ = ["walk_capture"]


class _Decoder(Protocol):
    @property
    def pending(self) -> int: ...

    def feed(self, data: bytes) -> list[Any]: ...


def walk_capture(
    decoder: _Decoder,
    capture: bytes,
    frame_entry: Callable[[Any], Entry],
    *,
    errors: tuple[type[Exception], ...],
    truncated: Callable[[], str],
) -> Iterator[Entry]:
    """One entry per control byte and frame of ``capture``, in stream order.

    Args:
        decoder: a fresh stream decoder of the protocol.
        capture: the bytes.
        frame_entry: the entry of one good frame (``kind`` and its fields).
        errors: what ``frame_entry`` raises for a frame that does not decode.
        truncated: what to say of the bytes left in ``decoder`` at the end.

    Raises:
        Failure: a bad BCC, noise between frames, a frame that does not decode, or a
            capture that ends inside a frame (after the entries before it).
    """
    offset = 0
    frame_number = 0
    for item in decoder.feed(capture):
        if isinstance(item, int):  # a control byte (the protocol's IntEnum)
            yield {
                "kind": "control",
                "offset": offset,
                "control": {"name": getattr(item, "name", None), "code": f"{item:02X}"},
            }
            offset += 1
            continue
        frame_number += 1
        where = f"frame {frame_number} at byte {offset}"
        if isinstance(item, BadFrame):
            if item.reason is BadFrameReason.NOISE:
                raise Failure(f"byte {offset}: {item.detail}")
            raise Failure(f"{where}: {item.detail}")
        try:
            entry = frame_entry(item)
        except errors as exc:
            raise Failure(f"{where}: {exc}") from exc
        yield {"kind": entry.pop("kind"), "frame": frame_number, "offset": offset, **entry}
        offset += item.wire_size
    if decoder.pending:
        raise Failure(f"frame {frame_number + 1} at byte {offset}: truncated: {truncated()}")
